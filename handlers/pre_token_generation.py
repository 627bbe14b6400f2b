"""Cognito pre-token-generation trigger (V2 event): tenant claims in ID *and* access tokens.

One function serves every user pool of the stack (``CognitoTriggers``): the tenant is the one the tenant registry
names for the event's ``userPoolId`` (unknown pools, suspended or offboarded tenants and an unreadable registry
with nothing cached get no token), and ``custom:tenantId`` is pinned to it: a user whose attribute names another
tenant gets no token. Adds ``custom:tenantId``, ``custom:tenantRole`` and ``custom:environment`` to both tokens,
taken only from server-side data: the user's attributes (set by admins; clients cannot write them), the registry,
and the environment of the app client the request came through. ``clientMetadata`` is client-supplied and never read. The
environment entitlement is checked again here because refresh (``TokenGeneration_RefreshTokens``) skips
pre-authentication (isolation invariants 16, 17). A user without a tenant, of another tenant, without a valid
role or not entitled to the environment gets no token: the trigger raises and Cognito refuses.

Documentation:
    https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreTokenGenerationV2TriggerEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_platform.handlers._identity import (
    SignInDenied,
    TriggerSettings,
    check_entitlement,
    decide_sign_in,
    require_shape,
)

logger = Logger()


def tenant_claims(
    attributes: Mapping[str, Any], environment: str, tenant_id: str, settings: TriggerSettings
) -> dict[str, str]:
    """The claims to add to both tokens for a user of ``tenant_id``'s pool; raises :class:`SignInDenied` when no
    token may be issued."""
    return check_entitlement(attributes, environment, tenant_id, settings)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the event with ``claimsAndScopeOverrideDetails`` set; raise to refuse the token.

    Every refusal logs one structured line (``token refused`` with the reason) before raising. The Cognito console's
    test event sends ``"claimsAndScopeOverrideDetails": []`` and real events may send ``null``: both mean "no
    overrides yet" and are replaced by an object.
    """
    trigger_source = event.get("triggerSource") if isinstance(event, dict) else None
    pool = event.get("userPoolId") if isinstance(event, dict) else None
    try:
        if not isinstance(event, dict) or str(event.get("version")) != "2":
            raise SignInDenied("token refused: the trigger expects the V2 event (lambda_version V2_0)")
        require_shape(event, trigger="token")
        response = event["response"]
        details = response.get("claimsAndScopeOverrideDetails")
        if details is None or details == []:
            response["claimsAndScopeOverrideDetails"] = {}
        elif not isinstance(details, dict):
            raise SignInDenied(
                "token refused: malformed event: response.claimsAndScopeOverrideDetails is not an object"
            )
        settings = TriggerSettings.from_env()
        typed = PreTokenGenerationV2TriggerEvent(event)
        decision = decide_sign_in(
            typed.user_pool_id, typed.caller_context.client_id, typed.request.user_attributes, settings
        )
    except SignInDenied as denied:
        logger.warning(
            "token refused",
            extra={
                "reason": str(denied),
                "trigger_source": trigger_source,
                "user_pool_id": pool[:64] if isinstance(pool, str) else None,
            },
        )
        raise
    details = typed.response.claims_scope_override_details
    details.id_token_generation.claims_to_add_or_override = dict(decision.claims)
    details.access_token_generation.claims_to_add_or_override = dict(decision.claims)
    logger.info(
        "tenant claims added",
        extra={"environment": decision.environment, "tenant": decision.tenant_id, "trigger_source": trigger_source},
    )
    return typed.raw_event
