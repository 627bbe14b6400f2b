"""Example: the tenant registry and one tenant's entry in your own Pulumi program (run under mocks by
tests/test_examples.py).

The registry is the runtime source of truth the handlers read (``saas_platform.handlers._registry``): a
suspended tenant is refused by every handler within one cache TTL, with no redeploy of the handlers.
"""

import pulumi
import pulumi_aws as aws

from saas_platform.components.registry import RegistryEntry, TenantRegistry, TenantRegistryArgs

ENV = "dev"
ACCOUNT = aws.get_caller_identity_output().account_id
key = aws.kms.Key(
    "registry-key", enable_key_rotation=True, tags={"saas:environment": ENV, "saas:component": "RegistryExample"}
)

registry = TenantRegistry(
    "example-registry",
    TenantRegistryArgs(
        environment=ENV, kms_key_arn=key.arn, account_id=ACCOUNT, region="ap-southeast-1", protect=False
    ),
)
# In a real stack these ids are the Outputs of the tenant's TenantIdentity, identity pool and policy store.
registry.register(
    "example-registry-acme",
    RegistryEntry(
        tenant_id="acme",
        tier="standard",
        status="active",  # "suspended": every handler refuses acme within one TTL
        user_pool_id="ap-southeast-1_Example1",
        client_ids=["exampleclientid1"],
        identity_pool_id="ap-southeast-1:00000000-0000-0000-0000-000000000001",
        policy_store_id="ExampleStore1",
    ),
)

pulumi.export("registryTable", registry.table_name)
pulumi.export("registryTableArn", registry.table_arn)
