"""The job item contract shared by the job picker, the runners and whoever schedules jobs (docs/jobs.md).

A job is one item in the tenant's partition of the ``TenantJob`` pool table::

    TenantId   = TENANT#<tenantId>          (the system tenant's jobs: TENANT#system)
    EntityItem = JOB#<jobId>
    Runner     = "Employee-Earn-AL"          one of the runners the picker may dispatch to
    Payload    = {...}                       the runner's input (a map; validated by the runner)
    Status     = pending | claimed | dispatched | failed
    Version    = 0, 1, 2, ...                bumped by every state change (optimistic concurrency)
    Recurrence = "rate(1 day)"               optional; absent: a one-shot job
    DueShard   = DUE#<n>                     } the sparse due-jobs index: present only while the job is
    DueAt      = 2026-12-03T06:15:00Z        } pending (the due time) or claimed (the lease expiry)

The index (``DueJobs``) is keyed by ``DueShard`` / ``DueAt``, so a picker reads only jobs that are due, never
the table. Its partition key is not the tenant: it is a cross-tenant read path reserved for the picker's system
role (no tenant principal may hold its ARN; the policy pack enforces that).

Times are UTC ISO-8601 strings with second precision and a ``Z`` (``2026-12-03T06:15:00Z``): all the same
length, so string order is time order and ``DueAt <= :now`` is a key condition on a string sort key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

TENANT_KEY_PREFIX: Final = "TENANT#"
JOB_KEY_PREFIX: Final = "JOB#"
SHARD_PREFIX: Final = "DUE#"
DUE_INDEX: Final = "DueJobs"
SHARD_ATTRIBUTE: Final = "DueShard"
DUE_ATTRIBUTE: Final = "DueAt"
SYSTEM_TENANT: Final = "system"
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
TIME_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
TENANT_ID_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,30}")
JOB_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
RECURRENCE_RE: Final = re.compile(r"rate\((?P<n>[1-9]\d{0,4}) (?P<unit>minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS: Final[Mapping[str, int]] = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86_400,
    "days": 86_400,
}


class JobError(ValueError):
    """A job item or runner event that can never be processed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fmt(moment: datetime) -> str:
    """``2026-12-03T06:15:00Z`` (UTC, seconds)."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: object) -> datetime:
    if not isinstance(value, str) or not TIME_RE.fullmatch(value):
        raise JobError(f"time {value!r} is not UTC ISO-8601 like 2026-12-03T06:15:00Z")
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


def recurrence_seconds(expression: object) -> int:
    """``rate(1 day)`` -> 86400. Only ``rate(<n> minute(s)|hour(s)|day(s))``; singular units need n = 1."""
    m = RECURRENCE_RE.fullmatch(expression) if isinstance(expression, str) else None
    if m is None:
        raise JobError(f"recurrence {expression!r} must look like 'rate(5 minutes)', 'rate(1 hour)' or 'rate(1 day)'")
    n, unit = int(m["n"]), m["unit"]
    if (n == 1) != (not unit.endswith("s")):
        raise JobError(f"recurrence {expression!r}: use a singular unit for 1 and a plural one otherwise")
    return n * UNIT_SECONDS[unit]


def next_due(due: datetime, expression: str) -> datetime:
    """The occurrence after ``due`` (every due time is dispatched once; missed ones are caught up one by one)."""
    return due + timedelta(seconds=recurrence_seconds(expression))


def shard_of(tenant_id: str, job_id: str, shards: int) -> str:
    """``DUE#<n>``: a stable spread of jobs over the index's write shards."""
    digest = hashlib.sha256(f"{tenant_id}/{job_id}".encode()).digest()
    return f"{SHARD_PREFIX}{int.from_bytes(digest[:8], 'big') % shards}"


def tenant_key(tenant_id: str) -> str:
    return f"{TENANT_KEY_PREFIX}{tenant_id}"


def job_key(tenant_id: str, job_id: str) -> dict[str, Any]:
    """The table key of a job (low-level DynamoDB attribute values)."""
    return {"TenantId": {"S": tenant_key(tenant_id)}, "EntityItem": {"S": f"{JOB_KEY_PREFIX}{job_id}"}}


