"""The saas Pulumi program: validate the stack config, compose the environment, export its outputs.

A platform stack builds ``Platform``; a cell stack (``saas:cell``) builds ``TenantCell`` on the platform's
shared pieces. Nothing else lives here; the components in ``components/`` do the work (docs/architecture.md).
"""

import pulumi

from saas_platform.components.cell import PLATFORM_EXPORT, TenantCell, TenantCellArgs
from saas_platform.components.config import StackConfig, stack_config_from_pulumi
from saas_platform.components.platform import Platform, PlatformArgs

config = stack_config_from_pulumi()  # raises StackConfigError before any resource is registered


def cell_program(config: StackConfig) -> None:
    """A cell stack (``Pulumi.<env>-cell-<NN>.yaml``): only its tenants, on the platform stack's shared pieces."""
    cell = TenantCell("cell", TenantCellArgs(config=config))
    pulumi.export("environment", config.environment)
    pulumi.export("tenants", config.tenant_ids)
    pulumi.export("platformStack", config.cell.platform_stack if config.cell else None)
    pulumi.export("userPoolIds", cell.user_pool_ids)
    pulumi.export("identityPoolIds", {t: p.identity_pool_id for t, p in cell.identity_pools.items()})
    pulumi.export("policyStoreIds", {t: a.policy_store_id for t, a in cell.authorizations.items()})
    pulumi.export(
        "tenantRoleArns",
        {t: {"admin": r.admin_role_arn, "user": r.user_role_arn} for t, r in cell.tenant_roles.items()},
    )


def platform_program(config: StackConfig) -> None:
    """The environment's platform stack (``Pulumi.<env>.yaml``): the shared pieces and the tenants it holds."""
    platform = Platform("platform", PlatformArgs(config=config))
    pulumi.export(PLATFORM_EXPORT, platform.contract)  # contract read by the environment's cell stacks
    pulumi.export("environment", config.environment)
    pulumi.export("tenants", config.tenant_ids)
    pulumi.export("kmsKeyArn", platform.kms_key_arn)
    pulumi.export("alarmTopicArn", platform.alarm_topic_arn)
    pulumi.export("tableNames", platform.table_names)
    pulumi.export("tableArns", platform.table_arns)
    pulumi.export("identityPoolIds", {t: p.identity_pool_id for t, p in platform.identity_pools.items()})
    pulumi.export("userPoolIds", {t: i.user_pool_id for t, i in platform.identities.items()})
    if platform.identity_export is not None:
        pulumi.export("identity", platform.identity_export)  # contract read by `saas:identity.mode: shared` stacks
    pulumi.export(
        "tenantRoleArns",
        {t: {"admin": r.admin_role_arn, "user": r.user_role_arn} for t, r in platform.tenant_roles.items()},
    )
    pulumi.export(
        "systemRoleArns",
        {
            "admin": platform.system_access.admin_role_arn,
            "superuser": platform.system_access.superuser_role_arn,
            "support": platform.system_access.support_role_arn,
        },
    )
    pulumi.export("policyStoreIds", {t: a.policy_store_id for t, a in platform.authorizations.items()})
    if platform.api is not None:
        pulumi.export("apiUrl", platform.api.invoke_url)

    # Image pipeline (issue #6)
    pulumi.export("accessLogBucketName", platform.access_log_bucket_name)
    pulumi.export("rawBucketName", platform.raw_bucket_name)
    pulumi.export("processedBucketName", platform.processed_bucket_name)
    pulumi.export("documentBucketName", platform.document_bucket_name)
    pulumi.export("imageWorstCaseLifetimeDays", platform.image_worst_case_lifetime_days)
    if platform.failure_bucket_name is not None:
        pulumi.export("mskFailureBucketName", platform.failure_bucket_name)
        pulumi.export("mskClusterArn", platform.msk_cluster_arn)
        pulumi.export("mskConsumerFunctions", {t: c.function_name for t, c in platform.msk_consumers.items()})

    # System jobs (issue #12)
    pulumi.export("dashboardName", platform.dashboard.dashboard_name)
    if platform.jobs is not None:
        pulumi.export("scheduleName", platform.jobs.schedule_name)
        pulumi.export("jobPickerFunction", platform.jobs.picker_function_name)
        pulumi.export("jobRunnerFunctions", platform.jobs.runner_function_names)
        pulumi.export("jobDeadLetterQueues", platform.jobs.dead_letter_queue_arns)

    # Image pipeline, upload and processing (issue #13; saas:images.enabled)
    if platform.image_pipeline is not None:
        pulumi.export("imageEventQueueUrl", platform.image_pipeline.queue_url)
        pulumi.export("imageDeadLetterQueueUrl", platform.image_pipeline.dlq_url)


if config.cell is not None:
    cell_program(config)
else:
    platform_program(config)
