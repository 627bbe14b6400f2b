"""Offline-plan cost at 10, 100 and 500 synthetic tenants, against the SDK's own floor.

For each tenant count N this runs, each in a fresh subprocess (so peak memory is its own):
  plan  - the real program (`__main__.py`, Pulumi.dev.yaml with N generated tenants, ABAC role layout so 500
          tenants fit the IAM role quota) under the recording mocks,
          plus the policy pack through pulumi-policy's analyzer: what `scripts/plan dev` does;
  floor - the same number of bare resources (aws.sqs.Queue with one tag) registered with the Pulumi SDK's stock
          MockMonitor: the cost no harness can go below.
The system jobs and the tenant API stay in at every size: their IAM documents no longer list tenants
(docs/jobs.md, docs/authorization.md). It prints one row per N with wall time, CPU time (user + system of the process: on a loaded
machine the steadier measure), peak RSS and the plan/floor ratios. Nothing is committed per tenant. The target
is a plan within 2.0x the floor; the figures, before and after the plan-speed work, are in docs/benchmarks.md.

    .venv/bin/python benchmarks/plan_scale.py [--tenants 10 100 500]

``--cells``: the environment in cells. For each N (default 10, 100, 1000, 2000) it writes, in a temporary copy
of the project (``Pulumi.yaml``, ``__main__.py`` and stack files; the package is the installed one), the
platform stack ``Pulumi.dev.yaml`` as it is (its 2 tenants) plus ceil(N / CELL_SIZE) cell stacks
``Pulumi.dev-cell-<NN>.yaml`` holding the N generated tenants (ABAC roles, ``saas:cell``), and ``policies/config/dev.json`` with the quota increases the environment has
recorded (:data:`RECORDED_INCREASES`). Then, in one child process, the fleet's own checks and planner:

  refused up front - ``fleet_quotas.check_refused_up_front``: an environment that needs more than a quota's
          maximum stops here, before anything is planned (the row says why);
  plan  - ``OfflineRunner`` + ``rollout`` as ``fleet preview --env dev --offline --parallel P`` runs them: the
          platform first (its outputs written once, ``plan --outputs``), the canary cell, then the other cells
          P at a time, each stack in its own process whose StackReference to the platform is answered from
          those outputs (``plan --stack-outputs``), never by planning the platform again. Unlike the fleet, a
          stack's mandatory violation does not stop the rollout here (they are counted): every stack is planned;
  onboard - one more tenant written where ``fleet onboard`` would put it, then only that cell planned;
  floor - the summed resource count as bare queues in one process (``child_floor``).

It prints wall time, CPU summed over the plan processes, the largest process's peak RSS, resources, mandatory
violations, the environment's quota usage and the ratios to the floor.

    .venv/bin/python benchmarks/plan_scale.py --cells [--tenants 10 100 1000 2000] [--parallel 2]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _tenants(n: int) -> list[dict[str, str]]:
    tiers = ("basic", "standard", "premium")
    return [{"id": f"t{i:04d}", "displayName": f"Tenant {i}", "tier": tiers[i % 3]} for i in range(n)]


def child_plan(n: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import saas_platform.components.platform  # noqa: F401 - import cost is not plan cost (the floor pre-imports too)
    from saas_platform.components.testing.harness import run_program
    from saas_platform.policies.offline import evaluate_run

    started, cpu_started = time.perf_counter(), time.process_time()
    # ABAC role layout: per-tenant roles stop at 398 tenants (IAM role quota headroom, saas:access.mode). The
    # tenant API, the system jobs and the image pipeline stay as the stack file configures them.
    config: dict[str, object] = {"saas:tenants": _tenants(n), "saas:access": {"mode": "abac"}}
    run = run_program(ROOT, "dev", config=config)
    ran = time.perf_counter()
    report = evaluate_run(run)
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "resources": len(run.resources),
        "run_s": ran - started,
        "policy_s": done - ran,
        "total_s": done - started,
        "cpu_s": cpu_done - cpu_started,
        "mandatory": len(report.mandatory),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    }


def child_floor(count: int) -> dict[str, float]:
    import pulumi
    import pulumi_aws as aws
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, None]:
            return {}, None

    monitor = mocks.MockMonitor(Echo())
    settings.configure(
        mocks.MockSettings(
            monitor=monitor,
            engine=mocks.MockEngine(None),
            project="floor",
            stack="dev",
            dry_run=False,
            organization="organization",
            root_directory=str(ROOT),
            callbacks=None,
            monitor_features=set(),
        )
    )
    settings.ROOT.set(None)
    started, cpu_started = time.perf_counter(), time.process_time()

    def program() -> None:
        for i in range(count):
            aws.sqs.Queue(f"q{i}", tags={"i": str(i)})

    _sync_await(run_in_stack(program))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "resources": count,
        "total_s": elapsed,
        "cpu_s": cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _spawn(kind: str, n: int, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), *extra],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ cells mode

RECORDED_INCREASES: dict[str, int] = {"userPools": 2000, "identityPools": 2000, "iamRoles": 2000}
"""What ``policies/config/dev.json`` records for the environment (``quota-headroom``), as the operator would
after AWS granted the increases. 1,000 tenants need at least 1,001 user pools and as many identity pools (one
per tenant plus the platform's system tenant), over the
default maximum of 1,000 per Region, so without a record that environment is refused up front; and at least 2
ABAC roles per 3 tenants plus 2 trigger roles per cell, over 80% of the default 1,000 IAM roles. So 2,000 of
each is recorded. 2,000 tenants then need more than 2,000 pools and are refused up front (exit 2) with the
fleet's message; ``--record userPools=3000 --record identityPools=3000 --record iamRoles=3000`` plans them
instead."""


def _cell_template(platform: dict[str, Any], platform_stack: str) -> dict[str, Any]:
    """A cell's config from the platform's: the keys of the cell format, ABAC roles, no shared pieces."""
    keep = ("aws:region", "saas:environment", "saas:identity", "saas:retentionDays", "saas:alarms", "saas:protect")
    keep += ("saas:tags", "saas:namePrefix")
    cell = {k: v for k, v in platform["config"].items() if k in keep}
    cell["saas:access"] = {"mode": "abac"}
    cell["saas:cell"] = {"platformStack": f"organization/saas/{platform_stack}"}  # tenants only, shared by reference
    return cell


def write_environment(root: Path, n: int, cell_size: int, increases: dict[str, int]) -> list[str]:
    """The platform stack (``Pulumi.dev.yaml`` as it is), ceil(n / cell_size) cells with n tenants, recorded
    increases; returns the cell stack names."""
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, root / name)
    platform = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    template = _cell_template(platform, "dev")
    tenants = _tenants(n)
    cells = []
    for i in range(math.ceil(n / cell_size)):
        stack = f"dev-cell-{i + 1:02d}"
        config = {**template, "saas:tenants": tenants[i * cell_size : (i + 1) * cell_size]}
        (root / f"Pulumi.{stack}.yaml").write_text(
            f"# Generated by benchmarks/plan_scale.py --cells: cell {i + 1} of {n} tenants.\n"
            + yaml.safe_dump({"config": config}, sort_keys=False)
        )
        cells.append(stack)
    policy_config = root / "policies" / "config"
    policy_config.mkdir(parents=True)
    (policy_config / "dev.json").write_text(json.dumps({"quota-headroom": increases}, indent=2) + "\n")
    return cells


def _children_usage() -> tuple[float, float]:
    """CPU seconds (user + system) of the waited-for child processes so far, and the largest one's peak RSS (MB)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def child_cells(n: int, root: Path, parallel: int, fork_server: bool = True) -> dict[str, Any]:
    """Refuse or plan the environment in ``root`` with the fleet's code, then the onboard of one tenant."""
    from saas_platform.components import fleet, fleet_quotas
    from saas_platform.components.stack_file import add_tenant

    env = fleet.discover_stacks(root, "dev")
    out: dict[str, Any] = {"stacks": len(env.stacks), "cells": len(env.cells)}
    out["tenants"] = sum(len(ids) for ids in fleet.read_tenants(env).values())
    out["estimate"] = {u.quota.key: [u.used, u.limit] for u in fleet_quotas.estimate_environment(env)}
    try:
        fleet_quotas.check_refused_up_front(env)
    except fleet.FleetError as exc:
        return out | {"refused": str(exc)}
    runner = fleet.OfflineRunner(env, root / "plans", echo=lambda _line: None, fork_server=fork_server)

    def plan(stack: str) -> fleet.StackResult:
        """The fleet's offline preview of one stack, except that a mandatory violation (counted below) does not
        stop the rollout: the benchmark plans every stack. Errors still stop it, as in `fleet preview`."""
        result = runner.preview(stack)
        if result.exit_code != fleet.EXIT_VIOLATION:
            return result
        return fleet.StackResult(stack, "succeeded", result.exit_code, result.seconds, result.summary, result.error)

    started = time.perf_counter()
    report = fleet.rollout(env, plan, parallel=parallel)
    runner.close()  # stops the fork server, so its and its children's CPU is in RUSAGE_CHILDREN
    wall = time.perf_counter() - started
    cpu, peak = _children_usage()
    docs = fleet_quotas.read_plan_documents(env, runner.json_dir)
    quotas = fleet_quotas.check_environment(env, docs)
    violations = [
        v for d in docs.values() for v in d.get("policy", {}).get("violations", []) if v.get("level") == "mandatory"
    ]
    mandatory = len(violations)
    out["mandatory_policies"] = dict(sorted(Counter(str(v.get("policy")) for v in violations).items()))
    out |= {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": peak,
        "resources": sum(d.get("summary", {}).get("resources", 0) for d in docs.values()),
        "failed": report.failed + report.not_started,
        "errors": [r.error for r in report.results if r.error][:3],
        "mandatory": mandatory,
        "environment_violations": quotas.violations,
        "quotas": {u.quota.key: [u.used, u.limit] for u in quotas.usage if u.used},
    }
    # onboard one tenant: where `fleet onboard` puts it, then plan only that cell (the platform's outputs cached)
    tenants = fleet.read_tenants(env)
    try:
        where = fleet.place_tenant(env, tenants, fleet.CELL_SIZE)
        path = env.stack_file(where)
        path.write_text(add_tenant(path.read_text(), {"id": "newco", "tier": "standard"}, path.name))
    except fleet.FleetError:  # every cell is full: the next cell, with the new tenant only
        where = env.next_cell()
        config = {**_cell_template(yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text()), "dev")}
        config["saas:tenants"] = [{"id": "newco", "tier": "standard"}]
        env.stack_file(where).write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        env = fleet.discover_stacks(root, "dev")
        runner = fleet.OfflineRunner(env, runner.json_dir, echo=lambda _line: None, fork_server=fork_server)
    cpu_before = _children_usage()[0]
    started = time.perf_counter()
    onboard = runner.preview(where)
    runner.close()
    out["onboard"] = {
        "stack": where,
        "tenants": len(tenants.get(where, [])) + 1,
        "wall_s": time.perf_counter() - started,
        "cpu_s": _children_usage()[0] - cpu_before,
        "status": onboard.status,
        "summary": onboard.summary or onboard.error,
    }
    return out


