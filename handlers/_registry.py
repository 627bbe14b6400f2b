"""The handler side of the tenant registry: who a tenant is, which user pool is theirs, and whether they may
work right now. Read by the API authorizer, the Cognito triggers and the MSK consumer.

The registry is a DynamoDB table the platform stack owns (``saas_platform.components.registry``): one item per
tenant, key ``tenantId``, with a ``byUserPool`` index on ``userPoolId``. Only the platform's own functions may read
it; no tenant principal can. The handler knows only the table name (``SAAS_REGISTRY_TABLE``), never a list
of tenants, so neither its environment nor its IAM policy grows with the fleet.

Caching (per execution environment, :class:`TenantRegistry`):

* a found record is kept ``ttl`` seconds (default :data:`DEFAULT_TTL_SECONDS`); a tenant suspended in the
  registry is therefore refused everywhere within one TTL;
* a miss (unknown tenant or pool) is kept ``negative_ttl`` seconds (default :data:`DEFAULT_NEGATIVE_TTL_SECONDS`),
  so a flood of requests for an unknown pool costs one read per key per negative TTL;
* when the registry cannot be read, an expired answer is still served for at most ``max_stale`` seconds
  (default :data:`DEFAULT_MAX_STALE_SECONDS`): a stale refusal stays a refusal, a stale allow is bounded by
  that window; with nothing cached the lookup raises :class:`RegistryUnavailable` and the caller denies
  (fail closed).

A cold lookup costs one ``GetItem`` (by tenant) or one ``Query`` on the index (by user pool) per key per TTL.
The cache holds at most :data:`MAX_CACHED` entries and evicts the least recently used one, so a flood of lookups
for distinct unknown keys (a caller inventing pool ids) costs one read each but cannot flush the entries of the
tenants in use.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

TABLE_ENV: Final = "SAAS_REGISTRY_TABLE"
USER_POOL_INDEX: Final = "byUserPool"
"""The registry's GSI on ``userPoolId`` (``saas_platform.components.registry.USER_POOL_INDEX``)."""
STATUSES: Final = ("active", "suspended", "offboarded")
ENVIRONMENTS: Final = ("dev", "staging", "prod")
SYSTEM_TENANT: Final = "system"
"""The platform owner's tenant: in the registry so the sign-in triggers serve its pool; it has no tenant data,
no policy store and no API access."""
DEFAULT_TTL_SECONDS: Final = 60.0
DEFAULT_NEGATIVE_TTL_SECONDS: Final = 30.0
DEFAULT_MAX_STALE_SECONDS: Final = 300.0
MAX_CACHED: Final = 4096
"""Entries kept per execution environment (enough for every tenant of a 1,000-tenant environment twice over)."""

Status = Literal["active", "suspended", "offboarded"]


class RegistryError(Exception):
    """Base class: the caller must deny (or dead-letter) the request; the message names the rule."""


class RegistryUnavailable(RegistryError):
    """The registry could not be read and nothing usable was cached (fail closed)."""


class TenantNotActive(RegistryError):
    """The tenant (or the user pool's tenant) is unknown, suspended or offboarded."""


