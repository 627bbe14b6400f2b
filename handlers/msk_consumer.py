"""MSK consumer of the image pipeline (the image-pipeline design; isolation invariants 11d and 47).

Each Kafka record's value is base64 JSON::

    {"tenantId": "acme", "imageId": "img-0001", "contentType": "image/png", "data": "<base64 bytes>"}
    {"tenantId": "acme", "imageId": "img-0002", "contentType": "image/jpeg",
     "s3": {"bucket": "<producer upload bucket>", "key": "acme/uploads/img-0002.jpg"}}

For every record exactly one of three things happens, and the batch response says which:

* **stored** - the image is at ``<tenant>/raw/<imageId>`` in the raw bucket and its metadata row at
  ``TENANT#<tenant>`` / ``IMAGE#<imageId>`` in the ImageMetadata pool table, with ``ExpiresAt`` = now +
  ``RETENTION_DAYS``. A redelivered record (same tenant, image id and content) is a *duplicate* and has no
  further effect: the object is written with ``If-None-Match: *`` and the row with
  ``attribute_not_exists(EntityItem)``, so nothing is duplicated or overwritten (first writer wins);
* **rejected** - validation failed (malformed, unknown tenant, over the size limit, disallowed or mismatched
  content type, pointer outside the allowed buckets or the tenant's prefix, same image id with different
  content). The record and the reason go to ``rejected/<topic>/<partition>/<offset>.json`` in the failure
  bucket (the same bucket the event source mapping uses as its on-failure destination). Retrying cannot fix it;
* **retry** - a transient error (throttling, STS, network). The record is reported in ``batchItemFailures``;
  the event source mapping retries it and, after ``maximum_retry_attempts``, writes it to the on-failure bucket.

Nothing is dropped: a record is acknowledged only after it is stored or its rejection is written. An
unexpected error (a bug) fails the whole invocation instead; the mapping then retries and bisects the batch and
finally writes it to the on-failure bucket.

Tenant isolation: the function's own role cannot touch tenant rows or objects. Per tenant (once per
invocation) it assumes the writer role with the session tag ``TenantId=<tenant>`` and a session policy naming
that tenant literally (:func:`session_policy`); all writes for a record go through the session of the tenant
named in the record, after that tenant was checked against the tenant registry (``SAAS_REGISTRY_TABLE``,
``saas_platform.handlers._registry``): an unknown, suspended or offboarded tenant's record is rejected (to the
failure bucket with the reason); an unreachable registry with nothing cached makes the record a retry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from saas_platform.handlers._registry import TABLE_ENV, RegistryError, TenantRegistry

logger = Logger()
# Defaults match what MskConsumer deploys (HandlerFunction sets both variables); they only matter off Lambda.
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "saas"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "MskConsumer"),
)

TENANT_KEY_PREFIX: Final = "TENANT#"
IMAGE_KEY_PREFIX: Final = "IMAGE#"
TENANT_TAG: Final = "TenantId"
REJECTED_ROOT: Final = "rejected"
TRANSACT_MAX: Final = 100
BATCH_GET_MAX: Final = 100
SIGNATURES: Final[Mapping[str, Callable[[bytes], bool]]] = {
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "image/png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
}
"""Magic bytes per allowed content type: the declared type must match the bytes."""


class Rejected(Exception):
    """The record can never be stored; ``reason`` goes to the failure bucket with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryRecord(Exception):
    """Transient failure: report the record in ``batchItemFailures`` so the mapping retries it."""


