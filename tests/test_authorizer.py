"""The API Gateway authorizer, end to end offline: tokens signed by each tenant's test key, JWKS served without
network, and the AVP call answered by a double that evaluates the repository's Cedar assets with cedarpy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from saas_platform.components.cedar import default_assets
from saas_platform.handlers._registry import TenantRegistry
from saas_platform.handlers.authorizer import (
    REASONS,
    AuthorizerConfig,
    ConfigError,
    Denied,
    JwksCache,
    Route,
    RouteTable,
    build_authorizer,
    lambda_handler,
)
from tests.authz_support import (
    ACME,
    GLOBEX,
    REGION,
    CountingFetcher,
    FakeClock,
    FakeRegistryTable,
    OutageFetcher,
    avp_double,
    claims,
    config_json,
    effect,
    event,
    fake_registry,
    jwks,
    load_event,
    make_authorizer,
    private_key,
    sign,
    tenant_item,
    token,
)
from tests.registry_support import registry_table as create_registry

ARN_PREFIX = "arn:aws:execute-api:ap-southeast-1:123456789012:a1b2c3d4e5/dev"


def bearer(t: str) -> str:
    return f"Bearer {t}"


@pytest.fixture
def authz() -> Any:
    return make_authorizer()


def decide(authz: Any, ev: dict[str, Any]) -> dict[str, Any]:
    return authz[0].decide(ev)


# --------------------------------------------------------------------------------------------- allow paths
def test_user_reads_own_profile_and_gets_an_allow_for_exactly_this_method(authz: Any) -> None:
    response = decide(authz, event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))))
    assert response["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{ARN_PREFIX}/GET/v1/me/pim"}],
    }
    assert response["principalId"] == f"{ACME.user_pool_id}|u-1"
    assert response["context"] == {"tenantId": "acme", "action": "ReadPIM"}
    assert response["usageIdentifierKey"] == "usage-key-acme"


def test_the_avp_call_carries_the_mapped_tenant_not_request_values(authz: Any) -> None:
    decide(
        authz,
        event(
            "GET",
            "/v1/pim/employees/{employeeId}",
            "/v1/pim/employees/u-1",
            auth=bearer(token(ACME, "u-1")),
            path_parameters={"employeeId": "u-1"},
        ),
    )
    (call,) = authz[1].calls
    assert call["policyStoreId"] == ACME.policy_store_id
    assert call["action"] == {"actionType": "OptimalHR::Action", "actionId": "ReadPIM"}
    assert call["resource"] == {"entityType": "OptimalHR::PIM", "entityId": "/v1/pim/employees/u-1"}
    assert call["context"] == {"contextMap": {"environment": {"string": "dev"}}}
    resource_entity = call["entities"]["entityList"][0]
    assert resource_entity["attributes"] == {"tenantId": {"string": "acme"}, "owner": {"string": "u-1"}}
    assert resource_entity["parents"] == [{"entityType": "OptimalHR::Tenant", "entityId": "acme"}]
    assert "accessToken" not in call
    assert call["identityToken"].count(".") == 2


@pytest.mark.parametrize("tenant", [ACME, GLOBEX], ids=["acme", "globex"])
def test_each_tenants_issuer_goes_to_its_own_store(authz: Any, tenant: Any) -> None:
    response = decide(
        authz,
        event(
            "DELETE",
            "/v1/iam/users/{userId}",
            "/v1/iam/users/x",
            auth=bearer(token(tenant, "admin-1", "admin")),
            path_parameters={"userId": "x"},
        ),
    )
    assert effect(response) == "Allow"
    assert authz[1].calls[-1]["policyStoreId"] == tenant.policy_store_id


# ---------------------------------------------------------------------------------------------- deny paths
def test_user_is_denied_what_the_policies_do_not_grant(authz: Any) -> None:
    t = bearer(token(ACME, "u-1"))
    assert effect(decide(authz, event("GET", "/v1/pim/profiles", auth=t))) == "Deny"
    assert (
        effect(
            decide(
                authz,
                event(
                    "GET",
                    "/v1/pim/employees/{employeeId}",
                    "/v1/pim/employees/u-2",
                    auth=t,
                    path_parameters={"employeeId": "u-2"},
                ),
            )
        )
        == "Deny"
    )
    assert effect(decide(authz, event("PUT", "/v1/me/pim", auth=t))) == "Allow"
    assert effect(decide(authz, event("POST", "/v1/payroll/runs", auth=t))) == "Deny"


def deny_without_avp(authz: Any, ev: dict[str, Any]) -> None:
    response = decide(authz, ev)
    assert effect(response) == "Deny"
    assert response["principalId"] == "denied"
    assert "context" not in response
    assert "usageIdentifierKey" not in response
    assert authz[1].calls == [], "AVP must not be asked about a request that fails verification"


def test_forged_signature_is_denied(authz: Any) -> None:
    forged = sign(claims(ACME, "u-1", "admin"), ACME, key_of=GLOBEX)  # acme's kid, globex's key
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(forged)))


def test_token_signed_with_unknown_kid_is_denied(authz: Any) -> None:
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(claims(ACME, "u-1"), ACME, kid="rogue"))))


def test_alg_none_and_hs256_with_the_public_key_are_denied(authz: Any) -> None:
    payload = claims(ACME, "u-1", "admin")

    def segment(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    unsigned = f"{segment({'alg': 'none', 'kid': ACME.kid})}.{segment(payload)}.x"
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(unsigned)))
    # the classic confusion attack: HMAC-SHA256 keyed with the issuer's public key (PEM), which anyone can fetch
    pem = private_key(ACME.kid).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{segment({'alg': 'HS256', 'kid': ACME.kid})}.{segment(payload)}"
    mac = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(f"{signing_input}.{mac.decode()}")))


def test_expired_token_is_denied(authz: Any) -> None:
    expired = claims(ACME, "u-1", "admin", exp=int(time.time()) - 1, iat=int(time.time()) - 3600)
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(expired, ACME))))


def test_wrong_audience_is_denied(authz: Any) -> None:
    other_client = claims(ACME, "u-1", "admin", aud=GLOBEX.client_ids[0])
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(other_client, ACME))))


def test_access_token_is_denied_because_the_policies_need_the_id_token(authz: Any) -> None:
    access = claims(ACME, "u-1", "admin", token_use="access")
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(access, ACME))))


def test_wrong_tenant_claim_is_denied(authz: Any) -> None:
    """A token of acme's pool that claims globex (e.g. a misconfigured trigger) is never mapped to globex."""
    wrong = claims(ACME, "u-1", "admin", **{"custom:tenantId": "globex"})
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(wrong, ACME))))