@dataclass(frozen=True)
class TenantRecord:
    """One registry item, validated."""

    tenant_id: str
    user_pool_id: str
    client_ids: frozenset[str]
    identity_pool_id: str
    policy_store_id: str
    tier: str
    status: Status
    usage_key: str | None = None
    app_clients: tuple[tuple[str, str], ...] = ()
    """``(client id, environment)`` for every app client of the pool (written by the stack owning the pools)."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def system(self) -> bool:
        """True for the platform owner's tenant (:data:`SYSTEM_TENANT`)."""
        return self.tenant_id == SYSTEM_TENANT

    def client_environment(self, client_id: str) -> str | None:
        """The environment the pool's app client ``client_id`` serves, or None for a client the registry does not
        list (another pool's, or one the stack did not create)."""
        return next((env for client, env in self.app_clients if client == client_id), None)

    @staticmethod
    def from_item(item: Mapping[str, Any]) -> TenantRecord:
        """Parse a low-level DynamoDB item (``{"tenantId": {"S": ...}, "clientIds": {"SS": [...]}}``).

        Raises:
            RegistryError: a required attribute is missing or has the wrong type, or the status is unknown.
        """

        def text(name: str, *, required: bool = True) -> str:
            value = item.get(name)
            if isinstance(value, Mapping) and isinstance(value.get("S"), str) and value["S"]:
                return value["S"]
            if required:
                raise RegistryError(f"registry item is malformed: {name} is missing or not a string")
            return ""

        clients = item.get("clientIds")
        raw_clients = clients.get("SS") if isinstance(clients, Mapping) else None
        if not isinstance(raw_clients, list) or not raw_clients or not all(isinstance(c, str) for c in raw_clients):
            raise RegistryError("registry item is malformed: clientIds is missing or not a string set")
        status = text("status")
        if status not in STATUSES:
            raise RegistryError(f"registry item is malformed: status {status!r} is not one of {STATUSES}")
        app_clients: list[tuple[str, str]] = []
        raw_apps = item.get("appClients")
        if raw_apps is not None:
            entries = raw_apps.get("M") if isinstance(raw_apps, Mapping) else None
            if not isinstance(entries, Mapping):
                raise RegistryError("registry item is malformed: appClients is not a map")
            for client, value in entries.items():
                env = value.get("S") if isinstance(value, Mapping) else None
                if not isinstance(client, str) or not client or env not in ENVIRONMENTS:
                    raise RegistryError("registry item is malformed: appClients maps a client to no known environment")
                app_clients.append((client, str(env)))
        return TenantRecord(
            tenant_id=text("tenantId"),
            user_pool_id=text("userPoolId"),
            client_ids=frozenset(raw_clients),
            identity_pool_id=text("identityPoolId"),
            policy_store_id=text("policyStoreId", required=False),
            tier=text("tier"),
            status=status,  # checked against STATUSES above
            usage_key=text("usageKey", required=False) or None,
            app_clients=tuple(sorted(app_clients)),
        )


@dataclass
class _Entry:
    fetched_at: float
    record: TenantRecord | None


