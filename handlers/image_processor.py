"""Image processor: S3 ``ObjectCreated`` notifications of the raw bucket, through SQS, to a resized rendition and
a thumbnail under the tenant's processed prefix, and the metadata row marked processed (the image-pipeline
design, processing leg). Both ingestion legs (the upload API and the MSK consumer) end here.

Every SQS message ends in exactly one state, and the batch response says which:

* **processed** - ``<tenant>/processed/<imageId>/rendition.webp`` (longest side ``RENDITION_PX``) and
  ``thumbnail.webp`` (``THUMBNAIL_PX``) exist and the row ``TENANT#<tenant>`` / ``IMAGE#<imageId>`` says
  ``Status=processed`` with the analytics fields (dimensions, format, sizes, timestamps). A replay (SQS delivers
  at least once; S3 may notify twice) is a *duplicate*: renditions are written with ``If-None-Match: *`` and
  the row update is conditional on ``StatusRank < 3``, so status never regresses and nothing is rewritten;
* **dead-lettered** - a poison message (not an S3 event, another bucket, a key outside ``<tenant>/raw/<id>``,
  an unknown tenant, object metadata naming another tenant, too large, not an image by content, SVG/polyglot,
  decompression bomb, truncated pixels). The handler itself sends it to the dead-letter queue with the reason
  (message attributes ``reason``, ``tenant``, ``key``), marks the row ``rejected`` when one exists (rank 2, never
  over ``processed``), and acknowledges it: retrying cannot fix it, so it never crash-loops;
* **retry** - a transient error (throttling, STS, the metadata row not written yet): reported in
  ``batchItemFailures`` (Powertools ``BatchProcessor``); after the queue's ``maxReceiveCount`` SQS moves it to
  the same dead-letter queue.

Tenant isolation: the tenant is derived from the object key and checked against the registry; all reads and
writes for a key go through the session of *that* tenant (writer-session pattern, ``_tenant_session``), whose
session policy names it literally, so a message naming tenant B's key can never be served by tenant A's session
(and the handler refuses to try: :func:`process_object` checks the session's tenant against the key's).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image, ImageOps

from saas_platform.handlers._image_checks import (
    ALLOWED_TYPES,
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    ImageRejected,
    decode,
    inspect_image,
)
from saas_platform.handlers._registry import TABLE_ENV, RegistryError
from saas_platform.handlers._tenant_session import (
    IMAGE_KEY_PREFIX,
    TENANT_KEY_PREFIX,
    RegistryTenants,
    SessionScope,
    TenantSession,
    TenantSessions,
    UnknownTenant,
    items,
    reset_registry,
)

logger = Logger()
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "saas"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ImageProcessing"),
)

RAW_KEY_RE: Final = re.compile(r"(?P<tenant>[a-z][a-z0-9-]{1,30})/raw/(?P<image>[A-Za-z0-9][A-Za-z0-9._-]{0,127})")
PROCESSED_RANK: Final = 3
REJECTED_RANK: Final = 2
WRITER_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:UpdateItem")
RENDITIONS: Final = ("rendition", "thumbnail")


class Poison(Exception):
    """The message can never be processed; ``reason`` goes to the dead-letter queue with it."""

    def __init__(self, reason: str, tenant: str = "", key: str = "") -> None:
        super().__init__(reason)
        self.reason, self.tenant, self.key = reason, tenant, key


class Retry(Exception):
    """Transient: report the message in ``batchItemFailures``."""


@dataclass(frozen=True)
class Settings:
    """Deploy-time configuration (environment variables written by ``ImageProcessing``)."""

    raw_bucket: str
    raw_bucket_arn: str
    processed_bucket: str
    processed_bucket_arn: str
    table: str
    table_arn: str
    writer_role_arn: str
    kms_key_arn: str
    dlq_url: str
    registry_table: str
    """The tenant registry table (``SAAS_REGISTRY_TABLE``): which tenants exist and are active."""
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = MAX_PIXELS
    rendition_px: int = 1024
    thumbnail_px: int = 256
    allowed_content_types: frozenset[str] = frozenset(ALLOWED_TYPES)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            raw_bucket=e["RAW_BUCKET"],
            raw_bucket_arn=e.get("RAW_BUCKET_ARN") or f"arn:aws:s3:::{e['RAW_BUCKET']}",
            processed_bucket=e["PROCESSED_BUCKET"],
            processed_bucket_arn=e.get("PROCESSED_BUCKET_ARN") or f"arn:aws:s3:::{e['PROCESSED_BUCKET']}",
            table=e["METADATA_TABLE"],
            table_arn=e["METADATA_TABLE_ARN"],
            writer_role_arn=e["WRITER_ROLE_ARN"],
            kms_key_arn=e["KMS_KEY_ARN"],
            dlq_url=e["DLQ_URL"],
            registry_table=e.get(TABLE_ENV, "").strip(),
            max_image_bytes=int(e.get("MAX_IMAGE_BYTES", str(MAX_IMAGE_BYTES))),
            max_pixels=int(e.get("MAX_PIXELS", str(MAX_PIXELS))),
            rendition_px=int(e.get("RENDITION_PX", "1024")),
            thumbnail_px=int(e.get("THUMBNAIL_PX", "256")),
            allowed_content_types=items(e.get("ALLOWED_CONTENT_TYPES", "")) or frozenset(ALLOWED_TYPES),
        )

    @property
    def known_tenants(self) -> RegistryTenants:
        """The tenants active in the registry (``tenant in cfg.known_tenants``; raises ``RegistryUnavailable``)."""
        return RegistryTenants(self.registry_table)

    @property
    def scope(self) -> SessionScope:
        return SessionScope(
            writer_role_arn=self.writer_role_arn,
            table_arn=self.table_arn,
            table_actions=WRITER_TABLE_ACTIONS,
            kms_key_arn=self.kms_key_arn,
            object_grants=(
                (self.raw_bucket_arn, "raw/*", ("s3:GetObject",)),
                (self.processed_bucket_arn, "processed/*", ("s3:PutObject", "s3:GetObject")),
            ),
            session_name="image-processor",
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The deploy-time settings, read once per execution environment."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def system_clients() -> tuple[Any, Any]:
    """The function role's own SQS (dead-letter queue only) and STS clients; created lazily (moto-friendly)."""
    return boto3.client("sqs"), boto3.client("sts")


