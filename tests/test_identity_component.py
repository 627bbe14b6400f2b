"""TenantIdentity, SharedTenantIdentities and TenantIdentityPool under mocks: secure defaults pinned, names
unique per tenant, each identity pool bound to its own tenant only, clear errors for wrong arguments."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.identity import (
    SharedTenantIdentities,
    SharedTenantIdentitiesArgs,
    TenantIdentity,
    TenantIdentityArgs,
    TenantIdentityPool,
    TenantIdentityPoolArgs,
)
from saas_platform.components.naming import Environment
from saas_platform.components.testing.harness import DuplicateUrnError, ProgramRun, run_function
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.components.testing.policy import evaluate
from saas_platform.components.triggers import CognitoTriggers, CognitoTriggersArgs
from saas_platform.policies.identity import POLICIES as IDENTITY_POLICIES
from tests.layer_support import DEPS_LAYER
from tests.registry_support import SHARED_FN, shared_triggers

KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"
POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
ATTACHMENT = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"


def identity_args(**overrides: Any) -> TenantIdentityArgs:
    tenant = overrides.get("tenant_id", "acme")
    args: dict[str, Any] = {
        "tenant_id": "acme",
        "environment": "prod",
        "region": "ap-southeast-1",
        "client_environments": ("dev", "staging", "prod"),
        "feature_plan": "PLUS",
        "account_id": "123456789012",
    }
    args.update(overrides)
    if "triggers" not in overrides:
        args["triggers"] = shared_triggers(tenant)
    return TenantIdentityArgs(**args)


def run_identity(**overrides: Any) -> ProgramRun:
    return run_function(lambda: TenantIdentity(overrides.get("tenant_id", "acme"), identity_args(**overrides)))


@pytest.fixture(scope="module")
def prod_acme() -> ProgramRun:
    return run_identity()


def pool_of(run: ProgramRun) -> Any:
    (pool,) = run.of_type(POOL)
    return pool


# ------------------------------------------------------------------------------------------------ user pool


def test_user_pool_secure_defaults(prod_acme):
    pool = pool_of(prod_acme)
    i = pool.inputs
    assert pool.name == "acme-user-pool"
    assert "saas:identity:TenantIdentity$aws:cognito/userPool:UserPool::acme-user-pool" in pool.urn
    assert i["name"] == "AIML-SaaS-acme"
    assert i["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert i["mfaConfiguration"] == "ON"
    assert i["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert "smsConfiguration" not in i
    assert i["deletionProtection"] == "ACTIVE"
    assert pool.options.protect is True
    assert pool.options.retain_on_delete is True
    assert i["userPoolTier"] == "PLUS"
    assert i["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert i["passwordPolicy"] == {
        "minimumLength": 12,
        "requireLowercase": True,
        "requireUppercase": True,
        "requireNumbers": True,
        "requireSymbols": True,
        "temporaryPasswordValidityDays": 3,
        "passwordHistorySize": 5,
    }
    assert i["accountRecoverySetting"] == {"recoveryMechanisms": [{"name": "verified_email", "priority": 1}]}
    assert i["usernameAttributes"] == ["email"]
    assert i["usernameConfiguration"] == {"caseSensitive": False}
    assert i["autoVerifiedAttributes"] == ["email"]
    assert i["tags"] == {"saas:environment": "prod", "saas:component": "TenantIdentity", "saas:tenant": "acme"}


def test_user_pool_schema(prod_acme):
    schemas = {s["name"]: s for s in pool_of(prod_acme).inputs["schemas"]}
    assert set(schemas) == {"email", "tenantId", "tenantRole", "environments"}
    assert schemas["tenantId"] == {
        "name": "tenantId",
        "attributeDataType": "String",
        "mutable": False,
        "required": False,
        "developerOnlyAttribute": False,
        "stringAttributeConstraints": {"minLength": "2", "maxLength": "31"},
    }
    assert schemas["tenantRole"]["mutable"] is True
    assert schemas["environments"]["mutable"] is True
    assert schemas["email"]["required"] is True


def test_triggers_are_wired_with_explicit_v2(prod_acme):
    i = pool_of(prod_acme).inputs["lambdaConfig"]
    assert i["preAuthentication"] == SHARED_FN.format("PreAuth")
    assert i["preTokenGenerationConfig"] == {"lambdaArn": SHARED_FN.format("PreToken"), "lambdaVersion": "V2_0"}
    assert "preTokenGeneration" not in i


def test_a_tenant_identity_brings_no_function_role_or_log_group(prod_acme):
    """The triggers are the stack's shared ones (CognitoTriggers): a pool adds only its two permissions."""
    for kind in ("aws:lambda/function:Function", "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"):
        assert prod_acme.of_type(kind) == []
    assert prod_acme.of_type("aws:cloudwatch/logGroup:LogGroup") == []


