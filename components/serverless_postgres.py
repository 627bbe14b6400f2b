"""``ServerlessPostgres``: Aurora PostgreSQL Serverless v2 with its credentials in Secrets Manager, rotated.

* ``aurora-postgresql`` in ``provisioned`` mode with one or more ``db.serverless`` instances scaling between
  ``min_capacity`` and ``max_capacity`` ACUs;
* ``manage_master_user_password``: RDS creates the master credentials in Secrets Manager, encrypted with the
  environment key, and rotates them (every 7 days, RDS's managed schedule); nobody ever sees or sets them;
* storage encrypted with the environment key, IAM database authentication on, TLS required
  (``rds.force_ssl=1`` in the cluster parameter group), PostgreSQL logs exported to CloudWatch;
* the RDS Data API on, so functions reach the database over HTTPS with the secret instead of opening a
  network path;
* its own network: a VPC without an internet gateway, one private subnet per availability zone (two), and a
  security group without any ingress rule (add one for a client inside the VPC with :meth:`allow_from`);
* deletion protection, a final snapshot and 35 days of backups when ``protect`` (prod); 7 days otherwise.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

ENGINE: Final = "aurora-postgresql"
ENGINE_VERSION: Final = "16.6"
PARAMETER_FAMILY: Final = "aurora-postgresql16"
IDENTIFIER_RE: Final = re.compile(r"[a-z][a-z0-9-]{0,62}")
DB_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
POSTGRES_PORT: Final = 5432


@dataclass(frozen=True, kw_only=True)
class ServerlessPostgresArgs:
    """Arguments of :class:`ServerlessPostgres`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        cluster_identifier: physical cluster name (lowercase, 1-63 characters).
        database_name: the initial database.
        master_username: Default ``postgres_admin``; the password is managed by RDS in Secrets Manager.
        kms_key_arn: encrypts storage, the master secret, Performance Insights and exported logs.
        vpc_cidr: the cluster's private network (/20 or larger; two /24-or-larger subnets are carved from it).
        availability_zones: two zones of the stack's region for the subnets.
        min_capacity / max_capacity: ACUs (0-256 / 1-256; ``min <= max``).
        instances: Default 1 (dev); use 2 in prod for a reader in another zone (failover).
        protect: Default ``True``: deletion protection, final snapshot, 35 days of backups, Pulumi ``protect``.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    cluster_identifier: str
    database_name: str
    kms_key_arn: pulumi.Input[str]
    vpc_cidr: str
    availability_zones: tuple[str, str]
    min_capacity: float = 0.5
    max_capacity: float = 2
    master_username: str = "postgres_admin"
    instances: int = 1
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not IDENTIFIER_RE.fullmatch(self.cluster_identifier) or "--" in self.cluster_identifier:
            raise ComponentArgError(
                f"cluster_identifier must be 1-63 lowercase letters, digits or single hyphens starting with a "
                f"letter; got {self.cluster_identifier!r}"
            )
        if not DB_NAME_RE.fullmatch(self.database_name):
            raise ComponentArgError(f"database_name must match {DB_NAME_RE.pattern!r}; got {self.database_name!r}")
        if not DB_NAME_RE.fullmatch(self.master_username) or self.master_username in ("postgres", "rdsadmin"):
            raise ComponentArgError(
                f"master_username must match {DB_NAME_RE.pattern!r} and not be a reserved name; "
                f"got {self.master_username!r}"
            )
        if not 0 <= self.min_capacity <= 256 or not 1 <= self.max_capacity <= 256:
            raise ComponentArgError(
                f"capacity must be 0-256 (min) and 1-256 (max) ACUs; got {self.min_capacity}-{self.max_capacity}"
            )
        if self.min_capacity > self.max_capacity:
            raise ComponentArgError(f"min_capacity {self.min_capacity} exceeds max_capacity {self.max_capacity}")
        try:
            network = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError as exc:
            raise ComponentArgError(f"vpc_cidr is not a network: {exc}") from None
        if network.version != 4 or not network.is_private or network.prefixlen > 23:
            raise ComponentArgError(f"vpc_cidr must be a private IPv4 network of /23 or larger; got {self.vpc_cidr!r}")
        if len(set(self.availability_zones)) != 2:
            raise ComponentArgError(f"availability_zones needs two different zones; got {self.availability_zones}")
        if not 1 <= self.instances <= 15:
            raise ComponentArgError(f"instances must be 1-15; got {self.instances}")
        if self.environment == "prod" and not self.protect:
            raise ComponentArgError("protect=False is refused in prod: the database must survive a destroy")

    def subnets(self) -> tuple[str, str]:
        """The two private subnets: the first two halves-of-halves of ``vpc_cidr`` (pure)."""
        network = ipaddress.ip_network(self.vpc_cidr)
        first, second = list(network.subnets(prefixlen_diff=2))[:2]
        return str(first), str(second)


