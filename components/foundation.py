"""``EnvironmentFoundation``: the per-environment basics every system built on this library starts from.

The platform's ``Platform`` component holds the same pieces for the HR SaaS; other systems (their own Pulumi
projects) get them here without the pool tables and tenants:

* a customer-managed KMS key (rotation on) whose policy lets the account administer it through IAM,
  CloudWatch publish alarms to the encrypted topic and CloudWatch Logs encrypt this account's log groups, plus
  any service statements the system adds (e.g. CloudFront reading SSE-KMS objects for one distribution);
* the server access-log bucket (a ``LifecycleBucket`` of data class ``access-logs``);
* the alarm topic (SNS, encrypted with the key) with an email subscription.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.alarms import alarm_topic_policy_resource
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.naming import ENVIRONMENTS, Environment, env_suffix, tags
from saas_platform.components.platform import bucket_name, key_policy

SYSTEM_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,19}")
EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ACCESS_LOG_DAYS: Final = 90


@dataclass(frozen=True, kw_only=True)
class EnvironmentFoundationArgs:
    """Arguments of :class:`EnvironmentFoundation`.

    Attributes:
        system: short kebab-case system name (``compensation``): prefixes physical names (2-20 characters).
        environment: ``dev`` | ``staging`` | ``prod``.
        region: the stack's region.
        alarm_email: subscribed to the alarm topic.
        protect: Default ``True``: Pulumi ``protect`` + ``retain_on_delete`` on the key and the log bucket.
        extra_key_statements: statements appended to the key policy (values may be Outputs; each needs a Sid).
        access_logs: Default ``True``: create the access-log bucket. ``False`` for a system without buckets
            (an access-log bucket nothing logs to is refused by the pack's ``s3-sse-kms`` rule).
        extra_tags: merged under the ``saas:*`` tags.
    """

    system: str
    environment: Environment
    region: str
    alarm_email: str
    protect: bool = True
    extra_key_statements: pulumi.Input[Sequence[Mapping[str, Any]]] = ()
    access_logs: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not SYSTEM_RE.fullmatch(self.system):
            raise ComponentArgError(f"system must match {SYSTEM_RE.pattern!r}; got {self.system!r}")
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not EMAIL_RE.fullmatch(self.alarm_email):
            raise ComponentArgError(f"alarm_email is not an email address; got {self.alarm_email!r}")
        if self.environment == "prod" and not self.protect:
            raise ComponentArgError("protect=False is refused in prod: the key and the logs must survive a destroy")


class EnvironmentFoundation(pulumi.ComponentResource):
    """KMS key, access-log bucket and alarm topic of one environment of one system.

    Example::

        base = EnvironmentFoundation("compensation", EnvironmentFoundationArgs(
            system="compensation", environment="dev", region="eu-west-1", alarm_email="ops@example.com",
            protect=False))
        docs = LifecycleBucket("compensation-documents", LifecycleBucketArgs(..., kms_key_arn=base.kms_key_arn,
            access_log_bucket=base.access_log_bucket_name), opts=pulumi.ResourceOptions(depends_on=[base]))

    Documentation:
        https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html
    """

    kms_key_arn: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]
    account_id: pulumi.Output[str]
    alarm_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EnvironmentFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:platform:EnvironmentFoundation", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        resource_tags = tags(args.environment, "EnvironmentFoundation", extra=args.extra_tags)
        self.account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        policy = pulumi.Output.all(self.account_id, pulumi.Output.from_input(args.extra_key_statements)).apply(
            lambda v: _with_statements(key_policy(v[0], args.region), v[1])
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.system} {env_suffix(args.environment)}: data at rest (buckets, database, logs, topics)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(policy),
            tags=resource_tags,
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{args.system}-{args.environment}", target_key_id=key.key_id, opts=child
        )
        self._access_logs: LifecycleBucket | None = None
        if args.access_logs:
            self._access_logs = LifecycleBucket(
                f"{name}-access-logs",
                LifecycleBucketArgs(
                    environment=args.environment,
                    purpose="access-logs",
                    data_class="access-logs",
                    bucket_name=self.bucket_name("access-logs"),
                    expiration_days=ACCESS_LOG_DAYS,
                    account_id=self.account_id,
                    protect=args.protect,
                    force_destroy=not args.protect,
                    extra_tags=args.extra_tags,
                ),
                opts=child,
            )
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"{args.system}-alarms-{args.environment}",
            kms_master_key_id=key.arn,
            tags=resource_tags,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{name}-alarms-email", topic=topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
        )
        topic_name = f"{args.system}-alarms-{args.environment}"
        alarm_topic_policy_resource(
            f"{name}-alarms-policy",
            topic=topic,
            topic_name=topic_name,
            account_id=self.account_id,
            region=args.region,
            opts=child,
        )
        self.kms_key_arn = key.arn
        self.kms_key_id = key.key_id
        self.alarm_topic_arn = topic.arn
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "access_log_bucket_name": self._access_logs.bucket_name if self._access_logs else None,
                "alarm_topic_arn": self.alarm_topic_arn,
            }
        )

    @property
    def access_logs(self) -> LifecycleBucket:
        """The access-log bucket (pass it in ``depends_on`` of buckets that log to it)."""
        if self._access_logs is None:
            raise ComponentArgError("this foundation was built with access_logs=False")
        return self._access_logs

    @property
    def access_log_bucket_name(self) -> pulumi.Output[str]:
        """Name of the access-log bucket (``access_log_bucket`` of every LifecycleBucket of the system)."""
        return self.access_logs.bucket_name

    def bucket_name(self, purpose: str) -> pulumi.Output[str]:
        """``<system>-<env>-<purpose>-<account>``: a physical bucket name known at preview (<= 63 characters)."""
        a = self._args
        return self.account_id.apply(lambda account: bucket_name(a.system, a.environment, purpose, account))


def _with_statements(policy: dict[str, Any], extra: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    sids = {st.get("Sid") for st in policy["Statement"]}
    for i, st in enumerate(extra):
        if not st.get("Sid") or st.get("Sid") in sids:
            raise ComponentArgError(f"extra_key_statements[{i}] needs a Sid of its own; got {st.get('Sid')!r}")
    return {**policy, "Statement": [*policy["Statement"], *(dict(st) for st in extra)]}
