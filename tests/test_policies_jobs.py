"""System-job rules: compliant, violating and missing-property fixtures for each (small programs under mocks)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import PolicyReport, evaluate
from saas_platform.policies import jobs

REGION, ACCOUNT = "ap-southeast-1", "123456789012"
PICKER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:picker"
OTHER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/TenantJobDev"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def messages(report: PolicyReport) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in report.mandatory]


SCHEDULER_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "scheduler.amazonaws.com"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
}
INVOKE_PICKER = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": PICKER}
SEND_DLQ = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": DLQ}


def schedule_program(
    trust: dict[str, Any] = SCHEDULER_TRUST,
    stmts: tuple[dict[str, Any], ...] = (INVOKE_PICKER, SEND_DLQ),
    *,
    dlq: bool = True,
    retry: bool = True,
    role_in_stack: bool = True,
) -> PolicyReport:
    def program() -> None:
        role_arn: pulumi.Input[str] = f"arn:aws:iam::{ACCOUNT}:role/elsewhere"
        if role_in_stack:
            role = aws.iam.Role("sched-role", assume_role_policy=doc(trust))
            aws.iam.RolePolicy("sched-policy", role=role.id, policy=doc(*stmts))
            role_arn = role.arn
        aws.scheduler.Schedule(
            "tick",
            schedule_expression="rate(1 minute)",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=PICKER,
                role_arn=role_arn,
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=DLQ) if dlq else None,
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=3, maximum_event_age_in_seconds=300
                )
                if retry
                else None,
            ),
        )

    return evaluate(run_function(program), [jobs.schedule_dlq_and_scoped_role])


def test_schedule_rule_compliant() -> None:
    assert messages(schedule_program()) == []


def test_schedule_rule_violations() -> None:
    wide = schedule_program(stmts=({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}, SEND_DLQ))
    assert messages(wide) == [
        f"schedule role: lambda:InvokeFunction on ['*']; allow it on the target {PICKER} only",
        f"schedule role: role does not allow lambda:InvokeFunction on the target {PICKER}",
    ]
    other = schedule_program(stmts=(INVOKE_PICKER, {**INVOKE_PICKER, "Resource": OTHER}, SEND_DLQ))
    assert messages(other) == [
        f"schedule role: lambda:InvokeFunction on ['{OTHER}']; allow it on the target {PICKER} only"
    ]
    extra = schedule_program(
        stmts=(INVOKE_PICKER, SEND_DLQ, {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"})
    )
    assert messages(extra) == [
        "schedule role: action 'dynamodb:Scan' is not needed by a schedule that invokes a function"
    ]
    no_condition = {k: v for k, v in SCHEDULER_TRUST.items() if k != "Condition"}
    assert messages(schedule_program(trust=no_condition)) == [
        "schedule role: scheduler trust has no StringEquals aws:SourceAccount condition (confused deputy)"
    ]


def test_schedule_rule_missing_properties() -> None:
    assert messages(schedule_program(dlq=False, retry=False)) == [
        "schedule has no dead-letter queue: set target.dead_letter_config.arn",
        "schedule has no explicit retry policy: set target.retry_policy.maximum_retry_attempts",
    ]
    assert messages(schedule_program(role_in_stack=False)) == [
        "schedule's role is not part of this stack; its permissions cannot be checked"
    ]


# ------------------------------------------------------------------------------------------ async functions


def async_program(
    *, dlq: bool = False, destination: bool = False, invoked: bool = True, caller_service: str = ""
) -> PolicyReport:
    def program() -> None:
        role = aws.iam.Role(
            "r",
            assume_role_policy=doc(
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
        )
        aws.lambda_.Function(
            "target",
            name="other",
            role=role.arn,
            runtime="python3.13",
            handler="h.h",
            code=pulumi.AssetArchive({}),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=DLQ) if dlq else None,
        )
        if destination:
            aws.lambda_.FunctionEventInvokeConfig(
                "cfg",
                function_name="other",
                destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                    on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=DLQ)
                ),
            )
        if invoked:
            trust = (
                {"Effect": "Allow", "Principal": {"Service": caller_service}, "Action": "sts:AssumeRole"}
                if caller_service
                else SCHEDULER_TRUST
            )
            caller = aws.iam.Role("caller", assume_role_policy=doc(trust))
            aws.iam.RolePolicy("caller-policy", role=caller.id, policy=doc({**INVOKE_PICKER, "Resource": OTHER}))

    return evaluate(run_function(program), [jobs.async_function_dead_letter])


def test_async_rule_compliant_with_dlq_or_destination() -> None:
    assert messages(async_program(dlq=True)) == []
    assert messages(async_program(destination=True)) == []
    assert messages(async_program(invoked=False)) == []  # synchronous only: not this rule's business


def test_async_rule_leaves_out_step_functions_callers() -> None:
    """Step Functions' lambda:invoke tasks wait for the result (failures go to the state machine's Retry/Catch);
    a Lambda service role that may invoke is still an asynchronous caller."""
    assert messages(async_program(caller_service="states.amazonaws.com")) == []
    assert len(messages(async_program(caller_service="lambda.amazonaws.com"))) == 1


def test_async_rule_violation_when_neither_is_set() -> None:
    assert messages(async_program()) == [
        "function other is invoked asynchronously by RolePolicy caller-policy but has neither a dead-letter queue "
        "(dead_letter_config) nor an on-failure destination (FunctionEventInvokeConfig): failed events would be lost"
    ]


# ------------------------------------------------------------------------------------------ indexes


def _index(name: str, partition: str, sort: str, shape: str) -> aws.dynamodb.TableGlobalSecondaryIndexArgs:
    if shape == "legacy":  # the deprecated hash_key/range_key, still accepted by pulumi-aws 7
        return aws.dynamodb.TableGlobalSecondaryIndexArgs(
            name=name, hash_key=partition, range_key=sort, projection_type="ALL"
        )
    return aws.dynamodb.TableGlobalSecondaryIndexArgs(
        name=name,
        key_schemas=[
            aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=partition, key_type="HASH"),
            aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=sort, key_type="RANGE"),
        ],
        projection_type="ALL",
    )


def index_program(*statements: dict[str, Any], gsi: bool = True, shape: str = "keySchemas") -> PolicyReport:
    def program() -> None:
        aws.dynamodb.Table(
            "jobs",
            name="TenantJobDev",
            hash_key="TenantId",
            range_key="EntityItem",
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=n, type="S")
                for n in ("TenantId", "EntityItem", "DueShard", "DueAt")
            ],
            global_secondary_indexes=[
                _index("DueJobs", "DueShard", "DueAt", shape),
                _index("ByTenant", "TenantId", "DueAt", shape),
            ]
            if gsi
            else None,
        )
        role = aws.iam.Role("writer", assume_role_policy=doc(SCHEDULER_TRUST))
        aws.iam.RolePolicy("writer-policy", role=role.id, policy=doc(*statements))

    return evaluate(run_function(program), [jobs.cross_tenant_index_not_in_tenant_policies])


LEADING = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/TenantId}"]}}


@pytest.mark.parametrize("shape", ["keySchemas", "legacy"])
def test_index_rule_compliant(shape: str) -> None:
    tenant_keyed = {
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": [TABLE_ARN, f"{TABLE_ARN}/index/ByTenant"],
        "Condition": LEADING,
    }
    assert messages(index_program(tenant_keyed, shape=shape)) == []
    system = {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{TABLE_ARN}/index/DueJobs"}
    assert messages(index_program(system, shape=shape)) == []  # the picker: no tenant scoping, a system role


@pytest.mark.parametrize("shape", ["keySchemas", "legacy"])
def test_index_rule_violations_by_name_and_by_wildcard(shape: str) -> None:
    named = {
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": f"{TABLE_ARN}/index/DueJobs",
        "Condition": LEADING,
    }
    assert messages(index_program(named, shape=shape)) == [
        f"tenant-scoped policy: '{TABLE_ARN}/index/DueJobs' reaches the cross-tenant index DueJobs of TenantJobDev; "
        "only system roles (the job picker) may read it"
    ]
    wild = {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{TABLE_ARN}/*", "Condition": LEADING}
    assert len(messages(index_program(wild, shape=shape))) == 1
    not_resource = {"Effect": "Allow", "Action": "dynamodb:Query", "NotResource": TABLE_ARN, "Condition": LEADING}
    assert "NotResource reaches every index" in messages(index_program(not_resource, shape=shape))[0]


def test_index_rule_missing_indexes_or_resource() -> None:
    named = {
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": f"{TABLE_ARN}/index/DueJobs",
        "Condition": LEADING,
    }
    assert messages(index_program(named, gsi=False)) == []  # no cross-tenant index in the stack
    no_resource = {"Effect": "Allow", "Action": "dynamodb:Query", "Condition": LEADING}
    assert messages(index_program(no_resource)) == []


# ------------------------------------------------------------------------------------------ runners


ONE_TENANT_TAG = {
    "Null": {"aws:RequestTag/TenantId": "false"},
    "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
}
ASSUME = {
    "Effect": "Allow",
    "Action": ["sts:AssumeRole", "sts:TagSession"],
    "Resource": f"arn:aws:iam::{ACCOUNT}:role/w",
    "Condition": ONE_TENANT_TAG,
}
WRITER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RunnerAssumesWithOneTenantTag",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {**ONE_TENANT_TAG, "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/exec"}},
        }
    ],
}
REGISTRY = f"arn:aws:dynamodb:ap-southeast-1:{ACCOUNT}:table/TenantRegistryDev"
REGISTRY_READ = {
    "Sid": "ReadTenantRegistry",
    "Effect": "Allow",
    "Action": ["dynamodb:GetItem", "dynamodb:Query"],
    "Resource": [REGISTRY, f"{REGISTRY}/index/byUserPool"],
}
LIST_ACTIVE = {
    "Sid": "ListTenantsByStatus",
    "Effect": "Allow",
    "Action": "dynamodb:Query",
    "Resource": f"{REGISTRY}/index/byStatus",
}


def runner_program(
    runner: str,
    *statements: dict[str, Any],
    role_in_stack: bool = True,
    writer: tuple[dict[str, Any], ...] = (),
    trust: dict[str, Any] = WRITER_TRUST,
) -> PolicyReport:
    def program() -> None:
        role_arn: pulumi.Input[str] = f"arn:aws:iam::{ACCOUNT}:role/elsewhere"
        if role_in_stack:
            role = aws.iam.Role("exec", assume_role_policy=doc(SCHEDULER_TRUST), tags={"saas:runner": runner})
            aws.iam.RolePolicy("exec-policy", role=role.id, policy=doc(*statements))
            role_arn = role.arn
        aws.lambda_.Function(
            "fn",
            name="fn",
            role=role_arn,
            runtime="python3.13",
            handler="h.h",
            code=pulumi.AssetArchive({}),
            tags={"saas:runner": runner},
        )
        if writer:
            w = aws.iam.Role("w", assume_role_policy=json.dumps(trust), tags={"saas:runner": runner})
            aws.iam.RolePolicy("w-policy", role=w.id, policy=doc(*writer))

    return evaluate(run_function(program), [jobs.runner_role_least_privilege])


LOGS = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "arn:aws:logs:x"}


def test_runner_rule_compliant() -> None:
    writer = {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        "Resource": TABLE_ARN,
        "Condition": LEADING,
    }
    assert messages(runner_program("CRUD-Item", LOGS, ASSUME, REGISTRY_READ, writer=(writer,))) == []
    fan_out = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": OTHER}
    assert messages(runner_program("AttGen-System", LOGS, fan_out, LIST_ACTIVE)) == []


def test_runner_rule_refuses_tenant_lists_and_reads_beyond_the_registry() -> None:
    """Constant-size IAM: a tenant list in the runner's AssumeRole grant or in the writer's trust is refused, and
    so is a session without exactly one TenantId tag; the runner's own reads reach only the registry."""
    listed = {
        **ASSUME,
        "Condition": {**ONE_TENANT_TAG, "StringEquals": {"aws:RequestTag/TenantId": ["acme", "globex"]}},
    }
    assert messages(runner_program("CRUD-Item", LOGS, listed)) == [
        "runner CRUD-Item's statement <no Sid> lists tenant ids in aws:RequestTag/TenantId (['StringEquals']), which "
        "grows with the tenants; require the tag with Null and check the tenant in the registry"
    ]
    untagged = {k: v for k, v in ASSUME.items() if k != "Condition"}
    assert messages(runner_program("CRUD-Item", LOGS, untagged)) == [
        "runner CRUD-Item's statement <no Sid> does not limit the session tags to TenantId (aws:TagKeys)",
        "runner CRUD-Item's statement <no Sid> does not require a TenantId session tag (Null aws:RequestTag/TenantId)",
    ]
    old_trust = json.loads(json.dumps(WRITER_TRUST))
    old_trust["Statement"][0]["Condition"]["StringEquals"] = {"aws:RequestTag/TenantId": ["acme", "globex"]}
    writer = {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": TABLE_ARN, "Condition": LEADING}
    assert messages(runner_program("Job-Runner", LOGS, ASSUME, writer=(writer,), trust=old_trust)) == [
        "runner Job-Runner's writer trust RunnerAssumesWithOneTenantTag lists tenant ids in aws:RequestTag/TenantId "
        "(['StringEquals']), which grows with the tenants; require the tag with Null and check the tenant in the "
        "registry"
    ]
    pool_read = {**REGISTRY_READ, "Resource": [REGISTRY, TABLE_ARN]}
    assert messages(runner_program("CRUD-Item", LOGS, ASSUME, pool_read)) == [
        f"runner CRUD-Item's statement ReadTenantRegistry reads ['dynamodb:GetItem', 'dynamodb:Query'] on "
        f"['{TABLE_ARN}']; its own role may read only the tenant registry (TenantRegistry<Env> and its indexes)"
    ]
    wide_list = {**LIST_ACTIVE, "Resource": f"{REGISTRY}/index/byUserPool"}
    assert messages(runner_program("AttGen-System", LOGS, wide_list)) == [
        f"runner AttGen-System's statement ListTenantsByStatus reads ['dynamodb:Query'] on "
        f"['{REGISTRY}/index/byUserPool']; its own role may read only the tenant registry's byStatus index"
    ]
    assert messages(runner_program("AttGen-System", LOGS, {**LIST_ACTIVE, "Action": "dynamodb:Scan"})) == [
        "runner AttGen-System's execution role holds actions outside its job: ['dynamodb:Scan']"
    ]


def test_runner_rule_violations() -> None:
    scan = {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": TABLE_ARN}
    assert messages(runner_program("CRUD-Item", LOGS, ASSUME, scan)) == [
        "runner CRUD-Item's execution role holds actions outside its job: ['dynamodb:Scan']"
    ]
    delete = {
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        "Resource": TABLE_ARN,
        "Condition": LEADING,
    }
    assert messages(runner_program("Employee-Earn-AL", LOGS, ASSUME, writer=(delete,))) == [
        "runner Employee-Earn-AL's writer role holds actions outside its job: ['dynamodb:DeleteItem']"
    ]
    unscoped = {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": TABLE_ARN}
    assert messages(runner_program("Job-Runner", LOGS, ASSUME, writer=(unscoped,))) == [
        "runner Job-Runner's writer statement <no Sid> has no LeadingKeys condition"
    ]
    assert messages(runner_program("Drop-Tables", LOGS)) == [
        "function tagged saas:runner='Drop-Tables', which is not a known job runner"
    ]


def test_runner_rule_missing_role() -> None:
    assert messages(runner_program("CRUD-Item", role_in_stack=False)) == [
        "runner CRUD-Item: its role is not part of this stack; its permissions cannot be checked"
    ]


def test_runner_writer_may_use_the_table_key_only_through_dynamodb() -> None:
    ok_writer = {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": TABLE_ARN, "Condition": LEADING}
    key = {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "arn:aws:kms:*:*:key/*"}
    via = {**key, "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"}}}
    assert messages(runner_program("Job-Runner", LOGS, ASSUME, writer=(ok_writer, via))) == []
    assert messages(runner_program("Job-Runner", LOGS, ASSUME, writer=(ok_writer, key))) == [
        "runner Job-Runner's writer key statement <no Sid> is not limited to kms:ViaService dynamodb.<region>.amazonaws.com"
    ]