# ----------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Deploy-time configuration (environment variables written by ``MskConsumer``)."""

    raw_bucket: str
    raw_bucket_arn: str
    failure_bucket: str
    table: str
    table_arn: str
    writer_role_arn: str
    kms_key_arn: str
    registry_table: str
    """The tenant registry table (``SAAS_REGISTRY_TABLE``): which tenants exist and are active."""
    retention_days: int
    max_image_bytes: int
    allowed_content_types: frozenset[str]
    source_buckets: frozenset[str] = frozenset()
    write_mode: Literal["batched", "single"] = "single"
    """``single`` (default): one conditional PutItem per record - 1 WCU per row. ``batched``: BatchGetItem plus
    conditional TransactWriteItems of up to 100 rows - ~40x fewer round trips, but transactions cost 2 WCU per
    row. See benchmarks/msk_consumer_throughput.py and the README for the measured trade-off."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def items(key: str) -> frozenset[str]:
            return frozenset(v.strip() for v in e.get(key, "").split(",") if v.strip())

        mode = e.get("METADATA_WRITE_MODE", "single")
        return cls(
            raw_bucket=e["RAW_BUCKET"],
            raw_bucket_arn=e.get("RAW_BUCKET_ARN") or f"arn:aws:s3:::{e['RAW_BUCKET']}",
            failure_bucket=e["FAILURE_BUCKET"],
            table=e["METADATA_TABLE"],
            table_arn=e["METADATA_TABLE_ARN"],
            writer_role_arn=e["WRITER_ROLE_ARN"],
            kms_key_arn=e.get("KMS_KEY_ARN", "*"),
            registry_table=e.get(TABLE_ENV, "").strip(),
            retention_days=int(e["RETENTION_DAYS"]),
            max_image_bytes=int(e.get("MAX_IMAGE_BYTES", str(10 * 1024 * 1024))),
            allowed_content_types=items("ALLOWED_CONTENT_TYPES") or frozenset(SIGNATURES),
            source_buckets=items("SOURCE_BUCKETS"),
            write_mode="batched" if mode == "batched" else "single",
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The function's configuration from its environment, read once per container."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def system_clients() -> tuple[Any, Any]:
    """The function role's own S3 (failure bucket only) and STS clients; created lazily (moto-friendly)."""
    return boto3.client("s3"), boto3.client("sts")


def reset_clients() -> None:
    """Forget cached settings, clients and registry reads (tests)."""
    settings.cache_clear()
    system_clients.cache_clear()
    tenant_registry.cache_clear()


@lru_cache(maxsize=4)
def tenant_registry(table: str) -> TenantRegistry:
    """The execution environment's cached registry reader for ``table`` (TTL and negative caching)."""
    return TenantRegistry(table, boto3.client("dynamodb"))


def check_tenant(tenant_id: str, cfg: Settings) -> None:
    """The record's tenant must be active in the registry.

    Raises:
        Rejected: unknown, suspended or offboarded tenant (the record can never be stored).
        RetryRecord: the registry is unreachable (or unset, or inconsistent) with nothing cached: fail closed.
    """
    try:
        record = tenant_registry(cfg.registry_table).by_tenant(tenant_id)
    except RegistryError as exc:
        raise RetryRecord(f"tenant registry: {exc}") from None
    if record is None or record.system:  # the system tenant is registered for its sign-in pool; it has no images
        raise Rejected(f"unknown tenant {tenant_id!r}: not in this environment's tenant registry")
    if not record.active:
        raise Rejected(f"tenant {tenant_id!r} is {record.status} in the tenant registry")


# ----------------------------------------------------------------------------------------------- decoding


