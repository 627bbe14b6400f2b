"""``TenantRegistry``: the runtime source of truth for who the environment's tenants are.

One DynamoDB table per environment (``TenantRegistry<Env>``), owned by the platform stack, with one item per
tenant written by the stack that holds the tenant (``aws.dynamodb.TableItem``):

``tenantId`` (key), ``userPoolId``, ``clientIds`` (string set), ``identityPoolId``, ``policyStoreId``,
``tier``, ``status`` (``active`` | ``suspended`` | ``offboarded``), when the tenant API exists ``usageKey``, and,
in the stack that owns the user pools, ``appClients`` (every app client of the pool -> the environment it serves;
the shared Cognito triggers read it). The ``system`` tenant has an item too (no policy store): the triggers serve
its pool like any other. A GSI ``byUserPool`` on ``userPoolId`` answers "whose pool is this?" for the Cognito triggers and the API
authorizer; a keys-only GSI ``byStatus`` answers "which tenants are active?" for the system jobs (AttGen-System). The handlers read it through ``saas_platform.handlers._registry`` (TTL and negative caching, fail
closed when unreachable).

Why a table and not SSM parameters: one item per tenant is one ``GetItem``/``Query`` on the hot path with
no per-account throughput shared with every other SSM user (SSM ``GetParameter`` has a low default TPS), the
item carries every attribute atomically (status changes flip one attribute, not several parameters), the
index answers the pool -> tenant lookup that SSM cannot without a second parameter per tenant, and the table
gets the same KMS key, point-in-time recovery and deletion protection as the pool tables.

Who can reach it: the table is *not* one of ``Platform.tables`` (which the tenant roles are granted on), so no
tenant or system-tenant role's policy names it; only the platform's own function roles get ``GetItem`` and
``Query`` (see :data:`REGISTRY_READ_ACTIONS`) through :meth:`TenantRegistry.read_statement`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import DYNAMODB_KMS_READ_ACTIONS
from saas_platform.components.naming import ENVIRONMENTS, env_suffix, tags

REGISTRY_TABLE_ENV: Final = "SAAS_REGISTRY_TABLE"
"""The environment variable that tells a handler the registry table's name (``handlers._registry.TABLE_ENV``)."""
REGISTRY_KEY: Final = "tenantId"
USER_POOL_INDEX: Final = "byUserPool"
USER_POOL_ATTRIBUTE: Final = "userPoolId"
STATUS_INDEX: Final = "byStatus"
"""GSI on ``status``, keys only (``tenantId`` and ``status``): "which tenants are active?" for the system jobs,
without a Scan and without ever returning a usage key or a pool id."""
STATUS_ATTRIBUTE: Final = "status"
TENANT_STATUSES: Final = ("active", "suspended", "offboarded")
REGISTRY_READ_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:Query")
"""What a handler that checks tenants may do on the registry (and its index): read one tenant, query one pool."""

TenantStatus = Literal["active", "suspended", "offboarded"]


def registry_table_name(environment: str, name_prefix: str = "") -> str:
    """Physical registry table name: ``TenantRegistryDev`` (``alice-TenantRegistryDev`` with a prefix, like the
    pool tables, so two stacks of one environment share an account)."""
    return f"{name_prefix + '-' if name_prefix else ''}TenantRegistry{env_suffix(environment)}"


