"""Run a Pulumi program (or any function) in-process under mocks and capture every resource.

This is the route docs/offline-plan.md tested: a recording subclass of the SDK's
``MockMonitor``, config set the way the CLI sends it (strings, JSON text for objects), and the program run
through ``run_in_stack`` - the same call the language host makes - which waits for every outstanding
registration, including resources created inside ``apply``.

It also enforces what the real engine checks and plain mocks do not:

* duplicate URNs (two resources with the same type chain and name) fail the run with
  :class:`DuplicateUrnError`, as ``pulumi up`` would;
* typed project config (``Pulumi.yaml`` ``config:``) is checked like the CLI does before the program runs:
  a typed key with no default and no stack value, or a value of the wrong type, raises
  :class:`ProjectConfigError`.

The SDK internals used here (``MockSettings``, ``settings.ROOT``, ``_sync_await``) are why ``pulumi`` is
pinned to ``3.272.*`` in ``pyproject.toml``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import runpy
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from saas_platform.components.testing.mocks import AwsMocks

STACK_TYPE = "pulumi:pulumi:Stack"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_RUN_LOCK = threading.Lock()


class DuplicateUrnError(pulumi.RunError):
    """Two registrations produced the same URN. The real engine rejects this; plain mocks accept it."""


class ProjectConfigError(pulumi.RunError):
    """A typed ``Pulumi.yaml`` config key is missing or has the wrong type (what the CLI checks first)."""


@dataclass(frozen=True)
class CapturedOptions:
    """The resource options the engine received."""

    protect: bool = False
    retain_on_delete: bool = False
    depends_on: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    provider: str | None = None
    import_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "dependsOn": list(self.depends_on),
            "ignoreChanges": list(self.ignore_changes),
            "deleteBeforeReplace": self.delete_before_replace,
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "provider": self.provider,
            "importId": self.import_id,
        }


@dataclass
class CapturedResource:
    """One registration as the engine saw it (docs/offline-plan.md).

    ``inputs`` and ``state`` use the engine's camelCase property names; numbers are floats as on the wire.
    ``raw_inputs``/``raw_outputs`` are the protobuf ``Struct``s, fed unchanged to the policy analyzer.
    """

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    remote: bool
    inputs: dict[str, Any]
    id: str | None
    state: dict[str, Any]
    options: CapturedOptions
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    raw_inputs: struct_pb2.Struct = field(repr=False)
    raw_outputs: struct_pb2.Struct = field(repr=False)

    @property
    def tags(self) -> dict[str, str]:
        tags = self.inputs.get("tags")
        return dict(tags) if isinstance(tags, dict) else {}

    @property
    def parent_type(self) -> str | None:
        """Type of the direct parent, read from the URN's type chain."""
        chain = self.urn.split("::")[2].split("$")
        return chain[-2] if len(chain) > 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "remote": self.remote,
            "inputs": plain(self.inputs),
            "id": self.id,
            "state": plain(self.state),
            "options": self.options.to_json(),
            "dependencies": self.dependencies,
        }


