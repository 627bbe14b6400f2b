"""The saas:jobs config section: defaults, and errors that name the stack file and the key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import StackConfigError


def raw(jobs: Any) -> dict[str, Any]:
    return {
        "aws:region": "ap-southeast-1",
        "saas:environment": "dev",
        "saas:tenants": json.dumps([{"id": "acme"}]),
        "saas:alarms": json.dumps({"email": "oncall@example.com"}),
        "saas:protect": "false",
        "saas:jobs": json.dumps(jobs),
    }


def test_empty_section_deploys_every_runner_with_the_defaults() -> None:
    jobs = load_stack_config(raw({}), "dev").jobs
    assert jobs is not None
    assert jobs.runners == [
        "Job-Runner",
        "AttGen-System",
        "AttGen-Tenant",
        "Employee-Earn-AL",
        "CRUD-Item",
        "Tenant-Notification-Dispatcher",
    ]
    assert (jobs.shards, jobs.lease_seconds, jobs.retry_attempts, jobs.max_event_age_seconds) == (4, 300, 3, 300)


def test_absent_section_means_no_system_jobs() -> None:
    cfg = raw({})
    del cfg["saas:jobs"]
    assert load_stack_config(cfg, "dev").jobs is None


@pytest.mark.parametrize(
    ("jobs", "key", "text"),
    [
        ({"shards": 0}, "saas:jobs.shards", "greater than or equal to 1"),
        ({"leaseSeconds": 60}, "saas:jobs.leaseSeconds", "greater than or equal to 90"),
        ({"runners": ["Drop-Tables"]}, "saas:jobs.runners", "unknown runners ['Drop-Tables']"),
        ({"runners": ["AttGen-System"]}, "saas:jobs.runners", "add AttGen-Tenant"),
        ({"runners": []}, "saas:jobs.runners", "at least one runner"),
        ({"shard": 4}, "saas:jobs.shard", "unknown key"),
    ],
)
def test_bad_values_name_the_file_and_key(jobs: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(StackConfigError) as info:
        load_stack_config(raw(jobs), "dev")
    message = str(info.value)
    assert "Pulumi.dev.yaml" in message
    assert key in info.value.keys
    assert text in message
