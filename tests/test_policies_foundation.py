"""Foundation rules through pulumi-policy's analyzer: compliant, violating and missing-property fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import PolicyConfigError, analyze_props, evaluate
from saas_platform.policies.pack import POLICIES
from saas_platform.policies.quotas import quota_headroom
from saas_platform.policies.storage import (
    dynamodb_deletion_protection,
    dynamodb_pitr_enabled,
    dynamodb_sse_kms,
    kms_key_rotation,
)
from saas_platform.policies.tagging import required_tags

TABLE = "aws:dynamodb/table:Table"
KEY = "aws:kms/key:Key"
KEY_ARN = "arn:aws:kms:ap-southeast-1:123456789012:key/2ee1a50d-ea66-c9e1-a37b-0dec8901c87c"
TAGS = {"saas:environment": "dev", "saas:component": "PoolTable"}


def names(violations: list[Any]) -> list[str]:
    return [v.policy for v in violations]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"pointInTimeRecovery": {"enabled": True}}, []),
        ({"pointInTimeRecovery": {"enabled": False}}, ["dynamodb-pitr-enabled"]),
        ({}, ["dynamodb-pitr-enabled"]),
        (
            {"point_in_time_recovery": {"enabled": True}},
            ["dynamodb-pitr-enabled"],
        ),  # snake_case is not what the engine sends
    ],
    ids=["compliant", "violating", "missing", "snake-case"],
)
def test_pitr(props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([dynamodb_pitr_enabled], TABLE, props)) == expected


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN}}, []),
        ({"serverSideEncryption": {"enabled": True}}, ["dynamodb-sse-kms"]),
        ({"serverSideEncryption": {"enabled": False, "kmsKeyArn": KEY_ARN}}, ["dynamodb-sse-kms"]),
        ({}, ["dynamodb-sse-kms"]),
    ],
    ids=["compliant", "aws-managed-key", "disabled", "missing"],
)
def test_sse_kms(props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([dynamodb_sse_kms], TABLE, props)) == expected


@pytest.mark.parametrize(
    ("props", "protect", "expected"),
    [
        ({"deletionProtectionEnabled": True}, True, []),
        ({"deletionProtectionEnabled": False}, True, ["dynamodb-deletion-protection"]),
        ({}, True, ["dynamodb-deletion-protection"]),
        ({}, False, []),
    ],
    ids=["compliant", "violating", "missing", "not-protected"],
)
def test_deletion_protection_follows_protect(props: dict[str, Any], protect: bool, expected: list[str]) -> None:
    assert names(analyze_props([dynamodb_deletion_protection], TABLE, props, protect=protect)) == expected


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"enableKeyRotation": True}, []),
        ({"enableKeyRotation": False}, ["kms-key-rotation"]),
        ({}, ["kms-key-rotation"]),
        ({"customerMasterKeySpec": "RSA_2048"}, []),
    ],
    ids=["compliant", "violating", "missing", "asymmetric-not-applicable"],
)
def test_key_rotation(props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([kms_key_rotation], KEY, props)) == expected


@pytest.mark.parametrize(
    ("rtype", "props", "expected"),
    [
        (TABLE, {"tags": TAGS}, []),
        (TABLE, {"tags": {"saas:environment": "dev"}}, ["required-tags"]),
        (TABLE, {}, ["required-tags"]),
        ("aws:iam/rolePolicy:RolePolicy", {}, []),  # not taggable
    ],
    ids=["compliant", "violating", "missing", "untaggable-type"],
)
def test_required_tags(rtype: str, props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([required_tags], rtype, props)) == expected


def test_required_tags_is_configurable_like_policy_pack_config() -> None:
    config = {"required-tags": {"requiredTags": ["saas:environment", "cost-center"]}}
    found = analyze_props([required_tags], TABLE, {"tags": TAGS}, config=config)
    assert names(found) == ["required-tags"]
    assert "cost-center" in found[0].message
    assert found[0].level == "mandatory"  # the policy's own level is kept when config omits enforcementLevel
    advisory = analyze_props([required_tags], TABLE, {}, config={"required-tags": {"enforcementLevel": "advisory"}})
    assert [v.level for v in advisory] == ["advisory"]
    with pytest.raises(PolicyConfigError, match=r"required-tags.requiredTags: expected array, got str"):
        analyze_props([required_tags], TABLE, {}, config={"required-tags": {"requiredTags": "cost-center"}})
    with pytest.raises(PolicyConfigError, match="no-such-policy: no such policy"):
        analyze_props([required_tags], TABLE, {}, config={"no-such-policy": {}})


def test_violation_message_is_description_then_detail() -> None:
    (v,) = analyze_props([dynamodb_pitr_enabled], TABLE, {})
    assert v.message.split("\n") == [
        "Every DynamoDB table has point-in-time recovery (35 days of restorable history).",
        "DynamoDB table has no point-in-time recovery; set point_in_time_recovery={'enabled': True}",
    ]


def test_every_policy_is_mandatory_unless_it_says_otherwise() -> None:
    assert len({p.name for p in POLICIES}) == len(POLICIES)
    for policy in POLICIES:
        assert policy.enforcement_level is not None, f"{policy.name} must set its enforcement level explicitly"


def test_quota_headroom_counts_and_honours_recorded_increases() -> None:
    import pulumi_aws as aws

    def roles(n: int) -> Any:
        return lambda: [aws.iam.Role(f"r{i}", assume_role_policy="{}") for i in range(n)]

    assert evaluate(run_function(roles(800)), [quota_headroom]).violations == []  # 80% is allowed
    report = evaluate(run_function(roles(801)), [quota_headroom])
    assert [v.policy for v in report.mandatory] == ["quota-headroom"]
    assert "IAM roles per account: this stack creates 801, over 80% of the quota 1000" in report.mandatory[0].message
    raised = evaluate(run_function(roles(801)), [quota_headroom], config={"quota-headroom": {"iamRoles": 5000}})
    assert raised.violations == []


def test_sse_rule_runs_during_preview_when_the_key_arn_is_unknown() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-string sentinel
    props = {"serverSideEncryption": {"enabled": True, "kmsKeyArn": unknown}}
    assert analyze_props([dynamodb_sse_kms], TABLE, props) == []