def test_invoke_permissions_are_pinned_to_the_pool(prod_acme):
    pool_arn = pool_of(prod_acme).state["arn"]
    perms = prod_acme.of_type("aws:lambda/permission:Permission")
    assert {p.name for p in perms} == {"acme-pre-auth-invoke", "acme-pre-token-invoke"}
    assert {p.inputs["function"] for p in perms} == {"AIML-SaaS-PreAuth-S00-Prod", "AIML-SaaS-PreToken-S00-Prod"}
    for p in perms:
        assert p.inputs["action"] == "lambda:InvokeFunction"
        assert p.inputs["principal"] == "cognito-idp.amazonaws.com"
        assert p.inputs["sourceArn"] == pool_arn
        assert p.inputs["sourceAccount"] == "123456789012"
        assert p.inputs["statementId"] == "cognito-acme"


def test_app_clients(prod_acme):
    pool_id = pool_of(prod_acme).id
    clients = {c.name: c.inputs for c in prod_acme.of_type(CLIENT)}
    assert set(clients) == {f"acme-{e}-{f}" for e in ("dev", "staging", "prod") for f in ("hr-admin", "ess-mobile")}
    for name, c in clients.items():
        env, frontend = name.split("-", 2)[1], name.split("-", 2)[2]
        assert c["name"] == f"AIML-SaaS-acme-{frontend}-{env}"
        assert c["userPoolId"] == pool_id
        assert c["generateSecret"] is False
        assert c["explicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        assert c["preventUserExistenceErrors"] == "ENABLED"
        assert c["enableTokenRevocation"] is True
        assert c["accessTokenValidity"] == 60
        assert c["idTokenValidity"] == 60
        assert c["tokenValidityUnits"] == {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "hours"}
        assert c["refreshTokenValidity"] == (12 if frontend == "hr-admin" else 720)
        assert c["writeAttributes"] == ["name", "given_name", "family_name"]
        assert {"custom:tenantId", "custom:tenantRole", "custom:environments"} <= set(c["readAttributes"])
        assert not {"custom:tenantId", "custom:tenantRole", "custom:environment", "custom:environments"} & set(
            c["writeAttributes"]
        )
        assert c["supportedIdentityProviders"] == ["COGNITO"]
        assert c["allowedOauthFlowsUserPoolClient"] is False


def test_client_environments_default_to_own_environment():
    run = run_identity(environment="dev", client_environments=(), feature_plan="ESSENTIALS", protect=False)
    assert {c.name for c in run.of_type(CLIENT)} == {"acme-dev-hr-admin", "acme-dev-ess-mobile"}
    pool = pool_of(run)
    assert pool.inputs["userPoolAddOns"] == {"advancedSecurityMode": "OFF"}
    assert "passwordHistorySize" not in pool.inputs["passwordPolicy"]
    assert pool.inputs["deletionProtection"] == "INACTIVE"
    assert pool.options.protect is False
    assert pool.options.retain_on_delete is False


def test_sms_mfa_only_with_its_role():
    role = "arn:aws:iam::123456789012:role/cognito-sms"
    sms = pool_of(run_identity(sms_role_arn=role)).inputs["smsConfiguration"]
    assert sms == {"externalId": "AIML-SaaS-acme-cognito-sms", "snsCallerArn": role, "snsRegion": "ap-southeast-1"}


def test_system_tenant_has_system_roles_and_mfa_on():
    def program() -> None:
        triggers = CognitoTriggers(
            "triggers",
            CognitoTriggersArgs(
                environment="prod", region="ap-southeast-1", kms_key_arn=KEY, kms_key_alias="alias/aiml-saas-prod",
                registry_table_name="TenantRegistryProd", account_id="123456789012", layers=[DEPS_LAYER],
                registry_table_arn="arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryProd",
                tenant_ids=["system"],
            ),
        )  # fmt: skip
        TenantIdentity("system", identity_args(tenant_id="system", triggers=triggers.functions_for("system")))

    run = run_function(program)
    assert pool_of(run).inputs["mfaConfiguration"] == "ON"
    env = run.named("triggers-pre-token-s00-function").inputs["environment"]["variables"]
    assert env["SAAS_SYSTEM_ROLES"] == "admin,superuser,support"  # the system pool's users' roles
    assert env["SAAS_TENANT_ROLES"] == "admin,user"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": "Acme"}, "tenant_id must match"),
        ({"environment": "qa"}, "environment must be one of"),
        ({"client_environments": ("prod", "prod")}, "duplicates"),
        ({"client_environments": ("prod", "uat")}, "client_environments entries must be one of"),
        ({"mfa": "OFF"}, "never 'OFF'"),
        ({"tenant_id": "system", "mfa": "OPTIONAL"}, "system tenant's pool .* always requires MFA"),
        ({"feature_plan": "LITE"}, "LITE lacks the V2 pre-token trigger"),
        ({"sms_role_arn": "cognito-sms"}, "sms_role_arn must be an IAM role ARN"),
        ({"triggers": "AIML-SaaS-PreAuth-S00-Prod"}, r"triggers must be CognitoTriggers.functions_for\('acme'\)"),
    ],
)
def test_bad_arguments_fail_clearly(overrides, message):
    with pytest.raises(ComponentArgError, match=message):
        identity_args(**overrides)