@dataclass
class ProgramRun:
    """Everything one offline run registered, plus the stack outputs."""

    project: str
    stack: str
    resources: list[CapturedResource]
    outputs: dict[str, Any]
    component_outputs: dict[str, dict[str, Any]]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def of_type(self, type_: str) -> list[CapturedResource]:
        """Resources of one type token, sorted by URN (registration order is not deterministic)."""
        return sorted((r for r in self.resources if r.type == type_), key=lambda r: r.urn)

    def named(self, name: str, type_: str | None = None) -> CapturedResource:
        """The single resource with this logical name (and type); raises ``LookupError`` if not exactly one."""
        found = [r for r in self.resources if r.name == name and (type_ is None or r.type == type_)]
        if len(found) != 1:
            raise LookupError(f"expected exactly one resource named {name!r} of type {type_}, found {len(found)}")
        return found[0]

    def children(self, parent_urn: str) -> list[CapturedResource]:
        return sorted((r for r in self.resources if r.parent == parent_urn), key=lambda r: r.urn)

    def descendants(self, ancestor_urn: str) -> list[CapturedResource]:
        out: list[CapturedResource] = []
        frontier = [ancestor_urn]
        while frontier:
            urn = frontier.pop()
            kids = self.children(urn)
            out.extend(kids)
            frontier.extend(k.urn for k in kids)
        return sorted(out, key=lambda r: r.urn)

    def by_urn(self) -> dict[str, CapturedResource]:
        return {r.urn: r for r in self.resources}

    def data_paths(self) -> list[dict[str, Any]]:
        """The data-path inventory (``saas_platform.components.datapaths``): every path the components declared
        in their ``dataPaths`` output, each with the declaring component's URN (``component``), sorted. At a first
        preview a component whose paths name provider-computed values (role ARNs, pool ids) has none yet."""
        out: list[dict[str, Any]] = []
        for urn, outputs in self.component_outputs.items():
            declared = plain(outputs.get("dataPaths"))
            if isinstance(declared, list):
                out += [{**p, "component": urn} for p in declared if isinstance(p, dict)]
        return sorted(out, key=lambda p: (p["component"], p["name"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": [r.to_json() for r in sorted(self.resources, key=lambda r: r.urn)],
            "outputs": plain(self.outputs),
            "dataPaths": self.data_paths(),
        }


def plain(value: Any) -> Any:
    """Make a deserialized property value JSON-friendly: secrets as ``"[secret]"``, unknowns as ``"[unknown]"``,
    resource references as their URN, assets and archives by path, integral floats as ints."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return "[secret]"
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return "[unknown]"
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": value.path}
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {k: plain(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return {"asset": type(value).__name__}
    return value


@dataclass(frozen=True)
class Diagnostic:
    """A message the program logged through ``pulumi.log`` (what the CLI shows under Diagnostics)."""

    severity: str
    message: str
    urn: str | None

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "message": self.message, "urn": self.urn}


class RecordingEngine:
    """The engine half of the mocks: keeps ``pulumi.log`` diagnostics instead of printing them."""

    _SEVERITIES = {0: "debug", 1: "info", 2: "warning", 3: "error"}

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def Log(self, request: Any) -> None:
        severity = self._SEVERITIES.get(int(request.severity), "info")
        self.diagnostics.append(Diagnostic(severity, request.message, request.urn or None))


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A ``MockMonitor`` that keeps every ``RegisterResourceRequest`` and rejects duplicate URNs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[CapturedResource] = []
        self._components: dict[str, CapturedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self.errors: list[BaseException] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            if urn in self._seen:
                err = DuplicateUrnError(
                    f"Duplicate resource URN '{urn}'; try giving it a unique name "
                    f"(a child's URN holds its parent's type chain, not the parent's name)"
                )
                self.errors.append(err)
                raise err
            self._seen.add(urn)
        try:
            response = super().RegisterResource(request)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        registered = self.resources.get(response.urn)
        prop_deps = {k: list(v.urns) for k, v in request.propertyDependencies.items()}
        implicit = {u for urns in prop_deps.values() for u in urns}
        record = CapturedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=bool(request.custom),
            remote=bool(request.remote),
            inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
            id=(registered.id if registered else None) or None,
            state=dict(registered.state) if registered else {},
            options=CapturedOptions(
                protect=bool(request.protect) if request.HasField("protect") else False,
                retain_on_delete=bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
                depends_on=tuple(sorted(set(request.dependencies) - implicit)),
                ignore_changes=tuple(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                provider=request.provider or None,
                import_id=request.importId or None,
            ),
            dependencies=list(request.dependencies),
            property_dependencies=prop_deps,
            raw_inputs=request.object,
            raw_outputs=response.object,
        )
        with self._lock:
            self.records.append(record)
            if not record.custom:
                self._components[record.urn] = record
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        if request.urn.split("::")[2] == STACK_TYPE:
            self.stack_outputs = outputs
        else:
            self.component_outputs[request.urn] = outputs
            # As in the engine's snapshot, a component's outputs are its properties in AnalyzeStack.
            with self._lock:
                component = self._components.get(request.urn)
                if component is not None:
                    component.raw_outputs = request.outputs
        return super().RegisterResourceOutputs(request)


@dataclass(frozen=True)
class ProjectConfig:
    """A stack's flattened config, as the CLI would hand it to the program."""

    project: str
    stack: str
    stack_file: Path
    values: dict[str, str]
    secret_keys: list[str]
    main: Path


def _encode(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _check_type(type_: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """Port of the CLI's ``workspace.ValidateConfigValue`` for the top level of a typed key."""
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.lstrip("-").isdigit()
        )
    if type_ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_ == "object":
        return isinstance(value, dict)
    if type_ == "array":
        return (
            isinstance(value, list)
            and items is not None
            and all(_check_type(items.get("type", ""), items.get("items"), v) for v in value)
        )
    return False


def load_project_config(
    program_dir: str | os.PathLike[str], stack: str, overrides: Mapping[str, Any] | None = None
) -> ProjectConfig:
    """Flatten ``Pulumi.yaml`` defaults and ``Pulumi.<stack>.yaml`` like the CLI: ``{"proj:key": str}``.

    Typed project keys are checked as the CLI checks them; ``secure:`` values (which only the CLI can
    decrypt) become ``"[secret]"`` and are marked secret. ``overrides`` replace or add keys (``None`` deletes).
    """
    root = Path(program_dir)
    project_doc = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    project = project_doc["name"]
    stack_file = root / f"Pulumi.{stack}.yaml"
    stack_doc = (yaml.safe_load(stack_file.read_text()) or {}) if stack_file.exists() else {}
    stack_values: dict[str, Any] = dict(stack_doc.get("config") or {})
    for key, value in (overrides or {}).items():
        if value is None:
            stack_values.pop(key, None)
        else:
            stack_values[key] = value
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    problems: list[str] = []
    for raw_key, spec in (project_doc.get("config") or {}).items():
        key = raw_key if ":" in raw_key else f"{project}:{raw_key}"
        spec_map = spec if isinstance(spec, dict) else {"default": spec}
        default = spec_map.get("default", spec_map.get("value"))
        if default is not None:
            flat[key] = _encode(default)
        type_ = spec_map.get("type")
        if not type_:
            continue
        value = stack_values.get(key)
        if value is None and default is None:
            problems.append(f"Stack '{stack}' is missing configuration value '{key}'")
        elif isinstance(value, dict) and set(value) == {"secure"}:
            continue
        elif value is not None and not _check_type(type_, spec_map.get("items"), value):
            problems.append(f"Stack '{stack}' with configuration key '{key}' must be of type '{type_}'")
    if problems:
        raise ProjectConfigError(f"{stack_file.name}: " + "; ".join(problems))
    for key, value in stack_values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(key)
            flat[key] = "[secret]"
        else:
            flat[key] = _encode(value)
    main = root / project_doc.get("main", "")
    if main.is_dir() or main == root:
        main = main / "__main__.py"
    return ProjectConfig(project, stack, stack_file, flat, secret_keys, main)


@contextmanager
def _mocked_runtime(
    monitor: RecordingMonitor,
    engine: RecordingEngine,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    preview: bool,
    root_directory: str,
) -> Iterator[None]:
    pulumi_settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            engine=engine,
            project=project,
            stack=stack,
            dry_run=preview,
            organization="organization",
            root_directory=root_directory,
            callbacks=None,
            monitor_features=set(),
        )
    )
    pulumi.runtime.set_all_config(dict(config), secret_keys)
    pulumi_settings.ROOT.set(None)  # run_in_stack registers the Stack resource, like the language host
    # MockSettings keeps the process-wide set of tracked outputs, where a failed run leaves its failed outputs;
    # they are not this run's (pulumi.runtime.test clears it the same way). They still finish on the loop.
    settings: Any = pulumi_settings.SETTINGS
    with settings.lock:
        settings.outputs.clear()
    try:
        yield
    finally:
        pulumi.runtime.set_all_config({}, [])


def _run_main(main: Path) -> None:
    runpy.run_path(str(main), run_name="__main__")


async def _settle_outputs() -> None:
    """Wait for every ``Output`` the program created, with one done-callback per output, then return.

    ``run_in_stack`` ends with the SDK's ``wait_for_rpcs``, whose output loop waits with ``FIRST_COMPLETED``
    and, after each completion, adds a done-callback to every output still pending: quadratic in the
    outputs (1.26 million ``add_done_callback`` calls for the 2,303 resources of 50 tenants). Each round here
    waits for all outputs pending at its start, so every output is waited on once and the SDK's loop then
    finds them done. A round stops at the first failed or cancelled output and leaves it to the SDK's loop,
    which raises it as before; resources, values and errors are unchanged.
    """
    while True:
        settings: Any = pulumi_settings.SETTINGS
        with settings.lock:
            tracked = list(settings.outputs)
        if any(t.done() and (t.cancelled() or t.exception() is not None) for t in tracked):
            return
        pending = [t for t in tracked if not t.done()]
        if not pending:
            return
        await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)


