"""Invariants 27-33 through pulumi-policy's analyzer: compliant, violating and missing-property fixtures.

Resource rules get engine-side (camelCase) props; stack rules get small programs that register real
``pulumi_aws`` resources under mocks, so joins (store <-> schema <-> policies <-> identity source, function <->
role <-> role policy) see what the engine would send.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.components.testing.policy import analyze_props, evaluate
from saas_platform.policies.authorization import (
    apigw_authorizer_cache,
    authorizer_least_privilege,
    avp_identity_source_bound,
    avp_identity_source_per_store,
    avp_policy_content,
    avp_same_tenant_entities,
    avp_store_deletion_protection,
    avp_store_per_tenant,
    avp_store_strict_validation,
)
from saas_platform.policies.pack import POLICIES

STORE = "aws:verifiedpermissions/policyStore:PolicyStore"
IDENTITY_SOURCE = "aws:verifiedpermissions/identitySource:IdentitySource"
POLICY = "aws:verifiedpermissions/policy:Policy"
TEMPLATE = "aws:verifiedpermissions/policyTemplate:PolicyTemplate"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
POOL_ARN = "arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_AbCdEf123"
OTHER_POOL_ARN = "arn:aws:cognito-idp:ap-southeast-1:123456789012:userpool/ap-southeast-1_GhIjKl456"
TAGS = {"saas:environment": "prod", "saas:component": "TenantAuthorization", "saas:tenant": "acme"}


def names(violations: list[Any]) -> list[str]:
    return [v.policy for v in violations]


def test_rules_are_in_the_pack_and_mandatory() -> None:
    ours = [p for p in POLICIES if p.name.startswith(("avp-", "apigw-authorizer", "authorizer-"))]
    assert sorted(p.name for p in ours) == sorted(
        [
            "avp-store-strict-validation",
            "avp-store-deletion-protection",
            "avp-identity-source-bound",
            "avp-policy-content",
            "apigw-authorizer-cache",
            "avp-store-per-tenant",
            "avp-identity-source-per-store",
            "avp-same-tenant-entities",
            "authorizer-least-privilege",
        ]
    )
    assert {getattr(p.enforcement_level, "value", None) for p in ours} == {"mandatory"}


# ------------------------------------------------------------------------------------------- resource rules
@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"validationSettings": {"mode": "STRICT"}}, []),
        ({"validationSettings": {"mode": "OFF"}}, ["avp-store-strict-validation"]),
        ({}, ["avp-store-strict-validation"]),
    ],
    ids=["compliant", "violating", "missing"],
)
def test_store_strict(props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([avp_store_strict_validation], STORE, props)) == expected


@pytest.mark.parametrize(
    ("props", "protect", "expected"),
    [
        ({"deletionProtection": "ENABLED", "tags": TAGS}, True, []),
        ({"deletionProtection": "DISABLED", "tags": TAGS}, True, ["avp-store-deletion-protection"]),
        ({"tags": TAGS}, False, ["avp-store-deletion-protection"]),
        ({"deletionProtection": "DISABLED", "tags": {**TAGS, "saas:environment": "dev"}}, False, []),
        (
            {"deletionProtection": "DISABLED", "tags": {**TAGS, "saas:environment": "dev"}},
            True,
            ["avp-store-deletion-protection"],
        ),
        (
            {"deletionProtection": "DISABLED", "tags": {**TAGS, "saas:environment": "staging"}},
            False,
            ["avp-store-deletion-protection"],
        ),
    ],
    ids=["compliant", "violating", "missing", "dev-unprotected-exempt", "dev-protected", "staging-unprotected"],
)
def test_store_deletion_protection(props: dict[str, Any], protect: bool, expected: list[str]) -> None:
    assert names(analyze_props([avp_store_deletion_protection], STORE, props, protect=protect)) == expected


GOOD_SOURCE = {
    "policyStoreId": "PS1",
    "principalEntityType": "OptimalHR::User",
    "configuration": {
        "cognitoUserPoolConfiguration": {
            "userPoolArn": POOL_ARN,
            "clientIds": ["client1"],
            "groupConfiguration": {"groupEntityType": "OptimalHR::UserGroup"},
        }
    },
}


def without(path: list[str], doc: dict[str, Any] = GOOD_SOURCE) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    del cur[path[-1]]
    return out


@pytest.mark.parametrize(
    ("props", "count"),
    [
        (GOOD_SOURCE, 0),
        (without(["principalEntityType"]), 1),
        ({**GOOD_SOURCE, "principalEntityType": "AWS::Cognito"}, 1),
        (without(["configuration", "cognitoUserPoolConfiguration", "clientIds"]), 1),
        (
            {
                **GOOD_SOURCE,
                "configuration": {
                    "cognitoUserPoolConfiguration": {
                        **GOOD_SOURCE["configuration"]["cognitoUserPoolConfiguration"],
                        "clientIds": [],
                    }
                },
            },
            1,
        ),
        (without(["configuration", "cognitoUserPoolConfiguration", "groupConfiguration"]), 1),
        (without(["configuration"]), 1),
    ],
    ids=[
        "compliant",
        "missing-principal-type",
        "aws-cognito",
        "missing-clients",
        "empty-clients",
        "missing-group",
        "missing-configuration",
    ],
)
def test_identity_source_bound(props: dict[str, Any], count: int) -> None:
    assert (
        names(analyze_props([avp_identity_source_bound], IDENTITY_SOURCE, props))
        == ["avp-identity-source-bound"] * count
    )


STATIC = (
    'permit (principal, action in OptimalHR::Action::"SelfRead", resource) when { resource.owner == principal.sub };'
)


@pytest.mark.parametrize(
    ("rtype", "props", "expected"),
    [
        (POLICY, {"definition": {"static": {"statement": STATIC}}}, []),
        (
            POLICY,
            {"definition": {"static": {"statement": "permit (principal, action, resource);"}}},
            ["avp-policy-content"],
        ),
        (
            POLICY,
            {
                "definition": {
                    "static": {"statement": '// all\npermit(\n principal,\n action in X::Action::"A",\n resource\n);'}
                }
            },
            ["avp-policy-content"],
        ),
        (POLICY, {"definition": {"static": {"statement": "forbid (principal, action, resource);"}}}, []),
        (
            POLICY,
            {
                "definition": {
                    "static": {
                        "statement": "forbid (principal, action, resource) unless "
                        '{ resource.tenantId == "{{tenantId}}" };'
                    }
                }
            },
            ["avp-policy-content"],
        ),
        (POLICY, {"definition": {"static": {"statement": STATIC + " " * 10_000}}}, ["avp-policy-content"]),
        (POLICY, {"definition": {}}, ["avp-policy-content"]),
        (POLICY, {}, ["avp-policy-content"]),
        (TEMPLATE, {"statement": "permit (principal in ?principal, action, resource in ?resource);"}, []),
    ],
    ids=[
        "compliant",
        "unconstrained",
        "unconstrained-comment",
        "forbid-all-ok",
        "placeholder",
        "too-big",
        "empty-definition",
        "missing",
        "template",
    ],
)
def test_policy_content(rtype: str, props: dict[str, Any], expected: list[str]) -> None:
    assert names(analyze_props([avp_policy_content], rtype, props)) == expected


@pytest.mark.parametrize(
    ("props", "count"),
    [
        (
            {
                "type": "REQUEST",
                "identitySource": "method.request.header.Authorization",
                "authorizerResultTtlInSeconds": 0,
            },
            0,
        ),
        (
            {
                "type": "REQUEST",
                "identitySource": "method.request.header.Authorization,context.httpMethod,context.resourcePath",
                "authorizerResultTtlInSeconds": 300,
            },
            0,
        ),
        (
            {
                "type": "REQUEST",
                "identitySource": "method.request.header.Authorization",
                "authorizerResultTtlInSeconds": 300,
            },
            1,
        ),
        (
            {
                "type": "REQUEST",
                "identitySource": "method.request.header.X-Tenant-Id,context.httpMethod,context.resourcePath",
                "authorizerResultTtlInSeconds": 300,
            },
            2,
        ),
        ({"type": "REQUEST", "identitySource": "method.request.header.Authorization"}, 1),
        (
            {
                "type": "REQUEST",
                "identitySource": "method.request.header.Authorization,context.httpMethod,context.resourcePath",
                "authorizerResultTtlInSeconds": 7200,
            },
            1,
        ),
    ],
    ids=["ttl-0", "keyed-on-route", "cached-without-route", "no-token", "ttl-missing", "ttl-too-long"],
)
def test_authorizer_cache(props: dict[str, Any], count: int) -> None:
    assert names(analyze_props([apigw_authorizer_cache], AUTHORIZER, props)) == ["apigw-authorizer-cache"] * count


# ------------------------------------------------------------------------------------------- stack rules
SCHEMA_JSON = json.dumps({"OptimalHR": {"entityTypes": {}, "actions": {}}})


def store_program(
    tenant: str = "acme",
    pool_arn: str = POOL_ARN,
    schema: bool = True,
    sources: int = 1,
    depend: bool = True,
    statement: str = STATIC,
    link_principal: str | None = None,
    link_tenant: str | None = None,
    schema_json: str = SCHEMA_JSON,
) -> Callable[[], None]:
    def program() -> None:
        store = aws.verifiedpermissions.PolicyStore(
            f"{tenant}-store",
            validation_settings={"mode": "STRICT"},
            deletion_protection="ENABLED",
            tags={**TAGS, "saas:tenant": tenant},
        )
        deps: list[pulumi.Resource] = []
        if schema:
            deps.append(
                aws.verifiedpermissions.Schema(
                    f"{tenant}-schema", policy_store_id=store.policy_store_id, definition={"value": schema_json}
                )
            )
        opts = pulumi.ResourceOptions(depends_on=deps if depend else [])
        aws.verifiedpermissions.Policy(
            f"{tenant}-policy",
            policy_store_id=store.policy_store_id,
            definition={"static": {"statement": statement}},
            opts=opts,
        )
        template = aws.verifiedpermissions.PolicyTemplate(
            f"{tenant}-template",
            policy_store_id=store.policy_store_id,
            opts=opts,
            statement="permit (principal in ?principal, action, resource in ?resource);",
        )
        if link_principal is not None:
            aws.verifiedpermissions.Policy(
                f"{tenant}-link",
                policy_store_id=store.policy_store_id,
                opts=opts,
                definition={
                    "template_linked": {
                        "policy_template_id": template.policy_template_id,
                        "principal": {"entity_type": "OptimalHR::UserGroup", "entity_id": link_principal},
                        "resource": {"entity_type": "OptimalHR::Tenant", "entity_id": link_tenant or tenant},
                    }
                },
            )
        for i in range(sources):
            aws.verifiedpermissions.IdentitySource(
                f"{tenant}-source-{i}",
                policy_store_id=store.policy_store_id,
                principal_entity_type="OptimalHR::User",
                configuration={
                    "cognito_user_pool_configuration": {
                        "user_pool_arn": pool_arn,
                        "client_ids": ["c1"],
                        "group_configuration": {"group_entity_type": "OptimalHR::UserGroup"},
                    }
                },
            )

    return program


def stack_violations(policy: Any, *programs: Callable[[], None]) -> list[str]:
    def program() -> None:
        for p in programs:
            p()

    return [v.message for v in evaluate(run_function(program, stack="prod"), [policy]).violations]


def test_store_per_tenant_compliant() -> None:
    assert stack_violations(avp_store_per_tenant, store_program("acme"), store_program("globex", OTHER_POOL_ARN)) == []


def test_store_per_tenant_violations() -> None:
    assert any(
        "depend on its store's schema" in m for m in stack_violations(avp_store_per_tenant, store_program(depend=False))
    )
    assert any("0 schemas" in m for m in stack_violations(avp_store_per_tenant, store_program(schema=False)))
    two_ns = json.dumps({"A": {"entityTypes": {}, "actions": {}}, "B": {"entityTypes": {}, "actions": {}}})
    assert any(
        "exactly one is expected" in m
        for m in stack_violations(avp_store_per_tenant, store_program(schema_json=two_ns))
    )

    def second_store() -> None:
        aws.verifiedpermissions.PolicyStore("acme-store-2", validation_settings={"mode": "STRICT"}, tags=TAGS)
        aws.verifiedpermissions.PolicyStore("untagged", validation_settings={"mode": "STRICT"})

    messages = stack_violations(avp_store_per_tenant, store_program(), second_store)
    assert any("has 2 policy stores" in m for m in messages)
    assert any("no saas:tenant tag" in m for m in messages)


def test_identity_source_per_store() -> None:
    assert stack_violations(avp_identity_source_per_store, store_program()) == []
    assert any(
        "0 identity sources" in m for m in stack_violations(avp_identity_source_per_store, store_program(sources=0))
    )
    assert any(
        "2 identity sources" in m for m in stack_violations(avp_identity_source_per_store, store_program(sources=2))
    )
    shared = stack_violations(avp_identity_source_per_store, store_program("acme"), store_program("globex"))
    assert any("share the user pool" in m for m in shared)

    def pools() -> None:
        aws.cognito.UserPool("acme-pool", tags={**TAGS, "saas:tenant": "acme"})

    # the stack owns acme's pool (mock ARN differs from POOL_ARN): the store must be bound to that one
    assert any(
        "not the tenant's own pool" in m
        for m in stack_violations(avp_identity_source_per_store, store_program(), pools)
    )


def test_same_tenant_entities() -> None:
    own = "ap-southeast-1_AbCdEf123|approvers"
    assert stack_violations(avp_same_tenant_entities, store_program(link_principal=own)) == []
    other = stack_violations(avp_same_tenant_entities, store_program(link_principal="ap-southeast-1_GhIjKl456|x"))
    assert any("not an entity of this tenant's pool" in m for m in other)
    wrong_tenant = stack_violations(avp_same_tenant_entities, store_program(link_principal=own, link_tenant="globex"))
    assert any("this store is 'acme'" in m for m in wrong_tenant)
    literal = 'permit (principal == OptimalHR::User::"ap-southeast-1_GhIjKl456|u1", action, resource);'
    assert any(
        "pool 'ap-southeast-1_GhIjKl456'" in m
        for m in stack_violations(avp_same_tenant_entities, store_program(statement=literal))
    )
    no_source = stack_violations(avp_same_tenant_entities, store_program(sources=0, link_principal=own))
    assert any("this tenant's pool None" in m for m in no_source)


def authorizer_program(statements: list[dict[str, Any]], attach: bool = False) -> Callable[[], None]:
    def program() -> None:
        role = aws.iam.Role("authz-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
        aws.iam.RolePolicy(
            "authz-policy", role=role.id, policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
        )
        if attach:
            aws.iam.RolePolicyAttachment(
                "authz-admin", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
            )
        aws.lambda_.Function(
            "authz-fn",
            role=role.arn,
            handler="saas_platform.handlers.authorizer.lambda_handler",
            runtime="python3.13",
            code=pulumi.AssetArchive({}),
            tags={"saas:environment": "prod", "saas:component": "TenantApi"},
        )

    return program


STORE_ARN = "arn:aws:verifiedpermissions::123456789012:policy-store/PSACME0000000000000001"
ALL_STORES = "arn:aws:verifiedpermissions::123456789012:policy-store/*"
STORE_TAGS = {
    "StringEquals": {
        "aws:ResourceTag/saas:environment": "prod",
        "aws:ResourceTag/saas:component": "TenantAuthorization",
    },
    "Null": {"aws:ResourceTag/saas:tenant": "false"},
}
STORE_GRANT = {
    "Effect": "Allow",
    "Action": ["verifiedpermissions:IsAuthorizedWithToken"],
    "Resource": ALL_STORES,
    "Condition": STORE_TAGS,
}
GOOD = [
    STORE_GRANT,
    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "arn:aws:logs:x"},
]


def store_grant(**changes: Any) -> list[dict[str, Any]]:
    """GOOD with the store grant changed (a key set to None is removed)."""
    grant = {k: v for k, v in {**STORE_GRANT, **changes}.items() if v is not None}
    return [grant, *GOOD[1:]]


def tags_without(operator: str, key: str) -> dict[str, Any]:
    out = json.loads(json.dumps(STORE_TAGS))
    del out[operator][key]
    return {k: v for k, v in out.items() if v}


REGISTRY_ARN = "arn:aws:dynamodb:ap-southeast-1:123456789012:table/TenantRegistryDev"
REGISTRY_READ = {
    "Effect": "Allow",
    "Action": ["dynamodb:GetItem", "dynamodb:Query"],
    "Resource": [REGISTRY_ARN, f"{REGISTRY_ARN}/index/byUserPool"],
}
REGISTRY_KEY = {
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:DescribeKey"],
    "Resource": "arn:aws:kms:ap-southeast-1:123456789012:key/*",
    "Condition": {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/aiml-saas-dev"},
        "StringEquals": {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"},
    },
}


@pytest.mark.parametrize(
    ("statements", "attach", "fragment"),
    [
        (GOOD, False, None),
        ([{"Effect": "Allow", "Action": "verifiedpermissions:*", "Resource": "*"}], False, "may call"),
        (
            [{"Effect": "Allow", "Action": "verifiedpermissions:IsAuthorizedWithToken", "Resource": "*"}],
            False,
            "the only accepted resource",
        ),
        (store_grant(Condition=None), False, "without conditions"),
        (store_grant(Resource=[STORE_ARN]), False, "lists policy stores"),
        (store_grant(Resource=[ALL_STORES]), False, None),
        (
            store_grant(Condition=tags_without("StringEquals", "aws:ResourceTag/saas:environment")),
            False,
            "saas:environment = prod",
        ),
        (
            store_grant(
                Condition={
                    **STORE_TAGS,
                    "StringEquals": {**STORE_TAGS["StringEquals"], "aws:ResourceTag/saas:environment": "dev"},
                }
            ),
            False,
            "saas:environment = prod",
        ),
        (
            store_grant(Condition=tags_without("StringEquals", "aws:ResourceTag/saas:component")),
            False,
            "saas:component = TenantAuthorization",
        ),
        (store_grant(Condition=tags_without("Null", "aws:ResourceTag/saas:tenant")), False, "Null aws:ResourceTag"),
        (
            store_grant(
                Condition={
                    **STORE_TAGS,
                    "StringLike": {"aws:ResourceTag/saas:environment": "*"},
                }
            ),
            False,
            "other conditions",
        ),
        (
            [*GOOD, {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "arn:aws:dynamodb:x"}],
            False,
            "'dynamodb:Query'",
        ),
        ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": STORE_ARN}], False, "NotAction"),
        (GOOD, True, "managed policy attached"),
        ([{"Effect": "Allow", "Action": "verifiedpermissions:IsAuthorizedWithToken"}], False, "no resource"),
        ([*GOOD, REGISTRY_READ, REGISTRY_KEY], False, None),
        (
            [*GOOD, {**REGISTRY_READ, "Resource": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/PayrollDev"}],
            False,
            "only the tenant registry table",
        ),
        (
            [*GOOD, {**REGISTRY_READ, "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]}],
            False,
            "'dynamodb:Scan'",
        ),
        ([*GOOD, {**REGISTRY_READ, "Resource": f"{REGISTRY_ARN}*"}], False, "only the tenant registry table"),
        ([*GOOD, {**REGISTRY_KEY, "Condition": {}}], False, "without kms:ViaService"),
        (
            [
                *GOOD,
                {**REGISTRY_KEY, "Condition": {"StringEquals": {"kms:ViaService": "s3.ap-southeast-1.amazonaws.com"}}},
            ],
            False,
            "without kms:ViaService",
        ),
        ([*GOOD, {**REGISTRY_KEY, "Action": ["kms:Decrypt", "dynamodb:GetItem"]}], False, "mixes registry reads"),
    ],
    ids=[
        "compliant",
        "wildcard",
        "any-resource",
        "all-stores-unconditioned",
        "store-list",
        "all-stores-as-list",
        "missing-environment-tag",
        "other-environment-tag",
        "missing-component-tag",
        "missing-tenant-null",
        "extra-condition",
        "dynamodb",
        "not-action",
        "managed",
        "missing-resource",
        "registry-compliant",
        "registry-other-table",
        "registry-scan",
        "registry-wildcard-table",
        "registry-key-any-service",
        "registry-key-via-s3",
        "registry-mixed",
    ],
)
def test_authorizer_least_privilege(statements: list[dict[str, Any]], attach: bool, fragment: str | None) -> None:
    messages = stack_violations(authorizer_least_privilege, authorizer_program(statements, attach))
    if fragment is None:
        assert messages == []
    else:
        assert any(fragment in m for m in messages), messages


def test_authorizer_privilege_at_first_preview_judges_the_known_part_and_never_degrades() -> None:
    """A role policy unknown at preview is judged on its property dependencies, never degraded to "can't run
    during preview": the accepted document names no resource of the stack, so a dependency on a policy store (the
    old store list) or on any other resource is a violation; managed attachments are still seen; the document
    itself is judged on `pulumi up`."""

    def program(shape: str, attach: bool) -> Callable[[], None]:
        def run() -> None:
            store = aws.verifiedpermissions.PolicyStore("acme-store", validation_settings={"mode": "STRICT"})
            table = aws.dynamodb.Table(
                "acme-table", hash_key="TenantId", attributes=[{"name": "TenantId", "type": "S"}]
            )
            grant: dict[str, Any] = {
                "tagged": STORE_GRANT,
                "stores": {**STORE_GRANT, "Resource": [store.arn], "Condition": None},
                "table": {**STORE_GRANT, "Resource": [store.arn, table.arn], "Condition": None},
            }[shape]
            grant = {k: v for k, v in grant.items() if v is not None}
            role = aws.iam.Role("authz-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))
            aws.iam.RolePolicy(
                "authz-policy",
                role=role.id,
                policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [grant]}),
            )
            if attach:
                aws.iam.RolePolicyAttachment(
                    "authz-admin", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
                )
            aws.lambda_.Function(
                "authz-fn",
                role=role.arn,
                handler="saas_platform.handlers.authorizer.lambda_handler",
                runtime="python3.13",
                code=pulumi.AssetArchive({}),
                tags={"saas:environment": "prod"},
            )

        return run

    def messages(shape: str, attach: bool, preview: bool) -> list[str]:
        mocks = AwsMocks(region="ap-southeast-1", first_preview=preview)
        run = run_function(program(shape, attach), stack="prod", preview=preview, mocks=mocks)
        report = evaluate(run, [authorizer_least_privilege])
        assert [v for v in report.violations if v.level != "mandatory"] == []  # nothing degrades to advisory
        return [v.message for v in report.violations]

    assert messages("tagged", attach=False, preview=True) == []
    assert messages("tagged", attach=False, preview=False) == []
    listed = messages("stores", attach=False, preview=True)
    assert any("depends on the policy stores ['acme-store']" in m for m in listed), listed
    assert any("lists policy stores" in m for m in messages("stores", attach=False, preview=False))
    unknown_table = messages("table", attach=False, preview=True)
    assert any("unknown at preview and depends on ['acme-table']" in m for m in unknown_table), unknown_table
    assert any("managed policy attached" in m for m in messages("tagged", attach=True, preview=True))


def test_pools_built_in_the_stack_are_joined_by_dependency_not_by_value() -> None:
    """The identity source and the template link are built from another tenant's pool: caught through the
    engine's dependency graph, which (unlike the pool's ARN and id) is known during a first preview."""

    def crossed() -> None:
        acme_pool = aws.cognito.UserPool("acme-pool", tags={**TAGS, "saas:tenant": "acme"})
        globex_pool = aws.cognito.UserPool("globex-pool", tags={**TAGS, "saas:tenant": "globex"})
        for tenant, pool in (("acme", globex_pool), ("globex", acme_pool)):
            store = aws.verifiedpermissions.PolicyStore(
                f"{tenant}-store", validation_settings={"mode": "STRICT"}, tags={**TAGS, "saas:tenant": tenant}
            )
            aws.verifiedpermissions.IdentitySource(
                f"{tenant}-source",
                policy_store_id=store.policy_store_id,
                principal_entity_type="OptimalHR::User",
                configuration={"cognito_user_pool_configuration": {"user_pool_arn": pool.arn, "client_ids": ["c"]}},
            )
            template = aws.verifiedpermissions.PolicyTemplate(
                f"{tenant}-template",
                policy_store_id=store.policy_store_id,
                statement="permit (principal in ?principal, action, resource in ?resource);",
            )
            aws.verifiedpermissions.Policy(
                f"{tenant}-link",
                policy_store_id=store.policy_store_id,
                definition={
                    "template_linked": {
                        "policy_template_id": template.policy_template_id,
                        "principal": {
                            "entity_type": "OptimalHR::UserGroup",
                            "entity_id": pulumi.Output.concat(pool.id, "|approvers"),
                        },
                        "resource": {"entity_type": "OptimalHR::Tenant", "entity_id": tenant},
                    }
                },
            )

    for preview in (False, True):
        mocks = AwsMocks(region="ap-southeast-1", first_preview=preview)
        run = run_function(crossed, stack="prod", preview=preview, mocks=mocks)
        report = evaluate(run, [avp_identity_source_per_store, avp_same_tenant_entities])
        bound = [v for v in report.violations if "is bound to the user pool of tenant" in v.message]
        linked = [v for v in report.violations if "refers to the user pool of tenant" in v.message]
        assert len(bound) == 2, (preview, [v.message for v in report.violations])
        assert len(linked) == 2, (preview, [v.message for v in report.violations])
        assert {v.level for v in bound + linked} == {"mandatory"}
