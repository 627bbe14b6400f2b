"""Real Cedar semantics: every action of the schema, evaluated by cedarpy over the repository's assets.

Expected outcomes are written out here from the documented rules (docs/authorization.md, "TenantAuthorization"), not derived
from the schema's action groups, so changing a policy or a group membership changes these results:

* a tenant ``admin`` may do every declared action on any record of their own tenant;
* any member may read (Read/List) their own records of Employment, PIM, MeAtWork, WorkSchedule, Leave,
  TimeAttendance, Overtime, Payroll and Notifications; update their own PIM, MeAtWork and Notifications data;
  and submit their own MeAtWork, WorkSchedule, Leave, TimeAttendance and Overtime requests;
* members of the linked groups ``approvers`` / ``hr-readers`` / ``payroll-officers`` of the tenant's own pool
  may approve requests / read and list everything / do every Payroll action, in their tenant;
* any member may upload images they own (``UploadImage`` on an ``Image`` whose owner is the caller);
* nothing crosses tenants, nothing works with a token of another environment, unknown actions never allow.
"""

from __future__ import annotations

import itertools
from typing import Any

import cedarpy
import pytest

from saas_platform.components.cedar import CEDAR_DIR as ASSETS_DIR
from saas_platform.components.cedar import default_assets, tenant_policy_set

POOLS = {"acme": "ap-southeast-1_AbCdEf123", "globex": "ap-southeast-1_GhIjKl456"}
SERVICES = [
    "Employment",
    "PIM",
    "MeAtWork",
    "WorkSchedule",
    "Leave",
    "TimeAttendance",
    "Overtime",
    "Payroll",
    "Notifications",
    "IAM",
    "SRM",
]
REQUEST_SERVICES = {"MeAtWork", "WorkSchedule", "Leave", "TimeAttendance", "Overtime"}
SELF_READ_SERVICES = set(SERVICES) - {"IAM", "SRM"}
SELF_UPDATE = {"UpdatePIM", "UpdateMeAtWork", "UpdateNotifications"}
EXPECTED_ACTIONS = sorted(
    [f"{verb}{s}" for s in SERVICES for verb in ("Read", "List", "Create", "Update", "Delete")]
    + [f"{verb}{s}" for s in REQUEST_SERVICES for verb in ("Submit", "Approve")]
    + ["RunPayroll", "SendNotifications", "UploadImage"]
)
RESOURCE_TYPES = [*SERVICES, "Image"]


def service_of(action: str) -> str:
    return next(s for s in sorted(RESOURCE_TYPES, key=len, reverse=True) if action.endswith(s))


def user_may(action: str, owns: bool) -> bool:
    if not owns:
        return False
    if action == "UploadImage":
        return True
    service = service_of(action)
    verb = action.removesuffix(service)
    return (
        (verb in ("Read", "List") and service in SELF_READ_SERVICES)
        or action in SELF_UPDATE
        or (verb == "Submit" and service in REQUEST_SERVICES)
    )


def group_may(group: str, action: str) -> bool:
    service = service_of(action)
    verb = action.removesuffix(service)
    return {
        "approvers": verb == "Approve",
        "hr-readers": verb in ("Read", "List"),
        "payroll-officers": service == "Payroll",
    }[group]


ASSETS = default_assets()
POLICY_SETS = {t: tenant_policy_set(ASSETS, t, POOLS[t]) for t in POOLS}
SCHEMA = cedarpy.Schema.from_json_str(ASSETS.schema_json)