def _settled(fn: Callable[[], Any]) -> Callable[[], Awaitable[None]]:
    """``fn`` as a program for ``run_in_stack`` that also waits for its outputs (:func:`_settle_outputs`)."""

    def program() -> Awaitable[None]:
        result = fn()

        async def settle() -> None:
            if isawaitable(result):
                await result
            await _settle_outputs()

        return settle()

    return program


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # marks the exception retrieved


def _settle_failed_run() -> None:
    """After a program failed: mark the SDK's failed futures as retrieved, now or when they complete.

    A failed run leaves futures holding the error (or errors derived from it) that nobody awaits, and pending
    tasks that finish during a later run. asyncio logs each such future as "Future/Task exception was never
    retrieved" when it is garbage-collected: thousands of records for one deliberate failure, attributed to
    whichever test happens to run then (pytest's logging plugin captured them all; once an xdist report broke
    on them). The error itself still propagates to the caller; this only stops the echoes. Nothing is
    cancelled: the SDK's RPC bookkeeping awaits its tasks in the next run.
    """
    loop = asyncio.get_event_loop()  # the loop _sync_await ran the program on (this thread's)
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.get_loop() is loop:
            if obj.done():
                _retrieve(obj)
            else:
                obj.add_done_callback(_retrieve)


def _raise_first(monitor: RecordingMonitor, exc: BaseException | None) -> None:
    if exc is not None or monitor.errors:
        _settle_failed_run()
    dupes = [e for e in monitor.errors if isinstance(e, DuplicateUrnError)]
    if dupes:
        raise dupes[0]
    if exc is not None:
        raise exc


