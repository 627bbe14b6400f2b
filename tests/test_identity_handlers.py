"""Cognito triggers: pre-authentication (environment gate) and pre-token-generation V2 (tenant claims).

One function pair serves every pool, so the tenant comes from the tenant registry (moto DynamoDB, built with the
component's own key, index and item shape; a fake clock): the event's ``userPoolId`` -> the tenant's item, whose
``appClients`` map says which environment each app client serves. AWS-shaped events come from tests/events/.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from saas_platform.handlers import _identity, _registry, pre_authentication, pre_token_generation
from saas_platform.handlers._identity import SignInDenied, TriggerMisconfigured, TriggerSettings
from saas_platform.handlers._registry import TenantRecord, TenantRegistry
from tests.registry_support import put_tenant, registry_table

EVENTS = Path(__file__).parent / "events"
TABLE = "TenantRegistryProd"
REGION = "ap-southeast-1"
ACME_POOL = f"{REGION}_AcmePool1"
GLOBEX_POOL = f"{REGION}_GlobexPl1"
SYSTEM_POOL = f"{REGION}_SystemPl1"
CLIENTS = {  # client name (as the stack names them) -> client id
    "AIML-SaaS-acme-hr-admin-dev": "acmehradmindev000000000001",
    "AIML-SaaS-acme-ess-mobile-staging": "acmeessmobilestaging000001",
    "AIML-SaaS-acme-hr-admin-prod": "acmehradminprod00000000001",
    "AIML-SaaS-globex-hr-admin-prod": "globexhradminprod000000001",
    "AIML-SaaS-system-hr-admin-prod": "systemhradminprod000000001",
    "postman-test-client": "postmantestclient000000001",
}
ACME_APP_CLIENTS = {
    CLIENTS["AIML-SaaS-acme-hr-admin-dev"]: "dev",
    CLIENTS["AIML-SaaS-acme-ess-mobile-staging"]: "staging",
    CLIENTS["AIML-SaaS-acme-hr-admin-prod"]: "prod",
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Context:
    function_name = "AIML-SaaS-PreToken-S00-Prod"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:123456789012:function:AIML-SaaS-PreToken-S00-Prod"
    aws_request_id = "req-1"


CONTEXT = cast(LambdaContext, Context())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Unreachable:
    """A DynamoDB client whose every call fails (the registry is down)."""

    def get_item(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")

    def query(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")


def put_acme(ddb: Any, status: str = "active") -> None:
    put_tenant(ddb, TABLE, "acme", ACME_POOL, status, client_ids=("acmehradminprod00000000001",),
               app_clients=ACME_APP_CLIENTS)  # fmt: skip


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch):
    """The owning stack's registry: acme, globex and system with their pools and app clients; the triggers'
    settings as ``CognitoTriggers`` writes them; a reader with a fake clock installed as the container's."""
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAAS_TENANT_ROLES": "admin,user",
        "SAAS_SYSTEM_ROLES": "admin,superuser,support",
        "SAAS_CLIENT_ENVIRONMENTS": "dev,staging,prod",
        "SAAS_REGISTRY_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(key, value)
    _identity.reset()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        registry_table(ddb, TABLE)
        put_acme(ddb)
        put_tenant(ddb, TABLE, "globex", GLOBEX_POOL, app_clients={CLIENTS["AIML-SaaS-globex-hr-admin-prod"]: "prod"})
        put_tenant(ddb, TABLE, "system", SYSTEM_POOL, policy_store_id=None,
                   app_clients={CLIENTS["AIML-SaaS-system-hr-admin-prod"]: "prod"})  # fmt: skip
        clock = FakeClock()
        reader = TenantRegistry(TABLE, ddb, clock=clock)
        _registry.use(reader)
        yield {"ddb": ddb, "pool_id": ACME_POOL, "clients": CLIENTS, "clock": clock, "reader": reader}
    _identity.reset()


