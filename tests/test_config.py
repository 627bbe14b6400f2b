"""Stack config contract: every bad configuration names the file and the exact key, and registers nothing."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import load_project_config, run_program
from tests.conftest import ROOT, RecordingAwsMocks

TENANTS = [{"id": "acme", "displayName": "Acme Corp", "tier": "standard"}, {"id": "globex"}]


def base(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "aws:region": "ap-southeast-1",
        "saas:environment": "dev",
        "saas:tenants": json.dumps(TENANTS),
        "saas:identity": json.dumps({"mode": "own", "mfa": "ON"}),
        "saas:retentionDays": "7",
        "saas:alarms": json.dumps({"email": "oncall@example.com"}),
        "saas:protect": "true",
    }
    for key, value in overrides.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value if isinstance(value, str) else json.dumps(value)
    return cfg


PROD = {"saas:environment": "prod"}

# (id, overrides, stack, the exact key the message must name)
MSK_NETWORK: dict[str, Any] = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "subnetIds": ["subnet-0a1b2c3d4e5f60011"],
    "securityGroupIds": ["sg-0a1b2c3d4e5f60044"],
}
BAD_CONFIGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown-environment", {"saas:environment": "qa"}, "dev", "saas:environment"),
    ("missing-environment", {"saas:environment": None}, "dev", "saas:environment"),
    (
        "no-tenants-in-a-cell",
        {"saas:tenants": [], "saas:cell": {"platformStack": "o/saas/dev"}},
        "dev-cell-01",
        "saas:tenants",
    ),
    ("tenant-uppercase", {"saas:tenants": [{"id": "Acme"}]}, "dev", "saas:tenants[0].id"),
    ("tenant-starts-with-digit", {"saas:tenants": [{"id": "1acme"}]}, "dev", "saas:tenants[0].id"),
    ("tenant-too-long", {"saas:tenants": [{"id": "a" * 32}]}, "dev", "saas:tenants[0].id"),
    ("tenant-one-char", {"saas:tenants": [{"id": "a"}]}, "dev", "saas:tenants[0].id"),
    ("tenant-reserved-system", {"saas:tenants": [{"id": "acme"}, {"id": "system"}]}, "dev", "saas:tenants[1].id"),
    ("tenant-trailing-hyphen", {"saas:tenants": [{"id": "acme-"}]}, "dev", "saas:tenants[0].id"),
    ("tenant-duplicate", {"saas:tenants": [{"id": "acme"}, {"id": "acme"}]}, "dev", "saas:tenants"),
    ("tenant-unknown-key", {"saas:tenants": [{"id": "acme", "plan": "gold"}]}, "dev", "saas:tenants[0].plan"),
    ("tenant-bad-tier", {"saas:tenants": [{"id": "acme", "tier": "gold"}]}, "dev", "saas:tenants[0].tier"),
    ("identity-bad-mode", {"saas:identity": {"mode": "borrowed"}}, "dev", "saas:identity.mode"),
    ("identity-shared-without-source", {"saas:identity": {"mode": "shared"}}, "dev", "saas:identity.sourceStack"),
    (
        "identity-own-with-source",
        {"saas:identity": {"mode": "own", "sourceStack": "o/saas/prod"}},
        "dev",
        "saas:identity.sourceStack",
    ),
    (
        "identity-bad-source",
        {"saas:identity": {"mode": "shared", "sourceStack": "prod"}},
        "dev",
        "saas:identity.sourceStack",
    ),
    ("identity-bad-mfa", {"saas:identity": {"mfa": "OFF"}}, "dev", "saas:identity.mfa"),
    ("identity-bad-plan", {"saas:identity": {"featurePlan": "LITE"}}, "dev", "saas:identity.featurePlan"),
    ("identity-bad-sms-role", {"saas:identity": {"smsRoleArn": "sms-role"}}, "dev", "saas:identity.smsRoleArn"),
    ("identity-typo", {"saas:identity": {"mfaa": "ON"}}, "dev", "saas:identity.mfaa"),
    ("prod-mfa-optional", {**PROD, "saas:identity": {"mfa": "OPTIONAL"}}, "prod", "saas:identity.mfa"),
    ("prod-protect-false", {**PROD, "saas:protect": "false"}, "prod", "saas:protect"),
    ("prod-retention-missing", {**PROD, "saas:retentionDays": None}, "prod", "saas:retentionDays"),
    ("retention-zero", {"saas:retentionDays": "0"}, "dev", "saas:retentionDays"),
    ("retention-not-a-number", {"saas:retentionDays": "seven"}, "dev", "saas:retentionDays"),
    ("protect-not-bool", {"saas:protect": "maybe"}, "dev", "saas:protect"),
    ("alarms-missing", {"saas:alarms": None}, "dev", "saas:alarms"),
    ("alarms-bad-email", {"saas:alarms": {"email": "oncall"}}, "dev", "saas:alarms.email"),
    ("unknown-top-level-key", {"saas:tenantz": [{"id": "acme"}]}, "dev", "saas:tenantz"),
    ("region-missing", {"aws:region": None}, "dev", "aws:region"),
    ("region-bad", {"aws:region": "singapore"}, "dev", "aws:region"),
    (
        "msk-both-sources",
        {
            "saas:msk": {
                "create": True,
                "topics": ["t"],
                "clusterArn": "arn:aws:kafka:ap-southeast-1:123456789012:cluster/c/"
                "0123abcd-0123-4abc-8def-0123456789ab-1",
            }
        },
        "dev",
        "saas:msk.create",
    ),
    ("msk-no-source", {"saas:msk": {"topics": ["t"]}}, "dev", "saas:msk.create"),
    ("msk-create-in-prod", {**PROD, "saas:msk": {"create": True, "topics": ["t"]}}, "prod", "saas:msk.create"),
    (
        "msk-bad-arn",
        {"saas:msk": {"clusterArn": "arn:aws:kafka:cluster", "topics": ["t"]}},
        "dev",
        "saas:msk.clusterArn",
    ),
    (
        "msk-wrong-region",
        {
            "saas:msk": {
                "clusterArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/c/0123abcd-0123-4abc-8def-0123456789ab-1",
                "topics": ["t"],
                "network": MSK_NETWORK,
            }
        },
        "dev",
        "saas:msk.clusterArn",
    ),
    (
        "msk-network-missing",
        {
            "saas:msk": {
                "clusterArn": "arn:aws:kafka:ap-southeast-1:123456789012:cluster/c/"
                "0123abcd-0123-4abc-8def-0123456789ab-1",
                "topics": ["t"],
            }
        },
        "dev",
        "saas:msk.network",
    ),
    (
        "msk-network-bad-subnet",
        {
            "saas:msk": {
                "clusterArn": "arn:aws:kafka:ap-southeast-1:123456789012:cluster/c/"
                "0123abcd-0123-4abc-8def-0123456789ab-1",
                "topics": ["t"],
                "network": {
                    **MSK_NETWORK,
                    "subnetIds": ["sn-1"],
                },
            }
        },
        "dev",
        "saas:msk.network.subnetIds[0]",
    ),
    (
        "msk-network-with-create",
        {
            "saas:msk": {
                "create": True,
                "topics": ["t"],
                "network": MSK_NETWORK,
            }
        },
        "dev",
        "saas:msk.network",
    ),
    ("msk-bad-topic", {"saas:msk": {"create": True, "topics": ["bad topic"]}}, "dev", "saas:msk.topics[0]"),
    ("msk-duplicate-topics", {"saas:msk": {"create": True, "topics": ["a", "a"]}}, "dev", "saas:msk.topics"),
    ("name-prefix-bad", {"saas:namePrefix": "-x"}, "dev", "saas:namePrefix"),
    ("reserved-tag", {"saas:tags": {"saas:owner": "me"}}, "dev", "saas:tags"),
    (
        "api-jwks-max-stale-over-a-day",
        {
            "saas:api": {
                "services": {"leave": "arn:aws:lambda:ap-southeast-1:123456789012:function:OptimalHR-leave"},
                "jwksMaxStaleSeconds": 172800,
            }
        },
        "dev",
        "saas:api.jwksMaxStaleSeconds",
    ),
]


@pytest.mark.parametrize(("overrides", "stack", "key"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_file_and_key(overrides: dict[str, Any], stack: str, key: str) -> None:
    with pytest.raises(StackConfigError) as info:
        load_stack_config(base(**overrides), stack)
    message = str(info.value)
    assert message.startswith(f"Pulumi.{stack}.yaml is invalid")
    assert f"{key}: " in message, message
    assert key in info.value.keys


def test_every_bad_key_is_reported_in_one_message() -> None:
    overrides = {
        "saas:environment": "prod",
        "saas:tenants": [{"id": "Acme"}, {"id": "system"}],
        "saas:identity": {"mfa": "OPTIONAL"},
        "saas:protect": "false",
        "saas:retentionDays": None,
        "saas:bogus": "1",
    }
    with pytest.raises(StackConfigError) as info:
        load_stack_config(base(**overrides), "prod")
    assert info.value.keys == [
        "saas:tenants[0].id",
        "saas:tenants[1].id",
        "saas:identity.mfa",
        "saas:retentionDays",
        "saas:protect",
        "saas:bogus",
    ]
    assert "\n" not in str(info.value), "the error is one paragraph"


def test_physical_name_limit_is_checked_up_front() -> None:
    # 20-char prefix + 31-char tenant + "-TenantAdminRole-Staging" = 75 > 64 (IAM role name limit)
    with pytest.raises(StackConfigError) as info:
        load_stack_config(
            base(
                **{
                    "saas:environment": "staging",
                    "saas:namePrefix": "P" * 20,
                    "saas:tenants": [{"id": "acme"}, {"id": "a" * 31}],
                }
            ),
            "staging",
        )
    assert info.value.keys == ["saas:tenants[1].id"]
    assert "IAM role name" in str(info.value)
    assert "AWS allows 64" in str(info.value)


def test_longest_role_name_is_the_binding_limit() -> None:
    # "AIML-SaaS-" (10) + tenant + "-TenantAdminRole-Staging" (24): a 30-char id gives exactly 64, IAM's maximum
    cfg = load_stack_config(base(**{"saas:environment": "staging", "saas:tenants": [{"id": "a" * 30}]}), "staging")
    assert cfg.tenant_ids == ["a" * 30]
    with pytest.raises(StackConfigError) as info:
        load_stack_config(base(**{"saas:environment": "staging", "saas:tenants": [{"id": "a" * 31}]}), "staging")
    assert info.value.keys == ["saas:tenants[0].id"]
    assert "65 characters long; AWS allows 64" in str(info.value)


def test_defaults_are_the_strict_ones() -> None:
    cfg = load_stack_config(base(**{"saas:identity": {}, "saas:protect": None, "saas:retentionDays": None}), "dev")
    assert cfg.identity.mfa == "ON"
    assert cfg.identity.mode == "own"
    assert cfg.protect is True
    assert cfg.retention_days == 7
    assert cfg.name_prefix == "AIML-SaaS"
    assert cfg.tenants[0].tier == "standard"


def test_dev_may_relax_explicitly() -> None:
    cfg = load_stack_config(base(**{"saas:identity": {"mfa": "OPTIONAL"}, "saas:protect": "false"}), "dev")
    assert cfg.identity.mfa == "OPTIONAL"
    assert cfg.protect is False


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_committed_stack_files_are_valid(stack: str) -> None:
    cfg = load_stack_config(load_project_config(ROOT, stack).values, stack)
    assert cfg.environment == stack
    assert {"acme", "globex"} <= set(cfg.tenant_ids)
    if stack == "prod":
        assert (cfg.identity.mfa, cfg.protect, cfg.identity.mode) == ("ON", True, "own")
    if stack == "staging":
        assert (cfg.identity.mode, cfg.identity.source_stack) == ("shared", "organization/saas/prod")


@pytest.mark.parametrize(
    ("overrides", "stack", "key"), [c[1:] for c in BAD_CONFIGS[:24]], ids=[c[0] for c in BAD_CONFIGS[:24]]
)
def test_bad_stack_file_registers_nothing(overrides: dict[str, Any], stack: str, key: str) -> None:
    """Through the real program: the error surfaces before any resource reaches the engine."""
    mocks = RecordingAwsMocks(region="ap-southeast-1")
    stack_overrides = {
        k: (json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v) for k, v in base(**overrides).items()
    }
    stack_overrides |= {k: None for k in base() if k not in stack_overrides}
    with pytest.raises(pulumi.RunError) as info:  # StackConfigError, or the CLI's own typed-key check
        run_program(ROOT, stack, config=_as_yaml_values(stack_overrides), mocks=mocks)
    assert f"Pulumi.{stack}.yaml" in str(info.value)
    assert f"'{key}'" in str(info.value) or f"{key}: " in str(info.value), str(info.value)
    assert mocks.registered == [], [r.typ for r in mocks.registered]


def _as_yaml_values(values: dict[str, Any]) -> dict[str, Any]:
    """Stack-file values as YAML would hold them (booleans and ints typed, so the CLI's type checks pass)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value == "true":
            out[key] = True
        elif value == "false":
            out[key] = False
        elif isinstance(value, str) and value.isdigit():
            out[key] = int(value)
        else:
            out[key] = value
    return out
