"""Tenant-scoped AWS sessions for the image handlers (the writer-session pattern, isolation invariants 11d, 47).

The function's own role cannot touch tenant rows or objects. For a tenant it calls ``sts:AssumeRole`` on its
writer role with the session tag ``TenantId=<tenant>`` *and* a session policy naming that tenant literally, so
the effective permissions are the intersection of the role's tag-keyed policy and this document: a wrong tag or
a wrong session policy alone cannot open another tenant. One session per tenant per invocation.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import boto3

from saas_platform.handlers._registry import SYSTEM_TENANT, TenantNotActive, TenantRegistry

TENANT_TAG: Final = "TenantId"
TENANT_KEY_PREFIX: Final = "TENANT#"
IMAGE_KEY_PREFIX: Final = "IMAGE#"


@dataclass(frozen=True)
class SessionScope:
    """What one tenant session may touch (the handler's deploy-time config)."""

    writer_role_arn: str
    table_arn: str
    table_actions: tuple[str, ...]
    kms_key_arn: str
    object_grants: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(bucket ARN, key path under ``<bucket>/<tenant>/``, actions), e.g. ``(raw, "raw/*", ("s3:GetObject",))``."""
    session_name: str


def session_policy(tenant_id: str, scope: SessionScope) -> dict[str, Any]:
    """The session policy passed to ``AssumeRole`` for one tenant (pure)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ImageMetadataThisTenant",
            "Effect": "Allow",
            "Action": list(scope.table_actions),
            "Resource": scope.table_arn,
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{tenant_id}"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        }
    ]
    for i, (bucket_arn, path, actions) in enumerate(scope.object_grants):
        statements.append(
            {
                "Sid": f"ObjectsThisTenant{i}",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": f"{bucket_arn}/{tenant_id}/{path}",
            }
        )
    statements.append(
        {
            "Sid": "BucketKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": scope.kms_key_arn,
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def assume_role_request(tenant_id: str, scope: SessionScope) -> dict[str, Any]:
    """The exact ``sts:AssumeRole`` parameters for a tenant session (pure; checked by tests)."""
    return {
        "RoleArn": scope.writer_role_arn,
        "RoleSessionName": f"{scope.session_name}-{tenant_id}"[:64],
        "DurationSeconds": 900,
        "Tags": [{"Key": TENANT_TAG, "Value": tenant_id}],
        "Policy": json.dumps(session_policy(tenant_id, scope), separators=(",", ":")),
    }


@dataclass
class TenantSession:
    tenant_id: str
    s3: Any
    dynamodb: Any
    credentials: dict[str, Any]


class UnknownTenant(Exception):
    """The tenant is not active in this environment's tenant registry (unknown, suspended or offboarded)."""


class RegistryTenants:
    """ "Is this tenant active?" answered by the tenant registry, as a container: ``tenant in tenants``.

    Reads go through one cached ``TenantRegistry`` reader per table and execution environment (TTL and negative
    caching, LRU). ``system`` is never a tenant here. Raises ``RegistryUnavailable`` (a ``RegistryError``) when the
    registry is not configured or cannot be read with nothing cached: the caller fails closed (the upload answers
    503, the processor retries the message). Nothing about the tenants is deployed with the function."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client

    def reader(self) -> TenantRegistry:
        return _reader(self.table) if self._client is None else TenantRegistry(self.table, self._client)

    def __contains__(self, tenant_id: object) -> bool:
        if not isinstance(tenant_id, str) or not tenant_id or tenant_id == SYSTEM_TENANT:
            return False
        try:
            self.reader().active_tenant(tenant_id)
        except TenantNotActive:
            return False
        return True


@lru_cache(maxsize=2)
def _reader(table: str) -> TenantRegistry:
    return TenantRegistry(table, boto3.client("dynamodb"))


def reset_registry() -> None:
    """Forget the cached registry readers (tests)."""
    _reader.cache_clear()


class TenantSessions:
    """One STS session per tenant for the lifetime of this object (one invocation); never shared across tenants.
    ``known_tenants`` answers ``tenant in known_tenants``: a :class:`RegistryTenants` in the handlers."""

    def __init__(self, scope: SessionScope, known_tenants: Container[str], sts: Any) -> None:
        self._scope, self._known, self._sts = scope, known_tenants, sts
        self._cache: dict[str, TenantSession] = {}
        self.requests: list[dict[str, Any]] = []

    def get(self, tenant_id: str) -> TenantSession:
        if tenant_id not in self._known:
            raise UnknownTenant(tenant_id)
        if tenant_id not in self._cache:
            request = assume_role_request(tenant_id, self._scope)
            creds = self._sts.assume_role(**request)["Credentials"]
            self.requests.append(request)
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            self._cache[tenant_id] = TenantSession(
                tenant_id, session.client("s3"), session.client("dynamodb"), dict(creds)
            )
        return self._cache[tenant_id]


def items(value: str) -> frozenset[str]:
    """``"a, b,,c"`` -> ``{"a", "b", "c"}`` (comma-separated environment variables)."""
    return frozenset(v.strip() for v in value.split(",") if v.strip())
