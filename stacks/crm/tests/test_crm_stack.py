"""The CRM stack planned offline: the shipped pack's verdict, the wiring, and bad config."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.components.testing.plan import Planner, StackPlan
from saas_platform.policies._common import TAGGABLE_TYPES
from saas_platform.policies.offline import evaluate_run

PROJECT = Path(__file__).resolve().parent.parent


@cache
def plan(stack: str) -> StackPlan:
    return Planner(PROJECT, evaluate_run).plan(stack)


def run(stack: str) -> ProgramRun:
    result = plan(stack)
    assert result.run is not None, result.error
    return result.run


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plans_with_zero_violations(stack: str) -> None:
    result = plan(stack)
    assert result.error is None, result.error
    assert result.report is not None
    assert [(v.policy, v.message) for v in result.report.violations] == []


def test_cognito_is_an_oidc_provider_with_the_stakeholder_groups() -> None:
    r = run("prod")
    assert sorted(g.inputs["name"] for g in r.of_type("aws:cognito/userGroup:UserGroup")) == [
        "administrator",
        "agent",
        "root-administrator",
    ]
    assert r.named("crm-identity-domain").inputs["domain"] == "crm-login"
    alb_client = r.named("crm-identity-alb-client").inputs
    assert alb_client["generateSecret"] is True
    assert alb_client["callbackUrls"] == ["https://llm.crm.example.com/oauth2/idpresponse"]
    assert alb_client["allowedOauthFlows"] == ["code"]
    assert "openid" in alb_client["allowedOauthScopes"]
    assert r.named("crm-identity-user-pool").inputs["mfaConfiguration"] == "ON"


def test_alb_authenticates_with_cognito_before_forwarding_to_the_llm_lambda() -> None:
    r = run("dev")
    (rule,) = r.of_type("aws:lb/listenerRule:ListenerRule")
    auth, forward = sorted(rule.inputs["actions"], key=lambda a: a["order"])
    assert auth["type"] == "authenticate-cognito"
    cognito = auth["authenticateCognito"]
    assert cognito["userPoolArn"] == r.named("crm-identity-user-pool").state["arn"]
    assert cognito["userPoolClientId"] == r.named("crm-identity-alb-client").id
    assert cognito["userPoolDomain"] == "crm-dev-login"
    assert cognito["onUnauthenticatedRequest"] == "deny"
    assert forward["type"] == "forward"
    assert forward["targetGroupArn"] == r.named("crm-llm-alb-targets").state["arn"]
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/llm", "/llm/*"]}}]
    https = r.named("crm-llm-alb-https").inputs
    assert https["protocol"] == "HTTPS"
    assert https["defaultActions"][0]["type"] == "fixed-response"
    assert r.named("crm-llm-alb-alb").inputs["dropInvalidHeaderFields"] is True
    target = r.named("crm-llm-alb-target").inputs
    assert target["targetId"] == r.named("crm-llm-function").state["arn"]
    permission = r.named("crm-llm-alb-invoke").inputs
    assert permission["principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["sourceArn"] == r.named("crm-llm-alb-targets").state["arn"]


def test_cedar_store_is_strict_and_bound_to_the_pool() -> None:
    r = run("prod")
    store = r.named("crm-authz-store").inputs
    assert store["validationSettings"] == {"mode": "STRICT"}
    assert store["deletionProtection"] == "ENABLED"
    source = r.named("crm-authz-identity-source").inputs
    assert source["principalEntityType"] == "Crm::User"
    pool_id = r.named("crm-identity-user-pool").id
    statements = [
        p.inputs["definition"]["static"]["statement"] for p in r.of_type("aws:verifiedpermissions/policy:Policy")
    ]
    assert len(statements) == 4
    assert all("{{userPoolId}}" not in s for s in statements)
    assert any(f'Crm::UserGroup::"{pool_id}|agent"' in s for s in statements)


def test_web_ui_is_private_behind_cloudfront_with_oac() -> None:
    r = run("prod")
    (dist,) = r.of_type("aws:cloudfront/distribution:Distribution")
    origin = dist.inputs["origins"][0]
    oac = r.named("crm-web-oac")
    assert origin["originAccessControlId"] == oac.id
    assert oac.inputs["signingBehavior"] == "always"
    assert dist.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    bucket = r.named("crm-web-site-bucket").inputs["bucket"]
    assert origin["domainName"] == f"{bucket}.s3.eu-west-1.amazonaws.com"
    policy = json.loads(r.named("crm-web-site-policy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "CloudFrontReadsSite")
    assert read["Condition"] == {"StringEquals": {"AWS:SourceArn": dist.state["arn"]}}
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    key = json.loads(r.named("crm-key").inputs["policy"])
    decrypt = next(s for s in key["Statement"] if s["Sid"] == "CloudFrontDecryptsSiteObjects")
    assert decrypt["Condition"]["StringLike"]["AWS:SourceArn"] == "arn:aws:cloudfront::123456789012:distribution/*"
    public = r.named("crm-web-site-public-access").inputs
    assert all(
        public[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )


def test_sftp_credentials_live_in_secrets_manager() -> None:
    r = run("prod")
    secret = r.named("crm-sftp-credentials")
    assert secret.inputs["kmsKeyId"] == r.named("crm-key").state["arn"]
    assert r.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []  # no value in code or state
    fn = r.named("crm-sftp-function").inputs
    assert fn["environment"]["variables"]["SFTP_SECRET_ARN"] == secret.state["arn"]
    policy = json.loads(r.named("crm-sftp-policy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadSftpSecret")
    assert read == {
        "Sid": "ReadSftpSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": secret.state["arn"],
    }
    assert r.named("crm-sftp-schedule").inputs["scheduleExpression"] == "rate(15 minutes)"


def test_every_taggable_type_is_checked_by_required_tags() -> None:
    def accepts_tags(token: str) -> bool:
        module, cls = token.split(":")[1].split("/", maxsplit=1)[0], token.split(":")[2]
        mod = importlib.import_module(f"pulumi_aws.{'lambda_' if module == 'lambda' else module}")
        return "tags" in inspect.signature(getattr(mod, cls)._internal_init).parameters

    types = {r.type for r in run("prod").resources if r.custom and re.match(r"aws:[a-z0-9]+/", r.type)}
    assert sorted(t for t in types if t not in TAGGABLE_TYPES and accepts_tags(t)) == []


@pytest.mark.parametrize(
    ("override", "keys"),
    [
        ({"crm:protect": False}, ["crm:protect"]),
        (
            {
                "crm:alb": {
                    "hostname": "llm.crm.example.com",
                    "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/7e6d5c4b-3a2f-4e1d-8c9b-0a1b2c3d4e5f",
                    "vpcCidr": "10.51.0.0/22",
                }
            },
            ["crm:alb.certificateArn"],
        ),
        (
            {"crm:identity": {"domainPrefix": "crm-login", "webCallbackUrls": ["http://crm.example.com/cb"]}},
            ["crm:identity.webCallbackUrls[0]"],
        ),
        ({"crm:llm": {"modelId": "gpt", "sender": "nobody"}}, ["crm:llm.modelId", "crm:llm.sender"]),
        ({"crm:sftp": {"schedule": "every hour"}}, ["crm:sftp.schedule"]),
    ],
)
def test_bad_config_names_the_file_and_the_key(override: dict[str, Any], keys: list[str]) -> None:
    with pytest.raises(StackConfigError) as err:
        run_program(PROJECT, "prod", config=override)
    assert err.value.stack_file == "Pulumi.prod.yaml"
    assert err.value.keys == keys
