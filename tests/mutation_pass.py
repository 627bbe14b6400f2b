"""The safety net under realistic slips: an on-demand mutation pass (docs/isolation.md, "Safety net").

Each :class:`Slip` is one edit a tired author or a hurried review could let through - an IAM operator loosened, a
guard dropped, a policy-pack rule weakened, a handler check that fails open - together with what it would mean for
tenant isolation and the test files that must notice it. The pass applies every slip *alone* to a fresh copy of
the working tree (tracked and untracked, non-ignored files; the real checkout is never touched), runs its targeted
tests there, and records:

* **caught** - the tests failed (pytest exit code 1): the safety net holds;
* **survived** - the tests passed: a test is missing, write one that exercises the behaviour;
* **stale** - the original snippet does not occur exactly once in its file: the code moved, update the slip;
* **error** / **timeout** - pytest could not run the tests (collection error, usage error) or exceeded the
  wall-clock limit: look at the recorded output.

It prints a table, writes JSON (``--json``, default ``.plan/mutation-pass.json``) and exits 0 only when every slip
was caught (1 otherwise, 2 when the unmutated baseline fails or the arguments are wrong).

Run it with ``scripts/mutation-pass`` (``--only ID`` for a few slips, ``--list`` to print them). It is not part of
the suite: pytest does not collect this module (its name does not match ``test_*.py``); the cheap check that
every snippet still occurs exactly once is ``tests/test_mutation_pass.py``.

How the copy imports itself: the editable install maps ``saas_platform.*`` onto the real checkout, so the copy
gets its own ``saas_platform`` directory (links to its ``components/``, ``handlers/`` and ``policies/``) first on
``PYTHONPATH``; the pass checks that the imports resolve into the copy before it runs any slip.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, Literal

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGES: Final = ("components", "handlers", "policies")
SHIM: Final = ".mutation-shim"
DEFAULT_JSON: Final = ROOT / ".plan" / "mutation-pass.json"
DEFAULT_TIMEOUT: Final = 900.0
"""Wall-clock seconds for one slip's pytest run (the slowest target set takes about 5 minutes when it passes)."""
PYTEST: Final = ("-m", "pytest", "-q", "-x", "-p", "no:xdist", "--timeout", "240")
LINKED: Final = ("tests/iam-simulate/node_modules",)
"""Ignored folders the tests need, linked into the copy rather than copied (the IAM evaluator's packages)."""


@dataclass(frozen=True)
class Slip:
    """One realistic edit: ``original`` (occurring exactly once in ``file``) becomes ``replacement``."""

    id: str
    file: str
    original: str
    replacement: str
    meaning: str
    """What the slip would do to tenant isolation, in one line."""
    tests: tuple[str, ...]
    """Test files (or node ids) that must fail with the slip applied, fastest first (pytest stops at the first)."""


IAM: Final = "components/iam.py"
RULES: Final = "policies/access.py"
CONSUMER: Final = "handlers/msk_consumer.py"
REGISTRY: Final = "handlers/_registry.py"
T_BUILDERS: Final = "tests/test_iam_builders.py"
T_MATRIX: Final = "tests/test_cross_tenant_matrix.py"
T_COMPONENTS: Final = "tests/test_access_components.py"
T_AUTHZ: Final = "tests/test_authorization_matrix.py"
T_RULES: Final = "tests/test_access_policies.py"
T_CONSUMER: Final = "tests/test_msk_consumer_handler.py"
T_REGISTRY: Final = "tests/test_registry.py"
T_IDENTITY: Final = "tests/test_identity_handlers.py"
T_RUNNERS: Final = "tests/test_job_runners.py"

SLIPS: Final[tuple[Slip, ...]] = (
    # ---- IAM documents the components build (components/iam.py and friends) -----------------------------------
    Slip(
        "iam-leading-keys-string-like",
        IAM,
        '"ForAllValues:StringEquals": {LEADING_KEYS: [leading_keys_value(tenant_id)]},',
        '"ForAllValues:StringLike": {LEADING_KEYS: [leading_keys_value(tenant_id) + "*"]},',
        "StringLike with a wildcard on LeadingKeys: acme's credentials also read TENANT#acme-corp rows",
        (T_BUILDERS, T_MATRIX),
    ),
    Slip(
        "iam-leading-keys-for-any-value",
        IAM,
        '"ForAllValues:StringEquals": {LEADING_KEYS:',
        '"ForAnyValue:StringEquals": {LEADING_KEYS:',
        "ForAnyValue on LeadingKeys: a BatchGetItem mixing the own key with another tenant's keys is allowed",
        (T_BUILDERS, T_MATRIX),
    ),
    Slip(
        "iam-null-guard-dropped",
        IAM,
        '        "Null": {LEADING_KEYS: "false"},\n',
        "",
        "no Null guard: ForAllValues is vacuously true for requests without keys (a Scan added later reads all)",
        (T_BUILDERS, T_MATRIX),
    ),
    Slip(
        "iam-leading-keys-dropped",
        IAM,
        '        "Condition": leading_keys_condition(tenant_id),\n',
        "",
        "tenant table statements lose dynamodb:LeadingKeys: every tenant reads and writes every partition",
        (T_BUILDERS, T_MATRIX),
    ),
    Slip(
        "iam-table-resource-star",
        IAM,
        '        "Resource": list(resources),\n        "Condition": leading_keys_condition(tenant_id),',
        '        "Resource": "*",\n        "Condition": leading_keys_condition(tenant_id),',
        "tenant item actions on Resource '*': every table of the account (registry, other stacks), not the pool",
        (T_BUILDERS, T_COMPONENTS, T_MATRIX),
    ),
    Slip(
        "iam-table-key-via-service-dropped",
        IAM,
        '"Condition": {**scope, "StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},',
        '"Condition": scope,',
        "no kms:ViaService: tenant credentials use the environment key directly, outside DynamoDB",
        (T_BUILDERS, T_COMPONENTS, T_AUTHZ),
    ),
    Slip(
        "iam-tenant-prefix-no-delimiter",
        IAM,
        'return f"{root}/{tenant_segment(tenant_id)}/"',
        'return f"{root}/{tenant_segment(tenant_id)}"',
        "object ARN tenants/acme* without the '/': acme reads and writes tenants/acme-corp/ documents",
        (T_BUILDERS, T_MATRIX),
    ),
    Slip(
        "iam-trust-aud-dropped",
        IAM,
        '"Condition": {"StringEquals": {AUD_KEY: identity_pool_ids[0]}, **amr},',
        '"Condition": {**amr},',
        "tenant role trust without the cognito-identity aud condition: any identity pool can obtain the role",
        (T_BUILDERS, T_COMPONENTS, T_MATRIX),
    ),
    Slip(
        "iam-trust-amr-wildcard",
        IAM,
        'amr = {"ForAnyValue:StringLike": {AMR_KEY: "authenticated"}}',
        'amr = {"ForAnyValue:StringLike": {AMR_KEY: "*authenticated"}}',
        "amr pattern '*authenticated' also matches 'unauthenticated': guest identities assume tenant roles",
        (T_BUILDERS, T_COMPONENTS),
    ),
    Slip(
        "iam-abac-trust-tag-unbound",
        IAM,
        '"Condition": {"StringEquals": {AUD_KEY: pool, f"aws:RequestTag/{TENANT_TAG_KEY}": tenant}, **amr},',
        '"Condition": {"StringEquals": {AUD_KEY: pool}, **amr},',
        "shared ABAC trust no longer binds the TenantId session tag to the pool: acme's pool may tag a session globex",
        (T_BUILDERS, T_MATRIX, T_COMPONENTS),
    ),
    Slip(
        "iam-shard-capacity-off-by-one",
        IAM,
        "        low, high = (mid, high) if fits(mid) else (low, mid)\n    return low",
        "        low, high = (mid, high) if fits(mid) else (low, mid)\n    return high",
        "ABAC shard capacity one over the trust-policy quota: the shard role's trust no longer fits (deploy fails)",
        (T_BUILDERS, T_COMPONENTS),
    ),
    Slip(
        "access-shared-policy-literal-tenant",
        "components/access.py",
        "                tenant_id=None,\n",
        "                tenant_id=args.tenant_ids[0],\n",
        "shared ABAC policy names its first tenant instead of ${aws:PrincipalTag/TenantId}: the shard reads it",
        (T_COMPONENTS, T_MATRIX),
    ),
    Slip(
        "bucket-sse-deny-if-exists",
        "components/lifecycle_bucket.py",
        '                    "StringNotEquals": {SSE_HEADER: "aws:kms"},\n'
        '                    "Null": {SSE_HEADER: "false"},\n',
        '                    "StringNotEqualsIfExists": {SSE_HEADER: "aws:kms"},\n',
        "bucket deny with StringNotEqualsIfExists: uploads relying on default encryption (the consumer) are refused",
        ("tests/test_lifecycle_bucket.py", T_AUTHZ),
    ),
    Slip(
        "writer-trust-principal-arn-dropped",
        IAM,
        '                    "ArnEquals": {"aws:PrincipalArn": caller_role_arn},\n',
        "",
        "writer trusts (consumer, runners) name the account without pinning the caller: any role writes as any tenant",
        ("tests/test_msk_consumer_component.py", "tests/test_jobs_component.py", T_AUTHZ),
    ),
    Slip(
        "authorizer-store-grant-environment-dropped",
        "components/api.py",
        '                f"aws:ResourceTag/{TAG_ENVIRONMENT}": environment,\n',
        "",
        "authorizer store grant without the environment tag: one environment's authorizer asks another's stores",
        ("tests/test_tenant_api.py", T_AUTHZ),
    ),
    # ---- the policy pack (policies/) --------------------------------------------------------------------------
    Slip(
        "pack-single-tenant-reach",
        RULES,
        "if reach != {tenant}:",
        "if tenant not in reach:",
        "tenant-policy-single-tenant passes a literal policy on a role that another tenant's pool also reaches",
        (T_RULES,),
    ),
    Slip(
        "pack-null-guard-advisory",
        RULES,
        'passes ForAllValues vacuously.",\n    enforcement_level=EnforcementLevel.MANDATORY,',
        'passes ForAllValues vacuously.",\n    enforcement_level=EnforcementLevel.ADVISORY,',
        "tenant-leading-keys-null-guard only warns: a policy without the Null guard deploys",
        (T_RULES, "tests/test_policies_foundation.py"),
    ),
    Slip(
        "pack-kms-via-service-optional",
        RULES,
        "        bool(via)\n        and all(",
        "        all(",
        "tenant-role-action-allowlist accepts a tenant KMS statement without kms:ViaService (direct key use)",
        (T_RULES,),
    ),
    Slip(
        "pack-object-prefix-any-tenant",
        RULES,
        "if not m or m.group(3) not in segs:",
        "if not m:",
        "tenant-s3-object-prefix accepts another tenant's prefix in a tenant role's object ARN",
        (T_RULES,),
    ),
    Slip(
        "pack-amr-presence-only",
        RULES,
        'if amr != [("ForAnyValue:StringLike", ["authenticated"])]:',
        "if not amr:",
        "identity-pool-role-trust accepts any amr condition, 'unauthenticated' included",
        (T_RULES,),
    ),
    Slip(
        "pack-graph-aud-less-role-unreached",
        "policies/_iam.py",
        "        if role.is_cognito and not role.pools:\n            out.add(UNKNOWN_TENANT)\n",
        "",
        "a Cognito-trusted role without aud counts as reached by no pool, so no tenant rule judges its policies",
        (T_RULES, "tests/test_identity_policies.py"),
    ),
    Slip(
        "pack-client-may-write-tenant-role",
        "policies/identity.py",
        "bad = sorted(TENANT_CLAIM_ATTRIBUTES & {",
        'bad = sorted({"custom:tenantId"} & {',
        "cognito-client-write-attributes checks only custom:tenantId: users write custom:tenantRole and pick admin",
        ("tests/test_identity_policies.py",),
    ),
    Slip(
        "pack-msk-unlimited-retries",
        "policies/msk.py",
        "not 0 <= retries <= 10_000",
        "not -1 <= retries <= 10_000",
        "msk-esm-poison-records accepts maximum_retry_attempts -1 (infinite): a poison record blocks its partition",
        ("tests/test_policies_pipeline.py",),
    ),
    # ---- handlers ---------------------------------------------------------------------------------------------
    Slip(
        "msk-pointer-prefix-no-delimiter",
        CONSUMER,
        'if not msg.s3.key.startswith(f"{msg.tenant_id}/")',
        "if not msg.s3.key.startswith(msg.tenant_id)",
        "pointer check without the '/': a record of tenant acme stores an object of tenant acme2 as its own",
        (T_CONSUMER,),
    ),
    Slip(
        "msk-suspended-tenant-accepted",
        CONSUMER,
        "    if not record.active:\n        raise Rejected(",
        '    if record.status == "offboarded":\n        raise Rejected(',
        "the consumer checks only offboarded: records of a suspended tenant are still stored",
        (T_CONSUMER,),
    ),
    Slip(
        "msk-registry-fail-open",
        CONSUMER,
        '    except RegistryError as exc:\n        raise RetryRecord(f"tenant registry: {exc}") from None\n',
        "    except RegistryError:\n        return\n",
        "tenant check fails open: with the registry unreachable every record is stored, unknown tenants included",
        (T_CONSUMER,),
    ),
    Slip(
        "msk-session-policy-any-tenant",
        CONSUMER,
        '"Resource": f"{cfg.raw_bucket_arn}/{tenant_id}/raw/*",',
        '"Resource": f"{cfg.raw_bucket_arn}/*/raw/*",',
        "the consumer's session policy no longer names the tenant: the session tag alone confines raw objects",
        (T_CONSUMER,),
    ),
    Slip(
        "msk-size-limit-factor",
        CONSUMER,
        "    if len(body) > cfg.max_image_bytes:\n",
        "    if len(body) > cfg.max_image_bytes * 4 // 3:\n",
        "image size limit applied to the base64 length: images up to a third over the limit are stored",
        (T_CONSUMER,),
    ),
    Slip(
        "registry-suspended-is-active",
        REGISTRY,
        'return self.status == "active"',
        'return self.status != "offboarded"',
        "a suspended tenant counts as active: its users and records are served during the suspension",
        (T_REGISTRY, T_CONSUMER),
    ),
    Slip(
        "registry-no-negative-cache",
        REGISTRY,
        "ttl = self._ttl if entry.record is not None else self._negative_ttl",
        "ttl = self._ttl if entry.record is not None else 0.0",
        "misses are not cached: a flood for unknown pools reads the registry per request (throttling denies all)",
        (T_REGISTRY,),
    ),
    Slip(
        "registry-stale-allow-unbounded",
        REGISTRY,
        "if entry is not None and now - entry.fetched_at < self._ttl + self._max_stale:",
        "if entry is not None:",
        "while the registry is unreachable a cached allow is served forever: a suspension never takes effect",
        (T_REGISTRY,),
    ),
    Slip(
        "registry-pool-claimed-twice",
        REGISTRY,
        "        if len(items) > 1:\n",
        "        if len(items) > 2:\n",
        "two tenants claiming one user pool is no longer refused: the pool's tokens map to either tenant",
        (T_REGISTRY,),
    ),
    Slip(
        "pre-token-client-metadata",
        "handlers/pre_token_generation.py",
        "typed.user_pool_id, typed.caller_context.client_id, typed.request.user_attributes, settings",
        "typed.user_pool_id, typed.caller_context.client_id, {**typed.request.user_attributes, "
        '**(event["request"].get("clientMetadata") or {})}, settings',
        "pre-token trigger reads client-supplied clientMetadata: the caller picks its tenant role in the token",
        (T_IDENTITY,),
    ),
    Slip(
        "identity-other-tenant-accepted",
        "handlers/_identity.py",
        '    if tenant != tenant_id:\n        raise SignInDenied("sign-in denied: user belongs to another tenant")\n',
        "",
        "the triggers no longer compare the user's tenant with the pool's: a token carries another tenant's id",
        (T_IDENTITY,),
    ),
    Slip(
        "identity-environment-substring",
        "handlers/_identity.py",
        'return frozenset(part.strip() for part in raw.split(",") if part.strip() in ENVIRONMENTS)',
        "return frozenset(e for e in ENVIRONMENTS if e in raw)",
        "environment entitlement by substring: custom:environments 'preprod' or 'dev-prod' grants prod",
        (T_IDENTITY,),
    ),
    Slip(
        "jobs-session-policy-tag-substitution",
        "handlers/_jobs.py",
        '"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{tenant}"]',
        '"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{PRINCIPAL_TAG_TENANT}"]',
        "runner session policy uses the tag variable, not the literal tenant: a wrong session tag alone opens it",
        (T_RUNNERS,),
    ),
    Slip(
        "runner-unknown-tenant-accepted",
        "handlers/job_runners.py",
        "        tenant_registry(cfg.registry_table).active_tenant(tenant_id)\n",
        "        tenant_registry(cfg.registry_table).by_tenant(tenant_id)\n",
        "runners look the tenant up but do not require it active: unknown, suspended and offboarded tenants get sessions",
        (T_RUNNERS,),
    ),
    Slip(
        "cell-contract-environment-unchecked",
        "components/cell.py",
        '            ("environment", expect.environment),\n',
        "",
        "a cell reads another environment's platform: its tenants' roles are granted on that environment's tables",
        ("tests/test_cell.py",),
    ),
    Slip(
        "cell-keyed-index-check-misspelt",
        "components/cell.py",
        'keyed = {base: t.get("tenantIndexNames") for base, t in tables.items() if t.get("tenantIndexNames")}',
        'keyed = {base: t.get("indexNames") for base, t in tables.items() if t.get("indexNames")}',
        "a cell accepts tables with tenant-keyed indexes its roles cannot scope (the check reads a key never set)",
        ("tests/test_cell.py",),
    ),
)


# ------------------------------------------------------------------------------------------------------ running

Status = Literal["caught", "survived", "stale", "error", "timeout"]


@dataclass
class Result:
    """The outcome of one slip."""

    id: str
    status: Status
    seconds: float
    caught_by: list[str] = field(default_factory=list)
    """The failing tests pytest reported (with ``-x``: the first one)."""
    detail: str = ""


def occurrences(slip: Slip, root: Path = ROOT) -> int:
    """How often the slip's original snippet occurs in its file (0 when the file is missing)."""
    path = root / slip.file
    return path.read_text(encoding="utf-8").count(slip.original) if path.is_file() else 0


def mutated(slip: Slip, root: Path = ROOT) -> str:
    """The slip's file with the slip applied (the snippet must occur exactly once)."""
    text = (root / slip.file).read_text(encoding="utf-8")
    if text.count(slip.original) != 1:
        raise ValueError(f"{slip.id}: snippet occurs {text.count(slip.original)} times in {slip.file}")
    return text.replace(slip.original, slip.replacement, 1)


def tree_files(root: Path) -> list[str]:
    """The working tree's files as git sees them: tracked plus untracked, ignored ones left out."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def make_copy(root: Path, dest: Path, files: Sequence[str]) -> None:
    """Copy ``files`` of ``root`` into ``dest``, link the ignored folders the tests need, add the import shim."""
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    for name in LINKED:
        if (root / name).exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).symlink_to(root / name)
    shim = dest / SHIM / "saas_platform"
    shim.mkdir(parents=True)
    for package in PACKAGES:
        (shim / package).symlink_to(dest / package)


def environment(tree: Path) -> dict[str, str]:
    """The tests' environment in a copy: its shim and root first on ``PYTHONPATH`` (subprocesses inherit it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / SHIM), str(tree)])
    env.pop("PYTEST_ADDOPTS", None)
    return env


PROBED: Final = (
    "saas_platform.components.iam",
    "saas_platform.handlers._registry",
    "saas_platform.policies.access",
    "tests.conftest",
)


def check_imports(tree: Path) -> None:
    """Fail unless ``saas_platform.*`` and ``tests`` resolve into the copy (otherwise no slip would be seen)."""
    probe = f"import importlib.util\nfor m in {PROBED!r}: print(importlib.util.find_spec(m).origin)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tree, env=environment(tree), check=True, capture_output=True, text=True
    ).stdout.split()
    outside = [p for p in out if not Path(p).resolve().is_relative_to(tree.resolve())]
    if len(out) != len(PROBED) or outside:
        raise RuntimeError(f"the copy imports modules of another tree: {outside or out}")


FAILED_RE: Final = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)


def run_tests(tree: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, str, float]:
    """``pytest -x`` on ``tests`` in ``tree``: (exit code or None on timeout, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, *PYTEST, *tests],
        cwd=tree,
        env=environment(tree),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends pytest and what it started, nothing else
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        code = None
    return code, output, time.monotonic() - start


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def run_slip(slip: Slip, files: Sequence[str], timeout: float, keep: bool = False) -> Result:
    """Apply ``slip`` alone to a fresh copy of the tree and run its tests there."""
    found = occurrences(slip)
    if found != 1:
        return Result(slip.id, "stale", 0.0, detail=f"snippet occurs {found} times in {slip.file}")
    tree = Path(tempfile.mkdtemp(prefix=f"mutation-{slip.id}-"))
    try:
        make_copy(ROOT, tree, files)
        check_imports(tree)
        (tree / slip.file).write_text(mutated(slip), encoding="utf-8")
        code, output, seconds = run_tests(tree, slip.tests, timeout)
    finally:
        if not keep:
            shutil.rmtree(tree, ignore_errors=True)
    if code is None:
        return Result(slip.id, "timeout", seconds, detail=f"no result within {timeout:.0f} s\n{_tail(output)}")
    failed = FAILED_RE.findall(output)
    if code == 1:
        return Result(slip.id, "caught", seconds, caught_by=failed)
    if code == 0:
        return Result(slip.id, "survived", seconds, detail=_tail(output, 1))
    return Result(slip.id, "error", seconds, caught_by=failed, detail=f"pytest exit code {code}\n{_tail(output)}")


def baseline(slips: Sequence[Slip], files: Sequence[str], timeout: float) -> tuple[bool, str, float]:
    """The targeted tests of ``slips`` on an unmutated copy: they must pass, or a "caught" would mean nothing."""
    tests = list(dict.fromkeys(t for s in slips for t in s.tests))
    tree = Path(tempfile.mkdtemp(prefix="mutation-baseline-"))
    try:
        make_copy(ROOT, tree, files)
        check_imports(tree)
        code, output, seconds = run_tests(tree, tests, timeout * 2)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return code == 0, _tail(output), seconds


def table(results: Sequence[Result]) -> str:
    """A fixed-width table: id, status, seconds, the first failing test (or why not)."""
    width = max(len(r.id) for r in results)
    rows = [f"{'slip':<{width}}  {'result':<8}  {'seconds':>7}  caught by / detail"]
    for r in results:
        note = r.caught_by[0] if r.caught_by else r.detail.splitlines()[0] if r.detail else ""
        rows.append(f"{r.id:<{width}}  {r.status:<8}  {r.seconds:7.1f}  {note}")
    return "\n".join(rows)


def summary(results: Sequence[Result], seconds: float) -> dict[str, object]:
    """Counts per status plus the wall-clock time of the whole pass."""
    counts = {s: sum(1 for r in results if r.status == s) for s in ("caught", "survived", "stale", "error", "timeout")}
    return {"slips": len(results), **counts, "seconds": round(seconds, 1)}


def select(only: Sequence[str]) -> list[Slip]:
    """The slips named by ``--only`` (comma-separated or repeated), or all of them."""
    wanted = [x.strip() for item in only for x in item.split(",") if x.strip()]
    unknown = sorted(set(wanted) - {s.id for s in SLIPS})
    if unknown:
        raise SystemExit(f"error: unknown slip ids {unknown}; see --list")
    return [s for s in SLIPS if not wanted or s.id in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the pass (or a part of it), print the table, write the JSON, return the exit code."""
    parser = argparse.ArgumentParser(prog="scripts/mutation-pass", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="ID[,ID...]", help="run only these slips")
    parser.add_argument("--list", action="store_true", help="print the slips and exit")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"result file (default: {DEFAULT_JSON})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="wall-clock seconds per slip")
    parser.add_argument("--no-baseline", action="store_true", help="skip running the unmutated targeted tests first")
    parser.add_argument("--keep", action="store_true", help="keep each slip's copy of the tree (debugging)")
    args = parser.parse_args(argv)
    slips = select(args.only)
    if args.list:
        for s in slips:
            print(f"{s.id}  {s.file}\n    {s.meaning}\n    tests: {' '.join(s.tests)}")
        return 0
    started = time.monotonic()
    files = tree_files(ROOT)
    if not args.no_baseline:
        print(f"baseline: the targeted tests of {len(slips)} slips on the unmutated tree ...", flush=True)
        ok, tail, seconds = baseline(slips, files, args.timeout)
        print(f"baseline: {'passed' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        if not ok:
            print(tail, file=sys.stderr)
            return 2
    results: list[Result] = []
    for n, slip in enumerate(slips, 1):
        result = run_slip(slip, files, args.timeout, keep=args.keep)
        results.append(result)
        note = result.caught_by[0] if result.caught_by else result.detail.splitlines()[0] if result.detail else ""
        print(f"[{n}/{len(slips)}] {slip.id}: {result.status} ({result.seconds:.0f} s) {note}", flush=True)
    elapsed = time.monotonic() - started
    totals = summary(results, elapsed)
    print()
    print(table(results))
    print()
    print(", ".join(f"{v} {k}" for k, v in totals.items() if k != "seconds") + f" in {elapsed:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "summary": totals,
                "baseline": not args.no_baseline,
                "results": [
                    asdict(r) | {"file": s.file, "meaning": s.meaning, "tests": list(s.tests)}
                    for r, s in zip(results, slips, strict=True)
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.json}")
    return 0 if all(r.status == "caught" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
