"""``MskConsumer`` and ``DevMskCluster``: the Kafka leg of the image pipeline (the image-pipeline design, isolation section F).

``MskConsumer`` is one Lambda function (``handlers/msk_consumer.py``) plus one event source mapping for one
topic of an Amazon MSK cluster:

* IAM (SASL) authentication - the mapping has no ``source_access_configurations`` secrets; the execution role
  holds ``kafka-cluster:*Connect/Describe*/ReadData/AlterGroup`` on the exact cluster, topic and consumer-group
  ARNs (never ``kafka-cluster:*``, never ``Resource: "*"``), plus the ``kafka:`` metadata and EC2
  network-interface actions the service uses to reach the brokers;
* an explicit, deterministic consumer group id, starting position, batch size and window;
* provisioned pollers (the Kafka error-handling controls need them), finite retries, a maximum record age,
  bisect-on-error, ``ReportBatchItemFailures`` and an **S3 on-failure destination** (S3 keeps the whole
  record; SQS/SNS would keep only metadata), with ``s3:PutObject``/``s3:ListBucket`` on that bucket and
  ``kms:GenerateDataKey`` through S3 for its key;
* a tenant **writer role**. The consumer's own role has no access to tenant rows or objects. For each record's
  tenant the handler calls ``sts:AssumeRole`` with the session tag ``TenantId=<tenant>`` *and* a session policy
  naming that tenant literally; the writer role's policy allows only ``GetItem``/``BatchGetItem``/``PutItem``
  on the metadata table under ``dynamodb:LeadingKeys = TENANT#${aws:PrincipalTag/TenantId}`` and object writes
  under ``<raw bucket>/${aws:PrincipalTag/TenantId}/raw/*``; its trust policy accepts only the consumer role with
  exactly one ``TenantId`` tag, and the consumer's own policy lets it send only configured tenant ids as that tag
  (isolation invariant 11d);
* log retention (via ``HandlerFunction``) and alarms on function errors and rejected records.

Networking: the mapping's pollers run in the cluster's VPC and reach the on-failure bucket through an S3 VPC
endpoint there (AWS requires one). ``DevMskCluster`` builds that VPC for dev; for an existing cluster
(``saas:msk.clusterArn``) the endpoint is the cluster owner's to provide (see README).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import TENANT, DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import assume_tenant_writer_statement, tenant_writer_trust
from saas_platform.components.lambda_function import HandlerFunction, HandlerFunctionArgs, LayerLike
from saas_platform.components.lifecycle_bucket import depends_on_of
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    ENVIRONMENTS,
    IAM_ROLE_NAME_MAX,
    LAMBDA_FUNCTION_NAME_MAX,
    LOG_RETENTION_DAYS,
    Environment,
    env_suffix,
    tags,
)
from saas_platform.components.pool_table import TENANT_KEY_PREFIX
from saas_platform.components.registry import (
    REGISTRY_TABLE_ENV,
    registry_key_statement,
    registry_read_paths,
    registry_read_statement,
)

CLUSTER_ARN_RE: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kafka:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"cluster/(?P<name>[A-Za-z0-9-]{1,64})/(?P<uuid>[A-Za-z0-9-]+)"
)
TOPIC_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,249}")
DEFAULT_CONTENT_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BYTES: Final = 10 * 1024 * 1024
"""The image-pipeline design: uploads are limited to 10 MB (API Gateway's payload limit); the Kafka path keeps the same limit."""
TENANT_TAG: Final = "TenantId"
WRITER_DYNAMODB_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem")
ENI_DESCRIBE_ACTIONS: Final = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
"""The mapping's Describe* calls: no resource-level permissions in the Service Authorization Reference, so ``"*"``."""
ENI_ACTIONS: Final = ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", *ENI_DESCRIBE_ACTIONS)
"""Everything the event source mapping's pollers need to place network interfaces in the cluster's subnets."""
NETWORK_TAG: Final = "saas:mskNetwork"
"""The tag a cluster's subnets and security groups carry when this program creates them (:class:`DevMskCluster`):
the consumer may create network interfaces only in subnets and with security groups tagged with its cluster's name."""
VPC_ID_RE: Final = re.compile(r"vpc-[0-9a-f]{8,17}")
SUBNET_ID_RE: Final = re.compile(r"subnet-[0-9a-f]{8,17}")
SECURITY_GROUP_ID_RE: Final = re.compile(r"sg-[0-9a-f]{8,17}")


@dataclass(frozen=True, kw_only=True)
class MskNetwork:
    """Where the event source mapping's pollers place their network interfaces: the cluster's VPC, subnets and
    security groups (the mapping uses the cluster's own network configuration).

    Two ways to name them, exactly one of which is used:

    * explicit ids, for an existing cluster (``aws kafka describe-cluster-v2`` lists its subnets and security
      groups): ``ec2:CreateNetworkInterface`` is allowed only with those subnets and security groups, and
      ``ec2:DeleteNetworkInterface`` only on interfaces in that VPC (``ec2:Vpc``);
    * ``tag_value``, for a cluster this program creates (its ids are unknown at the first preview): the subnets
      and security groups carry ``saas:mskNetwork=<tag_value>`` and the create grant requires that tag on both;
      deletes are confined to the stack's account and region.

    Attributes:
        vpc_id: ``vpc-...``. subnet_ids: at least one ``subnet-...``. security_group_ids: at least one ``sg-...``.
        tag_value: the ``saas:mskNetwork`` tag value (the cluster name) instead of ids.
    """

    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    tag_value: str | None = None

    def __post_init__(self) -> None:
        explicit = self.vpc_id is not None or self.subnet_ids or self.security_group_ids
        if explicit and self.tag_value is not None:
            raise ComponentArgError(
                "MskNetwork: give either vpc_id/subnet_ids/security_group_ids or tag_value, not both"
            )
        if self.tag_value is not None:
            if not re.fullmatch(r"[A-Za-z0-9+\-=._:/@ ]{1,256}", self.tag_value):
                raise ComponentArgError(f"MskNetwork.tag_value must be a valid tag value; got {self.tag_value!r}")
            return
        problems: list[str] = []
        if self.vpc_id is None or not VPC_ID_RE.fullmatch(self.vpc_id):
            problems.append(f"vpc_id must look like vpc-0123456789abcdef0; got {self.vpc_id!r}")
        if not self.subnet_ids or not all(SUBNET_ID_RE.fullmatch(s) for s in self.subnet_ids):
            problems.append(f"subnet_ids must be one or more subnet-... ids; got {list(self.subnet_ids)}")
        if not self.security_group_ids or not all(SECURITY_GROUP_ID_RE.fullmatch(s) for s in self.security_group_ids):
            problems.append(f"security_group_ids must be one or more sg-... ids; got {list(self.security_group_ids)}")
        if problems:
            raise ComponentArgError(
                "MskNetwork names the cluster's network (the mapping's network interfaces are confined to it): "
                + "; ".join(problems)
            )


def ec2_arn(region: str, account_id: Any, kind: str, ident: str) -> Any:
    """``arn:aws:ec2:<region>:<account>:<kind>/<ident>``: a string for a plain account id, else an Output."""
    if isinstance(account_id, str):
        return f"arn:aws:ec2:{region}:{account_id}:{kind}/{ident}"
    return pulumi.Output.concat("arn:aws:ec2:", region, ":", account_id, f":{kind}/{ident}")


def network_interface_statements(network: MskNetwork, *, region: str, account_id: Any) -> list[dict[str, Any]]:
    """The mapping's EC2 statements, scoped to the cluster's network (pure when ``account_id`` is a string).

    ``CreateNetworkInterface`` is authorized on every resource of the request: the new interface, the subnet and
    each security group. The interface's own ARN is unknown before it exists, so it is granted as
    ``network-interface/*`` in this account and region, while the subnets and security groups are pinned (explicit
    ARNs, or the ``saas:mskNetwork`` tag). A request naming any other subnet or security group (including a VPC's
    default group) is implicitly denied. The Describe* actions support no resource-level permissions (``"*"``).
    """

    def ec2(kind: str, ident: str) -> Any:
        return ec2_arn(region, account_id, kind, ident)

    describe = {
        "Sid": "EventSourceMappingDescribeNetwork",
        "Effect": "Allow",
        "Action": list(ENI_DESCRIBE_ACTIONS),
        "Resource": "*",
    }
    interfaces = ec2("network-interface", "*")
    if network.tag_value is not None:
        return [
            describe,
            {
                "Sid": "EventSourceMappingCreateInterface",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": interfaces,
            },
            {
                "Sid": "EventSourceMappingInterfaceInClusterNetwork",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": [ec2("subnet", "*"), ec2("security-group", "*")],
                "Condition": {"StringEquals": {f"aws:ResourceTag/{NETWORK_TAG}": network.tag_value}},
            },
            {
                "Sid": "EventSourceMappingDeleteInterface",
                "Effect": "Allow",
                "Action": "ec2:DeleteNetworkInterface",
                "Resource": interfaces,
            },
        ]
    assert network.vpc_id is not None  # __post_init__
    return [
        describe,
        {
            "Sid": "EventSourceMappingCreateInterface",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterface",
            "Resource": [
                interfaces,
                *(ec2("subnet", s) for s in network.subnet_ids),
                *(ec2("security-group", g) for g in network.security_group_ids),
            ],
        },
        {
            "Sid": "EventSourceMappingDeleteInterface",
            "Effect": "Allow",
            "Action": "ec2:DeleteNetworkInterface",
            "Resource": interfaces,
            "Condition": {"ArnEquals": {"ec2:Vpc": ec2("vpc", network.vpc_id)}},
        },
    ]


def kafka_arns(cluster_arn: str, topic: str, group_id: str) -> dict[str, str]:
    """The cluster, topic and consumer-group ARNs ``kafka-cluster:`` actions are scoped to (pure).

    ``arn:aws:kafka:<r>:<a>:cluster/<name>/<uuid>`` -> ``...:topic/<name>/<uuid>/<topic>`` and
    ``...:group/<name>/<uuid>/<groupId>``.
    """
    m = CLUSTER_ARN_RE.fullmatch(cluster_arn)
    if not m:
        raise ComponentArgError(
            f"cluster_arn must look like arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>; got {cluster_arn!r}"
        )
    base = f"arn:{m['partition']}:kafka:{m['region']}:{m['account']}"
    path = f"{m['name']}/{m['uuid']}"
    return {
        "cluster": cluster_arn,
        "topic": f"{base}:topic/{path}/{topic}",
        "group": f"{base}:group/{path}/{group_id}",
    }


def kafka_name_scoped_arns(region: str, account: str, cluster_name: str, topic: str, group_id: str) -> dict[str, str]:
    """Cluster/topic/group ARNs for a cluster known only by name (pure): the cluster UUID, which AWS assigns at
    creation, is the one wildcard segment (``cluster/<name>/*``). Cluster names are unique per account and
    region, so this names exactly one cluster, and the documents are known at the first preview."""
    base = f"arn:aws:kafka:{region}:{account}"
    return {
        "cluster": f"{base}:cluster/{cluster_name}/*",
        "topic": f"{base}:topic/{cluster_name}/*/{topic}",
        "group": f"{base}:group/{cluster_name}/*/{group_id}",
    }


def short_slug(value: str, max_len: int) -> str:
    """A name-safe slug of ``value`` ([A-Za-z0-9-]); shortened with a stable hash when longer than ``max_len``."""
    slug = re.sub(r"[^A-Za-z0-9-]", "-", value).strip("-") or "topic"
    if len(slug) <= max_len:
        return slug
    digest = hashlib.sha256(value.encode()).hexdigest()[:6]
    return f"{slug[: max_len - 7].rstrip('-')}-{digest}"


def _kms_keys(region: str, account_id: Any) -> Any:
    """``arn:aws:kms:<region>:<account>:key/*`` - narrowed to the environment key by ``kms:ResourceAliases``."""
    if isinstance(account_id, str):
        return f"arn:aws:kms:{region}:{account_id}:key/*"
    return pulumi.Output.concat("arn:aws:kms:", region, ":", account_id, ":key/*")


def _suffix(value: Any, suffix: str) -> Any:
    """``value + suffix`` for a plain string, ``Output.concat`` for an Output (keeps the builders pure for tests)."""
    return value + suffix if isinstance(value, str) else pulumi.Output.concat(value, suffix)


PRODUCER_ACTIONS: Final = ("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData")
"""What a producer of the image topic needs on the topic ARN (plus ``Connect`` and ``WriteDataIdempotently`` on the
cluster ARN)."""


def producer_statements(*, cluster_arn: Any, topic_arn: Any) -> list[dict[str, Any]]:
    """The identity-policy statements of a service that may produce to the image topic (pure when given strings).

    Who may produce is part of the isolation contract: the consumer stores each record under the ``tenantId`` the
    record names (after checking it is active in the tenant registry and, for ``s3`` pointers, that the key lies
    under that tenant's prefix). A producer is therefore trusted to name the right tenant, and only the platform's
    own upload services may hold these statements - never a tenant role (``tenant-role-action-allowlist`` refuses
    every ``kafka-cluster`` action there) and never the consumer (``msk-consumer-role-permissions`` refuses
    ``WriteData`` on its role). Give each producing service its own role with exactly this, on this one topic.
    """
    return [
        {
            "Sid": "ProducerConnect",
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"],
            "Resource": cluster_arn,
        },
        {"Sid": "ProducerWriteTopic", "Effect": "Allow", "Action": list(PRODUCER_ACTIONS), "Resource": topic_arn},
    ]


def consumer_statements(
    *,
    cluster_arn: Any,
    topic_arn: Any,
    group_arn: Any,
    failure_bucket_arn: Any,
    kms_key_alias: str,
    account_id: Any,
    writer_role_arn: Any,
    region: str,
    registry_table_arn: Any,
    network: MskNetwork,
) -> list[dict[str, Any]]:
    """The consumer execution role's statements beyond logs/X-Ray (isolation invariant 46).

    Pure when given strings (tests); the component passes Outputs, which ``Output.json_dumps`` resolves.
    """
    return [
        {
            "Sid": "KafkaClusterMetadata",
            "Effect": "Allow",
            "Action": ["kafka:DescribeClusterV2", "kafka:DescribeCluster"],
            "Resource": cluster_arn,
        },
        {
            # kafka:GetBootstrapBrokers supports no resource-level permissions (Service Authorization Reference):
            # on the cluster ARN it is implicitly denied and the mapping cannot find the brokers. It returns
            # broker endpoints only; what the role can do on a cluster is still scoped by the kafka-cluster actions.
            "Sid": "KafkaBootstrapBrokers",
            "Effect": "Allow",
            "Action": "kafka:GetBootstrapBrokers",
            "Resource": "*",
        },
        {
            "Sid": "KafkaConnect",
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"],
            "Resource": cluster_arn,
        },
        {
            "Sid": "KafkaReadTopic",
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
            "Resource": topic_arn,
        },
        {
            "Sid": "KafkaConsumerGroup",
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
            "Resource": group_arn,
        },
        *network_interface_statements(network, region=region, account_id=account_id),
        {
            "Sid": "OnFailureDestinationObjects",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": _suffix(failure_bucket_arn, "/*"),
        },
        {
            "Sid": "OnFailureDestinationBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": failure_bucket_arn,
        },
        {
            "Sid": "OnFailureDestinationKey",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": _suffix(_kms_keys(region, account_id), ""),
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": kms_key_alias},
                "StringEquals": {
                    "kms:ViaService": f"s3.{region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": failure_bucket_arn,
                },
            },
        },
        # Constant size: which tenant ids are valid is the registry's call (checked in the handler before every
        # session); the session tag plus the session policy scope what the session may write.
        assume_tenant_writer_statement(writer_role_arn),
        registry_read_statement(registry_table_arn),
        registry_key_statement(region=region, account_id=account_id, kms_key_alias=kms_key_alias),
    ]


def writer_trust_policy(consumer_role_arn: str) -> dict[str, Any]:
    """Who may assume the tenant writer role: only the consumer role, only with exactly one ``TenantId`` tag.

    The trust names the account (``:root``) and pins the caller with ``aws:PrincipalArn``, rather than naming the
    consumer role as the principal: within one account a trust policy that names the role authorizes
    ``sts:AssumeRole`` on its own, so the consumer's identity policy (``AssumeTenantWriter`` in
    :func:`consumer_statements`) would never be evaluated. Naming the account makes both policies required.
    Neither document lists tenants (their size is constant in the number of tenants): the handler checks the
    record's tenant against the tenant registry before it assumes the session, and the session's ``TenantId`` tag
    plus its session policy confine what the session may write.
    """
    return tenant_writer_trust(consumer_role_arn, "ConsumerAssumesWithOneTenantTag")


def writer_policy(
    *,
    table_arn: str,
    raw_bucket_arn: str,
    kms_key_alias: str,
    account_id: str,
    region: str,
    source_bucket_names: Sequence[str] = (),
) -> dict[str, Any]:
    """The tenant writer role's permissions, keyed on the session's ``TenantId`` tag (invariants 1-6, 38)."""
    tenant = f"${{aws:PrincipalTag/{TENANT_TAG}}}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ImageMetadataOwnTenantOnly",
            "Effect": "Allow",
            "Action": list(WRITER_DYNAMODB_ACTIONS),
            "Resource": table_arn,
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{tenant}"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        },
        {
            "Sid": "RawImagesOwnTenantOnly",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"{raw_bucket_arn}/{tenant}/raw/*",
        },
        {
            "Sid": "BucketKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": f"arn:aws:kms:{region}:{account_id}:key/*",
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": kms_key_alias},
                "StringEquals": {
                    "kms:ViaService": f"s3.{region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": raw_bucket_arn,
                },
            },
        },
        {
            # ImageMetadata is encrypted with the environment key; the key policy delegates to IAM.
            "Sid": "TableKeyThroughDynamoDB",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
            "Resource": f"arn:aws:kms:{region}:{account_id}:key/*",
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": kms_key_alias},
                "StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"},
            },
        },
    ]
    if source_bucket_names:
        statements.append(
            {
                "Sid": "ProducerUploadsOwnTenantOnly",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{b}/{tenant}/*" for b in source_bucket_names],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


EXAMPLE_SUBNET: Final = "subnet-00000000000000000"
EXAMPLE_SECURITY_GROUP: Final = "sg-00000000000000000"
EXAMPLE_INTERFACE: Final = "eni-00000000000000000"


def network_interface_paths(
    *, consumer_role_arn: pulumi.Input[str], network: MskNetwork, region: str, account_id: pulumi.Input[str]
) -> list[DataPath]:
    """The mapping's network-interface calls: ``CreateNetworkInterface`` is authorized on each resource of the
    request (the new interface, the subnet, each security group), ``DeleteNetworkInterface`` on the interface.
    Explicit networks use the first subnet and security group; tagged networks any subnet and group carrying the
    ``saas:mskNetwork`` tag (the ids are not known before they exist)."""

    def ec2(kind: str, ident: str) -> Any:
        return ec2_arn(region, account_id, kind, ident)

    consumer: dict[str, Any] = {"principal": consumer_role_arn, "principal_type": "role"}
    if network.tag_value is not None:
        tagged = {f"aws:ResourceTag/{NETWORK_TAG}": network.tag_value}
        vpc: dict[str, Any] = {}
        subnet, group, guards = EXAMPLE_SUBNET, EXAMPLE_SECURITY_GROUP, (f"aws:ResourceTag/{NETWORK_TAG}",)
    else:
        assert network.vpc_id is not None
        tagged = {}
        vpc = {"ec2:Vpc": ec2("vpc", network.vpc_id)}
        subnet, group, guards = network.subnet_ids[0], network.security_group_ids[0], ()
    return [
        DataPath(
            name="consumer/eni-create-interface",
            actions=("ec2:CreateNetworkInterface",),
            resource=ec2("network-interface", EXAMPLE_INTERFACE),
            context=vpc,
            description="the mapping creates a poller network interface (the interface itself)",
            **consumer,
        ),
        DataPath(
            name="consumer/eni-create-subnet",
            actions=("ec2:CreateNetworkInterface",),
            resource=ec2("subnet", subnet),
            context={**vpc, **tagged},
            guards=guards,
            description="... in one of the cluster's subnets",
            **consumer,
        ),
        DataPath(
            name="consumer/eni-create-security-group",
            actions=("ec2:CreateNetworkInterface",),
            resource=ec2("security-group", group),
            context={**vpc, **tagged},
            guards=guards,
            description="... with the cluster's security group",
            **consumer,
        ),
        DataPath(
            name="consumer/eni-delete",
            actions=("ec2:DeleteNetworkInterface",),
            resource=ec2("network-interface", EXAMPLE_INTERFACE),
            context=vpc,
            guards=tuple(vpc),
            description="the mapping deletes a poller network interface of the cluster's VPC",
            **consumer,
        ),
    ]


def consumer_paths(
    *,
    consumer_role_arn: pulumi.Input[str],
    writer_role_arn: pulumi.Input[str],
    function_arn: pulumi.Input[str],
    cluster: pulumi.Output[dict[str, str]],
    tenant_ids: Sequence[str],
    region: str,
    kms_key_arn: pulumi.Input[str],
    raw_bucket_arn: pulumi.Input[str],
    failure_bucket_arn: pulumi.Input[str],
    metadata_table_arn: pulumi.Input[str],
) -> list[DataPath]:
    """The consumer's runtime calls (the event source mapping and the handler share the execution role) and the
    tenant writer session's. ``cluster``: the exact cluster, topic and group ARNs of the requests (:func:`kafka_arns`
    of the real cluster ARN, even where the policy names the cluster by name)."""
    tls = datapaths.secure_transport()
    tag = f"aws:PrincipalTag/{TENANT_TAG}"
    writer: dict[str, Any] = {
        "principal": writer_role_arn,
        "principal_type": "role",
        "session": {tag: TENANT},
        "session_policy_from": function_arn,
        "tenants": tuple(tenant_ids),
    }
    consumer: dict[str, Any] = {"principal": consumer_role_arn, "principal_type": "role"}
    return [
        DataPath(
            name="consumer/connect",
            actions=("kafka-cluster:Connect",),
            resource=cluster.apply(lambda a: a["cluster"]),
            description="the event source mapping connects to the cluster (IAM auth)",
            **consumer,
        ),
        DataPath(
            name="consumer/read-topic",
            actions=("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"),
            resource=cluster.apply(lambda a: a["topic"]),
            description="the pollers read the topic",
            **consumer,
        ),
        DataPath(
            name="consumer/group",
            actions=("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"),
            resource=cluster.apply(lambda a: a["group"]),
            description="the pollers commit offsets of the consumer group",
            **consumer,
        ),
        DataPath(
            name="consumer/on-failure",
            actions=("s3:PutObject",),
            resource=pulumi.Output.concat(failure_bucket_arn, "/aws/lambda/batch-0001.json"),
            context=tls,
            description="the on-failure destination and rejected records (no SSE header: default encryption)",
            **consumer,
        ),
        DataPath(
            name="consumer/on-failure-key",
            actions=("kms:GenerateDataKey",),
            resource=kms_key_arn,
            context=datapaths.s3_kms_context(region, failure_bucket_arn),
            guards=("kms:ViaService", "kms:EncryptionContext:aws:s3:arn"),
            description="S3 uses the failure bucket's key for the consumer",
            **consumer,
        ),
        DataPath(
            name="consumer/assume-writer",
            actions=("sts:AssumeRole", "sts:TagSession"),
            resource=writer_role_arn,
            context={f"aws:RequestTag/{TENANT_TAG}": TENANT, "aws:TagKeys": [TENANT_TAG]},
            tenants=tuple(tenant_ids),
            tenant_bound=False,
            registry_checked=True,
            guards=(f"aws:RequestTag/{TENANT_TAG}",),
            description="the handler assumes the writer role for a tenant active in the registry, tagged with it",
            **consumer,
        ),
        DataPath(
            name="writer/metadata",
            actions=WRITER_DYNAMODB_ACTIONS,
            resource=metadata_table_arn,
            context={"dynamodb:LeadingKeys": [f"{TENANT_KEY_PREFIX}{TENANT}"]},
            guards=("dynamodb:LeadingKeys", tag),
            description="the writer session reads and writes the tenant's image rows",
            **writer,
        ),
        DataPath(
            name="writer/metadata-key",
            actions=("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"),
            resource=kms_key_arn,
            context=datapaths.dynamodb_kms_context(region),
            guards=("kms:ViaService",),
            description="DynamoDB uses the environment key for the writer session",
            **writer,
        ),
        DataPath(
            name="writer/raw",
            actions=("s3:PutObject", "s3:GetObject"),
            resource=pulumi.Output.concat(raw_bucket_arn, f"/{TENANT}/raw/img-0001"),
            context=tls,
            guards=(tag,),
            description="the writer session stores the image (no SSE header: default encryption)",
            **writer,
        ),
        DataPath(
            name="writer/raw-key",
            actions=("kms:GenerateDataKey", "kms:Decrypt"),
            resource=kms_key_arn,
            context=datapaths.s3_kms_context(region, raw_bucket_arn),
            guards=("kms:ViaService", "kms:EncryptionContext:aws:s3:arn"),
            description="S3 uses the raw bucket's key for the writer session",
            **writer,
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class MskConsumerArgs:
    """Arguments of :class:`MskConsumer`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        region: the stack's region (KMS ``ViaService`` conditions).
        account_id: the account; the writer role's ARN is built from it so both roles' policies are known at
            preview.
        cluster_arn: the MSK cluster (provisioned or serverless) the topic lives in.
        network: the cluster's VPC, subnets and security groups (:class:`MskNetwork`): the mapping's network
            interfaces may be created and deleted only there. Required: there is no "anywhere" default.
        cluster_name: required when ``cluster_arn`` is an Output (a cluster this program creates): the
            ``kafka-cluster`` permissions are then scoped to ``cluster/<name>/*`` (the UUID is assigned by AWS),
            which keeps the role policy known at the first preview.
        kms_key_alias: the environment key's alias (``alias/aiml-saas-dev``); KMS grants are narrowed to it with
            ``kms:ResourceAliases`` because the key ARN is unknown until the key exists.
        topic: the one topic this mapping reads (invariant 44: exactly one topic per mapping).
        registry_table_name / registry_table_arn: the tenant registry (``TenantRegistry``): records of a tenant
            that is not active there are rejected. The consumer reads it (``GetItem``/``Query``), never a list.
        kms_key_arn: the environment key (function env vars, log group, bucket keys).
        raw_bucket_name / raw_bucket_arn: where images go (``<tenant>/raw/<imageId>``).
        failure_bucket_name / failure_bucket_arn: the on-failure destination (an ephemeral
            :class:`~saas_platform.components.lifecycle_bucket.LifecycleBucket`, invariant 42) - the mapping's discarded
            batches and the handler's rejected records (``rejected/...``, with the reason).
        metadata_table_name / metadata_table_arn: the ``ImageMetadata`` pool table.
        retention_days: TTL of metadata rows (``saas:retentionDays``).
        name_prefix: prefix of physical names (``saas:namePrefix``).
        source_bucket_names: buckets ``s3`` pointer records may reference (keys under ``<tenant>/``).
        starting_position: Default ``TRIM_HORIZON``. batch_size: Default 100 (1-10,000).
        batching_window_seconds: Default 1 (0-300). max_retry_attempts: Default 3 (0-10,000).
        max_record_age_seconds: Default 21,600 (60-604,800). min_pollers / max_pollers: Default 1 / 2.
        max_image_bytes: Default 10 MB. allowed_content_types: Default JPEG, PNG, GIF, WebP.
        layers: the environment's ``HandlerLayer`` (or a ``LayerRef``): the consumer imports Powertools and pydantic.
        alarm_topic_arn: SNS topic for the alarms; ``None`` creates none.
        memory_size: Default 1024 MB. timeout: Default 120 s. log_retention_days: Default 90.
    """

    environment: Environment
    region: str
    account_id: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    network: MskNetwork
    topic: str
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    tenant_ids: tuple[str, ...] = ()
    """Default: none. The tenants the data-path inventory lists for the authorization matrix; never written
    into an IAM document or the function's environment (the registry is the runtime source of truth)."""
    kms_key_arn: pulumi.Input[str]
    kms_key_alias: str
    raw_bucket_name: pulumi.Input[str]
    raw_bucket_arn: pulumi.Input[str]
    failure_bucket_name: pulumi.Input[str]
    failure_bucket_arn: pulumi.Input[str]
    metadata_table_name: pulumi.Input[str]
    metadata_table_arn: pulumi.Input[str]
    retention_days: int
    name_prefix: str = DEFAULT_NAME_PREFIX
    cluster_name: str | None = None
    source_bucket_names: tuple[str, ...] = ()
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    batch_size: int = 100
    batching_window_seconds: int = 1
    max_retry_attempts: int = 3
    max_record_age_seconds: int = 21_600
    min_pollers: int = 1
    max_pollers: int = 2
    max_image_bytes: int = MAX_IMAGE_BYTES
    allowed_content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    layers: Sequence[LayerLike] = ()
    alarm_topic_arn: pulumi.Input[str] | None = None
    memory_size: int = 1024
    timeout: int = 120
    log_retention_days: int = 90
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not TOPIC_RE.fullmatch(self.topic):
            raise ComponentArgError(f"topic must be 1-249 characters of [A-Za-z0-9._-]; got {self.topic!r}")
        if isinstance(self.cluster_arn, str):
            kafka_arns(self.cluster_arn, self.topic, self.consumer_group_id)
        elif not self.cluster_name:
            raise ComponentArgError(
                "cluster_name is required when cluster_arn is an Output (a cluster created by this program); "
                "pass the cluster's name so kafka-cluster permissions can name it before it exists"
            )
        if not self.kms_key_alias.startswith("alias/"):
            raise ComponentArgError(f"kms_key_alias must start with 'alias/'; got {self.kms_key_alias!r}")
        if self.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ComponentArgError(f"starting_position must be TRIM_HORIZON or LATEST; got {self.starting_position!r}")
        bounds = {
            "batch_size": (self.batch_size, 1, 10_000),
            "batching_window_seconds": (self.batching_window_seconds, 0, 300),
            "max_retry_attempts": (self.max_retry_attempts, 0, 10_000),
            "max_record_age_seconds": (self.max_record_age_seconds, 60, 604_800),
            "min_pollers": (self.min_pollers, 1, 200),
            "max_pollers": (self.max_pollers, 1, 2_000),
            "retention_days": (self.retention_days, 1, 3650),
            "max_image_bytes": (self.max_image_bytes, 1, MAX_IMAGE_BYTES),
        }
        for key, (value, low, high) in bounds.items():
            if not low <= value <= high:
                raise ComponentArgError(f"{key} must be {low}-{high}; got {value}")
        if self.max_pollers < self.min_pollers:
            raise ComponentArgError(f"max_pollers ({self.max_pollers}) must be >= min_pollers ({self.min_pollers})")
        if not self.allowed_content_types or any("/" not in c for c in self.allowed_content_types):
            raise ComponentArgError(f"allowed_content_types must be MIME types; got {self.allowed_content_types}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )
        if len(self.writer_role_name) > IAM_ROLE_NAME_MAX:
            raise ComponentArgError(
                f"writer role name {self.writer_role_name!r} is {len(self.writer_role_name)} characters; AWS allows "
                f"{IAM_ROLE_NAME_MAX}. Shorten name_prefix."
            )

    @property
    def topic_slug(self) -> str:
        return short_slug(self.topic, 24)

    @property
    def function_name(self) -> str:
        """``AIML-SaaS-ImageConsumer-<topic>-Dev`` (topic slug hashed down when long)."""
        name = f"{self.name_prefix}-ImageConsumer-{self.topic_slug}-{env_suffix(self.environment)}"
        return name[:LAMBDA_FUNCTION_NAME_MAX]

    @property
    def writer_role_name(self) -> str:
        """``AIML-SaaS-ImageWriter-<topic>-Dev``: the role tenant-scoped sessions are taken in."""
        return f"{self.name_prefix}-ImageWriter-{self.topic_slug}-{env_suffix(self.environment)}"

    @property
    def consumer_group_id(self) -> str:
        """Deterministic and unique per (environment, function, topic) - invariant 44."""
        return f"{self.name_prefix}-{self.environment}-image-consumer-{self.topic_slug}".lower()


class MskConsumer(pulumi.ComponentResource):
    """A Lambda consumer of one MSK topic: IAM auth, explicit consumer group and start, finite retries, S3
    on-failure destination, scoped ``kafka-cluster`` permissions, a tenant-scoped writer role, alarms.

    Example::

        consumer = MskConsumer("platform-consumer-image-uploads", MskConsumerArgs(
            environment="dev", region="ap-southeast-1", account_id=platform.account_id,
            cluster_arn=cluster.cluster_arn, network=cluster.network, topic="image-uploads",
            registry_table_name=registry.table_name, registry_table_arn=registry.table_arn,
            kms_key_arn=platform.kms_key_arn, raw_bucket_name=raw.bucket_name, raw_bucket_arn=raw.bucket_arn,
            failure_bucket_name=failures.bucket_name, failure_bucket_arn=failures.bucket_arn,
            metadata_table_name=table.table_name, metadata_table_arn=table.table_arn, retention_days=7))

    Documentation:
        https://docs.aws.amazon.com/lambda/latest/dg/with-msk-process.html
        https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
        https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
        https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html
        https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html
        https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    writer_role_arn: pulumi.Output[str]
    event_source_mapping_uuid: pulumi.Output[str]
    consumer_group_id: str

    def __init__(self, name: str, args: MskConsumerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:pipeline:MskConsumer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        waits_for = depends_on_of(opts)  # e.g. the buckets and table, whose names/ARNs are passed as known strings
        resource_tags = tags(args.environment, "MskConsumer", extra={**args.extra_tags, "saas:topic": args.topic[:256]})
        writer_role_arn = pulumi.Output.concat("arn:aws:iam::", args.account_id, ":role/", args.writer_role_name)
        if isinstance(args.cluster_arn, str):
            arns: pulumi.Output[dict[str, str]] = pulumi.Output.from_input(
                kafka_arns(args.cluster_arn, args.topic, args.consumer_group_id)
            )
        else:
            cluster_name = args.cluster_name or ""
            arns = pulumi.Output.from_input(args.account_id).apply(
                lambda account: kafka_name_scoped_arns(
                    args.region, account, cluster_name, args.topic, args.consumer_group_id
                )
            )
        statements = consumer_statements(
            cluster_arn=arns.apply(lambda a: a["cluster"]),
            topic_arn=arns.apply(lambda a: a["topic"]),
            group_arn=arns.apply(lambda a: a["group"]),
            failure_bucket_arn=args.failure_bucket_arn,
            kms_key_alias=args.kms_key_alias,
            account_id=args.account_id,
            writer_role_arn=writer_role_arn,
            region=args.region,
            registry_table_arn=args.registry_table_arn,
            network=args.network,
        )
        function = HandlerFunction(
            f"{name}-handler",
            HandlerFunctionArgs(
                function_name=args.function_name,
                handler="saas_platform.handlers.msk_consumer.lambda_handler",
                environment=args.environment,
                component="MskConsumer",
                kms_key_arn=args.kms_key_arn,
                description=f"Stores images from MSK topic {args.topic[:80]} (the image-pipeline design)",
                env={
                    "RAW_BUCKET": args.raw_bucket_name,
                    "FAILURE_BUCKET": args.failure_bucket_name,
                    "METADATA_TABLE": args.metadata_table_name,
                    "METADATA_TABLE_ARN": args.metadata_table_arn,
                    "RAW_BUCKET_ARN": args.raw_bucket_arn,
                    "KMS_KEY_ARN": args.kms_key_arn,
                    "KMS_KEY_ALIAS": args.kms_key_alias,
                    "WRITER_ROLE_ARN": writer_role_arn,
                    REGISTRY_TABLE_ENV: args.registry_table_name,
                    "RETENTION_DAYS": str(args.retention_days),
                    "MAX_IMAGE_BYTES": str(args.max_image_bytes),
                    "ALLOWED_CONTENT_TYPES": ",".join(args.allowed_content_types),
                    "SOURCE_BUCKETS": ",".join(args.source_bucket_names),
                },
                statements=statements,
                layers=args.layers,
                memory_size=args.memory_size,
                timeout=args.timeout,
                log_retention_days=args.log_retention_days,
                extra_tags={**args.extra_tags, "saas:topic": args.topic[:256]},
            ),
            opts=child,
        )
        writer = aws.iam.Role(
            f"{name}-writer-role",
            name=args.writer_role_name,
            description=f"Tenant-scoped writer for {args.function_name}: assumed per record tenant with a TenantId tag",
            assume_role_policy=pulumi.Output.json_dumps(function.role_arn.apply(writer_trust_policy)),
            max_session_duration=3600,
            tags=resource_tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-writer-policy",
            role=writer.id,
            policy=pulumi.Output.json_dumps(
                pulumi.Output.all(args.metadata_table_arn, args.raw_bucket_arn, args.account_id).apply(
                    lambda v: writer_policy(
                        table_arn=v[0],
                        raw_bucket_arn=v[1],
                        kms_key_alias=args.kms_key_alias,
                        account_id=v[2],
                        region=args.region,
                        source_bucket_names=args.source_bucket_names,
                    )
                )
            ),
            opts=child,
        )
        mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            function_name=function.function_arn,
            event_source_arn=args.cluster_arn,
            topics=[args.topic],
            starting_position=args.starting_position,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds,
            amazon_managed_kafka_event_source_config=aws.lambda_.EventSourceMappingAmazonManagedKafkaEventSourceConfigArgs(
                consumer_group_id=args.consumer_group_id
            ),
            provisioned_poller_config=aws.lambda_.EventSourceMappingProvisionedPollerConfigArgs(
                minimum_pollers=args.min_pollers, maximum_pollers=args.max_pollers
            ),
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_record_age_in_seconds=args.max_record_age_seconds,
            bisect_batch_on_function_error=True,
            function_response_types=["ReportBatchItemFailures"],
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=args.failure_bucket_arn
                )
            ),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[function, *waits_for]),
        )
        if args.alarm_topic_arn is not None:
            alarms: list[tuple[str, str, str, Mapping[str, pulumi.Input[str]], str]] = [
                ("errors", "AWS/Lambda", "Errors", {"FunctionName": function.function_name}, "function errors"),
                (
                    "rejected",
                    "saas",
                    "RecordsRejected",
                    {"service": "MskConsumer", "function_name": args.function_name},
                    "records rejected to the failure bucket",
                ),
                (
                    "transient",
                    "saas",
                    "RecordsRetried",
                    {"service": "MskConsumer", "function_name": args.function_name},
                    "records reported for retry",
                ),
            ]
            for suffix, namespace, metric, dimensions, what in alarms:
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{suffix}",
                    alarm_description=f"{args.function_name}: {what}",
                    namespace=namespace,
                    metric_name=metric,
                    dimensions=dict(dimensions),
                    statistic="Sum",
                    period=300,
                    evaluation_periods=1,
                    threshold=0,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.alarm_topic_arn],
                    ok_actions=[args.alarm_topic_arn],
                    tags=resource_tags,
                    opts=child,
                )
        self.function_name = function.function_name
        self.function_arn = function.function_arn
        self.role_arn = function.role_arn
        self.writer_role_arn = writer.arn
        self.event_source_mapping_uuid = mapping.uuid
        self.consumer_group_id = args.consumer_group_id
        self.data_paths = datapaths.declare(
            consumer_paths(
                consumer_role_arn=function.role_arn,
                writer_role_arn=writer.arn,
                function_arn=function.function_arn,
                cluster=pulumi.Output.from_input(args.cluster_arn).apply(
                    lambda c: kafka_arns(c, args.topic, args.consumer_group_id)
                ),
                tenant_ids=args.tenant_ids,
                region=args.region,
                kms_key_arn=args.kms_key_arn,
                raw_bucket_arn=args.raw_bucket_arn,
                failure_bucket_arn=args.failure_bucket_arn,
                metadata_table_arn=args.metadata_table_arn,
            )
            + network_interface_paths(
                consumer_role_arn=function.role_arn,
                network=args.network,
                region=args.region,
                account_id=args.account_id,
            )
            + registry_read_paths(
                principal=function.role_arn,
                table_arn=args.registry_table_arn,
                kms_key_arn=args.kms_key_arn,
                region=args.region,
            )
        )
        self.register_outputs(
            {
                "function_name": self.function_name,
                "writer_role_arn": self.writer_role_arn,
                "event_source_mapping_uuid": self.event_source_mapping_uuid,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )


@dataclass(frozen=True, kw_only=True)
class DevMskClusterArgs:
    """Arguments of :class:`DevMskCluster`.

    Attributes:
        environment: must be ``dev`` (staging and prod consume an existing cluster, ``saas:msk.clusterArn``).
        region: the stack's region (endpoint service names).
        name_prefix: prefix of the cluster name.
        availability_zones: Default 2 (MSK Serverless needs subnets in at least two AZs).
        cidr_block: Default ``10.42.0.0/16``.
    """

    environment: Environment
    region: str
    name_prefix: str = DEFAULT_NAME_PREFIX
    availability_zones: int = 2
    cidr_block: str = "10.42.0.0/16"
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment != "dev":
            raise ComponentArgError(
                f"DevMskCluster is for dev only; got environment={self.environment!r}. Staging and prod set "
                "saas:msk.clusterArn to an existing cluster."
            )
        if not 2 <= self.availability_zones <= 3:
            raise ComponentArgError(f"availability_zones must be 2 or 3; got {self.availability_zones}")

    @property
    def cluster_name(self) -> str:
        return f"{self.name_prefix}-images-{self.environment}".lower()


class DevMskCluster(pulumi.ComponentResource):
    """A small MSK Serverless cluster (IAM auth only, TLS always) in its own isolated VPC (pulumi-awsx), with the
    VPC endpoints the event source mapping needs: S3 (gateway, on-failure destination), STS and Lambda
    (interface). No NAT gateway and no internet gateway: nothing in the VPC reaches the internet.

    Example::

        cluster = DevMskCluster("platform-msk", DevMskClusterArgs(environment="dev", region="ap-southeast-1"))
        pulumi.export("mskClusterArn", cluster.cluster_arn)

    Documentation:
        https://docs.aws.amazon.com/msk/latest/developerguide/serverless.html
        https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html
        https://www.pulumi.com/registry/packages/awsx/api-docs/ec2/vpc/
    """

    cluster_arn: pulumi.Output[str]
    cluster_name: str
    vpc_id: pulumi.Output[str]
    subnet_ids: pulumi.Output[Sequence[str]]
    security_group_id: pulumi.Output[str]
    network: MskNetwork
    """Pass to :attr:`MskConsumerArgs.network`: the subnets and the cluster security group carry
    ``saas:mskNetwork=<cluster name>``."""

    def __init__(self, name: str, args: DevMskClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:
            import pulumi_awsx as awsx  # the `awsx` extra: only this dev-only component needs it
        except ImportError as exc:
            raise ComponentArgError(
                "DevMskCluster builds its VPC with pulumi-awsx, which is not installed; "
                "pip install 'saas-platform-components[awsx]'"
            ) from exc
        super().__init__("saas:pipeline:DevMskCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "DevMskCluster", extra=args.extra_tags)
        # Subnets and the cluster security group carry the network tag: the consumer's network-interface grant
        # requires it (MskNetwork.tag_value), because their ids are unknown until they exist.
        network_tags = {**resource_tags, NETWORK_TAG: args.cluster_name}
        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            number_of_availability_zones=args.availability_zones,
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, cidr_mask=24, tags=network_tags)],
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.NONE),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            vpc_endpoint_strategy=awsx.ec2.VpcEndpointStrategy.AUTO,
            vpc_endpoint_specs=[
                awsx.ec2.VpcEndpointSpecArgs(
                    service_name=f"com.amazonaws.{args.region}.s3", vpc_endpoint_type="Gateway", tags=resource_tags
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        cluster_sg = aws.ec2.SecurityGroup(
            f"{name}-cluster-sg",
            vpc_id=vpc.vpc_id,
            description="MSK Serverless brokers and the Lambda event source mapping pollers (IAM auth, port 9098)",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=9098, to_port=9098, self=True, description="Kafka IAM auth (TLS)"
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=9098, to_port=9098, self=True, description="pollers to brokers"
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr_block],
                    description="interface endpoints (STS, Lambda) inside the VPC",
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    prefix_list_ids=[
                        aws.ec2.get_managed_prefix_list_output(
                            name=f"com.amazonaws.{args.region}.s3", opts=pulumi.InvokeOutputOptions(parent=self)
                        ).id
                    ],
                    description="S3 gateway endpoint (on-failure destination)",
                ),
            ],
            tags=network_tags,
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoint-sg",
            vpc_id=vpc.vpc_id,
            description="Interface VPC endpoints: HTTPS from the MSK cluster security group only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, security_groups=[cluster_sg.id], description="HTTPS"
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        for service in ("sts", "lambda"):
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=vpc.vpc_id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=vpc.isolated_subnet_ids,
                security_group_ids=[endpoint_sg.id],
                tags=resource_tags,
                opts=child,
            )
        cluster = aws.msk.ServerlessCluster(
            f"{name}-cluster",
            cluster_name=args.cluster_name,
            client_authentication=aws.msk.ServerlessClusterClientAuthenticationArgs(
                sasl=aws.msk.ServerlessClusterClientAuthenticationSaslArgs(
                    iam=aws.msk.ServerlessClusterClientAuthenticationSaslIamArgs(enabled=True)
                )
            ),
            vpc_configs=[
                aws.msk.ServerlessClusterVpcConfigArgs(
                    subnet_ids=vpc.isolated_subnet_ids, security_group_ids=[cluster_sg.id]
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        self.cluster_arn = cluster.arn
        self.cluster_name = args.cluster_name
        self.vpc_id = vpc.vpc_id
        self.subnet_ids = vpc.isolated_subnet_ids
        self.security_group_id = cluster_sg.id
        self.network = MskNetwork(tag_value=args.cluster_name)
        self.register_outputs({"cluster_arn": self.cluster_arn, "vpc_id": self.vpc_id})
