"""The documentation inside the repository stays true to the code.

docs/isolation.md numbers the isolation invariants that code, tests and pages cite; every citation must
resolve there, every rule it names must be in the pack (and every pack rule must be mapped), and every test it
cites as proof must exist.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from saas_platform.policies.pack import POLICIES
from tests.conftest import ROOT

ISOLATION = ROOT / "docs" / "isolation.md"
TEXT_SUFFIXES = {".py", ".md", ".cedar", ".cedarschema", ".json", ".yaml", ".yml", ".toml", ".txt", ".cfg"}
SKIP_DIRS = {".venv", ".git", ".plan", "build", "dist", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
SKIP_PATHS = {Path("docs/api")}
"""Generated output (the API reference) is checked through its sources, not scanned."""

PACK_RULES = {p.name for p in POLICIES}


@dataclass
class IsolationDoc:
    invariants: dict[int, set[str]] = field(default_factory=dict)
    """Invariant number -> its lettered sub-points."""
    sections: set[str] = field(default_factory=set)
    known_bad: set[int] = field(default_factory=set)
    rules: dict[str, list[str]] = field(default_factory=dict)
    """Rule name -> where docs/isolation.md names it (invariant or pattern)."""


def parse_isolation(text: str) -> IsolationDoc:
    doc = IsolationDoc()
    current: int | None = None
    where = ""
    in_rules = False
    in_known_bad = False
    for line in text.splitlines():
        if m := re.match(r"## ([A-H])\. ", line):
            doc.sections.add(m.group(1))
            in_known_bad = False
            continue
        if line.startswith("## "):
            in_known_bad = line.startswith("## Known-bad patterns")
            current = None
            where = line[3:]
            continue
        if m := re.match(r"### (\d+)\. ", line):
            current = int(m.group(1))
            doc.invariants[current] = set()
            where = f"invariant {current}"
            continue
        if current is not None and (m := re.match(r"- \*\*\(([a-z])\)\*\*", line)):
            doc.invariants[current].add(m.group(1))
        if in_known_bad and (m := re.match(r"(\d+)\. ", line)):
            doc.known_bad.add(int(m.group(1)))
            where = f"known-bad {m.group(1)}"
        if line.startswith("- Rules:"):
            in_rules = True
        elif line.startswith("- ") or not line.strip():
            in_rules = False
        names: list[str] = []
        if in_rules:
            names = re.findall(r"`([a-z0-9-]+)`", line)
        elif in_known_bad:
            names = [
                n
                for group in re.findall(r"\(([^()]*`[^()]*)\)\s*$", line)
                for n in re.findall(r"`([a-z0-9-]+)`", group)
            ]
        elif m := re.match(r"\| `([a-z0-9-]+)` \|", line):
            names = [m.group(1)]
        for name in names:
            doc.rules.setdefault(name, []).append(where)
    return doc


DOC = parse_isolation(ISOLATION.read_text(encoding="utf-8"))

# "isolation invariants 1-13, 38-39", "invariant 32 (a)", "invariants 11d and 47", "invariant 40/41", "#11a-b"
_ITEM = r"\d+(?:[a-h](?:-[a-h])?)?(?:\s?\([a-h]\))?"
_LIST = rf"{_ITEM}(?:(?:\s*,\s*|\s+and\s+|\s*-\s*|/){_ITEM})*"
INVARIANT_RE = re.compile(rf"\binvariants?\s+({_LIST})", re.IGNORECASE)
HASH_RE = re.compile(rf"\(#({_ITEM}(?:,\s*#{_ITEM})*)")
SECTION_RE = re.compile(r"\bisolation sections?\s+([A-Z])\b")
KNOWN_BAD_RE = re.compile(r"\bknown-bad\s+(\d+(?:(?::[^;,)]*)?[;,]\s*\d+)*)")
TEST_REF_RE = re.compile(r"tests/(test_\w+\.py)::(\w+)")


def expand(listing: str) -> Iterator[tuple[int, str]]:
    """``"1-13, 38"`` -> (1, ""), ..., (13, ""), (38, ""); ``"11a-b"`` -> (11, "a"), (11, "b"); ``"32 (a)"`` -> (32, "a")."""
    tokens = re.findall(rf"({_ITEM})|(\s*-\s*)", listing)
    items: list[str | None] = [tok if tok else None for tok, _dash in tokens]
    i = 0
    while i < len(items):
        tok = items[i]
        if tok is None:
            i += 1
            continue
        number, letters = _split(tok)
        if i + 2 < len(items) and items[i + 1] is None and items[i + 2] is not None and not letters:
            end, end_letters = _split(items[i + 2] or "")
            if not end_letters and end > number:
                yield from ((n, "") for n in range(number, end + 1))
                i += 3
                continue
        if letters:
            yield from ((number, letter) for letter in letters)
        else:
            yield number, ""
        i += 1


def _split(token: str) -> tuple[int, list[str]]:
    m = re.fullmatch(r"(\d+)(?:([a-h])(?:-([a-h]))?)?(?:\s?\(([a-h])\))?", token.strip())
    assert m, token
    number = int(m.group(1))
    if m.group(4):
        return number, [m.group(4)]
    if m.group(2) and m.group(3):
        return number, [chr(c) for c in range(ord(m.group(2)), ord(m.group(3)) + 1)]
    return number, [m.group(2)] if m.group(2) else []


def repository_texts() -> Iterator[tuple[Path, str]]:
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = Path(dirpath).relative_to(ROOT)
        dirnames[:] = [
            d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info") and rel_dir / d not in SKIP_PATHS
        ]
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in TEXT_SUFFIXES:
                yield path.relative_to(ROOT), path.read_text(encoding="utf-8", errors="replace")


TEXTS = dict(repository_texts())


def test_expand_reads_every_citation_shape() -> None:
    assert list(expand("1-3, 38")) == [(1, ""), (2, ""), (3, ""), (38, "")]
    assert list(expand("11a-b")) == [(11, "a"), (11, "b")]
    assert list(expand("32 (a)")) == [(32, "a")]
    assert list(expand("41(c)")) == [(41, "c")]
    assert list(expand("11d and 47")) == [(11, "d"), (47, "")]
    assert list(expand("40/41")) == [(40, ""), (41, "")]


def test_isolation_doc_numbers_every_invariant_section_and_pattern() -> None:
    assert sorted(DOC.invariants) == list(range(1, 53))
    assert DOC.sections == set("ABCDEFGH")
    assert DOC.known_bad == set(range(1, 34))
    # the sub-points the code cites by letter
    assert {"a", "b", "c", "d"} <= DOC.invariants[7]
    assert {"a", "b", "c", "d"} <= DOC.invariants[11]
    assert {"a", "b", "c"} <= DOC.invariants[32]
    assert {"a", "b", "c"} <= DOC.invariants[41]


def test_every_cited_invariant_exists() -> None:
    missing: list[str] = []
    for path, text in TEXTS.items():
        for m in INVARIANT_RE.finditer(text):
            for number, letter in expand(m.group(1)):
                if number not in DOC.invariants or (letter and letter not in DOC.invariants[number]):
                    missing.append(f"{path}: invariant {number}{letter} ({m.group(0)!r})")
        for m in SECTION_RE.finditer(text):
            if m.group(1) not in DOC.sections:
                missing.append(f"{path}: isolation section {m.group(1)}")
        for m in KNOWN_BAD_RE.finditer(text):
            for n in re.findall(r"(?:^|[;,]\s*)(\d+)", m.group(1)):
                if int(n) not in DOC.known_bad:
                    missing.append(f"{path}: known-bad {n}")
    assert not missing, "cited but not in docs/isolation.md:\n" + "\n".join(missing)


def test_rule_descriptions_cite_existing_invariants() -> None:
    missing = []
    for policy in POLICIES:
        description = policy.description or ""
        cited = [*INVARIANT_RE.findall(description), *(g.replace("#", "") for g in HASH_RE.findall(description))]
        for listing in cited:
            for number, letter in expand(listing):
                if number not in DOC.invariants or (letter and letter not in DOC.invariants[number]):
                    missing.append(f"{policy.name}: {number}{letter}")
    assert not missing


def test_citation_scan_sees_the_code() -> None:
    """The scan must reach the code that cites invariants, or the tests above could not fail."""
    cited = {
        (number, letter)
        for path, text in TEXTS.items()
        if path.parts[0] in {"components", "handlers", "policies"}
        for m in INVARIANT_RE.finditer(text)
        for number, letter in expand(m.group(1))
    }
    assert {(32, "a"), (11, "d"), (48, ""), (49, "")} <= cited
    assert len(cited) > 40


def test_every_rule_named_in_the_isolation_doc_is_in_the_pack() -> None:
    unknown = {name: where for name, where in DOC.rules.items() if name not in PACK_RULES}
    assert not unknown, unknown


def test_every_pack_rule_is_mapped_in_the_isolation_doc() -> None:
    assert sorted(PACK_RULES - set(DOC.rules)) == []


def test_parser_reads_rules_patterns_and_letters() -> None:
    sample = "\n".join(
        [
            "## A. First",
            "### 1. One (MUST)",
            "- **(a)** first point",
            "- Rules: `rule-one`,",
            "  `rule-two`",
            "- Tests: `tests/test_x.py::test_y` and `not-a-rule`",
            "## Known-bad patterns",
            "1. Something bad with `acme-corp` in the text. (`rule-three`)",
            "## Rules outside the isolation model",
            "| `rule-four` | mandatory |",
        ]
    )
    doc = parse_isolation(sample)
    assert doc.invariants == {1: {"a"}}
    assert doc.known_bad == {1}
    assert set(doc.rules) == {"rule-one", "rule-two", "rule-three", "rule-four"}


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_cited_tests_exist(page: Path) -> None:
    missing = []
    for file, name in set(TEST_REF_RE.findall(page.read_text(encoding="utf-8"))):
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(f"{file} does not exist")
            continue
        defined = {
            n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)
        }
        if name not in defined:
            missing.append(f"{file}::{name}")
    assert not missing, f"{page.name} cites tests that do not exist: {missing}"
