"""The fleet tool (saas_platform.components.fleet): waves, bounded parallelism, stop on the first failure, the prod
guard, onboard/offboard on stack files, the admin user (moto), and the offline form on a tiny fixture program.

The Automation API is replaced by a stand-in workspace: a factory returning fake stacks that record every
preview/up (and what the stack file said at that moment) and fail on demand.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from saas_platform.components import fleet
from saas_platform.components.stack_file import StackFileError, add_tenant, remove_tenant, set_tenant_field
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "fleet_program"
REGION = "ap-southeast-1"


# ---- the stand-in workspace -----------------------------------------------------------------------------------


@dataclass
class Call:
    stack: str
    op: str
    started: float
    ended: float = 0.0
    file_text: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


class World:
    """Fake Automation API: ``factory`` hands out :class:`FakeStack`s; every call is recorded."""

    def __init__(
        self,
        program_dir: Path,
        *,
        fail: set[tuple[str, str]] | None = None,
        violate: set[tuple[str, str]] | None = None,
        delay: float = 0.0,
        outputs: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.program_dir = program_dir
        self.fail = fail or set()
        self.violate = violate or set()
        self.delay = delay
        self.stack_outputs = outputs or {}
        self.calls: list[Call] = []
        self.selected: list[tuple[str, bool]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def factory(self, stack: str, work_dir: Path, create: bool) -> FakeStack:
        assert work_dir == self.program_dir.resolve()
        self.selected.append((stack, create))
        return FakeStack(stack, self)

    def ops(self) -> list[tuple[str, str]]:
        return [(c.stack, c.op) for c in sorted(self.calls, key=lambda c: c.started)]

    def run(self, stack: str, op: str, kwargs: dict[str, Any]) -> Any:
        text = (self.program_dir / f"Pulumi.{stack}.yaml").read_text()
        call = Call(stack, op, time.perf_counter(), file_text=text, kwargs=kwargs)
        with self._lock:
            self.calls.append(call)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            kwargs["on_output"](f"{op} of {stack}")
            if (stack, op) in self.violate:
                event = SimpleNamespace(
                    policy_event=SimpleNamespace(
                        enforcement_level="mandatory", policy_name="required-tags", message="no tags"
                    )
                )
                kwargs["on_event"](event)
                raise RuntimeError(f"code: 255\nstderr: error: {op} failed: policy violations")
            if (stack, op) in self.fail:
                time.sleep(self.delay / 4)
                raise RuntimeError(f"code: 255\nstderr: error: {op} of {stack} failed on purpose")
            time.sleep(self.delay)  # a success takes ``delay``, a failure a quarter of it
            changes = {"same": 10, "update": 1}
            if op == "preview":
                return SimpleNamespace(change_summary=changes)
            return SimpleNamespace(summary=SimpleNamespace(resource_changes=changes))
        finally:
            call.ended = time.perf_counter()
            with self._lock:
                self.active -= 1


class FakeStack:
    """What ``fleet.StackHandle`` asks of ``pulumi.automation.Stack``."""

    def __init__(self, name: str, world: World) -> None:
        self.name = name
        self.world = world

    def preview(self, **kwargs: Any) -> Any:
        return self.world.run(self.name, "preview", kwargs)

    def up(self, **kwargs: Any) -> Any:
        return self.world.run(self.name, "up", kwargs)

    def refresh(self, **kwargs: Any) -> Any:
        self.world.calls.append(Call(self.name, "refresh", time.perf_counter()))
        return None

    def outputs(self) -> dict[str, Any]:
        return {
            k: SimpleNamespace(value=v, secret=False) for k, v in self.world.stack_outputs.get(self.name, {}).items()
        }


def program(tmp_path: Path, cells: int | None = None) -> Path:
    """A copy of the fixture program (prod: platform + 2 cells); ``cells``: make exactly that many prod cells."""
    root = tmp_path / "program"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    if cells is not None:
        template = (root / "Pulumi.prod-cell-01.yaml").read_text()
        for old in root.glob("Pulumi.prod-cell-*.yaml"):
            old.unlink()
        for n in range(1, cells + 1):
            (root / f"Pulumi.prod-cell-{n:02d}.yaml").write_text(
                template.replace("initech", f"initech{n}").replace("umbrella", f"umbrella{n}")
            )
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("Pulumi.*.yaml"))}


def runner(env: fleet.EnvironmentStacks, world: World, lines: list[str] | None = None) -> fleet.AutomationRunner:
    sink = lines.append if lines is not None else (lambda _line: None)
    return fleet.AutomationRunner(env, world.factory, [], echo=sink)


def cli(root: Path, *args: str, world: World | None = None, **kw: Any) -> tuple[int, str]:
    lines: list[str] = []
    factory = world.factory if world is not None else _no_automation
    code = fleet.main([*args, "--program-dir", str(root)], factory=factory, write=lines.append, **kw)
    return code, "\n".join(lines)


def _no_automation(stack: str, work_dir: Path, create: bool) -> fleet.StackHandle:
    raise AssertionError("the Automation API must not be used here")


# ---- stacks and waves -------------------------------------------------------------------------------------------


def test_stacks_of_an_environment_are_its_platform_file_and_cells_in_number_order(tmp_path: Path) -> None:
    for name in ("prod", "prod-cell-10", "prod-cell-02", "prod-cellar", "prod-cell-1", "staging-cell-01", "dev"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    env = fleet.discover_stacks(tmp_path, "prod")
    assert env.platform == "prod"
    assert env.cells == ("prod-cell-02", "prod-cell-10")
    assert env.stacks == ("prod", "prod-cell-02", "prod-cell-10")
    assert env.tenant_stacks == ("prod-cell-02", "prod-cell-10")
    assert env.next_cell() == "prod-cell-11"
    assert env.waves() == [("prod",), ("prod-cell-02",), ("prod-cell-10",)]
    dev = fleet.discover_stacks(tmp_path, "dev")
    assert (dev.cells, dev.tenant_stacks, dev.waves(), dev.next_cell()) == ((), ("dev",), [("dev",)], "dev-cell-01")
    with pytest.raises(fleet.FleetError, match=r"no Pulumi\.staging\.yaml"):
        fleet.discover_stacks(tmp_path, "staging")
    with pytest.raises(fleet.FleetError, match="unknown environment 'qa'"):
        fleet.discover_stacks(tmp_path, "qa")


def test_up_runs_the_platform_then_the_canary_then_the_rest(tmp_path: Path) -> None:
    root = program(tmp_path, cells=4)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, delay=0.02)
    report = fleet.rollout(env, runner(env, world).up, parallel=4)
    assert report.exit_code == 0
    assert report.succeeded == ["prod", "prod-cell-01", "prod-cell-02", "prod-cell-03", "prod-cell-04"]
    by_stack = {c.stack: c for c in world.calls}
    assert by_stack["prod"].ended <= by_stack["prod-cell-01"].started
    rest = [by_stack[f"prod-cell-0{n}"] for n in (2, 3, 4)]
    assert all(by_stack["prod-cell-01"].ended <= c.started for c in rest)
    assert {op for _, op in world.ops()} == {"up"}


def test_without_cells_the_platform_stack_is_the_whole_rollout(tmp_path: Path) -> None:
    root = program(tmp_path, cells=0)
    env = fleet.discover_stacks(root, "prod")
    world = World(root)
    report = fleet.rollout(env, runner(env, world).preview)
    assert (report.succeeded, world.ops()) == (["prod"], [("prod", "preview")])


def test_parallelism_is_bounded(tmp_path: Path) -> None:
    root = program(tmp_path, cells=8)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, delay=0.1)
    report = fleet.rollout(env, runner(env, world).preview, parallel=3)
    assert report.exit_code == 0
    assert len(report.succeeded) == 9
    assert world.max_active == 3  # 7 stacks after the canary, 3 at a time: bounded, and really parallel


def test_the_first_failure_stops_the_rollout(tmp_path: Path) -> None:
    root = program(tmp_path, cells=6)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, fail={("prod-cell-03", "up")})
    report = fleet.rollout(env, runner(env, world).up, parallel=1)
    assert world.ops() == [("prod", "up"), ("prod-cell-01", "up"), ("prod-cell-02", "up"), ("prod-cell-03", "up")]
    assert report.succeeded == ["prod", "prod-cell-01", "prod-cell-02"]
    assert report.failed == ["prod-cell-03"]
    assert report.not_started == ["prod-cell-04", "prod-cell-05", "prod-cell-06"]
    assert report.exit_code == 2
    table = report.table()
    assert "up of prod-cell-03 failed on purpose" in table
    assert table.endswith(
        "3 succeeded, 1 failed (prod-cell-03), 3 not started (prod-cell-04, prod-cell-05, prod-cell-06)"
    )


def test_a_failed_canary_starts_nothing_else(tmp_path: Path) -> None:
    root = program(tmp_path, cells=3)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, fail={("prod-cell-01", "preview")})
    report = fleet.rollout(env, runner(env, world).preview, parallel=4)
    assert world.ops() == [("prod", "preview"), ("prod-cell-01", "preview")]
    assert report.not_started == ["prod-cell-02", "prod-cell-03"]


def test_a_failure_in_the_last_wave_starts_no_new_stack(tmp_path: Path) -> None:
    root = program(tmp_path, cells=7)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, fail={("prod-cell-02", "up")}, delay=0.3)
    report = fleet.rollout(env, runner(env, world).up, parallel=2)
    failed_at = next(c.ended for c in world.calls if c.stack == "prod-cell-02")
    assert all(c.started < failed_at for c in world.calls)  # nothing started after the failure
    assert report.failed == ["prod-cell-02"]
    assert report.not_started == ["prod-cell-04", "prod-cell-05", "prod-cell-06", "prod-cell-07"]
    assert report.succeeded == ["prod", "prod-cell-01", "prod-cell-03"]  # running beside the failure: finished
    assert len(world.calls) + len(report.not_started) == 8


def test_a_mandatory_policy_violation_exits_1(tmp_path: Path) -> None:
    root = program(tmp_path)
    env = fleet.discover_stacks(root, "prod")
    world = World(root, violate={("prod", "preview")})
    report = fleet.rollout(env, runner(env, world).preview)
    assert report.exit_code == 1
    assert report.results[0].error == "mandatory policy violations: required-tags: no tags"


def test_up_in_prod_without_yes_is_refused(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root)
    code, out = cli(root, "up", "--env", "prod", world=world)
    assert code == 2
    assert "refusing to up in prod without --yes" in out
    assert world.calls == []
    assert world.selected == []
    code, out = cli(root, "up", "--env", "prod", "--yes", "--no-policy-pack", world=world)
    assert code == 0, out
    assert world.ops() == [("prod", "up"), ("prod-cell-01", "up"), ("prod-cell-02", "up")]
    assert "3 succeeded" in out


def test_preview_needs_no_yes_and_never_creates_a_stack(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root)
    code, out = cli(root, "preview", "--env", "prod", "--no-policy-pack", world=world)
    assert code == 0, out
    assert world.selected == [("prod", False), ("prod-cell-01", False), ("prod-cell-02", False)]
    assert "[prod-cell-01] preview of prod-cell-01" in out
    world = World(root)
    assert cli(root, "up", "--env", "prod", "--yes", "--no-policy-pack", world=world)[0] == 0
    assert world.selected == [("prod", False), ("prod-cell-01", True), ("prod-cell-02", True)]  # a new cell is created


def test_refresh_previews_with_a_refresh_and_refreshes_before_up(tmp_path: Path) -> None:
    root = program(tmp_path, cells=1)
    world = World(root)
    assert cli(root, "preview", "--env", "prod", "--refresh", "--no-policy-pack", world=world)[0] == 0
    assert [(c.stack, c.op, c.kwargs.get("refresh")) for c in world.calls] == [
        ("prod", "preview", True),  # pulumi preview --refresh: no state is written by a preview
        ("prod-cell-01", "preview", True),
    ]
    world = World(root)
    assert cli(root, "up", "--env", "prod", "--yes", "--refresh", "--no-policy-pack", world=world)[0] == 0
    assert [(c.stack, c.op) for c in world.calls] == [
        ("prod", "refresh"),
        ("prod", "up"),
        ("prod-cell-01", "refresh"),
        ("prod-cell-01", "up"),
    ]


def test_the_shipped_policy_pack_is_passed_by_default(tmp_path: Path) -> None:
    root = program(tmp_path, cells=0)
    world = World(root)
    assert cli(root, "preview", "--env", "prod", world=world)[0] == 0
    (call,) = world.calls
    (pack,) = call.kwargs["policy_packs"]
    assert (Path(pack) / "PulumiPolicy.yaml").is_file()
    assert call.kwargs["color"] == "never"


def test_prod_onboard_and_offboard_need_yes_too(tmp_path: Path) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    for args in (("onboard", "newco"), ("offboard", "acme")):
        code, out = cli(root, *args, "--env", "prod", world=World(root))
        assert code == 2
        assert "without --yes" in out
    assert snapshot(root) == before


# ---- onboard ------------------------------------------------------------------------------------------------------


def test_onboard_writes_the_first_cell_with_room_and_keeps_comments(tmp_path: Path) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    world = World(root)
    code, out = cli(
        root, "onboard", "newco", "--env", "prod", "--tier", "basic", "--cell-size", "3", "--yes", world=world
    )
    assert code == 0, out
    assert world.ops() == [("prod-cell-01", "preview"), ("prod-cell-01", "up")]
    after = snapshot(root)
    assert {k for k in after if after[k] != before[k]} == {"Pulumi.prod-cell-01.yaml"}
    text = after["Pulumi.prod-cell-01.yaml"].decode()
    assert text == before["Pulumi.prod-cell-01.yaml"].decode().replace(
        "      # umbrella asked for the standard tier\n",
        "      # umbrella asked for the standard tier\n    - id: newco\n      tier: basic\n",
    )
    assert world.calls[0].file_text == text  # the preview saw the new entry
    assert "wrote newco (basic) into Pulumi.prod-cell-01.yaml (3 tenants)" in out


def test_onboard_fills_cells_in_order_and_follows_their_layout(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root)
    env = fleet.discover_stacks(root, "prod")
    assert fleet.onboard(env, runner(env, world), "newco", tier="premium", cell_size=2, echo=lambda _: None) == 0
    text = (root / "Pulumi.prod-cell-02.yaml").read_text()
    assert "  - {id: hooli, tier: premium}   # flow items, indentless list\n  - {id: newco, tier: premium}\n" in text
    assert world.ops() == [("prod-cell-02", "preview"), ("prod-cell-02", "up")]


def test_onboard_without_cells_uses_the_platform_stack(tmp_path: Path) -> None:
    root = program(tmp_path, cells=0)
    env = fleet.discover_stacks(root, "prod")
    world = World(root)
    assert fleet.onboard(env, runner(env, world), "newco", echo=lambda _: None) == 0
    config = yaml.safe_load((root / "Pulumi.prod.yaml").read_text())["config"]
    assert config["saas:tenants"][-1] == {"id": "newco", "tier": "standard"}
    assert "# the first customers" in (root / "Pulumi.prod.yaml").read_text()


def test_onboard_with_no_room_says_how_to_add_a_cell(tmp_path: Path) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    code, out = cli(root, "onboard", "newco", "--env", "prod", "--cell-size", "1", "--yes", world=World(root))
    assert code == 2
    assert "every cell of prod (prod-cell-01, prod-cell-02) holds 1 tenants" in out
    assert "Pulumi.prod-cell-03.yaml" in out
    assert "raise --cell-size" in out
    assert snapshot(root) == before
    no_cells = program(tmp_path / "b", cells=0)
    env = fleet.discover_stacks(no_cells, "prod")
    with pytest.raises(fleet.FleetError, match=r"Pulumi\.prod\.yaml holds 2 tenants .* and prod has no cells"):
        fleet.onboard(env, runner(env, World(no_cells)), "newco", cell_size=2)


@pytest.mark.parametrize("tenant", ["acme", "hooli", "umbrella"])
def test_onboard_refuses_a_duplicate_in_any_stack_of_the_environment(tmp_path: Path, tenant: str) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    world = World(root)
    code, out = cli(root, "onboard", tenant, "--env", "prod", "--yes", world=world)
    assert code == 2
    assert f"tenant {tenant!r} already exists in Pulumi.prod" in out
    assert "--resume" in out
    assert snapshot(root) == before
    assert world.calls == []


@pytest.mark.parametrize("tenant", ["Acme", "a", "system", "new--co", "newco-", "1newco", "new_co"])
def test_onboard_refuses_an_invalid_id_and_writes_nothing(tmp_path: Path, tenant: str) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    world = World(root)
    code, out = cli(root, "onboard", tenant, "--env", "prod", "--yes", world=world)
    assert code == 2
    assert f"invalid tenant {tenant!r}" in out
    assert snapshot(root) == before
    assert world.calls == []


def test_onboard_validates_the_edited_file_before_saving(tmp_path: Path) -> None:
    """The id passes the pattern, but with this stack's name prefix an IAM role name would be too long."""
    root = program(tmp_path)
    cell = root / "Pulumi.prod-cell-01.yaml"
    cell.write_text(cell.read_text() + "  saas:namePrefix: Abcdefghijklmnopqrst\n")
    before = snapshot(root)
    world = World(root)
    code, out = cli(root, "onboard", "a" * 31, "--env", "prod", "--yes", world=world)
    assert code == 2
    assert "Pulumi.prod-cell-01.yaml is invalid" in out
    assert "saas:tenants[2].id" in out
    assert "AWS allows 64" in out
    assert snapshot(root) == before
    assert world.calls == []


