"""The team grants proven on a real PostgreSQL server started by the test.

The server gets the schema (``grants_model.DDL``, run as the owner role), the team roles and exactly the GRANT
statements derived from ``grants_model.GRANTS`` - the definition the Pulumi resources are built from, applied
by a non-superuser member of the owner role as the provider would. Then every statement of the matrix below
runs as a user of each team: the allowed ones succeed, every other one is refused with SQLSTATE 42501
(insufficient_privilege) - not with any other error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pg8000.native
import pytest

from saas_platform.components.testing.postgres import TemporaryPostgres, temporary_postgres

from grants_model import DDL, GRANTS, OWNER

DB = "assessment"
USERS = {"logistics": "TEAM_LOGISTICS", "analytics": "TEAM_ANALYTICS", "sales": "TEAM_SALES"}
A = '"ASSESSMENT"'
V = '"ANALYTICS"'

# statement -> the teams allowed to run it (spelled out here, not derived from the implementation)
MATRIX: list[tuple[str, set[str]]] = [
    (f'SELECT * FROM {A}."TB_MEMBERSHIP"', {"logistics"}),
    (f'SELECT * FROM {A}."TB_ITEM"', {"logistics", "sales"}),
    (f'SELECT * FROM {A}."TB_TRANSACTION"', {"logistics"}),
    (f'SELECT * FROM {A}."TB_TRANSACTION_ITEM_MAPPING"', {"logistics"}),
    (f'SELECT sum("TOTAL_WEIGHT") FROM {A}."TB_TRANSACTION"', {"logistics"}),
    (f"""UPDATE {A}."TB_MEMBERSHIP" SET "STATUS_CD" = 'INACTIVE' WHERE "MEMBERSHIP_ID" = 'm1' """, {"logistics"}),
    (f"""UPDATE {A}."TB_MEMBERSHIP" SET "EMAIL" = 'x@example.com' WHERE "MEMBERSHIP_ID" = 'm1' """, set()),
    (f"""UPDATE {A}."TB_TRANSACTION" SET "STATUS_CD" = 'DELIVERED' """, set()),
    (
        f"""INSERT INTO {A}."TB_MEMBERSHIP" VALUES ('m9', 'A', 'B', 'a@b.co', '1990-01-01', '81234567', 'ACTIVE')""",
        set(),
    ),
    (f"""DELETE FROM {A}."TB_MEMBERSHIP" WHERE "MEMBERSHIP_ID" = 'm1' """, set()),
    (
        f"""INSERT INTO {A}."TB_ITEM" ("ITEM_NM", "MANUFACTURER_NM", "COST", "WEIGHT_KG")
            VALUES ('probe', 'Acme', 9.99, 0.5)""",
        {"sales"},
    ),
    (f"""UPDATE {A}."TB_ITEM" SET "COST" = 12.50 WHERE "ITEM_NM" = 'Kettle' """, {"sales"}),
    (f"""DELETE FROM {A}."TB_ITEM" WHERE "ITEM_NM" = 'Unsold lamp' """, {"sales"}),
    (f'TRUNCATE {A}."TB_ITEM" CASCADE', set()),
    (
        f"""INSERT INTO {A}."TB_TRANSACTION" ("MEMBERSHIP_ID", "TOTAL_PRICE", "TOTAL_WEIGHT") VALUES ('m1', 1, 1)""",
        set(),
    ),
    (f'UPDATE {A}."TB_TRANSACTION_ITEM_MAPPING" SET "QUANTITY" = 2', set()),
    (f'DELETE FROM {A}."TB_TRANSACTION_ITEM_MAPPING"', set()),
    (f'CREATE TABLE {A}."TB_EXTRA" (id int)', set()),
    (f'SELECT * FROM {V}."view_member_sales_summary"', {"analytics"}),
    (f'SELECT * FROM {V}."view_item_sales"', {"analytics"}),
    (f'SELECT * FROM {V}."view_membership_status"', {"analytics"}),
    (f'CREATE VIEW {V}."v_extra" AS SELECT 1', set()),
]


@pytest.fixture(scope="module")
def server() -> Iterator[TemporaryPostgres]:
    with temporary_postgres() as pg:
        pg.execute(
            [
                f"CREATE DATABASE {DB}",
                f'CREATE ROLE "{OWNER}" NOLOGIN',
                # the role Pulumi's provider logs in as: no superuser, a member of the owner (may grant on its objects)
                f'CREATE ROLE grants_admin LOGIN CREATEROLE IN ROLE "{OWNER}"',
                f'GRANT CREATE ON DATABASE {DB} TO "{OWNER}"',
            ]
        )
        pg.execute([f'SET ROLE "{OWNER}"', *DDL], database=DB)
        pg.execute(
            [
                f'SET ROLE "{OWNER}"',
                """INSERT INTO "ASSESSMENT"."TB_MEMBERSHIP" VALUES
                   ('m1', 'Ada', 'Lim', 'ada@example.com', '1990-04-01', '81234567', 'ACTIVE')""",
                """INSERT INTO "ASSESSMENT"."TB_ITEM" ("ITEM_NM", "MANUFACTURER_NM", "COST", "WEIGHT_KG") VALUES
                   ('Kettle', 'Acme', 20, 1.2), ('Unsold lamp', 'Acme', 15, 2.0)""",
                """INSERT INTO "ASSESSMENT"."TB_TRANSACTION" ("MEMBERSHIP_ID", "TOTAL_PRICE", "TOTAL_WEIGHT")
                   VALUES ('m1', 20, 1.2)""",
                """INSERT INTO "ASSESSMENT"."TB_TRANSACTION_ITEM_MAPPING" VALUES (1, 1, 1)""",
            ],
            database=DB,
        )
        pg.execute(GRANTS.role_sql(), user="grants_admin", database=DB)
        pg.execute(GRANTS.sql(), user="grants_admin", database=DB)
        pg.execute([f'CREATE ROLE {user} LOGIN IN ROLE "{role}"' for user, role in USERS.items()])
        yield pg


def attempt(pg: TemporaryPostgres, user: str, statement: str) -> str | None:
    """Run ``statement`` as ``user`` in a transaction that is rolled back; the SQLSTATE of a failure, else None."""
    conn = pg.connect(user, DB)
    try:
        conn.run("BEGIN")
        try:
            conn.run(statement)
        except pg8000.native.DatabaseError as exc:
            return str(exc.args[0].get("C"))
        finally:
            conn.run("ROLLBACK")
        return None
    finally:
        conn.close()


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize(("statement", "allowed"), MATRIX, ids=[f"s{i:02d}" for i in range(len(MATRIX))])
def test_grant_matrix(server: TemporaryPostgres, user: str, statement: str, allowed: set[str]) -> None:
    outcome = attempt(server, user, statement)
    if user in allowed:
        assert outcome is None, f"{user} must be able to run: {statement} (got SQLSTATE {outcome})"
    else:
        assert outcome == "42501", f"{user} must be refused (42501) for: {statement} (got {outcome})"


def test_each_team_holds_exactly_its_privileges(server: TemporaryPostgres) -> None:
    conn = server.connect(database=DB)
    try:
        tables = conn.run(
            "SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee LIKE 'TEAM_%' ORDER BY 1, 2, 3, 4"
        )
        updatable = conn.run(
            "SELECT grantee, table_name, column_name FROM information_schema.column_privileges "
            "WHERE grantee LIKE 'TEAM_%' AND privilege_type = 'UPDATE' ORDER BY 1, 2, 3"
        )
        usage = conn.run(
            "SELECT r.rolname, n.nspname FROM pg_namespace n CROSS JOIN pg_roles r "
            "WHERE r.rolname LIKE 'TEAM_%' AND has_schema_privilege(r.rolname, n.oid, 'USAGE') "
            "AND n.nspname IN ('ASSESSMENT', 'ANALYTICS') ORDER BY 1, 2"
        )
    finally:
        conn.close()
    assert [tuple(r) for r in tables] == [
        ("TEAM_ANALYTICS", "ANALYTICS", "view_item_sales", "SELECT"),
        ("TEAM_ANALYTICS", "ANALYTICS", "view_member_sales_summary", "SELECT"),
        ("TEAM_ANALYTICS", "ANALYTICS", "view_membership_status", "SELECT"),
        ("TEAM_LOGISTICS", "ASSESSMENT", "TB_ITEM", "SELECT"),
        ("TEAM_LOGISTICS", "ASSESSMENT", "TB_MEMBERSHIP", "SELECT"),
        ("TEAM_LOGISTICS", "ASSESSMENT", "TB_TRANSACTION", "SELECT"),
        ("TEAM_LOGISTICS", "ASSESSMENT", "TB_TRANSACTION_ITEM_MAPPING", "SELECT"),
        ("TEAM_SALES", "ASSESSMENT", "TB_ITEM", "DELETE"),
        ("TEAM_SALES", "ASSESSMENT", "TB_ITEM", "INSERT"),
        ("TEAM_SALES", "ASSESSMENT", "TB_ITEM", "SELECT"),
        ("TEAM_SALES", "ASSESSMENT", "TB_ITEM", "UPDATE"),
    ]
    assert [tuple(r) for r in updatable] == [
        ("TEAM_LOGISTICS", "TB_MEMBERSHIP", "STATUS_CD"),  # the only column logistics may change
        ("TEAM_SALES", "TB_ITEM", "COST"),
        ("TEAM_SALES", "TB_ITEM", "ITEM_ID"),
        ("TEAM_SALES", "TB_ITEM", "ITEM_NM"),
        ("TEAM_SALES", "TB_ITEM", "MANUFACTURER_NM"),
        ("TEAM_SALES", "TB_ITEM", "WEIGHT_KG"),
    ]
    assert [tuple(r) for r in usage] == [
        ("TEAM_ANALYTICS", "ANALYTICS"),
        ("TEAM_LOGISTICS", "ASSESSMENT"),
        ("TEAM_SALES", "ASSESSMENT"),
    ]


def test_analytics_reads_aggregates_through_views(server: TemporaryPostgres) -> None:
    conn = server.connect("analytics", DB)
    try:
        rows = conn.run(
            'SELECT "MEMBERSHIP_ID", transactions, total_weight FROM "ANALYTICS"."view_member_sales_summary"'
        )
    finally:
        conn.close()
    assert [(r[0], r[1], str(r[2])) for r in rows] == [("m1", 1, "1.200")]


def test_analytics_cannot_write_through_its_views(server: TemporaryPostgres) -> None:
    conn = server.connect(database=DB)
    try:
        rows = conn.run(
            "SELECT c.relname, p.priv, has_table_privilege('TEAM_ANALYTICS', c.oid, p.priv) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv) "
            "WHERE n.nspname = 'ANALYTICS' ORDER BY 1, 2"
        )
    finally:
        conn.close()
    assert len(rows) == 12
    assert not any(r[2] for r in rows)
    # and the aggregate views are not updatable at all (GROUP BY), whoever asks
    assert attempt(server, "analytics", 'UPDATE "ANALYTICS"."view_membership_status" SET "STATUS_CD" = \'X\'') in (
        "42501",
        "55000",
    )
