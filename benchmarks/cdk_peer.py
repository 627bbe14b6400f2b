"""Peer benchmark: our offline plan against AWS CDK + cdk-nag synthesizing the same environment, same run.

For each tenant count N this runs, each in a fresh subprocess measured from outside (wall time; CPU time and peak
RSS of that process tree from ``os.wait4``; the machine's 1-minute load average just before):

  ours - ``benchmarks/plan_scale.py --child plan N``: the real Pulumi program (``dev``, N generated tenants, ABAC
         role layout, no tenant API) under the recording mocks plus the policy pack, as ``scripts/plan dev`` does;
  cdk  - ``node benchmarks/cdk_peer/app.js N``: the same environment as one AWS CDK stack, synthesized by
         ``app.synth()`` (what ``cdk synth`` runs) with cdk-nag's ``AwsSolutionsChecks`` as an aspect. CDK's
         built-in CloudFormation Validate is off unless ``--cfn-validation`` (it gives up on templates over 10 MB,
         which this one is from about 120 tenants).

It prints one row per N with both sides' resource counts, wall and CPU seconds, peak memory, findings (our pack's
mandatory violations; cdk-nag's errors and warnings) and the ratios ours/CDK: below 1.0 our plan is the faster.
The ratios compare whole processes (interpreter start and imports included on both sides). ``npm ci`` runs first
in ``benchmarks/cdk_peer`` when its ``node_modules`` is missing. The figures and what the CDK app models are in
docs/benchmarks.md ("Peer: CDK + cdk-nag").

    .venv/bin/python benchmarks/cdk_peer.py [--tenants 10 100 1000] [--repeat 1] [--json FILE] [--cfn-validation]
        [--tenants-per-stack 18]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK_DIR = ROOT / "benchmarks" / "cdk_peer"
PLAN_SCALE = ROOT / "benchmarks" / "plan_scale.py"


@dataclass(frozen=True)
class Measured:
    """One subprocess, measured from outside: its last stdout line parsed as JSON, and what it cost."""

    result: dict[str, Any]
    wall_s: float
    cpu_s: float
    """User + system seconds of the process and the children it waited for (``os.wait4``)."""
    peak_mb: float
    load_1m: float
    """The 1-minute load average just before the process started."""


@dataclass(frozen=True)
class Row:
    tenants: int
    ours: Measured
    cdk: Measured

    @property
    def wall_ratio(self) -> float:
        """Our wall time over CDK's: below 1.0 our plan finished first."""
        return ratio(self.ours.wall_s, self.cdk.wall_s)

    @property
    def cpu_ratio(self) -> float:
        """Our CPU time over CDK's (the steadier figure on a shared machine)."""
        return ratio(self.ours.cpu_s, self.cdk.cpu_s)


def ratio(ours: float, cdk: float) -> float:
    """``ours / cdk``; a zero CDK figure is refused rather than turned into infinity."""
    if cdk <= 0:
        raise ValueError(f"CDK figure must be positive to take a ratio; got {cdk}")
    return ours / cdk


def measure(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Measured:
    """Run ``cmd`` to completion and measure it; raise ``CalledProcessError`` (with its stderr) if it fails."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), stdout, stderr)
    lines = [ln for ln in stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise ValueError(f"{cmd[0]} printed no JSON line; stdout ends: {stdout[-500:]!r}")
    return Measured(
        result=json.loads(lines[-1]),
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        load_1m=load,
    )


def ensure_node_modules(cdk_dir: Path = CDK_DIR) -> None:
    """``npm ci`` (the versions package-lock.json pins) when ``node_modules`` is missing."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"{tool} is not on PATH: the CDK peer needs Node.js 18 or later (e.g. apt-get install nodejs npm)"
            )
    if not (cdk_dir / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=cdk_dir, check=True)


def run_ours(n: int) -> Measured:
    return measure([sys.executable, str(PLAN_SCALE), "--child", "plan", str(n)], cwd=ROOT)


def run_ours_cells(n: int, *, fork_server: bool = True) -> Measured:
    """Our environment as ``fleet preview --offline`` plans it: the platform stack plus cells of ``CELL_SIZE``
    (``plan_scale.py --child cells``), each stack in its own process, two at a time. The figures are the plan's own
    (``wall_s``/``cpu_s`` of the child: the processes of every stack, fork server included; the onboard row after
    it is left out); peak memory is the largest stack process."""
    sys.path.insert(0, str(PLAN_SCALE.parent))
    import plan_scale  # the benchmark next door, imported only in this mode

    from saas_platform.components.fleet import CELL_SIZE

    with tempfile.TemporaryDirectory(prefix=f"cdk-peer-cells-{n}-") as tmp:
        plan_scale.write_environment(Path(tmp), n, CELL_SIZE, dict(plan_scale.RECORDED_INCREASES))
        cmd = [
            sys.executable,
            str(PLAN_SCALE),
            "--child",
            "cells",
            str(n),
            tmp,
            "2",
            "fork" if fork_server else "spawn",
        ]
        whole = measure(cmd, cwd=ROOT)
    result = whole.result
    if "refused" in result:
        raise subprocess.CalledProcessError(2, cmd, "", str(result["refused"]))
    return Measured(
        result=result,
        wall_s=float(result["wall_s"]),
        cpu_s=float(result["cpu_s"]),
        peak_mb=float(result["peak_mb"]),
        load_1m=whole.load_1m,
    )


