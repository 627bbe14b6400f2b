"""``POST /v1/images`` of the tenant API: validate an image by content, store it under the tenant's raw prefix,
write its metadata row idempotently, answer with the image id (the image-pipeline design, web-API leg).

The request has already passed the API's REQUEST authorizer (a verified Cognito ID token and the Cedar action
``UploadImage`` of the tenant's policy store). The tenant and the caller come **only** from the authorizer's
context (``requestContext.authorizer.tenantId`` / ``principalId``), never from the request.

Two ways in, one limit each (docs/pipeline.md, "Upload API"):

* **inline** - the body is the image (``Content-Type: image/png|jpeg|gif|webp``; the API lists these as binary
  media types, so Lambda receives it base64-encoded). Lambda's synchronous payload limit is 6 MB and base64 adds
  a third, so inline images are limited to ``INLINE_MAX_BYTES`` (4 MiB) although API Gateway accepts 10 MB;
  bigger inline bodies get 413 naming the other way. Validated here (``_image_checks.inspect_image``: magic bytes,
  structure, SVG/markup/polyglot refusal, dimensions without decoding), then stored.
* **presigned** - ``Content-Type: application/json`` with ``{"contentType": "image/png", "sizeBytes": N}``,
  N <= 10 MB: the answer carries a presigned POST for exactly ``<tenant>/raw/<imageId>``, signed by the tenant
  session (so it can only ever write there), limited by the form's own ``content-length-range`` and
  ``Content-Type`` conditions and valid for 5 minutes. The processor validates the bytes with the same checks
  before decoding anything; a bad upload ends in its dead-letter queue with the reason.

Idempotency: the client sends ``Idempotency-Key`` (8-128 of ``[A-Za-z0-9_-]``). The image id is derived from
(tenant, caller, key), the object is written with ``If-None-Match: *`` and the row with
``attribute_not_exists(EntityItem)``: a retried request never stores twice and answers the same id (200); the
same key with different bytes is 409. Transient AWS errors answer 503 (retry with the same key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from saas_platform.handlers._image_checks import (
    ALLOWED_TYPES,
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    ImageInfo,
    ImageRejected,
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
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "ImageUpload"),
)

INLINE_MAX_BYTES: Final = 4 * 1024 * 1024
"""Lambda's 6 MB synchronous payload holds at most ~4.5 MiB once base64 (4/3) and the event envelope are added."""
IDEMPOTENCY_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{8,128}")
TENANT_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,30}")
PRESIGN_SECONDS: Final = 300
WRITER_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem")
STATUS_RANK: Final = {"awaiting-upload": 0, "stored": 1, "rejected": 2, "processed": 3}
"""Metadata ``Status`` and its rank: writers only ever raise the rank (conditional writes), so a replay never
regresses a row."""


@dataclass(frozen=True)
class Settings:
    """Deploy-time configuration (environment variables written by ``ImageUpload``)."""

    raw_bucket: str
    raw_bucket_arn: str
    table: str
    table_arn: str
    writer_role_arn: str
    kms_key_arn: str
    registry_table: str
    """The tenant registry table (``SAAS_REGISTRY_TABLE``): which tenants exist and are active."""
    retention_days: int
    max_image_bytes: int = MAX_IMAGE_BYTES
    inline_max_bytes: int = INLINE_MAX_BYTES
    max_pixels: int = MAX_PIXELS
    allowed_content_types: frozenset[str] = frozenset(ALLOWED_TYPES)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            raw_bucket=e["RAW_BUCKET"],
            raw_bucket_arn=e.get("RAW_BUCKET_ARN") or f"arn:aws:s3:::{e['RAW_BUCKET']}",
            table=e["METADATA_TABLE"],
            table_arn=e["METADATA_TABLE_ARN"],
            writer_role_arn=e["WRITER_ROLE_ARN"],
            kms_key_arn=e["KMS_KEY_ARN"],
            registry_table=e.get(TABLE_ENV, "").strip(),
            retention_days=int(e["RETENTION_DAYS"]),
            max_image_bytes=int(e.get("MAX_IMAGE_BYTES", str(MAX_IMAGE_BYTES))),
            inline_max_bytes=int(e.get("INLINE_MAX_BYTES", str(INLINE_MAX_BYTES))),
            max_pixels=int(e.get("MAX_PIXELS", str(MAX_PIXELS))),
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
            object_grants=((self.raw_bucket_arn, "raw/*", ("s3:PutObject", "s3:GetObject")),),
            session_name="image-upload",
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The deploy-time settings, read once per execution environment."""
    return Settings.from_env()


@lru_cache(maxsize=1)
def sts_client() -> Any:
    """The function role's STS client (the only AWS client it uses directly); created lazily (moto-friendly)."""
    return boto3.client("sts")


