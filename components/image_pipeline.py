"""``ImagePipeline``: the web-API upload leg and the processing leg of the image pipeline (the image-pipeline design).

* **Upload** - a ``HandlerFunction`` running ``handlers/image_upload.py``, served as ``POST /v1/images`` by the
  platform's ``TenantApi`` (same authorizer, Cedar action ``UploadImage``; see ``TenantApi``'s
  ``image_upload``). Its role may only assume the *upload writer* role, whose tag-keyed policy allows
  ``GetItem``/``PutItem`` on ``TENANT#${aws:PrincipalTag/TenantId}`` rows and ``PutObject``/``GetObject`` under
  ``<raw bucket>/${aws:PrincipalTag/TenantId}/raw/*``.
* **Processing** - S3 ``ObjectCreated`` notifications of the raw bucket go to an SQS queue encrypted with a
  dedicated KMS key (whose key policy lets ``s3.amazonaws.com`` use it: an S3 notification into a KMS queue
  needs ``kms:GenerateDataKey`` and ``kms:Decrypt`` for the S3 service), with a queue policy that admits S3 only
  for this bucket (``aws:SourceArn``) and account (``aws:SourceAccount``), and TLS only; a dead-letter queue
  (redrive after ``max_receive_count``; the handler also sends poison messages there itself, with the reason);
  an SQS event source mapping with ``ReportBatchItemFailures`` into ``handlers/image_processor.py``, whose role
  holds the queue actions, ``SendMessage`` on the DLQ and ``AssumeRole`` on the *processor writer* role (raw
  ``GetObject`` and processed ``PutObject``/``GetObject`` under the tenant's prefixes, ``GetItem``/``UpdateItem``
  on the tenant's rows).
* Retention: renditions go to the processed bucket (an ephemeral ``LifecycleBucket`` with the same expiration);
  the rows keep the ``ExpiresAt`` the writer set; both queues keep messages at most ``retention_days`` (SQS caps
  at 14 days).
* Alarms: processor/upload ``Errors``, DLQ depth > 0, age of the oldest queued message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import TENANT, DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import assume_tenant_writer_statement
from saas_platform.components.lambda_function import HandlerFunction, HandlerFunctionArgs, LayerLike, check_layers
from saas_platform.components.lifecycle_bucket import depends_on_of
from saas_platform.components.msk_consumer import writer_trust_policy
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    ENVIRONMENTS,
    IAM_ROLE_NAME_MAX,
    LOG_RETENTION_DAYS,
    TENANT_ID_RE,
    Environment,
    env_suffix,
    tags,
)
from saas_platform.components.pool_table import TENANT_KEY_PREFIX
from saas_platform.components.registry import (
    REGISTRY_TABLE_ENV,
    registry_key_statement,
    registry_read_paths,
    registry_read_statement,
)
from saas_platform.handlers._tenant_session import SessionScope, session_policy

TENANT_TAG: Final = "TenantId"
UPLOAD_HANDLER: Final = "saas_platform.handlers.image_upload.lambda_handler"
PROCESSOR_HANDLER: Final = "saas_platform.handlers.image_processor.lambda_handler"
IMAGE_CONTENT_TYPES: Final = ("image/gif", "image/jpeg", "image/png", "image/webp")
"""Also the REST API's binary media types for the upload route."""
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
INLINE_MAX_BYTES: Final = 4 * 1024 * 1024
"""API Gateway REST accepts 10 MB, but a Lambda proxy integration carries the body base64-encoded inside Lambda's
6 MB synchronous payload: ~4.5 MiB of image at most. Larger images use the presigned POST (docs/pipeline.md)."""
SQS_MAX_RETENTION_SECONDS: Final = 1_209_600
UPLOAD_WRITER_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem")
PROCESSOR_WRITER_TABLE_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:UpdateItem")
QUEUE_CONSUMER_ACTIONS: Final = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


def _tenant() -> str:
    return f"${{aws:PrincipalTag/{TENANT_TAG}}}"


