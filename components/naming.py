"""Names, tags and AWS physical-name limits (docs/architecture.md, "Names").

Every physical name the design fixes is built here, so the stack-config check (``saas_platform.components.config``) and
the components that create the resources agree on the exact string and its length limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Environment = Literal["dev", "staging", "prod"]

ENVIRONMENTS: Final[tuple[Environment, ...]] = ("dev", "staging", "prod")
ENV_SUFFIX: Final[Mapping[str, str]] = {"dev": "Dev", "staging": "Staging", "prod": "Prod"}

TENANT_ID_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,30}")
"""Tenant ids: lowercase, start with a letter, 2-31 characters (docs/architecture.md, "Names")."""
SYSTEM_TENANT: Final = "system"
"""Reserved id of the platform owner's tenant (the OptimalHR design: "System Admin Tenant")."""

NAME_PREFIX_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,19}")
DEFAULT_NAME_PREFIX: Final = "AIML-SaaS"

POOL_TABLES: Final[tuple[str, ...]] = (
    "Employment",
    "TenantJob",
    "WorkSchedule",
    "PIM",
    "Leave",
    "TimeAttendance",
    "Payroll",
)
"""The OptimalHR design's shared (pool-model) tables, before the environment suffix."""

RETENTION_PROMISE_DAYS: Final = 7
"""The retention promise: ephemeral tenant data (raw and processed images, job metadata, failure records) is
deleted within this many days. One number for both checks: the stack config refuses a longer
``saas:retentionDays`` and ``LifecycleBucketArgs`` a longer ephemeral ``expiration_days``, and the pack's
``s3-lifecycle-covers-data`` rule defaults its ``maxRetentionDays`` to it, so a config or bucket the components
accept never fails that rule."""

TAG_TENANT: Final = "saas:tenant"
TAG_ENVIRONMENT: Final = "saas:environment"
TAG_COMPONENT: Final = "saas:component"

LOG_RETENTION_DAYS: Final = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for ``retention_in_days``."""

# AWS limits on physical names (the documented maximum lengths).
IAM_ROLE_NAME_MAX: Final = 64
LAMBDA_FUNCTION_NAME_MAX: Final = 64
SCHEDULE_NAME_MAX: Final = 64
DYNAMODB_TABLE_NAME_MAX: Final = 255
USER_POOL_NAME_MAX: Final = 128
IDENTITY_POOL_NAME_MAX: Final = 128


def env_suffix(environment: str) -> str:
    """``dev`` -> ``Dev`` (docs/architecture.md, "Names")."""
    return ENV_SUFFIX[environment]


TABLE_NAME_PREFIX_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,19})?")
"""Optional prefix of pool-table names (``saas:tableNamePrefix``); empty keeps the design's names."""


def table_name(base: str, environment: str, prefix: str = "") -> str:
    """Physical pool-table name: ``EmploymentDev``, ``TenantJobProd``; with ``prefix`` ``alice-EmploymentDev``
    (so two stacks of one environment can share an account)."""
    return f"{prefix}{'-' if prefix else ''}{base}{env_suffix(environment)}"


def scheduler_name(prefix: str, environment: str) -> str:
    """``AIML-SaaS-Scheduler-Dev``."""
    return f"{prefix}-Scheduler-{env_suffix(environment)}"


def runner_function_name(prefix: str, runner: str, environment: str) -> str:
    """``AIML-SaaS-Job-Runner-Dev`` for runner ``Job-Runner``."""
    return f"{prefix}-{runner}-{env_suffix(environment)}"


def job_picker_function_name(prefix: str, environment: str) -> str:
    """``AIML-SaaS-JobPicker-Dev``."""
    return f"{prefix}-JobPicker-{env_suffix(environment)}"


def runner_writer_role_name(prefix: str, runner: str, environment: str) -> str:
    """The tenant-scoped writer role of a per-tenant runner: ``AIML-SaaS-CRUD-Item-W-Dev`` (``W``: writer; the short
    suffix keeps the longest runner name with a 20-character prefix within IAM's 64 characters in Staging)."""
    return f"{prefix}-{runner}-W-{env_suffix(environment)}"


