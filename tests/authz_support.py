"""Shared fixtures for the authorization tests: two tenants with their own signing keys, issuers and clients,
tokens signed like Cognito signs them, API Gateway REQUEST events, and the AVP double over the real assets."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from saas_platform.components.cedar import default_assets
from saas_platform.components.registry import registry_item
from saas_platform.components.testing.avp import StoreDouble, VerifiedPermissionsDouble
from saas_platform.handlers._registry import TenantRegistry
from saas_platform.handlers.authorizer import Authorizer, build_authorizer

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
API_ID = "a1b2c3d4e5"
STAGE = "dev"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    user_pool_id: str
    client_ids: tuple[str, ...]
    policy_store_id: str
    kid: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"

    @property
    def user_pool_arn(self) -> str:
        return f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{self.user_pool_id}"


ACME = Tenant(
    "acme",
    "ap-southeast-1_AbCdEf123",
    ("acmehradminclient0000000001", "acmeessmobileclient0000001"),
    "PSACME0000000000000001",
    "acme-key-1",
)
GLOBEX = Tenant(
    "globex",
    "ap-southeast-1_GhIjKl456",
    ("globexhradminclient0000001", "globexessmobileclient00001"),
    "PSGLOBEX00000000000001",
    "globex-key-1",
)
TENANTS = (ACME, GLOBEX)


@cache
def private_key(kid: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(tenant: Tenant) -> dict[str, Any]:
    public = RSAAlgorithm.to_jwk(private_key(tenant.kid).public_key(), as_dict=True)
    return {"keys": [{**public, "kid": tenant.kid, "alg": "RS256", "use": "sig"}]}


def claims(tenant: Tenant, sub: str, role: str = "user", environment: str = "dev", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": sub,
        "iss": tenant.issuer,
        "aud": tenant.client_ids[0],
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "email": f"{sub}@{tenant.tenant_id}.example.com",
        "email_verified": True,
        "cognito:username": sub,
        "custom:tenantId": tenant.tenant_id,
        "custom:tenantRole": role,
        "custom:environment": environment,
        **extra,
    }


def sign(payload: dict[str, Any], tenant: Tenant, kid: str | None = None, key_of: Tenant | None = None) -> str:
    signer = private_key((key_of or tenant).kid)
    return jwt.encode(payload, signer, algorithm="RS256", headers={"kid": kid or tenant.kid})


def token(tenant: Tenant, sub: str, role: str = "user", **kw: Any) -> str:
    return sign(claims(tenant, sub, role, **kw), tenant)


def event(
    method: str,
    resource: str,
    path: str | None = None,
    auth: str | None = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    path = path or resource
    hdrs: dict[str, Any] = {"Authorization": auth} if auth is not None else {}
    hdrs.update(headers or {})
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "pathParameters": path_parameters or {},
        "requestContext": {"accountId": ACCOUNT, "apiId": API_ID, "stage": STAGE, "httpMethod": method},
    }


def config_json(environment: str = "dev") -> str:
    """``AUTHZ_CONFIG`` as ``TenantApi`` writes it: environment-level settings only."""
    return json.dumps({"environment": environment, "region": REGION})


REGISTRY_TABLE = "TenantRegistryDev"


def tenant_item(tenant: Tenant, status: str = "active", **changes: Any) -> dict[str, Any]:
    """The tenant's registry item, built with the component's own item builder."""
    fields: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "user_pool_id": tenant.user_pool_id,
        "client_ids": list(tenant.client_ids),
        "identity_pool_id": f"{REGION}:{tenant.tenant_id}-identity",
        "policy_store_id": tenant.policy_store_id,
        "tier": "standard",
        "status": status,
        "usage_key": f"usage-key-{tenant.tenant_id}",
    }
    fields.update(changes)
    return registry_item(**fields)


class FakeRegistryTable:
    """An in-memory DynamoDB client for the registry table: ``get_item`` and the ``byUserPool`` ``query`` with
    DynamoDB's request and response shapes (the moto-backed tests in ``tests/test_authorizer.py`` check the same
    behaviour against moto). ``down`` makes every call fail like an unreachable endpoint; ``calls`` counts reads."""

    def __init__(self, tenants: tuple[Tenant, ...] = TENANTS) -> None:
        self.items: dict[str, dict[str, Any]] = {t.tenant_id: tenant_item(t) for t in tenants}
        self.down = False
        self.calls = 0

    def put(self, item: dict[str, Any]) -> None:
        self.items[item["tenantId"]["S"]] = item

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._call(TableName)
        item = self.items.get(Key["tenantId"]["S"])
        return {"Item": item} if item is not None else {}

    def query(self, *, TableName: str, IndexName: str, ExpressionAttributeValues: dict[str, Any], **_: Any) -> Any:
        self._call(TableName)
        assert IndexName == "byUserPool"
        pool = ExpressionAttributeValues[":p"]["S"]
        return {"Items": [i for i in self.items.values() if i["userPoolId"]["S"] == pool]}

    def _call(self, table: str) -> None:
        self.calls += 1
        assert table == REGISTRY_TABLE
        if self.down:
            raise ConnectionError("registry endpoint unreachable")


def fake_registry(table: FakeRegistryTable | None = None, clock: Any = None, **kw: Any) -> TenantRegistry:
    """A registry reader over ``table`` (default: both tenants, active), optionally with a fake clock."""
    options: dict[str, Any] = dict(kw)
    if clock is not None:
        options["clock"] = clock
    return TenantRegistry(REGISTRY_TABLE, table or FakeRegistryTable(), **options)


def avp_double() -> VerifiedPermissionsDouble:
    assets = default_assets()
    stores = {
        t.policy_store_id: StoreDouble(
            tenant_id=t.tenant_id,
            user_pool_id=t.user_pool_id,
            region=REGION,
            client_ids=frozenset(t.client_ids),
            assets=assets,
        )
        for t in TENANTS
    }
    return VerifiedPermissionsDouble(stores, {t.user_pool_id: jwks(t) for t in TENANTS})


class CountingFetcher:
    """Serves each tenant's JWKS without network and counts fetches."""

    def __init__(self) -> None:
        self.fetches: list[str] = []

    def __call__(self, uri: str) -> dict[str, Any]:
        self.fetches.append(uri)
        for t in TENANTS:
            if uri == f"{t.issuer}/.well-known/jwks.json":
                return jwks(t)
        raise LookupError(uri)


@dataclass
class FakeClock:
    """A monotonic clock the test moves by hand (no sleeps)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class OutageFetcher:
    """Serves the tenants' JWKS until ``down`` is set, then fails like an unreachable endpoint; records the clock
    time of every attempt."""

    clock: FakeClock
    down: bool = False
    attempts: list[float] = field(default_factory=list)
    served: CountingFetcher = field(default_factory=CountingFetcher)

    def __call__(self, uri: str) -> dict[str, Any]:
        self.attempts.append(self.clock.now)
        if self.down:
            raise TimeoutError(f"{uri}: timed out")
        return self.served(uri)


EVENTS = Path(__file__).resolve().parent / "events"


def load_event(name: str, id_token: str | None = None) -> dict[str, Any]:
    """A sample event from ``tests/events`` (AWS's documented shapes) with ``${ID_TOKEN}`` replaced."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    return json.loads(text.replace("${ID_TOKEN}", id_token or "missing"))


def make_authorizer(environment: str = "dev") -> tuple[Authorizer, VerifiedPermissionsDouble, CountingFetcher]:
    fetcher = CountingFetcher()
    double = avp_double()
    return (
        build_authorizer(config_json(environment), fetch=fetcher, avp=double, registry=fake_registry()),
        double,
        fetcher,
    )


def effect(response: dict[str, Any]) -> str:
    statements = response["policyDocument"]["Statement"]
    assert len(statements) == 1
    return statements[0]["Effect"]


# ------------------------------------------------------------------------------------- Platform runs
SERVICE_ARNS = {
    s: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:OptimalHR-{s}"
    for s in (
        "employment",
        "pim",
        "meatwork",
        "work-schedule",
        "leave",
        "time-attendance",
        "overtime",
        "payroll",
        "notifications",
        "iam",
        "srm",
    )
}


def run_platform(stack: str, overrides: dict[str, Any] | None = None, preview: bool = False) -> Any:
    """Run the real program (``__main__.py``) with ``Pulumi.<stack>.yaml`` plus ``overrides``; staging reads
    the prod stack's outputs (its user pools) as the offline plan does. ``preview`` simulates a first preview
    (provider-computed ids and ARNs unknown)."""
    from tests.conftest import run_stack

    return run_stack(stack, overrides, preview=preview, reference_config=overrides)
