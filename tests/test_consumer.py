"""The library as another team adopts it: the built wheel in a fresh virtualenv, a Pulumi project with its own
``components/`` and ``handlers/`` folders, a standard ``set_mocks`` unit test, and the shipped pack offline.

Also checks that the sdist's own tests run against the installed wheel, and how a consumer finds the pack.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.dist_support import ROOT, ConsumerVenv, build_dist, consumer_venv

# Builds, a virtualenv and whole plans: minutes on a loaded machine, more than the suite's 240 s default.
pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1200)]

PROJECT = ROOT / "tests" / "fixtures" / "consumer_project"


@pytest.fixture(scope="module")
def venv() -> ConsumerVenv:
    return consumer_venv(build_dist())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "reports-app"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run(venv: ConsumerVenv, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv.python), *args], cwd=cwd, env=venv.env(), capture_output=True, text=True, check=False, timeout=600
    )


def test_the_wheel_is_what_the_consumer_imports(venv: ConsumerVenv, project: Path) -> None:
    done = _run(
        venv,
        "-c",
        "import components, handlers, saas_platform.components, saas_platform.handlers; "
        "print(components.__file__); print(handlers.__file__); print(saas_platform.components.__file__)",
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    theirs_components, theirs_handlers, ours = done.stdout.split()
    assert Path(theirs_components).parent == project / "components"
    assert Path(theirs_handlers).parent == project / "handlers"
    assert Path(ours).is_relative_to(venv.site_packages)


def test_standard_set_mocks_unit_test_passes(venv: ConsumerVenv, project: Path) -> None:
    done = _run(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_shipped_pack_plans_the_consumer_project_offline(venv: ConsumerVenv, project: Path) -> None:
    out = project / "plan.json"
    done = _run(venv, "-m", "saas_platform.components.testing.plan", "dev", "--json", str(out), "--quiet", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(out.read_text())
    assert plan["exitCode"] == 0
    assert plan["project"] == "reports-app"
    assert plan["policy"]["violations"] == []
    types = plan["summary"]["byType"]
    assert types["aws:lambda/function:Function"] == 3  # the two shared library triggers and the consumer's own
    assert types["saas:identity:TenantIdentity"] == 1
    assert len(plan["policy"]["policies"]) > 50  # the whole pack ran, not an empty one


def test_the_pack_folder_is_found_and_runnable_from_the_install(venv: ConsumerVenv, tmp_path: Path) -> None:
    done = _run(venv, "-m", "saas_platform.policies", "--path", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pack = Path(done.stdout.strip())
    assert pack.is_relative_to(venv.site_packages)
    assert (pack / "__main__.py").is_file()
    runtime = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"]
    assert runtime["name"] == "python"
    # A relative virtualenv would point into site-packages; none means "the python on PATH" (the venv).
    assert "virtualenv" not in runtime.get("options", {})
    written = _run(venv, "-m", "saas_platform.policies", "--write-pack", str(tmp_path / "pack"), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    options = yaml.safe_load((tmp_path / "pack" / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    assert Path(options["virtualenv"]) == venv.python.parent.parent.resolve()
    assert "saas_platform.policies.__main__" in (tmp_path / "pack" / "__main__.py").read_text()


def test_the_sdist_runs_its_tests_against_the_wheel(venv: ConsumerVenv, tmp_path: Path) -> None:
    with tarfile.open(build_dist().sdist) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (source,) = tmp_path.iterdir()
    done = _run(
        venv,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "tests/test_lambda_function.py",
        "tests/test_config.py",
        "tests/test_packaging.py::test_handler_archive_is_deterministic_and_has_no_bytecode",
        cwd=source,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout
    assert " failed" not in done.stdout
