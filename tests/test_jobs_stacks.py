"""The system jobs in the composed stacks: every stack plans them, and no tenant can read the due-jobs index."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from saas_platform.components.testing.harness import ProgramRun
from tests.conftest import run_stack
from tests.iam_oracle import Request, evaluate
from tests.test_cross_tenant_matrix import sessions

SUFFIX = {"dev": "Dev", "staging": "Staging", "prod": "Prod"}


def stack(name: str) -> ProgramRun:
    return run_stack(name, {"saas:access": {"mode": "perTenant"}})  # the cross-tenant matrix's cached run


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_stack_has_the_scheduler_picker_runners_queues_alarms_and_dashboard(name: str) -> None:
    run, env = stack(name), SUFFIX[name]
    (schedule,) = run.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["name"] == f"AIML-SaaS-Scheduler-{env}"
    functions = {f.inputs["name"] for f in run.of_type("aws:lambda/function:Function")}
    expected = {
        f"AIML-SaaS-{r}-{env}"
        for r in (
            "JobPicker",
            "Job-Runner",
            "AttGen-System",
            "AttGen-Tenant",
            "Employee-Earn-AL",
            "CRUD-Item",
            "Tenant-Notification-Dispatcher",
        )
    }
    assert expected <= functions
    queues = {q.inputs["name"] for q in run.of_type("aws:sqs/queue:Queue")}
    assert {f"{f}-DLQ" for f in expected} | {f"AIML-SaaS-Scheduler-{env}-DLQ"} <= queues
    metrics = Counter(a.inputs["metricName"] for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
    assert metrics["JobLagSeconds"] == 1
    assert metrics["ApproximateNumberOfMessagesVisible"] >= 8
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == f"AIML-SaaS-Platform-{env}"
    (table,) = [t for t in run.of_type("aws:dynamodb/table:Table") if t.inputs["name"] == f"TenantJob{env}"]
    assert [i["name"] for i in table.inputs["globalSecondaryIndexes"]] == ["DueJobs"]
    assert run.outputs["scheduleName"] == f"AIML-SaaS-Scheduler-{env}"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_no_tenant_session_can_read_the_due_jobs_index(name: str) -> None:
    run, env = stack(name), SUFFIX[name]
    index = f"arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantJob{env}/index/DueJobs"
    checked = 0
    for tenant, tenant_sessions in sessions(run).items():
        if tenant == "system":
            continue
        for s in tenant_sessions:
            for action in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem"):
                ctx = {**s.context, "dynamodb:LeadingKeys": [f"TENANT#{tenant}"]}
                assert evaluate(s.documents, Request(action, index, ctx)) == "Deny", (tenant, s.role, action)
                checked += 1
            assert "DueJobs" not in json.dumps(s.documents)
    assert checked >= 12


@pytest.mark.parametrize("name", ["dev"])
def test_runner_writer_sessions_are_confined_to_their_tenant_and_never_reach_the_index(name: str) -> None:
    run, env = stack(name), SUFFIX[name]
    writers = [
        r
        for r in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-writer-policy") and "platform-jobs-" in r.name
    ]
    assert len(writers) == 5
    base = "arn:aws:dynamodb:ap-southeast-1:123456789012:table"
    for w in writers:
        doc = json.loads(w.inputs["policy"])
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resource = st["Resource"]
            if not all(a.startswith("dynamodb:") for a in actions):
                continue  # the key statement (kms via DynamoDB only) is proven by the authorization matrix
            for action in actions:
                acme = {"aws:PrincipalTag/TenantId": "acme", "dynamodb:LeadingKeys": ["TENANT#acme"]}
                cross = {"aws:PrincipalTag/TenantId": "acme", "dynamodb:LeadingKeys": ["TENANT#globex"]}
                assert evaluate([doc], Request(action, resource, acme)) == "Allow"
                assert evaluate([doc], Request(action, resource, cross)) == "Deny"
                assert evaluate([doc], Request(action, f"{base}/TenantJob{env}/index/DueJobs", acme)) == "Deny"
