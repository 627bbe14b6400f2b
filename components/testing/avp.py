"""A test double of Amazon Verified Permissions' ``IsAuthorizedWithToken`` that evaluates the real Cedar assets.

It does what the service does with a Cognito identity source, as far as the AVP documentation describes it:

* the token must come from the store's identity source: signature against the pool's JWKS, ``iss`` equal to
  the pool's issuer, ``exp``, ``token_use`` matching the parameter (``id`` for ``identityToken``), and ``aud``
  among the identity source's client ids; otherwise the call fails (AVP answers with an error, not a decision);
* the principal is ``<principalEntityType>::"<userPoolId>|<sub>"``; claims become attributes, a
  ``prefix:name`` claim becomes ``principal.<prefix>.<name>`` (``custom:tenantId`` ->
  ``principal.custom.tenantId``), ``cognito:groups`` become parents ``<groupEntityType>::"<userPoolId>|<group>"``;
  claims the schema does not declare are not passed (assumption: AVP maps what the schema declares);
* the request is evaluated by cedarpy against the store's policy set (static policies, templates and Cedar's
  own template linking) with the schema, so a change to ``components/assets/cedar`` changes the outcome.

Documentation:
    https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/identity-sources-cognito.html
    https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-authorization-with-avp.html
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cedarpy
import jwt

from saas_platform.components.cedar import (
    CedarAssets,
    TemplateLink,
    tenant_policy_set,
)


class AvpValidationError(Exception):
    """What AVP answers with ``ValidationException`` / ``AccessDeniedException`` (no decision)."""


@dataclass
class StoreDouble:
    """One policy store: its tenant, identity source (pool + client ids) and policies."""

    tenant_id: str
    user_pool_id: str
    region: str
    client_ids: frozenset[str]
    assets: CedarAssets
    links: Sequence[TemplateLink] | None = None
    policy_set: cedarpy.PolicySet | None = field(default=None, repr=False)
    schema: cedarpy.Schema | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def parsed_schema(self) -> cedarpy.Schema:
        if self.schema is None:
            self.schema = cedarpy.Schema.from_json_str(self.assets.schema_json)
        return self.schema

    def policies(self) -> cedarpy.PolicySet:
        if self.policy_set is None:
            self.policy_set = tenant_policy_set(self.assets, self.tenant_id, self.user_pool_id, self.links)
        return self.policy_set


def _value(v: Mapping[str, Any]) -> Any:
    """AVP ``AttributeValue`` -> Cedar JSON value."""
    if "string" in v:
        return v["string"]
    if "long" in v:
        return v["long"]
    if "boolean" in v:
        return v["boolean"]
    if "entityIdentifier" in v:
        e = v["entityIdentifier"]
        return {"__entity": {"type": e["entityType"], "id": e["entityId"]}}
    if "record" in v:
        return {k: _value(x) for k, x in v["record"].items()}
    if "set" in v:
        return [_value(x) for x in v["set"]]
    raise AvpValidationError(f"unsupported attribute value {v!r}")


class VerifiedPermissionsDouble:
    """``is_authorized_with_token(**params)`` with AVP's parameters and response shape.

    ``jwks`` maps a user pool id to its public JWKS document (what the service would fetch).
    """

    def __init__(
        self,
        stores: Mapping[str, StoreDouble],
        jwks: Mapping[str, Mapping[str, Any]],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.stores = dict(stores)
        self.jwks = dict(jwks)
        self.calls: list[dict[str, Any]] = []
        self._clock = clock

    def _principal(self, store: StoreDouble, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            keys = jwt.PyJWKSet.from_dict(dict(self.jwks[store.user_pool_id]))
            key = next(k for k in keys.keys if k.key_id == header.get("kid"))
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=sorted(store.client_ids),
                issuer=store.issuer,
                options={"require": ["exp", "iss", "sub", "token_use", "aud"]},
            )
        except (jwt.PyJWTError, StopIteration, KeyError) as exc:
            raise AvpValidationError(f"token is not valid for this identity source: {type(exc).__name__}") from None
        if claims.get("token_use") != "id":
            raise AvpValidationError("identityToken must be an ID token (token_use=id)")
        declared = store.assets.schema[store.assets.namespace]["entityTypes"]["User"]["shape"]["attributes"]
        attrs: dict[str, Any] = {}
        for name, value in claims.items():
            if name == "cognito:groups":
                continue
            prefix, sep, rest = name.partition(":")
            if sep:
                nested = declared.get(prefix, {}).get("attributes", {})
                if rest in nested:
                    attrs.setdefault(prefix, {})[rest] = value
            elif name in declared:
                attrs[name] = value
        groups = claims.get("cognito:groups") or []
        return {
            "uid": {"type": store.assets.entity_type("User"), "id": f"{store.user_pool_id}|{claims['sub']}"},
            "attrs": attrs,
            "parents": [
                {"type": store.assets.entity_type("UserGroup"), "id": f"{store.user_pool_id}|{g}"} for g in groups
            ],
        }

    def is_authorized_with_token(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        store = self.stores.get(params.get("policyStoreId", ""))
        if store is None:
            raise AvpValidationError(f"no policy store {params.get('policyStoreId')!r}")
        token = params.get("identityToken")
        if not isinstance(token, str):
            raise AvpValidationError("identityToken is required by this double (the policies are attribute-based)")
        principal = self._principal(store, token)
        entities = [principal]
        for item in params.get("entities", {}).get("entityList", []):
            ident = item["identifier"]
            entities.append(
                {
                    "uid": {"type": ident["entityType"], "id": ident["entityId"]},
                    "attrs": {k: _value(v) for k, v in item.get("attributes", {}).items()},
                    "parents": [{"type": p["entityType"], "id": p["entityId"]} for p in item.get("parents", [])],
                }
            )
        action = params["action"]
        if action.get("actionType") != store.assets.entity_type("Action"):
            raise AvpValidationError(f"actionType must be {store.assets.entity_type('Action')}")
        context = {k: _value(v) for k, v in params.get("context", {}).get("contextMap", {}).items()}
        request = {
            "principal": principal["uid"],
            "action": {"type": action["actionType"], "id": action["actionId"]},
            "resource": {"type": params["resource"]["entityType"], "id": params["resource"]["entityId"]},
            "context": context,
        }
        result = cedarpy.is_authorized(request, store.policies(), entities, schema=store.parsed_schema())
        if result.decision == cedarpy.Decision.NoDecision:
            raise AvpValidationError(f"request does not validate against the schema: {result.diagnostics.errors}")
        return {
            "decision": "ALLOW" if result.decision == cedarpy.Decision.Allow else "DENY",
            "determiningPolicies": [{"policyId": p} for p in result.diagnostics.reasons],
            "errors": [{"errorDescription": e} for e in result.diagnostics.errors],
            "principal": {"entityType": store.assets.entity_type("User"), "entityId": principal["uid"]["id"]},
        }
