"""The compensation stack planned offline: the shipped policy pack's verdict, the wiring, and bad config."""

from __future__ import annotations

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
    assert len(result.run.resources) > 100 if result.run else False


def test_cognito_requires_mfa_and_has_the_three_groups() -> None:
    r = run("prod")
    pool = r.named("compensation-identity-user-pool")
    assert pool.inputs["mfaConfiguration"] == "ON"
    assert pool.inputs["deletionProtection"] == "ACTIVE"
    groups = sorted(g.inputs["name"] for g in r.of_type("aws:cognito/userGroup:UserGroup"))
    assert groups == ["employees", "managers", "passengers"]


def test_documents_keep_noncurrent_versions_for_the_compliance_period() -> None:
    rules = run("prod").named("compensation-documents-lifecycle").inputs["rules"]
    noncurrent = [
        r["noncurrentVersionExpiration"]["noncurrentDays"] for r in rules if "noncurrentVersionExpiration" in r
    ]
    assert noncurrent == [2555]
    assert not any("days" in (r.get("expiration") or {}) for r in rules)  # current documents never expire
    assert run("prod").named("compensation-documents-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }


def test_api_methods_require_cognito_and_scopes() -> None:
    r = run("dev")
    methods = {m.name: m.inputs for m in r.of_type("aws:apigateway/method:Method")}
    assert methods["compensation-api-post-claims"]["authorization"] == "COGNITO_USER_POOLS"
    assert methods["compensation-api-post-claims"]["authorizationScopes"] == ["compensation/claims.submit"]
    assert methods["compensation-api-post-claims-claimid-decision"]["authorizationScopes"] == [
        "compensation/claims.approve"
    ]
    (authorizer,) = r.of_type("aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["providerArns"] == [r.named("compensation-identity-user-pool").state["arn"]]
    client = r.named("compensation-identity-web-client").inputs
    assert set(client["allowedOauthScopes"]) >= {
        "compensation/claims.submit",
        "compensation/claims.read",
        "compensation/claims.approve",
    }


def test_workflow_waits_for_a_task_token_then_notifies() -> None:
    r = run("dev")
    definition = json.loads(r.named("compensation-approval-state-machine").inputs["definition"])
    request = definition["States"]["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert request["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert request["Parameters"]["FunctionName"] == r.named("compensation-request-approval-function").state["arn"]
    assert request["TimeoutSeconds"] == 72 * 3600
    assert (
        definition["States"]["Notify"]["Parameters"]["FunctionName"]
        == (r.named("compensation-notify-function").state["arn"])
    )
    submit_env = r.named("compensation-submit-function").inputs["environment"]["variables"]
    assert submit_env["APPROVAL_STATE_MACHINE_ARN"] == (
        "arn:aws:states:eu-west-1:123456789012:stateMachine:compensation-dev-approval"
    )
    assert r.named("compensation-approval-state-machine").inputs["name"] == "compensation-dev-approval"


def test_aurora_serverless_v2_with_managed_rotated_credentials() -> None:
    r = run("prod")
    cluster = r.named("compensation-db-cluster").inputs
    assert cluster["engine"] == "aurora-postgresql"
    assert cluster["manageMasterUserPassword"] is True
    assert "masterPassword" not in cluster
    assert cluster["serverlessv2ScalingConfiguration"] == {"minCapacity": 1, "maxCapacity": 16}
    assert cluster["storageEncrypted"] is True
    assert cluster["deletionProtection"] is True
    assert cluster["enableHttpEndpoint"] is True
    instances = r.of_type("aws:rds/clusterInstance:ClusterInstance")
    assert [i.inputs["instanceClass"] for i in instances] == ["db.serverless", "db.serverless"]


def test_audit_trail_validates_and_locks() -> None:
    r = run("prod")
    (trail,) = r.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["enableLogFileValidation"] is True
    lock = r.named("compensation-audit-logs-object-lock").inputs
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}


def test_alarms_cover_lambda_api_database_and_workflow() -> None:
    namespaces = {a.inputs["namespace"] for a in run("dev").of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert namespaces == {"AWS/Lambda", "AWS/ApiGateway", "AWS/RDS", "AWS/States"}


def test_every_taggable_type_is_checked_by_required_tags() -> None:
    import importlib
    import inspect

    def accepts_tags(token: str) -> bool:
        module, cls = token.split(":")[1].split("/", maxsplit=1)[0], token.split(":")[2]
        mod = importlib.import_module(f"pulumi_aws.{'lambda_' if module == 'lambda' else module}")
        return "tags" in inspect.signature(getattr(mod, cls)._internal_init).parameters

    types = {r.type for r in run("prod").resources if r.custom and re.match(r"aws:[a-z0-9]+/", r.type)}
    assert sorted(t for t in types if t not in TAGGABLE_TYPES and accepts_tags(t)) == []


@pytest.mark.parametrize(
    ("override", "keys"),
    [
        ({"compensation:protect": False}, ["compensation:protect"]),
        (
            {"compensation:audit": {"retentionDays": 30, "lockMode": "GOVERNANCE"}},
            ["compensation:audit.lockMode", "compensation:audit.retentionDays"],
        ),
        (
            {"compensation:database": {"minCapacity": 1, "maxCapacity": 16, "vpcCidr": "8.8.0.0/16"}},
            ["compensation:database.vpcCidr"],
        ),
        (
            {"compensation:identity": {"domainPrefix": "x", "callbackUrl": []}},
            ["compensation:identity.callbackUrls", "compensation:identity.callbackUrl"],
        ),
        ({"aws:region": "Ireland"}, ["aws:region"]),
    ],
)
def test_bad_config_names_the_file_and_the_key(override: dict[str, Any], keys: list[str]) -> None:
    with pytest.raises(StackConfigError) as err:
        run_program(PROJECT, "prod", config=override)
    assert err.value.stack_file == "Pulumi.prod.yaml"
    assert err.value.keys == keys
