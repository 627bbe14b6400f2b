"""handlers/image_upload.py and handlers/image_processor.py against moto (S3 -> SQS notifications, DynamoDB,
STS), with API Gateway and SQS events in the shapes AWS documents, hostile inputs, and the no-loss property."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from saas_platform.handlers import _image_checks as checks
from saas_platform.handlers import image_processor as proc
from saas_platform.handlers import image_upload as up
from saas_platform.handlers._tenant_session import TenantSessions
from tests.image_fixtures import (
    REGION,
    SVG,
    Pipeline,
    api_event,
    image_bytes,
    make_pipeline,
    png_bomb,
    truncated_scan_png,
)
from tests.registry_support import put_tenant, registry_table

NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        up.reset_clients()
        proc.reset_clients()
        yield
    up.reset_clients()
    proc.reset_clients()


def upload(p: Pipeline, event: dict[str, Any], **env: str) -> tuple[int, dict[str, Any]]:
    cfg = up.Settings.from_env(p.upload_env(**env))
    answer = up.handle(APIGatewayProxyEvent(event), cfg, p.sts, now=lambda: NOW)
    return answer["statusCode"], json.loads(answer["body"])


def process(p: Pipeline, messages: list[dict[str, Any]] | None = None, **env: str) -> list[proc.Outcome | str]:
    """Deliver the queue's messages (or ``messages``) to the processor core, like the event source mapping."""
    cfg = proc.Settings.from_env(p.processor_env(**env))
    sessions = TenantSessions(cfg.scope, cfg.known_tenants, p.sts)
    out: list[proc.Outcome | str] = []
    for record in p.sqs_event(p.receive() if messages is None else messages)["Records"]:
        try:
            out.append(proc.process_message(record, cfg, sessions, p.sqs, now=lambda: NOW))
        except proc.Retry as exc:
            out.append(f"retry: {exc}")
    return out


def dlq(p: Pipeline) -> list[dict[str, Any]]:
    return [
        {
            **json.loads(m["Body"]),
            "attributes": {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
        }
        for m in p.receive(p.dlq_url)
    ]


# ------------------------------------------------------------------------------------------------- checks


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_every_allowed_format_passes_and_reports_dimensions(fmt: str) -> None:
    info = checks.inspect_image(image_bytes(fmt, (320, 200)))
    assert (info.width, info.height, info.frames) == (320, 200, 1)
    assert (
        info.content_type == {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}[fmt]
    )


def test_jpeg_with_exif_and_progressive_scans_passes() -> None:
    from PIL import Image

    img = Image.new("RGB", (300, 200), (1, 2, 3))
    exif = img.getexif()
    exif[0x010E] = "a description"
    import io

    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, progressive=True)
    assert checks.inspect_image(out.getvalue()).width == 300


@pytest.mark.parametrize(
    ("body", "declared", "reason"),
    [
        (b"", None, "invalid: image is empty"),
        (SVG, "image/svg+xml", "refused: SVG is scriptable XML and is not accepted"),
        (b"  \n" + SVG, None, "refused: SVG is scriptable XML and is not accepted"),
        (b"%PDF-1.7 not an image", None, "wrong type: bytes are not JPEG, PNG, GIF or WebP"),
        (b"GIF89a" + b"\x00" * 3, None, "truncated: GIF header"),
    ],
)
def test_hostile_bytes_are_refused_with_a_precise_reason(body: bytes, declared: str | None, reason: str) -> None:
    with pytest.raises(checks.ImageRejected) as err:
        checks.inspect_image(body, declared)
    assert err.value.reason == reason


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_truncation_and_appended_payloads_are_refused(fmt: str) -> None:
    body = image_bytes(fmt)
    with pytest.raises(checks.ImageRejected, match=r"^truncated"):
        checks.inspect_image(body[:-7])
    with pytest.raises(checks.ImageRejected, match=r"^polyglot: 22 bytes follow the end"):
        checks.inspect_image(body + b"PK\x03\x04" + b"\x00" * 18)  # a ZIP/JAR riding on the image (GIFAR)


def test_markup_inside_a_structurally_valid_image_is_a_polyglot() -> None:
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PNG", pnginfo=info)
    with pytest.raises(checks.ImageRejected, match=r"polyglot: markup \['<script'\]"):
        checks.inspect_image(out.getvalue())


