"""AuditTrail and the audit rules: validation, KMS, the Object-Lock bucket, the bucket and key policies."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi
import pytest

from saas_platform.components.audit_trail import AuditTrail, AuditTrailArgs
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies import audit
from saas_platform.policies.pack import POLICIES

ACCOUNT = "123456789012"
TRAIL_ARN = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/comp-prod-audit"


def args(**kw: Any) -> AuditTrailArgs:
    base: dict[str, Any] = {
        "environment": "prod",
        "trail_name": "comp-prod-audit",
        "bucket_name": "comp-prod-audit-123456789012",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "access_log_bucket": "comp-prod-access-logs-123456789012",
    }
    return AuditTrailArgs(**{**base, **kw})


def build(a: AuditTrailArgs) -> ProgramRun:
    def program() -> None:
        logs = LifecycleBucket(
            "logs",
            LifecycleBucketArgs(
                environment=a.environment,
                purpose="access-logs",
                data_class="access-logs",
                bucket_name="comp-prod-access-logs-123456789012",
                expiration_days=90,
                account_id=ACCOUNT,
            ),
        )
        AuditTrail("audit", a, opts=pulumi.ResourceOptions(depends_on=[logs]))

    return run_function(program)


def test_trail_defaults_are_pinned() -> None:
    run = build(args())
    (trail,) = run.of_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["s3BucketName"] == "comp-prod-audit-123456789012"
    assert trail.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    bucket = run.named("audit-logs-bucket")
    assert bucket.inputs["objectLockEnabled"] is True
    assert bucket.options.protect is True
    lock = run.named("audit-logs-object-lock")
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "COMPLIANCE", "days": 2555}}
    assert "saas:audit:AuditTrail$" in trail.urn


def test_bucket_policy_lets_only_this_trail_write_and_digest_files_use_sse_s3() -> None:
    run = build(args())
    policy = json.loads(run.named("audit-logs-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["CloudTrailWrite"] == {
        "Sid": "CloudTrailWrite",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::comp-prod-audit-123456789012/AWSLogs/123456789012/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}},
    }
    assert by_sid["CloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
    assert by_sid["CloudTrailAclCheck"]["Resource"] == "arn:aws:s3:::comp-prod-audit-123456789012"
    deny = by_sid["DenyOtherEncryptionAlgorithms"]
    assert "Resource" not in deny
    assert deny["NotResource"] == ["arn:aws:s3:::comp-prod-audit-123456789012/AWSLogs/*/CloudTrail-Digest/*"]
    assert list(by_sid)[:2] == ["DenyInsecureTransport", "DenyTlsOlderThan12"]


def test_key_policy_binds_cloudtrail_to_this_trail() -> None:
    run = build(args())
    policy = json.loads(run.named("audit-key").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    encrypt = by_sid["CloudTrailEncryptsThisTrailsLogs"]
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": TRAIL_ARN}
    assert encrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:123456789012:trail/*"
    }
    assert run.named("audit-key").inputs["enableKeyRotation"] is True


def test_whole_stack_passes_the_pack() -> None:
    report = evaluate(build(args()), POLICIES)
    assert [(v.policy, v.message) for v in report.mandatory] == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"retention_days": 30}, "a prod audit trail locks log files for at least 365 days; got retention_days=30"),
        ({"lock_mode": "GOVERNANCE"}, "lock_mode='GOVERNANCE' lets privileged users delete prod audit logs early"),
        ({"bucket_name": "with.dots.bucket"}, "bucket_name must be 3-63 lowercase letters, digits or '-' (no dots)"),
        ({"trail_name": "x"}, "trail_name must be 3-128 characters"),
    ],
)
def test_bad_arguments_are_refused(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message.replace("(", r"\(").replace(")", r"\)")):
        args(**kw)


def test_dev_may_use_governance_and_a_short_lock() -> None:
    run = build(args(environment="dev", lock_mode="GOVERNANCE", retention_days=7, protect=False))
    assert run.named("audit-logs-object-lock").inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 7}
    assert Counter(r.type for r in run.resources)["aws:cloudtrail/trail:Trail"] == 1


# ------------------------------------------------------------------------------------------------------ rules


def msgs(policy: Any, props: dict[str, Any]) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in analyze_props([policy], audit.TRAIL, props)]


def test_log_file_validation_rule() -> None:
    assert msgs(audit.cloudtrail_log_file_validation, {"enableLogFileValidation": True}) == []
    assert msgs(audit.cloudtrail_log_file_validation, {"enableLogFileValidation": False})
    assert msgs(audit.cloudtrail_log_file_validation, {})  # missing counts as off


def test_kms_rule() -> None:
    assert msgs(audit.cloudtrail_kms_encrypted, {"kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1"}) == []
    assert msgs(audit.cloudtrail_kms_encrypted, {}) == [
        "CloudTrail trail log files are not encrypted with a customer-managed KMS key; set kms_key_id"
    ]


def test_retention_rule_flags_an_unlocked_bucket_and_an_external_one() -> None:
    import pulumi_aws as aws

    def program() -> None:
        aws.s3.Bucket("plain", bucket="plain-bucket", tags={"saas:environment": "prod"})
        aws.cloudtrail.Trail("t1", s3_bucket_name="plain-bucket", enable_log_file_validation=True)
        aws.cloudtrail.Trail("t2", s3_bucket_name="someone-elses-bucket", enable_log_file_validation=True)

    report = evaluate(run_function(program), [audit.cloudtrail_bucket_retention_locked])
    messages = sorted(v.message.split("\n", 1)[1] for v in report.violations)
    assert messages == [
        "audit bucket 'plain-bucket' has no BucketObjectLockConfiguration with a default retention",
        "audit bucket 'plain-bucket' has no S3 Object Lock (object_lock_enabled=True)",
        "trail delivers to bucket 'someone-elses-bucket', which this stack does not manage; its retention lock "
        "cannot be checked (use the AuditTrail component)",
    ]


def test_retention_rule_wants_compliance_in_prod() -> None:
    import pulumi_aws as aws

    def program() -> None:
        aws.s3.Bucket("b", bucket="b1", object_lock_enabled=True, tags={"saas:environment": "prod"})
        aws.s3.BucketObjectLockConfiguration(
            "l",
            bucket="b1",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE", days=30
                )
            ),
        )
        aws.cloudtrail.Trail("t", s3_bucket_name="b1")

    report = evaluate(run_function(program), [audit.cloudtrail_bucket_retention_locked])
    assert [v.message.split("\n", 1)[1] for v in report.violations] == [
        "prod audit bucket 'b1' locks log files GOVERNANCE for 30 days; prod needs COMPLIANCE mode for at least "
        "365 days"
    ]
