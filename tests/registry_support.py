"""A moto tenant registry built with the component's own key, index and item shape (shared by handler tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from saas_platform.components.registry import (
    REGISTRY_KEY,
    STATUS_ATTRIBUTE,
    STATUS_INDEX,
    USER_POOL_ATTRIBUTE,
    USER_POOL_INDEX,
    registry_item,
)
from saas_platform.components.triggers import TriggerFunctions


def registry_table(client: Any, name: str, tenants: Mapping[str, str] | None = None, status: str = "active") -> str:
    """Create registry table ``name`` in moto and write ``tenant -> user pool id`` items (all ``status``)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": REGISTRY_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": REGISTRY_KEY, "AttributeType": "S"},
            {"AttributeName": USER_POOL_ATTRIBUTE, "AttributeType": "S"},
            {"AttributeName": STATUS_ATTRIBUTE, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": USER_POOL_INDEX,
                "KeySchema": [{"AttributeName": USER_POOL_ATTRIBUTE, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [{"AttributeName": STATUS_ATTRIBUTE, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    for tenant, pool in (tenants or {}).items():
        put_tenant(client, name, tenant, pool, status)
    return name


def put_tenant(
    client: Any,
    table: str,
    tenant: str,
    pool: str,
    status: str = "active",
    client_ids: tuple[str, ...] = (),
    app_clients: Mapping[str, str] | None = None,
    policy_store_id: str | None = "",
    usage_key: str | None = None,
) -> None:
    """Write one tenant's item (``policy_store_id`` ``""``: ``<tenant>-store``; ``None``: none, as for ``system``)."""
    client.put_item(
        TableName=table,
        Item=registry_item(
            tenant_id=tenant,
            user_pool_id=pool,
            client_ids=list(client_ids) or [f"{tenant}-client"],
            identity_pool_id=f"ap-southeast-1:{tenant}-identity",
            policy_store_id=f"{tenant}-store" if policy_store_id == "" else policy_store_id,
            tier="standard",
            status=status,
            usage_key=usage_key,
            app_clients=app_clients,
        ),
    )


SHARED_FN = "arn:aws:lambda:ap-southeast-1:123456789012:function:AIML-SaaS-{}-S00-Prod"


def shared_triggers(tenant: str) -> TriggerFunctions:
    """The stack's shared trigger functions as ``CognitoTriggers.functions_for`` hands them to one pool."""
    return TriggerFunctions(
        tenant_id=tenant,
        shard=0,
        pre_authentication_arn=pulumi.Output.from_input(SHARED_FN.format("PreAuth")),
        pre_authentication_name=pulumi.Output.from_input("AIML-SaaS-PreAuth-S00-Prod"),
        pre_token_generation_arn=pulumi.Output.from_input(SHARED_FN.format("PreToken")),
        pre_token_generation_name=pulumi.Output.from_input("AIML-SaaS-PreToken-S00-Prod"),
    )
