"""``PostgresGrants``: team roles and their privileges in a PostgreSQL database, declared once.

One :class:`GrantSet` (Python data) is the single definition of who may do what. From it come both

* the Pulumi PostgreSQL provider's resources (``postgresql.Role`` per team, ``postgresql.Grant`` per
  role/schema/object type), which ``pulumi up`` applies; and
* the equivalent SQL (:meth:`GrantSet.sql`), which tests apply to a real PostgreSQL server to prove that every
  allowed statement succeeds and every other one is refused.

Rules checked before any resource is registered:

* privileges are the ones PostgreSQL defines for the object type (``SELECT``/``INSERT``/``UPDATE``/``DELETE``/
  ``TRUNCATE``/``REFERENCES``/``TRIGGER`` on tables and views, ``SELECT``/``INSERT``/``UPDATE``/``REFERENCES``
  on columns, ``USAGE``/``CREATE`` on schemas);
* every grant names its objects: the provider reads an empty object list as "every table in the schema";
* at most one grant per (role, schema, object type): the provider revokes and re-grants the whole set for
  that triple, so two resources for it would undo each other on every update;
* a role that is granted anything in a schema also has ``USAGE`` on that schema (otherwise the grant is dead);
* team roles are ``NOLOGIN`` groups: people log in as their own users, made members of a team role.

This module needs ``pulumi-postgresql`` in the consumer project (not a runtime dependency of the library; the
repository installs it with the ``dev`` extra for ``stacks/grants``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_postgresql as postgresql

from saas_platform.components.errors import ComponentArgError

ObjectType = Literal["schema", "table", "column"]
IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
PRIVILEGES: Final[dict[str, frozenset[str]]] = {
    "table": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}),
    "column": frozenset({"SELECT", "INSERT", "UPDATE", "REFERENCES"}),
    "schema": frozenset({"USAGE", "CREATE"}),
}


def quote(identifier: str) -> str:
    """``"IDENT"``: a PostgreSQL quoted identifier (case kept; only validated identifiers reach here)."""
    if not IDENT_RE.fullmatch(identifier):
        raise ComponentArgError(f"{identifier!r} is not a valid identifier (letters, digits, '_', <= 63 characters)")
    return f'"{identifier}"'


@dataclass(frozen=True, kw_only=True)
class Privilege:
    """``privileges`` on ``objects`` (tables or views; for ``column``: one table and its ``columns``) in
    ``schema`` for ``role``. For ``object_type="schema"`` the object is the schema itself."""

    role: str
    schema: str
    object_type: ObjectType
    privileges: tuple[str, ...]
    objects: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for ident in (self.role, self.schema, *self.objects, *self.columns):
            quote(ident)
        if self.object_type not in PRIVILEGES:
            raise ComponentArgError(f"object_type must be one of {sorted(PRIVILEGES)}; got {self.object_type!r}")
        bad = sorted(set(self.privileges) - PRIVILEGES[self.object_type])
        if not self.privileges or bad:
            raise ComponentArgError(
                f"{self.role}: privileges {list(self.privileges)} on a {self.object_type}; allowed: "
                f"{sorted(PRIVILEGES[self.object_type])}"
            )
        if len(set(self.privileges)) != len(self.privileges):
            raise ComponentArgError(f"{self.role}: privileges repeat: {list(self.privileges)}")
        if self.object_type == "schema" and (self.objects or self.columns):
            raise ComponentArgError(f"{self.role}: a schema grant takes no objects or columns")
        if self.object_type == "table" and (not self.objects or self.columns):
            raise ComponentArgError(
                f"{self.role}: a table grant names its tables (an empty list means every table in "
                f"{self.schema!r} to the provider) and takes no columns"
            )
        if self.object_type == "column" and (len(self.objects) != 1 or not self.columns):
            raise ComponentArgError(f"{self.role}: a column grant names exactly one table and at least one column")
        if len(set(self.objects)) != len(self.objects):
            raise ComponentArgError(f"{self.role}: objects repeat: {list(self.objects)}")

    def sql(self) -> list[str]:
        """The GRANT statements equivalent to this privilege (one per object)."""
        privs = ", ".join(self.privileges)
        if self.object_type == "schema":
            return [f"GRANT {privs} ON SCHEMA {quote(self.schema)} TO {quote(self.role)}"]
        if self.object_type == "column":
            cols = ", ".join(quote(c) for c in self.columns)
            per_column = ", ".join(f"{p} ({cols})" for p in self.privileges)
            return [f"GRANT {per_column} ON TABLE {quote(self.schema)}.{quote(self.objects[0])} TO {quote(self.role)}"]
        return [f"GRANT {privs} ON TABLE {quote(self.schema)}.{quote(o)} TO {quote(self.role)}" for o in self.objects]


@dataclass(frozen=True, kw_only=True)
class GrantSet:
    """Team roles and every privilege they hold (see the module doc for the rules)."""

    roles: tuple[str, ...]
    privileges: tuple[Privilege, ...]

    def __post_init__(self) -> None:
        for role in self.roles:
            quote(role)
        if len(set(self.roles)) != len(self.roles):
            raise ComponentArgError(f"roles repeat: {list(self.roles)}")
        unknown = sorted({p.role for p in self.privileges} - set(self.roles))
        if unknown:
            raise ComponentArgError(f"privileges for roles that are not declared: {unknown}")
        triples = Counter(
            (p.role, p.schema, p.object_type, p.objects if p.object_type == "column" else ()) for p in self.privileges
        )
        clashes = sorted(k[:3] for k, n in triples.items() if n > 1)
        if clashes:
            raise ComponentArgError(
                f"more than one grant per (role, schema, object type): {clashes}; merge them (the provider manages "
                "each triple as a whole and two resources would revoke each other's privileges)"
            )
        usage = {(p.role, p.schema) for p in self.privileges if p.object_type == "schema" and "USAGE" in p.privileges}
        dead = sorted({(p.role, p.schema) for p in self.privileges if p.object_type != "schema"} - usage)
        if dead:
            raise ComponentArgError(f"grants without USAGE on their schema (they could never be used): {dead}")

    def role_sql(self) -> list[str]:
        return [f"CREATE ROLE {quote(r)} NOLOGIN" for r in self.roles]

    def sql(self) -> list[str]:
        """Every GRANT, schemas first (the order the provider's dependencies apply them in)."""
        ordered = sorted(self.privileges, key=lambda p: p.object_type != "schema")
        return [statement for p in ordered for statement in p.sql()]


@dataclass(frozen=True, kw_only=True)
class PostgresGrantsArgs:
    """Arguments of :class:`PostgresGrants`.

    Attributes:
        database: the database the grants apply in.
        grants: the :class:`GrantSet`.
        provider: the ``postgresql.Provider`` connected to the server (as a role that owns, or is a member of
            the owner of, the granted objects).
    """

    database: str
    grants: GrantSet
    provider: postgresql.Provider = field(repr=False)

    def __post_init__(self) -> None:
        quote(self.database)


class PostgresGrants(pulumi.ComponentResource):
    """NOLOGIN team roles and their schema, table/view and column privileges, through the PostgreSQL provider.

    Example::

        provider = postgresql.Provider("db", host=endpoint, port=5432, database="shop", username="grants_admin",
                                       aws_rds_iam_auth=True, aws_rds_iam_region="eu-west-1", sslmode="require",
                                       superuser=False)
        PostgresGrants("team-grants", PostgresGrantsArgs(database="shop", grants=GRANTS, provider=provider))

    Documentation:
        https://www.postgresql.org/docs/current/sql-grant.html
        https://www.pulumi.com/registry/packages/postgresql/api-docs/grant/
    """

    role_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: PostgresGrantsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:database:PostgresGrants", name, None, opts)
        on_provider = pulumi.ResourceOptions(parent=self, provider=args.provider)
        roles = {
            role: postgresql.Role(
                f"{name}-{role.lower().replace('_', '-')}",
                name=role,
                login=False,
                inherit=True,
                create_database=False,
                create_role=False,
                superuser=False,
                replication=False,
                bypass_row_level_security=False,
                opts=on_provider,
            )
            for role in args.grants.roles
        }
        schema_grants: dict[tuple[str, str], postgresql.Grant] = {}
        for p in sorted(args.grants.privileges, key=lambda p: p.object_type != "schema"):
            label = "-".join(
                s.lower().replace("_", "-") for s in (p.role, p.schema, p.object_type, *p.objects[:1]) if s
            )
            after = [schema_grants[(p.role, p.schema)]] if p.object_type != "schema" else []
            grant = postgresql.Grant(
                f"{name}-{label}",
                database=args.database,
                role=roles[p.role].name,
                schema=p.schema,
                object_type=p.object_type,
                objects=list(p.objects) if p.object_type != "schema" else None,
                columns=list(p.columns) or None,
                privileges=list(p.privileges),
                with_grant_option=False,
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=after),
            )
            if p.object_type == "schema":
                schema_grants[(p.role, p.schema)] = grant
        self.role_names = {role: r.name for role, r in roles.items()}
        self.register_outputs({"role_names": self.role_names})