def test_onboard_restores_the_file_when_the_preview_fails(tmp_path: Path) -> None:
    root = program(tmp_path)
    before = snapshot(root)
    world = World(root, fail={("prod-cell-01", "preview")})
    code, out = cli(root, "onboard", "newco", "--env", "prod", "--yes", world=world)
    assert code == 2
    assert world.ops() == [("prod-cell-01", "preview")]
    assert "newco" in world.calls[0].file_text  # the preview ran on the edit...
    assert snapshot(root) == before  # ...which was put back
    assert "Pulumi.prod-cell-01.yaml restored, nothing deployed" in out


def test_onboard_keeps_the_entry_when_up_fails_and_resume_finishes_it(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root, fail={("prod-cell-01", "up")})
    code, out = cli(root, "onboard", "newco", "--env", "prod", "--yes", world=world)
    assert code == 2
    assert "--resume" in out
    written = (root / "Pulumi.prod-cell-01.yaml").read_text()
    assert "- id: newco" in written
    world = World(root)
    code, out = cli(root, "onboard", "newco", "--env", "prod", "--yes", "--resume", world=world)
    assert code == 0, out
    assert world.ops() == [("prod-cell-01", "preview"), ("prod-cell-01", "up")]
    assert (root / "Pulumi.prod-cell-01.yaml").read_text() == written  # not written twice
    code, out = cli(root, "onboard", "nobody", "--env", "prod", "--yes", "--resume", world=World(root))
    assert code == 2
    assert "is in no stack file" in out