def run_cdk(n: int, *, cfn_validation: bool = False, tenants_per_stack: int = 0) -> Measured:
    """``node app.js N`` into a fresh cloud-assembly folder. ``cfn_validation`` keeps CDK's built-in CloudFormation
    Validate on (app.js turns it off by default: the peer is synth + cdk-nag); ``tenants_per_stack`` > 0 puts the
    tenants in stacks of that many (a multiple of 3) instead of one stack."""
    env = {
        **os.environ,
        "CDK_PEER_CFN_VALIDATION": "1" if cfn_validation else "0",
        "CDK_PEER_TENANTS_PER_STACK": str(tenants_per_stack),
    }
    with tempfile.TemporaryDirectory(prefix="cdk-peer-") as outdir:
        return measure(["node", "app.js", str(n)], cwd=CDK_DIR, env={**env, "CDK_OUTDIR": outdir})


HEADER = (
    f"{'tenants':>7} {'ours res':>8} {'cdk res':>7} {'ours s':>7} {'cdk s':>6} {'wall x':>6} {'ours cpu':>8} "
    f"{'cdk cpu':>7} {'cpu x':>5} {'ours MB':>7} {'cdk MB':>6} {'mandatory':>9} {'nag err/warn':>12} {'load':>9}"
)


def format_row(row: Row) -> str:
    ours, cdk = row.ours, row.cdk
    nag = f"{int(cdk.result['nag_errors'])}/{int(cdk.result['nag_warnings'])}"
    return (
        f"{row.tenants:>7} {int(ours.result['resources']):>8} {int(cdk.result['resources']):>7} {ours.wall_s:>7.2f} "
        f"{cdk.wall_s:>6.2f} {row.wall_ratio:>6.2f} {ours.cpu_s:>8.2f} {cdk.cpu_s:>7.2f} {row.cpu_ratio:>5.2f} "
        f"{ours.peak_mb:>7.0f} {cdk.peak_mb:>6.0f} {int(ours.result['mandatory']):>9} {nag:>12} "
        f"{ours.load_1m:>4.2f}/{cdk.load_1m:<4.2f}"
    )


def rows_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The rows for ``--json``: both measurements (the CDK side's resources by type dropped) and the ratios."""
    out = []
    for row in rows:
        cdk = asdict(row.cdk)
        cdk["result"] = {k: v for k, v in cdk["result"].items() if k != "resources_by_type"}
        out.append(
            {
                "tenants": row.tenants,
                "ours": asdict(row.ours),
                "cdk": cdk,
                "wall_ratio": row.wall_ratio,
                "cpu_ratio": row.cpu_ratio,
            }
        )
    return out


def benchmark(
    tenants: Sequence[int],
    repeat: int = 1,
    *,
    ours: Callable[[int], Measured] = run_ours,
    cdk: Callable[[int], Measured] = run_cdk,
    emit: Callable[[str], None] = print,
    done: Callable[[list[Row]], None] = lambda rows: None,
) -> list[Row]:
    """Each N ``repeat`` times, ours then CDK; prints the header and each row as it is measured, and calls
    ``done`` with the rows so far after each. A side that fails is reported (its stderr's last line) and skipped."""
    emit(HEADER)
    rows: list[Row] = []
    for n in sorted(tenants):
        for _ in range(repeat):
            try:
                row = Row(n, ours(n), cdk(n))
            except subprocess.CalledProcessError as failed:
                last = (failed.stderr or "").strip().splitlines()[-1:] or ["(no stderr)"]
                emit(
                    f"{n:>7} failed: {' '.join(map(str, failed.cmd))[-60:]} exited {failed.returncode}: {last[0][:200]}"
                )
                continue
            rows.append(row)
            emit(format_row(row))
            done(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Our offline plan against CDK + cdk-nag synth, same run.")
    parser.add_argument("--tenants", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per tenant count (each ours, then CDK)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file (after each row)")
    parser.add_argument(
        "--cfn-validation", action="store_true", help="keep CDK's built-in CloudFormation Validate on (default off)"
    )
    parser.add_argument(
        "--tenants-per-stack",
        type=int,
        default=0,
        help="CDK side: tenants per stack, a multiple of 3 (18 keeps each under 500 resources); 0: one stack (default)",
    )
    parser.add_argument(
        "--ours",
        choices=("stack", "cells", "cells-spawn"),
        default="stack",
        help="our side: one stack (default), the environment in cells (fork server), or cells with a new "
        "interpreter per stack",
    )
    args = parser.parse_args()
    ensure_node_modules()

    def write(rows: list[Row]) -> None:
        if args.json:
            args.json.write_text(json.dumps(rows_json(rows), indent=2) + "\n")

    ours: Callable[[int], Measured] = run_ours
    if args.ours != "stack":
        ours = functools.partial(run_ours_cells, fork_server=args.ours == "cells")
    benchmark(
        args.tenants,
        args.repeat,
        ours=ours,
        cdk=lambda n: run_cdk(n, cfn_validation=args.cfn_validation, tenants_per_stack=args.tenants_per_stack),
        done=write,
    )


if __name__ == "__main__":
    main()
