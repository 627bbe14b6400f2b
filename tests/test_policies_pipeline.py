"""Policy rules for buckets (invariants 34-42) and MSK consumers (43-46): compliant, violating and missing cases.

Resource rules go through pulumi-policy's analyzer (``analyze_props``); stack rules run over small programs
under mocks (``run_function`` + ``evaluate``), so the joins see what the engine would send.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.msk_consumer import MskNetwork, network_interface_statements
from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies import buckets, msk
from saas_platform.policies.msk import (
    arn_covers,
    consumer_role_problems,
    kafka_wildcard_problems,
    network_interface_scope_problems,
)

CLUSTER = "arn:aws:kafka:ap-southeast-1:123456789012:cluster/hr-images/0f9e8d7c-6b5a-4c3d-8e2f-a1b2c3d4e5f6-3"
TOPIC_ARN = (
    "arn:aws:kafka:ap-southeast-1:123456789012:topic/hr-images/0f9e8d7c-6b5a-4c3d-8e2f-a1b2c3d4e5f6-3/image-uploads"
)
GROUP_ARN = "arn:aws:kafka:ap-southeast-1:123456789012:group/hr-images/0f9e8d7c-6b5a-4c3d-8e2f-a1b2c3d4e5f6-3/g1"
FAILURES = "arn:aws:s3:::failures"


def names(policy: Any, type_: str, props: dict[str, Any]) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in analyze_props([policy], type_, props)]


# ------------------------------------------------------------------------------------------------ resource rules


def test_public_access_block_all_four_flags() -> None:
    ok = {
        "bucket": "b",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert names(buckets.s3_public_access_block, buckets.PUBLIC_ACCESS, ok) == []
    assert names(buckets.s3_public_access_block, buckets.PUBLIC_ACCESS, {**ok, "ignorePublicAcls": False}) == [
        "Block Public Access settings not true: ['ignorePublicAcls']; set all four to True"
    ]
    missing = names(buckets.s3_public_access_block, buckets.PUBLIC_ACCESS, {"bucket": "b"})
    assert missing
    assert "restrictPublicBuckets" in missing[0]


def test_acls_disabled() -> None:
    rule = buckets.s3_acls_disabled
    assert names(rule, buckets.OWNERSHIP, {"bucket": "b", "rule": {"objectOwnership": "BucketOwnerEnforced"}}) == []
    assert names(rule, buckets.OWNERSHIP, {"bucket": "b", "rule": {"objectOwnership": "ObjectWriter"}})
    assert names(rule, buckets.OWNERSHIP, {"bucket": "b"})  # missing rule
    assert names(rule, "aws:s3/bucketAcl:BucketAcl", {"bucket": "b", "acl": "private"})
    assert names(rule, buckets.BUCKET, {"bucket": "b", "acl": "public-read"})
    assert names(rule, buckets.BUCKET, {"bucket": "b"}) == []


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
TLS12_DENY = {**TLS_DENY, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}


def test_tls_only_needs_both_arns_and_secure_transport_false() -> None:
    rule = buckets.s3_tls_only
    assert names(rule, buckets.POLICY, {"bucket": "b", "policy": policy_doc(TLS_DENY)}) == []
    objects_only = {**TLS_DENY, "Resource": "arn:aws:s3:::b/*"}
    assert names(rule, buckets.POLICY, {"bucket": "b", "policy": policy_doc(objects_only)})
    allow = {**TLS_DENY, "Effect": "Allow"}
    assert names(rule, buckets.POLICY, {"bucket": "b", "policy": policy_doc(allow)})
    assert names(rule, buckets.POLICY, {"bucket": "b"})  # no policy at all


def test_tls_minimum_version_is_advisory() -> None:
    rule = buckets.s3_tls_minimum_version
    assert names(rule, buckets.POLICY, {"bucket": "b", "policy": policy_doc(TLS_DENY, TLS12_DENY)}) == []
    (v,) = analyze_props([rule], buckets.POLICY, {"bucket": "b", "policy": policy_doc(TLS_DENY)})
    assert v.level == "advisory"


def test_msk_cluster_iam_and_tls() -> None:
    rule = msk.msk_cluster_iam_tls
    good = {
        "clientAuthentication": {"sasl": {"iam": True}},
        "encryptionInfo": {"encryptionInTransit": {"clientBroker": "TLS"}},
    }
    assert names(rule, msk.CLUSTER, good) == []
    assert names(rule, msk.CLUSTER, {**good, "clientAuthentication": {"sasl": {"iam": True}, "unauthenticated": True}})
    assert names(
        rule, msk.CLUSTER, {**good, "encryptionInfo": {"encryptionInTransit": {"clientBroker": "TLS_PLAINTEXT"}}}
    )
    assert len(names(rule, msk.CLUSTER, {})) == 2  # missing auth and missing TLS setting
    serverless = {"clientAuthentication": {"sasl": {"iam": {"enabled": True}}}}
    assert names(rule, msk.SERVERLESS_CLUSTER, serverless) == []
    assert names(rule, msk.SERVERLESS_CLUSTER, {})


ESM_OK: dict[str, Any] = {
    "functionName": "arn:aws:lambda:ap-southeast-1:123456789012:function:f",
    "eventSourceArn": CLUSTER,
    "topics": ["image-uploads"],
    "startingPosition": "TRIM_HORIZON",
    "batchSize": 100,
    "maximumBatchingWindowInSeconds": 1,
    "amazonManagedKafkaEventSourceConfig": {"consumerGroupId": "g1"},
    "provisionedPollerConfig": {"minimumPollers": 1, "maximumPollers": 2},
    "maximumRetryAttempts": 3,
    "maximumRecordAgeInSeconds": 21600,
    "bisectBatchOnFunctionError": True,
    "functionResponseTypes": ["ReportBatchItemFailures"],
    "destinationConfig": {"onFailure": {"destinationArn": FAILURES}},
}


def test_consumer_identity() -> None:
    rule = msk.msk_esm_consumer_identity
    assert names(rule, msk.ESM, ESM_OK) == []
    assert names(rule, msk.ESM, {**ESM_OK, "topics": ["a", "b"]}) == [
        "topics must hold exactly one topic; got ['a', 'b']"
    ]
    assert names(rule, msk.ESM, {**ESM_OK, "batchSize": 20000})
    missing = {k: v for k, v in ESM_OK.items() if k not in ("amazonManagedKafkaEventSourceConfig", "startingPosition")}
    assert names(rule, msk.ESM, missing) == [
        "amazon_managed_kafka_event_source_config.consumer_group_id is not set explicitly",
        "starting_position is not set explicitly",
    ]
    sqs = {"eventSourceArn": "arn:aws:sqs:ap-southeast-1:123456789012:q", "functionName": "f"}
    assert names(rule, msk.ESM, sqs) == []  # not a Kafka mapping


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"maximumRetryAttempts": -1}, "maximum_retry_attempts must be 0-10000"),
        ({"maximumRecordAgeInSeconds": 30}, "maximum_record_age_in_seconds must be 60-604800"),
        ({"bisectBatchOnFunctionError": False}, "bisect_batch_on_function_error is not True"),
        ({"functionResponseTypes": []}, "function_response_types lacks ReportBatchItemFailures"),
        ({"destinationConfig": {}}, "destination_config.on_failure.destination_arn is not set"),
        ({"provisionedPollerConfig": None}, "provisioned_poller_config is not set"),
    ],
)
def test_poison_records_violations(change: dict[str, Any], expected: str) -> None:
    props = {k: v for k, v in {**ESM_OK, **change}.items() if v is not None}
    (message,) = names(msk.msk_esm_poison_records, msk.ESM, props)
    assert message.startswith(expected)


def test_poison_records_compliant_and_missing() -> None:
    assert names(msk.msk_esm_poison_records, msk.ESM, ESM_OK) == []
    bare = {"eventSourceArn": CLUSTER, "functionName": "f", "topics": ["t"]}
    assert len(names(msk.msk_esm_poison_records, msk.ESM, bare)) == 6


def test_payload_destination_and_secret_auth() -> None:
    sqs_dest = {**ESM_OK, "destinationConfig": {"onFailure": {"destinationArn": "arn:aws:sqs:ap-southeast-1:1:q"}}}
    (v,) = analyze_props([msk.msk_esm_payload_destination], msk.ESM, sqs_dest)
    assert v.level == "advisory"
    assert names(msk.msk_esm_payload_destination, msk.ESM, ESM_OK) == []
    scram = {
        **ESM_OK,
        "sourceAccessConfigurations": [{"type": "SASL_SCRAM_512_AUTH", "uri": "arn:aws:secretsmanager:x"}],
    }
    assert names(msk.msk_esm_iam_auth, msk.ESM, scram)
    assert names(msk.msk_esm_iam_auth, msk.ESM, ESM_OK) == []


def test_no_kafka_cluster_wildcards() -> None:
    scoped = {"Effect": "Allow", "Action": ["kafka-cluster:Connect"], "Resource": CLUSTER}
    assert kafka_wildcard_problems({"Statement": [scoped]}) == []
    star = {"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": CLUSTER}
    assert kafka_wildcard_problems({"Statement": [star]}) == [
        "wildcard kafka-cluster actions ['kafka-cluster:*']; list the exact actions"
    ]
    anywhere = {"Effect": "Allow", "Action": "kafka-cluster:ReadData", "Resource": "*"}
    assert kafka_wildcard_problems({"Statement": [anywhere]}) == [
        "kafka-cluster actions on ['*']; scope them to cluster/topic/group ARNs"
    ]
    assert kafka_wildcard_problems({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]})
    assert kafka_wildcard_problems({}) == []  # no statements: nothing granted


def consumer_program(statements: list[dict[str, Any]]) -> None:
    role = aws.iam.Role("consumer-role", assume_role_policy="{}")
    aws.iam.RolePolicy("consumer-policy", role=role.id, policy=policy_doc(*statements))
    fn = aws.lambda_.Function(
        "consumer", name="consumer", role=role.arn, runtime="python3.13", handler="h.h", code=pulumi.AssetArchive({})
    )
    aws.lambda_.EventSourceMapping(
        "mapping",
        function_name=fn.arn,
        event_source_arn=CLUSTER,
        topics=["image-uploads"],
        starting_position="TRIM_HORIZON",
        amazon_managed_kafka_event_source_config={"consumer_group_id": "g1"},
        destination_config={"on_failure": {"destination_arn": FAILURES}},
    )


def test_consumer_role_stack_rule_joins_mapping_function_role_and_policies() -> None:
    ok = evaluate(run_function(lambda: consumer_program(consumer_statements_ok())), [msk.msk_consumer_role_permissions])
    assert ok.violations == []
    star = {"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": CLUSTER}
    bad = evaluate(
        run_function(lambda: consumer_program([*consumer_statements_ok(), star])), [msk.msk_consumer_role_permissions]
    )
    assert sorted(messages(bad)) == [
        "consumer role may also produce (['kafka-cluster:CreateTopic', 'kafka-cluster:WriteData', "
        "'kafka-cluster:WriteDataIdempotently']): the consumer trusts the tenantId its producers write, so it must "
        "never be one of them; give producers their own role (producer_statements)",
        "consumer role: wildcard kafka-cluster actions ['kafka-cluster:*']; list the exact actions",
    ]
    missing = evaluate(run_function(lambda: consumer_program([])), [msk.msk_consumer_role_permissions])
    assert len(missing.mandatory) >= 10


# ------------------------------------------------------------------------------------------------ consumer role


def consumer_statements_ok() -> list[dict[str, Any]]:
    return [
        {"Effect": "Allow", "Action": ["kafka:DescribeClusterV2"], "Resource": CLUSTER},
        {"Effect": "Allow", "Action": "kafka:GetBootstrapBrokers", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"],
            "Resource": CLUSTER,
        },
        {"Effect": "Allow", "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"], "Resource": TOPIC_ARN},
        {
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
            "Resource": GROUP_ARN,
        },
        *network_interface_statements(NETWORK, region="ap-southeast-1", account_id="123456789012"),
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{FAILURES}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": FAILURES},
    ]


NETWORK = MskNetwork(
    vpc_id="vpc-0a1b2c3d4e5f60718",
    subnet_ids=("subnet-0a1b2c3d4e5f60011",),
    security_group_ids=("sg-0a1b2c3d4e5f60044",),
)
ENI_ON_ANY = {"Effect": "Allow", "Resource": "*", "Action": list(msk.ENI_ACTIONS)}  # AWSLambdaMSKExecutionRole


def test_network_interface_scope_compliant_violating_missing() -> None:
    tagged = network_interface_statements(
        MskNetwork(tag_value="hr-images-dev"), region="ap-southeast-1", account_id="123456789012"
    )
    assert network_interface_scope_problems(consumer_statements_ok()) == []
    assert network_interface_scope_problems(tagged) == []
    # The AWSLambdaMSKExecutionRole shape: create and delete anywhere in the account.
    assert network_interface_scope_problems([ENI_ON_ANY]) == [
        "ec2:CreateNetworkInterface on ['*'] reaches every subnet and security group: name the cluster's subnets "
        "and security groups (or require their saas:mskNetwork tag)",
        "ec2:DeleteNetworkInterface on ['*']: confine it to this account's and region's network interfaces, in the "
        "cluster's VPC (ec2:Vpc)",
    ]
    any_subnet = {
        "Effect": "Allow",
        "Action": "ec2:CreateNetworkInterface",
        "Resource": [
            "arn:aws:ec2:ap-southeast-1:123456789012:network-interface/*",
            "arn:aws:ec2:ap-southeast-1:123456789012:subnet/*",
        ],
    }
    assert len(network_interface_scope_problems([any_subnet])) == 1
    ok_but_star = [s for s in consumer_statements_ok() if "ec2:DescribeVpcs" not in str(s.get("Action"))]
    assert consumer_role_problems(ESM_OK, [*ok_but_star, ENI_ON_ANY], CLUSTER) == [
        *network_interface_scope_problems([ENI_ON_ANY])
    ]
    without_eni = [s for s in consumer_statements_ok() if "ec2:" not in str(s.get("Action"))]
    assert consumer_role_problems(ESM_OK, without_eni, CLUSTER) == [
        "role lacks the EC2 network-interface actions ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', "
        "'ec2:DeleteNetworkInterface', 'ec2:DescribeVpcs', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups']"
    ]


def test_consumer_role_must_not_produce() -> None:
    from saas_platform.components.msk_consumer import producer_statements

    produce = producer_statements(cluster_arn=CLUSTER, topic_arn=TOPIC_ARN)
    found = consumer_role_problems(ESM_OK, [*consumer_statements_ok(), *produce], CLUSTER)
    assert found == [
        "consumer role may also produce (['kafka-cluster:WriteData', 'kafka-cluster:WriteDataIdempotently']): the "
        "consumer trusts the tenantId its producers write, so it must never be one of them; give producers their own "
        "role (producer_statements)"
    ]


def test_consumer_role_problems_compliant_violating_missing() -> None:
    assert consumer_role_problems(ESM_OK, consumer_statements_ok(), CLUSTER) == []
    wrong_group = consumer_statements_ok()
    wrong_group[4] = {**wrong_group[4], "Resource": GROUP_ARN.replace("/g1", "/other")}
    assert consumer_role_problems(ESM_OK, wrong_group, CLUSTER) == [
        "role lacks kafka-cluster:DescribeGroup on the consumer group ARN of 'g1'",
        "role lacks kafka-cluster:AlterGroup on the consumer group ARN of 'g1'",
    ]
    no_destination = [s for s in consumer_statements_ok() if not str(s.get("Action")).startswith("s3:")]
    assert consumer_role_problems(ESM_OK, no_destination, CLUSTER) == [
        f"role lacks s3:PutObject on {FAILURES}/*",
        f"role lacks s3:ListBucket on {FAILURES}",
    ]
    assert len(consumer_role_problems(ESM_OK, [], CLUSTER)) >= 10


def test_bootstrap_brokers_must_be_granted_on_star_not_on_the_cluster() -> None:
    # kafka:GetBootstrapBrokers has no resource-level permissions: a grant on the cluster ARN is implicitly denied
    on_cluster = consumer_statements_ok()
    on_cluster[1] = {"Effect": "Allow", "Action": "kafka:GetBootstrapBrokers", "Resource": CLUSTER}
    expected = (
        "role lacks kafka:GetBootstrapBrokers on Resource '*' (it supports no resource-level permissions, so a "
        "grant on the cluster ARN is implicitly denied)"
    )
    assert consumer_role_problems(ESM_OK, on_cluster, CLUSTER) == [expected]
    mixed = consumer_statements_ok()
    mixed[1] = {"Effect": "Allow", "Action": "kafka:GetBootstrapBrokers", "Resource": ["*", CLUSTER]}
    assert consumer_role_problems(ESM_OK, mixed, CLUSTER) == [expected]
    conditional = consumer_statements_ok()
    conditional[1] = {**conditional[1], "Condition": {"StringEquals": {"aws:ResourceTag/x": "y"}}}
    assert consumer_role_problems(ESM_OK, conditional, CLUSTER) == [expected]


def test_cluster_known_only_by_name_at_first_preview() -> None:
    by_name = "arn:aws:kafka:ap-southeast-1:123456789012:{kind}/hr-images/*"
    stmts = consumer_statements_ok()
    stmts[0] = {**stmts[0], "Resource": by_name.format(kind="cluster")}
    stmts[2] = {**stmts[2], "Resource": by_name.format(kind="cluster")}
    stmts[3] = {**stmts[3], "Resource": by_name.format(kind="topic") + "/image-uploads"}
    stmts[4] = {**stmts[4], "Resource": by_name.format(kind="group") + "/g1"}
    assert consumer_role_problems(ESM_OK, stmts, None) == []  # unknown ARN: checked by cluster name
    assert consumer_role_problems(ESM_OK, stmts, CLUSTER) == []  # the UUID wildcard covers the real ARN
    other_cluster = CLUSTER.replace("/hr-images/", "/other/")
    assert "role lacks kafka-cluster:Connect on the cluster ARN " + other_cluster in consumer_role_problems(
        ESM_OK, stmts, other_cluster
    )
    assert consumer_role_problems(ESM_OK, consumer_statements_ok(), None) == [
        "the cluster ARN is not known yet and the role grants kafka-cluster:Connect on no cluster/<name>/* ARN; "
        "scope the kafka-cluster actions to the cluster by name"
    ]
    wildcard_name = [{**stmts[2], "Resource": "arn:aws:kafka:ap-southeast-1:123456789012:cluster/*/*"}]
    assert not arn_covers(wildcard_name[0]["Resource"], CLUSTER)


def test_consumer_role_stack_rule_flags_mapping_without_a_known_function() -> None:
    def program() -> None:
        aws.lambda_.EventSourceMapping(
            "m",
            **{
                "function_name": "arn:aws:lambda:ap-southeast-1:123456789012:function:elsewhere",
                "event_source_arn": CLUSTER,
                "topics": ["t"],
                "starting_position": "TRIM_HORIZON",
                "amazon_managed_kafka_event_source_config": {"consumer_group_id": "g"},
            },
        )

    report = evaluate(run_function(program), [msk.msk_consumer_role_permissions])
    assert [v.message.split("\n")[1] for v in report.mandatory] == [
        "MSK mapping's function (or its role) is not part of this stack; its permissions cannot be checked"
    ]


# ------------------------------------------------------------------------------------------------ stack rules: buckets

STACK_RULES = [buckets.s3_bucket_guardrails, buckets.s3_sse_kms, buckets.s3_lifecycle_covers_data]


def bucket_args(**kw: Any) -> LifecycleBucketArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "purpose": "raw-images",
        "data_class": "ephemeral",
        "bucket_name": "raw-b",
        "kms_key_arn": "arn:aws:kms:ap-southeast-1:123456789012:key/k",
        "access_log_bucket": "logs-b",
        "expiration_days": 7,
        "protect": False,
    }
    return LifecycleBucketArgs(**{**base, **kw})


def log_bucket() -> LifecycleBucket:
    return LifecycleBucket(
        "logs",
        LifecycleBucketArgs(
            environment="dev",
            purpose="access-logs",
            data_class="access-logs",
            bucket_name="logs-b",
            expiration_days=90,
            versioning=False,
            account_id="123456789012",
            protect=False,
        ),
    )


def messages(report: Any) -> list[str]:
    return sorted(v.message.split("\n", 1)[1] for v in report.mandatory)


def test_lifecycle_buckets_pass_every_bucket_rule() -> None:
    def program() -> None:
        log_bucket()
        LifecycleBucket("raw", bucket_args())
        LifecycleBucket(
            "docs",
            bucket_args(
                purpose="documents",
                data_class="durable",
                bucket_name="docs-b",
                expiration_days=None,
                noncurrent_days=30,
            ),
        )

    report = evaluate(run_function(program), [*buckets.POLICIES, *msk.POLICIES])
    assert report.violations == []


def test_bare_bucket_misses_every_guardrail() -> None:
    report = evaluate(run_function(lambda: aws.s3.Bucket("bare", bucket="bare-b")), STACK_RULES)
    found = messages(report)
    for what in (
        "BucketPublicAccessBlock",
        "BucketOwnershipControls",
        "BucketPolicy",
        "BucketServerSideEncryptionConfiguration",
        "BucketLifecycleConfiguration",
        "BucketVersioning",
    ):
        assert f"bucket 'bare-b' has no {what}" in found
    assert any("no valid saas:data-class tag" in m for m in found)


def raw_lifecycle(rules: list[dict[str, Any]]) -> None:
    aws.s3.BucketLifecycleConfiguration("extra", bucket="raw-b", rules=rules)  # type: ignore[arg-type]


def test_second_lifecycle_configuration_is_a_violation() -> None:
    def program() -> None:
        log_bucket()
        LifecycleBucket("raw", bucket_args())
        raw_lifecycle([{"id": "x", "status": "Enabled", "expiration": {"days": 7}}])

    assert (
        "bucket 'raw-b' has 2 BucketLifecycleConfiguration resources; exactly one is allowed (a second one causes "
        "a perpetual diff)" in messages(evaluate(run_function(program), STACK_RULES))
    )


def test_prefix_filter_that_misses_tenant_first_keys_is_a_violation() -> None:
    def program() -> None:
        bucket = aws.s3.Bucket("raw", bucket="raw-b", tags={"saas:data-class": "ephemeral", "saas:retention-days": "7"})
        aws.s3.BucketVersioning("v", bucket=bucket.id, versioning_configuration={"status": "Enabled"})
        raw_lifecycle(
            [
                {"id": "raw", "status": "Enabled", "filter": {"prefix": "raw/"}, "expiration": {"days": 7}},
                {
                    "id": "abort",
                    "status": "Enabled",
                    "filter": {},
                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1},
                },
            ]
        )

    found = [m for m in messages(evaluate(run_function(program), [buckets.s3_lifecycle_covers_data]))]
    assert any("no Enabled whole-bucket rule with expiration.days" in m for m in found)
    assert any("noncurrent_version_expiration" in m for m in found)  # versioned, nothing for old versions
    assert any("expired_object_delete_marker" in m for m in found)


def test_retention_longer_than_the_promise_is_a_violation() -> None:
    def program() -> None:
        log_bucket()
        # The component refuses 30 days unless its promise is raised too (it must move with the pack's config).
        LifecycleBucket("raw", bucket_args(expiration_days=30, retention_promise_days=30))

    with pytest.raises(ComponentArgError, match=r"raw-images: ephemeral data must expire within the 7-day"):
        bucket_args(expiration_days=30)
    assert "bucket 'raw-b': ephemeral data expires after 30 days; the promise is 7" in messages(
        evaluate(run_function(program), STACK_RULES)
    )
    # configurable: a pack configured for 30-day promises accepts it
    report = evaluate(run_function(program), STACK_RULES, config={"s3-lifecycle-covers-data": {"maxRetentionDays": 30}})
    assert report.mandatory == []


def test_sse_s3_only_on_the_access_log_bucket() -> None:
    def program() -> None:
        log_bucket()
        aws.s3.BucketLogging("src", bucket="raw-b", target_bucket="logs-b", target_prefix="s3-access-logs/raw/")
        aws.s3.BucketServerSideEncryptionConfiguration(
            "weak", bucket="raw-b", rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            "nokey",
            bucket="other-b",
            rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}
            ],
        )

    found = messages(evaluate(run_function(program), [buckets.s3_sse_kms]))
    assert len(found) == 2
    assert found[0].startswith("bucket 'other-b': SSE-KMS without the stack's customer-managed key")
    assert found[1].startswith("bucket 'raw-b': sse_algorithm 'AES256'")


def test_access_log_bucket_that_logs_itself_loses_the_sse_s3_exception() -> None:
    def program() -> None:
        log_bucket()
        aws.s3.BucketLogging("loop", bucket="logs-b", target_bucket="logs-b", target_prefix="x/")

    found = messages(evaluate(run_function(program), [buckets.s3_sse_kms]))
    assert len(found) == 1
    assert found[0].startswith("bucket 'logs-b': sse_algorithm 'AES256'")


def test_stack_rules_resolve_outputs_not_unknowns() -> None:
    """The composed platform's bucket names are built from known values (config + caller identity)."""
    from saas_platform.components.testing.harness import run_program

    run = run_program(".", "prod")
    policies_json = [json.loads(r.inputs["policy"]) for r in run.of_type(buckets.POLICY)]
    assert all("arn:aws:s3:::aiml-saas-prod-" in json.dumps(p) for p in policies_json)
    assert pulumi is not None
