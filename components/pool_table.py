"""``PoolTable``: one shared (pool-model) DynamoDB table of the HR platform.

All tenants share the table; rows are keyed by ``TenantId`` = ``TENANT#<tenantId>`` (partition key) and
``EntityItem`` (sort key), and tenant roles reach only their own partition through
``dynamodb:LeadingKeys`` conditions (see ``saas_platform.components.iam`` and isolation section A).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components.context import resolve_account, resolve_region
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, TABLE_NAME_PREFIX_RE, Environment, table_name, tags

PARTITION_KEY: Final = "TenantId"
SORT_KEY: Final = "EntityItem"
TTL_ATTRIBUTE: Final = "ExpiresAt"
TENANT_KEY_PREFIX: Final = "TENANT#"


def tenant_key(tenant_id: str) -> str:
    """The partition-key value of a tenant's rows: ``TENANT#acme``."""
    return f"{TENANT_KEY_PREFIX}{tenant_id}"


@dataclass(frozen=True, kw_only=True)
class TableIndex:
    """A global secondary index.

    ``tenant_keyed`` is derived: only an index whose partition key is ``TenantId`` may appear in tenant IAM
    policies (isolation invariant 6); others are for system roles (e.g. the job picker's sparse index).
    """

    name: str
    partition_key: str
    sort_key: str | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"

    @property
    def tenant_keyed(self) -> bool:
        return self.partition_key == PARTITION_KEY


@dataclass(frozen=True, kw_only=True)
class PoolTableArgs:
    """Arguments of :class:`PoolTable`.

    Attributes:
        base_name: the table's name without the environment suffix (``Employment``); physical name
            ``<base_name><Suffix>`` (docs/architecture.md, "Names").
        environment: ``dev`` | ``staging`` | ``prod``.
        kms_key_arn: the environment's customer-managed key (SSE-KMS). Required: tables are never encrypted
            with the AWS-owned key.
        protect: Default ``True``. AWS deletion protection plus Pulumi ``protect`` and ``retain_on_delete``:
            the table survives ``pulumi destroy`` and accidental removal from the program.
        stream: Default ``False``. Enable a ``NEW_AND_OLD_IMAGES`` stream (for the BI export pipeline).
        indexes: global secondary indexes; attribute types are strings.
        alarm_topic_arn: where read/write throttle alarms go; ``None`` creates no alarms.
        extra_tags: merged under the ``saas:*`` tags.
        name_prefix: Default ``""``. Prefix of the physical name (``alice`` -> ``alice-EmploymentDev``), for two
            stacks of one environment in one account.
    """

    base_name: str
    environment: Environment
    kms_key_arn: pulumi.Input[str]
    protect: bool = True
    stream: bool = False
    indexes: tuple[TableIndex, ...] = ()
    alarm_topic_arn: pulumi.Input[str] | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    name_prefix: str = ""

    def __post_init__(self) -> None:
        if not self.base_name.isidentifier() or not self.base_name[:1].isupper():
            raise ComponentArgError(
                f"base_name must be a PascalCase identifier like 'Employment'; got {self.base_name!r}"
            )
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not TABLE_NAME_PREFIX_RE.fullmatch(self.name_prefix):
            raise ComponentArgError(
                f"name_prefix must be empty or 1-20 characters of [A-Za-z0-9-] starting with a letter; got "
                f"{self.name_prefix!r}"
            )
        names = [i.name for i in self.indexes]
        if len(set(names)) != len(names):
            raise ComponentArgError(f"index names must be unique; got {names}")

    @property
    def table_name(self) -> str:
        return table_name(self.base_name, self.environment, self.name_prefix)


class PoolTable(pulumi.ComponentResource):
    """A pool-model DynamoDB table: ``TenantId``/``EntityItem`` keys, on-demand, PITR, SSE-KMS, TTL on
    ``ExpiresAt``, deletion protection when ``protect``, and throttle alarms.

    Example::

        table = PoolTable("platform-Employment", PoolTableArgs(
            base_name="Employment", environment="dev", kms_key_arn=key.arn, protect=False))
        pulumi.export("employmentTable", table.table_name)

    Documentation:
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery.html
    """

    table: aws.dynamodb.Table
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    """Built from known parts (region, account, name), so IAM documents that embed it are known during
    ``pulumi preview`` and policy rules can check them (isolation invariant 48). Depend on ``table`` when
    ordering matters."""
    stream_arn: pulumi.Output[str] | None
    tenant_index_names: tuple[str, ...]

    def __init__(self, name: str, args: PoolTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:data:PoolTable", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        resource_tags = tags(args.environment, "PoolTable", extra=args.extra_tags)
        attributes = (
            {PARTITION_KEY, SORT_KEY}
            | {i.partition_key for i in args.indexes}
            | {i.sort_key for i in args.indexes if i.sort_key}
        )
        table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=a, type="S") for a in sorted(attributes)],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=i.name,
                    # key_schemas, not the GSI's hash_key/range_key (deprecated in pulumi-aws 7)
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=i.partition_key, key_type="HASH"
                        ),
                        *(
                            [
                                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                                    attribute_name=i.sort_key, key_type="RANGE"
                                )
                            ]
                            if i.sort_key
                            else []
                        ),
                    ],
                    projection_type=i.projection,
                )
                for i in args.indexes
            ]
            or None,
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            deletion_protection_enabled=args.protect,
            stream_enabled=args.stream or None,
            stream_view_type="NEW_AND_OLD_IMAGES" if args.stream else None,
            tags=resource_tags,
            opts=keep,
        )
        if args.alarm_topic_arn is not None:
            for kind in ("Read", "Write"):
                aws.cloudwatch.MetricAlarm(
                    f"{name}-{kind.lower()}-throttles",
                    alarm_description=f"{args.table_name}: {kind.lower()} requests throttled",
                    namespace="AWS/DynamoDB",
                    metric_name=f"{kind}ThrottleEvents",
                    dimensions={"TableName": table.name},
                    statistic="Sum",
                    period=300,
                    evaluation_periods=1,
                    threshold=0,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_actions=[args.alarm_topic_arn],
                    ok_actions=[args.alarm_topic_arn],
                    tags=resource_tags,
                    opts=child,
                )
        region = resolve_region(None, self)
        account = resolve_account(None, self)
        self.table = table
        self.table_name = pulumi.Output.from_input(args.table_name)
        self.table_arn = pulumi.Output.concat("arn:aws:dynamodb:", region, ":", account, ":table/", args.table_name)
        self.stream_arn = table.stream_arn if args.stream else None
        self.tenant_index_names = tuple(i.name for i in args.indexes if i.tenant_keyed)
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})
