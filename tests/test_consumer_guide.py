"""docs/consumer-guide.md works as written: its program, its tests, its offline-plan command and its policy-pack
folder are taken from the page and run in a fresh project directory outside this repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2_grpc

from saas_platform.policies.pack import PACK_NAME, POLICIES
from tests.conftest import ROOT

GUIDE = (ROOT / "docs" / "consumer-guide.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", GUIDE, re.MULTILINE | re.DOTALL)


def block(first_line: str) -> str:
    """The guide's python block that starts with ``first_line`` (a comment naming the file)."""
    found = [b for b in PYTHON_BLOCKS if b.splitlines()[0] == first_line]
    assert len(found) == 1, f"docs/consumer-guide.md has no single block starting {first_line!r}"
    return found[0]


def heredoc(path: str) -> str:
    """The body of ``cat > <path> <<'TAG' ... TAG`` in the guide."""
    m = re.search(rf"cat > {re.escape(path)} <<'(\w+)'\n(.*?)^\1$", GUIDE, re.MULTILINE | re.DOTALL)
    assert m, f"docs/consumer-guide.md has no heredoc for {path}"
    return m.group(2)


def env() -> dict[str, str]:
    """The test environment minus this repository on ``PYTHONPATH``: the project imports the library only."""
    out = dict(os.environ)
    out["PYTHONPATH"] = ""
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A consumer project with its own ``components/`` and ``handlers/`` folders, as Pulumi projects often have."""
    (tmp_path / "Pulumi.yaml").write_text("name: reports\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: ap-southeast-1\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(block("# __main__.py of your project"), encoding="utf-8")
    for own in ("components", "handlers"):
        (tmp_path / own).mkdir()
        (tmp_path / own / "__init__.py").write_text('"""The consumer\'s own package."""\n', encoding="utf-8")
    (tmp_path / "tests").mkdir()
    for name in ("test_infra.py", "test_pack.py"):
        (tmp_path / "tests" / name).write_text(block(f"# tests/{name}"), encoding="utf-8")
    return tmp_path


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("test_file", ["test_infra.py", "test_pack.py"])
def test_the_guides_unit_tests_pass_in_a_consumer_project(project: Path, test_file: str) -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{test_file}"], project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b[1-9]\d* passed\b", result.stdout), result.stdout


def test_the_guides_set_mocks_test_can_fail(project: Path) -> None:
    test = project / "tests" / "test_infra.py"
    test.write_text(test.read_text(encoding="utf-8").replace('"ReportsDev"', '"SomethingElse"'), encoding="utf-8")
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_infra.py"], project)
    assert result.returncode == 1, result.stdout[-2000:]


def test_the_guides_offline_plan_command(project: Path) -> None:
    command = re.search(r"^(python -m saas_platform\.components\.testing\.plan dev --program-dir \.)", GUIDE, re.M)
    assert command, "the guide's offline-plan command changed; update this test"
    result = run([sys.executable, *command.group(1).split()[1:]], project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^dev: clean - [1-9]\d* resources, \d+ policies, 0 mandatory", result.stdout, re.M), (
        result.stdout[-2000:]
    )


def test_the_guides_policy_pack_folder_serves_the_shipped_pack(tmp_path: Path) -> None:
    pack = tmp_path / "policy-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(heredoc("policy-pack/PulumiPolicy.yaml"), encoding="utf-8")
    (pack / "__main__.py").write_text(heredoc("policy-pack/__main__.py"), encoding="utf-8")
    # the Pulumi CLI starts a Python pack by running its folder and reads the analyzer's port from stdout
    proc = subprocess.Popen(
        [sys.executable, "-u", str(pack)], cwd=tmp_path, env=env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        assert info.name == PACK_NAME
        assert {p.name for p in info.policies} == {p.name for p in POLICIES}
    finally:
        proc.kill()
        proc.wait(timeout=30)