def registry_item(
    *,
    tenant_id: str,
    user_pool_id: str,
    client_ids: Sequence[str],
    identity_pool_id: str,
    policy_store_id: str | None,
    tier: str,
    status: str,
    usage_key: str | None = None,
    app_clients: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One registry item in DynamoDB's attribute-value JSON (pure; the handler parses exactly this shape).

    ``app_clients`` maps each app client id of the tenant's pool to the environment it serves (``appClients``, a
    map attribute); only the stack that owns the pools writes it, for the sign-in triggers.

    Raises:
        ComponentArgError: unknown status or no client ids (DynamoDB refuses an empty string set), or an
            ``app_clients`` environment that is not dev/staging/prod.
    """
    if status not in TENANT_STATUSES:
        raise ComponentArgError(f"tenant {tenant_id!r}: status must be one of {TENANT_STATUSES}; got {status!r}")
    if not client_ids:
        raise ComponentArgError(f"tenant {tenant_id!r}: the registry entry needs at least one app client id")
    item: dict[str, Any] = {
        REGISTRY_KEY: {"S": tenant_id},
        USER_POOL_ATTRIBUTE: {"S": user_pool_id},
        "clientIds": {"SS": sorted(set(client_ids))},
        "identityPoolId": {"S": identity_pool_id},
        "tier": {"S": tier},
        "status": {"S": status},
    }
    if policy_store_id:
        item["policyStoreId"] = {"S": policy_store_id}
    if usage_key:
        item["usageKey"] = {"S": usage_key}
    if app_clients:
        bad = sorted({env for env in app_clients.values() if env not in ENVIRONMENTS})
        if bad:
            raise ComponentArgError(
                f"tenant {tenant_id!r}: app client environments must be in {ENVIRONMENTS}; got {bad}"
            )
        item["appClients"] = {"M": {client: {"S": env} for client, env in sorted(app_clients.items())}}
    return item


@dataclass(frozen=True, kw_only=True)
class TenantRegistryArgs:
    """Arguments of :class:`TenantRegistry`."""

    environment: Literal["dev", "staging", "prod"]
    kms_key_arn: pulumi.Input[str]
    """The environment's customer-managed key (the table is encrypted with it)."""
    account_id: pulumi.Input[str]
    region: str
    protect: bool = True
    """Default: True. Deletion protection in AWS and ``protect``/``retain_on_delete`` in Pulumi: losing the
    registry locks every tenant out (the handlers fail closed)."""
    extra_tags: dict[str, str] = field(default_factory=dict)
    name_prefix: str = ""
    """Default ``""``. Prefix of the table's physical name (``saas:tableNamePrefix``), as for the pool tables."""


@dataclass(frozen=True, kw_only=True)
class RegistryEntry:
    """What one tenant's registry item says (Outputs allowed: pool, clients and stores are created alongside)."""

    tenant_id: str
    tier: str
    status: TenantStatus = "active"
    user_pool_id: pulumi.Input[str]
    client_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    identity_pool_id: pulumi.Input[str]
    policy_store_id: pulumi.Input[str] | None = None
    usage_key: pulumi.Input[str] | None = None
    app_clients: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    """App client id -> environment, for every client of the pool (the owning stack only; the triggers read it)."""

    def __post_init__(self) -> None:
        if self.status not in TENANT_STATUSES:
            raise ComponentArgError(
                f"tenant {self.tenant_id!r}: status must be one of {TENANT_STATUSES}; got {self.status!r}"
            )


def registry_entry(
    name: str, table_name: pulumi.Input[str], entry: RegistryEntry, opts: pulumi.ResourceOptions | None = None
) -> aws.dynamodb.TableItem:
    """Write one tenant's item into the registry table ``table_name`` (this stack's or, in a cell stack, the
    platform stack's, read through its output contract). The item JSON is a secret when it holds a usage key."""

    def build(values: list[Any]) -> str:
        pool, clients, identity_pool, store, usage, app_clients = values
        return json.dumps(
            registry_item(
                tenant_id=entry.tenant_id,
                user_pool_id=pool,
                client_ids=list(clients),
                identity_pool_id=identity_pool,
                policy_store_id=store,
                tier=entry.tier,
                status=entry.status,
                usage_key=usage,
                app_clients=app_clients,
            ),
            sort_keys=True,
            separators=(",", ":"),
        )

    item = pulumi.Output.all(
        entry.user_pool_id,
        entry.client_ids,
        entry.identity_pool_id,
        entry.policy_store_id,
        entry.usage_key,
        entry.app_clients,
    ).apply(build)
    return aws.dynamodb.TableItem(name, table_name=table_name, hash_key=REGISTRY_KEY, item=item, opts=opts)


