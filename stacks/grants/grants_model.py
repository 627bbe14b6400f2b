"""The team grants of the assessment database as one definition, plus the schema they apply to.

``GRANTS`` is what both ``__main__.py`` (Pulumi PostgreSQL resources) and the tests (SQL on a real server)
use. ``DDL`` creates the objects the grants name; it runs as ``ASSESSMENT_OWNER`` (the migration role) before
``pulumi up``, so the grants role (a member of the owner) can grant on them.

Privileges, exactly as the team-grants design states them:

* ``TEAM_LOGISTICS``: ``SELECT`` on ``TB_MEMBERSHIP``, ``TB_ITEM``, ``TB_TRANSACTION`` and
  ``TB_TRANSACTION_ITEM_MAPPING``; ``UPDATE ("STATUS_CD")`` on ``TB_MEMBERSHIP`` and nothing else.
* ``TEAM_ANALYTICS``: read-only through views in schema ``ANALYTICS`` (``view_member_sales_summary``,
  ``view_item_sales``, ``view_membership_status``); no table privilege at all. The views run with their
  owner's privileges, so analysts see aggregates without reading raw rows.
* ``TEAM_SALES``: ``SELECT, INSERT, UPDATE, DELETE`` on ``TB_ITEM``.
"""

from __future__ import annotations

from typing import Final

from saas_platform.components.postgres_grants import GrantSet, Privilege

SCHEMA: Final = "ASSESSMENT"
VIEWS_SCHEMA: Final = "ANALYTICS"
OWNER: Final = "ASSESSMENT_OWNER"
TABLES: Final = ("TB_MEMBERSHIP", "TB_ITEM", "TB_TRANSACTION", "TB_TRANSACTION_ITEM_MAPPING")
VIEWS: Final = ("view_member_sales_summary", "view_item_sales", "view_membership_status")

GRANTS: Final = GrantSet(
    roles=("TEAM_LOGISTICS", "TEAM_ANALYTICS", "TEAM_SALES"),
    privileges=(
        Privilege(role="TEAM_LOGISTICS", schema=SCHEMA, object_type="schema", privileges=("USAGE",)),
        Privilege(role="TEAM_LOGISTICS", schema=SCHEMA, object_type="table", privileges=("SELECT",), objects=TABLES),
        Privilege(
            role="TEAM_LOGISTICS",
            schema=SCHEMA,
            object_type="column",
            privileges=("UPDATE",),
            objects=("TB_MEMBERSHIP",),
            columns=("STATUS_CD",),
        ),
        Privilege(role="TEAM_ANALYTICS", schema=VIEWS_SCHEMA, object_type="schema", privileges=("USAGE",)),
        Privilege(
            role="TEAM_ANALYTICS", schema=VIEWS_SCHEMA, object_type="table", privileges=("SELECT",), objects=VIEWS
        ),
        Privilege(role="TEAM_SALES", schema=SCHEMA, object_type="schema", privileges=("USAGE",)),
        Privilege(
            role="TEAM_SALES",
            schema=SCHEMA,
            object_type="table",
            privileges=("SELECT", "INSERT", "UPDATE", "DELETE"),
            objects=("TB_ITEM",),
        ),
    ),
)

DDL: Final = (
    f'CREATE SCHEMA "{SCHEMA}"',
    f'CREATE SCHEMA "{VIEWS_SCHEMA}"',
    f'''CREATE TABLE "{SCHEMA}"."TB_MEMBERSHIP" (
        "MEMBERSHIP_ID" text PRIMARY KEY,
        "FIRST_NAME" text NOT NULL,
        "LAST_NAME" text NOT NULL,
        "EMAIL" text NOT NULL,
        "DATE_OF_BIRTH" date NOT NULL,
        "MOBILE_NO" text NOT NULL,
        "STATUS_CD" text NOT NULL DEFAULT 'ACTIVE'
    )''',
    f'''CREATE TABLE "{SCHEMA}"."TB_ITEM" (
        "ITEM_ID" integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "ITEM_NM" text NOT NULL,
        "MANUFACTURER_NM" text NOT NULL,
        "COST" numeric(10, 2) NOT NULL CHECK ("COST" >= 0),
        "WEIGHT_KG" numeric(10, 3) NOT NULL CHECK ("WEIGHT_KG" >= 0)
    )''',
    f'''CREATE TABLE "{SCHEMA}"."TB_TRANSACTION" (
        "TRANSACTION_ID" integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "MEMBERSHIP_ID" text NOT NULL REFERENCES "{SCHEMA}"."TB_MEMBERSHIP",
        "TRANSACTION_DT" timestamptz NOT NULL DEFAULT now(),
        "TOTAL_PRICE" numeric(12, 2) NOT NULL,
        "TOTAL_WEIGHT" numeric(12, 3) NOT NULL,
        "STATUS_CD" text NOT NULL DEFAULT 'PENDING'
    )''',
    f'''CREATE TABLE "{SCHEMA}"."TB_TRANSACTION_ITEM_MAPPING" (
        "TRANSACTION_ID" integer NOT NULL REFERENCES "{SCHEMA}"."TB_TRANSACTION",
        "ITEM_ID" integer NOT NULL REFERENCES "{SCHEMA}"."TB_ITEM",
        "QUANTITY" integer NOT NULL CHECK ("QUANTITY" > 0),
        PRIMARY KEY ("TRANSACTION_ID", "ITEM_ID")
    )''',
    f'''CREATE VIEW "{VIEWS_SCHEMA}"."view_member_sales_summary" AS
        SELECT m."MEMBERSHIP_ID", m."STATUS_CD", count(t."TRANSACTION_ID") AS transactions,
               coalesce(sum(t."TOTAL_PRICE"), 0) AS total_spent, coalesce(sum(t."TOTAL_WEIGHT"), 0) AS total_weight
        FROM "{SCHEMA}"."TB_MEMBERSHIP" m LEFT JOIN "{SCHEMA}"."TB_TRANSACTION" t USING ("MEMBERSHIP_ID")
        GROUP BY m."MEMBERSHIP_ID", m."STATUS_CD"''',
    f'''CREATE VIEW "{VIEWS_SCHEMA}"."view_item_sales" AS
        SELECT i."ITEM_ID", i."ITEM_NM", coalesce(sum(x."QUANTITY"), 0) AS units_sold
        FROM "{SCHEMA}"."TB_ITEM" i LEFT JOIN "{SCHEMA}"."TB_TRANSACTION_ITEM_MAPPING" x USING ("ITEM_ID")
        GROUP BY i."ITEM_ID", i."ITEM_NM"''',
    f'''CREATE VIEW "{VIEWS_SCHEMA}"."view_membership_status" AS
        SELECT "STATUS_CD", count(*) AS members FROM "{SCHEMA}"."TB_MEMBERSHIP" GROUP BY "STATUS_CD"''',
)
"""The objects the grants name (run as the owner role, before ``pulumi up``)."""
