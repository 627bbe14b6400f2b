"""``ServiceAlarms``: the CloudWatch alarms every serverless system needs, by kind of resource.

Each kind has a fixed, documented set of alarms (:data:`ALARM_SETS`), so two systems watching a Lambda
function or an Aurora Serverless v2 cluster raise the same alarms on the same thresholds:

``lambda``
    ``Errors`` >= 1 in 5 minutes; ``Throttles`` >= 1 in 5 minutes; ``Duration`` p99 above 80% of the timeout.
``rest-api`` (API Gateway REST stage)
    ``5XXError`` >= 1 in 5 minutes; ``Latency`` p99 above 3 s for 3 of 3 periods.
``aurora-serverless``
    ``CPUUtilization`` >= 80% for 3 periods; ``ServerlessDatabaseCapacity`` at 90% of the maximum ACUs for 3
    periods (scale-out headroom); ``FreeableMemory`` below 256 MiB.
``state-machine``
    ``ExecutionsFailed``, ``ExecutionsTimedOut`` and ``ExecutionsAborted`` >= 1 in 5 minutes.
``alb`` (Application Load Balancer)
    ``HTTPCode_ELB_5XX_Count`` and ``HTTPCode_Target_5XX_Count`` >= 1 in 5 minutes; ``TargetResponseTime``
    p99 above 10 s.

Missing data is ``notBreaching`` (an idle system is healthy). Every alarm notifies the alarm topic on ALARM
and OK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

TOPIC_MANAGEMENT_ACTIONS: Final = (
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
)


def alarm_topic_policy(*, topic_arn: str, account_id: str, region: str) -> dict[str, object]:
    """The alarm topic's resource policy (pure): the account's own principals as IAM allows them (the default
    topic policy's owner statement, written out), and CloudWatch alarms of this account and region publishing.

    CloudWatch publishes as the service principal ``cloudwatch.amazonaws.com``; the topic is encrypted with the
    environment key, whose policy separately lets CloudWatch use it for SNS. ``aws:SourceAccount`` and an
    ``aws:SourceArn`` under this account's alarms keep other accounts' alarms from using the topic (confused
    deputy).

    Documentation:
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions.html
        https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountPrincipalsAsIamAllows",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": list(TOPIC_MANAGEMENT_ACTIONS),
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
        ],
    }


