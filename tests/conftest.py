"""Shared fixtures: the repository root and a mocks class that records every registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.testing.mocks import AwsMocks

ROOT = Path(__file__).resolve().parent.parent


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
