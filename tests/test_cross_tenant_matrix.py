"""Proof beyond inputs: evaluate the generated trust and permission policies against request contexts.

For every pair of tenants (A, B) in a stack, a session obtained through A's identity pool is allowed on
``TENANT#A`` rows and ``tenants/A/`` objects and denied on ``TENANT#B`` rows, ``tenants/B/`` objects, mixed
A+B batches, Scan and PartiQL - in both access modes. Which roles a pool reaches is itself evaluated (trust
policy against a web-identity request), not read from outputs. The evaluator is the small oracle in
``tests/iam_oracle.py``; its own tests below show it flags the known-bad patterns, so it can fail.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.access import (
    SharedTenantAccess,
    SharedTenantAccessArgs,
    SystemAccess,
    SystemAccessArgs,
    TenantAccess,
    TenantAccessArgs,
)
from saas_platform.components.testing.harness import ProgramRun, run_function
from tests.conftest import run_stack
from tests.iam_oracle import Request, UnsupportedPolicy, evaluate

BUCKET = "arn:aws:s3:::saas-documents-dev"
USER_ID = "ap-southeast-1:11111111-2222-3333-4444-555555555555"
ACCOUNT = "123456789012"


@dataclass
class Session:
    tenant: str
    role: str
    documents: list[dict[str, Any]]
    context: dict[str, Any]


def _pools(run: ProgramRun) -> dict[str, str]:
    return {r.inputs["tags"]["saas:tenant"]: str(r.id) for r in run.of_type("aws:cognito/identityPool:IdentityPool")}


ALLOW_EVERYTHING: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _aws_managed(arn: str) -> dict[str, Any]:
    """An AWS managed policy (e.g. API Gateway's ``AmazonAPIGatewayPushToCloudWatchLogs`` on the account's
    logging role) is not in the stack: assume the worst, so a tenant session that reached such a role would
    fail every deny of the matrix."""
    assert arn.startswith("arn:aws:iam::aws:policy/"), f"attached policy {arn} is neither the stack's nor AWS's"
    return ALLOW_EVERYTHING


def _role_documents(run: ProgramRun) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    policies = {r.state["arn"]: json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/policy:Policy")}
    out: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    # every role of the stack, not only the access components' ones: a Lambda execution role (auto-named, so
    # keyed by its logical name) must not be reachable from any pool either - the trust evaluation decides
    for role in run.of_type("aws:iam/role:Role"):
        name = role.inputs.get("name") or role.state.get("name") or role.name
        attached = [
            policies.get(a.inputs["policyArn"]) or _aws_managed(a.inputs["policyArn"])
            for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a.inputs["role"] in (name, role.state.get("name"), role.state.get("id"))
        ]
        out[name] = (json.loads(role.inputs["assumeRolePolicy"]), attached)
    return out


def _web_identity(action: str, pool_id: str, tag: str, amr: str = "authenticated") -> Request:
    """A web-identity request of ``pool_id``; ``tag`` is the ``TenantId`` request tag its principal-tag map would
    pass (only evaluated where the trust allows ``sts:TagSession``)."""
    return Request(
        action=action,
        principal={"Federated": "cognito-identity.amazonaws.com"},
        context={
            "cognito-identity.amazonaws.com:aud": pool_id,
            "cognito-identity.amazonaws.com:amr": [
                amr,
                "cognito-idp.ap-southeast-1.amazonaws.com/pool:CognitoSignIn:sub",
            ],
            "aws:RequestTag/TenantId": tag,
            "aws:TagKeys": ["TenantId"],
        },
    )


def sessions(run: ProgramRun) -> dict[str, list[Session]]:
    """Per tenant: every role its identity pool can assume (trust evaluated), with the session tags the
    pool passes when the trust allows sts:TagSession (TenantId <- custom:tenantId)."""
    pools, roles = _pools(run), _role_documents(run)
    out: dict[str, list[Session]] = {}
    for tenant, pool_id in pools.items():
        out[tenant] = []
        for name, (trust, docs) in roles.items():
            if evaluate([trust], _web_identity("sts:AssumeRoleWithWebIdentity", pool_id, tenant)) != "Allow":
                continue
            assert (
                evaluate(
                    [trust], _web_identity("sts:AssumeRoleWithWebIdentity", pool_id, tenant, amr="unauthenticated")
                )
                == "Deny"
            )
            tags = evaluate([trust], _web_identity("sts:TagSession", pool_id, tenant)) == "Allow"
            for other in [*(t for t in pools if t != tenant), f"{tenant}-corp"]:  # the tag is bound to the pool
                assert evaluate([trust], _web_identity("sts:TagSession", pool_id, other)) == "Deny", (name, other)
            context = {"cognito-identity.amazonaws.com:sub": USER_ID}
            if tags:
                context["aws:PrincipalTag/TenantId"] = tenant
            out[tenant].append(Session(tenant, name, docs, context))
    return out


def table_arns(run: ProgramRun) -> list[str]:
    arns = {
        r
        for doc in _role_documents(run).values()
        for p in doc[1]
        for s in p["Statement"]
        for r in s.get("Resource", [])
        if ":dynamodb:" in r and "/index/" not in r
    }
    assert arns
    return sorted(arns)


def check_matrix(run: ProgramRun, bucket: str = BUCKET) -> int:
    """Assert the cross-tenant matrix; return the number of decisions checked. ``bucket`` is the document
    bucket ARN the tenant roles are scoped to (the stack's own bucket for stack runs)."""
    by_tenant = sessions(run)
    customers = sorted(t for t in by_tenant if t != "system")
    tables = table_arns(run)
    has_s3 = any("s3:" in json.dumps(s.documents) for ss in by_tenant.values() for s in ss)
    checks = 0

    def decide(s: Session, action: str, resource: str, **ctx: Any) -> str:
        nonlocal checks
        checks += 1
        return evaluate(s.documents, Request(action, resource, {**s.context, **ctx}))

    system_roles = {s.role for s in by_tenant.get("system", [])}
    assert len(system_roles) == 3, system_roles
    for a in customers:
        assert len(by_tenant[a]) == 2, f"{a} reaches {[s.role for s in by_tenant[a]]}"
        assert not system_roles & {s.role for s in by_tenant[a]}, "a tenant pool reaches a system role"
    for a, b in itertools.permutations(customers, 2):
        for s in by_tenant[a]:
            admin = "Admin" in s.role
            for table in tables:
                # users hold no table (rows through the API only); admins read every table of their tenant
                assert decide(s, "dynamodb:Query", table, **{"dynamodb:LeadingKeys": [f"TENANT#{a}"]}) == (
                    "Allow" if admin else "Deny"
                ), (s.role, table)
                assert decide(s, "dynamodb:GetItem", table, **{"dynamodb:LeadingKeys": [f"TENANT#{b}"]}) == "Deny", (
                    s.role,
                    b,
                )
                assert (
                    decide(
                        s, "dynamodb:BatchGetItem", table, **{"dynamodb:LeadingKeys": [f"TENANT#{a}", f"TENANT#{b}"]}
                    )
                    == "Deny"
                )
                assert decide(s, "dynamodb:PutItem", table, **{"dynamodb:LeadingKeys": [f"TENANT#{b}"]}) == "Deny"
                assert decide(s, "dynamodb:Scan", table) == "Deny"
                assert decide(s, "dynamodb:Scan", table, **{"dynamodb:LeadingKeys": [f"TENANT#{a}"]}) == "Deny"
                assert decide(s, "dynamodb:PartiQLSelect", table) == "Deny"
                assert decide(s, "dynamodb:GetRecords", f"{table}/stream/x") == "Deny"
                no_tag = Session(s.tenant, s.role, s.documents, {})
                if "aws:PrincipalTag/TenantId" in s.context:  # ABAC: without the tag nothing is allowed
                    assert (
                        evaluate(
                            no_tag.documents,
                            Request("dynamodb:Query", table, {"dynamodb:LeadingKeys": [f"TENANT#{a}"]}),
                        )
                        == "Deny"
                    )
                    checks += 1
            if "Admin" in s.role:
                assert (
                    decide(s, "dynamodb:DeleteItem", tables[0], **{"dynamodb:LeadingKeys": [f"TENANT#{a}"]}) == "Allow"
                )
            else:
                assert decide(s, "dynamodb:PutItem", tables[0], **{"dynamodb:LeadingKeys": [f"TENANT#{a}"]}) == "Deny"
            own = f"tenants/{a}/" if admin else f"tenants/{a}/users/{USER_ID}/"
            if has_s3 and not admin:
                assert decide(s, "s3:GetObject", f"{bucket}/{own}payslip.pdf") == "Allow"
                assert decide(s, "s3:PutObject", f"{bucket}/{own}x") == "Allow"
                assert decide(s, "s3:GetObject", f"{bucket}/tenants/{a}/payslip.pdf") == "Deny"
                assert decide(s, "s3:PutObject", f"{bucket}/tenants/{a}/users/someone-else/x") == "Deny"
                assert decide(s, "s3:GetObject", f"{bucket}/tenants/{b}/users/{USER_ID}/x") == "Deny"
                assert decide(s, "s3:ListBucket", bucket, **{"s3:prefix": own}) == "Allow"
                assert decide(s, "s3:ListBucket", bucket, **{"s3:prefix": f"tenants/{a}/"}) == "Deny"
                assert decide(s, "s3:DeleteObject", f"{bucket}/{own}x") == "Deny"
            if has_s3 and admin:
                assert decide(s, "s3:GetObject", f"{bucket}/tenants/{a}/payslip.pdf") == "Allow"
                assert decide(s, "s3:GetObject", f"{bucket}/tenants/{b}/payslip.pdf") == "Deny"
                assert decide(s, "s3:PutObject", f"{bucket}/tenants/{b}/x") == "Deny"
                assert decide(s, "s3:GetObject", f"{bucket}/tenants/{a}-corp/x") == "Deny"
                assert decide(s, "s3:ListBucket", bucket, **{"s3:prefix": f"tenants/{a}/"}) == "Allow"
                assert decide(s, "s3:ListBucket", bucket, **{"s3:prefix": f"tenants/{b}/"}) == "Deny"
                assert decide(s, "s3:ListBucket", bucket) == "Deny"
                assert decide(s, "s3:DeleteObject", f"{bucket}/tenants/{a}/x") == (
                    "Allow" if "Admin" in s.role else "Deny"
                )
    return checks


# ---- the stacks as the program builds them ---------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_stack_matrix(stack: str, mode: str) -> None:
    run = run_stack(stack, {"saas:access": {"mode": mode}})
    bucket = f"arn:aws:s3:::{run.outputs['documentBucketName']}"
    assert check_matrix(run, bucket) > 0


# ---- components with a document bucket (S3 half of the matrix) ---------------------------------------------
TABLES = {b: f"arn:aws:dynamodb:ap-southeast-1:{ACCOUNT}:table/{b}Dev" for b in ("Employment", "Leave", "Payroll")}
TENANTS = ("acme", "globex", "initech", "acme-corp")


def _program(mode: str) -> None:
    pools = {
        t: aws.cognito.IdentityPool(
            f"{t}-pool",
            identity_pool_name=f"{t}-dev",
            allow_unauthenticated_identities=False,
            allow_classic_flow=False,
            tags={"saas:tenant": t},
        )
        for t in (*TENANTS, "system")
    }
    if mode == "perTenant":
        for t in TENANTS:
            TenantAccess(
                f"{t}-access",
                TenantAccessArgs(
                    tenant_id=t,
                    environment="dev",
                    identity_pool_id=pools[t].id,
                    table_arns=TABLES,
                    document_bucket_arn=BUCKET,
                ),
            )
    else:
        for shard, members in enumerate((TENANTS[:3], TENANTS[3:])):
            SharedTenantAccess(
                f"s{shard}",
                SharedTenantAccessArgs(
                    shard=shard,
                    environment="dev",
                    region="ap-southeast-1",
                    tenant_ids=members,
                    identity_pool_ids=tuple(pools[t].id for t in members),
                    table_arns=TABLES,
                    document_bucket_arn=BUCKET,
                ),
            )
    SystemAccess(
        "system-access",
        SystemAccessArgs(
            environment="dev", identity_pool_id=pools["system"].id, table_arns=TABLES, document_bucket_arn=BUCKET
        ),
    )
    pulumi.export("done", True)


@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_component_matrix_with_documents(mode: str) -> None:
    run = run_function(lambda: _program(mode), stack="dev")
    # 4 tenants incl. the prefix-collision pair acme / acme-corp: 12 ordered pairs
    assert check_matrix(run) >= 12 * 2 * (3 * 8 + 1 + 8)


def test_system_roles_cross_tenant_and_read_only_support() -> None:
    run = run_function(lambda: _program("perTenant"), stack="dev")
    by_tenant = sessions(run)
    roles = {s.role.split("-")[-2]: s for s in by_tenant["system"]}
    table = TABLES["Payroll"]
    for t in TENANTS:
        key = {"dynamodb:LeadingKeys": [f"TENANT#{t}"]}
        assert evaluate(roles["SystemAdminRole"].documents, Request("dynamodb:PutItem", table, key)) == "Allow"
        assert evaluate(roles["SystemSuperuserRole"].documents, Request("dynamodb:DeleteItem", table, key)) == "Allow"
        assert evaluate(roles["SystemSupportRole"].documents, Request("dynamodb:GetItem", table, key)) == "Allow"
        assert evaluate(roles["SystemSupportRole"].documents, Request("dynamodb:PutItem", table, key)) == "Deny"
        assert (
            evaluate(roles["SystemSupportRole"].documents, Request("s3:GetObject", f"{BUCKET}/tenants/{t}/x"))
            == "Allow"
        )
        assert (
            evaluate(roles["SystemSupportRole"].documents, Request("s3:PutObject", f"{BUCKET}/tenants/{t}/x")) == "Deny"
        )
    for role in roles.values():
        assert evaluate(role.documents, Request("dynamodb:Scan", table)) == "Deny"
        assert evaluate(role.documents, Request("dynamodb:PartiQLSelect", table)) == "Deny"


# ---- the oracle can fail: known-bad patterns listed in docs/isolation.md are judged as AWS would ---------------------
def _doc(condition: dict[str, Any], actions: list[str] | str = "dynamodb:GetItem") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": TABLES["Leave"], "Condition": condition}],
    }