def event_for(name: str, cognito: dict[str, Any], client: str, **attributes: str | None) -> dict[str, Any]:
    event = load_event(name)
    event["userPoolId"] = cognito["pool_id"]
    event["callerContext"]["clientId"] = cognito["clients"].get(client, client)
    attrs = event["request"]["userAttributes"]
    for key, value in attributes.items():
        claim = f"custom:{key}"
        if value is None:
            attrs.pop(claim, None)
        else:
            attrs[claim] = value
    return event


# ------------------------------------------------------------------------------------------ pre-authentication


def test_pre_auth_allows_an_entitled_user(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    assert pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT) == event


def test_pre_auth_allows_the_mobile_client_of_an_entitled_environment(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-ess-mobile-staging")
    assert pre_authentication.lambda_handler(event, CONTEXT)["userPoolId"] == cognito["pool_id"]


def test_pre_auth_rejects_an_environment_the_user_may_not_use(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-dev")  # user: staging,prod
    with pytest.raises(SignInDenied, match="may not use the dev environment"):
        pre_authentication.lambda_handler(event, CONTEXT)


@pytest.mark.parametrize(
    "client", ["AIML-SaaS-globex-hr-admin-prod", "postman-test-client", "does-not-exist-client-id"]
)
def test_pre_auth_rejects_clients_it_does_not_know(cognito, client):
    event = event_for("pre_authentication.json", cognito, client)
    with pytest.raises(SignInDenied, match="unknown app client"):
        pre_authentication.lambda_handler(event, CONTEXT)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"tenantId": None}, "has no tenant"),
        ({"tenantId": ""}, "has no tenant"),
        ({"tenantId": "globex"}, "another tenant"),
        ({"tenantRole": None}, "no valid tenant role"),
        ({"tenantRole": "superuser"}, "no valid tenant role"),
        ({"environments": None}, "may not use the prod"),
        ({"environments": "production"}, "may not use the prod"),
        ({"environments": "prod-eu"}, "may not use the prod"),
        ({"environments": "*"}, "may not use the prod"),
    ],
)
def test_pre_auth_rejects_users_without_a_valid_entitlement(cognito, attributes, reason):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod", **attributes)
    with pytest.raises(SignInDenied, match=reason):
        pre_authentication.lambda_handler(event, CONTEXT)


def test_pre_auth_ignores_client_supplied_validation_data(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-dev")
    event["request"]["validationData"] = {"custom:environments": "dev,staging,prod"}
    with pytest.raises(SignInDenied):
        pre_authentication.lambda_handler(event, CONTEXT)


def test_pre_auth_denies_everything_when_misconfigured(cognito, monkeypatch):
    monkeypatch.delenv("SAAS_TENANT_ROLES")
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    with pytest.raises(TriggerMisconfigured):
        pre_authentication.lambda_handler(event, CONTEXT)


def test_client_environments_come_from_the_cached_registry_record(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)
    reads = cognito["reader"].reads
    put_tenant(cognito["ddb"], TABLE, "acme", ACME_POOL, app_clients={"someotherclient000000000001": "prod"})
    cognito["clock"].advance(30)
    pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)  # answered from the cached record
    assert cognito["reader"].reads == reads  # a warm container reads nothing
    cognito["clock"].advance(31)  # past the 60 s TTL: the client is no longer the pool's
    with pytest.raises(SignInDenied, match="unknown app client"):
        pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)


# ------------------------------------------------------------------------------------- the tenant registry

TRIGGERS = [
    ("pre-auth", "pre_authentication.json", pre_authentication, "sign-in denied"),
    ("pre-token", "pre_token_generation_v2.json", pre_token_generation, "token refused"),
]


def denial_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {"message": r.getMessage(), "reason": getattr(r, "reason", None), "pool": getattr(r, "user_pool_id", None)}
        for r in caplog.records
        if r.levelname == "WARNING"
    ]


@pytest.mark.parametrize(("trigger", "name", "handler", "message"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_unknown_pool_is_refused_with_one_log_line(cognito, caplog, trigger, name, handler, message):
    event = event_for(name, cognito, "AIML-SaaS-acme-hr-admin-prod")
    event["userPoolId"] = f"{REGION}_Unknown99"
    caplog.clear()
    with pytest.raises(SignInDenied, match="not in the tenant registry"):
        handler.lambda_handler(event, CONTEXT)
    (line,) = denial_lines(caplog)
    assert line["message"] == message
    assert "not in the tenant registry" in line["reason"]
    assert line["pool"] == f"{REGION}_Unknown99"


@pytest.mark.parametrize("status", ["suspended", "offboarded"])
@pytest.mark.parametrize(("trigger", "name", "handler", "message"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_suspended_tenant_is_refused_within_one_registry_ttl(cognito, caplog, trigger, name, handler, message, status):
    event = event_for(name, cognito, "AIML-SaaS-acme-hr-admin-prod")
    handler.lambda_handler(copy.deepcopy(event), CONTEXT)  # active: allowed, and now cached
    put_acme(cognito["ddb"], status)
    cognito["clock"].advance(59)
    handler.lambda_handler(copy.deepcopy(event), CONTEXT)  # inside the TTL: the documented window
    cognito["clock"].advance(2)  # one TTL (60 s) after the first read
    caplog.clear()
    with pytest.raises(SignInDenied, match=f"tenant is {status}"):
        handler.lambda_handler(copy.deepcopy(event), CONTEXT)
    (line,) = denial_lines(caplog)
    assert line["message"] == message
    assert f"is {status}" in line["reason"]


@pytest.mark.parametrize(("trigger", "name", "handler", "message"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_registry_down_with_nothing_cached_refuses(cognito, trigger, name, handler, message):
    _registry.use(TenantRegistry(TABLE, Unreachable(), clock=cognito["clock"]))
    with pytest.raises(SignInDenied, match="tenant registry is unavailable"):
        handler.lambda_handler(event_for(name, cognito, "AIML-SaaS-acme-hr-admin-prod"), CONTEXT)


@pytest.mark.parametrize(("trigger", "name", "handler", "message"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_registry_down_with_a_fresh_cache_still_serves(cognito, trigger, name, handler, message):
    event = event_for(name, cognito, "AIML-SaaS-acme-hr-admin-prod")
    handler.lambda_handler(copy.deepcopy(event), CONTEXT)
    cognito["reader"]._client = Unreachable()  # the registry goes away
    cognito["clock"].advance(30)  # still fresh
    handler.lambda_handler(copy.deepcopy(event), CONTEXT)
    cognito["clock"].advance(60 + 300)  # past the TTL and the 300 s stale window
    with pytest.raises(SignInDenied, match="tenant registry is unavailable"):
        handler.lambda_handler(copy.deepcopy(event), CONTEXT)


def test_a_client_of_another_pool_is_unknown_even_when_registered(cognito):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-globex-hr-admin-prod")  # acme's pool
    with pytest.raises(SignInDenied, match="unknown app client"):
        pre_token_generation.lambda_handler(event, CONTEXT)


def test_system_pool_is_served_with_the_system_roles(cognito):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-system-hr-admin-prod",
                      tenantId="system", tenantRole="superuser")  # fmt: skip
    event["userPoolId"] = SYSTEM_POOL
    id_claims, _ = claims_of(pre_token_generation.lambda_handler(copy.deepcopy(event), CONTEXT))
    assert id_claims["custom:tenantId"] == "system"
    assert id_claims["custom:tenantRole"] == "superuser"
    event["request"]["userAttributes"]["custom:tenantRole"] = "user"  # a customer role is not a system role
    with pytest.raises(SignInDenied, match="no valid tenant role"):
        pre_token_generation.lambda_handler(event, CONTEXT)
    acme_user = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-system-hr-admin-prod")
    acme_user["userPoolId"] = SYSTEM_POOL  # an acme user in the system pool: another tenant
    with pytest.raises(SignInDenied, match="another tenant"):
        pre_token_generation.lambda_handler(acme_user, CONTEXT)


def test_missing_registry_table_is_a_misconfigured_trigger(cognito, monkeypatch):
    _identity.reset()
    monkeypatch.delenv("SAAS_REGISTRY_TABLE")
    with pytest.raises(TriggerMisconfigured, match="SAAS_REGISTRY_TABLE"):
        pre_authentication.lambda_handler(event_for("pre_authentication.json", cognito, "x"), CONTEXT)


# ------------------------------------------------------------------------------------------ pre-token-generation


def claims_of(result: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    details = result["response"]["claimsAndScopeOverrideDetails"]
    return (
        details["idTokenGeneration"]["claimsToAddOrOverride"],
        details["accessTokenGeneration"]["claimsToAddOrOverride"],
    )


def test_pre_token_adds_tenant_claims_to_id_and_access_tokens(cognito):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    id_claims, access_claims = claims_of(pre_token_generation.lambda_handler(event, CONTEXT))
    expected = {"custom:tenantId": "acme", "custom:tenantRole": "admin", "custom:environment": "prod"}
    assert id_claims == expected
    assert access_claims == expected


def test_pre_token_environment_claim_follows_the_client(cognito):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-acme-ess-mobile-staging")
    id_claims, access_claims = claims_of(pre_token_generation.lambda_handler(event, CONTEXT))
    assert id_claims["custom:environment"] == access_claims["custom:environment"] == "staging"


def test_pre_token_rechecks_the_environment_on_refresh(cognito):
    """Refresh skips pre-authentication (isolation invariant 17): the pre-token trigger must deny it itself."""
    event = event_for("pre_token_generation_v2_refresh.json", cognito, "AIML-SaaS-acme-hr-admin-dev")
    with pytest.raises(SignInDenied, match="may not use the dev environment"):
        pre_token_generation.lambda_handler(event, CONTEXT)
    allowed = event_for("pre_token_generation_v2_refresh.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    assert claims_of(pre_token_generation.lambda_handler(allowed, CONTEXT))[1]["custom:environment"] == "prod"


def test_pre_token_never_copies_claims_from_client_metadata(cognito):
    event = event_for("pre_token_generation_v2_client_metadata.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    assert event["request"]["clientMetadata"]["custom:tenantId"] == "globex"
    id_claims, access_claims = claims_of(pre_token_generation.lambda_handler(event, CONTEXT))
    assert (
        id_claims
        == access_claims
        == {
            "custom:tenantId": "acme",
            "custom:tenantRole": "user",
            "custom:environment": "prod",
        }
    )


@pytest.mark.parametrize(
    ("attributes", "reason"), [({"tenantId": None}, "has no tenant"), ({"tenantId": "globex"}, "another tenant")]
)
def test_pre_token_refuses_a_user_without_this_tenant(cognito, attributes, reason):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-acme-hr-admin-prod", **attributes)
    with pytest.raises(SignInDenied, match=reason):
        pre_token_generation.lambda_handler(event, CONTEXT)


def test_pre_token_refuses_a_v1_event(cognito):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    event["version"] = "1"
    with pytest.raises(SignInDenied, match="V2"):
        pre_token_generation.lambda_handler(event, CONTEXT)


def test_system_tenant_roles(cognito):
    settings_ = TriggerSettings.from_env()
    attrs = {"custom:tenantId": "system", "custom:tenantRole": "superuser", "custom:environments": "prod"}
    assert pre_token_generation.tenant_claims(attrs, "prod", "system", settings_)["custom:tenantRole"] == "superuser"
    with pytest.raises(SignInDenied):
        pre_token_generation.tenant_claims({**attrs, "custom:tenantRole": "user"}, "prod", "system", settings_)
    with pytest.raises(SignInDenied):  # a system role in a customer pool
        pre_token_generation.tenant_claims({**attrs, "custom:tenantId": "acme"}, "prod", "acme", settings_)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SAAS_TENANT_ROLES": "admin", "SAAS_CLIENT_ENVIRONMENTS": "prod"},
        {"SAAS_SYSTEM_ROLES": "admin", "SAAS_CLIENT_ENVIRONMENTS": "prod"},
        {"SAAS_TENANT_ROLES": "admin", "SAAS_SYSTEM_ROLES": "admin", "SAAS_CLIENT_ENVIRONMENTS": "qa"},
    ],
)
def test_settings_fail_closed(env):
    with pytest.raises(TriggerMisconfigured):
        TriggerSettings.from_env(env)


def test_client_environment_only_from_the_pools_registry_entry():
    s = TriggerSettings(frozenset({"admin", "user"}), frozenset({"admin"}), frozenset({"staging", "prod"}))
    record = TenantRecord(
        tenant_id="acme", user_pool_id=ACME_POOL, client_ids=frozenset({"p"}), identity_pool_id="i",
        policy_store_id="s", tier="standard", status="active",
        app_clients=(("d", "dev"), ("p", "prod"), ("s", "staging")),
    )  # fmt: skip
    assert _identity.resolve_environment(record, "p", s) == "prod"
    assert _identity.resolve_environment(record, "s", s) == "staging"
    for client in ("d", "P", "p ", "", "x"):  # dev: this stack created no dev clients
        with pytest.raises(SignInDenied, match="unknown app client"):
            _identity.resolve_environment(record, client, s)


# ------------------------------------------------------------------------------------------ hostile events

_text = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["acme", "globex", "", "admin", "user", "prod"]))


def _claim(valid: str, *interesting: str | None) -> st.SearchStrategy[Any]:
    """Mostly the valid value (so the other claims' mistakes get exercised), else a wrong or junk one."""
    wrong = st.one_of(st.sampled_from(interesting), st.text(max_size=12), st.integers(), st.lists(st.text(max_size=3)))
    return st.one_of(st.just(valid), st.just(valid), wrong)


@st.composite
def _attributes(draw: st.DrawFn) -> dict[str, Any]:
    """Near-valid user attributes: each tenant claim valid, wrong, oddly spelled, junk or absent."""
    attrs: dict[str, Any] = {"sub": "3c1d7e2a", "email": "jane.doe@acme.example"}
    for key, strategy in (
        ("custom:tenantId", _claim("acme", "globex", "", None, "ACME", "acme ", "system")),
        ("custom:tenantRole", _claim("admin", "user", "superuser", "", None, "Admin")),
        ("custom:environments", _claim("prod", "staging", "dev,staging,prod", "", None, "prod,", " prod", "*")),
        ("custom:environment", _claim("prod", "dev", None)),
    ):
        value = draw(strategy)
        if value is not None:
            attrs[key] = value
    return attrs


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attributes=_attributes(),
    client=st.sampled_from(
        ["AIML-SaaS-acme-hr-admin-prod", "AIML-SaaS-acme-ess-mobile-staging", "AIML-SaaS-globex-hr-admin-prod", ""]
    ),
    metadata=st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["custom:tenantId", "custom:environment", "tenantId"]), _text)
    ),
    version=st.sampled_from(["2", "1", 2, None]),
    drop=st.sets(st.sampled_from(["request", "response", "callerContext", "userPoolId", "version"]), max_size=2),
)
def test_no_malformed_event_yields_a_token_without_this_tenant(cognito, attributes, client, metadata, version, drop):
    event = event_for("pre_token_generation_v2.json", cognito, client)
    event["request"]["userAttributes"] = attributes
    event["request"]["clientMetadata"] = metadata
    event["version"] = version
    for key in drop:
        event.pop(key, None)
    try:
        result = pre_token_generation.lambda_handler(event, CONTEXT)
    except Exception:  # any exception is a refused token, which is the safe outcome
        return
    for claims in claims_of(result):
        assert claims["custom:tenantId"] == "acme"
        assert claims["custom:tenantRole"] in {"admin", "user"}
        allowed = attributes.get("custom:environments")
        assert isinstance(allowed, str)
        assert claims["custom:environment"] in [e.strip() for e in allowed.split(",")]
        assert claims["custom:environment"] == {"AIML-SaaS-acme-hr-admin-prod": "prod"}.get(client, "staging")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    attributes=_attributes(),
    client=st.sampled_from(
        ["AIML-SaaS-acme-hr-admin-prod", "AIML-SaaS-acme-hr-admin-dev", "AIML-SaaS-globex-hr-admin-prod", "x"]
    ),
    validation=st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["custom:environments", "custom:tenantId"]), _text)
    ),
)
def test_no_malformed_event_lets_an_unentitled_user_sign_in(cognito, attributes, client, validation):
    event = event_for("pre_authentication.json", cognito, client)
    event["request"]["userAttributes"] = attributes
    event["request"]["validationData"] = validation
    try:
        pre_authentication.lambda_handler(event, CONTEXT)
    except Exception:  # a refused sign-in is the safe outcome
        return
    environment = {"AIML-SaaS-acme-hr-admin-prod": "prod", "AIML-SaaS-acme-hr-admin-dev": "dev"}[client]
    assert attributes["custom:tenantId"] == "acme"
    assert attributes["custom:tenantRole"] in {"admin", "user"}
    assert environment in [e.strip() for e in str(attributes["custom:environments"]).split(",")]


# ------------------------------------------------------------------------------------------ AWS event shapes


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The structured WARNING lines the handler logged (Powertools keeps ``extra`` keys on the record)."""
    return [
        {"message": r.getMessage(), "reason": getattr(r, "reason", None)}
        for r in caplog.records
        if r.levelname == "WARNING"
    ]


@pytest.mark.parametrize("details", [[], None], ids=["console-test-event-list", "null"])
def test_pre_token_accepts_the_documented_empty_override_shapes(cognito, details):
    # the Cognito console's V2 test event sends "claimsAndScopeOverrideDetails": [] (an AttributeError before)
    event = event_for("pre_token_generation_v2_console_test.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    assert load_event("pre_token_generation_v2_console_test.json")["response"]["claimsAndScopeOverrideDetails"] == []
    event["response"]["claimsAndScopeOverrideDetails"] = details
    id_claims, access_claims = claims_of(pre_token_generation.lambda_handler(event, CONTEXT))
    assert (
        id_claims
        == access_claims
        == {"custom:tenantId": "acme", "custom:tenantRole": "user", "custom:environment": "prod"}
    )


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        (("callerContext",), "callerContext.clientId is missing"),
        (("request", "userAttributes"), "request.userAttributes is missing"),
        (("userPoolId",), "userPoolId is missing"),
    ],
)
@pytest.mark.parametrize("trigger", ["pre-auth", "pre-token"])
def test_malformed_trigger_events_are_refused_with_one_log_line(cognito, caplog, drop, reason, trigger):
    name = "pre_authentication.json" if trigger == "pre-auth" else "pre_token_generation_v2.json"
    handler = pre_authentication if trigger == "pre-auth" else pre_token_generation
    event = event_for(name, cognito, "AIML-SaaS-acme-hr-admin-prod")
    target = event
    for key in drop[:-1]:
        target = target[key]
    del target[drop[-1]]
    caplog.clear()
    with pytest.raises(SignInDenied, match=reason):
        handler.lambda_handler(event, CONTEXT)
    (line,) = refusal_lines(caplog)
    assert reason in line["reason"]


def test_pre_token_without_response_gets_one_and_a_misconfigured_trigger_logs_why(cognito, caplog, monkeypatch):
    event = event_for("pre_token_generation_v2.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    del event["response"]
    assert claims_of(pre_token_generation.lambda_handler(copy.deepcopy(event), CONTEXT))[0]["custom:tenantId"] == "acme"
    monkeypatch.delenv("SAAS_TENANT_ROLES")
    caplog.clear()
    with pytest.raises(SignInDenied):
        pre_token_generation.lambda_handler(copy.deepcopy(event), CONTEXT)
    (line,) = refusal_lines(caplog)
    assert line["message"] == "token refused"
    assert "SAAS_TENANT_ROLES" in line["reason"]
