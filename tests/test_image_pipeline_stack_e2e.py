"""Both legs of the image pipeline end to end, wired exactly as each stack plans them.

The other handler tests build their own moto resources and settings. Here the offline plan of ``dev``,
``staging`` and ``prod`` supplies everything. Each function's environment is the one the plan gives it. moto gets
the buckets, queues, tables, registry items, the bucket notification and the writer roles under their planned
names and keys. Then: an upload through the API leg (``image_upload.lambda_handler`` with the request the
authorizer passes) and an MSK record (``msk_consumer.lambda_handler``) both land in the raw bucket. S3 notifies the
queue the processor's event source mapping reads. ``image_processor.lambda_handler`` turns each image into its
renditions and marks its metadata row processed. A name, key or wire that differs between the components (an
environment variable the handler reads but the component does not set, a notification to a queue no mapping reads)
fails here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from saas_platform.components.testing.harness import ProgramRun
from saas_platform.handlers import image_processor as proc
from saas_platform.handlers import image_upload as up
from saas_platform.handlers import msk_consumer as msk
from tests.conftest import run_stack
from tests.image_fixtures import REGION, api_event, image_bytes, sqs_event

UPLOAD = "platform-images-upload-function"
PROCESSOR = "platform-images-processor-function"
CONSUMER = "platform-consumer-image-uploads-handler-function"
FUNCTION = "aws:lambda/function:Function"


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
        yield
    for module in (up, proc, msk):
        module.reset_clients()


@dataclass
class Context:
    """The parts of the Lambda context the handlers' Powertools decorators read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:f"
    aws_request_id: str = "req-1"


def env_of(run: ProgramRun, function: str) -> dict[str, str]:
    """The environment the plan gives ``function`` (every value known: the stacks build them from names)."""
    variables = run.named(function, FUNCTION).inputs["environment"]["variables"]
    assert all(isinstance(v, str) for v in variables.values()), variables
    return dict(variables)


def table_of(run: ProgramRun, name: str) -> dict[str, Any]:
    (table,) = [t.inputs for t in run.of_type("aws:dynamodb/table:Table") if t.inputs["name"] == name]
    return table


def create_table(ddb: Any, planned: dict[str, Any]) -> None:
    """A moto table with the planned name, keys, attributes and global secondary indexes."""
    keys = [{"AttributeName": planned["hashKey"], "KeyType": "HASH"}]
    if planned.get("rangeKey"):
        keys.append({"AttributeName": planned["rangeKey"], "KeyType": "RANGE"})
    extra: dict[str, Any] = {}
    if planned.get("globalSecondaryIndexes"):
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": g["name"],
                "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in g["keySchemas"]],
                "Projection": {"ProjectionType": g["projectionType"]},
            }
            for g in planned["globalSecondaryIndexes"]
        ]
    ddb.create_table(
        TableName=planned["name"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=keys,
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in planned["attributes"]],
        **extra,
    )


def build_from_plan(run: ProgramRun) -> dict[str, str]:
    """Create in moto what the pipeline's legs touch, as planned; return the processor's queue URL."""
    upload_env, processor_env, consumer_env = (env_of(run, f) for f in (UPLOAD, PROCESSOR, CONSUMER))
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    versioned = {
        v.inputs["bucket"]
        for v in run.of_type("aws:s3/bucketVersioning:BucketVersioning")
        if v.inputs["versioningConfiguration"]["status"] == "Enabled"
    }
    for bucket in {
        upload_env["RAW_BUCKET"],
        processor_env["PROCESSED_BUCKET"],
        consumer_env["FAILURE_BUCKET"],
    }:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        if bucket in versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # the metadata table (one for both legs) and the tenant registry with the items the plan writes
    assert upload_env["METADATA_TABLE"] == processor_env["METADATA_TABLE"] == consumer_env["METADATA_TABLE"]
    create_table(ddb, table_of(run, upload_env["METADATA_TABLE"]))
    registry = consumer_env["SAAS_REGISTRY_TABLE"]
    create_table(ddb, table_of(run, registry))
    for item in run.of_type("aws:dynamodb/tableItem:TableItem"):
        if item.inputs["tableName"] == registry:
            ddb.put_item(TableName=registry, Item=json.loads(item.inputs["item"]))
    # the queues (DLQ first: the event queue's redrive names it) and the raw bucket's notification
    queues = {q.inputs["name"]: q.inputs for q in run.of_type("aws:sqs/queue:Queue")}
    dlq_name = processor_env["DLQ_URL"].rsplit("/", 1)[-1]
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    assert dlq_url == processor_env["DLQ_URL"]
    (notification,) = run.of_type("aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["bucket"] == upload_env["RAW_BUCKET"] == consumer_env["RAW_BUCKET"]
    (target,) = notification.inputs["queues"]
    (mapping,) = [
        m
        for m in run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if m.inputs["eventSourceArn"] == target["queueArn"]
    ]
    processor_name = run.named(PROCESSOR, FUNCTION).inputs["name"]
    assert mapping.inputs["functionName"].endswith(f":function:{processor_name}")  # S3 -> queue -> processor
    queue_name = target["queueArn"].rsplit(":", 1)[-1]
    queue_url = sqs.create_queue(
        QueueName=queue_name, Attributes={"RedrivePolicy": queues[queue_name]["redrivePolicy"]}
    )["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=notification.inputs["bucket"],
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": target["queueArn"], "Events": list(target["events"])}]
        },
    )
    for env in (upload_env, processor_env, consumer_env):
        iam.create_role(RoleName=env["WRITER_ROLE_ARN"].rsplit("/", 1)[-1], AssumeRolePolicyDocument="{}")
    return {"queue": queue_url, "dlq": dlq_url}


def with_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for module in (up, proc, msk):
        module.reset_clients()
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        out.extend(got)
    return out


def msk_event(tenant: str, image_id: str, body: bytes, content_type: str) -> dict[str, Any]:
    value = {
        "tenantId": tenant,
        "imageId": image_id,
        "contentType": content_type,
        "data": base64.b64encode(body).decode(),
    }
    record = {
        "topic": "image-uploads",
        "partition": 0,
        "offset": 7,
        "timestamp": 1_700_000_000_000,
        "timestampType": "CREATE_TIME",
        "key": None,
        "value": base64.b64encode(json.dumps(value).encode()).decode(),
        "headers": [],
    }
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": f"arn:aws:kafka:{REGION}:123456789012:cluster/hr-images/abcd-1",
        "bootstrapServers": "b-1.hr.kafka.ap-southeast-1.amazonaws.com:9098",
        "records": {"image-uploads-0": [record]},
    }


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_planned_stack_upload_and_msk_legs_end_processed(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_stack(stack)
    tenants = run.outputs["tenants"]
    uploader, producer = tenants[0], tenants[1]
    urls = build_from_plan(run)
    upload_env, processor_env, consumer_env = (env_of(run, f) for f in (UPLOAD, PROCESSOR, CONSUMER))
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)

    # the API leg: POST /v1/images as the authorizer passes it on (tenant from the verified token)
    with_env(monkeypatch, upload_env)
    answer = up.lambda_handler(
        api_event(image_bytes("JPEG", (1600, 1200)), tenant=uploader, content_type="image/jpeg"),
        Context(run.named(UPLOAD, FUNCTION).inputs["name"]),
    )
    assert answer["statusCode"] == 201, answer
    uploaded = json.loads(answer["body"])["imageId"]

    # the MSK leg: one record of another tenant through the consumer, into the same raw bucket
    with_env(monkeypatch, consumer_env)
    consumed = msk.lambda_handler(
        msk_event(producer, "msk-1", image_bytes("PNG", (640, 480)), "image/png"),
        Context(run.named(CONSUMER, FUNCTION).inputs["name"]),
    )
    assert consumed == {"batchItemFailures": []}
    raw = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=upload_env["RAW_BUCKET"])["Contents"])
    assert raw == sorted([f"{uploader}/raw/{uploaded}", f"{producer}/raw/msk-1"])

    # S3 -> the planned queue -> the processor (its event source mapping reads exactly that queue)
    messages = receive_all(sqs, urls["queue"])
    assert len(messages) == 3  # S3's test event and two ObjectCreated events
    with_env(monkeypatch, processor_env)
    queue_arn = f"arn:aws:sqs:{REGION}:123456789012:{urls['queue'].rsplit('/', 1)[-1]}"
    result = proc.lambda_handler(
        sqs_event(messages, queue_arn),
        Context(run.named(PROCESSOR, FUNCTION).inputs["name"]),
    )
    assert result == {"batchItemFailures": []}
    processed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=processor_env["PROCESSED_BUCKET"])["Contents"])
    assert processed == sorted(
        f"{tenant}/processed/{image}/{kind}.webp"
        for tenant, image in ((uploader, uploaded), (producer, "msk-1"))
        for kind in ("rendition", "thumbnail")
    )
    for tenant, image, width in ((uploader, uploaded, "1600"), (producer, "msk-1", "640")):
        row = ddb.get_item(
            TableName=upload_env["METADATA_TABLE"],
            Key={"TenantId": {"S": f"TENANT#{tenant}"}, "EntityItem": {"S": f"IMAGE#{image}"}},
        )["Item"]
        assert (row["Status"]["S"], row["StatusRank"]["N"], row["Width"]["N"]) == ("processed", "3", width)
    assert receive_all(sqs, urls["dlq"]) == []
