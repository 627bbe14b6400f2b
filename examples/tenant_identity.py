"""Example: one tenant's identity in your own Pulumi program (run under mocks by tests/test_examples.py).

The user pool (shared by every environment), its dev app clients and triggers, the dev identity pool, and the
tenant's roles from ``TenantAccess`` mapped with ``attach_roles`` (``custom:tenantRole`` admin/user; the user
role is the least-privileged default).
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.access import TenantAccess, TenantAccessArgs
from saas_platform.components.identity import (
    TenantIdentity,
    TenantIdentityArgs,
    TenantIdentityPool,
    TenantIdentityPoolArgs,
)
from saas_platform.components.lambda_function import HandlerLayer, HandlerLayerArgs
from saas_platform.components.pool_table import PoolTable, PoolTableArgs

TAGS = {"saas:environment": "dev", "saas:component": "Example", "saas:tenant": "acme"}

key = aws.kms.Key("example-key", enable_key_rotation=True, tags=TAGS)
# The handlers' dependencies (Powertools, PyJWT): build it with scripts/build-lambda-layer before `pulumi up`.
layer = HandlerLayer("example-deps", HandlerLayerArgs(environment="dev"))
acme = TenantIdentity(
    "acme",
    TenantIdentityArgs(
        layers=[layer],
        tenant_id="acme",
        environment="dev",
        region="ap-southeast-1",
        kms_key_arn=key.arn,
        client_environments=("dev",),
        mfa="OPTIONAL",
        protect=False,  # dev only: the default (True) keeps deletion protection and Pulumi protect on
    ),
)
pool = TenantIdentityPool(
    "acme",
    TenantIdentityPoolArgs(
        tenant_id="acme",
        environment="dev",
        region="ap-southeast-1",
        user_pool_id=acme.user_pool_id,
        client_ids=acme.outputs.environment_client_ids("dev"),
    ),
)

# The roles the identity pool hands out: TenantAccess, trusted only by this identity pool (per-tenant roles,
# so no principal tags / sts:TagSession).
table = PoolTable("acme-Leave", PoolTableArgs(base_name="Leave", environment="dev", kms_key_arn=key.arn, protect=False))
access = TenantAccess(
    "acme-access",
    TenantAccessArgs(
        tenant_id="acme",
        environment="dev",
        identity_pool_id=pool.identity_pool_id,
        table_arns={"Leave": table.table_arn},
        tenant_index_names={"Leave": table.tenant_index_names},
    ),
)
pool.attach_roles({"admin": access.admin_role_arn, "user": access.user_role_arn}, default_role_arn=access.user_role_arn)

pulumi.export("issuer", acme.issuer)
pulumi.export("devClientIds", acme.client_ids["dev"])
pulumi.export("identityPoolId", pool.identity_pool_id)