def reset_clients() -> None:
    """Forget cached settings, clients and registry reads (tests)."""
    settings.cache_clear()
    sts_client.cache_clear()
    reset_registry()


class HttpError(Exception):
    """An HTTP answer other than success; ``message`` is safe to show the client."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


def response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Lambda-proxy response with a JSON body (never cached)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _header(event: APIGatewayProxyEvent, name: str) -> str | None:
    headers = event.headers or {}
    values = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == name.lower()]
    if len(set(values)) > 1:
        raise HttpError(400, f"more than one {name} header")
    return values[0] if values else None


@dataclass(frozen=True)
class Caller:
    """The verified tenant and Cognito ``sub`` of the request (from the authorizer context only)."""

    tenant_id: str
    sub: str


def caller_of(event: APIGatewayProxyEvent, cfg: Settings) -> Caller:
    """Tenant and caller from the authorizer context (the authorizer set them from the verified token)."""
    ctx = (event.request_context.authorizer.raw_event if event.request_context.authorizer else None) or {}
    tenant = ctx.get("tenantId")
    principal = ctx.get("principalId")
    if not isinstance(tenant, str) or not TENANT_RE.fullmatch(tenant) or tenant not in cfg.known_tenants:
        raise HttpError(403, "Forbidden")
    if not isinstance(principal, str) or "|" not in principal or not principal.rsplit("|", 1)[1]:
        raise HttpError(403, "Forbidden")
    return Caller(tenant, principal.rsplit("|", 1)[1])


def image_id_for(caller: Caller, idempotency_key: str) -> str:
    """Deterministic per (tenant, caller, key): a retry maps to the same id; two callers never collide."""
    digest = hashlib.sha256(f"{caller.tenant_id}\n{caller.sub}\n{idempotency_key}".encode()).hexdigest()
    return f"img-{digest[:32]}"


def object_key(tenant_id: str, image_id: str) -> str:
    """``acme/raw/<imageId>`` - the raw-bucket key of an image."""
    return f"{tenant_id}/raw/{image_id}"


def _row(
    caller: Caller, image_id: str, key: str, *, cfg: Settings, now: float, status: str, **extra: dict[str, str]
) -> dict[str, Any]:
    return {
        "TenantId": {"S": f"{TENANT_KEY_PREFIX}{caller.tenant_id}"},
        "EntityItem": {"S": f"{IMAGE_KEY_PREFIX}{image_id}"},
        "ImageId": {"S": image_id},
        "Owner": {"S": caller.sub},
        "IdempotencyKey": {"S": key},
        "Bucket": {"S": cfg.raw_bucket},
        "ObjectKey": {"S": object_key(caller.tenant_id, image_id)},
        "Source": {"S": "api"},
        "Status": {"S": status},
        "StatusRank": {"N": str(STATUS_RANK[status])},
        "StoredAt": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
        "ExpiresAt": {"N": str(int(now) + cfg.retention_days * 86_400)},
        **extra,
    }


def _put_row_once(session: TenantSession, cfg: Settings, row: dict[str, Any], sha: str | None) -> dict[str, Any]:
    """Conditional put; on a replay return the existing row (same content) or raise 409."""
    try:
        session.dynamodb.put_item(TableName=cfg.table, Item=row, ConditionExpression="attribute_not_exists(EntityItem)")
        return row
    except ClientError as exc:
        if _code(exc) != "ConditionalCheckFailedException":
            raise
    existing = session.dynamodb.get_item(
        TableName=cfg.table,
        Key={"TenantId": row["TenantId"], "EntityItem": row["EntityItem"]},
        ConsistentRead=True,
    ).get("Item")
    if existing is None:
        raise HttpError(503, "metadata write raced; retry with the same Idempotency-Key", {"Retry-After": "1"})
    if existing.get("ContentSha256", {}).get("S") != sha:
        raise HttpError(409, "Idempotency-Key already used for a different image")
    return existing


def store_inline(
    session: TenantSession, caller: Caller, key: str, body: bytes, info: ImageInfo, *, cfg: Settings, now: float
) -> tuple[int, dict[str, Any]]:
    """Store an inline image once: object (``If-None-Match``) then row (``attribute_not_exists``); a replay with
    the same bytes answers 200 with the same id, other bytes 409."""
    image_id = image_id_for(caller, key)
    sha = hashlib.sha256(body).hexdigest()
    obj_key = object_key(caller.tenant_id, image_id)
    try:
        session.s3.put_object(
            Bucket=cfg.raw_bucket,
            Key=obj_key,
            Body=body,
            ContentType=info.content_type,
            Metadata={"sha256": sha, "tenant": caller.tenant_id, "owner": caller.sub, "source": "api"},
            IfNoneMatch="*",
        )
        created = True
    except ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "412"):
            raise
        head = session.s3.head_object(Bucket=cfg.raw_bucket, Key=obj_key)
        if head.get("Metadata", {}).get("sha256") != sha:
            raise HttpError(409, "Idempotency-Key already used for a different image") from None
        created = False
    row = _row(
        caller,
        image_id,
        key,
        cfg=cfg,
        now=now,
        status="stored",
        ContentType={"S": info.content_type},
        SizeBytes={"N": str(info.size_bytes)},
        Width={"N": str(info.width)},
        Height={"N": str(info.height)},
        ContentSha256={"S": sha},
    )
    stored = _put_row_once(session, cfg, row, sha)
    replay = stored is not row or not created
    return (200 if replay else 201), {"imageId": image_id, "status": stored["Status"]["S"], "replayed": replay}


def presign(
    session: TenantSession, caller: Caller, key: str, request: Mapping[str, Any], *, cfg: Settings, now: float
) -> tuple[int, dict[str, Any]]:
    """Write the ``awaiting-upload`` row once and answer a presigned POST bound to the tenant's key, the size
    limit and the declared content type (signed by the tenant session, valid ``PRESIGN_SECONDS``)."""
    ctype, size = request.get("contentType"), request.get("sizeBytes")
    if ctype not in cfg.allowed_content_types:
        raise HttpError(415, f"contentType must be one of {sorted(cfg.allowed_content_types)}")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= cfg.max_image_bytes:
        raise HttpError(
            413 if isinstance(size, int) and size > 0 else 400, f"sizeBytes must be 1-{cfg.max_image_bytes}"
        )
    image_id = image_id_for(caller, key)
    obj_key = object_key(caller.tenant_id, image_id)
    marker = hashlib.sha256(f"presign\n{ctype}".encode()).hexdigest()
    row = _row(caller, image_id, key, cfg=cfg, now=now, status="awaiting-upload", ContentType={"S": ctype})
    row["ContentSha256"] = {"S": marker}  # a presigned request is idempotent on (key, content type)
    stored = _put_row_once(session, cfg, row, marker)
    fields = {"Content-Type": ctype, "x-amz-meta-tenant": caller.tenant_id, "x-amz-meta-owner": caller.sub}
    post = session.s3.generate_presigned_post(
        Bucket=cfg.raw_bucket,
        Key=obj_key,
        Fields=fields,
        Conditions=[
            {"Content-Type": ctype},
            {"x-amz-meta-tenant": caller.tenant_id},
            {"x-amz-meta-owner": caller.sub},
            ["content-length-range", 1, cfg.max_image_bytes],
        ],
        ExpiresIn=PRESIGN_SECONDS,
    )
    replay = stored is not row
    body = {"imageId": image_id, "status": stored["Status"]["S"], "replayed": replay}
    if stored["Status"]["S"] == "awaiting-upload":
        body["upload"] = {"url": post["url"], "fields": post["fields"], "expiresIn": PRESIGN_SECONDS}
    return (200 if replay else 201), body


def handle(
    event: APIGatewayProxyEvent, cfg: Settings, sts: Any, now: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The decision core: every outcome is an HTTP answer; nothing is stored unless every check passed."""
    try:
        if event.http_method != "POST":
            raise HttpError(405, "use POST")
        caller = caller_of(event, cfg)
        key = _header(event, "Idempotency-Key")
        if key is None or not IDEMPOTENCY_KEY_RE.fullmatch(key):
            raise HttpError(400, "Idempotency-Key header required: 8-128 characters of [A-Za-z0-9_-]")
        ctype = (_header(event, "Content-Type") or "").split(";")[0].strip().lower()
        raw = event.body or ""
        if ctype == "application/json":
            if len(raw) > 4096:
                raise HttpError(413, "presign request too large")
            try:
                request = json.loads(base64.b64decode(raw) if event.is_base64_encoded else raw)
            except (ValueError, binascii.Error):
                raise HttpError(400, "body is not JSON") from None
            if not isinstance(request, dict) or set(request) - {"contentType", "sizeBytes"}:
                raise HttpError(400, 'body must be {"contentType": ..., "sizeBytes": ...}')
            session = TenantSessions(cfg.scope, cfg.known_tenants, sts).get(caller.tenant_id)
            status, body = presign(session, caller, key, request, cfg=cfg, now=now())
            return response(status, body)
        if ctype not in cfg.allowed_content_types and ctype != "application/octet-stream":
            raise HttpError(415, f"Content-Type must be one of {sorted(cfg.allowed_content_types)} or application/json")
        if not event.is_base64_encoded:
            raise HttpError(415, "image bodies must arrive as binary (the API's binary media types)")
        limit = min(cfg.inline_max_bytes, cfg.max_image_bytes)
        if len(raw) > (limit + 2) // 3 * 4 + 4:
            raise HttpError(413, f"inline images are limited to {limit} bytes; request a presigned upload")
        try:
            body_bytes = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "body is not valid base64") from None
        try:
            info = inspect_image(
                body_bytes,
                None if ctype == "application/octet-stream" else ctype,
                max_bytes=limit,
                max_pixels=cfg.max_pixels,
                allowed=tuple(sorted(cfg.allowed_content_types)),
            )
        except ImageRejected as rej:
            status = (
                413
                if rej.reason.startswith("too large")
                else 415
                if rej.reason.startswith(("wrong type", "content mismatch"))
                else 422
            )
            raise HttpError(status, rej.reason) from None
        session = TenantSessions(cfg.scope, cfg.known_tenants, sts).get(caller.tenant_id)
        if session.tenant_id != caller.tenant_id:  # routing invariant: fail closed
            raise HttpError(500, "internal error")
        status, body = store_inline(session, caller, key, body_bytes, info, cfg=cfg, now=now())
        return response(status, body)
    except HttpError as err:
        return response(err.status, {"message": err.message}, err.headers)
    except UnknownTenant:
        return response(403, {"message": "Forbidden"})
    except RegistryError as exc:  # the registry cannot say the tenant is active: refuse, retryable
        logger.warning("tenant registry unavailable", extra={"error": str(exc)})
        return response(
            503, {"message": "temporarily unavailable; retry with the same Idempotency-Key"}, {"Retry-After": "2"}
        )
    except (ClientError, BotoCoreError) as exc:
        logger.warning("transient AWS error", extra={"error": type(exc).__name__})
        return response(
            503, {"message": "temporarily unavailable; retry with the same Idempotency-Key"}, {"Retry-After": "2"}
        )


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway REST (Lambda proxy) event -> proxy response."""
    answer = handle(APIGatewayProxyEvent(event), settings(), sts_client())
    metrics.add_dimension(name="function_name", value=context.function_name)
    ok = answer["statusCode"] in (200, 201)
    metrics.add_metric(name="UploadsAccepted" if ok else "UploadsRefused", unit=MetricUnit.Count, value=1)
    if not ok:
        logger.info("upload refused", extra={"status": answer["statusCode"], "reason": json.loads(answer["body"])})
    return answer
