"""Rules for the environment's shared stateful pieces: pool tables and the KMS key."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from saas_platform.policies._common import get_path, has_key

TABLE = "aws:dynamodb/table:Table"
KMS_KEY = "aws:kms/key:Key"


def _pitr(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    if get_path(args.props, "pointInTimeRecovery", "enabled") is not True:
        report_violation(
            "DynamoDB table has no point-in-time recovery; set point_in_time_recovery={'enabled': True}", None
        )


dynamodb_pitr_enabled = ResourceValidationPolicy(
    name="dynamodb-pitr-enabled",
    description="Every DynamoDB table has point-in-time recovery (35 days of restorable history).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_pitr,
)


def _sse(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    if get_path(args.props, "serverSideEncryption", "enabled") is not True:
        report_violation(
            "DynamoDB table is encrypted with the AWS-owned key; set server_side_encryption="
            "{'enabled': True, 'kms_key_arn': <the environment key>}",
            None,
        )
        return
    if not has_key(args.props["serverSideEncryption"], "kmsKeyArn"):
        report_violation(
            "DynamoDB table uses the AWS-managed key aws/dynamodb; pass the environment's customer-managed key "
            "as server_side_encryption.kms_key_arn",
            None,
        )


dynamodb_sse_kms = ResourceValidationPolicy(
    name="dynamodb-sse-kms",
    description="Every DynamoDB table is encrypted with a customer-managed KMS key.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_sse,
)


def _deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TABLE or not args.opts.protect:
        return
    if args.props.get("deletionProtectionEnabled") is not True:
        report_violation(
            "table is protected in Pulumi (protect=True) but not in AWS; set deletion_protection_enabled=True so "
            "the console, CLI and other tools cannot delete it either",
            None,
        )


dynamodb_deletion_protection = ResourceValidationPolicy(
    name="dynamodb-deletion-protection",
    description="A DynamoDB table that Pulumi protects also has AWS deletion protection enabled.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_deletion_protection,
)


def _key_rotation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or args.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        args.not_applicable("asymmetric and HMAC keys do not support automatic rotation")
        return
    if args.props.get("enableKeyRotation") is not True:
        report_violation("KMS key has automatic rotation off; set enable_key_rotation=True", None)


kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    description="Symmetric customer-managed KMS keys rotate automatically.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_key_rotation,
)

POLICIES = [dynamodb_pitr_enabled, dynamodb_sse_kms, dynamodb_deletion_protection, kms_key_rotation]
