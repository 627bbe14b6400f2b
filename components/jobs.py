"""``ScheduledJobs``: the system jobs of one environment (docs/jobs.md).

* an EventBridge Scheduler schedule ``<prefix>-Scheduler-<Env>`` firing ``rate(1 minute)`` (no flexible
  window) at the **JobPicker**, with a retry policy, a KMS-encrypted SQS dead-letter queue and its own role:
  trusted by ``scheduler.amazonaws.com`` only for this account and this schedule (``aws:SourceAccount`` /
  ``aws:SourceArn``), allowed ``lambda:InvokeFunction`` on the picker's ARN and nothing else but its DLQ;
* the **JobPicker** (``handlers/job_picker.py``): ``dynamodb:Query`` on the TenantJob table's ``DueJobs`` index
  only and ``dynamodb:UpdateItem`` on the table (claims, completions), ``lambda:InvokeFunction`` on the runner
  functions it may dispatch to (the allow-list it also receives as ``RUNNERS``);
* the **runners** (``handlers/job_runners.py``), one ``HandlerFunction`` each, named ``<prefix>-<Runner>-<Env>``.
  Per-tenant runners hold no tenant data themselves: each has a **writer role** whose policy allows only that
  runner's table actions under ``dynamodb:LeadingKeys = TENANT#${aws:PrincipalTag/TenantId}``, trusted only for
  the runner's role with exactly one ``TenantId`` session tag (no tenant list: constant size); the runner checks
  the job's tenant against the tenant registry first and passes a session policy naming the tenant as well.
  AttGen-System is a system runner: it lists the active tenant ids (the registry's keys-only ``byStatus``
  index) and may only invoke AttGen-Tenant;
* a KMS-encrypted SQS **dead-letter queue for every function** (all are invoked asynchronously), the
  asynchronous-invoke retry settings, and **alarms** on DLQ depth, errors, throttles, P99 duration, picker
  failures and job lag (``JobLagSeconds``, the age of the oldest due job) to the alarm topic;
* the per-environment **notification topic** ``<prefix>-Notifications-<Env>`` the dispatcher publishes to.

The ``DueJobs`` index itself belongs to the TenantJob :class:`~saas_platform.components.pool_table.PoolTable`
(:data:`DUE_JOBS_INDEX`); its partition key is a write shard, not the tenant, so it never appears in a tenant
policy (``PoolTable.tenant_index_names`` leaves it out and the policy pack rejects it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.datapaths import TENANT, DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import assume_tenant_writer_statement, tenant_writer_trust
from saas_platform.components.lambda_function import HandlerFunction, HandlerFunctionArgs, LayerLike, check_layers
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    ENVIRONMENTS,
    IAM_ROLE_NAME_MAX,
    RUNNERS,
    TENANT_ID_RE,
    Environment,
    env_suffix,
    job_picker_function_name,
    runner_function_name,
    runner_writer_role_name,
    scheduler_name,
    tags,
)
from saas_platform.components.pool_table import TableIndex
from saas_platform.components.registry import (
    REGISTRY_TABLE_ENV,
    STATUS_INDEX,
    registry_key_statement,
    registry_list_statement,
    registry_read_paths,
    registry_read_statement,
)
from saas_platform.handlers._jobs import (
    DUE_ATTRIBUTE,
    DUE_INDEX,
    PRINCIPAL_TAG_TENANT,
    RUNNER_TABLE_ACTIONS,
    SHARD_ATTRIBUTE,
    SYSTEM_RUNNERS,
    TENANT_PLACEHOLDER,
    table_key_statement,
    tenant_data_policy,
)

JOBS_TABLE: Final = "TenantJob"
DUE_JOBS_INDEX: Final = TableIndex(name=DUE_INDEX, partition_key=SHARD_ATTRIBUTE, sort_key=DUE_ATTRIBUTE)
"""The sparse, write-sharded due-jobs index of the TenantJob table (not tenant-keyed: system roles only)."""
SCHEDULE_EXPRESSION: Final = "rate(1 minute)"
RUNNER_HANDLERS: Final[Mapping[str, str]] = {
    "Job-Runner": "job_runner_handler",
    "AttGen-System": "attgen_system_handler",
    "AttGen-Tenant": "attgen_tenant_handler",
    "Employee-Earn-AL": "earn_al_handler",
    "CRUD-Item": "crud_item_handler",
    "Tenant-Notification-Dispatcher": "notification_handler",
}
DLQ_RETENTION_SECONDS: Final = 14 * 86_400
"""SQS maximum: dead letters wait 14 days for a redrive."""
ASYNC_RETRIES: Final = 2
ASYNC_MAX_EVENT_AGE: Final = 3600
PICKER_TIMEOUT: Final = 60
RUNNER_TIMEOUT: Final = 60
TENANT_TAG: Final = "TenantId"


@dataclass(frozen=True, kw_only=True)
class JobTable:
    """A pool table a runner uses: physical name and ARN (known at preview, see ``PoolTable.table_arn``)."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class ScheduledJobsArgs:
    """Arguments of :class:`ScheduledJobs`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        region / account_id: build the ARNs of the picker, runners and schedule from known parts, so every
            policy document is known at preview.
        tables: the pool tables by base name (``TenantJob`` is required; runners need theirs).
        registry_table_name / registry_table_arn: the tenant registry (``TenantRegistry``): every per-tenant
            runner checks the job's tenant there before it assumes its writer role (``SAAS_REGISTRY_TABLE``), and
            refuses an unknown, suspended or offboarded tenant (fail closed when the registry cannot be read);
            AttGen-System lists the active tenants on its keys-only ``byStatus`` index.
        tenant_ids: Default ``()``. The tenants of this stack, for the data-path inventory only (the authorization
            matrix). No IAM document and no environment variable holds them; a platform stack whose tenants all
            live in cell stacks passes none.
        kms_key_arn: the environment key (queues, topic, log groups, function environments).
        kms_key_alias: the key's alias (``alias/aiml-saas-dev``). When set, the data-key grants for the queues and
            the topic name ``key/*`` narrowed by ``kms:ResourceAliases``, so the documents are known at the first
            preview (the key's ARN is not); otherwise they name ``kms_key_arn``.
        runners: Default: all six runners of the platform's job catalogue (docs/jobs.md). The picker's allow-list is exactly this set.
        shards: Default 4 (1-100). Write shards of the due index (docs/jobs.md: the arithmetic).
        lease_seconds: Default 300 (60-900). How long a claimed job waits before another picker recovers it.
        retry_attempts: Default 3 (0-185). Scheduler retries of a failed picker invoke before the DLQ.
        max_event_age_seconds: Default 300 (60-86400). A missed tick older than this is dead-lettered: the
            next tick (one minute later) picks up the same due jobs anyway.
        lag_alarm_seconds: Default 300. Alarm when the oldest due job is older than this.
        alarm_topic_arn: where alarms go; ``None`` creates none.
        layers: the environment's ``HandlerLayer`` (or a ``LayerRef``): the handlers import Powertools and pydantic;
            a layer that does not provide them is refused here.
    """

    environment: Environment
    region: str
    account_id: pulumi.Input[str]
    tables: Mapping[str, JobTable]
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    tenant_ids: tuple[str, ...] = ()
    kms_key_alias: str | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    runners: tuple[str, ...] = RUNNERS
    shards: int = 4
    lease_seconds: int = 300
    retry_attempts: int = 3
    max_event_age_seconds: int = 300
    lag_alarm_seconds: int = 300
    alarm_topic_arn: pulumi.Input[str] | None = None
    layers: Sequence[LayerLike] = ()
    log_retention_days: int = 90
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        unknown = sorted(set(self.runners) - set(RUNNER_HANDLERS))
        if unknown or not self.runners or len(set(self.runners)) != len(self.runners):
            raise ComponentArgError(
                f"runners must be distinct names from {sorted(RUNNER_HANDLERS)}; got {list(self.runners)}"
            )
        if "AttGen-System" in self.runners and "AttGen-Tenant" not in self.runners:
            raise ComponentArgError("AttGen-System fans out to AttGen-Tenant: add 'AttGen-Tenant' to runners")
        needed = {JOBS_TABLE} | {t for r in self.runners for t in RUNNER_TABLE_ACTIONS.get(r, {})}
        missing = sorted(needed - set(self.tables))
        if missing:
            raise ComponentArgError(f"tables is missing {missing}, which the picker or the runners {self.runners} use")
        bad = [t for t in self.tenant_ids if not TENANT_ID_RE.fullmatch(t)]
        if bad:
            raise ComponentArgError(f"tenant_ids must be tenant ids matching {TENANT_ID_RE.pattern!r}; bad: {bad}")
        for label, value, low, high in (
            ("shards", self.shards, 1, 100),
            ("lease_seconds", self.lease_seconds, 60, 900),
            ("retry_attempts", self.retry_attempts, 0, 185),
            ("max_event_age_seconds", self.max_event_age_seconds, 60, 86_400),
            ("lag_alarm_seconds", self.lag_alarm_seconds, 60, 86_400),
        ):
            if not low <= value <= high:
                raise ComponentArgError(f"{label} must be {low}-{high}; got {value}")
        check_layers(
            "ScheduledJobsArgs",
            [
                "saas_platform.handlers.job_picker.lambda_handler",
                *(f"saas_platform.handlers.job_runners.{RUNNER_HANDLERS[r]}" for r in self.runners),
            ],
            self.layers,
        )
        if self.lease_seconds <= PICKER_TIMEOUT:
            raise ComponentArgError(
                f"lease_seconds ({self.lease_seconds}) must exceed the picker's timeout ({PICKER_TIMEOUT} s), or a "
                "running picker's claims could be recovered by the next one"
            )
        for runner in self.tenant_runners:
            role = runner_writer_role_name(self.name_prefix, runner, self.environment)
            if len(role) > IAM_ROLE_NAME_MAX:
                raise ComponentArgError(
                    f"writer role name {role!r} is {len(role)} characters; IAM allows {IAM_ROLE_NAME_MAX}. "
                    "Shorten name_prefix."
                )

    @property
    def tenant_runners(self) -> tuple[str, ...]:
        return tuple(r for r in self.runners if r not in SYSTEM_RUNNERS)