def alarm_topic_policy_resource(
    name: str,
    *,
    topic: aws.sns.Topic,
    topic_name: str,
    account_id: pulumi.Input[str],
    region: str,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.sns.TopicPolicy:
    """Attach :func:`alarm_topic_policy` to ``topic``. The document is built from known parts (name, account,
    region), not from ``topic.arn``, so it is known at the first preview."""
    return aws.sns.TopicPolicy(
        name,
        arn=topic.arn,
        policy=pulumi.Output.from_input(account_id).apply(
            lambda account: json.dumps(
                alarm_topic_policy(
                    topic_arn=f"arn:aws:sns:{region}:{account}:{topic_name}", account_id=account, region=region
                )
            )
        ),
        opts=opts,
    )


AlarmKind = Literal["lambda", "rest-api", "aurora-serverless", "state-machine", "alb"]
NAME_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,62}")


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: metric, statistic (or ``p99``-style extended statistic), comparison and threshold."""

    suffix: str
    namespace: str
    metric: str
    comparison: str
    threshold: float
    statistic: str = "Sum"
    periods: int = 1
    period_seconds: int = 300
    description: str = ""


NAMESPACES: Final[Mapping[str, str]] = {
    "lambda": "AWS/Lambda",
    "rest-api": "AWS/ApiGateway",
    "aurora-serverless": "AWS/RDS",
    "state-machine": "AWS/States",
    "alb": "AWS/ApplicationELB",
}
REQUIRED_DIMENSIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "lambda": ("FunctionName",),
    "rest-api": ("ApiName", "Stage"),
    "aurora-serverless": ("DBClusterIdentifier",),
    "state-machine": ("StateMachineArn",),
    "alb": ("LoadBalancer",),
}


def alarm_specs(kind: AlarmKind, *, lambda_timeout_seconds: int = 10, max_capacity_acu: float = 1.0) -> list[AlarmSpec]:
    """The alarms of one kind (pure). ``lambda_timeout_seconds``/``max_capacity_acu`` set relative thresholds."""
    if kind == "lambda":
        return [
            AlarmSpec(
                "errors", "AWS/Lambda", "Errors", "GreaterThanOrEqualToThreshold", 1, description="invocations failed"
            ),
            AlarmSpec(
                "throttles", "AWS/Lambda", "Throttles", "GreaterThanOrEqualToThreshold", 1, description="throttled"
            ),
            AlarmSpec(
                "duration",
                "AWS/Lambda",
                "Duration",
                "GreaterThanThreshold",
                lambda_timeout_seconds * 1000 * 0.8,
                statistic="p99",
                periods=3,
                description="p99 duration above 80% of the timeout",
            ),
        ]
    if kind == "rest-api":
        return [
            AlarmSpec(
                "5xx", "AWS/ApiGateway", "5XXError", "GreaterThanOrEqualToThreshold", 1, description="server errors"
            ),
            AlarmSpec(
                "latency",
                "AWS/ApiGateway",
                "Latency",
                "GreaterThanThreshold",
                3000,
                statistic="p99",
                periods=3,
                description="p99 latency above 3 s",
            ),
        ]
    if kind == "aurora-serverless":
        return [
            AlarmSpec(
                "cpu",
                "AWS/RDS",
                "CPUUtilization",
                "GreaterThanOrEqualToThreshold",
                80,
                statistic="Average",
                periods=3,
                description="CPU at or above 80%",
            ),
            AlarmSpec(
                "capacity",
                "AWS/RDS",
                "ServerlessDatabaseCapacity",
                "GreaterThanOrEqualToThreshold",
                round(max_capacity_acu * 0.9, 2),
                statistic="Average",
                periods=3,
                description="capacity at 90% of the maximum ACUs",
            ),
            AlarmSpec(
                "memory",
                "AWS/RDS",
                "FreeableMemory",
                "LessThanThreshold",
                256 * 1024 * 1024,
                statistic="Average",
                periods=3,
                description="less than 256 MiB freeable memory",
            ),
        ]
    if kind == "state-machine":
        return [
            AlarmSpec(
                f"executions-{m.lower()}",
                "AWS/States",
                f"Executions{m}",
                "GreaterThanOrEqualToThreshold",
                1,
                description=f"executions {m.lower()}",
            )
            for m in ("Failed", "TimedOut", "Aborted")
        ]
    if kind == "alb":
        return [
            AlarmSpec(
                "elb-5xx",
                "AWS/ApplicationELB",
                "HTTPCode_ELB_5XX_Count",
                "GreaterThanOrEqualToThreshold",
                1,
                description="load balancer 5xx",
            ),
            AlarmSpec(
                "target-5xx",
                "AWS/ApplicationELB",
                "HTTPCode_Target_5XX_Count",
                "GreaterThanOrEqualToThreshold",
                1,
                description="target 5xx",
            ),
            AlarmSpec(
                "response-time",
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "GreaterThanThreshold",
                10,
                statistic="p99",
                periods=3,
                description="p99 target response time above 10 s",
            ),
        ]
    raise ComponentArgError(f"alarm kind must be one of {sorted(NAMESPACES)}; got {kind!r}")


@dataclass(frozen=True, kw_only=True)
class ServiceAlarmsArgs:
    """Arguments of :class:`ServiceAlarms`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        kind: what is watched (see the module doc).
        dimensions: the metric dimensions (``FunctionName``; ``ApiName`` + ``Stage``; ``DBClusterIdentifier``;
            ``StateMachineArn``; ``LoadBalancer``). Values may be Outputs.
        alarm_topic_arn: notified on ALARM and OK.
        lambda_timeout_seconds: ``lambda`` only: the function's timeout (Duration threshold is 80% of it).
        max_capacity_acu: ``aurora-serverless`` only: the cluster's maximum ACUs.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    kind: AlarmKind
    dimensions: Mapping[str, pulumi.Input[str]]
    alarm_topic_arn: pulumi.Input[str]
    lambda_timeout_seconds: int = 10
    max_capacity_acu: float = 1.0
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if self.kind not in NAMESPACES:
            raise ComponentArgError(f"kind must be one of {sorted(NAMESPACES)}; got {self.kind!r}")
        missing = [d for d in REQUIRED_DIMENSIONS[self.kind] if d not in self.dimensions]
        if missing:
            raise ComponentArgError(f"{self.kind} alarms need dimensions {missing}; got {sorted(self.dimensions)}")


class ServiceAlarms(pulumi.ComponentResource):
    """The standard CloudWatch alarms of one Lambda function, REST stage, Aurora cluster, state machine or ALB.

    Example::

        ServiceAlarms("compensation-submit", ServiceAlarmsArgs(
            environment="dev", kind="lambda", dimensions={"FunctionName": fn.function_name},
            alarm_topic_arn=base.alarm_topic_arn, lambda_timeout_seconds=10))

    Documentation:
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Best_Practice_Recommended_Alarms_AWS_Services.html
    """

    alarm_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ServiceAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:monitoring:ServiceAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "ServiceAlarms", extra=args.extra_tags)
        self.alarm_names = {}
        for spec in alarm_specs(
            args.kind, lambda_timeout_seconds=args.lambda_timeout_seconds, max_capacity_acu=args.max_capacity_acu
        ):
            extended = spec.statistic.startswith("p")
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.suffix}",
                alarm_description=f"{name}: {spec.description}",
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=dict(args.dimensions),
                statistic=None if extended else spec.statistic,
                extended_statistic=spec.statistic if extended else None,
                period=spec.period_seconds,
                evaluation_periods=spec.periods,
                datapoints_to_alarm=spec.periods,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                treat_missing_data="notBreaching",
                alarm_actions=[args.alarm_topic_arn],
                ok_actions=[args.alarm_topic_arn],
                tags=resource_tags,
                opts=child,
            )
            self.alarm_names[spec.suffix] = alarm.name
        self.register_outputs({"alarm_names": self.alarm_names})