class TenantRegistry(pulumi.ComponentResource):
    """The environment's tenant registry table (system-owned; one item per tenant, index on the user pool).

    On-demand, PITR, SSE with the environment key, deletion protection when ``protect``. The table ARN is built
    from known parts so the handler policies that embed it are known at preview.

    Example::

        registry = TenantRegistry("platform-registry", TenantRegistryArgs(
            environment="dev", kms_key_arn=key.arn, account_id=account_id, region="ap-southeast-1"))
        registry.register("acme-registry", RegistryEntry(tenant_id="acme", tier="standard", ...))

    Documentation:
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html
        https://www.pulumi.com/registry/packages/aws/api-docs/dynamodb/tableitem/
    """

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    index_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:registry:TenantRegistry", name, None, opts)
        self._name = name
        physical = registry_table_name(args.environment, args.name_prefix)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=physical,
            billing_mode="PAY_PER_REQUEST",
            hash_key=REGISTRY_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=REGISTRY_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=USER_POOL_ATTRIBUTE, type="S"),
                aws.dynamodb.TableAttributeArgs(name=STATUS_ATTRIBUTE, type="S"),
            ],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=USER_POOL_INDEX,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=USER_POOL_ATTRIBUTE, key_type="HASH"
                        )
                    ],
                    projection_type="ALL",
                ),
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=STATUS_INDEX,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=STATUS_ATTRIBUTE, key_type="HASH"
                        )
                    ],
                    projection_type="KEYS_ONLY",
                ),
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=args.protect,
            tags=tags(args.environment, "TenantRegistry", extra=args.extra_tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        self.table_name = pulumi.Output.from_input(physical)
        self.table_arn = pulumi.Output.concat(
            "arn:aws:dynamodb:", args.region, ":", args.account_id, ":table/", physical
        )
        self.index_arn = pulumi.Output.concat(self.table_arn, f"/index/{USER_POOL_INDEX}")
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})

    def register(self, name: str, entry: RegistryEntry) -> aws.dynamodb.TableItem:
        """Write ``entry`` as this table's item (after the table exists)."""
        return registry_entry(
            name, self.table.name, entry, opts=pulumi.ResourceOptions(parent=self, depends_on=[self.table])
        )

    def read_statement(self) -> dict[str, Any]:
        """The IAM statement a handler role needs to check tenants (see :data:`REGISTRY_READ_ACTIONS`)."""
        return registry_read_statement(self.table_arn)


def registry_read_statement(table_arn: pulumi.Input[str]) -> dict[str, Any]:
    """``GetItem`` on the registry table and ``Query`` on its user-pool index; nothing else (no Scan)."""
    return {
        "Sid": "ReadTenantRegistry",
        "Effect": "Allow",
        "Action": list(REGISTRY_READ_ACTIONS),
        "Resource": [table_arn, pulumi.Output.concat(table_arn, f"/index/{USER_POOL_INDEX}")],
    }


def registry_list_statement(table_arn: pulumi.Input[str]) -> dict[str, Any]:
    """``Query`` on the registry's keys-only ``byStatus`` index and nothing else: lists the tenant ids of one
    status (the system jobs' fan-out), constant in the number of tenants, never a usage key."""
    return {
        "Sid": "ListTenantsByStatus",
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": pulumi.Output.concat(table_arn, f"/index/{STATUS_INDEX}"),
    }


def registry_key_statement(*, region: str, account_id: pulumi.Input[str], kms_key_alias: str) -> dict[str, Any]:
    """What DynamoDB asks KMS for on the reader's behalf (the table is encrypted with the environment key):
    ``Decrypt``/``DescribeKey``, only through DynamoDB and only on the key with the environment's alias."""
    return {
        "Sid": "TenantRegistryKeyThroughDynamoDB",
        "Effect": "Allow",
        "Action": list(DYNAMODB_KMS_READ_ACTIONS),
        "Resource": pulumi.Output.concat("arn:aws:kms:", region, ":", account_id, ":key/*"),
        "Condition": {
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": kms_key_alias},
            "StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"},
        },
    }


def registry_read_paths(
    *,
    principal: pulumi.Input[str],
    table_arn: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    region: str,
    label: str = "",
) -> list[DataPath]:
    """The registry reads of a handler role, for the data-path inventory (not tenant-scoped: a system lookup).

    ``label`` tells apart several reader roles of one component: ``registry/<label>/get`` instead of
    ``registry/get`` (names are unique within a component)."""
    reader: dict[str, Any] = {"principal": principal, "principal_type": "role"}
    scope = f"registry/{label}/" if label else "registry/"
    return [
        DataPath(
            name=f"{scope}get",
            actions=("dynamodb:GetItem",),
            resource=table_arn,
            description="the handler reads one tenant's registry item (cached per TTL)",
            **reader,
        ),
        DataPath(
            name=f"{scope}query-pool",
            actions=("dynamodb:Query",),
            resource=pulumi.Output.concat(table_arn, f"/index/{USER_POOL_INDEX}"),
            description="the handler finds the tenant that owns a user pool (cached per TTL)",
            **reader,
        ),
        DataPath(
            name=f"{scope}key",
            actions=DYNAMODB_KMS_READ_ACTIONS,
            resource=kms_key_arn,
            context=datapaths.dynamodb_kms_context(region),
            guards=("kms:ViaService",),
            description="DynamoDB uses the environment key to read the registry for the handler",
            **reader,
        ),
    ]
