"""TenantAccess, SharedTenantAccess, SystemAccess and the saas:access config, under Pulumi mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.access import (
    AccessMode,
    SharedTenantAccess,
    SharedTenantAccessArgs,
    SystemAccess,
    SystemAccessArgs,
    TenantAccess,
    TenantAccessArgs,
    build_tenant_access,
    shard_tenants,
)
from saas_platform.components.config import load_stack_config
from saas_platform.components.errors import ComponentArgError, StackConfigError
from saas_platform.components.identity import (
    TenantIdentity,
    TenantIdentityArgs,
    TenantIdentityPool,
    TenantIdentityPoolArgs,
)
from saas_platform.components.testing.harness import CapturedResource, ProgramRun, run_function, run_program
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.policies.offline import evaluate_run
from tests.conftest import run_stack
from tests.registry_support import shared_triggers

TABLES = {
    "Employment": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/EmploymentDev",
    "Payroll": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/PayrollDev",
}
BUCKET = "arn:aws:s3:::saas-documents-dev"


KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def pool(tenant: str) -> TenantIdentityPool:
    """The tenant's real identity pool (issue 3): its own user pool, dev app clients, no guests. Its physical
    IdentityPool resource is ``<tenant>-identity-pool``; roles are attached with ``attach_roles``."""
    identity = TenantIdentity(
        tenant,
        TenantIdentityArgs(
            tenant_id=tenant,
            environment="dev",
            region="ap-southeast-1",
            triggers=shared_triggers(tenant),
            client_environments=("dev",),
            mfa="ON" if tenant == "system" else "OPTIONAL",
            protect=False,
            account_id="123456789012",
        ),
    )
    return TenantIdentityPool(
        tenant,
        TenantIdentityPoolArgs(
            tenant_id=tenant,
            environment="dev",
            region="ap-southeast-1",
            user_pool_id=identity.user_pool_id,
            client_ids=identity.outputs.environment_client_ids("dev"),
        ),
    )


def tenant_args(tenant: str, pool_id: Any, **kw: Any) -> TenantAccessArgs:
    return TenantAccessArgs(tenant_id=tenant, environment="dev", identity_pool_id=pool_id, table_arns=TABLES, **kw)


def two_tenants() -> None:
    for t in ("acme", "globex"):
        p = pool(t)
        access = TenantAccess(f"{t}-access", tenant_args(t, p.identity_pool_id, document_bucket_arn=BUCKET))
        p.attach_roles({"admin": access.admin_role_arn, "user": access.user_role_arn}, access.user_role_arn)


def docs(run: ProgramRun, type_: str, key: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: json.loads(r.inputs[key]) for r in run.of_type(type_)}


def test_tenant_access_defaults() -> None:
    run = run_function(two_tenants, stack="dev")
    roles = access_roles(run)
    assert sorted(r.inputs["name"] for r in roles) == [
        "AIML-SaaS-acme-TenantAdminRole-Dev",
        "AIML-SaaS-acme-TenantUserRole-Dev",
        "AIML-SaaS-globex-TenantAdminRole-Dev",
        "AIML-SaaS-globex-TenantUserRole-Dev",
    ]
    for r in roles:
        assert r.inputs["maxSessionDuration"] == 3600
        assert "saas:access:TenantAccess$aws:iam/role:Role" in r.urn
        tenant = r.inputs["name"].split("-")[2]
        assert r.inputs["tags"] == {"saas:environment": "dev", "saas:component": "TenantAccess", "saas:tenant": tenant}
        pool_id = run.named(f"{tenant}-identity-pool").id
        trust = json.loads(r.inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Condition"]["StringEquals"] == {"cognito-identity.amazonaws.com:aud": pool_id}
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    policies = docs(run, "aws:iam/policy:Policy", "policy")
    assert sorted(policies) == [
        "AIML-SaaS-acme-TenantAdminPolicy-Dev",
        "AIML-SaaS-acme-TenantUserPolicy-Dev",
        "AIML-SaaS-globex-TenantAdminPolicy-Dev",
        "AIML-SaaS-globex-TenantUserPolicy-Dev",
    ]
    user = policies["AIML-SaaS-acme-TenantUserPolicy-Dev"]["Statement"]
    # Users hold no table: rows only through the API (Cedar decides per record); documents only their own.
    assert not [st for st in user if any(str(a).startswith("dynamodb:") for a in st["Action"])]
    assert user[0]["Action"] == [
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]
    assert user[0]["Resource"] == [f"{BUCKET}/tenants/acme/users/${{cognito-identity.amazonaws.com:sub}}/*"]
    attachments = {
        (a.inputs["role"], a.inputs["policyArn"].rsplit("/", 1)[1])
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert ("AIML-SaaS-acme-TenantAdminRole-Dev", "AIML-SaaS-acme-TenantAdminPolicy-Dev") in attachments
    assert len(attachments) == 4
    # this program defines no tables, so the pack (rightly) refuses ARNs of tables it cannot see; nothing else:
    # the whole pack (identity rules included) passes on the real identity pools and their role attachments
    report = evaluate_run(run)
    assert {v.policy for v in report.mandatory} == {"tenant-dynamodb-resource-scope"}
    assert all("is not a pool table of this stack" in v.message for v in report.mandatory)


def test_without_bucket_there_is_no_s3() -> None:
    run = run_function(
        lambda: TenantAccess("acme-access", tenant_args("acme", "ap-southeast-1:11111111-1111-1111-1111-111111111111"))
    )
    for doc in docs(run, "aws:iam/policy:Policy", "policy").values():
        assert "s3:" not in json.dumps(doc)


def test_user_tables_never_name_sensitive_tables() -> None:
    with pytest.raises(ComponentArgError, match=r"user_tables \['Payroll'\] are sensitive"):
        tenant_args("acme", "ap-southeast-1:1", user_tables=("Payroll",))


def test_tenant_keyed_indexes_only() -> None:
    run = run_function(
        lambda: TenantAccess(
            "acme-access", tenant_args("acme", "ap-southeast-1:1", tenant_index_names={"Payroll": ["ByTenantMonth"]})
        )
    )
    admin = docs(run, "aws:iam/policy:Policy", "policy")["AIML-SaaS-acme-TenantAdminPolicy-Dev"]
    assert admin["Statement"][0]["Resource"] == [
        TABLES["Employment"],
        TABLES["Payroll"],
        f"{TABLES['Payroll']}/index/ByTenantMonth",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenant_id": "system"}, "the system tenant uses SystemAccess"),
        ({"tenant_id": "Acme"}, "tenant_id must match"),
        ({"table_arns": {}}, "table_arns is empty"),
        ({"tenant_index_names": {"Leave": ["ByTenant"]}}, "tenant_index_names names tables ['Leave']"),
        ({"user_tables": ("Leave",)}, "user_tables must be a non-empty subset"),
        ({"environment": "qa"}, "environment must be one of"),
        ({"tenant_id": "a" + "b" * 30, "name_prefix": "A" * 20}, "AWS allows 64"),
    ],
)
def test_tenant_access_args_errors(kwargs: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"tenant_id": "acme", "environment": "dev", "identity_pool_id": "p", "table_arns": TABLES}
    with pytest.raises(ComponentArgError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TenantAccessArgs(**{**base, **kwargs})


def test_oversized_policy_fails_the_program() -> None:
    many = {"Payroll": [f"ByTenant{n:03d}" for n in range(120)]}
    # the ComponentArgError raised while serializing the policy reaches the caller wrapped by the SDK
    with pytest.raises(
        ValueError, match=r"Tenant(Admin|User) policy of tenant acme is 1\d{4} characters .*IAM allows 6144"
    ):
        run_function(
            lambda: TenantAccess("acme-access", tenant_args("acme", "ap-southeast-1:1", tenant_index_names=many))
        )


def test_shared_access_trusts_every_shard_pool_with_tag_session() -> None:
    def program() -> None:
        pools = [pool(t) for t in ("acme", "globex")]
        SharedTenantAccess(
            "s00",
            SharedTenantAccessArgs(
                shard=0,
                environment="dev",
                region="ap-southeast-1",
                tenant_ids=("acme", "globex"),
                identity_pool_ids=tuple(p.identity_pool_id for p in pools),
                table_arns=TABLES,
                document_bucket_arn=BUCKET,
            ),
        )

    run = run_function(program, stack="dev")
    roles = {r.inputs["name"]: r for r in access_roles(run)}
    assert sorted(roles) == ["AIML-SaaS-TenantAdminRole-S00-Dev", "AIML-SaaS-TenantUserRole-S00-Dev"]
    stmts = json.loads(roles["AIML-SaaS-TenantAdminRole-S00-Dev"].inputs["assumeRolePolicy"])["Statement"]
    assert all(st["Action"] == ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"] for st in stmts)
    # one statement per pool, binding the session tag to that pool's tenant
    assert [st["Condition"]["StringEquals"] for st in stmts] == [
        {"cognito-identity.amazonaws.com:aud": run.named("acme-identity-pool").id, "aws:RequestTag/TenantId": "acme"},
        {
            "cognito-identity.amazonaws.com:aud": run.named("globex-identity-pool").id,
            "aws:RequestTag/TenantId": "globex",
        },
    ]
    assert roles["AIML-SaaS-TenantUserRole-S00-Dev"].inputs["tags"]["saas:access-shard"] == "S00"
    policy = docs(run, "aws:iam/policy:Policy", "policy")["AIML-SaaS-TenantAdminPolicy-S00-Dev"]
    assert "TENANT#${aws:PrincipalTag/TenantId}" in json.dumps(policy)


def test_shared_access_refuses_more_pools_than_the_trust_policy_holds() -> None:
    tenants = tuple(f"t{n:02d}" for n in range(6))
    args: dict[str, Any] = {
        "shard": 0,
        "environment": "dev",
        "region": "ap-southeast-1",
        "tenant_ids": tenants,
        "identity_pool_ids": tuple("p" for _ in tenants),
        "table_arns": TABLES,
    }
    with pytest.raises(ComponentArgError, match="holds 3 identity pools with the 25% size headroom"):
        SharedTenantAccessArgs(**args)
    SharedTenantAccessArgs(**{**args, "trust_policy_max_chars": 4096})
    with pytest.raises(ComponentArgError, match="one pool per tenant"):
        SharedTenantAccessArgs(**{**args, "identity_pool_ids": ("p",)})


def attach_system_roles(p: TenantIdentityPool, system: SystemAccess) -> None:
    p.attach_roles(
        {"admin": system.admin_role_arn, "superuser": system.superuser_role_arn, "support": system.support_role_arn},
        system.support_role_arn,
    )


def test_system_access_roles() -> None:
    def program() -> None:
        p = pool("system")
        system = SystemAccess(
            "system-access",
            SystemAccessArgs(
                environment="dev", identity_pool_id=p.identity_pool_id, table_arns=TABLES, document_bucket_arn=BUCKET
            ),
        )
        attach_system_roles(p, system)

    run = run_function(program, stack="dev")
    roles = sorted(r.inputs["name"] for r in access_roles(run))
    assert roles == [
        "AIML-SaaS-SystemAdminRole-Dev",
        "AIML-SaaS-SystemSuperuserRole-Dev",
        "AIML-SaaS-SystemSupportRole-Dev",
    ]
    attached = sorted(
        (a.inputs["role"], a.inputs["policyArn"].rsplit("/", 1)[1])
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert attached == [
        ("AIML-SaaS-SystemAdminRole-Dev", "AIML-SaaS-SystemAdminPolicy-Dev"),
        ("AIML-SaaS-SystemSuperuserRole-Dev", "AIML-SaaS-SystemAdminPolicy-Dev"),
        ("AIML-SaaS-SystemSupportRole-Dev", "AIML-SaaS-SystemSupportPolicy-Dev"),
    ]
    support = docs(run, "aws:iam/policy:Policy", "policy")["AIML-SaaS-SystemSupportPolicy-Dev"]
    assert support["Statement"][0]["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:DescribeTable",
    ]
    assert "dynamodb:Scan" not in json.dumps(docs(run, "aws:iam/policy:Policy", "policy"))
    assert evaluate_run(run).mandatory == []


def test_superuser_scan_needs_a_named_exception() -> None:
    def program() -> None:
        p = pool("system")
        system = SystemAccess(
            "system-access",
            SystemAccessArgs(
                environment="dev", identity_pool_id=p.identity_pool_id, table_arns=TABLES, superuser_scan=True
            ),
        )
        attach_system_roles(p, system)

    run = run_function(program, stack="dev")
    scan = docs(run, "aws:iam/policy:Policy", "policy")["AIML-SaaS-SystemSuperuserPolicy-Dev"]
    assert scan["Statement"][0]["Action"] == ["dynamodb:Scan"]
    assert [v.policy for v in evaluate_run(run).mandatory] == ["system-role-scan-exception"]
    allowed = evaluate_run(
        run, config={"system-role-scan-exception": {"scanAllowedRoles": ["AIML-SaaS-SystemSuperuserRole-Dev"]}}
    )
    assert allowed.mandatory == []


class RecordingPool:
    def __init__(self, pool_id: str) -> None:
        self.identity_pool_id = pulumi.Output.from_input(pool_id)
        self.calls: list[tuple[dict[str, Any], Any]] = []

    def attach_roles(self, role_arns: Any, default_role_arn: Any) -> None:
        self.calls.append((dict(role_arns), default_role_arn))


@pytest.mark.parametrize(("mode", "shards"), [("perTenant", 0), ("abac", 2)])
def test_build_tenant_access_maps_each_pool_to_its_roles(mode: AccessMode, shards: int) -> None:
    pools = {
        t: RecordingPool(f"ap-southeast-1:{n:08d}-0000-0000-0000-000000000000")
        for n, t in enumerate(("acme", "globex", "initech"))
    }

    def program() -> None:
        roles = build_tenant_access(
            "access",
            mode=mode,
            environment="dev",
            region="ap-southeast-1",
            pools=pools,
            table_arns=TABLES,
            tenants_per_role=2,
        )
        pulumi.Output.all(*[r.user_role_arn for r in roles.values()]).apply(lambda _: None)

    run = run_function(program, stack="dev")
    assert len(run.of_type("saas:access:SharedTenantAccess")) == shards
    for p in pools.values():
        ((mapping, default),) = p.calls
        assert set(mapping) == {"admin", "user"}
        assert default is mapping["user"]
    assert pools["acme"].calls[0][0]["admin"] is not pools["initech"].calls[0][0]["admin"]


def test_shard_tenants_keeps_config_order() -> None:
    assert shard_tenants(["a1", "b2", "c3"], 2) == [("a1", "b2"), ("c3",)]
    with pytest.raises(ComponentArgError, match="at least 1"):
        shard_tenants(["a1"], 0)


# ---- config ------------------------------------------------------------------------------------------------
BASE = {
    "aws:region": "ap-southeast-1",
    "saas:environment": "dev",
    "saas:tenants": [{"id": "acme"}],
    "saas:alarms": {"email": "ops@example.com"},
}


def test_access_config_defaults() -> None:
    cfg = load_stack_config(BASE, "dev")
    assert cfg.access.mode == "perTenant"
    assert cfg.access.trust_policy_quota == 2048
    assert cfg.access.superuser_scan is False


@pytest.mark.parametrize(
    ("access", "key", "text"),
    [
        ({"mode": "shared"}, "saas:access.mode", "'perTenant' or 'abac'"),
        ({"tenantsPerRole": 5}, "saas:access.tenantsPerRole", "only allowed with mode: abac"),
        ({"mode": "abac", "tenantsPerRole": 0}, "saas:access.tenantsPerRole", "at least 1"),
        ({"mode": "abac", "tenantsPerRole": 4}, "saas:access.tenantsPerRole", "at most 3, iam-document-headroom"),
        ({"mode": "abac", "trustPolicyQuota": 3000}, "saas:access.trustPolicyQuota", "2048 or 4096"),
        ({"scanEverything": True}, "saas:access.scanEverything", "unknown key"),
    ],
)
def test_access_config_errors_name_the_key(access: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(StackConfigError) as err:
        load_stack_config({**BASE, "saas:access": access}, "dev")
    assert key in err.value.keys
    assert text in str(err.value)


def test_per_tenant_mode_refuses_more_roles_than_the_quota_headroom() -> None:
    tenants = [{"id": f"t{n:03d}"} for n in range(400)]
    with pytest.raises(StackConfigError) as err:
        load_stack_config({**BASE, "saas:tenants": tenants}, "dev")
    assert err.value.keys == ["saas:access.mode"]
    assert "use mode: abac" in str(err.value)
    cfg = load_stack_config({**BASE, "saas:tenants": tenants, "saas:access": {"mode": "abac"}}, "dev")
    assert cfg.access.mode == "abac"


# ---- the stacks --------------------------------------------------------------------------------------------
def access_roles(run: ProgramRun) -> list[CapturedResource]:
    """The roles TenantAccess/SharedTenantAccess/SystemAccess created (not e.g. Lambda execution roles)."""
    return [r for r in run.of_type("aws:iam/role:Role") if "saas:access:" in r.urn.split("::")[2]]


@pytest.mark.stack
@pytest.mark.parametrize(("stack", "tenants"), [("dev", 2), ("staging", 2), ("prod", 3)])
@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_stack_roles_and_zero_violations(stack: str, tenants: int, mode: str) -> None:
    run = run_stack(stack, {"saas:access": {"mode": mode}})
    roles = access_roles(run)
    assert len(roles) == (2 * tenants if mode == "perTenant" else 2) + 3
    report = evaluate_run(run)
    assert report.mandatory == [], [v.message for v in report.mandatory]
    assert report.advisory == []
    assert set(run.outputs["tenantRoleArns"]) == set(run.outputs["tenants"])
    assert set(run.outputs["systemRoleArns"]) == {"admin", "superuser", "support"}
    for attachment in run.of_type("aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"):
        assert set(attachment.inputs["roles"]) == {"authenticated"}


@pytest.mark.stack
def test_abac_shards_for_many_tenants() -> None:
    tenants = [{"id": f"tenant{n:03d}"} for n in range(12)]
    run = run_stack("dev", {"saas:tenants": tenants, "saas:access": {"mode": "abac"}})
    shards = run.of_type("saas:access:SharedTenantAccess")
    assert [s.name for s in shards] == [f"platform-access-s{n:02d}" for n in range(4)]
    # one trust statement per pool (each binds the session tag to the pool's tenant): 3 fit in 75% of 2,048
    sizes = sorted(
        len(json.loads(r.inputs["assumeRolePolicy"])["Statement"])
        for r in access_roles(run)
        if "-S0" in r.inputs["name"]
    )
    assert sizes == [3] * 8
    assert evaluate_run(run).mandatory == []


def test_stack_policies_are_known_at_preview() -> None:
    """Table ARNs in policies come from known values (partition, region, account, name), so the documents
    are not unknown during preview (isolation invariant 48)."""
    run = run_program(".", "dev", preview=True)
    for p in run.of_type("aws:iam/policy:Policy"):
        assert isinstance(p.inputs.get("policy"), str), p.name
        assert "dynamodb" in p.inputs["policy"] or "user-policy" in p.name, p.name  # users: documents only


# ---- first preview: new pools' ids and new roles' ARNs are unknown; the joins still hold ------------------
def _sabotaged() -> None:
    pools = {t: pool(t) for t in ("acme", "globex", "system")}
    access = {t: TenantAccess(f"{t}-access", tenant_args(t, pools[t].identity_pool_id)) for t in ("acme", "globex")}
    system = SystemAccess(
        "system-access",
        SystemAccessArgs(environment="dev", identity_pool_id=pools["system"].identity_pool_id, table_arns=TABLES),
    )
    aws.cognito.IdentityPoolRoleAttachment(
        "acme-identity-roles",
        identity_pool_id=pools["acme"].identity_pool_id,
        roles={"authenticated": access["globex"].user_role_arn},
    )
    aws.cognito.IdentityPoolRoleAttachment(
        "acme-more-roles",
        identity_pool_id=pools["acme"].identity_pool_id,
        roles={"authenticated": system.admin_role_arn},
    )
    both = pulumi.Output.all(pools["acme"].identity_pool_id, pools["globex"].identity_pool_id).apply(
        lambda ids: {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {"cognito-identity.amazonaws.com:aud": list(ids)},
                        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                    },
                }
            ],
        }
    )
    aws.iam.Role(
        "two-tenants-role",
        assume_role_policy=pulumi.Output.json_dumps(both),
        tags={"saas:environment": "dev", "saas:component": "Test"},
    )


def test_first_preview_joins_by_dependencies_and_never_degrades() -> None:
    run = run_function(_sabotaged, stack="dev", mocks=AwsMocks(first_preview=True), preview=True)
    pools = run.of_type("aws:cognito/identityPool:IdentityPool")
    assert pools
    assert all(p.id is None for p in pools), "first preview: new pools have no id yet"
    report = evaluate_run(run)
    assert [v.message for v in report.violations if "during preview" in v.message] == []
    found = {(v.policy, v.message.splitlines()[-1]) for v in report.mandatory}
    assert any(p == "identity-pool-maps-own-roles" and "is not one of tenant acme's roles" in m for p, m in found), (
        found
    )
    assert any(p == "system-roles-unreachable-from-tenants" and "maps system role" in m for p, m in found), found
    assert any(
        p == "tenant-role-trust-binding" and "trusted by the pools of tenants ['acme', 'globex']" in m for p, m in found
    ), found


@pytest.mark.stack
@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_first_preview_of_dev_is_clean_in_both_modes(mode: str) -> None:
    run = run_program(
        ".", "dev", config={"saas:access": {"mode": mode}}, mocks=AwsMocks(first_preview=True), preview=True
    )
    report = evaluate_run(run)
    assert report.violations == [], [v.message for v in report.violations]
