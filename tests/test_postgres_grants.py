"""PostgresGrants / GrantSet: SQL rendering, provider resources and the rules checked before registration."""

from __future__ import annotations

from typing import Any

import pulumi_postgresql as postgresql
import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.postgres_grants import GrantSet, PostgresGrants, PostgresGrantsArgs, Privilege
from saas_platform.components.testing.harness import run_function

USAGE = Privilege(role="R", schema="S", object_type="schema", privileges=("USAGE",))
READ = Privilege(role="R", schema="S", object_type="table", privileges=("SELECT",), objects=("T1", "T2"))
COL = Privilege(role="R", schema="S", object_type="column", privileges=("UPDATE",), objects=("T1",), columns=("C",))


def test_sql_rendering() -> None:
    grants = GrantSet(roles=("R",), privileges=(READ, COL, USAGE))
    assert grants.role_sql() == ['CREATE ROLE "R" NOLOGIN']
    assert grants.sql() == [
        'GRANT USAGE ON SCHEMA "S" TO "R"',
        'GRANT SELECT ON TABLE "S"."T1" TO "R"',
        'GRANT SELECT ON TABLE "S"."T2" TO "R"',
        'GRANT UPDATE ("C") ON TABLE "S"."T1" TO "R"',
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"object_type": "table", "privileges": ("USAGE",), "objects": ("T",)}, "privileges"),
        ({"object_type": "table", "privileges": ("SELECT",)}, "an empty list means every table"),
        ({"object_type": "column", "privileges": ("DELETE",), "objects": ("T",), "columns": ("C",)}, "privileges"),
        ({"object_type": "column", "privileges": ("UPDATE",), "objects": ("T",)}, "exactly one table"),
        ({"object_type": "schema", "privileges": ("USAGE",), "objects": ("T",)}, "takes no objects"),
        ({"object_type": "table", "privileges": ("SELECT",), "objects": ('T"; DROP',)}, "not a valid identifier"),
    ],
)
def test_privilege_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        Privilege(role="R", schema="S", **kw)


def test_grant_set_rules() -> None:
    with pytest.raises(ComponentArgError, match="more than one grant per"):
        GrantSet(roles=("R",), privileges=(USAGE, READ, READ))
    with pytest.raises(ComponentArgError, match="without USAGE on their schema"):
        GrantSet(roles=("R",), privileges=(READ,))
    with pytest.raises(ComponentArgError, match="not declared"):
        GrantSet(roles=("X",), privileges=(USAGE,))


def test_resources_follow_the_definition() -> None:
    grants = GrantSet(roles=("R",), privileges=(USAGE, READ, COL))

    def program() -> None:
        provider = postgresql.Provider("db", host="db.example.com", username="admin", superuser=False)
        PostgresGrants("g", PostgresGrantsArgs(database="shop", grants=grants, provider=provider))

    run = run_function(program)
    (role,) = run.of_type("postgresql:index/role:Role")
    assert role.inputs["login"] is False
    by_type = {g.inputs["objectType"]: g for g in run.of_type("postgresql:index/grant:Grant")}
    assert by_type["table"].inputs["objects"] == ["T1", "T2"]
    assert by_type["column"].inputs["columns"] == ["C"]
    assert "objects" not in by_type["schema"].inputs
    assert by_type["schema"].urn in by_type["table"].dependencies
    assert all(g.options.provider and "pulumi:providers:postgresql" in g.options.provider for g in by_type.values())