class TenantRegistry:
    """Cached reads of the registry table (one instance per execution environment; thread-safe).

    ``client`` is a boto3 DynamoDB client (tests pass a moto-backed one); ``clock`` a monotonic clock in
    seconds (tests pass a fake one); ``max_entries`` the LRU's size.
    """

    def __init__(
        self,
        table_name: str,
        client: Any,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL_SECONDS,
        max_stale: float = DEFAULT_MAX_STALE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_CACHED,
    ) -> None:
        if not table_name:
            raise RegistryUnavailable(f"{TABLE_ENV} is not set; every request is refused")
        self._table, self._client, self._clock = table_name, client, clock
        self._ttl, self._negative_ttl, self._max_stale = ttl, negative_ttl, max_stale
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0
        """Registry reads issued so far (benchmarks and tests count them)."""

    # -------------------------------------------------------------------------------------------- lookups
    def by_tenant(self, tenant_id: str) -> TenantRecord | None:
        """The tenant's record, or None when the registry has no such tenant."""
        return self._lookup(("tenant", tenant_id), lambda: self._get(tenant_id))

    def by_user_pool(self, user_pool_id: str) -> TenantRecord | None:
        """The record of the tenant that owns ``user_pool_id``, or None for an unknown pool."""
        return self._lookup(("pool", user_pool_id), lambda: self._query_pool(user_pool_id))

    def active_tenant(self, tenant_id: str) -> TenantRecord:
        """The tenant's record if it is active; raises :class:`TenantNotActive` or :class:`RegistryUnavailable`."""
        record = self.by_tenant(tenant_id) if isinstance(tenant_id, str) and tenant_id else None
        return _require_active(record, f"tenant {tenant_id!r}")

    def active_pool(self, user_pool_id: str) -> TenantRecord:
        """The active tenant owning ``user_pool_id``; raises :class:`TenantNotActive` or :class:`RegistryUnavailable`."""
        record = self.by_user_pool(user_pool_id) if isinstance(user_pool_id, str) and user_pool_id else None
        return _require_active(record, "the user pool's tenant")

    def clear(self) -> None:
        """Forget every cached entry (tests)."""
        with self._lock:
            self._entries.clear()

    # ------------------------------------------------------------------------------------------- internals
    def _lookup(self, key: tuple[str, str], read: Callable[[], TenantRecord | None]) -> TenantRecord | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None:
            ttl = self._ttl if entry.record is not None else self._negative_ttl
            if now - entry.fetched_at < ttl:
                return entry.record
        try:
            record = read()
        except RegistryError:
            raise
        except Exception as exc:  # throttling, timeouts, access denied: serve a recent answer or fail closed
            if entry is not None and now - entry.fetched_at < self._ttl + self._max_stale:
                return entry.record  # a stale refusal stays a refusal; a stale allow is bounded by max_stale
            raise RegistryUnavailable(f"tenant registry unreachable ({type(exc).__name__}); refused") from None
        with self._lock:
            self._entries[key] = _Entry(now, record)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)  # least recently used
        return record

    def _get(self, tenant_id: str) -> TenantRecord | None:
        self.reads += 1
        response = self._client.get_item(
            TableName=self._table, Key={"tenantId": {"S": tenant_id}}, ConsistentRead=False
        )
        item = response.get("Item")
        if item is None:
            return None
        record = TenantRecord.from_item(item)
        if record.tenant_id != tenant_id:
            raise RegistryError("registry item is malformed: tenantId does not match its key")
        return record

    def _query_pool(self, user_pool_id: str) -> TenantRecord | None:
        self.reads += 1
        response = self._client.query(
            TableName=self._table,
            IndexName=USER_POOL_INDEX,
            KeyConditionExpression="userPoolId = :p",
            ExpressionAttributeValues={":p": {"S": user_pool_id}},
            Limit=2,
        )
        items = response.get("Items") or []
        if not items:
            return None
        if len(items) > 1:
            raise RegistryError("registry is inconsistent: two tenants claim the same user pool; refused")
        record = TenantRecord.from_item(items[0])
        if record.user_pool_id != user_pool_id:
            raise RegistryError("registry item is malformed: userPoolId does not match the index key")
        return record


def _require_active(record: TenantRecord | None, what: str) -> TenantRecord:
    if record is None:
        raise TenantNotActive(f"{what} is not in the tenant registry")
    if not record.active:
        raise TenantNotActive(f"{what} is {record.status}")
    return record


# ------------------------------------------------------------------------------------- per-container instance
_shared: TenantRegistry | None = None
_shared_lock = threading.Lock()


def registry(environ: Mapping[str, str] | None = None) -> TenantRegistry:
    """The execution environment's registry reader (built on first use from ``SAAS_REGISTRY_TABLE``).

    Raises:
        RegistryUnavailable: the variable is not set (misconfigured function: deny everything).
    """
    global _shared  # noqa: PLW0603 - per-execution-environment cache, the documented Lambda pattern
    with _shared_lock:
        if _shared is None:
            env = os.environ if environ is None else environ
            table = env.get(TABLE_ENV, "").strip()
            if not table:
                raise RegistryUnavailable(f"{TABLE_ENV} is not set; every request is refused")
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "dynamodb",
                config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}),
            )
            _shared = TenantRegistry(table, client)
        return _shared


def reset() -> None:
    """Forget the shared reader (tests)."""
    global _shared  # noqa: PLW0603
    with _shared_lock:
        _shared = None


def use(reader: TenantRegistry) -> None:
    """Make ``reader`` the shared reader (tests inject one with a moto client and a fake clock)."""
    global _shared  # noqa: PLW0603
    with _shared_lock:
        _shared = reader
