"""LifecycleBucket: pinned secure defaults, lifecycle rules vs the retention config, argument errors."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from saas_platform.components.errors import ComponentArgError, StackConfigError
from saas_platform.components.lifecycle_bucket import (
    ExpirationRule,
    LifecycleBucket,
    LifecycleBucketArgs,
    worst_case_lifetime_days,
)
from saas_platform.components.testing.harness import ProgramRun, run_function, run_program

KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/1111"


def args(**kw: Any) -> LifecycleBucketArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "purpose": "raw-images",
        "data_class": "ephemeral",
        "bucket_name": "raw-b",
        "kms_key_arn": KEY,
        "access_log_bucket": "logs-b",
        "expiration_days": 7,
    }
    return LifecycleBucketArgs(**{**base, **kw})


def build(a: LifecycleBucketArgs, name: str = "raw") -> ProgramRun:
    return run_function(lambda: LifecycleBucket(name, a))


def only(run: ProgramRun, type_: str) -> dict[str, Any]:
    (r,) = run.of_type(type_)
    return r.inputs


def test_secure_defaults_are_pinned() -> None:
    run = build(args())
    assert Counter(r.type for r in run.resources if r.type.startswith("aws:")) == Counter(
        {
            "aws:s3/bucket:Bucket": 1,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
            "aws:s3/bucketVersioning:BucketVersioning": 1,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
            "aws:s3/bucketPolicy:BucketPolicy": 1,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
            "aws:s3/bucketLogging:BucketLogging": 1,
        }
    )
    bucket = run.named("raw-bucket")
    assert bucket.options.protect is True
    assert bucket.options.retain_on_delete is True
    assert bucket.inputs["forceDestroy"] is False
    assert "acl" not in bucket.inputs
    assert "lifecycleRules" not in bucket.inputs
    assert bucket.inputs["tags"]["saas:data-class"] == "ephemeral"
    assert bucket.inputs["tags"]["saas:retention-days"] == "7"
    pab = only(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert [pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")] == [
        True,
        True,
        True,
        True,
    ]
    assert only(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    assert only(run, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"] == {"status": "Enabled"}
    sse = only(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY},
            "bucketKeyEnabled": True,
        }
    ]
    logging = only(run, "aws:s3/bucketLogging:BucketLogging")
    assert (logging["targetBucket"], logging["targetPrefix"]) == ("logs-b", "s3-access-logs/raw-images/")
    for r in run.resources:
        if r.type.startswith("aws:"):
            assert "saas:storage:LifecycleBucket$" in r.urn


def test_bucket_policy_denies_non_tls_old_tls_and_other_algorithms() -> None:
    doc = json.loads(only(build(args()), "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    assert doc["Version"] == "2012-10-17"
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    both = ["arn:aws:s3:::raw-b", "arn:aws:s3:::raw-b/*"]
    assert by_sid["DenyInsecureTransport"] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": both,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert by_sid["DenyTlsOlderThan12"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    # Only when the header is present (IfExists would refuse every upload relying on default encryption).
    assert by_sid["DenyOtherEncryptionAlgorithms"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    assert by_sid["DenyExplicitKmsKeys"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}
    }
    assert by_sid["DenyAwsManagedKmsKey"]["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "true"},
    }
    assert "DenyOtherKmsKeys" not in by_sid  # would embed the key ARN, unknown at the first preview
    assert all(s["Effect"] == "Deny" for s in doc["Statement"])


def rules_by_id(run: ProgramRun) -> dict[str, dict[str, Any]]:
    lifecycle = only(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    return {r["id"]: r for r in lifecycle["rules"]}


def test_retention_over_the_promise_is_refused_by_config_and_component() -> None:
    with pytest.raises(StackConfigError, match=r"Pulumi\.dev\.yaml.*saas:retentionDays.*14 days is over the 7-day"):
        run_program(".", "dev", config={"saas:retentionDays": 14})


@pytest.mark.parametrize("retention", [1, 3, 7])
def test_lifecycle_rules_follow_the_retention_config(retention: int) -> None:
    run = run_program(".", "dev", config={"saas:retentionDays": retention})
    raw = [
        r
        for r in run.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.name == "platform-raw-images-lifecycle"
    ]
    (lifecycle,) = raw
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules == {
        f"expire-current-after-{retention}-days": {
            "id": f"expire-current-after-{retention}-days",
            "status": "Enabled",
            "filter": {},
            "expiration": {"days": retention},
        },
        "expire-noncurrent-after-1-days": {
            "id": "expire-noncurrent-after-1-days",
            "status": "Enabled",
            "filter": {},
            "noncurrentVersionExpiration": {"noncurrentDays": 1},
        },
        "remove-expired-delete-markers": {
            "id": "remove-expired-delete-markers",
            "status": "Enabled",
            "filter": {},
            "expiration": {"expiredObjectDeleteMarker": True},
        },
        "abort-multipart-after-1-days": {
            "id": "abort-multipart-after-1-days",
            "status": "Enabled",
            "filter": {},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
        },
    }
    tags = run.named("platform-raw-images-bucket").inputs["tags"]
    assert tags["saas:retention-days"] == str(retention)


def test_durable_bucket_keeps_current_objects_but_cleans_versions() -> None:
    run = build(args(data_class="durable", expiration_days=None, noncurrent_days=30, newer_noncurrent_versions=3))
    rules = rules_by_id(run)
    assert not any("days" in (r.get("expiration") or {}) for r in rules.values())
    assert rules["expire-noncurrent-after-30-days"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30,
        "newerNoncurrentVersions": 3,
    }
    assert "remove-expired-delete-markers" in rules


def test_access_log_bucket_uses_sse_s3_and_allows_log_delivery_only() -> None:
    run = build(
        LifecycleBucketArgs(
            environment="dev",
            purpose="access-logs",
            data_class="access-logs",
            bucket_name="logs-b",
            expiration_days=90,
            versioning=False,
            account_id="123456789012",
        ),
        name="logs",
    )
    sse = only(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": False}
    ]
    assert run.of_type("aws:s3/bucketLogging:BucketLogging") == []
    doc = json.loads(only(run, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    (allow,) = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert allow == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs-b/s3-access-logs/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
    }
    assert set(rules_by_id(run)) == {"expire-current-after-90-days", "abort-multipart-after-1-days"}


def test_extra_expirations_use_prefix_and_tag_filters() -> None:
    run = build(
        args(
            extra_expirations=(
                ExpirationRule(id="tmp", days=1, prefix="tmp/"),
                ExpirationRule(id="thumbs", days=2, tags={"kind": "thumbnail"}),
                ExpirationRule(id="both", days=3, prefix="acme/", tags={"a": "b", "c": "d"}),
            )
        )
    )
    rules = rules_by_id(run)
    assert rules["tmp"]["filter"] == {"prefix": "tmp/"}
    assert rules["thumbs"]["filter"] == {"tag": {"key": "kind", "value": "thumbnail"}}
    assert rules["both"]["filter"] == {"and": {"prefix": "acme/", "tags": {"a": "b", "c": "d"}}}
    assert rules["expire-current-after-7-days"]["filter"] == {}  # the whole-bucket rule stays


def test_worst_case_lifetime() -> None:
    assert worst_case_lifetime_days(7, 1, versioned=True) == 10
    assert worst_case_lifetime_days(7, None, versioned=False) == 8
    assert args().worst_case_lifetime_days == 10
    assert args(data_class="durable", expiration_days=None).worst_case_lifetime_days is None
    with pytest.raises(ValueError, match="noncurrent_days"):
        worst_case_lifetime_days(7, None, versioned=True)


def test_two_buckets_do_not_collide() -> None:
    run = run_function(lambda: [LifecycleBucket("raw", args()), LifecycleBucket("processed", args(bucket_name="p-b"))])
    assert len(run.of_type("aws:s3/bucket:Bucket")) == 2


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kms_key_arn": None}, "raw-images: kms_key_arn is required for data_class='ephemeral'"),
        ({"access_log_bucket": None}, "raw-images: access_log_bucket is required"),
        ({"expiration_days": None}, "raw-images: data_class='ephemeral' needs expiration_days"),
        ({"data_class": "durable"}, "raw-images: durable buckets keep current objects; drop expiration_days=7"),
        (
            {"abort_multipart_days": 10},
            "raw-images: abort_multipart_days must be 1-7 (isolation invariant 40); got 10",
        ),
        ({"newer_noncurrent_versions": 2}, "raw-images: newer_noncurrent_versions keeps versions past noncurrent_days"),
        ({"bucket_name": "Bad_Name"}, "bucket_name must be 3-63 lowercase letters"),
        ({"purpose": "Raw"}, "purpose must be kebab-case"),
        (
            {"extra_expirations": (ExpirationRule(id="x", days=9, prefix="a/"),)},
            "ExpirationRule 'x' days=9 is not shorter than the whole-bucket expiration_days=7",
        ),
    ],
)
def test_bad_arguments_fail_before_any_resource(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message.replace("(", r"\(").replace(")", r"\)")):
        args(**kw)


def test_access_log_bucket_cannot_use_kms() -> None:
    with pytest.raises(ComponentArgError, match="cannot use SSE-KMS"):
        LifecycleBucketArgs(
            environment="dev",
            purpose="access-logs",
            data_class="access-logs",
            kms_key_arn=KEY,
            expiration_days=90,
            account_id="123456789012",
        )
    with pytest.raises(ComponentArgError, match="no prefix and no tags"):
        ExpirationRule(id="all", days=1)


def test_object_lock_enables_lock_on_the_bucket_and_a_default_retention() -> None:
    run = build(args(data_class="durable", expiration_days=None, object_lock_days=30, object_lock_mode="GOVERNANCE"))
    assert run.named("raw-bucket").inputs["objectLockEnabled"] is True
    lock = only(run, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock == {
        "bucket": "raw-b",
        "objectLockEnabled": "Enabled",
        "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 30}},
    }
    assert "objectLockEnabled" not in build(args()).named("raw-bucket").inputs


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"object_lock_days": 5, "versioning": False}, "object_lock_days needs versioning=True"),
        ({"object_lock_days": 30}, "keeps ephemeral data past its 10-day worst-case lifetime"),
        ({"object_lock_days": 3, "object_lock_mode": "LEGAL"}, "object_lock_mode must be one of"),
        ({"sse_s3_key_patterns": ("*",)}, "never the whole bucket"),
        ({"extra_policy_statements": ({"Sid": "DenyInsecureTransport"},)}, "needs a Sid other than"),
        ({"extra_policy_statements": ({"Effect": "Allow"},)}, "needs a Sid other than"),
    ],
)
def test_object_lock_and_policy_extension_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        args(**kw)


def test_extra_statements_follow_the_denies_and_sse_s3_patterns_narrow_the_kms_deny() -> None:
    extra = {
        "Sid": "ServiceWrite",
        "Effect": "Allow",
        "Principal": {"Service": "x.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::raw-b/x/*",
    }
    run = build(args(extra_policy_statements=(extra,), sse_s3_key_patterns=("x/digest/*",)))
    doc = json.loads(only(run, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    assert [s["Sid"] for s in doc["Statement"]] == [
        "DenyInsecureTransport",
        "DenyTlsOlderThan12",
        "DenyOtherEncryptionAlgorithms",
        "DenyExplicitKmsKeys",
        "DenyAwsManagedKmsKey",
        "ServiceWrite",
    ]
    assert doc["Statement"][2]["NotResource"] == ["arn:aws:s3:::raw-b/x/digest/*"]
    assert doc["Statement"][5] == extra
