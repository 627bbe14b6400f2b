"""Compliant, violating and missing-property fixtures for every tenant-isolation rule (policies/access.py),
including the known-bad patterns listed in docs/isolation.md. Fixtures are literal (tests/_access_fixtures.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from saas_platform.policies import access
from saas_platform.policies.pack import POLICIES
from tests._access_fixtures import (
    ADMIN_ACTIONS,
    BUCKET,
    POOLS,
    TABLE_EMPLOYMENT,
    TABLE_LEAVE,
    abac_stack,
    compliant_stack,
    edit_doc,
    edit_props,
    gsis,
    policy_arn,
    role_arn,
    trust,
    violations,
)

RULES = {p.name: p for p in access.POLICIES}
ACME_ADMIN_POLICY = "acme-TenantAdminPolicy-policy"
ACME_USER_POLICY = "acme-TenantUserPolicy-policy"
ACME_ADMIN_ROLE = "acme-TenantAdminRole-role"
ABAC_ADMIN_POLICY = "TenantAdminPolicy-S00-policy"
ABAC_ADMIN_ROLE = "TenantAdminRole-S00-role"


def test_every_rule_is_in_the_pack_and_mandatory() -> None:
    names = {p.name for p in POLICIES}
    assert set(RULES) <= names
    levels = {n: p.enforcement_level.value for n, p in RULES.items()}
    assert levels["tenant-leading-keys-null-guard"] == "mandatory"  # fail closed: ForAllValues alone is vacuous
    assert set(levels.values()) == {"mandatory"}
    assert len(RULES) == 20


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("stack", [compliant_stack, abac_stack], ids=["per-tenant", "abac"])
def test_compliant_fixtures_pass(rule: str, stack: Callable[[], list[dict[str, Any]]]) -> None:
    assert violations([RULES[rule]], stack()) == []


def stmt(index: int, change: Callable[[dict[str, Any]], object]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        change(doc["Statement"][index])

    return apply


def bound_pools(*pools: tuple[str, str]) -> Callable[[dict[str, Any]], None]:
    """Add one bound ABAC trust statement per (pool id, tenant), the shape the library builds."""

    def apply(doc: dict[str, Any]) -> None:
        template = doc["Statement"][0]
        for pool_id, tenant in pools:
            st = copy.deepcopy(template)
            st["Condition"]["StringEquals"] = {
                "cognito-identity.amazonaws.com:aud": pool_id,
                "aws:RequestTag/TenantId": tenant,
            }
            doc["Statement"].append(st)

    return apply


def cond(index: int, condition: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return stmt(index, lambda s: s.__setitem__("Condition", condition))


def add_statement(statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["Statement"].append(statement)


def acme_admin(change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    return edit_doc(compliant_stack(), ACME_ADMIN_POLICY, "policy", change)


def acme_trust(change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    return edit_doc(compliant_stack(), ACME_ADMIN_ROLE, "assumeRolePolicy", change)


def extra(resources: list[dict[str, Any]], base: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [*(base if base is not None else compliant_stack()), *resources]


def attach(role: str, arn: str, name: str) -> dict[str, Any]:
    return {
        "type": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "name": name,
        "props": {"role": role, "policyArn": arn},
    }


LK = "dynamodb:LeadingKeys"
KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_THROUGH_DYNAMODB = {
    "Sid": "TableKey",
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
    "Resource": KEY,
    "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"}},
}
"""The environment key as a tenant role may hold it: only as DynamoDB uses it for the caller."""
GOOD_LK = {"ForAllValues:StringEquals": {LK: ["TENANT#acme"]}, "Null": {LK: "false"}}

CASES: list[tuple[str, str, Callable[[], list[dict[str, Any]]], str]] = [
    # invariant 1
    (
        "tenant-dynamodb-data-plane-only",
        "dynamodb:*",
        lambda: acme_admin(stmt(0, lambda s: s.update(Action=["dynamodb:*"]))),
        "wildcard actions ['dynamodb:*']",
    ),
    (
        "tenant-dynamodb-data-plane-only",
        "Get*",
        lambda: acme_admin(stmt(0, lambda s: s.update(Action=["dynamodb:Get*"]))),
        "outside the data-plane allowlist",
    ),
    (
        "tenant-dynamodb-data-plane-only",
        "NotAction",
        lambda: acme_admin(stmt(0, lambda s: (s.pop("Action"), s.update(NotAction=["dynamodb:Scan"])))),
        "NotAction in an Allow",
    ),
    (
        "tenant-dynamodb-data-plane-only",
        "missing policy",
        lambda: edit_props(compliant_stack(), ACME_ADMIN_POLICY, lambda p: p.pop("policy")),
        "not a JSON policy document",
    ),
    # invariant 2 (known-bad 1: Scan next to a LeadingKeys condition; known-bad 6: PartiQL)
    (
        "tenant-no-scan-partiql-streams",
        "Scan with condition",
        lambda: acme_admin(stmt(0, lambda s: s["Action"].append("dynamodb:Scan"))),
        "'dynamodb:scan'",
    ),
    (
        "tenant-no-scan-partiql-streams",
        "PartiQL",
        lambda: acme_admin(stmt(0, lambda s: s["Action"].append("dynamodb:PartiQLSelect"))),
        "dynamodb:partiqlselect",
    ),
    (
        "tenant-no-scan-partiql-streams",
        "streams",
        lambda: acme_admin(stmt(0, lambda s: s["Action"].append("dynamodb:GetRecords"))),
        "dynamodb:getrecords",
    ),
    (
        "tenant-no-scan-partiql-streams",
        "star",
        lambda: acme_admin(stmt(0, lambda s: s.update(Action="*"))),
        "dynamodb:createbackup",
    ),
    (
        "tenant-no-scan-partiql-streams",
        "missing Action (NotAction)",
        lambda: acme_admin(stmt(1, lambda s: (s.pop("Action"), s.update(NotAction="s3:*")))),
        "dynamodb:scan",
    ),
    # invariants 3 and 8 (known-bad 1: misspelled key; 2: StringLike prefix; 5: ForAnyValue)
    (
        "tenant-leading-keys-exact",
        "misspelled key",
        lambda: acme_admin(cond(0, {"ForAllValues:StringEquals": {"dynamodb: LeadingKeys": ["TENANT#acme"]}})),
        "is not spelled 'dynamodb:LeadingKeys'",
    ),
    (
        "tenant-leading-keys-exact",
        "StringLike prefix",
        lambda: acme_admin(cond(0, {"ForAllValues:StringLike": {LK: ["TENANT#acme*"]}})),
        "operator 'ForAllValues:StringLike'",
    ),
    (
        "tenant-leading-keys-exact",
        "ForAnyValue",
        lambda: acme_admin(cond(0, {"ForAnyValue:StringEquals": {LK: ["TENANT#acme"]}})),
        "operator 'ForAnyValue:StringEquals'",
    ),
    (
        "tenant-leading-keys-exact",
        "bare StringEquals",
        lambda: acme_admin(cond(0, {"StringEquals": {LK: "TENANT#acme"}})),
        "operator 'StringEquals'",
    ),
    (
        "tenant-leading-keys-exact",
        "IfExists",
        lambda: acme_admin(cond(0, {**GOOD_LK, "ForAllValues:StringEqualsIfExists": {LK: ["TENANT#acme"]}})),
        "operator 'ForAllValues:StringEqualsIfExists'",
    ),
    (
        "tenant-leading-keys-exact",
        "other tenant",
        lambda: acme_admin(cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#globex"]}})),
        "'TENANT#globex' is not this role's tenant key",
    ),
    (
        "tenant-leading-keys-exact",
        "prefix collision value",
        lambda: acme_admin(cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#acme-corp"]}})),
        "not this role's tenant key",
    ),
    (
        "tenant-leading-keys-exact",
        "two values",
        lambda: acme_admin(cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#acme", "TENANT#globex"]}})),
        "exactly one value",
    ),
    (
        "tenant-leading-keys-exact",
        "missing condition",
        lambda: acme_admin(stmt(0, lambda s: s.pop("Condition"))),
        "no ForAllValues:StringEquals",
    ),
    (
        "tenant-leading-keys-exact",
        "ABAC default fallback",
        lambda: edit_doc(
            abac_stack(),
            ABAC_ADMIN_POLICY,
            "policy",
            cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#${aws:PrincipalTag/TenantId, 'acme'}"]}}),
        ),
        "wildcard or a variable default",
    ),
    (
        "tenant-leading-keys-exact",
        "ABAC wildcard",
        lambda: edit_doc(
            abac_stack(), ABAC_ADMIN_POLICY, "policy", cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#*"]}})
        ),
        "wildcard or a variable default",
    ),
    # invariant 4 (advisory)
    (
        "tenant-leading-keys-null-guard",
        "no Null guard",
        lambda: acme_admin(cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#acme"]}})),
        '"Null": {"dynamodb:LeadingKeys": "false"}',
    ),
    # invariant 5
    (
        "iam-policy-version",
        "old version",
        lambda: acme_admin(lambda d: d.update(Version="2008-10-17")),
        "Version '2008-10-17'",
    ),
    ("iam-policy-version", "no version", lambda: acme_admin(lambda d: d.pop("Version")), "Version None"),
    (
        "iam-policy-version",
        "missing trust",
        lambda: edit_props(compliant_stack(), ACME_ADMIN_ROLE, lambda p: p.pop("assumeRolePolicy")),
        "assumeRolePolicy is missing",
    ),
    # invariant 6 (known-bad 7: table/* and a GSI not keyed by tenant)
    (
        "tenant-dynamodb-resource-scope",
        "table/*",
        lambda: acme_admin(
            stmt(0, lambda s: s.update(Resource=["arn:aws:dynamodb:ap-southeast-1:123456789012:table/*"]))
        ),
        "not an exact table or index ARN",
    ),
    (
        "tenant-dynamodb-resource-scope",
        "index/*",
        lambda: acme_admin(stmt(0, lambda s: s["Resource"].append(f"{TABLE_LEAVE}/index/*"))),
        "not an exact table or index ARN",
    ),
    (
        "tenant-dynamodb-resource-scope",
        "non-tenant GSI",
        lambda: acme_admin(stmt(0, lambda s: s["Resource"].append(f"{TABLE_LEAVE}/index/DueJobs"))),
        "'DueJobs' of LeaveDev is not keyed by TenantId",
    ),
    (
        "tenant-dynamodb-resource-scope",
        "foreign table",
        lambda: acme_admin(
            stmt(0, lambda s: s["Resource"].append(TABLE_EMPLOYMENT.replace("EmploymentDev", "EmploymentProd")))
        ),
        "is not a pool table of this stack",
    ),
    (
        "tenant-dynamodb-resource-scope",
        "NotResource",
        lambda: acme_admin(stmt(0, lambda s: s.update(NotResource=s.pop("Resource")))),
        "NotResource or no Resource",
    ),
    (
        "tenant-dynamodb-resource-scope",
        "star",
        lambda: acme_admin(stmt(0, lambda s: s.update(Resource="*"))),
        "not an exact table or index ARN",
    ),
    # invariants 7 and 26
    (
        "abac-principal-tag-provenance",
        "no tag map",
        lambda: [r for r in abac_stack() if r["name"] != "globex-principal-tags"],
        "does not map exactly",
    ),
    (
        "abac-principal-tag-provenance",
        "useDefaults",
        lambda: edit_props(abac_stack(), "globex-principal-tags", lambda p: p.update(useDefaults=True)),
        "does not map exactly",
    ),
    (
        "abac-principal-tag-provenance",
        "useDefaults missing",
        lambda: edit_props(abac_stack(), "globex-principal-tags", lambda p: p.pop("useDefaults")),
        "does not map exactly",
    ),
    (
        "abac-principal-tag-provenance",
        "wrong claim",
        lambda: edit_props(
            abac_stack(), "acme-principal-tags", lambda p: p.update(principalTags={"TenantId": "custom:tenantid"})
        ),
        "does not map exactly",
    ),
    (
        "abac-principal-tag-provenance",
        "no TagSession",
        lambda: edit_doc(
            abac_stack(),
            ABAC_ADMIN_ROLE,
            "assumeRolePolicy",
            stmt(0, lambda s: s.update(Action="sts:AssumeRoleWithWebIdentity")),
        ),
        "must allow sts:TagSession",
    ),
    (
        "abac-principal-tag-provenance",
        "variable case",
        lambda: edit_doc(
            abac_stack(),
            ABAC_ADMIN_POLICY,
            "policy",
            cond(
                0, {"ForAllValues:StringEquals": {LK: ["TENANT#${aws:PrincipalTag/tenantId}"]}, "Null": {LK: "false"}}
            ),
        ),
        "principal-tag variables",
    ),
    (
        "abac-principal-tag-provenance",
        "ABAC on system pool",
        lambda: edit_doc(
            abac_stack(),
            ABAC_ADMIN_ROLE,
            "assumeRolePolicy",
            bound_pools((POOLS["system"], "system")),
        ),
        "not a customer tenant's pool",
    ),
    # invariant 8
    (
        "tenant-policy-single-tenant",
        "shared literal policy",
        lambda: extra([attach("globex-TenantAdminRole", policy_arn("acme-TenantAdminPolicy"), "leak")]),
        "attached to role globex-TenantAdminRole",
    ),
    (
        # the role keeps its own tenant's pool and gains another: "tenant in reach" would wrongly pass it
        "tenant-policy-single-tenant",
        "role reachable from two tenants",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: s["Condition"]["StringEquals"].__setitem__(
                    "cognito-identity.amazonaws.com:aud", [POOLS["acme"], POOLS["globex"]]
                ),
            )
        ),
        "reachable from ['acme', 'globex']",
    ),
    (
        "tenant-policy-single-tenant",
        "two tenant keys",
        lambda: acme_admin(stmt(0, lambda s: s["Condition"]["ForAllValues:StringEquals"][LK].append("TENANT#globex"))),
        "several tenant keys ['acme', 'globex']",
    ),
    # invariant 9
    (
        "tenant-role-managed-policy-allowlist",
        "AdministratorAccess",
        lambda: extra([attach("acme-TenantUserRole", "arn:aws:iam::aws:policy/AdministratorAccess", "admin-access")]),
        "'arn:aws:iam::aws:policy/AdministratorAccess'",
    ),
    (
        "tenant-role-managed-policy-allowlist",
        "missing policyArn",
        lambda: extra(
            [
                {
                    "type": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    "name": "blank",
                    "props": {"role": "acme-TenantUserRole"},
                }
            ]
        ),
        "attaches ''",
    ),
    # invariant 10
    (
        "dynamodb-resource-policy-no-bypass",
        "Principal *",
        lambda: extra(
            [
                {
                    "type": "aws:dynamodb/resourcePolicy:ResourcePolicy",
                    "name": "rp",
                    "props": {
                        "resourceArn": TABLE_EMPLOYMENT,
                        "policy": json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": "*",
                                        "Action": "dynamodb:GetItem",
                                        "Resource": TABLE_EMPLOYMENT,
                                    }
                                ],
                            }
                        ),
                    },
                }
            ]
        ),
        "allows Principal '*'",
    ),
    (
        "dynamodb-resource-policy-no-bypass",
        "tenant role",
        lambda: extra(
            [
                {
                    "type": "aws:dynamodb/resourcePolicy:ResourcePolicy",
                    "name": "rp",
                    "props": {
                        "resourceArn": TABLE_EMPLOYMENT,
                        "policy": json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"AWS": role_arn("acme-TenantUserRole")},
                                        "Action": "dynamodb:Scan",
                                        "Resource": TABLE_EMPLOYMENT,
                                    }
                                ],
                            }
                        ),
                    },
                }
            ]
        ),
        "grants identity-pool roles",
    ),
    (
        "dynamodb-resource-policy-no-bypass",
        "missing policy",
        lambda: extra(
            [
                {
                    "type": "aws:dynamodb/resourcePolicy:ResourcePolicy",
                    "name": "rp",
                    "props": {"resourceArn": TABLE_EMPLOYMENT},
                }
            ]
        ),
        "missing or not JSON",
    ),
    # invariant 11 (known-bad 17)
    (
        "system-roles-unreachable-from-tenants",
        "system trusts tenant pool",
        lambda: edit_doc(
            compliant_stack(),
            "SystemAdminRole-role",
            "assumeRolePolicy",
            stmt(
                0,
                lambda s: s["Condition"]["StringEquals"].update(
                    {"cognito-identity.amazonaws.com:aud": [POOLS["system"], POOLS["acme"]]}
                ),
            ),
        ),
        "also trusts identity pools",
    ),
    (
        "system-roles-unreachable-from-tenants",
        "tenant pool maps system role",
        lambda: edit_props(
            compliant_stack(),
            "acme-identity-roles",
            lambda p: p["roleMappings"][0]["mappingRules"].append(
                {
                    "claim": "custom:tenantRole",
                    "matchType": "Equals",
                    "value": "x",
                    "roleArn": role_arn("SystemAdminRole"),
                }
            ),
        ),
        "maps system role SystemAdminRole",
    ),
    (
        "system-role-scan-exception",
        "Scan on system role",
        lambda: edit_doc(
            compliant_stack(),
            "SystemAdminPolicy-policy",
            "policy",
            stmt(0, lambda s: s["Action"].append("dynamodb:Scan")),
        ),
        "name it in system-role-scan-exception.scanAllowedRoles",
    ),
    (
        "system-role-scan-exception",
        "PartiQL on system role",
        lambda: edit_doc(
            compliant_stack(),
            "SystemSupportPolicy-policy",
            "policy",
            stmt(0, lambda s: s["Action"].append("dynamodb:PartiQLSelect")),
        ),
        "dynamodb:partiqlselect",
    ),
    # invariant 12 (known-bad 16)
    (
        "identity-pool-role-trust",
        "no aud",
        lambda: acme_trust(stmt(0, lambda s: s["Condition"].pop("StringEquals"))),
        "missing: any identity pool could assume it",
    ),
    (
        "identity-pool-role-trust",
        "aud wildcard",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: (
                    s["Condition"].update({"StringLike": {"cognito-identity.amazonaws.com:aud": "ap-southeast-1:*"}})
                    or s["Condition"].pop("StringEquals")
                ),
            )
        ),
        "found operators ['StringLike']",
    ),
    (
        "identity-pool-role-trust",
        "amr unpinned",
        lambda: acme_trust(stmt(0, lambda s: s["Condition"].pop("ForAnyValue:StringLike"))),
        "amr",
    ),
    (
        "identity-pool-role-trust",
        "amr unauthenticated",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: s["Condition"].update(
                    {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}
                ),
            )
        ),
        "amr",
    ),
    (
        "identity-pool-role-trust",
        "extra principal",
        lambda: acme_trust(stmt(0, lambda s: s["Principal"].update(AWS="*"))),
        "Principal must be exactly",
    ),
    (
        "identity-pool-role-trust",
        "two pools no TagSession",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: s["Condition"]["StringEquals"].update(
                    {"cognito-identity.amazonaws.com:aud": [POOLS["acme"], POOLS["globex"]]}
                ),
            )
        ),
        "only a shared ABAC role",
    ),
    (
        "identity-pool-role-trust",
        "other action",
        lambda: acme_trust(stmt(0, lambda s: s.update(Action=["sts:AssumeRoleWithWebIdentity", "sts:AssumeRole"]))),
        "Action must be",
    ),
    # invariants 12 and 25 (known-bad 16: another tenant's pool; a role trusted by two tenants' pools)
    (
        "tenant-role-trust-binding",
        "two tenants' pools",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: (
                    s.update(Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]),
                    s["Condition"]["StringEquals"].update(
                        {"cognito-identity.amazonaws.com:aud": [POOLS["acme"], POOLS["globex"]]}
                    ),
                ),
            )
        ),
        "trusted by the pools of tenants ['acme', 'globex']",
    ),
    (
        "tenant-role-trust-binding",
        "unknown pool",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: s["Condition"]["StringEquals"].update(
                    {"cognito-identity.amazonaws.com:aud": "ap-southeast-1:99999999-9999-9999-9999-999999999999"}
                ),
            )
        ),
        "that this stack does not define",
    ),
    (
        "tenant-role-trust-binding",
        "another tenant's pool",
        lambda: acme_trust(
            stmt(
                0,
                lambda s: s["Condition"]["StringEquals"].update(
                    {"cognito-identity.amazonaws.com:aud": POOLS["globex"]}
                ),
            )
        ),
        "whose trust does not name that pool",
    ),
    (
        "tenant-role-trust-binding",
        "TagSession without ABAC",
        lambda: acme_trust(stmt(0, lambda s: s.update(Action=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]))),
        "allows sts:TagSession but no policy uses",
    ),
    # invariants 24 and 25
    (
        "identity-pool-maps-own-roles",
        "other tenant's role",
        lambda: edit_props(
            compliant_stack(),
            "acme-identity-roles",
            lambda p: p["roles"].update(authenticated=role_arn("globex-TenantUserRole")),
        ),
        "is not one of tenant acme's roles",
    ),
    (
        "identity-pool-maps-own-roles",
        "unauthenticated",
        lambda: edit_props(
            compliant_stack(),
            "acme-identity-roles",
            lambda p: p["roles"].update(unauthenticated=role_arn("acme-TenantUserRole")),
        ),
        "'unauthenticated' role",
    ),
    (
        "identity-pool-maps-own-roles",
        "unknown role",
        lambda: edit_props(
            compliant_stack(),
            "acme-identity-roles",
            lambda p: p["roles"].update(authenticated="arn:aws:iam::123456789012:role/Elsewhere"),
        ),
        "is not a role of this stack",
    ),
    (
        "identity-pool-maps-own-roles",
        "missing pool id",
        lambda: edit_props(compliant_stack(), "acme-identity-roles", lambda p: p.pop("identityPoolId")),
        "names identity pool ''",
    ),
    # invariant 13
    (
        "iam-policy-size",
        "managed policy too big",
        lambda: acme_admin(stmt(0, lambda s: s["Resource"].extend(f"{TABLE_LEAVE}/index/I{n:04d}" for n in range(90)))),
        "IAM/DynamoDB allow 6144",
    ),
    (
        "iam-policy-size",
        "trust too big",
        lambda: edit_doc(
            abac_stack(),
            ABAC_ADMIN_ROLE,
            "assumeRolePolicy",
            bound_pools(*((f"ap-southeast-1:{n:08d}-0000-0000-0000-000000000000", f"t{n:02d}") for n in range(10))),
        ),
        "the quota is 2048",
    ),
    (
        "iam-role-policy-quota",
        "11 managed policies",
        lambda: extra(
            [attach("acme-TenantUserRole", policy_arn("acme-TenantUserPolicy"), f"dup{n}") for n in range(10)]
        ),
        "11 managed policies attached; the quota is 10",
    ),
    (
        "iam-role-policy-quota",
        "inline too big",
        lambda: extra(
            [
                {
                    "type": "aws:iam/rolePolicy:RolePolicy",
                    "name": f"inline{n}",
                    "props": {
                        "role": "SystemSupportRole",
                        "policy": json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Deny",
                                        "Action": "s3:GetObject",
                                        "Resource": [f"{BUCKET}/x{m:05d}" for m in range(120)],
                                    }
                                ],
                            }
                        ),
                    },
                }
                for n in range(3)
            ]
        ),
        "inline policies total",
    ),
    # tenant action allowlist
    (
        "tenant-role-action-allowlist",
        "iam:PassRole",
        lambda: acme_admin(add_statement({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})),
        "['iam:passrole']",
    ),
    (
        "tenant-role-action-allowlist",
        "s3 bucket policy",
        lambda: acme_admin(add_statement({"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": BUCKET})),
        "s3:putbucketpolicy",
    ),
    (
        "tenant-role-action-allowlist",
        "tenant role producing to the image topic",  # the consumer trusts the tenantId producers write
        lambda: acme_admin(
            add_statement(
                {
                    "Effect": "Allow",
                    "Action": ["kafka-cluster:Connect", "kafka-cluster:WriteData"],
                    "Resource": "arn:aws:kafka:ap-southeast-1:123456789012:topic/hr-images/*/image-uploads",
                }
            )
        ),
        "kafka-cluster:connect",
    ),
    (
        "tenant-role-action-allowlist",
        "typo action",
        lambda: acme_admin(
            add_statement({"Effect": "Allow", "Action": "dynamodb:GetItems", "Resource": TABLE_EMPLOYMENT})
        ),
        "dynamodb:GetItems",
    ),
    # a key statement must be usable only through DynamoDB or S3 (kms:ViaService), on key ARNs
    (
        "tenant-role-action-allowlist",
        "key without kms:ViaService",
        lambda: acme_admin(add_statement({k: v for k, v in KEY_THROUGH_DYNAMODB.items() if k != "Condition"})),
        "statement TableKey: tenant roles hold only",
    ),
    (
        "tenant-role-action-allowlist",
        "key through another service",
        lambda: acme_admin(
            add_statement(
                {
                    **KEY_THROUGH_DYNAMODB,
                    "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.ap-southeast-1.amazonaws.com"}},
                }
            )
        ),
        "statement TableKey: tenant roles hold only",
    ),
    (
        "tenant-role-action-allowlist",
        "key on *",
        lambda: acme_admin(add_statement({**KEY_THROUGH_DYNAMODB, "Resource": "*"})),
        "statement TableKey: tenant roles hold only",
    ),
    # invariant 38 (known-bad 29)
    (
        "tenant-s3-object-prefix",
        "whole bucket",
        lambda: acme_admin(stmt(1, lambda s: s.update(Resource=[f"{BUCKET}/*"]))),
        "is not <bucket>/<root>/<tenant>/*",
    ),
    (
        "tenant-s3-object-prefix",
        "no delimiter",
        lambda: acme_admin(stmt(1, lambda s: s.update(Resource=[f"{BUCKET}/tenants/acme*"]))),
        "a '/' must separate",
    ),
    (
        "tenant-s3-object-prefix",
        "other tenant",
        lambda: acme_admin(stmt(1, lambda s: s.update(Resource=[f"{BUCKET}/tenants/globex/*"]))),
        "is not <bucket>/<root>/<tenant>/*",
    ),
    (
        "tenant-s3-object-prefix",
        "s3:prefix on objects",
        lambda: acme_admin(
            stmt(
                1,
                lambda s: s.update(Resource=[f"{BUCKET}/*"], Condition={"StringLike": {"s3:prefix": "tenants/acme/*"}}),
            )
        ),
        "s3:prefix never matches object actions",
    ),
    (
        "tenant-s3-object-prefix",
        "missing Resource",
        lambda: acme_admin(stmt(1, lambda s: s.pop("Resource"))),
        "object actions need Resource",
    ),
    # invariant 39
    (
        "tenant-s3-list-prefix",
        "unconditioned list",
        lambda: acme_admin(stmt(2, lambda s: s.pop("Condition"))),
        "no s3:prefix condition",
    ),
    (
        "tenant-s3-list-prefix",
        "root prefix",
        lambda: acme_admin(
            stmt(2, lambda s: s.update(Condition={"StringLike": {"s3:prefix": ["tenants/", "tenants/*"]}}))
        ),
        "needs StringLike s3:prefix",
    ),
    (
        "tenant-s3-list-prefix",
        "other tenant prefix",
        lambda: acme_admin(stmt(2, lambda s: s.update(Condition={"StringLike": {"s3:prefix": ["tenants/globex/"]}}))),
        "needs StringLike s3:prefix",
    ),
    (
        "tenant-s3-list-prefix",
        "mixed with objects",
        lambda: acme_admin(stmt(2, lambda s: s["Action"].append("s3:GetObject"))),
        "share a statement",
    ),
    (
        "tenant-s3-list-prefix",
        "list on objects ARN",
        lambda: acme_admin(stmt(2, lambda s: s.update(Resource=[f"{BUCKET}/*"]))),
        "belong on the bucket ARN only",
    ),
]


@pytest.mark.parametrize(("rule", "case", "build", "expected"), CASES, ids=[f"{r}:{c}" for r, c, _, _ in CASES])
def test_violating_fixture_is_reported(
    rule: str, case: str, build: Callable[[], list[dict[str, Any]]], expected: str
) -> None:
    found = violations([RULES[rule]], build())
    assert found, f"{rule} did not flag {case}"
    assert all(v.policy == rule for v in found)
    assert any(expected in v.message for v in found), [v.message for v in found]


@pytest.mark.parametrize("shape", ["keySchemas", "legacy"])
def test_index_keys_are_read_from_key_schemas_and_the_legacy_hash_key(shape: str) -> None:
    """The tenant-keyed index is allowed and the other one refused whichever shape the table's indexes have."""
    rule = RULES["tenant-dynamodb-resource-scope"]

    def with_shape(stack: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return edit_props(stack, "leave", lambda p: p.update(globalSecondaryIndexes=gsis(shape)))

    assert violations([rule], with_shape(compliant_stack())) == []  # acme's role names index/ByTenantDate
    due = with_shape(acme_admin(stmt(0, lambda s: s["Resource"].append(f"{TABLE_LEAVE}/index/DueJobs"))))
    assert any("'DueJobs' of LeaveDev is not keyed by TenantId" in v.message for v in violations([rule], due))


def test_every_rule_has_a_violating_fixture() -> None:
    assert {r for r, *_ in CASES} == set(RULES)


def test_null_guard_rule_blocks_the_deployment() -> None:
    found = violations(
        [RULES["tenant-leading-keys-null-guard"]],
        acme_admin(cond(0, {"ForAllValues:StringEquals": {LK: ["TENANT#acme"]}})),
    )
    assert found
    assert {v.level for v in found} == {"mandatory"}


def test_scan_exception_is_named_in_pack_config() -> None:
    stack = edit_doc(
        compliant_stack(), "SystemAdminPolicy-policy", "policy", stmt(0, lambda s: s["Action"].append("dynamodb:Scan"))
    )
    rule = RULES["system-role-scan-exception"]
    assert (
        violations([rule], stack, config={"system-role-scan-exception": {"scanAllowedRoles": ["SystemAdminRole"]}})
        == []
    )
    assert violations([rule], stack, config={"system-role-scan-exception": {"scanAllowedRoles": ["SystemSupportRole"]}})


def test_aws_managed_allowlist_is_config() -> None:
    stack = extra([attach("acme-TenantUserRole", "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess", "xray")])
    rule = RULES["tenant-role-managed-policy-allowlist"]
    cfg = {
        "tenant-role-managed-policy-allowlist": {
            "allowedAwsManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]
        }
    }
    assert violations([rule], stack, config=cfg) == []


def test_raised_trust_quota_is_config() -> None:
    stack = edit_doc(
        abac_stack(),
        ABAC_ADMIN_ROLE,
        "assumeRolePolicy",
        bound_pools(*((f"ap-southeast-1:{n:08d}-0000-0000-0000-000000000000", f"t{n:02d}") for n in range(5))),
    )
    rule = RULES["iam-policy-size"]
    assert violations([rule], stack, config={"iam-policy-size": {"trustPolicyMaxChars": 4096}}) == []


def test_managed_quota_is_config() -> None:
    stack = extra([attach("acme-TenantUserRole", policy_arn("acme-TenantUserPolicy"), f"dup{n}") for n in range(10)])
    assert (
        violations(
            [RULES["iam-role-policy-quota"]], stack, config={"iam-role-policy-quota": {"managedPoliciesPerRole": 20}}
        )
        == []
    )


def test_pool_without_providers_needs_no_tag_map() -> None:
    """A pool with no identity provider cannot mint authenticated identities, so no tag map is needed (the
    Platform's stand-in pools); as soon as it has a provider, the map is required."""
    stack = [r for r in abac_stack() if r["name"] != "globex-principal-tags"]
    no_provider = edit_props(stack, "globex-identity-pool", lambda p: p.pop("cognitoIdentityProviders"))
    assert violations([RULES["abac-principal-tag-provenance"]], no_provider) == []


def test_literal_actions_in_fixture_match_admin_set() -> None:
    # guard: the fixture's admin set is the invariant-1 allowlist minus DescribeTable
    assert sorted(ADMIN_ACTIONS) == sorted(
        [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
        ]
    )


def test_trust_fixture_shape() -> None:
    assert trust(POOLS["acme"])["Statement"][0]["Condition"]["StringEquals"] == {
        "cognito-identity.amazonaws.com:aud": "ap-southeast-1:11111111-1111-1111-1111-111111111111"
    }


def test_a_tenant_role_may_use_its_key_through_dynamodb_or_s3() -> None:
    """The compliant side of the key cases: the statements the builders emit pass every rule (so the violating
    fixtures above are refused for the missing or foreign kms:ViaService, not for naming a key at all)."""
    through_s3 = {
        **KEY_THROUGH_DYNAMODB,
        "Sid": "DocumentsKey",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Condition": {
            "StringEquals": {
                "kms:ViaService": "s3.ap-southeast-1.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": BUCKET,
            }
        },
    }
    stack = acme_admin(lambda d: d["Statement"].extend([dict(KEY_THROUGH_DYNAMODB), through_s3]))
    assert violations(list(RULES.values()), stack) == []


