"""The job runners the picker dispatches to (asynchronous Lambda invokes; docs/jobs.md).

Every runner receives the picker's event ``{"tenantId", "jobId", "dueAt", "runner", "attempt", "payload"}``,
validates it (pydantic, ``extra="forbid"``) and raises on anything malformed: Lambda retries an asynchronous
invoke twice and then writes the event and the error to the runner's dead-letter queue, so nothing is dropped.

Delivery is at least once (a picker recovers a claim whose lease expired), so every runner is idempotent,
keyed by the job id and its due time, through conditional writes:

* ``Employee-Earn-AL`` - annual-leave accrual for one employee and one month: ``annualDays / 12``, prorated by
  the days employed in the month, added to ``BALANCE#AL#<employeeId>`` in the Leave table once per month
  (``NOT contains(AccruedPeriods, :period)``).
* ``CRUD-Item`` - one conditional ``UpdateItem`` of one entity item (``Version = :expected``); a replay that
  finds its own ``LastJobRun`` is a duplicate, anything else is a conflict (raised, so it dead-letters).
* ``Tenant-Notification-Dispatcher`` - publishes one scheduled notification to the environment's topic; a
  ``NOTIFY#<jobId>#<dueAt>`` marker in TenantJob makes a replay a no-op once the publish was recorded.
* ``AttGen-Tenant`` - expected attendance rows (``ATT#<date>#<employeeId>`` in TimeAttendance) from the
  tenant's work schedules (``SCHEDULE#...`` in WorkSchedule, one Query of the tenant's partition), each
  written with ``attribute_not_exists``.
* ``Job-Runner`` - contract start/end: the employee's ``EmploymentStatus`` in Employment, once per event.
* ``AttGen-System`` - system-wide: for every **active** tenant of this environment's tenant registry (a
  ``Query`` of its keys-only ``byStatus`` index: tenant ids only, never a pool table) an asynchronous invoke
  of AttGen-Tenant for that tenant.

Tenant isolation: a per-tenant runner's own role holds no tenant data. It first checks the event's tenant
against the tenant registry (``SAAS_REGISTRY_TABLE``, ``saas_platform.handlers._registry``, cached per TTL):
an unknown, suspended or offboarded tenant (or the ``system`` tenant) is refused with :class:`JobError`, and a
registry that cannot be read with nothing cached raises ``RegistryUnavailable``; either way no session is taken
and the event ends in the runner's dead-letter queue after Lambda's retries (fail closed). For an active tenant it
assumes its writer role with the session tag ``TenantId=<tenant>`` and a session policy naming that tenant
literally (``_jobs.tenant_data_policy``); every read and write goes through that session, so a runner for
tenant A cannot touch tenant B's rows even with a bug. No list of tenants is deployed with the runners: neither
their environment nor any IAM document grows with the fleet.
"""

from __future__ import annotations

import calendar
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Final, Literal

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saas_platform.handlers._jobs import (
    CRUD_TABLES,
    SYSTEM_TENANT,
    TENANT_KEY_PREFIX,
    TIME_RE,
    JobError,
    table_key_statement,
    tenant_data_policy,
)
from saas_platform.handlers._registry import TABLE_ENV, TenantNotActive, TenantRegistry

logger = Logger()

