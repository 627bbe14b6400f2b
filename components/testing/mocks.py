"""Deterministic, realistic Pulumi mocks for AWS resources.

Ids and ARNs follow the formats AWS writes (account ``123456789012``, the stack's ``aws:region``), so JSON
policy documents that embed them can be checked exactly, and two runs of the same program produce the same
values. Physical names the program does not set are auto-named like Pulumi does (``<name>-<7 hex>``).

Extend :class:`AwsMocks` (override :meth:`AwsMocks.new_resource` / :meth:`AwsMocks.call`, or add entries to
``RESOURCE_OUTPUTS``) for types this module does not know; unknown resource types still get an id and a
generic ARN, and unknown invokes raise :class:`UnmockedInvokeError` instead of silently returning ``{}``.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import pulumi

ACCOUNT_ID: Final = "123456789012"
RESOURCE_REF_SIG: Final = {"4dabf18193072939515e22adb298388d": "5cf8f73096256a8f31e491e813e4eb8e"}

State = dict[str, Any]


class UnmockedInvokeError(NotImplementedError):
    """The program called a provider function (invoke) that the mocks do not answer."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class _Ctx:
    """What an output builder knows about one registration."""

    def __init__(self, typ: str, name: str, inputs: Mapping[str, Any], region: str, account: str) -> None:
        self.typ, self.name, self.inputs, self.region, self.account = typ, name, inputs, region, account
        self.hex = _digest(typ, name)

    def uuid(self) -> str:
        return str(uuid.UUID(self.hex[:32]))

    def alnum(self, n: int, *, upper: bool = False) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz" + ("ABCDEFGHIJKLMNOPQRSTUVWXYZ" if upper else "")
        value = int(self.hex, 16)
        out = []
        for _ in range(n):
            value, r = divmod(value, len(alphabet))
            out.append(alphabet[r])
        return "".join(out)

    def autoname(self, key: str = "name", prefix_key: str | None = "namePrefix", *, lower: bool = False) -> str:
        """The physical name the provider would use: the input, ``<prefix><suffix>``, or ``<name>-<7 hex>``."""
        given = self.inputs.get(key)
        if isinstance(given, str) and given:
            return given
        prefix = self.inputs.get(prefix_key) if prefix_key else None
        name = f"{prefix}{self.hex[:26]}" if isinstance(prefix, str) and prefix else f"{self.name}-{self.hex[:7]}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"


def _kms_key(c: _Ctx) -> tuple[str, State]:
    key_id = c.uuid()
    return key_id, {"keyId": key_id, "arn": c.arn("kms", f"key/{key_id}")}