def reset_clients() -> None:
    """Forget cached settings, clients and registry reads (tests)."""
    settings.cache_clear()
    system_clients.cache_clear()
    reset_registry()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# ------------------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class ObjectRef:
    """One raw object an S3 notification names, with the tenant and image id derived from its key."""

    bucket: str
    key: str
    tenant_id: str
    image_id: str
    version_id: str | None
    size: int | None


def parse_message(body: str, cfg: Settings) -> list[ObjectRef] | None:
    """An SQS body -> the raw objects it names; ``None`` for S3's ``s3:TestEvent`` (sent when the notification
    is configured). Raises :class:`Poison` for anything else."""
    try:
        doc = json.loads(body)
    except (TypeError, json.JSONDecodeError):
        raise Poison("malformed: message body is not JSON") from None
    if not isinstance(doc, dict):
        raise Poison("malformed: message body is not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return None
    records = doc.get("Records")
    if not isinstance(records, list) or not records:
        raise Poison("malformed: not an S3 event notification (no Records)")
    refs: list[ObjectRef] = []
    for r in records:
        if not isinstance(r, dict) or r.get("eventSource") != "aws:s3":
            raise Poison("malformed: record is not from aws:s3")
        if not str(r.get("eventName", "")).startswith("ObjectCreated:"):
            raise Poison(f"unexpected event {r.get('eventName')!r}: only ObjectCreated is processed")
        s3 = r.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        raw_key = obj.get("key")
        if not isinstance(raw_key, str) or not isinstance(bucket, str):
            raise Poison("malformed: S3 record has no bucket or key")
        key = unquote_plus(raw_key)  # S3 URL-encodes keys in notifications
        if bucket != cfg.raw_bucket:
            raise Poison(f"bucket {bucket!r} is not this pipeline's raw bucket", key=key)
        m = RAW_KEY_RE.fullmatch(key)
        if m is None or ".." in key:
            raise Poison(f"key {key!r} is not <tenant>/raw/<imageId>", key=key)
        if m["tenant"] not in cfg.known_tenants:
            raise Poison(f"unknown tenant {m['tenant']!r}: not in this environment's registry", m["tenant"], key)
        size = obj.get("size")
        refs.append(
            ObjectRef(
                bucket,
                key,
                m["tenant"],
                m["image"],
                obj.get("versionId") or None,
                int(size) if isinstance(size, int) else None,
            )
        )
    return refs


# ------------------------------------------------------------------------------------------------ renditions


def render(img: Image.Image, longest: int) -> bytes:
    """A WebP no larger than ``longest`` on its longest side (EXIF orientation applied; alpha kept)."""
    frame = ImageOps.exif_transpose(img.copy()) or img.copy()
    if frame.mode not in ("RGB", "RGBA"):
        frame = frame.convert("RGBA" if "A" in frame.getbands() or "transparency" in frame.info else "RGB")
    frame.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    frame.save(out, "WEBP", quality=82, method=4)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ processing

Status = Literal["processed", "duplicate", "dead-lettered", "retry", "ignored"]


@dataclass
class Outcome:
    """What happened to one SQS message (``reason`` for dead letters, ``keys`` the raw objects it named)."""

    status: Status
    reason: str = ""
    keys: list[str] = field(default_factory=list)


def _put_once(session: TenantSession, cfg: Settings, key: str, body: bytes, meta: Mapping[str, str]) -> bool:
    try:
        session.s3.put_object(
            Bucket=cfg.processed_bucket,
            Key=key,
            Body=body,
            ContentType="image/webp",
            Metadata=dict(meta),
            IfNoneMatch="*",
        )
        return True
    except ClientError as exc:
        if _code(exc) in ("PreconditionFailed", "412"):
            return False
        raise


def _row_key(ref: ObjectRef) -> dict[str, Any]:
    return {
        "TenantId": {"S": f"{TENANT_KEY_PREFIX}{ref.tenant_id}"},
        "EntityItem": {"S": f"{IMAGE_KEY_PREFIX}{ref.image_id}"},
    }


def _current_rank(session: TenantSession, cfg: Settings, ref: ObjectRef) -> int | None:
    item = session.dynamodb.get_item(TableName=cfg.table, Key=_row_key(ref), ConsistentRead=True).get("Item")
    if item is None:
        return None
    return int(item.get("StatusRank", {}).get("N", "1"))


def process_object(session: TenantSession, ref: ObjectRef, cfg: Settings, now: Callable[[], float]) -> Outcome:
    """One raw object -> renditions + row. Raises Poison / Retry / AWS errors."""
    if session.tenant_id != ref.tenant_id:  # routing invariant (isolation invariant 47): fail closed
        raise Poison(f"session of tenant {session.tenant_id!r} refused for {ref.key!r}", ref.tenant_id, ref.key)
    rank = _current_rank(session, cfg, ref)
    if rank is None:
        raise Retry(f"{ref.key}: metadata row not written yet")
    if rank >= PROCESSED_RANK:
        return Outcome("duplicate", keys=[ref.key])
    if ref.size is not None and ref.size > cfg.max_image_bytes:
        raise Poison(f"too large: object is {ref.size} bytes; limit {cfg.max_image_bytes}", ref.tenant_id, ref.key)
    try:
        get: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            get["VersionId"] = ref.version_id
        obj = session.s3.get_object(**get)
    except ClientError as exc:
        if _code(exc) in ("NoSuchKey", "NoSuchVersion", "404"):
            raise Poison(f"object {ref.key!r} no longer exists", ref.tenant_id, ref.key) from None
        raise
    owner_tenant = (obj.get("Metadata") or {}).get("tenant")
    if owner_tenant is not None and owner_tenant != ref.tenant_id:
        raise Poison(
            f"object metadata names tenant {owner_tenant!r}, key names {ref.tenant_id!r}", ref.tenant_id, ref.key
        )
    if int(obj.get("ContentLength", 0)) > cfg.max_image_bytes:
        obj["Body"].close()
        raise Poison(f"too large: object is {obj['ContentLength']} bytes", ref.tenant_id, ref.key)
    body = obj["Body"].read(cfg.max_image_bytes + 1)
    started = time.perf_counter()
    try:
        info = inspect_image(
            body,
            obj.get("ContentType") if obj.get("ContentType", "").startswith("image/") else None,
            max_bytes=cfg.max_image_bytes,
            max_pixels=cfg.max_pixels,
            allowed=tuple(sorted(cfg.allowed_content_types)),
        )
        img = decode(body, max_pixels=cfg.max_pixels)
    except ImageRejected as rej:
        raise Poison(rej.reason, ref.tenant_id, ref.key) from None
    with img:
        outputs = {"rendition": render(img, cfg.rendition_px), "thumbnail": render(img, cfg.thumbnail_px)}
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    sha = hashlib.sha256(body).hexdigest()
    prefix = f"{ref.tenant_id}/processed/{ref.image_id}"
    for name, data in outputs.items():
        _put_once(session, cfg, f"{prefix}/{name}.webp", data, {"tenant": ref.tenant_id, "source-sha256": sha})
    stamp = datetime.fromtimestamp(now(), UTC).isoformat()
    try:
        session.dynamodb.update_item(
            TableName=cfg.table,
            Key=_row_key(ref),
            UpdateExpression=(
                "SET #s = :s, StatusRank = :r, ProcessedAt = :t, Width = :w, Height = :h, Frames = :f, "
                "DetectedType = :ct, ProcessedSha256 = :sha, ProcessingMs = :ms, Renditions = :rend"
            ),
            ConditionExpression="attribute_exists(EntityItem) AND (attribute_not_exists(StatusRank) OR StatusRank < :r)",
            ExpressionAttributeNames={"#s": "Status"},
            ExpressionAttributeValues={
                ":s": {"S": "processed"},
                ":r": {"N": str(PROCESSED_RANK)},
                ":t": {"S": stamp},
                ":w": {"N": str(info.width)},
                ":h": {"N": str(info.height)},
                ":f": {"N": str(info.frames)},
                ":ct": {"S": info.content_type},
                ":sha": {"S": sha},
                ":ms": {"N": str(elapsed_ms)},
                ":rend": {
                    "M": {
                        name: {
                            "M": {
                                "Bucket": {"S": cfg.processed_bucket},
                                "Key": {"S": f"{prefix}/{name}.webp"},
                                "SizeBytes": {"N": str(len(data))},
                            }
                        }
                        for name, data in outputs.items()
                    }
                },
            },
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
        rank = _current_rank(session, cfg, ref)
        if rank is None:
            raise Retry(f"{ref.key}: metadata row disappeared") from None
        return Outcome("duplicate", keys=[ref.key])
    return Outcome("processed", keys=[ref.key])


def mark_rejected(session: TenantSession, ref_key: str, tenant: str, reason: str, *, cfg: Settings, now: float) -> None:
    """Best effort: record the rejection on the row, never over ``processed`` and never creating a row."""
    m = RAW_KEY_RE.fullmatch(ref_key)
    if m is None or session.tenant_id != tenant:
        return
    try:
        session.dynamodb.update_item(
            TableName=cfg.table,
            Key={
                "TenantId": {"S": f"{TENANT_KEY_PREFIX}{tenant}"},
                "EntityItem": {"S": f"{IMAGE_KEY_PREFIX}{m['image']}"},
            },
            UpdateExpression="SET #s = :s, StatusRank = :r, RejectedAt = :t, RejectReason = :why",
            ConditionExpression="attribute_exists(EntityItem) AND (attribute_not_exists(StatusRank) OR StatusRank < :r)",
            ExpressionAttributeNames={"#s": "Status"},
            ExpressionAttributeValues={
                ":s": {"S": "rejected"},
                ":r": {"N": str(REJECTED_RANK)},
                ":t": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
                ":why": {"S": reason[:1000]},
            },
        )
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise


def dead_letter(sqs: Any, cfg: Settings, record: Mapping[str, Any], poison: Poison, now: float) -> None:
    """Send the original message to the DLQ with the reason (body and attributes)."""
    body = {
        "reason": poison.reason,
        "tenant": poison.tenant,
        "key": poison.key,
        "messageId": record.get("messageId"),
        "originalBody": record.get("body"),
        "deadLetteredAt": datetime.fromtimestamp(now, UTC).isoformat(),
    }
    attributes = {"reason": {"DataType": "String", "StringValue": poison.reason[:1000] or "-"}}
    for name, value in (("tenant", poison.tenant), ("key", poison.key)):
        if value:
            attributes[name] = {"DataType": "String", "StringValue": value[:1000]}
    sqs.send_message(QueueUrl=cfg.dlq_url, MessageBody=json.dumps(body), MessageAttributes=attributes)


def process_message(
    record: Mapping[str, Any],
    cfg: Settings,
    sessions: TenantSessions,
    sqs: Any,
    now: Callable[[], float] = time.time,
) -> Outcome:
    """One SQS message. Returns processed/duplicate/dead-lettered/ignored; raises Retry for transient errors."""
    try:
        refs = parse_message(str(record.get("body", "")), cfg)
        if refs is None:
            return Outcome("ignored", "s3:TestEvent")
        outcomes: list[Outcome] = []
        for ref in refs:
            try:
                session = sessions.get(ref.tenant_id)
            except UnknownTenant:
                raise Poison(f"unknown tenant {ref.tenant_id!r}", ref.tenant_id, ref.key) from None
            outcomes.append(process_object(session, ref, cfg, now))
        status: Status = "processed" if any(o.status == "processed" for o in outcomes) else "duplicate"
        return Outcome(status, keys=[k for o in outcomes for k in o.keys])
    except Poison as poison:
        try:
            if poison.tenant in cfg.known_tenants and poison.key:
                mark_rejected(sessions.get(poison.tenant), poison.key, poison.tenant, poison.reason, cfg=cfg, now=now())
            dead_letter(sqs, cfg, record, poison, now())
        except (ClientError, BotoCoreError, RegistryError) as exc:
            raise Retry(f"dead-letter write failed: {exc}") from None
        return Outcome("dead-lettered", poison.reason, [poison.key] if poison.key else [])
    except (ClientError, BotoCoreError) as exc:
        raise Retry(f"transient: {exc}") from None
    except RegistryError as exc:  # cannot tell whether the tenant is active: retry, never process (fail closed)
        raise Retry(f"tenant registry: {exc}") from None


# ------------------------------------------------------------------------------------------------ adapter

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS event -> ``{"batchItemFailures": [...]}`` for the messages to retry."""
    cfg = settings()
    sqs, sts = system_clients()
    sessions = TenantSessions(cfg.scope, cfg.known_tenants, sts)
    counts: dict[str, int] = {}

    def handle(record: SQSRecord) -> None:
        try:
            outcome = process_message(record.raw_event, cfg, sessions, sqs)
        except Retry as exc:
            counts["retry"] = counts.get("retry", 0) + 1
            logger.warning("message retried", extra={"messageId": record.message_id, "reason": str(exc)})
            raise
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.status == "dead-lettered":
            logger.warning("message dead-lettered", extra={"messageId": record.message_id, "reason": outcome.reason})

    result = dict(process_partial_response(event=event, record_handler=handle, processor=processor, context=context))
    metrics.add_dimension(name="function_name", value=context.function_name)
    for status, metric in (
        ("processed", "ImagesProcessed"),
        ("duplicate", "ImagesDuplicate"),
        ("dead-lettered", "ImagesDeadLettered"),
        ("retry", "ImagesRetried"),
    ):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts.get(status, 0))
    return result
