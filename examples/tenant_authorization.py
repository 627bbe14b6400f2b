"""Example: a tenant's AVP policy store and the tenant API in your own Pulumi program (run under mocks by
tests/test_examples.py).

In the platform these are composed by ``Platform`` from ``TenantIdentity`` outputs; here the identity values are
given directly, as another stack that owns its pools would pass them. The authorizer finds the tenant of a token's
issuer in the tenant registry (pool -> tenant, app clients, policy store, status, usage key), so the tenant's
registry item is written here too.
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.api import ApiTenant, TenantApi, TenantApiArgs
from saas_platform.components.authorization import TenantAuthorization, TenantAuthorizationArgs
from saas_platform.components.lambda_function import HandlerLayer, HandlerLayerArgs
from saas_platform.components.registry import RegistryEntry, TenantRegistry, TenantRegistryArgs

REGION, ACCOUNT = "ap-southeast-1", "123456789012"
POOL_ID = f"{REGION}_AbCdEf123"
CLIENT_IDS = ["1example23456789hradmin0000", "1example23456789essmobile00"]

key = aws.kms.Key("authz-key", enable_key_rotation=True, tags={"saas:environment": "dev", "saas:component": "Example"})
# The handlers' dependencies (Powertools, PyJWT): build it with scripts/build-lambda-layer before `pulumi up`.
layer = HandlerLayer("example-deps", HandlerLayerArgs(environment="dev"))
aws.kms.Alias("authz-key-alias", name="alias/example-dev", target_key_id=key.key_id)
registry = TenantRegistry(
    "example-registry",
    TenantRegistryArgs(environment="dev", kms_key_arn=key.arn, account_id=ACCOUNT, region=REGION, protect=False),
)
acme = TenantAuthorization(
    "acme-authz",
    TenantAuthorizationArgs(
        tenant_id="acme",
        environment="dev",
        user_pool_id=POOL_ID,
        user_pool_arn=f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{POOL_ID}",
        client_ids=CLIENT_IDS,
        protect=False,  # dev only: the default (True) enables AVP deletion protection and Pulumi protect
    ),
)
api = TenantApi(
    "example-api",
    TenantApiArgs(
        layer_arn=layer,
        environment="dev",
        name_prefix="Example",
        tenants=[
            ApiTenant(tenant_id="acme", tier="standard", policy_store_arn=acme.policy_store_arn),
        ],
        services={"leave": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:OptimalHR-Leave-Dev"},
        kms_key_arn=key.arn,
        region=REGION,
        account_id=ACCOUNT,
        kms_key_alias="alias/example-dev",
        registry_table_name=registry.table_name,
        registry_table_arn=registry.table_arn,
        manage_account_log_role=False,  # another stack of this account and region owns it
    ),
)
registry.register(
    "example-registry-acme",
    RegistryEntry(
        tenant_id="acme",
        tier="standard",
        user_pool_id=POOL_ID,
        client_ids=CLIENT_IDS,
        identity_pool_id=f"{REGION}:00000000-0000-0000-0000-000000000001",
        policy_store_id=acme.policy_store_id,
        usage_key=api.usage_key_values["acme"],  # the authorizer returns it as usageIdentifierKey
    ),
)
pulumi.export("acmePolicyStoreId", acme.policy_store_id)
pulumi.export("apiUrl", api.invoke_url)
