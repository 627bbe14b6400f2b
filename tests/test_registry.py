"""The tenant registry: the handler-side reader (moto DynamoDB, a fake clock) and the component's item shape.

The moto table is created with the component's own key, index and item builder, so a drift between what the
stack writes and what the handlers read fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.registry import registry_item, registry_read_statement
from saas_platform.handlers import _registry
from saas_platform.handlers._registry import (
    RegistryError,
    RegistryUnavailable,
    TenantNotActive,
    TenantRecord,
    TenantRegistry,
)
from tests.registry_support import registry_table

TABLE = "TenantRegistryDev"
REGION = "ap-southeast-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def item(tenant: str, pool: str, status: str = "active", **extra: Any) -> dict[str, Any]:
    return registry_item(
        tenant_id=tenant,
        user_pool_id=pool,
        client_ids=[f"{tenant}-client-1", f"{tenant}-client-2"],
        identity_pool_id=f"{REGION}:{tenant}-identity",
        policy_store_id=f"{tenant}-store",
        tier="standard",
        status=status,
        **extra,
    )


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        registry_table(client, TABLE)
        client.put_item(TableName=TABLE, Item=item("acme", f"{REGION}_AcmePool1"))
        client.put_item(TableName=TABLE, Item=item("globex", f"{REGION}_GlobexPool", status="suspended"))
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def reader(client: Any, clock: FakeClock, **kw: Any) -> TenantRegistry:
    return TenantRegistry(TABLE, client, clock=clock, **kw)


def test_active_tenant_by_id_and_by_pool(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock)
    by_id = reg.active_tenant("acme")
    by_pool = reg.active_pool(f"{REGION}_AcmePool1")
    assert by_id == by_pool
    assert by_id.client_ids == frozenset({"acme-client-1", "acme-client-2"})
    assert by_id.policy_store_id == "acme-store"
    assert by_id.identity_pool_id == f"{REGION}:acme-identity"


def test_suspended_and_unknown_are_refused(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock)
    with pytest.raises(TenantNotActive, match="is suspended"):
        reg.active_tenant("globex")
    with pytest.raises(TenantNotActive, match="not in the tenant registry"):
        reg.active_tenant("initech")
    with pytest.raises(TenantNotActive, match="not in the tenant registry"):
        reg.active_pool(f"{REGION}_Unknown")
    with pytest.raises(TenantNotActive):
        reg.active_pool("")


def test_cached_within_ttl_one_read_per_key(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, ttl=60)
    for _ in range(50):
        reg.active_tenant("acme")
        clock.advance(1)
    assert reg.reads == 1
    clock.advance(11)  # 61 s after the first read
    reg.active_tenant("acme")
    assert reg.reads == 2


def test_suspension_takes_effect_within_one_ttl(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, ttl=60)
    reg.active_tenant("acme")
    reg.active_pool(f"{REGION}_AcmePool1")
    dynamodb.put_item(TableName=TABLE, Item=item("acme", f"{REGION}_AcmePool1", status="suspended"))
    clock.advance(30)
    reg.active_tenant("acme")  # still cached: allowed inside the TTL (the documented window)
    clock.advance(30)
    with pytest.raises(TenantNotActive, match="suspended"):
        reg.active_tenant("acme")
    with pytest.raises(TenantNotActive, match="suspended"):
        reg.active_pool(f"{REGION}_AcmePool1")


def test_negative_cache_bounds_reads_for_unknown_keys(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, negative_ttl=30)
    for _ in range(20):
        with pytest.raises(TenantNotActive):
            reg.active_pool(f"{REGION}_Unknown")
    assert reg.reads == 1
    dynamodb.put_item(TableName=TABLE, Item=item("initech", f"{REGION}_Unknown"))
    clock.advance(31)
    assert reg.active_pool(f"{REGION}_Unknown").tenant_id == "initech"
    assert reg.reads == 2


class Broken:
    """A DynamoDB client whose every call fails (unreachable registry)."""

    def get_item(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")

    def query(self, **_: Any) -> Any:
        raise ConnectionError("endpoint unreachable")


def test_unreachable_with_nothing_cached_fails_closed(clock: FakeClock) -> None:
    reg = reader(Broken(), clock)
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        reg.active_tenant("acme")
    with pytest.raises(RegistryUnavailable):
        reg.active_pool(f"{REGION}_AcmePool1")


def test_unreachable_serves_a_recent_active_record_then_fails_closed(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, ttl=60, max_stale=120)
    reg.active_tenant("acme")
    with pytest.raises(TenantNotActive):
        reg.active_tenant("globex")
    reg._client = Broken()  # the registry goes away
    clock.advance(90)  # expired, within max_stale
    assert reg.active_tenant("acme").tenant_id == "acme"
    with pytest.raises(TenantNotActive):  # a cached refusal stays a refusal
        reg.active_tenant("globex")
    clock.advance(100)  # past ttl + max_stale
    with pytest.raises(RegistryUnavailable):
        reg.active_tenant("acme")


def test_stale_unknown_pool_stays_refused_when_unreachable(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, negative_ttl=1, max_stale=10)
    with pytest.raises(TenantNotActive):
        reg.active_pool(f"{REGION}_Unknown")
    reg._client = Broken()
    clock.advance(5)
    with pytest.raises(TenantNotActive):
        reg.active_pool(f"{REGION}_Unknown")
    clock.advance(100)
    with pytest.raises(RegistryUnavailable):
        reg.active_pool(f"{REGION}_Unknown")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda i: i.pop("status"), "status is missing"),
        (lambda i: i.__setitem__("status", {"S": "paused"}), "status 'paused'"),
        (lambda i: i.__setitem__("clientIds", {"S": "one"}), "clientIds"),
        (lambda i: i.pop("userPoolId"), "userPoolId"),
    ],
)
def test_malformed_items_are_refused(dynamodb: Any, clock: FakeClock, mutate: Any, message: str) -> None:
    bad = item("acme", f"{REGION}_AcmePool1")
    mutate(bad)
    dynamodb.put_item(TableName=TABLE, Item=bad)
    with pytest.raises(RegistryError, match=message):
        reader(dynamodb, clock).active_tenant("acme")


def test_two_tenants_claiming_one_pool_is_refused(dynamodb: Any, clock: FakeClock) -> None:
    dynamodb.put_item(TableName=TABLE, Item=item("evil", f"{REGION}_AcmePool1"))
    with pytest.raises(RegistryError, match="two tenants claim the same user pool"):
        reader(dynamodb, clock).active_pool(f"{REGION}_AcmePool1")


def test_missing_table_setting_refuses_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    _registry.reset()
    with pytest.raises(RegistryUnavailable, match="SAAS_REGISTRY_TABLE"):
        _registry.registry({})
    _registry.reset()


def test_record_round_trip_and_item_validation() -> None:
    record = TenantRecord.from_item(item("acme", "p1", usage_key="k" * 20))
    assert record.usage_key == "k" * 20
    assert record.active
    with pytest.raises(ComponentArgError, match="status must be one of"):
        item("acme", "p1", status="paused")
    with pytest.raises(ComponentArgError, match="at least one app client"):
        registry_item(
            tenant_id="acme",
            user_pool_id="p",
            client_ids=[],
            identity_pool_id="i",
            policy_store_id=None,
            tier="standard",
            status="active",
        )


def test_read_statement_is_get_and_query_only() -> None:
    statement = registry_read_statement("arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryDev")
    assert statement["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    assert statement["Effect"] == "Allow"
    assert len(statement["Resource"]) == 2  # the table and its user-pool index, nothing wider


def test_component_and_handler_agree_on_names() -> None:
    from saas_platform.components import registry as component

    assert component.REGISTRY_TABLE_ENV == _registry.TABLE_ENV
    assert component.USER_POOL_INDEX == _registry.USER_POOL_INDEX
    assert component.TENANT_STATUSES == _registry.STATUSES


def test_app_clients_round_trip_and_bad_maps_are_refused() -> None:
    record = TenantRecord.from_item(item("acme", "p1", app_clients={"c-prod": "prod", "c-stg": "staging"}))
    assert record.client_environment("c-prod") == "prod"
    assert record.client_environment("c-stg") == "staging"
    assert record.client_environment("other") is None
    assert not record.system
    with pytest.raises(ComponentArgError, match="app client environments"):
        item("acme", "p1", app_clients={"c": "qa"})
    bad = item("acme", "p1")
    bad["appClients"] = {"M": {"c": {"S": "qa"}}}
    with pytest.raises(RegistryError, match="appClients"):
        TenantRecord.from_item(bad)
    bad["appClients"] = {"S": "c"}
    with pytest.raises(RegistryError, match="appClients is not a map"):
        TenantRecord.from_item(bad)
    assert TenantRecord.from_item(item("system", "p2")).system


def test_unknown_key_flood_evicts_least_recently_used_not_the_hot_tenant(dynamodb: Any, clock: FakeClock) -> None:
    reg = reader(dynamodb, clock, max_entries=8)
    reg.active_pool(f"{REGION}_AcmePool1")
    for i in range(50):  # a caller inventing pool ids: one read each, bounded memory
        reg.by_user_pool(f"{REGION}_Invented{i}")
        reg.active_pool(f"{REGION}_AcmePool1")  # the tenant in use stays cached
    assert reg.reads == 1 + 50
    assert len(reg._entries) <= 8
