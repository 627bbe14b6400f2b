"""Least privilege inside a tenant (issue 9, finding 7): what a tenant principal may do with identity-pool
credentials must be a subset of what the Cedar policies let the same person do through the API.

Both sides are derived, not listed: the IAM side by evaluating every (action, table) and (action, document) of
each tenant role with the maintained evaluator (identity + key + bucket policies, as in the matrix), the Cedar side
by cedarpy over the repository's policy set for that tenant. An IAM grant on a table reaches *every* row of the
tenant's partition (IAM cannot tell one employee's rows from another's), so it is compared with what Cedar allows on
a record owned by another member of the tenant.

The mapping from IAM to Cedar is the one stated in docs/access.md ("Inside a tenant"):

* table ``<T>`` is Cedar type ``OptimalHR::<T>``; GetItem/BatchGetItem/Query/ConditionCheckItem need Read<T> and
  List<T>, PutItem Create<T> and Update<T>, UpdateItem Update<T>, DeleteItem Delete<T>, BatchWriteItem Create<T>
  and Delete<T>;
* ImageMetadata and TenantJob are pipeline-owned (written by the image pipeline and the job runners) and are not
  Cedar entity types: the model gives tenant administrators read-only access to them, and nothing to users;
* documents are employee self-service attachments (``OptimalHR::MeAtWork``): an object under
  ``tenants/<t>/users/<identity>/`` is owned by that identity, one elsewhere under ``tenants/<t>/`` by nobody;
  GetObject needs Read, PutObject Update, DeleteObject Delete.
"""

from __future__ import annotations

import functools
from typing import Any

import cedarpy
import pytest

from saas_platform.components.cedar import default_assets, tenant_policy_set
from tests.authz_matrix import ACCOUNT, OTHER_USER, USER, Policies, simulate
from tests.conftest import run_stack

ITEM_ACTIONS: dict[str, tuple[str, ...]] = {
    "dynamodb:GetItem": ("Read", "List"),
    "dynamodb:BatchGetItem": ("Read", "List"),
    "dynamodb:Query": ("Read", "List"),
    "dynamodb:ConditionCheckItem": ("Read", "List"),
    "dynamodb:PutItem": ("Create", "Update"),
    "dynamodb:UpdateItem": ("Update",),
    "dynamodb:DeleteItem": ("Delete",),
    "dynamodb:BatchWriteItem": ("Create", "Delete"),
}
OBJECT_ACTIONS: dict[str, tuple[str, ...]] = {
    "s3:GetObject": ("Read",),
    "s3:PutObject": ("Update",),
    "s3:DeleteObject": ("Delete",),
}
PIPELINE_TABLES = ("ImageMetadata", "TenantJob")
READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
TENANT = "acme"
ASSETS = default_assets()
SCHEMA = cedarpy.Schema.from_json_str(ASSETS.schema_json)
POOL = "ap-southeast-1_Contain01"


def cedar_allows(role: str, action: str, entity_type: str, owner: str | None) -> bool:
    principal = {"type": "OptimalHR::User", "id": f"{POOL}|{USER}"}
    resource = {"type": f"OptimalHR::{entity_type}", "id": f"r-{owner}"}
    attrs: dict[str, Any] = {"tenantId": TENANT, **({"owner": owner} if owner else {})}
    entities = [
        {
            "uid": principal,
            "attrs": {"sub": USER, "custom": {"tenantId": TENANT, "tenantRole": role, "environment": "dev"}},
            "parents": [],
        },
        {"uid": resource, "attrs": attrs, "parents": [{"type": "OptimalHR::Tenant", "id": TENANT}]},
    ]
    request = {
        "principal": principal,
        "action": {"type": "OptimalHR::Action", "id": f"{action}{entity_type}"},
        "resource": resource,
        "context": {"environment": "dev"},
    }
    result = cedarpy.is_authorized(request, _policies(), entities, schema=SCHEMA)
    return result.decision == cedarpy.Decision.Allow


@functools.cache
def _policies() -> cedarpy.PolicySet:
    return tenant_policy_set(ASSETS, TENANT, POOL)


def model_allows(role: str, action: str, target: str) -> bool:
    """What the authorization model lets ``role`` do: Cedar for Cedar types, the pipeline rule otherwise."""
    kind, _, name = target.partition(":")
    if kind == "table" and name in PIPELINE_TABLES:
        return role == "admin" and action in READS
    if kind == "table":
        return all(cedar_allows(role, verb, name, OTHER_USER) for verb in ITEM_ACTIONS[action])
    owner = {"own": USER, "colleague": OTHER_USER, "shared": None}[name]
    return all(cedar_allows(role, verb, "MeAtWork", owner) for verb in OBJECT_ACTIONS[action])


