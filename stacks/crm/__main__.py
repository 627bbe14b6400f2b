"""Cloud-native banking CRM: identity, permissions, the LLM service, the web UI and the SFTP integration.

Reads and validates the stack config first, then composes library components only:
EnvironmentFoundation, AppUserPool (OAuth2/OIDC provider with a hosted domain), GroupAuthorization (Cedar in
Verified Permissions), HandlerFunction (this project's ``crm_handlers``), AuthenticatedAlb, StaticSite,
LifecycleBucket and ServiceAlarms.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from saas_platform.components.alarms import ServiceAlarms, ServiceAlarmsArgs
from saas_platform.components.app_identity import AppClient, AppUserPool, AppUserPoolArgs, UserGroup
from saas_platform.components.authenticated_alb import AuthenticatedAlb, AuthenticatedAlbArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.group_authorization import GroupAuthorization, GroupAuthorizationArgs
from saas_platform.components.lambda_function import (
    HandlerFunction,
    HandlerFunctionArgs,
    HandlerLayer,
    HandlerLayerArgs,
)
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.naming import Environment, tags
from saas_platform.components.static_site import StaticSite, StaticSiteArgs, cloudfront_key_statement

import crm_config
import crm_permissions

SYSTEM = "crm"
PROJECT = Path(__file__).resolve().parent
HANDLERS = PROJECT / "crm_handlers"
SCOPES = {
    "llm.invoke": "Use the LLM service (generate text, send email)",
    "clients.read": "Read clients",
    "clients.write": "Create and change clients",
    "accounts.read": "Read accounts",
    "accounts.write": "Create and change accounts",
    "transactions.read": "Read transaction logs",
    "users.read": "Read CRM users",
    "users.write": "Manage CRM users",
    "admins.manage": "Create and delete administrators",
    "system-logs.read": "Read system logs",
}
GROUPS = (
    UserGroup(name="root-administrator", description="Manages CRM administrators; reads system logs", precedence=10),
    UserGroup(name="administrator", description="Manages CRM users (agents); reads system logs", precedence=20),
    UserGroup(name="agent", description="Banking staff managing their assigned clients", precedence=30),
)

cfg = crm_config.load()  # before any resource: a bad stack file fails here, naming file and key
env: Environment = cfg.environment
name = f"{SYSTEM}-{env}"
zones = (f"{cfg.region}a", f"{cfg.region}b")

account_id = aws.get_caller_identity_output().account_id
base = EnvironmentFoundation(
    SYSTEM,
    EnvironmentFoundationArgs(
        system=SYSTEM,
        environment=env,
        region=cfg.region,
        alarm_email=cfg.alarm_email,
        protect=cfg.protect,
        extra_key_statements=[cloudfront_key_statement(account_id)],
    ),
)
after_logs = pulumi.ResourceOptions(depends_on=[base.access_logs])

identity = AppUserPool(
    f"{SYSTEM}-identity",
    AppUserPoolArgs(
        environment=env,
        pool_name=name,
        groups=GROUPS,
        resource_server=SYSTEM,
        scopes=SCOPES,
        clients=(
            AppClient(
                name="web",
                callback_urls=tuple(cfg.identity.web_callback_urls),
                scopes=tuple(s for s in SCOPES if s != "llm.invoke"),
            ),
            AppClient(
                name="alb",
                callback_urls=(f"https://{cfg.alb.hostname}/oauth2/idpresponse",),
                scopes=("llm.invoke",),
                generate_secret=True,  # the load balancer's authenticate-cognito action needs a confidential client
            ),
        ),
        domain_prefix=cfg.identity.domain_prefix,
        protect=cfg.protect,
    ),
)

authz = GroupAuthorization(
    f"{SYSTEM}-authz",
    GroupAuthorizationArgs(
        environment=env,
        namespace=crm_permissions.NAMESPACE,
        schema=crm_permissions.SCHEMA,
        policies=crm_permissions.POLICIES,
        user_pool_id=identity.user_pool_id,
        user_pool_arn=identity.user_pool_arn,
        client_ids=[identity.client_ids["alb"], identity.client_ids["web"]],
        protect=cfg.protect,
    ),
)

layer = HandlerLayer(f"{SYSTEM}-deps", HandlerLayerArgs(environment=env))
sftp_layer = HandlerLayer(
    f"{SYSTEM}-sftp-deps", HandlerLayerArgs(environment=env, path=PROJECT / "build" / "sftp-layer")
)
sender_domain = cfg.llm.sender.split("@", 1)[1]
llm = HandlerFunction(
    f"{SYSTEM}-llm",
    HandlerFunctionArgs(
        function_name=f"{name}-llm",
        handler="crm_handlers.llm.lambda_handler",
        environment=env,
        component="Crm",
        kms_key_arn=base.kms_key_arn,
        description="LLM service behind the ALB: generate text (Bedrock) or send email (SES), Cedar-authorized",
        env={
            "POLICY_STORE_ID": authz.policy_store_id,
            "LLM_MODEL_ID": cfg.llm.model_id,
            "MAIL_SENDER": cfg.llm.sender,
        },
        statements=[
            {
                "Sid": "AuthorizeWithToken",
                "Effect": "Allow",
                "Action": "verifiedpermissions:IsAuthorizedWithToken",
                "Resource": authz.policy_store_arn,
            },
            {
                "Sid": "InvokeModel",
                "Effect": "Allow",
                "Action": "bedrock:InvokeModel",
                "Resource": f"arn:aws:bedrock:{cfg.region}::foundation-model/{cfg.llm.model_id}",
            },
            {
                "Sid": "SendFromTheCrmSender",
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": pulumi.Output.concat(
                    "arn:aws:ses:", cfg.region, ":", account_id, ":identity/", sender_domain
                ),
                "Condition": {"StringEquals": {"ses:FromAddress": cfg.llm.sender}},
            },
        ],
        layers=[layer],
        memory_size=512,
        timeout=30,
        source_dir=HANDLERS,
        source_package="crm_handlers",
    ),
)

alb = AuthenticatedAlb(
    f"{SYSTEM}-llm-alb",
    AuthenticatedAlbArgs(
        environment=env,
        name=f"{name}-llm",
        certificate_arn=cfg.alb.certificate_arn,
        function_arn=llm.function_arn,
        function_name=llm.function_name,
        path_patterns=("/llm", "/llm/*"),
        user_pool_arn=identity.user_pool_arn,
        user_pool_client_id=identity.client_ids["alb"],
        user_pool_domain=cfg.identity.domain_prefix,
        scopes=("openid", "email", f"{SYSTEM}/llm.invoke"),
        vpc_cidr=cfg.alb.vpc_cidr,
        availability_zones=zones,
        protect=cfg.protect,
    ),
    opts=pulumi.ResourceOptions(depends_on=[identity]),
)

site = StaticSite(
    f"{SYSTEM}-web",
    StaticSiteArgs(
        environment=env,
        purpose="web-ui",
        bucket_name=base.bucket_name("web-ui"),
        region=cfg.region,
        kms_key_arn=base.kms_key_arn,
        access_log_bucket=base.access_log_bucket_name,
        protect=cfg.protect,
    ),
    opts=after_logs,
)

# ---- SFTP integration: partner credentials in Secrets Manager, files into the inbox bucket
sftp_secret = aws.secretsmanager.Secret(
    f"{SYSTEM}-sftp-credentials",
    name=f"{name}/sftp-partner",
    description="SFTP partner credentials (JSON: host, port, username, privateKey, hostKey); value set by operations",
    kms_key_id=base.kms_key_arn,
    recovery_window_in_days=30 if cfg.protect else 7,
    tags=tags(env, "Crm"),
    opts=pulumi.ResourceOptions(protect=cfg.protect, retain_on_delete=cfg.protect),
)
inbox = LifecycleBucket(
    f"{SYSTEM}-sftp-inbox",
    LifecycleBucketArgs(
        environment=env,
        purpose="sftp-inbox",
        data_class="durable",
        bucket_name=base.bucket_name("sftp-inbox"),
        kms_key_arn=base.kms_key_arn,
        access_log_bucket=base.access_log_bucket_name,
        noncurrent_days=30,
        protect=cfg.protect,
        force_destroy=not cfg.protect,
    ),
    opts=after_logs,
)
sftp = HandlerFunction(
    f"{SYSTEM}-sftp",
    HandlerFunctionArgs(
        function_name=f"{name}-sftp",
        handler="crm_handlers.sftp.lambda_handler",
        environment=env,
        component="Crm",
        kms_key_arn=base.kms_key_arn,
        description="SFTP integration: partner outbox -> inbox bucket, host key pinned",
        env={
            "SFTP_SECRET_ARN": sftp_secret.arn,
            "INBOX_BUCKET": inbox.bucket_name,
            "INBOX_KMS_KEY_ARN": base.kms_key_arn,
        },
        statements=[
            {
                "Sid": "ReadSftpSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": sftp_secret.arn,
            },
            {
                "Sid": "DecryptThroughSecretsManagerAndS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": base.kms_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [
                            f"secretsmanager.{cfg.region}.amazonaws.com",
                            f"s3.{cfg.region}.amazonaws.com",
                        ]
                    }
                },
            },
            {
                "Sid": "WriteInbox",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(inbox.bucket_arn, "/inbox/*"),
            },
        ],
        layers=[layer, sftp_layer],
        timeout=300,
        source_dir=HANDLERS,
        source_package="crm_handlers",
    ),
)
schedule = aws.cloudwatch.EventRule(
    f"{SYSTEM}-sftp-schedule",
    name=f"{name}-sftp",
    description="Runs the SFTP integration",
    schedule_expression=cfg.sftp.schedule,
    tags=tags(env, "Crm"),
)
aws.cloudwatch.EventTarget(f"{SYSTEM}-sftp-target", rule=schedule.name, arn=sftp.function_arn)
aws.lambda_.Permission(
    f"{SYSTEM}-sftp-invoke",
    action="lambda:InvokeFunction",
    function=sftp.function_name,
    principal="events.amazonaws.com",
    source_arn=schedule.arn,
)

for label, fn, timeout in (("llm", llm, 30), ("sftp", sftp, 300)):
    ServiceAlarms(
        f"{SYSTEM}-{label}-alarms",
        ServiceAlarmsArgs(
            environment=env,
            kind="lambda",
            dimensions={"FunctionName": fn.function_name},
            alarm_topic_arn=base.alarm_topic_arn,
            lambda_timeout_seconds=timeout,
        ),
    )
ServiceAlarms(
    f"{SYSTEM}-alb-alarms",
    ServiceAlarmsArgs(
        environment=env, kind="alb", dimensions={"LoadBalancer": alb.arn_suffix}, alarm_topic_arn=base.alarm_topic_arn
    ),
)

pulumi.export("environment", env)
pulumi.export("userPoolId", identity.user_pool_id)
pulumi.export(
    "issuer", pulumi.Output.concat("https://cognito-idp.", cfg.region, ".amazonaws.com/", identity.user_pool_id)
)
pulumi.export("hostedDomain", identity.domain)
pulumi.export("webClientId", identity.client_ids["web"])
pulumi.export("policyStoreId", authz.policy_store_id)
pulumi.export("llmEndpoint", pulumi.Output.concat("https://", cfg.alb.hostname, "/llm"))
pulumi.export("albDnsName", alb.dns_name)
pulumi.export("webUrl", site.url)
pulumi.export("webBucket", site.bucket_name)
pulumi.export("sftpSecretArn", sftp_secret.arn)
pulumi.export("sftpInboxBucket", inbox.bucket_name)