def _arn(service: str, region: str, account: pulumi.Input[str], resource: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(f"arn:aws:{service}:{region}:", account, f":{resource}")


def scheduler_trust_policy(account_id: str, schedule_arn: str) -> dict[str, Any]:
    """EventBridge Scheduler may assume the role only for this account's schedule (confused-deputy guard)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SchedulerForThisScheduleOnly",
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": schedule_arn},
                },
            }
        ],
    }


def writer_trust(runner_role_arn: str) -> dict[str, Any]:
    """Who may assume a runner's writer role: only the runner's role, only with exactly one ``TenantId`` tag
    (:func:`saas_platform.components.iam.tenant_writer_trust`). Constant in the number of tenants, like the MSK
    consumer's writer trust: the runner checks the job's tenant in the registry before every session."""
    return tenant_writer_trust(runner_role_arn, "RunnerAssumesWithOneTenantTag")


def assume_writer_statement(writer_role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The runner's own grant to take tenant sessions in its writer role: exactly one ``TenantId`` tag, no list
    (:func:`saas_platform.components.iam.assume_tenant_writer_statement`)."""
    return assume_tenant_writer_statement(writer_role_arn)


def registry_key(args: ScheduledJobsArgs) -> dict[str, Any]:
    """DynamoDB's use of the environment key to read the registry for a runner (through DynamoDB only)."""
    if args.kms_key_alias is not None:
        return registry_key_statement(region=args.region, account_id=args.account_id, kms_key_alias=args.kms_key_alias)
    return {
        "Sid": "TenantRegistryKeyThroughDynamoDB",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": args.kms_key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{args.region}.amazonaws.com"}},
    }


