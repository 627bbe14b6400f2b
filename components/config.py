"""The stack configuration contract: one typed model for the ``saas:`` namespace (docs/configuration.md).

``load_stack_config`` parses the flat ``{"saas:key": "<string>"}`` map Pulumi hands a program, validates it
against :class:`StackConfig` and, on any problem, raises :class:`~saas_platform.components.errors.StackConfigError`
naming the stack file and *every* bad key, before any resource is registered.

Strictness depends on the environment. Defaults are the strict ones (MFA ``ON``, ``protect: true``);
``dev`` and ``staging`` may relax them only by saying so in their file, and ``prod`` may not relax them at
all: prod demands ``identity.mfa: "ON"``, ``protect: true`` and an explicit ``retentionDays``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from saas_platform.components.errors import StackConfigError
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    LOG_RETENTION_DAYS,
    NAME_PREFIX_RE,
    RETENTION_PROMISE_DAYS,
    RUNNERS,
    SYSTEM_TENANT,
    TABLE_NAME_PREFIX_RE,
    TENANT_ID_RE,
    Environment,
    physical_names,
)

NAMESPACE: Final = "saas"
REGION_RE: Final = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
MSK_CLUSTER_ARN_RE: Final = re.compile(
    r"arn:aws:kafka:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):cluster/[A-Za-z0-9-]{1,64}/[0-9a-f-]{36}(-\d+)?"
)
KAFKA_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,249}")
EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
STACK_REF_RE: Final = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
CELL_STACK_RE: Final = re.compile(r"(?P<environment>[a-z]+)-cell-(?P<number>\d{2,})")
"""Cell stack names: ``<env>-cell-<NN>`` (two or more digits), e.g. ``prod-cell-03``."""
PLATFORM_ONLY_KEYS: Final = ("msk", "jobs", "api", "images", "table_name_prefix")
"""Keys that configure shared pieces, which a cell stack reads from its platform stack instead."""
SMS_ROLE_ARN_RE: Final = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")

Tier = Literal["basic", "standard", "premium"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=False
    )


def _environment(info: ValidationInfo) -> str | None:
    ctx = info.context or {}
    env = ctx.get("environment")
    return env if isinstance(env, str) else None


class TenantConfig(_Model):
    """One customer tenant (``saas:tenants[i]``). The ``system`` tenant is implicit and reserved."""

    id: Annotated[str, StringConstraints(pattern=f"^(?:{TENANT_ID_RE.pattern})$")] = Field(
        description="Tenant id: lowercase, starts with a letter, 2-31 characters of [a-z0-9-]."
    )
    display_name: str | None = Field(default=None, min_length=1, max_length=128)
    tier: Tier = "standard"
    status: Literal["active", "suspended", "offboarded"] = Field(
        default="active",
        description="Default: active. The tenant's status in the tenant registry; suspended and offboarded "
        "tenants are refused by the authorizer, the Cognito triggers and the MSK consumer within one cache TTL.",
    )

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == SYSTEM_TENANT:
            raise ValueError(f"{SYSTEM_TENANT!r} is reserved for the platform's system tenant; pick another id")
        if value.endswith("-") or "--" in value:
            raise ValueError(f"{value!r} must not end with '-' or contain '--' (it is embedded in resource names)")
        return value

    @property
    def name(self) -> str:
        """The display name, defaulting to the id."""
        return self.display_name or self.id


class IdentityConfig(_Model):
    """``saas:identity``: who owns the per-tenant user pools and how they authenticate (docs/identity.md)."""

    mode: Literal["own", "shared"] = "own"
    source_stack: str | None = Field(default=None, validate_default=True)
    mfa: Literal["ON", "OPTIONAL"] = Field(default="ON", validate_default=True)
    feature_plan: Literal["ESSENTIALS", "PLUS"] = "ESSENTIALS"
    sms_role_arn: str | None = None
    """IAM role Cognito assumes to send SMS MFA codes. SMS MFA is offered only when this is set."""
    client_environments: list[Environment] | None = None
    """Environments whose app clients an owning stack (``mode: own``) creates on its pools and exports.
    Default: only its own environment. A prod stack whose pools other stacks share (``mode: shared``) lists
    their environments too (``[staging, prod]``): one credential then works in each of them, and no pool carries
    the clients of an environment that does not use it.
    Use :meth:`StackConfig.identity_client_environments` for the resolved list."""

    @field_validator("source_stack")
    @classmethod
    def _source_stack_matches_mode(cls, value: str | None, info: ValidationInfo) -> str | None:
        mode = info.data.get("mode")
        if mode == "shared" and not value:
            raise ValueError("required when mode is 'shared': the owning stack as <org>/<project>/<stack>")
        if mode == "own" and value:
            raise ValueError("only allowed when mode is 'shared'; remove it or set mode: shared")
        if value and not STACK_REF_RE.fullmatch(value):
            raise ValueError(f"must be a fully qualified stack name <org>/<project>/<stack>; got {value!r}")
        return value

    @field_validator("mfa")
    @classmethod
    def _prod_mfa(cls, value: str, info: ValidationInfo) -> str:
        if _environment(info) == "prod" and value != "ON":
            raise ValueError('prod requires mfa: "ON" (quote it: unquoted ON is a YAML boolean)')
        return value

    @field_validator("client_environments")
    @classmethod
    def _client_environments(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return value
        if info.data.get("mode") == "shared":
            raise ValueError(
                "only allowed when mode is 'own': a shared stack creates no app clients, it uses the owning "
                "stack's (set clientEnvironments there)"
            )
        dupes = sorted({e for e in value if value.count(e) > 1})
        if dupes:
            raise ValueError(f"duplicate environments: {dupes}")
        env = _environment(info)
        if env is not None and env not in value:
            raise ValueError(
                f"must include this stack's own environment {env!r} (its identity pools use those clients); got {value}"
            )
        return value

    @field_validator("sms_role_arn")
    @classmethod
    def _sms_role(cls, value: str | None) -> str | None:
        if value is not None and not SMS_ROLE_ARN_RE.fullmatch(value):
            raise ValueError(f"must be an IAM role ARN (arn:aws:iam::<account>:role/<name>); got {value!r}")
        return value


class MskNetworkConfig(_Model):
    """``saas:msk.network``: the existing cluster's VPC, subnets and security groups (``aws kafka
    describe-cluster-v2`` lists them). The event source mapping places its network interfaces there, and the
    consumer role may create and delete network interfaces only there (docs/pipeline.md)."""

    vpc_id: Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8,17}$")]
    subnet_ids: list[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=1)
    security_group_ids: list[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")]] = Field(min_length=1)


class MskConfig(_Model):
    """``saas:msk``: the Kafka source of the image pipeline (the image-pipeline design).

    One consumer (Lambda + event source mapping) is created per topic. The tuning fields below are the
    event source mapping's and default to the values isolation invariants 44-45 call safe: an explicit
    ``TRIM_HORIZON`` start, finite retries and record age, provisioned pollers (which the Kafka error-handling
    controls require).
    """

    cluster_arn: str | None = None
    create: bool = Field(default=False, validate_default=True)
    network: MskNetworkConfig | None = Field(default=None, validate_default=True)
    """Required with ``clusterArn``: the cluster's network (``vpcId``, ``subnetIds``, ``securityGroupIds``). With
    ``create: true`` the program tags the network it creates instead."""
    topics: list[Annotated[str, StringConstraints(pattern=f"^(?:{KAFKA_TOPIC_RE.pattern})$")]] = Field(min_length=1)
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = Field(default="TRIM_HORIZON", validate_default=True)
    """Where a new consumer group starts. ``LATEST`` skips records already in the topic (not allowed in prod)."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    batching_window_seconds: int = Field(default=1, ge=0, le=300)
    max_retry_attempts: int = Field(default=3, ge=0, le=10_000)
    """Retries of a failed record before it goes to the on-failure bucket. Never -1 (infinite)."""
    max_record_age_seconds: int = Field(default=21_600, ge=60, le=604_800)
    """Records older than this go to the on-failure bucket instead of the function (60 s - 7 days)."""
    min_pollers: int = Field(default=1, ge=1, le=200)
    max_pollers: int = Field(default=2, ge=1, le=2_000)
    source_buckets: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]] = Field(
        default_factory=list
    )
    """Buckets producers may point at (``s3`` pointer records) instead of inlining the image; keys must start
    with ``<tenantId>/``. Empty: pointer records are rejected."""

    @field_validator("cluster_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not MSK_CLUSTER_ARN_RE.fullmatch(value):
            raise ValueError(
                f"must be an MSK cluster ARN arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>; got {value!r}"
            )
        return value

    @field_validator("create")
    @classmethod
    def _exactly_one_source(cls, value: bool, info: ValidationInfo) -> bool:
        arn = info.data.get("cluster_arn")
        if value and arn:
            raise ValueError("set either clusterArn (existing cluster) or create: true, not both")
        if not value and not arn and "cluster_arn" in info.data:
            raise ValueError("set clusterArn to an existing cluster, or create: true for a dev serverless cluster")
        if value and _environment(info) not in (None, "dev"):
            raise ValueError("create: true is for dev only; staging and prod consume an existing cluster (clusterArn)")
        return value

    @field_validator("network")
    @classmethod
    def _network_with_existing_cluster(
        cls, value: MskNetworkConfig | None, info: ValidationInfo
    ) -> MskNetworkConfig | None:
        if info.data.get("create") and value is not None:
            raise ValueError("not with create: true (the program creates and tags the dev cluster's network)")
        if info.data.get("cluster_arn") and value is None:
            raise ValueError(
                "required with clusterArn: set vpcId, subnetIds and securityGroupIds of the cluster "
                "(aws kafka describe-cluster-v2); the consumer may place network interfaces only there"
            )
        return value

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, value: list[str]) -> list[str]:
        dupes = sorted({t for t in value if value.count(t) > 1})
        if dupes:
            raise ValueError(f"duplicate topics: {dupes}")
        return value

    @field_validator("starting_position")
    @classmethod
    def _prod_trim_horizon(cls, value: str, info: ValidationInfo) -> str:
        if value == "LATEST" and _environment(info) == "prod":
            raise ValueError("prod requires TRIM_HORIZON: LATEST silently skips records already in the topic")
        return value

    @field_validator("max_pollers")
    @classmethod
    def _pollers(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_pollers")
        if isinstance(low, int) and value < low:
            raise ValueError(f"must be >= minPollers ({low}); got {value}")
        return value


class JobsConfig(_Model):
    """``saas:jobs``: the system jobs (docs/jobs.md): the per-environment scheduler, the job picker and runners.

    Absent: no scheduler, picker or runners are deployed (the TenantJob table still exists). ``{}`` deploys
    them with the defaults below.
    """

    runners: list[str] = Field(default_factory=lambda: list(RUNNERS))
    """Runners the picker may dispatch to (its allow-list). Default: all six."""
    shards: int = Field(default=4, ge=1, le=100)
    """Write shards of the due-jobs index (docs/jobs.md has the arithmetic)."""
    lease_seconds: int = Field(default=300, ge=90, le=900)
    """How long a claimed job waits before another picker recovers it (more than the picker's 60 s timeout)."""
    retry_attempts: int = Field(default=3, ge=0, le=185)
    """Scheduler retries of a failed picker invocation before its dead-letter queue."""
    max_event_age_seconds: int = Field(default=300, ge=60, le=86_400)
    lag_alarm_seconds: int = Field(default=300, ge=60, le=86_400)
    """Alarm when the oldest due job has waited longer than this."""

    @field_validator("runners")
    @classmethod
    def _runners(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RUNNERS))
        if unknown:
            raise ValueError(f"unknown runners {unknown}; known: {', '.join(RUNNERS)}")
        dupes = sorted({r for r in value if value.count(r) > 1})
        if dupes:
            raise ValueError(f"duplicate runners: {dupes}")
        if not value:
            raise ValueError("list at least one runner, or remove saas:jobs to deploy no system jobs")
        if "AttGen-System" in value and "AttGen-Tenant" not in value:
            raise ValueError("AttGen-System fans out to AttGen-Tenant; add AttGen-Tenant")
        return value


