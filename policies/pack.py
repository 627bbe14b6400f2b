"""The policy pack's contents: its name, every policy, and the defaults. Definitions only.

``policies/__main__.py`` is the only place that builds ``PolicyPack`` (its constructor serves gRPC and
blocks). The offline plan evaluates the same list through pulumi-policy's analyzer
(``saas_platform.policies.offline.evaluate_run``). Add a rule module's ``POLICIES`` list here to ship it.
"""

from __future__ import annotations

from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from saas_platform.policies import (
    access,
    audit,
    authorization,
    buckets,
    iam_headroom,
    identity,
    jobs,
    logs,
    msk,
    quotas,
    service_authorization,
    storage,
    tagging,
)

PACK_NAME: Final = "saas-guardrails"
DEFAULT_ENFORCEMENT: Final = EnforcementLevel.MANDATORY
"""Fail closed: a rule that does not say otherwise blocks the deployment."""

POLICIES: Final[list[Policy]] = [
    *authorization.POLICIES,
    *identity.POLICIES,
    *access.POLICIES,
    *iam_headroom.POLICIES,
    *storage.POLICIES,
    *tagging.POLICIES,
    *quotas.POLICIES,
    *buckets.POLICIES,
    *msk.POLICIES,
    *jobs.POLICIES,
    *service_authorization.POLICIES,
    *logs.POLICIES,
    *audit.POLICIES,
]

INITIAL_CONFIG: Final[dict[str, Any]] = {}