def decide(
    store: str,
    principal_tenant: str,
    role: str,
    action: str,
    resource_tenant: str,
    owner: str | None,
    groups: tuple[str, ...] = (),
    environment: str = "dev",
    sub: str = "u-1",
) -> bool:
    pool = POOLS[principal_tenant]
    principal = {"type": "OptimalHR::User", "id": f"{pool}|{sub}"}
    resource = {"type": f"OptimalHR::{service_of(action)}", "id": f"/v1/x/{resource_tenant}/{owner}"}
    attrs: dict[str, Any] = {"tenantId": resource_tenant}
    if owner is not None:
        attrs["owner"] = owner
    entities = [
        {
            "uid": principal,
            "attrs": {
                "sub": sub,
                "custom": {"tenantId": principal_tenant, "tenantRole": role, "environment": environment},
            },
            "parents": [{"type": "OptimalHR::UserGroup", "id": f"{pool}|{g}"} for g in groups],
        },
        {"uid": resource, "attrs": attrs, "parents": [{"type": "OptimalHR::Tenant", "id": resource_tenant}]},
    ]
    request = {
        "principal": principal,
        "action": {"type": "OptimalHR::Action", "id": action},
        "resource": resource,
        "context": {"environment": "dev"},
    }
    result = cedarpy.is_authorized(request, POLICY_SETS[store], entities, schema=SCHEMA)
    assert not result.diagnostics.errors or result.decision != cedarpy.Decision.Allow
    return result.decision == cedarpy.Decision.Allow


def test_schema_declares_exactly_the_documented_actions() -> None:
    assert list(ASSETS.actions) == EXPECTED_ACTIONS
    assert len(EXPECTED_ACTIONS) == 68
    assert list(ASSETS.schema) == ["OptimalHR"]


MATRIX = list(itertools.product(POOLS, ("admin", "user"), EXPECTED_ACTIONS, ("own", "other-user", "none")))


@pytest.mark.parametrize("tenant", list(POOLS))
def test_decision_matrix_within_and_across_tenants(tenant: str) -> None:
    """For each store: both tenants' principals x admin/user x every action x record ownership x resource tenant."""
    checked = 0
    failures: list[str] = []
    for principal_tenant, role, action, ownership in MATRIX:
        owner = {"own": "u-1", "other-user": "u-2", "none": None}[ownership]
        for resource_tenant in POOLS:
            allowed = decide(tenant, principal_tenant, role, action, resource_tenant, owner)
            same = principal_tenant == tenant == resource_tenant
            expected = same and (role == "admin" or user_may(action, ownership == "own"))
            checked += 1
            if allowed != expected:
                failures.append(
                    f"{principal_tenant}/{role} {action} {ownership} in {resource_tenant}@{tenant}: {allowed}"
                )
    assert checked == len(MATRIX) * 2  # 2 tenants x 2 roles x 68 actions x 3 ownerships x 2 resource tenants
    assert failures == []


def test_matrix_size() -> None:
    """Pinned so the report's figure is checkable: 2 stores x 2 principal tenants x 2 roles x 68 actions x 3
    ownerships x 2 resource tenants."""
    assert len(MATRIX) * 2 * 2 == 3264


def test_a_store_serves_only_its_own_tenant() -> None:
    """Even with a consistent principal and resource of another tenant, acme's store allows nothing for them."""
    for action in EXPECTED_ACTIONS:
        assert not decide("acme", "globex", "admin", action, "globex", "u-1")
        assert decide("globex", "globex", "admin", action, "globex", "u-1")


def test_resource_claiming_the_tenant_without_being_in_it_is_denied() -> None:
    """tenantId attribute and Tenant parent must agree (the authorizer sets both from deploy-time config)."""
    pool = POOLS["acme"]
    principal = {"type": "OptimalHR::User", "id": f"{pool}|a-1"}
    resource = {"type": "OptimalHR::PIM", "id": "/v1/pim/profiles"}
    entities = [
        {
            "uid": principal,
            "attrs": {"sub": "a-1", "custom": {"tenantId": "acme", "tenantRole": "admin", "environment": "dev"}},
            "parents": [],
        },
        {"uid": resource, "attrs": {"tenantId": "acme"}, "parents": [{"type": "OptimalHR::Tenant", "id": "globex"}]},
    ]
    request = {
        "principal": principal,
        "action": {"type": "OptimalHR::Action", "id": "ListPIM"},
        "resource": resource,
        "context": {"environment": "dev"},
    }
    result = cedarpy.is_authorized(request, POLICY_SETS["acme"], entities, schema=ASSETS.schema_json)
    assert result.decision == cedarpy.Decision.Deny


