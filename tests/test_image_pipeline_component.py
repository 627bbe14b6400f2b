"""ImagePipeline under mocks: pinned defaults, the S3 -> SQS -> KMS permissions AWS requires, least-privilege roles,
the writer sessions' tag keying, argument errors, and the policy pack on the component alone."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.image_pipeline import ImagePipeline, ImagePipelineArgs
from saas_platform.components.lambda_function import DEFAULT_LAYER_MODULES, LayerRef
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.policies.offline import evaluate_run

ACCOUNT = "123456789012"
RAW = "arn:aws:s3:::aiml-saas-dev-raw-images-123456789012"
PROCESSED = "arn:aws:s3:::aiml-saas-dev-processed-images-123456789012"
TABLE = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/ImageMetadata-Dev"


REGISTRY_ARN = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryDev"
ONE_TENANT_TAG = {
    "Null": {"aws:RequestTag/TenantId": "false"},
    "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
}


def args(**kw: Any) -> ImagePipelineArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "region": "ap-southeast-1",
        "account_id": ACCOUNT,
        "tenant_ids": ("acme", "globex"),
        "registry_table_name": "TenantRegistryDev",
        "registry_table_arn": REGISTRY_ARN,
        "kms_key_arn": "arn:aws:kms:ap-southeast-1:123456789012:key/env",
        "kms_key_alias": "alias/aiml-saas-dev",
        "raw_bucket_name": "aiml-saas-dev-raw-images-123456789012",
        "raw_bucket_arn": RAW,
        "processed_bucket_name": "aiml-saas-dev-processed-images-123456789012",
        "processed_bucket_arn": PROCESSED,
        "metadata_table_name": "ImageMetadata-Dev",
        "metadata_table_arn": TABLE,
        "retention_days": 7,
        "alarm_topic_arn": "arn:aws:sns:ap-southeast-1:123456789012:alarms",
        "layers": [
            LayerRef(arn="arn:aws:lambda:ap-southeast-1:123456789012:layer:deps:1", modules=DEFAULT_LAYER_MODULES)
        ],
    }
    return ImagePipelineArgs(**{**base, **kw})


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_function(lambda: ImagePipeline("images", args()))


def policy_of(run: ProgramRun, name: str) -> dict[str, Any]:
    return json.loads(run.named(name).inputs["policy"])


def by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_resources_and_unique_names(run: ProgramRun) -> None:
    counts = Counter(r.type for r in run.resources if r.custom)
    assert counts["aws:sqs/queue:Queue"] == 2
    assert counts["aws:kms/key:Key"] == 1
    assert counts["aws:s3/bucketNotification:BucketNotification"] == 1
    assert counts["aws:lambda/function:Function"] == 2
    assert counts["aws:lambda/eventSourceMapping:EventSourceMapping"] == 1
    assert counts["aws:iam/role:Role"] == 4  # two execution roles, two tenant writers
    assert counts["aws:cloudwatch/metricAlarm:MetricAlarm"] == 4
    dupes = [k for k, n in Counter((r.type, r.name) for r in run.resources).items() if n > 1]
    assert dupes == []
    (component,) = [r for r in run.resources if r.type == "saas:pipeline:ImagePipeline"]
    inside = {r.urn for r in run.descendants(component.urn)}
    assert {r.urn for r in run.resources if r.custom} <= inside  # parent=self all the way down


def test_queues_are_kms_encrypted_with_redrive_and_the_retention_promise(run: ProgramRun) -> None:
    queue = run.named("images-queue").inputs
    dlq = run.named("images-dlq").inputs
    key_arn = run.named("images-queue-key").state["arn"]
    assert queue["name"] == "AIML-SaaS-ImageEvents-Dev"
    assert dlq["name"] == "AIML-SaaS-ImageEvents-DLQ-Dev"
    assert queue["kmsMasterKeyId"] == key_arn
    assert dlq["kmsMasterKeyId"] == key_arn
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": run.named("images-dlq").state["arn"],
        "maxReceiveCount": 5,
    }
    assert queue["visibilityTimeoutSeconds"] == 360  # 6 x the processor's 60 s timeout
    assert queue["messageRetentionSeconds"] == 7 * 86_400
    assert dlq["messageRetentionSeconds"] == 7 * 86_400
    allow = json.loads(run.named("images-dlq-redrive-allow").inputs["redriveAllowPolicy"])
    assert allow == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": ["arn:aws:sqs:ap-southeast-1:123456789012:AIML-SaaS-ImageEvents-Dev"],
    }


def test_key_policy_lets_s3_encrypt_notifications_and_nothing_else(run: ProgramRun) -> None:
    key = run.named("images-queue-key").inputs
    assert key["enableKeyRotation"] is True
    stmts = by_sid(json.loads(key["policy"]))
    assert stmts["S3EncryptsEventNotifications"] == {
        "Sid": "S3EncryptsEventNotifications",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    }
    assert stmts["AccountAdministersThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert set(stmts) == {"S3EncryptsEventNotifications", "AccountAdministersThroughIam"}
    assert run.named("images-queue-key-alias").inputs["name"] == "alias/aiml-saas-dev-image-events"


def test_queue_policy_admits_s3_only_for_the_raw_bucket_and_account(run: ProgramRun) -> None:
    stmts = by_sid(policy_of(run, "images-queue-policy"))
    allow = stmts["S3RawBucketNotifications"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == "arn:aws:sqs:ap-southeast-1:123456789012:AIML-SaaS-ImageEvents-Dev"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": RAW},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    deny = stmts["DenyWithoutTls"]
    assert (deny["Effect"], deny["Action"], deny["Condition"]) == (
        "Deny",
        "sqs:*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )


def test_notification_waits_for_the_queue_policy_and_key(run: ProgramRun) -> None:
    notification = run.named("images-raw-notification")
    assert notification.inputs["bucket"] == "aiml-saas-dev-raw-images-123456789012"
    (q,) = notification.inputs["queues"]
    assert q["events"] == ["s3:ObjectCreated:*"]
    assert q["queueArn"] == run.named("images-queue").state["arn"]
    deps = set(notification.options.depends_on)
    assert run.named("images-queue-policy").urn in deps
    assert run.named("images-queue-key").urn in deps


def test_event_source_mapping_reports_batch_item_failures(run: ProgramRun) -> None:
    (mapping,) = run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    inputs = mapping.inputs
    assert inputs["eventSourceArn"] == run.named("images-queue").state["arn"]
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (inputs["batchSize"], inputs["maximumBatchingWindowInSeconds"]) == (5, 1)
    assert inputs["scalingConfig"] == {"maximumConcurrency": 10}


def test_processor_role_has_queue_dlq_and_writer_only(run: ProgramRun) -> None:
    doc = policy_of(run, "images-processor-policy")
    stmts = by_sid(doc)
    queue = "arn:aws:sqs:ap-southeast-1:123456789012:AIML-SaaS-ImageEvents-Dev"
    assert stmts["ConsumeImageEvents"]["Resource"] == queue
    assert sorted(stmts["ConsumeImageEvents"]["Action"]) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert stmts["DeadLetterPoison"] == {
        "Sid": "DeadLetterPoison",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:ap-southeast-1:123456789012:AIML-SaaS-ImageEvents-DLQ-Dev",
    }
    key = stmts["QueueKeyThroughSqs"]
    assert key["Condition"]["StringEquals"] == {"kms:ViaService": "sqs.ap-southeast-1.amazonaws.com"}
    assert key["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/aiml-saas-dev-image-events"}
    assume = stmts["AssumeTenantWriter"]
    assert assume["Resource"] == "arn:aws:iam::123456789012:role/AIML-SaaS-ImageProcessorWriter-Dev"
    assert assume["Condition"] == ONE_TENANT_TAG  # no tenant list: the handler checks the registry
    assert stmts["ReadTenantRegistry"]["Resource"] == [REGISTRY_ARN, f"{REGISTRY_ARN}/index/byUserPool"]
    assert stmts["TenantRegistryKeyThroughDynamoDB"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"
    }
    text = json.dumps(doc)
    assert "acme" not in text
    assert "globex" not in text
    assert "s3:" not in text  # the function's own role never touches tenant objects
    tables = {s["Resource"] if isinstance(s["Resource"], str) else tuple(s["Resource"]) for s in doc["Statement"]
              if any(str(a).startswith("dynamodb:") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))}  # fmt: skip
    assert tables == {(REGISTRY_ARN, f"{REGISTRY_ARN}/index/byUserPool")}  # DynamoDB: the registry only
    env = run.named("images-processor-function").inputs["environment"]["variables"]
    assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryDev"
    assert "KNOWN_TENANTS" not in env


def test_upload_role_may_only_assume_its_writer(run: ProgramRun) -> None:
    doc = policy_of(run, "images-upload-policy")
    custom = [s for s in doc["Statement"] if s["Sid"] not in ("OwnLogGroup", "XRay")]
    assert [s["Sid"] for s in custom] == [
        "AssumeTenantWriter",
        "ReadTenantRegistry",
        "TenantRegistryKeyThroughDynamoDB",
    ]
    assert custom[0]["Resource"] == "arn:aws:iam::123456789012:role/AIML-SaaS-ImageUploadWriter-Dev"
    assert custom[0]["Condition"] == ONE_TENANT_TAG
    assert "acme" not in json.dumps(doc)
    fn = run.named("images-upload-function").inputs
    assert fn["environment"]["variables"]["SAAS_REGISTRY_TABLE"] == "TenantRegistryDev"
    assert "KNOWN_TENANTS" not in fn["environment"]["variables"]
    assert fn["timeout"] == 29
    assert fn["environment"]["variables"]["INLINE_MAX_BYTES"] == str(4 * 1024 * 1024)


def test_writers_are_keyed_on_the_session_tag(run: ProgramRun) -> None:
    tag = "${aws:PrincipalTag/TenantId}"
    upload = by_sid(policy_of(run, "images-upload-writer-policy"))
    assert upload["RawImagesOwnTenantOnly"]["Resource"] == f"{RAW}/{tag}/raw/*"
    assert upload["ImageMetadataOwnTenantOnly"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert upload["ImageMetadataOwnTenantOnly"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"TENANT#{tag}"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }
    proc = by_sid(policy_of(run, "images-processor-writer-policy"))
    assert proc["RawImagesOwnTenantOnly"] == {
        "Sid": "RawImagesOwnTenantOnly",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{RAW}/{tag}/raw/*",
    }
    assert proc["ProcessedImagesOwnTenantOnly"]["Resource"] == f"{PROCESSED}/{tag}/processed/*"
    assert proc["ImageMetadataOwnTenantOnly"]["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    trust = json.loads(run.named("images-processor-writer-role").inputs["assumeRolePolicy"])
    (st,) = trust["Statement"]
    # The trust names the account and pins the caller, so the caller's identity policy is evaluated too.
    assert st["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert st["Condition"]["ArnEquals"] == {"aws:PrincipalArn": run.named("images-processor-role").state["arn"]}
    assert st["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["TenantId"]}


def test_policy_pack_passes_on_the_component(run: ProgramRun) -> None:
    report = evaluate_run(run)
    assert report.mandatory == [], [v.message for v in report.mandatory]


def test_upload_can_be_left_out() -> None:
    run = run_function(lambda: ImagePipeline("images", args(upload=False, alarm_topic_arn=None)))
    names = {r.name for r in run.resources}
    assert "images-upload-function" not in names
    assert "images-upload-writer-role" not in names
    assert run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tenant_ids": ("Acme",)}, "tenant_ids must match"),
        ({"kms_key_alias": "aiml"}, "kms_key_alias must start with 'alias/'"),
        ({"batch_size": 11}, "batch_size must be 1-10; got 11"),
        ({"max_receive_count": 0}, "max_receive_count must be 1-1000; got 0"),
        ({"thumbnail_px": 2048, "rendition_px": 1024}, "thumbnail_px (2048) must be smaller than rendition_px (1024)"),
        ({"name_prefix": "A" * 50}, "Shorten name_prefix"),
        ({"log_retention_days": 8}, "log_retention_days must be one of"),
        ({"layers": []}, "ImagePipelineArgs.layers does not provide"),
    ],
)
def test_bad_arguments_are_refused_before_any_resource(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message.replace("(", r"\(").replace(")", r"\)")):
        args(**kw)


def test_retention_longer_than_sqs_allows_is_capped() -> None:
    assert args(retention_days=30).message_retention_seconds == 1_209_600


# ------------------------------------------------------------------------------------------ the upload route


def _api_run(**kw: Any) -> ProgramRun:
    from saas_platform.components.api import ImageUploadIntegration, TenantApi
    from tests.test_tenant_api import api_args

    def program() -> None:
        pipeline = ImagePipeline("images", args())
        assert pipeline.upload_function_arn is not None
        TenantApi(
            "platform-api",
            api_args(
                image_upload=ImageUploadIntegration(
                    function_name="AIML-SaaS-ImageUpload-Dev",
                    function_arn=pipeline.upload_function_arn,
                    region="ap-southeast-1",
                ),
                **kw,
            ),
        )

    return run_function(program, stack="dev")


@pytest.fixture(scope="module")
def api_run() -> ProgramRun:
    return _api_run(services={})


def test_upload_route_uses_the_same_authorizer_and_a_proxy_integration(api_run: ProgramRun) -> None:
    (method,) = [m for m in api_run.of_type("aws:apigateway/method:Method") if m.name.endswith("post-v1-images")]
    (authorizer,) = api_run.of_type("aws:apigateway/authorizer:Authorizer")
    assert (method.inputs["httpMethod"], method.inputs["authorization"]) == ("POST", "CUSTOM")
    assert method.inputs["authorizerId"] == authorizer.id
    assert method.inputs["apiKeyRequired"] is True
    integration = api_run.named("platform-api-post-v1-images-integration")
    function = api_run.named("images-upload-function")
    assert integration.inputs["type"] == "AWS_PROXY"
    assert integration.inputs["uri"] == (
        f"arn:aws:apigateway:ap-southeast-1:lambda:path/2015-03-31/functions/{function.state['arn']}/invocations"
    )
    (rest,) = api_run.of_type("aws:apigateway/restApi:RestApi")
    assert rest.inputs["binaryMediaTypes"] == ["image/gif", "image/jpeg", "image/png", "image/webp"]
    permission = api_run.named("platform-api-images-invoke")
    assert permission.inputs["function"] == function.state["arn"]
    assert permission.inputs["sourceArn"].endswith("/dev/POST/v1/images")
    # only the upload route exists when no microservice is configured
    assert [m.name for m in api_run.of_type("aws:apigateway/method:Method")] == ["platform-api-post-v1-images"]


def test_upload_route_passes_the_policy_pack(api_run: ProgramRun) -> None:
    report = evaluate_run(api_run)
    assert report.mandatory == [], [v.message for v in report.mandatory]


def test_images_cannot_be_mapped_to_an_external_service() -> None:
    from tests.test_tenant_api import api_args

    with pytest.raises(ComponentArgError, match="served by ImagePipeline"):
        api_args(services={"images": "arn:aws:lambda:ap-southeast-1:123456789012:function:Images"})
    with pytest.raises(ComponentArgError, match="or pass image_upload"):
        api_args(services={})


def test_authorizer_maps_the_upload_route_to_upload_image_owned_by_the_caller() -> None:
    from saas_platform.handlers.authorizer import RouteTable

    route = RouteTable.from_file().lookup("POST", "/v1/images")
    assert route is not None
    assert (route.action, route.resource_type, route.owner) == ("UploadImage", "OptimalHR::Image", "self")


def test_first_preview_runs_every_rule_on_the_component() -> None:
    """Queue ARNs, role ARNs and documents are built from known parts: no "can't run during preview" advisory."""
    run = run_function(lambda: ImagePipeline("images", args()), preview=True)
    report = evaluate_run(run)
    assert report.mandatory == []
    assert [v.policy for v in report.advisory] == []


# ------------------------------------------------------------------------------------------ the stacks


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_plans_both_legs(stack: str) -> None:
    """Every stack file, as it is: the upload leg (``POST /v1/images`` on the tenant API, ``saas:api: {}``) and
    the processing leg (raw -> SQS -> processor), next to the MSK consumer that feeds the same raw bucket - with
    0 mandatory and 0 advisory violations. With the microservices' ARNs the route is one more next to theirs."""
    from tests.authz_support import SERVICE_ARNS
    from tests.conftest import run_stack

    run = run_stack(stack)
    image_queues = {r.name for r in run.of_type("aws:sqs/queue:Queue") if r.name.startswith("platform-images-")}
    assert image_queues == {"platform-images-queue", "platform-images-dlq"}
    assert [r.name for r in run.of_type("aws:s3/bucketNotification:BucketNotification")] == [
        "platform-images-raw-notification"
    ]
    names = {r.name for r in run.resources}
    assert {
        "platform-images-upload-function",
        "platform-images-processor-function",
        "platform-api-post-v1-images",
        "platform-api-images-invoke",
        "platform-consumer-image-uploads-mapping",
        "platform-images-processor-mapping",
    } <= names
    paths = {p["name"] for p in run.data_paths()}
    assert {"apigateway/invoke-images", "upload/assume-writer", "processor/receive"} <= paths
    (route,) = run.of_type("aws:apigateway/method:Method")  # only the image route: no microservice ARNs set
    assert (route.name, route.inputs["httpMethod"]) == ("platform-api-post-v1-images", "POST")
    assert run.outputs["imageEventQueueUrl"]
    assert run.outputs["apiUrl"]
    report = evaluate_run(run)
    assert (report.mandatory, report.advisory) == ([], []), [v.message for v in report.violations]
    with_services = run_stack(stack, {"saas:api": {"services": SERVICE_ARNS}})
    assert len(with_services.of_type("aws:apigateway/method:Method")) == 97  # 96 microservice routes + images
    report = evaluate_run(with_services)
    assert report.mandatory == [], [v.message for v in report.mandatory]


