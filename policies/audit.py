"""Audit-trail rules: CloudTrail trails prove their log files complete, encrypt them with a customer key and
deliver them to a bucket that locks every version for a retention period (``saas_platform.components.audit_trail``).

An absent property is a violation, never a pass.
"""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.policies._common import get_path, has_key

TRAIL: Final = "aws:cloudtrail/trail:Trail"
BUCKET: Final = "aws:s3/bucket:Bucket"
OBJECT_LOCK: Final = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
MIN_PROD_LOCK_DAYS: Final = 365


def _log_file_validation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TRAIL:
        return
    if args.props.get("enableLogFileValidation") is not True:
        report_violation(
            "CloudTrail trail without log-file integrity validation: nobody can prove a log file was not changed or "
            "deleted; set enable_log_file_validation=True",
            None,
        )


cloudtrail_log_file_validation = ResourceValidationPolicy(
    name="cloudtrail-log-file-validation",
    description="CloudTrail trails validate log-file integrity (signed hourly digest files).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_log_file_validation,
)


def _trail_kms(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TRAIL:
        return
    if not has_key(args.props, "kmsKeyId"):
        report_violation(
            "CloudTrail trail log files are not encrypted with a customer-managed KMS key; set kms_key_id", None
        )


cloudtrail_kms_encrypted = ResourceValidationPolicy(
    name="cloudtrail-kms-encrypted",
    description="CloudTrail trails encrypt log files with a customer-managed KMS key (SSE-KMS).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_trail_kms,
)


def _lock_days(props: dict[str, Any] | Any) -> float | None:
    retention = get_path(props, "rule", "defaultRetention") or {}
    days, years = retention.get("days"), retention.get("years")
    if isinstance(days, int | float) and not isinstance(days, bool):
        return float(days)
    if isinstance(years, int | float) and not isinstance(years, bool):
        return float(years) * 365
    return None


def _retention_locked(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = {str(r.props.get("bucket") or r.name): r for r in args.resources if r.resource_type == BUCKET}
    locks = {str(r.props.get("bucket") or ""): r for r in args.resources if r.resource_type == OBJECT_LOCK}
    for trail in args.resources:
        if trail.resource_type != TRAIL:
            continue
        name = str(trail.props.get("s3BucketName") or "")
        bucket = buckets.get(name)
        if bucket is None:
            report_violation(
                f"trail delivers to bucket {name!r}, which this stack does not manage; its retention lock cannot be "
                "checked (use the AuditTrail component)",
                trail.urn,
            )
            continue
        if bucket.props.get("objectLockEnabled") is not True:
            report_violation(f"audit bucket {name!r} has no S3 Object Lock (object_lock_enabled=True)", bucket.urn)
        lock = locks.get(name)
        if lock is None:
            report_violation(
                f"audit bucket {name!r} has no BucketObjectLockConfiguration with a default retention", bucket.urn
            )
            continue
        days = _lock_days(lock.props)
        mode = get_path(lock.props, "rule", "defaultRetention", "mode")
        if days is None or mode not in ("COMPLIANCE", "GOVERNANCE"):
            report_violation(
                f"audit bucket {name!r}: object lock default retention needs a mode and days/years; got "
                f"mode={mode!r}, days={days!r}",
                lock.urn,
            )
            continue
        environment = (bucket.props.get("tags") or {}).get("saas:environment")
        if environment == "prod" and (mode != "COMPLIANCE" or days < MIN_PROD_LOCK_DAYS):
            report_violation(
                f"prod audit bucket {name!r} locks log files {mode} for {days:g} days; prod needs COMPLIANCE mode "
                f"for at least {MIN_PROD_LOCK_DAYS} days",
                lock.urn,
            )


cloudtrail_bucket_retention_locked = StackValidationPolicy(
    name="cloudtrail-bucket-retention-locked",
    description="Every trail delivers to a bucket of the same stack with S3 Object Lock and a default retention "
    "(prod: COMPLIANCE, >= 365 days).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_retention_locked,
)

POLICIES = [cloudtrail_log_file_validation, cloudtrail_kms_encrypted, cloudtrail_bucket_retention_locked]