@pytest.mark.parametrize("group", ["approvers", "hr-readers", "payroll-officers"])
def test_template_linked_groups_of_the_tenants_own_pool(group: str) -> None:
    failures = []
    for action in EXPECTED_ACTIONS:
        # a plain user (no ownership) in the group: only the group's grant applies
        if decide("acme", "acme", "user", action, "acme", None, groups=(group,)) != group_may(group, action):
            failures.append(action)
        # the same group name in another tenant's pool grants nothing in this store
        assert not decide("acme", "globex", "user", action, "acme", None, groups=(group,))
        # and the group never reaches another tenant's records
        assert not decide("acme", "acme", "user", action, "globex", None, groups=(group,))
    assert failures == []


@pytest.mark.parametrize("action", ["DropTenant", "ReadEverything", "readLeave", "ReadLeave "])
def test_unknown_actions_are_never_allowed(action: str) -> None:
    principal = {"type": "OptimalHR::User", "id": f"{POOLS['acme']}|a-1"}
    resource = {"type": "OptimalHR::Leave", "id": "/v1/leave"}
    entities = [
        {
            "uid": principal,
            "attrs": {"sub": "a-1", "custom": {"tenantId": "acme", "tenantRole": "admin", "environment": "dev"}},
            "parents": [],
        },
        {"uid": resource, "attrs": {"tenantId": "acme"}, "parents": [{"type": "OptimalHR::Tenant", "id": "acme"}]},
    ]
    request = {
        "principal": principal,
        "action": {"type": "OptimalHR::Action", "id": action},
        "resource": resource,
        "context": {"environment": "dev"},
    }
    with_schema = cedarpy.is_authorized(request, POLICY_SETS["acme"], entities, schema=ASSETS.schema_json)
    without_schema = cedarpy.is_authorized(request, POLICY_SETS["acme"], entities)
    assert with_schema.decision != cedarpy.Decision.Allow
    assert without_schema.decision == cedarpy.Decision.Deny  # even unvalidated: admin's grant is AllActions only


@pytest.mark.parametrize("role", ["admin", "user"])
def test_token_of_another_environment_is_denied_by_the_policies_too(role: str) -> None:
    assert decide("acme", "acme", role, "ReadPIM", "acme", "u-1")
    assert not decide("acme", "acme", role, "ReadPIM", "acme", "u-1", environment="prod")


@pytest.mark.parametrize("role", ["superuser", "support", "Admin", "ADMIN", ""])
def test_only_the_exact_admin_role_is_admin(role: str) -> None:
    assert not decide("acme", "acme", role, "DeleteEmployment", "acme", None)
    assert decide("acme", "acme", role, "ReadPIM", "acme", "u-1")  # still a member: own records


def test_policy_change_changes_decisions(tmp_path: Any) -> None:
    """The tests evaluate the files: dropping self-read-own-records removes the user's read of own records."""
    import shutil

    from saas_platform.components.cedar import load_assets, validate_assets

    shutil.copytree(ASSETS_DIR, tmp_path / "cedar")
    (tmp_path / "cedar" / "policies" / "self-read-own-records.cedar").unlink()
    assets = load_assets(tmp_path / "cedar")
    validate_assets(assets)
    ps = tenant_policy_set(assets, "acme", POOLS["acme"])
    principal = {"type": "OptimalHR::User", "id": f"{POOLS['acme']}|u-1"}
    resource = {"type": "OptimalHR::PIM", "id": "/v1/me/pim"}
    entities = [
        {
            "uid": principal,
            "attrs": {"sub": "u-1", "custom": {"tenantId": "acme", "tenantRole": "user", "environment": "dev"}},
            "parents": [],
        },
        {
            "uid": resource,
            "attrs": {"tenantId": "acme", "owner": "u-1"},
            "parents": [{"type": "OptimalHR::Tenant", "id": "acme"}],
        },
    ]
    request = {
        "principal": principal,
        "action": {"type": "OptimalHR::Action", "id": "ReadPIM"},
        "resource": resource,
        "context": {"environment": "dev"},
    }
    before = cedarpy.is_authorized(request, POLICY_SETS["acme"], entities, schema=ASSETS.schema_json)
    after = cedarpy.is_authorized(request, ps, entities, schema=assets.schema_json)
    assert (before.decision, after.decision) == (cedarpy.Decision.Allow, cedarpy.Decision.Deny)