# ------------------------------------------------------------------------------------ tenants and identity pools


def two_tenants(attach: Callable[[str, TenantIdentityPool], None] | None = None) -> Callable[[], None]:
    def program() -> None:
        for tenant in ("acme", "globex"):
            identity = TenantIdentity(tenant, identity_args(tenant_id=tenant))
            pool = TenantIdentityPool(
                tenant,
                TenantIdentityPoolArgs(
                    tenant_id=tenant,
                    environment="staging",
                    region="ap-southeast-1",
                    user_pool_id=identity.user_pool_id,
                    client_ids=identity.outputs.environment_client_ids("staging"),
                    principal_tags=True,
                ),
            )
            if attach:
                attach(tenant, pool)

    return program


@pytest.fixture(scope="module")
def tenants_run() -> ProgramRun:
    return run_function(two_tenants())


def test_two_tenants_never_share_a_logical_name(tenants_run):
    counts = Counter((r.type, r.name) for r in tenants_run.resources)
    assert [k for k, n in counts.items() if n > 1] == []
    for r in tenants_run.resources:
        if r.type.startswith(("aws:", "saas:")):
            assert r.name.startswith(("acme", "globex")), r.name
    assert {r.name for r in tenants_run.of_type(POOL)} == {"acme-user-pool", "globex-user-pool"}


def test_duplicate_tenant_is_rejected_like_the_engine_would():
    def program() -> None:
        TenantIdentity("acme", identity_args())
        TenantIdentity("acme", identity_args())

    with pytest.raises(DuplicateUrnError):
        run_function(program)


def test_identity_pool_lists_only_its_own_pool_and_environment_clients(tenants_run):
    pools = {p.inputs["tags"]["saas:tenant"]: p for p in tenants_run.of_type(POOL)}
    clients = tenants_run.of_type(CLIENT)
    for ip in tenants_run.of_type(IDENTITY_POOL):
        tenant = ip.inputs["tags"]["saas:tenant"]
        own_pool = pools[tenant].id
        staging = {
            c.id for c in clients if c.inputs["userPoolId"] == own_pool and c.name.startswith(f"{tenant}-staging-")
        }
        assert len(staging) == 2
        providers = ip.inputs["cognitoIdentityProviders"]
        assert {p["providerName"] for p in providers} == {f"cognito-idp.ap-southeast-1.amazonaws.com/{own_pool}"}
        assert {p["clientId"] for p in providers} == staging
        assert all(p["serverSideTokenCheck"] is True for p in providers)
        assert ip.inputs["allowUnauthenticatedIdentities"] is False
        assert ip.inputs["allowClassicFlow"] is False
        assert ip.inputs["identityPoolName"] == f"AIML-SaaS-{tenant}-Staging"
        assert ip.inputs["tags"]["saas:component"] == "TenantIdentityPool"