# ---- the admin user (moto) ------------------------------------------------------------------------------------------


def _tenant_pool(client: Any) -> str:
    return client.create_user_pool(
        PoolName="AIML-SaaS-newco",
        UsernameAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Schema=[
            {"Name": "tenantId", "AttributeDataType": "String", "Mutable": False},
            {"Name": "tenantRole", "AttributeDataType": "String", "Mutable": True},
            {"Name": "environments", "AttributeDataType": "String", "Mutable": True},
        ],
    )["UserPool"]["Id"]


@mock_aws
def test_onboard_creates_the_first_admin_user_idempotently(tmp_path: Path) -> None:
    client = boto3.client("cognito-idp", region_name=REGION)
    pool = _tenant_pool(client)
    root = program(tmp_path)
    regions: list[str] = []

    def cognito(region: str) -> Any:
        regions.append(region)
        return client

    world = World(root, outputs={"prod-cell-01": {"userPoolIds": {"initech": "other", "newco": pool}}})
    args = ("onboard", "newco", "--env", "prod", "--yes", "--admin-email", "admin@newco.example")
    code, out = cli(root, *args, world=world, cognito=cognito)
    assert code == 0, out
    assert f"admin user admin@newco.example created (invitation emailed) in {pool}" in out
    user = client.admin_get_user(UserPoolId=pool, Username="admin@newco.example")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["custom:tenantId"] == "newco"
    assert attributes["custom:tenantRole"] == "admin"
    assert attributes["custom:environments"] == "prod"
    assert attributes["email"] == "admin@newco.example"
    assert regions == ["ap-southeast-1"]

    code, out = cli(root, *args, "--resume", world=World(root, outputs=world.stack_outputs), cognito=cognito)
    assert code == 0, out
    assert "admin user admin@newco.example already exists" in out
    assert len(client.list_users(UserPoolId=pool)["Users"]) == 1


