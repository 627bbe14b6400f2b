"""Aurora PostgreSQL Serverless v2 with RDS-managed, rotated credentials in Secrets Manager, the Data API and
its own private network; its standard alarms; and team grants declared once through the PostgreSQL provider."""

import pulumi
import pulumi_postgresql as postgresql

from saas_platform.components.alarms import ServiceAlarms, ServiceAlarmsArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.postgres_grants import GrantSet, PostgresGrants, PostgresGrantsArgs, Privilege
from saas_platform.components.serverless_postgres import ServerlessPostgres, ServerlessPostgresArgs

base = EnvironmentFoundation(
    "ledger",
    EnvironmentFoundationArgs(
        system="ledger",
        environment="dev",
        region="ap-southeast-1",
        alarm_email="ops@example.com",
        protect=False,
        access_logs=False,  # no buckets in this system
    ),
)
db = ServerlessPostgres(
    "ledger-db",
    ServerlessPostgresArgs(
        environment="dev",
        cluster_identifier="ledger-dev",
        database_name="ledger",
        kms_key_arn=base.kms_key_arn,
        vpc_cidr="10.60.0.0/20",
        availability_zones=("ap-southeast-1a", "ap-southeast-1b"),
        max_capacity=4,
        protect=False,
    ),
)
ServiceAlarms(
    "ledger-db-alarms",
    ServiceAlarmsArgs(
        environment="dev",
        kind="aurora-serverless",
        dimensions={"DBClusterIdentifier": db.cluster_identifier},
        alarm_topic_arn=base.alarm_topic_arn,
        max_capacity_acu=4,
    ),
)
provider = postgresql.Provider(
    "ledger-pg",
    host=db.endpoint,
    port=5432,
    database="ledger",
    username="grants_admin",
    aws_rds_iam_auth=True,
    aws_rds_iam_region="ap-southeast-1",
    sslmode="verify-full",
    superuser=False,
)
PostgresGrants(
    "ledger-grants",
    PostgresGrantsArgs(
        database="ledger",
        provider=provider,
        grants=GrantSet(
            roles=("AUDITORS",),
            privileges=(
                Privilege(role="AUDITORS", schema="LEDGER", object_type="schema", privileges=("USAGE",)),
                Privilege(
                    role="AUDITORS", schema="LEDGER", object_type="table", privileges=("SELECT",), objects=("ENTRIES",)
                ),
            ),
        ),
    ),
)
pulumi.export("clusterArn", db.cluster_arn)
pulumi.export("secretArn", db.secret_arn)
