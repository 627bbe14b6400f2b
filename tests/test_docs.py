"""The documentation inside the repository stays true to the code.

docs/isolation.md numbers the isolation invariants that code, tests and pages cite; every citation must
resolve there, every rule it names must be in the pack (and every pack rule must be mapped), and every test it
cites as proof must exist.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import pkgutil
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


def test_every_rule_is_mapped_under_the_invariants_it_claims() -> None:
    """A rule whose description cites invariant N is listed under N in docs/isolation.md (rules that cite no
    invariant, e.g. secure defaults, may be listed in its last table)."""
    unmapped = []
    for policy in POLICIES:
        description = policy.description or ""
        cited = [*INVARIANT_RE.findall(description), *(g.replace("#", "") for g in HASH_RE.findall(description))]
        claimed = {number for listing in cited for number, _letter in expand(listing)}
        mapped = {int(w.split()[1]) for w in DOC.rules.get(policy.name, []) if w.startswith("invariant ")}
        unmapped.extend(f"{policy.name} under invariant {n}" for n in sorted(claimed - mapped))
    assert unmapped == [], "add to the '- Rules:' line of the invariant in docs/isolation.md: " + ", ".join(unmapped)


def test_the_rule_mapping_sees_the_pack() -> None:
    assert len(PACK_RULES & set(DOC.rules)) >= 70


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


# ---- links and docstrings ------------------------------------------------------------------------------------

PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^()\s]+)\)")
FENCE_RE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped (except ``-`` and ``_``), spaces to ``-``."""
    out: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE_RE.sub("", markdown), re.MULTILINE):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        base, n = slug, 1
        while slug in out:
            slug, n = f"{base}-{n}", n + 1
        out.add(slug)
    return out


def broken_links(page: Path) -> list[str]:
    text = FENCE_RE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    broken = []
    for target in LINK_RE.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: - not checked offline
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text(encoding="utf-8")):
            broken.append(f"{target} (no heading #{fragment} in {resolved.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_link_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n## Two words\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#two-words) [web](https://example.com) `[code](missing.md)`\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [self](#absent)\n```\n[in a fence](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md (no such file)",
        "other.md#nope (no heading #nope in other.md)",
        "#absent (no heading #absent in page.md)",
    ]


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {Path(t.partition("#")[0]).name for t in LINK_RE.findall(readme) if t.startswith("docs/")}
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name not in linked) == []


PUBLIC_PACKAGES = ("saas_platform.components", "saas_platform.handlers", "saas_platform.policies")


def public_modules() -> Iterator[str]:
    """Every importable module of the distribution except ``__main__`` modules and ``_private`` ones.

    ``saas_platform.policies.__main__`` builds and serves the pack on import, so it is never imported here.
    """
    for package in PUBLIC_PACKAGES:
        yield package
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                yield info.name


def undocumented(module_name: str) -> list[str]:
    """Public classes and functions a module defines (``__all__`` if it has one) that have no docstring.

    Methods are not required to have one: the class docstring documents its API.
    """
    module = importlib.import_module(module_name)
    gaps = [] if (module.__doc__ or "").strip() else [f"{module_name} (module)"]
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if getattr(obj, "__module__", None) != module_name:
            continue  # imported, documented where it is defined
        if inspect.isfunction(inspect.unwrap(obj)):  # functools.cache & co. copy the docstring onto the wrapper
            documented = bool((obj.__doc__ or "").strip())
        elif inspect.isclass(obj):
            # vars(): a class does not inherit its base's docstring here; a dataclass's generated
            # "Name(field: type, ...)" signature is not documentation either
            doc = (vars(obj).get("__doc__") or "").strip()
            documented = bool(doc) and not (dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("))
        else:
            continue
        if not documented:
            gaps.append(f"{module_name}.{name}")
    return gaps


MODULES = list(public_modules())


def test_the_docstring_scan_covers_the_distribution() -> None:
    assert {
        "saas_platform.components.platform",
        "saas_platform.components.testing.harness",
        "saas_platform.handlers.authorizer",
        "saas_platform.policies.access",
    } <= set(MODULES)
    assert not any(m.endswith("__main__") for m in MODULES)


def test_every_public_module_class_and_function_has_a_docstring() -> None:
    gaps = [gap for module in MODULES for gap in undocumented(module)]
    assert gaps == [], "public names without a docstring:\n" + "\n".join(gaps)


def test_docstring_check_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "probe_undocumented.py").write_text(
        '"""Module doc."""\nimport dataclasses\n\nclass Bare:\n    pass\n\n@dataclasses.dataclass\nclass Data:\n    x: int\n\n'
        "class Child(Bare):\n    pass\n\ndef bare():\n    pass\n\ndef _private():\n    pass\n\n"
        "import functools\n\n@functools.cache\ndef cached():\n    pass\n\n"
        'def documented():\n    """Yes."""\n',
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert undocumented("probe_undocumented") == [
        "probe_undocumented.Bare",
        "probe_undocumented.Data",
        "probe_undocumented.Child",
        "probe_undocumented.bare",
        "probe_undocumented.cached",
    ]


OUTSIDE_RE = re.compile(r"\b(?:DESIGN|ISOLATION|OFFLINE|STYLE)\.md\b|\bse{2}ds?\b|/work/sha[r]ed")
"""Documents that exist only outside the repository (design inputs) and must never be cited from it."""


def test_nothing_cites_documents_outside_the_repository() -> None:
    hits = [
        f"{path}:{n}: {line.strip()[:100]}"
        for path, text in TEXTS.items()
        for n, line in enumerate(text.splitlines(), 1)
        if OUTSIDE_RE.search(line)
    ]
    assert hits == [], "say it in the project's own words, or cite docs/:\n" + "\n".join(hits)


def test_status_at_a_glance_matches_each_invariant() -> None:
    text = ISOLATION.read_text(encoding="utf-8")
    glance: dict[str, set[int]] = {}
    for status, numbers in re.findall(
        r"^\| (proven|proven as advisory|proven by tests|partly|open) \| ([\d, ]+) \|$", text, re.M
    ):
        glance[status] = {int(n) for n in numbers.split(",")}
    stated: dict[str, set[int]] = {}
    current = 0
    for line in text.splitlines():
        if m := re.match(r"### (\d+)\. ", line):
            current = int(m.group(1))
        elif m := re.match(r"- Status: (proven as advisory|proven by tests|proven|partly|open)\b", line):
            stated.setdefault(m.group(1), set()).add(current)
    assert glance == stated
    assert set().union(*stated.values()) == set(DOC.invariants)
