"""``HandlerFunction`` and ``HandlerLayer``: how every Lambda in ``handlers/`` is packaged and deployed.

One asset archive holds the ``saas_platform.handlers`` package (the ``handlers/`` folder); third-party code the runtime lacks (Powertools, PyJWT and
cryptography) comes from one ``HandlerLayer`` per environment, built for arm64 by
``scripts/build-lambda-layer`` from ``handlers/requirements.txt``. Every function runs Python 3.13 on arm64
with X-Ray active tracing, JSON logs into its own KMS-encrypted log group with a retention, and a role that
holds only its log group, X-Ray and the statements the caller passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform import handlers
from saas_platform.components import datapaths
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import service_trust_policy
from saas_platform.components.naming import LAMBDA_FUNCTION_NAME_MAX, LOG_RETENTION_DAYS, Environment, tags

RUNTIME: Final = "python3.13"
ARCHITECTURE: Final = "arm64"
HANDLERS_DIR: Final = Path(handlers.__file__).resolve().parent
LAYER_DIR: Final = HANDLERS_DIR.parent / "build" / "lambda-layer"
FUNCTION_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
HANDLER_PACKAGE: Final = "saas_platform.handlers"
HANDLER_RE: Final = re.compile(r"saas_platform\.handlers\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")


def handlers_archive() -> pulumi.AssetArchive:
    """The deployment package: ``saas_platform/handlers/`` in the archive, imported as ``saas_platform.handlers.x``.

    The folder is located through this library's own package, never through whatever ``handlers`` is on
    ``sys.path``, so a consumer project with its own ``handlers/`` folder deploys our code, not theirs.
    """
    return pulumi.AssetArchive({HANDLER_PACKAGE.replace(".", "/"): pulumi.FileArchive(str(HANDLERS_DIR))})


@dataclass(frozen=True, kw_only=True)
class HandlerLayerArgs:
    """Arguments of :class:`HandlerLayer`. ``path`` defaults to ``build/lambda-layer`` (see module doc)."""

    environment: Environment
    path: Path = LAYER_DIR
    extra_tags: dict[str, str] = field(default_factory=dict)


class HandlerLayer(pulumi.ComponentResource):
    """The dependencies layer shared by the environment's handlers (``handlers/requirements.txt``, arm64).

    Example::

        layer = HandlerLayer("platform-deps", HandlerLayerArgs(environment="dev"))
        HandlerFunction("acme-pre-token", HandlerFunctionArgs(..., layers=[layer.arn]))

    Documentation:
        https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html
    """

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: HandlerLayerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:compute:HandlerLayer", name, None, opts)
        if not args.path.exists():
            pulumi.log.warn(
                f"{args.path} does not exist: run scripts/build-lambda-layer before `pulumi up` "
                "(the offline plan does not need it)",
                resource=self,
            )
        layer = aws.lambda_.LayerVersion(
            f"{name}-layer",
            layer_name=f"{name}-{args.environment}",
            code=pulumi.AssetArchive({"python": pulumi.FileArchive(str(args.path / "python"))}),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Powertools, PyJWT and cryptography for the saas handlers (handlers/requirements.txt)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = layer.arn
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True, kw_only=True)
class HandlerFunctionArgs:
    """Arguments of :class:`HandlerFunction`.

    Attributes:
        function_name: physical name (<= 64 chars); also names the log group ``/aws/lambda/<name>``.
        handler: ``saas_platform.handlers.<module>.<function>``.
        environment: ``dev`` | ``staging`` | ``prod`` (tags, Powertools service environment).
        component: the ``saas:component`` tag value (the owning component's type name).
        kms_key_arn: encrypts the log group and the function's environment variables.
        tenant: the ``saas:tenant`` tag for per-tenant functions.
        description: shown in the console.
        env: environment variables (values may be Outputs).
        statements: extra IAM statements (Python data; values may be Outputs) for the function's role.
        managed_policy_arns: AWS-managed policies to attach (e.g. the VPC access execution role); keep short.
        layers: layer ARNs, normally ``[HandlerLayer.arn]``.
        memory_size: Default 256 MB. timeout: Default 10 s.
        log_retention_days: Default 90; one of ``LOG_RETENTION_DAYS``.
        reserved_concurrency: Default ``None`` (unreserved).
        dead_letter_arn: SQS/SNS target for failed asynchronous invocations.
    """

    function_name: str
    handler: str
    environment: Environment
    component: str
    kms_key_arn: pulumi.Input[str]
    tenant: str | None = None
    description: str = ""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Mapping[str, Any]] = ()
    managed_policy_arns: Sequence[str] = ()
    layers: Sequence[pulumi.Input[str]] = ()
    memory_size: int = 256
    timeout: int = 10
    log_retention_days: int = 90
    reserved_concurrency: int | None = None
    dead_letter_arn: pulumi.Input[str] | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not FUNCTION_NAME_RE.fullmatch(self.function_name):
            raise ComponentArgError(
                f"function_name must be 1-{LAMBDA_FUNCTION_NAME_MAX} characters of [A-Za-z0-9_-]; "
                f"got {self.function_name!r} ({len(self.function_name)} characters)"
            )
        if not HANDLER_RE.fullmatch(self.handler):
            raise ComponentArgError(
                f"handler must look like 'saas_platform.handlers.<module>.<function>'; got {self.handler!r}"
            )
        module = HANDLERS_DIR / f"{self.handler.split('.')[2]}.py"
        if not module.exists():
            raise ComponentArgError(f"handler {self.handler!r}: {module} does not exist")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )
        if not 128 <= self.memory_size <= 10240:
            raise ComponentArgError(f"memory_size must be 128-10240 MB; got {self.memory_size}")
        if not 1 <= self.timeout <= 900:
            raise ComponentArgError(f"timeout must be 1-900 seconds; got {self.timeout}")


class HandlerFunction(pulumi.ComponentResource):
    """A Lambda function running one module of ``handlers/``: Python 3.13, arm64, X-Ray, JSON logs in its own
    encrypted log group with retention, and a least-privilege role.

    Example::

        fn = HandlerFunction("acme-pre-token", HandlerFunctionArgs(
            function_name="AIML-SaaS-acme-PreToken-Dev", handler="saas_platform.handlers.pre_token_generation.lambda_handler",
            environment="dev", component="TenantIdentity", tenant="acme", kms_key_arn=key.arn))

    Documentation:
        https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html
        https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
    """

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: HandlerFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:compute:HandlerFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, args.component, args.tenant, args.extra_tags)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of {args.function_name}",
            assume_role_policy=json.dumps(service_trust_policy("lambda.amazonaws.com")),
            tags=resource_tags,
            opts=child,
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        # Built from known parts (not log_group.arn) so the document is known at the first preview.
        log_group_arn = pulumi.Output.concat(
            "arn:aws:logs:", region, ":", account, ":log-group:/aws/lambda/", args.function_name
        )
        base_statements: list[Mapping[str, Any]] = [
            {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group_arn, ":*"),
            },
            {
                "Sid": "XRay",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
        ]
        if args.dead_letter_arn is not None:
            service = "sqs:SendMessage" if ":sqs:" in str(args.dead_letter_arn) else "sns:Publish"
            base_statements.append(
                {"Sid": "DeadLetter", "Effect": "Allow", "Action": service, "Resource": args.dead_letter_arn}
            )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": [*base_statements, *args.statements]}
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-managed-{i}", role=role.name, policy_arn=arn, opts=child)
            for i, arn in enumerate(args.managed_policy_arns)
        ]
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description or None,
            role=role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=handlers_archive(),
            layers=list(args.layers) or None,
            memory_size=args.memory_size,
            timeout=args.timeout,
            reserved_concurrent_executions=args.reserved_concurrency,
            kms_key_arn=args.kms_key_arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group.name, application_log_level="INFO", system_log_level="WARN"
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "POWERTOOLS_SERVICE_NAME": args.component,
                    "POWERTOOLS_METRICS_NAMESPACE": "saas",
                    "SAAS_ENVIRONMENT": args.environment,
                    **dict(args.env),
                }
            ),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=args.dead_letter_arn)
            if args.dead_letter_arn is not None
            else None,
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy, *attachments]),
        )
        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.role_arn = role.arn
        self.role_name = role.name
        self.log_group_name = log_group.name
        self.data_paths = datapaths.declare(
            [
                DataPath(
                    name="function/logs",
                    principal=role.arn,
                    principal_type="role",
                    actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                    resource=pulumi.Output.concat(log_group_arn, ":log-stream:2026/01/01/[$LATEST]0001"),
                    description="the function writes its log stream",
                ),
                DataPath(
                    name="logs-service/log-group-key",
                    principal=pulumi.Output.concat("logs.", region, ".amazonaws.com"),
                    principal_type="service",
                    actions=("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                    resource=args.kms_key_arn,
                    context={"kms:EncryptionContext:aws:logs:arn": log_group_arn, "aws:SourceAccount": account},
                    guards=("kms:EncryptionContext:aws:logs:arn",),
                    description="CloudWatch Logs encrypts the function's log group with the environment key",
                ),
            ]
        )
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "role_arn": self.role_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )
