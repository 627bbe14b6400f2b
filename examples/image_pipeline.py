"""Example: lifecycle buckets, an MSK consumer and the upload/processing pipeline in your own Pulumi program (run under mocks by
tests/test_examples.py).

pip install saas-platform-components
# in your __main__.py:
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.image_pipeline import ImagePipeline, ImagePipelineArgs
from saas_platform.components.lambda_function import HandlerLayer, HandlerLayerArgs
from saas_platform.components.lifecycle_bucket import ExpirationRule, LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.msk_consumer import MskConsumer, MskConsumerArgs, MskNetwork
from saas_platform.components.pool_table import PoolTable, PoolTableArgs
from saas_platform.components.registry import TenantRegistry, TenantRegistryArgs

ENV = "dev"
ACCOUNT = aws.get_caller_identity_output().account_id
TAGS = {"saas:environment": ENV, "saas:component": "ImagePipelineExample"}

key = aws.kms.Key("images-key", enable_key_rotation=True, tags=TAGS)
# The handlers' dependencies (Powertools, PyJWT): build it with scripts/build-lambda-layer before `pulumi up`.
layer = HandlerLayer("example-deps", HandlerLayerArgs(environment="dev"))
aws.kms.Alias("images-key-alias", name="alias/images-example-dev", target_key_id=key.key_id)

# 1. The access-log bucket: SSE-S3 (S3 log delivery does not support SSE-KMS targets), logs kept 90 days.
logs = LifecycleBucket(
    "images-access-logs",
    LifecycleBucketArgs(
        environment=ENV,
        purpose="access-logs",
        data_class="access-logs",
        expiration_days=90,
        versioning=False,
        bucket_name=ACCOUNT.apply(lambda a: f"images-example-dev-access-logs-{a}"),
        account_id=ACCOUNT,
        protect=False,
        force_destroy=True,
    ),
)


def ephemeral(purpose: str) -> LifecycleBucket:
    """A 7-day bucket: every object (and every old version) goes away; worst case 10 days, see the README."""
    return LifecycleBucket(
        f"images-{purpose}",
        LifecycleBucketArgs(
            environment=ENV,
            purpose=purpose,
            data_class="ephemeral",
            expiration_days=7,
            bucket_name=ACCOUNT.apply(lambda a: f"images-example-dev-{purpose}-{a}"),
            kms_key_arn=key.arn,
            access_log_bucket=logs.bucket_name,
            protect=False,
            force_destroy=True,
            extra_expirations=(ExpirationRule(id="expire-tmp-after-1-day", days=1, prefix="tmp/"),)
            if purpose == "raw-images"
            else (),
        ),
        opts=pulumi.ResourceOptions(depends_on=[logs]),
    )


raw = ephemeral("raw-images")
processed = ephemeral("processed-images")  # renditions: the same 7-day promise as the raw images
failures = ephemeral("msk-failures")  # the on-failure destination holds full payloads: same 7-day rules
metadata = PoolTable(
    "images-ImageMetadata",
    PoolTableArgs(base_name="ImageMetadata", environment=ENV, kms_key_arn=key.arn, protect=False),
)

# The tenant registry the consumer checks every record's tenant against (one item per tenant).
registry = TenantRegistry(
    "images-registry",
    TenantRegistryArgs(
        environment=ENV, kms_key_arn=key.arn, account_id=ACCOUNT, region="ap-southeast-1", protect=False
    ),
)

# 2. One consumer per topic of an existing MSK cluster (IAM auth).
consumer = MskConsumer(
    "images-consumer-uploads",
    MskConsumerArgs(
        layers=[layer],
        environment=ENV,
        region="ap-southeast-1",
        account_id=ACCOUNT,
        cluster_arn="arn:aws:kafka:ap-southeast-1:123456789012:cluster/hr-images/5a1c2f3e-8b4d-4e6f-9a0b-1c2d3e4f5a6b-2",
        # the cluster's network (aws kafka describe-cluster-v2): the only place the mapping may put interfaces
        network=MskNetwork(
            vpc_id="vpc-05a6b7c8d9e0f1a2b",
            subnet_ids=("subnet-05a6b7c8d9e0f1a11", "subnet-05a6b7c8d9e0f1a22"),
            security_group_ids=("sg-05a6b7c8d9e0f1a33",),
        ),
        topic="image-uploads",
        registry_table_name=registry.table_name,
        registry_table_arn=registry.table_arn,
        tenant_ids=("acme", "globex"),  # the data-path inventory only; the registry decides at run time
        kms_key_arn=key.arn,
        kms_key_alias="alias/images-example-dev",
        raw_bucket_name=raw.bucket_name,
        raw_bucket_arn=raw.bucket_arn,
        failure_bucket_name=failures.bucket_name,
        failure_bucket_arn=failures.bucket_arn,
        metadata_table_name=metadata.table_name,
        metadata_table_arn=metadata.table_arn,
        retention_days=7,
        name_prefix="Example",
    ),
    opts=pulumi.ResourceOptions(depends_on=[raw, failures, metadata]),
)

# 3. Upload function (serve it as POST /v1/images through TenantApi(image_upload=...)) and the processing leg:
#    raw bucket -> S3 notifications -> KMS-encrypted SQS queue (+ DLQ) -> processor -> processed bucket + row.
pipeline = ImagePipeline(
    "images-pipeline",
    ImagePipelineArgs(
        environment=ENV,
        region="ap-southeast-1",
        account_id=ACCOUNT,
        registry_table_name=registry.table_name,  # both functions check the caller's tenant here
        registry_table_arn=registry.table_arn,
        tenant_ids=("acme", "globex"),  # the data-path inventory only; the registry decides at run time
        kms_key_arn=key.arn,
        kms_key_alias="alias/images-example-dev",
        raw_bucket_name=raw.bucket_name,
        raw_bucket_arn=raw.bucket_arn,
        processed_bucket_name=processed.bucket_name,
        processed_bucket_arn=processed.bucket_arn,
        metadata_table_name=metadata.table_name,
        metadata_table_arn=metadata.table_arn,
        retention_days=7,
        name_prefix="Example",
        layers=[layer],  # Pillow and Powertools (handlers/requirements.txt)
    ),
    opts=pulumi.ResourceOptions(depends_on=[raw, processed, metadata]),
)

pulumi.export("rawBucket", raw.bucket_name)
pulumi.export("worstCaseLifetimeDays", raw.worst_case_lifetime_days)
pulumi.export("consumerGroupId", consumer.consumer_group_id)
pulumi.export("consumerFunction", consumer.function_name)
pulumi.export("imageQueueUrl", pipeline.queue_url)
pulumi.export("imageDeadLetterQueueUrl", pipeline.dlq_url)
pulumi.export("uploadFunction", pipeline.upload_function_name)
