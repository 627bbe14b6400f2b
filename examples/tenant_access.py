"""Example: per-tenant IAM isolation in your own Pulumi program (run under mocks by tests/test_examples.py).

Each tenant's identity pool hands out only that tenant's TenantAdminRole/TenantUserRole; the system tenant's
pool hands out the three system roles. In the composed platform, issue 3's TenantIdentityPool provides the
pools and ``attach_roles``; here plain identity pools and role attachments stand in for it.
"""

import pulumi
import pulumi_aws as aws

from components.access import SystemAccess, SystemAccessArgs, TenantAccess, TenantAccessArgs
from components.naming import tags
from components.pool_table import PoolTable, PoolTableArgs

key = aws.kms.Key("docs-key", enable_key_rotation=True, tags=tags("dev", "Example"))
table = PoolTable(
    "example-Leave",
    PoolTableArgs(base_name="Leave", environment="dev", kms_key_arn=key.arn, protect=False),
)
documents = "arn:aws:s3:::example-saas-documents-dev"  # your document bucket (keys tenants/<tenant>/...)

pools = {
    tenant: aws.cognito.IdentityPool(
        f"{tenant}-identity-pool",
        identity_pool_name=f"example-{tenant}-dev",
        allow_unauthenticated_identities=False,
        allow_classic_flow=False,
        tags=tags("dev", "TenantIdentityPool", tenant=tenant),
    )
    for tenant in ("acme", "globex", "system")
}
for tenant in ("acme", "globex"):
    access = TenantAccess(
        f"{tenant}-access",
        TenantAccessArgs(
            tenant_id=tenant,
            environment="dev",
            identity_pool_id=pools[tenant].id,
            table_arns={"Leave": table.table_arn},
            document_bucket_arn=documents,
        ),
    )
    aws.cognito.IdentityPoolRoleAttachment(
        f"{tenant}-identity-roles",
        identity_pool_id=pools[tenant].id,
        roles={"authenticated": access.user_role_arn},  # the least-privileged role is the default
    )
    pulumi.export(f"{tenant}AdminRoleArn", access.admin_role_arn)

system = SystemAccess(
    "system-access",
    SystemAccessArgs(environment="dev", identity_pool_id=pools["system"].id, table_arns={"Leave": table.table_arn}),
)
aws.cognito.IdentityPoolRoleAttachment(
    "system-identity-roles", identity_pool_id=pools["system"].id, roles={"authenticated": system.support_role_arn}
)
pulumi.export("systemSupportRoleArn", system.support_role_arn)