def test_other_tenants_token_signed_by_its_own_pool_cannot_claim_this_issuer(authz: Any) -> None:
    impostor = claims(GLOBEX, "u-1", "admin", iss=ACME.issuer, aud=ACME.client_ids[0], **{"custom:tenantId": "acme"})
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(impostor, GLOBEX, kid=ACME.kid))))


def test_wrong_environment_is_denied(authz: Any) -> None:
    """Isolation invariant 17: refresh skips pre-authentication, so the authorizer checks the environment."""
    prod_token = sign(claims(ACME, "u-1", "admin", environment="prod"), ACME)
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(prod_token)))
    staging_authorizer = make_authorizer("staging")
    assert effect(decide(staging_authorizer, event("GET", "/v1/me/pim", auth=bearer(prod_token)))) == "Deny"


def test_unknown_issuer_is_denied(authz: Any) -> None:
    stranger = claims(ACME, "u-1", "admin", iss=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Stranger1")
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=bearer(sign(stranger, ACME))))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer a.b",
        "Bearer a.b.c.d",
        "Bearer ...",
        "Token x.y.z",
        "Bearer x.y.z",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.",
        "Bearer " + "A" * 9000,
    ],
)
def test_malformed_authorization_headers_are_denied(authz: Any, header: str) -> None:
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=header))


def test_missing_or_duplicated_authorization_header_is_denied(authz: Any) -> None:
    deny_without_avp(authz, event("GET", "/v1/me/pim"))
    t = bearer(token(ACME, "u-1"))
    deny_without_avp(authz, event("GET", "/v1/me/pim", auth=t, headers={"authorization": t}))
    two = event("GET", "/v1/me/pim", auth=t)
    two["multiValueHeaders"] = {"Authorization": [t, bearer(token(ACME, "a-1", "admin"))]}
    deny_without_avp(authz, two)
    same = event("GET", "/v1/me/pim", auth=t)
    same["multiValueHeaders"] = {"Authorization": [t]}
    assert effect(decide(authz, same)) == "Allow"


def test_unknown_route_is_denied(authz: Any) -> None:
    t = bearer(token(ACME, "a-1", "admin"))
    deny_without_avp(authz, event("GET", "/v1/admin/everything", auth=t))
    deny_without_avp(authz, event("PATCH", "/v1/me/pim", auth=t))


def test_route_needing_a_path_parameter_without_it_is_denied(authz: Any) -> None:
    deny_without_avp(
        authz, event("GET", "/v1/pim/employees/{employeeId}", "/v1/pim/employees/", auth=bearer(token(ACME, "u-1")))
    )


@pytest.mark.parametrize(
    "bad_event",
    [
        None,
        [],
        "x",
        {},
        {"type": "TOKEN"},
        {"type": "REQUEST"},
        {"type": "REQUEST", "methodArn": "arn:aws:execute-api:*:*:*", "headers": {}},
        {"type": "REQUEST", "methodArn": 42, "headers": "nope", "resource": None},
    ],
)
def test_malformed_events_are_denied_without_raising(authz: Any, bad_event: Any) -> None:
    response = decide(authz, bad_event)
    assert effect(response) == "Deny"
    assert response["policyDocument"]["Statement"][0]["Resource"] == "*"


class Throttled(Exception):
    pass


class ExplodingAvp:
    def __init__(self, exc: Exception | None = None, answer: dict[str, Any] | None = None) -> None:
        self.exc, self.answer, self.calls = exc, answer, 0

    def is_authorized_with_token(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.exc is not None:
            raise self.exc
        return self.answer or {}


@pytest.mark.parametrize(
    "avp",
    [
        ExplodingAvp(Throttled("ThrottlingException: Rate exceeded")),
        ExplodingAvp(TimeoutError("read timeout")),
        ExplodingAvp(answer={"decision": "DENY"}),
        ExplodingAvp(answer={"decision": "allow"}),
        ExplodingAvp(answer={"decision": "ALLOW", "errors": [{"errorDescription": "policy p1 errored"}]}),
        ExplodingAvp(answer={}),
    ],
    ids=["throttled", "timeout", "deny", "lowercase-allow", "allow-with-errors", "empty"],
)
def test_anything_but_a_clean_allow_from_avp_is_deny(avp: ExplodingAvp) -> None:
    authorizer = build_authorizer(config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp)
    response = authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))))
    assert effect(response) == "Deny"
    assert avp.calls == 1


def test_tokens_never_reach_the_logs(authz: Any, caplog: pytest.LogCaptureFixture) -> None:
    t = token(ACME, "u-1", "admin")
    forged = sign(claims(ACME, "u-1", "admin"), ACME, key_of=GLOBEX)
    with caplog.at_level("INFO"):
        decide(authz, event("GET", "/v1/me/pim", auth=bearer(t)))
        decide(authz, event("GET", "/v1/me/pim", auth=bearer(forged)))
        decide(authz, event("GET", "/v1/me/pim", auth="Bearer not-a-jwt"))
    text = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert caplog.records, "decisions are logged"
    for secret in (t, forged, t.split(".")[2], forged.split(".")[2]):
        assert secret not in text


# ---------------------------------------------------------------------------------------------- JWKS cache
def test_jwks_is_fetched_once_per_issuer_and_reused_while_warm(authz: Any) -> None:
    authorizer, _, fetcher = authz
    for _ in range(5):
        authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))))
        authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(token(GLOBEX, "u-9"))))
    assert sorted(fetcher.fetches) == sorted(
        {f"{ACME.issuer}/.well-known/jwks.json", f"{GLOBEX.issuer}/.well-known/jwks.json"}
    )


def test_unknown_kid_refetches_at_most_once_per_interval() -> None:
    now = [1000.0]
    fetcher = CountingFetcher()
    cache = JwksCache(fetcher, ttl=3600, min_refresh=60, clock=lambda: now[0])
    uri = f"{ACME.issuer}/.well-known/jwks.json"
    cache.key(uri, ACME.kid)
    for _ in range(20):
        with pytest.raises(Exception, match="not in the issuer's JWKS"):
            cache.key(uri, "rotated-key")
    assert len(fetcher.fetches) == 1
    now[0] += 61
    with pytest.raises(Exception, match="not in the issuer's JWKS"):
        cache.key(uri, "rotated-key")
    assert len(fetcher.fetches) == 2
    now[0] += 3600
    cache.key(uri, ACME.kid)
    assert len(fetcher.fetches) == 3


