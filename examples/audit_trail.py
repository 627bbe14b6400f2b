"""An audit trail for a system of its own: CloudTrail with log-file validation, its own KMS key and an
Object-Lock bucket, next to the environment's key, access-log bucket and alarm topic."""

import pulumi

from saas_platform.components.audit_trail import AuditTrail, AuditTrailArgs
from saas_platform.components.foundation import EnvironmentFoundation, EnvironmentFoundationArgs

base = EnvironmentFoundation(
    "payroll",
    EnvironmentFoundationArgs(
        system="payroll", environment="dev", region="ap-southeast-1", alarm_email="ops@example.com", protect=False
    ),
)
trail = AuditTrail(
    "payroll-audit",
    AuditTrailArgs(
        environment="dev",
        trail_name="payroll-dev-audit",
        bucket_name=base.bucket_name("audit"),
        account_id=base.account_id,
        region="ap-southeast-1",
        access_log_bucket=base.access_log_bucket_name,
        retention_days=30,
        lock_mode="GOVERNANCE",  # dev only: prod is COMPLIANCE for at least 365 days
        protect=False,
    ),
    opts=pulumi.ResourceOptions(depends_on=[base.access_logs]),
)
pulumi.export("auditTrailArn", trail.trail_arn)
pulumi.export("auditBucket", trail.bucket_name)
