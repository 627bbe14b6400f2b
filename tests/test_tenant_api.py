"""TenantApi and the saas:api config section, pinned on what the engine receives."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from saas_platform.components.api import ApiTenant, TenantApi, TenantApiArgs, authorizer_config
from saas_platform.components.config import Tier, load_stack_config
from saas_platform.components.errors import ComponentArgError, StackConfigError
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.handlers.authorizer import AuthorizerConfig, ConfigError, max_stale_from_env
from saas_platform.policies.offline import evaluate_run
from tests.authz_support import ACME, GLOBEX, REGION, SERVICE_ARNS, run_platform
from tests.conftest import ROOT
from tests.layer_support import DEPS_LAYER

KEY_ARN = "arn:aws:kms:ap-southeast-1:123456789012:key/2ee1a50d-ea66-c9e1-a37b-0dec8901c87c"
STORE_ARN = {
    t.tenant_id: f"arn:aws:verifiedpermissions::123456789012:policy-store/{t.policy_store_id}" for t in (ACME, GLOBEX)
}


REGISTRY_ARN = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryDev"


def api_tenant(t: Any, tier: Tier) -> ApiTenant:
    return ApiTenant(tenant_id=t.tenant_id, tier=tier, policy_store_arn=STORE_ARN[t.tenant_id])


def api_args(**kw: Any) -> TenantApiArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "name_prefix": "AIML-SaaS",
        "tenants": [api_tenant(ACME, "standard"), api_tenant(GLOBEX, "premium")],
        "services": {"leave": SERVICE_ARNS["leave"], "pim": SERVICE_ARNS["pim"]},
        "kms_key_arn": KEY_ARN,
        "layer_arn": DEPS_LAYER,
        "region": REGION,
        "account_id": "123456789012",
        "kms_key_alias": "alias/aiml-saas-dev",
        "registry_table_name": "TenantRegistryDev",
        "registry_table_arn": REGISTRY_ARN,
    }
    return TenantApiArgs(**{**base, **kw})


def env_of(function: Any) -> dict[str, Any]:
    """The function's environment variables (the engine wraps them when any value is a secret)."""
    environment = function.inputs["environment"]
    return (environment.get("value") or environment)["variables"]


@pytest.fixture(scope="module")
def api() -> ProgramRun:
    return run_function(lambda: TenantApi("platform-api", api_args()), stack="dev")


def one(run: ProgramRun, type_: str) -> Any:
    (found,) = run.of_type(type_)
    return found


def test_authorizer_is_request_type_keyed_on_the_token_with_no_cache(api: ProgramRun) -> None:
    authorizer = one(api, "aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "REQUEST"
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    assert authorizer.inputs["authorizerResultTtlInSeconds"] == 0
    function = one(api, "aws:lambda/function:Function")
    assert authorizer.inputs["authorizerUri"] == function.state["invokeArn"]
    assert function.inputs["handler"] == "saas_platform.handlers.authorizer.lambda_handler"
    assert function.inputs["tracingConfig"] == {"mode": "Active"}
    permission = next(
        p for p in api.of_type("aws:lambda/permission:Permission") if p.name == "platform-api-authorizer-invoke"
    )
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"].endswith(f"/authorizers/{authorizer.id}")


def test_authorizer_role_may_only_call_is_authorized_with_token_on_the_stores(api: ProgramRun) -> None:
    (policy,) = api.of_type("aws:iam/rolePolicy:RolePolicy")
    doc = json.loads(policy.inputs["policy"])
    avp = [s for s in doc["Statement"] if any(str(a).startswith("verifiedpermissions:") for a in s["Action"])]
    assert avp == [
        {
            "Sid": "IsAuthorizedWithTokenOnTenantStores",
            "Effect": "Allow",
            "Action": ["verifiedpermissions:IsAuthorizedWithToken"],
            "Resource": "arn:aws:verifiedpermissions::123456789012:policy-store/*",
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/saas:environment": "dev",
                    "aws:ResourceTag/saas:component": "TenantAuthorization",
                },
                "Null": {"aws:ResourceTag/saas:tenant": "false"},
            },
        }
    ]
    assert not any(arn in policy.inputs["policy"] for arn in STORE_ARN.values())  # no store is named
    actions = sorted(
        a for s in doc["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    )
    assert actions == [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "kms:Decrypt",
        "kms:DescribeKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "verifiedpermissions:IsAuthorizedWithToken",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    registry = {s["Sid"]: s for s in doc["Statement"] if s["Sid"].startswith(("ReadTenant", "TenantRegistry"))}
    assert registry["ReadTenantRegistry"]["Resource"] == [REGISTRY_ARN, f"{REGISTRY_ARN}/index/byUserPool"]
    assert registry["TenantRegistryKeyThroughDynamoDB"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/aiml-saas-dev"},
        "StringEquals": {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"},
    }
    assert api.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == [
        r for r in api.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "cloudwatch" in r.name
    ]


def test_authorizer_config_round_trips_through_the_handler_parser(api: ProgramRun) -> None:
    env = env_of(one(api, "aws:lambda/function:Function"))
    config = AuthorizerConfig.from_json(env["AUTHZ_CONFIG"])
    assert (config.environment, config.region) == ("dev", REGION)
    assert json.loads(env["AUTHZ_CONFIG"]) == {"environment": "dev", "region": REGION}  # no tenant in it
    assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryDev"


def test_the_authorizer_declares_its_registry_reads(api: ProgramRun) -> None:
    names = {p["name"] for p in api.data_paths() if "TenantApi::" in p["component"]}
    assert {"registry/get", "registry/query-pool", "registry/key"} <= names
    assert {"authorizer/is-authorized/acme", "authorizer/is-authorized/globex"} <= names


def test_the_authorizer_role_does_not_depend_on_the_tenants_stores() -> None:
    """Tenants without a store ARN (held by cell stacks) give the same role policy, byte for byte."""
    with_stores = run_function(lambda: TenantApi("platform-api", api_args()), stack="dev")
    without = run_function(
        lambda: TenantApi(
            "platform-api",
            api_args(
                tenants=[ApiTenant(tenant_id="acme", tier="standard"), ApiTenant(tenant_id="globex", tier="premium")]
            ),
        ),
        stack="dev",
    )
    (a,) = with_stores.of_type("aws:iam/rolePolicy:RolePolicy")
    (b,) = without.of_type("aws:iam/rolePolicy:RolePolicy")
    assert a.inputs["policy"] == b.inputs["policy"]
    assert not [p for p in without.data_paths() if p["name"].startswith("authorizer/is-authorized/")]


def test_methods_are_the_routes_of_configured_services_with_custom_auth(api: ProgramRun) -> None:
    routes = json.loads((ROOT / "handlers" / "routes.json").read_text())["routes"]
    expected = sorted((r["method"], r["path"]) for r in routes if r["service"] in ("leave", "pim"))
    methods = api.of_type("aws:apigateway/method:Method")
    assert len(methods) == len(expected) == 19
    authorizer = one(api, "aws:apigateway/authorizer:Authorizer")
    for m in methods:
        assert m.inputs["authorization"] == "CUSTOM"
        assert m.inputs["authorizerId"] == authorizer.id
        assert m.inputs["apiKeyRequired"] is True
    integrations = api.of_type("aws:apigateway/integration:Integration")
    assert len(integrations) == 19
    for i in integrations:
        assert i.inputs["type"] == "AWS_PROXY"
        assert i.inputs["integrationHttpMethod"] == "POST"
        assert i.inputs["uri"] in {
            f"arn:aws:apigateway:ap-southeast-1:lambda:path/2015-03-31/functions/{SERVICE_ARNS[s]}/invocations"
            for s in ("leave", "pim")
        }
    paths = {r.inputs["pathPart"] for r in api.of_type("aws:apigateway/resource:Resource")}
    assert {"v1", "me", "leave", "pim", "{requestId}", "approval", "{employeeId}"} <= paths


def test_denials_are_403_and_authorizer_failures_never_5xx(api: ProgramRun) -> None:
    responses = {
        r.inputs["responseType"]: r.inputs["statusCode"] for r in api.of_type("aws:apigateway/response:Response")
    }
    assert responses == {
        "ACCESS_DENIED": "403",
        "AUTHORIZER_FAILURE": "403",
        "AUTHORIZER_CONFIGURATION_ERROR": "403",
        "UNAUTHORIZED": "401",
    }


def test_stage_has_xray_and_json_access_logs_to_an_encrypted_group(api: ProgramRun) -> None:
    stage = one(api, "aws:apigateway/stage:Stage")
    assert stage.inputs["stageName"] == "dev"
    assert stage.inputs["xrayTracingEnabled"] is True
    logs = next(g for g in api.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == "platform-api-access-logs")
    assert stage.inputs["accessLogSettings"]["destinationArn"] == logs.state["arn"]
    fmt = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert fmt["requestId"] == "$context.requestId"
    assert fmt["tenantId"] == "$context.authorizer.tenantId"
    assert logs.inputs["kmsKeyId"] == KEY_ARN
    assert logs.inputs["retentionInDays"] == 365
    assert one(api, "aws:apigateway/account:Account").inputs["cloudwatchRoleArn"].startswith("arn:aws:iam::")


def test_usage_plan_per_tier_and_each_tenant_keyed_to_its_tier(api: ProgramRun) -> None:
    plans = {p.inputs["name"]: p for p in api.of_type("aws:apigateway/usagePlan:UsagePlan")}
    assert sorted(plans) == ["AIML-SaaS-basic-Dev", "AIML-SaaS-premium-Dev", "AIML-SaaS-standard-Dev"]  # every tier
    assert plans["AIML-SaaS-basic-Dev"].inputs["throttleSettings"] == {"rateLimit": 10, "burstLimit": 20}
    assert plans["AIML-SaaS-standard-Dev"].inputs["throttleSettings"] == {"rateLimit": 50, "burstLimit": 100}
    assert plans["AIML-SaaS-premium-Dev"].inputs["throttleSettings"] == {"rateLimit": 200, "burstLimit": 400}
    rest_api = one(api, "aws:apigateway/restApi:RestApi")
    assert rest_api.inputs["apiKeySource"] == "AUTHORIZER"
    keys = {k.id: k.inputs["name"] for k in api.of_type("aws:apigateway/apiKey:ApiKey")}
    plan_of = {p.id: name for name, p in plans.items()}
    bindings = {
        keys[b.inputs["keyId"]]: plan_of[b.inputs["usagePlanId"]]
        for b in api.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    }
    assert bindings == {"AIML-SaaS-acme-Dev": "AIML-SaaS-standard-Dev", "AIML-SaaS-globex-Dev": "AIML-SaaS-premium-Dev"}


def test_service_invoke_permissions_are_scoped_to_this_api_stage(api: ProgramRun) -> None:
    perms = {
        p.inputs["function"]: p
        for p in api.of_type("aws:lambda/permission:Permission")
        if p.name != "platform-api-authorizer-invoke"
    }
    assert sorted(perms) == sorted([SERVICE_ARNS["leave"], SERVICE_ARNS["pim"]])
    rest_api = one(api, "aws:apigateway/restApi:RestApi")
    for p in perms.values():
        assert p.inputs["sourceArn"] == f"{rest_api.state['executionArn']}/dev/*/*"


def test_api_passes_the_policy_pack(api: ProgramRun) -> None:
    report = evaluate_run(api)
    assert report.mandatory == [], [v.message for v in report.mandatory]
    assert Counter(r.type for r in api.resources)["aws:apigateway/method:Method"] == 19


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"services": {}}, "services must name at least one"),
        ({"services": {"hr": SERVICE_ARNS["leave"]}}, r"unknown: \['hr'\]"),
        (
            {"services": {"leave": "arn:aws:lambda:ap-southeast-1:123456789012:layer:x"}},
            "must be a Lambda function ARN",
        ),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"tier_throttles": {}}, "which has no throttle"),
        ({"jwks_max_stale_seconds": -1}, r"jwks_max_stale_seconds must be whole seconds between 0 and 86400"),
        ({"jwks_max_stale_seconds": 86401}, r"between 0 and 86400 \(24 hours\); got 86401"),
        ({"jwks_max_stale_seconds": 3600.5}, r"jwks_max_stale_seconds must be whole seconds"),
        ({"jwks_max_stale_seconds": True}, r"jwks_max_stale_seconds must be whole seconds"),
    ],
)
def test_bad_api_arguments(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        api_args(**kw)


def test_authorizer_config_no_longer_grows_with_tenants() -> None:
    text = authorizer_config("prod", "ap-southeast-1")
    assert AuthorizerConfig.from_json(text).environment == "prod"
    assert len(text.encode()) < 60  # the same for 2 tenants and for 1,000: they are in the registry


# ------------------------------------------------------------------------------------------- saas:api
BASE = {
    "aws:region": "ap-southeast-1",
    "saas:environment": "dev",
    "saas:tenants": [{"id": "acme"}],
    "saas:alarms": {"email": "ops@example.com"},
}


@pytest.mark.parametrize(
    ("api", "key", "fragment"),
    [
        ({"services": {"hr": SERVICE_ARNS["leave"]}}, "saas:api.services", "unknown services ['hr']"),
        ({"services": {"leave": "not-an-arn"}}, "saas:api.services", "need a Lambda function ARN"),
        (
            {"services": {"leave": "arn:aws:lambda:us-east-1:123456789012:function:Leave"}},
            "saas:api.services.leave",
            "function is in us-east-1 but the stack deploys to ap-southeast-1",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "tiers": {"basic": {"rateLimit": 10, "burstLimit": 5}}},
            "saas:api.tiers.basic.burstLimit",
            "burstLimit 5 is below rateLimit 10",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "tiers": {"gold": {"rateLimit": 1, "burstLimit": 1}}},
            "saas:api.tiers.gold",
            "",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "tiers": {"basic": {"rateLimit": 0, "burstLimit": 1}}},
            "saas:api.tiers.basic.rateLimit",
            "",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "logRetentionDays": 8},
            "saas:api.logRetentionDays",
            "retention values",
        ),
        ({"services": {"leave": SERVICE_ARNS["leave"]}, "throttle": 5}, "saas:api.throttle", "unknown key"),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "jwksMaxStaleSeconds": 86401},
            "saas:api.jwksMaxStaleSeconds",
            "must be whole seconds between 0 and 86400 (24 hours); got 86401",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "jwksMaxStaleSeconds": -60},
            "saas:api.jwksMaxStaleSeconds",
            "got -60",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "jwksMaxStaleSeconds": "6h"},
            "saas:api.jwksMaxStaleSeconds",
            "valid integer",
        ),
        (
            {"services": {"leave": SERVICE_ARNS["leave"]}, "jwksMaxStaleSeconds": True},
            "saas:api.jwksMaxStaleSeconds",
            "not a boolean",
        ),
    ],
)
def test_bad_api_config_names_the_exact_key(api: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(StackConfigError) as info:
        load_stack_config({**BASE, "saas:api": api}, "dev")
    assert info.value.keys == [key]
    assert fragment in str(info.value)


@pytest.mark.parametrize("images", [{"enabled": False}, {"upload": False}])
def test_api_without_any_route_is_refused(images: dict[str, Any]) -> None:
    """``saas:api: {}`` serves only the image upload route; with that route off the API would serve nothing."""
    with pytest.raises(StackConfigError) as info:
        load_stack_config({**BASE, "saas:api": {}, "saas:images": images}, "dev")
    assert info.value.keys == ["saas:api.services"]
    assert "the API would serve no route" in str(info.value)


def test_api_with_only_the_image_upload_route() -> None:
    cfg = load_stack_config({**BASE, "saas:api": {}}, "dev")
    assert cfg.api is not None
    assert cfg.api.services == {}
    assert (cfg.images.enabled, cfg.images.upload) == (True, True)  # the defaults: the route is served


def test_api_config_defaults_and_absence() -> None:
    assert load_stack_config(BASE, "dev").api is None
    cfg = load_stack_config(
        {
            **BASE,
            "saas:api": {
                "services": {"leave": SERVICE_ARNS["leave"]},
                "tiers": {"basic": {"rateLimit": 5, "burstLimit": 10}},
            },
        },
        "dev",
    )
    assert cfg.api is not None
    assert {t: (v.rate_limit, v.burst_limit) for t, v in cfg.api.tiers.items()} == {
        "basic": (5, 10),
        "standard": (50, 100),
        "premium": (200, 400),
    }
    assert (cfg.api.log_retention_days, cfg.api.manage_account_log_role) == (365, True)
    assert cfg.api.jwks_max_stale_seconds == 21600
    for value in (0, 3600, 86400):
        api = {"services": {"leave": SERVICE_ARNS["leave"]}, "jwksMaxStaleSeconds": value}
        parsed = load_stack_config({**BASE, "saas:api": api}, "dev").api
        assert parsed is not None
        assert parsed.jwks_max_stale_seconds == value


def test_platform_builds_the_api_when_configured() -> None:
    run = run_platform(
        "prod", {"saas:api": {"services": SERVICE_ARNS, "manageAccountLogRole": False, "jwksMaxStaleSeconds": 7200}}
    )
    authorizer = next(
        f
        for f in run.of_type("aws:lambda/function:Function")
        if f.inputs["handler"].endswith("authorizer.lambda_handler")
    )
    assert env_of(authorizer)["AUTHZ_JWKS_MAX_STALE_SECONDS"] == "7200"
    assert env_of(authorizer)["SAAS_REGISTRY_TABLE"] == "TenantRegistryProd"
    # the authorizer returns each tenant's usage key from its registry item (usageIdentifierKey)
    keys = {k.inputs["name"]: k.state["value"] for k in run.of_type("aws:apigateway/apiKey:ApiKey")}
    items = {i.name: json.loads(i.inputs["item"]) for i in run.of_type("aws:dynamodb/tableItem:TableItem")}
    for tenant in ("acme", "globex", "initech"):
        assert items[f"platform-registry-{tenant}"]["usageKey"] == {"S": keys[f"AIML-SaaS-{tenant}-Prod"]}
    assert "usageKey" not in items["platform-registry-system"]
    assert run.outputs["apiUrl"] == one(run, "aws:apigateway/stage:Stage").state["invokeUrl"]
    assert len(run.of_type("aws:apigateway/method:Method")) == 97  # 96 microservice routes + POST /v1/images
    assert run.of_type("aws:apigateway/account:Account") == []
    plans = sorted(p.inputs["name"] for p in run.of_type("aws:apigateway/usagePlan:UsagePlan"))
    assert plans == ["AIML-SaaS-basic-Prod", "AIML-SaaS-premium-Prod", "AIML-SaaS-standard-Prod"]


def test_authorizer_gets_the_cedar_namespace(api: ProgramRun) -> None:
    variables = env_of(one(api, "aws:lambda/function:Function"))
    assert variables["SAAS_CEDAR_NAMESPACE"] == "OptimalHR"
    custom = run_function(lambda: TenantApi("platform-api", api_args(cedar_namespace="AcmeHR")), stack="dev")
    custom_vars = env_of(one(custom, "aws:lambda/function:Function"))
    assert custom_vars["SAAS_CEDAR_NAMESPACE"] == "AcmeHR"
    with pytest.raises(ComponentArgError, match="cedar_namespace must be a Cedar namespace"):
        api_args(cedar_namespace="Acme HR")


def test_authorizer_gets_the_jwks_stale_window(api: ProgramRun) -> None:
    variables = env_of(one(api, "aws:lambda/function:Function"))
    assert variables["AUTHZ_JWKS_MAX_STALE_SECONDS"] == "21600"
    custom = run_function(lambda: TenantApi("platform-api", api_args(jwks_max_stale_seconds=0)), stack="dev")
    custom_vars = env_of(one(custom, "aws:lambda/function:Function"))
    assert custom_vars["AUTHZ_JWKS_MAX_STALE_SECONDS"] == "0"
    # what the stack writes is what the handler accepts
    assert max_stale_from_env(custom_vars["AUTHZ_JWKS_MAX_STALE_SECONDS"]) == 0
    assert max_stale_from_env(variables["AUTHZ_JWKS_MAX_STALE_SECONDS"]) == 21600
    assert max_stale_from_env(str(86400)) == 86400
    with pytest.raises(ConfigError):
        max_stale_from_env(str(86401))


@pytest.mark.parametrize(("value", "expected"), [("AcmeHR", "AcmeHR::Tenant"), ("", "OptimalHR::Tenant")])
def test_authorizer_builds_entity_types_in_its_namespace(value: str, expected: str) -> None:
    import os
    import subprocess
    import sys

    code = "import saas_platform.handlers.authorizer as a; print(a.NAMESPACE + '::Tenant')"
    env = {**os.environ, "SAAS_CEDAR_NAMESPACE": value}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == expected, done.stderr
    bad = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "SAAS_CEDAR_NAMESPACE": "not a namespace"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert "is not a Cedar namespace; every request is denied" in bad.stderr
