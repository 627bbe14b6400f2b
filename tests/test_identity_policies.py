"""Identity rules (isolation invariants 14-26): a compliant, a violating and a missing-property fixture each,
evaluated through pulumi-policy's analyzer (the engine's code path)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies.identity import POLICIES, identity_pool_roles_same_tenant
from saas_platform.policies.pack import POLICIES as PACK
from tests import _access_fixtures as fx

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
ATTACHMENT = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"
PRINCIPAL_TAG = "aws:cognito/identityPoolProviderPrincipalTag:IdentityPoolProviderPrincipalTag"
PERMISSION = "aws:lambda/permission:Permission"

POOL_ARN = "arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_AbC123xyz"
PROVIDER = "cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_AbC123xyz"
ADMIN = "arn:aws:iam::123456789012:role/AIML-SaaS-acme-TenantAdminRole-Dev"
USER = "arn:aws:iam::123456789012:role/AIML-SaaS-acme-TenantUserRole-Dev"

GOOD_POOL: dict[str, Any] = {
    "schemas": [
        {"name": "email", "attributeDataType": "String", "mutable": True, "required": True},
        {"name": "tenantId", "attributeDataType": "String", "mutable": False},
        {"name": "tenantRole", "attributeDataType": "String", "mutable": True},
    ],
    "adminCreateUserConfig": {"allowAdminCreateUserOnly": True},
    "deletionProtection": "ACTIVE",
    "mfaConfiguration": "ON",
    "softwareTokenMfaConfiguration": {"enabled": True},
    "userPoolTier": "PLUS",
    "userPoolAddOns": {"advancedSecurityMode": "ENFORCED"},
    "lambdaConfig": {
        "preAuthentication": "arn:aws:lambda:ap-southeast-1:123456789012:function:pre-auth",
        "preTokenGenerationConfig": {
            "lambdaArn": "arn:aws:lambda:ap-southeast-1:123456789012:function:pre-token",
            "lambdaVersion": "V2_0",
        },
    },
    "tags": {"saas:environment": "prod", "saas:component": "TenantIdentity", "saas:tenant": "acme"},
}
GOOD_CLIENT: dict[str, Any] = {
    "writeAttributes": ["name", "given_name", "family_name"],
    "readAttributes": ["email", "custom:tenantId"],
    "preventUserExistenceErrors": "ENABLED",
    "enableTokenRevocation": True,
    "accessTokenValidity": 60,
    "idTokenValidity": 60,
    "tokenValidityUnits": {"accessToken": "minutes", "idToken": "minutes"},
    "explicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
}
GOOD_IDENTITY_POOL: dict[str, Any] = {
    "identityPoolName": "AIML-SaaS-acme-Dev",
    "allowUnauthenticatedIdentities": False,
    "allowClassicFlow": False,
    "cognitoIdentityProviders": [
        {"providerName": PROVIDER, "clientId": "web123", "serverSideTokenCheck": True},
        {"providerName": PROVIDER, "clientId": "mobile123", "serverSideTokenCheck": True},
    ],
}
RULES = [
    {"claim": "custom:tenantRole", "matchType": "Equals", "value": "admin", "roleArn": ADMIN},
    {"claim": "custom:tenantRole", "matchType": "Equals", "value": "user", "roleArn": USER},
]
GOOD_ATTACHMENT: dict[str, Any] = {
    "identityPoolId": "ap-southeast-1:11111111-2222-3333-4444-555555555555",
    "roles": {"authenticated": USER},
    "roleMappings": [
        {
            "identityProvider": f"{PROVIDER}:web123",
            "type": "Rules",
            "ambiguousRoleResolution": "Deny",
            "mappingRules": RULES,
        }
    ],
}
GOOD_PRINCIPAL_TAG: dict[str, Any] = {
    "identityPoolId": "ap-southeast-1:11111111-2222-3333-4444-555555555555",
    "identityProviderName": PROVIDER,
    "principalTags": {"TenantId": "custom:tenantId"},
    "useDefaults": False,
}
GOOD_PERMISSION: dict[str, Any] = {
    "action": "lambda:InvokeFunction",
    "function": "AIML-SaaS-acme-PreAuth-Prod",
    "principal": "cognito-idp.amazonaws.com",
    "sourceArn": POOL_ARN,
    "sourceAccount": "123456789012",
}

GOOD: dict[str, dict[str, Any]] = {
    POOL: GOOD_POOL,
    CLIENT: GOOD_CLIENT,
    IDENTITY_POOL: GOOD_IDENTITY_POOL,
    ATTACHMENT: GOOD_ATTACHMENT,
    PRINCIPAL_TAG: GOOD_PRINCIPAL_TAG,
    PERMISSION: GOOD_PERMISSION,
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def violations(rtype: str, props: dict[str, Any], *, protect: bool = False) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for v in analyze_props(POLICIES, rtype, props, protect=protect):
        found.setdefault(v.policy, []).append(v.message)
    return found


@pytest.mark.parametrize("rtype", sorted(GOOD))
def test_compliant_fixtures_pass_every_rule(rtype):
    assert violations(rtype, GOOD[rtype], protect=True) == {}


SYSTEM_POOL = with_(GOOD_POOL, tags={**GOOD_POOL["tags"], "saas:tenant": "system"})
PERMISSIVE_ROLE_MAPPING = [dict(GOOD_ATTACHMENT["roleMappings"][0], ambiguousRoleResolution="AuthenticatedRole")]

# (rule, resource type, violating props, missing-property props, expected message fragment)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    (
        "cognito-tenant-id-immutable",
        POOL,
        with_(GOOD_POOL, schemas=[{"name": "tenantId", "attributeDataType": "String", "mutable": True}]),
        with_(GOOD_POOL, schemas=None),
        "custom:tenantId",
    ),
    (
        "cognito-admin-create-only",
        POOL,
        with_(GOOD_POOL, adminCreateUserConfig={"allowAdminCreateUserOnly": False}),
        with_(GOOD_POOL, adminCreateUserConfig=None),
        "allow_admin_create_user_only=True",
    ),
    (
        "cognito-user-pool-deletion-protection",
        POOL,
        with_(GOOD_POOL, deletionProtection="INACTIVE"),
        with_(GOOD_POOL, deletionProtection=None),
        "deletion_protection='ACTIVE'",
    ),
    (
        "cognito-pre-token-version",
        POOL,
        with_(
            GOOD_POOL,
            lambdaConfig={"preTokenGenerationConfig": {"lambdaArn": "arn:x", "lambdaVersion": "V1_0"}},
        ),
        with_(GOOD_POOL, lambdaConfig={"preTokenGeneration": "arn:aws:lambda:ap-southeast-1:123456789012:function:f"}),
        "V2_0",
    ),
    (
        "cognito-system-pool-mfa",
        POOL,
        with_(SYSTEM_POOL, mfaConfiguration="OPTIONAL"),
        with_(SYSTEM_POOL, mfaConfiguration=None, softwareTokenMfaConfiguration=None),
        "system pool",
    ),
    (
        "cognito-user-pool-mfa",
        POOL,
        with_(GOOD_POOL, mfaConfiguration="OFF"),
        with_(GOOD_POOL, mfaConfiguration=None),
        "mfa_configuration",
    ),
    (
        "cognito-threat-protection-plan",
        POOL,
        with_(GOOD_POOL, userPoolTier="ESSENTIALS"),
        with_(GOOD_POOL, userPoolTier=None),
        "needs user_pool_tier='PLUS'",
    ),
    (
        "cognito-threat-protection-enforced",
        POOL,
        with_(GOOD_POOL, userPoolAddOns={"advancedSecurityMode": "AUDIT"}),
        with_(GOOD_POOL, userPoolAddOns=None),
        "ENFORCED",
    ),
    (
        "cognito-client-write-attributes",
        CLIENT,
        with_(GOOD_CLIENT, writeAttributes=["name", "custom:tenantRole"]),
        with_(GOOD_CLIENT, writeAttributes=None),
        "custom:tenantRole",
    ),
    (
        "cognito-client-prevent-user-existence-errors",
        CLIENT,
        with_(GOOD_CLIENT, preventUserExistenceErrors="LEGACY"),
        with_(GOOD_CLIENT, preventUserExistenceErrors=None),
        "prevent_user_existence_errors",
    ),
    (
        "cognito-client-token-revocation",
        CLIENT,
        with_(GOOD_CLIENT, enableTokenRevocation=False),
        with_(GOOD_CLIENT, enableTokenRevocation=None),
        "enable_token_revocation",
    ),
    (
        "cognito-client-token-validity",
        CLIENT,
        with_(GOOD_CLIENT, accessTokenValidity=2, tokenValidityUnits={"accessToken": "days", "idToken": "minutes"}),
        with_(GOOD_CLIENT, idTokenValidity=None),
        "accessTokenValidity is 2880 minutes",
    ),
    (
        "cognito-client-auth-flows",
        CLIENT,
        with_(GOOD_CLIENT, explicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
        with_(GOOD_CLIENT, explicitAuthFlows=None),
        "SRP",
    ),
    (
        "lambda-cognito-permission-source-arn",
        PERMISSION,
        with_(GOOD_PERMISSION, sourceArn="arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/*"),
        with_(GOOD_PERMISSION, sourceArn=None),
        "source_arn",
    ),
    (
        "lambda-cognito-permission-source-account",
        PERMISSION,
        with_(GOOD_PERMISSION, sourceAccount=""),
        with_(GOOD_PERMISSION, sourceAccount=None),
        "source_account",
    ),
    (
        "identity-pool-no-guest-or-classic",
        IDENTITY_POOL,
        with_(GOOD_IDENTITY_POOL, allowUnauthenticatedIdentities=True, allowClassicFlow=True),
        with_(GOOD_IDENTITY_POOL, allowUnauthenticatedIdentities=None, allowClassicFlow=None),
        "allow_unauthenticated_identities=False",
    ),
    (
        "identity-pool-cognito-provider",
        IDENTITY_POOL,
        with_(
            GOOD_IDENTITY_POOL,
            cognitoIdentityProviders=[
                GOOD_IDENTITY_POOL["cognitoIdentityProviders"][0],
                {
                    "providerName": "cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_Other99",
                    "clientId": "x",
                    "serverSideTokenCheck": False,
                },
            ],
        ),
        with_(GOOD_IDENTITY_POOL, cognitoIdentityProviders=None),
        "user pool",
    ),
    (
        "identity-pool-role-mapping",
        ATTACHMENT,
        with_(GOOD_ATTACHMENT, roleMappings=PERMISSIVE_ROLE_MAPPING),
        with_(GOOD_ATTACHMENT, roleMappings=None),
        "ambiguous",
    ),
    (
        "identity-pool-principal-tags",
        PRINCIPAL_TAG,
        with_(GOOD_PRINCIPAL_TAG, principalTags={"TenantId": "custom:tenantRole"}),
        with_(GOOD_PRINCIPAL_TAG, principalTags=None, useDefaults=None),
        "TenantId",
    ),
]


@pytest.mark.parametrize(("rule", "rtype", "bad", "missing", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_violating_fixture(rule, rtype, bad, missing, fragment):
    found = violations(rtype, bad, protect=True)
    assert rule in found, found
    assert any(fragment in m for m in found[rule]), found[rule]


@pytest.mark.parametrize(("rule", "rtype", "bad", "missing", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_missing_property_fixture(rule, rtype, bad, missing, fragment):
    assert rule in violations(rtype, missing, protect=True)


def test_every_resource_rule_has_fixtures():
    resource_rules = {p.name for p in POLICIES if hasattr(p, "validate") and p.name not in STACK_RULES}
    assert resource_rules == {c[0] for c in CASES}


STACK_RULES = {"cognito-trigger-permission-pinned", "identity-pool-tenant-binding", "identity-pool-roles-same-tenant"}


def test_enforcement_levels_follow_must_and_should():
    levels = {p.name: p.enforcement_level.value for p in POLICIES}
    advisory = {
        "cognito-user-pool-mfa",
        "cognito-threat-protection-enforced",
        "cognito-client-prevent-user-existence-errors",
        "cognito-client-token-revocation",
        "cognito-client-token-validity",
        "cognito-client-auth-flows",
        "lambda-cognito-permission-source-account",
    }
    assert {n for n, lvl in levels.items() if lvl == "advisory"} == advisory
    assert all(lvl == "mandatory" for n, lvl in levels.items() if n not in advisory)
    assert {p.name for p in POLICIES} <= {p.name for p in PACK}


@pytest.mark.parametrize(
    ("props", "protect", "violates"),
    [
        ({"deletionProtection": "INACTIVE", "tags": {"saas:environment": "dev"}}, False, False),
        ({"deletionProtection": "INACTIVE", "tags": {"saas:environment": "dev"}}, True, True),
        ({"deletionProtection": "INACTIVE", "tags": {"saas:environment": "staging"}}, False, True),
        ({"deletionProtection": "INACTIVE"}, False, True),
    ],
)
def test_deletion_protection_relaxed_only_for_unprotected_dev(props, protect, violates):
    found = violations(POOL, with_(GOOD_POOL, **props), protect=protect)
    assert ("cognito-user-pool-deletion-protection" in found) is violates


def test_tenant_pool_rules_do_not_apply_system_rules():
    assert "cognito-system-pool-mfa" not in violations(POOL, with_(GOOD_POOL, mfaConfiguration="OPTIONAL"))
    assert "cognito-user-pool-mfa" not in violations(POOL, with_(SYSTEM_POOL, mfaConfiguration="OFF"))


def test_role_mapping_rejects_writable_claims_and_loose_matches():
    mapping = dict(
        GOOD_ATTACHMENT["roleMappings"][0],
        mappingRules=[{"claim": "custom:department", "matchType": "StartsWith", "value": "Adm", "roleArn": ADMIN}],
    )
    found = violations(
        ATTACHMENT,
        with_(GOOD_ATTACHMENT, roleMappings=[mapping], roles={"authenticated": USER, "unauthenticated": USER}),
    )
    messages = " ".join(found["identity-pool-role-mapping"])
    assert "'StartsWith'" in messages
    assert "custom:department" in messages
    assert "'unauthenticated'" in messages


def test_default_role_must_not_be_the_admin_role():
    found = violations(ATTACHMENT, with_(GOOD_ATTACHMENT, roles={"authenticated": ADMIN}))
    assert any("least-privileged" in m for m in found["identity-pool-role-mapping"])


# ------------------------------------------------------------------------------------------------ stack rules


def trigger_program(*, shared_function: bool = False, wrong_source: bool = False, missing: bool = False) -> None:
    """Two pools; with ``shared_function`` both use one trigger (each with its own permission, unless ``missing``
    drops the second pool's)."""
    fn = aws.lambda_.Function("trigger", name="trigger", role="arn:aws:iam::123456789012:role/r", runtime="python3.13")
    other = aws.lambda_.Function("other", name="other", role="arn:aws:iam::123456789012:role/r", runtime="python3.13")
    second = fn if shared_function else other
    pools = [
        aws.cognito.UserPool(f"pool-{i}", lambda_config=aws.cognito.UserPoolLambdaConfigArgs(pre_authentication=f.arn))
        for i, f in enumerate([fn, second])
    ]
    aws.lambda_.Permission(
        "trigger-invoke",
        action="lambda:InvokeFunction",
        function=fn.name,
        principal="cognito-idp.amazonaws.com",
        source_arn=(pools[1] if wrong_source else pools[0]).arn,
    )
    if not missing:
        aws.lambda_.Permission(
            "second-invoke",
            action="lambda:InvokeFunction",
            function=second.name,
            principal="cognito-idp.amazonaws.com",
            source_arn=pools[1].arn,
        )


def stack_violations(program: Any, rule: str) -> list[str]:
    report = evaluate(run_function(program), POLICIES)
    return [v.message for v in report.mandatory if v.policy == rule]


def test_trigger_permission_pinned_compliant():
    assert stack_violations(trigger_program, "cognito-trigger-permission-pinned") == []


def test_trigger_permission_pinned_wrong_pool():
    found = stack_violations(lambda: trigger_program(wrong_source=True), "cognito-trigger-permission-pinned")
    assert any("must be the ARN of a pool that uses the function" in m for m in found)


def test_trigger_permission_pinned_function_shared_by_two_pools():
    """A shared trigger is fine when each pool has its own permission naming it; a pool without one is not."""
    shared = lambda: trigger_program(shared_function=True)  # noqa: E731
    assert stack_violations(shared, "cognito-trigger-permission-pinned") == []
    found = stack_violations(
        lambda: trigger_program(shared_function=True, missing=True), "cognito-trigger-permission-pinned"
    )
    assert any("no Cognito permission of that function names the pool" in m for m in found)
    unshared = stack_violations(lambda: trigger_program(missing=True), "cognito-trigger-permission-pinned")
    assert any("no Cognito permission of that function names the pool" in m for m in unshared)


def test_trigger_permission_for_a_function_no_pool_uses():
    def program() -> None:
        aws.lambda_.Permission(
            "stray",
            action="lambda:InvokeFunction",
            function="stray",
            principal="cognito-idp.amazonaws.com",
            source_arn=POOL_ARN,
        )
        aws.cognito.UserPool("pool")

    assert any(
        "no user pool in this stack uses it" in m
        for m in stack_violations(program, "cognito-trigger-permission-pinned")
    )


def binding_program(*, cross: bool = False, foreign_client: bool = False) -> None:
    pools = {}
    clients = {}
    for tenant in ("acme", "globex"):
        pools[tenant] = aws.cognito.UserPool(f"{tenant}-pool", tags={"saas:tenant": tenant})
        clients[tenant] = aws.cognito.UserPoolClient(f"{tenant}-client", user_pool_id=pools[tenant].id)
    for tenant in ("acme", "globex"):
        source = "globex" if (cross and tenant == "acme") else tenant
        client_of = "globex" if (foreign_client and tenant == "acme") else source
        aws.cognito.IdentityPool(
            f"{tenant}-ip",
            identity_pool_name=tenant,
            tags={"saas:tenant": tenant},
            cognito_identity_providers=[
                aws.cognito.IdentityPoolCognitoIdentityProviderArgs(
                    provider_name=pulumi.Output.concat("cognito-idp.ap-southeast-1.amazonaws.com/", pools[source].id),
                    client_id=clients[client_of].id,
                    server_side_token_check=True,
                )
            ],
        )


def test_identity_pool_binding_compliant():
    assert stack_violations(binding_program, "identity-pool-tenant-binding") == []


def test_identity_pool_binding_other_tenants_pool():
    found = stack_violations(lambda: binding_program(cross=True), "identity-pool-tenant-binding")
    assert any("trusts the user pool of tenant 'globex'" in m for m in found)


def test_identity_pool_binding_client_of_another_pool():
    found = stack_violations(lambda: binding_program(foreign_client=True), "identity-pool-tenant-binding")
    assert any("not an app client of user pool" in m for m in found)


def test_roles_same_tenant_flags_roles_this_stack_does_not_create():
    def program() -> None:
        ip = aws.cognito.IdentityPool("acme-ip", identity_pool_name="acme", tags={"saas:tenant": "acme"})
        aws.cognito.IdentityPoolRoleAttachment("acme-roles", identity_pool_id=ip.id, roles={"authenticated": USER})

    assert any(
        "which this stack does not create" in m for m in stack_violations(program, "identity-pool-roles-same-tenant")
    )


# ----------------------------------------------------------------------------------------- preview unknowns

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi-policy's sentinel for an unknown string


def test_unknown_pool_arn_in_preview_checks_presence_without_degrading():
    found = analyze_props(POLICIES, PERMISSION, with_(GOOD_PERMISSION, sourceArn=UNKNOWN_STRING))
    assert found == []
    missing = analyze_props(POLICIES, PERMISSION, with_(GOOD_PERMISSION, sourceArn=None))
    assert [v.policy for v in missing if v.level == "mandatory"] == ["lambda-cognito-permission-source-arn"]


def test_unknown_provider_names_still_check_the_known_settings():
    providers = [
        {"providerName": UNKNOWN_STRING, "clientId": UNKNOWN_STRING, "serverSideTokenCheck": True},
        {"providerName": UNKNOWN_STRING, "clientId": UNKNOWN_STRING, "serverSideTokenCheck": False},
    ]
    found = analyze_props(POLICIES, IDENTITY_POOL, with_(GOOD_IDENTITY_POOL, cognitoIdentityProviders=providers))
    assert [v.policy for v in found] == ["identity-pool-cognito-provider"]
    assert "server_side_token_check" in found[0].message
    assert "during preview" not in found[0].message


def test_unknown_role_arns_in_preview_do_not_degrade_the_mapping_rule():
    rules = [dict(r, roleArn=UNKNOWN_STRING) for r in RULES]
    mapping = dict(GOOD_ATTACHMENT["roleMappings"][0], identityProvider=UNKNOWN_STRING, mappingRules=rules)
    props = with_(GOOD_ATTACHMENT, roleMappings=[mapping], roles={"authenticated": UNKNOWN_STRING})
    assert analyze_props(POLICIES, ATTACHMENT, props) == []
    bad = with_(props, roleMappings=[dict(mapping, ambiguousRoleResolution="AuthenticatedRole")])
    assert [v.policy for v in analyze_props(POLICIES, ATTACHMENT, bad)] == ["identity-pool-role-mapping"]


# ------------------------------------------------------- shared ABAC roles (saas:access.mode abac, issue 4)
def _same_tenant(resources: list[dict[str, Any]]) -> list[str]:
    return [v.message for v in fx.violations([identity_pool_roles_same_tenant], resources)]


def test_roles_same_tenant_accepts_the_sanctioned_shared_abac_role():
    assert _same_tenant(fx.abac_stack()) == []
    assert _same_tenant(fx.compliant_stack()) == []


def test_roles_same_tenant_requires_each_abac_pool_bound_to_its_tenant() -> None:
    """The shared ABAC trust must tie the session tag to the pool: with one statement listing both pools (or a
    statement without the aws:RequestTag/TenantId condition), acme's pool could tag a session as globex."""
    stack = fx.abac_stack()
    unbound = fx.trust(fx.POOLS["acme"], fx.POOLS["globex"], tag_session=True, bound=False)
    for r in stack:
        if r["name"] in ("TenantAdminRole-S00-role", "TenantUserRole-S00-role"):
            r["props"]["assumeRolePolicy"] = json.dumps(unbound)
    found = _same_tenant(stack)
    assert len(found) == 4  # two pools x two roles
    assert all("must require aws:RequestTag/TenantId" in m for m in found)

    swapped = fx.abac_stack()
    for r in swapped:
        if r["name"] == "TenantUserRole-S00-role":
            doc = json.loads(r["props"]["assumeRolePolicy"])
            doc["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/TenantId"] = "globex"
            r["props"]["assumeRolePolicy"] = json.dumps(doc)
    assert [m for m in _same_tenant(swapped) if "(tenant 'acme') tag sessions with TenantId [['globex']]" in m]


def test_roles_same_tenant_refuses_a_multi_pool_role_without_tag_session():
    pools = (fx.POOLS["acme"], fx.POOLS["globex"])
    stack = fx.edit_props(
        fx.abac_stack(),
        "TenantUserRole-S00-role",
        lambda p: p.update(assumeRolePolicy=json.dumps(fx.trust(*pools, tag_session=False))),
    )
    found = _same_tenant(stack)
    assert any("TenantUserRole-S00" in m and "it must trust exactly that pool" in m for m in found), found


def test_roles_same_tenant_refuses_a_multi_pool_role_with_literal_tenant_keys():
    stack = fx.edit_props(
        fx.abac_stack(),
        "TenantUserPolicy-S00-policy",
        lambda p: p.update(policy=json.dumps(fx.tenant_doc("acme", fx.USER_ACTIONS))),
    )
    found = _same_tenant(stack)
    assert any("TenantUserRole-S00" in m and "it must trust exactly that pool" in m for m in found), found