def queue_key_policy(account_id: str) -> dict[str, Any]:
    """The event queues' key: the account administers it through IAM; S3 may encrypt notifications with it.

    AWS documents exactly ``kms:GenerateDataKey`` and ``kms:Decrypt`` for ``s3.amazonaws.com`` on the queue's key
    (S3 checks the destination by sending a test event). The key encrypts only these two queues, so the grant
    cannot reach any other data; the queue policy is where S3 is narrowed to one bucket and account.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "S3EncryptsEventNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
            },
        ],
    }


def queue_policy(queue_arn: str, raw_bucket_arn: str, account_id: str) -> dict[str, Any]:
    """Only S3, only for the raw bucket of this account, may send; nothing without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3RawBucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": raw_bucket_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
            {
                "Sid": "DenyWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def _s3_key_statement(region: str, account_id: str, kms_key_alias: str) -> dict[str, Any]:
    return {
        "Sid": "BucketKeyThroughS3",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": f"arn:aws:kms:{region}:{account_id}:key/*",
        "Condition": {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": kms_key_alias},
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
        },
    }


def _table_statement(table_arn: str, actions: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": "ImageMetadataOwnTenantOnly",
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": table_arn,
        "Condition": {
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{_tenant()}"]},
            "Null": {"dynamodb:LeadingKeys": "false"},
        },
    }


def upload_writer_policy(
    *, table_arn: str, raw_bucket_arn: str, kms_key_alias: str, account_id: str, region: str
) -> dict[str, Any]:
    """The upload writer role, keyed on the session's ``TenantId`` tag (pure)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _table_statement(table_arn, UPLOAD_WRITER_TABLE_ACTIONS),
            {
                "Sid": "RawImagesOwnTenantOnly",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"{raw_bucket_arn}/{_tenant()}/raw/*",
            },
            _s3_key_statement(region, account_id, kms_key_alias),
        ],
    }


def processor_writer_policy(
    *,
    table_arn: str,
    raw_bucket_arn: str,
    processed_bucket_arn: str,
    kms_key_alias: str,
    account_id: str,
    region: str,
) -> dict[str, Any]:
    """The processor writer role: read the tenant's raw images, write its renditions and rows (pure)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _table_statement(table_arn, PROCESSOR_WRITER_TABLE_ACTIONS),
            {
                "Sid": "RawImagesOwnTenantOnly",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{raw_bucket_arn}/{_tenant()}/raw/*",
            },
            {
                "Sid": "ProcessedImagesOwnTenantOnly",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"{processed_bucket_arn}/{_tenant()}/processed/*",
            },
            _s3_key_statement(region, account_id, kms_key_alias),
        ],
    }


def assume_writer_statement(writer_role_arn: Any) -> dict[str, Any]:
    """The function may assume its writer only with exactly one ``TenantId`` tag (no tenant list: constant size).

    Which tenants are valid is the tenant registry's call, checked by the handler before every session
    (``handlers._tenant_session.RegistryTenants``); the session tag plus the session policy confine the session
    (:func:`saas_platform.components.iam.assume_tenant_writer_statement`)."""
    return assume_tenant_writer_statement(writer_role_arn)


def registry_statements(
    *, registry_table_arn: Any, region: str, account_id: Any, kms_key_alias: str
) -> list[dict[str, Any]]:
    """What a pipeline function needs to check a tenant in the registry: ``GetItem``/``Query`` and the key."""
    return [
        registry_read_statement(registry_table_arn),
        registry_key_statement(region=region, account_id=account_id, kms_key_alias=kms_key_alias),
    ]


def processor_statements(
    *,
    queue_arn: Any,
    dlq_arn: Any,
    queue_key_alias: str,
    region: str,
    account_id: Any,
    writer_role_arn: Any,
    registry_table_arn: Any,
    kms_key_alias: str,
) -> list[dict[str, Any]]:
    """The processor's execution role beyond logs/X-Ray (pure with strings; Outputs resolve in json_dumps)."""
    keys = (
        f"arn:aws:kms:{region}:{account_id}:key/*"
        if isinstance(account_id, str)
        else pulumi.Output.concat("arn:aws:kms:", region, ":", account_id, ":key/*")
    )
    return [
        {"Sid": "ConsumeImageEvents", "Effect": "Allow", "Action": list(QUEUE_CONSUMER_ACTIONS), "Resource": queue_arn},
        {"Sid": "DeadLetterPoison", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arn},
        {
            "Sid": "QueueKeyThroughSqs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": keys,
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": queue_key_alias},
                "StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"},
            },
        },
        assume_writer_statement(writer_role_arn),
        *registry_statements(
            registry_table_arn=registry_table_arn, region=region, account_id=account_id, kms_key_alias=kms_key_alias
        ),
    ]


def session_template(scope: SessionScope) -> dict[str, Any]:
    """The handler's session policy with ``{tenant}`` left in (the inventory substitutes each tenant)."""
    return session_policy(TENANT, scope)


def pipeline_paths(
    *,
    processor_role_arn: pulumi.Input[str],
    processor_writer_arn: pulumi.Input[str],
    upload_role_arn: pulumi.Input[str] | None,
    upload_writer_arn: pulumi.Input[str] | None,
    queue_arn: pulumi.Input[str],
    dlq_arn: pulumi.Input[str],
    queue_key_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    raw_bucket_arn: pulumi.Input[str],
    processed_bucket_arn: pulumi.Input[str],
    metadata_table_arn: pulumi.Input[str],
    tenant_ids: Sequence[str],
    region: str,
) -> list[DataPath]:
    """The runtime calls of the processor (and the event source mapping, which uses its role), the upload function
    and both tenant writer sessions (docs/access.md, "Data paths")."""
    tls = datapaths.secure_transport()
    tag = f"aws:PrincipalTag/{TENANT_TAG}"
    tenants = tuple(tenant_ids)
    sqs_key = {"kms:ViaService": f"sqs.{region}.amazonaws.com"}

    def scope_of(writer: pulumi.Input[str], grants: Any, actions: tuple[str, ...], name: str) -> Any:
        return pulumi.Output.all(writer, metadata_table_arn, kms_key_arn, grants).apply(
            lambda v: session_template(
                SessionScope(
                    writer_role_arn=v[0],
                    table_arn=v[1],
                    table_actions=actions,
                    kms_key_arn=v[2],
                    object_grants=tuple((g[0], g[1], tuple(g[2])) for g in v[3]),
                    session_name=name,
                )
            )
        )

    def writer_paths(prefix: str, writer: pulumi.Input[str], policy: Any, table_actions: tuple[str, ...],
                     objects: list[tuple[str, tuple[str, ...], pulumi.Input[str], str]]) -> list[DataPath]:  # fmt: skip
        common: dict[str, Any] = {
            "principal": writer,
            "principal_type": "role",
            "session": {tag: TENANT},
            "session_policy": policy,
            "tenants": tenants,
        }
        out = [
            DataPath(
                name=f"{prefix}/metadata",
                actions=table_actions,
                resource=metadata_table_arn,
                context={"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{TENANT}"]},
                guards=("dynamodb:LeadingKeys", tag),
                description="the writer session reads and writes the tenant's image rows",
                **common,
            )
        ]
        for name, actions, bucket_arn, key in objects:
            out.append(
                DataPath(
                    name=f"{prefix}/{name}",
                    actions=actions,
                    resource=pulumi.Output.concat(bucket_arn, f"/{TENANT}/{key}"),
                    context=tls,
                    guards=(tag,),
                    description=f"the writer session's {name} objects (no SSE header: default encryption)",
                    **common,
                )
            )
            out.append(
                DataPath(
                    name=f"{prefix}/{name}-key",
                    actions=("kms:GenerateDataKey", "kms:Decrypt") if "s3:PutObject" in actions else ("kms:Decrypt",),
                    resource=kms_key_arn,
                    context=datapaths.s3_kms_context(region, bucket_arn),
                    guards=("kms:ViaService",),
                    description=f"S3 uses the {name} bucket's key for the writer session",
                    **common,
                )
            )
        return out

    processor: dict[str, Any] = {"principal": processor_role_arn, "principal_type": "role"}
    paths = [
        DataPath(
            name="processor/receive",
            actions=QUEUE_CONSUMER_ACTIONS,
            resource=queue_arn,
            context=tls,
            description="the event source mapping polls the image event queue",
            **processor,
        ),
        DataPath(
            name="processor/queue-key",
            actions=("kms:Decrypt",),
            resource=queue_key_arn,
            context=sqs_key,
            guards=("kms:ViaService",),
            description="SQS decrypts received messages with the queue key for the mapping",
            **processor,
        ),
        DataPath(
            name="processor/dead-letter",
            actions=("sqs:SendMessage",),
            resource=dlq_arn,
            context=tls,
            description="the handler dead-letters poison messages with the reason",
            **processor,
        ),
        DataPath(
            name="processor/dead-letter-key",
            actions=("kms:GenerateDataKey", "kms:Decrypt"),
            resource=queue_key_arn,
            context=sqs_key,
            guards=("kms:ViaService",),
            description="SQS encrypts dead letters with the queue key for the handler",
            **processor,
        ),
    ]
    if not tenants:  # every tenant lives in a cell stack: the writer sessions are declared there
        return paths
    paths.append(
        DataPath(
            name="processor/assume-writer",
            actions=("sts:AssumeRole", "sts:TagSession"),
            resource=processor_writer_arn,
            context={f"aws:RequestTag/{TENANT_TAG}": TENANT, "aws:TagKeys": [TENANT_TAG]},
            tenants=tenants,
            tenant_bound=False,
            registry_checked=True,
            guards=(f"aws:RequestTag/{TENANT_TAG}",),
            description="the processor assumes its writer for the (registry-checked) tenant an object key names",
            **processor,
        )
    )
    processor_grants = pulumi.Output.all(raw_bucket_arn, processed_bucket_arn).apply(
        lambda v: [(v[0], "raw/*", ["s3:GetObject"]), (v[1], "processed/*", ["s3:PutObject", "s3:GetObject"])]
    )
    paths += writer_paths(
        "processor-writer",
        processor_writer_arn,
        scope_of(processor_writer_arn, processor_grants, PROCESSOR_WRITER_TABLE_ACTIONS, "image-processor"),
        PROCESSOR_WRITER_TABLE_ACTIONS,
        [
            ("raw", ("s3:GetObject",), raw_bucket_arn, "raw/img-0001"),
            ("processed", ("s3:PutObject", "s3:GetObject"), processed_bucket_arn, "processed/img-0001/thumbnail.webp"),
        ],
    )
    if upload_role_arn is not None and upload_writer_arn is not None:
        paths.append(
            DataPath(
                name="upload/assume-writer",
                principal=upload_role_arn,
                principal_type="role",
                actions=("sts:AssumeRole", "sts:TagSession"),
                resource=upload_writer_arn,
                context={f"aws:RequestTag/{TENANT_TAG}": TENANT, "aws:TagKeys": [TENANT_TAG]},
                tenants=tenants,
                tenant_bound=False,
                registry_checked=True,
                guards=(f"aws:RequestTag/{TENANT_TAG}",),
                description="the upload function assumes its writer for the caller's tenant (authorizer context)",
            )
        )
        upload_grants = pulumi.Output.from_input(raw_bucket_arn).apply(
            lambda b: [(b, "raw/*", ["s3:PutObject", "s3:GetObject"])]
        )
        paths += writer_paths(
            "upload-writer",
            upload_writer_arn,
            scope_of(upload_writer_arn, upload_grants, UPLOAD_WRITER_TABLE_ACTIONS, "image-upload"),
            UPLOAD_WRITER_TABLE_ACTIONS,
            [("raw", ("s3:PutObject", "s3:GetObject"), raw_bucket_arn, "raw/img-0001")],
        )
    return paths


@dataclass(frozen=True, kw_only=True)
class ImagePipelineArgs:
    """Arguments of :class:`ImagePipeline`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        region / account_id: the stack's region and account (ARNs built from known parts, known at preview).
        registry_table_name / registry_table_arn: the tenant registry (``TenantRegistry``): both functions check
            the tenant there before every writer session (``SAAS_REGISTRY_TABLE``) and refuse unknown, suspended
            and offboarded tenants (fail closed when it cannot be read).
        tenant_ids: Default ``()``. The tenants of this stack, for the data-path inventory only; no IAM document or
            environment variable holds them (a platform stack whose tenants all live in cells passes none).
        kms_key_arn / kms_key_alias: the environment key (bucket keys, function env vars, logs).
        raw_bucket_name / raw_bucket_arn: where both ingestion legs store images (``<tenant>/raw/<imageId>``).
        processed_bucket_name / processed_bucket_arn: renditions (``<tenant>/processed/<imageId>/...``).
        metadata_table_name / metadata_table_arn: the ``ImageMetadata`` pool table.
        retention_days: the rows' TTL (upload) and the queues' message retention (capped at 14 days).
        upload: Default ``True``: create the upload function and its writer (serve it through ``TenantApi``).
        max_receive_count: Default 5: deliveries before SQS moves a message to the DLQ (1-1000).
        batch_size: Default 5 (1-10). max_concurrency: Default 10 (2-1000) concurrent processor invocations.
        processor_memory_mb: Default 2048 (see docs/pipeline.md, sized from benchmarks/image_pipeline.py).
        processor_timeout: Default 60 s; the queue's visibility timeout is six times that (AWS's guidance).
        upload_memory_mb: Default 1024. max_pixels: Default 40,000,000. rendition_px / thumbnail_px: 1024 / 256.
        layers: the environment's ``HandlerLayer`` (or a ``LayerRef``): the handlers import Pillow, Powertools and
            pydantic-free helpers; checked before anything is registered.
        alarm_topic_arn: SNS topic for the alarms; ``None`` creates none.
    """

    environment: Environment
    region: str
    account_id: pulumi.Input[str]
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    kms_key_alias: str
    raw_bucket_name: pulumi.Input[str]
    raw_bucket_arn: pulumi.Input[str]
    processed_bucket_name: pulumi.Input[str]
    processed_bucket_arn: pulumi.Input[str]
    metadata_table_name: pulumi.Input[str]
    metadata_table_arn: pulumi.Input[str]
    retention_days: int
    tenant_ids: tuple[str, ...] = ()
    name_prefix: str = DEFAULT_NAME_PREFIX
    upload: bool = True
    max_receive_count: int = 5
    batch_size: int = 5
    max_concurrency: int = 10
    processor_memory_mb: int = 2048
    processor_timeout: int = 60
    upload_memory_mb: int = 1024
    max_pixels: int = 40_000_000
    rendition_px: int = 1024
    thumbnail_px: int = 256
    layers: Sequence[LayerLike] = ()
    alarm_topic_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 90
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        bad = [t for t in self.tenant_ids if not TENANT_ID_RE.fullmatch(t)]
        if bad:
            raise ComponentArgError(f"tenant_ids must match {TENANT_ID_RE.pattern!r}; got {bad}")
        if not self.kms_key_alias.startswith("alias/"):
            raise ComponentArgError(f"kms_key_alias must start with 'alias/'; got {self.kms_key_alias!r}")
        bounds = {
            "retention_days": (self.retention_days, 1, 3650),
            "max_receive_count": (self.max_receive_count, 1, 1000),
            "batch_size": (self.batch_size, 1, 10),
            "max_concurrency": (self.max_concurrency, 2, 1000),
            "processor_memory_mb": (self.processor_memory_mb, 128, 10240),
            "upload_memory_mb": (self.upload_memory_mb, 128, 10240),
            "processor_timeout": (self.processor_timeout, 1, 900),
            "max_pixels": (self.max_pixels, 1, 200_000_000),
            "rendition_px": (self.rendition_px, 16, 8192),
            "thumbnail_px": (self.thumbnail_px, 16, 2048),
        }
        for key, (value, low, high) in bounds.items():
            if not low <= value <= high:
                raise ComponentArgError(f"{key} must be {low}-{high}; got {value}")
        if self.thumbnail_px >= self.rendition_px:
            raise ComponentArgError(
                f"thumbnail_px ({self.thumbnail_px}) must be smaller than rendition_px ({self.rendition_px})"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )
        check_layers("ImagePipelineArgs", [PROCESSOR_HANDLER, *([UPLOAD_HANDLER] if self.upload else [])], self.layers)
        for role in (self.upload_writer_role_name, self.processor_writer_role_name):
            if len(role) > IAM_ROLE_NAME_MAX:
                raise ComponentArgError(
                    f"role name {role!r} is {len(role)} characters; AWS allows {IAM_ROLE_NAME_MAX}. Shorten name_prefix."
                )

    @property
    def suffix(self) -> str:
        return env_suffix(self.environment)

    @property
    def upload_function_name(self) -> str:
        return f"{self.name_prefix}-ImageUpload-{self.suffix}"

    @property
    def processor_function_name(self) -> str:
        return f"{self.name_prefix}-ImageProcessor-{self.suffix}"

    @property
    def upload_writer_role_name(self) -> str:
        return f"{self.name_prefix}-ImageUploadWriter-{self.suffix}"

    @property
    def processor_writer_role_name(self) -> str:
        return f"{self.name_prefix}-ImageProcessorWriter-{self.suffix}"

    @property
    def queue_name(self) -> str:
        return f"{self.name_prefix}-ImageEvents-{self.suffix}"

    @property
    def dlq_name(self) -> str:
        return f"{self.name_prefix}-ImageEvents-DLQ-{self.suffix}"

    @property
    def queue_key_alias(self) -> str:
        return f"alias/{self.name_prefix}-{self.environment}-image-events".lower()

    @property
    def message_retention_seconds(self) -> int:
        return min(self.retention_days * 86_400, SQS_MAX_RETENTION_SECONDS)


class ImagePipeline(pulumi.ComponentResource):
    """Upload function + writer, S3 -> SQS (KMS, DLQ, redrive) -> processor function + writer, alarms.

    Example::

        pipeline = ImagePipeline("platform-images", ImagePipelineArgs(environment="dev", region="ap-southeast-1",
            account_id=account, registry_table_name=registry.table_name, registry_table_arn=registry.table_arn,
            kms_key_arn=key.arn, kms_key_alias="alias/x-dev",
            raw_bucket_name=raw.bucket_name, raw_bucket_arn=raw.bucket_arn,
            processed_bucket_name=processed.bucket_name, processed_bucket_arn=processed.bucket_arn,
            metadata_table_name=table.table_name, metadata_table_arn=table.table_arn, retention_days=7))

    Documentation:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/ways-to-add-notification-config-to-bucket.html
        https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
        https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
        https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    """

    upload_function_name: pulumi.Output[str] | None
    upload_function_name_plain: str | None
    """The upload function's physical name as a plain string (``TenantApi`` names its permission with it)."""
    upload_function_arn: pulumi.Output[str] | None
    upload_role_arn: pulumi.Output[str] | None
    upload_writer_role_arn: pulumi.Output[str] | None
    processor_function_name: pulumi.Output[str]
    processor_role_arn: pulumi.Output[str]
    processor_writer_role_arn: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    queue_key_arn: pulumi.Output[str]
    data_paths: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, args: ImagePipelineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:pipeline:ImagePipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        waits_for = depends_on_of(opts)
        resource_tags = tags(args.environment, "ImagePipeline", extra=args.extra_tags)
        account = pulumi.Output.from_input(args.account_id)

        def role_arn(role_name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:aws:iam::", args.account_id, ":role/", role_name)

        def queue_arn_of(queue_name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:aws:sqs:", args.region, ":", args.account_id, ":", queue_name)

        # ---- the event queues and their key
        queue_key = aws.kms.Key(
            f"{name}-queue-key",
            description=f"{args.name_prefix} {args.suffix}: image event queues (S3 notifications, dead letters)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(account.apply(queue_key_policy)),
            tags=resource_tags,
            opts=child,
        )
        key_alias = aws.kms.Alias(
            f"{name}-queue-key-alias", name=args.queue_key_alias, target_key_id=queue_key.key_id, opts=child
        )
        dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=args.dlq_name,
            kms_master_key_id=queue_key.arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=args.message_retention_seconds,
            tags=resource_tags,
            opts=child,
        )
        queue_arn = queue_arn_of(args.queue_name)
        queue = aws.sqs.Queue(
            f"{name}-queue",
            name=args.queue_name,
            kms_master_key_id=queue_key.arn,
            kms_data_key_reuse_period_seconds=300,
            visibility_timeout_seconds=6 * args.processor_timeout,
            message_retention_seconds=args.message_retention_seconds,
            receive_wait_time_seconds=20,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": args.max_receive_count}
            ),
            tags=resource_tags,
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]}
            ),
            opts=child,
        )
        policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(
                pulumi.Output.all(queue_arn, args.raw_bucket_arn, account).apply(
                    lambda v: queue_policy(v[0], v[1], v[2])
                )
            ),
            opts=child,
        )
        notification = aws.s3.BucketNotification(
            f"{name}-raw-notification",
            bucket=args.raw_bucket_name,
            queues=[aws.s3.BucketNotificationQueueArgs(queue_arn=queue_arn, events=["s3:ObjectCreated:*"])],
            # S3 validates the destination by sending a test event: the queue policy and key must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue, policy, queue_key, key_alias, *waits_for]),
        )

        # ---- processor
        processor_writer_arn = role_arn(args.processor_writer_role_name)
        processor = HandlerFunction(
            f"{name}-processor",
            HandlerFunctionArgs(
                function_name=args.processor_function_name,
                handler=PROCESSOR_HANDLER,
                environment=args.environment,
                component="ImagePipeline",
                kms_key_arn=args.kms_key_arn,
                description="Raw image -> rendition + thumbnail + metadata (the image-pipeline design)",
                env={
                    "RAW_BUCKET": args.raw_bucket_name,
                    "RAW_BUCKET_ARN": args.raw_bucket_arn,
                    "PROCESSED_BUCKET": args.processed_bucket_name,
                    "PROCESSED_BUCKET_ARN": args.processed_bucket_arn,
                    "METADATA_TABLE": args.metadata_table_name,
                    "METADATA_TABLE_ARN": args.metadata_table_arn,
                    "WRITER_ROLE_ARN": processor_writer_arn,
                    "KMS_KEY_ARN": args.kms_key_arn,
                    "DLQ_URL": dlq.url,
                    REGISTRY_TABLE_ENV: args.registry_table_name,
                    "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
                    "MAX_PIXELS": str(args.max_pixels),
                    "RENDITION_PX": str(args.rendition_px),
                    "THUMBNAIL_PX": str(args.thumbnail_px),
                    "ALLOWED_CONTENT_TYPES": ",".join(IMAGE_CONTENT_TYPES),
                },
                statements=processor_statements(
                    queue_arn=queue_arn,
                    dlq_arn=queue_arn_of(args.dlq_name),
                    queue_key_alias=args.queue_key_alias,
                    region=args.region,
                    account_id=args.account_id,
                    writer_role_arn=processor_writer_arn,
                    registry_table_arn=args.registry_table_arn,
                    kms_key_alias=args.kms_key_alias,
                ),
                layers=args.layers,
                memory_size=args.processor_memory_mb,
                timeout=args.processor_timeout,
                log_retention_days=args.log_retention_days,
                extra_tags=args.extra_tags,
            ),
            opts=child,
        )
        processor_writer = self._writer(
            f"{name}-processor-writer",
            args.processor_writer_role_name,
            trusted_role_arn=processor.role_arn,
            policy=pulumi.Output.all(
                args.metadata_table_arn, args.raw_bucket_arn, args.processed_bucket_arn, account
            ).apply(
                lambda v: processor_writer_policy(
                    table_arn=v[0],
                    raw_bucket_arn=v[1],
                    processed_bucket_arn=v[2],
                    kms_key_alias=args.kms_key_alias,
                    account_id=v[3],
                    region=args.region,
                )
            ),
            description=f"Tenant-scoped writer of {args.processor_function_name}: assumed per image tenant with a TenantId tag",
            resource_tags=resource_tags,
        )
        aws.lambda_.EventSourceMapping(
            f"{name}-processor-mapping",
            event_source_arn=queue_arn,  # built from known parts: the pack's mapping rules run at the first preview
            function_name=processor.function_arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=1,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=args.max_concurrency),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[processor, queue]),
        )

        # ---- upload
        self.upload_function_name = self.upload_function_arn = None
        self.upload_function_name_plain = None
        self.upload_role_arn = self.upload_writer_role_arn = None
        upload_fn: HandlerFunction | None = None
        if args.upload:
            upload_writer_arn = role_arn(args.upload_writer_role_name)
            upload_fn = HandlerFunction(
                f"{name}-upload",
                HandlerFunctionArgs(
                    function_name=args.upload_function_name,
                    handler=UPLOAD_HANDLER,
                    environment=args.environment,
                    component="ImagePipeline",
                    kms_key_arn=args.kms_key_arn,
                    description="POST /v1/images: validate by content, store raw image + metadata (idempotent)",
                    env={
                        "RAW_BUCKET": args.raw_bucket_name,
                        "RAW_BUCKET_ARN": args.raw_bucket_arn,
                        "METADATA_TABLE": args.metadata_table_name,
                        "METADATA_TABLE_ARN": args.metadata_table_arn,
                        "WRITER_ROLE_ARN": upload_writer_arn,
                        "KMS_KEY_ARN": args.kms_key_arn,
                        REGISTRY_TABLE_ENV: args.registry_table_name,
                        "RETENTION_DAYS": str(args.retention_days),
                        "MAX_IMAGE_BYTES": str(MAX_IMAGE_BYTES),
                        "INLINE_MAX_BYTES": str(INLINE_MAX_BYTES),
                        "MAX_PIXELS": str(args.max_pixels),
                        "ALLOWED_CONTENT_TYPES": ",".join(IMAGE_CONTENT_TYPES),
                    },
                    statements=[
                        assume_writer_statement(upload_writer_arn),
                        *registry_statements(
                            registry_table_arn=args.registry_table_arn,
                            region=args.region,
                            account_id=args.account_id,
                            kms_key_alias=args.kms_key_alias,
                        ),
                    ],
                    layers=args.layers,
                    memory_size=args.upload_memory_mb,
                    timeout=29,  # API Gateway's integration timeout
                    log_retention_days=args.log_retention_days,
                    extra_tags=args.extra_tags,
                ),
                opts=child,
            )
            upload_writer = self._writer(
                f"{name}-upload-writer",
                args.upload_writer_role_name,
                trusted_role_arn=upload_fn.role_arn,
                policy=pulumi.Output.all(args.metadata_table_arn, args.raw_bucket_arn, account).apply(
                    lambda v: upload_writer_policy(
                        table_arn=v[0],
                        raw_bucket_arn=v[1],
                        kms_key_alias=args.kms_key_alias,
                        account_id=v[2],
                        region=args.region,
                    )
                ),
                description=f"Tenant-scoped writer of {args.upload_function_name}: assumed per request with a TenantId tag",
                resource_tags=resource_tags,
            )
            self.upload_function_name = upload_fn.function_name
            self.upload_function_name_plain = args.upload_function_name
            self.upload_function_arn = upload_fn.function_arn
            self.upload_role_arn = upload_fn.role_arn
            self.upload_writer_role_arn = upload_writer.arn

        # ---- alarms
        if args.alarm_topic_arn is not None:
            alarms: list[tuple[str, str, str, dict[str, pulumi.Input[str]], float, str]] = [
                (
                    "processor-errors",
                    "AWS/Lambda",
                    "Errors",
                    {"FunctionName": processor.function_name},
                    0,
                    "processor function errors",
                ),
                (
                    "dlq-depth",
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": dlq.name},
                    0,
                    "images in the dead-letter queue",
                ),
                (
                    "queue-age",
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    {"QueueName": queue.name},
                    900,
                    "image events waiting over 15 minutes",
                ),
            ]
            if upload_fn is not None:
                alarms.append(
                    (
                        "upload-errors",
                        "AWS/Lambda",
                        "Errors",
                        {"FunctionName": upload_fn.function_name},
                        0,
                        "upload errors",
                    )
                )
            for suffix, namespace, metric, dimensions, threshold, what in alarms:
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{suffix}",
                    alarm_description=f"{args.name_prefix} {args.suffix}: {what}",
                    namespace=namespace,
                    metric_name=metric,
                    dimensions=dimensions,
                    statistic="Maximum" if namespace == "AWS/SQS" else "Sum",
                    period=300,
                    evaluation_periods=1,
                    threshold=threshold,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.alarm_topic_arn],
                    ok_actions=[args.alarm_topic_arn],
                    tags=resource_tags,
                    opts=child,
                )

        self.processor_function_name = processor.function_name
        self.processor_role_arn = processor.role_arn
        self.processor_writer_role_arn = processor_writer.arn
        self.queue_arn, self.queue_url = queue.arn, queue.url
        self.dlq_arn, self.dlq_url = dlq.arn, dlq.url
        self.queue_key_arn = queue_key.arn
        self._notification = notification
        readers = [("processor", processor.role_arn)] + (
            [("upload", self.upload_role_arn)] if self.upload_role_arn is not None else []
        )
        registry_paths = [
            path
            for label, role in readers
            for path in registry_read_paths(
                principal=role,
                table_arn=args.registry_table_arn,
                kms_key_arn=args.kms_key_arn,
                region=args.region,
                label=label,
            )
        ]
        self.data_paths = datapaths.declare(
            registry_paths
            + pipeline_paths(
                processor_role_arn=processor.role_arn,
                processor_writer_arn=processor_writer.arn,
                upload_role_arn=self.upload_role_arn,
                upload_writer_arn=self.upload_writer_role_arn,
                queue_arn=queue.arn,
                dlq_arn=dlq.arn,
                queue_key_arn=queue_key.arn,
                kms_key_arn=args.kms_key_arn,
                raw_bucket_arn=args.raw_bucket_arn,
                processed_bucket_arn=args.processed_bucket_arn,
                metadata_table_arn=args.metadata_table_arn,
                tenant_ids=args.tenant_ids,
                region=args.region,
            )
        )
        self.register_outputs(
            {
                datapaths.OUTPUT_KEY: self.data_paths,
                "processor_function_name": self.processor_function_name,
                "queue_url": self.queue_url,
                "dlq_url": self.dlq_url,
                "upload_function_name": self.upload_function_name,
            }
        )

    def _writer(
        self,
        logical: str,
        role_name: str,
        *,
        trusted_role_arn: pulumi.Output[str],
        policy: pulumi.Output[dict[str, Any]],
        description: str,
        resource_tags: dict[str, str],
    ) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{logical}-role",
            name=role_name,
            description=description[:1000],
            assume_role_policy=pulumi.Output.json_dumps(trusted_role_arn.apply(writer_trust_policy)),
            max_session_duration=3600,
            tags=resource_tags,
            opts=child,
        )
        aws.iam.RolePolicy(f"{logical}-policy", role=role.id, policy=pulumi.Output.json_dumps(policy), opts=child)
        return role


def binary_media_types() -> list[str]:
    """The REST API's binary media types for the upload route (the body reaches Lambda base64-encoded)."""
    return list(IMAGE_CONTENT_TYPES)


__all__ = [
    "IMAGE_CONTENT_TYPES",
    "INLINE_MAX_BYTES",
    "ImagePipeline",
    "ImagePipelineArgs",
    "binary_media_types",
]
