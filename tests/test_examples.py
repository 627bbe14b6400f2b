"""Every file under examples/ runs under mocks and passes the policy pack."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.policies.offline import evaluate_run
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_clean(path: Path) -> None:
    run = run_function(
        lambda: runpy.run_path(str(path), run_name="__main__"), stack="example", config={"aws:region": "ap-southeast-1"}
    )
    assert [r for r in run.resources if r.custom], f"{path.name} registered nothing"
    report = evaluate_run(run)
    assert report.mandatory == [], [v.message for v in report.mandatory]
    assert run.outputs, f"{path.name} exports nothing"