def run_cells(tenant_counts: list[int], parallel: int, increases: dict[str, int], fork_server: bool = True) -> None:
    from saas_platform.components.fleet import CELL_SIZE

    print(
        f"cells mode: Pulumi.dev.yaml (2 tenants) + ceil(N / {CELL_SIZE}) ABAC cells, --parallel {parallel}, "
        f"{'processes forked from a fork server' if fork_server else 'a new interpreter per stack'}; "
        f"recorded increases (policies/config/dev.json): {increases}"
    )
    print(
        f"{'tenants':>7} {'stacks':>6} {'resources':>9} {'wall s':>8} {'floor s':>8} {'time x':>7} {'cpu s':>8} "
        f"{'floor cpu':>9} {'cpu x':>6} {'max MB':>7} {'floor MB':>9} {'mandatory':>9} {'env vio':>7}"
    )
    for n in sorted(tenant_counts):
        with tempfile.TemporaryDirectory(prefix=f"plan-cells-{n}-") as tmp:
            write_environment(Path(tmp), n, CELL_SIZE, increases)
            env = _spawn("cells", n, tmp, str(parallel), "fork" if fork_server else "spawn")
        if "refused" in env:
            print(f"{n:>7} {env['stacks']:>6}  refused up front (exit 2), nothing planned: {env['refused']}")
            continue
        floor = _spawn("floor", int(env["resources"]))
        print(
            f"{n:>7} {env['stacks']:>6} {int(env['resources']):>9} {env['wall_s']:>8.2f} {floor['total_s']:>8.2f} "
            f"{env['wall_s'] / floor['total_s']:>7.2f} {env['cpu_s']:>8.2f} {floor['cpu_s']:>9.2f} "
            f"{env['cpu_s'] / floor['cpu_s']:>6.2f} {env['peak_mb']:>7.0f} {floor['peak_mb']:>9.0f} "
            f"{env['mandatory']:>9} {len(env['environment_violations']):>7}"
        )
        quotas = ", ".join(
            f"{k} {used}/{limit} ({used / limit:.0%})" for k, (used, limit) in sorted(env["quotas"].items())
        )
        print(f"        environment quotas ({env['tenants']} tenants): {quotas}")
        for violation in env["environment_violations"]:
            print(f"        environment violation: {violation}")
        if env["mandatory_policies"]:
            print(f"        mandatory violations by policy: {env['mandatory_policies']}")
        if env["failed"]:
            print(f"        failed or not started: {env['failed']}: {env['errors']}")
        onboard = env["onboard"]
        print(
            f"        onboard one tenant: plan {onboard['stack']} only ({onboard['tenants']} tenants, platform "
            f"outputs cached): wall {onboard['wall_s']:.2f} s, cpu {onboard['cpu_s']:.2f} s, {onboard['status']} "
            f"({onboard['summary']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, nargs="+", help="default 10 100 500; with --cells 10 100 1000 2000")
    parser.add_argument("--cells", action="store_true", help="the environment as a platform stack plus cells")
    parser.add_argument("--parallel", type=int, default=2, help="with --cells: plan processes at once (default 2)")
    parser.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="QUOTA=N",
        help="with --cells: record another increase, e.g. userPools=3000",
    )
    parser.add_argument(
        "--no-fork-server",
        action="store_true",
        help="with --cells: one new interpreter per stack (python -m), as without a fork server",
    )
    parser.add_argument("--child", nargs="+", metavar="ARG")
    args = parser.parse_args()
    if args.child:
        kind, n = args.child[0], int(args.child[1])
        if kind == "cells":
            fork_server = args.child[4:5] != ["spawn"]
            print(json.dumps(child_cells(n, Path(args.child[2]), int(args.child[3]), fork_server), default=str))
        else:
            print(json.dumps(child_plan(n) if kind == "plan" else child_floor(n)))
        return
    if args.cells:
        increases = dict(RECORDED_INCREASES)
        for item in args.record:
            key, _, value = item.partition("=")
            increases[key] = int(value)
        run_cells(args.tenants or [10, 100, 1000, 2000], args.parallel, increases, not args.no_fork_server)
        return
    args.tenants = args.tenants or [10, 100, 500]
    print(
        f"{'tenants':>7} {'resources':>9} {'plan s':>8} {'(policy s)':>10} {'floor s':>8} {'time x':>7} "
        f"{'plan cpu':>8} {'floor cpu':>9} {'cpu x':>6} {'plan MB':>8} {'floor MB':>9} {'ms/res':>7}"
    )
    for n in sorted(args.tenants):
        plan = _spawn("plan", n)
        floor = _spawn("floor", int(plan["resources"]))
        print(
            f"{n:>7} {int(plan['resources']):>9} {plan['total_s']:>8.2f} {plan['policy_s']:>10.2f} "
            f"{floor['total_s']:>8.2f} {plan['total_s'] / floor['total_s']:>7.2f} {plan['cpu_s']:>8.2f} "
            f"{floor['cpu_s']:>9.2f} {plan['cpu_s'] / floor['cpu_s']:>6.2f} {plan['peak_mb']:>8.0f} "
            f"{floor['peak_mb']:>9.0f} {1000 * plan['total_s'] / plan['resources']:>7.2f}"
        )
        if plan["mandatory"]:
            print(f"        ({int(plan['mandatory'])} mandatory violations at {n} tenants)")


if __name__ == "__main__":
    main()
