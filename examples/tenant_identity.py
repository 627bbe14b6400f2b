"""Example: one tenant's identity in your own Pulumi program (run under mocks by tests/test_examples.py).

The user pool (shared by every environment), its dev app clients and triggers, the dev identity pool, and
two stand-in roles attached with ``attach_roles``. In the platform the roles come from ``TenantAccess``.
"""

import pulumi
import pulumi_aws as aws

from components.identity import TenantIdentity, TenantIdentityArgs, TenantIdentityPool, TenantIdentityPoolArgs

TAGS = {"saas:environment": "dev", "saas:component": "Example", "saas:tenant": "acme"}

key = aws.kms.Key("example-key", enable_key_rotation=True, tags=TAGS)
acme = TenantIdentity(
    "acme",
    TenantIdentityArgs(
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


def trust(identity_pool_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Web-identity trust bound to this tenant's identity pool, with session tags for ABAC."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                    },
                }
            ],
        }
    )


admin = aws.iam.Role("acme-admin", assume_role_policy=trust(pool.identity_pool_id), tags=TAGS)
user = aws.iam.Role("acme-user", assume_role_policy=trust(pool.identity_pool_id), tags=TAGS)
pool.attach_roles({"admin": admin.arn, "user": user.arn}, default_role_arn=user.arn)

pulumi.export("issuer", acme.issuer)
pulumi.export("devClientIds", acme.client_ids["dev"])
pulumi.export("identityPoolId", pool.identity_pool_id)
