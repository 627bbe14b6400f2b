"""Tasks of the approval state machine.

``request_approval`` runs as a ``lambda:invoke.waitForTaskToken`` task: it stores the task token with the
claim and tells the managers; the execution then waits until ``POST /claims/{id}/decision`` sends the token
back (or the task times out). ``notify`` publishes the outcome to the notification topic.

Fail closed: malformed input raises, so the execution fails visibly (and its alarm fires) instead of
waiting for a decision that can never arrive.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from typing import Any

import boto3

from compensation_handlers.store import DataApiStore, Store


class BadTaskInput(ValueError):
    pass


def _claim_id(event: Any) -> str:
    if not isinstance(event, dict):
        raise BadTaskInput("task input must be an object")
    try:
        return str(uuid.UUID(str(event.get("claimId"))))
    except ValueError:
        raise BadTaskInput(f"claimId is not a UUID: {event.get('claimId')!r}") from None


def request_approval(event: Any, store: Store, publish: Any) -> dict[str, Any]:
    claim_id = _claim_id(event)
    token = event.get("taskToken")
    if not isinstance(token, str) or not token:
        raise BadTaskInput("taskToken is missing: the state must use lambda:invoke.waitForTaskToken")
    if not store.save_task_token(claim_id, token):
        raise BadTaskInput(f"claim {claim_id} is not in status SUBMITTED")
    publish(
        Subject="Compensation claim awaiting approval",
        Message=json.dumps({"claimId": claim_id, "event": "awaiting-approval"}),
    )
    return {"claimId": claim_id, "status": "AWAITING_APPROVAL"}


def notify(event: Any, publish: Any) -> dict[str, Any]:
    claim_id = _claim_id(event)
    outcome = event.get("outcome")
    if outcome not in ("approved", "rejected", "timed-out"):
        raise BadTaskInput(f"outcome must be approved, rejected or timed-out; got {outcome!r}")
    claimant = event.get("claimant")
    if not isinstance(claimant, str) or not claimant:
        raise BadTaskInput("claimant is missing")
    publish(
        Subject=f"Compensation claim {outcome}",
        Message=json.dumps({"claimId": claim_id, "claimant": claimant, "event": outcome}),
        MessageAttributes={"claimant": {"DataType": "String", "StringValue": claimant}},
    )
    return {"claimId": claim_id, "notified": outcome}


@functools.cache
def _sns() -> Any:
    return boto3.client("sns")


def _publish(**kw: Any) -> Any:
    return _sns().publish(TopicArn=os.environ["NOTIFICATION_TOPIC_ARN"], **kw)


def request_approval_handler(event: Any, context: Any) -> dict[str, Any]:
    return request_approval(event, DataApiStore(), _publish)


def notify_handler(event: Any, context: Any) -> dict[str, Any]:
    return notify(event, _publish)
