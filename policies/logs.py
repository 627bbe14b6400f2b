"""Log retention rules: every log group expires deliberately, and the sign-in audit trail is kept in prod.

``log-group-retention``: a CloudWatch Logs group without ``retentionInDays`` (or with 0) never expires, and a
value CloudWatch does not accept fails at ``pulumi up``.

``sign-in-trigger-log-retention``: the Cognito trigger functions (pre-authentication, pre-token generation, and any
other trigger a user pool names) log every sign-in decision; those logs are the audit trail. Each trigger
function of a user pool must have its log group (``/aws/lambda/<function name>``) in the stack - otherwise Lambda
creates one that never expires and the retention is nobody's decision - and in a prod pool (``saas:environment``
tag ``prod``; an untagged pool is judged as prod) that group keeps at least ``minimumDays`` (policy config, default
365) days. Pools are joined to functions through the engine's property dependencies (``lambdaConfig`` ->
``aws:lambda/function:Function``), so the rule holds at the first preview.

Documentation:
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
    https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
USER_POOL: Final = "aws:cognito/userPool:UserPool"
FUNCTION: Final = "aws:lambda/function:Function"
RETENTION_VALUES: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557)
RETENTION_VALUES_LONG: Final = (2922, 3288, 3653)
SIGN_IN_MINIMUM_DAYS: Final = 365


def retention_problem(props: Mapping[str, Any]) -> str | None:
    """Why a log group's retention is not acceptable (``None`` when it is)."""
    days = props.get("retentionInDays")
    if days is None or days == 0:
        return "log group never expires: set retention_in_days (saas:logs sets it for the platform's functions)"
    if not isinstance(days, int | float) or int(days) not in (*RETENTION_VALUES, *RETENTION_VALUES_LONG):
        return f"retention_in_days={days!r} is not a value CloudWatch Logs accepts"
    return None


def _retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    problem = retention_problem(args.props)
    if problem:
        report_violation(problem, None)


log_group_retention = ResourceValidationPolicy(
    name="log-group-retention",
    description="Every CloudWatch Logs group has a retention CloudWatch accepts (never 'never expire').",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_retention,
)


def _trigger_functions(pool: PolicyResource) -> list[PolicyResource]:
    deps = (pool.property_dependencies or {}).get("lambdaConfig", [])
    return [d for d in deps if d.resource_type == FUNCTION]


def _is_prod(pool: PolicyResource) -> bool:
    tags = pool.props.get("tags")
    env = tags.get("saas:environment") if isinstance(tags, Mapping) else None
    return env is None or env == "prod"


def _sign_in(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    minimum = int(args.get_config().get("minimumDays", SIGN_IN_MINIMUM_DAYS))
    groups = {str(r.props.get("name")): r for r in args.resources if r.resource_type == LOG_GROUP}
    for pool in args.resources:
        if pool.resource_type != USER_POOL:
            continue
        prod = _is_prod(pool)
        for fn in _trigger_functions(pool):
            name = str(fn.props.get("name") or "")
            group = groups.get(f"/aws/lambda/{name}")
            if group is None:
                report_violation(
                    f"trigger function {name or fn.urn!r} of this user pool has no log group /aws/lambda/{name} in "
                    "the stack; Lambda would create one that never expires",
                    pool.urn,
                )
                continue
            days = group.props.get("retentionInDays")
            if prod and (not isinstance(days, int | float) or days == 0 or days < minimum):
                report_violation(
                    f"sign-in trigger logs /aws/lambda/{name} keep {days!r} days; prod keeps the sign-in audit trail "
                    f"at least {minimum} (saas:logs.signInRetentionDays)",
                    group.urn,
                )


sign_in_trigger_log_retention = StackValidationPolicy(
    name="sign-in-trigger-log-retention",
    description="Each Cognito trigger function has its own log group in the stack, kept at least a year in prod "
    "(the sign-in audit trail).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_sign_in,
    config_schema=PolicyConfigSchema(properties={"minimumDays": {"type": "integer", "minimum": 1}}),
)

POLICIES = [log_group_retention, sign_in_trigger_log_retention]
