"""Literal stack fixtures for the access rules: every action, condition key and ARN is spelled out here, never
imported from the code under test. ``compliant_stack()`` is a per-tenant stack (acme, globex, system) that
passes every rule; tests mutate one property to make a violating or a missing-property fixture."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2

from saas_platform.components import iam
from saas_platform.components.testing.harness import CapturedOptions, CapturedResource
from saas_platform.components.testing.policy import Violation, analyze, make_analyzer

ACCOUNT = "123456789012"
REGION = "ap-southeast-1"
POOLS = {
    "acme": "ap-southeast-1:11111111-1111-1111-1111-111111111111",
    "globex": "ap-southeast-1:22222222-2222-2222-2222-222222222222",
    "system": "ap-southeast-1:33333333-3333-3333-3333-333333333333",
}
TABLE_EMPLOYMENT = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/EmploymentDev"
TABLE_LEAVE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/LeaveDev"
BUCKET = "arn:aws:s3:::acme-docs-bucket"

Resource = dict[str, Any]  # {"type", "name", "props"}


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def policy_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def trust(*pool_ids: str, tag_session: bool = False, bound: bool = True) -> dict[str, Any]:
    """A Cognito trust. With ``tag_session`` (ABAC), ``bound`` gives the library's shape (one statement per pool,
    requiring ``aws:RequestTag/TenantId`` = the pool's tenant); ``bound=False`` the older unbound shape."""
    if tag_session and bound:
        tenant_of = {p: t for t, p in POOLS.items()}
        return iam.identity_pool_trust_policy(
            list(pool_ids), tag_session=True, tenant_ids=[tenant_of.get(p, "unknown") for p in pool_ids]
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
                if tag_session
                else "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "cognito-identity.amazonaws.com:aud": pool_ids[0] if len(pool_ids) == 1 else list(pool_ids)
                    },
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
            }
        ],
    }


def tenant_doc(segment: str, actions: Sequence[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Items",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": [TABLE_EMPLOYMENT, TABLE_LEAVE, f"{TABLE_LEAVE}/index/ByTenantDate"],
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"TENANT#{segment}"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            },
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"{BUCKET}/tenants/{segment}/*"],
            },
            {
                "Sid": "List",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [BUCKET],
                "Condition": {"StringLike": {"s3:prefix": [f"tenants/{segment}/", f"tenants/{segment}/*"]}},
            },
        ],
    }


ADMIN_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]
USER_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]


def system_doc(actions: Sequence[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Items",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": [TABLE_EMPLOYMENT, f"{TABLE_EMPLOYMENT}/index/*", TABLE_LEAVE, f"{TABLE_LEAVE}/index/*"],
            }
        ],
    }


def _role(name: str, trust_doc: Mapping[str, Any]) -> list[Resource]:
    return [
        {
            "type": "aws:iam/role:Role",
            "name": f"{name}-role",
            "props": {"name": name, "arn": role_arn(name), "assumeRolePolicy": json.dumps(trust_doc), "tags": {}},
        }
    ]


def _policy(name: str, doc: Mapping[str, Any], role: str) -> list[Resource]:
    return [
        {
            "type": "aws:iam/policy:Policy",
            "name": f"{name}-policy",
            "props": {"name": name, "arn": policy_arn(name), "policy": json.dumps(doc)},
        },
        {
            "type": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "name": f"{name}-attachment",
            "props": {"role": role, "policyArn": policy_arn(name)},
        },
    ]


def pool(tenant: str) -> Resource:
    pid = POOLS[tenant]
    return {
        "type": "aws:cognito/identityPool:IdentityPool",
        "name": f"{tenant}-identity-pool",
        "props": {
            "id": pid,
            "arn": f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{pid}",
            "allowUnauthenticatedIdentities": False,
            "cognitoIdentityProviders": [
                {
                    "providerName": f"cognito-idp.{REGION}.amazonaws.com/{REGION}_{tenant}",
                    "clientId": "c",
                    "serverSideTokenCheck": True,
                }
            ],
            "tags": {"saas:tenant": tenant},
        },
    }


def pool_attachment(tenant: str, authenticated: str, mapped: Mapping[str, str]) -> Resource:
    return {
        "type": "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment",
        "name": f"{tenant}-identity-roles",
        "props": {
            "identityPoolId": POOLS[tenant],
            "roles": {"authenticated": role_arn(authenticated)},
            "roleMappings": [
                {
                    "identityProvider": f"cognito-idp.{REGION}.amazonaws.com/{REGION}_{tenant}:c",
                    "type": "Rules",
                    "ambiguousRoleResolution": "Deny",
                    "mappingRules": [
                        {"claim": "custom:tenantRole", "matchType": "Equals", "value": k, "roleArn": role_arn(v)}
                        for k, v in mapped.items()
                    ],
                }
            ],
        },
    }


def gsis(shape: str = "keySchemas") -> list[dict[str, Any]]:
    """The leave table's indexes (one keyed by tenant, one not), as the engine sees them: ``keySchemas`` (what
    the components send since pulumi-aws 7 deprecated the index's ``hashKey``/``rangeKey``) or ``legacy``."""
    keys = {"ByTenantDate": ("TenantId", "Date"), "DueJobs": ("DueBucket", "DueAt")}
    if shape == "legacy":
        return [{"name": n, "hashKey": h, "rangeKey": r} for n, (h, r) in keys.items()]
    return [
        {
            "name": n,
            "keySchemas": [{"attributeName": h, "keyType": "HASH"}, {"attributeName": r, "keyType": "RANGE"}],
        }
        for n, (h, r) in keys.items()
    ]