def test_jwks_fetch_failure_is_deny() -> None:
    def broken(uri: str) -> dict[str, Any]:
        raise OSError("network down")

    authorizer = build_authorizer(config_json(), registry=fake_registry(), fetch=broken, avp=avp_double())
    assert effect(authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))))) == "Deny"


# ------------------------------------------------------------------------------------ configuration & routes
@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        "[]",
        '{"environment": "qa", "region": "ap-southeast-1"}',
        '{"environment": "dev"}',
        '{"environment": "dev", "region": "Asia Pacific"}',
        '{"environment": "dev", "region": 1}',
        json.dumps({"environment": "dev", "region": REGION, "tenants": []}),  # the old per-tenant map
    ],
)
def test_bad_configuration_is_rejected(text: str) -> None:
    with pytest.raises(ConfigError):
        AuthorizerConfig.from_json(text)


def test_lambda_handler_without_configuration_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    import saas_platform.handlers.authorizer as module

    monkeypatch.delenv("AUTHZ_CONFIG", raising=False)
    monkeypatch.setattr(module, "_AUTHORIZER", None)
    response = lambda_handler(event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))), None)
    assert effect(response) == "Deny"
    assert response["policyDocument"]["Statement"][0]["Resource"] == f"{ARN_PREFIX}/GET/v1/me/pim"


def test_lambda_handler_builds_once_and_reuses_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    import saas_platform.handlers.authorizer as module

    built: list[int] = []
    real = module.build_authorizer

    def counting_build() -> Any:
        built.append(1)
        return real(config_json(), fetch=CountingFetcher(), avp=avp_double(), registry=fake_registry())

    monkeypatch.setattr(module, "_AUTHORIZER", None)
    monkeypatch.setattr(module, "build_authorizer", counting_build)
    for _ in range(3):
        assert effect(lambda_handler(event("GET", "/v1/me/pim", auth=bearer(token(ACME, "u-1"))), None)) == "Allow"
    assert built == [1]


def test_every_route_maps_to_a_schema_action_on_its_resource_type() -> None:
    assets = default_assets()
    routes = list(RouteTable.from_file())
    assert len(routes) == 97  # 96 microservice routes + POST /v1/images (image pipeline)
    for route in routes:
        assert route.action in assets.actions, route
        assert route.resource_type == f"OptimalHR::{assets.resource_type(route.action)}", route
        assert (
            route.owner is None
            or route.owner == "self"
            or (route.owner.startswith("path:") and "{" + route.owner[5:] + "}" in route.path)
        ), route
    assert {r.action for r in routes} == set(assets.actions), "every action is reachable through some route"


# -------------------------------------------------------------------------------------------- hypothesis
VALID_ADMIN_TOKEN = token(ACME, "u-1", "admin")
"""The one header value that must be allowed; every strategy below derives its near-misses from this token."""
HEADER_VALUES = st.one_of(
    st.text(max_size=300),
    st.builds(lambda s: "Bearer " + s, st.text(max_size=300)),
    st.builds(lambda a, b, c: f"Bearer {a}.{b}.{c}", *(st.text(alphabet="ABCxyz0189-_=", max_size=60),) * 3),
    st.builds(lambda t, cut: "Bearer " + t[:cut], st.just(VALID_ADMIN_TOKEN), st.integers(0, 1200)),
    st.builds(
        lambda t, i, c: "Bearer " + t[:i] + c + t[i + 1 :],
        st.just(VALID_ADMIN_TOKEN),
        st.integers(0, 1200),
        st.sampled_from("ABab01-_."),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=HEADER_VALUES,
    extra=st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=50), st.none(), st.integers()), max_size=3),
)
def test_no_malformed_header_yields_allow(header: str, extra: dict[str, Any]) -> None:
    """Whatever the Authorization header holds (garbage, truncations or one-character corruptions of a valid
    admin token), the authorizer returns Deny unless it is exactly that valid token."""
    authorizer = AUTHORIZER_FOR_PROPERTY
    valid = "Bearer " + VALID_ADMIN_TOKEN
    ev = event(
        "DELETE",
        "/v1/iam/users/{userId}",
        "/v1/iam/users/x",
        auth=header,
        path_parameters={"userId": "x"},
        headers={k: v for k, v in extra.items() if k.lower() != "authorization"},
    )
    response = authorizer.decide(ev)
    if not same_token(header, valid):
        assert effect(response) == "Deny", header


def same_token(header: str, valid: str) -> bool:
    """True when ``header`` carries the valid token itself: equal text, or a corruption that only flips the unused
    low bits of a segment's last base64 character (it decodes to the very same bytes, so it *is* that token)."""
    if header.strip() == valid:
        return True
    if not header.startswith("Bearer ") or header.count(".") != 2 or len(header) != len(valid):
        return False
    try:
        decoded = [base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)) for seg in header[7:].split(".")]
        expected = [base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)) for seg in valid[7:].split(".")]
    except ValueError:
        return False
    return decoded == expected


AUTHORIZER_FOR_PROPERTY = build_authorizer(
    config_json(),
    fetch=lambda uri: jwks(ACME) if ACME.user_pool_id in uri else jwks(GLOBEX),
    avp=avp_double(),
    registry=fake_registry(),
)


# ---------------------------------------------------------------------------------- verified-token cache
def test_a_repeated_token_is_verified_once_and_only_until_it_expires(authz: Any) -> None:
    authorizer, double, _ = authz
    short = sign(claims(ACME, "u-1", exp=int(time.time()) + 2), ACME)
    ev = event("GET", "/v1/me/pim", auth=bearer(short))
    calls: list[str] = []
    real = authorizer.verifier._verify

    def counting(t: str) -> Any:
        calls.append(t)
        return real(t)

    authorizer.verifier._verify = counting
    for _ in range(3):
        assert effect(authorizer.decide(ev)) == "Allow"
    assert len(calls) == 1
    assert len(double.calls) == 3, "the decision itself is never cached: AVP is asked every time"
    time.sleep(max(0.0, int(time.time()) + 2 - time.time()) + 1.05)
    assert effect(authorizer.decide(ev)) == "Deny"
    assert len(calls) == 2