def test_declared_type_must_match_the_bytes() -> None:
    with pytest.raises(
        checks.ImageRejected, match="content mismatch: declared 'image/jpeg' but the bytes are image/png"
    ):
        checks.inspect_image(image_bytes("PNG"), "image/jpeg")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000  # a small file announcing 900 megapixels
    with pytest.raises(checks.ImageRejected, match="decompression bomb"):
        checks.inspect_image(bomb)
    # just over the configured limit also counts (Pillow's warning is raised as an error)
    with pytest.raises(checks.ImageRejected, match="decompression bomb"):
        checks.inspect_image(image_bytes("PNG", (200, 200)), max_pixels=30_000)


def test_truncated_scan_passes_the_walk_but_not_decoding() -> None:
    body = truncated_scan_png()
    checks.inspect_image(body)
    with pytest.raises(checks.ImageRejected, match="truncated or corrupt"):
        checks.decode(body)


# ------------------------------------------------------------------------------------------------- upload


def test_upload_stores_object_and_row_under_the_callers_tenant_and_answers_the_id() -> None:
    p = make_pipeline()
    body = image_bytes("PNG")
    status, answer = upload(p, api_event(body))
    assert status == 201
    assert answer["status"] == "stored"
    assert answer["replayed"] is False
    image_id = answer["imageId"]
    assert image_id.startswith("img-")
    assert len(image_id) == 36
    obj = p.s3.get_object(Bucket=p.raw, Key=f"acme/raw/{image_id}")
    assert obj["Body"].read() == body
    assert obj["Metadata"]["tenant"] == "acme"
    assert obj["ContentType"] == "image/png"
    row = p.row("acme", image_id)
    assert row is not None
    assert (row["Status"]["S"], row["StatusRank"]["N"], row["Owner"]["S"]) == ("stored", "1", "u-1")
    assert (row["Width"]["N"], row["Height"]["N"]) == ("640", "480")
    assert row["ExpiresAt"]["N"] == str(int(NOW) + 7 * 86_400)
    assert p.keys(p.raw) == [f"acme/raw/{image_id}"]


def test_retried_request_never_stores_twice() -> None:
    p = make_pipeline()
    body = image_bytes("JPEG")
    first = upload(p, api_event(body, content_type="image/jpeg"))
    second = upload(p, api_event(body, content_type="image/jpeg"))
    assert first[0] == 201
    assert second[0] == 200
    assert first[1]["imageId"] == second[1]["imageId"]
    assert second[1]["replayed"] is True
    versions = p.s3.list_object_versions(Bucket=p.raw).get("Versions", [])
    assert len(versions) == 1
    assert len(p.ddb.scan(TableName=p.table)["Items"]) == 1


def test_same_key_with_other_bytes_is_409_and_other_callers_do_not_collide() -> None:
    p = make_pipeline()
    assert upload(p, api_event(image_bytes("PNG")))[0] == 201
    assert upload(p, api_event(image_bytes("PNG", (10, 10))))[0] == 409
    other = upload(p, api_event(image_bytes("PNG", (10, 10)), sub="u-2"))  # same key, another user
    assert other[0] == 201
    globex = upload(p, api_event(image_bytes("PNG"), tenant="globex"))
    assert globex[0] == 201
    assert p.keys(p.raw)[-1].startswith("globex/raw/")


@pytest.mark.parametrize(
    ("event_kwargs", "status", "message"),
    [
        ({"body": SVG, "content_type": "image/svg+xml"}, 415, "Content-Type must be one of"),
        ({"body": SVG, "content_type": "image/png"}, 422, "refused: SVG"),
        ({"body": b"MZ\x90\x00 executable", "content_type": "image/png"}, 415, "wrong type"),
        ({"body": b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "content_type": "image/png"}, 422, "truncated"),
        ({"key": None}, 400, "Idempotency-Key header required"),
        ({"key": "short"}, 400, "Idempotency-Key header required"),
        ({"binary": False}, 415, "binary media types"),
        ({"tenant": "initech"}, 403, "Forbidden"),  # not in this environment's registry
        ({"tenant": "Acme"}, 403, "Forbidden"),
    ],
)
def test_hostile_uploads_are_refused_and_nothing_is_stored(
    event_kwargs: dict[str, Any], status: int, message: str
) -> None:
    p = make_pipeline()
    kwargs: dict[str, Any] = {"body": image_bytes("PNG"), **event_kwargs}
    got = upload(p, api_event(kwargs.pop("body"), **kwargs))
    assert got[0] == status
    assert message in got[1]["message"]
    assert p.keys(p.raw) == []
    assert p.ddb.scan(TableName=p.table)["Items"] == []


