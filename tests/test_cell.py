"""Tenant cells: a cell stack builds only its tenants on the platform stack's shared pieces, read through the
versioned ``platform`` contract; its names never collide with the platform's or another cell's; bad cell config
and a contract that does not fit are refused with a message that says what to change."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

from saas_platform.components.cell import (
    CELL_TABLES,
    PLATFORM_CONTRACT_VERSION,
    PLATFORM_EXPORT,
    CellExpectations,
    PlatformContractError,
    read_platform_export,
    trigger_layer_modules,
)
from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import StackConfigError
from saas_platform.components.naming import PLATFORM_TABLES_OUTPUT
from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.policies.offline import evaluate_run
from tests.conftest import ROOT, run_stack
from tests.test_config import base

CELL = "dev-cell-01"
PLATFORM_REF = "organization/saas/dev"
SHARED_TYPES = (
    "aws:kms/key:Key",
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:sns/topic:Topic",
    "aws:lambda/layerVersion:LayerVersion",
    "aws:apigateway/restApi:RestApi",
    "aws:apigateway/usagePlan:UsagePlan",
    "aws:scheduler/schedule:Schedule",
)
# Physical names AWS requires to be unique per account and Region (or per account, for IAM).
NAMED = {
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
    "aws:lambda/function:Function": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cognito/userPool:UserPool": "name",
    "aws:cognito/identityPool:IdentityPool": "identityPoolName",
    "aws:apigateway/apiKey:ApiKey": "name",
}


@pytest.fixture(scope="module")
def cell() -> ProgramRun:
    return run_stack(CELL)


@pytest.fixture(scope="module")
def platform() -> ProgramRun:
    return run_stack("dev")


def test_a_cell_holds_only_its_tenants(cell: ProgramRun) -> None:
    types = Counter(r.type for r in cell.resources)
    assert not [t for t in SHARED_TYPES if types[t]], "a cell builds no shared piece"
    assert types["aws:cognito/userPool:UserPool"] == 1  # umbrella only: no system tenant in a cell
    assert types["aws:verifiedpermissions/policyStore:PolicyStore"] == 1
    assert types["aws:cognito/identityPool:IdentityPool"] == 1
    assert types["aws:lambda/function:Function"] == 2  # the cell's own pre-auth and pre-token shard
    assert types["aws:dynamodb/tableItem:TableItem"] == 1
    assert cell.outputs["tenants"] == ["umbrella"]
    assert cell.outputs["platformStack"] == PLATFORM_REF


def test_the_cell_writes_into_the_platforms_registry_and_grants_on_its_tables(
    cell: ProgramRun, platform: ProgramRun
) -> None:
    contract = platform.outputs[PLATFORM_EXPORT]
    assert contract["contractVersion"] == PLATFORM_CONTRACT_VERSION
    (item,) = cell.of_type("aws:dynamodb/tableItem:TableItem")
    assert item.inputs["tableName"] == contract["registry"]["tableName"]
    body = json.loads(item.inputs["item"])
    assert body["tenantId"] == {"S": "umbrella"}
    assert body["tier"] == {"S": "basic"}
    assert body["status"] == {"S": "active"}
    assert "usageKey" in body
    assert "policyStoreId" in body
    policies = [json.loads(p.inputs["policy"]) for p in cell.of_type("aws:iam/policy:Policy")]
    granted = {r for doc in policies for st in doc["Statement"] for r in st.get("Resource", []) if ":table/" in str(r)}
    table_arns = {t["arn"] for t in contract["tables"].values()}
    assert granted
    assert granted <= table_arns
    for fn in cell.of_type("aws:lambda/function:Function"):
        assert fn.inputs["layers"] == [contract["handlerLayer"]["arn"]]
        assert fn.inputs["environment"]["variables"]["SAAS_REGISTRY_TABLE"] == contract["registry"]["tableName"]


def test_the_cells_usage_key_joins_the_platforms_plan_for_its_tier(cell: ProgramRun, platform: ProgramRun) -> None:
    (plan_key,) = cell.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    assert plan_key.inputs["usagePlanId"] == platform.outputs[PLATFORM_EXPORT]["api"]["usagePlanIds"]["basic"]


def test_no_physical_name_collides_across_the_environments_stacks(cell: ProgramRun, platform: ProgramRun) -> None:
    second = run_stack(
        "dev-cell-01",
        {"saas:tenants": [{"id": "wayne", "displayName": "Wayne", "tier": "premium"}], "saas:access": {"mode": "abac"}},
    )
    seen: dict[tuple[str, str], str] = {}
    clashes = []
    for run in (platform, cell, second):
        for r in run.resources:
            prop = NAMED.get(r.type)
            name = r.inputs.get(prop) if prop else None
            if not isinstance(name, str):
                continue
            key = (r.type, name)
            if key in seen and seen[key] != run.stack:
                clashes.append((key, seen[key], run.stack))
            seen.setdefault(key, run.stack)
    # `second` reuses the stack name dev-cell-01 (another tenant set), so only platform/cell pairs can clash here
    assert not clashes
    names = {r.inputs.get("name") for r in cell.of_type("aws:lambda/function:Function")}
    assert names == {"AIML-SaaS-PreAuth-C01-S00-Dev", "AIML-SaaS-PreToken-C01-S00-Dev"}
    shared_roles = {
        r.inputs["name"] for r in second.of_type("aws:iam/role:Role") if "-S00-" in r.inputs.get("name", "")
    }
    assert "AIML-SaaS-TenantAdminRole-C01-S00-Dev" in shared_roles


def test_a_cell_plans_clean_with_the_shipped_pack(cell: ProgramRun) -> None:
    report = evaluate_run(cell)
    assert not report.mandatory
    assert not report.advisory


def test_the_pack_judges_cell_roles_against_the_contracts_tables(cell: ProgramRun) -> None:
    """Drop one table from what the cell declares: the roles that name it are refused."""
    run = copy.deepcopy(cell)
    (component,) = [r for r in run.resources if r.type == "saas:cell:TenantCell"]
    declared = json.loads(json.dumps(run.component_outputs[component.urn][PLATFORM_TABLES_OUTPUT]))
    declared.pop("PayrollDev")
    component.raw_outputs.update({PLATFORM_TABLES_OUTPUT: declared})
    report = evaluate_run(run)
    assert {v.policy for v in report.mandatory} == {"tenant-dynamodb-resource-scope"}
    assert all("PayrollDev" in v.message for v in report.mandatory)


# ---- the contract -------------------------------------------------------------------------------------------


def expectations(**overrides: Any) -> CellExpectations:
    values: dict[str, Any] = {
        "environment": "dev",
        "region": "ap-southeast-1",
        "name_prefix": "AIML-SaaS",
        "kms_key_alias": "alias/aiml-saas-dev",
        "layer_modules": trigger_layer_modules(),
        "uses_api": True,
    }
    return CellExpectations(**(values | overrides))


@pytest.fixture(scope="module")
def contract(platform: ProgramRun) -> dict[str, Any]:
    return platform.outputs[PLATFORM_EXPORT]


def test_the_platform_contract_reads_back(contract: dict[str, Any]) -> None:
    assert read_platform_export(contract, PLATFORM_REF, expectations()) == contract
    assert sorted(contract["tables"]) == sorted(CELL_TABLES)
    assert trigger_layer_modules() <= set(contract["handlerLayer"]["modules"])


@pytest.mark.parametrize(
    ("change", "expect", "needle"),
    [
        (lambda c: None, {}, "missing or not an object"),
        (lambda c: c | {"contractVersion": 2}, {}, "contractVersion 2"),
        (lambda c: {k: v for k, v in c.items() if k != "registry"}, {}, "lacks ['registry']"),
        (lambda c: c | {"environment": "prod"}, {}, "environment is 'prod' there, 'dev' here"),
        (lambda c: c | {"kmsKeyAlias": "alias/other"}, {}, "kmsKeyAlias"),
        (lambda c: c | {"tables": {"Employment": c["tables"]["Employment"]}}, {}, "exports tables"),
        (
            lambda c: c | {"tables": {k: v | {"tenantIndexNames": ["byTenant"]} for k, v in c["tables"].items()}},
            {},
            "tenant-keyed indexes",
        ),
        (lambda c: c | {"handlerLayer": {"arn": "x", "modules": []}}, {}, "rebuild the layer"),
        (lambda c: c | {"api": None}, {}, "serves no tenant API"),
        (lambda c: c, {"uses_api": False}, "set saas:cell.api: true"),
    ],
    ids=["missing", "version", "key", "environment", "alias", "tables", "keyed-index", "layer", "no-api", "api"],
)
def test_a_contract_that_does_not_fit_is_refused_with_the_way_out(
    contract: dict[str, Any], change: Any, expect: dict[str, Any], needle: str
) -> None:
    with pytest.raises(PlatformContractError) as err:
        read_platform_export(change(copy.deepcopy(contract)), PLATFORM_REF, expectations(**expect))
    assert needle in str(err.value)
    assert PLATFORM_REF in str(err.value)


def test_the_program_refuses_a_platform_of_another_contract_version(contract: dict[str, Any]) -> None:
    outputs = {PLATFORM_REF: {PLATFORM_EXPORT: contract | {"contractVersion": 99}}}
    with pytest.raises(Exception, match="contractVersion 99"):
        run_program(ROOT, CELL, mocks=AwsMocks(region="ap-southeast-1", stack_outputs=outputs))


# ---- cell config --------------------------------------------------------------------------------------------

CELL_CONFIG = {"saas:cell": {"platformStack": PLATFORM_REF}, "saas:identity": {"mode": "own", "mfa": "OPTIONAL"}}


def test_a_cell_config_loads_with_its_number() -> None:
    config = load_stack_config(base(**CELL_CONFIG), "dev-cell-07")
    assert config.cell is not None
    assert config.cell.number == 7
    assert config.cell.api is True


@pytest.mark.parametrize(
    ("overrides", "stack", "key", "needle"),
    [
        ({}, "dev-cell-ab", "saas:cell", "named <environment>-cell-<NN>"),
        ({}, "prod-cell-01", "saas:cell", "a cell of prod, not of dev"),
        ({"saas:cell": None}, "dev-cell-02", "saas:cell", "required in a cell stack"),
        ({"saas:jobs": {}}, "dev-cell-01", "saas:jobs", "lives in the platform stack"),
        ({"saas:msk": {"create": True, "topics": ["t"]}}, "dev-cell-01", "saas:msk", "lives in the platform stack"),
        ({"saas:api": {}}, "dev-cell-01", "saas:api", "lives in the platform stack"),
        ({"saas:images": {"enabled": False}}, "dev-cell-01", "saas:images", "lives in the platform stack"),
        ({"saas:tableNamePrefix": "alice"}, "dev-cell-01", "saas:tableNamePrefix", "lives in the platform stack"),
        ({"saas:tenants": []}, "dev-cell-01", "saas:tenants", "at least one tenant"),
        (
            {"saas:identity": {"mode": "shared", "sourceStack": "organization/saas/prod", "mfa": "OPTIONAL"}},
            "dev-cell-01",
            "saas:identity.mode",
            "use mode: own",
        ),
        ({"saas:cell": {"platformStack": "dev"}}, "dev-cell-01", "saas:cell.platformStack", "must match"),
    ],
    ids=["name", "environment", "missing", "jobs", "msk", "api", "images", "table-prefix", "empty", "shared", "ref"],
)
def test_bad_cell_config_names_the_file_and_key(overrides: dict[str, Any], stack: str, key: str, needle: str) -> None:
    with pytest.raises(StackConfigError) as err:
        load_stack_config(base(**(CELL_CONFIG | overrides)), stack)
    assert f"Pulumi.{stack}.yaml" in str(err.value)
    assert key in str(err.value)
    assert needle in str(err.value)


def test_a_platform_stack_may_hold_no_tenants() -> None:
    run = run_stack("dev", {"saas:tenants": []})
    report = evaluate_run(run)
    assert not report.mandatory, [v.message for v in report.mandatory]
    assert run.outputs["tenants"] == []
    assert len(run.of_type("aws:cognito/userPool:UserPool")) == 1  # the system tenant's