def tables() -> list[Resource]:
    return [
        {
            "type": "aws:dynamodb/table:Table",
            "name": "employment",
            "props": {
                "name": "EmploymentDev",
                "arn": TABLE_EMPLOYMENT,
                "hashKey": "TenantId",
                "rangeKey": "EntityItem",
            },
        },
        {
            "type": "aws:dynamodb/table:Table",
            "name": "leave",
            "props": {
                "name": "LeaveDev",
                "arn": TABLE_LEAVE,
                "hashKey": "TenantId",
                "globalSecondaryIndexes": gsis(),
            },
        },
    ]


def compliant_stack() -> list[Resource]:
    """acme and globex with per-tenant roles, and the system tenant's admin and support roles."""
    out: list[Resource] = [*tables(), pool("acme"), pool("globex"), pool("system")]
    for t in ("acme", "globex"):
        admin, user = f"{t}-TenantAdminRole", f"{t}-TenantUserRole"
        out += _role(admin, trust(POOLS[t])) + _policy(f"{t}-TenantAdminPolicy", tenant_doc(t, ADMIN_ACTIONS), admin)
        out += _role(user, trust(POOLS[t])) + _policy(f"{t}-TenantUserPolicy", tenant_doc(t, USER_ACTIONS), user)
        out.append(pool_attachment(t, user, {"admin": admin, "user": user}))
    out += _role("SystemAdminRole", trust(POOLS["system"])) + _policy(
        "SystemAdminPolicy", system_doc([*ADMIN_ACTIONS, "dynamodb:DescribeTable"]), "SystemAdminRole"
    )
    out += _role("SystemSupportRole", trust(POOLS["system"])) + _policy(
        "SystemSupportPolicy", system_doc(["dynamodb:GetItem", "dynamodb:Query"]), "SystemSupportRole"
    )
    out.append(
        pool_attachment("system", "SystemSupportRole", {"admin": "SystemAdminRole", "support": "SystemSupportRole"})
    )
    return out


def abac_stack() -> list[Resource]:
    """acme and globex share one ABAC role pair; each pool maps custom:tenantId to the TenantId tag."""
    out: list[Resource] = [*tables(), pool("acme"), pool("globex"), pool("system")]
    pools = (POOLS["acme"], POOLS["globex"])
    out += _role("TenantAdminRole-S00", trust(*pools, tag_session=True)) + _policy(
        "TenantAdminPolicy-S00", tenant_doc("${aws:PrincipalTag/TenantId}", ADMIN_ACTIONS), "TenantAdminRole-S00"
    )
    out += _role("TenantUserRole-S00", trust(*pools, tag_session=True)) + _policy(
        "TenantUserPolicy-S00", tenant_doc("${aws:PrincipalTag/TenantId}", USER_ACTIONS), "TenantUserRole-S00"
    )
    for t in ("acme", "globex"):
        out.append(
            pool_attachment(t, "TenantUserRole-S00", {"admin": "TenantAdminRole-S00", "user": "TenantUserRole-S00"})
        )
        out.append(
            {
                "type": "aws:cognito/identityPoolProviderPrincipalTag:IdentityPoolProviderPrincipalTag",
                "name": f"{t}-principal-tags",
                "props": {
                    "identityPoolId": POOLS[t],
                    "identityProviderName": f"cognito-idp.{REGION}.amazonaws.com/{REGION}_{t}",
                    "useDefaults": False,
                    "principalTags": {"TenantId": "custom:tenantId"},
                },
            }
        )
    return out


def find(stack: list[Resource], name: str) -> Resource:
    (found,) = [r for r in stack if r["name"] == name]
    return found


def edit_doc(stack: list[Resource], name: str, key: str, change: Callable[[dict[str, Any]], None]) -> list[Resource]:
    """A deep copy of ``stack`` with the JSON document ``props[key]`` of resource ``name`` changed in place."""
    out = copy.deepcopy(stack)
    res = find(out, name)
    doc = json.loads(res["props"][key])
    change(doc)
    res["props"][key] = json.dumps(doc)
    return out


def edit_props(stack: list[Resource], name: str, change: Callable[[dict[str, Any]], None]) -> list[Resource]:
    out = copy.deepcopy(stack)
    change(find(out, name)["props"])
    return out


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(props))
    return s


def captured(resources: Sequence[Resource]) -> list[CapturedResource]:
    out = []
    for r in resources:
        urn = f"urn:pulumi:test::saas::{r['type']}::{r['name']}"
        raw = _struct(r["props"])
        out.append(
            CapturedResource(
                urn=urn,
                type=r["type"],
                name=r["name"],
                parent=None,
                custom=True,
                remote=False,
                inputs=dict(r["props"]),
                id=None,
                state=dict(r["props"]),
                options=CapturedOptions(),
                dependencies=[],
                property_dependencies={},
                raw_inputs=raw,
                raw_outputs=raw,
            )
        )
    return out


def violations(
    policies: Sequence[Any], resources: Sequence[Resource], config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    """Every violation the given rules report on the fixture, through pulumi-policy's analyzer."""
    from pulumi_policy import EnforcementLevel

    svc = make_analyzer(policies, pack_name="fixture", enforcement_level=EnforcementLevel.MANDATORY, config=config)
    return analyze(svc, captured(resources), [p.name for p in policies]).violations
