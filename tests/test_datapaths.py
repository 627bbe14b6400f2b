"""The data-path inventory: the structure, its validation, and that the plan JSON carries every component's paths."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from saas_platform.components.datapaths import DataPath, substitute
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.testing.plan import main
from tests.conftest import ROOT, run_stack

KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/k"


def test_path_validation() -> None:
    with pytest.raises(ComponentArgError, match="exact IAM actions"):
        DataPath(name="p", principal="r", principal_type="role", actions=("s3:*",), resource="*")
    with pytest.raises(ComponentArgError, match=r"guards \['kms:ViaService'\]"):
        DataPath(
            name="p", principal="r", principal_type="role", actions=("kms:Decrypt",), resource=KEY,
            guards=("kms:ViaService",),
        )  # fmt: skip
    with pytest.raises(ComponentArgError, match="names no tenants"):
        DataPath(
            name="p", principal="r", principal_type="role", actions=("s3:GetObject",),
            resource="arn:aws:s3:::b/tenants/{tenant}/x",
        )  # fmt: skip


def test_per_user_is_about_the_request_side() -> None:
    own = DataPath(
        name="p", principal="r", principal_type="role", actions=("s3:PutObject",), tenants=("acme",),
        resource="arn:aws:s3:::b/tenants/{tenant}/users/{user}/x",
        session={"cognito-identity.amazonaws.com:sub": "{user}"},
    )  # fmt: skip
    admin = DataPath(
        name="p", principal="r", principal_type="role", actions=("s3:PutObject",), tenants=("acme",),
        resource="arn:aws:s3:::b/tenants/{tenant}/x", session={"cognito-identity.amazonaws.com:sub": "{user}"},
    )  # fmt: skip
    assert own.per_user
    assert not admin.per_user
    assert own.to_json()["perUser"] is True


def test_substitute_nested() -> None:
    value = {"k": ["TENANT#{tenant}", "{user}"], "r": "a/{tenant}/{other}"}
    assert substitute(value, tenant="acme", user="u1") == {"k": ["TENANT#acme", "u1"], "r": "a/acme/{other}"}


@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_stack_declares_paths_of_every_principal_kind(mode: str) -> None:
    run = run_stack("dev", {"saas:access": {"mode": mode}})
    paths = run.data_paths()
    kinds = Counter(p["principalType"] for p in paths)
    assert kinds["role"] > 0
    assert kinds["federated"] > 0
    names = {p["name"] for p in paths}
    # both tenant roles, the three system roles: table key through DynamoDB, documents and their key through S3
    for role in ("admin", "user"):
        assert f"{role}/documents" in names
        assert f"{role}/documents-key" in names
    for role in ("admin", "superuser", "support"):
        assert f"{role}/table-key" in names
    tenants = {t for p in paths for t in p["tenants"]}
    assert tenants == {"acme", "globex"}
    user_docs = [p for p in paths if p["name"] == "user/documents"]
    assert all(p["perUser"] and "/users/{user}/" in p["resource"] for p in user_docs)


def test_plan_json_carries_the_inventory(tmp_path: Path) -> None:
    out = tmp_path / "dev.json"
    assert main(["dev", "--program-dir", str(ROOT), "--json", str(out), "--quiet"]) == 0
    document = json.loads(out.read_text())
    paths = document["dataPaths"]
    assert paths
    assert all({"name", "principal", "actions", "resource", "context", "component"} <= set(p) for p in paths)
    assert any(p["resource"].startswith("arn:aws:kms:") for p in paths)
