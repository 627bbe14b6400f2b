"""Environment quotas of the fleet (saas_platform.components.fleet_quotas): the sum over every stack of an
environment after the offline plan, the refusal up front from the stack files, and the estimate against a real
plan of a small environment (dev plus a generated cell)."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from saas_platform.components import fleet, fleet_quotas
from saas_platform.components.testing.plan import Planner, StackPlan
from saas_platform.policies.quotas import usage
from tests.conftest import ROOT
from tests.test_fleet import FIXTURE, cli, program, snapshot

USER_POOL = "aws:cognito/userPool:UserPool"


def rows(types: list[str]) -> list[dict[str, Any]]:
    """A stack plan's ``quotas`` rows, as the planner writes them."""
    return [{"quota": u.quota.key, "used": u.used, "limit": u.limit, "exceeded": u.exceeded} for u in usage(types)]


def record(root: Path, stack: str, increases: dict[str, int]) -> None:
    path = root / "policies" / "config" / f"{stack}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"quota-headroom": increases}))


# ---- the sum after planning -------------------------------------------------------------------------------------


def test_a_quota_under_80_percent_in_every_stack_but_over_it_summed_fails(tmp_path: Path) -> None:
    root = program(tmp_path)  # prod, prod-cell-01, prod-cell-02
    env = fleet.discover_stacks(root, "prod")
    plans = {
        "prod": StackPlan("prod", quotas=rows([USER_POOL] * 310)),
        "prod-cell-01": StackPlan("prod-cell-01", quotas=rows([USER_POOL] * 300)),
        "prod-cell-02": StackPlan("prod-cell-02", quotas=rows([USER_POOL] * 290)),
    }
    for plan in plans.values():  # each stack alone passes its own quota-headroom rule
        assert not any(r["exceeded"] for r in plan.quotas)

    report = fleet_quotas.check_environment(env, plans)

    assert report.exit_code == 1
    [message] = report.violations
    assert message.startswith("environment prod: Cognito user pools per Region: its 3 stacks create 900 together")
    assert "(prod 310, prod-cell-01 300, prod-cell-02 290)" in message
    assert "over 80% of the quota 1000 (the AWS default; no increase recorded in policies/config/prod.json)" in message
    assert '"quota-headroom": {"userPools": <new quota>}' in message
    assert "another account or Region" in message
    assert not report.missing


def test_the_environment_reads_the_increase_recorded_for_the_platform_stack(tmp_path: Path) -> None:
    root = program(tmp_path)
    env = fleet.discover_stacks(root, "prod")
    plans = {s: StackPlan(s, quotas=rows([USER_POOL] * 300)) for s in env.stacks}
    record(root, "prod-cell-01", {"userPools": 5000})  # a cell's record is that cell's rule only
    report = fleet_quotas.check_environment(env, plans)
    assert report.exit_code == 1
    assert any("prod-cell-01.json records userPools 5000" in n for n in report.notes)

    record(root, "prod", {"userPools": 2000, "enforcementLevel": "mandatory"})  # type: ignore[dict-item]
    report = fleet_quotas.check_environment(env, plans)
    assert report.exit_code == 0
    [pools] = [u for u in report.usage if u.quota.key == "userPools"]
    assert (pools.used, pools.limit, pools.recorded) == (900, 2000, True)
    assert any(line.startswith("  Cognito user pools per Region     900    2000*") for line in report.lines())


def test_a_stack_that_did_not_plan_makes_the_sum_a_floor(tmp_path: Path) -> None:
    env = fleet.discover_stacks(program(tmp_path), "prod")
    plans = {
        "prod": StackPlan("prod", quotas=rows([USER_POOL] * 850)),
        "prod-cell-01": StackPlan("prod-cell-01", error="program failed"),
    }
    report = fleet_quotas.check_environment(env, plans)
    assert report.missing == ("prod-cell-01", "prod-cell-02")
    assert report.exit_code == 1  # what did plan is already over
    assert "partial: 2 stack(s) not planned" in "\n".join(report.lines())


def test_plan_json_without_quota_rows_is_counted_from_its_types(tmp_path: Path) -> None:
    env = fleet.discover_stacks(program(tmp_path), "prod")
    doc = {"summary": {"resources": 900, "byType": {USER_POOL: 900}}, "quotas": []}
    report = fleet_quotas.check_environment(env, {"prod": doc})
    assert [u.used for u in report.usage if u.quota.key == "userPools"] == [900]
    assert report.exit_code == 1


