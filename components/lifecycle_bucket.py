"""``LifecycleBucket``: an S3 bucket whose data provably goes away (the image-pipeline design, isolation section E).

One bucket plus its separate configuration resources (pulumi-aws 7: ``s3.Bucket`` with ``BucketVersioning``,
``BucketServerSideEncryptionConfiguration``, ``BucketLifecycleConfiguration``, ``BucketLogging``, ...; none of
the deprecated inline arguments or ``*V2`` types):

* versioning (default on), SSE-KMS with the environment key and an S3 Bucket Key;
* all four Block Public Access settings, ``BucketOwnerEnforced`` (ACLs disabled);
* a bucket policy that denies non-TLS requests and TLS older than 1.2, and object writes that ask for another
  key or algorithm than the bucket's;
* server access logs to the environment's access-log bucket;
* exactly one lifecycle configuration, built from typed arguments.

Data classes (tag ``saas:data-class``) decide what the lifecycle must contain and what the policy pack checks:

``ephemeral``
    Tenant data with a retention promise (raw/processed images, Kafka failure records). Every object expires
    ``expiration_days`` after creation; noncurrent versions ``noncurrent_days`` after they become noncurrent;
    expired delete markers are removed; incomplete multipart uploads are aborted.
``durable``
    Kept until deleted (tenant documents). No current-version expiration; noncurrent versions, delete markers
    and incomplete uploads are still cleaned up.
``access-logs``
    The target of S3 server access logging. S3 delivers access logs only to a bucket whose default encryption
    is SSE-S3 (SSE-KMS default encryption is not supported for the target bucket), so this class - and only
    this class - uses ``AES256``; it is not itself logged (a bucket logging to itself loops) and its bucket
    policy lets ``logging.s3.amazonaws.com`` of this account write under the log prefix.

Worst-case lifetime of an ephemeral object (:func:`worst_case_lifetime_days`): S3 adds the rule's days to the
object's creation time and rounds *up to the next midnight UTC*. With versioning, expiring the current version
creates a delete marker and makes the data a noncurrent version, whose own clock (``noncurrent_days``) starts
then and is rounded up again. So data is eligible for removal at most
``expiration_days + 1 + noncurrent_days + 1`` days after it was written (7-day retention, 1 noncurrent day:
**10 days**); S3 then removes it asynchronously (billing stops at eligibility; removal usually follows within a
day). Without versioning the bound is ``expiration_days + 1``. Incomplete multipart uploads are aborted at most
``abort_multipart_days + 1`` days after initiation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, RETENTION_PROMISE_DAYS, Environment, tags

DataClass = Literal["ephemeral", "durable", "access-logs"]
ObjectLockMode = Literal["COMPLIANCE", "GOVERNANCE"]
OBJECT_LOCK_MODES: Final[tuple[ObjectLockMode, ...]] = ("COMPLIANCE", "GOVERNANCE")
RESERVED_SIDS: Final = frozenset(
    {"DenyInsecureTransport", "DenyTlsOlderThan12", "DenyOtherEncryptionAlgorithms", "S3ServerAccessLogDelivery"}
)
DATA_CLASSES: Final[tuple[DataClass, ...]] = ("ephemeral", "durable", "access-logs")
TAG_DATA_CLASS: Final = "saas:data-class"
TAG_RETENTION_DAYS: Final = "saas:retention-days"
BUCKET_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PURPOSE_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,30}")
RULE_ID_RE: Final = re.compile(r"[A-Za-z0-9-]{1,64}")
ACCESS_LOG_ROOT: Final = "s3-access-logs/"
"""Prefix under which the access-log bucket receives logs (``s3-access-logs/<purpose>/``)."""
LOG_DELIVERY_SERVICE: Final = "logging.s3.amazonaws.com"
SSE_HEADER: Final = "s3:x-amz-server-side-encryption"
SSE_KEY_HEADER: Final = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def worst_case_lifetime_days(expiration_days: int, noncurrent_days: int | None, *, versioned: bool) -> int:
    """Days after an object is written by which every copy of it is eligible for removal.

    Each lifecycle clock is rounded up to the next midnight UTC (up to +1 day): once for the current version's
    expiration and, in a versioned bucket, once more for the noncurrent version it leaves behind. S3's
    asynchronous removal after eligibility comes on top (not bounded by S3; typically under a day).
    """
    if not versioned:
        return expiration_days + 1
    if noncurrent_days is None:
        raise ValueError("a versioned bucket needs noncurrent_days for its data to ever go away")
    return expiration_days + 1 + noncurrent_days + 1


@dataclass(frozen=True, kw_only=True)
class ExpirationRule:
    """An additional, *shorter* expiration for part of the bucket, selected by key prefix and/or object tags.

    The whole-bucket expiration of an ephemeral bucket always applies as well; these rules can only make
    matching objects go sooner (e.g. ``ExpirationRule(id="tmp", days=1, prefix="tmp/")``).
    """

    id: str
    days: int
    prefix: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not RULE_ID_RE.fullmatch(self.id):
            raise ComponentArgError(f"ExpirationRule.id must be 1-64 characters of [A-Za-z0-9-]; got {self.id!r}")
        if self.days < 1:
            raise ComponentArgError(f"ExpirationRule {self.id!r}: days must be >= 1; got {self.days}")
        if not self.prefix and not self.tags:
            raise ComponentArgError(
                f"ExpirationRule {self.id!r} has no prefix and no tags; a whole-bucket expiration is "
                "LifecycleBucketArgs.expiration_days"
            )


@dataclass(frozen=True, kw_only=True)
class LifecycleBucketArgs:
    """Arguments of :class:`LifecycleBucket`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        purpose: short kebab-case name (``raw-images``): tags, log prefix, lifecycle descriptions.
        data_class: ``ephemeral`` | ``durable`` | ``access-logs`` (see the module doc). Tagged as
            ``saas:data-class``; the policy pack checks the lifecycle against it.
        bucket_name: physical name (globally unique, 3-63 chars); ``None`` lets Pulumi auto-name it. Pass a
            name built from known values (account, region) so the bucket policy is known at preview.
        kms_key_arn: the environment's customer-managed key. Required unless ``data_class='access-logs'``
            (which must use SSE-S3, see the module doc).
        access_log_bucket: name of the access-log bucket that receives this bucket's server access logs.
            Required unless ``data_class='access-logs'``.
        expiration_days: days after creation current objects expire. Required for ``ephemeral`` (the stack's
            ``saas:retentionDays``) and ``access-logs``; not allowed for ``durable``.
        versioning: Default ``True``. Versions protect against overwrites and deletes within the retention.
        noncurrent_days: Default 1. Days a noncurrent version lives (only with versioning).
        newer_noncurrent_versions: Default ``None``. Keep this many newest noncurrent versions past
            ``noncurrent_days`` (only for ``durable``; ephemeral data must not outlive its promise).
        abort_multipart_days: Default 1. Incomplete multipart uploads are aborted after this many days (1-7).
        extra_expirations: shorter, filtered expirations (:class:`ExpirationRule`).
        retention_promise_days: Default ``RETENTION_PROMISE_DAYS`` (7). An ephemeral ``expiration_days`` above it
            is refused; raise it only together with the pack's ``maxRetentionDays`` (``s3-lifecycle-covers-data``).
        account_id: the account whose S3 server access logs may be delivered (``access-logs`` only; required
            there, it becomes the ``aws:SourceAccount`` condition of the delivery statement).
        protect: Default ``True``. Pulumi ``protect`` + ``retain_on_delete`` on the bucket.
        force_destroy: Default ``False``. Let ``pulumi destroy`` delete a non-empty bucket (dev only).
        object_lock_days: Default ``None`` (no Object Lock). Days every new object version is locked against
            deletion and overwrite (S3 Object Lock default retention, 1-36500). Needs ``versioning=True``; S3 can
            only enable Object Lock when the bucket is created, so turning it on replaces the bucket.
        object_lock_mode: Default ``"COMPLIANCE"``: no one, the root user included, can shorten the retention or
            delete a locked version. ``"GOVERNANCE"`` lets principals with ``s3:BypassGovernanceRetention`` do
            so (for dev stacks that must be torn down).
        extra_policy_statements: statements appended to the bucket policy (e.g. a service's delivery grant).
            May be an Output (e.g. built from the account id). Each needs its own ``Sid``; the TLS and
            encryption denies always stay first.
        sse_s3_key_patterns: Default ``()``. Key patterns (``*`` wildcards) that an AWS service can only write
            with SSE-S3, exempt from the SSE-KMS-only write deny (CloudTrail digest files:
            ``AWSLogs/*/CloudTrail-Digest/*``). Default encryption stays SSE-KMS for everything else.
        key_writer_source_arns: Default ``()``. ``aws:SourceArn`` values of AWS services that name their own KMS key
            on upload and are allowed to (a CloudTrail trail configured with its key sends
            ``x-amz-server-side-encryption-aws-kms-key-id``); every other explicit key id stays refused.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    purpose: str
    data_class: DataClass
    bucket_name: pulumi.Input[str] | None = None
    kms_key_arn: pulumi.Input[str] | None = None
    access_log_bucket: pulumi.Input[str] | None = None
    expiration_days: int | None = None
    versioning: bool = True
    noncurrent_days: int = 1
    newer_noncurrent_versions: int | None = None
    abort_multipart_days: int = 1
    extra_expirations: tuple[ExpirationRule, ...] = ()
    retention_promise_days: int = RETENTION_PROMISE_DAYS
    account_id: pulumi.Input[str] | None = None
    protect: bool = True
    force_destroy: bool = False
    object_lock_days: int | None = None
    object_lock_mode: ObjectLockMode = "COMPLIANCE"
    extra_policy_statements: pulumi.Input[Sequence[Mapping[str, Any]]] = ()
    sse_s3_key_patterns: tuple[str, ...] = ()
    key_writer_source_arns: pulumi.Input[Sequence[str]] = ()
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not PURPOSE_RE.fullmatch(self.purpose):
            raise ComponentArgError(
                f"purpose must be kebab-case, 2-31 chars of [a-z0-9-] starting with a letter; got {self.purpose!r}"
            )
        if self.data_class not in DATA_CLASSES:
            raise ComponentArgError(f"data_class must be one of {DATA_CLASSES}; got {self.data_class!r}")
        if isinstance(self.bucket_name, str) and (
            not BUCKET_NAME_RE.fullmatch(self.bucket_name) or ".." in self.bucket_name
        ):
            raise ComponentArgError(
                f"bucket_name must be 3-63 lowercase letters, digits, '.' or '-'; got {self.bucket_name!r} "
                f"({len(self.bucket_name)} characters)"
            )
        logs = self.data_class == "access-logs"
        if not logs and self.kms_key_arn is None:
            raise ComponentArgError(
                f"{self.purpose}: kms_key_arn is required for data_class={self.data_class!r} (SSE-KMS with the "
                "environment key); only the access-log bucket uses SSE-S3"
            )
        if logs and self.kms_key_arn is not None:
            raise ComponentArgError(
                f"{self.purpose}: an access-log bucket cannot use SSE-KMS (S3 server access log delivery supports "
                "only SSE-S3 on the target bucket); drop kms_key_arn"
            )
        if not logs and self.access_log_bucket is None:
            raise ComponentArgError(
                f"{self.purpose}: access_log_bucket is required; pass the environment's access-log bucket name"
            )
        if logs and self.access_log_bucket is not None:
            raise ComponentArgError(f"{self.purpose}: an access-log bucket must not log to a bucket itself")
        if logs and self.account_id is None:
            raise ComponentArgError(f"{self.purpose}: account_id is required for the access-log delivery statement")
        if self.data_class in ("ephemeral", "access-logs") and self.expiration_days is None:
            raise ComponentArgError(
                f"{self.purpose}: data_class={self.data_class!r} needs expiration_days (e.g. saas:retentionDays)"
            )
        if self.data_class == "durable" and self.expiration_days is not None:
            raise ComponentArgError(
                f"{self.purpose}: durable buckets keep current objects; drop expiration_days={self.expiration_days} "
                "or use data_class='ephemeral'"
            )
        if self.expiration_days is not None and not 1 <= self.expiration_days <= 3650:
            raise ComponentArgError(f"{self.purpose}: expiration_days must be 1-3650; got {self.expiration_days}")
        if (
            self.data_class == "ephemeral"
            and self.expiration_days is not None
            and self.expiration_days > self.retention_promise_days
        ):
            raise ComponentArgError(
                f"{self.purpose}: ephemeral data must expire within the {self.retention_promise_days}-day retention "
                f"promise; got expiration_days={self.expiration_days}. The policy pack's s3-lifecycle-covers-data "
                "rule enforces the same bound: to promise longer, raise its maxRetentionDays config and pass the "
                "same retention_promise_days here, or use data_class='durable' for data without a promise"
            )
        if not 1 <= self.noncurrent_days <= 3650:
            raise ComponentArgError(f"{self.purpose}: noncurrent_days must be 1-3650; got {self.noncurrent_days}")
        if self.newer_noncurrent_versions is not None:
            if self.data_class != "durable":
                raise ComponentArgError(
                    f"{self.purpose}: newer_noncurrent_versions keeps versions past noncurrent_days; only durable "
                    "buckets may use it"
                )
            if not 1 <= self.newer_noncurrent_versions <= 100:
                raise ComponentArgError(
                    f"{self.purpose}: newer_noncurrent_versions must be 1-100; got {self.newer_noncurrent_versions}"
                )
        if not 1 <= self.abort_multipart_days <= 7:
            raise ComponentArgError(
                f"{self.purpose}: abort_multipart_days must be 1-7 (isolation invariant 40); "
                f"got {self.abort_multipart_days}"
            )
        if self.object_lock_days is not None:
            if not self.versioning:
                raise ComponentArgError(
                    f"{self.purpose}: object_lock_days needs versioning=True (S3 Object Lock works on versions)"
                )
            if not 1 <= self.object_lock_days <= 36500:
                raise ComponentArgError(
                    f"{self.purpose}: object_lock_days must be 1-36500; got {self.object_lock_days}"
                )
            if self.data_class == "ephemeral" and self.expiration_days is not None:
                lifetime = worst_case_lifetime_days(self.expiration_days, self.noncurrent_days, versioned=True)
                if self.object_lock_days > lifetime:
                    raise ComponentArgError(
                        f"{self.purpose}: object_lock_days={self.object_lock_days} keeps ephemeral data past its "
                        f"{lifetime}-day worst-case lifetime; lock at most that long or use data_class='durable'"
                    )
        if self.object_lock_mode not in OBJECT_LOCK_MODES:
            raise ComponentArgError(
                f"{self.purpose}: object_lock_mode must be one of {OBJECT_LOCK_MODES}; got {self.object_lock_mode!r}"
            )
        if isinstance(self.extra_policy_statements, list | tuple):  # an Output is checked when it resolves
            check_extra_statements(self.purpose, self.extra_policy_statements)
        if self.sse_s3_key_patterns and self.kms_key_arn is None:
            raise ComponentArgError(f"{self.purpose}: sse_s3_key_patterns only applies to SSE-KMS buckets")
        for pattern in self.sse_s3_key_patterns:
            if not pattern or pattern.startswith("/") or pattern == "*":
                raise ComponentArgError(
                    f"{self.purpose}: sse_s3_key_patterns entries are key patterns below the bucket such as "
                    f"'AWSLogs/*/CloudTrail-Digest/*', never the whole bucket; got {pattern!r}"
                )
        ids = [r.id for r in self.extra_expirations]
        if len(set(ids)) != len(ids):
            raise ComponentArgError(f"{self.purpose}: extra_expirations ids must be unique; got {ids}")
        for rule in self.extra_expirations:
            if self.expiration_days is not None and rule.days >= self.expiration_days:
                raise ComponentArgError(
                    f"{self.purpose}: ExpirationRule {rule.id!r} days={rule.days} is not shorter than the whole-bucket "
                    f"expiration_days={self.expiration_days}; it would have no effect"
                )

    @property
    def worst_case_lifetime_days(self) -> int | None:
        """Upper bound of days until every copy of an object is eligible for removal; ``None`` for durable."""
        if self.expiration_days is None:
            return None
        return worst_case_lifetime_days(
            self.expiration_days, self.noncurrent_days if self.versioning else None, versioned=self.versioning
        )


def lifecycle_rules(args: LifecycleBucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """The bucket's lifecycle rules (pure; one configuration holds them all, isolation invariant 40).

    Whole-bucket rules use an empty ``filter`` (matches every key, whatever the tenant-first layout is).
    """
    everything = aws.s3.BucketLifecycleConfigurationRuleFilterArgs()
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgs] = []
    if args.expiration_days is not None:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id=f"expire-current-after-{args.expiration_days}-days",
                status="Enabled",
                filter=everything,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expiration_days),
            )
        )
    if args.versioning:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id=f"expire-noncurrent-after-{args.noncurrent_days}-days",
                status="Enabled",
                filter=everything,
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_days,
                    newer_noncurrent_versions=args.newer_noncurrent_versions,
                ),
            )
        )
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="remove-expired-delete-markers",
                status="Enabled",
                filter=everything,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
            )
        )
    rules.append(
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id=f"abort-multipart-after-{args.abort_multipart_days}-days",
            status="Enabled",
            filter=everything,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=args.abort_multipart_days
            ),
        )
    )
    for extra in args.extra_expirations:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id=extra.id,
                status="Enabled",
                filter=_filter(extra),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=extra.days),
            )
        )
    return rules


def _filter(rule: ExpirationRule) -> aws.s3.BucketLifecycleConfigurationRuleFilterArgs:
    if rule.prefix and not rule.tags:
        return aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule.prefix)
    if len(rule.tags) == 1 and not rule.prefix:
        ((key, value),) = rule.tags.items()
        return aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
            tag=aws.s3.BucketLifecycleConfigurationRuleFilterTagArgs(key=key, value=value)
        )
    return aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
        and_=aws.s3.BucketLifecycleConfigurationRuleFilterAndArgs(prefix=rule.prefix or None, tags=dict(rule.tags))
    )


def bucket_policy(
    bucket_name: str,
    *,
    kms: bool = False,
    log_delivery_account: str | None = None,
    sse_s3_key_patterns: Sequence[str] = (),
    key_writer_source_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """The bucket policy (pure): deny non-TLS and TLS < 1.2 on the bucket and its objects (invariant 36); on KMS
    buckets deny uploads that *ask* for another algorithm than SSE-KMS (except under ``sse_s3_key_patterns``, keys
    a service can only write with SSE-S3) or for any key of their own (a named key, or ``aws:kms`` without one,
    which S3 serves with ``aws/s3``), so every object gets the bucket's key; on the access-log bucket allow S3 log
    delivery for this account under ``s3-access-logs/``.

    Uploads that send no encryption header - the SDK default, the MSK consumer, Lambda's on-failure delivery - get
    the bucket's default encryption and must pass: the denies use ``StringNotEquals`` with a ``Null: false`` guard,
    because ``StringNotEqualsIfExists`` is *true* when the header is absent and would refuse them. Every value
    comes from config-time facts (name, account), so the document is known at the first preview (invariant 48)."""
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    both = [bucket_arn, f"{bucket_arn}/*"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": both,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyTlsOlderThan12",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": both,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
    if kms:
        statements.append(
            {
                "Sid": "DenyOtherEncryptionAlgorithms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                **(
                    {"NotResource": [f"{bucket_arn}/{p}" for p in sse_s3_key_patterns]}
                    if sse_s3_key_patterns
                    else {"Resource": f"{bucket_arn}/*"}
                ),
                "Condition": {
                    "StringNotEquals": {SSE_HEADER: "aws:kms"},
                    "Null": {SSE_HEADER: "false"},
                },
            }
        )
        statements += [
            {
                # Naming a key is refused, the bucket's own key included: objects get the bucket's default key.
                # (Pinning the exact key ARN would leave the whole policy unknown until the key exists.)
                "Sid": "DenyExplicitKmsKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {
                    "Null": {SSE_KEY_HEADER: "false"},
                    # A service that must name its key (a trail's own key), identified by aws:SourceArn, which
                    # only AWS sets; absent for every other caller, so ArnNotEquals is true and the deny holds.
                    **(
                        {"ArnNotEquals": {"aws:SourceArn": list(key_writer_source_arns)}}
                        if key_writer_source_arns
                        else {}
                    ),
                },
            },
            {
                # aws:kms without a key id makes S3 use the AWS managed key aws/s3, not the bucket's key.
                "Sid": "DenyAwsManagedKmsKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {SSE_HEADER: "aws:kms"}, "Null": {SSE_KEY_HEADER: "true"}},
            },
        ]
    if log_delivery_account is not None:
        statements.append(
            {
                "Sid": "S3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": LOG_DELIVERY_SERVICE},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ACCESS_LOG_ROOT}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": log_delivery_account}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def check_extra_statements(purpose: str, statements: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``statements`` as plain dicts, each with a ``Sid`` of its own (raises :class:`ComponentArgError`)."""
    for i, statement in enumerate(statements):
        if not statement.get("Sid") or statement.get("Sid") in RESERVED_SIDS:
            raise ComponentArgError(
                f"{purpose}: extra_policy_statements[{i}] needs a Sid other than {sorted(RESERVED_SIDS)}"
            )
    return [dict(st) for st in statements]


def with_statements(policy: dict[str, Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
    """``policy`` with ``extra`` statements appended after the bucket's own (pure)."""
    return {**policy, "Statement": [*policy["Statement"], *extra]}


def depends_on_of(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The component's own ``depends_on`` resources, handed on to the children that need the ordering."""
    deps = opts.depends_on if opts is not None else None
    if deps is None:
        return []
    items = deps if isinstance(deps, list | tuple) else [deps]
    return [d for d in items if isinstance(d, pulumi.Resource)]


class LifecycleBucket(pulumi.ComponentResource):
    """An S3 bucket with versioning, SSE-KMS + Bucket Key, Block Public Access, ACLs disabled, a TLS-only
    policy, server access logging and exactly one lifecycle configuration built from typed arguments.

    Example::

        logs = LifecycleBucket("platform-access-logs", LifecycleBucketArgs(
            environment="dev", purpose="access-logs", data_class="access-logs", expiration_days=90,
            account_id=account_id, protect=False))
        raw = LifecycleBucket("platform-raw-images", LifecycleBucketArgs(
            environment="dev", purpose="raw-images", data_class="ephemeral", expiration_days=7,
            kms_key_arn=key.arn, access_log_bucket=logs.bucket_name, protect=False))
        pulumi.export("rawBucket", raw.bucket_name)

    Documentation:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    worst_case_lifetime_days: int | None

    def __init__(self, name: str, args: LifecycleBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:storage:LifecycleBucket", name, None, opts)
        waits_for = depends_on_of(opts)
        resource_tags = tags(
            args.environment,
            "LifecycleBucket",
            extra={
                **args.extra_tags,
                TAG_DATA_CLASS: args.data_class,
                TAG_RETENTION_DAYS: str(args.expiration_days) if args.expiration_days is not None else "none",
                "saas:purpose": args.purpose,
            },
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            object_lock_enabled=True if args.object_lock_days is not None else None,
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        # Children name the bucket by its configured name (known at preview, invariant 48) and depend on it
        # explicitly; an auto-named bucket falls back to its id.
        name_ref: pulumi.Input[str] = args.bucket_name if args.bucket_name is not None else bucket.id
        after_bucket = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=name_ref,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=after_bucket,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=name_ref,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=after_bucket,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=name_ref,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if args.versioning else "Disabled"
            ),
            opts=after_bucket,
        )
        if args.kms_key_arn is not None:
            by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
        else:
            by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=name_ref,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=by_default,
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=after_bucket,
        )
        account = (
            pulumi.Output.from_input(args.account_id) if args.account_id is not None else pulumi.Output.from_input("")
        )
        policy_doc = pulumi.Output.all(
            name_ref,
            account,
            pulumi.Output.from_input(args.extra_policy_statements),
            pulumi.Output.from_input(args.key_writer_source_arns),
        ).apply(
            lambda v: with_statements(
                bucket_policy(
                    v[0],
                    kms=args.kms_key_arn is not None,
                    log_delivery_account=v[1] or None,
                    sse_s3_key_patterns=args.sse_s3_key_patterns,
                    key_writer_source_arns=list(v[3]),
                ),
                check_extra_statements(args.purpose, v[2]),
            )
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=name_ref,
            policy=pulumi.Output.json_dumps(policy_doc),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, public_access]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=name_ref,
            rules=lifecycle_rules(args),
            # The lifecycle's noncurrent rules only mean something once versioning is on (provider docs).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, versioning]),
        )
        if args.object_lock_days is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=name_ref,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=args.object_lock_mode, days=args.object_lock_days
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, versioning]),
            )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=name_ref,
                target_bucket=args.access_log_bucket,
                target_prefix=f"{ACCESS_LOG_ROOT}{args.purpose}/",
                # The target bucket (and its delivery policy) must exist first: pass depends_on=[log bucket].
                opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, *waits_for]),
            )
        self.bucket_name = pulumi.Output.from_input(name_ref)
        self.bucket_arn = pulumi.Output.concat("arn:aws:s3:::", name_ref)
        self.worst_case_lifetime_days = args.worst_case_lifetime_days
        paths: list[DataPath] = []
        if args.access_log_bucket is not None:
            source_account = (
                args.account_id
                if args.account_id is not None
                else aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
            )
            paths.append(
                DataPath(
                    name="log-delivery",
                    principal=LOG_DELIVERY_SERVICE,
                    principal_type="service",
                    actions=("s3:PutObject",),
                    resource=pulumi.Output.concat(
                        "arn:aws:s3:::",
                        args.access_log_bucket,
                        f"/{ACCESS_LOG_ROOT}{args.purpose}/2026-01-01-00-00-00-0001",
                    ),
                    context={
                        **datapaths.secure_transport(),
                        "aws:SourceAccount": source_account,
                        "aws:SourceArn": self.bucket_arn,
                    },
                    guards=("aws:SourceAccount",),
                    description="S3 server access logging delivers this bucket's logs (no SSE header)",
                )
            )
        self.data_paths = datapaths.declare(paths)
        self.register_outputs(
            {"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, datapaths.OUTPUT_KEY: self.data_paths}
        )
