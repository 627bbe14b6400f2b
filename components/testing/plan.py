"""``python -m saas_platform.components.testing.plan STACK [STACK...]``: the offline plan (docs/offline-plan.md).

Runs the program in ``--program-dir`` with ``Pulumi.<stack>.yaml`` under mocks, evaluates the policy pack
through pulumi-policy's analyzer, prints a summary (resources per component, tenant and type; quota
headroom; policy results) and, with ``--json FILE`` / ``--json-dir DIR``, writes the documented JSON.

A ``StackReference`` to another stack of the same project (``organization/<project>/<stack>``) is answered
with that stack's outputs, planned offline first - so ``staging`` (identity ``mode: shared``) sees exactly
what ``prod`` would export. The referenced stack is planned as deployed even under ``--preview``: a
``StackReference`` reads the state of an existing stack (referencing one that was never deployed fails), so in
the first preview of ``staging`` prod's outputs are known values, not the unknowns of prod's own first preview.

Exit codes: 0 clean, 1 a mandatory policy violation, 2 invalid config or a program error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from rich.console import Console
from rich.table import Table

from saas_platform.components.testing.harness import (
    STACK_TYPE,
    CapturedResource,
    ProgramRun,
    load_project_config,
    run_program,
)
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.components.testing.policy import PolicyReport

EXIT_OK, EXIT_VIOLATION, EXIT_ERROR = 0, 1, 2
TENANT_TAG = "saas:tenant"
SHARED = "(shared)"

Evaluator = Callable[[ProgramRun, Mapping[str, Mapping[str, Any]] | None], PolicyReport]


@dataclass
class StackPlan:
    """The outcome of planning one stack."""

    stack: str
    run: ProgramRun | None = None
    report: PolicyReport | None = None
    error: str | None = None
    error_traceback: str | None = None
    seconds: float = 0.0
    quotas: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_ERROR
        if self.report is not None and self.report.mandatory:
            return EXIT_VIOLATION
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stack": self.stack, "exitCode": self.exit_code}
        if self.run is not None:
            out |= self.run.to_json()
            out["diagnostics"] = [d.to_json() for d in self.run.diagnostics]
            out["summary"] = {
                "resources": len(self.run.resources),
                "byType": dict(sorted(Counter(r.type for r in self.run.resources).items())),
                "byTenant": {t: len(rs) for t, rs in sorted(by_tenant(self.run.resources).items())},
            }
        if self.report is not None:
            out["policy"] = self.report.to_json()
        out["quotas"] = self.quotas
        if self.error is not None:
            out["error"] = self.error
        return out


def _unsecret(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            return _unsecret(value.get("value"))
        return {k: _unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsecret(v) for v in value]
    return value


def by_tenant(resources: Sequence[CapturedResource]) -> dict[str, list[CapturedResource]]:
    """Group resources by tenant: the ``saas:tenant`` tag, else a logical name starting with ``<tenant>-``
    (docs/architecture.md, "Names": per-tenant resources carry the tenant id in their logical name)."""
    tenants = {r.tags[TENANT_TAG] for r in resources if r.tags.get(TENANT_TAG)}
    groups: dict[str, list[CapturedResource]] = defaultdict(list)
    for r in resources:
        if r.type == STACK_TYPE:
            continue
        tenant = r.tags.get(TENANT_TAG) or next((t for t in sorted(tenants) if r.name.startswith(f"{t}-")), SHARED)
        groups[tenant].append(r)
    return dict(groups)


class Planner:
    """Plans stacks of one program, resolving same-project StackReferences by planning those stacks first."""

    def __init__(
        self,
        program_dir: Path,
        evaluate: Evaluator | None,
        policy_config_dir: Path | None = None,
        *,
        preview: bool = False,
        config: Mapping[str, Any] | None = None,
        known_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``evaluate``: the policy evaluator, or ``None`` to plan outputs only. ``config``: overrides of
        stack-file keys applied to every stack planned (as ``run_program(config=...)``), e.g. in tests.
        ``known_outputs``: outputs (secrets unwrapped) of stacks already planned elsewhere, by stack name, e.g.
        the platform stack planned once for all of its cells (``--stack-outputs``). A StackReference to one of
        them is answered from here, without planning that stack again; they are trusted as given."""
        self.program_dir = program_dir
        self.evaluate = evaluate
        self.policy_config_dir = policy_config_dir
        self.preview = preview
        self.config = dict(config or {})
        self.known_outputs = {k: dict(v) for k, v in (known_outputs or {}).items()}
        self.plans: dict[str, StackPlan] = {}
        self._in_progress: set[str] = set()
        self._deployed: Planner | None = None

    def _policy_config(self, stack: str) -> dict[str, Any] | None:
        if self.policy_config_dir is None:
            return None
        path = self.policy_config_dir / f"{stack}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def reference_outputs(self, stack: str) -> dict[str, dict[str, Any]]:
        """Outputs (secrets unwrapped) of every same-project stack that ``stack``'s config names
        (``organization/<project>/<stack>``), each planned once: what ``AwsMocks(stack_outputs=...)`` needs to
        run ``stack``. A referenced stack that fails to plan is left out (the run then fails on the reference)."""
        project_cfg = load_project_config(self.program_dir, stack, self.config)
        references: dict[str, dict[str, Any]] = {}
        for ref in _referenced_stacks(project_cfg.values, project_cfg.project):
            outputs = self._outputs_of(ref, project_cfg.project)
            if outputs is not None:
                references[ref] = outputs
        return references

    def _reference_planner(self) -> Planner:
        """The planner that answers StackReferences: this one, or under ``preview`` one that plans the referenced
        stacks as deployed (a StackReference reads an existing stack's state, whose outputs are known)."""
        if not self.preview:
            return self
        if self._deployed is None:
            self._deployed = Planner(
                self.program_dir, None, self.policy_config_dir, config=self.config, known_outputs=self.known_outputs
            )
        return self._deployed

    def _outputs_of(self, ref: str, project: str) -> dict[str, Any] | None:
        parts = ref.split("/")
        if len(parts) != 3 or parts[1] != project or not (self.program_dir / f"Pulumi.{parts[2]}.yaml").exists():
            return None
        if parts[2] in self.known_outputs:  # planned elsewhere (the platform stack of a fleet preview)
            return dict(self.known_outputs[parts[2]])
        planner = self._reference_planner()
        if planner is not self:
            return planner._outputs_of(ref, project)
        plan = self.plan(parts[2])
        if plan.run is None:
            return None
        return _unsecret(plan.run.outputs)

    def plan(self, stack: str) -> StackPlan:
        if stack in self.plans:
            return self.plans[stack]
        if stack in self._in_progress:
            return StackPlan(stack, error=f"stack references form a cycle through {stack!r}")
        self._in_progress.add(stack)
        started = time.perf_counter()
        result = StackPlan(stack)
        try:
            project_cfg = load_project_config(self.program_dir, stack, self.config)
            region = project_cfg.values.get("aws:region", "ap-southeast-1")
            references = self.reference_outputs(stack)  # named in config: plan them first, avoid a failing run
            while True:
                mocks = AwsMocks(region=region, stack_outputs=references, first_preview=self.preview)
                try:
                    result.run = run_program(
                        self.program_dir, stack, config=self.config, mocks=mocks, preview=self.preview
                    )
                    break
                except Exception:
                    missing = mocks.missing_stack_refs - set(references)
                    resolved = {ref: self._outputs_of(ref, project_cfg.project) for ref in missing}
                    if not missing or any(v is None for v in resolved.values()):
                        raise
                    references |= {k: v for k, v in resolved.items() if v is not None}
            if self.evaluate is not None:  # None: outputs only (feeding another stack's StackReference in tests)
                result.report = self.evaluate(result.run, self._policy_config(stack))
                result.quotas = _quota_rows(result.run, self._policy_config(stack))
        except pulumi.RunError as exc:  # StackConfigError, ProjectConfigError, DuplicateUrnError, ...
            result.error = str(exc)
        except Exception as exc:
            result.error = f"program failed: {type(exc).__name__}: {exc}"
            result.error_traceback = traceback.format_exc()
        finally:
            self._in_progress.discard(stack)
        result.seconds = time.perf_counter() - started
        self.plans[stack] = result
        return result


