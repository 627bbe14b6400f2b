"""``HandlerFunction`` and ``HandlerLayer``: how every Lambda in ``handlers/`` is packaged and deployed.

One asset archive holds the ``saas_platform.handlers`` package (the ``handlers/`` folder), or a consumer's own
handler folder (``source_dir``); third-party code the runtime lacks (Powertools, PyJWT and cryptography) comes
from one ``HandlerLayer`` per environment, built for arm64 by ``scripts/build-lambda-layer`` from
``handlers/requirements.txt``. Every function runs Python 3.13 on arm64 with X-Ray active tracing, JSON logs
into its own KMS-encrypted log group with a retention, and a role that holds only its log group, X-Ray and the
statements the caller passes.

What a handler imports is checked while the program runs (so at ``pulumi preview``): every module it imports,
followed through its own package, must come from the Lambda runtime (the standard library and the AWS SDK) or
from one of the function's layers. A trigger deployed without the layer that carries Powertools is refused
then, rather than failing every invocation after ``pulumi up``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform import handlers
from saas_platform.components import datapaths
from saas_platform.components.context import resolve_account, resolve_region
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import service_trust_policy
from saas_platform.components.naming import LAMBDA_FUNCTION_NAME_MAX, LOG_RETENTION_DAYS, Environment, tags

RUNTIME: Final = "python3.13"
ARCHITECTURE: Final = "arm64"
HANDLERS_DIR: Final = Path(handlers.__file__).resolve().parent
LAYER_DIR: Final = Path("build") / "lambda-layer"
"""Default layer folder, relative to the Pulumi project (where ``scripts/build-lambda-layer`` writes it)."""
LAYER_REQUIREMENTS: Final = HANDLERS_DIR / "requirements.txt"
FUNCTION_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
HANDLER_PACKAGE: Final = "saas_platform.handlers"
HANDLER_RE: Final = re.compile(r"saas_platform\.handlers\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
DOTTED_HANDLER_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
PACKAGE_RE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?")

RUNTIME_MODULES: Final = frozenset(sys.stdlib_module_names) | frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "awslambdaric"}
)
"""Top-level modules the Lambda Python runtime provides: the standard library and the AWS SDK for Python."""
DEFAULT_LAYER_MODULES: Final = frozenset(
    {
        # aws-lambda-powertools[tracer]
        "aws_lambda_powertools",
        "aws_xray_sdk",
        "wrapt",
        "jmespath",
        "typing_extensions",
        # pyjwt[crypto]
        "jwt",
        "cryptography",
        "cffi",
        "_cffi_backend",
        "pycparser",
        # pydantic
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "typing_inspection",
        # pillow (the image pipeline's upload and processor handlers)
        "PIL",
    }
)
"""Top-level modules ``handlers/requirements.txt`` puts into the layer (used until the layer is built; a built
layer is read from its folder)."""


ARCHIVE_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
"""The timestamp of every archive member: the zip format's earliest date, so the archive does not depend on
when (or on which checkout) it was built."""
ARCHIVE_SKIPPED_DIRS: Final = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
ARCHIVE_SKIPPED_SUFFIXES: Final = (".pyc", ".pyo")
ARCHIVE_DIR_ENV: Final = "SAAS_PLATFORM_ARCHIVE_DIR"
"""Where built code archives are written (default: ``<tempdir>/saas-platform-archives``)."""


def archive_members(source: Path, prefix: str = "") -> list[tuple[str, Path]]:
    """The files of ``source`` as ``(name in the archive, path)``, sorted by name.

    Bytecode (``__pycache__/``, ``*.pyc``) and hidden files are left out: Lambda compiles on first import, and
    bytecode would make the archive depend on the Python that built it.
    """
    members: list[tuple[str, Path]] = []
    for directory, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d not in ARCHIVE_SKIPPED_DIRS and not d.startswith(".")]
        for filename in filenames:
            if filename.startswith(".") or filename.endswith(ARCHIVE_SKIPPED_SUFFIXES):
                continue
            path = Path(directory) / filename
            relative = path.relative_to(source).as_posix()
            members.append((f"{prefix}/{relative}" if prefix else relative, path))
    return sorted(members)


def build_code_zip(source: Path, prefix: str = "") -> bytes:
    """A deterministic zip of ``source`` (under ``prefix/`` in the archive): sorted members, fixed timestamps
    and permissions, no bytecode. Two builds of the same files are byte-identical, so a build is reused while
    no member changed (same names, sizes and modification times): a stack with a hundred functions packages
    the handlers once."""
    members = archive_members(source, prefix)
    stamp = tuple((name, st.st_size, st.st_mtime_ns) for name, path in members for st in (path.stat(),))
    return _zip(tuple(members), stamp)


@functools.lru_cache(maxsize=16)
def _zip(members: tuple[tuple[str, Path], ...], _stamp: tuple[tuple[str, int, int], ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in members:
            info = zipfile.ZipInfo(name, date_time=ARCHIVE_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = 0o100644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def code_archive(source: Path, prefix: str = "") -> pulumi.FileArchive:
    """``source`` packaged by :func:`build_code_zip`, written once per content into the archive directory
    (``$SAAS_PLATFORM_ARCHIVE_DIR``) and handed to Pulumi as a zip file."""
    data = build_code_zip(source, prefix)
    digest = hashlib.sha256(data).hexdigest()[:20]
    out_dir = Path(os.environ.get(ARCHIVE_DIR_ENV) or Path(tempfile.gettempdir()) / "saas-platform-archives")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{(prefix or source.name).replace('/', '.')}-{digest}.zip"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".zip.tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)  # atomic: parallel programs never see a half-written archive
    return pulumi.FileArchive(str(target))


def handlers_archive() -> pulumi.FileArchive:
    """The deployment package: ``saas_platform/handlers/`` in the archive, imported as ``saas_platform.handlers.x``.

    The folder is located through this library's own package, never through whatever ``handlers`` is on
    ``sys.path``, so a consumer project with its own ``handlers/`` folder deploys our code, not theirs.
    """
    return code_archive(HANDLERS_DIR, HANDLER_PACKAGE.replace(".", "/"))


@dataclass(frozen=True)
class LayerRef:
    """A Lambda layer and the top-level modules it provides, for a layer this program does not build (e.g. an
    ARN exported by another stack): ``LayerRef(ref.get_output("layerArn"), modules={"aws_lambda_powertools"})``.
    ``HandlerFunction`` checks its handler's imports against ``modules``."""

    arn: pulumi.Input[str]
    modules: frozenset[str]


def layer_modules(path: Path) -> frozenset[str]:
    """Top-level importable names in a built layer folder (``<path>/python``): packages, modules, extensions."""
    names: set[str] = set()
    root = path / "python"
    for entry in root.iterdir() if root.is_dir() else ():
        if entry.name.endswith((".dist-info", ".egg-info", ".pth")) or entry.name in ("bin", "__pycache__"):
            continue
        names.add(entry.name.split(".", 1)[0])
    return frozenset(names)


@dataclass(frozen=True, kw_only=True)
class HandlerLayerArgs:
    """Arguments of :class:`HandlerLayer`.

    Attributes:
        environment: tags and the layer name.
        path: the built layer folder (holding ``python/``). Default: ``build/lambda-layer`` under the Pulumi
            project, where ``scripts/build-lambda-layer`` writes it.
        modules: what the layer provides. Default: read from the built folder, or ``DEFAULT_LAYER_MODULES``
            (what ``handlers/requirements.txt`` installs) while it is not built yet.
        name_prefix: Default ``""``. Prefix of the layer name ``[<prefix>-]<name>-<environment>``, so stacks
            with different ``saas:namePrefix`` in one account publish separate layers.
    """

    environment: Environment
    path: Path = LAYER_DIR
    modules: frozenset[str] | None = None
    name_prefix: str = ""
    extra_tags: dict[str, str] = field(default_factory=dict)


class HandlerLayer(pulumi.ComponentResource):
    """The dependencies layer shared by the environment's handlers (``handlers/requirements.txt``, arm64).

    Pass the layer itself (not only its ARN) to functions, so they can check what it provides.

    Example::

        layer = HandlerLayer("platform-deps", HandlerLayerArgs(environment="dev"))
        HandlerFunction("acme-pre-token", HandlerFunctionArgs(..., layers=[layer]))

    Documentation:
        https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
    """

    arn: pulumi.Output[str]
    modules: frozenset[str]

    def __init__(self, name: str, args: HandlerLayerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:compute:HandlerLayer", name, None, opts)
        built = layer_modules(args.path)
        self.modules = args.modules if args.modules is not None else built or DEFAULT_LAYER_MODULES
        if not built:
            pulumi.log.warn(
                f"{args.path / 'python'} is empty or missing: run scripts/build-lambda-layer before `pulumi up` "
                "(the offline plan does not need it)",
                resource=self,
            )
        layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=f"{args.name_prefix}-{name}-{args.environment}"
            if args.name_prefix
            else f"{name}-{args.environment}",
            code=pulumi.AssetArchive({"python": pulumi.FileArchive(str(args.path / "python"))}),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Powertools, PyJWT and cryptography for the saas handlers (handlers/requirements.txt)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = layer.arn
        self.register_outputs({"arn": self.arn})

    @property
    def ref(self) -> LayerRef:
        """This layer as a :class:`LayerRef` (its ARN and the modules it provides)."""
        return LayerRef(self.arn, self.modules)


LayerLike = LayerRef | HandlerLayer | pulumi.Input[str]
"""A layer argument: a ``HandlerLayer``, a ``LayerRef``, or a bare ARN (which is trusted to provide nothing)."""


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, package: str) -> list[str]:
    """Absolute names of every module ``tree`` imports (``from a import b`` yields ``a`` and ``a.b``), outside
    ``if TYPE_CHECKING:`` blocks; relative imports are resolved against ``package``."""
    found: list[str] = []
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base_parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                found.append(base)
            found.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names if alias.name != "*")
    return found


@dataclass(frozen=True)
class CodeSource:
    """Where a function's code comes from: ``directory`` is importable as ``package`` in the archive."""

    directory: Path
    package: str

    def locate(self, module: str) -> Path | None:
        """The file of dotted ``module`` inside this source, if it is there."""
        prefix = f"{self.package}." if self.package else ""
        if self.package and module == self.package:
            relative = ""
        elif module.startswith(prefix):
            relative = module[len(prefix) :].replace(".", "/")
        else:
            return None
        base = self.directory / relative if relative else self.directory
        for candidate in (base.with_suffix(".py") if relative else None, base / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None

    @property
    def top_level(self) -> frozenset[str]:
        """Top-level names the archive defines."""
        if self.package:
            return frozenset({self.package.split(".")[0]})
        return frozenset(
            p.name.removesuffix(".py")
            for p in self.directory.iterdir()
            if (p.is_dir() and not p.name.startswith((".", "__pycache__"))) or p.suffix == ".py"
        )


@functools.lru_cache(maxsize=256)
def _missing_imports(source: CodeSource, module: str, provided: frozenset[str], stamp: float) -> tuple[str, ...]:
    del stamp  # part of the cache key only: a changed file is scanned again
    missing: set[str] = set()
    seen: set[str] = set()
    queue = [module]
    while queue:
        current = queue.pop()
        if current in seen:
            continue
        seen.add(current)
        path = source.locate(current)
        if path is None:
            continue
        package = current if path.name == "__init__.py" else current.rpartition(".")[0]
        for name in _imports(ast.parse(path.read_text(), str(path)), package):
            top = name.split(".", 1)[0]
            if source.locate(name) is not None:
                queue.append(name)
            elif top in source.top_level:
                parent = name.rpartition(".")[0]
                # `from pkg.mod import function`: the module is there, the name is an attribute of it.
                if not (parent and source.locate(parent) is not None):
                    missing.add(name)
            elif top not in RUNTIME_MODULES and top not in provided:
                missing.add(top)
    return tuple(sorted(missing))


def missing_imports(source: CodeSource, module: str, provided: frozenset[str]) -> tuple[str, ...]:
    """Modules ``module`` (followed through ``source``) imports that neither the Lambda runtime, nor ``source``,
    nor ``provided`` (the layers' top-level modules) supply. Empty when the function can import everything."""
    files = [p for p in source.directory.rglob("*.py") if "__pycache__" not in p.parts]
    stamp = max((p.stat().st_mtime for p in files), default=0.0)
    return _missing_imports(source, module, provided, stamp)


def _defines(path: Path, name: str) -> bool:
    st = path.stat()
    return _defines_cached(path, name, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _defines_cached(path: Path, name: str, _size: int, _mtime_ns: int) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def provided_modules(layers: Sequence[LayerLike]) -> frozenset[str]:
    """Top-level modules ``layers`` provide (bare ARNs count for nothing)."""
    provided: set[str] = set()
    for layer in layers:
        if isinstance(layer, LayerRef | HandlerLayer):
            provided |= layer.modules
    return frozenset(provided)


def check_layers(owner: str, handlers: Sequence[str] | Mapping[str, str], layers: Sequence[LayerLike]) -> None:
    """Refuse ``layers`` for the library ``handlers`` a component deploys when they miss a module the handlers
    import (checked when the component's args are built, before anything is registered)."""
    provided = provided_modules(layers)
    source = CodeSource(HANDLERS_DIR, HANDLER_PACKAGE)
    names = list(handlers.values()) if isinstance(handlers, Mapping) else list(handlers)
    missing = sorted({m for h in names for m in missing_imports(source, h.rpartition(".")[0], provided)})
    if missing:
        raise ComponentArgError(
            f"{owner}.layers does not provide {', '.join(missing)}, which its handlers import "
            f"({', '.join(h.rpartition('.')[0] for h in names)}); without it every invocation fails. Pass "
            "layers=[HandlerLayer(...)] (the platform's, or your own built from handlers/requirements.txt) or "
            "LayerRef(arn, modules=...) for a layer another stack publishes"
        )


@dataclass(frozen=True, kw_only=True)
class HandlerFunctionArgs:
    """Arguments of :class:`HandlerFunction`.

    Attributes:
        function_name: physical name (<= 64 chars); also names the log group ``/aws/lambda/<name>``.
        handler: ``<module>.<function>`` as Lambda imports it. Without ``source_dir``:
            ``saas_platform.handlers.<module>.<function>`` (this library's handlers).
        source_dir: a consumer's own handler folder, packaged instead of the library's handlers (deterministic
            zip, no bytecode). Default ``None``. The handler's module must be a file in it and define the function.
        source_package: the dotted package ``source_dir`` is importable as in the archive. Default ``""`` (the
            folder's contents are the archive root, handler ``greet.lambda_handler``); ``"handlers"`` puts it
            under ``handlers/`` (handler ``handlers.greet.lambda_handler``).
        environment: ``dev`` | ``staging`` | ``prod`` (tags, Powertools service environment).
        component: the ``saas:component`` tag value (the owning component's type name).
        kms_key_arn: encrypts the log group and the function's environment variables.
        tenant: the ``saas:tenant`` tag for per-tenant functions.
        description: shown in the console.
        env: environment variables (values may be Outputs).
        statements: extra IAM statements (Python data; values may be Outputs) for the function's role.
        managed_policy_arns: AWS-managed policies to attach (e.g. the VPC access execution role); keep short.
        layers: ``HandlerLayer`` objects, ``LayerRef`` (an ARN plus the modules it provides) or bare ARNs.
            Every module the handler imports must come from the runtime or these layers; otherwise the
            arguments are refused (``ComponentArgError``) before anything is registered.
        memory_size: Default 256 MB. timeout: Default 10 s.
        log_retention_days: Default 90; one of ``LOG_RETENTION_DAYS``.
        reserved_concurrency: Default ``None`` (unreserved).
        dead_letter_arn: SQS/SNS target for failed asynchronous invocations.
        depends_on: resources the function itself must wait for (e.g. the dead-letter queue when
            ``dead_letter_arn`` is built from known parts rather than taken from the queue).
    """

    function_name: str
    handler: str
    environment: Environment
    component: str
    kms_key_arn: pulumi.Input[str]
    tenant: str | None = None
    description: str = ""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Mapping[str, Any]] = ()
    managed_policy_arns: Sequence[str] = ()
    layers: Sequence[LayerLike] = ()
    source_dir: Path | None = None
    source_package: str = ""
    memory_size: int = 256
    timeout: int = 10
    log_retention_days: int = 90
    reserved_concurrency: int | None = None
    dead_letter_arn: pulumi.Input[str] | None = None
    depends_on: Sequence[pulumi.Resource] = ()
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not FUNCTION_NAME_RE.fullmatch(self.function_name):
            raise ComponentArgError(
                f"function_name must be 1-{LAMBDA_FUNCTION_NAME_MAX} characters of [A-Za-z0-9_-]; "
                f"got {self.function_name!r} ({len(self.function_name)} characters)"
            )
        self._check_code()
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )
        if not 128 <= self.memory_size <= 10240:
            raise ComponentArgError(f"memory_size must be 128-10240 MB; got {self.memory_size}")
        if not 1 <= self.timeout <= 900:
            raise ComponentArgError(f"timeout must be 1-900 seconds; got {self.timeout}")
        self._check_imports()

    @property
    def code_source(self) -> CodeSource:
        """The folder packaged as the function's code and the package it is importable as."""
        if self.source_dir is None:
            return CodeSource(HANDLERS_DIR, HANDLER_PACKAGE)
        return CodeSource(self.source_dir, self.source_package)

    def _check_code(self) -> None:
        if self.source_dir is None:
            if not HANDLER_RE.fullmatch(self.handler):
                raise ComponentArgError(
                    f"handler must look like 'saas_platform.handlers.<module>.<function>'; got {self.handler!r} "
                    "(for your own handler code pass source_dir)"
                )
        else:
            if not self.source_dir.is_dir():
                raise ComponentArgError(f"source_dir {str(self.source_dir)!r} is not a folder")
            object.__setattr__(self, "source_dir", self.source_dir.resolve())
            if not PACKAGE_RE.fullmatch(self.source_package):
                raise ComponentArgError(
                    f"source_package must be a dotted Python name or ''; got {self.source_package!r}"
                )
            if not DOTTED_HANDLER_RE.fullmatch(self.handler):
                raise ComponentArgError(f"handler must look like '<module>.<function>'; got {self.handler!r}")
        module, _, function = self.handler.rpartition(".")
        path = self.code_source.locate(module)
        if path is None:
            source = self.code_source
            where = source.directory / (
                module.removeprefix(f"{source.package}.") if source.package else module
            ).replace(".", "/")
            raise ComponentArgError(f"handler {self.handler!r}: {where}.py does not exist")
        if not _defines(path, function):
            raise ComponentArgError(f"handler {self.handler!r}: {path} defines no top-level {function!r}")

    def _check_imports(self) -> None:
        module = self.handler.rpartition(".")[0]
        missing = missing_imports(self.code_source, module, provided_modules(self.layers))
        if missing:
            raise ComponentArgError(
                f"handler {self.handler!r} imports {', '.join(missing)}, which neither the Lambda runtime "
                f"({RUNTIME}: standard library, boto3) nor its layers provide, so every invocation would fail; "
                "pass layers=[HandlerLayer(...)] (it ships handlers/requirements.txt) or "
                "LayerRef(arn, modules=...) naming what an existing layer provides"
            )

    @property
    def layer_arns(self) -> list[pulumi.Input[str]]:
        """The ARNs of ``layers``, in order."""
        return [layer.arn if isinstance(layer, LayerRef | HandlerLayer) else layer for layer in self.layers]


class HandlerFunction(pulumi.ComponentResource):
    """A Lambda function running one module of ``handlers/``: Python 3.13, arm64, X-Ray, JSON logs in its own
    encrypted log group with retention, and a least-privilege role.

    Example::

        fn = HandlerFunction("acme-pre-token", HandlerFunctionArgs(
            function_name="AIML-SaaS-acme-PreToken-Dev", handler="saas_platform.handlers.pre_token_generation.lambda_handler",
            environment="dev", component="TenantIdentity", tenant="acme", kms_key_arn=key.arn))

    Documentation:
        https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html
        https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: HandlerFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:compute:HandlerFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, args.component, args.tenant, args.extra_tags)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of {args.function_name}",
            assume_role_policy=json.dumps(service_trust_policy("lambda.amazonaws.com")),
            tags=resource_tags,
            opts=child,
        )
        region = resolve_region(None, self)
        account = resolve_account(None, self)
        # Built from known parts (not log_group.arn) so the document is known at the first preview.
        log_group_arn = pulumi.Output.concat(
            "arn:aws:logs:", region, ":", account, ":log-group:/aws/lambda/", args.function_name
        )
        base_statements: list[Mapping[str, Any]] = [
            {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group_arn, ":*"),
            },
            {
                "Sid": "XRay",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
        ]
        if args.dead_letter_arn is not None:
            # An Output's str() is not its value: decide on the resolved ARN.
            service = pulumi.Output.from_input(args.dead_letter_arn).apply(
                lambda arn: "sqs:SendMessage" if ":sqs:" in arn else "sns:Publish"
            )
            base_statements.append(
                {"Sid": "DeadLetter", "Effect": "Allow", "Action": service, "Resource": args.dead_letter_arn}
            )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": [*base_statements, *args.statements]}
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-managed-{i}", role=role.name, policy_arn=arn, opts=child)
            for i, arn in enumerate(args.managed_policy_arns)
        ]
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description or None,
            role=role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=handlers_archive()
            if args.source_dir is None
            else code_archive(args.source_dir, args.source_package.replace(".", "/")),
            layers=args.layer_arns or None,
            memory_size=args.memory_size,
            timeout=args.timeout,
            reserved_concurrent_executions=args.reserved_concurrency,
            kms_key_arn=args.kms_key_arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group.name, application_log_level="INFO", system_log_level="WARN"
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "POWERTOOLS_SERVICE_NAME": args.component,
                    "POWERTOOLS_METRICS_NAMESPACE": "saas",
                    "SAAS_ENVIRONMENT": args.environment,
                    **dict(args.env),
                }
            ),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=args.dead_letter_arn)
            if args.dead_letter_arn is not None
            else None,
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy, *attachments, *args.depends_on]),
        )
        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.role_arn = role.arn
        self.role_name = role.name
        self.log_group_name = log_group.name
        self.data_paths = datapaths.declare(
            [
                DataPath(
                    name="function/logs",
                    principal=role.arn,
                    principal_type="role",
                    actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                    resource=pulumi.Output.concat(log_group_arn, ":log-stream:2026/01/01/[$LATEST]0001"),
                    description="the function writes its log stream",
                ),
                DataPath(
                    name="logs-service/log-group-key",
                    principal=pulumi.Output.concat("logs.", region, ".amazonaws.com"),
                    principal_type="service",
                    # No kms:DescribeKey: it carries no encryption context, so a grant conditioned on
                    # kms:EncryptionContext:aws:logs:arn never applies to it (the key policy does not grant it).
                    actions=("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"),
                    resource=args.kms_key_arn,
                    context={"kms:EncryptionContext:aws:logs:arn": log_group_arn, "aws:SourceAccount": account},
                    guards=("kms:EncryptionContext:aws:logs:arn",),
                    description="CloudWatch Logs encrypts the function's log group with the environment key",
                ),
            ]
        )
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "role_arn": self.role_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )
