"""TenantAuthorization, the Cedar asset loader and the Platform wiring: pinned on what the engine receives."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from saas_platform.components.authorization import TenantAuthorization, TenantAuthorizationArgs
from saas_platform.components.cedar import CEDAR_DIR, CedarValidationError, default_assets, load_assets, validate_assets
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.policies.offline import evaluate_run
from tests.authz_support import ACME, GLOBEX, SERVICE_ARNS, run_platform

STORE = "aws:verifiedpermissions/policyStore:PolicyStore"
SCHEMA = "aws:verifiedpermissions/schema:Schema"
POLICY = "aws:verifiedpermissions/policy:Policy"
TEMPLATE = "aws:verifiedpermissions/policyTemplate:PolicyTemplate"
IDENTITY_SOURCE = "aws:verifiedpermissions/identitySource:IdentitySource"


def args(tenant: Any = ACME, **kw: Any) -> TenantAuthorizationArgs:
    base: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "environment": "dev",
        "user_pool_id": tenant.user_pool_id,
        "user_pool_arn": tenant.user_pool_arn,
        "client_ids": list(tenant.client_ids),
    }
    return TenantAuthorizationArgs(**{**base, **kw})


@pytest.fixture(scope="module")
def two_tenants() -> ProgramRun:
    def program() -> None:
        TenantAuthorization("acme-authz", args(ACME))
        TenantAuthorization("globex-authz", args(GLOBEX, protect=False))

    return run_function(program, stack="dev")


def of_store(run: ProgramRun, component: str, type_: str) -> list[Any]:
    return [r for r in run.of_type(type_) if r.name.startswith(f"{component}-")]


def test_store_is_strict_protected_and_described(two_tenants: ProgramRun) -> None:
    (acme,) = of_store(two_tenants, "acme-authz", STORE)
    assert acme.inputs["validationSettings"] == {"mode": "STRICT"}
    assert acme.inputs["deletionProtection"] == "ENABLED"
    assert (acme.options.protect, acme.options.retain_on_delete) == (True, True)
    assert acme.inputs["description"] == "OptimalHR authorization for tenant acme in dev"
    assert acme.inputs["tags"] == {
        "saas:tenant": "acme",
        "saas:environment": "dev",
        "saas:component": "TenantAuthorization",
    }
    (globex,) = of_store(two_tenants, "globex-authz", STORE)
    assert globex.inputs["deletionProtection"] == "DISABLED"
    assert globex.options.protect is False


def test_store_holds_schema_templates_policies_and_one_identity_source(two_tenants: ProgramRun) -> None:
    for component, tenant in (("acme-authz", ACME), ("globex-authz", GLOBEX)):
        (store,) = of_store(two_tenants, component, STORE)
        store_id = store.state["policyStoreId"]
        children = [r for r in two_tenants.resources if r.inputs.get("policyStoreId") == store_id]
        counts = Counter(r.type for r in children)
        assert counts == {SCHEMA: 1, TEMPLATE: 3, POLICY: 7 + 3, IDENTITY_SOURCE: 1}
        (schema,) = [r for r in children if r.type == SCHEMA]
        assert schema.inputs["definition"]["value"] == default_assets().schema_json
        (source,) = [r for r in children if r.type == IDENTITY_SOURCE]
        assert source.inputs["principalEntityType"] == "OptimalHR::User"
        assert source.inputs["configuration"] == {
            "cognitoUserPoolConfiguration": {
                "userPoolArn": tenant.user_pool_arn,
                "clientIds": list(tenant.client_ids),
                "groupConfiguration": {"groupEntityType": "OptimalHR::UserGroup"},
            }
        }
        links = [r for r in children if r.type == POLICY and "templateLinked" in r.inputs["definition"]]
        assert sorted(lk.inputs["definition"]["templateLinked"]["principal"]["entityId"] for lk in links) == sorted(
            f"{tenant.user_pool_id}|{g}" for g in ("approvers", "hr-readers", "payroll-officers")
        )
        for lk in links:
            linked = lk.inputs["definition"]["templateLinked"]
            assert linked["resource"] == {"entityType": "OptimalHR::Tenant", "entityId": tenant.tenant_id}
        statics = [
            r.inputs["definition"]["static"]["statement"]
            for r in children
            if r.type == POLICY and "static" in r.inputs["definition"]
        ]
        assert any(f'OptimalHR::Tenant::"{tenant.tenant_id}"' in s for s in statics)
        assert not any("{{tenantId}}" in s for s in statics)


def test_everything_validated_by_the_schema_waits_for_it_and_batches_are_chained(two_tenants: ProgramRun) -> None:
    (schema,) = of_store(two_tenants, "acme-authz", SCHEMA)
    members = of_store(two_tenants, "acme-authz", POLICY) + of_store(two_tenants, "acme-authz", TEMPLATE)
    assert len(members) == 13
    for r in members:
        assert schema.urn in r.options.depends_on, r.name
    depth: dict[str, int] = {}
    by_urn = {r.urn: r for r in members}

    def level(urn: str) -> int:
        if urn not in depth:
            deps = [d for d in by_urn[urn].options.depends_on if d in by_urn]
            depth[urn] = 1 + max((level(d) for d in deps), default=0)
        return depth[urn]

    levels = Counter(level(r.urn) for r in members)
    assert max(levels.values()) <= 5, levels  # never more than policy_batch_size at once
    assert sorted(levels) == [1, 2, 3]  # 13 creations in chained batches of 5, 5, 3
    (source,) = of_store(two_tenants, "acme-authz", IDENTITY_SOURCE)
    assert schema.urn in source.options.depends_on


def test_names_are_unique_across_tenants(two_tenants: ProgramRun) -> None:
    names = Counter((r.type, r.name) for r in two_tenants.resources)
    assert [k for k, n in names.items() if n > 1] == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"client_ids": []}, "client_ids must be a non-empty list"),
        ({"client_ids": [""]}, "contains an empty id"),
        ({"tenant_id": "system"}, "not be 'system'"),
        ({"tenant_id": "Acme"}, "tenant_id must match"),
        ({"policy_batch_size": 0}, "policy_batch_size must be 1-25"),
    ],
)
def test_bad_arguments_are_rejected(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message):
        args(**kw)


def broken_assets(tmp_path: Path, policy_id: str, text: str, where: str = "policies") -> Path:
    root = tmp_path / "cedar"
    shutil.copytree(CEDAR_DIR, root)
    (root / where / f"{policy_id}.cedar").write_text(text)
    return root


def test_a_broken_policy_fails_with_its_id_and_the_cedar_error(tmp_path: Path) -> None:
    root = broken_assets(
        tmp_path,
        "leaky",
        '// reads a typo\npermit (principal, action, resource) when { principal.custom.tenantRol == "admin" };',
    )
    with pytest.raises(CedarValidationError, match=r"policy 'leaky': .*attribute `custom.tenantRol`.*not found"):
        validate_assets(load_assets(root))


def test_a_policy_that_does_not_parse_names_its_id(tmp_path: Path) -> None:
    root = broken_assets(tmp_path, "garbled", "// nope\npermit (principal action resource);")
    with pytest.raises(CedarValidationError, match=r"policy 'garbled': does not parse"):
        validate_assets(load_assets(root))


def test_a_template_referring_to_an_unknown_action_fails(tmp_path: Path) -> None:
    root = broken_assets(
        tmp_path,
        "approvers",
        '// x\npermit (principal in ?principal, action == OptimalHR::Action::"FireEveryone", resource in ?resource);',
        where="templates",
    )
    with pytest.raises(CedarValidationError, match=r"policy 'approvers': .*FireEveryone"):
        validate_assets(load_assets(root))


def test_a_broken_policy_fails_the_program_before_any_store_is_registered(tmp_path: Path) -> None:
    root = broken_assets(tmp_path, "leaky", "// x\npermit (principal, action, resource) when { resource.nope };")
    registered: list[str] = []

    def program() -> None:
        try:
            TenantAuthorization("acme-authz", args(assets=load_assets(root)))
        except CedarValidationError as exc:
            registered.append(str(exc))

    run = run_function(program, stack="dev")
    assert run.of_type(STORE) == []
    assert "policy 'leaky'" in registered[0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda root: (root / "links.json").write_text('{"links": [{"template": "nope", "group": "x"}]}'),
            "no template 'nope'",
        ),
        (
            lambda root: (root / "links.json").write_text('{"links": [{"template": "approvers", "group": "a b"}]}'),
            "is not a Cognito group name",
        ),
        (
            lambda root: (root / "policies" / "Bad_Name.cedar").write_text(
                "// x\nforbid (principal, action, resource);"
            ),
            "file name 'Bad_Name' is the policy id",
        ),
        (
            lambda root: (root / "templates" / "slotless.cedar").write_text(
                "// x\nforbid (principal, action, resource);"
            ),
            r"a template needs a \?principal or \?resource slot",
        ),
        (
            lambda root: (root / "policies" / "slotted.cedar").write_text(
                "// x\npermit (principal == ?principal, action, resource);"
            ),
            "has a slot",
        ),
        (
            lambda root: (root / "policies" / "silent.cedar").write_text("forbid (principal, action, resource);"),
            "start the file with a // comment",
        ),
    ],
)
def test_asset_problems_are_reported(tmp_path: Path, edit: Any, message: str) -> None:
    root = tmp_path / "cedar"
    shutil.copytree(CEDAR_DIR, root)
    edit(root)
    with pytest.raises(CedarValidationError, match=message):
        validate_assets(load_assets(root))


def test_schema_has_one_namespace_and_fits_the_quota() -> None:
    assets = default_assets()
    assert list(assets.schema) == ["OptimalHR"]
    assert len(assets.schema_json.encode()) < 100_000
    assert len(assets.templates) <= 40
    assert all(len(p.statement.encode()) < 10_000 for p in (*assets.policies, *assets.templates))


# ------------------------------------------------------------------------------------------- Platform
@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def platform(request: pytest.FixtureRequest) -> tuple[str, ProgramRun]:
    return request.param, run_platform(request.param, {"saas:api": {"services": SERVICE_ARNS}})


def test_platform_plan_has_one_store_per_tenant_bound_to_its_own_pool(platform: tuple[str, ProgramRun]) -> None:
    stack, run = platform
    tenants = {"dev": ["acme", "globex"], "staging": ["acme", "globex"], "prod": ["acme", "globex", "initech"]}[stack]
    stores = run.of_type(STORE)
    assert sorted(s.inputs["tags"]["saas:tenant"] for s in stores) == tenants  # customer tenants; not `system`
    # staging's pools live in prod; staging reads them from prod's `identity` output
    owner = run_platform("prod", {"saas:api": {"services": SERVICE_ARNS}}) if stack == "staging" else run
    exported = owner.outputs["identity"]["tenants"]
    for store in stores:
        tenant = store.inputs["tags"]["saas:tenant"]
        assert store.inputs["tags"]["saas:environment"] == stack
        assert store.inputs["deletionProtection"] == ("DISABLED" if stack == "dev" else "ENABLED")
        sources = [r for r in run.of_type(IDENTITY_SOURCE) if r.inputs["policyStoreId"] == store.state["policyStoreId"]]
        assert len(sources) == 1
        cognito = sources[0].inputs["configuration"]["cognitoUserPoolConfiguration"]
        assert cognito["userPoolArn"] == exported[tenant]["userPoolArn"]
        # invariant 29: exactly this environment's app clients of the tenant's own pool
        assert sorted(cognito["clientIds"]) == sorted(exported[tenant]["clientIds"][stack].values())
        assert len(cognito["clientIds"]) == 2
    assert run.outputs["policyStoreIds"].keys() == set(tenants)
    assert run.outputs["apiUrl"].startswith("https://")
    report = evaluate_run(run)
    assert report.mandatory == [], [v.message for v in report.mandatory]


def test_platform_without_api_config_builds_stores_but_no_api() -> None:
    run = run_platform("dev", {"saas:api": None})  # every stack file sets saas:api (the image upload route)
    assert len(run.of_type(STORE)) == 2
    assert run.of_type("aws:apigateway/restApi:RestApi") == []
    assert "apiUrl" not in run.outputs


def test_first_preview_runs_the_avp_rules_on_the_dependency_graph() -> None:
    """In a first preview store ids and ARNs are unknown; the store/schema/identity-source/link joins still run
    (they follow dependencies), and the authorizer-privilege rule judges what is known of the role policy that
    embeds the stores' ARNs (only store ARNs unknown in it; the document itself on `pulumi up`): none degrades
    to "can't run during preview"."""
    run = run_platform("prod", {"saas:api": {"services": SERVICE_ARNS}}, preview=True)
    report = evaluate_run(run)
    assert report.mandatory == []
    ours = [v for v in report.advisory if v.policy.startswith(("avp-", "apigw-", "authorizer-"))]
    assert ours == [], [v.message for v in ours]


# ---------------------------------------------------------------------------------------- custom Cedar namespace


def _renamed_assets(tmp_path: Path, namespace: str) -> Path:
    """The shipped assets with their namespace renamed: a consumer's own schema and policies."""
    target = tmp_path / "cedar"
    shutil.copytree(CEDAR_DIR, target)
    for path in target.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace("OptimalHR", namespace))
    return target