def test_oversized_inline_upload_is_413_before_decoding() -> None:
    p = make_pipeline()
    body = image_bytes("PNG") + b"\x00" * 5000
    status, answer = upload(p, api_event(body), INLINE_MAX_BYTES="4096")
    assert status == 413
    assert "request a presigned upload" in answer["message"]


def test_tenant_comes_from_the_authorizer_not_the_request() -> None:
    p = make_pipeline()
    event = api_event(image_bytes("PNG"), headers={"X-Tenant-Id": "globex"})
    event["queryStringParameters"] = {"tenantId": "globex"}
    status, answer = upload(p, event)
    assert status == 201
    assert p.keys(p.raw) == [f"acme/raw/{answer['imageId']}"]
    event["requestContext"]["authorizer"] = {}
    assert upload(p, event)[0] == 403


def test_upload_session_is_scoped_to_the_callers_tenant_only() -> None:
    cfg = up.Settings.from_env(make_pipeline().upload_env())
    calls: list[dict[str, Any]] = []

    class Sts:
        def assume_role(self, **kw: Any) -> dict[str, Any]:
            calls.append(kw)
            return {"Credentials": {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}}

    TenantSessions(cfg.scope, cfg.known_tenants, Sts()).get("acme")
    (call,) = calls
    assert call["Tags"] == [{"Key": "TenantId", "Value": "acme"}]
    text = call["Policy"]
    assert "globex" not in text
    doc = json.loads(text)
    resources = [
        r for s in doc["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert f"arn:aws:s3:::{cfg.raw_bucket}/acme/raw/*" in resources
    leading = doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    assert leading == ["TENANT#acme"]
    assert sorted(doc["Statement"][0]["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]


def test_presigned_upload_is_bound_to_the_tenants_key_size_and_type() -> None:
    p = make_pipeline()
    request = json.dumps({"contentType": "image/jpeg", "sizeBytes": 9_000_000})
    status, answer = upload(p, api_event(request, content_type="application/json", binary=False))
    assert status == 201
    assert answer["status"] == "awaiting-upload"
    fields = answer["upload"]["fields"]
    assert fields["key"] == f"acme/raw/{answer['imageId']}"
    assert fields["x-amz-meta-tenant"] == "acme"
    assert fields["Content-Type"] == "image/jpeg"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, 10 * 1024 * 1024] in policy["conditions"]
    assert {"key": f"acme/raw/{answer['imageId']}"} in policy["conditions"]
    assert answer["upload"]["expiresIn"] == 300
    again = upload(p, api_event(request, content_type="application/json", binary=False))
    assert again[0] == 200
    assert again[1]["imageId"] == answer["imageId"]
    too_big = json.dumps({"contentType": "image/jpeg", "sizeBytes": 10 * 1024 * 1024 + 1})
    assert upload(p, api_event(too_big, content_type="application/json", binary=False, key="idem-key-0002"))[0] == 413
    svg = json.dumps({"contentType": "image/svg+xml", "sizeBytes": 100})
    assert upload(p, api_event(svg, content_type="application/json", binary=False, key="idem-key-0003"))[0] == 415


# ------------------------------------------------------------------------------------------------- processing


def test_end_to_end_upload_raw_processed_metadata() -> None:
    p = make_pipeline()
    status, answer = upload(p, api_event(image_bytes("JPEG", (2400, 1600)), content_type="image/jpeg"))
    assert status == 201
    image_id = answer["imageId"]
    outcomes = process(p)  # the notification queue holds S3's test event and the ObjectCreated event
    assert [o.status for o in outcomes if isinstance(o, proc.Outcome)] == ["ignored", "processed"]
    assert p.keys(p.processed) == [
        f"acme/processed/{image_id}/rendition.webp",
        f"acme/processed/{image_id}/thumbnail.webp",
    ]
    import io

    from PIL import Image

    rendition = Image.open(
        io.BytesIO(p.s3.get_object(Bucket=p.processed, Key=f"acme/processed/{image_id}/rendition.webp")["Body"].read())
    )
    thumb = Image.open(
        io.BytesIO(p.s3.get_object(Bucket=p.processed, Key=f"acme/processed/{image_id}/thumbnail.webp")["Body"].read())
    )
    assert rendition.size == (1024, 683)
    assert thumb.size == (256, 171)
    row = p.row("acme", image_id)
    assert row is not None
    assert (row["Status"]["S"], row["StatusRank"]["N"]) == ("processed", "3")
    assert (row["Width"]["N"], row["Height"]["N"], row["DetectedType"]["S"]) == ("2400", "1600", "image/jpeg")
    assert row["ExpiresAt"]["N"] == str(int(NOW) + 7 * 86_400)  # processing never extends the retention
    assert set(row["Renditions"]["M"]) == {"rendition", "thumbnail"}
    assert dlq(p) == []


def test_replayed_and_duplicated_events_never_regress_status_or_rewrite() -> None:
    p = make_pipeline()
    _, answer = upload(p, api_event(image_bytes("PNG")))
    messages = p.receive()
    assert [o.status for o in process(p, messages) if isinstance(o, proc.Outcome)] == ["ignored", "processed"]
    before = p.row("acme", answer["imageId"])
    replay = process(p, messages + messages)  # at-least-once delivery, twice more
    assert [o.status for o in replay if isinstance(o, proc.Outcome)] == ["ignored", "duplicate", "ignored", "duplicate"]
    assert p.row("acme", answer["imageId"]) == before
    assert len(p.s3.list_object_versions(Bucket=p.processed)["Versions"]) == 2


def test_status_never_regresses_from_processed_to_rejected() -> None:
    p = make_pipeline()
    _, answer = upload(p, api_event(image_bytes("PNG")))
    process(p)
    cfg = proc.Settings.from_env(p.processor_env())
    session = TenantSessions(cfg.scope, cfg.known_tenants, p.sts).get("acme")
    proc.mark_rejected(session, f"acme/raw/{answer['imageId']}", "acme", "late poison", cfg=cfg, now=NOW)
    row = p.row("acme", answer["imageId"])
    assert row is not None
    assert row["Status"]["S"] == "processed"


def _s3_message(
    p: Pipeline, key: str, bucket: str | None = None, size: int = 10, name: str = "ObjectCreated:Put"
) -> dict[str, Any]:
    body = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": name,
                "s3": {"bucket": {"name": bucket or p.raw}, "object": {"key": key, "size": size}},
            }
        ]
    }
    return {"MessageId": f"m-{key}", "ReceiptHandle": "rh", "Body": json.dumps(body), "MD5OfBody": "x"}


def test_poison_images_go_to_the_dlq_with_a_reason_and_are_acknowledged() -> None:
    p = make_pipeline()
    cfg = up.Settings.from_env(p.upload_env())
    bombs = {"bomb": png_bomb(), "trunc": truncated_scan_png()}
    for name, body in bombs.items():  # written straight to raw (as a presigned POST could), with a row
        p.s3.put_object(Bucket=p.raw, Key=f"acme/raw/{name}", Body=body, Metadata={"tenant": "acme"})
        p.ddb.put_item(
            TableName=p.table,
            Item={"TenantId": {"S": "TENANT#acme"}, "EntityItem": {"S": f"IMAGE#{name}"}, "StatusRank": {"N": "0"}},
        )
    assert cfg.raw_bucket == p.raw
    outcomes = process(p)
    assert sorted(o.status for o in outcomes if isinstance(o, proc.Outcome)) == [
        "dead-lettered",
        "dead-lettered",
        "ignored",
    ]
    letters = {d["key"]: d for d in dlq(p)}
    assert letters["acme/raw/bomb"]["reason"].startswith("decompression bomb")
    assert letters["acme/raw/trunc"]["reason"].startswith("truncated or corrupt")
    assert letters["acme/raw/bomb"]["attributes"]["tenant"] == "acme"
    assert json.loads(letters["acme/raw/bomb"]["originalBody"])["Records"][0]["eventName"].startswith("ObjectCreated")
    for name in bombs:
        row = p.row("acme", name)
        assert row is not None
        assert row["Status"]["S"] == "rejected"
    assert p.keys(p.processed) == []


@pytest.mark.parametrize(
    ("key", "bucket", "name", "reason"),
    [
        ("initech/raw/i-1", None, "ObjectCreated:Put", "unknown tenant 'initech'"),
        ("tmp/upload.png", None, "ObjectCreated:Put", "is not <tenant>/raw/<imageId>"),
        ("acme/raw/../../globex/raw/g-1", None, "ObjectCreated:Put", "is not <tenant>/raw/<imageId>"),
        ("acme/raw/a-1", "someone-elses-bucket", "ObjectCreated:Put", "is not this pipeline's raw bucket"),
        ("acme/raw/a-1", None, "ObjectRemoved:Delete", "only ObjectCreated is processed"),
        ("acme/raw/big", None, "ObjectCreated:Put", "too large"),
    ],
)
def test_hostile_events_are_dead_lettered(key: str, bucket: str | None, name: str, reason: str) -> None:
    p = make_pipeline()
    p.receive()  # drop the test event
    if key == "acme/raw/big":
        p.ddb.put_item(TableName=p.table, Item={"TenantId": {"S": "TENANT#acme"}, "EntityItem": {"S": "IMAGE#big"}})
    (outcome,) = process(p, [_s3_message(p, key, bucket, size=11 * 1024 * 1024 if "big" in key else 10, name=name)])
    assert isinstance(outcome, proc.Outcome)
    assert outcome.status == "dead-lettered"
    (letter,) = dlq(p)
    assert reason in letter["reason"]


def test_malformed_messages_are_dead_lettered_not_dropped() -> None:
    p = make_pipeline()
    p.receive()
    bad = [
        {"MessageId": "a", "ReceiptHandle": "r", "Body": "not json", "MD5OfBody": "x"},
        {"MessageId": "b", "ReceiptHandle": "r", "Body": json.dumps({"Records": []}), "MD5OfBody": "x"},
        {
            "MessageId": "c",
            "ReceiptHandle": "r",
            "Body": json.dumps({"Records": [{"eventSource": "aws:sns"}]}),
            "MD5OfBody": "x",
        },
    ]
    assert [o.status for o in process(p, bad) if isinstance(o, proc.Outcome)] == ["dead-lettered"] * 3
    assert sorted(d["messageId"] for d in dlq(p)) == ["a", "b", "c"]


def test_event_naming_another_tenants_key_is_refused_by_the_session() -> None:
    p = make_pipeline()
    _, answer = upload(p, api_event(image_bytes("PNG"), tenant="globex"))
    cfg = proc.Settings.from_env(p.processor_env())
    sessions = TenantSessions(cfg.scope, cfg.known_tenants, p.sts)
    acme = sessions.get("acme")
    ref = proc.ObjectRef(p.raw, f"globex/raw/{answer['imageId']}", "globex", answer["imageId"], None, 10)
    with pytest.raises(proc.Poison, match="session of tenant 'acme' refused"):
        proc.process_object(acme, ref, cfg, lambda: NOW)
    # and the sessions the processor asks for name only their own tenant
    sessions.get("globex")
    for request in sessions.requests:
        tenant = request["Tags"][0]["Value"]
        other = {"acme": "globex", "globex": "acme"}[tenant]
        assert other not in request["Policy"]
        assert f"/{tenant}/raw/*" in request["Policy"]
        assert f"/{tenant}/processed/*" in request["Policy"]
    assert p.keys(p.processed) == []


def test_object_whose_metadata_names_another_tenant_is_refused() -> None:
    p = make_pipeline()
    p.ddb.put_item(TableName=p.table, Item={"TenantId": {"S": "TENANT#acme"}, "EntityItem": {"S": "IMAGE#x"}})
    p.s3.put_object(Bucket=p.raw, Key="acme/raw/x", Body=image_bytes("PNG"), Metadata={"tenant": "globex"})
    outcomes = process(p)
    assert [o.status for o in outcomes if isinstance(o, proc.Outcome)] == ["ignored", "dead-lettered"]
    assert "names tenant 'globex'" in dlq(p)[0]["reason"]


def test_missing_row_is_retried_not_dead_lettered() -> None:
    p = make_pipeline()
    p.s3.put_object(Bucket=p.raw, Key="acme/raw/early", Body=image_bytes("PNG"))
    outcomes = process(p)
    assert outcomes[1] == "retry: acme/raw/early: metadata row not written yet"
    assert dlq(p) == []


def test_msk_path_feeds_the_same_processor() -> None:
    """An image stored by the MSK consumer (its own writer session) is processed by the same processor."""
    from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord

    from saas_platform.handlers import msk_consumer as msk

    p = make_pipeline()
    failures = "msk-failures-e2e"
    p.s3.create_bucket(Bucket=failures, CreateBucketConfiguration={"LocationConstraint": REGION})
    cfg = msk.Settings.from_env(
        {
            "RAW_BUCKET": p.raw,
            "FAILURE_BUCKET": failures,
            "METADATA_TABLE": p.table,
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{p.table}",
            "WRITER_ROLE_ARN": p.writer_role_arn,
            "SAAS_REGISTRY_TABLE": registry_table(
                p.ddb,
                "TenantRegistryE2e",
                {"acme": f"{REGION}_Acme", "globex": f"{REGION}_Globex"},
            ),
            "RETENTION_DAYS": "7",
        }
    )
    body = image_bytes("WEBP", (800, 800))
    value = base64.b64encode(
        json.dumps(
            {
                "tenantId": "globex",
                "imageId": "k-1",
                "contentType": "image/webp",
                "data": base64.b64encode(body).decode(),
            }
        ).encode()
    ).decode()
    record = KafkaEventRecord(
        {
            "topic": "image-uploads",
            "partition": 0,
            "offset": 1,
            "timestamp": 1,
            "timestampType": "CREATE_TIME",
            "key": None,
            "value": value,
            "headers": [],
        }
    )
    result = msk.process_records([record], cfg, s3=p.s3, sts=p.sts, now=lambda: NOW)
    assert result.count("stored") == 1
    outcomes = process(p)
    assert [o.status for o in outcomes if isinstance(o, proc.Outcome)] == ["ignored", "processed"]
    assert p.keys(p.processed) == ["globex/processed/k-1/rendition.webp", "globex/processed/k-1/thumbnail.webp"]
    row = p.row("globex", "k-1")
    assert row is not None
    assert row["Status"]["S"] == "processed"
    assert row["SourceTopic"]["S"] == "image-uploads"


def test_lambda_entry_point_reports_only_transient_failures() -> None:
    p = make_pipeline()
    for k, v in p.processor_env().items():
        os.environ[k] = v
    proc.reset_clients()
    _, answer = upload(p, api_event(image_bytes("PNG")))
    p.s3.put_object(Bucket=p.raw, Key="acme/raw/no-row", Body=image_bytes("PNG"))
    messages = p.receive()
    messages.append(_s3_message(p, "tmp/x"))
    event = p.sqs_event(messages)

    class Ctx:
        function_name = "AIML-SaaS-ImageProcessor-Dev"
        memory_limit_in_mb = 1024
        invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:AIML-SaaS-ImageProcessor-Dev"
        aws_request_id = "req-1"

    result = proc.lambda_handler(event, Ctx())
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    no_row = next(m["MessageId"] for m in messages if "no-row" in m["Body"])
    assert failed == [no_row]
    row = p.row("acme", answer["imageId"])
    assert row is not None
    assert row["Status"]["S"] == "processed"
    assert [d["key"] for d in dlq(p)] == ["tmp/x"]
    for k in p.processor_env():
        os.environ.pop(k, None)


# ------------------------------------------------------------------------------------------------- no loss

HOSTILE = {
    "svg": (SVG, "image/png"),
    "pdf": (b"%PDF-1.4 junk", "image/png"),
    "truncated-png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "image/png"),
    "appended": (image_bytes("GIF") + b"PK\x03\x04zip", "image/gif"),
    "mismatch": (image_bytes("PNG"), "image/jpeg"),
    "bomb": (png_bomb(), "image/png"),
}
GOOD = {
    "png": (image_bytes("PNG", (300, 200)), "image/png"),
    "jpeg": (image_bytes("JPEG", (200, 300)), "image/jpeg"),
    "gif": (image_bytes("GIF", (64, 64)), "image/gif"),
    "webp": (image_bytes("WEBP", (128, 96)), "image/webp"),
}
DIRECT_POISON = {"trunc-scan": truncated_scan_png(), "bomb-direct": png_bomb()}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    uploads=st.lists(
        st.tuples(
            st.sampled_from(sorted(GOOD) + sorted(HOSTILE)),
            st.sampled_from(["acme", "globex"]),
            st.integers(min_value=0, max_value=3),  # idempotency key: small range forces retries and conflicts
        ),
        min_size=1,
        max_size=8,
    ),
    direct=st.lists(st.sampled_from(sorted(DIRECT_POISON)), max_size=2),
    duplicate_delivery=st.booleans(),
)
def test_no_loss_every_accepted_upload_ends_processed_or_dead_lettered_with_a_reason(
    uploads: list[tuple[str, str, int]], direct: list[str], duplicate_delivery: bool
) -> None:
    with mock_aws():
        p = make_pipeline()
        accepted: dict[tuple[str, str], None] = {}
        for name, tenant, key in uploads:
            body, ctype = {**GOOD, **HOSTILE}[name]
            status, answer = upload(p, api_event(body, tenant=tenant, content_type=ctype, key=f"idem-key-{key:04d}"))
            if name in HOSTILE:
                assert status in (409, 413, 415, 422), (name, status, answer)
            if status in (200, 201):
                accepted[(tenant, answer["imageId"])] = None
        for i, name in enumerate(direct):  # bytes that only a presigned POST could bring in
            image_id = f"direct-{i}"
            p.ddb.put_item(
                TableName=p.table,
                Item={
                    "TenantId": {"S": "TENANT#acme"},
                    "EntityItem": {"S": f"IMAGE#{image_id}"},
                    "StatusRank": {"N": "0"},
                },
            )
            p.s3.put_object(Bucket=p.raw, Key=f"acme/raw/{image_id}", Body=DIRECT_POISON[name])
            accepted[("acme", image_id)] = None
        messages = p.receive()
        outcomes = process(p, messages + (messages if duplicate_delivery else []))
        assert not [o for o in outcomes if isinstance(o, str)], outcomes  # nothing left for retry
        letters = {d["key"]: d["reason"] for d in dlq(p)}
        processed = set(p.keys(p.processed))
        for tenant, image_id in accepted:
            key = f"{tenant}/raw/{image_id}"
            row = p.row(tenant, image_id)
            assert row is not None
            if key in letters:
                assert letters[key]
                assert row["Status"]["S"] == "rejected"
            else:
                assert row["Status"]["S"] == "processed", (key, row)
                assert f"{tenant}/processed/{image_id}/thumbnail.webp" in processed
        assert len(p.ddb.scan(TableName=p.table)["Items"]) == len(accepted)


# ------------------------------------------------------------------------------------------- tenant registry


@pytest.mark.parametrize("status", ["suspended", "offboarded"])
def test_a_tenant_not_active_in_the_registry_cannot_upload_or_be_processed(status: str) -> None:
    """No tenant list is deployed with the functions: the registry says who may write, before any session."""
    p = make_pipeline()
    put_tenant(p.ddb, p.registry, "acme", "pool-acme", status=status)
    assert upload(p, api_event(image_bytes("PNG")))[0] == 403
    assert p.keys(p.raw) == []
    p.receive()  # drop the test event
    (outcome,) = process(p, [_s3_message(p, "acme/raw/a-1", None, size=10, name="ObjectCreated:Put")])
    assert isinstance(outcome, proc.Outcome)
    assert outcome.status == "dead-lettered"
    (letter,) = dlq(p)
    assert "unknown tenant 'acme'" in letter["reason"]
    assert p.keys(p.processed) == []


def test_the_registry_unreachable_refuses_uploads_and_retries_processing() -> None:
    """Fail closed: with the registry unset (or unreadable with nothing cached) nothing is stored or processed;
    the upload answers 503 (retry with the same key), the processor retries the message."""
    p = make_pipeline()
    status, body = upload(p, api_event(image_bytes("PNG")), SAAS_REGISTRY_TABLE="")
    assert status == 503, body
    assert p.keys(p.raw) == []
    p.receive()
    (outcome,) = process(
        p, [_s3_message(p, "acme/raw/a-1", None, size=10, name="ObjectCreated:Put")], SAAS_REGISTRY_TABLE=""
    )
    assert isinstance(outcome, str)
    assert outcome.startswith("retry: tenant registry")
    assert dlq(p) == []


def test_the_functions_read_the_registry_table_and_no_tenant_list() -> None:
    p = make_pipeline()
    for cfg in (up.Settings.from_env(p.upload_env()), proc.Settings.from_env(p.processor_env())):
        assert cfg.registry_table == p.registry
        assert "acme" in cfg.known_tenants
        assert "initech" not in cfg.known_tenants
        assert "system" not in cfg.known_tenants