def test_without_the_api_only_the_processing_leg_is_planned() -> None:
    """``saas:api`` absent: nothing serves the upload function, so it is not built; processing stays (MSK)."""
    from tests.conftest import run_stack

    run = run_stack("dev", {"saas:api": None})
    names = {r.name for r in run.resources}
    assert "platform-images-upload-function" not in names
    assert "platform-images-processor-function" in names
    assert evaluate_run(run).mandatory == []


def test_images_upload_false_leaves_the_route_out() -> None:
    from tests.authz_support import SERVICE_ARNS
    from tests.conftest import run_stack

    run = run_stack("dev", {"saas:api": {"services": SERVICE_ARNS}, "saas:images": {"enabled": True, "upload": False}})
    names = {r.name for r in run.resources}
    assert "platform-api-post-v1-images" not in names
    assert "platform-images-upload-function" not in names
    assert "platform-images-processor-function" in names


def test_pipeline_declares_its_data_paths() -> None:
    from tests.authz_support import SERVICE_ARNS
    from tests.conftest import run_stack

    run = run_stack("prod", {"saas:api": {"services": SERVICE_ARNS}, "saas:images": {"enabled": True}})
    names = {p["name"] for p in run.data_paths() if p["component"].endswith("::platform-images")}
    assert {
        "processor/receive",
        "processor/queue-key",
        "processor/dead-letter",
        "processor/assume-writer",
        "processor-writer/metadata",
        "processor-writer/raw",
        "processor-writer/processed",
        "upload/assume-writer",
        "upload-writer/metadata",
        "upload-writer/raw",
    } <= names


def test_on_by_default_and_off_on_request() -> None:
    from saas_platform.components.config import load_stack_config
    from tests.authz_support import SERVICE_ARNS
    from tests.conftest import run_stack

    assert load_stack_config(
        {
            "aws:region": "ap-southeast-1",
            "saas:environment": "dev",
            "saas:tenants": [{"id": "acme"}],
            "saas:alarms": {"email": "ops@example.com"},
        },
        "dev",
    ).images.enabled
    assert [r.name for r in run_stack("dev").resources if r.type == "saas:pipeline:ImagePipeline"] == [
        "platform-images"
    ]
    off = run_stack(
        "dev", {"saas:images": {"enabled": False}, "saas:api": {"services": {"leave": SERVICE_ARNS["leave"]}}}
    )
    assert not [r for r in off.resources if r.type == "saas:pipeline:ImagePipeline"]
    assert "platform-api-post-v1-images" not in {r.name for r in off.resources}
