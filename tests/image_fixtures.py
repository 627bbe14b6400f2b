"""Images and a moto pipeline (raw/processed buckets, ImageMetadata, S3 -> SQS notification with a DLQ) shared by
the image handler tests and the benchmark. Images are generated with Pillow; hostile ones are built by hand."""

from __future__ import annotations

import base64
import io
import itertools
import json
import zlib
from dataclasses import dataclass
from typing import Any

import boto3
from PIL import Image

from tests.registry_support import registry_table

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
_counter = itertools.count()


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 480), noise: bool = False, **save: Any) -> bytes:
    if noise:
        import os

        img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        img = Image.new("RGB", size, (40, 120, 200))
        for x in range(0, size[0], 5):
            img.putpixel((x, (x * 7) % size[1]), (255, x % 255, 0))
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def image_of_size(target: int, fmt: str = "PNG") -> bytes:
    """A valid image of roughly ``target`` bytes (random pixels do not compress)."""
    side = max(16, int((target / 3) ** 0.5))
    return image_bytes(fmt, (side, side), noise=True)


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A small, valid PNG header + IDAT announcing a huge 1-bit image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(200)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_scan_png() -> bytes:
    """A PNG whose compressed pixel stream is cut but whose chunks are intact (valid CRCs, IEND present): the
    structure walk and ``verify()`` pass, only decoding finds it (the processor's second line of defence)."""
    img = Image.frombytes(
        "RGB", (400, 300), bytes(range(256)) * (400 * 300 * 3 // 256) + b"\x00" * (400 * 300 * 3 % 256)
    )
    raw = b"".join(b"\x00" + img.tobytes()[y * 1200 : (y + 1) * 1200] for y in range(300))
    data = zlib.compress(raw, 9)
    data = data[: len(data) // 2]

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    ihdr = (400).to_bytes(4, "big") + (300).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Received SQS messages in the shape Lambda's SQS event source delivers them from ``queue_arn``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class Pipeline:
    s3: Any
    ddb: Any
    sqs: Any
    sts: Any
    raw: str
    processed: str
    table: str
    queue_url: str
    dlq_url: str
    writer_role_arn: str
    registry: str = ""
    """The moto tenant registry (acme and globex active)."""

    def upload_env(self, **extra: str) -> dict[str, str]:
        return {
            "RAW_BUCKET": self.raw,
            "METADATA_TABLE": self.table,
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table}",
            "WRITER_ROLE_ARN": self.writer_role_arn,
            "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/env",
            "SAAS_REGISTRY_TABLE": self.registry,
            "RETENTION_DAYS": "7",
            **extra,
        }

    def processor_env(self, **extra: str) -> dict[str, str]:
        return {
            "RAW_BUCKET": self.raw,
            "PROCESSED_BUCKET": self.processed,
            "METADATA_TABLE": self.table,
            "METADATA_TABLE_ARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table}",
            "WRITER_ROLE_ARN": self.writer_role_arn,
            "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/env",
            "DLQ_URL": self.dlq_url,
            "SAAS_REGISTRY_TABLE": self.registry,
            **extra,
        }

    def receive(self, url: str | None = None) -> list[dict[str, Any]]:
        """Every message now in the queue (as the event source mapping would deliver them), deleted."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=url or self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                return out
            for m in got:
                self.sqs.delete_message(QueueUrl=url or self.queue_url, ReceiptHandle=m["ReceiptHandle"])
            out.extend(got)

    def sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """SQS messages in the shape Lambda's SQS event source delivers them."""
        return sqs_event(messages, f"arn:aws:sqs:{REGION}:{ACCOUNT}:images")

    def row(self, tenant: str, image_id: str) -> dict[str, Any] | None:
        return self.ddb.get_item(
            TableName=self.table, Key={"TenantId": {"S": f"TENANT#{tenant}"}, "EntityItem": {"S": f"IMAGE#{image_id}"}}
        ).get("Item")

    def keys(self, bucket: str) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def make_pipeline() -> Pipeline:
    """Call inside ``mock_aws()``."""
    n = next(_counter)
    s3 = boto3.client("s3", region_name=REGION)
    ddb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    raw, processed, table = f"raw-images-{n}", f"processed-images-{n}", f"ImageMetadata{n}"
    for b in (raw, processed):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
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
    dlq = sqs.create_queue(QueueName=f"images-dlq-{n}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"images-{n}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=raw,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    role = iam.create_role(RoleName=f"image-writer-{n}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    registry = registry_table(ddb, f"TenantRegistry{n}", {"acme": "pool-acme", "globex": "pool-globex"})
    return Pipeline(
        s3, ddb, sqs, boto3.client("sts", region_name=REGION), raw, processed, table, queue, dlq, role, registry
    )


def api_event(
    body: bytes | str,
    *,
    tenant: str = "acme",
    sub: str = "u-1",
    key: str | None = "idem-key-0001",
    content_type: str = "image/png",
    binary: bool = True,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API Lambda-proxy event for POST /v1/images after the authorizer allowed it."""
    hdrs = {"Content-Type": content_type, **({"Idempotency-Key": key} if key is not None else {}), **(headers or {})}
    text = (base64.b64encode(body).decode() if binary else body.decode("latin-1")) if isinstance(body, bytes) else body
    return {
        "resource": "/v1/images",
        "path": "/v1/images",
        "httpMethod": "POST",
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "resourcePath": "/v1/images",
            "httpMethod": "POST",
            "stage": "dev",
            "requestId": "r-1",
            "authorizer": {"principalId": f"ap-southeast-1_Pool|{sub}", "tenantId": tenant, "action": "UploadImage"},
            "identity": {"sourceIp": "198.51.100.7"},
        },
        "body": text,
        "isBase64Encoded": binary,
    }
