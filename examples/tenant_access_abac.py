"""Example: shared ABAC roles for many tenants (``saas:access.mode: abac``), run under mocks by the tests.

One admin and one user role serve a shard of tenants; their policies use
``TENANT#${aws:PrincipalTag/TenantId}``, and each tenant's identity pool maps ``custom:tenantId`` to the
``TenantId`` principal tag (``IdentityPoolProviderPrincipalTag``, created by issue 3's TenantIdentityPool for
its user-pool provider). The stand-in pools below have no identity provider, so they issue no credentials and
need no tag map. ``build_tenant_access`` computes the shards from the trust-policy size quota.
"""

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.access import build_tenant_access
from components.naming import tags


class ExamplePool:
    """A minimal stand-in with the interface of issue 3's TenantIdentityPool."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.pool = aws.cognito.IdentityPool(
            f"{tenant}-identity-pool",
            identity_pool_name=f"example-{tenant}-dev",
            allow_unauthenticated_identities=False,
            allow_classic_flow=False,
            tags=tags("dev", "TenantIdentityPool", tenant=tenant),
        )
        self.identity_pool_id = self.pool.id

    def attach_roles(self, role_arns: Mapping[str, pulumi.Input[str]], default_role_arn: pulumi.Input[str]) -> None:
        aws.cognito.IdentityPoolRoleAttachment(
            f"{self.tenant}-identity-roles", identity_pool_id=self.pool.id, roles={"authenticated": default_role_arn}
        )


pools = {t: ExamplePool(t) for t in ("acme", "globex", "initech")}
roles = build_tenant_access(
    "tenants",
    mode="abac",
    environment="dev",
    region="ap-southeast-1",
    pools=pools,
    table_arns={"Leave": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/LeaveDev"},
    document_bucket_arn="arn:aws:s3:::example-saas-documents-dev",
)
aws.dynamodb.Table(
    "leave",
    name="LeaveDev",
    hash_key="TenantId",
    range_key="EntityItem",
    billing_mode="PAY_PER_REQUEST",
    attributes=[
        aws.dynamodb.TableAttributeArgs(name="TenantId", type="S"),
        aws.dynamodb.TableAttributeArgs(name="EntityItem", type="S"),
    ],
    point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
    server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
        enabled=True, kms_key_arn=aws.kms.Key("leave-key", enable_key_rotation=True, tags=tags("dev", "Example")).arn
    ),
    tags=tags("dev", "Example"),
)
pulumi.export("sharedAdminRoleArn", roles["acme"].admin_role_arn)
