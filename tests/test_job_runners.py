"""handlers/job_runners.py against moto DynamoDB/STS/SNS: real domain logic, idempotent replays, tenant scoping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from saas_platform.handlers import job_runners as r
from saas_platform.handlers._jobs import JobError
from saas_platform.handlers._registry import RegistryUnavailable
from tests.iam_oracle import Request, evaluate
from tests.registry_support import put_tenant, registry_table

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
TABLES = ("Employment", "Leave", "WorkSchedule", "TimeAttendance", "TenantJob", "PIM", "Payroll")
REGISTRY = "TenantRegistryDev"


def arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}Dev"


@pytest.fixture(autouse=True)
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        for t in TABLES:
            ddb.create_table(
                TableName=f"{t}Dev",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("TenantId", "EntityItem")],
                KeySchema=[
                    {"AttributeName": "TenantId", "KeyType": "HASH"},
                    {"AttributeName": "EntityItem", "KeyType": "RANGE"},
                ],
            )
        registry_table(ddb, REGISTRY, {"acme": "pool-acme", "globex": "pool-globex"})
        put_tenant(ddb, REGISTRY, "system", "pool-system", policy_store_id=None)
        r.reset_clients()
        yield ddb
    r.reset_clients()


def cfg(runner: str, **kw: Any) -> r.Settings:
    base: dict[str, Any] = {
        "runner": runner,
        "tables": {t: {"name": f"{t}Dev", "arn": arn(t)} for t in TABLES},
        "registry_table": REGISTRY,
        "writer_role_arn": f"arn:aws:iam::{ACCOUNT}:role/writer",
    }
    return r.Settings(**{**base, **kw})


def event(
    runner: str, payload: dict[str, Any], tenant: str = "acme", job: str = "j1", due: str = "2026-12-01T00:00:00Z"
) -> r.RunnerEvent:
    raw = {"tenantId": tenant, "jobId": job, "dueAt": due, "runner": runner, "attempt": 1, "payload": payload}
    return r.parse_event(raw, cfg(runner))


def item(ddb: Any, table: str, tenant: str, sk: str) -> dict[str, Any] | None:
    key = {"TenantId": {"S": f"TENANT#{tenant}"}, "EntityItem": {"S": sk}}
    return ddb.get_item(TableName=f"{table}Dev", Key=key, ConsistentRead=True).get("Item")


# ------------------------------------------------------------------------------------- Employee-Earn-AL


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"employeeId": "e1", "annualDays": 14, "period": "2026-11"}, Decimal("1.17")),  # 14/12
        ({"employeeId": "e1", "annualDays": 12, "period": "2026-02"}, Decimal("1.00")),
        # joined on the 16th of a 30-day month: 15 of 30 days
        ({"employeeId": "e1", "annualDays": 12, "period": "2026-11", "startDate": "2026-11-16"}, Decimal("0.50")),
        ({"employeeId": "e1", "annualDays": 12, "period": "2026-11", "endDate": "2026-10-31"}, Decimal("0.00")),
    ],
)
def test_monthly_accrual_is_prorated_by_days_employed(payload: dict[str, Any], expected: Decimal) -> None:
    assert r.monthly_accrual(r.AccrualPayload.model_validate(payload)) == expected


def test_accrual_is_written_once_per_month_even_when_replayed(ddb: Any) -> None:
    c = cfg("Employee-Earn-AL")
    nov = event("Employee-Earn-AL", {"employeeId": "e1", "annualDays": 14, "period": "2026-11"})
    dec = event(
        "Employee-Earn-AL", {"employeeId": "e1", "annualDays": 14, "period": "2026-12"}, due="2027-01-01T00:00:00Z"
    )
    assert r.run_earn_al(nov, c, ddb, NOW)["status"] == "accrued"
    assert r.run_earn_al(nov, c, ddb, NOW)["status"] == "duplicate"  # at-least-once delivery
    assert r.run_earn_al(dec, c, ddb, NOW)["status"] == "accrued"
    balance = item(ddb, "Leave", "acme", "BALANCE#AL#e1")
    assert balance is not None
    assert Decimal(balance["Balance"]["N"]) == Decimal("2.34")
    assert sorted(balance["AccruedPeriods"]["SS"]) == ["2026-11", "2026-12"]


# ---------------------------------------------------------------------------------------------- CRUD-Item


def test_crud_item_updates_one_item_under_its_version_and_a_replay_is_a_duplicate(ddb: Any) -> None:
    ddb.put_item(
        TableName="EmploymentDev",
        Item={"TenantId": {"S": "TENANT#acme"}, "EntityItem": {"S": "EMPLOYEE#e1"}, "Version": {"N": "3"}},
    )
    ev = event(
        "CRUD-Item", {"table": "Employment", "entityItem": "EMPLOYEE#e1", "set": {"Grade": "G5"}, "expectedVersion": 3}
    )
    c = cfg("CRUD-Item")
    assert r.run_crud_item(ev, c, ddb, NOW) == {"status": "updated", "version": 4}
    assert r.run_crud_item(ev, c, ddb, NOW) == {"status": "duplicate"}
    row = item(ddb, "Employment", "acme", "EMPLOYEE#e1")
    assert row is not None
    assert row["Grade"] == {"S": "G5"}
    assert row["Version"] == {"N": "4"}
    stale = event(
        "CRUD-Item",
        {"table": "Employment", "entityItem": "EMPLOYEE#e1", "set": {"Grade": "G6"}, "expectedVersion": 3},
        job="j2",
    )
    with pytest.raises(JobError, match="at version 4, expected version 3"):
        r.run_crud_item(stale, c, ddb, NOW)
    missing = event("CRUD-Item", {"table": "PIM", "entityItem": "X#1", "set": {"A": 1}, "expectedVersion": 0}, job="j3")
    with pytest.raises(JobError, match="missing"):
        r.run_crud_item(missing, c, ddb, NOW)  # never creates items


@pytest.mark.parametrize("attr", ["TenantId", "EntityItem", "Version", "LastJobRun"])
def test_crud_item_refuses_to_set_keys_and_managed_attributes(ddb: Any, attr: str) -> None:
    ev = event("CRUD-Item", {"table": "Leave", "entityItem": "X", "set": {attr: "TENANT#globex"}, "expectedVersion": 0})
    with pytest.raises(JobError, match="may not set"):
        r.run_crud_item(ev, cfg("CRUD-Item"), ddb, NOW)


def test_crud_item_refuses_tenantjob_table() -> None:
    event_ = event("CRUD-Item", {"table": "TenantJob", "entityItem": "JOB#x", "set": {"A": 1}, "expectedVersion": 0})
    with pytest.raises(JobError, match="payload invalid"):
        r.run_crud_item(event_, cfg("CRUD-Item"), None, NOW)


# ---------------------------------------------------------------------------------- Notification dispatcher


def test_notification_is_published_once_with_the_tenant_and_a_replay_is_a_duplicate(ddb: Any) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="AIML-SaaS-Notifications-Dev")["TopicArn"]
    queue = sqs.create_queue(QueueName="probe")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    c = cfg("Tenant-Notification-Dispatcher", topic_arn=topic)
    ev = event(
        "Tenant-Notification-Dispatcher", {"kind": "clock-out-reminder", "message": "Clock out", "employeeId": "e1"}
    )
    assert r.run_notification(ev, c, ddb, sns, NOW)["status"] == "sent"
    assert r.run_notification(ev, c, ddb, sns, NOW) == {"status": "duplicate"}
    msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 1
    body = json.loads(msgs[0]["Body"])
    assert body["tenantId"] == "acme"
    assert body["runId"] == "j1#2026-12-01T00:00:00Z"
    marker = item(ddb, "TenantJob", "acme", "NOTIFY#j1#2026-12-01T00:00:00Z")
    assert marker is not None
    assert marker["Status"] == {"S": "sent"}


# -------------------------------------------------------------------------------------------- AttGen-Tenant


def test_attgen_tenant_creates_expected_rows_from_schedules_once(ddb: Any) -> None:
    for tenant, emp, days in (("acme", "e1", ["MON", "TUE"]), ("acme", "e2", ["SAT"]), ("globex", "g1", ["MON"])):
        ddb.put_item(
            TableName="WorkScheduleDev",
            Item={
                "TenantId": {"S": f"TENANT#{tenant}"},
                "EntityItem": {"S": f"SCHEDULE#{emp}"},
                "EmployeeId": {"S": emp},
                "Days": {"L": [{"S": d} for d in days]},
                "Start": {"S": "09:00"},
                "End": {"S": "18:00"},
            },
        )
    c = cfg("AttGen-Tenant")
    ev = event("AttGen-Tenant", {"date": "2026-11-30"})  # a Monday
    assert r.run_attgen_tenant(ev, c, ddb, NOW) == {
        "status": "generated",
        "created": 1,
        "existing": 0,
        "notScheduled": 1,
    }
    assert r.run_attgen_tenant(ev, c, ddb, NOW)["existing"] == 1
    assert item(ddb, "TimeAttendance", "acme", "ATT#2026-11-30#e1") is not None
    assert item(ddb, "TimeAttendance", "globex", "ATT#2026-11-30#g1") is None  # other tenant untouched


# -------------------------------------------------------------------------------------------- Job-Runner


def test_contract_end_sets_status_once(ddb: Any) -> None:
    ddb.put_item(TableName="EmploymentDev", Item={"TenantId": {"S": "TENANT#acme"}, "EntityItem": {"S": "EMPLOYEE#e1"}})
    ev = event("Job-Runner", {"employeeId": "e1", "event": "contract-end", "effectiveDate": "2026-12-31"})
    assert r.run_contract(ev, cfg("Job-Runner"), ddb, NOW) == {"status": "ended"}
    assert r.run_contract(ev, cfg("Job-Runner"), ddb, NOW) == {"status": "duplicate"}
    row = item(ddb, "Employment", "acme", "EMPLOYEE#e1")
    assert row is not None
    assert row["EmploymentStatus"] == {"S": "ended"}
    ghost = event("Job-Runner", {"employeeId": "nobody", "event": "contract-start", "effectiveDate": "2026-12-31"})
    with pytest.raises(JobError, match="no Employment item"):
        r.run_contract(ghost, cfg("Job-Runner"), ddb, NOW)


# -------------------------------------------------------------------------------------------- AttGen-System


class FakeLambda:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kw: Any) -> dict[str, Any]:
        self.calls.append({"fn": kw["FunctionName"], "type": kw["InvocationType"], **json.loads(kw["Payload"])})
        return {"StatusCode": 202}


def test_attgen_system_fans_out_per_active_registry_tenant_without_reading_any_pool_table(ddb: Any) -> None:
    put_tenant(ddb, REGISTRY, "hooli", "pool-hooli", status="suspended")
    put_tenant(ddb, REGISTRY, "initech", "pool-initech", status="offboarded")
    c = cfg("AttGen-System", attgen_tenant_function="AIML-SaaS-AttGen-Tenant-Dev")
    raw = {
        "tenantId": "system",
        "jobId": "daily",
        "dueAt": "2026-12-01T00:00:00Z",
        "runner": "AttGen-System",
        "attempt": 1,
        "payload": {"date": "2026-12-01"},
    }
    lam = FakeLambda()
    reads: list[dict[str, Any]] = []

    class Spy:
        def query(self, **kw: Any) -> Any:
            reads.append(kw)
            return ddb.query(**kw)

    assert r.run_attgen_system(r.parse_event(raw, c), c, lam, Spy())["tenants"] == ["acme", "globex"]
    assert {k: v for k, v in reads[0].items() if k != "ExclusiveStartKey"} == {
        "TableName": REGISTRY,
        "IndexName": "byStatus",
        "KeyConditionExpression": "#s = :active",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":active": {"S": "active"}},
    }  # what ListTenantsByStatus allows: Query on the keys-only index, no Scan
    assert [(x["fn"], x["type"], x["tenantId"], x["runner"]) for x in lam.calls] == [
        ("AIML-SaaS-AttGen-Tenant-Dev", "Event", "acme", "AttGen-Tenant"),
        ("AIML-SaaS-AttGen-Tenant-Dev", "Event", "globex", "AttGen-Tenant"),
    ]
    with pytest.raises(JobError, match="only system jobs"):
        r.parse_event({**raw, "tenantId": "acme"}, c)


# ------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            {
                "tenantId": "acme",
                "jobId": "j",
                "dueAt": "2026-12-01T00:00:00Z",
                "runner": "Employee-Earn-AL",
                "attempt": 1,
            },
            "reached",
        ),
        ({"tenantId": "acme", "jobId": "j", "dueAt": "yesterday", "runner": "CRUD-Item", "attempt": 1}, "dueAt"),
        (
            {
                "tenantId": "acme",
                "jobId": "j",
                "dueAt": "2026-12-01T00:00:00Z",
                "runner": "CRUD-Item",
                "attempt": 1,
                "x": 1,
            },
            "x",
        ),
        ({}, "malformed"),
    ],
)
def test_malformed_or_misrouted_events_fail_closed(raw: dict[str, Any], match: str) -> None:
    with pytest.raises(JobError, match=match):
        r.parse_event(raw, cfg("CRUD-Item"))


def test_attgen_system_pages_through_a_large_registry(ddb: Any) -> None:
    """1,000 tenants, one in ten suspended: every active one exactly once (paginated), from keys only."""
    for i in range(1000):
        put_tenant(ddb, REGISTRY, f"t{i:04d}", f"pool-{i}", status="active" if i % 10 else "suspended")
    tenants = r.registry_tenants(REGISTRY, ddb)
    assert len(tenants) == 900 + 2  # 100 suspended left out; acme and globex; never system
    assert tenants == sorted(tenants)
    assert "system" not in tenants
    assert "t0000" not in tenants
    page = ddb.query(
        TableName=REGISTRY,
        IndexName="byStatus",
        KeyConditionExpression="#s = :a",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":a": {"S": "active"}},
        Limit=1,
    )
    assert set(page["Items"][0]) == {"tenantId", "status"}  # keys only: no usage key, no pool id


# ------------------------------------------------------------------------------------- registry check


@pytest.mark.parametrize(
    ("tenant", "status", "match"),
    [
        ("umbrella", None, "not in the tenant registry"),
        ("hooli", "suspended", "is suspended"),
        ("initech", "offboarded", "is offboarded"),
        ("system", "active", "system tenant has no tenant data"),
    ],
)
def test_runners_refuse_tenants_the_registry_does_not_call_active_before_any_session(
    ddb: Any, tenant: str, status: str | None, match: str
) -> None:
    if status is not None and tenant != "system":
        put_tenant(ddb, REGISTRY, tenant, f"pool-{tenant}", status=status)

    class NoSts:
        def assume_role(self, **kw: Any) -> Any:
            raise AssertionError("a refused tenant must never get a session")

    for runner in ("Employee-Earn-AL", "CRUD-Item", "AttGen-Tenant", "Job-Runner", "Tenant-Notification-Dispatcher"):
        r.reset_clients()
        with pytest.raises(JobError, match=match):
            r.tenant_dynamodb(tenant, cfg(runner), NoSts())


def test_a_tenant_suspended_after_its_job_was_scheduled_is_refused_within_one_registry_ttl(ddb: Any) -> None:
    """The registry reader is cached per TTL: a fresh reader (a new execution environment, or after the TTL)
    sees the suspension and refuses."""
    r.check_tenant("acme", cfg("CRUD-Item"))
    put_tenant(ddb, REGISTRY, "acme", "pool-acme", status="suspended")
    r.reset_clients()
    with pytest.raises(JobError, match="is suspended"):
        r.check_tenant("acme", cfg("CRUD-Item"))


def test_the_registry_unset_or_unreachable_refuses_every_tenant_job(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RegistryUnavailable, match="SAAS_REGISTRY_TABLE is not set"):
        r.check_tenant("acme", cfg("CRUD-Item", registry_table=""))

    class Down:
        def get_item(self, **kw: Any) -> Any:
            raise ConnectionError("registry down")

    r.reset_clients()
    with monkeypatch.context() as m:
        m.setattr(r, "registry_client", Down)
        with pytest.raises(RegistryUnavailable, match="unreachable"):
            r.check_tenant("acme", cfg("CRUD-Item"))
    r.reset_clients()


def test_settings_read_the_registry_table_and_no_tenant_list() -> None:
    c = r.Settings.from_env({"RUNNER": "CRUD-Item", "SAAS_REGISTRY_TABLE": " TenantRegistryDev ", "KNOWN_TENANTS": "x"})
    assert c.registry_table == "TenantRegistryDev"
    assert not hasattr(c, "known_tenants")


# ----------------------------------------------------------------------------------------- tenant scoping


@pytest.mark.parametrize(
    ("runner", "action", "table"),
    [
        ("Employee-Earn-AL", "dynamodb:UpdateItem", "Leave"),
        ("CRUD-Item", "dynamodb:UpdateItem", "Payroll"),
        ("AttGen-Tenant", "dynamodb:PutItem", "TimeAttendance"),
        ("AttGen-Tenant", "dynamodb:Query", "WorkSchedule"),
        ("Tenant-Notification-Dispatcher", "dynamodb:PutItem", "TenantJob"),
        ("Job-Runner", "dynamodb:UpdateItem", "Employment"),
    ],
)
def test_session_for_tenant_a_allows_its_rows_and_denies_tenant_b_and_other_tables(
    runner: str, action: str, table: str
) -> None:
    request = r.assume_role_request("acme", cfg(runner))
    assert request["Tags"] == [{"Key": "TenantId", "Value": "acme"}]
    doc = json.loads(request["Policy"])
    assert "globex" not in request["Policy"]
    assert "/index/" not in request["Policy"]

    def decide(act: str, tbl: str, tenant: str) -> str:
        return evaluate([doc], Request(act, arn(tbl), {"dynamodb:LeadingKeys": [f"TENANT#{tenant}"]}))

    assert decide(action, table, "acme") == "Allow"
    assert decide(action, table, "globex") == "Deny"
    assert decide("dynamodb:Scan", table, "acme") == "Deny"
    assert decide("dynamodb:DeleteItem", table, "acme") == "Deny"
    assert (
        evaluate([doc], Request(action, f"{arn('TenantJob')}/index/DueJobs", {"dynamodb:LeadingKeys": ["TENANT#acme"]}))
        == "Deny"
    )


def test_a_runner_session_touches_only_its_tenant_under_moto(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter assumes the writer role for the event's tenant, with that tenant's tag and policy."""
    calls: list[dict[str, Any]] = []
    real = boto3.client("sts", region_name=REGION)

    class Spy:
        def assume_role(self, **kw: Any) -> Any:
            calls.append(kw)
            return real.assume_role(**kw)

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="writer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    c = r.Settings(
        runner="Employee-Earn-AL",
        tables={"Leave": {"name": "LeaveDev", "arn": arn("Leave")}},
        registry_table=REGISTRY,
        writer_role_arn=role,
    )
    with monkeypatch.context() as m:
        m.setattr(r, "settings", lambda: c)
        m.setattr(r, "system_clients", lambda: (Spy(), None, None))

        class Ctx:
            function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = (
                "f",
                256,
                "arn:aws:lambda:x",
                "req",
            )

        raw = {
            "tenantId": "globex",
            "jobId": "acc",
            "dueAt": "2026-12-01T00:00:00Z",
            "runner": "Employee-Earn-AL",
            "attempt": 1,
            "payload": {"employeeId": "g1", "annualDays": 12, "period": "2026-11"},
        }
        assert r.earn_al_handler(raw, Ctx())["status"] == "accrued"  # type: ignore[arg-type]
    assert [c_["Tags"] for c_ in calls] == [[{"Key": "TenantId", "Value": "globex"}]]
    assert "TENANT#globex" in calls[0]["Policy"]
    assert "acme" not in calls[0]["Policy"]
    assert item(ddb, "Leave", "globex", "BALANCE#AL#g1") is not None


def test_session_policy_lets_the_tenant_session_use_the_table_key_only_through_dynamodb() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"
    c = r.Settings(**{**cfg("Employee-Earn-AL").__dict__, "kms_key_arn": key, "region": REGION})
    doc = json.loads(r.assume_role_request("acme", c)["Policy"])
    via = {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
    assert evaluate([doc], Request("kms:Decrypt", key, via)) == "Allow"
    assert evaluate([doc], Request("kms:Decrypt", key, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"})) == "Deny"
    assert evaluate([doc], Request("kms:Decrypt", key)) == "Deny"
