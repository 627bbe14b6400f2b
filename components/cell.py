"""Tenant cells: an environment's tenants partitioned into cell stacks beside its platform stack.

The **platform stack** (``Pulumi.<env>.yaml``) keeps what the environment shares: the KMS key, pool tables,
buckets, registry table, handler layer, MSK consumer, tenant API, jobs and the ``system`` tenant. It exports
those pieces as the versioned :data:`PLATFORM_EXPORT` output (:func:`platform_export`).

A **cell stack** (``Pulumi.<env>-cell-<NN>.yaml``, config ``saas:cell``) holds only its tenants: their user pools
and app clients, identity pools, Verified Permissions policy stores, tenant roles, sign-in triggers, API usage
keys and registry items, built by the same steps as in the platform stack (:mod:`saas_platform.components.tenant_steps`).
It reads the shared pieces through a ``StackReference`` to the platform stack and checks the contract
(:func:`read_platform_export`) before anything uses it: a wrong version, environment, region, name prefix or key
alias fails the deployment with a message that says which stack to change.

Why cells (docs/fleet.md, "Cells"): onboarding a tenant previews and updates one cell, not the environment; a bad
change reaches one cell's tenants first (the fleet rollout deploys a canary cell before the rest); the
control-plane calls of one deployment (Cognito and Verified Permissions rate limits) stay bounded; and each
stack's state stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.access import TenantRoles, build_tenant_access
from saas_platform.components.api import tenant_usage_key
from saas_platform.components.authorization import TenantAuthorization
from saas_platform.components.config import StackConfig
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.identity import TenantIdentityOutputs, TenantIdentityPool
from saas_platform.components.lambda_function import (
    HANDLER_PACKAGE,
    HANDLERS_DIR,
    CodeSource,
    LayerRef,
    missing_imports,
)
from saas_platform.components.naming import CELL_TYPE, PLATFORM_TABLES_OUTPUT, POOL_TABLES
from saas_platform.components.tenant_steps import (
    authorization,
    identity_pool,
    owned_identity,
    register_tenant,
    sign_in_triggers,
)
from saas_platform.components.triggers import TRIGGER_HANDLERS, CognitoTriggers

PLATFORM_EXPORT: Final = "platform"
"""The platform stack's output that cell stacks read (:func:`platform_export`)."""
PLATFORM_CONTRACT_VERSION: Final = 1
"""Version of the :data:`PLATFORM_EXPORT` shape. A change that removes or renames a key bumps it; cells refuse a
version they do not read, so platform and cells are upgraded in the order the rollout gives (platform first)."""
CONTRACT_KEYS: Final[tuple[str, ...]] = (
    "environment",
    "region",
    "accountId",
    "namePrefix",
    "kmsKeyArn",
    "kmsKeyAlias",
    "alarmTopicArn",
    "handlerLayer",
    "tables",
    "documentBucketArn",
    "registry",
)
"""The keys of contract version 1 besides ``contractVersion`` (and ``api``, which is null or absent without the
tenant API: a stack output drops a null value)."""
IMAGE_METADATA_TABLE: Final = "ImageMetadata"
CELL_TABLES: Final[tuple[str, ...]] = (*POOL_TABLES, IMAGE_METADATA_TABLE)
"""The pool tables a cell's tenant roles are granted on (the platform's ``tables``)."""


def kms_key_alias(name_prefix: str, environment: str) -> str:
    """``alias/aiml-saas-dev``: the environment key's alias (the platform's ``key_alias``)."""
    return f"alias/{name_prefix}-{environment}".lower()


