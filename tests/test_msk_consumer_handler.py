"""handlers/msk_consumer.py against moto S3/DynamoDB/STS with AWS-shaped MSK events (isolation invariant 47)."""

from __future__ import annotations

import base64
import functools
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from saas_platform.handlers import msk_consumer as h
from saas_platform.handlers._registry import TenantRegistry
from tests.registry_support import put_tenant, registry_table

REGION = "ap-southeast-1"
TOPIC = "image-uploads"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64
_counter = itertools.count()


@dataclass
class Env:
    cfg: h.Settings
    s3: Any
    ddb: Any
    sts: Any


def _b64(doc: Any) -> str:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return base64.b64encode(raw).decode()


def message(
    tenant: str = "acme", image: str = "img-1", body: bytes = PNG, ctype: str = "image/png", **extra: Any
) -> str:
    doc: dict[str, Any] = {"tenantId": tenant, "imageId": image, "contentType": ctype, **extra}
    if "s3" not in extra:
        doc["data"] = base64.b64encode(body).decode()
    return _b64(doc)


def kafka_record(value: str | None, offset: int, partition: int = 0) -> dict[str, Any]:
    """One record exactly as Lambda delivers MSK records."""
    return {
        "topic": TOPIC,
        "partition": partition,
        "offset": offset,
        "timestamp": 1_700_000_000_000 + offset,
        "timestampType": "CREATE_TIME",
        "key": base64.b64encode(f"k{offset}".encode()).decode(),
        "value": value,
        "headers": [{"producer": [97, 112, 105]}],
    }


def msk_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        grouped.setdefault(f"{r['topic']}-{r['partition']}", []).append(r)
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": f"arn:aws:kafka:{REGION}:123456789012:cluster/hr-images-dev/abcd-s1",
        "bootstrapServers": "b-1.hr.kafka.ap-southeast-1.amazonaws.com:9098",
        "records": grouped,
    }


def records_of(event: dict[str, Any]) -> list[KafkaEventRecord]:
    return [KafkaEventRecord(r) for chunk in event["records"].values() for r in chunk]


def make_env(mode: str = "batched") -> Env:
    n = next(_counter)
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    loc = {"LocationConstraint": REGION}
    raw, failures, source = f"raw-{n}", f"failures-{n}", f"uploads-{n}"
    for b in (raw, failures, source):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration=loc)
    s3.put_bucket_versioning(Bucket=raw, VersioningConfiguration={"Status": "Enabled"})
    table = f"ImageMetadata{n}"
    ddb.create_table(
        TableName=table,
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
    registry = registry_table(ddb, f"TenantRegistry{n}", {"acme": f"{REGION}_Acme", "globex": f"{REGION}_Globex"})
    cfg = h.Settings.from_env(
        {
            "RAW_BUCKET": raw,
            "FAILURE_BUCKET": failures,
            "METADATA_TABLE": table,
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{table}",
            "WRITER_ROLE_ARN": role,
            "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:123456789012:key/k",
            "SAAS_REGISTRY_TABLE": registry,
            "RETENTION_DAYS": "7",
            "MAX_IMAGE_BYTES": "4096",
            "ALLOWED_CONTENT_TYPES": "image/png,image/jpeg",
            "SOURCE_BUCKETS": source,
            "METADATA_WRITE_MODE": mode,
        }
    )
    return Env(cfg, s3, ddb, boto3.client("sts", region_name=REGION))


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "saas",
        "POWERTOOLS_SERVICE_NAME": "MskConsumer",
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        h.reset_clients()
        yield
    h.reset_clients()


def rows(env: Env) -> list[dict[str, Any]]:
    return env.ddb.scan(TableName=env.cfg.table)["Items"]


def rejected_docs(env: Env) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in env.s3.list_objects_v2(Bucket=env.cfg.failure_bucket).get("Contents", []):
        out[obj["Key"]] = json.loads(env.s3.get_object(Bucket=env.cfg.failure_bucket, Key=obj["Key"])["Body"].read())
    return out


def run(env: Env, event: dict[str, Any]) -> h.BatchResult:
    return h.process_records(records_of(event), env.cfg, s3=env.s3, sts=env.sts, now=lambda: 1_700_000_000.0)


@pytest.mark.parametrize("mode", ["batched", "single"])
def test_mixed_batch_good_records_land_and_bad_ones_go_to_failure_bucket_with_reason(mode: str) -> None:
    env = make_env(mode)
    event = msk_event(
        [
            kafka_record(message("acme", "a-1"), 10),
            kafka_record(message("globex", "g-1", JPEG, "image/jpeg"), 11),
            kafka_record(message("initech", "i-1"), 12),  # not in this environment's registry
            kafka_record("not base64 !!", 13),
            kafka_record(_b64(b"{not json"), 14),
            kafka_record(message("acme", "big", PNG + b"\x00" * 5000), 15),  # over MAX_IMAGE_BYTES=4096
            kafka_record(message("acme", "gif", b"GIF89a....", "image/gif"), 16),  # type not allowed
            kafka_record(message("acme", "liar", JPEG, "image/png"), 17),  # bytes are not PNG
            kafka_record(None, 18),
        ]
    )
    result = run(env, event)
    statuses = {rid.offset: o.status for rid, o in result.outcomes.items()}
    assert statuses == {10: "stored", 11: "stored", **{o: "rejected" for o in range(12, 19)}}
    keys = {(r["TenantId"]["S"], r["EntityItem"]["S"]) for r in rows(env)}
    assert keys == {("TENANT#acme", "IMAGE#a-1"), ("TENANT#globex", "IMAGE#g-1")}
    assert env.s3.get_object(Bucket=env.cfg.raw_bucket, Key="acme/raw/a-1")["Body"].read() == PNG
    assert env.s3.get_object(Bucket=env.cfg.raw_bucket, Key="globex/raw/g-1")["Body"].read() == JPEG
    docs = rejected_docs(env)
    assert sorted(docs) == [f"rejected/image-uploads/0/{o}.json" for o in range(12, 19)]
    reasons = {d["offset"]: d["reason"] for d in docs.values()}
    assert "unknown tenant 'initech'" in reasons[12]
    assert reasons[13].startswith("malformed: record value is not base64")
    assert reasons[14].startswith("malformed: record value is not JSON")
    assert reasons[15].startswith("too large")
    assert "content type 'image/gif' not allowed" in reasons[16]
    assert reasons[17] == "content mismatch: bytes are not image/png"
    assert reasons[18] == "malformed: record has no value"
    assert docs["rejected/image-uploads/0/12.json"]["value"] == event["records"]["image-uploads-0"][2]["value"]


def test_suspended_tenant_is_refused_within_one_registry_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env("single")
    clock = [0.0]
    reader = TenantRegistry(env.cfg.registry_table, env.ddb, ttl=60, clock=lambda: clock[0])
    monkeypatch.setattr(h, "tenant_registry", functools.lru_cache(maxsize=1)(lambda _table: reader))
    assert run(env, msk_event([kafka_record(message("acme", "a-1"), 1)])).count("stored") == 1
    put_tenant(env.ddb, env.cfg.registry_table, "acme", f"{REGION}_Acme", status="suspended")
    clock[0] = 61.0  # one TTL later
    result = run(env, msk_event([kafka_record(message("acme", "a-2"), 2)]))
    assert [o.status for o in result.outcomes.values()] == ["rejected"]
    reasons = {d["offset"]: d["reason"] for d in rejected_docs(env).values()}
    assert reasons[2] == "tenant 'acme' is suspended in the tenant registry"
    assert ("TENANT#acme", "IMAGE#a-2") not in {(r["TenantId"]["S"], r["EntityItem"]["S"]) for r in rows(env)}


def test_the_registered_system_tenant_is_not_an_image_tenant() -> None:
    """The system tenant has a registry item (the sign-in triggers serve its pool), yet no images are stored for it."""
    env = make_env("single")
    put_tenant(env.ddb, env.cfg.registry_table, "system", f"{REGION}_System", policy_store_id=None)
    result = run(env, msk_event([kafka_record(message("system", "s-1"), 1)]))
    assert [o.status for o in result.outcomes.values()] == ["rejected"]
    assert rows(env) == []


def test_unreachable_registry_makes_records_retries_not_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env("single")

    class Unreachable:
        def get_item(self, **_: Any) -> Any:
            raise ConnectionError("registry endpoint unreachable")

    reader = TenantRegistry(env.cfg.registry_table, Unreachable())
    monkeypatch.setattr(h, "tenant_registry", functools.lru_cache(maxsize=1)(lambda _table: reader))
    result = run(env, msk_event([kafka_record(message("acme", "a-1"), 1)]))
    outcome = next(iter(result.outcomes.values()))
    assert outcome.status == "retry"
    assert "tenant registry unreachable" in outcome.reason
    assert rows(env) == []


def test_metadata_row_has_ttl_of_retention_days_and_source_position() -> None:
    env = make_env()
    run(env, msk_event([kafka_record(message("acme", "a-1"), 7, partition=3)]))
    (row,) = rows(env)
    assert row["ExpiresAt"]["N"] == str(1_700_000_000 + 7 * 86_400)
    assert (row["SourceTopic"]["S"], row["SourcePartition"]["N"], row["SourceOffset"]["N"]) == (TOPIC, "3", "7")
    assert row["ObjectKey"]["S"] == "acme/raw/a-1"
    assert row["SizeBytes"]["N"] == str(len(PNG))


@pytest.mark.parametrize("mode", ["batched", "single"])
def test_duplicate_delivery_has_a_single_effect(mode: str) -> None:
    env = make_env(mode)
    event = msk_event([kafka_record(message("acme", "a-1"), 1), kafka_record(message("globex", "g-1"), 2)])
    first = run(env, event)
    before = rows(env)
    second = h.process_records(records_of(event), env.cfg, s3=env.s3, sts=env.sts, now=lambda: 1_800_000_000.0)
    assert {o.status for o in first.outcomes.values()} == {"stored"}
    assert {o.status for o in second.outcomes.values()} == {"duplicate"}
    assert rows(env) == before  # StoredAt/ExpiresAt not overwritten by the redelivery
    versions = env.s3.list_object_versions(Bucket=env.cfg.raw_bucket, Prefix="acme/raw/a-1")["Versions"]
    assert len(versions) == 1  # If-None-Match: no second version


@pytest.mark.parametrize("mode", ["batched", "single"])
def test_same_image_twice_in_one_batch_is_stored_once(mode: str) -> None:
    env = make_env(mode)
    result = run(env, msk_event([kafka_record(message("acme", "a-1"), 1), kafka_record(message("acme", "a-1"), 2)]))
    assert sorted(o.status for o in result.outcomes.values()) == ["duplicate", "stored"]
    assert len(rows(env)) == 1


def test_same_image_id_with_different_content_is_rejected_not_overwritten() -> None:
    env = make_env()
    run(env, msk_event([kafka_record(message("acme", "a-1", PNG), 1)]))
    other = PNG + b"different"
    result = run(env, msk_event([kafka_record(message("acme", "a-1", other), 2)]))
    (outcome,) = result.outcomes.values()
    assert outcome.status == "rejected"
    assert outcome.reason.startswith("conflict: acme/raw/a-1 already holds different content")
    assert env.s3.get_object(Bucket=env.cfg.raw_bucket, Key="acme/raw/a-1")["Body"].read() == PNG


class SpySts:
    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, []

    def assume_role(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return self.real.assume_role(**kw)


def test_mixed_tenants_never_write_one_tenants_data_under_the_other() -> None:
    env = make_env()
    spy = SpySts(env.sts)
    env.sts = spy
    tenants = ["acme", "globex"] * 3
    records = [kafka_record(message(t, f"{t}-{i}"), i) for i, t in enumerate(tenants)]
    run(env, msk_event(records))
    for row in rows(env):
        tenant = row["TenantId"]["S"].removeprefix("TENANT#")
        assert row["ImageId"]["S"].startswith(f"{tenant}-")
        assert row["ObjectKey"]["S"].startswith(f"{tenant}/raw/")
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket=env.cfg.raw_bucket)["Contents"]]
    assert all(k.split("/")[0] == k.split("/")[2].split("-")[0] for k in keys)
    # one session per tenant per invocation, each tagged and scoped to its own tenant only
    assert [c["Tags"] for c in spy.calls] == [
        [{"Key": "TenantId", "Value": "acme"}],
        [{"Key": "TenantId", "Value": "globex"}],
    ]
    for call in spy.calls:
        tenant = call["Tags"][0]["Value"]
        other = "globex" if tenant == "acme" else "acme"
        assert other not in call["Policy"]
        assert call["RoleArn"] == env.cfg.writer_role_arn


