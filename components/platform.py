"""``Platform``: everything one environment needs, composed from the stack config.

For now it holds the shared, per-environment pieces: the environment's KMS key, the pool tables of seed
004 and the alarm topic. Tenants, identity, authorization and the image pipeline are composed here by the
components that own them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.api import ApiTenant, TenantApi, TenantApiArgs
from components.authorization import TenantAuthorization, TenantAuthorizationArgs, TenantIdentityOutputs
from components.config import StackConfig
from components.errors import ComponentArgError
from components.lambda_function import HandlerLayer, HandlerLayerArgs
from components.naming import POOL_TABLES, env_suffix, tags
from components.pool_table import PoolTable, PoolTableArgs


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
                "Sid": "CloudWatchLogsEncryptThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"}
                },
            },
        ],
    }


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    """Arguments of :class:`Platform`: the validated stack config (``components.config.load_stack_config``).

    ``tenant_identities`` (issue 5, until identity lands): each customer tenant's user pool id/ARN, issuer and
    client ids (``TenantIdentity`` satisfies :class:`~components.authorization.TenantIdentityOutputs`). When
    given, every tenant gets a ``TenantAuthorization`` and, if ``saas:api`` is set, the environment a
    ``TenantApi``. On merge with issue 3 this is fed from the ``TenantIdentity`` components built here.
    """

    config: StackConfig
    tenant_identities: Mapping[str, TenantIdentityOutputs] | None = None


class Platform(pulumi.ComponentResource):
    """One environment of the HR SaaS: KMS key, pool tables, alarm topic.

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

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:platform:Platform", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=cfg.protect, retain_on_delete=cfg.protect)
        base_tags = tags(cfg.environment, "Platform", extra=cfg.tags)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        key = aws.kms.Key(
            f"{name}-key",
            description=f"{cfg.name_prefix} {env_suffix(cfg.environment)}: data at rest (tables, buckets, topics, logs)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps(identity.account_id.apply(lambda a: key_policy(a, cfg.region))),
            tags=base_tags,
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{cfg.name_prefix}-{cfg.environment}".lower(),
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
        self.tables = {
            base: PoolTable(
                f"{name}-{base}",
                PoolTableArgs(
                    base_name=base,
                    environment=cfg.environment,
                    kms_key_arn=key.arn,
                    protect=cfg.protect,
                    alarm_topic_arn=topic.arn,
                    extra_tags=cfg.tags,
                ),
                opts=child,
            )
            for base in POOL_TABLES
        }
        layer = HandlerLayer(f"{name}-deps", HandlerLayerArgs(environment=cfg.environment), opts=child)

        # ---- Issue 5: tenant authorization (AVP store per tenant) and the tenant API with its authorizer ----
        self.authorizations: dict[str, TenantAuthorization] = {}
        self.api: TenantApi | None = None
        if args.tenant_identities is not None:
            missing = sorted(set(cfg.tenant_ids) - set(args.tenant_identities))
            if missing:
                raise ComponentArgError(f"tenant_identities has no identity for tenants {missing}")
            identities = args.tenant_identities
            clients = {t: list((identities[t].client_ids.get(cfg.environment) or {}).values()) for t in cfg.tenant_ids}
            for tenant in cfg.tenants:
                tenant_identity = identities[tenant.id]
                self.authorizations[tenant.id] = TenantAuthorization(
                    f"{name}-{tenant.id}-authz",
                    TenantAuthorizationArgs(
                        tenant_id=tenant.id,
                        environment=cfg.environment,
                        user_pool_id=tenant_identity.user_pool_id,
                        user_pool_arn=tenant_identity.user_pool_arn,
                        client_ids=clients[tenant.id],
                        protect=cfg.protect,
                        extra_tags=cfg.tags,
                    ),
                    opts=child,
                )
            if cfg.api is not None:
                self.api = TenantApi(
                    f"{name}-api",
                    TenantApiArgs(
                        environment=cfg.environment,
                        name_prefix=cfg.name_prefix,
                        tenants=[
                            ApiTenant(
                                tenant_id=t.id,
                                tier=t.tier,
                                issuer=identities[t.id].issuer,
                                user_pool_id=identities[t.id].user_pool_id,
                                client_ids=clients[t.id],
                                policy_store_id=self.authorizations[t.id].policy_store_id,
                                policy_store_arn=self.authorizations[t.id].policy_store_arn,
                            )
                            for t in cfg.tenants
                        ],
                        services=cfg.api.services,
                        kms_key_arn=key.arn,
                        layer_arn=layer.arn,
                        tier_throttles=cfg.api.tiers,
                        log_retention_days=cfg.api.log_retention_days,
                        manage_account_log_role=cfg.api.manage_account_log_role,
                        extra_tags=cfg.tags,
                    ),
                    opts=child,
                )
        # ---- end issue 5 ----
        self.kms_key_arn = key.arn
        self.account_id = identity.account_id
        self.handler_layer_arn = layer.arn
        self.alarm_topic_arn = topic.arn
        self.table_names = {base: t.table_name for base, t in self.tables.items()}
        self.table_arns = {base: t.table_arn for base, t in self.tables.items()}
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "alarm_topic_arn": self.alarm_topic_arn,
                "table_names": self.table_names,
            }
        )
