"""One organisation's identity and permissions: a Cognito pool with MFA, groups and OAuth scopes, Cedar
policies per group in Verified Permissions, and a REST API whose methods require a scope."""

import pulumi

from saas_platform.components.app_identity import AppClient, AppUserPool, AppUserPoolArgs, UserGroup
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.group_authorization import GroupAuthorization, GroupAuthorizationArgs
from saas_platform.components.scoped_api import ScopedRestApi, ScopedRestApiArgs, ScopedRoute

REPORTS_FN = "arn:aws:lambda:ap-southeast-1:123456789012:function:reports-dev"
SCHEMA = {
    "Reports": {
        "entityTypes": {
            "User": {"memberOfTypes": ["UserGroup"], "shape": {"type": "Record", "attributes": {}}},
            "UserGroup": {"shape": {"type": "Record", "attributes": {}}},
            "Report": {"shape": {"type": "Record", "attributes": {}}},
        },
        "actions": {"ReadReport": {"appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Report"]}}},
    }
}
POLICIES = {
    "analysts": 'permit (principal in Reports::UserGroup::"{{userPoolId}}|analysts", '
    'action == Reports::Action::"ReadReport", resource);'
}

base = EnvironmentFoundation(
    "reports",
    EnvironmentFoundationArgs(
        system="reports",
        environment="dev",
        region="ap-southeast-1",
        alarm_email="ops@example.com",
        protect=False,
        access_logs=False,  # no buckets in this system
    ),
)
pool = AppUserPool(
    "reports-identity",
    AppUserPoolArgs(
        environment="dev",
        pool_name="reports-dev",
        groups=(UserGroup(name="analysts", description="Read reports", precedence=10),),
        resource_server="reports",
        scopes={"reports.read": "Read reports"},
        clients=(AppClient(name="web", callback_urls=("https://reports.example.com/cb",), scopes=("reports.read",)),),
        domain_prefix="reports-dev-login",
        protect=False,
    ),
)
authz = GroupAuthorization(
    "reports-authz",
    GroupAuthorizationArgs(
        environment="dev",
        namespace="Reports",
        schema=SCHEMA,
        policies=POLICIES,
        user_pool_id=pool.user_pool_id,
        user_pool_arn=pool.user_pool_arn,
        client_ids=[pool.client_ids["web"]],
        protect=False,
    ),
)
api = ScopedRestApi(
    "reports-api",
    ScopedRestApiArgs(
        environment="dev",
        api_name="reports-dev",
        user_pool_arn=pool.user_pool_arn,
        kms_key_arn=base.kms_key_arn,
        routes=(
            ScopedRoute(
                method="GET",
                path="/reports/{reportId}",
                scopes=("reports/reports.read",),
                function_name=REPORTS_FN,
                invoke_arn=f"arn:aws:apigateway:ap-southeast-1:lambda:path/2015-03-31/functions/{REPORTS_FN}/invocations",
            ),
        ),
    ),
)
pulumi.export("userPoolId", pool.user_pool_id)
pulumi.export("policyStoreId", authz.policy_store_id)
pulumi.export("apiUrl", api.invoke_url)
