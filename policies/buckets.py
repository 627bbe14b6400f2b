"""S3 bucket rules (isolation invariants 34-42) for the image pipeline's lifecycle buckets.

Resource rules check one configuration resource; stack rules join a bucket with its configuration resources
by bucket name (``bucket`` of the child == the bucket's name, which is also its id) and read the bucket's
``saas:data-class`` tag (``ephemeral`` | ``durable`` | ``access-logs``, see ``saas_platform.components.lifecycle_bucket``).
An absent property is a violation, never a pass (invariant 48).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.components.naming import RETENTION_PROMISE_DAYS
from saas_platform.policies._common import as_list, get_path, has_key, parse_json_document, statements

BUCKET: Final = "aws:s3/bucket:Bucket"
BUCKET_V2: Final = "aws:s3/bucketV2:BucketV2"
BUCKET_TYPES: Final = (BUCKET, BUCKET_V2)
PUBLIC_ACCESS: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_ACL: Final = "aws:s3/bucketAcl:BucketAcl"
BUCKET_ACL_V2: Final = "aws:s3/bucketAclV2:BucketAclV2"
POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
SSE: Final = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VERSIONING: Final = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING: Final = "aws:s3/bucketLogging:BucketLogging"
DATA_CLASS_TAG: Final = "saas:data-class"
RETENTION_TAG: Final = "saas:retention-days"
DATA_CLASSES: Final = ("ephemeral", "durable", "access-logs")
PUBLIC_ACCESS_FLAGS: Final = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


# --------------------------------------------------------------------------------------------- helpers


def _is_all_principals(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and as_list(principal.get("AWS")) == ["*"]


def _falsy_string(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _whole_bucket(rule: Mapping[str, Any]) -> bool:
    """A rule that applies to every key: no filter, an empty filter, or an empty prefix and nothing else."""
    if rule.get("prefix"):
        return False
    flt = rule.get("filter")
    if flt is None:
        return True
    if not isinstance(flt, Mapping):
        return False
    return not any(v not in (None, "", {}, []) for v in flt.values())


def _enabled_rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in as_list(props.get("rules")) if isinstance(r, Mapping) and r.get("status") == "Enabled"]


def lifecycle_problems(
    props: Mapping[str, Any],
    *,
    versioned: bool,
    data_class: str | None,
    retention_days: str | None,
    max_retention_days: int,
) -> list[str]:
    """Everything invariant 40/41 demands of one lifecycle configuration (pure, shared by the rules)."""
    problems: list[str] = []
    rules = _enabled_rules(props)
    abort = [
        r
        for r in rules
        if isinstance(get_path(r, "abortIncompleteMultipartUpload", "daysAfterInitiation"), int | float)
        and 1 <= get_path(r, "abortIncompleteMultipartUpload", "daysAfterInitiation") <= 7
        and _whole_bucket(r)
    ]
    if not abort:
        problems.append(
            "no Enabled whole-bucket rule with abort_incomplete_multipart_upload.days_after_initiation <= 7: "
            "uploaded parts outlive every expiration"
        )
    if data_class in ("ephemeral", "access-logs"):
        expiring = [r for r in rules if _whole_bucket(r) and isinstance(get_path(r, "expiration", "days"), int | float)]
        if not expiring:
            problems.append(
                f"{data_class} bucket has no Enabled whole-bucket rule with expiration.days (an empty filter; a "
                "prefix such as 'raw/' misses tenant-first keys like 'acme/raw/...')"
            )
        elif data_class == "ephemeral":
            days = min(int(get_path(r, "expiration", "days")) for r in expiring)
            if days > max_retention_days:
                problems.append(f"ephemeral data expires after {days} days; the promise is {max_retention_days}")
            if retention_days is not None and str(days) != retention_days:
                problems.append(
                    f"expiration.days={days} differs from the bucket's {RETENTION_TAG} tag {retention_days!r}"
                )
    if versioned:
        noncurrent = [
            r for r in rules if _whole_bucket(r) and get_path(r, "noncurrentVersionExpiration", "noncurrentDays")
        ]
        if not noncurrent:
            problems.append(
                "versioned bucket has no Enabled whole-bucket noncurrent_version_expiration.noncurrent_days: "
                "overwritten and deleted data lives on as noncurrent versions forever"
            )
        elif data_class == "ephemeral" and any(
            get_path(r, "noncurrentVersionExpiration", "newerNoncurrentVersions") for r in noncurrent
        ):
            problems.append("ephemeral bucket keeps newer_noncurrent_versions past noncurrent_days; drop it")
        markers = [
            r
            for r in rules
            if get_path(r, "expiration", "expiredObjectDeleteMarker") is True
            and get_path(r, "expiration", "days") in (None, 0)
            and not get_path(r, "expiration", "date")
        ]
        if not markers:
            problems.append(
                "versioned bucket has no Enabled rule with expiration.expired_object_delete_marker=True (and no "
                "days/date in that expiration): delete markers accumulate"
            )
    return problems


# --------------------------------------------------------------------------------------------- resource rules


def _public_access(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != PUBLIC_ACCESS:
        return
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if args.props.get(flag) is not True]
    if off:
        report_violation(f"Block Public Access settings not true: {off}; set all four to True", None)


s3_public_access_block = ResourceValidationPolicy(
    name="s3-public-access-block",
    description="Every BucketPublicAccessBlock sets all four Block Public Access flags (invariant 34).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_public_access,
)


def _acls_disabled(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in (BUCKET_ACL, BUCKET_ACL_V2):
        report_violation("BucketAcl resources are not allowed: ACLs are disabled (BucketOwnerEnforced)", None)
    elif args.resource_type in BUCKET_TYPES and (args.props.get("acl") or args.props.get("grants")):
        report_violation("bucket sets acl/grants; ACLs are disabled (BucketOwnerEnforced), use the bucket policy", None)
    elif args.resource_type == OWNERSHIP and get_path(args.props, "rule", "objectOwnership") != "BucketOwnerEnforced":
        report_violation(
            f"object ownership is {get_path(args.props, 'rule', 'objectOwnership')!r}; set "
            "rule={'object_ownership': 'BucketOwnerEnforced'} (disables ACLs)",
            None,
        )


s3_acls_disabled = ResourceValidationPolicy(
    name="s3-acls-disabled",
    description="Ownership controls are BucketOwnerEnforced and no ACL is set anywhere (invariant 35).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_acls_disabled,
)


def _deny_statements(props: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    bucket = str(props.get("bucket") or "")
    doc = parse_json_document(props.get("policy")) or {}
    denies = [
        st
        for st in statements(doc)
        if st.get("Effect") == "Deny"
        and _is_all_principals(st.get("Principal"))
        and "s3:*" in as_list(st.get("Action"))
        and {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= set(as_list(st.get("Resource")))
    ]
    return bucket, denies


def _tls_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != POLICY:
        return
    bucket, denies = _deny_statements(args.props)
    if not bucket:
        report_violation("bucket policy has no bucket", None)
        return
    if not any(_falsy_string(get_path(st, "Condition", "Bool", "aws:SecureTransport")) for st in denies):
        report_violation(
            f"bucket policy of {bucket!r} lacks a Deny of s3:* for Principal '*' on both arn:aws:s3:::{bucket} and "
            f"arn:aws:s3:::{bucket}/* with Bool aws:SecureTransport 'false'",
            None,
        )


s3_tls_only = ResourceValidationPolicy(
    name="s3-tls-only",
    description="Bucket policies deny every non-TLS request on the bucket and its objects (invariant 36).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_tls_only,
)


def _tls_version(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != POLICY:
        return
    bucket, denies = _deny_statements(args.props)
    if not any(str(get_path(st, "Condition", "NumericLessThan", "s3:TlsVersion")) in ("1.2", "1.3") for st in denies):
        report_violation(f"bucket policy of {bucket!r} does not deny NumericLessThan s3:TlsVersion 1.2", None)


s3_tls_minimum_version = ResourceValidationPolicy(
    name="s3-tls-minimum-version",
    description="Bucket policies also deny TLS older than 1.2 (invariant 36, SHOULD).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_tls_version,
)


# --------------------------------------------------------------------------------------------- stack rules


def _by_bucket(resources: list[PolicyResource], type_: str, key: str = "bucket") -> dict[str, list[PolicyResource]]:
    out: dict[str, list[PolicyResource]] = defaultdict(list)
    for r in resources:
        if r.resource_type == type_:
            out[str(r.props.get(key) or "")].append(r)
    return out


def _buckets(resources: list[PolicyResource]) -> list[tuple[str, PolicyResource]]:
    return [(str(r.props.get("bucket") or r.name), r) for r in resources if r.resource_type in BUCKET_TYPES]


def _data_class(bucket: PolicyResource) -> str | None:
    value = (bucket.props.get("tags") or {}).get(DATA_CLASS_TAG)
    return value if value in DATA_CLASSES else None


def _guardrails(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    children = {
        t: _by_bucket(args.resources, t) for t in (PUBLIC_ACCESS, OWNERSHIP, POLICY, SSE, LIFECYCLE, VERSIONING)
    }
    logging_of = _by_bucket(args.resources, LOGGING)
    names = {
        PUBLIC_ACCESS: "BucketPublicAccessBlock",
        OWNERSHIP: "BucketOwnershipControls",
        POLICY: "BucketPolicy",
        SSE: "BucketServerSideEncryptionConfiguration",
        LIFECYCLE: "BucketLifecycleConfiguration",
        VERSIONING: "BucketVersioning",
    }
    for name, bucket in _buckets(args.resources):
        for type_, by in children.items():
            count = len(by.get(name, []))
            if count == 0:
                report_violation(f"bucket {name!r} has no {names[type_]}", bucket.urn)
            elif count > 1:
                report_violation(
                    f"bucket {name!r} has {count} {names[type_]} resources; exactly one is allowed "
                    "(a second one causes a perpetual diff)",
                    bucket.urn,
                )
        data_class = _data_class(bucket)
        if data_class is None:
            report_violation(
                f"bucket {name!r} has no valid {DATA_CLASS_TAG} tag (one of {list(DATA_CLASSES)}); the lifecycle "
                "cannot be checked against a retention promise",
                bucket.urn,
            )
        elif data_class != "access-logs" and not logging_of.get(name):
            report_violation(f"bucket {name!r} has no server access logging (BucketLogging)", bucket.urn)


s3_bucket_guardrails = StackValidationPolicy(
    name="s3-bucket-guardrails-present",
    description="Every bucket has exactly one public-access block, ownership controls, policy, encryption, "
    "versioning and lifecycle resource, a data-class tag, and access logging (invariants 34-37, 40).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_guardrails,
)


def _sse_kms(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = dict(_buckets(args.resources))
    log_targets = {str(r.props.get("targetBucket") or "") for r in args.resources if r.resource_type == LOGGING}
    log_sources = {str(r.props.get("bucket") or "") for r in args.resources if r.resource_type == LOGGING}
    for r in args.resources:
        if r.resource_type != SSE:
            continue
        name = str(r.props.get("bucket") or "")
        rules = [x for x in as_list(r.props.get("rules")) if isinstance(x, Mapping)]
        if len(rules) != 1:
            report_violation(f"bucket {name!r}: expected exactly one encryption rule; got {len(rules)}", r.urn)
            continue
        algorithm = get_path(rules[0], "applyServerSideEncryptionByDefault", "sseAlgorithm")
        by_default = get_path(rules[0], "applyServerSideEncryptionByDefault")
        if algorithm == "aws:kms":
            # Presence only: the key's ARN is unknown until the key exists (first preview, invariant 48);
            # without kms_master_key_id S3 uses the AWS-managed aws/s3 key.
            if not has_key(by_default, "kmsMasterKeyId"):
                report_violation(
                    f"bucket {name!r}: SSE-KMS without the stack's customer-managed key "
                    "(set kms_master_key_id to the environment key)",
                    r.urn,
                )
            if rules[0].get("bucketKeyEnabled") is not True:
                report_violation(f"bucket {name!r}: bucket_key_enabled is not True", r.urn)
            continue
        bucket = buckets.get(name)
        is_log_bucket = (
            algorithm == "AES256"
            and bucket is not None
            and _data_class(bucket) == "access-logs"
            and name in log_targets
            and name not in log_sources
        )
        if not is_log_bucket:
            report_violation(
                f"bucket {name!r}: sse_algorithm {algorithm!r}; only 'aws:kms' with the environment key is allowed, "
                "except SSE-S3 (AES256) on the access-log bucket (data-class access-logs, a BucketLogging target that "
                "does not log itself) because S3 log delivery does not support SSE-KMS there",
                r.urn,
            )


s3_sse_kms = StackValidationPolicy(
    name="s3-sse-kms",
    description="Buckets use SSE-KMS with the stack's key and a Bucket Key; the only exception is SSE-S3 on the "
    "access-log bucket (invariant 37).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_sse_kms,
)


def _lifecycle(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    max_days = int(args.get_config().get("maxRetentionDays", RETENTION_PROMISE_DAYS))
    lifecycle = _by_bucket(args.resources, LIFECYCLE)
    versioning = _by_bucket(args.resources, VERSIONING)
    for name, bucket in _buckets(args.resources):
        configs = lifecycle.get(name, [])
        if len(configs) != 1:
            continue  # s3-bucket-guardrails-present reports missing/duplicate configurations
        versioned = any(
            get_path(v.props, "versioningConfiguration", "status") in ("Enabled", "Suspended")
            for v in versioning.get(name, [])
        )
        tags = bucket.props.get("tags") or {}
        for problem in lifecycle_problems(
            configs[0].props,
            versioned=versioned,
            data_class=_data_class(bucket),
            retention_days=tags.get(RETENTION_TAG) if _data_class(bucket) == "ephemeral" else None,
            max_retention_days=max_days,
        ):
            report_violation(f"bucket {name!r}: {problem}", configs[0].urn)


s3_lifecycle_covers_data = StackValidationPolicy(
    name="s3-lifecycle-covers-data",
    description="Ephemeral buckets expire every key within the retention promise (maxRetentionDays, default "
    f"{RETENTION_PROMISE_DAYS}, the limit the stack config and LifecycleBucket also enforce); "
    "versioned buckets also expire noncurrent versions and delete markers; every bucket aborts incomplete "
    "multipart uploads (invariants 40-42).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_lifecycle,
    config_schema=PolicyConfigSchema(properties={"maxRetentionDays": {"type": "integer", "minimum": 1}}),
)

POLICIES = [
    s3_public_access_block,
    s3_acls_disabled,
    s3_tls_only,
    s3_tls_minimum_version,
    s3_bucket_guardrails,
    s3_sse_kms,
    s3_lifecycle_covers_data,
]
