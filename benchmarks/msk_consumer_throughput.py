"""MSK consumer throughput: records per second for one 500-record batch against moto, batched vs single writes.

Both modes run the real ``saas_platform.handlers.msk_consumer.process_records`` in the same process, against fresh moto
S3/DynamoDB/STS resources per repetition, with the same 500 records (two tenants, 1 KiB PNG each):

  batched - per tenant: one BatchGetItem per 100 keys, then conditional TransactWriteItems of up to 100 rows
            (``METADATA_WRITE_MODE=batched``);
  single  - one conditional PutItem per record (the baseline and the handler's default).

S3 writes are one PutObject per record in both modes (S3 has no batch put). moto runs in-process, so the
figures measure the handler's own work plus moto's, not AWS latency: the API-call counts printed alongside
are what transfers to AWS, where every call costs a network round trip. ``--rtt-ms N`` adds N ms of sleep to
every API call (a stated assumption, not a measurement of AWS) to show how the modes compare once round trips
cost something.

    .venv/bin/python benchmarks/msk_consumer_throughput.py [--records 500] [--repeat 5] [--rtt-ms 0]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "POWERTOOLS_METRICS_NAMESPACE": "saas",
    }
)

import boto3  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord  # noqa: E402
from botocore.client import BaseClient  # noqa: E402
from moto import mock_aws  # noqa: E402

from saas_platform.handlers import msk_consumer as h  # noqa: E402

REGION = "ap-southeast-1"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(1016)
_n = itertools.count()


def records(count: int) -> list[KafkaEventRecord]:
    out = []
    for i in range(count):
        tenant = ("acme", "globex")[i % 2]
        value = {
            "tenantId": tenant,
            "imageId": f"img-{i:05d}",
            "contentType": "image/png",
            "data": base64.b64encode(PNG).decode(),
        }
        out.append(
            KafkaEventRecord(
                {
                    "topic": "image-uploads",
                    "partition": i % 4,
                    "offset": i,
                    "timestamp": 1_700_000_000_000 + i,
                    "timestampType": "CREATE_TIME",
                    "key": None,
                    "headers": [],
                    "value": base64.b64encode(json.dumps(value).encode()).decode(),
                }
            )
        )
    return out


def environment(mode: str) -> tuple[h.Settings, Any, Any, Counter[str]]:
    n = next(_n)
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    for bucket in (f"raw-{n}", f"failures-{n}"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    ddb.create_table(
        TableName=f"ImageMetadata{n}",
        KeySchema=[
            {"AttributeName": "TenantId", "KeyType": "HASH"},
            {"AttributeName": "EntityItem", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "TenantId", "AttributeType": "S"},
            {"AttributeName": "EntityItem", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    role = iam.create_role(RoleName=f"writer-{n}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    cfg = h.Settings.from_env(
        {
            "RAW_BUCKET": f"raw-{n}",
            "FAILURE_BUCKET": f"failures-{n}",
            "METADATA_TABLE": f"ImageMetadata{n}",
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/ImageMetadata{n}",
            "WRITER_ROLE_ARN": role,
            "KNOWN_TENANTS": "acme,globex",
            "RETENTION_DAYS": "7",
            "METADATA_WRITE_MODE": mode,
        }
    )
    return cfg, s3, boto3.client("sts", region_name=REGION), CALLS


CALLS: Counter[str] = Counter()
RTT_SECONDS = [0.0]
_original_call = BaseClient._make_api_call


def _counting_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    """Count every API call of every client (the tenant sessions' clients included)."""
    CALLS[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
    if RTT_SECONDS[0]:
        time.sleep(RTT_SECONDS[0])
    return _original_call(self, operation_name, api_params)


BaseClient._make_api_call = _counting_call


def run_once(mode: str, batch: list[KafkaEventRecord]) -> tuple[float, Counter[str], Counter[str]]:
    cfg, s3, sts, calls = environment(mode)
    calls.clear()
    started = time.perf_counter()
    result = h.process_records(batch, cfg, s3=s3, sts=sts)
    elapsed = time.perf_counter() - started
    calls = Counter(calls)
    statuses = Counter(o.status for o in result.outcomes.values())
    if statuses != Counter({"stored": len(batch)}):
        raise SystemExit(f"{mode}: expected every record stored, got {dict(statuses)}")
    return elapsed, calls, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="simulated round trip added to every API call")
    opts = parser.parse_args()
    batch = records(opts.records)
    rates: dict[str, list[float]] = {"batched": [], "single": []}
    api: dict[str, Counter[str]] = {}
    with mock_aws():
        run_once("batched", batch[:10])  # warm moto and boto3 model loading outside the timings
        RTT_SECONDS[0] = opts.rtt_ms / 1000
        for _ in range(opts.repeat):
            for mode in ("single", "batched"):  # interleaved, so drift hits both
                elapsed, calls, _ = run_once(mode, batch)
                rates[mode].append(opts.records / elapsed)
                api[mode] = calls
    print(
        f"MSK consumer, {opts.records}-record batch, 2 tenants, 1 KiB images, moto in-process, "
        f"simulated RTT {opts.rtt_ms:g} ms per API call, median of {opts.repeat} runs each"
    )
    print(f"{'mode':<9}{'records/s':>12}{'min':>10}{'max':>10}   API calls per batch")
    for mode in ("single", "batched"):
        r = rates[mode]
        ddb = {k.split(":", 1)[1]: v for k, v in sorted(api[mode].items()) if k.startswith("dynamodb:")}
        other = {k: v for k, v in sorted(api[mode].items()) if not k.startswith("dynamodb:")}
        print(f"{mode:<9}{statistics.median(r):>12.0f}{min(r):>10.0f}{max(r):>10.0f}   dynamodb {ddb}; {other}")
    ratio = statistics.median(rates["batched"]) / statistics.median(rates["single"])
    single_calls = sum(v for k, v in api["single"].items() if k.startswith("dynamodb:"))
    batched_calls = sum(v for k, v in api["batched"].items() if k.startswith("dynamodb:"))
    print(
        f"batched / single throughput: {ratio:.2f}x; DynamoDB calls {batched_calls} vs {single_calls} "
        f"({single_calls / max(batched_calls, 1):.0f}x fewer round trips)"
    )


if __name__ == "__main__":
    main()
