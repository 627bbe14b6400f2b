"""Identity across the real stacks: dev owns its pools, prod owns them for staging and prod and exports
them, staging consumes prod's export. Plus the config keys and the user-pool schema guard."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from saas_platform.components import identity_schema
from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import StackConfigError
from saas_platform.components.identity import IdentityContractError
from saas_platform.components.identity_schema import (
    USER_POOL_SCHEMA,
    CustomAttribute,
    UserPoolSchema,
    UserPoolSchemaChangeError,
    check_schema_contract,
    write_lock,
)
from saas_platform.components.naming import LAMBDA_FUNCTION_NAME_MAX, trigger_function_name
from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.policies.offline import evaluate_run
from tests.conftest import ROOT, run_stack
from tests.test_config import base

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION = "aws:lambda/function:Function"


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(ROOT, "dev")


@pytest.fixture(scope="module")
def staging() -> ProgramRun:
    return run_stack("staging")  # its StackReference reads prod's planned outputs


def per_tenant(run: ProgramRun, type_: str) -> Counter[str]:
    """Counts per tenant; platform-level resources of the same type (e.g. the MSK consumer function, issue #6)
    are not per-tenant and are left out."""
    return Counter(r.name.split("-")[0] for r in run.of_type(type_) if not r.name.startswith("platform-"))


def test_prod_owns_a_pool_per_tenant_with_clients_for_the_environments_that_use_it(prod):
    tenants = {"acme", "globex", "initech", "system"}
    assert per_tenant(prod, POOL) == dict.fromkeys(tenants, 1)
    # staging and prod use prod's pools (dev has its own): 2 environments x 2 front ends, no dev clients
    assert per_tenant(prod, CLIENT) == dict.fromkeys(tenants, 4)
    assert per_tenant(prod, FUNCTION) == {}  # no per-tenant function: the triggers are shared
    triggers = sorted(f.inputs["name"] for f in prod.of_type(FUNCTION) if f.name.startswith("platform-triggers-"))
    assert triggers == ["AIML-SaaS-PreAuth-S00-Prod", "AIML-SaaS-PreToken-S00-Prod"]
    assert per_tenant(prod, PERMISSION) == dict.fromkeys(tenants, 2)  # each pool's own, on the shared functions
    assert per_tenant(prod, IDENTITY_POOL) == dict.fromkeys(tenants, 1)
    names = {c.inputs["name"] for c in prod.of_type(CLIENT)}
    assert "AIML-SaaS-acme-hr-admin-staging" in names
    assert "AIML-SaaS-system-ess-mobile-prod" in names
    assert not [n for n in names if n.endswith("-dev")]  # no client that no stack uses
    for pool in prod.of_type(POOL):
        assert pool.inputs["deletionProtection"] == "ACTIVE"
        assert pool.options.protect is True
        assert pool.inputs["mfaConfiguration"] == "ON"
        assert pool.inputs["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}


def test_dev_owns_self_contained_pools_with_dev_clients_only(dev):
    assert per_tenant(dev, POOL) == {"acme": 1, "globex": 1, "system": 1}
    assert {c.name.split("-")[1] for c in dev.of_type(CLIENT)} == {"dev"}
    mfa = {p.name: p.inputs["mfaConfiguration"] for p in dev.of_type(POOL)}
    assert mfa == {"acme-user-pool": "OPTIONAL", "globex-user-pool": "OPTIONAL", "system-user-pool": "ON"}
    assert {p.inputs["deletionProtection"] for p in dev.of_type(POOL)} == {"INACTIVE"}  # saas:protect: false


def test_staging_creates_no_pool_and_binds_prods_staging_clients(prod, staging):
    assert staging.of_type(POOL) == []
    assert staging.of_type(CLIENT) == []
    exported = prod.outputs["identity"]
    assert staging.outputs["userPoolIds"] == {
        t: e["userPoolId"] for t, e in exported["tenants"].items() if t != "initech"
    }
    for ip in staging.of_type(IDENTITY_POOL):
        tenant = ip.inputs["tags"]["saas:tenant"]
        entry = exported["tenants"][tenant]
        assert {p["clientId"] for p in ip.inputs["cognitoIdentityProviders"]} == set(
            entry["clientIds"]["staging"].values()
        )
        assert {p["providerName"] for p in ip.inputs["cognitoIdentityProviders"]} == {
            f"cognito-idp.ap-southeast-1.amazonaws.com/{entry['userPoolId']}"
        }
        assert ip.inputs["identityPoolName"] == f"AIML-SaaS-{tenant}-Staging"


def test_identity_export_is_the_documented_contract(prod):
    exported = prod.outputs["identity"]
    assert exported["contractVersion"] == 1
    assert exported["environment"] == "prod"
    assert exported["region"] == "ap-southeast-1"
    assert set(exported["tenants"]) == {"acme", "globex", "initech", "system"}
    acme = exported["tenants"]["acme"]
    assert set(acme) == {"userPoolId", "userPoolArn", "issuer", "clientIds"}
    assert acme["userPoolArn"] == f"arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/{acme['userPoolId']}"
    assert acme["issuer"] == f"https://cognito-idp.ap-southeast-1.amazonaws.com/{acme['userPoolId']}"
    assert {env: set(c) for env, c in acme["clientIds"].items()} == {
        env: {"hr-admin", "ess-mobile"} for env in ("staging", "prod")
    }


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_no_mandatory_violation(stack, dev, prod, staging):
    run = {"dev": dev, "prod": prod, "staging": staging}[stack]
    report = evaluate_run(run)
    assert report.mandatory == [], [v.message for v in report.mandatory]


def test_staging_without_prods_export_fails_clearly():
    with pytest.raises(IdentityContractError, match=r"stack 'organization/saas/prod' output 'identity' is missing"):
        run_program(ROOT, "staging", stack_outputs={"organization/saas/prod": {}})


def test_trigger_names_always_fit():
    """Trigger names are not in the config-time limit table: they carry no tenant id, so even the longest prefix
    and shard number keep them within Lambda's 64 characters."""
    for env in ("dev", "staging", "prod"):
        for trigger in ("PreAuth", "PreToken"):
            assert len(trigger_function_name("P" * 20, trigger, 99, env)) <= 41 < LAMBDA_FUNCTION_NAME_MAX


# ------------------------------------------------------------------------------------------------ config keys


@pytest.mark.parametrize(
    ("identity", "stack", "fragment"),
    [
        (
            {"mode": "shared", "sourceStack": "organization/saas/prod", "clientEnvironments": ["staging"]},
            "staging",
            "only allowed when mode is 'own'",
        ),
        ({"mode": "own", "clientEnvironments": ["prod"]}, "dev", "must include this stack's own environment 'dev'"),
        ({"mode": "own", "clientEnvironments": ["dev", "dev"]}, "dev", "duplicate environments"),
        ({"mode": "own", "clientEnvironments": ["dev", "qa"]}, "dev", "'dev', 'staging' or 'prod'"),
    ],
)
def test_client_environments_errors_name_the_key(identity, stack, fragment):
    overrides: dict[str, Any] = {"saas:identity": identity, "saas:environment": stack}
    with pytest.raises(StackConfigError) as info:
        load_stack_config(base(**overrides), stack)
    assert info.value.keys[0].startswith("saas:identity.clientEnvironments")
    assert fragment in str(info.value)


def test_client_environments_defaults():
    prod = load_stack_config(
        base(**{"saas:environment": "prod", "saas:identity": {"mode": "own", "mfa": "ON"}}), "prod"
    )
    assert prod.identity_client_environments == ["prod"]  # only its own unless the file lists the sharers
    dev = load_stack_config(base(), "dev")
    assert dev.identity_client_environments == ["dev"]
    chosen = load_stack_config(base(**{"saas:identity": {"mode": "own", "clientEnvironments": ["prod", "dev"]}}), "dev")
    assert chosen.identity_client_environments == ["prod", "dev"]


# ------------------------------------------------------------------------------------------- schema guard


def test_schema_is_the_locked_contract():
    """Spelled out here on purpose: changing the schema must change this test and the lock, visibly."""
    assert json.loads(identity_schema.LOCK_PATH.read_text())["schema"] == {
        "customAttributes": [
            {"name": "environments", "type": "String", "mutable": True, "minLength": 3, "maxLength": 32},
            {"name": "tenantId", "type": "String", "mutable": False, "minLength": 2, "maxLength": 31},
            {"name": "tenantRole", "type": "String", "mutable": True, "minLength": 1, "maxLength": 16},
        ],
        "requiredStandardAttributes": ["email"],
        "usernameAttributes": ["email"],
        "usernameCaseSensitive": False,
    }
    check_schema_contract()


def changed(**attrs: CustomAttribute | None) -> UserPoolSchema:
    current = {a.name: a for a in USER_POOL_SCHEMA.custom_attributes}
    for name, attr in attrs.items():
        if attr is None:
            current.pop(name)
        else:
            current[name] = attr
    return UserPoolSchema(
        custom_attributes=tuple(current.values()),
        required_standard_attributes=USER_POOL_SCHEMA.required_standard_attributes,
        username_attributes=USER_POOL_SCHEMA.username_attributes,
        username_case_sensitive=USER_POOL_SCHEMA.username_case_sensitive,
    )


def test_modifying_an_attribute_explains_the_replacement():
    schema = changed(tenantRole=CustomAttribute("tenantRole", mutable=True, min_length=1, max_length=64, purpose=""))
    with pytest.raises(UserPoolSchemaChangeError) as info:
        check_schema_contract(schema)
    message = str(info.value)
    assert "REPLACES every tenant's user pool" in message
    assert "EVERY USER IN IT" in message
    assert "custom:tenantRole changed (maxLength)" in message
    assert "python -m saas_platform.components.identity_schema accept" in message


def test_removing_and_adding_attributes_are_both_reported():
    schema = changed(
        environments=None,
        department=CustomAttribute("department", mutable=True, min_length=1, max_length=40, purpose=""),
    )
    with pytest.raises(UserPoolSchemaChangeError) as info:
        check_schema_contract(schema)
    assert "custom:environments removed" in str(info.value)
    assert "custom:department added (can never be removed afterwards)" in str(info.value)


def test_acknowledged_change_passes(tmp_path: Path):
    schema = changed(tenantRole=CustomAttribute("tenantRole", mutable=True, min_length=1, max_length=64, purpose=""))
    lock = tmp_path / "lock.json"
    write_lock(schema, lock)
    check_schema_contract(schema, lock)
    with pytest.raises(UserPoolSchemaChangeError, match="missing or empty"):
        check_schema_contract(schema, tmp_path / "absent.json")


def test_an_unacknowledged_schema_change_fails_the_plan(monkeypatch: pytest.MonkeyPatch):
    schema = changed(tenantId=CustomAttribute("tenantId", mutable=True, min_length=2, max_length=31, purpose=""))
    monkeypatch.setattr(identity_schema, "USER_POOL_SCHEMA", schema)
    with pytest.raises(UserPoolSchemaChangeError, match=r"custom:tenantId changed \(mutable\)"):
        run_program(ROOT, "dev")


def test_schema_cli(capsys: pytest.CaptureFixture[str]):
    assert identity_schema.main(["check"]) == 0
    assert "matches user_pool_schema.lock.json" in capsys.readouterr().out
    assert identity_schema.main(["bogus"]) == 2
