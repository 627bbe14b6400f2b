"""Platform and PoolTable: secure defaults pinned on what the engine receives."""

from __future__ import annotations

import json

import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.pool_table import PoolTable, PoolTableArgs, TableIndex, tenant_key
from saas_platform.components.testing.harness import CapturedResource, ProgramRun, run_function, run_program
from tests.conftest import ROOT, run_stack

KEY_ARN = "arn:aws:kms:ap-southeast-1:123456789012:key/2ee1a50d-ea66-c9e1-a37b-0dec8901c87c"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program(ROOT, "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(ROOT, "prod")


def tables(run: ProgramRun) -> list[CapturedResource]:
    """The pool tables (the tenant registry is a system table with its own key; see test_registry_table)."""
    return [t for t in run.of_type("aws:dynamodb/table:Table") if not t.inputs["name"].startswith("TenantRegistry")]


def test_registry_table_and_one_item_per_tenant(prod: ProgramRun) -> None:
    (table,) = [t for t in prod.of_type("aws:dynamodb/table:Table") if t.inputs["name"] == "TenantRegistryProd"]
    i = table.inputs
    assert (i["hashKey"], i["billingMode"], i["deletionProtectionEnabled"]) == ("tenantId", "PAY_PER_REQUEST", True)
    assert i["globalSecondaryIndexes"] == [  # key_schemas: the index's hash_key is deprecated in pulumi-aws 7
        {
            "name": "byUserPool",
            "keySchemas": [{"attributeName": "userPoolId", "keyType": "HASH"}],
            "projectionType": "ALL",
        },
        {  # keys only: the system jobs list active tenant ids without reading usage keys
            "name": "byStatus",
            "keySchemas": [{"attributeName": "status", "keyType": "HASH"}],
            "projectionType": "KEYS_ONLY",
        },
    ]
    assert i["pointInTimeRecovery"] == {"enabled": True}
    assert i["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    items = prod.of_type("aws:dynamodb/tableItem:TableItem")
    tenants = sorted(json.loads(it.inputs["item"])["tenantId"]["S"] for it in items)
    assert tenants == sorted(r.name.removeprefix("platform-registry-") for r in items)
    assert tenants == ["acme", "globex", "initech", "system"]  # system: the sign-in triggers serve its pool too
    clients = {c.state["id"]: c.name.split("-")[1] for c in prod.of_type("aws:cognito/userPoolClient:UserPoolClient")}
    for it in items:
        doc = json.loads(it.inputs["item"])
        assert doc["status"] == {"S": "active"}
        assert doc["userPoolId"]["S"]
        assert doc["clientIds"]["SS"]
        # prod owns the pools: every app client of the pool with the environment it serves (staging and prod)
        app_clients = {c: v["S"] for c, v in doc["appClients"]["M"].items()}
        assert set(app_clients.values()) == {"staging", "prod"}
        assert all(clients[c] == env for c, env in app_clients.items())
        assert set(doc["clientIds"]["SS"]) == {c for c, env in app_clients.items() if env == "prod"}
        if doc["tenantId"]["S"] == "system":
            assert "policyStoreId" not in doc
            assert doc["tier"] == {"S": "system"}
        else:
            assert doc["policyStoreId"]["S"]


def test_a_stack_that_shares_the_pools_writes_no_app_clients() -> None:
    staging = run_stack("staging")  # the pools (and the triggers reading appClients) are prod's
    assert len(staging.of_type("aws:dynamodb/tableItem:TableItem")) == 3
    assert [f for f in staging.of_type("aws:lambda/function:Function") if "triggers" in f.name] == []
    for it in staging.of_type("aws:dynamodb/tableItem:TableItem"):
        assert "appClients" not in json.loads(it.inputs["item"])


def test_no_tenant_role_can_reach_the_registry(prod: ProgramRun) -> None:
    readers = set()
    for policy in prod.of_type("aws:iam/policy:Policy") + prod.of_type("aws:iam/rolePolicy:RolePolicy"):
        text = policy.inputs.get("policy", "")
        if "TenantRegistry" in text:
            readers.add(policy.name)
    # only the platform's handlers that check tenants: the MSK consumer, the API authorizer, the shared
    # sign-in triggers, the image functions and the job runners (which check each job's tenant; AttGen-System
    # lists the active ones)
    assert readers == {
        "platform-api-authorizer-policy",
        "platform-consumer-image-uploads-handler-policy",
        "platform-images-processor-policy",
        "platform-images-upload-policy",
        "platform-triggers-pre-auth-s00-policy",
        "platform-triggers-pre-token-s00-policy",
        *(
            f"platform-jobs-{r}-policy"
            for r in (
                "job-runner",
                "attgen-system",
                "attgen-tenant",
                "employee-earn-al",
                "crud-item",
                "tenant-notification-dispatcher",
            )
        ),
    }


def test_pool_tables_are_the_design_tables_with_env_suffix(dev: ProgramRun, prod: ProgramRun) -> None:
    # the OptimalHR design's tables plus the image pipeline's ImageMetadata (issue #6)
    expected = ["Employment", "Leave", "PIM", "Payroll", "TenantJob", "TimeAttendance", "WorkSchedule", "ImageMetadata"]
    assert sorted(t.inputs["name"] for t in tables(dev)) == sorted(f"{n}Dev" for n in expected)
    assert sorted(t.inputs["name"] for t in tables(prod)) == sorted(f"{n}Prod" for n in expected)


def test_pool_table_defaults(prod: ProgramRun) -> None:
    for t in tables(prod):
        i = t.inputs
        assert (i["hashKey"], i["rangeKey"]) == ("TenantId", "EntityItem")
        if i["name"] == "TenantJobProd":  # the job picker's sparse, write-sharded due-jobs index (saas:jobs)
            assert sorted(a["name"] for a in i["attributes"]) == ["DueAt", "DueShard", "EntityItem", "TenantId"]
            assert i["globalSecondaryIndexes"] == [
                {
                    "name": "DueJobs",
                    "keySchemas": [
                        {"attributeName": "DueShard", "keyType": "HASH"},
                        {"attributeName": "DueAt", "keyType": "RANGE"},
                    ],
                    "projectionType": "ALL",
                }
            ]
        else:
            assert sorted(a["name"] for a in i["attributes"]) == ["EntityItem", "TenantId"]
            assert "globalSecondaryIndexes" not in i
        assert i["billingMode"] == "PAY_PER_REQUEST"
        assert i["pointInTimeRecovery"] == {"enabled": True}
        assert i["serverSideEncryption"]["enabled"] is True
        assert i["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:ap-southeast-1:123456789012:key/")
        assert i["ttl"] == {"attributeName": "ExpiresAt", "enabled": True}
        assert i["deletionProtectionEnabled"] is True
        assert (t.options.protect, t.options.retain_on_delete) == (True, True)
        assert i["tags"]["saas:environment"] == "prod"
        assert i["tags"]["saas:component"] == "PoolTable"
        assert "streamEnabled" not in i


def test_dev_relaxes_protection_because_its_file_says_so(dev: ProgramRun) -> None:
    for t in tables(dev):
        assert t.inputs["deletionProtectionEnabled"] is False
        assert (t.options.protect, t.options.retain_on_delete) == (False, False)


def test_kms_key_rotates_and_grants_only_the_account_and_cloudwatch(prod: ProgramRun) -> None:
    # The environment key, and the image pipeline's own key for its event queues (S3 -> SQS), nothing else.
    assert [k.name for k in prod.of_type("aws:kms/key:Key")] == ["platform-images-queue-key", "platform-key"]
    key = prod.named("platform-key", "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.options.protect is True
    policy = json.loads(key.inputs["policy"])
    principals = [s["Principal"] for s in policy["Statement"]]
    assert principals == [
        {"AWS": "arn:aws:iam::123456789012:root"},
        {"Service": "cloudwatch.amazonaws.com"},
        {"Service": "logs.ap-southeast-1.amazonaws.com"},
    ]
    assert policy["Statement"][1]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    aliases = {a.name: a.inputs["name"] for a in prod.of_type("aws:kms/alias:Alias")}
    assert aliases == {
        "platform-key-alias": "alias/aiml-saas-prod",
        "platform-images-queue-key-alias": "alias/aiml-saas-prod-image-events",
    }


def test_alarm_topic_is_encrypted_and_subscribed(prod: ProgramRun) -> None:
    (topic,) = [t for t in prod.of_type("aws:sns/topic:Topic") if t.inputs["name"] == "AIML-SaaS-Alarms-Prod"]
    key = prod.named("platform-key", "aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    (sub,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (sub.inputs["protocol"], sub.inputs["endpoint"]) == ("email", "platform-oncall@example.com")
    alarms = prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    throttle = [a for a in alarms if a.inputs.get("namespace") == "AWS/DynamoDB"]
    assert len(throttle) == 16  # read + write throttles per pool table (7 HR tables + ImageMetadata)
    assert {a.inputs["metricName"] for a in throttle} == {"ReadThrottleEvents", "WriteThrottleEvents"}
    assert all(a.inputs["alarmActions"] == [topic.state["arn"]] for a in throttle)


def test_no_deprecated_arguments_reach_the_engine(dev: ProgramRun, prod: ProgramRun) -> None:
    """pulumi-aws warns on deprecated arguments (the GSI's hash_key/range_key were); the stacks use none."""
    for run in (dev, prod):
        assert [d.message for d in run.diagnostics if "deprecated" in d.message] == []


def test_stack_outputs(dev: ProgramRun) -> None:
    out = dev.outputs
    assert out["environment"] == "dev"
    assert out["tenants"] == ["acme", "globex"]
    assert out["tableNames"]["Employment"] == "EmploymentDev"
    assert out["tableArns"]["Leave"] == "arn:aws:dynamodb:ap-southeast-1:123456789012:table/LeaveDev"


def test_every_child_is_parented_to_a_component(dev: ProgramRun) -> None:
    stack_urn = next(r.urn for r in dev.resources if r.type == "pulumi:pulumi:Stack")
    top = [r for r in dev.resources if r.parent == stack_urn]
    assert [(r.type, r.name) for r in top] == [("saas:platform:Platform", "platform")]


def test_tenant_key() -> None:
    assert tenant_key("acme") == "TENANT#acme"


def test_pool_table_with_tenant_keyed_and_other_indexes() -> None:
    def program() -> PoolTable:
        return PoolTable(
            "jobs",
            PoolTableArgs(
                base_name="TenantJob",
                environment="staging",
                kms_key_arn=KEY_ARN,
                protect=False,
                stream=True,
                indexes=(
                    TableIndex(name="ByTenantStatus", partition_key="TenantId", sort_key="Status"),
                    TableIndex(name="DueJobs", partition_key="DueShard", sort_key="DueAt", projection="KEYS_ONLY"),
                ),
            ),
        )

    holder: dict[str, PoolTable] = {}
    run = run_function(lambda: holder.setdefault("t", program()))
    (table,) = run.of_type("aws:dynamodb/table:Table")
    assert table.inputs["name"] == "TenantJobStaging"
    assert table.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert sorted(a["name"] for a in table.inputs["attributes"]) == [
        "DueAt",
        "DueShard",
        "EntityItem",
        "Status",
        "TenantId",
    ]
    assert holder["t"].tenant_index_names == ("ByTenantStatus",)
    assert run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []  # no topic, no alarms


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_name": "employment"}, "base_name must be a PascalCase identifier like 'Employment'; got 'employment'"),
        ({"environment": "qa"}, "environment must be one of ('dev', 'staging', 'prod'); got 'qa'"),
        (
            {"indexes": (TableIndex(name="I", partition_key="A"), TableIndex(name="I", partition_key="B"))},
            "index names must be unique; got ['I', 'I']",
        ),
    ],
)
def test_pool_table_args_are_validated(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"base_name": "Employment", "environment": "dev", "kms_key_arn": KEY_ARN, **kwargs}
    with pytest.raises(ComponentArgError) as info:
        PoolTableArgs(**args)  # type: ignore[arg-type]
    assert str(info.value) == message
