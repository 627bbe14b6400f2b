"""MskConsumer / DevMskCluster under mocks, the saas:msk config section, and the composed stacks' plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import ComponentArgError, StackConfigError
from saas_platform.components.msk_consumer import DevMskClusterArgs, MskConsumerArgs, MskNetwork, kafka_arns
from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.policies.offline import evaluate_run
from tests.layer_support import DEPS_LAYER

NETWORK = MskNetwork(
    vpc_id="vpc-05a6b7c8d9e0f1a2b",
    subnet_ids=("subnet-05a6b7c8d9e0f1a11",),
    security_group_ids=("sg-05a6b7c8d9e0f1a33",),
)
CLUSTER = "arn:aws:kafka:ap-southeast-1:123456789012:cluster/hr-images-staging/5a1c2f3e-8b4d-4e6f-9a0b-1c2d3e4f5a6b-2"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(".", "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(".", "prod")


@pytest.fixture(scope="module")
def staging(prod: ProgramRun) -> ProgramRun:
    return run_program(".", "staging", stack_outputs={"organization/saas/prod": prod.outputs})


def msk_mappings(run: ProgramRun) -> list[Any]:
    """The stack's MSK event source mappings (the image processor's SQS mapping is not one of them)."""
    return [
        m
        for m in run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if "amazonManagedKafkaEventSourceConfig" in m.inputs
    ]


def esm(run: ProgramRun) -> dict[str, Any]:
    (mapping,) = msk_mappings(run)
    return mapping.inputs


def consumer_policy(run: ProgramRun) -> dict[str, Any]:
    policy = run.named("platform-consumer-image-uploads-handler-policy")
    return json.loads(policy.inputs["policy"])


def test_event_source_mapping_defaults_are_pinned(staging: ProgramRun) -> None:
    inputs = esm(staging)
    failure_bucket = staging.named("platform-msk-failures-bucket").state["arn"]
    assert inputs["eventSourceArn"] == CLUSTER
    assert inputs["topics"] == ["image-uploads"]
    assert inputs["startingPosition"] == "TRIM_HORIZON"
    assert (inputs["batchSize"], inputs["maximumBatchingWindowInSeconds"]) == (100, 1)
    assert inputs["amazonManagedKafkaEventSourceConfig"] == {
        "consumerGroupId": "aiml-saas-staging-image-consumer-image-uploads"
    }
    assert inputs["provisionedPollerConfig"] == {"minimumPollers": 1, "maximumPollers": 2}
    assert (inputs["maximumRetryAttempts"], inputs["maximumRecordAgeInSeconds"]) == (3, 21600)
    assert inputs["bisectBatchOnFunctionError"] is True
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert inputs["destinationConfig"] == {"onFailure": {"destinationArn": failure_bucket}}
    assert failure_bucket == "arn:aws:s3:::aiml-saas-staging-msk-failures-123456789012"
    assert "sourceAccessConfigurations" not in inputs  # IAM auth: no secrets


def test_consumer_role_is_scoped_to_cluster_topic_group_and_has_no_tenant_data_access(staging: ProgramRun) -> None:
    doc = consumer_policy(staging)
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    base = "arn:aws:kafka:ap-southeast-1:123456789012"
    path = "hr-images-staging/5a1c2f3e-8b4d-4e6f-9a0b-1c2d3e4f5a6b-2"
    assert by_sid["KafkaConnect"]["Action"] == [
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeClusterDynamicConfiguration",
    ]
    assert by_sid["KafkaConnect"]["Resource"] == CLUSTER
    assert by_sid["KafkaReadTopic"]["Resource"] == f"{base}:topic/{path}/image-uploads"
    assert (
        by_sid["KafkaConsumerGroup"]["Resource"]
        == f"{base}:group/{path}/aiml-saas-staging-image-consumer-image-uploads"
    )
    assert by_sid["KafkaClusterMetadata"]["Action"] == ["kafka:DescribeClusterV2", "kafka:DescribeCluster"]
    assert by_sid["KafkaClusterMetadata"]["Resource"] == CLUSTER
    # no resource-level permissions in the Service Authorization Reference: only "*" grants it
    assert by_sid["KafkaBootstrapBrokers"] == {
        "Sid": "KafkaBootstrapBrokers",
        "Effect": "Allow",
        "Action": "kafka:GetBootstrapBrokers",
        "Resource": "*",
    }
    # network interfaces only in the cluster's subnets, with its security groups, deleted only in its VPC
    ec2 = "arn:aws:ec2:ap-southeast-1:123456789012"
    assert by_sid["EventSourceMappingDescribeNetwork"]["Resource"] == "*"
    assert by_sid["EventSourceMappingCreateInterface"] == {
        "Sid": "EventSourceMappingCreateInterface",
        "Effect": "Allow",
        "Action": "ec2:CreateNetworkInterface",
        "Resource": [
            f"{ec2}:network-interface/*",
            f"{ec2}:subnet/subnet-05a6b7c8d9e0f1a11",
            f"{ec2}:subnet/subnet-05a6b7c8d9e0f1a22",
            f"{ec2}:security-group/sg-05a6b7c8d9e0f1a33",
        ],
    }
    assert by_sid["EventSourceMappingDeleteInterface"]["Condition"] == {
        "ArnEquals": {"ec2:Vpc": f"{ec2}:vpc/vpc-05a6b7c8d9e0f1a2b"}
    }
    failures = "arn:aws:s3:::aiml-saas-staging-msk-failures-123456789012"
    assert by_sid["OnFailureDestinationObjects"] == {
        "Sid": "OnFailureDestinationObjects",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": f"{failures}/*",
    }
    assert by_sid["OnFailureDestinationBucket"]["Resource"] == failures
    assert (
        by_sid["OnFailureDestinationKey"]["Condition"]["StringEquals"]["kms:ViaService"]
        == "s3.ap-southeast-1.amazonaws.com"
    )
    assert by_sid["OnFailureDestinationKey"]["Resource"] == "arn:aws:kms:ap-southeast-1:123456789012:key/*"
    assert by_sid["OnFailureDestinationKey"]["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": "alias/aiml-saas-staging"
    }
    assume = by_sid["AssumeTenantWriter"]
    assert assume["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert assume["Resource"] == "arn:aws:iam::123456789012:role/AIML-SaaS-ImageWriter-image-uploads-Staging"
    # constant size: no tenant list; the registry (checked in the handler) decides which tenants exist
    assert assume["Condition"] == {
        "Null": {"aws:RequestTag/TenantId": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
    }
    registry = by_sid.pop("ReadTenantRegistry")
    assert registry["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    table = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryStaging"
    assert registry["Resource"] == [table, f"{table}/index/byUserPool"]
    doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") != "ReadTenantRegistry"]
    text = json.dumps(doc)
    assert "acme" not in text
    assert "globex" not in text
    assert "kafka-cluster:*" not in text
    assert "dynamodb:" not in text  # the consumer's own role never touches tenant rows
    assert "raw-images" not in text  # ... or tenant objects


def test_writer_role_is_tenant_keyed(staging: ProgramRun) -> None:
    role = staging.named("platform-consumer-image-uploads-writer-role")
    assert role.inputs["name"] == "AIML-SaaS-ImageWriter-image-uploads-Staging"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (st,) = trust["Statement"]
    consumer_role = staging.named("platform-consumer-image-uploads-handler-role").state["arn"]
    # The account, pinned to the consumer by aws:PrincipalArn: the consumer's tenant allow-list is then evaluated.
    assert st["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert st["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert st["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": consumer_role},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
        "Null": {"aws:RequestTag/TenantId": "false"},
    }
    doc = json.loads(staging.named("platform-consumer-image-uploads-writer-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    ddb = by_sid["ImageMetadataOwnTenantOnly"]
    assert ddb["Action"] == ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"]
    assert ddb["Resource"] == "arn:aws:dynamodb:ap-southeast-1:123456789012:table/ImageMetadataStaging"
    assert ddb["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/TenantId}"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }
    assert by_sid["RawImagesOwnTenantOnly"]["Resource"] == (
        "arn:aws:s3:::aiml-saas-staging-raw-images-123456789012/${aws:PrincipalTag/TenantId}/raw/*"
    )


def test_function_gets_the_tenant_registry_from_config(staging: ProgramRun) -> None:
    fn = staging.named("platform-consumer-image-uploads-handler-function")
    env = fn.inputs["environment"]["variables"]
    assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryStaging"
    assert not any("acme" in str(v) for v in env.values())  # no tenant list in the environment
    assert env["RETENTION_DAYS"] == "7"
    assert env["METADATA_TABLE"] == "ImageMetadataStaging"
    assert env["WRITER_ROLE_ARN"] == "arn:aws:iam::123456789012:role/AIML-SaaS-ImageWriter-image-uploads-Staging"
    assert fn.inputs["name"] == "AIML-SaaS-ImageConsumer-image-uploads-Staging"
    log_group = staging.named("platform-consumer-image-uploads-handler-logs")
    assert log_group.inputs["retentionInDays"] == 90
    alarms = [r for r in staging.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if "consumer" in r.name]
    assert sorted(a.inputs["metricName"] for a in alarms) == ["Errors", "RecordsRejected", "RecordsRetried"]


def test_dev_creates_a_serverless_cluster_in_an_isolated_awsx_vpc(dev: ProgramRun) -> None:
    (cluster,) = dev.of_type("aws:msk/serverlessCluster:ServerlessCluster")
    assert cluster.inputs["clientAuthentication"] == {"sasl": {"iam": {"enabled": True}}}
    (vpc,) = dev.of_type("awsx:ec2:Vpc")
    assert vpc.inputs["natGateways"] == {"strategy": "None"}
    (spec,) = vpc.inputs["subnetSpecs"]
    assert (spec["type"], spec["cidrMask"]) == ("Isolated", 24)
    # the consumer may create network interfaces only in subnets and with groups carrying the cluster's tag
    assert spec["tags"]["saas:mskNetwork"] == "aiml-saas-images-dev"
    sgs = [r for r in dev.of_type("aws:ec2/securityGroup:SecurityGroup") if r.name.endswith("-cluster-sg")]
    assert [sg.inputs["tags"]["saas:mskNetwork"] for sg in sgs] == ["aiml-saas-images-dev"]
    assert vpc.inputs["vpcEndpointSpecs"][0]["serviceName"] == "com.amazonaws.ap-southeast-1.s3"
    subnets = cluster.inputs["vpcConfigs"][0]["subnetIds"]
    assert len(subnets) == 2
    assert all(s.startswith("subnet-") for s in subnets)
    endpoints = sorted(r.inputs["serviceName"] for r in dev.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"))
    assert endpoints == ["com.amazonaws.ap-southeast-1.lambda", "com.amazonaws.ap-southeast-1.sts"]
    assert esm(dev)["eventSourceArn"] == cluster.state["arn"]
    # the created cluster's UUID is unknown before it exists: kafka-cluster grants name the cluster instead
    by_sid = {st["Sid"]: st for st in consumer_policy(dev)["Statement"]}
    base = "arn:aws:kafka:ap-southeast-1:123456789012"
    assert by_sid["KafkaConnect"]["Resource"] == f"{base}:cluster/aiml-saas-images-dev/*"
    assert by_sid["KafkaReadTopic"]["Resource"] == f"{base}:topic/aiml-saas-images-dev/*/image-uploads"
    assert by_sid["KafkaConsumerGroup"]["Resource"] == (
        f"{base}:group/aiml-saas-images-dev/*/aiml-saas-dev-image-consumer-image-uploads"
    )
    assert by_sid["EventSourceMappingInterfaceInClusterNetwork"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/saas:mskNetwork": "aiml-saas-images-dev"}
    }


def test_stacks_show_buckets_and_consumer_with_zero_mandatory_violations(
    dev: ProgramRun, staging: ProgramRun, prod: ProgramRun
) -> None:
    for stack, run in (("dev", dev), ("staging", staging), ("prod", prod)):
        report = evaluate_run(run)
        assert report.mandatory == [], (stack, report.mandatory)
        purposes = sorted(r.inputs["tags"]["saas:purpose"] for r in run.of_type("aws:s3/bucket:Bucket"))
        assert purposes == ["access-logs", "documents", "msk-failures", "processed-images", "raw-images"]
        mappings = run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        assert sorted(m.name for m in mappings) == [  # the MSK consumer, and the image processor on its queue
            "platform-consumer-image-uploads-mapping",
            "platform-images-processor-mapping",
        ]
        assert len(msk_mappings(run)) == 1
        assert run.outputs["imageWorstCaseLifetimeDays"] == 10
        assert run.outputs["mskConsumerFunctions"] == {
            "image-uploads": f"AIML-SaaS-ImageConsumer-image-uploads-{stack.capitalize()}"
        }


def test_no_msk_config_means_buckets_but_no_consumer() -> None:
    run = run_program(".", "dev", config={"saas:msk": None})
    assert msk_mappings(run) == []
    # the processing leg stays: the raw bucket still receives uploads through the API
    assert [m.name for m in run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")] == [
        "platform-images-processor-mapping"
    ]
    assert run.of_type("aws:msk/serverlessCluster:ServerlessCluster") == []
    assert len(run.of_type("aws:s3/bucket:Bucket")) == 4
    assert evaluate_run(run).mandatory == []


NET: dict[str, Any] = {
    "vpcId": "vpc-05a6b7c8d9e0f1a2b",
    "subnetIds": ["subnet-05a6b7c8d9e0f1a11"],
    "securityGroupIds": ["sg-05a6b7c8d9e0f1a33"],
}
BASE: dict[str, Any] = {
    "aws:region": "ap-southeast-1",
    "saas:environment": "prod",
    "saas:tenants": [{"id": "acme"}],
    "saas:retentionDays": 7,
    "saas:alarms": {"email": "ops@example.com"},
}


@pytest.mark.parametrize(
    ("msk", "key", "fragment"),
    [
        (
            {"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "startingPosition": "LATEST"},
            "saas:msk.startingPosition",
            "prod requires TRIM_HORIZON",
        ),
        ({"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "batchSize": 20000}, "saas:msk.batchSize", "10000"),
        (
            {"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "maxRetryAttempts": -1},
            "saas:msk.maxRetryAttempts",
            "0",
        ),
        (
            {"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "maxRecordAgeSeconds": 10},
            "saas:msk.maxRecordAgeSeconds",
            "60",
        ),
        (
            {"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "minPollers": 3, "maxPollers": 2},
            "saas:msk.maxPollers",
            "must be >= minPollers (3)",
        ),
        (
            {"clusterArn": CLUSTER, "network": NET, "topics": ["t"], "sourceBuckets": ["Not_A_Bucket"]},
            "saas:msk.sourceBuckets[0]",
            "",
        ),
        ({"create": True, "topics": ["t"]}, "saas:msk.create", "create: true is for dev only"),
    ],
)
def test_msk_config_errors_name_the_key(msk: dict[str, Any], key: str, fragment: str) -> None:
    cfg = {**BASE, "saas:msk": json.dumps(msk)}
    with pytest.raises(StackConfigError) as err:
        load_stack_config(cfg, "prod")
    assert key in err.value.keys
    assert fragment in str(err.value)


def test_msk_config_defaults_are_the_safe_ones() -> None:
    cfg = load_stack_config(
        {**BASE, "saas:msk": json.dumps({"clusterArn": CLUSTER, "network": NET, "topics": ["t"]})}, "prod"
    )
    assert cfg.msk is not None
    assert (cfg.msk.starting_position, cfg.msk.max_retry_attempts, cfg.msk.max_record_age_seconds) == (
        "TRIM_HORIZON",
        3,
        21600,
    )
    assert (cfg.msk.min_pollers, cfg.msk.max_pollers, cfg.msk.source_buckets) == (1, 2, [])


def consumer_args(**kw: Any) -> MskConsumerArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "region": "ap-southeast-1",
        "account_id": "123456789012",
        "cluster_arn": CLUSTER,
        "network": NETWORK,
        "topic": "image-uploads",
        "registry_table_name": "TenantRegistryDev",
        "registry_table_arn": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryDev",
        "kms_key_arn": "k",
        "raw_bucket_name": "r",
        "raw_bucket_arn": "arn:aws:s3:::r",
        "failure_bucket_name": "f",
        "failure_bucket_arn": "arn:aws:s3:::f",
        "metadata_table_name": "t",
        "metadata_table_arn": "arn:t",
        "retention_days": 7,
        "kms_key_alias": "alias/aiml-saas-dev",
        "layers": [DEPS_LAYER],
    }
    return MskConsumerArgs(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cluster_arn": "arn:aws:kafka:ap-southeast-1:123456789012:topic/x"}, "cluster_arn must look like"),
        ({"max_retry_attempts": -1}, "max_retry_attempts must be 0-10000; got -1"),
        ({"batch_size": 0}, "batch_size must be 1-10000; got 0"),
        ({"topic": "bad topic"}, "topic must be 1-249 characters"),
        ({"max_image_bytes": 20 * 1024 * 1024}, "max_image_bytes must be 1-10485760"),
        ({"name_prefix": "A" * 40}, "writer role name"),
    ],
)
def test_consumer_argument_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        consumer_args(**kw)


def test_long_topics_get_stable_short_names_and_unique_groups() -> None:
    a = consumer_args(topic="x" * 200)
    b = consumer_args(topic="x" * 199)
    assert len(a.function_name) <= 64
    assert len(a.writer_role_name) <= 64
    assert a.consumer_group_id != b.consumer_group_id
    assert a.consumer_group_id == consumer_args(topic="x" * 200).consumer_group_id


def test_kafka_arns_and_dev_cluster_guard() -> None:
    arns = kafka_arns(CLUSTER, "t", "g")
    assert arns["topic"].endswith(":topic/hr-images-staging/5a1c2f3e-8b4d-4e6f-9a0b-1c2d3e4f5a6b-2/t")
    assert arns["group"].endswith(":group/hr-images-staging/5a1c2f3e-8b4d-4e6f-9a0b-1c2d3e4f5a6b-2/g")
    with pytest.raises(ComponentArgError, match="DevMskCluster is for dev only"):
        DevMskClusterArgs(environment="prod", region="ap-southeast-1")