def _kms_alias(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    target = c.inputs.get("targetKeyId", "")
    return name, {
        "name": name,
        "arn": c.arn("kms", name),
        "targetKeyArn": target if str(target).startswith("arn:") else "",
    }


def _dynamodb_table(c: _Ctx) -> tuple[str, State]:
    name = c.autoname("name", None)
    arn = c.arn("dynamodb", f"table/{name}")
    state: State = {"name": name, "arn": arn}
    if c.inputs.get("streamEnabled"):
        label = "2026-01-01T00:00:00.000"
        state |= {"streamArn": f"{arn}/stream/{label}", "streamLabel": label}
    return name, state


def _sns_topic(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    arn = c.arn("sns", name)
    return arn, {"name": name, "arn": arn, "owner": c.account}


def _sns_subscription(c: _Ctx) -> tuple[str, State]:
    arn = f"{c.inputs.get('topic', c.arn('sns', 'topic'))}:{c.uuid()}"
    return arn, {"arn": arn, "ownerId": c.account}


def _iam_role(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    path = c.inputs.get("path") or "/"
    return name, {
        "name": name,
        "arn": f"arn:aws:iam::{c.account}:role{path}{name}",
        "uniqueId": "AROA" + c.alnum(17, upper=True).upper(),
        "path": path,
    }


def _iam_policy(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    path = c.inputs.get("path") or "/"
    arn = f"arn:aws:iam::{c.account}:policy{path}{name}"
    return arn, {"name": name, "arn": arn, "policyId": "ANPA" + c.alnum(17, upper=True).upper(), "path": path}


def _iam_role_policy(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    return f"{c.inputs.get('role', 'role')}:{name}", {"name": name}


def _lambda_function(c: _Ctx) -> tuple[str, State]:
    name = c.autoname("name", None)
    arn = c.arn("lambda", f"function:{name}")
    return name, {
        "name": name,
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": f"arn:aws:apigateway:{c.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        "version": "$LATEST",
    }


def _lambda_permission(c: _Ctx) -> tuple[str, State]:
    sid = c.inputs.get("statementId") or f"{c.name}-{c.hex[:7]}"
    return sid, {"statementId": sid}


def _event_source_mapping(c: _Ctx) -> tuple[str, State]:
    u = c.uuid()
    return u, {"uuid": u, "arn": c.arn("lambda", f"event-source-mapping:{u}"), "state": "Enabled"}


def _log_group(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    return name, {"name": name, "arn": c.arn("logs", f"log-group:{name}")}


def _s3_bucket(c: _Ctx) -> tuple[str, State]:
    name = c.autoname("bucket", "bucketPrefix", lower=True)
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{c.region}.amazonaws.com",
        "hostedZoneId": "Z3O0J2DXBE1FTB",
        "region": c.region,
    }


def _bucket_child(c: _Ctx) -> tuple[str, State]:
    return str(c.inputs.get("bucket", c.name)), {}


def _sqs_queue(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    if c.inputs.get("fifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"
    url = f"https://sqs.{c.region}.amazonaws.com/{c.account}/{name}"
    return url, {"name": name, "arn": c.arn("sqs", name), "url": url}


def _user_pool(c: _Ctx) -> tuple[str, State]:
    pool_id = f"{c.region}_{c.alnum(9, upper=True)}"
    return pool_id, {
        "arn": c.arn("cognito-idp", f"userpool/{pool_id}"),
        "endpoint": f"cognito-idp.{c.region}.amazonaws.com/{pool_id}",
        "name": c.inputs.get("name", c.name),
        "creationDate": "2026-01-01T00:00:00Z",
    }


def _user_pool_client(c: _Ctx) -> tuple[str, State]:
    return c.alnum(26), {}


def _user_pool_domain(c: _Ctx) -> tuple[str, State]:
    return str(c.inputs.get("domain", c.name)), {"cloudfrontDistribution": f"d{c.alnum(13)}.cloudfront.net"}


def _identity_pool(c: _Ctx) -> tuple[str, State]:
    pool_id = f"{c.region}:{c.uuid()}"
    return pool_id, {"arn": c.arn("cognito-identity", f"identitypool/{pool_id}")}


def _policy_store(c: _Ctx) -> tuple[str, State]:
    store_id = c.alnum(22, upper=True)
    return store_id, {
        "policyStoreId": store_id,
        "arn": c.arn("verifiedpermissions", f"policy-store/{store_id}", region=False),
    }


def _avp_child(id_key: str) -> Callable[[_Ctx], tuple[str, State]]:
    def build(c: _Ctx) -> tuple[str, State]:
        child_id = c.alnum(22, upper=True)
        store = c.inputs.get("policyStoreId", "store")
        return f"{store},{child_id}" if id_key != "schema" else str(store), {
            id_key: child_id
        } if id_key != "schema" else {}

    return build


def _rest_api(c: _Ctx) -> tuple[str, State]:
    api_id = c.alnum(10)
    return api_id, {
        "rootResourceId": c.alnum(10)[::-1],
        "executionArn": c.arn("execute-api", api_id),
        "arn": f"arn:aws:apigateway:{c.region}::/restapis/{api_id}",
        "createdDate": "2026-01-01T00:00:00Z",
    }


def _msk_cluster(c: _Ctx) -> tuple[str, State]:
    name = c.autoname("clusterName", None)
    cluster_uuid = f"{c.uuid()}-s1" if "serverless" in c.typ else f"{c.uuid()}-1"
    arn = c.arn("kafka", f"cluster/{name}/{cluster_uuid}")
    return arn, {"arn": arn, "clusterName": name, "clusterUuid": cluster_uuid}


def _security_group(c: _Ctx) -> tuple[str, State]:
    sg_id = f"sg-{c.hex[:17]}"
    return sg_id, {"arn": c.arn("ec2", f"security-group/{sg_id}"), "ownerId": c.account, "name": c.autoname()}


def _vpc_endpoint(c: _Ctx) -> tuple[str, State]:
    vpce_id = f"vpce-{c.hex[:17]}"
    return vpce_id, {"arn": c.arn("ec2", f"vpc-endpoint/{vpce_id}"), "state": "available"}


def _apigw_id(c: _Ctx) -> tuple[str, State]:
    return c.alnum(10), {}


def _apigw_stage(c: _Ctx) -> tuple[str, State]:
    api, stage = str(c.inputs.get("restApi", "api")), str(c.inputs.get("stageName", "stage"))
    return f"ags-{api}-{stage}", {
        "arn": f"arn:aws:apigateway:{c.region}::/restapis/{api}/stages/{stage}",
        "executionArn": c.arn("execute-api", f"{api}/{stage}"),
        "invokeUrl": f"https://{api}.execute-api.{c.region}.amazonaws.com/{stage}",
    }


def _apigw_api_key(c: _Ctx) -> tuple[str, State]:
    key_id = c.alnum(10)
    return key_id, {"value": c.alnum(40, upper=True), "arn": f"arn:aws:apigateway:{c.region}::/apikeys/{key_id}"}


def _apigw_usage_plan(c: _Ctx) -> tuple[str, State]:
    plan_id = c.alnum(6)
    return plan_id, {"arn": f"arn:aws:apigateway:{c.region}::/usageplans/{plan_id}"}


def _cloudfront_distribution(c: _Ctx) -> tuple[str, State]:
    dist_id = "E" + c.alnum(13, upper=True).upper()
    return dist_id, {
        "arn": f"arn:aws:cloudfront::{c.account}:distribution/{dist_id}",
        "domainName": f"d{c.alnum(13)}.cloudfront.net",
        "hostedZoneId": "Z2FDTNDATAQYW2",
        "status": "Deployed",
    }


def _cloudfront_oac(c: _Ctx) -> tuple[str, State]:
    return "E" + c.alnum(13, upper=True).upper(), {"etag": c.hex[:13].upper()}


def _load_balancer(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    suffix = f"app/{name}/{c.hex[:16]}"
    arn = c.arn("elasticloadbalancing", f"loadbalancer/{suffix}")
    return arn, {
        "arn": arn,
        "arnSuffix": suffix,
        "name": name,
        "dnsName": f"{name}-{int(c.hex[:8], 16) % 10**9}.{c.region}.elb.amazonaws.com",
        "zoneId": "Z32O12XQLNTSW2",
    }


def _target_group(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    suffix = f"targetgroup/{name}/{c.hex[:16]}"
    arn = c.arn("elasticloadbalancing", suffix)
    return arn, {"arn": arn, "arnSuffix": suffix, "name": name}


def _listener(c: _Ctx) -> tuple[str, State]:
    arn = c.arn("elasticloadbalancing", f"listener/app/{c.name}/{c.hex[:16]}/{c.hex[16:32]}")
    return arn, {"arn": arn}


def _secret(c: _Ctx) -> tuple[str, State]:
    name = c.autoname()
    arn = c.arn("secretsmanager", f"secret:{name}-{c.alnum(6)}")
    return arn, {"arn": arn, "name": name}


def _rds_cluster(c: _Ctx) -> tuple[str, State]:
    ident = c.autoname("clusterIdentifier", "clusterIdentifierPrefix", lower=True)
    secret = c.arn("secretsmanager", f"secret:rds!cluster-{c.uuid()}-{c.alnum(6)}")
    managed = c.inputs.get("manageMasterUserPassword") is True
    return ident, {
        "arn": c.arn("rds", f"cluster:{ident}"),
        "clusterIdentifier": ident,
        "clusterResourceId": "cluster-" + c.alnum(26, upper=True).upper(),
        "endpoint": f"{ident}.cluster-{c.alnum(12)}.{c.region}.rds.amazonaws.com",
        "readerEndpoint": f"{ident}.cluster-ro-{c.alnum(12)}.{c.region}.rds.amazonaws.com",
        "engineVersion": c.inputs.get("engineVersion", ""),
        "port": 5432,
        "masterUserSecrets": [
            {"secretArn": secret, "secretStatus": "active", "kmsKeyId": c.inputs.get("masterUserSecretKmsKeyId", "")}
        ]
        if managed
        else [],
    }


def _generic(c: _Ctx) -> tuple[str, State]:
    service = c.typ.split(":")[1].split("/")[0] if ":" in c.typ else "mock"
    kind = c.typ.rsplit(":", 1)[-1].lower()
    return f"{c.name}-{c.hex[:8]}", {"arn": c.arn(service, f"{kind}/{c.name}")}


RESOURCE_OUTPUTS: Final[dict[str, Callable[[_Ctx], tuple[str, State]]]] = {
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:dynamodb/table:Table": _dynamodb_table,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _iam_role_policy,
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/permission:Permission": _lambda_permission,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _bucket_child,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _bucket_child,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _bucket_child,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _bucket_child,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _bucket_child,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_child,
    "aws:s3/bucketLogging:BucketLogging": _bucket_child,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:cognito/userPool:UserPool": _user_pool,
    "aws:cognito/userPoolClient:UserPoolClient": _user_pool_client,
    "aws:cognito/userPoolDomain:UserPoolDomain": _user_pool_domain,
    "aws:cognito/identityPool:IdentityPool": _identity_pool,
    "aws:verifiedpermissions/policyStore:PolicyStore": _policy_store,
    "aws:cloudfront/distribution:Distribution": _cloudfront_distribution,
    "aws:cloudfront/originAccessControl:OriginAccessControl": _cloudfront_oac,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:rds/cluster:Cluster": _rds_cluster,
    "aws:verifiedpermissions/policy:Policy": _avp_child("policyId"),
    "aws:verifiedpermissions/policyTemplate:PolicyTemplate": _avp_child("policyTemplateId"),
    "aws:verifiedpermissions/identitySource:IdentitySource": _avp_child("identitySourceId"),
    "aws:verifiedpermissions/schema:Schema": _avp_child("schema"),
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:msk/serverlessCluster:ServerlessCluster": _msk_cluster,
    "aws:msk/cluster:Cluster": _msk_cluster,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:apigateway/resource:Resource": _apigw_id,
    "aws:apigateway/authorizer:Authorizer": _apigw_id,
    "aws:apigateway/deployment:Deployment": _apigw_id,
    "aws:apigateway/stage:Stage": _apigw_stage,
    "aws:apigateway/apiKey:ApiKey": _apigw_api_key,
    "aws:apigateway/usagePlan:UsagePlan": _apigw_usage_plan,
}


class AwsMocks(pulumi.runtime.Mocks):
    """Mocks that echo inputs and add the computed outputs AWS would return.

    Args:
        region: the stack's ``aws:region``.
        account_id: the account ARNs are built in.
        stack_outputs: outputs of referenced stacks, keyed by fully qualified stack name, for
            ``pulumi.StackReference`` (a reference to a stack not listed here fails, as it does for real).
        invokes: extra invoke handlers keyed by token, e.g. ``aws:ec2/getVpc:getVpc``.
        first_preview: behave like the provider during the first ``pulumi preview`` of a new stack: custom
            resources return only their inputs, so every provider-computed output (ids, ARNs) is unknown.
            Run with ``preview=True`` to see which policies would degrade to "can't run during preview".
    """

    def __init__(
        self,
        region: str = "ap-southeast-1",
        account_id: str = ACCOUNT_ID,
        stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
        invokes: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] | None = None,
        first_preview: bool = False,
    ) -> None:
        self.region = region
        self.first_preview = first_preview
        self.account_id = account_id
        self.stack_outputs = dict(stack_outputs or {})
        self.invokes = dict(invokes or {})
        self.missing_stack_refs: set[str] = set()
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            ref = args.inputs.get("name", args.name)
            if ref not in self.stack_outputs:
                with self._lock:
                    self.missing_stack_refs.add(ref)
                raise LookupError(
                    f"StackReference {ref!r}: no such stack in this offline run; known: {sorted(self.stack_outputs)}"
                )
            return ref, {"name": ref, "outputs": dict(self.stack_outputs[ref]), "secretOutputNames": []}
        if args.typ.startswith("awsx:"):
            return self.new_awsx_component(args)
        if self.first_preview and args.custom is not False:
            return "", dict(args.inputs)
        ctx = _Ctx(args.typ, args.name, args.inputs, self.region, self.account_id)
        build = RESOURCE_OUTPUTS.get(args.typ, _generic)
        id_, extra = build(ctx)
        if args.custom is False:
            return "", dict(args.inputs)
        return id_, {**args.inputs, **extra, "id": id_}

    def new_awsx_component(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Outputs of a remote awsx component (whose children need the awsx plugin, see docs/offline-plan.md)."""
        if args.typ == "awsx:ec2:Vpc":
            c = _Ctx(args.typ, args.name, args.inputs, self.region, self.account_id)
            n = int(args.inputs.get("numberOfAvailabilityZones") or 2)
            vpc_id = f"vpc-{c.hex[:17]}"
            specs = args.inputs.get("subnetSpecs") or [{"type": "Private"}, {"type": "Public"}]
            kinds = {str(spec.get("type", "")).lower() for spec in specs if isinstance(spec, Mapping)}

            def ids(kind: str) -> list[str]:
                return [f"subnet-{_digest(args.name, kind, str(i))[:17]}" for i in range(n)] if kind in kinds else []

            return "", {
                "vpcId": vpc_id,
                "privateSubnetIds": ids("private"),
                "publicSubnetIds": ids("public"),
                "isolatedSubnetIds": ids("isolated"),
            }
        return "", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self.invoke(args), []

    def invoke(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """The result of one invoke (override this, not ``call``, to add tokens)."""
        token = args.token
        if token in self.invokes:
            return self.invokes[token](args.args)
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/offline-plan",
                "userId": "AIDAOFFLINEPLAN",
                "id": self.account_id,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "name": self.region,
                "region": self.region,
                "id": self.region,
                "endpoint": f"ec2.{self.region}.amazonaws.com",
                "description": self.region,
            }
        if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            name = str(args.args.get("name", "prefix-list"))
            pl_id = f"pl-{_digest(name)[:8]}"
            return {
                "id": pl_id,
                "name": name,
                "arn": f"arn:aws:ec2:{self.region}:aws:prefix-list/{pl_id}",
                "entries": [],
                "maxEntries": 0,
                "ownerId": "AWS",
                "tags": {},
                "addressFamily": "IPv4",
                "version": 1,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
        raise UnmockedInvokeError(
            f"no mock for invoke {token!r}; pass invokes={{{token!r}: handler}} to AwsMocks or subclass it"
        )
