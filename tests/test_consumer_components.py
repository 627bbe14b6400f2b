"""ScopedRestApi, ApprovalWorkflow, ServerlessPostgres, AuthenticatedAlb, StaticSite, GroupAuthorization:
pinned defaults, argument errors, and the organisation-store rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saas_platform.components.approval_workflow import ApprovalWorkflow, ApprovalWorkflowArgs, approval_definition
from saas_platform.components.authenticated_alb import AuthenticatedAlb, AuthenticatedAlbArgs
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.group_authorization import GroupAuthorizationArgs
from saas_platform.components.scoped_api import ScopedRestApi, ScopedRestApiArgs, ScopedRoute
from saas_platform.components.serverless_postgres import ServerlessPostgres, ServerlessPostgresArgs
from saas_platform.components.static_site import StaticSite, StaticSiteArgs
from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import evaluate
from saas_platform.policies import authorization

KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/1111"
POOL_ARN = "arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_abc"
FN = "arn:aws:lambda:ap-southeast-1:123456789012:function:f"
CERT = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0b5d7c2e-1f3a-4e6b-9c8d-2a1b3c4d5e6f"


def route(**kw: Any) -> ScopedRoute:
    base: dict[str, Any] = {
        "method": "POST",
        "path": "/claims/{claimId}/decision",
        "scopes": ("x/approve",),
        "function_name": "f",
        "invoke_arn": f"arn:aws:apigateway:ap-southeast-1:lambda:path/2015-03-31/functions/{FN}/invocations",
    }
    return ScopedRoute(**{**base, **kw})


def test_scoped_api_every_method_needs_a_scope() -> None:
    args = ScopedRestApiArgs(
        environment="dev", api_name="x-dev", user_pool_arn=POOL_ARN, routes=(route(),), kms_key_arn=KEY
    )
    run = run_function(lambda: ScopedRestApi("x-api", args))
    (method,) = run.of_type("aws:apigateway/method:Method")
    assert method.inputs["authorization"] == "COGNITO_USER_POOLS"
    assert method.inputs["authorizationScopes"] == ["x/approve"]
    assert method.inputs["requestParameters"] == {"method.request.path.claimId": True}
    (authorizer,) = run.of_type("aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["authorizerResultTtlInSeconds"] == 0
    (permission,) = run.of_type("aws:lambda/permission:Permission")
    assert permission.inputs["sourceArn"].endswith("/dev/POST/claims/*/decision")
    with pytest.raises(ComponentArgError, match="would accept any token"):
        route(scopes=())
    with pytest.raises(ComponentArgError, match="route path must look like"):
        route(path="claims")
    with pytest.raises(ComponentArgError, match="repeat a method and path"):
        ScopedRestApiArgs(
            environment="dev", api_name="x-dev", user_pool_arn=POOL_ARN, routes=(route(), route()), kms_key_arn=KEY
        )


def test_approval_definition_fails_closed_on_unknown_decisions() -> None:
    doc = approval_definition("arn:req", "arn:notify", 3600)
    assert doc["StartAt"] == "RequestApproval"
    request = doc["States"]["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert request["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert request["Catch"] == [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "TimedOut"}]
    assert doc["States"]["Decision"]["Default"] == "InvalidDecision"
    assert doc["States"]["InvalidDecision"]["Type"] == "Fail"
    assert doc["States"]["TimedOut"]["Parameters"]["outcome"] == "timed-out"


def test_approval_workflow_role_invokes_exactly_the_two_functions() -> None:
    args = ApprovalWorkflowArgs(
        environment="dev",
        state_machine_name="x-approval-dev",
        request_function_arn=f"{FN}-req",
        notify_function_arn=f"{FN}-notify",
        timeout_seconds=3600,
        kms_key_arn=KEY,
    )
    run = run_function(lambda: ApprovalWorkflow("x-approval", args))
    policy = json.loads(run.named("x-approval-policy").inputs["policy"])
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeTaskFunctions")
    assert invoke["Resource"] == [f"{FN}-req", f"{FN}-notify"]
    machine = run.named("x-approval-state-machine").inputs
    assert machine["type"] == "STANDARD"
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["loggingConfiguration"]["includeExecutionData"] is False
    assert machine["tracingConfiguration"] == {"enabled": True}
    with pytest.raises(ComponentArgError, match="timeout_seconds must be"):
        ApprovalWorkflowArgs(**{**args.__dict__, "timeout_seconds": 10})


def pg_args(**kw: Any) -> ServerlessPostgresArgs:
    base: dict[str, Any] = {
        "environment": "prod",
        "cluster_identifier": "x-prod",
        "database_name": "x",
        "kms_key_arn": KEY,
        "vpc_cidr": "10.9.0.0/16",
        "availability_zones": ("ap-southeast-1a", "ap-southeast-1b"),
        "max_capacity": 8,
    }
    return ServerlessPostgresArgs(**{**base, **kw})


def test_serverless_postgres_defaults() -> None:
    run = run_function(lambda: ServerlessPostgres("x-db", pg_args()))
    cluster = run.named("x-db-cluster")
    assert cluster.inputs["manageMasterUserPassword"] is True
    assert "masterPassword" not in cluster.inputs
    assert cluster.inputs["masterUserSecretKmsKeyId"] == KEY
    assert cluster.inputs["deletionProtection"] is True
    assert cluster.inputs["backupRetentionPeriod"] == 35
    assert cluster.inputs["finalSnapshotIdentifier"] == "x-prod-final"
    assert cluster.options.protect is True
    params = {p["name"]: p["value"] for p in run.named("x-db-parameters").inputs["parameters"]}
    assert params["rds.force_ssl"] == "1"
    sg = run.named("x-db-sg").inputs
    assert "ingress" not in sg
    assert [s.inputs["cidrBlock"] for s in run.of_type("aws:ec2/subnet:Subnet")] == ["10.9.0.0/18", "10.9.64.0/18"]
    assert run.of_type("aws:ec2/internetGateway:InternetGateway") == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"protect": False}, "protect=False is refused in prod"),
        ({"min_capacity": 8, "max_capacity": 4}, "exceeds max_capacity"),
        ({"vpc_cidr": "8.8.0.0/16"}, "private IPv4 network"),
        ({"master_username": "postgres"}, "reserved name"),
        ({"availability_zones": ("a", "a")}, "two different zones"),
    ],
)
def test_serverless_postgres_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        pg_args(**kw)


def alb_args(**kw: Any) -> AuthenticatedAlbArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "name": "x-dev-api",
        "certificate_arn": CERT,
        "function_arn": FN,
        "function_name": "f",
        "path_patterns": ("/api/*",),
        "user_pool_arn": POOL_ARN,
        "user_pool_client_id": "client",
        "user_pool_domain": "x-login",
        "vpc_cidr": "10.8.0.0/22",
        "availability_zones": ("ap-southeast-1a", "ap-southeast-1b"),
        "protect": False,
    }
    return AuthenticatedAlbArgs(**{**base, **kw})


def test_authenticated_alb_signs_in_before_forwarding() -> None:
    run = run_function(lambda: AuthenticatedAlb("x-api", alb_args()))
    (rule,) = run.of_type("aws:lb/listenerRule:ListenerRule")
    assert [a["type"] for a in sorted(rule.inputs["actions"], key=lambda a: a["order"])] == [
        "authenticate-cognito",
        "forward",
    ]
    sg = run.named("x-api-sg").inputs
    assert [(e["fromPort"], e["toPort"]) for e in sg["egress"]] == [(443, 443)]
    assert run.named("x-api-https").inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    http = run.named("x-api-http").inputs["defaultActions"][0]
    assert http["redirect"]["protocol"] == "HTTPS"
    with pytest.raises(ComponentArgError, match="must include 'openid'"):
        alb_args(scopes=("email",))
    with pytest.raises(ComponentArgError, match="not an ACM certificate ARN"):
        alb_args(certificate_arn="arn:aws:iam::123456789012:server-certificate/x")


def test_static_site_bucket_is_read_only_by_its_distribution() -> None:
    args = StaticSiteArgs(
        environment="dev",
        purpose="web-ui",
        bucket_name="x-dev-web-ui",
        region="ap-southeast-1",
        kms_key_arn=KEY,
        access_log_bucket="logs",
        protect=False,
    )
    run = run_function(lambda: StaticSite("x-web", args))
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    assert dist.inputs["origins"][0]["domainName"] == "x-dev-web-ui.s3.ap-southeast-1.amazonaws.com"
    policy = json.loads(run.named("x-web-site-policy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "CloudFrontReadsSite")
    assert read["Condition"] == {"StringEquals": {"aws:SourceArn": dist.state["arn"]}}
    assert read["Resource"] == "arn:aws:s3:::x-dev-web-ui/*"


SCHEMA = {
    "Ns": {
        "entityTypes": {"User": {"memberOfTypes": ["UserGroup"]}, "UserGroup": {}, "Doc": {}},
        "actions": {"Read": {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Doc"]}}},
    }
}


def authz_args(**kw: Any) -> GroupAuthorizationArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "namespace": "Ns",
        "schema": SCHEMA,
        "policies": {
            "readers": 'permit (principal in Ns::UserGroup::"{{userPoolId}}|readers", action == Ns::Action::"Read", resource);'
        },
        "user_pool_id": "ap-southeast-1_abc",
        "user_pool_arn": POOL_ARN,
        "client_ids": ["c1"],
    }
    return GroupAuthorizationArgs(**{**base, **kw})


def test_group_authorization_validates_cedar_before_registering() -> None:
    authz_args()
    with pytest.raises(ComponentArgError, match="do not validate against the schema"):
        authz_args(policies={"bad": 'permit (principal, action == Ns::Action::"Write", resource);'})
    with pytest.raises(ComponentArgError, match="client_ids is empty"):
        authz_args(client_ids=[])
    with pytest.raises(ComponentArgError, match="needs entity type 'UserGroup'"):
        authz_args(schema={"Ns": {"entityTypes": {"User": {}}, "actions": {}}})


def test_pack_accepts_one_organisation_store_and_still_wants_a_tenant_elsewhere() -> None:
    import pulumi_aws as aws

    def program() -> None:
        for name, extra in (("org", {"saas:store-scope": "organization"}), ("plain", {})):
            aws.verifiedpermissions.PolicyStore(
                name,
                validation_settings=aws.verifiedpermissions.PolicyStoreValidationSettingsArgs(mode="STRICT"),
                tags={"saas:environment": "dev", "saas:component": "X", **extra},
            )

    report = evaluate(run_function(program), [authorization.avp_store_per_tenant])
    no_tag = [v for v in report.violations if "no saas:tenant tag" in v.message]
    assert len(no_tag) == 1
    assert no_tag[0].urn.endswith("::plain")
