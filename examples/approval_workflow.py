"""A human approval step in Step Functions: the request function stores the task token, a decision endpoint
sends it back, the notify function reports the outcome; plus the standard alarms of the state machine."""

import pulumi

from saas_platform.components.alarms import ServiceAlarms, ServiceAlarmsArgs
from saas_platform.components.approval_workflow import ApprovalWorkflow, ApprovalWorkflowArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs

FUNCTIONS = "arn:aws:lambda:ap-southeast-1:123456789012:function"
base = EnvironmentFoundation(
    "expenses",
    EnvironmentFoundationArgs(
        system="expenses",
        environment="dev",
        region="ap-southeast-1",
        alarm_email="ops@example.com",
        protect=False,
        access_logs=False,  # no buckets in this system
    ),
)
flow = ApprovalWorkflow(
    "expenses-approval",
    ApprovalWorkflowArgs(
        environment="dev",
        state_machine_name="expenses-approval-dev",
        request_function_arn=f"{FUNCTIONS}:expenses-request-approval-dev",
        notify_function_arn=f"{FUNCTIONS}:expenses-notify-dev",
        timeout_seconds=48 * 3600,
        kms_key_arn=base.kms_key_arn,
        id_field="expenseId",
    ),
)
ServiceAlarms(
    "expenses-approval-alarms",
    ServiceAlarmsArgs(
        environment="dev",
        kind="state-machine",
        dimensions={"StateMachineArn": flow.state_machine_arn},
        alarm_topic_arn=base.alarm_topic_arn,
    ),
)
pulumi.export("stateMachineArn", flow.state_machine_arn)