def key_statement(
    sid: str, service: str, args: ScheduledJobsArgs, account: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """Sending to an SSE-KMS queue (or publishing to an SSE-KMS topic) needs the key's data-key actions, only
    through that service. With an alias the resource is ``key/*`` narrowed to the alias (known at preview)."""
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": f"{service}.{args.region}.amazonaws.com"}}
    resource: Any = args.kms_key_arn
    if args.kms_key_alias is not None:
        resource = pulumi.Output.concat(f"arn:aws:kms:{args.region}:", account or args.account_id, ":key/*")
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": args.kms_key_alias}
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": resource,
        "Condition": condition,
    }


class ScheduledJobs(pulumi.ComponentResource):
    """The environment's scheduler, job picker, runners, dead-letter queues and alarms (see module doc).

    Example::

        jobs = ScheduledJobs("platform-jobs", ScheduledJobsArgs(
            environment="dev", region="ap-southeast-1", account_id=account, kms_key_arn=key.arn,
            tables={b: JobTable(name=t.table_name, arn=t.table_arn) for b, t in tables.items()},
            registry_table_name=registry.table_name, registry_table_arn=registry.table_arn,
            alarm_topic_arn=topic.arn))
        pulumi.export("scheduleName", jobs.schedule_name)

    Documentation:
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-indexes-general-sparse-indexes.html
    """

    schedule_name: str
    schedule_arn: pulumi.Output[str]
    picker_function_name: pulumi.Output[str]
    picker_role_arn: pulumi.Output[str]
    runner_function_names: dict[str, pulumi.Output[str]]
    runner_role_arns: dict[str, pulumi.Output[str]]
    writer_role_arns: dict[str, pulumi.Output[str]]
    dead_letter_queue_arns: dict[str, pulumi.Output[str]]
    dead_letter_queue_names: dict[str, pulumi.Output[str]]
    notification_topic_arn: pulumi.Output[str]
    due_index_arn: pulumi.Output[str]
    function_names: list[str]
    data_paths: pulumi.Output[list[dict[str, Any]]]

    def __init__(self, name: str, args: ScheduledJobsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:jobs:ScheduledJobs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env = args.environment
        resource_tags = tags(env, "ScheduledJobs", extra=args.extra_tags)
        region, account = args.region, args.account_id
        picker_name = job_picker_function_name(args.name_prefix, env)
        runner_names = {r: runner_function_name(args.name_prefix, r, env) for r in args.runners}
        self.function_names = [picker_name, *runner_names.values()]

        def function_arn(fn: str) -> pulumi.Output[str]:
            return _arn("lambda", region, account, f"function:{fn}")

        jobs_table = args.tables[JOBS_TABLE]
        self.due_index_arn = pulumi.Output.concat(jobs_table.arn, f"/index/{DUE_INDEX}")

        def queue(label: str, physical: str) -> aws.sqs.Queue:
            queue_names[label] = f"{physical}-DLQ"[:80]
            return aws.sqs.Queue(
                f"{name}-{label}-dlq",
                name=queue_names[label],
                kms_master_key_id=args.kms_key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=DLQ_RETENTION_SECONDS,
                tags=resource_tags,
                opts=child,
            )

        queue_names: dict[str, str] = {}
        queues = {"Scheduler": queue("scheduler", scheduler_name(args.name_prefix, env))}
        queues["JobPicker"] = queue("picker", picker_name)
        for runner, fn in runner_names.items():
            queues[runner] = queue(runner.lower(), fn)

        def queue_arn(label: str) -> pulumi.Output[str]:
            """Built from known parts (not ``Queue.arn``) so the documents that name it are known at preview."""
            return _arn("sqs", region, account, queue_names[label.lower() if label != "JobPicker" else "picker"])

        topic_name = f"{args.name_prefix}-Notifications-{env_suffix(env)}"
        topic_arn_known = _arn("sns", region, account, topic_name)
        topic = aws.sns.Topic(
            f"{name}-notifications",
            name=topic_name,
            kms_master_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
        )

        # DynamoDB uses the tables' customer managed key for the caller (picker and writer sessions).
        key_arn_or_pattern: Any = args.kms_key_arn
        if args.kms_key_alias is not None:
            key_arn_or_pattern = pulumi.Output.concat(f"arn:aws:kms:{region}:", account, ":key/*")
        table_key = table_key_statement(key_arn_or_pattern, region, args.kms_key_alias)

        def writer_document(runner: str, bases: list[str], values: list[Any]) -> dict[str, Any]:
            account_id, key_arn, *arns = values
            key = f"arn:aws:kms:{region}:{account_id}:key/*" if args.kms_key_alias is not None else key_arn
            return tenant_data_policy(
                runner,
                dict(zip(bases, arns, strict=True)),
                PRINCIPAL_TAG_TENANT,
                table_key_statement(key, region, args.kms_key_alias),
            )

        # ---- runners
        functions: dict[str, HandlerFunction] = {}
        self.writer_role_arns = {}
        paths: list[DataPath] = []
        sqs_key = {"kms:ViaService": f"sqs.{region}.amazonaws.com"}
        ddb_key = datapaths.dynamodb_kms_context(region)
        for runner, fn in runner_names.items():
            statements: list[Mapping[str, Any]] = [key_statement("DeadLetterQueueKey", "sqs", args)]
            env_vars: dict[str, pulumi.Input[str]] = {"RUNNER": runner, REGISTRY_TABLE_ENV: args.registry_table_name}
            if runner not in SYSTEM_RUNNERS:  # checks one tenant per job; AttGen-System lists them (below)
                statements.append(registry_read_statement(args.registry_table_arn))
            statements.append(registry_key(args))
            used = RUNNER_TABLE_ACTIONS.get(runner, {})
            if used:
                env_vars["TABLES"] = pulumi.Output.json_dumps(
                    {b: {"name": args.tables[b].name, "arn": args.tables[b].arn} for b in sorted(used)}
                )
            writer_name = runner_writer_role_name(args.name_prefix, runner, env)
            writer_arn = pulumi.Output.concat("arn:aws:iam::", account, f":role/{writer_name}")
            if runner not in SYSTEM_RUNNERS:
                env_vars["WRITER_ROLE_ARN"] = writer_arn
                env_vars["KMS_KEY_ARN"] = args.kms_key_arn
                statements.append(assume_writer_statement(writer_arn))
            if runner == "Tenant-Notification-Dispatcher":
                env_vars["NOTIFY_TOPIC_ARN"] = topic_arn_known
                statements += [
                    {
                        "Sid": "PublishNotifications",
                        "Effect": "Allow",
                        "Action": "sns:Publish",
                        "Resource": topic_arn_known,
                    },
                    key_statement("NotificationTopicKey", "sns", args),
                ]
            if runner == "AttGen-System":
                env_vars["ATTGEN_TENANT_FUNCTION"] = runner_names["AttGen-Tenant"]
                statements += [
                    registry_list_statement(args.registry_table_arn),
                    {
                        "Sid": "FanOutToAttGenTenant",
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": function_arn(runner_names["AttGen-Tenant"]),
                    },
                ]
            function = HandlerFunction(
                f"{name}-{runner.lower()}",
                HandlerFunctionArgs(
                    function_name=fn,
                    handler=f"saas_platform.handlers.job_runners.{RUNNER_HANDLERS[runner]}",
                    environment=env,
                    component="ScheduledJobs",
                    kms_key_arn=args.kms_key_arn,
                    description=f"Job runner {runner} (dispatched by the JobPicker)",
                    env=env_vars,
                    statements=statements,
                    layers=args.layers,
                    timeout=RUNNER_TIMEOUT,
                    log_retention_days=args.log_retention_days,
                    dead_letter_arn=queue_arn(runner),
                    depends_on=[queues[runner], topic],
                    extra_tags={**args.extra_tags, "saas:runner": runner},
                ),
                opts=child,
            )
            functions[runner] = function
            label = runner.lower()
            paths += [
                DataPath(
                    name=f"{label}/dead-letter",
                    principal=function.role_arn,
                    principal_type="role",
                    actions=("sqs:SendMessage",),
                    resource=queue_arn(runner),
                    description=f"Lambda writes {runner}'s failed asynchronous events to its DLQ",
                ),
                DataPath(
                    name=f"{label}/dead-letter-key",
                    principal=function.role_arn,
                    principal_type="role",
                    actions=("kms:GenerateDataKey", "kms:Decrypt"),
                    resource=args.kms_key_arn,
                    context=sqs_key,
                    guards=("kms:ViaService",),
                    description="SQS uses the environment key for the dead letter",
                ),
            ]
            paths += [
                path
                for path in registry_read_paths(
                    principal=function.role_arn,
                    table_arn=args.registry_table_arn,
                    kms_key_arn=args.kms_key_arn,
                    region=region,
                    label=label,
                )
                if runner not in SYSTEM_RUNNERS or path.name.endswith("/key")
            ]
            if runner == "AttGen-System":
                paths.append(
                    DataPath(
                        name=f"registry/{label}/list-active",
                        principal=function.role_arn,
                        principal_type="role",
                        actions=("dynamodb:Query",),
                        resource=pulumi.Output.concat(args.registry_table_arn, f"/index/{STATUS_INDEX}"),
                        description="AttGen-System lists the active tenant ids (the registry's keys-only byStatus index)",
                    )
                )
                paths.append(
                    DataPath(
                        name=f"{label}/fan-out",
                        principal=function.role_arn,
                        principal_type="role",
                        actions=("lambda:InvokeFunction",),
                        resource=function_arn(runner_names["AttGen-Tenant"]),
                        description="AttGen-System invokes AttGen-Tenant once per registered tenant",
                    )
                )
            if runner == "Tenant-Notification-Dispatcher":
                paths.append(
                    DataPath(
                        name=f"{label}/publish",
                        principal=function.role_arn,
                        principal_type="role",
                        actions=("sns:Publish",),
                        resource=topic_arn_known,
                        description="the dispatcher publishes the notification to the environment's topic",
                    )
                )
            if runner not in SYSTEM_RUNNERS:
                writer = aws.iam.Role(
                    f"{name}-{runner.lower()}-writer-role",
                    name=writer_name,
                    description=f"Tenant-scoped writer of {fn}: assumed per job with a TenantId session tag",
                    assume_role_policy=pulumi.Output.json_dumps(function.role_arn.apply(writer_trust)),
                    max_session_duration=3600,
                    tags={**resource_tags, "saas:runner": runner},
                    opts=child,
                )
                bases = sorted(used)
                aws.iam.RolePolicy(
                    f"{name}-{runner.lower()}-writer-policy",
                    role=writer.id,
                    policy=pulumi.Output.json_dumps(
                        pulumi.Output.all(account, args.kms_key_arn, *[args.tables[b].arn for b in bases]).apply(
                            lambda v, r=runner, b=bases: writer_document(r, b, v)
                        )
                    ),
                    opts=child,
                )
                self.writer_role_arns[runner] = writer.arn
                session_policy = pulumi.Output.all(args.kms_key_arn, *[args.tables[b].arn for b in bases]).apply(
                    lambda v, r=runner, b=bases: tenant_data_policy(
                        r, dict(zip(b, v[1:], strict=True)), TENANT_PLACEHOLDER, table_key_statement(v[0], region)
                    )
                )
                writer_side: dict[str, Any] = {
                    "principal": writer_arn,
                    "principal_type": "role",
                    "session": {"aws:PrincipalTag/TenantId": TENANT},
                    "session_policy": session_policy,
                    "tenants": args.tenant_ids,
                }
                if not args.tenant_ids:  # the tenants live in cell stacks: no tenant path to declare here
                    continue
                paths.append(
                    DataPath(
                        name=f"{label}/assume-writer",
                        principal=function.role_arn,
                        principal_type="role",
                        actions=("sts:AssumeRole", "sts:TagSession"),
                        resource=writer_arn,
                        context={f"aws:RequestTag/{TENANT_TAG}": TENANT, "aws:TagKeys": [TENANT_TAG]},
                        tenants=args.tenant_ids,
                        tenant_bound=False,
                        registry_checked=True,
                        guards=(f"aws:RequestTag/{TENANT_TAG}",),
                        description=f"{runner} assumes its writer role for the job's tenant (active in the registry), "
                        "tagged with it",
                    )
                )
                for base in bases:
                    paths.append(
                        DataPath(
                            name=f"{label}/writer/{base}",
                            actions=RUNNER_TABLE_ACTIONS[runner][base],
                            resource=args.tables[base].arn,
                            context={"dynamodb:LeadingKeys": [f"TENANT#{TENANT}"]},
                            guards=("dynamodb:LeadingKeys", "aws:PrincipalTag/TenantId"),
                            description=f"the {runner} session works on the tenant's {base} rows",
                            **writer_side,
                        )
                    )
                paths.append(
                    DataPath(
                        name=f"{label}/writer/table-key",
                        actions=("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"),
                        resource=args.kms_key_arn,
                        context=ddb_key,
                        guards=("kms:ViaService",),
                        description="DynamoDB uses the environment key for the writer session",
                        **writer_side,
                    )
                )

        # ---- picker
        picker = HandlerFunction(
            f"{name}-picker",
            HandlerFunctionArgs(
                function_name=picker_name,
                handler="saas_platform.handlers.job_picker.lambda_handler",
                environment=env,
                component="ScheduledJobs",
                kms_key_arn=args.kms_key_arn,
                description="Dispatches due jobs from the TenantJob DueJobs index (every minute)",
                env={
                    "JOBS_TABLE": jobs_table.name,
                    "SHARDS": str(args.shards),
                    "LEASE_SECONDS": str(args.lease_seconds),
                    "RUNNERS": json.dumps(runner_names, sort_keys=True),
                },
                statements=[
                    {
                        "Sid": "ReadDueJobsIndexOnly",
                        "Effect": "Allow",
                        "Action": "dynamodb:Query",
                        "Resource": self.due_index_arn,
                    },
                    {
                        "Sid": "ClaimAndCompleteJobs",
                        "Effect": "Allow",
                        "Action": "dynamodb:UpdateItem",
                        "Resource": jobs_table.arn,
                    },
                    {
                        "Sid": "DispatchToAllowListedRunners",
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": [function_arn(fn) for fn in runner_names.values()],
                    },
                    key_statement("DeadLetterQueueKey", "sqs", args),
                    table_key,
                ],
                layers=args.layers,
                timeout=PICKER_TIMEOUT,
                log_retention_days=args.log_retention_days,
                dead_letter_arn=queue_arn("JobPicker"),
                depends_on=[queues["JobPicker"]],
                extra_tags={**args.extra_tags, "saas:runner": "JobPicker"},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(functions.values())),
        )
        functions["JobPicker"] = picker
        for label, function in functions.items():
            aws.lambda_.FunctionEventInvokeConfig(
                f"{name}-{label.lower()}-async",
                function_name=function.function_name,
                maximum_retry_attempts=ASYNC_RETRIES,
                maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE,
                opts=child,
            )

        # ---- scheduler
        self.schedule_name = scheduler_name(args.name_prefix, env)
        schedule_arn = _arn("scheduler", region, account, f"schedule/default/{self.schedule_name}")
        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            description=f"EventBridge Scheduler role of {self.schedule_name}: invokes the JobPicker only",
            assume_role_policy=pulumi.Output.json_dumps(
                pulumi.Output.all(account, schedule_arn).apply(lambda v: scheduler_trust_policy(v[0], v[1]))
            ),
            tags=resource_tags,
            opts=child,
        )
        scheduler_policy = aws.iam.RolePolicy(
            f"{name}-scheduler-policy",
            role=scheduler_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "InvokePickerOnly",
                            "Effect": "Allow",
                            "Action": "lambda:InvokeFunction",
                            "Resource": function_arn(picker_name),
                        },
                        {
                            "Sid": "DeadLetterQueue",
                            "Effect": "Allow",
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn("Scheduler"),
                        },
                        key_statement("DeadLetterQueueKey", "sqs", args),
                    ],
                }
            ),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=self.schedule_name,
            group_name="default",
            description=f"Fires the JobPicker of {env_suffix(env)} every minute",
            schedule_expression=SCHEDULE_EXPRESSION,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            state="ENABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=function_arn(picker_name),  # known at preview; ordered by depends_on
                role_arn=scheduler_role.arn,
                input=json.dumps({"source": "saas.scheduler", "schedule": self.schedule_name}),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=args.retry_attempts,
                    maximum_event_age_in_seconds=args.max_event_age_seconds,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=queue_arn("Scheduler")),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[scheduler_policy, picker, queues["Scheduler"]]),
        )

        picker_side: dict[str, Any] = {"principal": picker.role_arn, "principal_type": "role"}
        scheduler_side: dict[str, Any] = {"principal": scheduler_role.arn, "principal_type": "role"}
        paths += [
            DataPath(
                name="picker/due-index",
                actions=("dynamodb:Query",),
                resource=self.due_index_arn,
                description="the picker reads due jobs through the DueJobs index only (a system, cross-tenant read)",
                **picker_side,
            ),
            DataPath(
                name="picker/claim",
                actions=("dynamodb:UpdateItem",),
                resource=jobs_table.arn,
                description="conditional claim, completion and failure of job items",
                **picker_side,
            ),
            DataPath(
                name="picker/table-key",
                actions=("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"),
                resource=args.kms_key_arn,
                context=ddb_key,
                guards=("kms:ViaService",),
                description="DynamoDB uses the environment key for the picker",
                **picker_side,
            ),
            *(
                DataPath(
                    name=f"picker/dispatch/{runner.lower()}",
                    actions=("lambda:InvokeFunction",),
                    resource=function_arn(fn),
                    description=f"asynchronous dispatch to {runner}",
                    **picker_side,
                )
                for runner, fn in runner_names.items()
            ),
            DataPath(
                name="picker/dead-letter",
                actions=("sqs:SendMessage",),
                resource=queue_arn("JobPicker"),
                description="Lambda writes the picker's failed asynchronous events to its DLQ",
                **picker_side,
            ),
            DataPath(
                name="scheduler/invoke-picker",
                actions=("lambda:InvokeFunction",),
                resource=function_arn(picker_name),
                description="EventBridge Scheduler invokes the picker every minute",
                **scheduler_side,
            ),
            DataPath(
                name="scheduler/dead-letter",
                actions=("sqs:SendMessage",),
                resource=queue_arn("Scheduler"),
                description="the scheduler dead-letters a tick it could not deliver",
                **scheduler_side,
            ),
            DataPath(
                name="scheduler/dead-letter-key",
                actions=("kms:GenerateDataKey", "kms:Decrypt"),
                resource=args.kms_key_arn,
                context=sqs_key,
                guards=("kms:ViaService",),
                description="SQS uses the environment key for the scheduler's dead letter",
                **scheduler_side,
            ),
        ]
        self.data_paths = datapaths.declare(paths)

        # ---- alarms
        if args.alarm_topic_arn is not None:
            topic_arn = args.alarm_topic_arn

            def alarm(label: str, description: str, **kw: Any) -> None:
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{label}",
                    alarm_description=description,
                    evaluation_periods=1,
                    treat_missing_data="notBreaching",
                    alarm_actions=[topic_arn],
                    ok_actions=[topic_arn],
                    tags=resource_tags,
                    opts=child,
                    **kw,
                )

            for label, q in queues.items():
                alarm(
                    f"{label.lower()}-dlq-depth",
                    f"{label}: messages in the dead-letter queue (redrive: docs/jobs.md)",
                    namespace="AWS/SQS",
                    metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": q.name},
                    statistic="Maximum",
                    period=300,
                    threshold=0,
                    comparison_operator="GreaterThanThreshold",
                )
            for label, function in functions.items():
                timeout = PICKER_TIMEOUT if label == "JobPicker" else RUNNER_TIMEOUT
                for metric in ("Errors", "Throttles"):
                    alarm(
                        f"{label.lower()}-{metric.lower()}",
                        f"{label}: Lambda {metric.lower()}",
                        namespace="AWS/Lambda",
                        metric_name=metric,
                        dimensions={"FunctionName": function.function_name},
                        statistic="Sum",
                        period=300,
                        threshold=0,
                        comparison_operator="GreaterThanThreshold",
                    )
                alarm(
                    f"{label.lower()}-p99-duration",
                    f"{label}: P99 duration above 80% of the {timeout} s timeout",
                    namespace="AWS/Lambda",
                    metric_name="Duration",
                    dimensions={"FunctionName": function.function_name},
                    extended_statistic="p99",
                    period=300,
                    threshold=timeout * 1000 * 0.8,
                    comparison_operator="GreaterThanThreshold",
                )
            emf = {"service": "ScheduledJobs", "function_name": picker_name}
            alarm(
                "job-lag",
                f"Oldest due job waited more than {args.lag_alarm_seconds} s (JobLagSeconds)",
                namespace="saas",
                metric_name="JobLagSeconds",
                dimensions=emf,
                statistic="Maximum",
                period=60,
                threshold=args.lag_alarm_seconds,
                comparison_operator="GreaterThanThreshold",
            )
            alarm(
                "jobs-failed",
                "Jobs marked failed by the picker (unknown runner, malformed, dispatch kept failing)",
                namespace="saas",
                metric_name="JobsFailed",
                dimensions=emf,
                statistic="Sum",
                period=300,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
            )

        self.schedule_arn = schedule.arn
        self.picker_function_name = picker.function_name
        self.picker_role_arn = picker.role_arn
        self.runner_function_names = {r: functions[r].function_name for r in runner_names}
        self.runner_role_arns = {r: functions[r].role_arn for r in runner_names}
        self.dead_letter_queue_arns = {label: q.arn for label, q in queues.items()}
        self.dead_letter_queue_names = {label: q.name for label, q in queues.items()}
        self.notification_topic_arn = topic.arn
        self.register_outputs(
            {
                "schedule_arn": self.schedule_arn,
                "picker_function_name": self.picker_function_name,
                "runner_function_names": self.runner_function_names,
                "notification_topic_arn": self.notification_topic_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )
