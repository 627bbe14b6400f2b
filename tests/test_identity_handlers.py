"""Cognito triggers: pre-authentication (environment gate) and pre-token-generation V2 (tenant claims).

AWS-shaped events come from tests/events/; app clients live in moto's cognito-idp, named as the stack names
them (``<prefix>-<tenant>-<frontend>-<environment>``), so the triggers' DescribeUserPoolClient lookup is real.
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

from saas_platform.handlers import _identity, pre_authentication, pre_token_generation
from saas_platform.handlers._identity import SignInDenied, TriggerMisconfigured, TriggerSettings

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Context:
    function_name = "AIML-SaaS-acme-PreToken-Prod"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:123456789012:function:AIML-SaaS-acme-PreToken-Prod"
    aws_request_id = "req-1"


CONTEXT = cast(LambdaContext, Context())


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch):
    """A moto user pool for tenant acme with the stack's client names, plus a foreign and an odd client."""
    for key, value in {
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAAS_TENANT_ID": "acme",
        "SAAS_NAME_PREFIX": "AIML-SaaS",
        "SAAS_TENANT_ROLES": "admin,user",
        "SAAS_CLIENT_ENVIRONMENTS": "dev,staging,prod",
    }.items():
        monkeypatch.setenv(key, value)
    _identity.reset()
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="ap-southeast-1")
        pool_id = idp.create_user_pool(PoolName="AIML-SaaS-acme")["UserPool"]["Id"]
        clients = {}
        for name in (
            "AIML-SaaS-acme-hr-admin-dev",
            "AIML-SaaS-acme-ess-mobile-staging",
            "AIML-SaaS-acme-hr-admin-prod",
            "AIML-SaaS-globex-hr-admin-prod",
            "postman-test-client",
        ):
            clients[name] = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=name)["UserPoolClient"][
                "ClientId"
            ]
        yield {"idp": idp, "pool_id": pool_id, "clients": clients}
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
    monkeypatch.delenv("SAAS_TENANT_ID")
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    with pytest.raises(TriggerMisconfigured):
        pre_authentication.lambda_handler(event, CONTEXT)


def test_client_names_are_cached_per_container(cognito):
    event = event_for("pre_authentication.json", cognito, "AIML-SaaS-acme-hr-admin-prod")
    pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)
    cognito["idp"].delete_user_pool_client(
        UserPoolId=cognito["pool_id"], ClientId=cognito["clients"]["AIML-SaaS-acme-hr-admin-prod"]
    )
    pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)  # answered from the cache
    _identity.reset()
    with pytest.raises(SignInDenied, match="unknown app client"):
        pre_authentication.lambda_handler(copy.deepcopy(event), CONTEXT)


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


def test_system_tenant_roles(cognito, monkeypatch):
    monkeypatch.setenv("SAAS_TENANT_ID", "system")
    monkeypatch.setenv("SAAS_TENANT_ROLES", "admin,superuser,support")
    settings_ = TriggerSettings.from_env()
    attrs = {"custom:tenantId": "system", "custom:tenantRole": "superuser", "custom:environments": "prod"}
    assert pre_token_generation.tenant_claims(attrs, "prod", settings_)["custom:tenantRole"] == "superuser"
    with pytest.raises(SignInDenied):
        pre_token_generation.tenant_claims({**attrs, "custom:tenantRole": "user"}, "prod", settings_)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SAAS_TENANT_ID": "acme", "SAAS_NAME_PREFIX": "AIML-SaaS", "SAAS_TENANT_ROLES": "admin"},
        {
            "SAAS_TENANT_ID": "acme",
            "SAAS_NAME_PREFIX": "AIML-SaaS",
            "SAAS_TENANT_ROLES": "admin",
            "SAAS_CLIENT_ENVIRONMENTS": "qa",
        },
    ],
)
def test_settings_fail_closed(env):
    with pytest.raises(TriggerMisconfigured):
        TriggerSettings.from_env(env)


def test_client_environment_parses_only_the_exact_shape():
    s = TriggerSettings("acme", "AIML-SaaS", frozenset({"admin", "user"}), frozenset({"staging", "prod"}))
    assert _identity.client_environment("AIML-SaaS-acme-hr-admin-prod", s) == "prod"
    assert _identity.client_environment("AIML-SaaS-acme-ess-mobile-staging", s) == "staging"
    for name in (
        "AIML-SaaS-acme-hr-admin-dev",  # dev clients are not created by this stack
        "AIML-SaaS-acme-corp-hr-admin-prod",
        "AIML-SaaS-acme-hr-admin-prod ",
        "x-AIML-SaaS-acme-hr-admin-prod",
        "AIML-SaaS-acme-web-prod",
    ):
        with pytest.raises(SignInDenied):
            _identity.client_environment(name, s)


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
    monkeypatch.delenv("SAAS_TENANT_ID")
    caplog.clear()
    with pytest.raises(SignInDenied):
        pre_token_generation.lambda_handler(copy.deepcopy(event), CONTEXT)
    (line,) = refusal_lines(caplog)
    assert line["message"] == "token refused"
    assert "SAAS_TENANT_ID" in line["reason"]
