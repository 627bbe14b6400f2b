"""``AuditTrail``: a CloudTrail trail whose log files can be proven complete and cannot be deleted early.

One trail (all regions, global service events, management events) delivering to a bucket made for it:

* log-file integrity validation on (hourly signed digest files, checked with ``aws cloudtrail validate-logs``);
* log files encrypted with a dedicated customer-managed KMS key (rotation on) whose policy lets only this
  trail, in this account, generate data keys;
* a :class:`~saas_platform.components.lifecycle_bucket.LifecycleBucket` (``durable``: log files are never
  expired by a lifecycle rule) with S3 Object Lock default retention: in ``COMPLIANCE`` mode no one, the root
  user included, can delete or overwrite a log file before ``retention_days`` have passed;
* a bucket policy that lets CloudTrail read the bucket ACL and write under ``AWSLogs/<account>/`` only for
  this trail (``aws:SourceArn``), next to the TLS-only and SSE-KMS-only denies every bucket has. Digest
  files are the one exception to SSE-KMS: CloudTrail always writes them with SSE-S3, so the SSE-KMS-only deny
  leaves ``AWSLogs/*/CloudTrail-Digest/*`` out.

The trail's name is fixed (``<name_prefix>-<environment>-audit``), so its ARN, and with it the bucket and key
policies, are known at the first preview.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs, ObjectLockMode
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

CLOUDTRAIL_SERVICE: Final = "cloudtrail.amazonaws.com"
TRAIL_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,127}")
BUCKET_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
DIGEST_KEY_PATTERN: Final = "AWSLogs/*/CloudTrail-Digest/*"
"""Where CloudTrail writes digest files; it encrypts them with SSE-S3 even when log files use SSE-KMS."""
MIN_PROD_RETENTION_DAYS: Final = 365
"""A prod audit trail keeps every log file locked for at least a year."""


def trail_arn(region: str, account_id: str, trail_name: str) -> str:
    """``arn:aws:cloudtrail:<region>:<account>:trail/<name>`` (pure)."""
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail_name}"


def trail_key_policy(account_id: str, region: str, trail_name: str) -> dict[str, Any]:
    """The trail key's policy (pure): the account administers it through IAM; CloudTrail may generate data
    keys only for this trail of this account (encryption context and ``aws:SourceArn``) and describe the key;
    principals of this account may decrypt log files when CloudTrail is the caller's context (``validate-logs``
    and readers with ``kms:Decrypt`` in their IAM policy).

    Documentation: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html
    """
    arn = trail_arn(region, account_id, trail_name)
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
                "Sid": "CloudTrailEncryptsThisTrailsLogs",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL_SERVICE},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"
                    },
                },
            },
            {
                "Sid": "CloudTrailDescribesKey",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL_SERVICE},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": arn}},
            },
            {
                "Sid": "AccountDecryptsLogFiles",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"
                    },
                },
            },
        ],
    }


def trail_bucket_statements(bucket_name: str, account_id: str, region: str, trail_name: str) -> list[dict[str, Any]]:
    """What the trail's bucket policy adds to the TLS/SSE denies (pure): CloudTrail's ACL check and its
    writes under ``AWSLogs/<account>/``, both only on behalf of this trail.

    Documentation: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    """
    arn = trail_arn(region, account_id, trail_name)
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "s3:GetBucketAcl",
            "Resource": f"arn:aws:s3:::{bucket_name}",
            "Condition": {"StringEquals": {"aws:SourceArn": arn}},
        },
        {
            "Sid": "CloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL_SERVICE},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket_name}/AWSLogs/{account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": arn}},
        },
    ]


@dataclass(frozen=True, kw_only=True)
class AuditTrailArgs:
    """Arguments of :class:`AuditTrail`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        trail_name: physical trail name (3-128 chars of ``[A-Za-z0-9._-]``); fixed so policies are known at preview.
        bucket_name: physical name of the log bucket (3-63 lowercase chars, no dots: CloudTrail over TLS); may
            be an Output built from the account id (checked when plain).
        account_id: the account the trail records (an Output of ``aws.get_caller_identity_output`` is fine).
        region: the stack's region (the trail's home region).
        access_log_bucket: the environment's access-log bucket (server access logs of the trail bucket).
        retention_days: Default 2555 (7 years). Days every log file is locked (S3 Object Lock default
            retention). At least 365 in prod.
        lock_mode: Default ``"COMPLIANCE"`` (no one can delete early). ``"GOVERNANCE"`` only outside prod.
        multi_region: Default ``True``: record every region, so activity in an unused region is not missed.
        protect: Default ``True``: Pulumi ``protect`` + ``retain_on_delete`` on the key and the bucket.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    trail_name: str
    bucket_name: pulumi.Input[str]
    account_id: pulumi.Input[str]
    region: str
    access_log_bucket: pulumi.Input[str]
    retention_days: int = 2555
    lock_mode: ObjectLockMode = "COMPLIANCE"
    multi_region: bool = True
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not TRAIL_NAME_RE.fullmatch(self.trail_name):
            raise ComponentArgError(
                f"trail_name must be 3-128 characters of [A-Za-z0-9._-] starting with a letter or digit; "
                f"got {self.trail_name!r}"
            )
        if isinstance(self.bucket_name, str) and not BUCKET_NAME_RE.fullmatch(self.bucket_name):
            raise ComponentArgError(
                f"bucket_name must be 3-63 lowercase letters, digits or '-' (no dots); got {self.bucket_name!r}"
            )
        if not 1 <= self.retention_days <= 36500:
            raise ComponentArgError(f"retention_days must be 1-36500; got {self.retention_days}")
        if self.environment == "prod" and self.retention_days < MIN_PROD_RETENTION_DAYS:
            raise ComponentArgError(
                f"a prod audit trail locks log files for at least {MIN_PROD_RETENTION_DAYS} days; got "
                f"retention_days={self.retention_days}"
            )
        if self.environment == "prod" and self.lock_mode != "COMPLIANCE":
            raise ComponentArgError(
                f"lock_mode={self.lock_mode!r} lets privileged users delete prod audit logs early; prod uses "
                "'COMPLIANCE'"
            )