TENANT_TAG: Final = "TenantId"
STATUS_INDEX: Final = "byStatus"
"""The registry's keys-only GSI on ``status`` (``saas_platform.components.registry.STATUS_INDEX``)."""
PROTECTED_ATTRIBUTES: Final = frozenset({"TenantId", "EntityItem", "Version", "LastJobRun", "ExpiresAt"})
WEEKDAYS: Final = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RunnerEvent(_Model):
    """The event the picker sends (``job_picker.runner_event``); the tenant comes from the job's key."""

    tenant_id: str = Field(alias="tenantId", pattern=r"^[a-z][a-z0-9-]{1,30}$")
    job_id: str = Field(alias="jobId", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,200}$")
    due_at: str = Field(alias="dueAt", pattern=TIME_RE.pattern)
    runner: str
    attempt: int = Field(ge=1)
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """Identifies one due time of one job: the idempotency key of every runner."""
        return f"{self.job_id}#{self.due_at}"


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Settings:
    """Deploy-time configuration (environment variables written by ``ScheduledJobs``)."""

    runner: str
    tables: Mapping[str, Mapping[str, str]]
    """Pool table base name -> ``{"name": ..., "arn": ...}`` for the tables this runner uses."""
    registry_table: str = ""
    """The tenant registry table (``SAAS_REGISTRY_TABLE``): which tenants exist and are active. Unset: every
    tenant job is refused (``RegistryUnavailable``)."""
    writer_role_arn: str = ""
    kms_key_arn: str = ""
    """The tables' key: the session policy lets the tenant session use it through DynamoDB only."""
    region: str = ""
    topic_arn: str = ""
    attgen_tenant_function: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            runner=e["RUNNER"],
            tables=json.loads(e.get("TABLES", "{}")),
            registry_table=e.get(TABLE_ENV, "").strip(),
            writer_role_arn=e.get("WRITER_ROLE_ARN", ""),
            kms_key_arn=e.get("KMS_KEY_ARN", ""),
            region=e.get("AWS_REGION", ""),
            topic_arn=e.get("NOTIFY_TOPIC_ARN", ""),
            attgen_tenant_function=e.get("ATTGEN_TENANT_FUNCTION", ""),
        )

    def table(self, base: str) -> str:
        if base not in self.tables:
            raise JobError(f"runner {self.runner!r} has no access to table {base!r}")
        return self.tables[base]["name"]


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The deploy-time settings, read once per execution environment."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def system_clients() -> tuple[Any, Any, Any]:
    """The function role's own STS, SNS and Lambda clients (lazy, moto-friendly)."""
    return boto3.client("sts"), boto3.client("sns"), boto3.client("lambda")


@lru_cache(maxsize=1)
def registry_client() -> Any:
    """The function role's own DynamoDB client, for the tenant registry only (lazy, moto-friendly)."""
    return boto3.client("dynamodb")


@lru_cache(maxsize=2)
def tenant_registry(table: str) -> TenantRegistry:
    """The execution environment's cached registry reader for ``table`` (TTL and negative caching, fail closed)."""
    return TenantRegistry(table, registry_client())


def reset_clients() -> None:
    """Forget cached settings, clients and registry reads (tests)."""
    settings.cache_clear()
    system_clients.cache_clear()
    registry_client.cache_clear()
    tenant_registry.cache_clear()


def check_tenant(tenant_id: str, cfg: Settings) -> None:
    """The job's tenant must be a customer tenant that is active in the registry, or no session is taken.

    Raises:
        JobError: ``system``, or a tenant that is unknown, suspended or offboarded in the registry (permanent for
            this event: Lambda's retries end in the dead-letter queue, from where it can be redriven).
        RegistryUnavailable: the registry is not configured, or cannot be read with nothing cached (fail closed;
            retried by Lambda, then dead-lettered).
    """
    if tenant_id == SYSTEM_TENANT:
        raise JobError(f"{cfg.runner} runs tenant jobs; the system tenant has no tenant data")
    try:
        tenant_registry(cfg.registry_table).active_tenant(tenant_id)
    except TenantNotActive as exc:
        raise JobError(f"tenant {tenant_id!r} refused: {exc}") from None


def registry_tenants(table: str, client: Any) -> list[str]:
    """The active customer tenants of the registry, sorted: a ``Query`` of the keys-only ``byStatus`` index for
    ``status = active`` (what AttGen-System's role may do), paginated; never a Scan, never a usage key."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": STATUS_INDEX,
        "KeyConditionExpression": "#s = :active",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":active": {"S": "active"}},
    }
    tenants: list[str] = []
    while True:
        page = client.query(**kwargs)
        for row in page.get("Items", []):
            tenant = row.get("tenantId", {}).get("S")
            if row.get("status", {}).get("S") == "active" and tenant and tenant != SYSTEM_TENANT:
                tenants.append(tenant)
        if "LastEvaluatedKey" not in page:
            return sorted(tenants)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def parse_event(raw: Mapping[str, Any], cfg: Settings) -> RunnerEvent:
    """Validate the picker's event for this runner; :class:`JobError` says why it can never run."""
    try:
        event = RunnerEvent.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise JobError(f"malformed runner event: {problems}") from None
    if event.runner != cfg.runner:
        raise JobError(f"event for runner {event.runner!r} reached {cfg.runner!r}")
    system = cfg.runner == "AttGen-System"
    if system and event.tenant_id != SYSTEM_TENANT:
        raise JobError(f"{cfg.runner} runs only system jobs (TENANT#system); got tenant {event.tenant_id!r}")
    return event


