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
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

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


def _spawn(kind: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n)], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "N"))
    args = parser.parse_args()
    if args.child:
        kind, n = args.child[0], int(args.child[1])
        print(json.dumps(child_plan(n) if kind == "plan" else child_floor(n)))
        return
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