def _project_name(directory: str) -> str:
    """The ``name`` of ``directory``'s ``Pulumi.yaml`` (what the CLI would use), else ``"project"``."""
    path = Path(directory) / "Pulumi.yaml"
    if path.is_file():
        doc = yaml.safe_load(path.read_text()) or {}
        if isinstance(doc, dict) and isinstance(doc.get("name"), str):
            return doc["name"]
    return "project"


_PROGRAM_MODULES: set[str] = set()
"""Modules a ``run_program`` imported from its program folder (dropped again so the next run re-imports)."""


def _program_modules(root: Path) -> set[str]:
    """Loaded modules whose file is in the program folder ``root`` (not a virtualenv in it, not this library)."""
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name.startswith(("saas_platform", "tests", "__main__")):
            continue
        path = Path(file)
        if path.is_relative_to(root) and not any(part in ("site-packages", ".venv") for part in path.parts):
            found.add(name)
    return found


def _forget_program_modules(root: Path, before: set[str]) -> None:
    """Drop the modules the program imported from its folder (``infra.py``, its own ``components/``...).

    Pulumi's recommended layout keeps resources in a module ``__main__.py`` imports; the module cache would
    make a second run in the same process register only the Stack. Dropping them re-runs them next time.
    """
    for name in (_program_modules(root) - before) | (_PROGRAM_MODULES & set(sys.modules)):
        sys.modules.pop(name, None)
    _PROGRAM_MODULES.clear()


def run_function(
    fn: Callable[[], Any],
    *,
    project: str | None = None,
    stack: str = "test",
    config: Mapping[str, Any] | None = None,
    mocks: pulumi.runtime.Mocks | None = None,
    preview: bool = False,
    root_directory: str | None = None,
) -> ProgramRun:
    """Run ``fn`` as a Pulumi program under mocks and return what it registered.

    ``config`` is keyed like the CLI's (``saas:tenants``); non-string values are JSON-encoded as the CLI
    does. ``project`` defaults to the name in ``Pulumi.yaml`` of ``root_directory`` (default: the current
    folder), else ``"project"``. The call is serialized process-wide (the SDK's runtime settings are global).
    """
    root_directory = root_directory or os.getcwd()
    project = project or _project_name(root_directory)
    flat = {k: _encode(v) for k, v in (config or {}).items()}
    region = flat.get("aws:region", "ap-southeast-1")
    monitor = RecordingMonitor(mocks or AwsMocks(region=region))
    engine = RecordingEngine()
    with (
        _RUN_LOCK,
        _mocked_runtime(
            monitor,
            engine,
            project=project,
            stack=stack,
            config=flat,
            secret_keys=[],
            preview=preview,
            root_directory=root_directory,
        ),
    ):
        error: BaseException | None = None
        try:
            _sync_await(run_in_stack(_settled(fn)))
        except Exception as exc:
            error = exc
        _raise_first(monitor, error)
    return ProgramRun(
        project, stack, monitor.records, monitor.stack_outputs, monitor.component_outputs, engine.diagnostics
    )


def run_program(
    program_dir: str | os.PathLike[str],
    stack: str,
    *,
    config: Mapping[str, Any] | None = None,
    mocks: pulumi.runtime.Mocks | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run the Pulumi program in ``program_dir`` with ``Pulumi.<stack>.yaml`` under mocks.

    Args:
        config: overrides of stack-file keys (``None`` removes a key), e.g. to test a bad value.
        mocks: defaults to :class:`~saas_platform.components.testing.mocks.AwsMocks` for the stack's region.
        stack_outputs: outputs of other stacks for ``StackReference`` (used when ``mocks`` is not given).
        preview: run as a first preview: with the default mocks, provider-computed outputs (ids, ARNs) are
            unknown, as in ``pulumi preview`` of a stack that does not exist yet.
    """
    root = Path(program_dir).resolve()
    cfg = load_project_config(root, stack, config)
    region = cfg.values.get("aws:region", "ap-southeast-1")
    monitor = RecordingMonitor(mocks or AwsMocks(region=region, stack_outputs=stack_outputs, first_preview=preview))
    engine = RecordingEngine()
    sys.path.insert(0, str(root))
    cwd = os.getcwd()
    os.chdir(root)
    before = _program_modules(root)
    _forget_program_modules(root, before)  # only what earlier runs imported: those must run again
    try:
        with (
            _RUN_LOCK,
            _mocked_runtime(
                monitor,
                engine,
                project=cfg.project,
                stack=stack,
                config=cfg.values,
                secret_keys=cfg.secret_keys,
                preview=preview,
                root_directory=str(root),
            ),
        ):
            error: BaseException | None = None
            try:
                _sync_await(run_in_stack(_settled(lambda: _run_main(cfg.main))))
            except Exception as exc:
                error = exc
            _raise_first(monitor, error)
    finally:
        _PROGRAM_MODULES.update(_program_modules(root) - before)
        _forget_program_modules(root, before)
        os.chdir(cwd)
        sys.path.remove(str(root))
    return ProgramRun(
        cfg.project, stack, monitor.records, monitor.stack_outputs, monitor.component_outputs, engine.diagnostics
    )