def test_oracle_misspelled_key_grants_every_tenant() -> None:
    doc = _doc({"ForAllValues:StringEquals": {"dynamodb: LeadingKeys": ["TENANT#acme"]}})
    assert (
        evaluate([doc], Request("dynamodb:GetItem", TABLES["Leave"], {"dynamodb:LeadingKeys": ["TENANT#globex"]}))
        == "Allow"
    )


def test_oracle_for_any_value_passes_mixed_batches() -> None:
    doc = _doc({"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]}}, "dynamodb:BatchGetItem")
    mixed = {"dynamodb:LeadingKeys": ["TENANT#acme", "TENANT#globex"]}
    assert evaluate([doc], Request("dynamodb:BatchGetItem", TABLES["Leave"], mixed)) == "Allow"


def test_oracle_scan_with_condition_is_vacuously_allowed_without_null_guard() -> None:
    doc = _doc({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]}}, ["dynamodb:Scan"])
    assert evaluate([doc], Request("dynamodb:Scan", TABLES["Leave"])) == "Allow"
    guarded = _doc(
        {
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#acme"]},
            "Null": {"dynamodb:LeadingKeys": "false"},
        },
        ["dynamodb:Scan"],
    )
    assert evaluate([guarded], Request("dynamodb:Scan", TABLES["Leave"])) == "Deny"


