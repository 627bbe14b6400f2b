"""What both Cognito triggers share: their settings, the user pool -> tenant lookup, the app-client ->
environment lookup and the entitlement decision. Pure functions, plus the registry reader that tests can replace.

One pre-authentication and one pre-token-generation function serve every user pool of the stack that owns the
pools (``saas_platform.components.triggers.CognitoTriggers``; beyond one function's resource-policy capacity,
one pair per shard of pools). A trigger therefore knows no tenant from its configuration. It learns it from the
event: Cognito sets ``userPoolId`` to the pool that invokes it (and only pools with their own invoke permission
can), and the tenant registry (``saas_platform.handlers._registry``, index ``byUserPool``) says whose pool that
is and whether the tenant may work now. Unknown pools and suspended or offboarded tenants are refused; so is
every sign-in while the registry cannot be read and nothing is cached (fail closed).

How a trigger learns the environment of a sign-in: Cognito passes the app client id (``callerContext.clientId``),
not the environment. The owning stack writes every client of the pool with its environment into the tenant's
registry item (``appClients``), so the trigger reads it from the record it already fetched for the tenant - no
Cognito call. A client the registry does not list for this pool is an unknown client and is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from saas_platform.handlers import _registry
from saas_platform.handlers._registry import (
    RegistryError,
    RegistryUnavailable,
    TenantNotActive,
    TenantRecord,
)

ENVIRONMENTS: Final = ("dev", "staging", "prod")
FRONTENDS: Final = ("hr-admin", "ess-mobile")
TENANT_ID: Final = "custom:tenantId"
TENANT_ROLE: Final = "custom:tenantRole"
ALLOWED_ENVIRONMENTS: Final = "custom:environments"
ENVIRONMENT_CLAIM: Final = "custom:environment"
TENANT_ROLES_ENV: Final = "SAAS_TENANT_ROLES"
SYSTEM_ROLES_ENV: Final = "SAAS_SYSTEM_ROLES"
CLIENT_ENVIRONMENTS_ENV: Final = "SAAS_CLIENT_ENVIRONMENTS"


class SignInDenied(Exception):
    """Raised by a trigger to make Cognito refuse the sign-in or the token. The message reaches the client
    (``PreAuthentication failed with error <message>``), so it names the rule, never data of other users."""


class TriggerMisconfigured(SignInDenied):
    """The function's environment variables are missing or invalid: deny everything (fail closed)."""


@dataclass(frozen=True)
class TriggerSettings:
    """Deploy-time facts of the stack the triggers serve (set by ``CognitoTriggers``): the roles of customer
    tenants and of the system tenant, and the environments this stack created app clients for."""

    tenant_roles: frozenset[str]
    system_roles: frozenset[str]
    client_environments: frozenset[str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TriggerSettings:
        env = os.environ if environ is None else environ

        def values(key: str) -> frozenset[str]:
            return frozenset(v.strip() for v in env.get(key, "").split(",") if v.strip())

        roles, system, envs = values(TENANT_ROLES_ENV), values(SYSTEM_ROLES_ENV), values(CLIENT_ENVIRONMENTS_ENV)
        if not roles or not system or not envs or not envs <= set(ENVIRONMENTS):
            raise TriggerMisconfigured(
                f"trigger is misconfigured ({TENANT_ROLES_ENV}, {SYSTEM_ROLES_ENV}, {CLIENT_ENVIRONMENTS_ENV}); "
                "every sign-in is denied"
            )
        return cls(roles, system, envs)

    def roles_for(self, tenant_id: str) -> frozenset[str]:
        """The ``custom:tenantRole`` values of ``tenant_id`` (the system tenant has its own)."""
        return self.system_roles if tenant_id == _registry.SYSTEM_TENANT else self.tenant_roles


def allowed_environments(attributes: Mapping[str, Any]) -> frozenset[str]:
    """The user's ``custom:environments`` (comma-separated), exact known names only."""
    raw = attributes.get(ALLOWED_ENVIRONMENTS)
    if not isinstance(raw, str):
        return frozenset()
    return frozenset(part.strip() for part in raw.split(",") if part.strip() in ENVIRONMENTS)


def check_entitlement(
    attributes: Mapping[str, Any], environment: str, tenant_id: str, settings: TriggerSettings
) -> dict[str, str]:
    """The decision both triggers make, from server-side user attributes only.

    ``tenant_id`` is the tenant that owns the invoking pool, from the registry. Returns the tenant claims
    (``custom:tenantId``, ``custom:tenantRole``, ``custom:environment``) when the user belongs to that tenant,
    has one of its roles and may use ``environment``.

    Raises:
        SignInDenied: otherwise (no tenant, another tenant, unknown role, environment not allowed).
    """
    if environment not in ENVIRONMENTS:
        raise SignInDenied("sign-in denied: unknown environment")
    tenant = attributes.get(TENANT_ID)
    if not isinstance(tenant, str) or not tenant:
        raise SignInDenied("sign-in denied: user has no tenant")
    if tenant != tenant_id:
        raise SignInDenied("sign-in denied: user belongs to another tenant")
    role = attributes.get(TENANT_ROLE)
    if not isinstance(role, str) or role not in settings.roles_for(tenant_id):
        raise SignInDenied("sign-in denied: user has no valid tenant role")
    if environment not in allowed_environments(attributes):
        raise SignInDenied(f"sign-in denied: user may not use the {environment} environment")
    return {TENANT_ID: tenant, TENANT_ROLE: role, ENVIRONMENT_CLAIM: environment}


# ---------------------------------------------------------------------------------------------- the registry


def reset() -> None:
    """Forget the cached registry reader (tests)."""
    _registry.reset()


def resolve_tenant(user_pool_id: str) -> TenantRecord:
    """The active tenant that owns ``user_pool_id``, from the registry (cached per container).

    Raises:
        TriggerMisconfigured: the function has no registry table (``SAAS_REGISTRY_TABLE``).
        SignInDenied: unknown pool, suspended or offboarded tenant, a malformed registry item, or a registry
            that cannot be read with nothing cached.
    """
    try:
        reader = _registry.registry()
    except RegistryUnavailable:
        raise TriggerMisconfigured(
            f"trigger is misconfigured ({_registry.TABLE_ENV}); every sign-in is denied"
        ) from None
    try:
        return reader.active_pool(user_pool_id)
    except TenantNotActive as exc:  # "the user pool's tenant is not in the tenant registry" / "... is suspended"
        raise SignInDenied(f"sign-in denied: {exc}") from None
    except RegistryUnavailable:
        raise SignInDenied("sign-in denied: the tenant registry is unavailable") from None
    except RegistryError:
        raise SignInDenied("sign-in denied: the tenant registry entry of this user pool is invalid") from None


def resolve_environment(record: TenantRecord, client_id: str, settings: TriggerSettings) -> str:
    """Environment of the app client a sign-in or token request came through (``appClients`` of the record).

    Raises:
        SignInDenied: the registry lists no such client for this pool, or it serves an environment this stack
            created no clients for.
    """
    environment = record.client_environment(client_id) if isinstance(client_id, str) and client_id else None
    if environment is None or environment not in settings.client_environments:
        raise SignInDenied("sign-in denied: unknown app client")
    return environment


@dataclass(frozen=True)
class SignInDecision:
    """What a trigger allowed: the tenant, the environment and the claims for the tokens."""

    tenant_id: str
    environment: str
    claims: dict[str, str]


def decide_sign_in(
    user_pool_id: str, client_id: str, attributes: Mapping[str, Any], settings: TriggerSettings
) -> SignInDecision:
    """Both triggers' decision: the pool's tenant (registry), the client's environment, the user's entitlement.

    The registry is read first, so an unknown pool is refused before anything else is looked at.
    """
    record = resolve_tenant(user_pool_id)
    environment = resolve_environment(record, client_id, settings)
    claims = check_entitlement(attributes, environment, record.tenant_id, settings)
    return SignInDecision(record.tenant_id, environment, claims)


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
