"""``python -m saas_platform.components.fleet``: roll changes out over the stacks of an environment, and onboard
or offboard tenants (docs/fleet.md, "Fleet rollout").

**Stacks of an environment.** They are the project's stack files for it: ``Pulumi.<env>.yaml``, the *platform
stack* (the shared pieces: key, tables, registry, jobs, pipeline), plus any *cell stacks*
``Pulumi.<env>-cell-<NN>.yaml``. A cell is a partition of the tenants. Cells are optional: with none, the
platform stack holds every tenant. A cell stack (``saas:cell``) builds only its tenants and reads the shared
pieces from the platform stack's ``platform`` output (:mod:`saas_platform.components.cell`).

**Waves.** ``preview`` and ``up`` run the platform stack first, then a canary (the first cell), then the other
cells, at most ``--parallel`` at a time. The first failure stops the rollout: stacks already running finish,
no new one starts, and the summary says which stacks succeeded, failed and were not started.

**Tenants.** ``onboard`` writes a tenant into the first stack with room (``--cell-size``), keeping the file's
comments and layout (:mod:`saas_platform.components.stack_file`), validates the edited file with the stack
config contract before saving it, previews and deploys only that stack, and creates the tenant's first admin
user. ``offboard`` suspends the tenant and deploys that; with ``--remove`` it then removes the entry.
Deletion protection (``saas:protect``) is never bypassed.

Deploys go through the Pulumi Automation API (``pulumi.automation``; it drives the ``pulumi`` CLI, which must be
on ``PATH`` with a logged-in backend). ``preview --offline`` uses the offline plan instead, one process per stack.

**Environment quotas** (:mod:`saas_platform.components.fleet_quotas`). Every stack of an environment shares one
account and Region. ``preview``, ``up`` and ``onboard`` first estimate the tenant-driven quota usage from the stack
files and refuse (exit 2) an environment that needs more than the account can have; ``preview --offline`` then
sums the planned usage of all stacks and fails (exit 1) a quota over 80% of the environment's quota.

Exit codes, as ``scripts/plan``: 0 every stack succeeded, 1 a mandatory policy violation, 2 anything else
(invalid config, a refused command, a program or deployment error).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, Protocol, get_args

import yaml
from pydantic import ValidationError

from saas_platform.components.config import EMAIL_RE, StackConfig, TenantConfig, Tier, load_stack_config
from saas_platform.components.errors import StackConfigError
from saas_platform.components.stack_file import (
    StackFileError,
    add_tenant,
    remove_tenant,
    set_tenant_field,
    tenant_ids,
)

ENVIRONMENTS: Final = ("dev", "staging", "prod")
CELL_SIZE: Final = 32
"""Default: at most 32 tenants per stack (``--cell-size``). Why a cell stays this small:

* One pair of sign-in triggers serves the cell: with the pack's 25% size headroom a trigger's resource policy holds 33
  Cognito pools with the default name prefix and 32 with the longest (``CognitoTriggers``): never a second shard.

* Cognito and Verified Permissions control-plane calls (create/update user pool, app clients, policy store,
  schema, policies) are rate-limited per account and Region, and every stack deploying at once shares those
  limits. A change that touches every tenant makes one call of each kind per tenant; 32 keeps that burst small
  enough for the provider's throttling retries (a judgement, not a limit measured against AWS).
* IAM: each tenant adds roles and trust/permission statements; per-stack documents that grow with the tenant
  count (shared ABAC role trusts, handler policies) stay well inside their size quotas.
* State: a tenant is about 38 resources (docs/benchmarks.md), so a 32-tenant cell is about 1,200 resources.
  Every preview and update reads the whole state, and the self-managed backends rewrite the whole checkpoint
  as resources change, so update time grows faster than linearly with the stack's size.
"""
DEFAULT_PARALLEL: Final = 4
"""Default: at most 4 stacks deploy at once after the canary (``--parallel``)."""
EXIT_OK, EXIT_VIOLATION, EXIT_ERROR = 0, 1, 2
CELL_STACK_RE: Final = re.compile(r"(?P<environment>[a-z]+)-cell-(?P<number>\d{2,})")
"""Cell stack names: ``<env>-cell-<NN>`` (two or more digits)."""
ADMIN_ROLE: Final = "admin"
SUSPENDED: Final = "suspended"
REGISTRY_TTL_SECONDS: Final = 60
"""How long a warm handler may keep serving a cached registry record (``TenantRegistry`` ``ttl``)."""
PLAN_MODULE: Final = "saas_platform.components.testing.plan"

Status = Literal["succeeded", "failed", "not started"]


class FleetError(Exception):
    """A fleet command was refused before it changed anything. The message says why and what to do (exit 2)."""


# ------------------------------------------------------------------------------------------------ stacks


@dataclass(frozen=True)
class EnvironmentStacks:
    """The stacks of one environment: the platform stack and its cells (in number order)."""

    environment: str
    program_dir: Path
    platform: str
    cells: tuple[str, ...] = ()

    @property
    def stacks(self) -> tuple[str, ...]:
        """Every stack, platform first."""
        return (self.platform, *self.cells)

    @property
    def tenant_stacks(self) -> tuple[str, ...]:
        """Where new tenants go: the cells, or the platform stack while there are none."""
        return self.cells or (self.platform,)

    def stack_file(self, stack: str) -> Path:
        """``Pulumi.<stack>.yaml`` in the program folder."""
        return self.program_dir / f"Pulumi.{stack}.yaml"

    def waves(self) -> list[tuple[str, ...]]:
        """The platform stack, then the canary (first cell), then the other cells (empty waves left out)."""
        return [w for w in ((self.platform,), self.cells[:1], self.cells[1:]) if w]

    def next_cell(self) -> str:
        """The name of the cell to add next (``<env>-cell-<NN+1>``)."""
        numbers = [int(m["number"]) for c in self.cells if (m := CELL_STACK_RE.fullmatch(c))]
        return f"{self.environment}-cell-{max(numbers, default=0) + 1:02d}"


def discover_stacks(program_dir: str | os.PathLike[str], environment: str) -> EnvironmentStacks:
    """The stacks of ``environment``, from the stack files in ``program_dir``.

    Raises:
        FleetError: unknown environment, or its platform stack file is missing.
    """
    root = Path(program_dir).resolve()
    if environment not in ENVIRONMENTS:
        raise FleetError(f"unknown environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}")
    if not (root / f"Pulumi.{environment}.yaml").is_file():
        raise FleetError(f"no Pulumi.{environment}.yaml in {root} (the platform stack of {environment})")
    cells: list[tuple[int, str]] = []
    for path in root.glob(f"Pulumi.{environment}-cell-*.yaml"):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        match = CELL_STACK_RE.fullmatch(stack)
        if match and match["environment"] == environment:
            cells.append((int(match["number"]), stack))
    return EnvironmentStacks(environment, root, environment, tuple(s for _, s in sorted(cells)))


# ------------------------------------------------------------------------------------------------ waves


@dataclass(frozen=True)
class StackResult:
    """What happened to one stack: ``exit_code`` is ``None`` when it was not started."""

    stack: str
    status: Status
    exit_code: int | None = None
    seconds: float = 0.0
    summary: str = ""
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class FleetReport:
    """The outcome of a rollout, one result per stack in rollout order."""

    results: tuple[StackResult, ...]

    def _named(self, status: Status) -> list[str]:
        return [r.stack for r in self.results if r.status == status]

    @property
    def succeeded(self) -> list[str]:
        return self._named("succeeded")

    @property
    def failed(self) -> list[str]:
        return self._named("failed")

    @property
    def not_started(self) -> list[str]:
        return self._named("not started")

    @property
    def exit_code(self) -> int:
        """The worst exit code of the stacks that ran (a stack not started does not count)."""
        return max((r.exit_code for r in self.results if r.exit_code is not None), default=EXIT_OK)

    def table(self) -> str:
        """The summary table and a closing line naming the failed and not-started stacks."""
        width = max([len("stack"), *(len(r.stack) for r in self.results)])
        lines = [f"{'stack':<{width}}  {'status':<11}  code  {'seconds':>7}  summary"]
        for r in self.results:
            code = "-" if r.exit_code is None else str(r.exit_code)
            seconds = "-" if r.status == "not started" else f"{r.seconds:.1f}"
            detail = r.error if r.error else r.summary
            lines.append(f"{r.stack:<{width}}  {r.status:<11}  {code:>4}  {seconds:>7}  {detail}".rstrip())
        closing = f"{len(self.succeeded)} succeeded"
        if self.failed:
            closing += f", {len(self.failed)} failed ({', '.join(self.failed)})"
        if self.not_started:
            closing += f", {len(self.not_started)} not started ({', '.join(self.not_started)})"
        return "\n".join([*lines, closing])


StackAction = Callable[[str], StackResult]


def run_waves(waves: Sequence[Sequence[str]], action: StackAction, *, parallel: int = DEFAULT_PARALLEL) -> FleetReport:
    """Run ``action`` on every stack, wave after wave, at most ``parallel`` stacks at once.

    The first failure stops the rollout: stacks already running finish, no other stack starts (in this wave or
    a later one). An exception from ``action`` is a failure of that stack (exit 2).
    """
    if parallel < 1:
        raise FleetError(f"--parallel must be at least 1; got {parallel}")
    stop = threading.Event()

    def guarded(stack: str) -> StackResult:
        if stop.is_set():
            return StackResult(stack, "not started")
        started = time.perf_counter()
        try:
            result = action(stack)
        except Exception as exc:  # one stack's crash is that stack's failure, not the tool's
            result = StackResult(stack, "failed", EXIT_ERROR, error=f"{type(exc).__name__}: {exc}")
        if result.failed:
            stop.set()
        if not result.seconds:
            result = StackResult(
                result.stack,
                result.status,
                result.exit_code,
                time.perf_counter() - started,
                result.summary,
                result.error,
            )
        return result

    results: list[StackResult] = []
    for wave in waves:
        if stop.is_set():
            results += [StackResult(s, "not started") for s in wave]
            continue
        with ThreadPoolExecutor(max_workers=min(parallel, len(wave)), thread_name_prefix="fleet") as pool:
            results += list(pool.map(guarded, wave))
    return FleetReport(tuple(results))


# ------------------------------------------------------------------------------------------------ runners


class StackHandle(Protocol):
    """The part of ``pulumi.automation.Stack`` the fleet uses (tests pass stand-ins)."""

    def preview(
        self,
        *,
        policy_packs: list[str] | None = None,
        policy_pack_configs: list[str] | None = None,
        color: str | None = None,
        on_output: Callable[[str], Any] | None = None,
        on_event: Callable[[Any], Any] | None = None,
        refresh: bool | None = None,
    ) -> Any: ...

    def up(
        self,
        *,
        policy_packs: list[str] | None = None,
        policy_pack_configs: list[str] | None = None,
        color: str | None = None,
        on_output: Callable[[str], Any] | None = None,
        on_event: Callable[[Any], Any] | None = None,
    ) -> Any: ...

    def refresh(self, *, color: str | None = None, on_output: Callable[[str], Any] | None = None) -> Any: ...

    def outputs(self) -> Mapping[str, Any]: ...


StackFactory = Callable[[str, Path, bool], StackHandle]
"""``(stack, work_dir, create)`` -> the stack; ``create``: create it if it does not exist yet."""


def automation_stack(stack: str, work_dir: Path, create: bool) -> StackHandle:
    """The Automation API stack ``stack`` of the project in ``work_dir`` (a ``LocalWorkspace`` on it)."""
    from pulumi import automation as auto

    if create:
        return auto.create_or_select_stack(stack_name=stack, work_dir=str(work_dir))
    return auto.select_stack(stack_name=stack, work_dir=str(work_dir))


class Runner(Protocol):
    """Previews and deploys single stacks; :class:`AutomationRunner` and :class:`OfflineRunner` are the two."""

    def preview(self, stack: str) -> StackResult: ...

    def up(self, stack: str) -> StackResult: ...

    def outputs(self, stack: str) -> Mapping[str, Any]: ...


def _changes(summary: Mapping[str, int] | None) -> str:
    if not summary:
        return ""
    return ", ".join(f"{op} {n}" for op, n in sorted(summary.items()) if n)


def _error_text(exc: BaseException) -> str:
    """The CLI's ``error:`` lines of a failed command (its whole output is on the console already)."""
    text = str(exc)
    errors = [line.strip() for line in text.splitlines() if line.strip().startswith("error:")]
    if errors:
        return "; ".join(dict.fromkeys(errors))[:500]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:500]