def test_a_rejected_token_is_not_cached(authz: Any) -> None:
    authorizer = authz[0]
    forged = sign(claims(ACME, "u-1", "admin"), ACME, key_of=GLOBEX)
    for _ in range(2):
        assert effect(authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(forged)))) == "Deny"
    assert forged not in authorizer.verifier._cache


def test_the_cache_is_bounded() -> None:
    authorizer = build_authorizer(config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp_double())
    authorizer.verifier._cache_size = 3
    for i in range(6):
        authorizer.decide(event("GET", "/v1/me/pim", auth=bearer(token(ACME, f"u-{i}"))))
    assert len(authorizer.verifier._cache) == 3


def test_group_membership_from_the_token_reaches_the_template_linked_policy(authz: Any) -> None:
    """cognito:groups -> parents UserGroup::"<pool>|<group>" -> the approvers link of the tenant's own store."""
    route = ("POST", "/v1/leave/requests/{requestId}/approval", "/v1/leave/requests/r-7/approval")
    plain = token(ACME, "mgr-1")
    groups: dict[str, Any] = {"cognito:groups": ["approvers"], "cognito:roles": [], "at_hash": "x"}
    approver = sign(claims(ACME, "mgr-1", **groups), ACME)
    foreign_group = sign(claims(GLOBEX, "mgr-2", **groups), GLOBEX)
    ev = {"path_parameters": {"requestId": "r-7"}}
    assert effect(decide(authz, event(*route, auth=bearer(plain), **ev))) == "Deny"
    assert effect(decide(authz, event(*route, auth=bearer(approver), **ev))) == "Allow"
    # globex's approvers approve in globex's store only; the call went to globex's store
    assert effect(decide(authz, event(*route, auth=bearer(foreign_group), **ev))) == "Allow"
    assert authz[1].calls[-1]["policyStoreId"] == GLOBEX.policy_store_id


# ------------------------------------------------------------------------------------ AWS event shapes
def decision_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every record logged while deciding, as the structured fields Powertools writes (``extra`` keys)."""
    return [
        {
            "message": r.getMessage(),
            "level": r.levelname,
            **{
                k: getattr(r, k)
                for k in ("decision", "reason", "detail", "resource", "jwks_stale_seconds")
                if hasattr(r, k)
            },
        }
        for r in caplog.records
    ]


def decide_logged(
    authorizer: Any, ev: Any, caplog: pytest.LogCaptureFixture, secrets: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decide ``ev`` and return the response with the one log line it wrote (which never holds a secret)."""
    caplog.clear()
    with caplog.at_level("INFO"):
        response = authorizer.decide(ev)
    lines = decision_lines(caplog)
    assert len(lines) == 1, lines
    text = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    for secret in secrets:
        assert secret not in text
    return response, lines[0]


@pytest.mark.parametrize("header", ["Authorization", "authorization", "AUTHORIZATION"])
@pytest.mark.parametrize("multi", ["same-value", "absent", "only-multi"])
def test_the_documented_rest_request_event_is_allowed_whatever_the_header_case(
    authz: Any, caplog: pytest.LogCaptureFixture, header: str, multi: str
) -> None:
    t = token(ACME, "u-1")
    ev = load_event("apigw_rest_request_authorizer.json", t)
    value = ev["headers"].pop("Authorization")
    del ev["multiValueHeaders"]["Authorization"]
    if multi != "only-multi":
        ev["headers"][header] = value
    if multi != "absent":
        ev["multiValueHeaders"][header] = [value]
    response, line = decide_logged(authz[0], ev, caplog, secrets=(t,))
    assert response["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": ev["methodArn"]}
    ]
    assert response["context"] == {"tenantId": "acme", "action": "ReadPIM"}
    assert (line["message"], line["decision"], line["reason"]) == ("request allowed", "allow", "allowed")
    (call,) = authz[1].calls
    assert call["resource"] == {"entityType": "OptimalHR::PIM", "entityId": "/v1/pim/employees/u-1"}
    assert call["entities"]["entityList"][0]["attributes"]["owner"] == {"string": "u-1"}


def test_the_documented_rest_request_event_with_two_authorization_values_is_denied(
    authz: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that sends Authorization twice: API Gateway keeps the last in ``headers``, both in
    ``multiValueHeaders``; which one the caller meant is ambiguous."""
    mine, other = token(ACME, "u-1"), token(ACME, "a-1", "admin")
    ev = load_event("apigw_rest_request_authorizer.json", mine)
    ev["multiValueHeaders"]["Authorization"] = [f"Bearer {other}", f"Bearer {mine}"]
    response, line = decide_logged(authz[0], ev, caplog, secrets=(mine, other))
    assert effect(response) == "Deny"
    assert line["reason"] == "authorization-ambiguous"
    assert authz[1].calls == []


def test_a_token_authorizer_event_is_refused_on_its_method(authz: Any, caplog: pytest.LogCaptureFixture) -> None:
    t = token(ACME, "u-1", "admin")
    ev = load_event("apigw_token_authorizer.json", t)
    response, line = decide_logged(authz[0], ev, caplog, secrets=(t,))
    assert response == {
        "principalId": "denied",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ev["methodArn"]}],
        },
    }
    assert (line["decision"], line["reason"], line["level"]) == ("deny", "payload-token", "WARNING")
    assert authz[1].calls == []


def test_an_http_api_v2_payload_gets_an_iam_policy_deny_on_its_route(
    authz: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Payload format 2.0 accepts the IAM-policy response when simple responses are off (the default): a Deny
    on ``routeArn``. The authorizer does not serve HTTP APIs, so even a valid admin token is refused."""
    t = token(ACME, "u-1", "admin")
    ev = load_event("apigw_http_api_v2_authorizer.json", t)
    response, line = decide_logged(authz[0], ev, caplog, secrets=(t,))
    assert response == {
        "principalId": "denied",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ev["routeArn"]}],
        },
    }
    assert "isAuthorized" not in response
    assert (line["decision"], line["reason"], line["level"]) == ("deny", "payload-http-api-v2", "WARNING")
    assert line["resource"] == ev["routeArn"]
    assert authz[1].calls == []


def test_a_v2_payload_with_a_malformed_route_arn_is_denied_everywhere(
    authz: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ev = load_event("apigw_http_api_v2_authorizer.json", token(ACME, "u-1"))
    ev["routeArn"] = "arn:aws:execute-api:*:*:*"
    response, line = decide_logged(authz[0], ev, caplog)
    assert response["policyDocument"]["Statement"][0]["Resource"] == "*"
    assert line["reason"] == "payload-http-api-v2"


# ------------------------------------------------------------------------------- one line per refusal
ME = ("GET", "/v1/me/pim")


def _standard(ev: Any) -> tuple[Any, Any]:
    return make_authorizer()[0], ev


def _bearer_for(payload: dict[str, Any], tenant: Any = ACME, **sign_kw: Any) -> str:
    return bearer(sign(payload, tenant, **sign_kw))


def _without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


def _with_avp(avp: Any) -> Callable[[], tuple[Any, dict[str, Any]]]:
    return lambda: (
        build_authorizer(config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp),
        event(*ME, auth=bearer(token(ACME, "u-1"))),
    )


def _stale_beyond_the_window() -> tuple[Any, dict[str, Any]]:
    clock = FakeClock()
    fetcher = OutageFetcher(clock)
    authorizer = build_authorizer(
        config_json(), registry=fake_registry(), avp=avp_double(), jwks=JwksCache(fetcher, clock=clock)
    )
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-1"))))) == "Allow"
    fetcher.down = True
    clock.advance(3600 + 21600)
    return authorizer, event(*ME, auth=bearer(token(ACME, "u-2")))


def _bad_owner_source() -> tuple[Any, dict[str, Any]]:
    routes = RouteTable({ME: Route("GET", "/v1/me/pim", "ReadPIM", "OptimalHR::PIM", "header:x-owner")})
    authorizer = build_authorizer(
        config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp_double(), routes=routes
    )
    return authorizer, event(*ME, auth=bearer(token(ACME, "u-1")))


class _BrokenRoutes:
    def lookup(self, method: str, path: str) -> Route | None:
        raise RuntimeError("route table exploded")


def _with_registry(table: FakeRegistryTable) -> tuple[Any, dict[str, Any]]:
    authorizer = build_authorizer(
        config_json(), fetch=CountingFetcher(), avp=avp_double(), registry=fake_registry(table)
    )
    return authorizer, event(*ME, auth=bearer(token(ACME, "u-1")))


def _registry_with(status: str = "active", **changes: Any) -> FakeRegistryTable:
    table = FakeRegistryTable()
    table.put(tenant_item(ACME, status, **changes))
    return table


def _registry_down() -> FakeRegistryTable:
    table = FakeRegistryTable()
    table.down = True
    return table


def _internal_error() -> tuple[Any, dict[str, Any]]:
    authorizer = make_authorizer()[0]
    vars(authorizer)["routes"] = _BrokenRoutes()
    return authorizer, event(*ME, auth=bearer(token(ACME, "u-1")))


NOW = int(time.time())
VALID_ARN = f"{ARN_PREFIX}/GET/v1/me/pim"
REFUSALS: list[tuple[str, Callable[[], tuple[Any, Any]]]] = [
    ("payload-malformed", lambda: _standard(["not", "an", "object"])),
    ("payload-malformed", lambda: _standard({"methodArn": VALID_ARN})),
    (
        "payload-malformed",
        lambda: _standard(_without(event(*ME, auth=bearer(token(ACME, "u-1"))), "httpMethod")),
    ),
    ("payload-unsupported", lambda: _standard({"type": "WEBSOCKET", "methodArn": VALID_ARN})),
    ("payload-unsupported", lambda: _standard({**event(*ME), "version": "3.0"})),
    ("payload-token", lambda: _standard(load_event("apigw_token_authorizer.json", token(ACME, "u-1")))),
    ("payload-http-api-v2", lambda: _standard(load_event("apigw_http_api_v2_authorizer.json", token(ACME, "u-1")))),
    ("method-arn-invalid", lambda: _standard({**event(*ME, auth=bearer(token(ACME, "u-1"))), "methodArn": None})),
    ("method-arn-invalid", lambda: _standard({**event(*ME), "methodArn": "arn:aws:execute-api:*:*:*"})),
    ("headers-malformed", lambda: _standard({**event(*ME), "headers": "Authorization: Bearer x"})),
    ("authorization-missing", lambda: _standard(event(*ME))),
    (
        "authorization-ambiguous",
        lambda: _standard(event(*ME, auth=bearer(token(ACME, "u-1")), headers={"authorization": "Bearer a.b.c"})),
    ),
    ("bearer-malformed", lambda: _standard(event(*ME, auth="Basic dXNlcjpwYXNz"))),
    ("bearer-malformed", lambda: _standard(event(*ME, auth="Bearer " + "A" * 9000))),
    ("route-unknown", lambda: _standard(event("GET", "/v1/admin/everything", auth=bearer(token(ACME, "u-1"))))),
    ("token-malformed", lambda: _standard(event(*ME, auth="Bearer x.y.z"))),
    (
        "token-header-unacceptable",
        lambda: _standard(event(*ME, auth="Bearer eyJhbGciOiJub25lIiwia2lkIjoiYWNtZS1rZXktMSJ9.e30.AAAA")),
    ),
    (
        "issuer-unknown",
        lambda: _standard(
            event(*ME, auth=_bearer_for(claims(ACME, "u-1", iss=f"https://cognito-idp.{REGION}.amazonaws.com/x_Y")))
        ),
    ),
    (
        "jwks-unavailable",
        lambda: (
            build_authorizer(
                config_json(), registry=fake_registry(), fetch=OutageFetcher(FakeClock(), down=True), avp=avp_double()
            ),
            event(*ME, auth=bearer(token(ACME, "u-1"))),
        ),
    ),
    ("jwks-stale", _stale_beyond_the_window),
    ("kid-unknown", lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1"), kid="rotated-away")))),
    ("signature-invalid", lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1"), key_of=GLOBEX)))),
    (
        "token-expired",
        lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", exp=NOW - 10, iat=NOW - 3600)))),
    ),
    ("token-not-yet-valid", lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", iat=NOW + 600))))),
    (
        "audience-mismatch",
        lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", aud=GLOBEX.client_ids[0])))),
    ),
    ("claim-missing", lambda: _standard(event(*ME, auth=_bearer_for(_without(claims(ACME, "u-1"), "token_use"))))),
    ("token-invalid", lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", iat="yesterday"))))),
    ("token-use-not-id", lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", token_use="access"))))),
    (
        "tenant-mismatch",
        lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", **{"custom:tenantId": "globex"})))),
    ),
    (
        "environment-mismatch",
        lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "u-1", environment="prod")))),
    ),
    (
        "sub-missing",
        lambda: _standard(event(*ME, auth=_bearer_for(claims(ACME, "")))),
    ),
    (
        "path-invalid",
        lambda: _standard(event(*ME, "/v1/me/pim/" + "x" * 200, auth=bearer(token(ACME, "u-1")))),
    ),
    (
        "owner-missing",
        lambda: _standard(
            event("GET", "/v1/pim/employees/{employeeId}", "/v1/pim/employees/", auth=bearer(token(ACME, "u-1")))
        ),
    ),
    ("route-owner-unknown", _bad_owner_source),
    ("avp-denied", lambda: _standard(event("POST", "/v1/payroll/runs", auth=bearer(token(ACME, "u-1"))))),
    (
        "avp-evaluation-errors",
        _with_avp(ExplodingAvp(answer={"decision": "ALLOW", "errors": [{"errorDescription": "p1 errored"}]})),
    ),
    ("avp-error", _with_avp(ExplodingAvp(Throttled("ThrottlingException: Rate exceeded")))),
    ("avp-error", _with_avp(ExplodingAvp(TimeoutError("read timeout")))),
    ("internal-error", _internal_error),
    ("tenant-suspended", lambda: _with_registry(_registry_with("suspended"))),
    ("tenant-offboarded", lambda: _with_registry(_registry_with("offboarded"))),
    ("registry-unavailable", lambda: _with_registry(_registry_down())),
    ("registry-invalid", lambda: _with_registry(_registry_with(policy_store_id=None))),
]


@pytest.mark.parametrize(("reason", "build"), REFUSALS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(REFUSALS)])
def test_every_refusal_writes_one_structured_line_with_its_reason_code(
    caplog: pytest.LogCaptureFixture, reason: str, build: Callable[[], tuple[Any, Any]]
) -> None:
    authorizer, ev = build()
    headers = ev.get("headers") if isinstance(ev, dict) else None
    sent = str(headers.get("Authorization", "")) if isinstance(headers, dict) else ""
    secrets = tuple(part for part in sent.removeprefix("Bearer ").split(".") if len(part) > 8)
    response, line = decide_logged(authorizer, ev, caplog, secrets=secrets)
    assert effect(response) == "Deny"
    assert response["principalId"] == "denied"
    assert "context" not in response
    assert (line["message"], line["decision"], line["reason"]) == ("request denied", "deny", reason)
    assert line["detail"], "the line says why in words too"
    assert line["resource"] == response["policyDocument"]["Statement"][0]["Resource"]


def test_the_lambda_entry_without_configuration_writes_one_not_configured_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import saas_platform.handlers.authorizer as module

    monkeypatch.setattr(module, "_AUTHORIZER", None)
    monkeypatch.delenv("AUTHZ_CONFIG", raising=False)
    caplog.clear()
    with caplog.at_level("INFO"):
        response = lambda_handler(event(*ME, auth=bearer(token(ACME, "u-1"))), None)
    assert effect(response) == "Deny"
    (line,) = decision_lines(caplog)
    assert (line["decision"], line["reason"], line["level"]) == ("deny", "not-configured", "ERROR")
    assert "AUTHZ_CONFIG" in line["detail"]


def test_reason_codes_are_a_public_contract_and_every_one_is_exercised() -> None:
    """Metric filters and alarms key on these codes (docs/authorization.md): renaming one is a breaking change."""
    expected = {
        "payload-malformed", "payload-unsupported", "payload-token", "payload-http-api-v2", "method-arn-invalid",
        "headers-malformed", "authorization-missing", "authorization-ambiguous", "bearer-malformed", "route-unknown",
        "token-malformed", "token-header-unacceptable", "issuer-unknown", "jwks-unavailable", "jwks-stale",
        "kid-unknown", "signature-invalid", "token-expired", "token-not-yet-valid", "audience-mismatch",
        "claim-missing", "token-invalid", "token-use-not-id", "tenant-mismatch", "environment-mismatch",
        "sub-missing", "path-invalid", "owner-missing", "route-owner-unknown", "avp-denied",
        "avp-evaluation-errors", "avp-error", "internal-error", "not-configured",
        "tenant-suspended", "tenant-offboarded", "registry-unavailable", "registry-invalid",
    }  # fmt: skip
    assert set(REASONS) == expected
    assert {r for r, _ in REFUSALS} | {"not-configured"} == expected


# ------------------------------------------------------------------------------ JWKS stale-serving
URI = f"{ACME.issuer}/.well-known/jwks.json"


def outage_authorizer(max_stale: float = 21600) -> tuple[Any, FakeClock, OutageFetcher]:
    clock = FakeClock()
    fetcher = OutageFetcher(clock)
    jwks_cache = JwksCache(fetcher, max_stale=max_stale, clock=clock)
    return build_authorizer(config_json(), registry=fake_registry(), avp=avp_double(), jwks=jwks_cache), clock, fetcher


def test_a_jwks_outage_within_the_stale_window_still_allows_valid_tokens(caplog: pytest.LogCaptureFixture) -> None:
    authorizer, clock, fetcher = outage_authorizer()
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-0"))))) == "Allow"
    fetcher.down = True
    clock.advance(3600 + 30)  # the key set is past its TTL and the endpoint is down
    response, line = decide_logged(authorizer, event(*ME, auth=bearer(token(ACME, "u-1"))), caplog)
    assert effect(response) == "Allow"
    assert line["jwks_stale_seconds"] == 30
    assert fetcher.attempts == [1000.0, 4630.0], "one refetch was tried, and it failed"
    clock.advance(21600 - 30 - 1)  # one second before the window closes
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-2"))))) == "Allow"


def test_a_jwks_outage_beyond_the_stale_window_denies(caplog: pytest.LogCaptureFixture) -> None:
    authorizer, clock, fetcher = outage_authorizer()
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-0"))))) == "Allow"
    fetcher.down = True
    clock.advance(3600 + 21600)
    response, line = decide_logged(authorizer, event(*ME, auth=bearer(token(ACME, "u-1"))), caplog)
    assert effect(response) == "Deny"
    assert line["reason"] == "jwks-stale"
    assert "TimeoutError" in line["detail"]
    fetcher.down = False  # the endpoint is back: the next attempt (after the backoff) recovers
    clock.advance(60)
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-2"))))) == "Allow"


def test_max_stale_zero_denies_as_soon_as_a_refetch_fails_after_the_ttl() -> None:
    authorizer, clock, fetcher = outage_authorizer(max_stale=0)
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-0"))))) == "Allow"
    fetcher.down = True
    clock.advance(3599)
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-1"))))) == "Allow"
    clock.advance(1)
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(ACME, "u-2"))))) == "Deny"


def attempt_gaps(cache: JwksCache, clock: FakeClock, fetcher: OutageFetcher, seconds: int) -> list[float]:
    """Ask for a key once a second for ``seconds`` and return the gaps between the fetch attempts."""
    start = len(fetcher.attempts)
    denials: list[str] = []
    for _ in range(seconds):
        try:
            cache.key(URI, ACME.kid)
        except Denied as exc:  # a deny while no key set is usable
            denials.append(exc.code)
        clock.advance(1)
    assert set(denials) <= {"jwks-unavailable", "jwks-stale"}
    tried = fetcher.attempts[start:]
    return [b - a for a, b in itertools.pairwise(tried)]


def test_refetch_backoff_after_failures_is_exactly_60_120_240_480_900_900() -> None:
    clock = FakeClock()
    fetcher = OutageFetcher(clock)
    cache = JwksCache(fetcher, clock=clock)
    cache.key(URI, ACME.kid)
    fetcher.down = True
    clock.advance(3600)
    assert attempt_gaps(cache, clock, fetcher, 60 + 120 + 240 + 480 + 900 + 900 + 1) == [60, 120, 240, 480, 900, 900]
    assert cache.stale_for(URI) == 2700 + 1


def test_a_cold_start_during_an_outage_backs_off_too() -> None:
    clock = FakeClock()
    fetcher = OutageFetcher(clock, down=True)
    cache = JwksCache(fetcher, clock=clock)
    assert attempt_gaps(cache, clock, fetcher, 60 + 120 + 240 + 1) == [60, 120, 240]


def test_recovery_resets_the_backoff() -> None:
    clock = FakeClock()
    fetcher = OutageFetcher(clock)
    cache = JwksCache(fetcher, clock=clock)
    cache.key(URI, ACME.kid)
    fetcher.down = True
    clock.advance(3600)
    assert attempt_gaps(cache, clock, fetcher, 60 + 120 + 1) == [60, 120]  # failures at +0, +60, +180
    fetcher.down = False
    clock.advance(240 - 1)  # to the next scheduled attempt, 240 s after the last failure
    cache.key(URI, ACME.kid)
    assert fetcher.attempts[-1] == fetcher.attempts[-2] + 240, "recovered on the scheduled attempt"
    assert cache.stale_for(URI) is None
    fetcher.down = True
    clock.advance(3600)
    assert attempt_gaps(cache, clock, fetcher, 60 + 120 + 1) == [60, 120], "the schedule starts again at 60 s"


def test_an_unknown_kid_refetches_at_most_once_a_minute_also_while_stale() -> None:
    clock = FakeClock()
    fetcher = OutageFetcher(clock)
    cache = JwksCache(fetcher, clock=clock)
    cache.key(URI, ACME.kid)
    for _ in range(59):
        clock.advance(1)
        with pytest.raises(Exception, match="not in the issuer's JWKS"):
            cache.key(URI, "rotated-in")
    assert len(fetcher.attempts) == 1
    clock.advance(1)
    with pytest.raises(Exception, match="not in the issuer's JWKS"):
        cache.key(URI, "rotated-in")
    assert len(fetcher.attempts) == 2
    # during an outage the backoff, not the kid, decides when the next attempt happens
    fetcher.down = True
    clock.advance(3600)
    cache.key(URI, ACME.kid)  # stale but served; the failed refetch starts the backoff
    for _ in range(59):
        clock.advance(1)
        with pytest.raises(Exception, match="not in the issuer's JWKS"):
            cache.key(URI, "rotated-in")
    assert len(fetcher.attempts) == 3


def test_a_garbage_jwks_response_does_not_replace_the_last_good_keys() -> None:
    clock = FakeClock()
    answers: list[Any] = [jwks(ACME), {"keys": []}, {"nope": 1}]

    def fetch(uri: str) -> Any:
        return answers.pop(0)

    cache = JwksCache(fetch, clock=clock)
    good = cache.key(URI, ACME.kid)
    clock.advance(3600)
    assert cache.key(URI, ACME.kid).key_id == good.key_id
    clock.advance(60)
    assert cache.key(URI, ACME.kid).key_id == good.key_id
    assert answers == []


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 21600), ("", 21600), ("0", 0), ("3600", 3600), ("86400", 86400)]
)
def test_the_stale_window_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: float
) -> None:
    if value is None:
        monkeypatch.delenv("AUTHZ_JWKS_MAX_STALE_SECONDS", raising=False)
    else:
        monkeypatch.setenv("AUTHZ_JWKS_MAX_STALE_SECONDS", value)
    authorizer = build_authorizer(config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp_double())
    assert authorizer.verifier.jwks.max_stale == expected


@pytest.mark.parametrize("value", ["-1", "86401", "6h", "1e3", "nan"])
def test_a_bad_stale_window_in_the_environment_denies_every_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    import saas_platform.handlers.authorizer as module

    monkeypatch.setenv("AUTHZ_JWKS_MAX_STALE_SECONDS", value)
    with pytest.raises(ConfigError, match="AUTHZ_JWKS_MAX_STALE_SECONDS"):
        build_authorizer(config_json(), registry=fake_registry(), fetch=CountingFetcher(), avp=avp_double())
    monkeypatch.setenv("AUTHZ_CONFIG", config_json())
    monkeypatch.setattr(module, "_AUTHORIZER", None)
    caplog.clear()
    with caplog.at_level("INFO"):
        assert effect(lambda_handler(event(*ME, auth=bearer(token(ACME, "u-1"))), None)) == "Deny"
    (line,) = decision_lines(caplog)
    assert line["reason"] == "not-configured"


# ------------------------------------------------------------------------------ the tenant registry (moto)
REGISTRY = "TenantRegistryDev"


