"""Example: a pool-model table in your own Pulumi program (run under mocks by tests/test_examples.py).

pip install saas-platform-components
# in your __main__.py:
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.pool_table import PoolTable, PoolTableArgs, TableIndex

key = aws.kms.Key(
    "reports-key", enable_key_rotation=True, tags={"saas:environment": "dev", "saas:component": "Reports"}
)
reports = PoolTable(
    "reports-Reports",
    PoolTableArgs(
        base_name="Reports",
        environment="dev",
        kms_key_arn=key.arn,
        protect=False,  # dev only: prod keeps the default (True)
        indexes=(TableIndex(name="ByTenantCreated", partition_key="TenantId", sort_key="CreatedAt"),),
    ),
)
pulumi.export("reportsTable", reports.table_name)
