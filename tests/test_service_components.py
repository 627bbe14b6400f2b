"""EnvironmentFoundation, ServiceAlarms, project config loading and HandlerFunction with a consumer package."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel, ConfigDict, Field

from saas_platform.components.alarms import ServiceAlarms, ServiceAlarmsArgs, alarm_specs
from saas_platform.components.errors import ComponentArgError, StackConfigError
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.project_config import load_project_config
from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import evaluate
from saas_platform.policies.pack import POLICIES

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"


def test_foundation_key_logs_and_topic() -> None:
    def program() -> None:
        base = EnvironmentFoundation(
            "comp",
            EnvironmentFoundationArgs(
                system="comp",
                environment="dev",
                region="eu-west-1",
                alarm_email="ops@example.com",
                protect=False,
                extra_key_statements=[
                    {
                        "Sid": "Extra",
                        "Effect": "Allow",
                        "Principal": {"Service": "x"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    }
                ],
            ),
        )
        # a bucket logging to the foundation's log bucket (the log bucket alone is no log target)
        LifecycleBucket(
            "docs",
            LifecycleBucketArgs(
                environment="dev",
                purpose="documents",
                data_class="durable",
                bucket_name=base.bucket_name("documents"),
                kms_key_arn=base.kms_key_arn,
                access_log_bucket=base.access_log_bucket_name,
                protect=False,
            ),
            opts=pulumi.ResourceOptions(depends_on=[base.access_logs]),
        )

    run = run_function(program, config={"aws:region": "eu-west-1"})
    key = run.named("comp-key")
    sids = [s["Sid"] for s in json.loads(key.inputs["policy"])["Statement"]]
    assert sids == [
        "AccountAdministersThroughIam",
        "CloudWatchAlarmsPublishToEncryptedTopic",
        "CloudWatchLogsEncryptThisAccountsLogGroups",
        "Extra",
    ]
    assert key.inputs["enableKeyRotation"] is True
    assert run.named("comp-access-logs-bucket").inputs["bucket"] == "comp-dev-access-logs-123456789012"
    assert run.named("comp-alarms").inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    report = evaluate(run, POLICIES)
    assert [(v.policy, v.message) for v in report.mandatory] == []


def test_foundation_refuses_unprotected_prod_and_duplicate_sids() -> None:
    with pytest.raises(ComponentArgError, match="protect=False is refused in prod"):
        EnvironmentFoundationArgs(
            system="comp", environment="prod", region="eu-west-1", alarm_email="a@b.co", protect=False
        )
    with pytest.raises(ComponentArgError, match="alarm_email is not an email address"):
        EnvironmentFoundationArgs(system="comp", environment="dev", region="eu-west-1", alarm_email="nobody")


def test_alarm_sets_are_pinned() -> None:
    assert [(s.metric, s.threshold) for s in alarm_specs("lambda", lambda_timeout_seconds=30)] == [
        ("Errors", 1),
        ("Throttles", 1),
        ("Duration", 24000.0),
    ]
    assert [s.metric for s in alarm_specs("aurora-serverless", max_capacity_acu=8)] == [
        "CPUUtilization",
        "ServerlessDatabaseCapacity",
        "FreeableMemory",
    ]
    assert alarm_specs("aurora-serverless", max_capacity_acu=8)[1].threshold == 7.2
    assert [s.metric for s in alarm_specs("rest-api")] == ["5XXError", "Latency"]


def test_service_alarms_register_with_topic_and_dimensions() -> None:
    run = run_function(
        lambda: ServiceAlarms(
            "submit",
            ServiceAlarmsArgs(
                environment="dev", kind="lambda", dimensions={"FunctionName": "f"}, alarm_topic_arn=TOPIC
            ),
        )
    )
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 3
    duration = run.named("submit-duration")
    assert duration.inputs["extendedStatistic"] == "p99"
    assert "statistic" not in duration.inputs
    assert all(a.inputs["alarmActions"] == [TOPIC] and a.inputs["dimensions"] == {"FunctionName": "f"} for a in alarms)
    with pytest.raises(ComponentArgError, match=r"rest-api alarms need dimensions \['Stage'\]"):
        ServiceAlarmsArgs(environment="dev", kind="rest-api", dimensions={"ApiName": "a"}, alarm_topic_arn=TOPIC)


class _Db(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=lambda s: s.split("_")[0] + "".join(p.title() for p in s.split("_")[1:]),
        populate_by_name=True,
    )
    max_capacity: float = Field(ge=0.5, le=256)


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    environment: str
    region: str = Field(pattern=r"[a-z]{2}-[a-z]+-\d")
    database: _Db


def test_project_config_names_file_and_keys() -> None:
    raw: dict[str, Any] = {
        "comp:environment": "dev",
        "aws:region": "eu-west-1",
        "comp:database": '{"maxCapacity": 1000}',
    }
    with pytest.raises(StackConfigError) as err:
        load_project_config(_Cfg, {**raw, "comp:extra": "1"}, "comp", "dev")
    assert err.value.stack_file == "Pulumi.dev.yaml"
    assert err.value.keys == ["comp:database.maxCapacity", "comp:extra"]
    assert "Pulumi.dev.yaml is invalid (2 problems)" in str(err.value)
    with pytest.raises(StackConfigError) as err:
        load_project_config(_Cfg, {**raw, "aws:region": "nowhere", "comp:database": "{}"}, "comp", "dev")
    assert err.value.keys == ["aws:region", "comp:database.maxCapacity"]
    ok = load_project_config(_Cfg, {**raw, "comp:database": '{"maxCapacity": 4}'}, "comp", "dev")
    assert ok.database.max_capacity == 4
    assert ok.region == "eu-west-1"