OFFLINE_MAIN = '''"""Like the fleet fixture program, plus one API Gateway usage plan per tenant (a counted quota); the
platform exports the id of the process that planned it, and each cell reads it through a StackReference."""
import os

import pulumi
import pulumi_aws as aws

from saas_platform.components.config import stack_config_from_pulumi
from saas_platform.components.naming import tags

config = stack_config_from_pulumi()
for t in config.tenant_ids:
    aws.apigateway.UsagePlan(f"{t}-plan", name=f"{t}-plan", tags=tags(config.environment, "UsagePlan", tenant=t))
pulumi.export("tenants", config.tenant_ids)
if pulumi.get_stack() == "prod":
    pulumi.export("plannedBy", os.getpid())
else:
    platform = pulumi.StackReference(f"organization/{pulumi.get_project()}/prod")
    pulumi.export("platformPlannedBy", platform.get_output("plannedBy"))
'''


def test_offline_preview_fails_an_environment_over_80_percent_summed(tmp_path: Path) -> None:
    """prod records usagePlans 6: prod alone (2 plans, 33%) and each cell pass, the 5 together (83%) do not."""
    root = program(tmp_path)
    (root / "__main__.py").write_text(OFFLINE_MAIN)
    record(root, "prod", {"usagePlans": 6})
    plans = tmp_path / "plans"
    code, out = cli(root, "preview", "--env", "prod", "--offline", "--parallel", "2", "--json-dir", str(plans))
    assert code == 1, out
    assert out.splitlines()[-1] == "3 succeeded"
    assert (
        "error: environment prod: API Gateway usage plans per Region: its 3 stacks create 5 together "
        "(prod 2, prod-cell-01 2, prod-cell-02 1), over 80% of the quota 6 (the increase recorded in "
        "policies/config/prod.json)"
    ) in out
    # the platform was planned once: every cell read the outputs of prod's own process, not a re-plan in its own
    platform = json.loads((plans / "stack-outputs" / "prod.json").read_text())["prod"]
    assert platform["tenants"] == ["acme", "globex"]
    for cell in ("prod-cell-01", "prod-cell-02"):
        outputs = json.loads((plans / f"{cell}.json").read_text())["outputs"]
        assert outputs["platformPlannedBy"] == platform["plannedBy"], cell


# ---- refused up front -------------------------------------------------------------------------------------------


def add_cell(root: Path, number: int, tenants: int, access: dict[str, Any] | None = None) -> Path:
    doc = yaml.safe_load((FIXTURE / "Pulumi.prod-cell-01.yaml").read_text())
    doc["config"]["saas:tenants"] = [{"id": f"c{number}t{i:04d}", "tier": "basic"} for i in range(tenants)]
    if access is not None:
        doc["config"]["saas:access"] = access
    path = root / f"Pulumi.prod-cell-{number:02d}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_preview_is_refused_before_anything_runs_when_the_pools_cannot_fit(tmp_path: Path) -> None:
    """6 pools in the fixture's 3 stacks (5 tenants, the platform's system tenant) + 995 in cell 03: 1,001."""
    root = program(tmp_path)
    add_cell(root, 3, 995, access={"mode": "abac"})
    for args in (("preview", "--env", "prod"), ("preview", "--env", "prod", "--offline"), ("up", "--env", "prod")):
        code, out = cli(root, *args, "--yes")  # _no_automation: nothing may be previewed or deployed
        assert code == 2, out
        assert out.startswith(
            "error: refused before planning prod: Cognito user pools per Region: the 4 stack "
            "files of prod (1000 tenants) need at least 1001 (prod-cell-03 995, prod 3, "
            "prod-cell-01 2, 1 more stack; from Pulumi.prod-cell-03.yaml, Pulumi.prod.yaml, "
            "Pulumi.prod-cell-01.yaml and 1 more stack file), more than the 1000 the account can "
            "have (the AWS default; no increase recorded in policies/config/prod.json)"
        ), out
        assert "Way out: request an increase (https://docs.aws.amazon.com/cognito/" in out
        assert '{"quota-headroom": {"userPools": <new quota>}} in policies/config/prod.json' in out
        assert "or put further cells in another account or Region" in out
        assert "Cognito identity pools per Region" in out  # the same count of identity pools
        assert "IAM roles" not in out  # ABAC: 664 tenant roles + 38 trigger roles + 3 system roles fit
    assert not (root / "plans").exists()

    record(root, "prod", {"userPools": 2000, "identityPools": 2000})
    assert fleet_quotas.refusals(fleet.discover_stacks(root, "prod")) == []


def test_per_tenant_roles_are_refused_by_the_iam_role_quota(tmp_path: Path) -> None:
    root = program(tmp_path)
    add_cell(root, 3, 500)  # perTenant: 1,000 tenant roles
    code, out = cli(root, "preview", "--env", "prod")
    assert code == 2
    # 1,010 tenant roles + 3 system roles (platform) + 2 trigger roles per shard of 33 pools: 2 + 2 + 2 + 32
    assert "IAM roles per account: the 4 stack files of prod (505 tenants) need at least 1051" in out
    assert "Cognito" not in out


def test_onboard_is_refused_when_the_new_tenant_would_not_fit_and_writes_nothing(tmp_path: Path) -> None:
    root = program(tmp_path)
    add_cell(root, 3, 994, access={"mode": "abac"})  # exactly 1,000 pools: still fits
    assert fleet_quotas.refusals(fleet.discover_stacks(root, "prod")) == []
    before = snapshot(root)
    code, out = cli(root, "onboard", "newco", "--env", "prod", "--yes")
    assert code == 2
    assert "need at least 1001" in out
    assert "Pulumi.prod-cell-01.yaml" in out  # where newco would go
    assert snapshot(root) == before


# ---- the estimate against a real plan ---------------------------------------------------------------------------

TENANT_DRIVEN = {
    "saas:access:TenantAccess",
    "saas:access:SharedTenantAccess",
    "saas:access:SystemAccess",
    "saas:identity:CognitoTriggers",
}


def small_environment(tmp_path: Path) -> Path:
    """dev (2 tenants, per-tenant roles; no MSK, jobs or API, to plan in seconds) and a generated cell of 7 ABAC
    tenants, in a copy of the program."""
    root = tmp_path / "env"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, root / name)
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for key in ("saas:msk", "saas:jobs", "saas:api"):
        dev["config"].pop(key)
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    cell = {k: v for k, v in dev["config"].items() if k != "saas:tenants"}
    cell["saas:tenants"] = [{"id": f"cell{i:02d}", "tier": "standard"} for i in range(7)]
    cell["saas:access"] = {"mode": "abac"}
    cell["saas:cell"] = {"platformStack": "organization/saas/dev", "api": False}  # dev here has no saas:api
    (root / "Pulumi.dev-cell-01.yaml").write_text(yaml.safe_dump({"config": cell}, sort_keys=False))
    return root


def planned_counts(plan: StackPlan) -> dict[str, int]:
    assert plan.run is not None, plan.error
    by_urn = plan.run.by_urn()

    def driven(urn: str | None) -> bool:
        while urn in by_urn:
            if by_urn[urn].type in TENANT_DRIVEN:
                return True
            urn = by_urn[urn].parent
        return False

    types = Counter(r.type for r in plan.run.resources)
    return {
        "userPools": types[USER_POOL],
        "identityPools": types["aws:cognito/identityPool:IdentityPool"],
        "policyStores": types["aws:verifiedpermissions/policyStore:PolicyStore"],
        "iamRoles": sum(1 for r in plan.run.resources if r.type == "aws:iam/role:Role" and driven(r.parent)),
    }


def test_the_estimate_matches_a_real_plan_of_dev_and_a_cell_exactly(tmp_path: Path) -> None:
    root = small_environment(tmp_path)
    env = fleet.discover_stacks(root, "dev")
    assert env.stacks == ("dev", "dev-cell-01")
    planner = Planner(root, None)
    for stack in env.stacks:
        estimate = fleet_quotas.estimate_stack(fleet_quotas.stack_shape(env, stack))
        assert estimate == planned_counts(planner.plan(stack)), stack
    cell = fleet_quotas.estimate_stack(fleet_quotas.stack_shape(env, "dev-cell-01"))
    # spelled out: 7 ABAC tenants in shards of 3 -> 3 shards, 2 roles each; one trigger shard, 2 roles
    assert cell == {
        "userPools": 7,
        "identityPools": 7,
        "policyStores": 7,
        "iamRoles": 2 * math.ceil(7 / 3) + 2,  # no system tenant in a cell: its roles are the platform's
    }
    totals = {u.quota.key: u.used for u in fleet_quotas.estimate_environment(env)}
    assert totals["userPools"] == 3 + 7


@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_the_estimate_follows_the_access_mode(tmp_path: Path, mode: str) -> None:
    root = program(tmp_path)
    add_cell(root, 3, 10, access={"mode": mode})
    env = fleet.discover_stacks(root, "prod")
    roles = fleet_quotas.estimate_stack(fleet_quotas.stack_shape(env, "prod-cell-03"))["iamRoles"]
    assert roles == (20 if mode == "perTenant" else 8) + 2  # tenant roles, one trigger shard (system: platform)


def test_known_outputs_answer_a_stack_reference_without_planning_that_stack() -> None:
    """What a cell's process gets from ``--stack-outputs``: staging's reference to prod is answered from the
    given outputs, and prod is never planned."""
    planner = Planner(ROOT, None, known_outputs={"prod": {"identity": {"version": 1}}})
    assert planner.reference_outputs("staging") == {"organization/saas/prod": {"identity": {"version": 1}}}
    assert "prod" not in planner.plans