def test_principal_tags_map_only_the_immutable_tenant_id(tenants_run):
    pools = {p.inputs["tags"]["saas:tenant"]: p.id for p in tenants_run.of_type(POOL)}
    ids = {p.inputs["tags"]["saas:tenant"]: p.id for p in tenants_run.of_type(IDENTITY_POOL)}
    tags = tenants_run.of_type("aws:cognito/identityPoolProviderPrincipalTag:IdentityPoolProviderPrincipalTag")
    assert len(tags) == 2
    for t in tags:
        tenant = t.name.split("-")[0]
        assert t.inputs == {
            "identityPoolId": ids[tenant],
            "identityProviderName": f"cognito-idp.ap-southeast-1.amazonaws.com/{pools[tenant]}",
            "principalTags": {"TenantId": "custom:tenantId"},
            "useDefaults": False,
        }


def test_identity_pool_needs_clients():
    with pytest.raises(ComponentArgError, match="client_ids for tenant 'acme' is empty"):
        TenantIdentityPoolArgs(
            tenant_id="acme", environment="dev", region="ap-southeast-1", user_pool_id="x", client_ids=[]
        )


def test_missing_environment_clients_name_the_config_key():
    def program() -> None:
        identity = TenantIdentity("acme", identity_args(client_environments=("prod",)))
        identity.outputs.environment_client_ids("staging")

    with pytest.raises(ComponentArgError, match=r"saas:identity.clientEnvironments"):
        run_function(program)


# ------------------------------------------------------------------------------------------------ attach_roles


def tenant_roles(
    tenant: str, pool: TenantIdentityPool, *, audience: pulumi.Input[str] | None = None
) -> dict[str, aws.iam.Role]:
    """Stand-in tenant roles shaped like issue 4's: trust bound to the identity pool, tagged with the tenant."""
    aud = audience if audience is not None else pool.identity_pool_id
    trust = pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                    "Condition": {
                        # sts:TagSession is allowed, so the trust binds the session tag to this tenant
                        "StringEquals": {"cognito-identity.amazonaws.com:aud": aud, "aws:RequestTag/TenantId": tenant},
                        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                    },
                }
            ],
        }
    )
    return {
        value: aws.iam.Role(
            f"{tenant}-{value}-role",
            assume_role_policy=trust,
            tags={"saas:environment": "staging", "saas:component": "TenantAccess", "saas:tenant": tenant},
        )
        for value in (("admin", "superuser", "support") if tenant == "system" else ("admin", "user"))
    }


def attach_own(tenant: str, pool: TenantIdentityPool) -> None:
    roles = tenant_roles(tenant, pool)
    pool.attach_roles({k: r.arn for k, r in roles.items()}, default_role_arn=roles["user"].arn)


@pytest.fixture(scope="module")
def attached_run() -> ProgramRun:
    return run_function(two_tenants(attach_own))


def test_attach_roles_maps_the_role_claim_and_denies_the_rest(attached_run):
    roles = {r.name: r.state["arn"] for r in attached_run.of_type("aws:iam/role:Role") if r.name.endswith("-role")}
    ids = {p.inputs["tags"]["saas:tenant"]: p for p in attached_run.of_type(IDENTITY_POOL)}
    attachments = {a.name: a.inputs for a in attached_run.of_type(ATTACHMENT)}
    assert set(attachments) == {"acme-roles", "globex-roles"}
    for tenant in ("acme", "globex"):
        a = attachments[f"{tenant}-roles"]
        ip = ids[tenant]
        assert a["identityPoolId"] == ip.id
        assert a["roles"] == {"authenticated": roles[f"{tenant}-user-role"]}
        providers = ip.inputs["cognitoIdentityProviders"]
        assert [m["identityProvider"] for m in a["roleMappings"]] == [
            f"{p['providerName']}:{p['clientId']}" for p in providers
        ]
        for m in a["roleMappings"]:
            assert m["type"] == "Rules"
            assert m["ambiguousRoleResolution"] == "Deny"
            assert m["mappingRules"] == [
                {
                    "claim": "custom:tenantRole",
                    "matchType": "Equals",
                    "value": "admin",
                    "roleArn": roles[f"{tenant}-admin-role"],
                },
                {
                    "claim": "custom:tenantRole",
                    "matchType": "Equals",
                    "value": "user",
                    "roleArn": roles[f"{tenant}-user-role"],
                },
            ]


def test_attached_roles_pass_the_identity_rules(attached_run):
    report = evaluate(attached_run, IDENTITY_POLICIES)
    assert [v for v in report.violations] == []


def test_a_role_of_another_tenant_or_pool_is_flagged():
    pools: dict[str, TenantIdentityPool] = {}

    def attach_cross(tenant: str, pool: TenantIdentityPool) -> None:
        pools[tenant] = pool
        if tenant == "globex":
            acme_roles = tenant_roles("acme-x", pools["acme"])  # trusts acme's pool, tagged acme-x
            own = tenant_roles("globex", pool)
            pool.attach_roles({"admin": acme_roles["admin"].arn, "user": own["user"].arn}, own["user"].arn)

    report = evaluate(run_function(two_tenants(attach_cross)), IDENTITY_POLICIES)
    messages = [v.message for v in report.mandatory if v.policy == "identity-pool-roles-same-tenant"]
    assert any("of tenant 'acme-x'" in m for m in messages)
    assert any("trust policy names audiences" in m for m in messages)


def test_system_pool_maps_three_system_roles():
    def program() -> None:
        identity = TenantIdentity("system", identity_args(tenant_id="system"))
        pool = TenantIdentityPool(
            "system",
            TenantIdentityPoolArgs(
                tenant_id="system",
                environment="prod",
                region="ap-southeast-1",
                user_pool_id=identity.user_pool_id,
                client_ids=identity.outputs.environment_client_ids("prod"),
            ),
        )
        roles = tenant_roles("system", pool)
        pool.attach_roles({k: r.arn for k, r in roles.items()}, default_role_arn=roles["support"].arn)

    run = run_function(program)
    (att,) = run.of_type(ATTACHMENT)
    values = [r["value"] for r in att.inputs["roleMappings"][0]["mappingRules"]]
    assert values == ["admin", "superuser", "support"]
    assert evaluate(run, IDENTITY_POLICIES).violations == []


ADMIN = "arn:aws:iam::123456789012:role/AIML-SaaS-acme-TenantAdminRole-Dev"
USER = "arn:aws:iam::123456789012:role/AIML-SaaS-acme-TenantUserRole-Dev"


@pytest.mark.parametrize(
    ("role_arns", "default", "message"),
    [
        ({"admin": ADMIN, "superuser": USER}, USER, r"must map custom:tenantRole values \['admin', 'user'\]"),
        ({}, USER, "must map custom:tenantRole values"),
        ({"admin": ADMIN, "user": USER}, ADMIN, "must be the least-privileged role"),
        ({"admin": "AdminRole", "user": USER}, USER, "admin for tenant 'acme' must be an IAM role ARN"),
    ],
)
def test_attach_roles_rejects_bad_mappings(role_arns: Mapping[str, str], default: str, message: str):
    def program() -> None:
        pool = TenantIdentityPool(
            "acme",
            TenantIdentityPoolArgs(
                tenant_id="acme", environment="dev", region="ap-southeast-1", user_pool_id="p", client_ids=["c"]
            ),
        )
        pool.attach_roles(role_arns, default)

    with pytest.raises(ComponentArgError, match=message):
        run_function(program)


