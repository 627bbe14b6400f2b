"""The compensation handlers' decisions, with an in-memory store and recorded AWS calls (no network)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from compensation_handlers import approval, claims_api
from compensation_handlers.store import PendingClaim

CLAIM_ID = "2f1c7e4a-9d3b-4c51-8a77-0b6f5e2d1a90"
BODY = {"flightNumber": "BA123", "flightDate": "2026-11-30", "reason": "delay", "amount": "250.00", "currency": "EUR"}


class FakeStore:
    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.decisions: list[tuple[str, str, str]] = []

    def insert_claim(self, claim: dict[str, Any]) -> None:
        self.claims[claim["claimId"]] = {**claim, "status": "SUBMITTED"}

    def save_task_token(self, claim_id: str, token: str) -> bool:
        claim = self.claims.get(claim_id)
        if claim is None or claim["status"] != "SUBMITTED":
            return False
        claim["status"] = "AWAITING_APPROVAL"
        self.tokens[claim_id] = token
        return True

    def pending_claim(self, claim_id: str) -> PendingClaim | None:
        claim = self.claims.get(claim_id)
        if claim is None or claim["status"] != "AWAITING_APPROVAL":
            return None
        return PendingClaim(claim_id, claim["claimant"], self.tokens[claim_id])

    def record_decision(self, claim_id: str, status: str, manager: str) -> None:
        self.claims[claim_id]["status"] = status
        self.decisions.append((claim_id, status, manager))


class Calls:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        return {}


def event(
    body: Any, sub: str | None = "user-1", groups: str = "passengers", path: dict[str, str] | None = None
) -> dict[str, Any]:
    claims = {"cognito:groups": groups} if sub is None else {"sub": sub, "cognito:groups": groups}
    return {
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
        "pathParameters": path,
        "requestContext": {"authorizer": {"claims": claims}},
    }


def submitted(store: FakeStore, start: Calls) -> str:
    response = claims_api.submit(event(BODY), store, start, new_id=lambda: uuid.UUID(CLAIM_ID))
    assert response["statusCode"] == 202
    return CLAIM_ID


def test_submit_stores_the_claim_and_starts_the_workflow() -> None:
    store, start = FakeStore(), Calls()
    submitted(store, start)
    assert store.claims[CLAIM_ID]["claimant"] == "user-1"
    assert store.claims[CLAIM_ID]["amount"] == "250.00"
    assert start.calls == [{"name": CLAIM_ID, "input": json.dumps({"claimId": CLAIM_ID, "claimant": "user-1"})}]


@pytest.mark.parametrize(
    ("ev", "status", "text"),
    [
        (event(BODY, groups="managers"), 403, "only passengers and employees submit claims"),
        (event(BODY, sub=None), 401, "no authenticated caller"),
        (event("{not json"), 400, "body is not JSON"),
        (event({**BODY, "amount": "-5"}), 400, "amount"),
        (event({**BODY, "extra": 1}), 400, "extra"),
        (event({**BODY, "flightNumber": "ba 12"}), 400, "flightNumber"),
    ],
)
def test_submit_fails_closed(ev: dict[str, Any], status: int, text: str) -> None:
    store, start = FakeStore(), Calls()
    response = claims_api._respond(lambda e: claims_api.submit(e, store, start), ev)
    assert response["statusCode"] == status
    assert text in json.loads(response["body"])["message"]
    assert store.claims == {}
    assert start.calls == []


def test_group_claim_formats() -> None:
    assert claims_api.caller_of(event(BODY, groups="[managers employees]")).groups == {"managers", "employees"}
    assert claims_api.caller_of(event(BODY, groups="managers,employees")).groups == {"managers", "employees"}


def test_full_approval_round_trip() -> None:
    store, start, publish, send = FakeStore(), Calls(), Calls(), Calls()
    submitted(store, start)
    out = approval.request_approval({"claimId": CLAIM_ID, "claimant": "user-1", "taskToken": "tok-1"}, store, publish)
    assert out == {"claimId": CLAIM_ID, "status": "AWAITING_APPROVAL"}
    assert len(publish.calls) == 1
    decision = event({"decision": "approved"}, sub="mgr-1", groups="managers", path={"claimId": CLAIM_ID})
    response = claims_api.decide(decision, store, send)
    assert response["statusCode"] == 200
    assert send.calls == [
        {"taskToken": "tok-1", "output": json.dumps({"decision": "approved", "manager": "mgr-1", "comment": ""})}
    ]
    assert store.decisions == [(CLAIM_ID, "APPROVED", "mgr-1")]
    # a second decision finds nothing waiting
    again = claims_api._respond(lambda e: claims_api.decide(e, store, send), decision)
    assert again["statusCode"] == 409
    assert len(send.calls) == 1


@pytest.mark.parametrize(
    ("sub", "groups", "body", "status"),
    [
        ("mgr-1", "employees", {"decision": "approved"}, 403),
        ("user-1", "managers", {"decision": "approved"}, 403),  # own claim
        ("mgr-1", "managers", {"decision": "maybe"}, 400),
    ],
)
def test_decide_fails_closed(sub: str, groups: str, body: dict[str, Any], status: int) -> None:
    store, start, publish, send = FakeStore(), Calls(), Calls(), Calls()
    submitted(store, start)
    approval.request_approval({"claimId": CLAIM_ID, "claimant": "user-1", "taskToken": "tok-1"}, store, publish)
    ev = event(body, sub=sub, groups=groups, path={"claimId": CLAIM_ID})
    response = claims_api._respond(lambda e: claims_api.decide(e, store, send), ev)
    assert response["statusCode"] == status
    assert send.calls == []
    assert store.decisions == []


def test_decide_unknown_claim_id_is_404() -> None:
    ev = event({"decision": "approved"}, sub="m", groups="managers", path={"claimId": "../etc"})
    response = claims_api._respond(lambda e: claims_api.decide(e, FakeStore(), Calls()), ev)
    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    "task_input",
    [None, [], {"claimId": "nope", "taskToken": "t"}, {"claimId": CLAIM_ID}, {"claimId": CLAIM_ID, "taskToken": ""}],
)
def test_request_approval_rejects_malformed_input(task_input: Any) -> None:
    with pytest.raises(approval.BadTaskInput):
        approval.request_approval(task_input, FakeStore(), Calls())


def test_request_approval_refuses_a_claim_not_submitted() -> None:
    with pytest.raises(approval.BadTaskInput, match="is not in status SUBMITTED"):
        approval.request_approval({"claimId": CLAIM_ID, "taskToken": "t"}, FakeStore(), Calls())


def test_notify_publishes_outcome_and_rejects_unknown_outcomes() -> None:
    publish = Calls()
    assert approval.notify({"claimId": CLAIM_ID, "claimant": "user-1", "outcome": "timed-out"}, publish) == {
        "claimId": CLAIM_ID,
        "notified": "timed-out",
    }
    assert json.loads(publish.calls[0]["Message"]) == {"claimId": CLAIM_ID, "claimant": "user-1", "event": "timed-out"}
    with pytest.raises(approval.BadTaskInput, match="outcome must be"):
        approval.notify({"claimId": CLAIM_ID, "claimant": "user-1", "outcome": "lost"}, publish)


def test_data_api_store_sends_parameterised_sql() -> None:
    from compensation_handlers.store import DataApiStore

    class Client:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        def execute_statement(self, **kw: Any) -> dict[str, Any]:
            self.calls.append(kw)
            return {"numberOfRecordsUpdated": 1, "records": [[{"stringValue": "user-1"}, {"stringValue": "tok"}]]}

    import os

    os.environ.update(CLAIMS_CLUSTER_ARN="arn:c", CLAIMS_SECRET_ARN="arn:s", CLAIMS_DATABASE="compensation")
    client = Client()
    store = DataApiStore(client)
    assert store.save_task_token(CLAIM_ID, "tok") is True
    assert store.pending_claim(CLAIM_ID) == PendingClaim(CLAIM_ID, "user-1", "tok")
    assert all(":" in c["sql"] and CLAIM_ID not in c["sql"] for c in client.calls)
    assert client.calls[0]["resourceArn"] == "arn:c"
    assert client.calls[0]["parameters"][1] == {"name": "id", "value": {"stringValue": CLAIM_ID}, "typeHint": "UUID"}