def test_custom_assets_bring_their_own_namespace(tmp_path: Path) -> None:
    assets = load_assets(_renamed_assets(tmp_path, "AcmeHR"))
    component: list[TenantAuthorization] = []
    run = run_function(
        lambda: component.append(TenantAuthorization("acme-authz", args(assets=assets, protect=False))), stack="dev"
    )
    assert component[0].namespace == "AcmeHR"
    (source,) = of_store(run, "acme-authz", IDENTITY_SOURCE)
    assert source.inputs["principalEntityType"] == "AcmeHR::User"
    groups = source.inputs["configuration"]["cognitoUserPoolConfiguration"]["groupConfiguration"]
    assert groups == {"groupEntityType": "AcmeHR::UserGroup"}
    links = [p for p in of_store(run, "acme-authz", POLICY) if "templateLinked" in p.inputs["definition"]]
    assert links
    for link in links:
        linked = link.inputs["definition"]["templateLinked"]
        assert linked["resource"]["entityType"] == "AcmeHR::Tenant"
        assert linked["principal"]["entityType"] == "AcmeHR::UserGroup"
    assert args(assets=assets, namespace="AcmeHR").namespace == "AcmeHR"


def test_namespace_must_match_the_schema(tmp_path: Path) -> None:
    assets = load_assets(_renamed_assets(tmp_path, "AcmeHR"))
    with pytest.raises(
        ComponentArgError, match=r"namespace 'OptimalHR' is not the one the Cedar schema declares \('AcmeHR'\)"
    ):
        args(assets=assets, namespace="OptimalHR")
    with pytest.raises(ComponentArgError, match=r"namespace must be a Cedar namespace"):
        args(namespace="Optimal HR")
