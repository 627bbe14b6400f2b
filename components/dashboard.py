"""``PlatformDashboard``: one CloudWatch dashboard per environment for the whole platform (docs/jobs.md).

Rows: sign-ins (Cognito, every tenant pool), authorizer decisions (the REQUEST authorizer's invocations, errors
and duration; API Gateway 4xx is where its denials show), the tenant API (4xx, 5xx, latency p50/p99), the image
pipeline (MSK consumer records stored, rejected, retried) and the system jobs (dispatched, recovered, failed, job
lag, dead-letter queue depth).

Widgets use CloudWatch ``SEARCH`` expressions scoped by the environment's physical names, so the body is a
plain string known at preview and tenants added later appear without a change to the dashboard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import DEFAULT_NAME_PREFIX, ENVIRONMENTS, Environment, env_suffix

PERIOD: Final = 300


def _search(namespace_dims: str, metric: str, stat: str, filters: str = "", label: str = "") -> dict[str, Any]:
    query = f'{{{namespace_dims}}} MetricName="{metric}"{(" " + filters) if filters else ""}'
    return {"expression": f"SEARCH('{query}', '{stat}', {PERIOD})", "label": label or metric, "id": ""}


def _widget(title: str, searches: list[dict[str, Any]], x: int, y: int, region: str) -> dict[str, Any]:
    metrics = [[{**s, "id": f"e{i}"}] for i, s in enumerate(searches)]
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 8,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stat": "Sum",
            "period": PERIOD,
            "metrics": metrics,
        },
    }


def dashboard_body(environment: str, region: str, name_prefix: str) -> dict[str, Any]:
    """The dashboard JSON (pure): five rows of three widgets."""
    env = env_suffix(environment)
    authorizer = f"{name_prefix}-Authorizer-{env}"
    api = f"{name_prefix}-Api-{env}"
    picker = f"{name_prefix}-JobPicker-{env}"
    rows = [
        (
            "Sign-ins",
            [
                (
                    "Sign-in successes (all tenant pools)",
                    [_search("AWS/Cognito,UserPool,UserPoolClient", "SignInSuccesses", "Sum")],
                ),
                ("Sign-in throttles", [_search("AWS/Cognito,UserPool,UserPoolClient", "SignInThrottles", "Sum")]),
                ("Token refreshes", [_search("AWS/Cognito,UserPool,UserPoolClient", "TokenRefreshSuccesses", "Sum")]),
            ],
        ),
        (
            "Authorizer",
            [
                (
                    "Authorizer invocations",
                    [_search("AWS/Lambda,FunctionName", "Invocations", "Sum", f'FunctionName="{authorizer}"')],
                ),
                (
                    "Authorizer errors / throttles",
                    [
                        _search("AWS/Lambda,FunctionName", "Errors", "Sum", f'FunctionName="{authorizer}"'),
                        _search("AWS/Lambda,FunctionName", "Throttles", "Sum", f'FunctionName="{authorizer}"'),
                    ],
                ),
                (
                    "Authorizer duration p99",
                    [_search("AWS/Lambda,FunctionName", "Duration", "p99", f'FunctionName="{authorizer}"')],
                ),
            ],
        ),
        (
            "API",
            [
                (
                    "API 4xx (includes authorizer denials)",
                    [_search("AWS/ApiGateway,ApiName", "4XXError", "Sum", f'ApiName="{api}"')],
                ),
                ("API 5xx", [_search("AWS/ApiGateway,ApiName", "5XXError", "Sum", f'ApiName="{api}"')]),
                (
                    "API latency p50 / p99",
                    [
                        _search("AWS/ApiGateway,ApiName", "Latency", "p50", f'ApiName="{api}"', "p50"),
                        _search("AWS/ApiGateway,ApiName", "Latency", "p99", f'ApiName="{api}"', "p99"),
                    ],
                ),
            ],
        ),
        (
            "Pipeline",
            [
                (
                    "Images stored",
                    [_search("saas,function_name,service", "RecordsStored", "Sum", 'service="MskConsumer"')],
                ),
                (
                    "Records rejected",
                    [_search("saas,function_name,service", "RecordsRejected", "Sum", 'service="MskConsumer"')],
                ),
                (
                    "Records retried",
                    [_search("saas,function_name,service", "RecordsRetried", "Sum", 'service="MskConsumer"')],
                ),
            ],
        ),
        (
            "Jobs",
            [
                (
                    "Jobs dispatched / recovered / failed",
                    [
                        _search("saas,function_name,service", m, "Sum", f'function_name="{picker}"')
                        for m in ("JobsDispatched", "JobsRecovered", "JobsFailed")
                    ],
                ),
                (
                    "Job lag (oldest due job, s)",
                    [_search("saas,function_name,service", "JobLagSeconds", "Maximum", f'function_name="{picker}"')],
                ),
                (
                    "Dead-letter queues (messages)",
                    [_search("AWS/SQS,QueueName", "ApproximateNumberOfMessagesVisible", "Maximum", f"DLQ {env}")],
                ),
            ],
        ),
    ]
    widgets: list[dict[str, Any]] = []
    for row, (title, cells) in enumerate(rows):
        widgets.append(
            {"type": "text", "x": 0, "y": row * 7, "width": 24, "height": 1, "properties": {"markdown": f"## {title}"}}
        )
        for col, (cell_title, searches) in enumerate(cells):
            widgets.append(_widget(cell_title, searches, col * 8, row * 7 + 1, region))
    return {"widgets": widgets}


@dataclass(frozen=True, kw_only=True)
class PlatformDashboardArgs:
    """Arguments of :class:`PlatformDashboard`: the environment, its region and the physical-name prefix."""

    environment: Environment
    region: str
    name_prefix: str = DEFAULT_NAME_PREFIX

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")


class PlatformDashboard(pulumi.ComponentResource):
    """The environment's CloudWatch dashboard ``<prefix>-Platform-<Env>`` (see module doc).

    Example::

        PlatformDashboard("platform-dashboard", PlatformDashboardArgs(environment="dev", region="ap-southeast-1"))

    Documentation:
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-search-expressions.html
    """

    dashboard_name: str

    def __init__(self, name: str, args: PlatformDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:observability:PlatformDashboard", name, None, opts)
        self.dashboard_name = f"{args.name_prefix}-Platform-{env_suffix(args.environment)}"
        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=json.dumps(dashboard_body(args.environment, args.region, args.name_prefix)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"dashboard_name": self.dashboard_name})
