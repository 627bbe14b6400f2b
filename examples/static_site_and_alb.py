"""A web UI on S3 behind CloudFront (origin access control) and a Lambda behind an ALB that signs users in
with Cognito (authenticate-cognito) before forwarding."""

import pulumi

from saas_platform.components.app_identity import AppClient, AppUserPool, AppUserPoolArgs, UserGroup
from saas_platform.components.authenticated_alb import AuthenticatedAlb, AuthenticatedAlbArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.static_site import StaticSite, StaticSiteArgs, cloudfront_key_statement

FUNCTION = "arn:aws:lambda:ap-southeast-1:123456789012:function:helpdesk-api-dev"
base = EnvironmentFoundation(
    "helpdesk-base",
    EnvironmentFoundationArgs(
        system="helpdesk",
        environment="dev",
        region="ap-southeast-1",
        alarm_email="ops@example.com",
        protect=False,
        extra_key_statements=[cloudfront_key_statement("123456789012")],
    ),
)
site = StaticSite(
    "helpdesk-web",
    StaticSiteArgs(
        environment="dev",
        purpose="web-ui",
        bucket_name=base.bucket_name("web-ui"),
        region="ap-southeast-1",
        kms_key_arn=base.kms_key_arn,
        access_log_bucket=base.access_log_bucket_name,
        protect=False,
    ),
    opts=pulumi.ResourceOptions(depends_on=[base.access_logs]),
)
pool = AppUserPool(
    "helpdesk-identity",
    AppUserPoolArgs(
        environment="dev",
        pool_name="helpdesk-dev",
        groups=(UserGroup(name="staff", description="Helpdesk staff", precedence=10),),
        resource_server="helpdesk",
        scopes={"tickets.read": "Read tickets"},
        clients=(
            AppClient(
                name="alb",
                callback_urls=("https://api.helpdesk.example.com/oauth2/idpresponse",),
                scopes=("tickets.read",),
                generate_secret=True,
            ),
        ),
        domain_prefix="helpdesk-dev-login",
        protect=False,
    ),
)
alb = AuthenticatedAlb(
    "helpdesk-api",
    AuthenticatedAlbArgs(
        environment="dev",
        name="helpdesk-dev-api",
        certificate_arn="arn:aws:acm:ap-southeast-1:123456789012:certificate/0b5d7c2e-1f3a-4e6b-9c8d-2a1b3c4d5e6f",
        function_arn=FUNCTION,
        function_name="helpdesk-api-dev",
        path_patterns=("/api/*",),
        user_pool_arn=pool.user_pool_arn,
        user_pool_client_id=pool.client_ids["alb"],
        user_pool_domain="helpdesk-dev-login",
        vpc_cidr="10.70.0.0/22",
        availability_zones=("ap-southeast-1a", "ap-southeast-1b"),
        protect=False,
    ),
    opts=pulumi.ResourceOptions(depends_on=[pool]),
)
pulumi.export("siteUrl", site.url)
pulumi.export("apiDnsName", alb.dns_name)