class AlarmsConfig(_Model):
    """``saas:alarms``: where alarms (Lambda errors, DLQ depth, DynamoDB throttles) are sent."""

    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_RE.fullmatch(value):
            raise ValueError(f"must be an email address; got {value!r}")
        return value


class AccessConfig(_Model):
    """``saas:access``: how tenant IAM roles are laid out (isolation section A, invariant 13).

    ``perTenant`` (default): two roles and two customer-managed policies per tenant, each naming the tenant
    literally. ``abac``: one admin and one user role per shard of ``tenantsPerRole`` tenants, scoped by the
    ``TenantId`` principal tag; the shard size defaults to, and may not exceed, what fits 75% of the trust-policy
    quota (``trustPolicyQuota``: 2048, or 4096 once AWS raised it for the account), the 25% headroom of
    ``iam-document-headroom``.
    """

    mode: Literal["perTenant", "abac"] = "perTenant"
    tenants_per_role: int | None = None
    trust_policy_quota: Literal[2048, 4096] = 2048
    superuser_scan: bool = False
    """Grant dynamodb:Scan to SystemSuperuserRole (needs the policy-pack exception, invariant 11c)."""

    @field_validator("tenants_per_role")
    @classmethod
    def _per_role(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return value
        if info.data.get("mode") != "abac":
            raise ValueError("only allowed with mode: abac (per-tenant roles hold exactly one tenant)")
        if value < 1:
            raise ValueError(f"must be at least 1; got {value}")
        return value


LAMBDA_FUNCTION_ARN_RE: Final = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?"
)
API_SERVICES: Final = (
    "employment",
    "pim",
    "meatwork",
    "work-schedule",
    "leave",
    "time-attendance",
    "overtime",
    "payroll",
    "notifications",
    "iam",
    "srm",
)
"""The microservices of the OptimalHR design, as named in ``handlers/routes.json`` (``saas:api.services`` keys)."""


class ThrottleConfig(_Model):
    """Steady-state rate (requests/second) and burst of one tier's usage plan."""

    rate_limit: float = Field(gt=0, le=10_000)
    burst_limit: int = Field(gt=0, le=5_000)

    @field_validator("burst_limit")
    @classmethod
    def _burst_covers_rate(cls, value: int, info: ValidationInfo) -> int:
        rate = info.data.get("rate_limit")
        if isinstance(rate, int | float) and value < rate:
            raise ValueError(f"burstLimit {value} is below rateLimit {rate}; the burst must be at least the rate")
        return value


DEFAULT_TIER_THROTTLES: Final[dict[Tier, ThrottleConfig]] = {
    "basic": ThrottleConfig(rate_limit=10, burst_limit=20),
    "standard": ThrottleConfig(rate_limit=50, burst_limit=100),
    "premium": ThrottleConfig(rate_limit=200, burst_limit=400),
}


JWKS_MAX_STALE_DEFAULT_SECONDS: Final = 21_600
"""Default of ``saas:api.jwksMaxStaleSeconds``: 6 hours."""
JWKS_MAX_STALE_LIMIT_SECONDS: Final = 86_400
"""The longest stale window ``saas:api.jwksMaxStaleSeconds`` accepts (24 hours; the authorizer refuses more)."""


class ApiConfig(_Model):
    """``saas:api``: the tenant API (``TenantApi``): which microservice Lambda serves each service, per-tier
    throttles (the OptimalHR design: per-tenant usage plans by subscription tier), log settings, and how long
    the authorizer may keep trusting cached Cognito signing keys while their JWKS endpoint is unreachable.

    Services without an ARN get no routes (API Gateway answers 403 for them). ``services`` may be empty
    (``saas:api: {}``) while the image pipeline's upload route is served (``saas:images`` enabled with
    ``upload``); an API with no route at all is refused.
    """

    services: dict[str, str] = Field(default_factory=dict)
    tiers: dict[Tier, ThrottleConfig] = Field(default_factory=lambda: {**DEFAULT_TIER_THROTTLES})
    log_retention_days: int = 365
    manage_account_log_role: bool = True
    """Set the account's API Gateway CloudWatch role (one per account and region; false in all but one stack)."""
    jwks_max_stale_seconds: int = JWKS_MAX_STALE_DEFAULT_SECONDS
    """Default 21600 (6 h). After a user pool's key set is an hour old the authorizer refetches it; while that
    fails it keeps verifying tokens with the last good keys for at most this many more seconds, then denies
    every token of that pool. 0 denies as soon as a refetch fails; at most 86400."""

    @field_validator("jwks_max_stale_seconds", mode="before")
    @classmethod
    def _max_stale_not_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic would read true as 1 second
            raise ValueError(f"must be whole seconds, not a boolean; got {value!r}")
        return value

    @field_validator("jwks_max_stale_seconds")
    @classmethod
    def _max_stale(cls, value: int) -> int:
        if not 0 <= value <= JWKS_MAX_STALE_LIMIT_SECONDS:
            raise ValueError(
                f"must be whole seconds between 0 and {JWKS_MAX_STALE_LIMIT_SECONDS} (24 hours); got {value}. It "
                "bounds how long the authorizer trusts cached signing keys while the JWKS endpoint is down "
                f"(default {JWKS_MAX_STALE_DEFAULT_SECONDS})"
            )
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(API_SERVICES))
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {', '.join(API_SERVICES)}")
        bad = sorted(k for k, arn in value.items() if not LAMBDA_FUNCTION_ARN_RE.fullmatch(arn))
        if bad:
            raise ValueError(
                f"services {bad} need a Lambda function ARN arn:aws:lambda:<region>:<account>:function:<name>; "
                f"got {[value[k] for k in bad]}"
            )
        return value

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, value: dict[Tier, ThrottleConfig]) -> dict[Tier, ThrottleConfig]:
        return {**DEFAULT_TIER_THROTTLES, **value}

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of the CloudWatch Logs retention values {LOG_RETENTION_DAYS}; got {value}")
        return value


SIGN_IN_LOG_MIN_DAYS_PROD: Final = 365
"""The sign-in trigger logs are the sign-in audit trail: prod keeps them at least a year."""


class LogsConfig(_Model):
    """``saas:logs``: CloudWatch Logs retention of the platform's Lambda functions.

    ``lambdaRetentionDays`` (default 90) applies to the handler functions (MSK consumer, API authorizer when it
    is not set by ``saas:api.logRetentionDays``); ``signInRetentionDays`` to the Cognito trigger functions, whose
    logs record every sign-in decision (default 365 in prod, 90 elsewhere; prod refuses less than 365). Values are
    the ones CloudWatch Logs accepts.
    """

    lambda_retention_days: int = 90
    sign_in_retention_days: int | None = Field(default=None, validate_default=True)

    @property
    def sign_in_days(self) -> int:
        """``sign_in_retention_days`` as resolved by validation (the environment's default when unset)."""
        assert self.sign_in_retention_days is not None  # the validator always fills it in
        return self.sign_in_retention_days

    @field_validator("lambda_retention_days")
    @classmethod
    def _lambda_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of the CloudWatch Logs retention values {LOG_RETENTION_DAYS}; got {value}")
        return value

    @field_validator("sign_in_retention_days")
    @classmethod
    def _sign_in_retention(cls, value: int | None, info: ValidationInfo) -> int:
        prod = _environment(info) == "prod"
        if value is None:
            return SIGN_IN_LOG_MIN_DAYS_PROD if prod else 90
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of the CloudWatch Logs retention values {LOG_RETENTION_DAYS}; got {value}")
        if prod and value < SIGN_IN_LOG_MIN_DAYS_PROD:
            raise ValueError(
                f"prod keeps the sign-in trigger logs (the sign-in audit trail) at least {SIGN_IN_LOG_MIN_DAYS_PROD} "
                f"days; got {value}"
            )
        return value


class ImagesConfig(_Model):
    """``saas:images``: the upload API and the processing leg of the image pipeline (``ImagePipeline``).

    On by default (complete by default: the image-pipeline design has both legs in every environment):
    the processing leg (the raw bucket receives images from the MSK consumer too) and, wherever ``saas:api`` is
    set, the upload route; ``upload: false`` leaves the route (and its function) out, ``enabled: false`` the
    whole pipeline.
    """

    enabled: bool = True
    """Default: True. Deploy ``ImagePipeline`` in this stack (``false`` leaves raw images unprocessed)."""
    upload: bool = True
    """Serve ``POST /v1/images`` on the tenant API (where ``saas:api`` is set)."""
    max_receive_count: int = Field(default=5, ge=1, le=1000)
    """Deliveries of one event before SQS moves it to the dead-letter queue."""
    batch_size: int = Field(default=5, ge=1, le=10)
    max_concurrency: int = Field(default=10, ge=2, le=1000)
    """Concurrent processor invocations (the SQS event source's maximum concurrency)."""
    processor_memory_mb: int = Field(default=2048, ge=128, le=10240)


class CellConfig(_Model):
    """``saas:cell``: this stack is a *tenant cell* of an environment (docs/fleet.md, "Cells").

    A cell stack holds only its tenants (user pools, identity pools, policy stores, roles, sign-in triggers and
    registry items) and reads the environment's shared pieces from the platform stack's ``platform`` output.
    """

    platform_stack: Annotated[str, StringConstraints(pattern=f"^(?:{STACK_REF_RE.pattern})$")]
    """The environment's platform stack, fully qualified: ``<org>/<project>/<env>`` (``organization/saas/prod``)."""
    api: bool = True
    """Default ``True``: the platform serves the tenant API (``saas:api``), so each tenant gets a usage key on its
    tier's plan. Set ``false`` when the platform stack has no ``saas:api`` (checked against its export)."""
    number: int = Field(default=0, exclude=True)
    """From the stack name ``<env>-cell-<NN>`` (set by :func:`load_stack_config`); part of shard-numbered names."""


class StackConfig(_Model):
    """Everything under the ``saas:`` namespace of ``Pulumi.<stack>.yaml``, plus ``aws:region``."""

    environment: Environment
    tenants: list[TenantConfig]
    """Customer tenants of this stack. A platform stack may hold none (every tenant in cells); a cell holds >= 1."""
    cell: CellConfig | None = None
    """Set in a cell stack (``Pulumi.<env>-cell-<NN>.yaml``); absent in the environment's platform stack."""
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    retention_days: int | None = Field(default=None, validate_default=True)
    """Days raw/processed objects and job metadata live (S3 expiration, DynamoDB TTL)."""
    msk: MskConfig | None = None
    alarms: AlarmsConfig
    access: AccessConfig = Field(default_factory=AccessConfig)
    """Tenant role layout: per-tenant roles (default) or shared ABAC roles per shard of tenants."""
    protect: bool = Field(default=True, validate_default=True)
    """Deletion protection and retain-on-delete for stateful resources."""
    name_prefix: Annotated[str, StringConstraints(pattern=f"^(?:{NAME_PREFIX_RE.pattern})$")] = DEFAULT_NAME_PREFIX
    table_name_prefix: Annotated[str, StringConstraints(pattern=f"^(?:{TABLE_NAME_PREFIX_RE.pattern})$")] = ""
    """Prefix of the pool-table names (``alice`` -> ``alice-EmploymentDev``). Default empty: the design's names.
    With ``namePrefix`` it lets two stacks of one environment share an account without name collisions."""
    tags: dict[str, Annotated[str, StringConstraints(max_length=256)]] = Field(default_factory=dict)
    api: ApiConfig | None = None
    """The tenant API (issue 5); absent: no API is deployed (and so no image upload route)."""
    logs: LogsConfig = Field(default_factory=dict, validate_default=True)
    """Log retention of the Lambda functions (``saas:logs``); validated even when absent, so prod defaults apply."""
    jobs: JobsConfig | None = None
    """The system jobs (issue 12); absent: no scheduler, picker or runners are deployed."""
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    """The image pipeline's upload route and processing leg (issue 13)."""
    region: str = Field(default="", exclude=True)
    """From ``aws:region``; not part of the ``saas:`` namespace."""

    @field_validator("tenants")
    @classmethod
    def _unique_tenants(cls, value: list[TenantConfig]) -> list[TenantConfig]:
        ids = [t.id for t in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate tenant ids: {dupes}; each tenant must appear once")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int | None, info: ValidationInfo) -> int:
        if value is None:
            if _environment(info) == "prod":
                raise ValueError(
                    "prod requires retentionDays to be set explicitly (days objects and job metadata live)"
                )
            return 7
        if value < 1:
            raise ValueError(f"must be at least 1 day; got {value}")
        if value > RETENTION_PROMISE_DAYS:
            raise ValueError(
                f"{value} days is over the {RETENTION_PROMISE_DAYS}-day retention promise for ephemeral tenant data "
                "(the policy pack's s3-lifecycle-covers-data rule refuses longer expirations); use at most "
                f"{RETENTION_PROMISE_DAYS}"
            )
        return value

    @field_validator("protect")
    @classmethod
    def _prod_protect(cls, value: bool, info: ValidationInfo) -> bool:
        if _environment(info) == "prod" and not value:
            raise ValueError("prod requires protect: true (deletion protection on stateful resources)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if k.startswith(("aws:", "saas:")) or not 1 <= len(k) <= 128)
        if bad:
            raise ValueError(f"tag keys {bad} are reserved (aws:, saas:) or longer than 128 characters")
        return value

    @property
    def tenant_ids(self) -> list[str]:
        """Customer tenant ids in config order (the system tenant is not included)."""
        return [t.id for t in self.tenants]

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def identity_client_environments(self) -> list[Environment]:
        """Environments whose app clients this stack creates when it owns the pools (``identity.mode: own``):
        ``identity.clientEnvironments`` if set, else only its own environment (a pool carries no client that no
        stack uses; prod lists the environments that share its pools, e.g. ``[staging, prod]``)."""
        if self.identity.client_environments is not None:
            return list(self.identity.client_environments)
        return [self.environment]


def _decode(value: Any) -> Any:
    """Undo the CLI's encoding: objects and lists arrive as JSON text, scalars as plain strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _key(loc: tuple[int | str, ...], *, raw_last: bool = False) -> str:
    """``("tenants", 0, "display_name")`` -> ``saas:tenants[0].displayName`` (the YAML spelling)."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if part == "[key]":  # pydantic marks an invalid mapping key this way; the key itself is the location
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
            continue
        name = part if (raw_last and i == len(loc) - 1) else to_camel(part)
        parts.append(name if i == 0 else f".{name}")
    return f"{NAMESPACE}:{''.join(parts)}"


_KNOWN_KEYS: Final = sorted(f.alias or n for n, f in StackConfig.model_fields.items() if n != "region")


_PATTERN_HINTS: Final = {
    TENANT_ID_RE.pattern: "tenant ids are lowercase, start with a letter and have 2-31 characters of [a-z0-9-]",
    NAME_PREFIX_RE.pattern: "the name prefix starts with a letter and has 1-20 characters of [A-Za-z0-9-]",
    TABLE_NAME_PREFIX_RE.pattern: "the table-name prefix is empty or starts with a letter and has 1-20 characters "
    "of [A-Za-z0-9-]",
    KAFKA_TOPIC_RE.pattern: "Kafka topic names have 1-249 characters of [A-Za-z0-9._-]",
}


def _message(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown key (not part of the config contract; check the spelling)"
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        inner = pattern.removeprefix("^(?:").removesuffix(")$")
        return f"{_PATTERN_HINTS.get(inner, f'must match {inner!r}')}; got {err.get('input')!r}"
    if err["type"] in (
        "literal_error",
        "bool_parsing",
        "int_parsing",
        "int_type",
        "string_type",
        "list_type",
        "dict_type",
        "model_type",
        "bool_type",
        "too_short",
        "greater_than_equal",
    ):
        return f"{msg}; got {err.get('input')!r}"
    return msg


def load_stack_config(raw: Mapping[str, Any], stack: str, stack_file: str | None = None) -> StackConfig:
    """Validate the flat config map of a stack and return the typed model.

    ``raw`` is keyed like the CLI's (``saas:tenants``, ``aws:region``); values may be the CLI's strings (JSON
    text for objects) or already-decoded Python values. Raises :class:`StackConfigError` listing every bad key.
    """
    stack_file = stack_file or f"Pulumi.{stack}.yaml"
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for key, value in raw.items():
        ns, _, name = key.partition(":")
        if ns == NAMESPACE:
            data[name] = _decode(value)
    region = raw.get("aws:region")
    if not isinstance(region, str) or not region:
        problems.append(("aws:region", "required key is missing (the AWS region this stack deploys to)"))
    elif not REGION_RE.fullmatch(region):
        problems.append(("aws:region", f"{region!r} is not an AWS region name like 'ap-southeast-1'"))
    env = data.get("environment")
    context = {"environment": env if env in ("dev", "staging", "prod") else None}
    if "region" in data:
        problems.append((f"{NAMESPACE}:region", "unknown key; the region is read from aws:region"))
        data.pop("region")
    config: StackConfig | None = None
    try:
        config = StackConfig.model_validate({**data, "region": region or ""}, context=context)
    except ValidationError as exc:
        for err in exc.errors():
            key = _key(err["loc"], raw_last=err["type"] == "extra_forbidden")
            msg = _message(err)
            if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
                msg += f"; known keys: {', '.join(_KNOWN_KEYS)}"
            problems.append((key, msg))
    if config is not None:
        problems.extend(_semantic_problems(config))
        cell_problems, config = _cell(config, stack)
        problems.extend(cell_problems)
    if problems:
        raise StackConfigError(stack_file, problems)
    assert config is not None
    return config


def _cell(config: StackConfig, stack: str) -> tuple[list[tuple[str, str]], StackConfig]:
    """Cell stacks: the name carries the number, the shared pieces stay in the platform stack, the pools are own."""
    match = CELL_STACK_RE.fullmatch(stack)
    cell = config.cell
    if cell is None:
        if match:
            return [
                (
                    f"{NAMESPACE}:cell",
                    f"required in a cell stack ({stack!r}): {{platformStack: <org>/<project>/{match['environment']}}}; "
                    "without it this stack would build a whole second platform",
                )
            ], config
        return [], config  # a platform stack (its tenants may all live in cells)
    problems: list[tuple[str, str]] = []
    if not match:
        problems.append(
            (f"{NAMESPACE}:cell", f"a cell stack is named <environment>-cell-<NN> (e.g. dev-cell-01); got {stack!r}")
        )
    elif match["environment"] != config.environment:
        problems.append(
            (f"{NAMESPACE}:cell", f"stack {stack!r} is a cell of {match['environment']}, not of {config.environment}")
        )
    if not config.tenants:
        problems.append((f"{NAMESPACE}:tenants", "a cell holds at least one tenant"))
    for key in PLATFORM_ONLY_KEYS:
        if key in config.model_fields_set:
            problems.append(
                (
                    _key((key,)),
                    "configures a shared piece, which lives in the platform stack "
                    f"({cell.platform_stack}); remove it from the cell",
                )
            )
    if config.identity.mode != "own":
        problems.append(
            (
                f"{NAMESPACE}:identity.mode",
                "a cell owns its tenants' user pools: use mode: own (shared pools are read by platform stacks only)",
            )
        )
    number = int(match["number"]) if match else 0
    return problems, config.model_copy(update={"cell": cell.model_copy(update={"number": number})})


def _semantic_problems(config: StackConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if config.msk and config.msk.cluster_arn:
        match = MSK_CLUSTER_ARN_RE.fullmatch(config.msk.cluster_arn)
        if match and match["region"] != config.region:
            problems.append(
                ("saas:msk.clusterArn", f"cluster is in {match['region']} but the stack deploys to {config.region}")
            )
    problems.extend(_access_problems(config))
    if config.api is not None:
        if not config.api.services and not (config.images.enabled and config.images.upload):
            problems.append(
                (
                    "saas:api.services",
                    "the API would serve no route: name at least one microservice Lambda, or serve the image "
                    "upload route (saas:images.enabled and saas:images.upload true), or remove saas:api",
                )
            )
        for service, arn in sorted(config.api.services.items()):
            match = LAMBDA_FUNCTION_ARN_RE.fullmatch(arn)
            if match and match["region"] != config.region:
                problems.append(
                    (
                        f"saas:api.services.{service}",
                        f"function is in {match['region']} but the stack deploys to {config.region}",
                    )
                )
    tenant_keys = {f"saas:tenants[{i}].id": t.id for i, t in enumerate(config.tenants)}
    seen: set[str] = set()
    for limit in physical_names(config.name_prefix, config.environment, tenant_keys):
        if len(limit.name) > limit.limit and (limit.key, limit.kind) not in seen:
            seen.add((limit.key, limit.kind))  # type: ignore[arg-type]
            problems.append(
                (
                    limit.key,
                    f"makes the {limit.kind} name {limit.name!r} {len(limit.name)} characters long; "
                    f"AWS allows {limit.limit}. Shorten it.",
                )
            )
    return problems


IAM_ROLES_QUOTA: Final = 1000
"""Default IAM roles per account; the plan keeps 20% headroom (isolation invariant 49)."""


def _access_problems(config: StackConfig) -> list[tuple[str, str]]:
    from saas_platform.components.iam import abac_tenants_per_role

    access = config.access
    n = len(config.tenants)
    if access.mode == "abac":
        capacity = abac_tenants_per_role(config.region, access.trust_policy_quota) if config.region else 0
        if access.tenants_per_role is not None and capacity and access.tenants_per_role > capacity:
            return [
                (
                    "saas:access.tenantsPerRole",
                    f"{access.tenants_per_role} identity pools do not fit a {access.trust_policy_quota}-character "
                    f"trust policy in {config.region} with 25% headroom (at most {capacity}, iam-document-headroom); "
                    "lower it or set trustPolicyQuota: 4096 after AWS raised the quota",
                )
            ]
        return []
    roles = 2 * n + 3
    if roles > IAM_ROLES_QUOTA * 0.8:
        return [
            (
                "saas:access.mode",
                f"perTenant needs {roles} IAM roles for {n} tenants, over 80% of the {IAM_ROLES_QUOTA}-role account "
                "quota; use mode: abac (shared roles per shard of tenants)",
            )
        ]
    return []


def stack_config_from_pulumi() -> StackConfig:
    """Read and validate the running program's config (call it before registering any resource)."""
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    return load_stack_config(raw, pulumi.get_stack())