def test_session_policy_for_tenant_a_cannot_write_under_tenant_b() -> None:
    env = make_env()
    doc = json.loads(h.assume_role_request("acme", env.cfg)["Policy"])
    assert doc["Version"] == "2012-10-17"
    (ddb,) = [s for s in doc["Statement"] if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert sorted(ddb["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"]
    assert ddb["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }
    assert ddb["Resource"] == env.cfg.table_arn
    s3_resources = [
        r
        for s in doc["Statement"]
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        if r.startswith("arn:aws:s3")
    ]
    assert s3_resources == [
        f"arn:aws:s3:::{env.cfg.raw_bucket}/acme/raw/*",
        f"arn:aws:s3:::{next(iter(env.cfg.source_buckets))}/acme/*",
    ]
    assert "globex" not in json.dumps(doc)


def test_pointer_records_are_read_through_the_tenant_prefix_only() -> None:
    env = make_env()
    source = next(iter(env.cfg.source_buckets))
    env.s3.put_object(Bucket=source, Key="acme/uploads/p.png", Body=PNG)
    env.s3.put_object(Bucket=source, Key="globex/uploads/q.png", Body=PNG)
    result = run(
        env,
        msk_event(
            [
                kafka_record(message("acme", "p", s3={"bucket": source, "key": "acme/uploads/p.png"}), 1),
                kafka_record(message("acme", "q", s3={"bucket": source, "key": "globex/uploads/q.png"}), 2),
                kafka_record(message("acme", "r", s3={"bucket": "someone-elses", "key": "acme/r.png"}), 3),
                kafka_record(message("acme", "s", s3={"bucket": source, "key": "acme/missing.png"}), 4),
            ]
        ),
    )
    statuses = {rid.offset: (o.status, o.reason) for rid, o in result.outcomes.items()}
    assert statuses[1][0] == "stored"
    assert statuses[2] == ("rejected", "pointer key 'globex/uploads/q.png' is outside tenant 'acme''s prefix 'acme/'")
    assert statuses[3] == ("rejected", "pointer bucket 'someone-elses' is not an allowed source bucket")
    assert statuses[4][0] == "rejected"
    assert statuses[4][1].startswith("pointer s3://")
    assert env.s3.get_object(Bucket=env.cfg.raw_bucket, Key="acme/raw/p")["Body"].read() == PNG


class FlakyS3:
    """Delegates to moto but throttles writes of chosen keys (a transient error)."""

    def __init__(self, real: Any, fail_keys: set[str]) -> None:
        self.real, self.fail_keys = real, fail_keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_object(self, **kw: Any) -> Any:
        if kw["Key"] in self.fail_keys:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "throttled"}}, "PutObject")
        return self.real.put_object(**kw)


def test_transient_errors_are_reported_for_retry_and_the_rest_lands(monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env()
    original = h.TenantSessions.get

    def flaky(self: h.TenantSessions, tenant_id: str) -> h.TenantSession:
        session = original(self, tenant_id)
        session.s3 = FlakyS3(session.s3, {"acme/raw/slow"})
        return session

    monkeypatch.setattr(h.TenantSessions, "get", flaky)
    failing_failure_bucket = FlakyS3(env.s3, {"rejected/image-uploads/0/3.json"})
    result = h.process_records(
        records_of(
            msk_event(
                [
                    kafka_record(message("acme", "ok"), 1),
                    kafka_record(message("acme", "slow"), 2),
                    kafka_record(message("nobody"), 3),  # rejected, but the failure bucket write is throttled
                ]
            )
        ),
        env.cfg,
        s3=failing_failure_bucket,
        sts=env.sts,
    )
    statuses = {rid.offset: o.status for rid, o in result.outcomes.items()}
    assert statuses == {1: "stored", 2: "retry", 3: "retry"}


def test_lambda_handler_returns_kafka_batch_item_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = make_env()
    for key, value in {
        "RAW_BUCKET": env.cfg.raw_bucket,
        "FAILURE_BUCKET": env.cfg.failure_bucket,
        "METADATA_TABLE": env.cfg.table,
        "METADATA_TABLE_ARN": env.cfg.table_arn,
        "WRITER_ROLE_ARN": env.cfg.writer_role_arn,
        "SAAS_REGISTRY_TABLE": env.cfg.registry_table,
        "RETENTION_DAYS": "7",
    }.items():
        monkeypatch.setenv(key, value)
    h.reset_clients()
    fake_clients = functools.lru_cache(maxsize=1)(
        lambda: (FlakyS3(boto3.client("s3"), {"rejected/image-uploads/1/6.json"}), env.sts)
    )
    monkeypatch.setattr(h, "system_clients", fake_clients)

    @dataclass
    class Context:
        function_name: str = "AIML-SaaS-ImageConsumer-image-uploads-Dev"
        memory_limit_in_mb: int = 1024
        invoked_function_arn: str = "arn:aws:lambda:ap-southeast-1:123456789012:function:f"
        aws_request_id: str = "req-1"

    event = msk_event(
        [kafka_record(message("acme", "a"), 5, partition=1), kafka_record(message("x-y"), 6, partition=1)]
    )
    response = h.lambda_handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": {"partition": "image-uploads-1", "offset": 6}}]}
    (emf,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["service"] == "MskConsumer"
    assert emf["function_name"] == "AIML-SaaS-ImageConsumer-image-uploads-Dev"  # what the alarms select on
    counts = [sum(v if isinstance(v, list) else [v]) for v in (emf["RecordsStored"], emf["RecordsRetried"])]
    assert counts == [1.0, 1.0]


# --------------------------------------------------------------------------------------------- no-loss property

valid_records = st.builds(
    lambda t, i, png: message(t, f"img-{i}", PNG if png else JPEG, "image/png" if png else "image/jpeg"),
    st.sampled_from(["acme", "globex"]),
    st.integers(0, 6),
    st.booleans(),
)
hostile_records = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()),
    st.builds(lambda t: message(t, "x"), st.sampled_from(["initech", "system", "ACME", ""])),
    st.builds(lambda n: message("acme", "big", PNG + b"\x00" * n), st.integers(4100, 6000)),
    st.dictionaries(
        st.sampled_from(["tenantId", "imageId", "contentType", "data", "s3", "extra"]), st.text(max_size=8)
    ).map(_b64),
    st.just(None),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.one_of(valid_records, hostile_records), min_size=1, max_size=25),
    mode=st.sampled_from(["batched", "single"]),
)
def test_every_record_is_stored_or_in_the_failure_path_never_lost(values: list[str | None], mode: str) -> None:
    env = make_env(mode)
    event = msk_event([kafka_record(v, offset) for offset, v in enumerate(values)])
    result = run(env, event)
    stored = result.count("stored", "duplicate")
    failed = result.count("rejected")
    assert result.count("retry") == 0  # moto has no transient errors
    assert len(values) == stored + failed == len(result.outcomes)
    failure_keys = set(rejected_docs(env))
    table_keys = {r["EntityItem"]["S"] for r in rows(env)}
    for rid, outcome in result.outcomes.items():
        if outcome.status == "rejected":
            assert f"rejected/image-uploads/0/{rid.offset}.json" in failure_keys
        else:
            msg = h.decode_message(values[rid.offset])
            assert f"IMAGE#{msg.image_id}" in table_keys
            env.s3.head_object(Bucket=env.cfg.raw_bucket, Key=f"{msg.tenant_id}/raw/{msg.image_id}")


@pytest.mark.parametrize(
    ("tenant", "key"),
    [
        ("acme", "acme2/uploads/p.png"),  # look-alike tenant: "acme" is a prefix of "acme2"
        ("acme", "acme-corp/uploads/p.png"),
        ("acme2", "acme/uploads/p.png"),
        ("acme", "acme"),  # the bare tenant id, no "/"
        ("acme", "acme/../acme2/p.png"),
    ],
)
def test_pointer_check_refuses_look_alike_tenant_prefixes(tenant: str, key: str) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    registry = registry_table(
        ddb,
        f"TenantRegistry{next(_counter)}",
        {t: f"{REGION}_{t.replace('-', '')}" for t in ("acme", "acme2", "acme-corp")},
    )
    cfg = h.Settings.from_env(
        {
            "RAW_BUCKET": "raw",
            "FAILURE_BUCKET": "failures",
            "METADATA_TABLE": "t",
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/t",
            "WRITER_ROLE_ARN": "arn:aws:iam::123456789012:role/writer",
            "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:123456789012:key/k",
            "SAAS_REGISTRY_TABLE": registry,
            "RETENTION_DAYS": "7",
            "MAX_IMAGE_BYTES": "4096",
            "ALLOWED_CONTENT_TYPES": "image/png",
            "SOURCE_BUCKETS": "uploads",
        }
    )
    msg = h.ImageMessage.model_validate(
        {"tenantId": tenant, "imageId": "p", "contentType": "image/png", "s3": {"bucket": "uploads", "key": key}}
    )
    with pytest.raises(h.Rejected, match=r"pointer key .* is outside tenant"):
        h.validate_message(msg, cfg)
    own = h.ImageMessage.model_validate(
        {
            "tenantId": tenant,
            "imageId": "p",
            "contentType": "image/png",
            "s3": {"bucket": "uploads", "key": f"{tenant}/p.png"},
        }
    )
    h.validate_message(own, cfg)  # the tenant's own prefix passes


@pytest.mark.parametrize("mode", ["batched", "single"])
def test_size_limit_is_exact_in_bytes_for_inline_and_pointer_images(mode: str) -> None:
    """MAX_IMAGE_BYTES=4096 is a limit on the image's bytes: 4,096 lands, 4,097 does not, inline or by pointer. The
    inline guard on the base64 text is only a cheap pre-check (it lets up to 3 bytes over through, by design), so
    the exact check must hold after decoding."""
    env = make_env(mode)
    source = next(iter(env.cfg.source_buckets))
    at_limit, over = PNG + b"\x00" * (4096 - len(PNG)), PNG + b"\x00" * (4097 - len(PNG))
    env.s3.put_object(Bucket=source, Key="acme/uploads/at.png", Body=at_limit)
    env.s3.put_object(Bucket=source, Key="acme/uploads/over.png", Body=over)
    result = run(
        env,
        msk_event(
            [
                kafka_record(message("acme", "inline-at", at_limit), 1),
                kafka_record(message("acme", "inline-over", over), 2),
                kafka_record(message("acme", "inline-over-3", over + b"\x00\x00"), 3),
                kafka_record(message("acme", "pointer-at", s3={"bucket": source, "key": "acme/uploads/at.png"}), 4),
                kafka_record(message("acme", "pointer-over", s3={"bucket": source, "key": "acme/uploads/over.png"}), 5),
            ]
        ),
    )
    statuses = {rid.offset: o.status for rid, o in result.outcomes.items()}
    assert statuses == {1: "stored", 2: "rejected", 3: "rejected", 4: "stored", 5: "rejected"}
    reasons = {d["offset"]: d["reason"] for d in rejected_docs(env).values()}
    assert reasons[2] == "too large: image is 4097 bytes; limit 4096"
    assert reasons[3] == "too large: image is 4099 bytes; limit 4096"
    assert reasons[5].startswith("too large")
    assert {r["EntityItem"]["S"] for r in rows(env)} == {"IMAGE#inline-at", "IMAGE#pointer-at"}
    assert len(env.s3.get_object(Bucket=env.cfg.raw_bucket, Key="acme/raw/inline-at")["Body"].read()) == 4096
