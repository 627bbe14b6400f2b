"""`scripts/plan`: the documented JSON, summary and exit codes (0 clean, 1 mandatory violation, 2 error)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from saas_platform.components.testing.plan import EXIT_ERROR, EXIT_OK, EXIT_VIOLATION, Planner, main
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "violating_program"


def test_dev_plan_writes_the_documented_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert main(["dev", "--json", str(out), "--program-dir", str(ROOT)]) == EXIT_OK
    doc = json.loads(out.read_text())
    assert {"stack", "project", "resources", "outputs", "policy"} <= set(doc)
    assert (doc["stack"], doc["project"]) == ("dev", "saas")
    table = next(r for r in doc["resources"] if r["name"] == "platform-Employment-table")
    assert set(table) >= {"urn", "type", "name", "parent", "custom", "inputs", "id", "state", "options"}
    assert table["type"] == "aws:dynamodb/table:Table"
    assert table["parent"].endswith("saas:data:PoolTable::platform-Employment")
    assert table["inputs"]["pointInTimeRecovery"] == {"enabled": True}
    assert table["state"]["arn"] == "arn:aws:dynamodb:ap-southeast-1:123456789012:table/EmploymentDev"
    assert table["options"] == {
        "protect": False,
        "retainOnDelete": False,
        "dependsOn": [],
        "ignoreChanges": [],
        "deleteBeforeReplace": False,
        "additionalSecretOutputs": [],
        "provider": None,
        "importId": None,
    }
    assert doc["policy"]["violations"] == []
    assert "dynamodb-pitr-enabled" in doc["policy"]["policies"]
    assert doc["outputs"]["environment"] == "dev"
    printed = capsys.readouterr().out
    assert "dev: clean" in printed
    assert "resources per tenant" in printed


def test_violations_exit_1_and_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v.json"
    code = main(["test", "--program-dir", str(FIXTURE), "--json", str(out)])
    assert code == EXIT_VIOLATION
    doc = json.loads(out.read_text())
    found = {(v["policy"], v["level"]) for v in doc["policy"]["violations"]}
    assert found == {
        ("dynamodb-pitr-enabled", "mandatory"),
        ("dynamodb-sse-kms", "mandatory"),
        ("required-tags", "mandatory"),
    }
    assert all(v["urn"].endswith("::orders") for v in doc["policy"]["violations"])
    assert "MANDATORY VIOLATIONS" in capsys.readouterr().out


def test_policy_config_dir_changes_enforcement(tmp_path: Path) -> None:
    cfg = tmp_path / "policy-config"
    cfg.mkdir()
    levels = {
        name: {"enforcementLevel": "advisory"}
        for name in ("dynamodb-pitr-enabled", "dynamodb-sse-kms", "required-tags")
    }
    (cfg / "test.json").write_text(json.dumps(levels))
    assert main(["test", "--program-dir", str(FIXTURE), "--policy-config-dir", str(cfg), "--quiet"]) == EXIT_OK


def test_bad_stack_file_exits_2_with_one_paragraph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "prog"
    shutil.copytree(ROOT, program, ignore=shutil.ignore_patterns(".venv", ".git", "tests", ".plan", "__pycache__"))
    stack_file = program / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("id: globex", "id: Globex").replace('"OPTIONAL"', '"SOMETIMES"')
    )
    out = tmp_path / "bad.json"
    assert main(["dev", "--program-dir", str(program), "--json", str(out)]) == EXIT_ERROR
    printed = capsys.readouterr().out
    assert "Pulumi.dev.yaml is invalid (2 problems)" in printed
    assert "saas:tenants[1].id" in printed
    assert "saas:identity.mfa" in printed
    assert "Traceback" not in printed
    assert json.loads(out.read_text())["error"].startswith("Pulumi.dev.yaml is invalid")


def test_program_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["broken", "--program-dir", str(FIXTURE)]) == EXIT_ERROR
    assert "must be of type 'integer'" in capsys.readouterr().out
    assert main(["nosuchstack", "--program-dir", str(FIXTURE)]) == EXIT_ERROR


def test_staging_reads_prod_identity_exports_through_a_stack_reference(tmp_path: Path) -> None:
    assert main(["staging", "--program-dir", str(ROOT), "--json-dir", str(tmp_path), "--quiet"]) == EXIT_OK
    staging = json.loads((tmp_path / "staging.json").read_text())
    assert staging["exitCode"] == EXIT_OK
    assert staging["outputs"]["environment"] == "staging"


def test_same_project_stack_references_are_planned_first(tmp_path: Path) -> None:
    program = ROOT / "tests" / "fixtures" / "reference_program"
    assert main(["b", "--program-dir", str(program), "--json-dir", str(tmp_path), "--quiet"]) == EXIT_VIOLATION
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["outputs"]["seenPoolArn"].startswith("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_")
    assert main(["c", "--program-dir", str(program), "--quiet"]) == EXIT_ERROR  # c -> c is a cycle


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_first_preview_does_not_degrade_any_policy(stack: str, tmp_path: Path) -> None:
    """Isolation invariant 48: rules must not turn into "can't run during preview" advisories."""
    out = tmp_path / "p.json"
    assert main([stack, "--program-dir", str(ROOT), "--preview", "--json", str(out), "--quiet"]) == EXIT_OK
    doc = json.loads(out.read_text())
    degraded = [v for v in doc["policy"]["violations"] if "during preview" in v["message"]]
    assert degraded == []
    unknown_ids = [r["name"] for r in doc["resources"] if r["custom"] and r["id"] is None]
    assert unknown_ids, "the first-preview mocks should leave provider ids unknown"


def test_first_preview_reads_referenced_stacks_as_deployed() -> None:
    """A StackReference reads an existing stack's state: in the first preview of ``b`` the referenced ``a`` is
    deployed, so its outputs are known values (not the unknowns of ``a``'s own first preview)."""
    program = ROOT / "tests" / "fixtures" / "reference_program"
    planner = Planner(program, None, preview=True)
    refs = planner.reference_outputs("b")
    assert refs["organization/refs/a"]["poolArn"].startswith("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/")
    assert "a" not in planner.plans  # the preview planner itself did not plan ``a`` as a first preview
    previewed = planner.plan("a")  # ``a`` planned on its own is still a first preview: its pool has no id yet
    assert previewed.run is not None
    assert previewed.run.named("pool").id is None


def test_planner_reference_outputs_plan_only_what_the_config_names() -> None:
    program = ROOT / "tests" / "fixtures" / "reference_program"
    planner = Planner(program, None)
    refs = planner.reference_outputs("b")
    assert list(refs) == ["organization/refs/a"]
    assert refs["organization/refs/a"]["poolArn"].startswith("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/")
    assert planner.plans["a"].report is None  # outputs only: no policy evaluation
    assert planner.reference_outputs("a") == {}
    broken = Planner(program, None, config={"refs:role": None})  # overrides apply to the referenced stack too
    assert broken.reference_outputs("b") == {}  # a stack that fails to plan is left out; the run then fails on it
    assert "refs:role" in (broken.plans["a"].error or "")