def default_policy_packs() -> list[str]:
    """The shipped CrossGuard pack (``saas_platform.policies``), as ``pulumi preview --policy-pack`` takes it."""
    import importlib.util

    spec = importlib.util.find_spec("saas_platform.policies")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return [str(Path(p).resolve()) for p in locations[:1] if (Path(p) / "PulumiPolicy.yaml").is_file()]


class _Echo:
    """Thread-safe line printer (parallel stacks interleave whole lines, each prefixed with its stack)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._write(line)


@dataclass
class AutomationRunner:
    """Previews and deploys stacks through the Automation API (one ``LocalWorkspace`` on the program folder).

    ``policy_packs``: passed to every preview and update (default: the shipped pack; ``[]`` for none), with
    ``policies/config/<stack>.json`` as its config where that file exists. ``refresh``: ``preview`` previews
    with a refresh (no state written); ``up`` runs ``stack.refresh()`` first. A cell stack that does not exist yet is created by ``up`` (its stack
    file says it should exist); ``preview`` never creates a stack.
    """

    env: EnvironmentStacks
    factory: StackFactory = automation_stack
    policy_packs: list[str] = field(default_factory=default_policy_packs)
    refresh: bool = False
    echo: Callable[[str], None] = print
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _handle(self, stack: str, create: bool) -> StackHandle:
        with self._lock:  # selecting a stack writes the workspace settings; one at a time
            return self.factory(stack, self.env.program_dir, create)

    def _policy_configs(self, stack: str) -> list[str]:
        path = self.env.program_dir / "policies" / "config" / f"{stack}.json"
        return [str(path)] if self.policy_packs and path.is_file() else []

    def _run(self, stack: str, op: Literal["preview", "up"]) -> StackResult:
        started = time.perf_counter()
        mandatory: list[str] = []

        def on_event(event: Any) -> None:
            policy = getattr(event, "policy_event", None)
            if policy is not None and getattr(policy, "enforcement_level", "") == "mandatory":
                mandatory.append(f"{policy.policy_name}: {policy.message}".strip())

        def on_output(line: str) -> None:
            self.echo(f"[{stack}] {line.rstrip()}")

        packs, configs = list(self.policy_packs), self._policy_configs(stack)
        try:
            handle = self._handle(stack, create=op == "up" and stack in self.env.cells)
            if op == "preview":  # `pulumi preview --refresh`: refreshes in memory, writes no state
                result = handle.preview(
                    policy_packs=packs,
                    policy_pack_configs=configs,
                    color="never",
                    on_output=on_output,
                    on_event=on_event,
                    refresh=self.refresh or None,
                )
                summary = _changes(getattr(result, "change_summary", None))
            else:
                if self.refresh:  # `pulumi refresh` writes the refreshed state; only where we deploy anyway
                    handle.refresh(color="never", on_output=on_output)
                result = handle.up(
                    policy_packs=packs,
                    policy_pack_configs=configs,
                    color="never",
                    on_output=on_output,
                    on_event=on_event,
                )
                summary = _changes(getattr(getattr(result, "summary", None), "resource_changes", None))
        except Exception as exc:  # CommandError and friends: the stack failed, the rollout decides what next
            code = EXIT_VIOLATION if mandatory else EXIT_ERROR
            error = f"mandatory policy violations: {'; '.join(mandatory)}" if mandatory else _error_text(exc)
            return StackResult(stack, "failed", code, time.perf_counter() - started, error=error)
        if mandatory:  # the CLI fails on these; never report them as a success
            error = f"mandatory policy violations: {'; '.join(mandatory)}"
            return StackResult(stack, "failed", EXIT_VIOLATION, time.perf_counter() - started, error=error)
        return StackResult(stack, "succeeded", EXIT_OK, time.perf_counter() - started, summary)

    def preview(self, stack: str) -> StackResult:
        """``pulumi preview`` of one stack."""
        return self._run(stack, "preview")

    def up(self, stack: str) -> StackResult:
        """``pulumi up`` of one stack (never with options that bypass ``protect``)."""
        return self._run(stack, "up")

    def outputs(self, stack: str) -> dict[str, Any]:
        """The stack's outputs, values unwrapped."""
        raw = self._handle(stack, create=False).outputs()
        return {k: getattr(v, "value", v) for k, v in raw.items()}


