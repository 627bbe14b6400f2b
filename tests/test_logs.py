"""Log retention: ``saas:logs`` config, the stacks it shapes, and the rules ``log-group-retention`` and
``sign-in-trigger-log-retention`` (compliant, violating and missing cases). Also the versioned access-log bucket."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import ProgramRun, run_function, run_program
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies import logs, pack
from tests.conftest import ROOT

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def raw(stack: str, **logs_section: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    if logs_section:
        data["saas:logs"] = logs_section
    return data


# ------------------------------------------------------------------------------------------------ config


def test_logs_defaults_per_environment() -> None:
    prod = load_stack_config(raw("prod"), "prod").logs
    assert (prod.lambda_retention_days, prod.sign_in_retention_days) == (90, 365)
    dev = load_stack_config(raw("dev"), "dev").logs
    assert (dev.lambda_retention_days, dev.sign_in_retention_days) == (90, 90)


def test_prod_refuses_a_short_sign_in_audit_trail() -> None:
    with pytest.raises(
        StackConfigError, match=r"Pulumi\.prod\.yaml is invalid .*saas:logs\.signInRetentionDays: .*365"
    ):
        load_stack_config(raw("prod", signInRetentionDays=180), "prod")
    assert load_stack_config(raw("prod", signInRetentionDays=731), "prod").logs.sign_in_retention_days == 731
    assert load_stack_config(raw("dev", signInRetentionDays=30), "dev").logs.sign_in_retention_days == 30


def test_retention_values_are_the_ones_cloudwatch_accepts() -> None:
    with pytest.raises(StackConfigError, match=r"saas:logs\.lambdaRetentionDays: .*got 100"):
        load_stack_config(raw("dev", lambdaRetentionDays=100), "dev")
    with pytest.raises(StackConfigError, match=r"saas:logs\.unknownKey"):
        load_stack_config(raw("dev", unknownKey=1), "dev")


# ------------------------------------------------------------------------------------------------ stacks


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="module")
def dev_long() -> ProgramRun:
    return run_program(ROOT, "dev", config={"saas:logs": {"lambdaRetentionDays": 30, "signInRetentionDays": 14}})


def retention_by_name(run: ProgramRun) -> dict[str, float]:
    return {r.inputs["name"]: r.inputs["retentionInDays"] for r in run.of_type(LOG_GROUP)}


def test_prod_trigger_logs_keep_a_year_and_handler_logs_follow_config(prod: ProgramRun) -> None:
    days = retention_by_name(prod)
    assert days["/aws/lambda/AIML-SaaS-PreAuth-S00-Prod"] == 365  # the shared triggers of every pool
    assert days["/aws/lambda/AIML-SaaS-PreToken-S00-Prod"] == 365
    assert days["/aws/lambda/AIML-SaaS-ImageConsumer-image-uploads-Prod"] == 90
    report = evaluate(prod, logs.POLICIES)
    assert report.violations == []


def test_config_sets_the_dev_retention(dev_long: ProgramRun) -> None:
    days = retention_by_name(dev_long)
    assert days["/aws/lambda/AIML-SaaS-PreAuth-S00-Dev"] == 14
    assert days["/aws/lambda/AIML-SaaS-ImageConsumer-image-uploads-Dev"] == 30
    assert evaluate(dev_long, logs.POLICIES).violations == []  # below a year is fine outside prod


def test_access_log_bucket_is_versioned_with_noncurrent_expiry(prod: ProgramRun) -> None:
    (versioning,) = [r for r in prod.of_type("aws:s3/bucketVersioning:BucketVersioning") if "access-logs" in r.name]
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = [
        r
        for r in prod.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if "access-logs" in r.name
    ]
    noncurrent = [
        r["noncurrentVersionExpiration"] for r in lifecycle.inputs["rules"] if r.get("noncurrentVersionExpiration")
    ]
    assert noncurrent == [{"noncurrentDays": 30}]


# ------------------------------------------------------------------------------------------------ rules


def messages(props: dict[str, Any]) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in analyze_props([logs.log_group_retention], LOG_GROUP, props)]


def test_log_group_retention_compliant_violating_missing() -> None:
    assert messages({"name": "g", "retentionInDays": 365}) == []
    assert messages({"name": "g", "retentionInDays": 100}) == [
        "retention_in_days=100.0 is not a value CloudWatch Logs accepts"
    ]
    never = "log group never expires: set retention_in_days (saas:logs sets it for the platform's functions)"
    assert messages({"name": "g", "retentionInDays": 0}) == [never]
    assert messages({"name": "g"}) == [never]


def test_rules_are_mandatory_and_in_the_pack() -> None:
    for rule in logs.POLICIES:
        assert rule in pack.POLICIES
        assert rule.enforcement_level.value == "mandatory"


def trigger_program(environment: str, days: int | None, *, log_group: bool = True) -> Any:
    def program() -> None:
        role = aws.iam.Role("r", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        fn = aws.lambda_.Function("pre-auth", name="PreAuth-X", role=role.arn, runtime="python3.12", handler="h.h")
        if log_group:
            aws.cloudwatch.LogGroup("pre-auth-logs", name="/aws/lambda/PreAuth-X", retention_in_days=days)
        aws.cognito.UserPool(
            "pool",
            lambda_config=aws.cognito.UserPoolLambdaConfigArgs(pre_authentication=fn.arn),
            tags={"saas:environment": environment},
        )
        pulumi.export("ok", True)

    return program


def sign_in_messages(program: Any) -> list[str]:
    report = evaluate(run_function(program), [logs.sign_in_trigger_log_retention])
    return [v.message.split("\n", 1)[1] for v in report.mandatory]


def test_sign_in_trigger_log_retention_compliant_violating_missing() -> None:
    assert sign_in_messages(trigger_program("prod", 365)) == []
    assert sign_in_messages(trigger_program("dev", 90)) == []
    assert sign_in_messages(trigger_program("prod", 90)) == [
        "sign-in trigger logs /aws/lambda/PreAuth-X keep 90.0 days; prod keeps the sign-in audit trail at least 365 "
        "(saas:logs.signInRetentionDays)"
    ]
    assert sign_in_messages(trigger_program("prod", None)) == [
        "sign-in trigger logs /aws/lambda/PreAuth-X keep None days; prod keeps the sign-in audit trail at least 365 "
        "(saas:logs.signInRetentionDays)"
    ]
    assert sign_in_messages(trigger_program("dev", 90, log_group=False)) == [
        "trigger function 'PreAuth-X' of this user pool has no log group /aws/lambda/PreAuth-X in the stack; Lambda "
        "would create one that never expires"
    ]
