"""Every taggable resource carries the tags cost reports and incident response rely on."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from saas_platform.policies._common import TAGGABLE_TYPES

DEFAULT_REQUIRED_TAGS = ["saas:environment", "saas:component"]


def _required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE_TYPES:
        return
    required = args.get_config().get("requiredTags", DEFAULT_REQUIRED_TAGS)
    tags = args.props.get("tags") or {}
    missing = [t for t in required if not tags.get(t)]
    if missing:
        report_violation(
            f"missing required tags {missing}; components add them via saas_platform.components.naming.tags(...)", None
        )


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry saas:environment and saas:component (configurable: requiredTags).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_required_tags,
    config_schema=PolicyConfigSchema(
        properties={"requiredTags": {"type": "array", "items": {"type": "string"}}},
    ),
)

POLICIES = [required_tags]