def test_attach_roles_only_once():
    def program() -> None:
        pool = TenantIdentityPool(
            "acme",
            TenantIdentityPoolArgs(
                tenant_id="acme", environment="dev", region="ap-southeast-1", user_pool_id="p", client_ids=["c"]
            ),
        )
        pool.attach_roles({"admin": ADMIN, "user": USER}, USER)
        pool.attach_roles({"admin": ADMIN, "user": USER}, USER)

    with pytest.raises(ComponentArgError, match="already called"):
        run_function(program)


# ------------------------------------------------------------------------------------------- shared identities

EXPORT = {
    "contractVersion": 1,
    "environment": "prod",
    "region": "ap-southeast-1",
    "tenants": {
        tenant: {
            "userPoolId": f"ap-southeast-1_{tenant.upper()}1",
            "userPoolArn": f"arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_{tenant.upper()}1",
            "issuer": f"https://cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_{tenant.upper()}1",
            "clientIds": {
                env: {"hr-admin": f"{tenant}{env}web", "ess-mobile": f"{tenant}{env}mobile"}
                for env in ("dev", "staging", "prod")
            },
        }
        for tenant in ("acme", "globex", "system")
    },
}


def shared_program(tenants: list[str], environment: Environment = "staging") -> Callable[[], None]:
    def program() -> None:
        shared = SharedTenantIdentities(
            "identity",
            SharedTenantIdentitiesArgs(
                source_stack="organization/saas/prod", tenant_ids=tenants, environment=environment
            ),
        )
        for tenant, ident in shared.tenants.items():
            TenantIdentityPool(
                tenant,
                TenantIdentityPoolArgs(
                    tenant_id=tenant,
                    environment=environment,
                    region="ap-southeast-1",
                    user_pool_id=ident.user_pool_id,
                    client_ids=ident.environment_client_ids(environment),
                ),
            )
            pulumi.export(f"{tenant}Issuer", ident.issuer)
            pulumi.export(f"{tenant}PoolArn", ident.user_pool_arn)

    return program


def run_shared(
    tenants: list[str], export: Mapping[str, Any] = EXPORT, environment: Environment = "staging"
) -> ProgramRun:
    mocks = AwsMocks(stack_outputs={"organization/saas/prod": {"identity": export}})
    return run_function(shared_program(tenants, environment), mocks=mocks)


def test_shared_mode_consumes_the_owning_stacks_export_and_creates_no_pool():
    run = run_shared(["acme", "globex"])
    assert run.of_type(POOL) == []
    assert run.of_type(CLIENT) == []
    assert run.of_type("aws:lambda/function:Function") == []
    pools = {p.inputs["tags"]["saas:tenant"]: p.inputs for p in run.of_type(IDENTITY_POOL)}
    assert set(pools) == {"acme", "globex", "system"}
    assert pools["acme"]["cognitoIdentityProviders"] == [
        {
            "providerName": "cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_ACME1",
            "clientId": "acmestagingweb",
            "serverSideTokenCheck": True,
        },
        {
            "providerName": "cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_ACME1",
            "clientId": "acmestagingmobile",
            "serverSideTokenCheck": True,
        },
    ]
    assert run.outputs["globexIssuer"] == "https://cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_GLOBEX1"
    assert run.outputs["acmePoolArn"].endswith(":userpool/ap-southeast-1_ACME1")


def test_shared_mode_fails_for_a_tenant_the_owner_does_not_export():
    with pytest.raises(pulumi.RunError, match=r"has no user pool for tenant 'initech'.*add the tenant"):
        run_shared(["acme", "initech"])


def test_shared_mode_fails_without_this_environments_clients():
    export = json.loads(json.dumps(EXPORT))
    del export["tenants"]["acme"]["clientIds"]["staging"]
    with pytest.raises(pulumi.RunError, match=r"no 'staging' app clients.*saas:identity.clientEnvironments"):
        run_shared(["acme"], export)


def test_shared_mode_rejects_an_unknown_contract_version():
    with pytest.raises(pulumi.RunError, match="contractVersion 2"):
        run_shared(["acme"], {**EXPORT, "contractVersion": 2})


def test_shared_mode_needs_a_qualified_stack_name():
    with pytest.raises(ComponentArgError, match="fully qualified stack name"):
        SharedTenantIdentitiesArgs(source_stack="prod", tenant_ids=["acme"], environment="staging")