@mock_aws
def test_an_existing_user_of_another_tenant_is_not_success() -> None:
    client = boto3.client("cognito-idp", region_name=REGION)
    pool = _tenant_pool(client)
    assert fleet.ensure_admin_user(client, pool, "a@x.example", "newco", "prod") is True
    assert fleet.ensure_admin_user(client, pool, "a@x.example", "newco", "prod") is False
    with pytest.raises(fleet.FleetError, match="custom:tenantId 'newco', not 'globex'"):
        fleet.ensure_admin_user(client, pool, "a@x.example", "globex", "prod")
    with pytest.raises(fleet.FleetError, match="not an email address"):
        fleet.ensure_admin_user(client, pool, "nope", "newco", "prod")


def test_onboard_without_the_pool_output_creates_no_user(tmp_path: Path) -> None:
    root = program(tmp_path)

    def cognito(region: str) -> Any:
        raise AssertionError("no pool, no Cognito call")

    code, out = cli(
        root,
        "onboard",
        "newco",
        "--env",
        "prod",
        "--yes",
        "--admin-email",
        "a@x.example",
        world=World(root),
        cognito=cognito,
    )
    assert code == 2
    assert "exports no userPoolIds['newco']" in out


# ---- offboard -------------------------------------------------------------------------------------------------------


def _tenants(text: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in yaml.safe_load(text)["config"]["saas:tenants"]}


def test_offboard_suspends_and_deploys_before_it_removes(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root)
    code, out = cli(root, "offboard", "umbrella", "--env", "prod", "--yes", "--remove", world=world)
    assert code == 0, out
    assert world.ops() == [("prod-cell-01", "up"), ("prod-cell-01", "preview"), ("prod-cell-01", "up")]
    suspend, preview, remove = sorted(world.calls, key=lambda c: c.started)
    assert _tenants(suspend.file_text)["umbrella"]["status"] == "suspended"  # deployed first, entry still there
    assert "umbrella" not in _tenants(preview.file_text)
    assert "umbrella" not in _tenants(remove.file_text)
    assert "# Cell 01 of prod: tenants only." in remove.file_text
    passed = {"policy_packs", "policy_pack_configs", "color", "on_output", "on_event"}
    assert set(suspend.kwargs) == set(remove.kwargs) == passed  # nothing that could bypass protect is ever passed
    assert set(preview.kwargs) == passed | {"refresh"}
    assert preview.kwargs["refresh"] is None
    assert out.index("suspended in prod-cell-01") < out.index("removed umbrella from")


def test_offboard_without_remove_only_suspends(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root)
    code, out = cli(root, "offboard", "acme", "--env", "prod", "--yes", world=world)
    assert code == 0, out
    assert world.ops() == [("prod", "up")]
    text = (root / "Pulumi.prod.yaml").read_text()
    assert _tenants(text)["acme"]["status"] == "suspended"
    assert "      tier: standard\n      status: suspended\n    - id: globex           # premium since 2024\n" in text
    assert "--remove" in out


