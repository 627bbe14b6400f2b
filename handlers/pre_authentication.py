"""Cognito pre-authentication trigger: only users entitled to the client's environment may sign in.

One function serves every user pool of the stack (``CognitoTriggers``). The event's ``userPoolId`` is looked up in
the tenant registry: an unknown pool, a suspended or offboarded tenant, or an unreadable registry with nothing
cached refuses the sign-in. One user pool per tenant serves Dev, Staging and Prod (the OptimalHR design: one
credential everywhere). The app client a user signs in through says which environment they are entering (its
``appClients`` entry in the registry, ``saas_platform.handlers._identity``); the user's ``custom:environments``
attribute says where they may go. Anything unexpected - an unknown client, a user without a tenant or role,
another tenant's user, a misconfigured function - raises, and Cognito refuses the sign-in. Refresh does not run
this trigger, so the pre-token trigger repeats the same check (isolation invariant 17).

Documentation:
    https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-authentication.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import PreAuthenticationTriggerEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from saas_platform.handlers._identity import (
    SignInDenied,
    TriggerSettings,
    check_entitlement,
    decide_sign_in,
    require_shape,
)

logger = Logger()


def decide(attributes: Mapping[str, Any], environment: str, tenant_id: str, settings: TriggerSettings) -> None:
    """Allow (return) or deny (raise :class:`SignInDenied`) a sign-in of ``tenant_id``'s pool to ``environment``."""
    check_entitlement(attributes, environment, tenant_id, settings)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the event unchanged to allow the sign-in; raise to deny it (after one ``sign-in denied`` log line
    with the reason: a malformed event and a misconfigured trigger included)."""
    trigger_source = event.get("triggerSource") if isinstance(event, dict) else None
    pool = event.get("userPoolId") if isinstance(event, dict) else None
    try:
        require_shape(event, trigger="sign-in")
        settings = TriggerSettings.from_env()
        typed = PreAuthenticationTriggerEvent(event)
        decision = decide_sign_in(
            typed.user_pool_id, typed.caller_context.client_id, typed.request.user_attributes, settings
        )
    except SignInDenied as denied:
        logger.warning(
            "sign-in denied",
            extra={"reason": str(denied), "trigger_source": trigger_source, "user_pool_id": _plain(pool)},
        )
        raise
    logger.info(
        "sign-in allowed",
        extra={"environment": decision.environment, "tenant": decision.tenant_id, "user_pool_id": typed.user_pool_id},
    )
    return typed.raw_event


def _plain(value: object) -> str | None:
    """A value fit for a log field: a short string, or None (a malformed event may carry anything)."""
    return value[:64] if isinstance(value, str) else None
