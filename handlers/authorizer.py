"""API Gateway REQUEST authorizer: verify the Cognito JWT, map the route to a Cedar action, ask the tenant's
Amazon Verified Permissions policy store, and return an IAM policy. Fails closed.

Flow (docs/authorization.md; isolation invariants 17 and 31-33):

1. The bearer token comes from the ``Authorization`` header (``Bearer <jwt>``).
2. Its ``iss`` is looked up in the deploy-time configuration (``AUTHZ_CONFIG``, written by ``TenantApi``):
   ``iss -> (tenantId, userPoolId, clientIds, policyStoreId)``. The unverified ``iss`` is used for nothing else
   than choosing which issuer's key set to verify against; an unknown issuer is denied.
3. PyJWT verifies the RS256 signature against that issuer's JWKS (fetched once and cached across invocations;
   refetched at most once a minute for an unknown ``kid``), ``iss``, ``exp``/``iat``, ``token_use == "id"`` and
   ``aud`` among the tenant's client ids for this environment.
4. The verified ``custom:tenantId`` must equal the mapped tenant and ``custom:environment`` this deployment.
5. ``(httpMethod, resource path)`` is mapped to a Cedar action by ``routes.json``; an unknown route is denied.
6. ``IsAuthorizedWithToken`` with the ID token (the policies are attribute-based, so they need the ID token's
   claims as principal attributes), the action, and the resource entity: type from the route, id the request
   path, attributes ``tenantId`` (the *mapped* tenant, never a request value) and ``owner``, parent
   ``OptimalHR::Tenant::"<tenant>"``.
7. ``Allow`` for exactly this method ARN only when the decision is ``ALLOW`` with no evaluation errors;
   ``Deny`` otherwise. Every error (bad token, unknown issuer, AVP throttling or timeout, any exception) is a
   ``Deny`` policy - never an exception API Gateway would turn into a 500 - and is logged without the token.

Documentation:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
    https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
    https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_IsAuthorizedWithToken.html
"""

from __future__ import annotations

import json
import logging
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
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)

logger = logging.getLogger("authorizer")
logger.setLevel(logging.INFO)

CONFIG_ENV: Final = "AUTHZ_CONFIG"
ROUTES_FILE: Final = Path(__file__).resolve().with_name("routes.json")
NAMESPACE: Final = "OptimalHR"
TOKEN_USE: Final = "id"
ALGORITHMS: Final = ("RS256",)
MAX_TOKEN_CHARS: Final = 8192
MAX_ENTITY_ID_CHARS: Final = 200
"""AVP's limit on an entity id; longer request paths are denied."""
METHOD_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[a-z0-9]+/[A-Za-z0-9_-]+/[A-Z]+/[^\s*]*"
)
ISSUER_RE: Final = re.compile(r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+_[A-Za-z0-9]+")
BEARER_RE: Final = re.compile(r"Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.IGNORECASE)
DENIED_PRINCIPAL: Final = "denied"


class Denied(Exception):
    """The request is denied; ``reason`` is logged (it never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(ValueError):
    """``AUTHZ_CONFIG`` or ``routes.json`` is malformed (every request is then denied)."""


# --------------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class TenantIssuer:
    """What the stack wrote for one issuer (one tenant's user pool)."""

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
    """Deploy-time configuration: this deployment's environment and ``iss -> tenant`` map."""

    environment: str
    issuers: Mapping[str, TenantIssuer]

    @staticmethod
    def from_json(text: str) -> AuthorizerConfig:
        """Parse ``{"environment": "dev", "tenants": [{"issuer", "tenantId", "userPoolId", "clientIds",
        "policyStoreId", "usageKey"?}]}``; raises :class:`ConfigError` on anything else."""
        try:
            raw = json.loads(text)
            environment = raw["environment"]
            tenants = raw["tenants"]
            if environment not in ("dev", "staging", "prod") or not isinstance(tenants, list):
                raise ConfigError(f"environment must be dev|staging|prod and tenants a list; got {environment!r}")
            issuers: dict[str, TenantIssuer] = {}
            for t in tenants:
                entry = TenantIssuer(
                    issuer=str(t["issuer"]),
                    tenant_id=str(t["tenantId"]),
                    user_pool_id=str(t["userPoolId"]),
                    client_ids=frozenset(str(c) for c in t["clientIds"]),
                    policy_store_id=str(t["policyStoreId"]),
                    usage_key=str(t["usageKey"]) if t.get("usageKey") else None,
                )
                if not ISSUER_RE.fullmatch(entry.issuer) or not entry.issuer.endswith("/" + entry.user_pool_id):
                    raise ConfigError(f"tenant {entry.tenant_id!r}: issuer {entry.issuer!r} is not its pool's issuer")
                if not entry.client_ids or entry.issuer in issuers:
                    raise ConfigError(f"tenant {entry.tenant_id!r}: no client ids, or issuer listed twice")
                issuers[entry.issuer] = entry
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{CONFIG_ENV} is malformed: {type(exc).__name__}: {exc}") from None
        return AuthorizerConfig(environment=environment, issuers=issuers)


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
        raise Denied(f"refusing to fetch JWKS over a non-HTTPS URL: {uri}")
    with urllib.request.urlopen(uri, timeout=timeout) as resp:  # noqa: S310 - https only, checked above
        return json.loads(resp.read(1_000_000))


class JwksCache:
    """Signing keys per JWKS URI, kept across invocations of a warm Lambda.

    A key set is reused for ``ttl`` seconds; an unknown ``kid`` triggers a refetch at most every
    ``min_refresh`` seconds (Cognito rotates keys rarely; a flood of tokens with random ``kid``s must not turn
    into a flood of fetches).
    """

    def __init__(
        self,
        fetch: JwksFetcher = fetch_jwks,
        ttl: float = 3600.0,
        min_refresh: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch, self._ttl, self._min_refresh, self._clock = fetch, ttl, min_refresh, clock
        self._sets: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._lock = threading.Lock()

    def _load(self, uri: str) -> dict[str, jwt.PyJWK]:
        jwk_set = jwt.PyJWKSet.from_dict(dict(self._fetch(uri)))
        keys = {k.key_id: k for k in jwk_set.keys if k.key_id and k.public_key_use in (None, "sig")}
        self._sets[uri] = (self._clock(), keys)
        return keys

    def key(self, uri: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            fetched_at, keys = self._sets.get(uri, (float("-inf"), {}))
            if now - fetched_at >= self._ttl or (kid not in keys and now - fetched_at >= self._min_refresh):
                keys = self._load(uri)
            if kid not in keys:
                raise Denied("token signed with a key that is not in the issuer's JWKS")
            return keys[kid]


# ---------------------------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were verified, with the issuer it belongs to."""

    tenant: TenantIssuer
    claims: Mapping[str, Any]


class TokenVerifier:
    """Verifies an ID token of one of the configured issuers (signature, iss, exp, token_use, aud, claims).

    A warm container sees the same token many times (one per API call until it expires), so verified tokens are
    remembered by their exact text in a small LRU (``cache_size``) until their ``exp``; a hit re-checks only the
    expiry. A token that failed verification is never cached.
    """

    def __init__(
        self,
        config: AuthorizerConfig,
        jwks: JwksCache,
        leeway: float = 0.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config, self._jwks, self._leeway, self._clock = config, jwks, leeway, clock
        self._cache: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, token: str) -> VerifiedToken:
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None:
                if float(hit.claims["exp"]) + self._leeway > self._clock():
                    self._cache.move_to_end(token)
                    return hit
                del self._cache[token]
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
            raise Denied(f"malformed token: {type(exc).__name__}") from None
        header, unverified_iss = unverified["header"], unverified["payload"].get("iss")
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Denied(f"token header alg/kid not acceptable (alg={header.get('alg')!r})")
        tenant = self._config.issuers.get(unverified_iss) if isinstance(unverified_iss, str) else None
        if tenant is None:
            raise Denied("token issuer is not a configured tenant user pool")
        key = self._jwks.key(tenant.jwks_uri, header["kid"])
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
            raise Denied(f"token rejected for tenant {tenant.tenant_id}: {type(exc).__name__}: {exc}") from None
        if claims.get("token_use") != TOKEN_USE:
            raise Denied(f"token_use must be {TOKEN_USE!r} (send the ID token); got {claims.get('token_use')!r}")
        if claims.get("custom:tenantId") != tenant.tenant_id:
            raise Denied(f"custom:tenantId does not match the issuer's tenant {tenant.tenant_id}")
        if claims.get("custom:environment") != self._config.environment:
            raise Denied(f"custom:environment is not this deployment's ({self._config.environment})")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Denied("token has no sub")
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
        raise Denied(f"request path is empty or longer than {MAX_ENTITY_ID_CHARS} characters")
    attributes: dict[str, Any] = {"tenantId": {"string": tenant_id}}
    if route.owner == "self":
        attributes["owner"] = {"string": verified.claims["sub"]}
    elif route.owner is not None and route.owner.startswith("path:"):
        owner = path_parameters.get(route.owner.removeprefix("path:"))
        if not isinstance(owner, str) or not owner:
            raise Denied(f"route {route.method} {route.path} needs path parameter {route.owner}")
        attributes["owner"] = {"string": owner}
    elif route.owner is not None:
        raise Denied(f"route {route.method} {route.path} has an unknown owner source {route.owner!r}")
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
    """The authorizer's response: one statement, ``execute-api:Invoke`` on ``resource``."""
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


def deny(method_arn: object) -> dict[str, Any]:
    """Deny this method (or everything, when the method ARN itself is not trustworthy)."""
    resource = method_arn if isinstance(method_arn, str) and METHOD_ARN_RE.fullmatch(method_arn) else "*"
    return policy(DENIED_PRINCIPAL, "Deny", resource)


@dataclass
class Authorizer:
    """The decision core, with its collaborators injected (tests pass a JWKS fetcher and an AVP double)."""

    config: AuthorizerConfig
    routes: RouteTable
    verifier: TokenVerifier
    avp: Any
    """A ``verifiedpermissions`` client (or anything with ``is_authorized_with_token(**params)``)."""

    def decide(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        method_arn = raw_event.get("methodArn") if isinstance(raw_event, Mapping) else None
        try:
            return self._decide(raw_event)
        except Denied as exc:
            logger.info("deny: %s", exc.reason, extra={"methodArn": method_arn})
        except Exception as exc:  # fail closed on anything unexpected (isolation invariant 31)
            logger.warning("deny on error: %s", type(exc).__name__, extra={"methodArn": method_arn})
        return deny(method_arn)

    def _decide(self, raw_event: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw_event, Mapping) or raw_event.get("type") != "REQUEST":
            raise Denied("not an API Gateway REQUEST authorizer event")
        event = APIGatewayAuthorizerRequestEvent(dict(raw_event))
        method_arn = event.method_arn
        if not isinstance(method_arn, str) or not METHOD_ARN_RE.fullmatch(method_arn):
            raise Denied("methodArn missing or malformed")
        values = _authorization_values(raw_event)
        if len(values) != 1 or not isinstance(values[0], str) or len(values[0]) > MAX_TOKEN_CHARS:
            raise Denied("exactly one Authorization header with a bearer token is required")
        match = BEARER_RE.fullmatch(values[0].strip())
        if match is None:
            raise Denied("Authorization header is not 'Bearer <jwt>'")
        token = match.group(1)
        route = self.routes.lookup(str(event.http_method), str(event.resource))
        if route is None:
            raise Denied("route is not in the route table")
        verified = self.verifier.verify(token)
        params = avp_request(
            route,
            verified,
            token=token,
            path=str(event.path),
            path_parameters=event.path_parameters or {},
            environment=self.config.environment,
        )
        answer = self.avp.is_authorized_with_token(**params)
        if answer.get("decision") != "ALLOW" or answer.get("errors"):
            raise Denied(
                f"AVP decision {answer.get('decision')!r} for {route.action} "
                f"(tenant {verified.tenant.tenant_id}, errors: {len(answer.get('errors') or [])})"
            )
        logger.info("allow %s for tenant %s", route.action, verified.tenant.tenant_id)
        return policy(
            principal_id=f"{verified.tenant.user_pool_id}|{verified.claims['sub']}",
            effect="Allow",
            resource=method_arn,
            context={"tenantId": verified.tenant.tenant_id, "action": route.action},
            usage_key=verified.tenant.usage_key,
        )


def _authorization_values(raw_event: Mapping[str, Any]) -> list[Any]:
    """Every Authorization value the request carried, from the raw (case-sensitive) ``headers`` and
    ``multiValueHeaders``; more than one distinct value is ambiguous and denied."""
    found: list[Any] = []
    headers = raw_event.get("headers") or {}
    multi = raw_event.get("multiValueHeaders") or {}
    if not isinstance(headers, Mapping) or not isinstance(multi, Mapping):
        raise Denied("headers are not maps")
    found.extend(v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization")
    for k, vs in multi.items():
        if isinstance(k, str) and k.lower() == "authorization":
            found.extend(vs if isinstance(vs, list) else [vs])
    distinct: list[Any] = []
    for value in found:
        if value not in distinct:
            distinct.append(value)
    if len(found) > 1 and (len(distinct) > 1 or len([k for k in headers if str(k).lower() == "authorization"]) > 1):
        raise Denied("more than one Authorization header")
    return distinct


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
    config_json: str | None = None, fetch: JwksFetcher = fetch_jwks, avp: Any = None, routes: RouteTable | None = None
) -> Authorizer:
    """Build the decision core from ``AUTHZ_CONFIG`` (or ``config_json``); raises :class:`ConfigError`."""
    text = config_json if config_json is not None else os.environ.get(CONFIG_ENV, "")
    config = AuthorizerConfig.from_json(text)
    return Authorizer(
        config=config,
        routes=routes or RouteTable.from_file(),
        verifier=TokenVerifier(config, JwksCache(fetch)),
        avp=avp if avp is not None else _avp_client(),
    )


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: the core is built once per execution environment and reused while warm."""
    global _AUTHORIZER  # noqa: PLW0603 - per-execution-environment cache, the documented Lambda pattern
    try:
        if _AUTHORIZER is None:
            _AUTHORIZER = build_authorizer()
        return _AUTHORIZER.decide(event)
    except Exception as exc:  # a broken configuration denies every request instead of failing with a 500
        logger.error("deny: authorizer not configured: %s", type(exc).__name__)
        return deny(event.get("methodArn") if isinstance(event, Mapping) else None)