def test_offboard_removes_nothing_when_the_suspension_fails(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root, fail={("prod-cell-01", "up")})
    code, out = cli(root, "offboard", "umbrella", "--env", "prod", "--yes", "--remove", world=world)
    assert code == 2
    assert world.ops() == [("prod-cell-01", "up")]
    assert _tenants((root / "Pulumi.prod-cell-01.yaml").read_text())["umbrella"]["status"] == "suspended"
    assert "nothing was removed" in out


def test_offboard_keeps_a_protected_tenant_suspended_when_removal_is_refused(tmp_path: Path) -> None:
    root = program(tmp_path)
    world = World(root, fail={("prod-cell-01", "preview")})
    code, out = cli(root, "offboard", "umbrella", "--env", "prod", "--yes", "--remove", world=world)
    assert code == 2
    assert world.ops() == [("prod-cell-01", "up"), ("prod-cell-01", "preview")]
    tenants = _tenants((root / "Pulumi.prod-cell-01.yaml").read_text())
    assert tenants["umbrella"]["status"] == "suspended"  # restored: still listed, still suspended
    assert "saas:protect" in out
    assert "pulumi state unprotect --stack prod-cell-01" in out


def test_offboard_of_an_unknown_tenant_is_refused(tmp_path: Path) -> None:
    root = program(tmp_path)
    code, out = cli(root, "offboard", "nobody", "--env", "prod", "--yes", world=World(root))
    assert code == 2
    assert "tenant 'nobody' is in no stack file of prod" in out


