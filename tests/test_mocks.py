"""Mock ids and ARNs follow AWS's formats (account 123456789012, the stack's region) and are deterministic."""

from __future__ import annotations

import re

import pulumi_aws as aws

from saas_platform.components.testing.harness import run_function


def _program() -> None:
    aws.cognito.UserPool("pool", name="AIML-SaaS-acme")
    aws.cognito.IdentityPool("ipool", identity_pool_name="AIML-SaaS-acme-Dev")
    aws.iam.Role("role", name="AIML-SaaS-acme-TenantAdminRole-Dev", assume_role_policy="{}")
    aws.iam.Role("auto-role", assume_role_policy="{}")
    aws.iam.Policy("policy", name="AIML-SaaS-acme-TenantAdminPolicy-Dev", policy="{}")
    aws.lambda_.Function("fn", name="AIML-SaaS-Job-Runner-Dev", role="arn:aws:iam::123456789012:role/r")
    aws.s3.Bucket("raw")
    aws.sqs.Queue("dlq", name="jobs-dlq")
    aws.sns.Topic("alarms", name="AIML-SaaS-Alarms-Dev")
    aws.verifiedpermissions.PolicyStore("store", validation_settings={"mode": "STRICT"})
    aws.dynamodb.Table(
        "t",
        name="TenantJobDev",
        hash_key="TenantId",
        stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
        attributes=[{"name": "TenantId", "type": "S"}],
    )
    aws.cloudwatch.LogGroup("lg", name="/aws/lambda/AIML-SaaS-Job-Runner-Dev")
    aws.kms.Key("key")


def test_arns_and_ids_are_realistic() -> None:
    run = run_function(_program, config={"aws:region": "eu-central-1"})
    pool = run.named("pool")
    assert re.fullmatch(r"eu-central-1_[0-9A-Za-z]{9}", pool.id or "")
    assert pool.state["arn"] == f"arn:aws:cognito-idp:eu-central-1:123456789012:userpool/{pool.id}"
    assert pool.state["endpoint"] == f"cognito-idp.eu-central-1.amazonaws.com/{pool.id}"
    ipool = run.named("ipool")
    assert re.fullmatch(r"eu-central-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ipool.id or "")
    assert run.named("role").state["arn"] == "arn:aws:iam::123456789012:role/AIML-SaaS-acme-TenantAdminRole-Dev"
    assert re.fullmatch(r"arn:aws:iam::123456789012:role/auto-role-[0-9a-f]{7}", run.named("auto-role").state["arn"])
    assert run.named("policy").state["arn"] == "arn:aws:iam::123456789012:policy/AIML-SaaS-acme-TenantAdminPolicy-Dev"
    fn = run.named("fn").state
    assert fn["arn"] == "arn:aws:lambda:eu-central-1:123456789012:function:AIML-SaaS-Job-Runner-Dev"
    assert fn["invokeArn"] == (
        "arn:aws:apigateway:eu-central-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-central-1:123456789012:function:AIML-SaaS-Job-Runner-Dev/invocations"
    )
    bucket = run.named("raw")
    assert re.fullmatch(r"raw-[0-9a-f]{7}", bucket.id or "")
    assert bucket.state["arn"] == f"arn:aws:s3:::{bucket.id}"
    assert run.named("dlq").state["url"] == "https://sqs.eu-central-1.amazonaws.com/123456789012/jobs-dlq"
    assert run.named("dlq").state["arn"] == "arn:aws:sqs:eu-central-1:123456789012:jobs-dlq"
    assert run.named("alarms").state["arn"] == "arn:aws:sns:eu-central-1:123456789012:AIML-SaaS-Alarms-Dev"
    store = run.named("store").state
    assert store["arn"] == f"arn:aws:verifiedpermissions::123456789012:policy-store/{store['policyStoreId']}"
    table = run.named("t").state
    assert table["streamArn"].startswith("arn:aws:dynamodb:eu-central-1:123456789012:table/TenantJobDev/stream/")
    assert run.named("lg").state["arn"] == (
        "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/AIML-SaaS-Job-Runner-Dev"
    )
    key = run.named("key")
    assert key.state["arn"] == f"arn:aws:kms:eu-central-1:123456789012:key/{key.id}"


def test_ids_are_stable_across_runs_and_distinct_across_names() -> None:
    a = run_function(_program).named("pool").id
    b = run_function(_program).named("pool").id
    assert a == b
    run = run_function(lambda: (aws.cognito.UserPool("acme-pool"), aws.cognito.UserPool("globex-pool")))
    assert run.named("acme-pool").id != run.named("globex-pool").id