PLAN_PRELOAD: Final[tuple[str, ...]] = (
    PLAN_MODULE,
    "saas_platform.policies.offline",
    "saas_platform.components.platform",
    "saas_platform.components.cell",
)
"""Modules the offline runner's fork server imports once, so that each stack's process starts with the SDK, the
provider modules, the components and the policy pack already loaded (about 1.3 s of CPU per stack otherwise)."""


def _plan_in_child(argv: list[str]) -> tuple[int, str]:
    """One offline plan (``testing.plan.main``) in a process forked from the fork server; returns the exit code
    and what it printed."""
    import contextlib
    import io
    import traceback

    from saas_platform.components.testing.plan import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except BaseException:  # reported as the stack's error, like a crashed subprocess
            traceback.print_exc()
            code = EXIT_ERROR
    return code, out.getvalue()


def fork_server_available() -> bool:
    """Whether this platform offers the ``forkserver`` start method (Linux and macOS; not Windows)."""
    import multiprocessing

    return "forkserver" in multiprocessing.get_all_start_methods()


@dataclass
class OfflineRunner:
    """Previews stacks with the offline plan (``python -m saas_platform.components.testing.plan``), each in its
    own process, writing ``<json_dir>/<stack>.json``. It cannot deploy.

    With ``fork_server`` (the default where the platform has one) each stack's process is forked from a server
    that imported :data:`PLAN_PRELOAD` once, one fresh process per stack (``max_tasks_per_child=1``), instead of
    a new interpreter that imports everything again; otherwise ``python -m`` per stack. Use it as a context
    manager (or call :meth:`close`): closing stops the fork server, so its CPU time is accounted to the caller's
    children like the subprocesses'."""

    env: EnvironmentStacks
    json_dir: Path
    python: str = sys.executable
    echo: Callable[[str], None] = print
    timeout: float = 3600.0
    fork_server: bool = field(default_factory=fork_server_available)
    _pool: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __enter__(self) -> OfflineRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the worker pool down and stop the fork server (waiting for it)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=True)
        from multiprocessing import forkserver

        stop = getattr(forkserver._forkserver, "_stop", None)  # private: waits for the server process
        if stop is not None:
            stop()

    def _executor(self) -> Any:
        with self._lock:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(list(PLAN_PRELOAD))
                self._pool = ProcessPoolExecutor(
                    max_workers=max(1, len(self.env.stacks)), mp_context=context, max_tasks_per_child=1
                )
            return self._pool

    def _run_plan(self, argv: list[str]) -> tuple[int, str, str]:
        """Exit code, stdout and stderr of one offline plan, in a forked or a new process."""
        if self.fork_server:
            code, text = self._executor().submit(_plan_in_child, argv).result(timeout=self.timeout)
            return code, text, ""
        cmd = [self.python, "-m", PLAN_MODULE, *argv]
        # argv built from our own module name and validated stack names, never through a shell
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)  # noqa: S603
        return proc.returncode, proc.stdout, proc.stderr

    @property
    def platform_outputs_file(self) -> Path:
        """The platform stack's planned outputs (``<json_dir>/stack-outputs/<platform>.json``), written by its plan."""
        return self.json_dir / "stack-outputs" / f"{self.env.platform}.json"

    def preview(self, stack: str) -> StackResult:
        """The offline plan of one stack; its exit code is the stack's.

        The platform stack's plan also writes its outputs (:attr:`platform_outputs_file`); a cell's plan answers
        its StackReference to the platform from that file (``--stack-outputs``) instead of planning the platform
        again in every cell's process. Without the file (the platform did not plan) the cell plans it itself."""
        started = time.perf_counter()
        self.json_dir.mkdir(parents=True, exist_ok=True)
        json_file = self.json_dir / f"{stack}.json"
        json_file.unlink(missing_ok=True)
        argv = [stack, "--json", str(json_file), "--program-dir", str(self.env.program_dir), "--quiet"]
        if stack == self.env.platform:
            self.platform_outputs_file.parent.mkdir(exist_ok=True)
            self.platform_outputs_file.unlink(missing_ok=True)
            argv += ["--outputs", str(self.platform_outputs_file)]
        elif self.platform_outputs_file.is_file():
            argv += ["--stack-outputs", str(self.platform_outputs_file)]
        try:
            returncode, stdout, stderr = self._run_plan(argv)
        except (subprocess.TimeoutExpired, TimeoutError):
            return StackResult(
                stack, "failed", EXIT_ERROR, time.perf_counter() - started, error="offline plan timed out"
            )
        for line in (stdout + stderr).splitlines():
            if line.strip():
                self.echo(f"[{stack}] {line.rstrip()}")
        seconds = time.perf_counter() - started
        doc: dict[str, Any] = json.loads(json_file.read_text()) if json_file.is_file() else {}
        summary = ""
        if "summary" in doc:
            violations = doc.get("policy", {}).get("violations", [])
            mandatory = sum(1 for v in violations if v.get("level") == "mandatory")
            summary = (
                f"{doc['summary']['resources']} resources, {mandatory} mandatory / "
                f"{len(violations) - mandatory} advisory violations"
            )
        if returncode == EXIT_OK:
            return StackResult(stack, "succeeded", EXIT_OK, seconds, summary)
        code = returncode if returncode in (EXIT_VIOLATION, EXIT_ERROR) else EXIT_ERROR
        error = doc.get("error") or (f"mandatory policy violations ({summary})" if code == EXIT_VIOLATION else None)
        if not error:
            tail = [line for line in (stderr or stdout).splitlines() if line.strip()]
            error = tail[-1] if tail else f"offline plan exited {returncode}"
        return StackResult(stack, "failed", code, seconds, summary, error)

    def up(self, stack: str) -> StackResult:
        """Refused: the offline plan deploys nothing."""
        raise FleetError("--offline runs the offline plan, which deploys nothing; run up without --offline")

    def outputs(self, stack: str) -> Mapping[str, Any]:
        """The planned outputs of the last offline plan of ``stack`` (mock values, never real ids)."""
        json_file = self.json_dir / f"{stack}.json"
        return json.loads(json_file.read_text()).get("outputs", {}) if json_file.is_file() else {}


