"""AppUserPool: pinned secure defaults, groups and scopes, argument errors, and the organisation-pool rule."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from saas_platform.components.app_identity import AppClient, AppUserPool, AppUserPoolArgs, UserGroup
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies import identity
from saas_platform.policies.pack import POLICIES

GROUPS = (
    UserGroup(name="managers", description="approve", precedence=10),
    UserGroup(name="employees", description="staff", precedence=20),
)
WEB = AppClient(name="web", callback_urls=("https://app.example.com/cb",), scopes=("claims.read",))


def args(**kw: Any) -> AppUserPoolArgs:
    base: dict[str, Any] = {
        "environment": "prod",
        "pool_name": "comp-prod",
        "groups": GROUPS,
        "resource_server": "compensation",
        "scopes": {"claims.read": "Read claims", "claims.approve": "Decide claims"},
        "clients": (WEB,),
    }
    return AppUserPoolArgs(**{**base, **kw})


def build(a: AppUserPoolArgs) -> ProgramRun:
    return run_function(lambda: AppUserPool("comp-identity", a))


def test_defaults_are_pinned() -> None:
    run = build(args(domain_prefix="comp-prod-login"))
    pool = run.named("comp-identity-user-pool")
    assert pool.inputs["mfaConfiguration"] == "ON"
    assert pool.inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool.inputs["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    assert pool.inputs["tags"]["saas:pool-scope"] == "organization"
    assert pool.options.protect is True
    client = run.named("comp-identity-web-client")
    assert client.inputs["allowedOauthFlows"] == ["code"]
    assert client.inputs["allowedOauthScopes"] == ["openid", "email", "profile", "compensation/claims.read"]
    assert client.inputs["writeAttributes"] == ["name"]
    assert client.inputs["explicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    server = run.named("comp-identity-resource-server")
    assert server.inputs["identifier"] == "compensation"
    assert {s["scopeName"] for s in server.inputs["scopes"]} == {"claims.read", "claims.approve"}
    groups = {r.inputs["name"]: r.inputs["precedence"] for r in run.of_type("aws:cognito/userGroup:UserGroup")}
    assert groups == {"managers": 10, "employees": 20}
    assert run.named("comp-identity-domain").inputs["domain"] == "comp-prod-login"
    counts = Counter((r.type, r.name) for r in run.resources)
    assert all(n == 1 for n in counts.values())


def test_the_pack_accepts_the_pool() -> None:
    report = evaluate(build(args()), POLICIES)
    assert [(v.policy, v.message) for v in report.violations] == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"mfa": "OPTIONAL"}, "mfa='OPTIONAL' is refused in prod"),
        ({"protect": False}, "protect=False is refused in prod"),
        ({"groups": ()}, "groups is empty"),
        ({"scopes": {}}, "scopes is empty"),
        (
            {"clients": (AppClient(name="web", callback_urls=("https://x",), scopes=("nope",)),)},
            r"app client 'web' asks for scopes \['nope'\]",
        ),
        ({"domain_prefix": "my-cognito"}, "domain_prefix must be"),
        (
            {"clients": (AppClient(name="web", callback_urls=("http://localhost:3000/cb",)),)},
            "app client 'web': prod redirect URLs must be HTTPS",
        ),
    ],
)
def test_bad_arguments(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        args(**kw)


def test_plain_http_callback_is_refused_everywhere() -> None:
    with pytest.raises(ComponentArgError, match="is not HTTPS"):
        AppClient(name="web", callback_urls=("http://app.example.com/cb",))


def test_scope_helper() -> None:
    assert args().scope("claims.approve") == "compensation/claims.approve"
    with pytest.raises(ComponentArgError, match="scope 'x' is not one of"):
        args().scope("x")


def test_organisation_pool_is_exempt_only_from_the_tenant_claim_rule() -> None:
    rule = identity.cognito_tenant_id_immutable
    org = {"tags": {"saas:pool-scope": "organization"}}
    assert analyze_props([rule], identity.USER_POOL, org) == []
    # a tenant tag wins over the scope tag: a tenant pool cannot opt out
    tenant = {"tags": {"saas:pool-scope": "organization", "saas:tenant": "acme"}}
    assert analyze_props([rule], identity.USER_POOL, tenant)
    assert analyze_props([rule], identity.USER_POOL, {"tags": {}})
    # admin-create-only still applies to organisation pools
    assert analyze_props([identity.cognito_admin_create_only], identity.USER_POOL, org)