def platform_export(
    *,
    environment: str,
    region: str,
    account_id: pulumi.Input[str],
    name_prefix: str,
    kms_key_arn: pulumi.Input[str],
    kms_key_alias: str,
    alarm_topic_arn: pulumi.Input[str],
    handler_layer_arn: pulumi.Input[str],
    handler_layer_modules: frozenset[str],
    tables: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str], Sequence[str]]],
    document_bucket_arn: pulumi.Input[str],
    registry_table_name: pulumi.Input[str],
    registry_table_arn: pulumi.Input[str],
    usage_plan_ids: Mapping[str, pulumi.Input[str]] | None,
) -> dict[str, Any]:
    """The :data:`PLATFORM_EXPORT` output of a platform stack (contract version 1)::

        {"contractVersion": 1, "environment": "dev", "region": "ap-southeast-1", "accountId": "123456789012",
         "namePrefix": "AIML-SaaS", "kmsKeyArn": "...", "kmsKeyAlias": "alias/aiml-saas-dev",
         "alarmTopicArn": "...", "handlerLayer": {"arn": "...", "modules": ["aws_lambda_powertools", ...]},
         "tables": {"EmploymentDev": {"name": "EmploymentDev", "arn": "...", "tenantIndexNames": []}, ...},
         "documentBucketArn": "...", "registry": {"tableName": "TenantRegistryDev", "tableArn": "..."},
         "api": {"usagePlanIds": {"basic": "...", "standard": "...", "premium": "..."}} | null}

    ``tables`` maps each table's base name to (name, ARN, tenant-keyed index names)."""
    return {
        "contractVersion": PLATFORM_CONTRACT_VERSION,
        "environment": environment,
        "region": region,
        "accountId": account_id,
        "namePrefix": name_prefix,
        "kmsKeyArn": kms_key_arn,
        "kmsKeyAlias": kms_key_alias,
        "alarmTopicArn": alarm_topic_arn,
        "handlerLayer": {"arn": handler_layer_arn, "modules": sorted(handler_layer_modules)},
        "tables": {
            base: {"name": name, "arn": arn, "tenantIndexNames": list(indexes)}
            for base, (name, arn, indexes) in tables.items()
        },
        "documentBucketArn": document_bucket_arn,
        "registry": {"tableName": registry_table_name, "tableArn": registry_table_arn},
        "api": {"usagePlanIds": dict(usage_plan_ids)} if usage_plan_ids is not None else None,
    }


class PlatformContractError(pulumi.RunError):
    """The platform stack's :data:`PLATFORM_EXPORT` output is missing, of another version, or disagrees with the
    cell's own config."""


@dataclass(frozen=True)
class CellExpectations:
    """What a cell knows from its own config and this library, checked against the platform's export."""

    environment: str
    region: str
    name_prefix: str
    kms_key_alias: str
    layer_modules: frozenset[str]
    uses_api: bool


def read_platform_export(exported: Any, platform_stack: str, expect: CellExpectations) -> dict[str, Any]:
    """Validate the platform stack's export against the cell (raise :class:`PlatformContractError`) and return it."""
    where = f"stack {platform_stack!r} output {PLATFORM_EXPORT!r}"
    if not isinstance(exported, Mapping):
        raise PlatformContractError(
            f"{where} is missing or not an object: deploy the platform stack first (the fleet rollout does), and "
            "check saas:cell.platformStack"
        )
    version = exported.get("contractVersion")
    if version != PLATFORM_CONTRACT_VERSION:
        raise PlatformContractError(
            f"{where} has contractVersion {version!r}; this library reads version {PLATFORM_CONTRACT_VERSION}. "
            "Deploy the platform stack and its cells with the same library version (platform first)"
        )
    missing = sorted(k for k in CONTRACT_KEYS if k not in exported)
    if missing:
        raise PlatformContractError(f"{where} lacks {missing}; redeploy the platform stack")
    mismatches = [
        (key, exported.get(key), want)
        for key, want in (
            ("environment", expect.environment),
            ("region", expect.region),
            ("namePrefix", expect.name_prefix),
            ("kmsKeyAlias", expect.kms_key_alias),
        )
        if exported.get(key) != want
    ]
    if mismatches:
        said = "; ".join(f"{k} is {got!r} there, {want!r} here" for k, got, want in mismatches)
        raise PlatformContractError(
            f"{where} does not describe this cell's environment: {said}. A cell states the same "
            "saas:environment, aws:region and saas:namePrefix as its platform stack"
        )
    tables = exported["tables"]
    if not isinstance(tables, Mapping) or sorted(tables) != sorted(CELL_TABLES):
        raise PlatformContractError(
            f"{where} exports tables {sorted(tables) if isinstance(tables, Mapping) else tables!r}; this library "
            f"grants tenant roles on {sorted(CELL_TABLES)}. Deploy platform and cells with the same library version"
        )
    keyed = {base: t.get("tenantIndexNames") for base, t in tables.items() if t.get("tenantIndexNames")}
    if keyed:
        raise PlatformContractError(
            f"{where}: tables {sorted(keyed)} have tenant-keyed indexes {keyed}, which cell roles (contract "
            f"version {PLATFORM_CONTRACT_VERSION}) do not grant; keep those tenants in the platform stack"
        )
    provided = set(exported["handlerLayer"].get("modules") or ())
    if not expect.layer_modules <= provided:
        raise PlatformContractError(
            f"{where}: the handler layer provides {sorted(provided)}, not {sorted(expect.layer_modules - provided)} "
            "which the cell's sign-in triggers import; rebuild the layer (scripts/build-lambda-layer) and redeploy "
            "the platform stack"
        )
    api = exported.get("api")
    if expect.uses_api and not (isinstance(api, Mapping) and api.get("usagePlanIds")):
        raise PlatformContractError(
            f"{where}: the platform serves no tenant API (saas:api), so there is no usage plan for this cell's "
            "tenants; set saas:cell.api: false, or add saas:api to the platform stack"
        )
    if not expect.uses_api and api is not None:
        raise PlatformContractError(
            f"{where}: the platform serves the tenant API, and this cell's tenants would have no usage key (the "
            "authorizer refuses them); set saas:cell.api: true (the default)"
        )
    return dict(exported)


@dataclass(frozen=True, kw_only=True)
class TenantCellArgs:
    """Arguments of :class:`TenantCell`: the validated config of a cell stack (``saas:cell`` set)."""

    config: StackConfig

    def __post_init__(self) -> None:
        if self.config.cell is None:
            raise ComponentArgError(
                "TenantCell needs a cell stack's config (saas:cell); a platform stack uses Platform"
            )


class TenantCell(pulumi.ComponentResource):
    """One cell of an environment: its tenants, built on the platform stack's shared pieces.

    Steps, in order: read and check the platform contract (``StackReference`` to ``saas:cell.platformStack``);
    the cell's sign-in triggers (its shard(s), cell number in the names); per tenant its user pool and clients,
    identity pool and policy store; the tenant roles (per tenant, or ABAC shards numbered within the cell) mapped
    from the identity pools; with the tenant API a usage key on the tier's plan; last the registry items, written
    into the platform's registry table, so a tenant becomes known only once everything it needs exists.

    Example (the program's cell branch)::

        config = stack_config_from_pulumi()           # Pulumi.dev-cell-01.yaml
        cell = TenantCell("cell", TenantCellArgs(config=config))
        pulumi.export("userPoolIds", cell.user_pool_ids)

    Documentation:
        https://www.pulumi.com/docs/iac/concepts/stacks/#stackreferences
    """

    contract: pulumi.Output[dict[str, Any]]
    triggers: CognitoTriggers
    identities: dict[str, TenantIdentityOutputs]
    identity_pools: dict[str, TenantIdentityPool]
    authorizations: dict[str, TenantAuthorization]
    tenant_roles: dict[str, TenantRoles]
    usage_key_values: dict[str, pulumi.Output[str]]
    user_pool_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: TenantCellArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CELL_TYPE, name, None, opts)
        cfg = args.config
        cell = cfg.cell
        assert cell is not None  # TenantCellArgs
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        alias = kms_key_alias(cfg.name_prefix, cfg.environment)
        layer_needs = trigger_layer_modules()
        expect = CellExpectations(
            environment=cfg.environment,
            region=cfg.region,
            name_prefix=cfg.name_prefix,
            kms_key_alias=alias,
            layer_modules=layer_needs,
            uses_api=cell.api,
        )
        ref = pulumi.StackReference(f"{name}-platform", stack_name=cell.platform_stack, opts=child)
        self.contract = ref.get_output(PLATFORM_EXPORT).apply(
            lambda v: read_platform_export(v, cell.platform_stack, expect)
        )

        def part(*path: str) -> pulumi.Output[Any]:
            def pick(c: Mapping[str, Any]) -> Any:
                value: Any = c
                for p in path:
                    value = value[p]
                return value

            return self.contract.apply(pick)

        registry_name, registry_arn = part("registry", "tableName"), part("registry", "tableArn")
        layer = LayerRef(part("handlerLayer", "arn"), modules=layer_needs)
        self.triggers = sign_in_triggers(
            f"{name}-triggers",
            cfg,
            tenant_ids=cfg.tenant_ids,
            kms_key_arn=part("kmsKeyArn"),
            kms_key_alias=alias,
            registry_table_name=registry_name,
            registry_table_arn=registry_arn,
            layers=[layer],
            account_id=account_id,
            opts=child,
        )
        owned = {
            t: owned_identity(cfg, t, triggers=self.triggers, account_id=account_id, opts=child) for t in cfg.tenant_ids
        }
        self.identities = {t: i.outputs for t, i in owned.items()}
        self.identity_pools = {t: identity_pool(cfg, t, self.identities[t], child) for t in cfg.tenant_ids}
        self.authorizations = {
            t: authorization(f"{name}-{t}-authz", cfg, t, self.identities[t], child) for t in cfg.tenant_ids
        }
        self.tenant_roles = build_tenant_access(
            f"{name}-access",
            mode=cfg.access.mode,
            environment=cfg.environment,
            region=cfg.region,
            pools=self.identity_pools,
            table_arns={base: part("tables", base, "arn") for base in CELL_TABLES},
            tenant_index_names={},  # the contract check refuses a platform whose tables have tenant-keyed indexes
            document_bucket_arn=part("documentBucketArn"),
            kms_key_arn=part("kmsKeyArn"),
            kms_key_alias=alias,
            account_id=account_id,
            tenants_per_role=cfg.access.tenants_per_role,
            trust_policy_max_chars=cfg.access.trust_policy_quota,
            name_prefix=cfg.name_prefix,
            extra_tags=cfg.tags,
            cell=cell.number,
            opts=child,
        )
        self.usage_key_values = {}
        if cell.api:
            for t in cfg.tenants:
                key = tenant_usage_key(
                    f"{name}-{t.id}-usage-key",
                    tenant_id=t.id,
                    environment=cfg.environment,
                    name_prefix=cfg.name_prefix,
                    usage_plan_id=part("api", "usagePlanIds", t.tier),
                    extra_tags=cfg.tags,
                    opts=child,
                )
                self.usage_key_values[t.id] = key.value
        for t in cfg.tenants:
            register_tenant(
                f"{name}-registry-{t.id}",
                cfg,
                table_name=registry_name,
                tenant=t.id,
                tier=t.tier,
                status=t.status,
                identity=self.identities[t.id],
                pool=self.identity_pools[t.id],
                policy_store_id=self.authorizations[t.id].policy_store_id,
                usage_key=self.usage_key_values.get(t.id),
                owns_pool=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.authorizations[t.id]]),
            )
        self.user_pool_ids = {t: i.user_pool_id for t, i in self.identities.items()}
        # The platform's pool tables as the checked contract names them: the policy pack judges this cell's tenant
        # roles against them (the tables themselves are in the platform stack).
        platform_tables = self.contract.apply(
            lambda c: {t["name"]: {"tenantIndexNames": list(t["tenantIndexNames"])} for t in c["tables"].values()}
        )
        self.register_outputs(
            {"tenants": cfg.tenant_ids, "platform_stack": cell.platform_stack, PLATFORM_TABLES_OUTPUT: platform_tables}
        )


def trigger_layer_modules() -> frozenset[str]:
    """The modules the sign-in triggers import that the Lambda runtime does not provide: what the platform's layer
    must provide (checked against its export at deploy; the cell's ``LayerRef`` claims exactly these)."""
    source = CodeSource(HANDLERS_DIR, HANDLER_PACKAGE)
    return frozenset(
        m for h in TRIGGER_HANDLERS.values() for m in missing_imports(source, h.rpartition(".")[0], frozenset())
    )
