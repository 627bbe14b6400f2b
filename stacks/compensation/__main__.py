"""Compensation management: passengers claim compensation, managers approve, everyone is audited.

Reads and validates the stack config first, then composes library components only:
EnvironmentFoundation, AppUserPool, LifecycleBucket (documents), AuditTrail, ServerlessPostgres,
HandlerFunction (this project's ``compensation_handlers``), ApprovalWorkflow, ScopedRestApi, ServiceAlarms.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from saas_platform.components.alarms import ServiceAlarms, ServiceAlarmsArgs
from saas_platform.components.app_identity import AppClient, AppUserPool, AppUserPoolArgs, UserGroup
from saas_platform.components.approval_workflow import ApprovalWorkflow, ApprovalWorkflowArgs
from saas_platform.components.audit_trail import AuditTrail, AuditTrailArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs
from saas_platform.components.lambda_function import (
    HandlerFunction,
    HandlerFunctionArgs,
    HandlerLayer,
    HandlerLayerArgs,
)
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.naming import Environment, tags
from saas_platform.components.scoped_api import ScopedRestApi, ScopedRestApiArgs, ScopedRoute
from saas_platform.components.serverless_postgres import ServerlessPostgres, ServerlessPostgresArgs

import compensation_config

SYSTEM = "compensation"
HANDLERS = Path(__file__).resolve().parent / "compensation_handlers"
SCOPES = {
    "claims.submit": "Submit a compensation claim",
    "claims.read": "Read compensation claims",
    "claims.approve": "Approve or reject compensation claims",
}
GROUPS = (
    UserGroup(name="managers", description="Approve or reject compensation claims", precedence=10),
    UserGroup(name="employees", description="Airline staff: submit claims on behalf of passengers", precedence=20),
    UserGroup(name="passengers", description="Passengers: submit and follow their own claims", precedence=30),
)

cfg = compensation_config.load()  # before any resource: a bad stack file fails here, naming file and key
env: Environment = cfg.environment
name = f"{SYSTEM}-{env}"

base = EnvironmentFoundation(
    SYSTEM,
    EnvironmentFoundationArgs(
        system=SYSTEM, environment=env, region=cfg.region, alarm_email=cfg.alarm_email, protect=cfg.protect
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
                callback_urls=tuple(cfg.identity.callback_urls),
                logout_urls=tuple(u.rsplit("/", 1)[0] + "/" for u in cfg.identity.callback_urls),
                scopes=tuple(SCOPES),
            ),
        ),
        domain_prefix=cfg.identity.domain_prefix,
        mfa="ON",
        protect=cfg.protect,
    ),
)

documents = LifecycleBucket(
    f"{SYSTEM}-documents",
    LifecycleBucketArgs(
        environment=env,
        purpose="documents",
        data_class="durable",
        bucket_name=base.bucket_name("documents"),
        kms_key_arn=base.kms_key_arn,
        access_log_bucket=base.access_log_bucket_name,
        versioning=True,
        noncurrent_days=cfg.documents.noncurrent_days,
        protect=cfg.protect,
        force_destroy=not cfg.protect,
    ),
    opts=after_logs,
)

audit = AuditTrail(
    f"{SYSTEM}-audit",
    AuditTrailArgs(
        environment=env,
        trail_name=f"{name}-audit",
        bucket_name=base.bucket_name("audit"),
        account_id=base.account_id,
        region=cfg.region,
        access_log_bucket=base.access_log_bucket_name,
        retention_days=cfg.audit.retention_days,
        lock_mode=cfg.audit.lock_mode,
        protect=cfg.protect,
    ),
    opts=after_logs,
)

database = ServerlessPostgres(
    f"{SYSTEM}-db",
    ServerlessPostgresArgs(
        environment=env,
        cluster_identifier=name,
        database_name="compensation",
        master_username="compensation_admin",
        kms_key_arn=base.kms_key_arn,
        vpc_cidr=cfg.database.vpc_cidr,
        availability_zones=(f"{cfg.region}a", f"{cfg.region}b"),
        min_capacity=cfg.database.min_capacity,
        max_capacity=cfg.database.max_capacity,
        instances=2 if env == "prod" else 1,
        protect=cfg.protect,
    ),
)

notifications = aws.sns.Topic(
    f"{SYSTEM}-notifications",
    name=f"{name}-notifications",
    kms_master_key_id=base.kms_key_arn,
    tags=tags(env, "Compensation"),
)

layer = HandlerLayer(f"{SYSTEM}-deps", HandlerLayerArgs(environment=env))
db_env = {
    "CLAIMS_CLUSTER_ARN": database.cluster_arn,
    "CLAIMS_SECRET_ARN": database.secret_arn,
    "CLAIMS_DATABASE": database.database_name,
}
db_statements = database.data_api_statements(base.kms_key_arn, cfg.region)
publish = {
    "Sid": "PublishNotifications",
    "Effect": "Allow",
    "Action": "sns:Publish",
    "Resource": notifications.arn,
}
topic_key = {
    "Sid": "EncryptNotifications",
    "Effect": "Allow",
    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
    "Resource": base.kms_key_arn,
    "Condition": {"StringEquals": {"kms:ViaService": f"sns.{cfg.region}.amazonaws.com"}},
}
state_machine_arn = pulumi.Output.concat(
    "arn:aws:states:", cfg.region, ":", base.account_id, ":stateMachine:", f"{name}-approval"
)


def function(label: str, handler: str, description: str, **kw: object) -> HandlerFunction:
    return HandlerFunction(
        f"{SYSTEM}-{label}",
        HandlerFunctionArgs(
            function_name=f"{name}-{label}",
            handler=f"compensation_handlers.{handler}",
            environment=env,
            component="Compensation",
            kms_key_arn=base.kms_key_arn,
            description=description,
            layers=[layer],
            source_dir=HANDLERS,
            source_package="compensation_handlers",
            **kw,  # type: ignore[arg-type]
        ),
    )


request_approval = function(
    "request-approval",
    "approval.request_approval_handler",
    "Workflow task: store the task token and tell the managers",
    env={**db_env, "NOTIFICATION_TOPIC_ARN": notifications.arn},
    statements=[*db_statements, publish, topic_key],
)
notify = function(
    "notify",
    "approval.notify_handler",
    "Workflow task: publish the claim's outcome to the notification system",
    env={"NOTIFICATION_TOPIC_ARN": notifications.arn},
    statements=[publish, topic_key],
)
workflow = ApprovalWorkflow(
    f"{SYSTEM}-approval",
    ApprovalWorkflowArgs(
        environment=env,
        state_machine_name=f"{name}-approval",
        request_function_arn=request_approval.function_arn,
        notify_function_arn=notify.function_arn,
        timeout_seconds=cfg.approval.timeout_hours * 3600,
        kms_key_arn=base.kms_key_arn,
    ),
)
submit = function(
    "submit",
    "claims_api.submit_handler",
    "POST /claims: validate, store and start the approval workflow",
    env={**db_env, "APPROVAL_STATE_MACHINE_ARN": state_machine_arn},
    statements=[
        *db_statements,
        {"Sid": "StartApproval", "Effect": "Allow", "Action": "states:StartExecution", "Resource": state_machine_arn},
    ],
)
decide = function(
    "decide",
    "claims_api.decide_handler",
    "POST /claims/{claimId}/decision: a manager's decision resumes the waiting workflow",
    env=db_env,
    statements=[
        *db_statements,
        {
            "Sid": "ResumeApproval",
            "Effect": "Allow",
            "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"],
            "Resource": state_machine_arn,
        },
    ],
)

api = ScopedRestApi(
    f"{SYSTEM}-api",
    ScopedRestApiArgs(
        environment=env,
        api_name=name,
        user_pool_arn=identity.user_pool_arn,
        kms_key_arn=base.kms_key_arn,
        routes=(
            ScopedRoute(
                method="POST",
                path="/claims",
                scopes=(f"{SYSTEM}/claims.submit",),
                function_name=submit.function_name,
                invoke_arn=submit.invoke_arn,
            ),
            ScopedRoute(
                method="POST",
                path="/claims/{claimId}/decision",
                scopes=(f"{SYSTEM}/claims.approve",),
                function_name=decide.function_name,
                invoke_arn=decide.invoke_arn,
            ),
        ),
    ),
)

# ---- CloudWatch alarms: every function, the API stage, the database and the workflow
for label, fn in (("submit", submit), ("decide", decide), ("request-approval", request_approval), ("notify", notify)):
    ServiceAlarms(
        f"{SYSTEM}-{label}-alarms",
        ServiceAlarmsArgs(
            environment=env,
            kind="lambda",
            dimensions={"FunctionName": fn.function_name},
            alarm_topic_arn=base.alarm_topic_arn,
        ),
    )
ServiceAlarms(
    f"{SYSTEM}-api-alarms",
    ServiceAlarmsArgs(
        environment=env,
        kind="rest-api",
        dimensions={"ApiName": api.api_name, "Stage": api.stage_name},
        alarm_topic_arn=base.alarm_topic_arn,
    ),
)
ServiceAlarms(
    f"{SYSTEM}-db-alarms",
    ServiceAlarmsArgs(
        environment=env,
        kind="aurora-serverless",
        dimensions={"DBClusterIdentifier": database.cluster_identifier},
        alarm_topic_arn=base.alarm_topic_arn,
        max_capacity_acu=cfg.database.max_capacity,
    ),
)
ServiceAlarms(
    f"{SYSTEM}-approval-alarms",
    ServiceAlarmsArgs(
        environment=env,
        kind="state-machine",
        dimensions={"StateMachineArn": workflow.state_machine_arn},
        alarm_topic_arn=base.alarm_topic_arn,
    ),
)

pulumi.export("environment", env)
pulumi.export("userPoolId", identity.user_pool_id)
pulumi.export("webClientId", identity.client_ids["web"])
pulumi.export("hostedDomain", identity.domain)
pulumi.export("apiUrl", api.invoke_url)
pulumi.export("documentsBucket", documents.bucket_name)
pulumi.export("auditTrailArn", audit.trail_arn)
pulumi.export("auditBucket", audit.bucket_name)
pulumi.export("databaseClusterArn", database.cluster_arn)
pulumi.export("databaseEndpoint", database.endpoint)
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("approvalStateMachineArn", workflow.state_machine_arn)
pulumi.export("notificationTopicArn", notifications.arn)
