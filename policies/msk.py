"""MSK cluster and Lambda consumer rules (isolation invariants 43-46).

A Kafka event source mapping is one whose ``eventSourceArn`` is an MSK ARN (``:kafka:``) or that carries
``amazonManagedKafkaEventSourceConfig``. An absent property is a violation (invariant 48).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from saas_platform.policies._common import as_list, get_path, has_key, parse_json_document, statements

CLUSTER: Final = "aws:msk/cluster:Cluster"
SERVERLESS_CLUSTER: Final = "aws:msk/serverlessCluster:ServerlessCluster"
ESM: Final = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION: Final = "aws:lambda/function:Function"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
SECRET_AUTH_TYPES: Final = ("SASL_SCRAM_256_AUTH", "SASL_SCRAM_512_AUTH", "BASIC_AUTH", "CLIENT_CERTIFICATE_TLS_AUTH")
ENI_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
ENI_WRITE_ACTIONS: Final = ("ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface")
ANY_SUBNET_RE: Final = re.compile(r"\*|arn:aws[a-z-]*:ec2:[^:]*:[^:]*:(\*|subnet/\*|\*/\*)")
"""Resource patterns that reach every subnet of an account (``*``, ``arn:aws:ec2:r:a:subnet/*``, ``...:*``)."""


def is_kafka_mapping(props: Mapping[str, Any]) -> bool:
    """An MSK mapping: it has the MSK source config or topics, or (read last: it is unknown at the first preview
    when the cluster is created in the same update) an MSK ``eventSourceArn``."""
    if has_key(props, "amazonManagedKafkaEventSourceConfig") or has_key(props, "topics"):
        return True
    return ":kafka:" in str(props.get("eventSourceArn") or "")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------------------------- clusters


def _cluster_auth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVERLESS_CLUSTER:
        if get_path(args.props, "clientAuthentication", "sasl", "iam", "enabled") is not True:
            report_violation(
                "MSK Serverless cluster without IAM auth: set client_authentication.sasl.iam.enabled=True", None
            )
        return
    if args.resource_type != CLUSTER:
        return
    if get_path(args.props, "clientAuthentication", "sasl", "iam") is not True:
        report_violation("MSK cluster without IAM (SASL) auth: set client_authentication.sasl.iam=True", None)
    if get_path(args.props, "clientAuthentication", "unauthenticated") is True:
        report_violation(
            "MSK cluster allows unauthenticated clients: set client_authentication.unauthenticated=False", None
        )
    if get_path(args.props, "encryptionInfo", "encryptionInTransit", "clientBroker") != "TLS":
        report_violation(
            "client-broker traffic is not TLS-only: set encryption_info.encryption_in_transit.client_broker='TLS'", None
        )


msk_cluster_iam_tls = ResourceValidationPolicy(
    name="msk-cluster-iam-tls",
    description="MSK clusters authenticate clients with IAM, never unauthenticated, and use TLS (invariant 43).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_cluster_auth,
)


def _no_secret_auth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ESM or not is_kafka_mapping(args.props):
        return
    kinds = [
        get_path(c, "type") for c in as_list(args.props.get("sourceAccessConfigurations")) if isinstance(c, Mapping)
    ]
    secret = [k for k in kinds if k in SECRET_AUTH_TYPES]
    if secret:
        report_violation(
            f"MSK mapping authenticates with secrets {secret}; use IAM auth (no source access configuration)", None
        )


msk_esm_iam_auth = ResourceValidationPolicy(
    name="msk-esm-iam-auth",
    description="MSK event source mappings use IAM auth, not SASL/SCRAM, basic or mTLS secrets (invariant 43).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_secret_auth,
)


# --------------------------------------------------------------------------------------------- mappings


def consumer_identity_problems(props: Mapping[str, Any]) -> list[str]:
    """What an MSK event source mapping lacks for a deterministic consumer identity (invariant 44)."""
    problems: list[str] = []
    if not get_path(props, "amazonManagedKafkaEventSourceConfig", "consumerGroupId"):
        problems.append("amazon_managed_kafka_event_source_config.consumer_group_id is not set explicitly")
    if props.get("startingPosition") not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        problems.append("starting_position is not set explicitly")
    topics = as_list(props.get("topics"))
    if len(topics) != 1:
        problems.append(f"topics must hold exactly one topic; got {topics}")
    batch = _number(props.get("batchSize"))
    if batch is None or not 1 <= batch <= 10_000:
        problems.append(f"batch_size must be set to 1-10000; got {props.get('batchSize')!r}")
    if _number(props.get("maximumBatchingWindowInSeconds")) is None:
        problems.append("maximum_batching_window_in_seconds is not set deliberately")
    return problems


def _consumer_identity(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ESM or not is_kafka_mapping(args.props):
        return
    for problem in consumer_identity_problems(args.props):
        report_violation(problem, None)


msk_esm_consumer_identity = ResourceValidationPolicy(
    name="msk-esm-consumer-identity",
    description="MSK mappings set consumer group id, starting position, one topic, batch size and window "
    "explicitly (invariant 44).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_consumer_identity,
)


def poison_record_problems(props: Mapping[str, Any]) -> list[str]:
    """What lets a poison record block an MSK partition (invariant 45)."""
    problems: list[str] = []
    if not isinstance(props.get("provisionedPollerConfig"), Mapping):
        problems.append("provisioned_poller_config is not set (Kafka error-handling controls need provisioned mode)")
    retries = _number(props.get("maximumRetryAttempts"))
    if retries is None or not 0 <= retries <= 10_000:
        problems.append(
            f"maximum_retry_attempts must be 0-10000 (never -1/absent); got {props.get('maximumRetryAttempts')!r}"
        )
    age = _number(props.get("maximumRecordAgeInSeconds"))
    if age is None or not 60 <= age <= 604_800:
        problems.append(
            f"maximum_record_age_in_seconds must be 60-604800; got {props.get('maximumRecordAgeInSeconds')!r}"
        )
    if props.get("bisectBatchOnFunctionError") is not True:
        problems.append("bisect_batch_on_function_error is not True")
    if "ReportBatchItemFailures" not in as_list(props.get("functionResponseTypes")):
        problems.append("function_response_types lacks ReportBatchItemFailures")
    if not get_path(props, "destinationConfig", "onFailure", "destinationArn"):
        problems.append("destination_config.on_failure.destination_arn is not set")
    return problems


def _poison(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ESM or not is_kafka_mapping(args.props):
        return
    for problem in poison_record_problems(args.props):
        report_violation(problem, None)


msk_esm_poison_records = ResourceValidationPolicy(
    name="msk-esm-poison-records",
    description="A poison record cannot block an MSK partition: provisioned pollers, finite retries and record "
    "age, bisect, partial batch responses and an on-failure destination (invariant 45).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_poison,
)


def _payload_destination(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ESM or not is_kafka_mapping(args.props):
        return
    dest = str(get_path(args.props, "destinationConfig", "onFailure", "destinationArn") or "")
    if dest.startswith(("arn:aws:sqs:", "arn:aws:sns:")):
        report_violation(
            "on-failure destination is SQS/SNS, which receive only metadata; prefer an S3 bucket (keeps "
            "the records) or keep a replay-from-offset runbook",
            None,
        )


msk_esm_payload_destination = ResourceValidationPolicy(
    name="msk-esm-payload-destination",
    description="MSK on-failure destinations keep the payload (S3 or Kafka), not just metadata (invariant 45).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_payload_destination,
)


# --------------------------------------------------------------------------------------------- IAM


def _matches(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower())


def kafka_wildcard_problems(doc: Mapping[str, Any]) -> list[str]:
    """``kafka-cluster`` grants that are wildcards or on ``*`` in one policy document (invariant 46)."""
    problems: list[str] = []
    for st in statements(doc):
        if st.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in as_list(st.get("Action"))]
        if st.get("NotAction") is not None:
            problems.append("Allow with NotAction may grant kafka-cluster actions")
            continue
        kafka = [a for a in actions if a.lower().startswith("kafka-cluster:") or a == "*"]
        if any("*" in a for a in kafka):
            problems.append(f"wildcard kafka-cluster actions {[a for a in kafka if '*' in a]}; list the exact actions")
        resources = [str(r) for r in as_list(st.get("Resource"))]
        if kafka and (st.get("NotResource") is not None or any(r == "*" or r.endswith(":*") for r in resources)):
            problems.append(
                f"kafka-cluster actions on {resources or 'NotResource'}; scope them to cluster/topic/group ARNs"
            )
    return problems


NAME_SCOPED_CLUSTER_RE: Final = re.compile(r"arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9-]+/\*")


def arn_covers(pattern: str, arn: str) -> bool:
    """Does an IAM ``Resource`` pattern grant ``arn`` without granting other clusters/topics/groups?

    Exact match, or a wildcard that is exactly the cluster-UUID segment (``cluster/<name>/*``,
    ``topic/<name>/*/<topic>``): cluster names are unique per account and region.
    """
    if pattern == arn:
        return True
    parts = pattern.split("/")
    only_uuid_wildcard = len(parts) >= 3 and parts[2] == "*" and "*" not in "/".join(parts[:2] + parts[3:])
    return only_uuid_wildcard and fnmatchcase(arn, pattern)


def _granted(stmts: list[dict[str, Any]], action: str, target: str | None) -> bool:
    """``action`` allowed on ``target`` (``None``: on any resource, for actions AWS documents on ``*``)."""
    for st in stmts:
        if st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        if not any(_matches(str(p), action) for p in as_list(st.get("Action"))):
            continue
        resources = [str(r) for r in as_list(st.get("Resource"))]
        if target is None or any(arn_covers(r, target) for r in resources):
            return True
    return False


def _allows_action(stmts: list[dict[str, Any]], action: str) -> bool:
    """Some Allow statement names ``action`` (whatever its resources and conditions)."""
    return any(
        st.get("Effect") == "Allow" and any(_matches(str(p), action) for p in as_list(st.get("Action"))) for st in stmts
    )


def _granted_on_any_resource(stmts: list[dict[str, Any]], action: str) -> bool:
    """``action`` allowed in an unconditional statement whose only ``Resource`` is ``"*"`` (how AWS authorizes
    an action without resource-level permissions)."""
    return any(
        st.get("Effect") == "Allow"
        and not st.get("Condition")
        and any(_matches(str(p), action) for p in as_list(st.get("Action")))
        and [str(r) for r in as_list(st.get("Resource"))] == ["*"]
        for st in stmts
    )


def consumer_role_problems(
    esm: Mapping[str, Any], stmts: list[dict[str, Any]], cluster: str | None = None
) -> list[str]:
    """What invariant 46 requires of a Kafka mapping's function role (pure over the role's statements).

    ``cluster`` is the mapping's ``eventSourceArn``; ``None`` when it is not known yet (first preview of a stack
    that creates its cluster): the role must then grant ``kafka-cluster:Connect`` on a ``cluster/<name>/*``
    pattern, and topic and group grants are checked under that cluster name.
    """
    topics = [str(t) for t in as_list(esm.get("topics"))]
    group = str(get_path(esm, "amazonManagedKafkaEventSourceConfig", "consumerGroupId") or "")
    problems: list[str] = []
    if cluster is None:
        candidates = [
            str(r)
            for st in stmts
            if st.get("Effect") == "Allow"
            and any(_matches(str(a), "kafka-cluster:Connect") for a in as_list(st.get("Action")))
            for r in as_list(st.get("Resource"))
            if NAME_SCOPED_CLUSTER_RE.fullmatch(str(r))
        ]
        if not candidates:
            return [
                "the cluster ARN is not known yet and the role grants kafka-cluster:Connect on no cluster/<name>/* "
                "ARN; scope the kafka-cluster actions to the cluster by name"
            ]
        cluster = candidates[0]
    prefix = cluster.replace(":cluster/", ":{kind}/", 1)

    def on(kind: str, name: str) -> str:
        return f"{prefix.format(kind=kind)}/{name}"

    if not (_granted(stmts, "kafka:DescribeClusterV2", cluster) or _granted(stmts, "kafka:DescribeCluster", cluster)):
        problems.append("role lacks kafka:DescribeClusterV2/DescribeCluster on the cluster ARN")
    if not _granted_on_any_resource(stmts, "kafka:GetBootstrapBrokers"):
        problems.append(
            "role lacks kafka:GetBootstrapBrokers on Resource '*' (it supports no resource-level permissions, so "
            "a grant on the cluster ARN is implicitly denied)"
        )
    missing_eni = [a for a in ENI_ACTIONS if not _allows_action(stmts, a)]
    if missing_eni:
        problems.append(f"role lacks the EC2 network-interface actions {missing_eni}")
    problems.extend(network_interface_scope_problems(stmts))
    writes = [
        a
        for a in ("kafka-cluster:CreateTopic", "kafka-cluster:WriteData", "kafka-cluster:WriteDataIdempotently")
        if _allows_action(stmts, a)
    ]
    if writes:
        problems.append(
            f"consumer role may also produce ({writes}): the consumer trusts the tenantId its producers write, so it "
            "must never be one of them; give producers their own role (producer_statements)"
        )
    for action in ("kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"):
        if not _granted(stmts, action, cluster):
            problems.append(f"role lacks {action} on the cluster ARN {cluster}")
    for topic in topics:
        for action in ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"):
            if not _granted(stmts, action, on("topic", topic)):
                problems.append(f"role lacks {action} on the topic ARN of {topic!r}")
    for action in ("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"):
        if not group or not _granted(stmts, action, on("group", group)):
            problems.append(f"role lacks {action} on the consumer group ARN of {group!r}")
    dest = str(get_path(esm, "destinationConfig", "onFailure", "destinationArn") or "")
    if dest.startswith("arn:aws:s3:::"):
        if not _granted(stmts, "s3:PutObject", f"{dest}/*"):
            problems.append(f"role lacks s3:PutObject on {dest}/*")
        if not _granted(stmts, "s3:ListBucket", dest):
            problems.append(f"role lacks s3:ListBucket on {dest}")
    elif dest.startswith("arn:aws:sqs:") and not _granted(stmts, "sqs:SendMessage", dest):
        problems.append(f"role lacks sqs:SendMessage on {dest}")
    elif dest.startswith("arn:aws:sns:") and not _granted(stmts, "sns:Publish", dest):
        problems.append(f"role lacks sns:Publish on {dest}")
    return problems


def network_interface_scope_problems(stmts: list[dict[str, Any]]) -> list[str]:
    """``ec2:CreateNetworkInterface`` / ``DeleteNetworkInterface`` confined to the cluster's network (pure).

    A create grant whose resources reach every subnet (``*``, ``subnet/*``) must carry a condition (the
    ``saas:mskNetwork`` resource tag, or ``ec2:Vpc``); a delete grant on ``*`` or on every interface must be
    conditioned on ``ec2:Vpc`` unless it is confined to interfaces of the account and region
    (``arn:aws:ec2:<region>:<account>:network-interface/*``).
    """
    problems: list[str] = []
    for st in stmts:
        if st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        actions = [a for a in ENI_WRITE_ACTIONS if any(_matches(str(p), a) for p in as_list(st.get("Action")))]
        if not actions:
            continue
        if st.get("NotResource") is not None:
            problems.append(f"{actions} granted with NotResource; scope them to the cluster's network")
            continue
        resources = [str(r) for r in as_list(st.get("Resource"))]
        if "ec2:CreateNetworkInterface" in actions and any(ANY_SUBNET_RE.fullmatch(r) for r in resources):
            problems.append(
                f"ec2:CreateNetworkInterface on {resources} reaches every subnet and security group: name the "
                "cluster's subnets and security groups (or require their saas:mskNetwork tag)"
            )
        if "ec2:DeleteNetworkInterface" in actions and any(
            r == "*" or not re.fullmatch(r"arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:network-interface/\*", r)
            for r in resources
        ):
            problems.append(
                f"ec2:DeleteNetworkInterface on {resources}: confine it to this account's and region's network "
                "interfaces, in the cluster's VPC (ec2:Vpc)"
            )
    return problems


def _deps(resource: PolicyResource, prop: str, type_: str) -> list[PolicyResource]:
    return [d for d in (resource.property_dependencies or {}).get(prop, []) if d.resource_type == type_]


def role_statements(resources: list[PolicyResource], role: PolicyResource) -> list[dict[str, Any]]:
    """Statements of the role's inline policies and of the RolePolicies attached to it.

    Joined through the engine's property dependencies (RolePolicy.role -> Role), which are known at preview,
    not through ids and ARNs, which are not.
    """
    found: list[dict[str, Any]] = []
    for r in resources:
        if r.resource_type == ROLE_POLICY and any(d.urn == role.urn for d in _deps(r, "role", ROLE)):
            found.extend(statements(parse_json_document(r.props.get("policy")) or {}))
    for p in as_list(role.props.get("inlinePolicies")):
        if isinstance(p, Mapping):
            found.extend(statements(parse_json_document(p.get("policy")) or {}))
    return found


def _cluster_arn(esm: PolicyResource) -> str | None:
    try:
        return str(esm.props.get("eventSourceArn") or "")
    except UnknownValueError:  # cluster created in the same update: checked by name (consumer_role_problems)
        return None


def _consumer_roles(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    groups: Counter[str] = Counter()
    for esm in args.resources:
        if esm.resource_type != ESM or not is_kafka_mapping(esm.props):
            continue
        group = str(get_path(esm.props, "amazonManagedKafkaEventSourceConfig", "consumerGroupId") or "")
        if group:
            groups[group] += 1
        functions = _deps(esm, "functionName", FUNCTION)
        roles = _deps(functions[0], "role", ROLE) if functions else []
        if not roles:
            report_violation(
                "MSK mapping's function (or its role) is not part of this stack; its permissions cannot be checked",
                esm.urn,
            )
            continue
        stmts = role_statements(args.resources, roles[0])
        for problem in kafka_wildcard_problems({"Statement": stmts}):
            report_violation(f"consumer role: {problem}", esm.urn)
        for problem in consumer_role_problems(esm.props, stmts, _cluster_arn(esm)):
            report_violation(problem, esm.urn)
    for group, count in groups.items():
        if count > 1:
            report_violation(f"consumer group id {group!r} is used by {count} mappings; it must be unique", None)


msk_consumer_role_permissions = StackValidationPolicy(
    name="msk-consumer-role-permissions",
    description="Each MSK mapping's function role holds the kafka/EC2 actions the service needs, never "
    "kafka-cluster:* or kafka-cluster actions on '*', kafka-cluster "
    "actions on the exact cluster/topic/group ARNs and the on-failure destination permissions; consumer "
    "group ids are unique (invariants 44, 46).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_consumer_roles,
)

POLICIES = [
    msk_cluster_iam_tls,
    msk_esm_iam_auth,
    msk_esm_consumer_identity,
    msk_esm_poison_records,
    msk_esm_payload_destination,
    msk_consumer_role_permissions,
]