@functools.cache
def iam_allowed(mode: str) -> dict[str, set[tuple[str, str]]]:
    """Per tenant role: the (action, target) pairs its credentials are allowed, evaluated."""
    run = run_stack("dev", {"saas:access": {"mode": mode}})
    pol = Policies.of(run)
    roles = run.outputs["tenantRoleArns"][TENANT]
    bucket = f"arn:aws:s3:::{run.outputs['documentBucketName']}"
    keys = {"own": f"users/{USER}/", "colleague": f"users/{OTHER_USER}/", "shared": ""}
    cases: list[tuple[str, str, str, dict[str, Any]]] = []
    for role, arn in roles.items():
        entry = pol.roles[arn]
        session = {"cognito-identity.amazonaws.com:sub": USER, "aws:PrincipalArn": arn}
        if mode == "abac":
            session["aws:PrincipalTag/TenantId"] = TENANT

        def sim(action: str, resource: str, context: dict[str, Any], *, entry: dict[str, Any] = entry,
                session: dict[str, Any] = session) -> dict[str, Any]:  # fmt: skip
            out: dict[str, Any] = {
                "request": {
                    "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/{entry['name']}/s",
                    "action": action,
                    "resource": {"resource": resource, "accountId": ACCOUNT},
                    "contextVariables": {**context, **session},
                },
                "identityPolicies": [{"name": f"p{i}", "policy": d} for i, d in enumerate(entry["identity"])],
                "serviceControlPolicies": [],
                "resourceControlPolicies": [],
            }
            rp = pol.resource_policy(action, resource)
            if rp is not None:
                out["resourcePolicy"] = rp
            return out

        for base, table in run.outputs["tableArns"].items():
            for action in ITEM_ACTIONS:
                ctx = {"dynamodb:LeadingKeys": [f"TENANT#{TENANT}"]}
                cases.append((role, action, f"table:{base}", sim(action, table, ctx)))
        for name, prefix in keys.items():
            for action in OBJECT_ACTIONS:
                resource = f"{bucket}/tenants/{TENANT}/{prefix}doc.pdf"
                ctx = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
                cases.append((role, action, f"documents:{name}", sim(action, resource, ctx)))
    results = simulate([c[3] for c in cases])
    allowed: dict[str, set[tuple[str, str]]] = {r: set() for r in roles}
    for (role, action, target, _), result in zip(cases, results, strict=True):
        assert result["result"] != "Error", (role, action, target, result)
        if result["result"] == "Allowed":
            allowed[role].add((action, target))
    return allowed


@pytest.mark.parametrize("mode", ["perTenant", "abac"])
@pytest.mark.parametrize("role", ["admin", "user"])
def test_credentials_never_exceed_the_api(mode: str, role: str) -> None:
    granted = iam_allowed(mode)[role]
    beyond = sorted((a, t) for a, t in granted if not model_allows(role, a, t))
    print(f"containment {mode}/{role}: {len(granted)} IAM grants, {len(beyond)} beyond Cedar")
    assert beyond == []


@pytest.mark.parametrize("mode", ["perTenant", "abac"])
def test_what_each_role_keeps(mode: str) -> None:
    """The containment is not met by granting nothing: admins still write HR tables and documents, users still
    read and upload their own documents."""
    admin, user = iam_allowed(mode)["admin"], iam_allowed(mode)["user"]
    assert ("dynamodb:PutItem", "table:Payroll") in admin
    assert ("dynamodb:Query", "table:ImageMetadata") in admin
    assert ("dynamodb:PutItem", "table:ImageMetadata") not in admin
    assert ("dynamodb:PutItem", "table:TenantJob") not in admin
    assert ("s3:DeleteObject", "documents:shared") in admin
    assert {("s3:GetObject", "documents:own"), ("s3:PutObject", "documents:own")} <= user
    assert not {t for _, t in user if t.startswith("table:")}
    assert ("s3:PutObject", "documents:colleague") not in user
    assert ("s3:GetObject", "documents:shared") not in user


def test_cedar_side_is_not_vacuous() -> None:
    assert cedar_allows("admin", "Update", "Payroll", OTHER_USER)
    assert not cedar_allows("user", "Read", "Payroll", OTHER_USER)
    assert cedar_allows("user", "Read", "Payroll", USER)
    assert cedar_allows("user", "Update", "MeAtWork", USER)
    assert not cedar_allows("user", "Update", "MeAtWork", OTHER_USER)