# ---- stack-file edits -----------------------------------------------------------------------------------------------

BLOCK = """\
# header comment
config:
  aws:region: eu-west-1   # region
  saas:tenants:
    # first customers
    - id: acme
      displayName: "Acme: Corp"
      tier: standard      # tier note
      # acme note
    - id: globex
      tier: premium
  # about identity
  saas:identity:
    mfa: "ON"
"""


def test_stack_file_edits_touch_only_the_tenant_lines() -> None:
    added = add_tenant(BLOCK, {"id": "newco", "displayName": "New: Co", "tier": "basic"})
    assert added == BLOCK.replace(
        "      tier: premium\n",
        '      tier: premium\n    - id: newco\n      displayName: "New: Co"\n      tier: basic\n',
    )
    suspended = set_tenant_field(BLOCK, "acme", "status", "suspended")
    assert suspended == BLOCK.replace("      # acme note\n", "      status: suspended\n      # acme note\n")
    assert set_tenant_field(suspended, "acme", "status", "active") == suspended.replace(
        "status: suspended", "status: active"
    )
    removed = remove_tenant(BLOCK, "acme")
    assert removed == BLOCK.replace(
        '    - id: acme\n      displayName: "Acme: Corp"\n      tier: standard      # tier note\n      # acme note\n',
        "",
    )
    crlf = BLOCK.replace("\n", "\r\n")
    assert remove_tenant(crlf, "acme") == removed.replace("\n", "\r\n")


def test_stack_file_edits_refuse_what_they_cannot_do_safely() -> None:
    flow = "config:\n  saas:tenants: [{id: acme}, {id: globex}]\n"
    with pytest.raises(StackFileError, match="flow style"):
        add_tenant(flow, {"id": "newco"})
    with pytest.raises(StackFileError, match="only tenant"):
        remove_tenant("config:\n  saas:tenants:\n    - id: acme\n", "acme")
    with pytest.raises(StackFileError, match="no tenant 'nobody'"):
        set_tenant_field(BLOCK, "nobody", "status", "suspended")
    with pytest.raises(StackFileError, match="no saas:tenants list"):
        add_tenant("config:\n  aws:region: eu-west-1\n", {"id": "newco"})


# ---- the offline form -----------------------------------------------------------------------------------------------


def test_offline_preview_runs_each_stack_in_its_own_process_in_waves(tmp_path: Path) -> None:
    """prod, its canary and cell 02 plan in their own processes; cell 02's config is broken, so cell 03 never
    starts. One run of the tiny fixture program (a few seconds), not of the real stacks."""
    root = program(tmp_path, cells=3)
    broken = root / "Pulumi.prod-cell-02.yaml"
    broken.write_text(broken.read_text().replace("retentionDays: 7", "retentionDays: 30"))
    plans = tmp_path / "plans"
    code, out = cli(root, "preview", "--env", "prod", "--offline", "--parallel", "1", "--json-dir", str(plans))
    assert code == 2, out
    assert sorted(p.name for p in plans.glob("*.json")) == ["prod-cell-01.json", "prod-cell-02.json", "prod.json"]
    assert "saas:retentionDays" in out
    last = out.splitlines()[-1]
    assert last == "2 succeeded, 1 failed (prod-cell-02), 1 not started (prod-cell-03)"
    assert "[prod-cell-01] prod-cell-01: clean" in out


@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "new-interpreter"])
def test_the_offline_runner_gives_the_same_results_forked_or_spawned(tmp_path: Path, fork_server: bool) -> None:
    """Both ways of starting a stack's process: a clean stack, a broken one (exit 2 with the config message), and
    the same JSON; each stack in a process of its own (the fixture exports no pid, so compare the plan files)."""
    root = program(tmp_path)
    broken = root / "Pulumi.prod-cell-02.yaml"
    broken.write_text(broken.read_text().replace("retentionDays: 7", "retentionDays: 30"))
    env = fleet.discover_stacks(root, "prod")
    lines: list[str] = []
    with fleet.OfflineRunner(env, tmp_path / "plans", echo=lines.append, fork_server=fork_server) as runner:
        clean, bad = runner.preview("prod"), runner.preview("prod-cell-02")
    assert (clean.status, clean.exit_code) == ("succeeded", 0)
    assert (bad.status, bad.exit_code) == ("failed", 2)
    assert "saas:retentionDays" in (bad.error or "")
    assert any(line.startswith("[prod] prod: clean") for line in lines)
    doc = json.loads((tmp_path / "plans" / "prod.json").read_text())
    assert doc["outputs"]["tenants"] == ["acme", "globex"]


def test_offline_is_preview_only(tmp_path: Path) -> None:
    root = program(tmp_path)
    code, out = cli(root, "up", "--env", "dev", "--offline")
    assert code == 2
    assert "preview only" in out


def test_stacks_lists_waves_and_tenant_counts() -> None:
    code, out = cli(FIXTURE, "stacks", "--env", "prod")
    assert code == 0
    assert out.splitlines() == [
        "wave 1: prod                    2 tenants  Pulumi.prod.yaml",
        "wave 2: prod-cell-01            2 tenants  Pulumi.prod-cell-01.yaml",
        "wave 3: prod-cell-02            1 tenants  Pulumi.prod-cell-02.yaml",
    ]


def test_run_waves_reports_a_crashing_action_as_that_stacks_failure() -> None:
    def action(stack: str) -> fleet.StackResult:
        if stack == "b":
            raise KeyError("boom")
        return fleet.StackResult(stack, "succeeded", 0)

    report = fleet.run_waves([("a",), ("b",), ("c", "d")], action)
    assert [r.status for r in report.results] == ["succeeded", "failed", "not started", "not started"]
    assert report.results[1].error == "KeyError: 'boom'"
    with pytest.raises(fleet.FleetError, match="at least 1"):
        fleet.run_waves([("a",)], action, parallel=0)
