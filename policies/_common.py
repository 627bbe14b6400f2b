"""Helpers shared by the rule modules: pure functions over the engine's camelCase property maps."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

TAGGABLE_TYPES: Final[frozenset[str]] = frozenset(
    {
        "aws:kms/key:Key",
        "aws:dynamodb/table:Table",
        "aws:sns/topic:Topic",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cognito/userPool:UserPool",
        "aws:cognito/identityPool:IdentityPool",
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:lambda/function:Function",
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:s3/bucket:Bucket",
        "aws:sqs/queue:Queue",
        "aws:apigateway/restApi:RestApi",
        "aws:apigateway/stage:Stage",
        "aws:apigateway/usagePlan:UsagePlan",
        "aws:apigateway/apiKey:ApiKey",
        "aws:msk/serverlessCluster:ServerlessCluster",
        "aws:verifiedpermissions/policyStore:PolicyStore",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:cloudtrail/trail:Trail",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:rds/cluster:Cluster",
        "aws:rds/clusterInstance:ClusterInstance",
        "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:sfn/stateMachine:StateMachine",
        "aws:cloudfront/distribution:Distribution",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:lb/listener:Listener",
        "aws:lb/listenerRule:ListenerRule",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
        "aws:secretsmanager/secret:Secret",
    }
)
"""Resource types this project creates that accept ``tags`` (pinned against pulumi_aws by a unit test)."""


def as_list(value: Any) -> list[Any]:
    """IAM lets ``Action``, ``Resource`` and condition values be a string or a list.

    pulumi-policy hands validators lists as its own ``Sequence`` proxy (not ``list``), so any non-string
    sequence counts as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str | bytes) else [value]


def parse_json_document(value: Any) -> dict[str, Any] | None:
    """A policy document property (JSON text, or already a dict); ``None`` if absent or not JSON."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except json.JSONDecodeError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def statements(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The statements of an IAM-style policy document (``Statement`` may be one object or a list)."""
    for st in as_list(doc.get("Statement")):
        if isinstance(st, dict):
            yield st


def get_path(props: Mapping[str, Any], *path: str | int) -> Any:
    """``get_path(props, "serverSideEncryption", "enabled")``; ``None`` when any step is missing."""
    cur: Any = props
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, Sequence) or isinstance(cur, str) or len(cur) <= step:
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, Mapping) or step not in cur:
                return None
            cur = cur[step]
    return cur


def has_key(mapping: Any, key: str) -> bool:
    """Is ``key`` present, whatever its value? Iterates keys only, so a value that is unknown during
    ``pulumi preview`` (e.g. a KMS key ARN of a key created in the same update) does not abort the rule."""
    return isinstance(mapping, Mapping) and any(k == key for k in mapping)


def index_keys(index: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(partition key, sort key)`` of a DynamoDB global secondary index as the engine sees it: from
    ``keySchemas`` (``[{attributeName, keyType: HASH|RANGE}]``, what pulumi-aws 7 asks for) when present, else
    from the deprecated ``hashKey``/``rangeKey``. A key that is not set is ``None``."""
    schemas = [s for s in as_list(index.get("keySchemas")) if isinstance(s, Mapping)]
    if schemas:
        by_type = {s.get("keyType"): s.get("attributeName") for s in schemas}
        return by_type.get("HASH"), by_type.get("RANGE")
    return index.get("hashKey"), index.get("rangeKey")
