"""Release hygiene: a build without warnings, a wheel with every asset and the policy pack, an sdist that
carries its tests, and handler archives that are byte-identical whatever built them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from saas_platform.components.lambda_function import HANDLERS_DIR, build_code_zip, handlers_archive
from tests.dist_support import ROOT, build_dist

# The first test to need the dist builds it (python -m build): slow on a loaded machine.
pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1200)]


def _names(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_handler_archive_is_deterministic_and_has_no_bytecode(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    shutil.copytree(HANDLERS_DIR, first / "h", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(HANDLERS_DIR, second / "h", ignore=shutil.ignore_patterns("__pycache__"))
    # The second checkout has other timestamps and bytecode from another Python.
    for path in (second / "h").rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (second / "h" / "__pycache__").mkdir()
    (second / "h" / "__pycache__" / "authorizer.cpython-313.pyc").write_bytes(b"\x00bytecode")
    (second / "h" / "stray.pyc").write_bytes(b"\x00")
    a = build_code_zip(first / "h", "saas_platform/handlers")
    b = build_code_zip(second / "h", "saas_platform/handlers")
    assert a == b
    names = _names(a, tmp_path)
    assert names == sorted(names)
    assert "saas_platform/handlers/authorizer.py" in names
    assert "saas_platform/handlers/routes.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_handlers_archive_is_a_content_addressed_zip() -> None:
    first, second = handlers_archive(), handlers_archive()
    assert first.path == second.path
    assert first.path.endswith(".zip")
    assert Path(first.path).read_bytes() == build_code_zip(HANDLERS_DIR, "saas_platform/handlers")


def test_build_has_no_warnings() -> None:
    dist = build_dist()
    warnings = [
        line
        for line in dist.log.splitlines()
        if ("warning" in line.lower() or "would be ignored" in line) and "Location 'file:" not in line
    ]
    assert warnings == []


def test_wheel_ships_assets_pack_and_no_tests() -> None:
    with zipfile.ZipFile(build_dist().wheel) as wheel:
        names = set(wheel.namelist())
    assert "saas_platform/components/assets/cedar/schema.cedarschema.json" in names
    assert "saas_platform/components/assets/cedar/policies/forbid-other-tenants.cedar" in names
    assert "saas_platform/components/assets/cedar/templates/approvers.cedar" in names
    assert "saas_platform/policies/PulumiPolicy.yaml" in names
    assert "saas_platform/policies/__main__.py" in names
    assert "saas_platform/handlers/routes.json" in names
    assert "saas_platform/components/testing/plan.py" in names
    assert not [n for n in names if n.startswith(("tests/", "components/", "handlers/", "policies/"))]
    assert not [n for n in names if n.endswith(".pyc")]
    if (ROOT / "LICENSE").exists():
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_sdist_carries_every_tracked_file_the_tests_need() -> None:
    with tarfile.open(build_dist().sdist) as sdist:
        names = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile() and "/" in m.name}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    wanted = {f for f in tracked.splitlines() if not f.startswith(".")}  # .github/, .ci/: CI only
    missing = sorted(f for f in wanted if f not in names and (ROOT / f).exists())
    assert missing == []
    assert {"tests/conftest.py", "tests/events/pre_authentication.json", "Pulumi.prod.yaml"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