class ServerlessPostgres(pulumi.ComponentResource):
    """Aurora PostgreSQL Serverless v2 in a private network, RDS-managed rotated credentials, Data API on.

    Example::

        db = ServerlessPostgres("compensation-db", ServerlessPostgresArgs(
            environment="dev", cluster_identifier="compensation-dev", database_name="compensation",
            kms_key_arn=base.kms_key_arn, vpc_cidr="10.40.0.0/16",
            availability_zones=("eu-west-1a", "eu-west-1b"), protect=False))
        pulumi.export("clusterArn", db.cluster_arn)

    Documentation:
        https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.html
        https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html
        https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html
    """

    cluster_arn: pulumi.Output[str]
    cluster_identifier: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    database_name: str

    def __init__(self, name: str, args: ServerlessPostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:database:ServerlessPostgres", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        resource_tags = tags(args.environment, "ServerlessPostgres", extra=args.extra_tags)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**resource_tags, "Name": f"{args.cluster_identifier}-db"},
            opts=child,
        )
        subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**resource_tags, "Name": f"{args.cluster_identifier}-db-{zone}"},
                opts=child,
            )
            for i, (cidr, zone) in enumerate(zip(args.subnets(), args.availability_zones, strict=True))
        ]
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=f"{args.cluster_identifier}-db",
            description=f"Private subnets of {args.cluster_identifier}",
            subnet_ids=[s.id for s in subnets],
            tags=resource_tags,
            opts=child,
        )
        self._security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=f"{args.cluster_identifier}-db",
            description=f"{args.cluster_identifier}: no ingress unless granted with allow_from",
            vpc_id=vpc.id,
            tags=resource_tags,
            opts=child,
        )
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-parameters",
            name=f"{args.cluster_identifier}-params",
            family=PARAMETER_FAMILY,
            description=f"{args.cluster_identifier}: TLS required, statement logging of DDL",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ClusterParameterGroupParameterArgs(name="log_statement", value="ddl"),
            ],
            tags=resource_tags,
            opts=child,
        )
        cluster = aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=args.cluster_identifier,
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=ENGINE_VERSION,
            database_name=args.database_name,
            master_username=args.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            iam_database_authentication_enabled=True,
            enable_http_endpoint=True,
            db_subnet_group_name=subnet_group.name,
            db_cluster_parameter_group_name=parameters.name,
            vpc_security_group_ids=[self._security_group.id],
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=args.min_capacity, max_capacity=args.max_capacity
            ),
            backup_retention_period=35 if args.protect else 7,
            preferred_backup_window="02:00-03:00",
            copy_tags_to_snapshot=True,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=f"{args.cluster_identifier}-final" if args.protect else None,
            enabled_cloudwatch_logs_exports=["postgresql"],
            tags=resource_tags,
            opts=keep,
        )
        for i in range(args.instances):
            aws.rds.ClusterInstance(
                f"{name}-instance-{i}",
                identifier=f"{args.cluster_identifier}-{i}",
                cluster_identifier=cluster.id,
                instance_class="db.serverless",
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                engine_version=cluster.engine_version,
                db_subnet_group_name=subnet_group.name,
                publicly_accessible=False,
                auto_minor_version_upgrade=True,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                copy_tags_to_snapshot=True,
                tags=resource_tags,
                opts=child,
            )
        self.cluster_arn = cluster.arn
        self.cluster_identifier = cluster.cluster_identifier
        self.endpoint = cluster.endpoint
        self.reader_endpoint = cluster.reader_endpoint
        self.port = POSTGRES_PORT
        self.secret_arn = cluster.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.security_group_id = self._security_group.id
        self.vpc_id = vpc.id
        self.subnet_ids = [s.id for s in subnets]
        self.database_name = args.database_name
        self.register_outputs(
            {"cluster_arn": self.cluster_arn, "endpoint": self.endpoint, "secret_arn": self.secret_arn}
        )

    def data_api_statements(self, kms_key_arn: pulumi.Input[str], region: str) -> list[dict[str, object]]:
        """IAM statements a function needs to run SQL through the Data API as the managed master user:
        ``rds-data:ExecuteStatement``/transactions on this cluster, ``GetSecretValue`` on its secret and
        ``kms:Decrypt`` of the key only through Secrets Manager."""
        return [
            {
                "Sid": "DataApiOnCluster",
                "Effect": "Allow",
                "Action": [
                    "rds-data:ExecuteStatement",
                    "rds-data:BatchExecuteStatement",
                    "rds-data:BeginTransaction",
                    "rds-data:CommitTransaction",
                    "rds-data:RollbackTransaction",
                ],
                "Resource": self.cluster_arn,
            },
            {
                "Sid": "ClusterSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": self.secret_arn,
            },
            {
                "Sid": "DecryptSecretThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ]

    def allow_from(self, label: str, security_group_id: pulumi.Input[str]) -> aws.vpc.SecurityGroupIngressRule:
        """Let one client security group reach PostgreSQL (5432/tcp) - the only ingress the cluster gets."""
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-from-{label}",
            security_group_id=self._security_group.id,
            referenced_security_group_id=security_group_id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            description=f"PostgreSQL from {label}",
            opts=pulumi.ResourceOptions(parent=self),
        )