def _value(value: Any) -> dict[str, Any]:
    """Plain Python -> a DynamoDB attribute value (str, bool, int, float-as-string, list, dict)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): _value(v) for k, v in value.items()}}
    if value is None:
        return {"NULL": True}
    raise JobError(f"unsupported payload value {value!r}")


def plain(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value -> plain Python (numbers stay strings unless integral)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return int(inner) if re.fullmatch(r"-?\d+", inner) else inner
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "SS":
        return sorted(inner)
    raise JobError(f"unsupported attribute type {kind}")


def new_job_item(
    *,
    tenant_id: str,
    job_id: str,
    runner: str,
    due: datetime,
    shards: int,
    payload: Mapping[str, Any] | None = None,
    recurrence: str | None = None,
) -> dict[str, Any]:
    """A pending job, ready for ``PutItem`` with ``attribute_not_exists(EntityItem)`` (scheduling is idempotent)."""
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise JobError(f"tenant id {tenant_id!r} must match {TENANT_ID_RE.pattern}")
    if not JOB_ID_RE.fullmatch(job_id):
        raise JobError(f"job id {job_id!r} must match {JOB_ID_RE.pattern}")
    if recurrence is not None:
        recurrence_seconds(recurrence)
    item: dict[str, Any] = {
        **job_key(tenant_id, job_id),
        "JobId": {"S": job_id},
        "Runner": {"S": runner},
        "Payload": _value(dict(payload or {})),
        "Status": {"S": "pending"},
        "Version": {"N": "0"},
        SHARD_ATTRIBUTE: {"S": shard_of(tenant_id, job_id, shards)},
        DUE_ATTRIBUTE: {"S": fmt(due)},
    }
    if recurrence is not None:
        item["Recurrence"] = {"S": recurrence}
    return item


# ------------------------------------------------------------------------------------------------- runners

SYSTEM_RUNNERS: Final = ("AttGen-System",)
"""Runners that act for the platform, not a tenant: they take jobs only from ``TENANT#system``."""
CRUD_TABLES: Final = ("Employment", "PIM", "Leave", "WorkSchedule", "TimeAttendance", "Payroll")
"""Pool tables whose items the CRUD-Item runner may update (never TenantJob: jobs change only via the picker)."""
RUNNER_TABLE_ACTIONS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "Job-Runner": {"Employment": ("dynamodb:UpdateItem",)},
    "AttGen-Tenant": {"WorkSchedule": ("dynamodb:Query",), "TimeAttendance": ("dynamodb:PutItem",)},
    "Employee-Earn-AL": {"Leave": ("dynamodb:UpdateItem",)},
    "CRUD-Item": {t: ("dynamodb:GetItem", "dynamodb:UpdateItem") for t in CRUD_TABLES},
    "Tenant-Notification-Dispatcher": {"TenantJob": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")},
}
"""What each per-tenant runner's tenant session may do, per pool table, always under
``dynamodb:LeadingKeys = TENANT#<tenant>``. The writer role's policy and the session policy are both built from
this map, so a runner holds only its own job's actions."""

PRINCIPAL_TAG_TENANT: Final = "${aws:PrincipalTag/TenantId}"
TENANT_PLACEHOLDER: Final = "{tenant}"
"""The data-path inventory's placeholder: the session policy as a template over the tenant."""


def table_key_statement(key_resource: Any, region: str, alias: str | None = None) -> dict[str, Any]:
    """DynamoDB uses the tables' customer managed key for the caller: the data-key actions, only via DynamoDB.

    ``key_resource`` is the key's ARN, or ``arn:aws:kms:<region>:<account>:key/*`` narrowed by ``alias``
    (``kms:ResourceAliases``) where the ARN is not known yet (the first preview)."""
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}
    if alias is not None:
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
    return {
        "Sid": "TableKeyThroughDynamoDB",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
        "Resource": key_resource,
        "Condition": condition,
    }


def tenant_data_policy(
    runner: str, table_arns: Mapping[str, str], tenant: str, key_statement: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The runner's tenant-data permissions as one policy document (pure).

    ``tenant`` is a literal tenant id (the session policy a runner passes to ``AssumeRole``) or
    ``${aws:PrincipalTag/TenantId}`` (the writer role's own policy, keyed on the session tag), or ``{tenant}``
    (the data-path inventory's template of the session policy). The effective
    permissions of a session are the intersection of both, so a session for tenant A reaches only
    ``TENANT#A`` rows even if the tag were wrong. Table and index ARNs: exact tables only, no index.
    """
    actions = RUNNER_TABLE_ACTIONS.get(runner)
    if not actions:
        raise JobError(f"runner {runner!r} has no tenant-data permissions (known: {sorted(RUNNER_TABLE_ACTIONS)})")
    placeholder = tenant in (PRINCIPAL_TAG_TENANT, TENANT_PLACEHOLDER)
    if not placeholder and (not TENANT_ID_RE.fullmatch(tenant) or tenant == SYSTEM_TENANT):
        raise JobError(f"tenant {tenant!r} is not a customer tenant id")
    missing = sorted(set(actions) - set(table_arns))
    if missing:
        raise JobError(f"runner {runner!r} needs the ARNs of tables {missing}")
    statements = [
        {
            "Sid": f"{base}OwnTenantOnly",
            "Effect": "Allow",
            "Action": list(acts),
            "Resource": table_arns[base],
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{tenant}"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        }
        for base, acts in sorted(actions.items())
    ]
    if key_statement is not None:
        statements.append(dict(key_statement))
    return {"Version": "2012-10-17", "Statement": statements}
