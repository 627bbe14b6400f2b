"""Claims in Aurora PostgreSQL through the RDS Data API (no VPC networking or driver in the functions).

The functions read the cluster ARN, the Secrets Manager secret ARN and the database name from their
environment. Clients are created on first use through :func:`rds_data`, which tests reset or replace.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Protocol

import boto3

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS claims (
    claim_id      uuid PRIMARY KEY,
    claimant      text NOT NULL,
    flight_number text NOT NULL,
    flight_date   date NOT NULL,
    reason        text NOT NULL,
    amount        numeric(10, 2) NOT NULL CHECK (amount > 0),
    currency      char(3) NOT NULL,
    status        text NOT NULL DEFAULT 'SUBMITTED',
    task_token    text,
    decided_by    text,
    created_at    timestamptz NOT NULL DEFAULT now()
)
"""
"""The one table the workflow uses (applied once per environment, see the stack README)."""


class Store(Protocol):
    def insert_claim(self, claim: dict[str, Any]) -> None: ...
    def save_task_token(self, claim_id: str, token: str) -> bool: ...
    def pending_claim(self, claim_id: str) -> PendingClaim | None: ...
    def record_decision(self, claim_id: str, status: str, manager: str) -> None: ...


@dataclass(frozen=True)
class PendingClaim:
    claim_id: str
    claimant: str
    task_token: str


@functools.cache
def rds_data() -> Any:
    return boto3.client("rds-data")


def _param(name: str, value: str, type_hint: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "value": {"stringValue": value}}
    if type_hint:
        out["typeHint"] = type_hint
    return out


class DataApiStore:
    """The Data API implementation; every statement is parameterised."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client or rds_data()
        self._target = {
            "resourceArn": os.environ["CLAIMS_CLUSTER_ARN"],
            "secretArn": os.environ["CLAIMS_SECRET_ARN"],
            "database": os.environ["CLAIMS_DATABASE"],
        }

    def _run(self, sql: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        return self._client.execute_statement(**self._target, sql=sql, parameters=params)

    def insert_claim(self, claim: dict[str, Any]) -> None:
        self._run(
            "INSERT INTO claims (claim_id, claimant, flight_number, flight_date, reason, amount, currency) "
            "VALUES (:id, :claimant, :flight, :date, :reason, :amount, :currency)",
            [
                _param("id", claim["claimId"], "UUID"),
                _param("claimant", claim["claimant"]),
                _param("flight", claim["flightNumber"]),
                _param("date", claim["flightDate"], "DATE"),
                _param("reason", claim["reason"]),
                _param("amount", claim["amount"], "DECIMAL"),
                _param("currency", claim["currency"]),
            ],
        )

    def save_task_token(self, claim_id: str, token: str) -> bool:
        result = self._run(
            "UPDATE claims SET task_token = :token, status = 'AWAITING_APPROVAL' "
            "WHERE claim_id = :id AND status = 'SUBMITTED'",
            [_param("token", token), _param("id", claim_id, "UUID")],
        )
        return int(result.get("numberOfRecordsUpdated", 0)) == 1

    def pending_claim(self, claim_id: str) -> PendingClaim | None:
        result = self._run(
            "SELECT claimant, task_token FROM claims WHERE claim_id = :id AND status = 'AWAITING_APPROVAL'",
            [_param("id", claim_id, "UUID")],
        )
        records = result.get("records") or []
        if len(records) != 1:
            return None
        claimant, token = records[0][0].get("stringValue"), records[0][1].get("stringValue")
        if not claimant or not token:
            return None
        return PendingClaim(claim_id, claimant, token)

    def record_decision(self, claim_id: str, status: str, manager: str) -> None:
        self._run(
            "UPDATE claims SET status = :status, decided_by = :manager, task_token = NULL WHERE claim_id = :id",
            [_param("status", status), _param("manager", manager), _param("id", claim_id, "UUID")],
        )