def _referenced_stacks(values: Mapping[str, str], project: str) -> list[str]:
    """Config values that name another stack of this project (``organization/<project>/<stack>``)."""
    pattern = re.compile(rf"organization/{re.escape(project)}/[A-Za-z0-9_.-]+")
    return sorted({m.group(0) for v in values.values() for m in pattern.finditer(v)})


def _quota_rows(run: ProgramRun, policy_config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    try:
        from saas_platform.policies.quotas import usage
    except ImportError:  # a program without our policy pack
        return []
    increases = dict((policy_config or {}).get("quota-headroom", {}))
    increases.pop("enforcementLevel", None)
    return [
        {
            "quota": u.quota.key,
            "label": u.quota.label,
            "used": u.used,
            "limit": u.limit,
            "share": round(u.share, 4),
            "exceeded": u.exceeded,
        }
        for u in usage((r.type for r in run.resources), increases)
    ]


def render(plan: StackPlan, console: Console, *, quiet: bool = False) -> None:
    """Print the human summary of one stack plan."""
    status = {EXIT_OK: "[green]clean[/]", EXIT_VIOLATION: "[red]MANDATORY VIOLATIONS[/]", EXIT_ERROR: "[red]ERROR[/]"}
    if plan.run is None or plan.error is not None:
        console.print(f"[bold]{plan.stack}[/]: {status[EXIT_ERROR]} ({plan.seconds:.1f}s)")
        console.print(f"  {plan.error}", markup=False, highlight=False)
        return
    run, report = plan.run, plan.report
    n_mand = len(report.mandatory) if report else 0
    n_adv = len(report.advisory) if report else 0
    console.print(
        f"[bold]{plan.stack}[/]: {status[plan.exit_code]} - {len(run.resources)} resources, "
        f"{len(report.policies) if report else 0} policies, {n_mand} mandatory / {n_adv} advisory violations "
        f"({plan.seconds:.1f}s)"
    )
    if not quiet:
        components = Table(title=f"{plan.stack}: components", title_justify="left")
        components.add_column("component type")
        components.add_column("instances", justify="right")
        components.add_column("direct resources", justify="right")
        kids: Counter[str] = Counter()
        by_urn = run.by_urn()
        for r in run.resources:
            if r.custom and r.parent in by_urn and by_urn[r.parent].type != STACK_TYPE:
                kids[by_urn[r.parent].type] += 1
        comp_counts = Counter(r.type for r in run.resources if not r.custom and r.type != STACK_TYPE)
        for type_, n in sorted(comp_counts.items()):
            components.add_row(type_, str(n), str(kids[type_]))
        console.print(components)

        tenants = Table(title=f"{plan.stack}: resources per tenant", title_justify="left")
        tenants.add_column("tenant")
        tenants.add_column("resources", justify="right")
        tenants.add_column("by type")
        for tenant, rs in sorted(by_tenant(run.resources).items()):
            types = Counter(r.type.split(":")[-1] for r in rs if r.custom)
            tenants.add_row(tenant, str(len(rs)), ", ".join(f"{t} {n}" for t, n in sorted(types.items())))
        console.print(tenants)

        if plan.quotas:
            quotas = Table(title=f"{plan.stack}: quota headroom (this stack alone)", title_justify="left")
            for col in ("quota", "used", "limit", "share"):
                quotas.add_column(col, justify="left" if col == "quota" else "right")
            for q in plan.quotas:
                if q["used"]:
                    share = f"{q['share']:.1%}"
                    quotas.add_row(
                        q["label"], str(q["used"]), str(q["limit"]), f"[red]{share}[/]" if q["exceeded"] else share
                    )
            console.print(quotas)
    if report and report.violations:
        table = Table(title=f"{plan.stack}: policy violations", title_justify="left", show_lines=False)
        for col in ("level", "policy", "resource", "message"):
            table.add_column(col)
        for v in report.violations:
            name = v.urn.rsplit("::", 1)[-1] if v.urn else "(stack)"
            table.add_row(v.level, v.policy, name, v.message.split("\n", 1)[-1])
        console.print(table)
    warnings = [d for d in run.diagnostics if d.severity in ("warning", "error")]
    if warnings and not quiet:
        for d in warnings:
            console.print(f"  [yellow]{d.severity}[/]: {d.message}", highlight=False)


def _load_evaluator(spec: str) -> Evaluator:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr or "evaluate_run")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of the offline plan; returns the exit code (0 clean, 1 mandatory violation, 2 error)."""
    parser = argparse.ArgumentParser(prog="scripts/plan", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="stack name(s): Pulumi.<STACK>.yaml")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the plan JSON (one stack only)")
    parser.add_argument("--json-dir", type=Path, metavar="DIR", help="write DIR/<stack>.json for every stack")
    parser.add_argument("--program-dir", type=Path, default=Path.cwd(), help="folder with Pulumi.yaml (default: .)")
    parser.add_argument(
        "--evaluator",
        default="saas_platform.policies.offline:evaluate_run",
        help="module:function evaluating the policy pack",
    )
    parser.add_argument(
        "--policy-config-dir",
        type=Path,
        default=Path("policies/config"),
        help="per-stack policy config <dir>/<stack>.json, like --policy-pack-config (default: policies/config)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="simulate the first preview of a new stack: provider-computed outputs (ids, ARNs) are unknown, so "
        'policies that read them report "can\'t run during preview" (isolation invariant 48)',
    )
    parser.add_argument(
        "--stack-outputs",
        type=Path,
        metavar="FILE",
        help='JSON {"<stack>": {outputs}} of stacks planned before (e.g. by --outputs): StackReferences to them are '
        "answered from the file instead of planning them again",
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help='write {"<stack>": {outputs}} of the planned stacks, secrets unwrapped as a StackReference reads them '
        "(mock values), for a later --stack-outputs",
    )
    parser.add_argument("--quiet", action="store_true", help="one line per stack plus violations")
    parser.add_argument("--debug", action="store_true", help="print tracebacks of program errors")
    args = parser.parse_args(argv)
    # A run that fails (e.g. on a StackReference resolved by planning another stack, then retried) no longer
    # leaves asyncio "exception was never retrieved" echoes: the harness marks those SDK futures retrieved.
    if args.json and len(args.stacks) != 1:
        parser.error("--json takes one stack; use --json-dir for several")
    console = Console(highlight=False, width=160 if not sys.stdout.isatty() else None)
    program_dir = args.program_dir.resolve()
    policy_dir = (
        args.policy_config_dir if args.policy_config_dir.is_absolute() else program_dir / args.policy_config_dir
    )
    known = json.loads(args.stack_outputs.read_text()) if args.stack_outputs else None
    planner = Planner(
        program_dir, _load_evaluator(args.evaluator), policy_dir, preview=args.preview, known_outputs=known
    )
    code = EXIT_OK
    planned_outputs: dict[str, Any] = {}
    for stack in args.stacks:
        plan = planner.plan(stack)
        render(plan, console, quiet=args.quiet)
        if args.debug and plan.error_traceback:
            console.print(plan.error_traceback, markup=False)
        document = plan.to_json()
        if args.json:
            args.json.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
        if args.json_dir:
            args.json_dir.mkdir(parents=True, exist_ok=True)
            (args.json_dir / f"{stack}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
        if plan.run is not None:
            planned_outputs[stack] = _unsecret(plan.run.outputs)
        code = max(code, plan.exit_code)
    if args.outputs:
        args.outputs.write_text(json.dumps(planned_outputs, default=str) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
