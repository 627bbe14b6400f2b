"""Cross-tenant proof for the image pipeline's writer sessions: the writer role's tag-keyed policy AND the
handler's literal session policy, evaluated together (both must allow, as AWS intersects them) against requests
for the own tenant, another tenant and the prefix trap (``acme`` vs ``acme-corp``). The documents come from the
component's and the handlers' builders - the ones the stack deploys and the handlers send."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from saas_platform.components.image_pipeline import processor_writer_policy, upload_writer_policy
from saas_platform.handlers import image_processor, image_upload
from saas_platform.handlers._tenant_session import session_policy
from tests.iam_oracle import Request, evaluate

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
RAW = "arn:aws:s3:::aiml-saas-dev-raw-images-123456789012"
PROCESSED = "arn:aws:s3:::aiml-saas-dev-processed-images-123456789012"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ImageMetadata-Dev"
TENANTS = ("acme", "acme-corp", "globex")
ENV = {
    "RAW_BUCKET": "aiml-saas-dev-raw-images-123456789012",
    "RAW_BUCKET_ARN": RAW,
    "PROCESSED_BUCKET": "aiml-saas-dev-processed-images-123456789012",
    "PROCESSED_BUCKET_ARN": PROCESSED,
    "METADATA_TABLE": "ImageMetadata-Dev",
    "METADATA_TABLE_ARN": TABLE,
    "WRITER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/w",
    "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/env",
    "SAAS_REGISTRY_TABLE": "TenantRegistryDev",
    "RETENTION_DAYS": "7",
    "DLQ_URL": "https://sqs/q",
}


def documents(leg: str, tenant: str) -> list[dict[str, Any]]:
    """[writer role policy, session policy] of ``leg``'s session for ``tenant``."""
    if leg == "upload":
        role = upload_writer_policy(
            table_arn=TABLE, raw_bucket_arn=RAW, kms_key_alias="alias/aiml-saas-dev", account_id=ACCOUNT, region=REGION
        )
        scope = image_upload.Settings.from_env(ENV).scope
    else:
        role = processor_writer_policy(
            table_arn=TABLE,
            raw_bucket_arn=RAW,
            processed_bucket_arn=PROCESSED,
            kms_key_alias="alias/aiml-saas-dev",
            account_id=ACCOUNT,
            region=REGION,
        )
        scope = image_processor.Settings.from_env(ENV).scope
    return [role, json.loads(json.dumps(session_policy(tenant, scope)))]


def allowed(leg: str, tenant: str, action: str, resource: str, **context: Any) -> bool:
    ctx = {"aws:PrincipalTag/TenantId": tenant, **context}
    request = Request(action=action, resource=resource, context=ctx)
    return all(evaluate([doc], request) == "Allow" for doc in documents(leg, tenant))


# (leg, action, resource template, context template): what the leg must be able to do for its own tenant
OWN: list[tuple[str, str, str, dict[str, Any]]] = [
    ("upload", "s3:PutObject", f"{RAW}/{{t}}/raw/img-1", {}),
    ("upload", "s3:GetObject", f"{RAW}/{{t}}/raw/img-1", {}),
    ("upload", "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ["TENANT#{t}"]}),
    ("upload", "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ["TENANT#{t}"]}),
    ("processor", "s3:GetObject", f"{RAW}/{{t}}/raw/img-1", {}),
    ("processor", "s3:PutObject", f"{PROCESSED}/{{t}}/processed/img-1/thumbnail.webp", {}),
    ("processor", "dynamodb:UpdateItem", TABLE, {"dynamodb:LeadingKeys": ["TENANT#{t}"]}),
    ("processor", "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ["TENANT#{t}"]}),
]


def _fill(value: Any, t: str) -> Any:
    if isinstance(value, str):
        return value.replace("{t}", t)
    return [_fill(v, t) for v in value]


@pytest.mark.parametrize(("leg", "action", "resource", "context"), OWN)
def test_own_tenant_allowed_other_tenants_and_prefix_trap_denied(
    leg: str, action: str, resource: str, context: dict[str, Any]
) -> None:
    checked = 0
    for session_tenant, target in itertools.product(TENANTS, TENANTS):
        res = resource.replace("{t}", target)
        ctx = {k: _fill(v, target) for k, v in context.items()}
        got = allowed(leg, session_tenant, action, res, **ctx)
        assert got == (session_tenant == target), (leg, action, session_tenant, target)
        checked += 1
    assert checked == 9


@pytest.mark.parametrize("leg", ["upload", "processor"])
def test_mixed_batches_missing_keys_and_table_wide_calls_are_denied(leg: str) -> None:
    write = "dynamodb:PutItem" if leg == "upload" else "dynamodb:UpdateItem"
    assert not allowed(leg, "acme", write, TABLE, **{"dynamodb:LeadingKeys": ["TENANT#acme", "TENANT#globex"]})
    assert not allowed(leg, "acme", write, TABLE)  # no LeadingKeys in the request: the Null guard
    for action in ("dynamodb:Scan", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert not allowed(leg, "acme", action, TABLE, **{"dynamodb:LeadingKeys": ["TENANT#acme"]}), action


def test_processor_cannot_write_raw_images_and_upload_cannot_touch_renditions() -> None:
    assert not allowed("processor", "acme", "s3:PutObject", f"{RAW}/acme/raw/img-1")
    assert not allowed("processor", "acme", "s3:DeleteObject", f"{RAW}/acme/raw/img-1")
    assert not allowed("upload", "acme", "s3:PutObject", f"{PROCESSED}/acme/processed/img-1/rendition.webp")
    assert not allowed("upload", "acme", "s3:GetObject", f"{PROCESSED}/acme/processed/img-1/rendition.webp")
    # the tenant segment is exact: no other layout under the tenant's prefix
    assert not allowed("upload", "acme", "s3:PutObject", f"{RAW}/acme/other/img-1")
    assert not allowed("processor", "acme", "s3:PutObject", f"{PROCESSED}/acme/raw/img-1")


def test_a_wrong_tag_alone_or_a_wrong_session_policy_alone_opens_nothing() -> None:
    """Both scopings are independent: tag globex with acme's session policy (or the reverse) allows neither."""
    request_acme = Request("s3:GetObject", f"{RAW}/acme/raw/img-1", {"aws:PrincipalTag/TenantId": "globex"})
    role, acme_session = documents("processor", "acme")
    assert evaluate([acme_session], request_acme) == "Allow"
    assert evaluate([role], request_acme) == "Deny"  # the role keys on the tag (globex)
    request_globex = Request("s3:GetObject", f"{RAW}/globex/raw/img-1", {"aws:PrincipalTag/TenantId": "globex"})
    assert evaluate([role], request_globex) == "Allow"
    assert evaluate([acme_session], request_globex) == "Deny"  # the session policy names acme literally