def test_oracle_string_like_prefix_collides() -> None:
    doc = _doc({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#acme*"]}})
    assert (
        evaluate([doc], Request("dynamodb:GetItem", TABLES["Leave"], {"dynamodb:LeadingKeys": ["TENANT#acme-corp"]}))
        == "Allow"
    )


def test_oracle_explicit_deny_wins_and_absent_variable_does_not_match() -> None:
    allow = _doc({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/TenantId}"]}})
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]}
    ctx = {"dynamodb:LeadingKeys": ["TENANT#acme"], "aws:PrincipalTag/TenantId": "acme"}
    assert evaluate([allow], Request("dynamodb:GetItem", TABLES["Leave"], ctx)) == "Allow"
    assert evaluate([allow, deny], Request("dynamodb:GetItem", TABLES["Leave"], ctx)) == "Deny"
    assert (
        evaluate([allow], Request("dynamodb:GetItem", TABLES["Leave"], {"dynamodb:LeadingKeys": ["TENANT#acme"]}))
        == "Deny"
    )


def test_oracle_refuses_what_it_does_not_implement() -> None:
    with pytest.raises(UnsupportedPolicy, match="NumericLessThan"):
        evaluate([_doc({"NumericLessThan": {"s3:TlsVersion": "1.2"}})], Request("dynamodb:GetItem", TABLES["Leave"]))
    with pytest.raises(UnsupportedPolicy, match="Version"):
        evaluate([{"Statement": []}], Request("dynamodb:GetItem"))