class AuditTrail(pulumi.ComponentResource):
    """A CloudTrail trail with log-file validation, a dedicated KMS key and an Object-Lock retention bucket.

    Example::

        trail = AuditTrail("compensation-audit", AuditTrailArgs(
            environment="prod", trail_name="compensation-prod-audit",
            bucket_name="compensation-prod-audit-123456789012", account_id=account_id, region="eu-west-1",
            access_log_bucket=logs.bucket_name, retention_days=2555))
        pulumi.export("auditTrailArn", trail.trail_arn)

    Documentation:
        https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html
        https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
    """

    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:audit:AuditTrail", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        resource_tags = tags(args.environment, "AuditTrail", extra=args.extra_tags)
        account = pulumi.Output.from_input(args.account_id)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"CloudTrail log files of {args.trail_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(account.apply(lambda a: trail_key_policy(a, args.region, args.trail_name))),
            tags=resource_tags,
            opts=keep,
        )
        bucket = LifecycleBucket(
            f"{name}-logs",
            LifecycleBucketArgs(
                environment=args.environment,
                purpose="audit-trail",
                data_class="durable",
                bucket_name=args.bucket_name,
                kms_key_arn=key.arn,
                access_log_bucket=args.access_log_bucket,
                object_lock_days=args.retention_days,
                object_lock_mode=args.lock_mode,
                # A deleted log file (only possible after its lock ends) leaves a noncurrent version: keep it as
                # long as the lock would have, then let it go.
                noncurrent_days=args.retention_days,
                extra_policy_statements=pulumi.Output.all(account, args.bucket_name).apply(
                    lambda v: trail_bucket_statements(v[1], v[0], args.region, args.trail_name)
                ),
                # CloudTrail writes digest files with SSE-S3 only, whatever the trail's KMS key.
                sse_s3_key_patterns=(DIGEST_KEY_PATTERN,),
                # The trail names its key on every log file: only this trail may (aws:SourceArn).
                key_writer_source_arns=account.apply(lambda a: [trail_arn(args.region, a, args.trail_name)]),
                protect=args.protect,
                extra_tags=args.extra_tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.bucket_name,
            kms_key_id=key.arn,
            enable_log_file_validation=True,
            is_multi_region_trail=args.multi_region,
            include_global_service_events=True,
            enable_logging=True,
            tags=resource_tags,
            # The bucket policy must let CloudTrail write before the trail is created (CloudTrail checks it).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket]),
        )
        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket_name
        self.kms_key_arn = key.arn
        source_arn = account.apply(lambda a: trail_arn(args.region, a, args.trail_name))
        log_key = pulumi.Output.all(bucket.bucket_name, account).apply(
            lambda v: (
                f"arn:aws:s3:::{v[0]}/AWSLogs/{v[1]}/CloudTrail/{args.region}/2026/01/01/"
                f"{v[1]}_CloudTrail_{args.region}_20260101T0000Z_0001.json.gz"
            )
        )
        self.data_paths = datapaths.declare(
            [
                DataPath(
                    name="cloudtrail/write-log-file",
                    principal=CLOUDTRAIL_SERVICE,
                    principal_type="service",
                    actions=("s3:PutObject",),
                    resource=log_key,
                    context={
                        **datapaths.secure_transport(),
                        "aws:SourceArn": source_arn,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "s3:x-amz-server-side-encryption": "aws:kms",
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": key.arn,
                    },
                    guards=("aws:SourceArn",),
                    description="CloudTrail delivers this trail's log files (SSE-KMS with the trail key)",
                ),
                DataPath(
                    name="cloudtrail/log-file-key",
                    principal=CLOUDTRAIL_SERVICE,
                    principal_type="service",
                    actions=("kms:GenerateDataKey",),
                    resource=key.arn,
                    context={"aws:SourceArn": source_arn, "kms:EncryptionContext:aws:cloudtrail:arn": source_arn},
                    guards=("aws:SourceArn",),
                    description="CloudTrail encrypts this trail's log files with the trail key",
                ),
            ]
        )
        self.register_outputs(
            {
                "trail_arn": self.trail_arn,
                "bucket_name": self.bucket_name,
                "kms_key_arn": self.kms_key_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )
