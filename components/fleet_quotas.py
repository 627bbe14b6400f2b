"""Environment quotas for the fleet (docs/fleet.md, "Environment quotas"): every stack of an environment shares one
account and Region, so their quota usage adds up.

Two checks, both over all the stacks of an environment (:class:`~saas_platform.components.fleet.EnvironmentStacks`):

* :func:`check_refused_up_front` - **before anything is planned or deployed**, an estimate from the stack files
  alone (:func:`estimate_stack`): the tenant-driven resources whose count the code fixes (user pools, identity
  pools, policy stores, tenant/system/trigger IAM roles). If the environment needs more than the account can
  have at all (the recorded increase, else the AWS default), the command is refused (exit 2). The estimate
  leaves out what does not grow with tenants (handler roles, tables), so it is a floor: it never refuses an
  environment that would fit.
* :func:`environment_usage` / :func:`check_environment` - **after the offline plan**, the planned counts of every
  stack summed (the plan's per-stack ``quotas`` rows, counted by :func:`saas_platform.policies.quotas.usage`),
  against 80% (:data:`~saas_platform.policies.quotas.HEADROOM`) of the environment's quota: a violation of the
  environment (exit 1), even when every stack alone is under its own ``quota-headroom`` rule.

**The environment's recorded increases** are the ``quota-headroom`` policy config of its *platform stack*,
``policies/config/<env>.json`` (``{"quota-headroom": {"userPools": 2000}}``), the same file the platform stack's
own ``quota-headroom`` rule reads (:func:`recorded_increases`). A quota is per account (IAM) or per Region
(Cognito, Verified Permissions), not per stack, so one record serves every stack of the environment; a cell's own
``policies/config/<cell>.json`` still configures that cell's per-stack rule, and a value there that differs from
the platform's is reported (:func:`increase_mismatches`), never used for the environment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

from saas_platform.components.config import AccessConfig, IdentityConfig
from saas_platform.components.fleet import FleetError
from saas_platform.components.iam import abac_tenants_per_role
from saas_platform.components.naming import DEFAULT_NAME_PREFIX, trigger_function_name
from saas_platform.components.triggers import TRIGGER_HANDLERS, pools_per_function


class EnvironmentStacks(Protocol):
    """What the checks read of :class:`saas_platform.components.fleet.EnvironmentStacks`."""

    @property
    def environment(self) -> str: ...

    @property
    def program_dir(self) -> Path: ...

    @property
    def platform(self) -> str: ...

    @property
    def cells(self) -> tuple[str, ...]: ...

    @property
    def stacks(self) -> tuple[str, ...]: ...

    def stack_file(self, stack: str) -> Path: ...


POLICY_CONFIG_DIR: Final = Path("policies") / "config"
"""Per-stack policy config, relative to the program folder: ``<stack>.json`` (as ``--policy-pack-config``)."""
QUOTA_POLICY: Final = "quota-headroom"
SYSTEM_ROLES: Final = 3
"""``SystemAccess``: ``SystemAdminRole``, ``SystemSuperuserRole`` and ``SystemSupportRole``, in the stack that
holds the system tenant (config.py's per-tenant check counts ``2 * tenants + 3`` the same way)."""
CELL_KEY: Final = "saas:cell"
"""A stack file with this key is a cell (``TenantCell``): its tenants only, no system tenant (whose pool, identity
pool and roles stay in the platform stack). A stack named like a cell without it is refused by the config check."""
ESTIMATED: Final = ("userPools", "identityPools", "iamRoles", "policyStores")
"""Quota keys the up-front estimate covers (:func:`estimate_stack`)."""
TOP_STACKS: Final = 3
"""How many stacks a violation names in its per-stack breakdown."""


def _quotas() -> Any:
    try:
        from saas_platform.policies import quotas
    except ImportError as exc:  # the `policy` extra (pulumi-policy) is not installed
        raise FleetError(
            f"the environment quota check needs the policy pack's quota table ({exc}); install "
            "saas-platform-components[policy]"
        ) from None
    return quotas


# ------------------------------------------------------------------------------------------------ recorded increases


def recorded_increases(program_dir: Path, stack: str) -> dict[str, int]:
    """The ``quota-headroom`` config in ``<program_dir>/policies/config/<stack>.json`` (quota key -> the quota
    AWS granted), ``enforcementLevel`` and non-numbers left out; ``{}`` when the file or the key is absent.

    Raises:
        FleetError: the file is not valid JSON.
    """
    path = program_dir / POLICY_CONFIG_DIR / f"{stack}.json"
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FleetError(f"{path} is not valid JSON: {exc}") from None
    section = doc.get(QUOTA_POLICY, {}) if isinstance(doc, dict) else {}
    return {
        k: int(v)
        for k, v in (section.items() if isinstance(section, dict) else ())
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "enforcementLevel"
    }


def environment_increases(env: EnvironmentStacks) -> dict[str, int]:
    """The environment's recorded increases: the platform stack's ``quota-headroom`` config (module docstring)."""
    return recorded_increases(env.program_dir, env.platform)


def increase_config_file(env: EnvironmentStacks) -> str:
    """Where the environment's increases are recorded, relative to the program folder."""
    return str(POLICY_CONFIG_DIR / f"{env.platform}.json")


def increase_mismatches(env: EnvironmentStacks) -> list[str]:
    """Cells whose own ``quota-headroom`` config records a quota differently from the platform stack's."""
    platform = environment_increases(env)
    out = []
    for cell in env.cells:
        for key, value in sorted(recorded_increases(env.program_dir, cell).items()):
            if platform.get(key) != value:
                out.append(
                    f"{POLICY_CONFIG_DIR / (cell + '.json')} records {key} {value}, the environment's record "
                    f"({increase_config_file(env)}) {platform.get(key, 'nothing')}; the environment check uses the "
                    "platform stack's"
                )
    return out


# ------------------------------------------------------------------------------------------------ environment usage


@dataclass(frozen=True)
class EnvironmentUsage:
    """How much of one quota the stacks of an environment use together."""

    quota: Any  # saas_platform.policies.quotas.Quota (imported lazily: the `policy` extra)
    by_stack: Mapping[str, int]
    limit: int
    recorded: bool
    """``True`` when ``limit`` is a recorded increase, ``False`` for the AWS default."""

    @property
    def used(self) -> int:
        return sum(self.by_stack.values())

    @property
    def share(self) -> float:
        return self.used / self.limit

    @property
    def exceeded(self) -> bool:
        """Over 80% of the quota (``HEADROOM``), like the per-stack ``quota-headroom`` rule."""
        return self.used > _quotas().HEADROOM * self.limit

    def top(self, n: int = TOP_STACKS) -> list[tuple[str, int]]:
        """The ``n`` stacks using most of the quota (then by name), zeros left out."""
        return sorted(((s, c) for s, c in self.by_stack.items() if c), key=lambda sc: (-sc[1], sc[0]))[:n]

    def breakdown(self) -> str:
        top = self.top()
        rest = sum(1 for c in self.by_stack.values() if c) - len(top)
        text = ", ".join(f"{s} {c}" for s, c in top)
        return text + (f", {rest} more stack{'s' if rest > 1 else ''}" if rest > 0 else "")

    def limit_text(self, env: EnvironmentStacks) -> str:
        if self.recorded:
            return f"the increase recorded in {increase_config_file(env)}"
        return f"the AWS default; no increase recorded in {increase_config_file(env)}"

    def way_out(self, env: EnvironmentStacks) -> str:
        return (
            f"request an increase ({self.quota.source}) and record it as quota-headroom policy config "
            f'{{"{QUOTA_POLICY}": {{"{self.quota.key}": <new quota>}}}} in {increase_config_file(env)}, or put '
            "further cells in another account or Region"
        )

    def violation(self, env: EnvironmentStacks) -> str:
        """The message of an environment over 80% of this quota."""
        headroom = int(_quotas().HEADROOM * 100)
        return (
            f"environment {env.environment}: {self.quota.label}: its {len(self.by_stack)} stacks create "
            f"{self.used} together ({self.breakdown()}), over {headroom}% of the quota {self.limit} "
            f"({self.limit_text(env)}). Way out: {self.way_out(env)}"
        )


def stack_quota_counts(plan: Any) -> dict[str, int]:
    """Quota key -> count of one planned stack: a :class:`~saas_platform.components.testing.plan.StackPlan` or
    its JSON document. Its ``quotas`` rows when present (what :func:`~saas_platform.policies.quotas.usage`
    counted), else :func:`~saas_platform.policies.quotas.usage` over its resources' types."""
    rows = plan.get("quotas") if isinstance(plan, Mapping) else getattr(plan, "quotas", None)
    if rows:
        return {str(r["quota"]): int(r["used"]) for r in rows}
    if isinstance(plan, Mapping):
        by_type: Mapping[str, int] = (plan.get("summary") or {}).get("byType") or {}
        types: Iterable[str] = (t for t, n in by_type.items() for _ in range(int(n)))
    else:
        run = getattr(plan, "run", None)
        types = (r.type for r in run.resources) if run is not None else ()
    return {u.quota.key: u.used for u in _quotas().usage(types)}


def environment_usage(
    per_stack: Mapping[str, Mapping[str, int]], increases: Mapping[str, int] | None = None
) -> list[EnvironmentUsage]:
    """Every quota summed over the stacks (stack -> quota key -> count), against the environment's quota: the
    recorded increase in ``increases``, else the AWS default."""
    quotas = _quotas()
    out = []
    for usage in quotas.usage((), increases):  # one row per quota, with the limit the increases give
        key = usage.quota.key
        out.append(
            EnvironmentUsage(
                usage.quota,
                {stack: int(counts.get(key, 0)) for stack, counts in per_stack.items()},
                usage.limit,
                key in (increases or {}),
            )
        )
    return out


@dataclass(frozen=True)
class EnvironmentQuotaReport:
    """The environment check after planning: usage per quota, and the stacks whose plan was not counted."""

    environment: EnvironmentStacks
    usage: tuple[EnvironmentUsage, ...]
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def violations(self) -> list[str]:
        return [u.violation(self.environment) for u in self.usage if u.exceeded]

    @property
    def exit_code(self) -> int:
        return 1 if self.violations else 0

    def lines(self) -> list[str]:
        """The table of the quotas in use, then the violations and notes."""
        env = self.environment
        used = [u for u in self.usage if u.used]
        lines = [f"environment {env.environment} quotas (all {len(env.stacks)} stacks share one account and Region):"]
        if not used:
            lines[0] += " nothing counted"
        width = max([len("quota"), *(len(u.quota.label) for u in used)])
        if used:
            lines.append(f"  {'quota':<{width}}  {'used':>6}  {'limit':>7}  {'share':>6}  top stacks")
        for u in used:
            mark = "  OVER" if u.exceeded else ""
            limit = f"{u.limit}{'*' if u.recorded else ''}"
            lines.append(f"  {u.quota.label:<{width}}  {u.used:>6}  {limit:>7}  {u.share:>6.1%}  {u.breakdown()}{mark}")
        if any(u.recorded for u in used):
            lines.append(f"  (* recorded increase, {increase_config_file(env)})")
        if self.missing:
            lines.append(
                f"  partial: {len(self.missing)} stack(s) not planned ({', '.join(self.missing)}); the totals are a floor"
            )
        lines += [f"error: {v}" for v in self.violations]
        lines += [f"note: {n}" for n in self.notes]
        return lines


def check_environment(env: EnvironmentStacks, plans: Mapping[str, Any]) -> EnvironmentQuotaReport:
    """Sum the planned quota usage of ``env``'s stacks (stack -> ``StackPlan`` or plan JSON) against the
    environment's recorded increases. A stack that did not plan (absent, an error, no resources counted) is
    listed as missing and the totals are a floor."""
    counted: dict[str, dict[str, int]] = {}
    missing = []
    for stack in env.stacks:
        plan = plans.get(stack)
        planned = plan is not None and (
            ("summary" in plan or bool(plan.get("quotas")))
            if isinstance(plan, Mapping)
            else getattr(plan, "error", None) is None
            and (getattr(plan, "run", None) is not None or bool(getattr(plan, "quotas", None)))
        )
        if planned:
            counted[stack] = stack_quota_counts(plan)
        else:
            missing.append(stack)
    usage = environment_usage(counted, environment_increases(env))
    return EnvironmentQuotaReport(env, tuple(usage), tuple(missing), tuple(increase_mismatches(env)))


def read_plan_documents(env: EnvironmentStacks, json_dir: Path) -> dict[str, dict[str, Any]]:
    """The plan JSON (``<json_dir>/<stack>.json``) of every stack of ``env`` that has one."""
    out = {}
    for stack in env.stacks:
        path = json_dir / f"{stack}.json"
        if path.is_file():
            out[stack] = json.loads(path.read_text(encoding="utf-8"))
    return out


# ------------------------------------------------------------------------------------------------ estimate up front


@dataclass(frozen=True)
class StackShape:
    """What the estimate reads from one stack file."""

    stack: str
    tenants: int
    system_tenant: bool
    """The stack builds the system tenant (every stack but a cell, :data:`CELL_KEY`)."""
    owns_pools: bool
    """``saas:identity.mode: own`` (user pools and their triggers are in this stack)."""
    access: AccessConfig
    region: str
    environment: str
    name_prefix: str = DEFAULT_NAME_PREFIX


def stack_shape(env: EnvironmentStacks, stack: str) -> StackShape:
    """Read a stack file for the estimate (its tenants, identity mode, access layout, region). Only the keys the
    estimate needs are read; the full config contract is the program's and ``onboard``'s business.

    Raises:
        FleetError: the file does not parse, or ``saas:access`` / ``saas:identity`` are invalid.
    """
    path = env.stack_file(stack)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FleetError(f"{path.name} is not valid YAML: {exc}") from None
    config = doc.get("config") or {}
    tenants = config.get("saas:tenants") or []
    try:
        access = AccessConfig.model_validate(config.get("saas:access") or {})
        identity = IdentityConfig.model_validate(config.get("saas:identity") or {})
    except ValueError as exc:
        raise FleetError(f"{path.name}: saas:access or saas:identity is invalid: {exc}") from None
    return StackShape(
        stack=stack,
        tenants=len(tenants) if isinstance(tenants, list) else 0,
        system_tenant=CELL_KEY not in config,
        owns_pools=identity.mode == "own",
        access=access,
        region=str(config.get("aws:region") or ""),
        environment=str(config.get("saas:environment") or env.environment),
        name_prefix=str(config.get("saas:namePrefix") or DEFAULT_NAME_PREFIX),
    )


def trigger_pools_per_shard(region: str, name_prefix: str, environment: str) -> int:
    """Pools per shared-trigger pair, as ``CognitoTriggersArgs.capacity`` computes it (the longest function name
    of the stack: shard 99)."""
    longest = max((trigger_function_name(name_prefix, t, 99, environment) for t in TRIGGER_HANDLERS), key=len)
    return pools_per_function(region, longest)


def estimate_stack(shape: StackShape) -> dict[str, int]:
    """The tenant-driven resources of one stack, from the code's own sizes:

    * user pools: one per tenant plus the system tenant's, if the stack owns its pools (``identity.mode: own``);
    * identity pools: one per tenant plus the system tenant's (both identity modes);
    * policy stores: one per customer tenant;
    * IAM roles: per tenant 2 (``perTenant``) or 2 per ABAC shard of ``tenantsPerRole`` (default
      :func:`~saas_platform.components.iam.abac_tenants_per_role`), the 3 system roles where the system tenant is,
      and, owning the pools, 2 trigger roles per shard of :func:`trigger_pools_per_shard` pools.
    """
    pools = shape.tenants + (1 if shape.system_tenant else 0)
    if shape.access.mode == "perTenant":
        tenant_roles = 2 * shape.tenants
    else:
        per_role = shape.access.tenants_per_role or abac_tenants_per_role(shape.region, shape.access.trust_policy_quota)
        tenant_roles = 2 * math.ceil(shape.tenants / per_role)
    trigger_roles = 0
    if shape.owns_pools and pools:
        per_shard = trigger_pools_per_shard(shape.region, shape.name_prefix, shape.environment)
        trigger_roles = 2 * math.ceil(pools / per_shard)
    return {
        "userPools": pools if shape.owns_pools else 0,
        "identityPools": pools,
        "policyStores": shape.tenants,
        "iamRoles": tenant_roles + (SYSTEM_ROLES if shape.system_tenant else 0) + trigger_roles,
    }


def estimate_environment(env: EnvironmentStacks, shapes: Sequence[StackShape] | None = None) -> list[EnvironmentUsage]:
    """The estimate (:func:`estimate_stack`) of every stack of ``env``, per quota of :data:`ESTIMATED`."""
    shapes = list(shapes) if shapes is not None else [stack_shape(env, s) for s in env.stacks]
    per_stack = {s.stack: estimate_stack(s) for s in shapes}
    return [u for u in environment_usage(per_stack, environment_increases(env)) if u.quota.key in ESTIMATED]


def refusals(env: EnvironmentStacks, shapes: Sequence[StackShape] | None = None) -> list[str]:
    """A message for every quota the estimate puts over the most the account can have (the limit itself, not
    80% of it: the estimate is a floor, and the 80% check is the plan's)."""
    shapes = list(shapes) if shapes is not None else [stack_shape(env, s) for s in env.stacks]
    tenants = sum(s.tenants for s in shapes)
    out = []
    for u in estimate_environment(env, shapes):
        if u.used <= u.limit:
            continue
        files = [env.stack_file(s).name for s, c in u.top() if c]
        more = sum(1 for c in u.by_stack.values() if c) - len(files)
        named = ", ".join(files) + (f" and {more} more stack file{'s' if more > 1 else ''}" if more > 0 else "")
        out.append(
            f"{u.quota.label}: the {len(shapes)} stack files of {env.environment} ({tenants} tenants) need at least "
            f"{u.used} ({u.breakdown()}; from {named}), more than the {u.limit} the account can have "
            f"({u.limit_text(env)}). Way out: {u.way_out(env)}"
        )
    return out


def check_refused_up_front(env: EnvironmentStacks, shapes: Sequence[StackShape] | None = None) -> None:
    """Refuse the environment before anything is planned or deployed when the estimate exceeds a quota's maximum.

    Raises:
        FleetError: the message names the quota, the estimate, the stack files and the way out (exit 2).
    """
    problems = refusals(env, shapes)
    if problems:
        raise FleetError(f"refused before planning {env.environment}: " + " | ".join(problems))
