"""The mutation pass's slip list stays in sync with the code (tests/mutation_pass.py, docs/isolation.md "Safety net").

The pass itself runs on demand (``scripts/mutation-pass``); this cheap check runs with the suite, so a refactor that
moves a snippet fails here and the slip is updated, instead of the pass reporting it stale months later.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.mutation_pass import SLIPS, Slip, mutated, occurrences, select

EXCLUDED = {"handlers/authorizer.py", "handlers/image_upload.py", "handlers/image_processor.py"}
"""Files the list leaves alone (their checks are covered by their own suites and change often)."""


def test_at_least_25_slips_with_unique_ids() -> None:
    assert len(SLIPS) >= 25
    assert [i for i, n in Counter(s.id for s in SLIPS).items() if n > 1] == []


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.id)
def test_snippet_occurs_exactly_once(slip: Slip) -> None:
    assert (ROOT / slip.file).is_file(), f"{slip.id}: {slip.file} does not exist"
    assert occurrences(slip) == 1, f"{slip.id}: update the snippet; it occurs {occurrences(slip)} times in {slip.file}"


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.id)
def test_slip_changes_the_code_and_still_parses(slip: Slip) -> None:
    """A slip is a plausible edit: it changes the file and leaves valid Python (a syntax error is no test)."""
    before = (ROOT / slip.file).read_text(encoding="utf-8")
    after = mutated(slip)
    assert after != before
    assert ast.dump(ast.parse(after)) != ast.dump(ast.parse(before)), f"{slip.id} changes only comments or layout"


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.id)
def test_slip_is_described_and_targets_existing_tests(slip: Slip) -> None:
    assert slip.meaning
    assert "\n" not in slip.meaning
    assert slip.file not in EXCLUDED
    assert slip.tests
    for target in slip.tests:
        path = Path(target.split("::", 1)[0])
        assert path.parts[0] == "tests", target
        assert path.name.startswith("test_"), target
        assert (ROOT / path).is_file(), f"{slip.id}: {target} does not exist"


def test_stale_snippet_is_detected(tmp_path: Path) -> None:
    slip = SLIPS[0]
    (tmp_path / slip.file).parent.mkdir(parents=True)
    (tmp_path / slip.file).write_text("nothing to mutate here\n", encoding="utf-8")
    assert occurrences(slip, tmp_path) == 0
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutated(slip, tmp_path)


def test_only_selects_by_id_and_refuses_unknown_ids() -> None:
    assert [s.id for s in select([f"{SLIPS[1].id}, {SLIPS[0].id}"])] == [SLIPS[0].id, SLIPS[1].id]
    assert len(select([])) == len(SLIPS)
    with pytest.raises(SystemExit, match="unknown slip ids"):
        select(["no-such-slip"])