@pytest.fixture
def registry_table(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The registry in moto (the component's key, index and item shape), both tenants active, a fake clock."""
    for key, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry(client, REGISTRY)
        for tenant in (ACME, GLOBEX):
            client.put_item(TableName=REGISTRY, Item=tenant_item(tenant))
        clock = FakeClock()
        reader = TenantRegistry(REGISTRY, client, clock=clock)
        authorizer = build_authorizer(config_json(), fetch=CountingFetcher(), avp=avp_double(), registry=reader)
        yield {"client": client, "clock": clock, "reader": reader, "authorizer": authorizer}


def _decide(registry_table: Any, tenant: Any = ACME, sub: str = "u-1", **kw: Any) -> tuple[dict[str, Any], Any]:
    return registry_table["authorizer"].decide(event(*ME, auth=bearer(token(tenant, sub, **kw)))), registry_table


@pytest.mark.parametrize("status", ["suspended", "offboarded"])
def test_a_suspended_tenant_is_denied_within_one_registry_ttl(
    registry_table: Any, caplog: pytest.LogCaptureFixture, status: str
) -> None:
    authorizer, clock, client = registry_table["authorizer"], registry_table["clock"], registry_table["client"]
    seen = event(*ME, auth=bearer(token(ACME, "u-1")))  # this token will sit in the verified-token cache
    assert effect(authorizer.decide(seen)) == "Allow"
    client.put_item(TableName=REGISTRY, Item=tenant_item(ACME, status))
    clock.advance(59)
    assert effect(authorizer.decide(seen)) == "Allow"  # inside the TTL: the documented window
    clock.advance(2)  # one registry TTL (60 s) after the first read
    for ev in (seen, event(*ME, auth=bearer(token(ACME, "u-2")))):  # a cached token and a fresh one
        response, line = decide_logged(authorizer, ev, caplog)
        assert effect(response) == "Deny"
        assert line["reason"] == f"tenant-{status}"
    assert effect(authorizer.decide(event(*ME, auth=bearer(token(GLOBEX, "g-1"))))) == "Allow"  # others unaffected


def test_an_unknown_pool_is_denied_and_remembered(registry_table: Any, caplog: pytest.LogCaptureFixture) -> None:
    authorizer, reader = registry_table["authorizer"], registry_table["reader"]
    stranger = claims(ACME, "u-1", iss=f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Unknown99")
    for _ in range(25):
        response, line = decide_logged(authorizer, event(*ME, auth=_bearer_for(stranger)), caplog)
        assert effect(response) == "Deny"
        assert line["reason"] == "issuer-unknown"
    assert reader.reads == 1  # negative caching: one read per unknown pool per 30 s


@pytest.mark.parametrize(
    "issuer",
    [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",  # another region
        f"https://cognito-idp.{REGION}.amazonaws.com/us-east-1_AbCdEf123",  # pool of another region
        f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_{'A' * 41}",  # longer than a pool id
        f"https://evil.example.com/{REGION}_AbCdEf123",
        f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_AbCdEf123/",
        "",
    ],
)
def test_the_issuer_shape_is_checked_before_any_registry_read(registry_table: Any, issuer: str) -> None:
    response, table = _decide(registry_table, iss=issuer)
    assert effect(response) == "Deny"
    assert table["reader"].reads == 0


def test_the_registry_down_with_nothing_cached_denies(registry_table: Any, caplog: pytest.LogCaptureFixture) -> None:
    registry_table["reader"]._client = Broken()
    response, line = decide_logged(registry_table["authorizer"], event(*ME, auth=bearer(token(ACME, "u-1"))), caplog)
    assert effect(response) == "Deny"
    assert (line["reason"], line["level"]) == ("registry-unavailable", "WARNING")


def test_the_registry_down_with_a_fresh_cache_still_serves(registry_table: Any) -> None:
    assert effect(_decide(registry_table, sub="u-0")[0]) == "Allow"
    registry_table["reader"]._client = Broken()
    registry_table["clock"].advance(30)
    assert effect(_decide(registry_table, sub="u-1")[0]) == "Allow"  # fresh: served from the cache
    registry_table["clock"].advance(30 + 300)  # past the TTL and the 300 s stale window
    assert effect(_decide(registry_table, sub="u-2")[0]) == "Deny"


def test_the_warm_path_reads_the_registry_once_per_pool_per_ttl(registry_table: Any) -> None:
    for i in range(50):
        assert effect(_decide(registry_table, sub=f"u-{i}")[0]) == "Allow"
        assert effect(_decide(registry_table, GLOBEX, sub=f"g-{i}")[0]) == "Allow"
    assert registry_table["reader"].reads == 2  # one per pool, not one per request
    registry_table["clock"].advance(61)
    _decide(registry_table, sub="u-x")
    assert registry_table["reader"].reads == 3


def test_the_system_pool_has_no_api(registry_table: Any, caplog: pytest.LogCaptureFixture) -> None:
    system_pool = f"{REGION}_SyStEm000"
    registry_table["client"].put_item(
        TableName=REGISTRY,
        Item=tenant_item(ACME, tenant_id="system", user_pool_id=system_pool, policy_store_id=None, usage_key=None),
    )
    ev = event(
        *ME, auth=_bearer_for(claims(ACME, "s-1", iss=f"https://cognito-idp.{REGION}.amazonaws.com/{system_pool}"))
    )
    response, line = decide_logged(registry_table["authorizer"], ev, caplog)
    assert effect(response) == "Deny"
    assert line["reason"] == "issuer-unknown"


def test_the_usage_key_and_clients_come_from_the_registry(registry_table: Any) -> None:
    response, _ = _decide(registry_table)
    assert response["usageIdentifierKey"] == "usage-key-acme"
    registry_table["client"].put_item(TableName=REGISTRY, Item=tenant_item(ACME, usage_key="usage-key-acme-2"))
    registry_table["clock"].advance(61)
    assert _decide(registry_table)[0]["usageIdentifierKey"] == "usage-key-acme-2"  # the same, cached, token
    retired = tenant_item(ACME, client_ids=["acmenewclient0000000000001"])
    registry_table["client"].put_item(TableName=REGISTRY, Item=retired)
    registry_table["clock"].advance(61)
    assert effect(_decide(registry_table)[0]) == "Deny"  # cached token, but its aud is no longer a client


def test_without_a_registry_table_the_lambda_entry_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import saas_platform.handlers.authorizer as module
    from saas_platform.handlers import _registry

    monkeypatch.setattr(module, "_AUTHORIZER", None)
    monkeypatch.setenv("AUTHZ_CONFIG", config_json())
    monkeypatch.delenv("SAAS_REGISTRY_TABLE", raising=False)
    _registry.reset()
    caplog.clear()
    with caplog.at_level("INFO"):
        assert effect(lambda_handler(event(*ME, auth=bearer(token(ACME, "u-1"))), None)) == "Deny"
    (line,) = decision_lines(caplog)
    assert line["reason"] == "not-configured"
    assert "SAAS_REGISTRY_TABLE" in line["detail"]


class Broken:
    """A DynamoDB client whose every call fails (the registry is unreachable)."""

    def get_item(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")

    def query(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")
