"""What both Cognito triggers share: their settings, the app-client -> environment lookup and the
entitlement decision. Pure functions, plus one cached boto3 client that tests can reset.

How a trigger learns the environment of a sign-in: Cognito passes the app client id
(``callerContext.clientId``) but not the client's name. The stack names every client
``<prefix>-<tenant>-<frontend>-<environment>`` (``saas_platform.components.naming.app_client_name``), so the trigger asks
Cognito for the client's name (``DescribeUserPoolClient`` on its own pool, cached per container) and parses
exactly that shape. A client id list in an environment variable is impossible: the function must exist
before the pool (``lambda_config``) and the clients after it, so it would be a dependency cycle.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3

ENVIRONMENTS: Final = ("dev", "staging", "prod")
FRONTENDS: Final = ("hr-admin", "ess-mobile")
TENANT_ID: Final = "custom:tenantId"
TENANT_ROLE: Final = "custom:tenantRole"
ALLOWED_ENVIRONMENTS: Final = "custom:environments"
ENVIRONMENT_CLAIM: Final = "custom:environment"


class SignInDenied(Exception):
    """Raised by a trigger to make Cognito refuse the sign-in or the token. The message reaches the client
    (``PreAuthentication failed with error <message>``), so it names the rule, never data of other users."""


class TriggerMisconfigured(SignInDenied):
    """The function's environment variables are missing or invalid: deny everything (fail closed)."""


@dataclass(frozen=True)
class TriggerSettings:
    """Deploy-time facts about the pool the trigger serves (set by ``TenantIdentity``)."""

    tenant_id: str
    name_prefix: str
    tenant_roles: frozenset[str]
    client_environments: frozenset[str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TriggerSettings:
        env = os.environ if environ is None else environ
        tenant = env.get("SAAS_TENANT_ID", "").strip()
        prefix = env.get("SAAS_NAME_PREFIX", "").strip()
        roles = frozenset(r.strip() for r in env.get("SAAS_TENANT_ROLES", "").split(",") if r.strip())
        envs = frozenset(e.strip() for e in env.get("SAAS_CLIENT_ENVIRONMENTS", "").split(",") if e.strip())
        if not tenant or not prefix or not roles or not envs or not envs <= set(ENVIRONMENTS):
            raise TriggerMisconfigured(
                "trigger is misconfigured (SAAS_TENANT_ID, SAAS_NAME_PREFIX, SAAS_TENANT_ROLES, "
                "SAAS_CLIENT_ENVIRONMENTS); every sign-in is denied"
            )
        return cls(tenant, prefix, roles, envs)


def client_environment(client_name: str, settings: TriggerSettings) -> str:
    """The environment an app client serves, from its name ``<prefix>-<tenant>-<frontend>-<environment>``.

    Raises:
        SignInDenied: the name is not one this pool's stack creates (unknown client).
    """
    for frontend in FRONTENDS:
        for env in settings.client_environments:
            if client_name == f"{settings.name_prefix}-{settings.tenant_id}-{frontend}-{env}":
                return env
    raise SignInDenied("sign-in denied: unknown app client")


def allowed_environments(attributes: Mapping[str, Any]) -> frozenset[str]:
    """The user's ``custom:environments`` (comma-separated), exact known names only."""
    raw = attributes.get(ALLOWED_ENVIRONMENTS)
    if not isinstance(raw, str):
        return frozenset()
    return frozenset(part.strip() for part in raw.split(",") if part.strip() in ENVIRONMENTS)


def check_entitlement(attributes: Mapping[str, Any], environment: str, settings: TriggerSettings) -> dict[str, str]:
    """The decision both triggers make, from server-side user attributes only.

    Returns the tenant claims (``custom:tenantId``, ``custom:tenantRole``, ``custom:environment``) when the
    user belongs to this pool's tenant, has a valid role and may use ``environment``.

    Raises:
        SignInDenied: otherwise (no tenant, another tenant, unknown role, environment not allowed).
    """
    if environment not in ENVIRONMENTS:
        raise SignInDenied("sign-in denied: unknown environment")
    tenant = attributes.get(TENANT_ID)
    if not isinstance(tenant, str) or not tenant:
        raise SignInDenied("sign-in denied: user has no tenant")
    if tenant != settings.tenant_id:
        raise SignInDenied("sign-in denied: user belongs to another tenant")
    role = attributes.get(TENANT_ROLE)
    if not isinstance(role, str) or role not in settings.tenant_roles:
        raise SignInDenied("sign-in denied: user has no valid tenant role")
    if environment not in allowed_environments(attributes):
        raise SignInDenied(f"sign-in denied: user may not use the {environment} environment")
    return {TENANT_ID: tenant, TENANT_ROLE: role, ENVIRONMENT_CLAIM: environment}


# ------------------------------------------------------------------------------------------------ AWS access

_lock = threading.Lock()
_client_names: dict[tuple[str, str], str] = {}


@functools.cache
def cognito() -> Any:
    """The cognito-idp client, created on first use (so moto can be set up first)."""
    return boto3.client("cognito-idp")


def reset() -> None:
    """Forget the cached boto3 client and client names (tests)."""
    cognito.cache_clear()
    with _lock:
        _client_names.clear()


def app_client_name(user_pool_id: str, client_id: str) -> str:
    """The app client's name, cached per container (names never change for a deployed client).

    Raises:
        SignInDenied: the client does not exist in this pool.
    """
    key = (user_pool_id, client_id)
    with _lock:
        cached = _client_names.get(key)
    if cached is not None:
        return cached
    client = cognito()
    try:
        response = client.describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)
    except client.exceptions.ResourceNotFoundException:
        raise SignInDenied("sign-in denied: unknown app client") from None
    name = response["UserPoolClient"]["ClientName"]
    with _lock:
        _client_names[key] = name
    return name


def resolve_environment(user_pool_id: str, client_id: str, settings: TriggerSettings) -> str:
    """Environment of the app client a sign-in or token request came through."""
    if not isinstance(user_pool_id, str) or not isinstance(client_id, str) or not user_pool_id or not client_id:
        raise SignInDenied("sign-in denied: unknown app client")
    return client_environment(app_client_name(user_pool_id, client_id), settings)


def require_shape(event: Any, *, trigger: str) -> dict[str, Any]:
    """The trigger event as a dict with the parts every decision reads, or :class:`SignInDenied` saying which part
    is missing (Cognito then refuses the sign-in; the handler logs the reason first).

    Checks ``userPoolId``, ``callerContext.clientId`` and ``request.userAttributes``; a ``response`` that is absent
    or ``null`` becomes ``{}`` so the handler can fill it in.
    """
    if not isinstance(event, dict):
        raise SignInDenied(f"{trigger} refused: malformed event: not a JSON object")
    if not isinstance(event.get("userPoolId"), str) or not event.get("userPoolId"):
        raise SignInDenied(f"{trigger} refused: malformed event: userPoolId is missing")
    caller = event.get("callerContext")
    if not isinstance(caller, dict) or not isinstance(caller.get("clientId"), str) or not caller.get("clientId"):
        raise SignInDenied(f"{trigger} refused: malformed event: callerContext.clientId is missing")
    request = event.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("userAttributes"), dict):
        raise SignInDenied(f"{trigger} refused: malformed event: request.userAttributes is missing")
    response = event.get("response")
    if response is None:
        event["response"] = {}
    elif not isinstance(response, dict):
        raise SignInDenied(f"{trigger} refused: malformed event: response is not an object")
    return event
