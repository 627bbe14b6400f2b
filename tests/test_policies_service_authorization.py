"""``iam-service-authorization-reference``: compliant, violating and missing-property fixtures.

Resource fixtures go through pulumi-policy's analyzer (``analyze_props``), so the engine's proxies and message
format apply. Actions, ARNs and condition keys are spelled out here, not imported from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from saas_platform.components.testing.policy import analyze_props
from saas_platform.policies import pack
from saas_platform.policies.service_authorization import (
    arn_matches,
    expand_action,
    iam_service_authorization_reference,
)

ACCOUNT = "123456789012"
REGION = "ap-southeast-1"
CLUSTER = f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/hr-images/0f9e8d7c-6b5a-4c3d-8e2f-a1b2c3d4e5f6-3"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/aiml-saas-dev-Employee"
BUCKET = "arn:aws:s3:::aiml-saas-dev-documents"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def messages(type_: str, props: dict[str, Any]) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in analyze_props([iam_service_authorization_reference], type_, props)]


COMPLIANT_ROLE_POLICY = doc(
    {
        "Sid": "Meta",
        "Effect": "Allow",
        "Action": ["kafka:DescribeClusterV2", "kafka:DescribeCluster"],
        "Resource": CLUSTER,
    },
    {"Sid": "Brokers", "Effect": "Allow", "Action": "kafka:GetBootstrapBrokers", "Resource": "*"},
    {
        "Sid": "Topic",
        "Effect": "Allow",
        "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
        "Resource": f"arn:aws:kafka:{REGION}:{ACCOUNT}:topic/hr-images/*/image-uploads",
    },
    {
        "Sid": "Rows",
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query"],
        "Resource": [TABLE, f"{TABLE}/index/*"],
        "Condition": {
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/TenantId}"]},
            "Null": {"dynamodb:LeadingKeys": "false"},
        },
    },
    {
        "Sid": "OwnUploads",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{BUCKET}/tenants/acme/users/${{cognito-identity.amazonaws.com:sub}}/*",
        "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    },
    {
        "Sid": "List",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": BUCKET,
        "Condition": {"StringLike": {"s3:prefix": ["tenants/acme/*"]}},
    },
    {
        "Sid": "Key",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
        "Condition": {
            "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"},
            "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/aiml-saas-dev"},
        },
    },
    {
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/aiml-saas-dev-consumer:*",
    },
    {"Sid": "Eni", "Effect": "Allow", "Action": ["ec2:DescribeSubnets", "ec2:DescribeVpcs"], "Resource": "*"},
)
COMPLIANT_TRUST = doc(
    {
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": f"{REGION}:11111111-2222-3333-4444-555555555555"},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        },
    }
)
COMPLIANT_BUCKET_POLICY = doc(
    {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
    {
        "Sid": "KmsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"{BUCKET}/*",
        "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    },
)
COMPLIANT_KEY_POLICY = doc(
    {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    },
    {
        "Sid": "Logs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}
        },
    },
)


# ------------------------------------------------------------------------------------------------ compliant


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (ROLE_POLICY, {"role": "r", "policy": COMPLIANT_ROLE_POLICY}),
        ("aws:iam/policy:Policy", {"policy": COMPLIANT_ROLE_POLICY}),
        (
            "aws:iam/role:Role",
            {"assumeRolePolicy": COMPLIANT_TRUST, "inlinePolicies": [{"name": "p", "policy": COMPLIANT_ROLE_POLICY}]},
        ),
        ("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "b", "policy": COMPLIANT_BUCKET_POLICY}),
        ("aws:kms/key:Key", {"policy": COMPLIANT_KEY_POLICY}),
        ("aws:kms/key:Key", {}),  # no policy: AWS applies the default key policy
        ("aws:sns/topic:Topic", {}),
    ],
)
def test_compliant_documents_pass(type_: str, props: dict[str, Any]) -> None:
    assert messages(type_, props) == []


def test_the_rule_is_mandatory_and_in_the_pack() -> None:
    assert iam_service_authorization_reference.name == "iam-service-authorization-reference"
    assert iam_service_authorization_reference.enforcement_level == EnforcementLevel.MANDATORY
    assert iam_service_authorization_reference in pack.POLICIES


# ------------------------------------------------------------------------------------------------ violating


def one(*statements: dict[str, Any]) -> list[str]:
    return messages(ROLE_POLICY, {"role": "r", "policy": doc(*statements)})


def test_get_bootstrap_brokers_on_the_cluster_arn_is_a_violation() -> None:
    found = one(
        {
            "Sid": "Meta",
            "Effect": "Allow",
            "Action": ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"],
            "Resource": CLUSTER,
        }
    )
    assert found == [
        "policy: statement 0 (Meta): kafka:GetBootstrapBrokers supports no resource-level permissions, so AWS grants "
        f"it only in a statement with Resource '*' (got ['{CLUSTER}']); give it its own statement on '*'"
    ]
    # "*" next to an ARN still widens nothing for the ARN and keeps the mixed shape: own statement on "*" only
    assert one({"Effect": "Allow", "Action": "kafka:GetBootstrapBrokers", "Resource": ["*", CLUSTER]})


def test_describe_actions_without_resource_level_permissions_on_subnet_arns() -> None:
    subnet = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0abc"
    found = one({"Effect": "Allow", "Action": ["ec2:DescribeSubnets"], "Resource": subnet})
    assert len(found) == 1
    assert "ec2:DescribeSubnets supports no resource-level permissions" in found[0]


def test_unknown_actions_are_violations() -> None:
    found = one(
        {"Effect": "Allow", "Action": ["dynamodb:GetItems", "dynamodbx:GetItem", "s3:Get*Nothing"], "Resource": TABLE}
    )
    assert [m.split(": ", 2)[2] for m in found] == [
        "'dynamodb:GetItems' names no action in the Service Authorization Reference",
        "'dynamodbx:GetItem' names no action in the Service Authorization Reference",
        "'s3:Get*Nothing' names no action in the Service Authorization Reference",
    ]


def test_arn_of_a_resource_type_the_action_does_not_support() -> None:
    # s3:GetObject acts on objects: the bucket ARN (no key part) grants nothing
    found = one({"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET})
    assert any("s3:GetObject matches none of" in m for m in found)
    assert any(f"Resource '{BUCKET}' matches no resource type" in m for m in found)
    # dynamodb:GetItem acts on tables only, never on an index
    found = one({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": f"{TABLE}/index/*"})
    assert any("dynamodb:GetItem matches none of" in m for m in found)
    # an ARN of another service
    found = one({"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{BUCKET}/*"})
    assert found


def test_condition_keys_the_action_does_not_supply() -> None:
    found = one(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET}/*",
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]}},
        }
    )
    assert found == [
        "policy: statement 0: condition key 'dynamodb:LeadingKeys' is supplied by none of ['s3:GetObject']; the "
        "condition can never be true as written"
    ]
    # supplied for one action of the statement but not the other: the other is never allowed
    found = messages(
        "aws:kms/key:Key",
        {
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}},
                }
            )
        },
    )
    assert found == [
        "policy: statement 0: condition key 'kms:EncryptionContext:aws:logs:arn' is not supplied for "
        "['kms:Describe*'], so AWS never allows them here; move them to their own statement or use ArnLikeIfExists"
    ]
    # ...IfExists tolerates the missing key; a global aws: key is never judged
    assert not one(
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:ListBucket"],
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {
                "StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"},
                "StringEquals": {"aws:PrincipalTag/TenantId": "acme"},
            },
        }
    )


def test_statement_shape_violations() -> None:
    assert one({"Effect": "Allow", "Action": "dynamodb:GetItem"}) == [
        "policy: statement 0: has no Resource; AWS refuses the document"
    ]
    found = one({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "aiml-saas-dev-Employee"})
    assert "policy: statement 0: Resource 'aiml-saas-dev-Employee' is neither an ARN nor '*'" in found


# ------------------------------------------------------------------------------------------------ missing


def test_missing_or_malformed_documents() -> None:
    assert messages(ROLE_POLICY, {"role": "r"}) == [f"{ROLE_POLICY} has no policy document"]
    assert messages("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "b"}) == [
        "aws:s3/bucketPolicy:BucketPolicy has no policy document"
    ]
    assert messages("aws:iam/role:Role", {"name": "r"}) == ["role has no assume_role_policy (trust policy)"]
    assert messages(ROLE_POLICY, {"role": "r", "policy": "{not json"}) == ["policy: not a JSON policy document"]
    assert messages(ROLE_POLICY, {"role": "r", "policy": json.dumps({"Version": "2012-10-17"})}) == [
        "policy: the document has no statements"
    ]


# ------------------------------------------------------------------------------------------------ the lookup


def test_arn_matching_follows_the_reference_templates() -> None:
    (get_item,) = expand_action("dynamodb:GetItem")
    (query,) = expand_action("dynamodb:Query")
    (table_type,) = get_item.resource_types
    assert arn_matches(table_type, TABLE)
    assert arn_matches(table_type, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*")
    assert not arn_matches(table_type, f"{TABLE}/index/byTenant")
    assert any(arn_matches(t, f"{TABLE}/index/*") for t in query.resource_types)
    (read_data,) = expand_action("kafka-cluster:ReadData")
    # a wildcard may stand for several path segments (cluster UUID and topic name)
    assert any(arn_matches(t, f"arn:aws:kafka:{REGION}:{ACCOUNT}:topic/hr-images/*") for t in read_data.resource_types)
    assert not any(arn_matches(t, CLUSTER) for t in read_data.resource_types)
    (put_log,) = expand_action("logs:PutLogEvents")
    assert any(
        arn_matches(t, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:*") for t in put_log.resource_types
    )
    assert not any(
        arn_matches(t, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn") for t in put_log.resource_types
    )
    assert len(expand_action("dynamodb:*Item")) == 7
    assert expand_action("kafka:GetBootstrapBrokers")[0].resource_types == ()
