"""handlers/job_picker.py against moto DynamoDB: due-index reads, exactly-once claims, leases, recovery."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from saas_platform.handlers import job_picker as picker
from saas_platform.handlers._jobs import new_job_item

REGION = "ap-southeast-1"
TABLE = "TenantJobDev"
T0 = datetime(2026, 12, 3, 6, 0, 0, tzinfo=UTC)
RUNNERS = {
    "Employee-Earn-AL": "AIML-SaaS-Employee-Earn-AL-Dev",
    "CRUD-Item": "AIML-SaaS-CRUD-Item-Dev",
}
_ids = itertools.count()


@dataclass
class FakeLambda:
    """Records asynchronous invokes; ``fail_next`` makes the next N invokes raise like a throttled call."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0

    def invoke(self, **kw: Any) -> dict[str, Any]:
        assert kw["InvocationType"] == "Event"
        if self.fail_next:
            self.fail_next -= 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException"}}, "Invoke")
        self.calls.append({"function": kw["FunctionName"], **json.loads(kw["Payload"])})
        return {"StatusCode": 202}


def create_table(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("TenantId", "EntityItem", "DueShard", "DueAt")
        ],
        KeySchema=[
            {"AttributeName": "TenantId", "KeyType": "HASH"},
            {"AttributeName": "EntityItem", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "DueJobs",
                "KeySchema": [
                    {"AttributeName": "DueShard", "KeyType": "HASH"},
                    {"AttributeName": "DueAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    return


def cfg(shards: int = 3, lease: int = 300) -> picker.Settings:
    return picker.Settings(table=TABLE, shards=shards, lease_seconds=lease, runners=RUNNERS)


def put_job(ddb: Any, tenant: str, due: datetime, *, runner: str = "CRUD-Item", shards: int = 3, **kw: Any) -> str:
    job_id = f"job-{next(_ids)}"
    item = new_job_item(tenant_id=tenant, job_id=job_id, runner=runner, due=due, shards=shards, **kw)
    ddb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(EntityItem)")
    return job_id


def get_job(ddb: Any, tenant: str, job_id: str) -> dict[str, Any]:
    key = {"TenantId": {"S": f"TENANT#{tenant}"}, "EntityItem": {"S": f"JOB#{job_id}"}}
    return ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]


def test_only_due_jobs_are_dispatched_with_the_tenant_from_the_key() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        lam = FakeLambda()
        due = put_job(ddb, "acme", T0 - timedelta(seconds=5), payload={"tenantId": "globex", "x": 1})
        later = put_job(ddb, "acme", T0 + timedelta(seconds=1))
        result = picker.JobPicker(cfg(), ddb, lam).run(T0)
        assert [c["jobId"] for c in lam.calls] == [due]
        (call,) = lam.calls
        assert call["function"] == "AIML-SaaS-CRUD-Item-Dev"
        assert call["tenantId"] == "acme"  # the key decides, not the payload's "tenantId"
        assert call["dueAt"] == "2026-12-03T05:59:55Z"
        assert result.items_read == 1
        done = get_job(ddb, "acme", due)
        assert done["Status"] == {"S": "dispatched"}
        assert "DueShard" not in done
        assert "DueAt" not in done
        assert get_job(ddb, "acme", later)["Status"] == {"S": "pending"}


def test_recurring_job_moves_to_its_next_due_time_and_stays_in_the_index() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        lam = FakeLambda()
        job = put_job(ddb, "globex", T0, runner="Employee-Earn-AL", recurrence="rate(1 day)")
        picker.JobPicker(cfg(), ddb, lam).run(T0)
        item = get_job(ddb, "globex", job)
        assert item["Status"] == {"S": "pending"}
        assert item["DueAt"] == {"S": "2026-12-04T06:00:00Z"}
        assert item["LastDispatchedDue"] == {"S": "2026-12-03T06:00:00Z"}
        picker.JobPicker(cfg(), ddb, lam).run(T0 + timedelta(hours=1))  # not due again yet
        assert len(lam.calls) == 1


def test_unknown_runner_and_malformed_items_are_failed_with_a_reason_not_dropped() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        lam = FakeLambda()
        bad_runner = put_job(ddb, "acme", T0, runner="Drop-Tables")
        broken = new_job_item(tenant_id="acme", job_id="broken", runner="CRUD-Item", due=T0, shards=3)
        broken["Recurrence"] = {"S": "every tuesday"}
        ddb.put_item(TableName=TABLE, Item=broken)
        result = picker.JobPicker(cfg(), ddb, lam).run(T0)
        assert lam.calls == []
        assert result.count("failed") == 2
        first = get_job(ddb, "acme", bad_runner)
        assert first["Status"] == {"S": "failed"}
        assert "allow-list" in first["FailureReason"]["S"]
        second = get_job(ddb, "acme", "broken")
        assert second["Status"] == {"S": "failed"}
        assert "rate(" in second["FailureReason"]["S"]
        assert "DueAt" not in first
        assert "DueAt" not in second


def test_two_pickers_that_read_the_same_item_claim_it_once() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        put_job(ddb, "acme", T0)
        a, b = picker.JobPicker(cfg(), ddb, FakeLambda()), picker.JobPicker(cfg(), ddb, FakeLambda())
        shard_items = [list(a.due_items(f"DUE#{n}", T0)) for n in range(3)]
        (raw,) = [i for items in shard_items for i in items]
        first, second = a.claim(picker.decode(raw), T0), b.claim(picker.decode(raw), T0)
        assert first is not None
        assert second is None


def test_crash_between_claim_and_dispatch_is_recovered_after_the_lease_only() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        job = put_job(ddb, "acme", T0)
        crashed = picker.JobPicker(cfg(lease=300), ddb, FakeLambda())
        (raw,) = [i for n in range(3) for i in crashed.due_items(f"DUE#{n}", T0)]
        assert crashed.claim(picker.decode(raw), T0) is not None  # ... and the picker dies here
        lam = FakeLambda()
        picker.JobPicker(cfg(lease=300), ddb, lam).run(T0 + timedelta(seconds=299))
        assert lam.calls == []  # lease still held
        result = picker.JobPicker(cfg(lease=300), ddb, lam).run(T0 + timedelta(seconds=300))
        assert [(c["jobId"], c["dueAt"], c["attempt"]) for c in lam.calls] == [(job, "2026-12-03T06:00:00Z", 2)]
        assert result.count("recovered") == 1
        assert get_job(ddb, "acme", job)["Status"] == {"S": "dispatched"}


def test_failed_invoke_keeps_the_claim_and_is_retried_after_the_lease() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        job = put_job(ddb, "acme", T0)
        lam = FakeLambda(fail_next=1)
        first = picker.JobPicker(cfg(lease=60), ddb, lam).run(T0)
        assert first.count("dispatch-error") == 1
        assert lam.calls == []
        assert get_job(ddb, "acme", job)["Status"] == {"S": "claimed"}
        picker.JobPicker(cfg(lease=60), ddb, lam).run(T0 + timedelta(seconds=60))
        assert [c["jobId"] for c in lam.calls] == [job]


def test_a_job_whose_dispatch_keeps_failing_is_failed_after_max_attempts() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        job = put_job(ddb, "acme", T0)
        lam = FakeLambda(fail_next=100)
        for minute in range(0, 10):
            picker.JobPicker(cfg(lease=60), ddb, lam).run(T0 + timedelta(minutes=minute))
        item = get_job(ddb, "acme", job)
        assert item["Status"] == {"S": "failed"}
        assert "5 times" in item["FailureReason"]["S"]


def test_lag_is_the_age_of_the_oldest_due_job() -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        put_job(ddb, "acme", T0 - timedelta(seconds=90))
        put_job(ddb, "globex", T0 - timedelta(seconds=10))
        result = picker.JobPicker(cfg(), ddb, FakeLambda()).run(T0)
        assert picker.lag_seconds(result, T0) == 90.0
        assert picker.lag_seconds(picker.PickResult(), T0) == 0.0


def test_settings_from_env_reads_the_allow_list() -> None:
    s = picker.Settings.from_env(
        {"JOBS_TABLE": TABLE, "SHARDS": "4", "LEASE_SECONDS": "120", "RUNNERS": json.dumps(RUNNERS)}
    )
    assert s.shards == 4
    assert s.runners["CRUD-Item"] == "AIML-SaaS-CRUD-Item-Dev"
    with pytest.raises(ValueError, match="RUNNERS must be a JSON object"):
        picker.Settings.from_env({"JOBS_TABLE": TABLE, "SHARDS": "4", "LEASE_SECONDS": "1", "RUNNERS": "[]"})


# ------------------------------------------------------------------------------------- the property

job_spec = st.tuples(
    st.sampled_from(["acme", "globex", "initech"]),
    st.integers(min_value=-240, max_value=420),  # due offset from T0, seconds
    st.sampled_from([None, None, "rate(2 minutes)", "rate(5 minutes)"]),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    jobs=st.lists(job_spec, min_size=1, max_size=12),
    order=st.randoms(use_true_random=False),
    crash_round=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
)
def test_every_due_time_is_dispatched_exactly_once_never_early_never_lost(
    jobs: list[tuple[str, int, str | None]], order: Any, crash_round: int | None
) -> None:
    """Two pickers per minute read the same index, then their claim/dispatch/complete steps interleave in a
    random order; in one round picker A may crash after claiming. Each due time up to the horizon is
    dispatched exactly once, never before it is due; the crashed claims come back after the lease."""
    lease = 120
    rounds = 10
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb)
        expected: Counter[tuple[str, str, str]] = Counter()
        horizon = T0 + timedelta(minutes=rounds - 1)
        for tenant, offset, rate in jobs:
            due = T0 + timedelta(seconds=offset)
            job_id = put_job(ddb, tenant, due, recurrence=rate)
            while due <= horizon - timedelta(seconds=lease + 60):  # late enough to be recovered by the horizon
                expected[(tenant, job_id, due.strftime("%Y-%m-%dT%H:%M:%SZ"))] += 1
                if rate is None:
                    break
                due += timedelta(minutes=int(rate.split("(")[1].split()[0]))
        lam = FakeLambda()
        config = cfg(lease=lease)
        dispatched_at: list[tuple[tuple[str, str, str], datetime]] = []
        for r in range(rounds):
            now = T0 + timedelta(minutes=r)
            a, b = picker.JobPicker(config, ddb, lam), picker.JobPicker(config, ddb, lam)
            reads = {
                name: [i for n in range(config.shards) for i in p.due_items(f"DUE#{n}", now)]
                for name, p in (("a", a), ("b", b))
            }
            steps = [(name, raw) for name, items in reads.items() for raw in items]
            order.shuffle(steps)
            before = len(lam.calls)
            for name, raw in steps:
                p = a if name == "a" else b
                item = picker.decode(raw)
                claim = p.claim(item, now)
                if claim is None:
                    continue
                if name == "a" and crash_round == r:
                    continue  # crashed after the claim: no dispatch, no completion
                p.dispatch(claim)
                assert p.complete(claim, now)
            for call in lam.calls[before:]:
                dispatched_at.append(((call["tenantId"], call["jobId"], call["dueAt"]), now))
        seen = Counter(key for key, _ in dispatched_at)
        for key, when in dispatched_at:
            assert when >= datetime.strptime(key[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), f"early: {key}"
        duplicates = {k: n for k, n in seen.items() if n > 1}
        assert not duplicates, f"dispatched more than once: {duplicates}"
        missing = {k for k in expected if k not in seen}
        assert not missing, f"never dispatched: {sorted(missing)}"
