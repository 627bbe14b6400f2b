"""Config validation and the policy pack agree on every limit: a stack config the validator accepts plans with
no mandatory violation, and a value the pack would refuse is refused by the config first, naming file and key.

Hypothesis draws configs across the config model's limits (retention up to the promise, tenant ids at their
length limits, tiers, MFA, feature plans, both access layouts) for the dev stack; each draw is a whole offline
plan, so the example count is small and the boundaries are pinned with ``@example``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import run_program
from saas_platform.policies.offline import evaluate_run
from tests.conftest import ROOT

# Each example is a whole dev plan: several minutes on a loaded machine.
pytestmark = [pytest.mark.stack, pytest.mark.timeout(1200)]

TENANT_IDS = st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True).filter(lambda t: t != "system")


@st.composite
def dev_configs(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(TENANT_IDS, min_size=1, max_size=3, unique=True))
    tenants = [{"id": t, "tier": draw(st.sampled_from(["basic", "standard", "premium"]))} for t in ids]
    mode = draw(st.sampled_from(["perTenant", "abac"]))
    access: dict[str, Any] = {"mode": mode}
    if mode == "abac":
        access["tenantsPerRole"] = draw(st.integers(1, 3))
    return {
        "saas:tenants": tenants,
        "saas:retentionDays": draw(st.integers(1, 7)),
        "saas:identity": {
            "mode": "own",
            "mfa": draw(st.sampled_from(["ON", "OPTIONAL"])),
            "featurePlan": draw(st.sampled_from(["ESSENTIALS", "PLUS"])),
        },
        "saas:access": access,
        "saas:protect": draw(st.booleans()),
    }


BOUNDARY = {
    "saas:tenants": [{"id": "a" + "b" * 30, "tier": "basic"}],  # the longest tenant id
    "saas:retentionDays": 7,  # the promise itself
    "saas:identity": {"mode": "own", "mfa": "OPTIONAL", "featurePlan": "PLUS"},
    "saas:access": {"mode": "abac", "tenantsPerRole": 1},
    "saas:protect": False,
}


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(dev_configs())
@example(BOUNDARY)
@example({**BOUNDARY, "saas:retentionDays": 1, "saas:access": {"mode": "perTenant"}, "saas:protect": True})
def test_every_accepted_config_plans_without_mandatory_violations(overrides: dict[str, Any]) -> None:
    run = run_program(ROOT, "dev", config={**overrides, "saas:msk": None})
    report = evaluate_run(run)
    assert [(v.policy, v.message) for v in report.mandatory] == []


@pytest.mark.parametrize("days", [8, 14, 30])
def test_retention_over_the_promise_is_refused_before_the_pack_sees_it(days: int) -> None:
    with pytest.raises(StackConfigError) as info:
        run_program(ROOT, "dev", config={"saas:retentionDays": days})
    assert info.value.stack_file == "Pulumi.dev.yaml"
    assert [key for key, _ in info.value.problems] == ["saas:retentionDays"]
    assert f"{days} days is over the 7-day retention promise" in info.value.problems[0][1]
    assert "s3-lifecycle-covers-data" in info.value.problems[0][1]
