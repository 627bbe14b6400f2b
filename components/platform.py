"""``Platform``: everything one environment needs, composed from the stack config.

The environment's shared pieces (KMS key, alarm topic, pool tables of the OptimalHR design, handler layer), the image
pipeline, identity, authorization and tenant access, each composed by the component that owns it. The
constructor is a list of composition steps (see :class:`Platform`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.access import SystemAccess, SystemAccessArgs, TenantRoles, build_tenant_access
from saas_platform.components.alarms import alarm_topic_policy_resource
from saas_platform.components.api import ApiTenant, ImageUploadIntegration, TenantApi, TenantApiArgs
from saas_platform.components.authorization import TenantAuthorization
from saas_platform.components.cell import IMAGE_METADATA_TABLE, kms_key_alias, platform_export
from saas_platform.components.config import StackConfig
from saas_platform.components.dashboard import PlatformDashboard, PlatformDashboardArgs
from saas_platform.components.datapaths import DataPath
from saas_platform.components.identity import (
    SharedTenantIdentities,
    SharedTenantIdentitiesArgs,
    TenantIdentityOutputs,
    TenantIdentityPool,
    identity_export,
)
from saas_platform.components.image_pipeline import ImagePipeline, ImagePipelineArgs
from saas_platform.components.jobs import DUE_JOBS_INDEX, JOBS_TABLE, JobTable, ScheduledJobs, ScheduledJobsArgs
from saas_platform.components.lambda_function import HandlerLayer, HandlerLayerArgs
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs
from saas_platform.components.msk_consumer import (
    DevMskCluster,
    DevMskClusterArgs,
    MskConsumer,
    MskConsumerArgs,
    MskNetwork,
)
from saas_platform.components.naming import DEFAULT_NAME_PREFIX, POOL_TABLES, SYSTEM_TENANT, env_suffix, tags
from saas_platform.components.pool_table import PoolTable, PoolTableArgs
from saas_platform.components.registry import TenantRegistry, TenantRegistryArgs, TenantStatus
from saas_platform.components.tenant_steps import (
    authorization,
    identity_pool,
    owned_identity,
    register_tenant,
    sign_in_triggers,
)
from saas_platform.components.triggers import CognitoTriggers

INVENTORY_TENANT: Final = "example"
"""Stand-in tenant of the data-path inventory in a platform stack that holds no tenants (all in cells)."""
ACCESS_LOG_RETENTION_DAYS = 90
ACCESS_LOG_NONCURRENT_DAYS = 30
DOCUMENT_NONCURRENT_DAYS = 30


def bucket_name(prefix: str, environment: str, purpose: str, account_id: str) -> str:
    """Physical bucket name ``<prefix>-<env>-<purpose>-<account>`` (lowercase, <= 63 characters).

    Built from known values (config + the caller identity) so bucket policies are known at preview.
    """
    name = f"{prefix}-{environment}-{purpose}-{account_id}".lower()
    if len(name) > 63:
        raise ValueError(f"bucket name {name!r} is {len(name)} characters; S3 allows 63. Shorten saas:namePrefix.")
    return name


def key_policy(account_id: str, region: str) -> dict[str, object]:
    """The environment key's policy: the account administers it through IAM; CloudWatch may use it to publish
    alarms to the encrypted topic, and CloudWatch Logs to encrypt this account's log groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                # No kms:Describe*: DescribeKey carries no encryption context, so under this condition AWS
                # would never allow it (iam-service-authorization-reference flags such dead grants).
                "Sid": "CloudWatchLogsEncryptThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}
                },
            },
        ],
    }


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    """Arguments of :class:`Platform`: the validated stack config (``saas_platform.components.config.load_stack_config``)."""

    config: StackConfig


@dataclass(frozen=True, kw_only=True)
class _Foundation:
    """What the later composition steps build on: the environment key, the alarm topic, the handler layer and
    the caller's account id."""

    key: aws.kms.Key
    key_alias: str
    topic: aws.sns.Topic
    layer: HandlerLayer
    account_id: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class _Buckets:
    """The image pipeline's lifecycle buckets that every environment has."""

    access_logs: LifecycleBucket
    raw: LifecycleBucket
    processed: LifecycleBucket
    documents: LifecycleBucket


class Platform(pulumi.ComponentResource):
    """One environment of the HR SaaS, composed in steps from the stack config.

    The constructor reads as the order of composition; each step is one private method:

    1. ``_foundation``: the environment's KMS key and alias, the encrypted alarm topic and its subscription, the
       pool tables of the OptimalHR design and the handler layer;
    2. ``_buckets``: the lifecycle buckets (access logs, raw and processed images, documents), then the
       ``ImageMetadata`` pool table;
    3. ``_pipeline``: the MSK failure bucket, the dev cluster and one consumer per topic (``saas:msk``);
    4. ``_identity``: user pools (owning stack) or the shared identity export, and one identity pool per tenant;
    5. ``_authorization``: one AVP policy store per customer tenant; ``_api``: the tenant API (``saas:api``);
    6. ``_outputs``: the attributes other steps and the program read;
    7. ``_access``: tenant and system roles, attached to the identity pools.
    8. ``_jobs``: the scheduler, job picker, runners, DLQs and alarms (``saas:jobs``); then the environment's
       ``PlatformDashboard`` and the registry items;
    9. ``_contract``: the ``platform`` output that the environment's cell stacks read (``TenantCell``).

    Example::

        config = stack_config_from_pulumi()
        platform = Platform("platform", PlatformArgs(config=config))
        pulumi.export("tables", platform.table_names)

    Documentation:
        https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    """

    kms_key_arn: pulumi.Output[str]
    account_id: pulumi.Output[str]
    handler_layer_arn: pulumi.Output[str]
    alarm_topic_arn: pulumi.Output[str]
    tables: dict[str, PoolTable]
    table_names: dict[str, pulumi.Output[str]]
    table_arns: dict[str, pulumi.Output[str]]
    access_log_bucket_name: pulumi.Output[str]
    raw_bucket_name: pulumi.Output[str]
    raw_bucket_arn: pulumi.Output[str]
    processed_bucket_name: pulumi.Output[str]
    processed_bucket_arn: pulumi.Output[str]
    document_bucket_name: pulumi.Output[str]
    document_bucket_arn: pulumi.Output[str]
    failure_bucket_name: pulumi.Output[str] | None
    msk_cluster_arn: pulumi.Output[str] | None
    msk_consumers: dict[str, MskConsumer]
    image_pipeline: ImagePipeline | None
    image_worst_case_lifetime_days: int | None
    identities: dict[str, TenantIdentityOutputs]
    identity_pools: dict[str, TenantIdentityPool]
    identity_export: dict[str, object] | None
    tenant_roles: dict[str, TenantRoles]
    system_access: SystemAccess
    authorizations: dict[str, TenantAuthorization]
    api: TenantApi | None
    jobs: ScheduledJobs | None
    dashboard: PlatformDashboard
    registry: TenantRegistry
    triggers: CognitoTriggers | None
    contract: dict[str, object]
    """The ``platform`` stack output cell stacks read (``saas_platform.components.cell``)."""

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:platform:Platform", name, None, opts)
        self._name = name
        self._cfg = args.config
        self._child = pulumi.ResourceOptions(parent=self)

        foundation = self._foundation()
        self.registry = self._registry(foundation)
        buckets = self._buckets(foundation)
        self.tables[IMAGE_METADATA_TABLE] = self._pool_table(IMAGE_METADATA_TABLE, foundation.key, foundation.topic)
        self._pipeline(foundation, buckets)
        self.image_pipeline = self._images(foundation, buckets)
        self._identity(foundation)
        self.authorizations = self._authorization()
        self.api = self._api(foundation)
        self._outputs(foundation)
        self._access()
        self.jobs = self._jobs(foundation)
        self.dashboard = PlatformDashboard(
            f"{name}-dashboard",
            PlatformDashboardArgs(
                environment=self._cfg.environment, region=self._cfg.region, name_prefix=self._cfg.name_prefix
            ),
            opts=self._child,
        )
        self._registry_entries()
        self.contract = self._contract(foundation)
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "alarm_topic_arn": self.alarm_topic_arn,
                "table_names": self.table_names,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )

    # ---- 1. key, alarm topic, pool tables, handler layer -----------------------------------------------------

    def _foundation(self) -> _Foundation:
        cfg, name, child = self._cfg, self._name, self._child
        keep = pulumi.ResourceOptions(parent=self, protect=cfg.protect, retain_on_delete=cfg.protect)
        base_tags = tags(cfg.environment, "Platform", extra=cfg.tags)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        key_alias = kms_key_alias(cfg.name_prefix, cfg.environment)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{cfg.name_prefix} {env_suffix(cfg.environment)}: data at rest (tables, buckets, topics, logs)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(account_id.apply(lambda a: key_policy(a, cfg.region))),
            tags=base_tags,
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=key_alias,
            target_key_id=key.key_id,
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=f"{cfg.name_prefix}-Alarms-{env_suffix(cfg.environment)}",
            kms_master_key_id=key.arn,
            tags=base_tags,
            opts=child,
        )
        aws.sns.TopicSubscription(
            f"{name}-alarms-email",
            topic=topic.arn,
            protocol="email",
            endpoint=cfg.alarms.email,
            opts=child,
        )
        topic_name = f"{cfg.name_prefix}-Alarms-{env_suffix(cfg.environment)}"
        alarm_topic_policy_resource(
            f"{name}-alarms-policy",
            topic=topic,
            topic_name=topic_name,
            account_id=account_id,
            region=cfg.region,
            opts=child,
        )
        self.tables = {base: self._pool_table(base, key, topic) for base in POOL_TABLES}
        layer = HandlerLayer(
            f"{name}-deps",
            # The default prefix keeps today's layer name; another prefix gets its own layer in a shared account.
            HandlerLayerArgs(
                environment=cfg.environment,
                name_prefix="" if cfg.name_prefix == DEFAULT_NAME_PREFIX else cfg.name_prefix,
            ),
            opts=child,
        )
        return _Foundation(key=key, key_alias=key_alias, topic=topic, layer=layer, account_id=account_id)

    def _pool_table(self, base: str, key: aws.kms.Key, topic: aws.sns.Topic) -> PoolTable:
        cfg = self._cfg
        args = PoolTableArgs(
            base_name=base,
            environment=cfg.environment,
            kms_key_arn=key.arn,
            protect=cfg.protect,
            alarm_topic_arn=topic.arn,
            indexes=(DUE_JOBS_INDEX,) if base == JOBS_TABLE and cfg.jobs is not None else (),
            extra_tags=cfg.tags,
            name_prefix=cfg.table_name_prefix,
        )
        return PoolTable(f"{self._name}-{base}", args, opts=self._child)

    # ---- tenant registry (issue #11): the runtime source of truth for tenants -----------------------------------

    def _registry(self, foundation: _Foundation) -> TenantRegistry:
        cfg = self._cfg
        return TenantRegistry(
            f"{self._name}-registry",
            TenantRegistryArgs(
                environment=cfg.environment,
                kms_key_arn=foundation.key.arn,
                account_id=foundation.account_id,
                region=cfg.region,
                protect=cfg.protect,
                extra_tags=cfg.tags,
                name_prefix=cfg.table_name_prefix,
            ),
            opts=self._child,
        )

    def _registry_entries(self) -> None:
        """One registry item per customer tenant (its pool, this environment's clients, identity pool, policy
        store, tier, status and, with the tenant API, its usage key) and one for the system tenant (no store, no
        usage key). A stack that owns the pools also writes every app client with its environment (``appClients``),
        which the shared sign-in triggers read."""
        cfg = self._cfg
        owns_pools = cfg.identity.mode == "own"
        usage_keys = self.api.usage_key_values if self.api is not None else {}
        entries: list[tuple[str, str, TenantStatus]] = [(t.id, t.tier, t.status) for t in cfg.tenants]
        entries.append((SYSTEM_TENANT, SYSTEM_TENANT, "active"))
        keep = pulumi.ResourceOptions(parent=self.registry, depends_on=[self.registry.table])
        for tenant, tier, status in entries:
            register_tenant(
                f"{self._name}-registry-{tenant}",
                cfg,
                table_name=self.registry.table.name,
                tenant=tenant,
                tier=tier,
                status=status,
                identity=self.identities[tenant],
                pool=self.identity_pools[tenant],
                policy_store_id=self.authorizations[tenant].policy_store_id if tenant in self.authorizations else None,
                usage_key=usage_keys.get(tenant),
                owns_pool=owns_pools,
                opts=keep,
            )

    # ---- 2. lifecycle buckets (image pipeline, issue #6) ----------------------------------------------------

    def _bucket(
        self, purpose: str, args: LifecycleBucketArgs, after: list[pulumi.Resource] | None = None
    ) -> LifecycleBucket:
        return LifecycleBucket(
            f"{self._name}-{purpose}", args, opts=pulumi.ResourceOptions(parent=self, depends_on=after)
        )

    def _bucket_name(self, foundation: _Foundation, purpose: str) -> pulumi.Output[str]:
        cfg = self._cfg
        return foundation.account_id.apply(lambda a: bucket_name(cfg.name_prefix, cfg.environment, purpose, a))

    def _data_bucket(
        self,
        foundation: _Foundation,
        access_logs: LifecycleBucket,
        purpose: str,
        data_class: Literal["ephemeral", "durable"],
        *,
        expiration_days: int | None = None,
        noncurrent_days: int = 1,
    ) -> LifecycleBucket:
        cfg = self._cfg
        return self._bucket(
            purpose,
            LifecycleBucketArgs(
                environment=cfg.environment,
                purpose=purpose,
                data_class=data_class,
                bucket_name=self._bucket_name(foundation, purpose),
                kms_key_arn=foundation.key.arn,
                access_log_bucket=access_logs.bucket_name,
                protect=cfg.protect,
                force_destroy=not cfg.protect,
                extra_tags=cfg.tags,
                expiration_days=expiration_days,
                noncurrent_days=noncurrent_days,
            ),
            after=[access_logs],  # log delivery target (and its policy) first
        )

    def _buckets(self, foundation: _Foundation) -> _Buckets:
        cfg = self._cfg
        access_logs = self._bucket(
            "access-logs",
            LifecycleBucketArgs(
                environment=cfg.environment,
                purpose="access-logs",
                data_class="access-logs",
                bucket_name=self._bucket_name(foundation, "access-logs"),
                expiration_days=ACCESS_LOG_RETENTION_DAYS,
                # Versioned: an overwritten or deleted log object stays recoverable for
                # ACCESS_LOG_NONCURRENT_DAYS (the access logs are an audit trail), then expires.
                versioning=True,
                noncurrent_days=ACCESS_LOG_NONCURRENT_DAYS,
                account_id=foundation.account_id,
                protect=cfg.protect,
                force_destroy=not cfg.protect,
                extra_tags=cfg.tags,
            ),
        )
        retention = self._retention_days
        raw = self._data_bucket(foundation, access_logs, "raw-images", "ephemeral", expiration_days=retention)
        processed = self._data_bucket(
            foundation, access_logs, "processed-images", "ephemeral", expiration_days=retention
        )
        documents = self._data_bucket(
            foundation, access_logs, "documents", "durable", noncurrent_days=DOCUMENT_NONCURRENT_DAYS
        )
        self.access_log_bucket_name = access_logs.bucket_name
        self.raw_bucket_name, self.raw_bucket_arn = raw.bucket_name, raw.bucket_arn
        self.processed_bucket_name, self.processed_bucket_arn = processed.bucket_name, processed.bucket_arn
        self.document_bucket_name, self.document_bucket_arn = documents.bucket_name, documents.bucket_arn
        self.image_worst_case_lifetime_days = raw.worst_case_lifetime_days
        return _Buckets(access_logs=access_logs, raw=raw, processed=processed, documents=documents)

    @property
    def _inventory_tenants(self) -> tuple[str, ...]:
        """The tenants the shared pieces' data paths are declared for: this stack's, or :data:`INVENTORY_TENANT`
        when every tenant lives in cells (the grants name no tenant, so one example proves their shape)."""
        return tuple(self._cfg.tenant_ids) or (INVENTORY_TENANT,)

    @property
    def _retention_days(self) -> int:
        return self._cfg.retention_days or 7

    # ---- 3. MSK consumers (image pipeline, issue #6) --------------------------------------------------------

    def _pipeline(self, foundation: _Foundation, buckets: _Buckets) -> None:
        cfg, name = self._cfg, self._name
        self.msk_consumers = {}
        self.failure_bucket_name = None
        self.msk_cluster_arn = None
        if cfg.msk is None:
            return
        msk = cfg.msk
        retention = self._retention_days
        # On-failure destination: full Kafka payloads, so an ephemeral tenant-data bucket (invariant 42).
        failures = self._data_bucket(
            foundation, buckets.access_logs, "msk-failures", "ephemeral", expiration_days=retention
        )
        if msk.create:
            cluster = DevMskCluster(
                f"{name}-msk",
                DevMskClusterArgs(
                    environment=cfg.environment, region=cfg.region, name_prefix=cfg.name_prefix, extra_tags=cfg.tags
                ),
                opts=self._child,
            )
            cluster_arn: pulumi.Input[str] = cluster.cluster_arn
            cluster_name: str | None = cluster.cluster_name
            network = cluster.network
        else:
            assert msk.cluster_arn is not None  # config: exactly one source
            assert msk.network is not None  # config: required with clusterArn
            cluster_arn = msk.cluster_arn
            cluster_name = None
            network = MskNetwork(
                vpc_id=msk.network.vpc_id,
                subnet_ids=tuple(msk.network.subnet_ids),
                security_group_ids=tuple(msk.network.security_group_ids),
            )
        metadata = self.tables[IMAGE_METADATA_TABLE]
        for topic_name in msk.topics:
            self.msk_consumers[topic_name] = MskConsumer(
                f"{name}-consumer-{topic_name}",
                MskConsumerArgs(
                    environment=cfg.environment,
                    region=cfg.region,
                    account_id=foundation.account_id,
                    cluster_arn=cluster_arn,
                    cluster_name=cluster_name,
                    network=network,
                    topic=topic_name,
                    registry_table_name=self.registry.table_name,
                    registry_table_arn=self.registry.table_arn,
                    tenant_ids=self._inventory_tenants,  # data-path inventory only (the authorization matrix)
                    kms_key_arn=foundation.key.arn,
                    kms_key_alias=foundation.key_alias,
                    raw_bucket_name=buckets.raw.bucket_name,
                    raw_bucket_arn=buckets.raw.bucket_arn,
                    failure_bucket_name=failures.bucket_name,
                    failure_bucket_arn=failures.bucket_arn,
                    metadata_table_name=metadata.table_name,
                    metadata_table_arn=metadata.table_arn,
                    retention_days=retention,
                    log_retention_days=cfg.logs.lambda_retention_days,
                    name_prefix=cfg.name_prefix,
                    source_bucket_names=tuple(msk.source_buckets),
                    starting_position=msk.starting_position,
                    batch_size=msk.batch_size,
                    batching_window_seconds=msk.batching_window_seconds,
                    max_retry_attempts=msk.max_retry_attempts,
                    max_record_age_seconds=msk.max_record_age_seconds,
                    min_pollers=msk.min_pollers,
                    max_pollers=msk.max_pollers,
                    layers=[foundation.layer],
                    alarm_topic_arn=foundation.topic.arn,
                    extra_tags=cfg.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[failures, buckets.raw, metadata]),
            )
        self.failure_bucket_name = failures.bucket_name
        self.msk_cluster_arn = pulumi.Output.from_input(cluster_arn)

    # ---- 4. identity (issue #3): user pools (owning stack only), identity pools (every stack) --------------

    def _identity(self, foundation: _Foundation) -> None:
        """Per tenant plus the system tenant. ``identities`` is the same view in both modes; an owning stack also
        exports it (``identity_export``, stack output "identity") for ``mode: shared`` stacks."""
        cfg, name, child = self._cfg, self._name, self._child
        identity_tenants = [*cfg.tenant_ids, SYSTEM_TENANT]
        self.identity_export = None
        self.triggers = None
        if cfg.identity.mode == "own":
            # One pair of sign-in triggers for every pool (sharded by resource-policy size), reading the registry.
            triggers = sign_in_triggers(
                f"{name}-triggers",
                cfg,
                tenant_ids=[SYSTEM_TENANT, *cfg.tenant_ids],
                kms_key_arn=foundation.key.arn,
                kms_key_alias=foundation.key_alias,
                registry_table_name=self.registry.table_name,
                registry_table_arn=self.registry.table_arn,
                layers=[foundation.layer],
                account_id=foundation.account_id,
                opts=child,
            )
            self.triggers = triggers
            owned = {
                t: owned_identity(cfg, t, triggers=triggers, account_id=foundation.account_id, opts=child)
                for t in identity_tenants
            }
            self.identities = {t: i.outputs for t, i in owned.items()}
            self.identity_export = identity_export(cfg.environment, cfg.region, owned)
        else:
            assert cfg.identity.source_stack is not None  # guaranteed by the config model
            shared = SharedTenantIdentities(
                f"{name}-identity",
                SharedTenantIdentitiesArgs(
                    source_stack=cfg.identity.source_stack, tenant_ids=cfg.tenant_ids, environment=cfg.environment
                ),
                opts=child,
            )
            self.identities = shared.tenants
        # Roles are attached in `_access`, once TenantAccess/SystemAccess have built them with this pool's id in trust.
        self.identity_pools = {t: identity_pool(cfg, t, self.identities[t], child) for t in identity_tenants}

    # ---- 5. authorization (issue #5): AVP policy stores, the tenant API ------------------------------------

    def _authorization(self) -> dict[str, TenantAuthorization]:
        """One AVP policy store per customer tenant, bound to that tenant's pool and this environment's clients."""
        cfg = self._cfg
        return {
            t: authorization(f"{self._name}-{t}-authz", cfg, t, self.identities[t], self._child) for t in cfg.tenant_ids
        }

    def _images(self, foundation: _Foundation, buckets: _Buckets) -> ImagePipeline | None:
        """With ``saas:images.enabled``: the processing leg (issue #13: raw -> SQS -> renditions in processed), and
        the upload function where the tenant API serves it (``saas:api``, unless ``saas:images.upload`` is false)."""
        cfg = self._cfg
        if not cfg.images.enabled:
            return None
        metadata = self.tables[IMAGE_METADATA_TABLE]
        return ImagePipeline(
            f"{self._name}-images",
            ImagePipelineArgs(
                environment=cfg.environment,
                region=cfg.region,
                account_id=foundation.account_id,
                registry_table_name=self.registry.table_name,
                registry_table_arn=self.registry.table_arn,
                tenant_ids=self._inventory_tenants,  # data-path inventory only (the authorization matrix)
                kms_key_arn=foundation.key.arn,
                kms_key_alias=foundation.key_alias,
                raw_bucket_name=buckets.raw.bucket_name,
                raw_bucket_arn=buckets.raw.bucket_arn,
                processed_bucket_name=buckets.processed.bucket_name,
                processed_bucket_arn=buckets.processed.bucket_arn,
                metadata_table_name=metadata.table_name,
                metadata_table_arn=metadata.table_arn,
                retention_days=self._retention_days,
                name_prefix=cfg.name_prefix,
                upload=cfg.images.upload and cfg.api is not None,  # the function exists only where it is served
                max_receive_count=cfg.images.max_receive_count,
                batch_size=cfg.images.batch_size,
                max_concurrency=cfg.images.max_concurrency,
                processor_memory_mb=cfg.images.processor_memory_mb,
                layers=[foundation.layer],
                alarm_topic_arn=foundation.topic.arn,
                extra_tags=cfg.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[buckets.raw, buckets.processed, metadata]),
        )

    def _api(self, foundation: _Foundation) -> TenantApi | None:
        """The tenant API and its authorizer when ``saas:api`` is set."""
        cfg = self._cfg
        if cfg.api is None:
            return None
        images = self.image_pipeline
        upload = (
            ImageUploadIntegration(
                function_name=images.upload_function_name_plain,
                function_arn=images.upload_function_arn,
                region=cfg.region,
            )
            if images is not None
            and images.upload_function_arn is not None
            and images.upload_function_name_plain is not None
            else None
        )
        return TenantApi(
            f"{self._name}-api",
            TenantApiArgs(
                environment=cfg.environment,
                name_prefix=cfg.name_prefix,
                tenants=[
                    ApiTenant(tenant_id=t.id, tier=t.tier, policy_store_arn=self.authorizations[t.id].policy_store_arn)
                    for t in cfg.tenants
                ],
                services=cfg.api.services,
                kms_key_arn=foundation.key.arn,
                region=cfg.region,
                account_id=foundation.account_id,
                kms_key_alias=foundation.key_alias,
                registry_table_name=self.registry.table_name,
                registry_table_arn=self.registry.table_arn,
                layer_arn=foundation.layer,
                tier_throttles=cfg.api.tiers,
                log_retention_days=cfg.api.log_retention_days,
                manage_account_log_role=cfg.api.manage_account_log_role,
                jwks_max_stale_seconds=cfg.api.jwks_max_stale_seconds,
                image_upload=upload,
                extra_tags=cfg.tags,
            ),
            opts=self._child,
        )

    # ---- 6. outputs ------------------------------------------------------------------------------------------

    def _outputs(self, foundation: _Foundation) -> None:
        self.kms_key_arn = foundation.key.arn
        self._key_alias = foundation.key_alias
        self.account_id = foundation.account_id
        self.handler_layer_arn = foundation.layer.arn
        self.alarm_topic_arn = foundation.topic.arn
        alarm_example_arn = pulumi.Output.concat(
            "arn:aws:cloudwatch:", self._cfg.region, ":", foundation.account_id, ":alarm:example"
        )
        self.data_paths = datapaths.declare(
            [
                DataPath(
                    name="cloudwatch/alarm-topic-key",
                    principal="cloudwatch.amazonaws.com",
                    principal_type="service",
                    actions=("kms:GenerateDataKey", "kms:Decrypt"),
                    resource=foundation.key.arn,
                    context={"aws:SourceAccount": foundation.account_id, "aws:SourceArn": alarm_example_arn},
                    guards=("aws:SourceAccount",),
                    description="CloudWatch alarms publish to the encrypted alarm topic (SNS asks KMS for them)",
                ),
                DataPath(
                    name="cloudwatch/alarm-publish",
                    principal="cloudwatch.amazonaws.com",
                    principal_type="service",
                    actions=("sns:Publish",),
                    resource=foundation.topic.arn,
                    context={"aws:SourceAccount": foundation.account_id, "aws:SourceArn": alarm_example_arn},
                    guards=("aws:SourceAccount", "aws:SourceArn"),
                    description="CloudWatch alarms publish to the alarm topic (its topic policy)",
                ),
            ]
        )
        self.table_names = {base: t.table_name for base, t in self.tables.items()}
        self.table_arns = {base: t.table_arn for base, t in self.tables.items()}

    # ---- 9. the platform contract (issue #11): what cell stacks read -------------------------------------------

    def _contract(self, foundation: _Foundation) -> dict[str, object]:
        """The ``platform`` output (contract version 1, :func:`saas_platform.components.cell.platform_export`)."""
        cfg = self._cfg
        return platform_export(
            environment=cfg.environment,
            region=cfg.region,
            account_id=foundation.account_id,
            name_prefix=cfg.name_prefix,
            kms_key_arn=foundation.key.arn,
            kms_key_alias=foundation.key_alias,
            alarm_topic_arn=foundation.topic.arn,
            handler_layer_arn=foundation.layer.arn,
            handler_layer_modules=foundation.layer.modules,
            tables={b: (t.table_name, t.table_arn, t.tenant_index_names) for b, t in self.tables.items()},
            document_bucket_arn=self.document_bucket_arn,
            registry_table_name=self.registry.table_name,
            registry_table_arn=self.registry.table_arn,
            usage_plan_ids=self.api.usage_plan_ids if self.api is not None else None,
        )

    # ---- 8. system jobs (issue #12): scheduler, job picker, runners, DLQs, alarms --------------------------------

    def _jobs(self, foundation: _Foundation) -> ScheduledJobs | None:
        cfg = self._cfg
        if cfg.jobs is None:
            return None
        jobs = cfg.jobs
        return ScheduledJobs(
            f"{self._name}-jobs",
            ScheduledJobsArgs(
                environment=cfg.environment,
                region=cfg.region,
                account_id=foundation.account_id,
                tables={b: JobTable(name=t.table_name, arn=t.table_arn) for b, t in self.tables.items()},
                registry_table_name=self.registry.table_name,
                registry_table_arn=self.registry.table_arn,
                tenant_ids=self._inventory_tenants,  # data-path inventory only (the authorization matrix)
                kms_key_arn=foundation.key.arn,
                kms_key_alias=foundation.key_alias,
                name_prefix=cfg.name_prefix,
                runners=tuple(jobs.runners),
                shards=jobs.shards,
                lease_seconds=jobs.lease_seconds,
                retry_attempts=jobs.retry_attempts,
                max_event_age_seconds=jobs.max_event_age_seconds,
                lag_alarm_seconds=jobs.lag_alarm_seconds,
                alarm_topic_arn=foundation.topic.arn,
                layers=[foundation.layer],
                extra_tags=cfg.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.tables[JOBS_TABLE].table]),
        )

    # ---- 7. tenant data isolation (issue #4): tenant and system roles, mapped from identity pools ---------------

    def _access(self) -> None:
        """Platform.table_arns are built from known parts (PoolTable), so the policies are known at preview."""
        cfg, name, child = self._cfg, self._name, self._child
        pools = {t: self.identity_pools[t] for t in cfg.tenant_ids}
        system_pool = self.identity_pools[SYSTEM_TENANT]
        self.tenant_roles = build_tenant_access(
            f"{name}-access",
            mode=cfg.access.mode,
            environment=cfg.environment,
            region=cfg.region,
            pools=pools,
            table_arns=self.table_arns,
            tenant_index_names={base: t.tenant_index_names for base, t in self.tables.items() if t.tenant_index_names},
            document_bucket_arn=self.document_bucket_arn,  # issue 6: the durable document bucket
            kms_key_arn=self.kms_key_arn,
            kms_key_alias=self._key_alias,
            account_id=self.account_id,
            tenants_per_role=cfg.access.tenants_per_role,
            trust_policy_max_chars=cfg.access.trust_policy_quota,
            name_prefix=cfg.name_prefix,
            extra_tags=cfg.tags,
            opts=child,
        )
        self.system_access = SystemAccess(
            f"{name}-system-access",
            SystemAccessArgs(
                environment=cfg.environment,
                identity_pool_id=system_pool.identity_pool_id,
                table_arns=self.table_arns,
                document_bucket_arn=self.document_bucket_arn,  # issue 6: the durable document bucket
                superuser_scan=cfg.access.superuser_scan,
                kms_key_arn=self.kms_key_arn,
                kms_key_alias=self._key_alias,
                account_id=self.account_id,
                region=cfg.region,
                name_prefix=cfg.name_prefix,
                extra_tags=cfg.tags,
            ),
            opts=child,
        )
        system_pool.attach_roles(
            {
                "admin": self.system_access.admin_role_arn,
                "superuser": self.system_access.superuser_role_arn,
                "support": self.system_access.support_role_arn,
            },
            self.system_access.support_role_arn,
        )
