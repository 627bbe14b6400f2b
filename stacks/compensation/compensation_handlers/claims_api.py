"""The claims API behind API Gateway (Cognito user-pool authorizer with OAuth scopes on every method).

``POST /claims`` (scope ``compensation/claims.submit``; groups ``passengers`` or ``employees``) validates the
claim, stores it and starts the approval workflow. ``POST /claims/{claimId}/decision`` (scope
``compensation/claims.approve``; group ``managers``; never on one's own claim) resumes the waiting workflow
with the manager's decision through its task token.

Fail closed: a body that does not validate is a 400 with the reasons, a caller without the group is a 403,
an unknown or already decided claim is a 404/409; nothing is written in those cases.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compensation_handlers.store import DataApiStore, Store

SUBMITTERS = frozenset({"passengers", "employees"})
APPROVERS = frozenset({"managers"})


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    flight_number: str = Field(alias="flightNumber", pattern=r"^[A-Z0-9]{2}[0-9]{1,4}$")
    flight_date: date = Field(alias="flightDate")
    reason: Literal["delay", "cancellation", "denied-boarding", "baggage"]
    amount: Decimal = Field(gt=0, le=10000, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approved", "rejected"]
    comment: str = Field(default="", max_length=500)


@dataclass(frozen=True)
class Caller:
    sub: str
    groups: frozenset[str]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def caller_of(event: dict[str, Any]) -> Caller:
    """The caller from the authorizer's claims. ``cognito:groups`` arrives as ``a,b`` or ``[a b]`` text."""
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Refused(401, "no authenticated caller")
    raw = claims.get("cognito:groups") or ""
    groups = raw if isinstance(raw, list) else re.split(r"[\s,]+", str(raw).strip("[]"))
    return Caller(sub, frozenset(g for g in groups if g))


def _body(event: dict[str, Any]) -> Any:
    raw = event.get("body")
    if event.get("isBase64Encoded") or not isinstance(raw, str):
        raise Refused(400, "body must be a JSON document")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Refused(400, f"body is not JSON: {exc.msg}") from None


def _validated(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise Refused(400, problems) from None


def submit(event: dict[str, Any], store: Store, start_execution: Any, new_id: Any = uuid.uuid4) -> dict[str, Any]:
    caller = caller_of(event)
    if not caller.groups & SUBMITTERS:
        raise Refused(403, "only passengers and employees submit claims")
    claim: ClaimRequest = _validated(ClaimRequest, _body(event))
    claim_id = str(new_id())
    record = {
        "claimId": claim_id,
        "claimant": caller.sub,
        "flightNumber": claim.flight_number,
        "flightDate": claim.flight_date.isoformat(),
        "reason": claim.reason,
        "amount": f"{claim.amount:.2f}",
        "currency": claim.currency,
    }
    store.insert_claim(record)
    start_execution(name=claim_id, input=json.dumps({"claimId": claim_id, "claimant": caller.sub}))
    return {"statusCode": 202, "body": json.dumps({"claimId": claim_id, "status": "SUBMITTED"})}


def decide(event: dict[str, Any], store: Store, send_success: Any) -> dict[str, Any]:
    caller = caller_of(event)
    if not caller.groups & APPROVERS:
        raise Refused(403, "only managers decide claims")
    claim_id = str((event.get("pathParameters") or {}).get("claimId") or "")
    try:
        claim_id = str(uuid.UUID(claim_id))
    except ValueError:
        raise Refused(404, "no such claim") from None
    decision: DecisionRequest = _validated(DecisionRequest, _body(event))
    pending = store.pending_claim(claim_id)
    if pending is None:
        raise Refused(409, "claim is not awaiting a decision")
    if pending.claimant == caller.sub:
        raise Refused(403, "a manager does not decide their own claim")
    store.record_decision(claim_id, decision.decision.upper(), caller.sub)
    send_success(
        taskToken=pending.task_token,
        output=json.dumps({"decision": decision.decision, "manager": caller.sub, "comment": decision.comment}),
    )
    return {"statusCode": 200, "body": json.dumps({"claimId": claim_id, "status": decision.decision.upper()})}


@functools.cache
def _sfn() -> Any:
    return boto3.client("stepfunctions")


def _respond(fn: Any, event: dict[str, Any]) -> dict[str, Any]:
    try:
        return fn(event)
    except Refused as refused:
        return {"statusCode": refused.status, "body": json.dumps({"message": str(refused)})}


def submit_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    machine = os.environ["APPROVAL_STATE_MACHINE_ARN"]
    return _respond(
        lambda e: submit(e, DataApiStore(), lambda **kw: _sfn().start_execution(stateMachineArn=machine, **kw)), event
    )


def decide_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _respond(lambda e: decide(e, DataApiStore(), lambda **kw: _sfn().send_task_success(**kw)), event)