def rollout(env: EnvironmentStacks, action: StackAction, *, parallel: int = DEFAULT_PARALLEL) -> FleetReport:
    """``action`` (a runner's ``preview`` or ``up``) over every stack of ``env`` in waves (:func:`run_waves`)."""
    return run_waves(env.waves(), action, parallel=parallel)


# ------------------------------------------------------------------------------------------------ stack files


def _project_defaults(program_dir: Path) -> dict[str, Any]:
    """``Pulumi.yaml`` config defaults, keyed like the CLI's (``<project>:<key>``)."""
    doc = yaml.safe_load((program_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    project = doc.get("name", "project")
    out: dict[str, Any] = {}
    for raw_key, spec in (doc.get("config") or {}).items():
        key = raw_key if ":" in raw_key else f"{project}:{raw_key}"
        default = spec.get("default", spec.get("value")) if isinstance(spec, dict) else spec
        if default is not None:
            out[key] = default
    return out


def validate_stack_text(env: EnvironmentStacks, stack: str, text: str) -> StackConfig:
    """Validate the text of ``Pulumi.<stack>.yaml`` with the stack config contract, as the program would.

    Raises:
        FleetError: the YAML does not parse or the config is invalid (the message names the file and keys).
    """
    name = env.stack_file(stack).name
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise FleetError(f"{name} is not valid YAML: {exc}") from None
    values = dict(_project_defaults(env.program_dir))
    for key, value in (doc.get("config") or {}).items():
        values[key] = "[secret]" if isinstance(value, dict) and set(value) == {"secure"} else value
    try:
        return load_stack_config(values, stack, stack_file=name)
    except StackConfigError as exc:
        raise FleetError(str(exc)) from None


def read_tenants(env: EnvironmentStacks) -> dict[str, list[str]]:
    """Tenant ids per stack, in file order."""
    out: dict[str, list[str]] = {}
    for stack in env.stacks:
        path = env.stack_file(stack)
        try:
            out[stack] = tenant_ids(path.read_text(encoding="utf-8"), path.name)
        except StackFileError as exc:
            raise FleetError(str(exc)) from None
    return out


def locate_tenant(tenants: Mapping[str, Sequence[str]], tenant: str) -> str | None:
    """The stack whose file lists ``tenant``, if any."""
    return next((stack for stack, ids in tenants.items() if tenant in ids), None)


def place_tenant(env: EnvironmentStacks, tenants: Mapping[str, Sequence[str]], cell_size: int = CELL_SIZE) -> str:
    """The first tenant stack (:attr:`EnvironmentStacks.tenant_stacks`) holding fewer than ``cell_size`` tenants.

    Raises:
        FleetError: every tenant stack is full; the message says how to add a cell.
    """
    if cell_size < 1:
        raise FleetError(f"--cell-size must be at least 1; got {cell_size}")
    for stack in env.tenant_stacks:
        if len(tenants.get(stack, ())) < cell_size:
            return stack
    new = env.next_cell()
    if env.cells:
        where = f"every cell of {env.environment} ({', '.join(env.cells)}) holds {cell_size} tenants (--cell-size)"
        copy_from = f"copy Pulumi.{env.cells[-1]}.yaml"
    else:
        where = f"Pulumi.{env.platform}.yaml holds {cell_size} tenants (--cell-size) and {env.environment} has no cells"
        copy_from = (
            f"write a cell file (saas:cell: {{platformStack: <org>/<project>/{env.platform}}}, without the platform's "
            "msk, jobs, api, images and tableNamePrefix keys; docs/fleet.md, Cells)"
        )
    raise FleetError(
        f"no stack has room: {where}. Add a cell: {copy_from} to Pulumi.{new}.yaml with this tenant as its only "
        f"entry under saas:tenants, commit it, and deploy it with `up --env {env.environment} --yes` (the first "
        "up creates the stack). Or raise --cell-size."
    )


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def edit_stack_file(env: EnvironmentStacks, stack: str, edit: Callable[[str, str], str]) -> tuple[str, StackConfig]:
    """Apply ``edit(text, file_name)`` to ``Pulumi.<stack>.yaml``, validate the result and only then save it.

    Returns the previous text (to restore it) and the validated config of the new one.

    Raises:
        FleetError: the edit is refused or the edited file is invalid; the file is unchanged.
    """
    path = env.stack_file(stack)
    old = path.read_bytes().decode("utf-8")
    try:
        new = edit(old, path.name)
    except StackFileError as exc:
        raise FleetError(str(exc)) from None
    config = validate_stack_text(env, stack, new)
    _write_atomic(path, new)
    return old, config


def restore_stack_file(env: EnvironmentStacks, stack: str, text: str) -> None:
    """Put back a stack file's earlier text (after a refused preview)."""
    _write_atomic(env.stack_file(stack), text)


def tenant_entry(tenant: str, tier: str, display_name: str | None = None) -> dict[str, str]:
    """The stack-file entry of a new tenant, validated with :class:`TenantConfig` (the config contract).

    Raises:
        FleetError: the id, tier or display name is invalid.
    """
    entry = {"id": tenant, "tier": tier} | ({"displayName": display_name} if display_name is not None else {})
    try:
        TenantConfig.model_validate(entry)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise FleetError(
            f"invalid tenant {tenant!r}: {problems} (ids are lowercase, start with a letter, 2-31 characters of "
            f"[a-z0-9-]; tiers: {', '.join(get_args(Tier))})"
        ) from None
    return {k: entry[k] for k in ("id", "displayName", "tier") if k in entry}


# ------------------------------------------------------------------------------------------------ admin user


def _cognito_client(region: str) -> Any:
    import boto3

    return boto3.client("cognito-idp", region_name=region)


def ensure_admin_user(client: Any, user_pool_id: str, email: str, tenant: str, environment: str) -> bool:
    """Create the tenant's first admin user (``custom:tenantRole`` ``admin``, allowed in ``environment``) in
    its user pool; Cognito emails the invitation. Idempotent: an existing user of that tenant is success.

    Returns ``True`` if the user was created, ``False`` if it existed already.

    Raises:
        FleetError: the email is invalid, or the existing user belongs to another tenant.
    """
    if not EMAIL_RE.fullmatch(email):
        raise FleetError(f"--admin-email {email!r} is not an email address")
    attributes = [
        {"Name": "email", "Value": email},
        {"Name": "email_verified", "Value": "true"},
        {"Name": "custom:tenantId", "Value": tenant},
        {"Name": "custom:tenantRole", "Value": ADMIN_ROLE},
        {"Name": "custom:environments", "Value": environment},
    ]
    try:
        client.admin_create_user(
            UserPoolId=user_pool_id, Username=email, UserAttributes=attributes, DesiredDeliveryMediums=["EMAIL"]
        )
        return True
    except client.exceptions.UsernameExistsException:
        user = client.admin_get_user(UserPoolId=user_pool_id, Username=email)
        owner = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}.get("custom:tenantId")
        if owner != tenant:
            raise FleetError(
                f"{email} already exists in pool {user_pool_id} with custom:tenantId {owner!r}, not {tenant!r}; "
                "nothing changed"
            ) from None
        return False


# ------------------------------------------------------------------------------------------------ onboard / offboard


def onboard(
    env: EnvironmentStacks,
    runner: Runner,
    tenant: str,
    *,
    tier: str = "standard",
    display_name: str | None = None,
    admin_email: str | None = None,
    cell_size: int = CELL_SIZE,
    resume: bool = False,
    cognito: Callable[[str], Any] = _cognito_client,
    echo: Callable[[str], None] = print,
) -> int:
    """Add ``tenant`` to the first stack with room, preview and deploy only that stack, then create its admin.

    A tenant id already used by any stack of the environment is refused, unless ``resume`` (finish an onboard
    whose deploy failed: the entry stays, preview/up/admin run again). A failed preview restores the file.

    Raises:
        FleetError: refused before any change (invalid id, duplicate, no room, invalid edited file).
    """
    entry = tenant_entry(tenant, tier, display_name)
    if admin_email is not None and not EMAIL_RE.fullmatch(admin_email):
        raise FleetError(f"--admin-email {admin_email!r} is not an email address")
    tenants = read_tenants(env)
    where = locate_tenant(tenants, tenant)
    if where is not None and not resume:
        raise FleetError(
            f"tenant {tenant!r} already exists in Pulumi.{where}.yaml; tenant ids are unique across the stacks of "
            f"{env.environment}. If an earlier onboard of it failed after writing the file, finish it with "
            f"`onboard {tenant} --env {env.environment} --resume`"
        )
    if where is None and resume:
        raise FleetError(
            f"--resume: tenant {tenant!r} is in no stack file of {env.environment}; onboard it without --resume"
        )
    previous: str | None = None
    if where is None:
        where = place_tenant(env, tenants, cell_size)
        from saas_platform.components import fleet_quotas

        shapes = [fleet_quotas.stack_shape(env, s) for s in env.stacks]
        shapes = [replace(s, tenants=s.tenants + 1) if s.stack == where else s for s in shapes]
        fleet_quotas.check_refused_up_front(env, shapes)  # with the new tenant counted, before the file changes
        previous, config = edit_stack_file(env, where, lambda text, name: add_tenant(text, entry, name))
        echo(f"onboard: wrote {tenant} ({entry['tier']}) into Pulumi.{where}.yaml ({len(tenants[where]) + 1} tenants)")
    else:
        config = validate_stack_text(env, where, env.stack_file(where).read_text(encoding="utf-8"))
    preview = runner.preview(where)
    if preview.failed:
        if previous is not None:
            restore_stack_file(env, where, previous)
            echo(f"onboard: preview of {where} failed; Pulumi.{where}.yaml restored, nothing deployed")
        echo(f"onboard: {preview.error}")
        return preview.exit_code or EXIT_ERROR
    up = runner.up(where)
    if up.failed:
        echo(
            f"onboard: up of {where} failed: {up.error}. Pulumi.{where}.yaml keeps {tenant}; fix the cause and run "
            f"`onboard {tenant} --env {env.environment} --resume`"
        )
        return up.exit_code or EXIT_ERROR
    echo(f"onboard: {where} deployed ({up.summary or 'no changes'})")
    if admin_email is None:
        return EXIT_OK
    pools = runner.outputs(where).get("userPoolIds") or {}
    pool = pools.get(tenant) if isinstance(pools, Mapping) else None
    if not isinstance(pool, str) or not pool:
        echo(f"onboard: stack {where} exports no userPoolIds[{tenant!r}]; the admin user was not created")
        return EXIT_ERROR
    try:
        created = ensure_admin_user(cognito(config.region), pool, admin_email, tenant, env.environment)
    except FleetError:
        raise
    except Exception as exc:  # botocore errors: the deploy stands, only the user is missing
        echo(
            f"onboard: the admin user was not created ({type(exc).__name__}: {exc}); run "
            f"`onboard {tenant} --env {env.environment} --resume --admin-email {admin_email}` again"
        )
        return EXIT_ERROR
    echo(
        f"onboard: admin user {admin_email} {'created (invitation emailed)' if created else 'already exists'} in {pool}"
    )
    return EXIT_OK


def offboard(
    env: EnvironmentStacks,
    runner: Runner,
    tenant: str,
    *,
    remove: bool = False,
    echo: Callable[[str], None] = print,
) -> int:
    """Suspend ``tenant`` (``status: suspended`` in its stack file) and deploy that stack; with ``remove``, and
    only once the suspension is deployed, remove its entry and deploy again.

    Deletion protection is honoured: if the removal would delete protected resources, Pulumi refuses at preview,
    the file is restored and the tenant stays suspended until an operator unprotects them.

    Raises:
        FleetError: the tenant is in no stack file, or an edit is refused.
    """
    where = locate_tenant(read_tenants(env), tenant)
    if where is None:
        raise FleetError(f"tenant {tenant!r} is in no stack file of {env.environment} ({', '.join(env.stacks)})")
    path = env.stack_file(where)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    status = next(t for t in doc["config"]["saas:tenants"] if t.get("id") == tenant).get("status", "active")
    if status in (SUSPENDED, "offboarded"):
        echo(f"offboard: {tenant} already has status {status} in {path.name}; deploying {where} to make sure")
        config = validate_stack_text(env, where, path.read_text(encoding="utf-8"))
    else:
        _, config = edit_stack_file(
            env, where, lambda text, name: set_tenant_field(text, tenant, "status", SUSPENDED, name)
        )
        echo(f"offboard: set {tenant} status: {SUSPENDED} in {path.name}")
    up = runner.up(where)
    if up.failed:
        echo(f"offboard: up of {where} failed: {up.error}. The suspension is not deployed; nothing was removed")
        return up.exit_code or EXIT_ERROR
    echo(
        f"offboard: {tenant} suspended in {where}: the tenant registry says so now, and every handler that "
        f"checks the registry refuses it within one cache TTL ({REGISTRY_TTL_SECONDS} s)"
    )
    if not remove:
        echo(f"offboard: to remove the entry later: `offboard {tenant} --env {env.environment} --remove`")
        return EXIT_OK
    previous, _ = edit_stack_file(env, where, lambda text, name: remove_tenant(text, tenant, name))
    echo(f"offboard: removed {tenant} from {path.name}")
    preview = runner.preview(where)
    if preview.failed:
        restore_stack_file(env, where, previous)
        protected = (
            " The stack is protected (saas:protect): the tenant's user pool and policy store are protected "
            "resources, which Pulumi will not delete. They stay until an operator unprotects them "
            f"(`pulumi state unprotect --stack {where} <urn>`); then run this command again."
            if config.protect
            else ""
        )
        echo(
            f"offboard: preview of the removal failed: {preview.error}. {path.name} restored; {tenant} stays suspended.{protected}"
        )
        return preview.exit_code or EXIT_ERROR
    up = runner.up(where)
    if up.failed:
        echo(f"offboard: up of the removal failed: {up.error}. {path.name} no longer lists {tenant}; fix and run `up`")
        return up.exit_code or EXIT_ERROR
    echo(f"offboard: {tenant} removed from {where} ({up.summary or 'no changes'})")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m saas_platform.components.fleet",
        description="Roll out, onboard and offboard over the stacks of an environment (docs/fleet.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, choices=ENVIRONMENTS, help="the environment")
    common.add_argument("--program-dir", type=Path, default=Path.cwd(), help="folder with Pulumi.yaml (default: .)")
    deploy = argparse.ArgumentParser(add_help=False)
    deploy.add_argument("--yes", action="store_true", help="required to change prod")
    deploy.add_argument("--refresh", action="store_true", help="preview: with a refresh; up: refresh each stack first")
    deploy.add_argument(
        "--policy-pack",
        action="append",
        dest="policy_packs",
        metavar="DIR",
        help="policy pack (default: the shipped pack)",
    )
    deploy.add_argument("--no-policy-pack", action="store_true", help="run without any policy pack")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("preview", "preview every stack in waves"), ("up", "deploy every stack in waves")):
        cmd = sub.add_parser(name, parents=[common, deploy], help=text, description=text)
        cmd.add_argument(
            "--parallel",
            type=int,
            default=DEFAULT_PARALLEL,
            help=f"stacks at once after the canary (default {DEFAULT_PARALLEL})",
        )
        cmd.add_argument("--offline", action="store_true", help="preview with the offline plan (no Pulumi CLI, no AWS)")
        cmd.add_argument("--json-dir", type=Path, help="with --offline: write <DIR>/<stack>.json")
    on = sub.add_parser("onboard", parents=[common, deploy], help="add a tenant to the stack with room and deploy it")
    on.add_argument("tenant")
    on.add_argument("--tier", default="standard", choices=get_args(Tier), help="default: standard")
    on.add_argument("--display-name")
    on.add_argument("--admin-email", help="create the tenant's first admin user (idempotent)")
    on.add_argument("--cell-size", type=int, default=CELL_SIZE, help=f"tenants per stack (default {CELL_SIZE})")
    on.add_argument("--resume", action="store_true", help="finish an onboard whose deploy failed")
    off = sub.add_parser("offboard", parents=[common, deploy], help="suspend a tenant (and with --remove, remove it)")
    off.add_argument("tenant")
    off.add_argument("--remove", action="store_true", help="after the suspension is deployed, remove the entry")
    sub.add_parser("stacks", parents=[common], help="list the stacks, waves and tenant counts")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    factory: StackFactory = automation_stack,
    cognito: Callable[[str], Any] = _cognito_client,
    write: Callable[[str], None] = print,
) -> int:
    """The command line; returns the exit code. ``factory``/``cognito`` are injected by tests."""
    args = _parser().parse_args(argv)
    echo = _Echo(write)
    try:
        env = discover_stacks(args.program_dir, args.env)
        if args.command == "stacks":
            tenants = read_tenants(env)
            for i, wave in enumerate(env.waves(), 1):
                for stack in wave:
                    echo(f"wave {i}: {stack:<20} {len(tenants[stack]):>4} tenants  Pulumi.{stack}.yaml")
            return EXIT_OK
        mutates = args.command != "preview"
        if mutates and env.environment == "prod" and not args.yes:
            raise FleetError(
                f"refusing to {args.command} in prod without --yes: it deploys to production. Preview first "
                f"(`python -m saas_platform.components.fleet preview --env prod`), then add --yes"
            )
        if getattr(args, "offline", False):
            if args.command != "preview":
                raise FleetError("--offline runs the offline plan, which deploys nothing; it works with preview only")
            from saas_platform.components import fleet_quotas

            fleet_quotas.check_refused_up_front(env)
            with (
                tempfile.TemporaryDirectory(prefix="fleet-plan-") as tmp,
                OfflineRunner(env, args.json_dir or Path(tmp), echo=echo) as offline,
            ):
                report = rollout(env, offline.preview, parallel=args.parallel)
                quotas = fleet_quotas.check_environment(env, fleet_quotas.read_plan_documents(env, offline.json_dir))
                for line in quotas.lines():  # before the table, whose closing line stays the last
                    echo(line)
                echo(report.table())
                return max(report.exit_code, quotas.exit_code)
        packs = [] if args.no_policy_pack else (args.policy_packs or default_policy_packs())
        runner = AutomationRunner(env, factory, packs, refresh=args.refresh, echo=echo)
        if args.command in ("preview", "up"):
            from saas_platform.components import fleet_quotas

            fleet_quotas.check_refused_up_front(env)  # before any stack is previewed or deployed
            report = rollout(env, runner.preview if args.command == "preview" else runner.up, parallel=args.parallel)
            echo(report.table())
            return report.exit_code
        if args.command == "onboard":
            return onboard(
                env,
                runner,
                args.tenant,
                tier=args.tier,
                display_name=args.display_name,
                admin_email=args.admin_email,
                cell_size=args.cell_size,
                resume=args.resume,
                cognito=cognito,
                echo=echo,
            )
        return offboard(env, runner, args.tenant, remove=args.remove, echo=echo)
    except FleetError as exc:
        echo(f"error: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