def _stray_role(trust_doc: dict[str, Any], actions: list[str]) -> list[dict[str, Any]]:
    """A role no identity pool maps, with a literal acme policy granting ``actions`` on a pool table."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Reports",
                "Effect": "Allow",
                "Action": actions,
                "Resource": [TABLE_EMPLOYMENT],
                "Condition": GOOD_LK,
            }
        ],
    }
    return [
        {
            "type": "aws:iam/role:Role",
            "name": "reports-role",
            "props": {
                "name": "ReportsRole",
                "arn": role_arn("ReportsRole"),
                "assumeRolePolicy": json.dumps(trust_doc),
                "tags": {},
            },
        },
        {
            "type": "aws:iam/policy:Policy",
            "name": "reports-policy",
            "props": {"name": "ReportsPolicy", "arn": policy_arn("ReportsPolicy"), "policy": json.dumps(doc)},
        },
        attach("ReportsRole", policy_arn("ReportsPolicy"), "reports-attachment"),
    ]


def test_a_role_any_identity_pool_can_assume_is_judged_as_a_tenant_role() -> None:
    """A Cognito-trusted role without an ``aud`` condition can be assumed through any identity pool, in any account:
    no pool of this stack maps it, yet it is reachable by an unknown tenant, so every tenant rule judges its policies
    (its Scan is refused and its literal acme key is not this role's tenant)."""
    no_aud = trust(POOLS["acme"])
    no_aud["Statement"][0]["Condition"].pop("StringEquals")
    stack = extra(_stray_role(no_aud, [*ADMIN_ACTIONS, "dynamodb:Scan"]))
    scan = violations([RULES["tenant-no-scan-partiql-streams"]], stack)
    assert [v.message for v in scan if "role ReportsRole" in v.message and "'dynamodb:scan'" in v.message]
    keys = violations([RULES["tenant-leading-keys-exact"]], stack)
    assert [v.message for v in keys if "role ReportsRole" in v.message and "reached from tenants ['?']" in v.message]
    # the same role trusted by acme's pool only is acme's: its key passes, its Scan is still refused
    own = extra(_stray_role(trust(POOLS["acme"]), [*ADMIN_ACTIONS, "dynamodb:Scan"]))
    assert violations([RULES["tenant-leading-keys-exact"]], own) == []
    assert violations([RULES["tenant-no-scan-partiql-streams"]], own)
