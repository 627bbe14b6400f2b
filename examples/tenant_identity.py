"""Example: one tenant's identity in your own Pulumi program (run under mocks by tests/test_examples.py).

The tenant registry and the stack's shared Cognito triggers (``CognitoTriggers``: one pre-authentication and one
pre-token-generation function for every pool, reading the registry), the user pool (shared by every environment)
with its dev app clients wired to those triggers, the tenant's registry item (which tells the triggers whose pool
it is and which environment each app client serves), the dev identity pool, and the tenant's roles from
``TenantAccess`` mapped with ``attach_roles`` (``custom:tenantRole`` admin/user; the user role is the
least-privileged default).
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
from saas_platform.components.registry import RegistryEntry, TenantRegistry, TenantRegistryArgs
from saas_platform.components.triggers import CognitoTriggers, CognitoTriggersArgs

TAGS = {"saas:environment": "dev", "saas:component": "Example", "saas:tenant": "acme"}
REGION = "ap-southeast-1"
ACCOUNT = aws.get_caller_identity_output().account_id

key = aws.kms.Key("example-key", enable_key_rotation=True, tags=TAGS)
aws.kms.Alias("example-key-alias", name="alias/example-dev", target_key_id=key.key_id)
# The handlers' dependencies (Powertools, PyJWT): build it with scripts/build-lambda-layer before `pulumi up`.
layer = HandlerLayer("example-deps", HandlerLayerArgs(environment="dev"))
registry = TenantRegistry(
    "example-registry",
    TenantRegistryArgs(environment="dev", kms_key_arn=key.arn, account_id=ACCOUNT, region=REGION, protect=False),
)
triggers = CognitoTriggers(
    "example-triggers",
    CognitoTriggersArgs(
        environment="dev",
        region=REGION,
        kms_key_arn=key.arn,
        kms_key_alias="alias/example-dev",
        registry_table_name=registry.table_name,
        registry_table_arn=registry.table_arn,
        tenant_ids=["acme"],  # every tenant whose pool they serve; append new ones at the end
        layers=[layer],
        account_id=ACCOUNT,
    ),
)
acme = TenantIdentity(
    "acme",
    TenantIdentityArgs(
        tenant_id="acme",
        environment="dev",
        triggers=triggers.functions_for("acme"),
        region=REGION,
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
        region=REGION,
        user_pool_id=acme.user_pool_id,
        client_ids=acme.outputs.environment_client_ids("dev"),
    ),
)
# Until this item exists (and says "active"), both triggers refuse every sign-in to the pool.
registry.register(
    "example-registry-acme",
    RegistryEntry(
        tenant_id="acme",
        tier="standard",
        user_pool_id=acme.user_pool_id,
        client_ids=acme.outputs.environment_client_ids("dev"),
        identity_pool_id=pool.identity_pool_id,
        app_clients=pulumi.Output.all(*acme.client_ids["dev"].values()).apply(lambda ids: dict.fromkeys(ids, "dev")),
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
