"""CognitoTriggers under mocks: one pre-auth and one pre-token function per shard of pools, reading only the
tenant registry; shards sized by the 20 KB resource-policy limit; each pool wired with its own pinned permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.identity import TenantIdentity, TenantIdentityArgs
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.components.testing.policy import evaluate
from saas_platform.components.triggers import (
    CognitoTriggers,
    CognitoTriggersArgs,
    invoke_statement,
    pools_per_function,
    statement_id,
)
from saas_platform.policies.identity import POLICIES as IDENTITY_POLICIES
from saas_platform.policies.logs import POLICIES as LOG_POLICIES
from tests.layer_support import DEPS_LAYER

KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"
TABLE_ARN = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryProd"
FUNCTION = "aws:lambda/function:Function"


def triggers_args(**overrides: Any) -> CognitoTriggersArgs:
    args: dict[str, Any] = {
        "environment": "prod",
        "region": "ap-southeast-1",
        "kms_key_arn": KEY,
        "kms_key_alias": "alias/aiml-saas-prod",
        "registry_table_name": "TenantRegistryProd",
        "registry_table_arn": TABLE_ARN,
        "tenant_ids": ["system", "acme", "globex"],
        "client_environments": ("staging", "prod"),
        "layers": [DEPS_LAYER],
        "account_id": "123456789012",
        "log_retention_days": 365,
    }
    args.update(overrides)
    return CognitoTriggersArgs(**args)


def stack(**overrides: Any) -> ProgramRun:
    """The triggers and one TenantIdentity per served tenant, as Platform composes them."""

    def program() -> None:
        args = triggers_args(**overrides)
        triggers = CognitoTriggers("platform-triggers", args)
        for tenant in args.tenant_ids:
            TenantIdentity(
                tenant,
                TenantIdentityArgs(
                    tenant_id=tenant,
                    environment="prod",
                    region="ap-southeast-1",
                    triggers=triggers.functions_for(tenant),
                    client_environments=("staging", "prod"),
                    account_id="123456789012",
                ),
            )

    return run_function(program)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return stack()


def test_one_pair_of_functions_serves_every_pool(prod: ProgramRun) -> None:
    functions = {f.inputs["name"]: f for f in prod.of_type(FUNCTION)}
    assert set(functions) == {"AIML-SaaS-PreAuth-S00-Prod", "AIML-SaaS-PreToken-S00-Prod"}
    assert len(prod.of_type("aws:iam/role:Role")) == 2
    pools = prod.of_type("aws:cognito/userPool:UserPool")
    assert len(pools) == 3
    arns = {f.inputs["name"]: f.state["arn"] for f in functions.values()}
    for pool in pools:
        config = pool.inputs["lambdaConfig"]
        assert config["preAuthentication"] == arns["AIML-SaaS-PreAuth-S00-Prod"]
        assert config["preTokenGenerationConfig"]["lambdaArn"] == arns["AIML-SaaS-PreToken-S00-Prod"]
    handlers = {f.inputs["name"]: f.inputs["handler"] for f in functions.values()}
    assert handlers["AIML-SaaS-PreAuth-S00-Prod"] == "saas_platform.handlers.pre_authentication.lambda_handler"
    assert handlers["AIML-SaaS-PreToken-S00-Prod"] == "saas_platform.handlers.pre_token_generation.lambda_handler"


def test_functions_know_the_registry_and_no_tenant(prod: ProgramRun) -> None:
    for fn in prod.of_type(FUNCTION):
        env = fn.inputs["environment"]["variables"]
        assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryProd"
        assert env["SAAS_TENANT_ROLES"] == "admin,user"
        assert env["SAAS_SYSTEM_ROLES"] == "admin,superuser,support"
        assert env["SAAS_CLIENT_ENVIRONMENTS"] == "staging,prod"
        assert not {"SAAS_TENANT_ID", "SAAS_NAME_PREFIX"} & set(env)
        assert fn.inputs["architectures"] == ["arm64"]
        assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    groups = {g.inputs["name"]: g.inputs for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for name in ("AIML-SaaS-PreAuth-S00-Prod", "AIML-SaaS-PreToken-S00-Prod"):
        assert groups[f"/aws/lambda/{name}"]["retentionInDays"] == 365
        assert groups[f"/aws/lambda/{name}"]["kmsKeyId"] == KEY


def test_roles_may_read_the_registry_and_nothing_of_cognito(prod: ProgramRun) -> None:
    for policy in prod.of_type("aws:iam/rolePolicy:RolePolicy"):
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        assert set(statements) == {"OwnLogGroup", "XRay", "ReadTenantRegistry", "TenantRegistryKeyThroughDynamoDB"}
        assert statements["ReadTenantRegistry"]["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
        assert statements["ReadTenantRegistry"]["Resource"] == [TABLE_ARN, f"{TABLE_ARN}/index/byUserPool"]
        key = statements["TenantRegistryKeyThroughDynamoDB"]
        assert key["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
        assert key["Condition"]["StringEquals"] == {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"}
        assert "cognito" not in policy.inputs["policy"]


def test_each_pool_has_its_own_pinned_permission_on_each_function(prod: ProgramRun) -> None:
    pools = {p.inputs["tags"]["saas:tenant"]: p.state["arn"] for p in prod.of_type("aws:cognito/userPool:UserPool")}
    perms = prod.of_type("aws:lambda/permission:Permission")
    assert len(perms) == 2 * len(pools)
    seen = {(p.inputs["function"], p.inputs["sourceArn"]) for p in perms}
    for fn in ("AIML-SaaS-PreAuth-S00-Prod", "AIML-SaaS-PreToken-S00-Prod"):
        assert {arn for f, arn in seen if f == fn} == set(pools.values())
    for p in perms:
        tenant = p.name.split("-pre-")[0]
        assert p.inputs["sourceArn"] == pools[tenant]
        assert p.inputs["statementId"] == f"cognito-{tenant}"
        assert p.inputs["sourceAccount"] == "123456789012"


def test_the_shared_triggers_pass_the_identity_and_log_rules(prod: ProgramRun) -> None:
    report = evaluate(prod, IDENTITY_POLICIES + LOG_POLICIES)
    assert [v.message for v in report.mandatory] == []


def test_data_paths_declare_every_role_s_registry_reads(prod: ProgramRun) -> None:
    names = {p["name"] for p in prod.data_paths() if "CognitoTriggers::" in p["component"]}
    assert names == {
        f"registry/{label}-s00/{read}" for label in ("pre-auth", "pre-token") for read in ("get", "query-pool", "key")
    }
    cognito = {p["name"] for p in prod.data_paths() if p["principal"] == "cognito-idp.amazonaws.com"}
    assert cognito == {"cognito/invoke-pre-auth", "cognito/invoke-pre-token"}


# ------------------------------------------------------------------------------------------------- shards


def test_capacity_is_the_worst_case_that_fits_in_20_kb() -> None:
    name = "AIML-SaaS-PreToken-S99-Staging"
    capacity = pools_per_function("ap-southeast-1", name)
    assert capacity == 33  # 25% kept free, as iam-document-headroom requires of the real policy

    def policy_bytes(pools: int) -> int:
        statements = [
            invoke_statement(
                sid=statement_id("t" * 31),
                function_arn=f"arn:aws:lambda:ap-southeast-1:123456789012:function:{name}",
                pool_arn=f"arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/{'p' * 55}",
                account_id="123456789012",
            )
            for _ in range(pools)
        ]
        doc = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
        return len(json.dumps(doc, separators=(",", ":")).encode())

    assert policy_bytes(capacity) <= 20_480 * 0.75 < policy_bytes(capacity + 1)
    real_pool = f"arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_{'A' * 9}"
    assert len(real_pool) < len(f"arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/{'p' * 55}")


def test_pools_are_sharded_in_config_order_and_appending_moves_none() -> None:
    tenants = ["system", "acme", "globex", "initech", "umbrella"]
    args = triggers_args(tenant_ids=tenants, pools_per_function=2)
    assert args.shards == [("system", "acme"), ("globex", "initech"), ("umbrella",)]
    grown = triggers_args(tenant_ids=[*tenants, "hooli", "stark"], pools_per_function=2)
    assert grown.shards[:2] == args.shards[:2]
    assert grown.shards[2] == ("umbrella", "hooli")
    fleet = triggers_args(tenant_ids=["system", *(f"tenant-{i:04d}" for i in range(1000))])
    assert fleet.shard_size == 33
    assert len(fleet.shards) == 31  # 62 functions and 62 roles for 1,001 pools, instead of 2,002 of each


def test_a_sharded_stack_wires_each_pool_to_its_shard() -> None:
    run = stack(tenant_ids=["system", "acme", "globex"], pools_per_function=2)
    names = sorted(f.inputs["name"] for f in run.of_type(FUNCTION))
    assert names == [
        "AIML-SaaS-PreAuth-S00-Prod",
        "AIML-SaaS-PreAuth-S01-Prod",
        "AIML-SaaS-PreToken-S00-Prod",
        "AIML-SaaS-PreToken-S01-Prod",
    ]
    arns = {f.state["arn"]: f.inputs["name"] for f in run.of_type(FUNCTION)}
    shard = {
        p.inputs["tags"]["saas:tenant"]: arns[p.inputs["lambdaConfig"]["preAuthentication"]]
        for p in run.of_type("aws:cognito/userPool:UserPool")
    }
    assert shard == {
        "system": "AIML-SaaS-PreAuth-S00-Prod",
        "acme": "AIML-SaaS-PreAuth-S00-Prod",
        "globex": "AIML-SaaS-PreAuth-S01-Prod",
    }
    globex = {p.inputs["function"] for p in run.of_type("aws:lambda/permission:Permission") if "globex" in p.name}
    assert globex == {"AIML-SaaS-PreAuth-S01-Prod", "AIML-SaaS-PreToken-S01-Prod"}
    assert [v.message for v in evaluate(run, IDENTITY_POLICIES + LOG_POLICIES).mandatory] == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pools_per_function": 34}, r"pools_per_function=34 does not fit: .* holds at most 33 Cognito invoke"),
        ({"pools_per_function": 0}, "pools_per_function=0 does not fit"),
        ({"tenant_ids": []}, "tenant_ids must list every served tenant once"),
        ({"tenant_ids": ["acme", "acme"]}, r"duplicated \['acme'\]"),
        ({"tenant_ids": ["Acme"]}, r"bad \['Acme'\]"),
        ({"log_retention_days": 8}, "log_retention_days must be one of"),
        ({"layers": []}, "CognitoTriggersArgs.layers does not provide aws_lambda_powertools"),
        ({"client_environments": ("qa",)}, "client_environments entries"),
    ],
)
def test_bad_arguments_fail_clearly(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        triggers_args(**overrides)


def test_a_tenant_the_triggers_do_not_serve_is_refused() -> None:
    def program() -> None:
        CognitoTriggers("t", triggers_args(tenant_ids=["system"])).functions_for("acme")

    with pytest.raises(Exception, match="tenant 'acme' is not served by these triggers"):
        run_function(program)
