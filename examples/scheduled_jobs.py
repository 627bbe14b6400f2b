"""Example: the system jobs (scheduler, job picker, two runners) in your own Pulumi program (run under mocks by
tests/test_examples.py).

pip install saas-platform-components
# in your __main__.py:
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.jobs import DUE_JOBS_INDEX, JobTable, ScheduledJobs, ScheduledJobsArgs
from saas_platform.components.lambda_function import LayerRef
from saas_platform.components.pool_table import PoolTable, PoolTableArgs
from saas_platform.components.registry import TenantRegistry, TenantRegistryArgs

ENV = "dev"
REGION = "ap-southeast-1"
TAGS = {"saas:environment": ENV, "saas:component": "ScheduledJobsExample"}
account = aws.get_caller_identity_output().account_id

key = aws.kms.Key("jobs-key", enable_key_rotation=True, tags=TAGS)
alarms = aws.sns.Topic("jobs-alarms", kms_master_key_id=key.arn, tags=TAGS)

# The TenantJob table carries the sparse, write-sharded due-jobs index; Leave holds the accrual balances.
tenant_job = PoolTable(
    "jobs-TenantJob",
    PoolTableArgs(
        base_name="TenantJob", environment=ENV, kms_key_arn=key.arn, protect=False, indexes=(DUE_JOBS_INDEX,)
    ),
)
leave = PoolTable("jobs-Leave", PoolTableArgs(base_name="Leave", environment=ENV, kms_key_arn=key.arn, protect=False))
# The tenant registry: the runners check each job's tenant here before they take a tenant session.
registry = TenantRegistry(
    "jobs-registry",
    TenantRegistryArgs(environment=ENV, kms_key_arn=key.arn, account_id=account, region=REGION, protect=False),
)

jobs = ScheduledJobs(
    "jobs",
    ScheduledJobsArgs(
        environment=ENV,
        region=REGION,
        account_id=account,
        tables={
            "TenantJob": JobTable(name=tenant_job.table_name, arn=tenant_job.table_arn),
            "Leave": JobTable(name=leave.table_name, arn=leave.table_arn),
        },
        registry_table_name=registry.table_name,
        registry_table_arn=registry.table_arn,
        tenant_ids=("acme", "globex"),  # the data-path inventory only; the registry decides at run time
        kms_key_arn=key.arn,
        runners=("Employee-Earn-AL", "Tenant-Notification-Dispatcher"),
        shards=2,
        alarm_topic_arn=alarms.arn,
        # The layer with the handlers' dependencies (Powertools, pydantic): yours, or the platform's HandlerLayer.
        layers=[
            LayerRef(
                pulumi.Config().get("depsLayerArn") or "arn:aws:lambda:ap-southeast-1:123456789012:layer:deps:1",
                frozenset({"aws_lambda_powertools", "pydantic", "jwt"}),
            )
        ],
    ),
)

pulumi.export("scheduleName", jobs.schedule_name)
pulumi.export("picker", jobs.picker_function_name)
pulumi.export("runners", jobs.runner_function_names)
pulumi.export("deadLetterQueues", jobs.dead_letter_queue_arns)
