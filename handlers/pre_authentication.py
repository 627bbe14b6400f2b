"""Cognito pre-authentication trigger: only users entitled to the client's environment may sign in.

One user pool per tenant serves Dev, Staging and Prod (the OptimalHR design: one credential everywhere). The app client
a user signs in through says which environment they are entering (``saas_platform.handlers._identity``); the user's
``custom:environments`` attribute says where they may go. Anything unexpected - an unknown client, a user
without a tenant or role, another tenant's user, a misconfigured function - raises, and Cognito refuses
the sign-in. Refresh does not run this trigger, so the pre-token trigger repeats the same check
(isolation invariant 17).

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
    require_shape,
    resolve_environment,
)

logger = Logger()


def decide(attributes: Mapping[str, Any], environment: str, settings: TriggerSettings) -> None:
    """Allow (return) or deny (raise :class:`SignInDenied`) a sign-in to ``environment``."""
    check_entitlement(attributes, environment, settings)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the event unchanged to allow the sign-in; raise to deny it (after one ``sign-in denied`` log line
    with the reason: a malformed event and a misconfigured trigger included)."""
    trigger_source = event.get("triggerSource") if isinstance(event, dict) else None
    try:
        require_shape(event, trigger="sign-in")
        settings = TriggerSettings.from_env()
        typed = PreAuthenticationTriggerEvent(event)
        environment = resolve_environment(typed.user_pool_id, typed.caller_context.client_id, settings)
        decide(typed.request.user_attributes, environment, settings)
    except SignInDenied as denied:
        logger.warning("sign-in denied", extra={"reason": str(denied), "trigger_source": trigger_source})
        raise
    logger.info("sign-in allowed", extra={"environment": environment})
    return typed.raw_event
