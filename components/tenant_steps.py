"""The per-tenant composition steps, shared by the platform stack (``Platform``) and the cell stacks (``TenantCell``).

Each function builds one tenant's piece from the validated stack config and the environment's shared pieces,
which a platform stack has in hand and a cell stack reads from the platform contract. Keeping them in one place
means a tenant is built the same way wherever it lives: moving a tenant from the platform stack into a cell
changes its stack, not its resources' arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from saas_platform.components.authorization import TenantAuthorization, TenantAuthorizationArgs
from saas_platform.components.config import StackConfig
from saas_platform.components.identity import (
    TenantIdentity,
    TenantIdentityArgs,
    TenantIdentityOutputs,
    TenantIdentityPool,
    TenantIdentityPoolArgs,
)
from saas_platform.components.lambda_function import LayerLike
from saas_platform.components.naming import SYSTEM_TENANT
from saas_platform.components.registry import RegistryEntry, TenantStatus, registry_entry
from saas_platform.components.triggers import CognitoTriggers, CognitoTriggersArgs


def sign_in_triggers(
    name: str,
    cfg: StackConfig,
    *,
    tenant_ids: Sequence[str],
    kms_key_arn: pulumi.Input[str],
    kms_key_alias: str,
    registry_table_name: pulumi.Input[str],
    registry_table_arn: pulumi.Input[str],
    layers: Sequence[LayerLike],
    account_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> CognitoTriggers:
    """The shared pre-authentication and pre-token functions of the stack's pools (one pair per shard), reading
    the registry. In a cell stack the cell number goes into the function names."""
    return CognitoTriggers(
        name,
        CognitoTriggersArgs(
            environment=cfg.environment,
            region=cfg.region,
            kms_key_arn=kms_key_arn,
            kms_key_alias=kms_key_alias,
            registry_table_name=registry_table_name,
            registry_table_arn=registry_table_arn,
            tenant_ids=list(tenant_ids),  # shard order: new tenants are appended
            client_environments=cfg.identity_client_environments,
            layers=layers,
            account_id=account_id,
            name_prefix=cfg.name_prefix,
            log_retention_days=cfg.logs.sign_in_days,
            cell=cfg.cell.number if cfg.cell is not None else None,
            extra_tags=cfg.tags,
        ),
        opts=opts,
    )


def owned_identity(
    cfg: StackConfig,
    tenant: str,
    *,
    triggers: CognitoTriggers,
    account_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> TenantIdentity:
    """The tenant's user pool and app clients (the ``system`` tenant always with MFA on)."""
    return TenantIdentity(
        tenant,
        TenantIdentityArgs(
            tenant_id=tenant,
            environment=cfg.environment,
            triggers=triggers.functions_for(tenant),
            region=cfg.region,
            client_environments=cfg.identity_client_environments,
            mfa="ON" if tenant == SYSTEM_TENANT else cfg.identity.mfa,
            feature_plan=cfg.identity.feature_plan,
            sms_role_arn=cfg.identity.sms_role_arn,
            protect=cfg.protect,
            account_id=account_id,
            name_prefix=cfg.name_prefix,
            extra_tags=cfg.tags,
        ),
        opts=opts,
    )


def identity_pool(
    cfg: StackConfig, tenant: str, identity: TenantIdentityOutputs, opts: pulumi.ResourceOptions
) -> TenantIdentityPool:
    """The tenant's identity pool in this environment, trusting only its pool's clients of this environment
    (roles are attached once the access step has built them)."""
    return TenantIdentityPool(
        tenant,
        TenantIdentityPoolArgs(
            tenant_id=tenant,
            environment=cfg.environment,
            region=cfg.region,
            user_pool_id=identity.user_pool_id,
            client_ids=identity.environment_client_ids(cfg.environment),
            name_prefix=cfg.name_prefix,
            principal_tags=cfg.access.mode == "abac" and tenant != SYSTEM_TENANT,
            extra_tags=cfg.tags,
        ),
        opts=opts,
    )


def authorization(
    name: str, cfg: StackConfig, tenant: str, identity: TenantIdentityOutputs, opts: pulumi.ResourceOptions
) -> TenantAuthorization:
    """The tenant's Verified Permissions policy store, bound to its pool and this environment's clients."""
    return TenantAuthorization(
        name,
        TenantAuthorizationArgs(
            tenant_id=tenant,
            environment=cfg.environment,
            user_pool_id=identity.user_pool_id,
            user_pool_arn=identity.user_pool_arn,
            client_ids=identity.environment_client_ids(cfg.environment),
            protect=cfg.protect,
            extra_tags=cfg.tags,
        ),
        opts=opts,
    )


def app_clients(identity: TenantIdentityOutputs) -> pulumi.Output[Mapping[str, str]]:
    """Every app client of the tenant's pool -> the environment it serves (the ``appClients`` registry attribute,
    written by the stack that owns the pool; the shared sign-in triggers read it)."""
    return pulumi.Output.all(
        *[pulumi.Output.all(client, env) for env, clients in identity.client_ids.items() for client in clients.values()]
    ).apply(lambda pairs: {str(c): str(e) for c, e in pairs})


def register_tenant(
    name: str,
    cfg: StackConfig,
    *,
    table_name: pulumi.Input[str],
    tenant: str,
    tier: str,
    status: TenantStatus,
    identity: TenantIdentityOutputs,
    pool: TenantIdentityPool,
    policy_store_id: pulumi.Input[str] | None,
    usage_key: pulumi.Input[str] | None,
    owns_pool: bool,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """The tenant's registry item, written into the environment's registry table (``table_name``)."""
    return registry_entry(
        name,
        table_name,
        RegistryEntry(
            tenant_id=tenant,
            tier=tier,
            status=status,
            user_pool_id=identity.user_pool_id,
            client_ids=identity.environment_client_ids(cfg.environment),
            identity_pool_id=pool.identity_pool_id,
            policy_store_id=policy_store_id,
            usage_key=usage_key,
            app_clients=app_clients(identity) if owns_pool else None,
        ),
        opts=opts,
    )