def tenant_role_name(prefix: str, tenant_id: str, role: str, environment: str) -> str:
    """``AIML-SaaS-acme-TenantAdminRole-Dev``; ``role`` is one of the OptimalHR design's role names."""
    return f"{prefix}-{tenant_id}-{role}-{env_suffix(environment)}"


def tenant_policy_name(prefix: str, tenant_id: str, policy: str, environment: str) -> str:
    """``AIML-SaaS-acme-TenantAdminPolicy-Dev`` (customer-managed policy names allow 128 characters)."""
    return f"{prefix}-{tenant_id}-{policy}-{env_suffix(environment)}"


CELL_TYPE: Final = "saas:cell:TenantCell"
"""Type token of a cell stack's component (``TenantCell``)."""
PLATFORM_TABLES_OUTPUT: Final = "platformTables"
"""The ``TenantCell`` output naming the platform's pool tables as its checked contract declares them; the policy
pack's access rules judge the cell's tenant roles against it."""


def cell_infix(cell: int | None) -> str:
    """``C01-`` in the shard-numbered names of cell stack 1 (``<env>-cell-01``); empty in the platform stack."""
    return "" if cell is None else f"C{cell:02d}-"


def shared_role_name(prefix: str, role: str, shard: int, environment: str, cell: int | None = None) -> str:
    """Shared ABAC role of one shard of tenants: ``AIML-SaaS-TenantAdminRole-S00-Dev`` (two digits below shard
    100, three from it); in cell stack 1 ``AIML-SaaS-TenantAdminRole-C01-S00-Dev``, so cells never collide."""
    return f"{prefix}-{role}-{cell_infix(cell)}S{shard:02d}-{env_suffix(environment)}"


def system_role_name(prefix: str, role: str, environment: str) -> str:
    """``AIML-SaaS-SystemAdminRole-Dev``."""
    return f"{prefix}-{role}-{env_suffix(environment)}"


def user_pool_name(prefix: str, tenant_id: str) -> str:
    """One user pool per tenant, shared by all environments: ``AIML-SaaS-acme``."""
    return f"{prefix}-{tenant_id}"


def identity_pool_name(prefix: str, tenant_id: str, environment: str) -> str:
    """``AIML-SaaS-acme-Dev``."""
    return f"{prefix}-{tenant_id}-{env_suffix(environment)}"


FRONTENDS: Final[tuple[str, ...]] = ("hr-admin", "ess-mobile")
"""The OptimalHR design's front ends, one Cognito app client each per environment: HR Admin (web), ESS (mobile)."""
IDENTITY_TRIGGERS: Final[tuple[str, ...]] = ("PreAuth", "PreToken")
"""The Cognito triggers each owned user pool runs (function-name infix); one function of each per shard of pools."""
APP_CLIENT_NAME_MAX: Final = 128


def app_client_name(prefix: str, tenant_id: str, frontend: str, environment: str) -> str:
    """``AIML-SaaS-acme-hr-admin-dev``: the app client of one front end in one environment.

    The triggers no longer parse it: they learn a client's environment from the tenant registry (``appClients``).
    """
    return f"{prefix}-{tenant_id}-{frontend}-{environment}"


def trigger_function_name(prefix: str, trigger: str, shard: int, environment: str, cell: int | None = None) -> str:
    """``AIML-SaaS-PreAuth-S00-Prod``: the shared Cognito trigger of one shard of user pools, deployed by the stack
    that owns the pools (at most 41 characters: always within Lambda's 64); in cell stack 1
    ``AIML-SaaS-PreAuth-C01-S00-Prod`` (at most 45)."""
    return f"{prefix}-{trigger}-{cell_infix(cell)}S{shard:02d}-{env_suffix(environment)}"


TENANT_ROLES: Final[tuple[str, ...]] = ("TenantAdminRole", "TenantUserRole")
SYSTEM_ROLES: Final[tuple[str, ...]] = ("SystemAdminRole", "SystemSuperuserRole", "SystemSupportRole")
RUNNERS: Final[tuple[str, ...]] = (
    "Job-Runner",
    "AttGen-System",
    "AttGen-Tenant",
    "Employee-Earn-AL",
    "CRUD-Item",
    "Tenant-Notification-Dispatcher",
)


@dataclass(frozen=True)
class NameLimit:
    """A physical name this design fixes, its AWS limit, and the config key that drives its length."""

    kind: str
    name: str
    limit: int
    key: str


def physical_names(
    prefix: str, environment: str, tenant_ids: Mapping[str, str], table_prefix: str = ""
) -> list[NameLimit]:
    """Every fixed physical name of a stack, with its limit.

    ``tenant_ids`` maps the config key of each tenant id (``saas:tenants[0].id``) to the id. The system
    tenant is included under ``saas:namePrefix`` because only the prefix varies its names.
    """
    names: list[NameLimit] = []
    names.extend(
        NameLimit(
            "DynamoDB table",
            table_name(base, environment, table_prefix),
            DYNAMODB_TABLE_NAME_MAX,
            "saas:tableNamePrefix" if table_prefix else "saas:environment",
        )
        for base in POOL_TABLES
    )
    names.append(
        NameLimit("Scheduler schedule", scheduler_name(prefix, environment), SCHEDULE_NAME_MAX, "saas:namePrefix")
    )
    names.extend(
        NameLimit(
            "Lambda function", runner_function_name(prefix, r, environment), LAMBDA_FUNCTION_NAME_MAX, "saas:namePrefix"
        )
        for r in RUNNERS
    )
    names.append(
        NameLimit(
            "Lambda function",
            job_picker_function_name(prefix, environment),
            LAMBDA_FUNCTION_NAME_MAX,
            "saas:namePrefix",
        )
    )
    names.extend(
        NameLimit("IAM role", runner_writer_role_name(prefix, r, environment), IAM_ROLE_NAME_MAX, "saas:namePrefix")
        for r in RUNNERS
        if r != "AttGen-System"
    )
    names.extend(
        NameLimit("IAM role", system_role_name(prefix, r, environment), IAM_ROLE_NAME_MAX, "saas:namePrefix")
        for r in SYSTEM_ROLES
    )
    all_tenants = {"saas:namePrefix": SYSTEM_TENANT, **tenant_ids}
    for key, tenant in all_tenants.items():
        names.extend(
            NameLimit("IAM role", tenant_role_name(prefix, tenant, r, environment), IAM_ROLE_NAME_MAX, key)
            for r in TENANT_ROLES
        )
        names.append(NameLimit("Cognito user pool", user_pool_name(prefix, tenant), USER_POOL_NAME_MAX, key))
        names.append(
            NameLimit(
                "Cognito identity pool", identity_pool_name(prefix, tenant, environment), IDENTITY_POOL_NAME_MAX, key
            )
        )
    return names


def tags(
    environment: str, component: str, tenant: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags every resource carries: ``saas:environment``, ``saas:component`` and, per tenant, ``saas:tenant``."""
    out = dict(extra or {})
    out[TAG_ENVIRONMENT] = environment
    out[TAG_COMPONENT] = component
    if tenant is not None:
        out[TAG_TENANT] = tenant
    return out


# S3 key layout (isolation invariants 38-40): the tenant id is always its own path segment.
DOCUMENT_ROOT: Final = "tenants"
"""Document bucket keys: ``tenants/<tenantId>/...``; tenant roles reach only their own prefix."""


def document_prefix(tenant_id: str) -> str:
    """``tenants/acme/`` - the tenant's prefix in the document bucket."""
    return f"{DOCUMENT_ROOT}/{tenant_id}/"


def raw_image_key(tenant_id: str, image_id: str) -> str:
    """``acme/raw/<imageId>`` - where the MSK consumer stores an image in the raw bucket (the image-pipeline design)."""
    return f"{tenant_id}/raw/{image_id}"