class S3Pointer(BaseModel):
    """Where a large image already waits in S3: the record carries this instead of inline ``data``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    key: str = Field(min_length=1, max_length=1024)


class ImageMessage(BaseModel):
    """The record value after base64 + JSON decoding."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    tenant_id: str = Field(alias="tenantId", pattern=r"^[a-z][a-z0-9-]{1,30}$")
    image_id: str = Field(alias="imageId", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    content_type: str = Field(alias="contentType", min_length=3, max_length=100)
    data: str | None = None
    s3: S3Pointer | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ImageMessage:
        if (self.data is None) == (self.s3 is None):
            raise ValueError("exactly one of 'data' (inline base64) or 's3' (pointer) is required")
        return self


@dataclass(frozen=True)
class RecordId:
    """A Kafka record's position: topic, partition and offset."""

    topic: str
    partition: int
    offset: int

    @property
    def label(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def record_id(record: KafkaEventRecord) -> RecordId:
    """The record's position (topic, partition, offset): the key of its batch-item failure."""
    return RecordId(record.topic, int(record.partition), int(record.offset))


def decode_message(value_b64: str | None) -> ImageMessage:
    """base64 -> JSON -> :class:`ImageMessage`; raises :class:`Rejected` with a precise reason."""
    if not value_b64:
        raise Rejected("malformed: record has no value")
    try:
        raw = base64.b64decode(value_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected(f"malformed: record value is not base64 ({exc})") from None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(f"malformed: record value is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise Rejected("malformed: record value is not a JSON object")
    try:
        return ImageMessage.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        raise Rejected(f"invalid: {problems}") from None


def validate_message(msg: ImageMessage, cfg: Settings) -> None:
    """Checks that need deploy-time config: tenant registry, content types, pointer scope."""
    check_tenant(msg.tenant_id, cfg)
    if msg.content_type not in cfg.allowed_content_types:
        raise Rejected(f"content type {msg.content_type!r} not allowed; allowed: {sorted(cfg.allowed_content_types)}")
    if msg.s3 is not None:
        if msg.s3.bucket not in cfg.source_buckets:
            raise Rejected(f"pointer bucket {msg.s3.bucket!r} is not an allowed source bucket")
        if not msg.s3.key.startswith(f"{msg.tenant_id}/") or ".." in msg.s3.key.split("/"):
            raise Rejected(
                f"pointer key {msg.s3.key!r} is outside tenant {msg.tenant_id!r}'s prefix '{msg.tenant_id}/'"
            )


def inline_bytes(msg: ImageMessage, cfg: Settings) -> bytes:
    """Decode an inline base64 image, refusing oversized or malformed data before decoding it."""
    assert msg.data is not None
    # base64 of max_image_bytes is ~4/3 as long: refuse before decoding anything huge.
    if len(msg.data) > (cfg.max_image_bytes + 2) // 3 * 4 + 4:
        raise Rejected(f"too large: inline image exceeds {cfg.max_image_bytes} bytes")
    try:
        body = base64.b64decode(msg.data, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected("malformed: 'data' is not base64") from None
    return body


def check_body(body: bytes, msg: ImageMessage, cfg: Settings) -> None:
    """Refuse an image that is empty, over the size limit or whose bytes do not match its content type."""
    if len(body) > cfg.max_image_bytes:
        raise Rejected(f"too large: image is {len(body)} bytes; limit {cfg.max_image_bytes}")
    if not body:
        raise Rejected("invalid: image is empty")
    signature = SIGNATURES.get(msg.content_type)
    if signature is not None and not signature(body):
        raise Rejected(f"content mismatch: bytes are not {msg.content_type}")


# ----------------------------------------------------------------------------------------------- sessions


def session_policy(tenant_id: str, cfg: Settings) -> dict[str, Any]:
    """The session policy passed to ``AssumeRole`` for one tenant (pure).

    The effective permissions are the intersection of this and the writer role's tag-keyed policy, so the
    session is limited to ``TENANT#<tenant>`` and ``<raw bucket>/<tenant>/raw/*`` even if the tag were wrong.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ImageMetadataThisTenant",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"],
            "Resource": cfg.table_arn,
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{tenant_id}"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        },
        {
            "Sid": "RawImagesThisTenant",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"{cfg.raw_bucket_arn}/{tenant_id}/raw/*",
        },
        {
            "Sid": "BucketKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": cfg.kms_key_arn,
        },
        {
            "Sid": "TableKeyThroughDynamoDB",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            "Resource": cfg.kms_key_arn,
        },
    ]
    if cfg.source_buckets:
        statements.append(
            {
                "Sid": "ProducerUploadsThisTenant",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{b}/{tenant_id}/*" for b in sorted(cfg.source_buckets)],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def assume_role_request(tenant_id: str, cfg: Settings) -> dict[str, Any]:
    """The exact ``sts:AssumeRole`` parameters for a tenant session (pure; checked by tests)."""
    return {
        "RoleArn": cfg.writer_role_arn,
        "RoleSessionName": f"image-writer-{tenant_id}"[:64],
        "DurationSeconds": 900,
        "Tags": [{"Key": TENANT_TAG, "Value": tenant_id}],
        "Policy": json.dumps(session_policy(tenant_id, cfg), separators=(",", ":")),
    }


@dataclass
class TenantSession:
    """Clients bound to one tenant's assumed session (tag and session policy of that tenant only)."""

    tenant_id: str
    s3: Any
    dynamodb: Any


class TenantSessions:
    """One STS session per tenant per invocation (never shared across tenants, never across invocations)."""

    def __init__(self, cfg: Settings, sts: Any) -> None:
        self._cfg, self._sts = cfg, sts
        self._cache: dict[str, TenantSession] = {}
        self.assumed: list[str] = []

    def get(self, tenant_id: str) -> TenantSession:
        check_tenant(tenant_id, self._cfg)  # defence in depth (a cached read): validate_message already checked
        if tenant_id not in self._cache:
            creds = self._sts.assume_role(**assume_role_request(tenant_id, self._cfg))["Credentials"]
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            self._cache[tenant_id] = TenantSession(tenant_id, session.client("s3"), session.client("dynamodb"))
            self.assumed.append(tenant_id)
        return self._cache[tenant_id]


# ----------------------------------------------------------------------------------------------- storage


@dataclass
class Accepted:
    """A record that passed validation: its message, image bytes and where they will be stored."""

    rid: RecordId
    msg: ImageMessage
    body: bytes = b""
    content_id: str = ""
    kafka_timestamp: int = 0

    @property
    def object_key(self) -> str:
        return f"{self.msg.tenant_id}/raw/{self.msg.image_id}"

    @property
    def pk(self) -> str:
        return f"{TENANT_KEY_PREFIX}{self.msg.tenant_id}"

    @property
    def sk(self) -> str:
        return f"{IMAGE_KEY_PREFIX}{self.msg.image_id}"


Status = Literal["stored", "duplicate", "rejected", "retry"]


@dataclass
class Outcome:
    """What happened to one record (stored, duplicate, rejected, ...) and why."""

    status: Status
    reason: str = ""


@dataclass
class BatchResult:
    """The outcome of every record of one invocation."""

    outcomes: dict[RecordId, Outcome] = field(default_factory=dict)

    def count(self, *statuses: Status) -> int:
        return sum(1 for o in self.outcomes.values() if o.status in statuses)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def load_body(item: Accepted, session: TenantSession, cfg: Settings) -> None:
    """Inline bytes, or the pointer object read through the tenant's session; size and signature checked."""
    if item.msg.s3 is None:
        body = inline_bytes(item.msg, cfg)
    else:
        try:
            obj = session.s3.get_object(Bucket=item.msg.s3.bucket, Key=item.msg.s3.key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise Rejected(
                    f"pointer s3://{item.msg.s3.bucket}/{item.msg.s3.key} not readable ({_code(exc)})"
                ) from None
            raise
        if int(obj.get("ContentLength", 0)) > cfg.max_image_bytes:
            obj["Body"].close()
            raise Rejected(f"too large: pointer object is {obj['ContentLength']} bytes; limit {cfg.max_image_bytes}")
        body = obj["Body"].read(cfg.max_image_bytes + 1)
    check_body(body, item.msg, cfg)
    item.body = body
    item.content_id = hashlib.sha256(body).hexdigest()


def put_object_once(item: Accepted, session: TenantSession, cfg: Settings) -> None:
    """Write the image unless the key exists; an existing key must hold the same content."""
    try:
        session.s3.put_object(
            Bucket=cfg.raw_bucket,
            Key=item.object_key,
            Body=item.body,
            ContentType=item.msg.content_type,
            Metadata={"sha256": item.content_id, "source": item.rid.label},
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "412"):
            raise
        head = session.s3.head_object(Bucket=cfg.raw_bucket, Key=item.object_key)
        if head.get("Metadata", {}).get("sha256") != item.content_id:
            raise Rejected(
                f"conflict: {item.object_key} already holds different content; image ids are immutable"
            ) from None


def metadata_item(item: Accepted, cfg: Settings, now: float) -> dict[str, Any]:
    """The metadata row of an accepted image: tenant key, image id, size, source position and TTL."""
    return {
        "TenantId": {"S": item.pk},
        "EntityItem": {"S": item.sk},
        "ImageId": {"S": item.msg.image_id},
        "ContentType": {"S": item.msg.content_type},
        "SizeBytes": {"N": str(len(item.body))},
        "ContentSha256": {"S": item.content_id},
        "Bucket": {"S": cfg.raw_bucket},
        "ObjectKey": {"S": item.object_key},
        "SourceTopic": {"S": item.rid.topic},
        "SourcePartition": {"N": str(item.rid.partition)},
        "SourceOffset": {"N": str(item.rid.offset)},
        "KafkaTimestamp": {"N": str(item.kafka_timestamp)},
        "StoredAt": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
        "ExpiresAt": {"N": str(int(now) + cfg.retention_days * 86_400)},
    }


def _existing(session: TenantSession, cfg: Settings, item: Accepted) -> Outcome:
    got = session.dynamodb.get_item(
        TableName=cfg.table,
        Key={"TenantId": {"S": item.pk}, "EntityItem": {"S": item.sk}},
        ConsistentRead=True,
    ).get("Item")
    if got is None:
        raise RetryRecord(f"{item.rid.label}: conditional write failed but no row is visible")
    return _compare(got, item)


def _compare(existing: Mapping[str, Any], item: Accepted) -> Outcome:
    if existing.get("ContentSha256", {}).get("S") == item.content_id:
        return Outcome("duplicate")
    raise Rejected(f"conflict: metadata for image {item.msg.image_id!r} already records different content")


def write_single(session: TenantSession, cfg: Settings, item: Accepted, now: float) -> Outcome:
    """Store one metadata row with a conditional put; an existing row decides duplicate or conflict."""
    try:
        session.dynamodb.put_item(
            TableName=cfg.table,
            Item=metadata_item(item, cfg, now),
            ConditionExpression="attribute_not_exists(EntityItem)",
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
        return _existing(session, cfg, item)
    return Outcome("stored")


def write_batched(
    session: TenantSession, cfg: Settings, items: Sequence[Accepted], now: float
) -> dict[RecordId, Outcome | Exception]:
    """BatchGetItem to find rows that exist, then conditional TransactWriteItems of up to 100 new rows.

    A cancelled transaction (a row appeared meanwhile) falls back to one conditional write per row. Items with
    the same key as an earlier item of the batch go the single-write path after the batch.
    """
    results: dict[RecordId, Outcome | Exception] = {}
    first: dict[str, Accepted] = {}
    later: list[Accepted] = []
    for item in items:
        if item.sk in first:
            later.append(item)
        else:
            first[item.sk] = item
    existing: dict[str, Mapping[str, Any]] = {}
    keys = [{"TenantId": {"S": i.pk}, "EntityItem": {"S": i.sk}} for i in first.values()]
    for start in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {cfg.table: {"Keys": keys[start : start + BATCH_GET_MAX], "ConsistentRead": True}}
        for _ in range(5):
            resp = session.dynamodb.batch_get_item(RequestItems=request)
            for row in resp.get("Responses", {}).get(cfg.table, []):
                existing[row["EntityItem"]["S"]] = row
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
        if request:
            raise RetryRecord("BatchGetItem left unprocessed keys after 5 attempts")
    new: list[Accepted] = []
    for sk, item in first.items():
        if sk in existing:
            try:
                results[item.rid] = _compare(existing[sk], item)
            except Rejected as rej:
                results[item.rid] = rej
        else:
            new.append(item)
    for start in range(0, len(new), TRANSACT_MAX):
        chunk = new[start : start + TRANSACT_MAX]
        try:
            session.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": cfg.table,
                            "Item": metadata_item(i, cfg, now),
                            "ConditionExpression": "attribute_not_exists(EntityItem)",
                        }
                    }
                    for i in chunk
                ]
            )
            for i in chunk:
                results[i.rid] = Outcome("stored")
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            for i in chunk:
                results[i.rid] = _guard(lambda i=i: write_single(session, cfg, i, now))
    for item in later:
        results[item.rid] = _guard(lambda item=item: write_single(session, cfg, item, now))
    return results


def _guard(fn: Callable[[], Outcome]) -> Outcome | Exception:
    try:
        return fn()
    except (Rejected, RetryRecord, ClientError, BotoCoreError) as exc:
        return exc


def reject_record(record: KafkaEventRecord, rid: RecordId, reason: str, *, s3: Any, cfg: Settings, now: float) -> None:
    """Write the rejected record (its raw value, key and headers) and the reason to the failure bucket."""
    body = {
        "reason": reason,
        "topic": rid.topic,
        "partition": rid.partition,
        "offset": rid.offset,
        "timestamp": record.get("timestamp"),
        "key": record.get("key"),
        "value": record.get("value"),
        "headers": record.get("headers"),
        "rejectedAt": datetime.fromtimestamp(now, UTC).isoformat(),
    }
    s3.put_object(
        Bucket=cfg.failure_bucket,
        Key=f"{REJECTED_ROOT}/{rid.topic}/{rid.partition}/{rid.offset}.json",
        Body=json.dumps(body).encode(),
        ContentType="application/json",
    )


def process_records(
    records: Iterable[KafkaEventRecord],
    cfg: Settings,
    *,
    s3: Any,
    sts: Any,
    now: Callable[[], float] = time.time,
) -> BatchResult:
    """Decide and perform every record's outcome. Never raises for a single record's problem."""
    result = BatchResult()
    by_id: dict[RecordId, KafkaEventRecord] = {}
    rejected: dict[RecordId, str] = {}
    by_tenant: dict[str, list[Accepted]] = {}
    for record in records:
        rid = record_id(record)
        by_id[rid] = record
        try:
            msg = decode_message(record.get("value"))
            validate_message(msg, cfg)
        except Rejected as rej:
            rejected[rid] = rej.reason
            continue
        except RetryRecord as exc:
            result.outcomes[rid] = Outcome("retry", str(exc))
            continue
        by_tenant.setdefault(msg.tenant_id, []).append(
            Accepted(rid, msg, kafka_timestamp=int(record.get("timestamp") or 0))
        )

    sessions = TenantSessions(cfg, sts)
    stamp = now()
    for tenant_id, items in by_tenant.items():
        try:
            session = sessions.get(tenant_id)
        except Rejected as rej:  # unreachable after validate_message; kept so the registry check has one home
            for item in items:
                rejected[item.rid] = rej.reason
            continue
        except (ClientError, BotoCoreError, RetryRecord) as exc:
            for item in items:
                result.outcomes[item.rid] = Outcome("retry", f"sts: {exc}")
            continue
        ready: list[Accepted] = []
        for item in items:
            try:
                if session.tenant_id != item.msg.tenant_id:  # routing invariant (isolation invariant 47): fail closed
                    raise RuntimeError(f"{item.rid.label}: session of {session.tenant_id!r} for {item.msg.tenant_id!r}")
                load_body(item, session, cfg)
                put_object_once(item, session, cfg)
                ready.append(item)
            except Rejected as rej:
                rejected[item.rid] = rej.reason
            except (ClientError, BotoCoreError, RetryRecord) as exc:
                result.outcomes[item.rid] = Outcome("retry", str(exc))
        if not ready:
            continue
        written: dict[RecordId, Outcome | Exception]
        if cfg.write_mode == "batched":
            try:
                written = write_batched(session, cfg, ready, stamp)
            except (ClientError, BotoCoreError, RetryRecord) as exc:
                written = {i.rid: exc for i in ready}
        else:
            written = {i.rid: _guard(lambda i=i, s=session: write_single(s, cfg, i, stamp)) for i in ready}
        for rid, outcome in written.items():
            if isinstance(outcome, Rejected):
                rejected[rid] = outcome.reason
            elif isinstance(outcome, Exception):
                result.outcomes[rid] = Outcome("retry", str(outcome))
            else:
                result.outcomes[rid] = outcome
    for rid, reason in rejected.items():
        try:
            reject_record(by_id[rid], rid, reason, s3=s3, cfg=cfg, now=stamp)
            result.outcomes[rid] = Outcome("rejected", reason)
        except (ClientError, BotoCoreError) as exc:
            result.outcomes[rid] = Outcome("retry", f"failure bucket write failed: {exc}")
    missing = set(by_id) - set(result.outcomes)
    for rid in missing:  # cannot happen; fail closed (retry) rather than acknowledge an unhandled record
        result.outcomes[rid] = Outcome("retry", "no outcome recorded")
    return result


# ----------------------------------------------------------------------------------------------- adapter

processor = BatchProcessor(event_type=EventType.Kafka, raise_on_entire_batch_failure=False)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """MSK event -> outcomes -> ``{"batchItemFailures": [...]}`` for the records to retry."""
    cfg = settings()
    s3, sts = system_clients()
    records = [KafkaEventRecord(r) for chunk in (event.get("records") or {}).values() for r in chunk]
    result = process_records(records, cfg, s3=s3, sts=sts)
    # EMF dimensions the MskConsumer alarms select on: service (POWERTOOLS_SERVICE_NAME) + this function.
    metrics.add_dimension(name="function_name", value=context.function_name)
    for status, metric in (
        ("stored", "RecordsStored"),
        ("duplicate", "RecordsDuplicate"),
        ("rejected", "RecordsRejected"),
        ("retry", "RecordsRetried"),
    ):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=result.count(status))  # type: ignore[arg-type]
    for rid, outcome in result.outcomes.items():
        if outcome.status in ("rejected", "retry"):
            logger.warning(
                "record not stored", extra={"record": rid.label, "status": outcome.status, "reason": outcome.reason}
            )

    def mark(record: KafkaEventRecord) -> None:
        if result.outcomes[record_id(record)].status == "retry":
            raise RetryRecord(record_id(record).label)

    if not records:
        return {"batchItemFailures": []}
    return dict(process_partial_response(event=event, record_handler=mark, processor=processor, context=context))
