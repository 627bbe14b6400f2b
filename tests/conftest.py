"""Shared fixtures: the repository root, ``run_stack`` (a real stack with the outputs of the stacks it
references) and a mocks class that records every registration."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest

from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.components.testing.plan import Planner

ROOT = Path(__file__).resolve().parent.parent


def _key(config: Mapping[str, Any] | None) -> str:
    return json.dumps(config, sort_keys=True) if config else ""


@functools.cache
def _planner(preview: bool, config_json: str) -> Planner:
    """Plans referenced stacks once per process (outputs only, no policy evaluation), as ``scripts/plan`` does."""
    return Planner(ROOT, None, preview=preview, config=json.loads(config_json) if config_json else None)


def reference_outputs(
    stack: str, preview: bool = False, config: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Outputs of the stacks ``stack``'s config references (staging: ``organization/saas/prod``), secrets
    unwrapped: the ``stack_outputs`` its ``StackReference`` reads. ``config`` overrides apply to those stacks."""
    return _planner(preview, _key(config)).reference_outputs(stack)


@functools.cache
def _run_stack(stack: str, config_json: str, preview: bool, reference_json: str) -> ProgramRun:
    return run_program(
        ROOT,
        stack,
        config=json.loads(config_json) if config_json else None,
        stack_outputs=_planner(preview, reference_json).reference_outputs(stack),
        preview=preview,
    )


def run_stack(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    preview: bool = False,
    reference_config: Mapping[str, Any] | None = None,
) -> ProgramRun:
    """Run ``__main__.py`` with ``Pulumi.<stack>.yaml`` (plus ``config`` overrides) under mocks, feeding every
    referenced stack's planned outputs to its StackReferences (staging reads prod's). ``reference_config``:
    overrides for the referenced stacks (e.g. the same tenants). Cached per arguments: treat the returned run as
    read-only."""
    return _run_stack(stack, _key(config), preview, _key(reference_config))


class RecordingAwsMocks(AwsMocks):
    """AwsMocks that also remember every resource the program asked for (the Stack is not sent here)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        return super().new_resource(args)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def recording_mocks() -> RecordingAwsMocks:
    return RecordingAwsMocks(region="ap-southeast-1")
