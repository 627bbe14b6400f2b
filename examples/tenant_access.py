"""Example: per-tenant IAM isolation in your own Pulumi program (run under mocks by tests/test_examples.py).

Each tenant gets its user pool (``TenantIdentity``) and this environment's identity pool
(``TenantIdentityPool``); ``TenantAccess`` creates the tenant's TenantAdminRole/TenantUserRole trusted only by
that identity pool, and ``attach_roles`` maps ``custom:tenantRole`` (``admin``/``user``) to them, with the
user role as the least-privileged default. The system tenant's pool hands out the three ``SystemAccess``
roles. Per-tenant roles need no principal tags (``principal_tags`` stays ``False``).
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.access import SystemAccess, SystemAccessArgs, TenantAccess, TenantAccessArgs
from saas_platform.components.identity import (
    TenantIdentity,
    TenantIdentityArgs,
    TenantIdentityPool,
    TenantIdentityPoolArgs,
)
from saas_platform.components.lambda_function import HandlerLayer, HandlerLayerArgs
from saas_platform.components.naming import SYSTEM_TENANT, tags
from saas_platform.components.pool_table import PoolTable, PoolTableArgs
from saas_platform.components.registry import RegistryEntry, TenantRegistry, TenantRegistryArgs
from saas_platform.components.triggers import CognitoTriggers, CognitoTriggersArgs

ENV = "dev"
REGION = "ap-southeast-1"

key = aws.kms.Key("example-key", enable_key_rotation=True, tags=tags(ENV, "Example"))
# The handlers' dependencies (Powertools, PyJWT): build it with scripts/build-lambda-layer before `pulumi up`.
layer = HandlerLayer("example-deps", HandlerLayerArgs(environment="dev"))
aws.kms.Alias("example-key-alias", name="alias/example-dev", target_key_id=key.key_id)
account = aws.get_caller_identity_output().account_id
# The registry says whose pool invokes the shared sign-in triggers and which environment each app client serves.
registry = TenantRegistry(
    "example-registry",
    TenantRegistryArgs(environment=ENV, kms_key_arn=key.arn, account_id=account, region=REGION, protect=False),
)
triggers = CognitoTriggers(
    "example-triggers",
    CognitoTriggersArgs(
        environment=ENV,
        region=REGION,
        kms_key_arn=key.arn,
        kms_key_alias="alias/example-dev",
        registry_table_name=registry.table_name,
        registry_table_arn=registry.table_arn,
        tenant_ids=[SYSTEM_TENANT, "acme", "globex"],
        layers=[layer],
        account_id=account,
    ),
)
table = PoolTable(
    "example-Leave",
    PoolTableArgs(base_name="Leave", environment=ENV, kms_key_arn=key.arn, protect=False),
)
table_arns = {"Leave": table.table_arn}
documents = "arn:aws:s3:::example-saas-documents-dev"  # your document bucket (keys tenants/<tenant>/...)


def identity_pool(tenant: str) -> TenantIdentityPool:
    """The tenant's user pool (dev app clients only) and its dev identity pool."""
    identity = TenantIdentity(
        tenant,
        TenantIdentityArgs(
            tenant_id=tenant,
            environment=ENV,
            triggers=triggers.functions_for(tenant),
            region=REGION,
            client_environments=(ENV,),
            mfa="ON" if tenant == SYSTEM_TENANT else "OPTIONAL",
            protect=False,  # dev only: the default (True) keeps deletion protection and Pulumi protect on
        ),
    )
    pool = TenantIdentityPool(
        tenant,
        TenantIdentityPoolArgs(
            tenant_id=tenant,
            environment=ENV,
            region=REGION,
            user_pool_id=identity.user_pool_id,
            client_ids=identity.outputs.environment_client_ids(ENV),
        ),
    )
    registry.register(
        f"example-registry-{tenant}",
        RegistryEntry(
            tenant_id=tenant,
            tier="standard",
            user_pool_id=identity.user_pool_id,
            client_ids=identity.outputs.environment_client_ids(ENV),
            identity_pool_id=pool.identity_pool_id,
            app_clients=pulumi.Output.all(*identity.client_ids[ENV].values()).apply(
                lambda ids: dict.fromkeys(ids, ENV)
            ),
        ),
    )
    return pool


for tenant in ("acme", "globex"):
    pool = identity_pool(tenant)
    access = TenantAccess(
        f"{tenant}-access",
        TenantAccessArgs(
            tenant_id=tenant,
            environment=ENV,
            identity_pool_id=pool.identity_pool_id,
            table_arns=table_arns,
            tenant_index_names={"Leave": table.tenant_index_names},
            document_bucket_arn=documents,
        ),
    )
    pool.attach_roles({"admin": access.admin_role_arn, "user": access.user_role_arn}, access.user_role_arn)
    pulumi.export(f"{tenant}AdminRoleArn", access.admin_role_arn)

system_pool = identity_pool(SYSTEM_TENANT)
system = SystemAccess(
    "system-access",
    SystemAccessArgs(
        environment=ENV,
        identity_pool_id=system_pool.identity_pool_id,
        table_arns=table_arns,
        document_bucket_arn=documents,
    ),
)
system_pool.attach_roles(
    {"admin": system.admin_role_arn, "superuser": system.superuser_role_arn, "support": system.support_role_arn},
    system.support_role_arn,  # the least-privileged system role is the default
)
pulumi.export("systemSupportRoleArn", system.support_role_arn)
