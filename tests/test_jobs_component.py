"""ScheduledJobs under mocks: the schedule, its role and DLQ, the picker's and runners' permissions, alarms."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi
import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.jobs import JobTable, ScheduledJobs, ScheduledJobsArgs
from saas_platform.components.testing.harness import CapturedResource, ProgramRun, run_function
from saas_platform.policies.offline import evaluate_run
from tests.iam_oracle import Request, evaluate
from tests.layer_support import DEPS_LAYER

REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
BASES = ("Employment", "TenantJob", "WorkSchedule", "PIM", "Leave", "TimeAttendance", "Payroll")
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"
REGISTRY_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/TenantRegistryDev"
TENANT_RUNNERS = ("Job-Runner", "AttGen-Tenant", "Employee-Earn-AL", "CRUD-Item", "Tenant-Notification-Dispatcher")


def table_arn(base: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{base}Dev"


def args(**kw: Any) -> ScheduledJobsArgs:
    base: dict[str, Any] = {
        "environment": "dev",
        "region": REGION,
        "account_id": ACCOUNT,
        "tables": {b: JobTable(name=f"{b}Dev", arn=table_arn(b)) for b in BASES},
        "tenant_ids": ("acme", "globex"),
        "registry_table_name": "TenantRegistryDev",
        "registry_table_arn": REGISTRY_ARN,
        "kms_key_arn": KEY,
        "alarm_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
        "layers": [DEPS_LAYER],
    }
    return ScheduledJobsArgs(**{**base, **kw})


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    def program() -> None:
        jobs = ScheduledJobs("jobs", args())
        pulumi.export("schedule", jobs.schedule_arn)

    return run_function(program, stack="dev")


def policy_of(run: ProgramRun, name: str) -> dict[str, Any]:
    return json.loads(run.named(name).inputs["policy"])


def function(run: ProgramRun, name: str) -> CapturedResource:
    (fn,) = [f for f in run.of_type("aws:lambda/function:Function") if f.inputs["name"] == name]
    return fn


def test_schedule_fires_the_picker_every_minute_with_retries_and_a_dlq(run: ProgramRun) -> None:
    (schedule,) = run.of_type("aws:scheduler/schedule:Schedule")
    inputs = schedule.inputs
    assert inputs["name"] == "AIML-SaaS-Scheduler-Dev"
    assert inputs["scheduleExpression"] == "rate(1 minute)"
    assert inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    target = inputs["target"]
    assert target["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-JobPicker-Dev"
    assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 300}
    dlq = run.named("jobs-scheduler-dlq")
    assert target["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert dlq.inputs["kmsMasterKeyId"] == KEY
    assert target["roleArn"] == run.named("jobs-scheduler-role").state["arn"]


def test_scheduler_role_trusts_only_this_schedule_and_invokes_only_the_picker(run: ProgramRun) -> None:
    trust = json.loads(run.named("jobs-scheduler-role").inputs["assumeRolePolicy"])
    (st,) = trust["Statement"]
    assert st["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert st["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {
            "aws:SourceArn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/AIML-SaaS-Scheduler-Dev"
        },
    }
    doc = policy_of(run, "jobs-scheduler-policy")
    picker = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-JobPicker-Dev"
    runner = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-CRUD-Item-Dev"
    assert evaluate([doc], Request("lambda:InvokeFunction", picker)) == "Allow"
    assert evaluate([doc], Request("lambda:InvokeFunction", runner)) == "Deny"
    actions = sorted(
        a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey", "lambda:InvokeFunction", "sqs:SendMessage"]


def test_picker_reads_only_the_due_index_and_updates_only_the_jobs_table(run: ProgramRun) -> None:
    doc = policy_of(run, "jobs-picker-policy")
    index = f"{table_arn('TenantJob')}/index/DueJobs"

    def ask(action: str, resource: str) -> str:
        return evaluate([doc], Request(action, resource))

    assert ask("dynamodb:Query", index) == "Allow"
    assert ask("dynamodb:Query", table_arn("TenantJob")) == "Deny"  # never the table itself
    assert ask("dynamodb:Scan", index) == "Deny"
    assert ask("dynamodb:Scan", table_arn("TenantJob")) == "Deny"
    assert ask("dynamodb:UpdateItem", table_arn("TenantJob")) == "Allow"
    assert ask("dynamodb:UpdateItem", table_arn("Employment")) == "Deny"
    assert ask("dynamodb:GetItem", table_arn("TenantJob")) == "Deny"
    assert (
        ask("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-Employee-Earn-AL-Dev")
        == "Allow"
    )
    assert (
        ask("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-PreAuth-S00-Dev") == "Deny"
    )
    env = function(run, "AIML-SaaS-JobPicker-Dev").inputs["environment"]["variables"]
    assert json.loads(env["RUNNERS"])["CRUD-Item"] == "AIML-SaaS-CRUD-Item-Dev"
    assert (env["JOBS_TABLE"], env["SHARDS"], env["LEASE_SECONDS"]) == ("TenantJobDev", "4", "300")


def test_every_function_has_a_kms_encrypted_dlq_and_async_retry_settings(run: ProgramRun) -> None:
    functions = run.of_type("aws:lambda/function:Function")
    assert len(functions) == 7
    queues = {q.state["arn"]: q for q in run.of_type("aws:sqs/queue:Queue")}
    for fn in functions:
        target = fn.inputs["deadLetterConfig"]["targetArn"]
        assert target in queues, fn.inputs["name"]
        assert queues[target].inputs["kmsMasterKeyId"] == KEY
        role_policy = [
            p
            for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
            if any(target == s.get("Resource") for s in json.loads(p.inputs["policy"])["Statement"])
        ]
        assert role_policy, f"{fn.inputs['name']} cannot send to its DLQ"
    configs = run.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert sorted(c.inputs["functionName"] for c in configs) == sorted(f.inputs["name"] for f in functions)
    assert {(c.inputs["maximumRetryAttempts"], c.inputs["maximumEventAgeInSeconds"]) for c in configs} == {(2, 3600)}


def test_writer_roles_hold_only_their_runners_actions_for_the_session_tenant(run: ProgramRun) -> None:
    leave = policy_of(run, "jobs-employee-earn-al-writer-policy")

    def ask(doc: dict[str, Any], action: str, table: str, tenant: str, tag: str = "acme") -> str:
        ctx = {"dynamodb:LeadingKeys": [f"TENANT#{tenant}"], "aws:PrincipalTag/TenantId": tag}
        return evaluate([doc], Request(action, table_arn(table), ctx))

    assert ask(leave, "dynamodb:UpdateItem", "Leave", "acme") == "Allow"
    assert ask(leave, "dynamodb:UpdateItem", "Leave", "globex") == "Deny"
    assert ask(leave, "dynamodb:PutItem", "Leave", "acme") == "Deny"
    assert ask(leave, "dynamodb:UpdateItem", "Payroll", "acme") == "Deny"
    crud = policy_of(run, "jobs-crud-item-writer-policy")
    assert ask(crud, "dynamodb:UpdateItem", "Payroll", "acme") == "Allow"
    assert ask(crud, "dynamodb:UpdateItem", "TenantJob", "acme") == "Deny"
    text = json.dumps(
        [
            policy_of(run, f"jobs-{r}-writer-policy")
            for r in ("job-runner", "attgen-tenant", "employee-earn-al", "crud-item", "tenant-notification-dispatcher")
        ]
    )
    assert "/index/" not in text
    assert "dynamodb:Scan" not in text
    trust = json.loads(run.named("jobs-crud-item-writer-role").inputs["assumeRolePolicy"])
    crud_role = function(run, "AIML-SaaS-CRUD-Item-Dev").inputs["role"]
    assert trust["Statement"] == [
        {
            "Sid": "RunnerAssumesWithOneTenantTag",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": crud_role},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
                "Null": {"aws:RequestTag/TenantId": "false"},
            },
        }
    ]  # no tenant list: the registry decides which tenants exist


def test_tenant_runners_check_the_registry_and_assume_with_exactly_one_tenant_tag(run: ProgramRun) -> None:
    for runner in TENANT_RUNNERS:
        fn = function(run, f"AIML-SaaS-{runner}-Dev")
        env = fn.inputs["environment"]["variables"]
        assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryDev"
        assert "KNOWN_TENANTS" not in env
        assert not any("acme" in str(v) for v in env.values()), env
        doc = policy_of(run, f"jobs-{runner.lower()}-policy")
        assert "acme" not in json.dumps(doc)
        assert "globex" not in json.dumps(doc)
        by_sid = {st["Sid"]: st for st in doc["Statement"]}
        assert by_sid["ReadTenantRegistry"]["Resource"] == [REGISTRY_ARN, f"{REGISTRY_ARN}/index/byUserPool"]
        assert by_sid["TenantRegistryKeyThroughDynamoDB"]["Condition"]["StringEquals"] == {
            "kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"
        }
        assert by_sid["AssumeTenantWriter"]["Condition"] == {
            "Null": {"aws:RequestTag/TenantId": "false"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["TenantId"]},
        }
        assert evaluate([doc], Request("dynamodb:Scan", REGISTRY_ARN)) == "Deny"
        assert evaluate([doc], Request("dynamodb:PutItem", REGISTRY_ARN)) == "Deny"


def test_a_platform_stack_without_tenants_still_builds_the_jobs() -> None:
    """All tenants in cell stacks: no tenant ids here; the runners, writer roles and documents are the same."""
    empty = run_function(lambda: ScheduledJobs("jobs", args(tenant_ids=())), stack="dev")
    full = run_function(lambda: ScheduledJobs("jobs", args()), stack="dev")
    for name in ("jobs-crud-item-writer-policy", "jobs-crud-item-policy", "jobs-attgen-system-policy"):
        assert empty.named(name).inputs["policy"] == full.named(name).inputs["policy"]
    names = {p["name"] for p in empty.data_paths()}
    assert "crud-item/assume-writer" not in names
    assert "registry/crud-item/get" in names


def test_attgen_system_is_a_system_runner_that_only_fans_out(run: ProgramRun) -> None:
    doc = policy_of(run, "jobs-attgen-system-policy")
    extra = [
        s
        for s in doc["Statement"]
        if s["Sid"]
        not in ("OwnLogGroup", "XRay", "DeadLetter", "DeadLetterQueueKey", "TenantRegistryKeyThroughDynamoDB")
    ]
    assert extra == [
        {
            "Sid": "ListTenantsByStatus",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{REGISTRY_ARN}/index/byStatus",
        },
        {
            "Sid": "FanOutToAttGenTenant",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AIML-SaaS-AttGen-Tenant-Dev",
        },
    ]
    assert evaluate([doc], Request("dynamodb:Query", f"{REGISTRY_ARN}/index/byStatus")) == "Allow"
    for action, resource in (
        ("dynamodb:Scan", REGISTRY_ARN),
        ("dynamodb:Query", REGISTRY_ARN),
        ("dynamodb:GetItem", REGISTRY_ARN),  # the items hold usage keys
        ("dynamodb:Query", f"{REGISTRY_ARN}/index/byUserPool"),
        ("dynamodb:Query", table_arn("Payroll")),
    ):
        assert evaluate([doc], Request(action, resource)) == "Deny", (action, resource)
    env = function(run, "AIML-SaaS-AttGen-System-Dev").inputs["environment"]["variables"]
    assert env["SAAS_REGISTRY_TABLE"] == "TenantRegistryDev"
    assert "KNOWN_TENANTS" not in env
    assert "WRITER_ROLE_ARN" not in env
    assert not [r for r in run.of_type("aws:iam/role:Role") if r.inputs.get("name") == "AIML-SaaS-AttGen-System-W-Dev"]


def test_alarms_cover_dlqs_errors_throttles_p99_lag_and_failed_jobs(run: ProgramRun) -> None:
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    by_metric = Counter(a.inputs["metricName"] for a in alarms)
    assert by_metric["ApproximateNumberOfMessagesVisible"] == 8  # scheduler + picker + 6 runners
    assert by_metric["Errors"] == by_metric["Throttles"] == by_metric["Duration"] == 7
    (lag,) = [a for a in alarms if a.inputs["metricName"] == "JobLagSeconds"]
    assert lag.inputs["dimensions"] == {"service": "ScheduledJobs", "function_name": "AIML-SaaS-JobPicker-Dev"}
    assert lag.inputs["threshold"] == 300
    p99 = [a for a in alarms if a.inputs["metricName"] == "Duration"]
    assert {a.inputs["extendedStatistic"] for a in p99} == {"p99"}
    assert all(a.inputs["alarmActions"] == [f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"] for a in alarms)


def test_no_duplicate_names_and_every_child_is_parented(run: ProgramRun) -> None:
    dupes = [k for k, n in Counter((r.type, r.name) for r in run.resources).items() if n > 1]
    assert not dupes
    by_urn = run.by_urn()
    for r in run.resources:
        if r.type in ("pulumi:pulumi:Stack", "saas:jobs:ScheduledJobs"):
            continue
        chain: list[str] = []
        parent = r.parent
        while parent is not None and parent in by_urn:
            chain.append(by_urn[parent].type)
            parent = by_urn[parent].parent
        assert "saas:jobs:ScheduledJobs" in chain, r.urn


def test_the_component_alone_passes_the_policy_pack(run: ProgramRun) -> None:
    report = evaluate_run(run)
    assert not report.mandatory, [v.to_json() for v in report.mandatory]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"runners": ("AttGen-System",)}, "AttGen-System fans out"),
        ({"runners": ("Drop-Tables",)}, "runners must be distinct names"),
        ({"shards": 0}, "shards must be 1-100"),
        ({"lease_seconds": 30}, "lease_seconds must be 60-900"),
        ({"lease_seconds": 60}, "must exceed the picker's timeout"),
        ({"tables": {}}, "tables is missing"),
        ({"tenant_ids": ("Acme",)}, "tenant_ids must be tenant ids"),
        ({"layers": []}, "does not provide aws_lambda_powertools"),
        ({"name_prefix": "P" * 26, "environment": "staging"}, "writer role name"),
    ],
)
def test_bad_arguments_are_refused_before_any_resource(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ComponentArgError, match=match):
        args(**kw)
