"""Quota headroom (isolation invariant 49): count what a stack creates against AWS default quotas.

The counts are per stack; stacks that share an account and region share the quotas, so record the increases
you have (policy config of ``quota-headroom``, e.g. ``{"iamRoles": 5000}``) and keep headroom for the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

HEADROOM: Final = 0.8
"""A stack may use at most this share of a quota."""


@dataclass(frozen=True)
class Quota:
    """An AWS quota the plan counts against: key, label, resource types counted, default value and its source."""

    key: str
    label: str
    types: tuple[str, ...]
    default: int
    source: str


QUOTAS: Final[tuple[Quota, ...]] = (
    Quota(
        "iamRoles",
        "IAM roles per account",
        ("aws:iam/role:Role",),
        1000,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ),
    Quota(
        "iamPolicies",
        "IAM customer managed policies per account",
        ("aws:iam/policy:Policy",),
        1500,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ),
    Quota(
        "userPools",
        "Cognito user pools per Region",
        ("aws:cognito/userPool:UserPool",),
        1000,
        "https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html",
    ),
    Quota(
        "identityPools",
        "Cognito identity pools per Region",
        ("aws:cognito/identityPool:IdentityPool",),
        1000,
        "https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html",
    ),
    Quota(
        "policyStores",
        "Verified Permissions policy stores per Region",
        ("aws:verifiedpermissions/policyStore:PolicyStore",),
        30000,
        "https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/quotas.html",
    ),
    Quota(
        "schedules",
        "EventBridge Scheduler schedules per Region",
        ("aws:scheduler/schedule:Schedule",),
        1000000,
        "https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html",
    ),
    Quota(
        "restApis",
        "API Gateway REST APIs per Region",
        ("aws:apigateway/restApi:RestApi",),
        600,
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    Quota(
        "usagePlans",
        "API Gateway usage plans per Region",
        ("aws:apigateway/usagePlan:UsagePlan",),
        300,
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    Quota(
        "tables",
        "DynamoDB tables per Region",
        ("aws:dynamodb/table:Table",),
        2500,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
    ),
)


@dataclass(frozen=True)
class Usage:
    """How much of a quota one stack uses."""

    quota: Quota
    used: int
    limit: int

    @property
    def share(self) -> float:
        return self.used / self.limit

    @property
    def exceeded(self) -> bool:
        return self.used > HEADROOM * self.limit


def usage(resource_types: Iterable[str], increases: Mapping[str, int] | None = None) -> list[Usage]:
    """Usage of every quota by a stack whose resources have these types."""
    counts = Counter(resource_types)
    out = []
    for q in QUOTAS:
        limit = int((increases or {}).get(q.key, q.default))
        out.append(Usage(q, sum(counts[t] for t in q.types), limit))
    return out


def _headroom(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    increases = {k: int(v) for k, v in args.get_config().items() if isinstance(v, int | float)}
    for u in usage((r.resource_type for r in args.resources), increases):
        if u.exceeded:
            report_violation(
                f"{u.quota.label}: this stack creates {u.used}, over {int(HEADROOM * 100)}% of the quota {u.limit}. "
                f"Request an increase ({u.quota.source}) and record it as quota-headroom config "
                f'{{"{u.quota.key}": <new quota>}}, or shard tenants across accounts',
                None,
            )


quota_headroom = StackValidationPolicy(
    name="quota-headroom",
    description=f"A stack uses at most {int(HEADROOM * 100)}% of each AWS quota it counts against.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_headroom,
    config_schema=PolicyConfigSchema(properties={q.key: {"type": "integer"} for q in QUOTAS}),
)

POLICIES = [quota_headroom]
