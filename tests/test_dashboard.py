"""PlatformDashboard: one dashboard per environment with the sign-in, authorizer, API, pipeline and jobs rows."""

from __future__ import annotations

import json

from saas_platform.components.dashboard import PlatformDashboard, PlatformDashboardArgs, dashboard_body
from saas_platform.components.testing.harness import run_function


def expressions(body: dict) -> list[str]:
    return [m[0]["expression"] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]


def test_body_has_every_row_scoped_to_the_environment() -> None:
    body = dashboard_body("staging", "ap-southeast-1", "AIML-SaaS")
    titles = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert titles == ["## Sign-ins", "## Authorizer", "## API", "## Pipeline", "## Jobs"]
    exprs = expressions(body)
    assert "SEARCH('{AWS/Cognito,UserPool,UserPoolClient} MetricName=\"SignInSuccesses\"', 'Sum', 300)" in exprs
    assert any('FunctionName="AIML-SaaS-Authorizer-Staging"' in e for e in exprs)
    assert any('MetricName="5XXError" ApiName="AIML-SaaS-Api-Staging"' in e for e in exprs)
    assert any('MetricName="JobLagSeconds" function_name="AIML-SaaS-JobPicker-Staging"' in e for e in exprs)
    assert any('ApproximateNumberOfMessagesVisible" DLQ Staging' in e for e in exprs)
    assert all(w["properties"].get("region", "ap-southeast-1") == "ap-southeast-1" for w in body["widgets"])
    ids = [[m[0]["id"] for m in w["properties"]["metrics"]] for w in body["widgets"] if w["type"] == "metric"]
    assert all(len(set(i)) == len(i) for i in ids)  # ids unique within a widget (CloudWatch requires it)


def test_component_registers_one_named_dashboard() -> None:
    run = run_function(
        lambda: PlatformDashboard(
            "platform-dashboard", PlatformDashboardArgs(environment="dev", region="ap-southeast-1")
        )
    )
    (dash,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dash.inputs["dashboardName"] == "AIML-SaaS-Platform-Dev"
    assert len(json.loads(dash.inputs["dashboardBody"])["widgets"]) == 20
