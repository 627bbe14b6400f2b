"""The pure IAM builders (components/iam.py): exact documents, parliament lint, sizes and bad input.
Actions and condition keys are spelled literally here."""

from __future__ import annotations

import json

import pytest
from parliament import analyze_policy_string

from saas_platform.components import iam

EMP = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/EmploymentDev"
LEAVE = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/LeaveDev"
BUCKET = "arn:aws:s3:::saas-documents-dev"
POOL = "ap-southeast-1:11111111-1111-1111-1111-111111111111"


def lint(doc: dict) -> list[str]:
    return [f"{f.issue}: {f.detail}" for f in analyze_policy_string(json.dumps(doc)).findings]


def test_tenant_admin_document_is_exact() -> None:
    doc = iam.tenant_policy(
        tenant_id="acme",
        table_arns=[EMP, LEAVE],
        tenant_indexes={LEAVE: ["ByTenantDate"]},
        table_actions=iam.TENANT_ADMIN_TABLE_ACTIONS,
        bucket_arn=BUCKET,
        object_actions=iam.TENANT_ADMIN_OBJECT_ACTIONS,
        sid="TenantAdmin",
    )
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TenantAdminItems",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": [EMP, LEAVE, f"{LEAVE}/index/ByTenantDate"],
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            },
            {
                "Sid": "TenantAdminDocumentsObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [f"{BUCKET}/tenants/acme/*"],
            },
            {
                "Sid": "TenantAdminDocumentsList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [BUCKET],
                "Condition": {"StringLike": {"s3:prefix": ["tenants/acme/", "tenants/acme/*"]}},
            },
        ],
    }
    assert lint(doc) == []


def test_user_actions_are_read_only_and_no_delete() -> None:
    assert list(iam.TENANT_USER_TABLE_ACTIONS) == ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
    assert list(iam.TENANT_USER_OBJECT_ACTIONS) == [
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]


def test_abac_document_keeps_literal_prefix() -> None:
    doc = iam.tenant_policy(
        tenant_id=None,
        table_arns=[EMP],
        table_actions=iam.TENANT_USER_TABLE_ACTIONS,
        bucket_arn=BUCKET,
        object_actions=iam.TENANT_USER_OBJECT_ACTIONS,
    )
    text = json.dumps(doc)
    assert doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"] == {
        "dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/TenantId}"]
    }
    assert f"{BUCKET}/tenants/${{aws:PrincipalTag/TenantId}}/*" in text
    assert doc["Statement"][2]["Condition"] == {
        "StringLike": {"s3:prefix": ["tenants/${aws:PrincipalTag/TenantId}/", "tenants/${aws:PrincipalTag/TenantId}/*"]}
    }
    assert lint(doc) == []


def test_trust_policy_single_pool() -> None:
    doc = iam.identity_pool_trust_policy([POOL])
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
            }
        ],
    }
    # parliament lints identity policies; a trust policy has a Principal instead of a Resource
    assert lint(doc) == ["MALFORMED: Statement contains neither Resource nor NotResource"]


def test_trust_policy_shared_needs_tag_session() -> None:
    other = "ap-southeast-1:22222222-2222-2222-2222-222222222222"
    with pytest.raises(iam.IamDocumentError, match="only safe as a shared ABAC role"):
        iam.identity_pool_trust_policy([POOL, other])
    doc = iam.identity_pool_trust_policy([POOL, other], tag_session=True, tenant_ids=["acme", "globex"])
    first, second = doc["Statement"]
    assert first["Action"] == ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    assert first["Condition"]["StringEquals"] == {
        "cognito-identity.amazonaws.com:aud": POOL,
        "aws:RequestTag/TenantId": "acme",
    }
    assert second["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] == other
    with pytest.raises(iam.IamDocumentError, match="no wildcards"):
        iam.identity_pool_trust_policy(["ap-southeast-1:*"])
    with pytest.raises(iam.IamDocumentError, match="unique"):
        iam.identity_pool_trust_policy([POOL, POOL], tag_session=True, tenant_ids=["acme", "globex"])


def test_system_policies_are_cross_tenant_without_scan() -> None:
    doc = iam.system_policy(
        table_arns=[EMP],
        table_actions=iam.SYSTEM_SUPPORT_TABLE_ACTIONS,
        bucket_arn=BUCKET,
        object_actions=("s3:GetObject",),
    )
    st = doc["Statement"][0]
    assert "Condition" not in st
    assert st["Action"] == ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
    assert st["Resource"] == [EMP, f"{EMP}/index/*"]
    assert doc["Statement"][1]["Resource"] == [f"{BUCKET}/tenants/*"]
    assert "dynamodb:Scan" not in json.dumps(doc)
    with pytest.raises(iam.IamDocumentError, match="exclude PartiQL"):
        iam.system_policy(table_arns=[EMP], table_actions=["dynamodb:PartiQLSelect"])
    assert lint(doc) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenant_id": "system"}, "not be 'system'"),
        ({"tenant_id": "Acme"}, "must match"),
        ({"table_arns": [f"{EMP}/index/x"]}, "not an exact DynamoDB table ARN"),
        ({"table_arns": ["arn:aws:dynamodb:ap-southeast-1:123456789012:table/*"]}, "not an exact DynamoDB table ARN"),
        ({"table_actions": ["dynamodb:Scan"]}, "data-plane allowlist"),
        ({"table_actions": ["dynamodb:*"]}, "data-plane allowlist"),
        ({"tenant_indexes": {LEAVE: ["ByTenantDate"]}}, "not in table_arns"),
        ({"bucket_arn": f"{BUCKET}/tenants"}, "not an S3 bucket ARN"),
        ({"bucket_arn": BUCKET, "object_actions": ["s3:*"]}, "explicit S3 object actions"),
        ({"bucket_arn": BUCKET, "object_actions": ["s3:ListBucket"]}, "explicit S3 object actions"),
    ],
)
def test_builders_refuse_unsafe_input(kwargs: dict, message: str) -> None:
    args = {"tenant_id": "acme", "table_arns": [EMP], "table_actions": ["dynamodb:GetItem"], **kwargs}
    with pytest.raises(iam.IamDocumentError, match=message):
        iam.tenant_policy(**args)


def test_document_size_excludes_whitespace() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "a b"}]}
    assert iam.document_size(doc) == len('{"Version":"2012-10-17","Statement":[{"Sid":"ab"}]}')


def test_shard_capacity_builds_logarithmically_many_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    # a linear scan built one document per count (quadratic; a slip that stopped the document growing hung a test
    # for 15 minutes): doubling plus bisection builds O(log n) of them, and stops at the cap
    calls: list[int] = []
    real = iam.document_size

    def counting(doc: dict[str, object]) -> int:
        calls.append(1)
        return real(doc)

    monkeypatch.setattr(iam, "document_size", counting)
    assert iam.abac_tenants_per_role("ap-southeast-1") == 3
    assert len(calls) <= 12
    calls.clear()
    assert iam.abac_tenants_per_role("ap-southeast-1", 10**9) == 10_000  # the document never stops fitting
    assert len(calls) <= 16
    calls.clear()
    assert iam.abac_tenants_per_role("ap-southeast-1", 100) == 0  # not even one pool fits
    assert len(calls) == 1


def test_shard_capacity_is_exact_arithmetic() -> None:
    # one trust statement per pool, binding it to its tenant: 438 characters for the first, 400 for each further
    # (51-character ap-southeast-1 pool ids, 31-character tenant ids: the worst case TENANT_ID_RE admits)
    assert iam.abac_tenants_per_role("ap-southeast-1", share=1.0) == 5  # at the quota itself
    assert iam.abac_tenants_per_role("ap-southeast-1", 4096, share=1.0) == 10
    assert iam.abac_tenants_per_role("us-east-1", share=1.0) == 5
    ids = [f"ap-southeast-1:{n:08d}-0000-0000-0000-000000000000" for n in range(5)]
    tenants = [f"t{n:030d}" for n in range(6)]
    assert iam.document_size(iam.identity_pool_trust_policy(ids, tag_session=True, tenant_ids=tenants[:5])) <= 2048
    ids.append("ap-southeast-1:99999999-0000-0000-0000-000000000000")
    assert iam.document_size(iam.identity_pool_trust_policy(ids, tag_session=True, tenant_ids=tenants)) > 2048


def test_shard_capacity_keeps_a_quarter_of_the_trust_quota_free() -> None:
    """The default shard size leaves 25% of the quota free (iam-document-headroom): 1,238 of 1,536 characters
    for 3 pools, 1,638 for 4; 2,838 of 3,072 for 7 pools, 3,238 for 8."""
    assert iam.abac_tenants_per_role("ap-southeast-1") == 3
    assert iam.abac_tenants_per_role("ap-southeast-1", 4096) == 7
    assert iam.abac_tenants_per_role("us-east-1") == 3
    ids = [f"ap-southeast-1:{n:08d}-0000-0000-0000-000000000000" for n in range(8)]
    tenants = [f"t{n:030d}" for n in range(8)]

    def size(count: int) -> int:
        return iam.document_size(
            iam.identity_pool_trust_policy(ids[:count], tag_session=True, tenant_ids=tenants[:count])
        )

    assert (size(3), size(4), size(7), size(8)) == (1238, 1638, 2838, 3238)
    assert size(3) <= 2048 * 0.75 < size(4)
    assert size(7) <= 4096 * 0.75 < size(8)


def test_abac_trust_binds_each_pool_to_its_tenant() -> None:
    doc = iam.identity_pool_trust_policy(["ap-southeast-1:a", "ap-southeast-1:b"], tag_session=True,
                                         tenant_ids=["acme", "globex"])  # fmt: skip
    assert [st["Condition"]["StringEquals"] for st in doc["Statement"]] == [
        {"cognito-identity.amazonaws.com:aud": "ap-southeast-1:a", "aws:RequestTag/TenantId": "acme"},
        {"cognito-identity.amazonaws.com:aud": "ap-southeast-1:b", "aws:RequestTag/TenantId": "globex"},
    ]
    assert all(st["Action"] == ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"] for st in doc["Statement"])
    with pytest.raises(iam.IamDocumentError, match="binds each identity pool to its tenant"):
        iam.identity_pool_trust_policy(["ap-southeast-1:a"], tag_session=True)
    with pytest.raises(iam.IamDocumentError, match="must be literal"):
        iam.identity_pool_trust_policy(["ap-southeast-1:a"], tag_session=True, tenant_ids=["${aws:PrincipalTag/x}"])


def test_largest_tenant_policy_fits_with_headroom() -> None:
    """Seven pool tables, each with two tenant-keyed indexes, plus S3: the admin policy stays under 6,144."""
    tables = [
        f"arn:aws:dynamodb:ap-southeast-1:123456789012:table/{b}Staging"
        for b in ("Employment", "TenantJob", "WorkSchedule", "PIM", "Leave", "TimeAttendance", "Payroll")
    ]
    doc = iam.tenant_policy(
        tenant_id="a" + "b" * 30,
        table_arns=tables,
        tenant_indexes={t: ["ByTenantAndDate", "ByTenantAndStatus"] for t in tables},
        table_actions=iam.TENANT_ADMIN_TABLE_ACTIONS,
        bucket_arn="arn:aws:s3:::" + "d" * 63,
        object_actions=iam.TENANT_ADMIN_OBJECT_ACTIONS,
    )
    assert iam.document_size(doc) < 6144
