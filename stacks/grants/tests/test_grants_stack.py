"""The grants stack planned offline: the shipped pack's verdict, the provider resources vs the design, config errors."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import ProgramRun, run_program
from saas_platform.components.testing.plan import Planner, StackPlan
from saas_platform.policies.offline import evaluate_run

from grants_model import GRANTS

PROJECT = Path(__file__).resolve().parent.parent


@cache
def plan(stack: str) -> StackPlan:
    return Planner(PROJECT, evaluate_run).plan(stack)


def run(stack: str) -> ProgramRun:
    result = plan(stack)
    assert result.run is not None, result.error
    return result.run


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plans_with_zero_violations(stack: str) -> None:
    result = plan(stack)
    assert result.error is None, result.error
    assert result.report is not None
    assert [(v.policy, v.message) for v in result.report.violations] == []


def test_provider_uses_iam_auth_and_tls_without_a_password() -> None:
    (provider,) = [r for r in run("prod").resources if r.type == "pulumi:providers:postgresql"]
    assert provider.inputs["awsRdsIamAuth"] == "true" or provider.inputs["awsRdsIamAuth"] is True
    assert provider.inputs["sslmode"] == "verify-full"
    assert "password" not in provider.inputs


def test_grant_resources_are_exactly_the_designs_privileges() -> None:
    grants = sorted(
        (
            g.inputs["role"],
            g.inputs["schema"],
            g.inputs["objectType"],
            tuple(g.inputs.get("objects") or ()),
            tuple(g.inputs.get("columns") or ()),
            tuple(g.inputs["privileges"]),
        )
        for g in run("dev").of_type("postgresql:index/grant:Grant")
    )
    tables = ("TB_MEMBERSHIP", "TB_ITEM", "TB_TRANSACTION", "TB_TRANSACTION_ITEM_MAPPING")
    views = ("view_member_sales_summary", "view_item_sales", "view_membership_status")
    assert grants == sorted(
        [
            ("TEAM_LOGISTICS", "ASSESSMENT", "schema", (), (), ("USAGE",)),
            ("TEAM_LOGISTICS", "ASSESSMENT", "table", tables, (), ("SELECT",)),
            ("TEAM_LOGISTICS", "ASSESSMENT", "column", ("TB_MEMBERSHIP",), ("STATUS_CD",), ("UPDATE",)),
            ("TEAM_ANALYTICS", "ANALYTICS", "schema", (), (), ("USAGE",)),
            ("TEAM_ANALYTICS", "ANALYTICS", "table", views, (), ("SELECT",)),
            ("TEAM_SALES", "ASSESSMENT", "schema", (), (), ("USAGE",)),
            ("TEAM_SALES", "ASSESSMENT", "table", ("TB_ITEM",), (), ("SELECT", "INSERT", "UPDATE", "DELETE")),
        ]
    )
    roles = {r.inputs["name"]: r.inputs for r in run("dev").of_type("postgresql:index/role:Role")}
    assert sorted(roles) == ["TEAM_ANALYTICS", "TEAM_LOGISTICS", "TEAM_SALES"]
    assert all(r["login"] is False and r["superuser"] is False for r in roles.values())
    assert all(g.inputs["withGrantOption"] is False for g in run("dev").of_type("postgresql:index/grant:Grant"))


def test_sql_carries_the_designs_statements() -> None:
    sql = GRANTS.sql()
    assert 'GRANT UPDATE ("STATUS_CD") ON TABLE "ASSESSMENT"."TB_MEMBERSHIP" TO "TEAM_LOGISTICS"' in sql
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "ASSESSMENT"."TB_ITEM" TO "TEAM_SALES"' in sql
    assert 'GRANT SELECT ON TABLE "ASSESSMENT"."TB_TRANSACTION" TO "TEAM_LOGISTICS"' in sql
    assert not any('"TEAM_ANALYTICS"' in s and '"ASSESSMENT"' in s for s in sql)  # analytics: views only
    assert sql.index('GRANT USAGE ON SCHEMA "ASSESSMENT" TO "TEAM_LOGISTICS"') == 0


@pytest.mark.parametrize(
    ("override", "keys"),
    [
        (
            {"grants:connection": {"host": "db", "port": 70000, "database": "assessment", "username": "a"}},
            ["grants:connection.host", "grants:connection.port"],
        ),
        (
            {
                "grants:connection": {
                    "host": "db.example.com",
                    "port": 5432,
                    "database": "assessment",
                    "username": "postgres",
                }
            },
            ["grants:connection.username"],
        ),
        ({"grants:environment": "qa"}, ["grants:environment"]),
        ({"grants:password": "x"}, ["grants:password"]),
    ],
)
def test_bad_config_names_the_file_and_the_key(override: dict[str, Any], keys: list[str]) -> None:
    with pytest.raises(StackConfigError) as err:
        run_program(PROJECT, "dev", config=override)
    assert err.value.stack_file == "Pulumi.dev.yaml"
    assert err.value.keys == keys