# ------------------------------------------------------------------------------------------------ sessions


def assume_role_request(tenant_id: str, cfg: Settings) -> dict[str, Any]:
    """The exact ``sts:AssumeRole`` parameters for one tenant's session (pure; checked by tests)."""
    arns = {base: t["arn"] for base, t in cfg.tables.items()}
    return {
        "RoleArn": cfg.writer_role_arn,
        "RoleSessionName": f"{cfg.runner}-{tenant_id}"[:64],
        "DurationSeconds": 900,
        "Tags": [{"Key": TENANT_TAG, "Value": tenant_id}],
        "Policy": json.dumps(
            tenant_data_policy(
                cfg.runner,
                arns,
                tenant_id,
                table_key_statement(cfg.kms_key_arn, cfg.region) if cfg.kms_key_arn and cfg.region else None,
            ),
            separators=(",", ":"),
        ),
    }


def tenant_dynamodb(tenant_id: str, cfg: Settings, sts: Any) -> Any:
    """A DynamoDB client whose credentials reach only ``TENANT#<tenant_id>`` rows of this runner's tables, for a
    tenant active in the registry (:func:`check_tenant`, before any ``AssumeRole``)."""
    check_tenant(tenant_id, cfg)
    creds = sts.assume_role(**assume_role_request(tenant_id, cfg))["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).client("dynamodb")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _key(tenant_id: str, entity: str) -> dict[str, Any]:
    return {"TenantId": {"S": f"{TENANT_KEY_PREFIX}{tenant_id}"}, "EntityItem": {"S": entity}}


Result = dict[str, Any]


# ------------------------------------------------------------------------------------------ Employee-Earn-AL


class AccrualPayload(_Model):
    """Employee-Earn-AL input: one employee, one month, the yearly entitlement, optional start/end dates."""

    employee_id: str = Field(alias="employeeId", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    annual_days: Decimal = Field(alias="annualDays", gt=0, le=366, max_digits=6, decimal_places=2)
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    """The month accrued, ``YYYY-MM``."""
    start_date: date | None = Field(default=None, alias="startDate")
    end_date: date | None = Field(default=None, alias="endDate")


def monthly_accrual(p: AccrualPayload) -> Decimal:
    """``annualDays / 12`` prorated by the calendar days employed in the month, to 2 decimals (half up)."""
    year, month = (int(x) for x in p.period.split("-"))
    days = calendar.monthrange(year, month)[1]
    first, last = date(year, month, 1), date(year, month, days)
    start = max(first, p.start_date) if p.start_date else first
    end = min(last, p.end_date) if p.end_date else last
    employed = max(0, (end - start).days + 1)
    return (p.annual_days / 12 * Decimal(employed) / Decimal(days)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def run_earn_al(event: RunnerEvent, cfg: Settings, ddb: Any, now: datetime) -> Result:
    """Add the month's accrual to the balance item once (a replay of the same month is a duplicate)."""
    p = _payload(AccrualPayload, event)
    accrual = monthly_accrual(p)
    try:
        ddb.update_item(
            TableName=cfg.table("Leave"),
            Key=_key(event.tenant_id, f"BALANCE#AL#{p.employee_id}"),
            UpdateExpression="ADD Balance :acc, AccruedPeriods :periods SET EmployeeId = :emp, UpdatedAt = :at",
            ConditionExpression="attribute_not_exists(AccruedPeriods) OR NOT contains(AccruedPeriods, :period)",
            ExpressionAttributeValues={
                ":acc": {"N": str(accrual)},
                ":periods": {"SS": [p.period]},
                ":period": {"S": p.period},
                ":emp": {"S": p.employee_id},
                ":at": {"S": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            },
        )
    except ClientError as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return {"status": "duplicate", "period": p.period}
        raise
    return {"status": "accrued", "period": p.period, "days": str(accrual)}


# ---------------------------------------------------------------------------------------------- CRUD-Item


class CrudPayload(_Model):
    """CRUD-Item input: which item of which pool table, the attributes to set, the version expected."""

    table: Literal["Employment", "PIM", "Leave", "WorkSchedule", "TimeAttendance", "Payroll"]
    entity_item: str = Field(alias="entityItem", min_length=1, max_length=1024)
    set: dict[str, str | int | bool] = Field(min_length=1, max_length=50)
    expected_version: int = Field(alias="expectedVersion", ge=0)


def _attr(value: str | int | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def run_crud_item(event: RunnerEvent, cfg: Settings, ddb: Any, now: datetime) -> Result:
    """One conditional update of an existing item; the job run is recorded so a replay is recognised."""
    p = _payload(CrudPayload, event)
    assert p.table in CRUD_TABLES
    bad = sorted(k for k in p.set if k in PROTECTED_ATTRIBUTES or not k.isidentifier())
    if bad:
        raise JobError(f"CRUD-Item may not set {bad} (keys, Version, LastJobRun, ExpiresAt are managed)")
    names = {f"#a{i}": k for i, k in enumerate(sorted(p.set))}
    values = {f":a{i}": _attr(p.set[k]) for i, k in enumerate(sorted(p.set))}
    sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(names)))
    key = _key(event.tenant_id, p.entity_item)
    table = cfg.table(p.table)
    try:
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=f"SET {sets}, Version = :next, LastJobRun = :run, UpdatedAt = :at",
            ConditionExpression="attribute_exists(EntityItem) AND Version = :expected",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                **values,
                ":expected": {"N": str(p.expected_version)},
                ":next": {"N": str(p.expected_version + 1)},
                ":run": {"S": event.run_id},
                ":at": {"S": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
            },
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
        current = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if current is not None and current.get("LastJobRun", {}).get("S") == event.run_id:
            return {"status": "duplicate"}
        found = None if current is None else current.get("Version", {}).get("N")
        raise JobError(
            f"conflict: {p.table} {p.entity_item!r} is "
            f"{'missing' if current is None else f'at version {found}'}, expected version {p.expected_version}"
        ) from None
    return {"status": "updated", "version": p.expected_version + 1}


# ---------------------------------------------------------------------------------- Notification dispatcher


class NotificationPayload(_Model):
    """Tenant-Notification-Dispatcher input: the kind of notification, its text, optionally one employee."""

    kind: Literal["clock-in-reminder", "clock-out-reminder", "leave-reminder", "announcement"]
    message: str = Field(min_length=1, max_length=2000)
    employee_id: str | None = Field(default=None, alias="employeeId", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def run_notification(event: RunnerEvent, cfg: Settings, ddb: Any, sns: Any, now: datetime) -> Result:
    """Marker ``sending`` -> publish -> marker ``sent``. A replay after ``sent`` is a no-op; a crash between the
    publish and the ``sent`` mark publishes again (at least once; subscribers dedupe on ``runId``)."""
    p = _payload(NotificationPayload, event)
    table = cfg.table("TenantJob")
    key = _key(event.tenant_id, f"NOTIFY#{event.run_id}")
    try:
        ddb.put_item(
            TableName=table,
            Item={**key, "Status": {"S": "sending"}, "Kind": {"S": p.kind}, "CreatedAt": {"S": _at(now)}},
            ConditionExpression="attribute_not_exists(EntityItem) OR #st = :sending",
            ExpressionAttributeNames={"#st": "Status"},
            ExpressionAttributeValues={":sending": {"S": "sending"}},
        )
    except ClientError as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return {"status": "duplicate"}
        raise
    body = {"tenantId": event.tenant_id, "kind": p.kind, "message": p.message, "runId": event.run_id}
    if p.employee_id:
        body["employeeId"] = p.employee_id
    resp = sns.publish(
        TopicArn=cfg.topic_arn,
        Message=json.dumps(body),
        MessageAttributes={
            "tenantId": {"DataType": "String", "StringValue": event.tenant_id},
            "kind": {"DataType": "String", "StringValue": p.kind},
        },
    )
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #st = :sent, MessageId = :mid, SentAt = :at",
        ExpressionAttributeNames={"#st": "Status"},
        ExpressionAttributeValues={":sent": {"S": "sent"}, ":mid": {"S": resp["MessageId"]}, ":at": {"S": _at(now)}},
    )
    return {"status": "sent", "messageId": resp["MessageId"]}


# -------------------------------------------------------------------------------------------- AttGen-Tenant


class AttGenPayload(_Model):
    """AttGen input: the day to generate expected attendance for."""

    date: date


def run_attgen_tenant(event: RunnerEvent, cfg: Settings, ddb: Any, now: datetime) -> Result:
    """Expected attendance rows for one day from the tenant's work schedules (``Days``: ``["MON", ...]``)."""
    p = _payload(AttGenPayload, event)
    weekday = WEEKDAYS[p.date.weekday()]
    kwargs: dict[str, Any] = {
        "TableName": cfg.table("WorkSchedule"),
        "KeyConditionExpression": "TenantId = :pk AND begins_with(EntityItem, :sched)",
        "ExpressionAttributeValues": {
            ":pk": {"S": f"{TENANT_KEY_PREFIX}{event.tenant_id}"},
            ":sched": {"S": "SCHEDULE#"},
        },
    }
    created = existing = skipped = 0
    while True:
        page = ddb.query(**kwargs)
        for row in page.get("Items", []):
            days = {d.get("S") for d in row.get("Days", {}).get("L", [])}
            employee = row.get("EmployeeId", {}).get("S")
            if weekday not in days or not employee:
                skipped += 1
                continue
            try:
                ddb.put_item(
                    TableName=cfg.table("TimeAttendance"),
                    Item={
                        **_key(event.tenant_id, f"ATT#{p.date.isoformat()}#{employee}"),
                        "EmployeeId": {"S": employee},
                        "Date": {"S": p.date.isoformat()},
                        "Status": {"S": "expected"},
                        "ExpectedStart": row.get("Start", {"S": ""}),
                        "ExpectedEnd": row.get("End", {"S": ""}),
                        "GeneratedBy": {"S": event.run_id},
                        "CreatedAt": {"S": _at(now)},
                    },
                    ConditionExpression="attribute_not_exists(EntityItem)",
                )
                created += 1
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
                existing += 1
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {"status": "generated", "created": created, "existing": existing, "notScheduled": skipped}


# -------------------------------------------------------------------------------------------- Job-Runner


class ContractPayload(_Model):
    """Job-Runner input: a contract start or end of one employee, effective on a date."""

    employee_id: str = Field(alias="employeeId", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    event: Literal["contract-start", "contract-end"]
    effective_date: date = Field(alias="effectiveDate")


def run_contract(event: RunnerEvent, cfg: Settings, ddb: Any, now: datetime) -> Result:
    """Set the employee's EmploymentStatus for a contract event, once per event and date."""
    p = _payload(ContractPayload, event)
    status = "active" if p.event == "contract-start" else "ended"
    marker = f"{p.event}#{p.effective_date.isoformat()}"
    try:
        ddb.update_item(
            TableName=cfg.table("Employment"),
            Key=_key(event.tenant_id, f"EMPLOYEE#{p.employee_id}"),
            UpdateExpression="SET EmploymentStatus = :st, StatusEffective = :eff, UpdatedAt = :at ADD ContractEvents :ev",
            ConditionExpression=(
                "attribute_exists(EntityItem) AND (attribute_not_exists(ContractEvents) OR NOT contains(ContractEvents, :one))"
            ),
            ExpressionAttributeValues={
                ":st": {"S": status},
                ":eff": {"S": p.effective_date.isoformat()},
                ":at": {"S": _at(now)},
                ":ev": {"SS": [marker]},
                ":one": {"S": marker},
            },
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
        current = ddb.get_item(
            TableName=cfg.table("Employment"), Key=_key(event.tenant_id, f"EMPLOYEE#{p.employee_id}")
        ).get("Item")
        if current is None:
            raise JobError(f"employee {p.employee_id!r} has no Employment item") from None
        return {"status": "duplicate"}
    return {"status": status}


# -------------------------------------------------------------------------------------------- AttGen-System


def run_attgen_system(event: RunnerEvent, cfg: Settings, lam: Any, registry: Any) -> Result:
    """Fan out to AttGen-Tenant, one asynchronous invoke per active tenant of the registry, in a stable order.
    ``registry`` is a DynamoDB client for the registry table (:func:`registry_tenants`); AttGen-Tenant checks each
    tenant again before it takes a session."""
    p = _payload(AttGenPayload, event)
    invoked = []
    for tenant in registry_tenants(cfg.registry_table, registry):
        child = {
            "tenantId": tenant,
            "jobId": f"{event.job_id}/{tenant}",
            "dueAt": event.due_at,
            "runner": "AttGen-Tenant",
            "attempt": event.attempt,
            "payload": {"date": p.date.isoformat()},
        }
        resp = lam.invoke(
            FunctionName=cfg.attgen_tenant_function, InvocationType="Event", Payload=json.dumps(child).encode()
        )
        if int(resp.get("StatusCode", 0)) != 202:
            raise RuntimeError(f"invoke for tenant {tenant!r} answered {resp.get('StatusCode')}")
        invoked.append(tenant)
    return {"status": "fanned-out", "tenants": invoked}


# ------------------------------------------------------------------------------------------------ adapters


def _payload(model: type[Any], event: RunnerEvent) -> Any:
    try:
        return model.model_validate(event.payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors())
        raise JobError(f"{event.runner} payload invalid: {problems}") from None


def _at(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


TenantRunner = Callable[[RunnerEvent, Settings, Any, datetime], Result]


def _tenant_handler(runner: TenantRunner, name: str) -> Callable[[dict[str, Any], LambdaContext], Result]:
    def handler(event: dict[str, Any], context: LambdaContext) -> Result:
        cfg = settings()
        parsed = parse_event(event, cfg)  # JobError -> Lambda retries, then the dead-letter queue
        sts, _, _ = system_clients()
        ddb = tenant_dynamodb(parsed.tenant_id, cfg, sts)
        result = runner(parsed, cfg, ddb, datetime.now(UTC))
        logger.info("job run", extra={"job": parsed.run_id, "tenant": parsed.tenant_id, **result})
        return result

    handler.__doc__ = f"Lambda entry point of {name}: validate, assume the tenant's session, run, log the outcome."
    return logger.inject_lambda_context(handler)


job_runner_handler = _tenant_handler(run_contract, "Job-Runner")
attgen_tenant_handler = _tenant_handler(run_attgen_tenant, "AttGen-Tenant")
earn_al_handler = _tenant_handler(run_earn_al, "Employee-Earn-AL")
crud_item_handler = _tenant_handler(run_crud_item, "CRUD-Item")


@logger.inject_lambda_context
def notification_handler(event: dict[str, Any], context: LambdaContext) -> Result:
    """Lambda entry point of Tenant-Notification-Dispatcher."""
    cfg = settings()
    parsed = parse_event(event, cfg)
    sts, sns, _ = system_clients()
    result = run_notification(parsed, cfg, tenant_dynamodb(parsed.tenant_id, cfg, sts), sns, datetime.now(UTC))
    logger.info("job run", extra={"job": parsed.run_id, "tenant": parsed.tenant_id, **result})
    return result


@logger.inject_lambda_context
def attgen_system_handler(event: dict[str, Any], context: LambdaContext) -> Result:
    """Lambda entry point of AttGen-System."""
    cfg = settings()
    parsed = parse_event(event, cfg)
    _, _, lam = system_clients()
    result = run_attgen_system(parsed, cfg, lam, registry_client())
    logger.info("job run", extra={"job": parsed.run_id, **result})
    return result
