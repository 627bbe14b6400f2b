"""JobPicker: fired every minute by the environment's EventBridge schedule, dispatches the jobs that are due.

For every write shard ``DUE#0`` .. ``DUE#<n-1>`` the picker queries the sparse ``DueJobs`` index of the
TenantJob table for items with ``DueAt <= now`` (it never reads the table itself), and for each item:

1. **validates** it: a known runner from the allow-list (``RUNNERS``), a tenant id, a well-formed recurrence.
   A job that can never run is marked ``failed`` with the reason and leaves the index: never dropped silently.
2. **claims** it with one conditional ``UpdateItem``: ``Status = pending AND DueAt = :due AND Version = :v`` ->
   ``Status = claimed``, ``ClaimedDue = :due``, ``DueAt = <lease expiry>``, ``Version = :v + 1`` and, for a
   recurring job, ``NextDue`` (the next occurrence is decided in the same write as the claim). Of two pickers
   that read the same item, exactly one claim succeeds; the other gets ``ConditionalCheckFailed`` and skips.
3. **dispatches** it to the runner's function with ``InvocationType=Event`` (asynchronous; Lambda retries and
   then writes the event to the runner's dead-letter queue).
4. **completes** it: one-shot jobs become ``dispatched`` and leave the index; recurring jobs become ``pending``
   again with ``DueAt = NextDue``. Conditional on ``Version = :v + 1``.

A picker that crashes (or whose invoke fails) between 2 and 4 leaves the job ``claimed`` with ``DueAt`` = the
lease expiry, so the job reappears in the index when the lease expires: the next picker **recovers** it
(conditional on the same version), dispatches the claimed due time again and completes it. Hence: each due time
is claimed exactly once; delivery to runners is at least once (runners are idempotent, keyed by job id + due
time); nothing is dispatched before it is due. After ``MAX_ATTEMPTS`` recoveries a job is marked ``failed``.

Metrics (EMF, namespace ``saas``): ``JobsDispatched``, ``JobsClaimLost``, ``JobsRecovered``, ``JobsFailed``,
``DispatchErrors``, ``ItemsRead`` and ``JobLagSeconds`` (age of the oldest due job seen, 0 when none).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from saas_platform.handlers._jobs import (
    DUE_ATTRIBUTE,
    DUE_INDEX,
    JOB_KEY_PREFIX,
    SHARD_ATTRIBUTE,
    SHARD_PREFIX,
    TENANT_ID_RE,
    TENANT_KEY_PREFIX,
    JobError,
    fmt,
    next_due,
    parse_time,
    plain,
    recurrence_seconds,
)

logger = Logger()
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "saas"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ScheduledJobs"),
)

MAX_ATTEMPTS: Final = 5
PAGE_SIZE: Final = 100


@dataclass(frozen=True)
class Settings:
    """Deploy-time configuration (environment variables written by ``ScheduledJobs``)."""

    table: str
    shards: int
    lease_seconds: int
    runners: Mapping[str, str]
    """Runner name -> function name: the allow-list; a job naming any other runner is failed."""
    max_items: int = 1000
    """Due items handled per invocation (the rest wait a minute; the lag metric shows it)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        runners = json.loads(e["RUNNERS"])
        if not isinstance(runners, dict) or not all(isinstance(v, str) for v in runners.values()):
            raise ValueError("RUNNERS must be a JSON object of runner name -> function name")
        return cls(
            table=e["JOBS_TABLE"],
            shards=int(e["SHARDS"]),
            lease_seconds=int(e["LEASE_SECONDS"]),
            runners=runners,
            max_items=int(e.get("MAX_ITEMS", "1000")),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The deploy-time settings, read once per execution environment."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def clients() -> tuple[Any, Any]:
    """DynamoDB and Lambda clients, created lazily (after moto is set up in tests)."""
    return boto3.client("dynamodb"), boto3.client("lambda")


def reset_clients() -> None:
    """Forget cached settings and clients (tests)."""
    settings.cache_clear()
    clients.cache_clear()


# ------------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class DueItem:
    """One item the index returned, with what the picker needs to act on it."""

    key: dict[str, Any]
    tenant_id: str
    job_id: str
    status: str
    version: int
    due_at: str
    """The index's ``DueAt``: the due time (pending) or the lease expiry (claimed)."""
    runner: str
    payload: Any
    recurrence: str | None
    claimed_due: str | None
    next_due: str | None
    attempts: int


Outcome = Literal["dispatched", "claim-lost", "failed", "dispatch-error", "recovered", "complete-lost"]


@dataclass
class Claim:
    """A successful claim: the item, the due time being dispatched and the version the claim wrote."""

    item: DueItem
    due: str
    """The due time being dispatched (for a recovered job: the originally claimed one)."""
    version: int
    """The version the claim wrote."""
    attempt: int
    next_due: str | None
    recovered: bool = False


@dataclass
class PickResult:
    """What one pass did: an outcome per item, the events dispatched, items read, the oldest due time seen."""

    outcomes: list[tuple[str, str, Outcome]] = field(default_factory=list)
    dispatched: list[dict[str, Any]] = field(default_factory=list)
    items_read: int = 0
    oldest_due: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for _, _, o in self.outcomes if o == outcome)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def decode(raw: Mapping[str, Any]) -> DueItem:
    """An index item -> :class:`DueItem`; raises :class:`JobError` when it can never be processed."""
    pk = raw.get("TenantId", {}).get("S", "")
    sk = raw.get("EntityItem", {}).get("S", "")
    key = {"TenantId": {"S": pk}, "EntityItem": {"S": sk}}
    tenant_id = pk.removeprefix(TENANT_KEY_PREFIX)
    if not pk.startswith(TENANT_KEY_PREFIX) or not TENANT_ID_RE.fullmatch(tenant_id):
        raise JobError(f"partition key {pk!r} is not TENANT#<tenantId>")
    if not sk.startswith(JOB_KEY_PREFIX):
        raise JobError(f"sort key {sk!r} is not JOB#<jobId>")

    def s(name: str) -> str | None:
        v = raw.get(name, {})
        return v.get("S") if isinstance(v, Mapping) else None

    version_raw = raw.get("Version", {}).get("N")
    if version_raw is None or not version_raw.isdigit():
        raise JobError("Version is missing or not a non-negative integer")
    recurrence = s("Recurrence")
    if recurrence is not None:
        recurrence_seconds(recurrence)
    status = s("Status") or ""
    if status not in ("pending", "claimed"):
        raise JobError(f"status {status!r} in the due index (only pending and claimed jobs belong there)")
    due_at = s(DUE_ATTRIBUTE) or ""
    parse_time(due_at)
    claimed_due = s("ClaimedDue")
    if status == "claimed":
        parse_time(claimed_due)
    payload = plain(raw["Payload"]) if "Payload" in raw else {}
    return DueItem(
        key=key,
        tenant_id=tenant_id,
        job_id=sk.removeprefix(JOB_KEY_PREFIX),
        status=status,
        version=int(version_raw),
        due_at=due_at,
        runner=s("Runner") or "",
        payload=payload,
        recurrence=recurrence,
        claimed_due=claimed_due,
        next_due=s("NextDue"),
        attempts=int(raw.get("Attempts", {}).get("N", "0")),
    )


def runner_event(claim: Claim) -> dict[str, Any]:
    """What a runner receives. The tenant comes from the item's partition key, never from the payload."""
    return {
        "tenantId": claim.item.tenant_id,
        "jobId": claim.item.job_id,
        "dueAt": claim.due,
        "runner": claim.item.runner,
        "attempt": claim.attempt,
        "payload": claim.item.payload,
    }


# ------------------------------------------------------------------------------------------------- picker


class JobPicker:
    """The decision core, over injected DynamoDB and Lambda clients (moto and fakes in tests)."""

    def __init__(self, cfg: Settings, dynamodb: Any, lambda_client: Any) -> None:
        self.cfg, self.ddb, self.lam = cfg, dynamodb, lambda_client

    # -- read
    def due_items(self, shard: str, now: datetime, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Items of one shard with ``DueAt <= now``, oldest first, through the index only."""
        kwargs: dict[str, Any] = {
            "TableName": self.cfg.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#shard = :shard AND #due <= :now",
            "ExpressionAttributeNames": {"#shard": SHARD_ATTRIBUTE, "#due": DUE_ATTRIBUTE},
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"S": fmt(now)}},
            "Limit": PAGE_SIZE,
        }
        left = self.cfg.max_items if limit is None else limit
        while left > 0:
            resp = self.ddb.query(**kwargs)
            for item in resp.get("Items", []):
                if left <= 0:
                    return
                left -= 1
                yield item
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- write steps (separate so tests can interleave pickers and crash between them)
    def fail(self, raw: Mapping[str, Any], reason: str) -> bool:
        """Mark an unprocessable item ``failed`` (out of the index) with the reason; False if it changed meanwhile."""
        version = raw.get("Version", {}).get("N")
        key = {"TenantId": raw["TenantId"], "EntityItem": raw["EntityItem"]}
        names = {"#st": "Status", "#shard": SHARD_ATTRIBUTE, "#due": DUE_ATTRIBUTE}
        values: dict[str, Any] = {":failed": {"S": "failed"}, ":reason": {"S": reason[:1000]}}
        if version is not None and str(version).isdigit():
            condition = "Version = :v"
            values |= {":v": {"N": str(version)}, ":next": {"N": str(int(version) + 1)}}
            update = "SET #st = :failed, FailureReason = :reason, Version = :next REMOVE #shard, #due"
        else:
            condition = "attribute_not_exists(Version)"
            update = "SET #st = :failed, FailureReason = :reason REMOVE #shard, #due"
        try:
            self.ddb.update_item(
                TableName=self.cfg.table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(EntityItem) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def claim(self, item: DueItem, now: datetime) -> Claim | None:
        """Claim a pending job, or recover a claimed one whose lease expired. ``None``: another picker won."""
        lease = fmt(now + timedelta(seconds=self.cfg.lease_seconds))
        names = {"#st": "Status", "#due": DUE_ATTRIBUTE}
        values: dict[str, Any] = {
            ":v": {"N": str(item.version)},
            ":next": {"N": str(item.version + 1)},
            ":seen": {"S": item.due_at},
            ":lease": {"S": lease},
        }
        if item.status == "pending":
            due = item.due_at
            nxt = fmt(next_due(parse_time(due), item.recurrence)) if item.recurrence else None
            update = "SET #st = :claimed, ClaimedDue = :seen, #due = :lease, Attempts = :one, Version = :next"
            values |= {":pending": {"S": "pending"}, ":claimed": {"S": "claimed"}, ":one": {"N": "1"}}
            condition = "#st = :pending AND #due = :seen AND Version = :v"
            if nxt is not None:
                update += ", NextDue = :nextdue"
                values[":nextdue"] = {"S": nxt}
            attempt, recovered = 1, False
        else:
            assert item.claimed_due is not None
            due, nxt = item.claimed_due, item.next_due
            update = "SET #due = :lease, Attempts = :attempts, Version = :next"
            values |= {":claimed": {"S": "claimed"}, ":attempts": {"N": str(item.attempts + 1)}}
            condition = "#st = :claimed AND #due = :seen AND Version = :v"
            attempt, recovered = item.attempts + 1, True
        try:
            self.ddb.update_item(
                TableName=self.cfg.table,
                Key=item.key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return Claim(item=item, due=due, version=item.version + 1, attempt=attempt, next_due=nxt, recovered=recovered)

    def dispatch(self, claim: Claim) -> dict[str, Any]:
        """Asynchronous invoke of the allow-listed runner function; raises on anything but 202 Accepted."""
        function = self.cfg.runners[claim.item.runner]
        event = runner_event(claim)
        resp = self.lam.invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(event, separators=(",", ":")).encode()
        )
        if int(resp.get("StatusCode", 0)) != 202:
            raise RuntimeError(f"invoke of {function} answered {resp.get('StatusCode')} instead of 202")
        return event

    def complete(self, claim: Claim, now: datetime) -> bool:
        """Move a dispatched job on: next occurrence (recurring) or out of the index. False: lease was lost."""
        names = {"#st": "Status", "#due": DUE_ATTRIBUTE}
        values: dict[str, Any] = {
            ":v": {"N": str(claim.version)},
            ":next": {"N": str(claim.version + 1)},
            ":claimed": {"S": "claimed"},
            ":done": {"S": claim.due},
            ":at": {"S": fmt(now)},
        }
        if claim.next_due is not None:
            update = (
                "SET #st = :pending, #due = :nextdue, LastDispatchedDue = :done, DispatchedAt = :at, "
                "Version = :next REMOVE ClaimedDue, NextDue, Attempts"
            )
            values |= {":pending": {"S": "pending"}, ":nextdue": {"S": claim.next_due}}
        else:
            names["#shard"] = SHARD_ATTRIBUTE
            update = (
                "SET #st = :dispatched, LastDispatchedDue = :done, DispatchedAt = :at, Version = :next "
                "REMOVE #shard, #due, ClaimedDue"
            )
            values[":dispatched"] = {"S": "dispatched"}
        try:
            self.ddb.update_item(
                TableName=self.cfg.table,
                Key=claim.item.key,
                UpdateExpression=update,
                ConditionExpression="#st = :claimed AND Version = :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- one item, end to end
    def handle(self, raw: Mapping[str, Any], now: datetime, result: PickResult) -> None:
        label = f"{raw.get('TenantId', {}).get('S')}/{raw.get('EntityItem', {}).get('S')}"
        try:
            item = decode(raw)
            if item.runner not in self.cfg.runners:
                raise JobError(f"runner {item.runner!r} is not in the allow-list {sorted(self.cfg.runners)}")
            if item.status == "claimed" and item.attempts >= MAX_ATTEMPTS:
                raise JobError(f"dispatch failed {item.attempts} times (lease expired each time)")
        except JobError as err:
            changed = self.fail(raw, err.reason)
            result.outcomes.append((label, err.reason, "failed" if changed else "claim-lost"))
            return
        claim = self.claim(item, now)
        if claim is None:
            result.outcomes.append((label, item.due_at, "claim-lost"))
            return
        try:
            event = self.dispatch(claim)
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            # The claim stands; the job comes back when the lease expires (recovery).
            logger.warning(
                "dispatch failed; job will be recovered after its lease", extra={"job": label, "error": str(exc)}
            )
            result.outcomes.append((label, claim.due, "dispatch-error"))
            return
        result.dispatched.append(event)
        completed = self.complete(claim, now)
        outcome: Outcome = "recovered" if claim.recovered else "dispatched"
        result.outcomes.append((label, claim.due, outcome if completed else "complete-lost"))

    def run(self, now: datetime) -> PickResult:
        """Every shard, every due item (up to ``max_items``)."""
        result = PickResult()
        budget = self.cfg.max_items
        for n in range(self.cfg.shards):
            for raw in self.due_items(f"{SHARD_PREFIX}{n}", now, limit=budget):
                budget -= 1
                result.items_read += 1
                due = raw.get(DUE_ATTRIBUTE, {}).get("S")
                pending = raw.get("Status", {}).get("S") == "pending" and isinstance(due, str)
                if pending and (result.oldest_due is None or due < result.oldest_due):
                    result.oldest_due = due
                self.handle(raw, now, result)
        return result


def lag_seconds(result: PickResult, now: datetime) -> float:
    """Age of the oldest pending due job seen by this run (0 when none was due)."""
    if result.oldest_due is None:
        return 0.0
    return max(0.0, (now - parse_time(result.oldest_due)).total_seconds())


# ------------------------------------------------------------------------------------------------- adapter


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduler event (any payload) -> one pass over every shard; returns the counts."""
    cfg = settings()
    ddb, lam = clients()
    now = datetime.fromtimestamp(time.time(), UTC).replace(microsecond=0)
    result = JobPicker(cfg, ddb, lam).run(now)
    metrics.add_dimension(name="function_name", value=context.function_name)
    counts = {
        "JobsDispatched": result.count("dispatched"),
        "JobsRecovered": result.count("recovered"),
        "JobsClaimLost": result.count("claim-lost") + result.count("complete-lost"),
        "JobsFailed": result.count("failed"),
        "DispatchErrors": result.count("dispatch-error"),
        "ItemsRead": result.items_read,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="JobLagSeconds", unit=MetricUnit.Seconds, value=lag_seconds(result, now))
    for label, detail, outcome in result.outcomes:
        if outcome in ("failed", "dispatch-error"):
            logger.warning("job not dispatched", extra={"job": label, "outcome": outcome, "detail": detail})
    return {"now": fmt(now), **counts}
