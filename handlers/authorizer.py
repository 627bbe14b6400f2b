"""API Gateway REQUEST authorizer: verify the Cognito JWT, map the route to a Cedar action, ask the tenant's
Amazon Verified Permissions policy store, and return an IAM policy. Fails closed.

Flow (docs/authorization.md; isolation invariants 17 and 31-33):

0. Only the REST API ``REQUEST`` authorizer payload (``type: REQUEST``, no ``version`` or ``version: "1.0"``,
   a well-formed ``methodArn``) is served. A ``TOKEN`` authorizer event, an HTTP API payload format 2.0 event
   (``routeArn``) or anything else is refused with a ``Deny`` policy on the method or route ARN.
1. The bearer token comes from the ``Authorization`` header (``Bearer <jwt>``), looked up case-insensitively in
   ``headers`` and ``multiValueHeaders``; two different values, or two values in ``multiValueHeaders``, are denied.
2. Its ``iss`` must have the shape of a Cognito user pool issuer of this deployment's region
   (``https://cognito-idp.<region>.amazonaws.com/<region>_<id>``); anything else is denied before any lookup.
   The pool id is then looked up in the tenant registry (``SAAS_REGISTRY_TABLE``, index ``byUserPool``, cached
   per execution environment by ``saas_platform.handlers._registry``): ``pool -> (tenantId, clientIds,
   policyStoreId, status, usageKey)``. An unregistered pool (or the system tenant's, which has no API) is denied
   (``issuer-unknown``; remembered 30 s, so repeating it costs no read), a suspended or offboarded tenant is denied
   (``tenant-suspended``, ``tenant-offboarded``), and an unreadable registry with nothing cached denies
   (``registry-unavailable``). The unverified ``iss`` is used for nothing else than choosing which tenant's
   entry and key set to verify against. ``AUTHZ_CONFIG`` holds only environment-level settings.
3. PyJWT verifies the RS256 signature against that issuer's JWKS (:class:`JwksCache`: fresh for an hour, then
   refetched; while refetches fail the last good key set is served for at most ``AUTHZ_JWKS_MAX_STALE_SECONDS``
   (default 6 h) with retries backing off 60 s -> 900 s; an unknown ``kid`` refetches at most once a minute),
   ``iss``, ``exp``/``iat``, ``token_use == "id"`` and ``aud`` among the tenant's client ids for this environment.
4. The verified ``custom:tenantId`` must equal the mapped tenant and ``custom:environment`` this deployment.
5. ``(httpMethod, resource path)`` is mapped to a Cedar action by ``routes.json``; an unknown route is denied.
6. ``IsAuthorizedWithToken`` with the ID token (the policies are attribute-based, so they need the ID token's
   claims as principal attributes), the action, and the resource entity: type from the route, id the request
   path, attributes ``tenantId`` (the *mapped* tenant, never a request value) and ``owner``, parent
   ``OptimalHR::Tenant::"<tenant>"``.
7. ``Allow`` for exactly this method ARN only when the decision is ``ALLOW`` with no evaluation errors;
   ``Deny`` otherwise. Every error (bad token, unknown issuer, AVP throttling or timeout, any exception) is a
   ``Deny`` policy - never an exception API Gateway would turn into a 500.

Every decision writes exactly one structured (Powertools JSON) log line, ``request allowed`` or ``request
denied``, with ``decision``, a ``reason`` code from :data:`REASONS` and a ``detail`` sentence; never the token.

Documentation:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
    https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
    https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_IsAuthorizedWithToken.html
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)

from saas_platform.handlers import _registry
from saas_platform.handlers._registry import RegistryError, RegistryUnavailable, TenantRecord, TenantRegistry

logger = Logger()

CONFIG_ENV: Final = "AUTHZ_CONFIG"
MAX_STALE_ENV: Final = "AUTHZ_JWKS_MAX_STALE_SECONDS"
"""How long (seconds) the last good JWKS may be served after its TTL while refetches fail (``TenantApi`` sets it)."""
DEFAULT_MAX_STALE_SECONDS: Final = 21_600
MAX_STALE_LIMIT_SECONDS: Final = 86_400
"""The longest stale window accepted from the environment (24 h); a larger or malformed value denies everything."""
JWKS_TTL_SECONDS: Final = 3600.0
JWKS_MIN_REFRESH_SECONDS: Final = 60.0
"""An unknown ``kid`` refetches the key set at most this often."""
JWKS_BACKOFF_INITIAL_SECONDS: Final = 60.0
JWKS_BACKOFF_MAX_SECONDS: Final = 900.0
ROUTES_FILE: Final = Path(__file__).resolve().with_name("routes.json")
NAMESPACE_ENV: Final = "SAAS_CEDAR_NAMESPACE"
NAMESPACE_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*")
NAMESPACE: Final = os.environ.get(NAMESPACE_ENV) or "OptimalHR"
"""The Cedar namespace of the entity types sent to AVP (``TenantApi`` sets it from its ``cedar_namespace``).
A malformed value fails the import, so every request is denied rather than sent with wrong types."""
if not NAMESPACE_RE.fullmatch(NAMESPACE):
    raise RuntimeError(f"{NAMESPACE_ENV}={NAMESPACE!r} is not a Cedar namespace; every request is denied")
TOKEN_USE: Final = "id"
ALGORITHMS: Final = ("RS256",)
MAX_TOKEN_CHARS: Final = 8192
MAX_ENTITY_ID_CHARS: Final = 200
"""AVP's limit on an entity id; longer request paths are denied."""
METHOD_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/[A-Za-z0-9_-]+/[A-Z]+/[^\s*]*"
)
ISSUER_RE: Final = re.compile(
    r"https://cognito-idp\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com/(?P<pool>(?P=region)_[A-Za-z0-9]{1,40})"
)
"""A Cognito user pool issuer: the pool id starts with the issuer's region (``UserPoolId`` is at most 55 long)."""
BEARER_RE: Final = re.compile(r"Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.IGNORECASE)
DENIED_PRINCIPAL: Final = "denied"

REASONS: Final = (
    # the payload
    "payload-malformed",
    "payload-unsupported",
    "payload-token",
    "payload-http-api-v2",
    "method-arn-invalid",
    # the Authorization header
    "headers-malformed",
    "authorization-missing",
    "authorization-ambiguous",
    "bearer-malformed",
    "route-unknown",
    # the token
    "token-malformed",
    "token-header-unacceptable",
    "issuer-unknown",
    "jwks-unavailable",
    "jwks-stale",
    "kid-unknown",
    "signature-invalid",
    "token-expired",
    "token-not-yet-valid",
    "audience-mismatch",
    "claim-missing",
    "token-invalid",
    "token-use-not-id",
    "tenant-mismatch",
    "environment-mismatch",
    "sub-missing",
    # the tenant registry
    "tenant-suspended",
    "tenant-offboarded",
    "registry-unavailable",
    "registry-invalid",
    # the request against the route
    "path-invalid",
    "owner-missing",
    "route-owner-unknown",
    # Verified Permissions
    "avp-denied",
    "avp-evaluation-errors",
    "avp-error",
    # the authorizer itself
    "internal-error",
    "not-configured",
)
"""The ``reason`` code of every refusal (the ``request denied`` log line); a public contract for metric filters
and alarms (docs/authorization.md). The ``request allowed`` line carries ``reason: "allowed"``."""
_PAYLOAD_REASONS: Final = frozenset(
    {"payload-malformed", "payload-unsupported", "payload-token", "payload-http-api-v2"}
)
_DEPENDENCY_REASONS: Final = frozenset(
    {"jwks-unavailable", "jwks-stale", "avp-error", "internal-error", "registry-unavailable", "registry-invalid"}
)


class Denied(Exception):
    """The request is denied: ``code`` is one of :data:`REASONS`, ``detail`` says why in words (never the token)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        if code not in REASONS:  # a typo in a code would silently break the metric filters that count it
            raise ValueError(f"unknown deny reason code {code!r}")
        self.code = code
        self.detail = detail


class ConfigError(ValueError):
    """``AUTHZ_CONFIG``, ``AUTHZ_JWKS_MAX_STALE_SECONDS`` or ``routes.json`` is malformed, or ``SAAS_REGISTRY_TABLE``
    is not set (every request is then denied)."""


# --------------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class TenantIssuer:
    """One issuer (a tenant's user pool) as the tenant registry describes it right now."""

    issuer: str
    tenant_id: str
    user_pool_id: str
    client_ids: frozenset[str]
    policy_store_id: str
    usage_key: str | None = None

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"


@dataclass(frozen=True)
class AuthorizerConfig:
    """Deploy-time configuration: environment-level settings only (the tenants are in the registry)."""

    environment: str
    region: str

    @staticmethod
    def from_json(text: str) -> AuthorizerConfig:
        """Parse ``{"environment": "dev", "region": "ap-southeast-1"}``; raises :class:`ConfigError` on anything
        else (an old per-tenant map included: the tenants moved to the registry)."""
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ConfigError(f"{CONFIG_ENV} must be a JSON object")
            unknown = sorted(set(raw) - {"environment", "region"})
            if unknown:
                raise ConfigError(
                    f"{CONFIG_ENV} has unknown keys {unknown}; it holds only environment and region (the tenants "
                    "are read from the tenant registry, SAAS_REGISTRY_TABLE)"
                )
            environment, region = raw["environment"], raw["region"]
            if environment not in ("dev", "staging", "prod"):
                raise ConfigError(f"environment must be dev|staging|prod; got {environment!r}")
            if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                raise ConfigError(f"region must be an AWS region like ap-southeast-1; got {region!r}")
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{CONFIG_ENV} is malformed: {type(exc).__name__}: {exc}") from None
        return AuthorizerConfig(environment=environment, region=region)


class TenantDirectory:
    """``iss`` -> :class:`TenantIssuer` through the tenant registry: shape first, then one cached registry lookup.

    Warm, this is two dictionary lookups (the registry's cache, then the issuer built from that exact record):
    no registry read per request. A cold lookup is one ``Query`` on ``byUserPool`` per pool per registry TTL
    (60 s); an unknown pool is remembered for the negative TTL (30 s), so a flood with one unknown issuer costs
    one read per 30 s. Issuers of well-formed but invented pool ids each cost one read (bounded by the request
    rate API Gateway lets through); the registry's LRU keeps the tenants in use cached meanwhile.
    """

    def __init__(self, config: AuthorizerConfig, registry: TenantRegistry) -> None:
        self._config, self.registry = config, registry
        self._issuers: dict[str, tuple[TenantRecord, TenantIssuer]] = {}
        self._lock = threading.Lock()

    def lookup(self, issuer: object) -> TenantIssuer:
        """The active tenant behind ``issuer``; raises :class:`Denied` otherwise."""
        match = ISSUER_RE.fullmatch(issuer) if isinstance(issuer, str) else None
        if not isinstance(issuer, str) or match is None or match["region"] != self._config.region:
            raise Denied("issuer-unknown", f"token issuer is not a Cognito user pool of {self._config.region}")
        pool = match["pool"]
        try:
            record = self.registry.by_user_pool(pool)
        except RegistryUnavailable as exc:
            raise Denied("registry-unavailable", f"{exc} (nothing cached for this issuer)") from None
        except RegistryError as exc:
            raise Denied("registry-invalid", f"the registry entry of this issuer is unusable: {exc}") from None
        if record is None or record.system:
            raise Denied("issuer-unknown", "token issuer is not a registered tenant user pool")
        if record.status == "suspended":
            raise Denied("tenant-suspended", f"tenant {record.tenant_id} is suspended in the tenant registry")
        if record.status == "offboarded":
            raise Denied("tenant-offboarded", f"tenant {record.tenant_id} is offboarded in the tenant registry")
        with self._lock:
            known = self._issuers.get(issuer)
        if known is not None and known[0] is record:
            return known[1]
        if not record.policy_store_id:
            raise Denied("registry-invalid", f"tenant {record.tenant_id} has no policy store in the tenant registry")
        tenant = TenantIssuer(
            issuer=issuer,
            tenant_id=record.tenant_id,
            user_pool_id=pool,
            client_ids=record.client_ids,
            policy_store_id=record.policy_store_id,
            usage_key=record.usage_key,
        )
        with self._lock:
            self._issuers[issuer] = (record, tenant)
        return tenant


def max_stale_from_env(value: str | None) -> int:
    """``AUTHZ_JWKS_MAX_STALE_SECONDS`` as whole seconds (unset or empty: the 6 h default); raises
    :class:`ConfigError` for anything but an integer in ``0..86400``."""
    if value is None or not value.strip():
        return DEFAULT_MAX_STALE_SECONDS
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= MAX_STALE_LIMIT_SECONDS:
        raise ConfigError(f"{MAX_STALE_ENV}={value!r} must be whole seconds between 0 and {MAX_STALE_LIMIT_SECONDS}")
    return seconds


@dataclass(frozen=True)
class Route:
    """One row of ``routes.json``."""

    method: str
    path: str
    action: str
    resource_type: str
    owner: str | None


class RouteTable:
    """``(httpMethod, resource path) -> Route`` from ``routes.json`` (the same file ``TenantApi`` builds from)."""

    def __init__(self, routes: Mapping[tuple[str, str], Route]) -> None:
        self._routes = dict(routes)

    @staticmethod
    def from_file(path: Path = ROUTES_FILE) -> RouteTable:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            services: Mapping[str, str] = doc["services"]
            routes = {
                (r["method"], r["path"]): Route(
                    method=r["method"],
                    path=r["path"],
                    action=r["action"],
                    resource_type=f"{NAMESPACE}::{services[r['service']]}",
                    owner=r.get("owner"),
                )
                for r in doc["routes"]
            }
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path} is malformed: {type(exc).__name__}: {exc}") from None
        return RouteTable(routes)

    def lookup(self, method: str, path: str) -> Route | None:
        return self._routes.get((method, path))

    def __iter__(self):  # noqa: ANN204 - iterator of Route
        return iter(self._routes.values())


# ---------------------------------------------------------------------------------------------------- JWKS
JwksFetcher = Callable[[str], Mapping[str, Any]]


def fetch_jwks(uri: str, timeout: float = 2.0) -> Mapping[str, Any]:
    """Fetch a JWKS document over HTTPS (the default fetcher; tests inject their own)."""
    import urllib.request  # imported on first fetch only: it is a fifth of the module's import time

    if not uri.startswith("https://"):
        raise ValueError(f"refusing to fetch JWKS over a non-HTTPS URL: {uri}")
    with urllib.request.urlopen(uri, timeout=timeout) as resp:  # noqa: S310 - https only, checked above
        return json.loads(resp.read(1_000_000))


@dataclass
class _KeySet:
    """What the cache knows about one JWKS URI."""

    keys: dict[str, jwt.PyJWK] | None = None
    fetched_at: float = -math.inf
    next_attempt: float = -math.inf
    failures: int = 0
    last_error: str | None = None


class JwksCache:
    """Signing keys per JWKS URI, kept across invocations of a warm Lambda, served stale through an outage.

    * A key set is **fresh** for ``ttl`` seconds (default 1 h) after it was fetched; then the next request
      refetches it.
    * If that refetch fails (network, timeout, HTTP error, a document without usable keys), the last good set is
      still served, **stale**, until ``ttl + max_stale`` seconds after it was fetched (``max_stale`` default 6 h);
      after that every token of the issuer is denied (``jwks-stale``) until a refetch succeeds. A garbage answer
      never replaces good keys.
    * Failed attempts back off: the next attempt waits ``backoff(n)`` = 60, 120, 240, 480, 900, 900, ... seconds
      after the n-th consecutive failure (doubling, capped at ``backoff_max``), whatever the request rate; a
      success resets the count. A cold start whose first fetch fails backs off the same way (``jwks-unavailable``).
    * An unknown ``kid`` triggers a refetch at most once every ``min_refresh`` seconds (60) after any attempt
      (Cognito rotates keys rarely; a flood of tokens with random ``kid``s must not turn into a flood of fetches).

    ``fetch`` and ``clock`` (monotonic seconds) are injectable so tests are deterministic.
    """

    def __init__(
        self,
        fetch: JwksFetcher = fetch_jwks,
        ttl: float = JWKS_TTL_SECONDS,
        min_refresh: float = JWKS_MIN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_stale: float = DEFAULT_MAX_STALE_SECONDS,
        backoff_initial: float = JWKS_BACKOFF_INITIAL_SECONDS,
        backoff_max: float = JWKS_BACKOFF_MAX_SECONDS,
    ) -> None:
        self._fetch, self._clock = fetch, clock
        self.ttl, self.min_refresh, self.max_stale = ttl, min_refresh, max_stale
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self._sets: dict[str, _KeySet] = {}
        self._lock = threading.Lock()

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failed fetch (``failures >= 1``)."""
        return min(self.backoff_initial * 2 ** max(failures - 1, 0), self.backoff_max)

    def _refresh(self, uri: str, state: _KeySet, now: float) -> None:
        try:
            jwk_set = jwt.PyJWKSet.from_dict(dict(self._fetch(uri)))
            keys = {k.key_id: k for k in jwk_set.keys if k.key_id and k.public_key_use in (None, "sig")}
            if not keys:
                raise ValueError("the JWKS has no signing key with a kid")
        except Exception as exc:  # any failure is a failed attempt: keep the last good keys, back off
            state.failures += 1
            state.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            state.next_attempt = now + self.backoff(state.failures)
            return
        state.keys, state.fetched_at, state.failures, state.last_error = keys, now, 0, None
        state.next_attempt = now + self.min_refresh

    def key(self, uri: str, kid: str) -> jwt.PyJWK:
        """The signing key ``kid`` of the issuer at ``uri``; raises :class:`Denied` (``jwks-unavailable``,
        ``jwks-stale`` or ``kid-unknown``)."""
        with self._lock:
            now = self._clock()
            state = self._sets.setdefault(uri, _KeySet())
            expired = state.keys is None or now >= state.fetched_at + self.ttl
            if (expired or kid not in (state.keys or {})) and now >= state.next_attempt:
                self._refresh(uri, state, now)
            if state.keys is None:
                raise Denied(
                    "jwks-unavailable",
                    f"the issuer's JWKS could not be fetched ({state.last_error}); "
                    f"next attempt in {max(state.next_attempt - now, 0):.0f} s",
                )
            age = now - state.fetched_at
            if age >= self.ttl + self.max_stale:
                raise Denied(
                    "jwks-stale",
                    f"the last good JWKS is {age:.0f} s old, past its {self.ttl:.0f} s TTL and the "
                    f"{self.max_stale:.0f} s stale window; refetch failing ({state.last_error})",
                )
            if kid not in state.keys:
                raise Denied("kid-unknown", "token signed with a key that is not in the issuer's JWKS")
            return state.keys[kid]

    def stale_for(self, uri: str) -> float | None:
        """Seconds the key set of ``uri`` has been served past its TTL (``None``: fresh, or never fetched)."""
        with self._lock:
            state = self._sets.get(uri)
            if state is None or state.keys is None:
                return None
            past = self._clock() - state.fetched_at - self.ttl
            return past if past >= 0 else None


# ---------------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were verified, with the issuer it belongs to."""

    tenant: TenantIssuer
    claims: Mapping[str, Any]


_JWT_REASONS: Final[tuple[tuple[type[jwt.PyJWTError], str], ...]] = (
    (jwt.ExpiredSignatureError, "token-expired"),
    (jwt.ImmatureSignatureError, "token-not-yet-valid"),
    (jwt.InvalidAudienceError, "audience-mismatch"),
    (jwt.InvalidSignatureError, "signature-invalid"),
    (jwt.MissingRequiredClaimError, "claim-missing"),
)


class TokenVerifier:
    """Verifies an ID token of a registered tenant's pool (signature, iss, exp, token_use, aud, claims).

    A warm container sees the same token many times (one per API call until it expires), so verified tokens are
    remembered by their exact text in a small LRU (``cache_size``) until their ``exp``; a hit re-checks the
    expiry and the tenant's registry entry (cached, so no read): a tenant suspended since is denied within one
    registry TTL, and a changed entry (clients, policy store) verifies the token again. A token that failed
    verification is never cached.
    """

    def __init__(
        self,
        config: AuthorizerConfig,
        jwks: JwksCache,
        tenants: TenantDirectory,
        *,
        leeway: float = 0.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config, self.jwks, self.tenants, self._leeway, self._clock = config, jwks, tenants, leeway, clock
        self._cache: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, token: str) -> VerifiedToken:
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                if float(hit.claims["exp"]) + self._leeway > self._clock():
                    self._cache.move_to_end(token)
                else:
                    del self._cache[token]
                    hit = None
        if hit is not None:
            if self.tenants.lookup(hit.tenant.issuer) == hit.tenant:  # suspended since: raises Denied
                return hit
            with self._lock:
                self._cache.pop(token, None)  # the registry entry changed: verify against the new one
        verified = self._verify(token)
        with self._lock:
            self._cache[token] = verified
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return verified

    def _verify(self, token: str) -> VerifiedToken:
        try:
            # Unverified header and claims are used only to pick the issuer (and so the key set) to verify against.
            unverified = jwt.api_jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Denied("token-malformed", f"malformed token: {type(exc).__name__}") from None
        header, unverified_iss = unverified["header"], unverified["payload"].get("iss")
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Denied(
                "token-header-unacceptable", f"token header alg/kid not acceptable (alg={header.get('alg')!r})"
            )
        tenant = self.tenants.lookup(unverified_iss)
        key = self.jwks.key(tenant.jwks_uri, header["kid"])
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=list(ALGORITHMS),
                audience=sorted(tenant.client_ids),
                issuer=tenant.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
            )
        except jwt.PyJWTError as exc:
            code = next((c for kind, c in _JWT_REASONS if isinstance(exc, kind)), "token-invalid")
            raise Denied(code, f"token rejected for tenant {tenant.tenant_id}: {type(exc).__name__}: {exc}") from None
        if claims.get("token_use") != TOKEN_USE:
            raise Denied(
                "token-use-not-id",
                f"token_use must be {TOKEN_USE!r} (send the ID token); got {claims.get('token_use')!r}",
            )
        if claims.get("custom:tenantId") != tenant.tenant_id:
            raise Denied("tenant-mismatch", f"custom:tenantId does not match the issuer's tenant {tenant.tenant_id}")
        if claims.get("custom:environment") != self._config.environment:
            raise Denied(
                "environment-mismatch", f"custom:environment is not this deployment's ({self._config.environment})"
            )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Denied("sub-missing", "token has no sub")
        return VerifiedToken(tenant=tenant, claims=claims)


