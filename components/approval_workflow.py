"""``ApprovalWorkflow``: a Step Functions state machine that waits for a human decision through a task token.

The request that started the execution has been submitted already (the submit API starts the execution with
``{"<id_field>": ..., "claimant": ...}``). Then:

1. ``RequestApproval`` invokes the request function with ``lambda:invoke.waitForTaskToken``; the payload
   carries the task token (``$$.Task.Token``). The function stores the token and tells the approvers; the
   execution waits until the decision endpoint calls ``SendTaskSuccess`` with
   ``{"decision": "approved" | "rejected", ...}``, or ``timeout_seconds`` pass (``States.Timeout``).
2. ``Decision`` routes approved, rejected and timed-out executions to ``Notify`` with ``outcome`` set; any
   other decision value fails the execution (fail closed: no notification claims an outcome nobody chose).
3. ``Notify`` invokes the notify function (retried on Lambda service errors), then the execution succeeds.

The state machine is STANDARD (executions may wait up to a year), logs ALL events with execution data off
to a KMS-encrypted log group, and traces with X-Ray. Its role may invoke exactly the two functions and
deliver its logs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import service_trust_policy
from saas_platform.components.naming import ENVIRONMENTS, LOG_RETENTION_DAYS, Environment, tags

NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,80}")
FIELD_RE: Final = re.compile(r"[a-z][A-Za-z0-9]{0,63}")
MAX_WAIT_SECONDS: Final = 365 * 24 * 3600
"""A STANDARD execution lives at most one year."""
LAMBDA_RETRY: Final = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2,
}
LOG_DELIVERY_ACTIONS: Final = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
"""What Step Functions needs to set up vended log delivery (these actions support no resource-level scoping)."""


def approval_definition(
    request_function_arn: str, notify_function_arn: str, timeout_seconds: int, id_field: str = "claimId"
) -> dict[str, Any]:
    """The Amazon States Language document (pure)."""

    def outcome(value: str) -> dict[str, Any]:
        return {
            "Type": "Pass",
            "Parameters": {f"{id_field}.$": f"$.{id_field}", "claimant.$": "$.claimant", "outcome": value},
            "Next": "Notify",
        }

    return {
        "Comment": "Submit -> approval with a task token -> notify",
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": request_function_arn,
                    "Payload": {
                        f"{id_field}.$": f"$.{id_field}",
                        "claimant.$": "$.claimant",
                        "taskToken.$": "$$.Task.Token",
                    },
                },
                "TimeoutSeconds": timeout_seconds,
                "ResultPath": "$.approval",
                "Retry": [LAMBDA_RETRY],
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "TimedOut"}],
                "Next": "Decision",
            },
            "Decision": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.approval.decision", "StringEquals": "approved", "Next": "Approved"},
                    {"Variable": "$.approval.decision", "StringEquals": "rejected", "Next": "Rejected"},
                ],
                "Default": "InvalidDecision",
            },
            "Approved": outcome("approved"),
            "Rejected": outcome("rejected"),
            "TimedOut": outcome("timed-out"),
            "InvalidDecision": {
                "Type": "Fail",
                "Error": "InvalidDecision",
                "Cause": "the task token was returned without decision 'approved' or 'rejected'",
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": notify_function_arn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Retry": [LAMBDA_RETRY],
                "End": True,
            },
        },
    }


@dataclass(frozen=True, kw_only=True)
class ApprovalWorkflowArgs:
    """Arguments of :class:`ApprovalWorkflow`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        state_machine_name: physical name (1-80 of ``[A-Za-z0-9_-]``).
        request_function_arn / notify_function_arn: the two task functions.
        timeout_seconds: how long a request waits for its decision (60 s to one year).
        kms_key_arn: encrypts the log group and the state machine's data.
        id_field: Default ``claimId``. The input field naming the request.
        log_retention_days: Default 90.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    state_machine_name: str
    request_function_arn: pulumi.Input[str]
    notify_function_arn: pulumi.Input[str]
    timeout_seconds: int
    kms_key_arn: pulumi.Input[str]
    id_field: str = "claimId"
    log_retention_days: int = 90
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not NAME_RE.fullmatch(self.state_machine_name):
            raise ComponentArgError(
                f"state_machine_name must be 1-80 characters of [A-Za-z0-9_-]; got {self.state_machine_name!r}"
            )
        if not 60 <= self.timeout_seconds <= MAX_WAIT_SECONDS:
            raise ComponentArgError(
                f"timeout_seconds must be 60-{MAX_WAIT_SECONDS} (a STANDARD execution lives at most a year); "
                f"got {self.timeout_seconds}"
            )
        if not FIELD_RE.fullmatch(self.id_field):
            raise ComponentArgError(f"id_field must match {FIELD_RE.pattern!r}; got {self.id_field!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )


class ApprovalWorkflow(pulumi.ComponentResource):
    """A STANDARD state machine: request approval (task token) -> decision -> notify.

    Example::

        flow = ApprovalWorkflow("compensation-approval", ApprovalWorkflowArgs(
            environment="dev", state_machine_name="compensation-approval-dev",
            request_function_arn=request.function_arn, notify_function_arn=notify.function_arn,
            timeout_seconds=72 * 3600, kms_key_arn=base.kms_key_arn))

    Documentation:
        https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
        https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
    """

    state_machine_arn: pulumi.Output[str]
    state_machine_name: str
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ApprovalWorkflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:workflow:ApprovalWorkflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "ApprovalWorkflow", extra=args.extra_tags)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/vendedlogs/states/{args.state_machine_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of state machine {args.state_machine_name}",
            assume_role_policy=json.dumps(service_trust_policy("states.amazonaws.com")),
            tags=resource_tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "InvokeTaskFunctions",
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": [args.request_function_arn, args.notify_function_arn],
                        },
                        {
                            "Sid": "LogDelivery",
                            "Effect": "Allow",
                            "Action": list(LOG_DELIVERY_ACTIONS),
                            "Resource": "*",
                        },
                        {
                            "Sid": "XRay",
                            "Effect": "Allow",
                            "Action": [
                                "xray:PutTraceSegments",
                                "xray:PutTelemetryRecords",
                                "xray:GetSamplingRules",
                                "xray:GetSamplingTargets",
                            ],
                            "Resource": "*",
                        },
                        {
                            "Sid": "StateDataKey",
                            "Effect": "Allow",
                            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                            "Resource": args.kms_key_arn,
                        },
                    ],
                }
            ),
            opts=child,
        )
        definition = pulumi.Output.all(args.request_function_arn, args.notify_function_arn).apply(
            lambda arns: json.dumps(approval_definition(arns[0], arns[1], args.timeout_seconds, args.id_field))
        )
        machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=args.state_machine_name,
            type="STANDARD",
            role_arn=role.arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ALL",
                include_execution_data=False,
                log_destination=pulumi.Output.concat(log_group.arn, ":*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            encryption_configuration=aws.sfn.StateMachineEncryptionConfigurationArgs(
                type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=args.kms_key_arn, kms_data_key_reuse_period_seconds=300
            ),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.state_machine_arn = machine.arn
        self.state_machine_name = args.state_machine_name
        self.role_arn = role.arn
        self.register_outputs({"state_machine_arn": self.state_machine_arn, "role_arn": self.role_arn})
