"""Job picker cost against table size: the due-index picker vs a Scan-based picker, same table, same run.

For each table size (default 10,000 and 100,000 jobs) with 1% of the jobs due, both pickers find the due jobs
of one minute against moto DynamoDB:

index - ``JobPicker.due_items`` over every write shard of the sparse ``DueJobs`` index (``DueAt <= now``);
scan  - a ``Scan`` of the table with ``FilterExpression Status = pending AND DueAt <= now`` (what "scan the
        tables for due jobs" means), paginated to the end.

Reported per picker: items read (DynamoDB's ``ScannedCount``, the items a read is billed for), items returned,
and read capacity computed with DynamoDB's rule for eventually consistent Query/Scan (0.5 RCU per 4 KB of the
items read in each page, item sizes counted as DynamoDB counts them: attribute names plus values). moto does not
model capacity (its ``ConsumedCapacity`` is a constant per call), so capacity is computed from what each page
actually read, not taken from moto. Wall-clock time is printed for reference only (moto, not DynamoDB).

    .venv/bin/python benchmarks/job_picker.py [--sizes 10000 100000] [--due-percent 1] [--shards 4]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "ap-southeast-1")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from saas_platform.handlers import job_picker  # noqa: E402
from saas_platform.handlers._jobs import new_job_item  # noqa: E402

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
TENANTS = [f"tenant-{i:03d}" for i in range(50)]


def attr_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return len(str(inner).encode())
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attr_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + attr_size(v) for v in inner)
    return len(str(inner).encode())


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + attr_size(v) for k, v in item.items())


def rcu(page_bytes: int) -> float:
    """Eventually consistent Query/Scan: 0.5 RCU per 4 KB (rounded up) of the items read by the page."""
    return math.ceil(page_bytes / 4096) * 0.5 if page_bytes else 0.5


def load(ddb: Any, table: str, size: int, due_percent: float, shards: int) -> tuple[int, dict[str, int]]:
    """``size`` jobs; every 1/due_percent-th is due (<= NOW), the rest due within the next 30 days."""
    due_every = round(100 / due_percent)
    sizes: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    due = 0
    for n in range(size):
        is_due = n % due_every == 0
        due += is_due
        when = NOW - timedelta(seconds=n % 50) if is_due else NOW + timedelta(minutes=1 + n % 43_200)
        item = new_job_item(
            tenant_id=TENANTS[n % len(TENANTS)],
            job_id=f"job-{n:07d}",
            runner="Employee-Earn-AL",
            due=when,
            shards=shards,
            payload={"employeeId": f"e{n % 5000}", "annualDays": 14, "period": "2026-11"},
            recurrence="rate(1 day)" if n % 3 == 0 else None,
        )
        sizes[f"{item['TenantId']['S']}|{item['EntityItem']['S']}"] = item_size(item)
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            ddb.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        ddb.batch_write_item(RequestItems={table: batch})
    return due, sizes


class Counting:
    """Wraps the DynamoDB client: per page, items read (ScannedCount) and the bytes of those items."""

    def __init__(self, ddb: Any) -> None:
        self.ddb, self.read, self.returned, self.capacity = ddb, 0, 0, 0.0

    def query(self, **kw: Any) -> Any:
        resp = self.ddb.query(**kw)
        self._count(resp, resp.get("Items", []))
        return resp

    def _count(self, resp: dict[str, Any], read_items: list[dict[str, Any]]) -> None:
        self.read += int(resp.get("ScannedCount", 0))
        self.returned += len(resp.get("Items", []))
        self.capacity += rcu(sum(item_size(i) for i in read_items))


def index_picker(ddb: Any, table: str, shards: int) -> Counting:
    counting = Counting(ddb)
    cfg = job_picker.Settings(table=table, shards=shards, lease_seconds=300, runners={}, max_items=10**9)
    picker = job_picker.JobPicker(cfg, counting, None)
    for n in range(shards):
        for _ in picker.due_items(f"DUE#{n}", NOW):
            pass
    return counting


def scan_picker(ddb: Any, table: str, sizes: dict[str, int]) -> Counting:
    """Scan + filter: DynamoDB bills the items the scan read before the filter, so capacity counts them all."""
    counting = Counting(ddb)
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "#st = :pending AND #due <= :now",
        "ExpressionAttributeNames": {"#st": "Status", "#due": "DueAt"},
        "ExpressionAttributeValues": {":pending": {"S": "pending"}, ":now": {"S": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        "Limit": 1000,
    }
    while True:
        resp = ddb.scan(**kwargs)
        counting.read += int(resp.get("ScannedCount", 0))
        counting.returned += len(resp.get("Items", []))
        # Bytes of the items this page read (filtered ones included): the page's key range of the table.
        counting.capacity += rcu(resp.get("ScannedCount", 0) and _page_bytes(resp, sizes))
        if "LastEvaluatedKey" not in resp:
            return counting
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _page_bytes(resp: dict[str, Any], sizes: dict[str, int]) -> int:
    # The page read ScannedCount items; without their identities (filtered out) use the table's mean item size.
    mean = sum(sizes.values()) / len(sizes)
    return round(int(resp["ScannedCount"]) * mean)


def main() -> None:
    parser = argparse.ArgumentParser(description="Job picker cost: due index vs Scan")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due-percent", type=float, default=1.0)
    parser.add_argument("--shards", type=int, default=4)
    a = parser.parse_args()
    print("| jobs | due | picker | items read | items returned | RCU (computed) | seconds (moto) | read vs index |")
    print("|---|---|---|---|---|---|---|---|")
    for size in a.sizes:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="ap-southeast-1")
            table = f"TenantJob{size}"
            ddb.create_table(
                TableName=table,
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
            due, sizes = load(ddb, table, size, a.due_percent, a.shards)
            t0 = time.perf_counter()
            idx = index_picker(ddb, table, a.shards)
            t1 = time.perf_counter()
            scan = scan_picker(ddb, table, sizes)
            t2 = time.perf_counter()
            assert idx.returned == scan.returned == due, (idx.returned, scan.returned, due)
            for label, c, secs in (("index", idx, t1 - t0), ("scan", scan, t2 - t1)):
                ratio = c.read / idx.read if idx.read else float("nan")
                print(
                    f"| {size:,} | {due:,} | {label} | {c.read:,} | {c.returned:,} | {c.capacity:,.1f} | "
                    f"{secs:.2f} | {ratio:.1f}x |"
                )


if __name__ == "__main__":
    main()