def avp_request(
    route: Route,
    verified: VerifiedToken,
    *,
    token: str,
    path: str,
    path_parameters: Mapping[str, str],
    environment: str,
) -> dict[str, Any]:
    """The ``IsAuthorizedWithToken`` parameters for this request (pure; unit-tested)."""
    tenant_id = verified.tenant.tenant_id
    if not path or len(path) > MAX_ENTITY_ID_CHARS:
        raise Denied("path-invalid", f"request path is empty or longer than {MAX_ENTITY_ID_CHARS} characters")
    attributes: dict[str, Any] = {"tenantId": {"string": tenant_id}}
    if route.owner == "self":
        attributes["owner"] = {"string": verified.claims["sub"]}
    elif route.owner is not None and route.owner.startswith("path:"):
        owner = path_parameters.get(route.owner.removeprefix("path:"))
        if not isinstance(owner, str) or not owner:
            raise Denied("owner-missing", f"route {route.method} {route.path} needs path parameter {route.owner}")
        attributes["owner"] = {"string": owner}
    elif route.owner is not None:
        raise Denied(
            "route-owner-unknown", f"route {route.method} {route.path} has an unknown owner source {route.owner!r}"
        )
    resource = {"entityType": route.resource_type, "entityId": path}
    tenant_entity = {"entityType": f"{NAMESPACE}::Tenant", "entityId": tenant_id}
    return {
        "policyStoreId": verified.tenant.policy_store_id,
        "identityToken": token,
        "action": {"actionType": f"{NAMESPACE}::Action", "actionId": route.action},
        "resource": resource,
        "context": {"contextMap": {"environment": {"string": environment}}},
        "entities": {
            "entityList": [
                {"identifier": resource, "attributes": attributes, "parents": [tenant_entity]},
                {"identifier": tenant_entity},
            ]
        },
    }


def policy(
    principal_id: str,
    effect: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    usage_key: str | None = None,
) -> dict[str, Any]:
    """The authorizer's response: one statement, ``execute-api:Invoke`` on ``resource``.

    This IAM-policy shape is what a REST API authorizer (``TOKEN`` or ``REQUEST``) must return, and what an HTTP
    API authorizer with payload format 2.0 accepts when simple responses are off (the default).
    """
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        response["context"] = dict(context)
    if usage_key:
        response["usageIdentifierKey"] = usage_key
    return response


def deny_resource(raw_event: object) -> str:
    """The ARN a deny names: the event's ``methodArn`` (REST) or ``routeArn`` (HTTP API v2) when it is a
    well-formed execute-api ARN, otherwise ``*``."""
    arn: object = None
    if isinstance(raw_event, Mapping):
        arn = raw_event.get("methodArn", raw_event.get("routeArn"))
    return arn if isinstance(arn, str) and METHOD_ARN_RE.fullmatch(arn) else "*"


def deny(raw_event: object) -> dict[str, Any]:
    """Deny this method or route (or everything, when its ARN is not trustworthy)."""
    return policy(DENIED_PRINCIPAL, "Deny", deny_resource(raw_event))


def _log_denied(code: str, detail: str, resource: str) -> None:
    """The one ``request denied`` line of a refusal: WARNING for payloads this authorizer does not serve and for
    failing dependencies, ERROR when it is not configured, INFO for everything a caller can cause."""
    if code == "not-configured":
        log = logger.error
    elif code in _PAYLOAD_REASONS or code in _DEPENDENCY_REASONS:
        log = logger.warning
    else:
        log = logger.info
    log("request denied", extra={"decision": "deny", "reason": code, "detail": detail, "resource": resource})


