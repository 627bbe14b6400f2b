"""Evaluate this pack offline over a captured run (used by ``scripts/plan`` and the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from saas_platform.components.testing.harness import ProgramRun
from saas_platform.components.testing.policy import PolicyReport, evaluate
from saas_platform.policies.pack import DEFAULT_ENFORCEMENT, INITIAL_CONFIG, PACK_NAME, POLICIES


def evaluate_run(run: ProgramRun, config: Mapping[str, Mapping[str, Any]] | None = None) -> PolicyReport:
    """The pack's verdict on ``run``, as ``pulumi preview --policy-pack policies`` would give it."""
    return evaluate(
        run,
        POLICIES,
        pack_name=PACK_NAME,
        enforcement_level=DEFAULT_ENFORCEMENT,
        initial_config=INITIAL_CONFIG,
        config=config,
    )
