"""Team data grants: the assessment database's team grants as Pulumi PostgreSQL resources.

Reads and validates the stack config first, connects the PostgreSQL provider with IAM database
authentication over TLS (no password in config or state), then declares ``grants_model.GRANTS`` through
the library's ``PostgresGrants``.
"""

from __future__ import annotations

import pulumi
import pulumi_postgresql as postgresql

from saas_platform.components.postgres_grants import PostgresGrants, PostgresGrantsArgs

import grants_config
from grants_model import GRANTS

cfg = grants_config.load()  # before any resource: a bad stack file fails here, naming file and key
conn = cfg.connection

provider = postgresql.Provider(
    "assessment-db",
    host=conn.host,
    port=conn.port,
    database=conn.database,
    username=conn.username,
    aws_rds_iam_auth=True,
    aws_rds_iam_region=cfg.region,
    sslmode="verify-full",
    superuser=False,
    connect_timeout=15,
)
grants = PostgresGrants("team-grants", PostgresGrantsArgs(database=conn.database, grants=GRANTS, provider=provider))

pulumi.export("environment", cfg.environment)
pulumi.export("roles", grants.role_names)
pulumi.export("grantStatements", GRANTS.sql())