def _require_rest_request(raw_event: object) -> None:
    """Refuse, by ``type`` and ``version`` alone, every payload other than the REST API ``REQUEST`` event: none
    of a refused payload's fields is read (so none of Powertools' other authorizer event classes is needed)."""
    if not isinstance(raw_event, Mapping) or not isinstance(raw_event.get("type"), str):
        raise Denied("payload-malformed", "the event is not an API Gateway authorizer payload (no string 'type')")
    kind, version = raw_event["type"], raw_event.get("version")
    if kind == "TOKEN":
        raise Denied(
            "payload-token",
            "a TOKEN authorizer event; this authorizer serves REQUEST authorizers only "
            "(identity source method.request.header.Authorization)",
        )
    if version == "2.0" or (kind == "REQUEST" and "routeArn" in raw_event and "methodArn" not in raw_event):
        raise Denied(
            "payload-http-api-v2",
            "an HTTP API payload format 2.0 event; this authorizer serves REST API REQUEST authorizers only",
        )
    if kind != "REQUEST" or version not in (None, "1.0"):
        raise Denied("payload-unsupported", f"authorizer payload type {kind!r} version {version!r} is not served")


def _client_error_code(exc: BaseException) -> str:
    """botocore's error code (``ThrottlingException``, ``AccessDeniedException``, ...) or the exception type."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    code = error.get("Code") if isinstance(error, Mapping) else None
    return str(code) if code else type(exc).__name__


@dataclass
class Authorizer:
    """The decision core, with its collaborators injected (tests pass a JWKS fetcher and an AVP double)."""

    config: AuthorizerConfig
    routes: RouteTable
    verifier: TokenVerifier
    avp: Any
    """A ``verifiedpermissions`` client (or anything with ``is_authorized_with_token(**params)``)."""

    def decide(self, raw_event: Any) -> dict[str, Any]:
        """The authorizer response for ``raw_event``; never raises, and logs exactly one line."""
        try:
            return self._decide(raw_event)
        except Denied as exc:
            _log_denied(exc.code, exc.detail, deny_resource(raw_event))
        except Exception as exc:  # fail closed on anything unexpected (isolation invariant 31)
            _log_denied("internal-error", f"unexpected {type(exc).__name__}", deny_resource(raw_event))
        return deny(raw_event)

    def _decide(self, raw_event: Any) -> dict[str, Any]:
        _require_rest_request(raw_event)
        event = APIGatewayAuthorizerRequestEvent(dict(raw_event))
        method_arn = event.get("methodArn")
        if not isinstance(method_arn, str) or not METHOD_ARN_RE.fullmatch(method_arn):
            raise Denied("method-arn-invalid", "methodArn missing or malformed")
        token = _bearer_token(event)
        try:
            method, resource, path = event.http_method, event.resource, event.path
        except KeyError as exc:
            raise Denied("payload-malformed", f"the REQUEST event has no {exc.args[0]!r}") from None
        route = self.routes.lookup(str(method), str(resource))
        if route is None:
            raise Denied("route-unknown", f"{method!r} {resource!r} is not in the route table")
        verified = self.verifier.verify(token)
        params = avp_request(
            route,
            verified,
            token=token,
            path=path if isinstance(path, str) else "",
            path_parameters=event.get("pathParameters") or {},
            environment=self.config.environment,
        )
        try:
            answer = self.avp.is_authorized_with_token(**params)
        except Exception as exc:  # throttling, timeouts, access denied: all a Deny, never a 5xx
            raise Denied("avp-error", f"IsAuthorizedWithToken failed: {_client_error_code(exc)}") from None
        tenant_id = verified.tenant.tenant_id
        if answer.get("decision") != "ALLOW":
            raise Denied(
                "avp-denied", f"AVP decision {answer.get('decision')!r} for {route.action} (tenant {tenant_id})"
            )
        if answer.get("errors"):
            raise Denied(
                "avp-evaluation-errors",
                f"AVP allowed {route.action} (tenant {tenant_id}) with {len(answer['errors'])} evaluation errors",
            )
        extra: dict[str, Any] = {
            "decision": "allow",
            "reason": "allowed",
            "resource": method_arn,
            "action": route.action,
            "tenant": tenant_id,
        }
        stale = self.verifier.jwks.stale_for(verified.tenant.jwks_uri)
        if stale is not None:  # allowed on a key set past its TTL: the JWKS endpoint is failing
            extra["jwks_stale_seconds"] = round(stale)
        logger.info("request allowed", extra=extra)
        return policy(
            principal_id=f"{verified.tenant.user_pool_id}|{verified.claims['sub']}",
            effect="Allow",
            resource=method_arn,
            context={"tenantId": tenant_id, "action": route.action},
            usage_key=verified.tenant.usage_key,
        )


def _bearer_token(event: APIGatewayAuthorizerRequestEvent) -> str:
    """The JWT of the one ``Authorization: Bearer <jwt>`` header.

    API Gateway puts every header in ``headers`` (the last value) and in ``multiValueHeaders`` (all values), with
    the name as the client spelled it, so the lookup is case-insensitive over both maps. More than one key, more
    than one value in ``multiValueHeaders``, or maps that disagree are ambiguous and denied.
    """
    raw = event.raw_event
    headers, multi = raw.get("headers") or {}, raw.get("multiValueHeaders") or {}
    if not isinstance(headers, Mapping) or not isinstance(multi, Mapping):
        raise Denied("headers-malformed", "headers / multiValueHeaders are not maps")
    single = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization"]
    multi_keys = [vs for k, vs in multi.items() if isinstance(k, str) and k.lower() == "authorization"]
    listed = [v for vs in multi_keys for v in (vs if isinstance(vs, list) else [vs])]
    distinct = {repr(v) for v in single + listed}  # repr: a crafted event may hold anything, lists included
    if len(single) > 1 or len(multi_keys) > 1 or len(listed) > 1 or len(distinct) > 1:
        raise Denied("authorization-ambiguous", "more than one Authorization header")
    values = single or listed
    if not values:
        raise Denied("authorization-missing", "no Authorization header")
    value = values[0]
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS:
        raise Denied(
            "bearer-malformed", f"Authorization header is not a string of at most {MAX_TOKEN_CHARS} characters"
        )
    match = BEARER_RE.fullmatch(value.strip())
    if match is None:
        raise Denied("bearer-malformed", "Authorization header is not 'Bearer <jwt>'")
    return match.group(1)


# -------------------------------------------------------------------------------------------- Lambda entry
_AUTHORIZER: Authorizer | None = None


def _avp_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "verifiedpermissions",
        config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}),
    )


def build_authorizer(
    config_json: str | None = None,
    fetch: JwksFetcher = fetch_jwks,
    avp: Any = None,
    routes: RouteTable | None = None,
    jwks: JwksCache | None = None,
    *,
    registry: TenantRegistry | None = None,
) -> Authorizer:
    """Build the decision core from ``AUTHZ_CONFIG`` (or ``config_json``), ``AUTHZ_JWKS_MAX_STALE_SECONDS`` (unless
    ``jwks`` is given) and the tenant registry of ``SAAS_REGISTRY_TABLE`` (unless ``registry`` is given: tests
    pass a reader over moto or a fake client, with a fake clock); raises :class:`ConfigError`."""
    text = config_json if config_json is not None else os.environ.get(CONFIG_ENV, "")
    config = AuthorizerConfig.from_json(text)
    if jwks is None:
        jwks = JwksCache(fetch, max_stale=max_stale_from_env(os.environ.get(MAX_STALE_ENV)))
    if registry is None:
        try:
            registry = _registry.registry()
        except RegistryUnavailable as exc:
            raise ConfigError(str(exc)) from None
    return Authorizer(
        config=config,
        routes=routes or RouteTable.from_file(),
        verifier=TokenVerifier(config, jwks, TenantDirectory(config, registry)),
        avp=avp if avp is not None else _avp_client(),
    )


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the core is built once per execution environment and reused while warm."""
    global _AUTHORIZER  # noqa: PLW0603 - per-execution-environment cache, the documented Lambda pattern
    try:
        if _AUTHORIZER is None:
            _AUTHORIZER = build_authorizer()
    except Exception as exc:  # a broken configuration denies every request instead of failing with a 500
        _log_denied("not-configured", f"authorizer not configured: {type(exc).__name__}: {exc}", deny_resource(event))
        return deny(event)
    return _AUTHORIZER.decide(event)
