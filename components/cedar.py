"""The Cedar assets of the HR platform (``components/assets/cedar``) and their validation with cedarpy.

The assets are files, not strings in code:

* ``schema.cedarschema.json`` - one namespace (``OptimalHR``): ``User`` (the principal AVP builds from a
  Cognito ID token: claims are attributes, ``custom:<x>`` claims become ``principal.custom.<x>``, and
  ``cognito:groups`` become parents of type ``UserGroup`` with ids ``<userPoolId>|<group>``), ``UserGroup``,
  ``Tenant``, one resource type per microservice of the OptimalHR design and its actions, plus action groups
  (``AllActions``, ``SelfRead``, ``SelfUpdate``, ``SelfSubmit``, ``ReadActions``, ``ApproveRequests``,
  ``PayrollActions``).
* ``policies/<id>.cedar`` - static policies, one per file; the file stem is the policy id. The string literal
  ``"{{tenantId}}"`` is replaced by the store's tenant id (:meth:`CedarAssets.render`), so a store's static
  policies bind it to its one tenant; the file stays valid Cedar and is validated both as written and rendered.
* ``templates/<id>.cedar`` - policy templates with ``?principal``/``?resource`` slots.
* ``links.json`` - the template-linked policies every tenant store gets: a template, linked to a user group of
  *that tenant's* pool (``?principal``) and to that tenant (``?resource``).

:func:`validate_assets` validates every policy and template against the schema in STRICT mode (cedarpy's
validator is Cedar's strict validator) and checks AVP's size quotas; a problem raises
:class:`CedarValidationError` naming the policy id and the Cedar error, so a broken policy fails the program
(and therefore ``pulumi preview`` and the offline plan) before any resource is registered.

Documentation:
    https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/schema.html
    https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/cognito-map-token-to-schema.html
    https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/quotas.html
    https://docs.cedarpolicy.com/policies/templates.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import cedarpy

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import TENANT_ID_RE

CEDAR_DIR: Final = Path(__file__).resolve().parent / "assets" / "cedar"
NAMESPACE: Final = "OptimalHR"
"""The shipped assets' namespace; components use :meth:`CedarAssets.entity_type`, so custom assets keep theirs."""
CEDAR_NAMESPACE_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*")
PRINCIPAL_ENTITY_TYPE: Final = f"{NAMESPACE}::User"
GROUP_ENTITY_TYPE: Final = f"{NAMESPACE}::UserGroup"
TENANT_ENTITY_TYPE: Final = f"{NAMESPACE}::Tenant"
ACTION_ENTITY_TYPE: Final = f"{NAMESPACE}::Action"

TENANT_PLACEHOLDER: Final = '"{{tenantId}}"'
"""The Cedar string literal that :meth:`CedarAssets.render` replaces with the store's tenant id (quoted)."""
MAX_TEMPLATES_PER_STORE: Final = 40
"""AVP default quota: policy templates per policy store."""
MAX_POLICY_BYTES: Final = 10_000
"""AVP quota: size of one policy (or template) statement."""
MAX_SCHEMA_BYTES: Final = 100_000
"""AVP quota: size of a policy store schema."""

POLICY_ID_RE: Final = re.compile(r"[a-z][a-z0-9-]{0,62}")
COGNITO_GROUP_RE: Final = re.compile(r"[A-Za-z0-9_.+=,@-]{1,128}")
"""Group names we link templates to (a conservative subset of what Cognito allows)."""


class CedarValidationError(ComponentArgError):
    """A Cedar asset does not validate against the schema (or breaks an AVP quota)."""


@dataclass(frozen=True)
class CedarPolicy:
    """A static policy or a template: its id (the file stem), Cedar text, and description (its leading comment)."""

    id: str
    statement: str
    description: str


@dataclass(frozen=True)
class TemplateLink:
    """A template-linked policy every tenant gets: ``template`` linked to ``<userPoolId>|<group>`` and the tenant."""

    template: str
    group: str

    @property
    def id(self) -> str:
        return f"{self.template}-{self.group}"


@dataclass(frozen=True)
class CedarAssets:
    """Everything one tenant policy store holds, as loaded from a Cedar asset directory."""

    schema_json: str
    schema: Mapping[str, Any]
    policies: tuple[CedarPolicy, ...]
    templates: tuple[CedarPolicy, ...]
    links: tuple[TemplateLink, ...]

    @property
    def namespace(self) -> str:
        """The schema's one namespace (``OptimalHR`` for the shipped assets)."""
        return next(iter(self.schema))

    def entity_type(self, name: str) -> str:
        """``User`` -> ``<namespace>::User``: entity types are always built from the assets' own namespace."""
        return f"{self.namespace}::{name}"

    @property
    def actions(self) -> tuple[str, ...]:
        """Concrete actions (those that apply to a principal and resource), sorted; action groups excluded."""
        actions = self.schema[self.namespace]["actions"]
        return tuple(sorted(a for a, spec in actions.items() if spec.get("appliesTo")))

    def action_groups(self, action: str) -> tuple[str, ...]:
        """The action groups ``action`` is a member of."""
        spec = self.schema[self.namespace]["actions"][action]
        return tuple(m["id"] for m in spec.get("memberOf", []))

    def resource_type(self, action: str) -> str:
        """The (single) resource type ``action`` applies to, without the namespace."""
        types = self.schema[self.namespace]["actions"][action]["appliesTo"]["resourceTypes"]
        return str(types[0])

    def render(self, policy: CedarPolicy, tenant_id: str) -> str:
        """``policy``'s statement for ``tenant_id``'s store (the ``"{{tenantId}}"`` literal replaced)."""
        if not TENANT_ID_RE.fullmatch(tenant_id):
            raise CedarValidationError(f"tenant id {tenant_id!r} does not match {TENANT_ID_RE.pattern!r}")
        return policy.statement.replace(TENANT_PLACEHOLDER, json.dumps(tenant_id))

    def template(self, template_id: str) -> CedarPolicy:
        for t in self.templates:
            if t.id == template_id:
                return t
        raise KeyError(template_id)


def _description(text: str, path: Path) -> str:
    lines = [ln.strip()[2:].strip() for ln in text.splitlines() if ln.strip().startswith("//")]
    description = " ".join(lines)
    if not description:
        raise CedarValidationError(f"{path}: start the file with a // comment saying what the policy allows or denies")
    return description[:150]  # AVP limit on descriptions


def _load_dir(directory: Path) -> tuple[CedarPolicy, ...]:
    out: list[CedarPolicy] = []
    for path in sorted(directory.glob("*.cedar")):
        if not POLICY_ID_RE.fullmatch(path.stem):
            raise CedarValidationError(
                f"{path}: file name {path.stem!r} is the policy id and must match {POLICY_ID_RE.pattern!r}"
            )
        text = path.read_text(encoding="utf-8")
        out.append(CedarPolicy(id=path.stem, statement=text, description=_description(text, path)))
    return tuple(out)


def load_assets(root: Path = CEDAR_DIR) -> CedarAssets:
    """Read the schema, policies, templates and links under ``root`` (no validation; see :func:`validate_assets`)."""
    schema_path = root / "schema.cedarschema.json"
    try:
        schema_json = schema_path.read_text(encoding="utf-8")
        schema = json.loads(schema_json)
    except (OSError, json.JSONDecodeError) as exc:
        raise CedarValidationError(f"{schema_path}: cannot read the Cedar schema: {exc}") from exc
    links_path = root / "links.json"
    try:
        raw_links = json.loads(links_path.read_text(encoding="utf-8")).get("links", [])
        links = tuple(TemplateLink(template=str(x["template"]), group=str(x["group"])) for x in raw_links)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CedarValidationError(
            f'{links_path}: expected {{"links": [{{"template": <id>, "group": <name>}}]}}: {exc}'
        ) from exc
    return CedarAssets(
        schema_json=schema_json,
        schema=schema,
        policies=_load_dir(root / "policies"),
        templates=_load_dir(root / "templates"),
        links=links,
    )


def _cedar_errors(policy: CedarPolicy, schema: Mapping[str, Any]) -> list[str]:
    try:
        cedarpy.PolicySet.from_str(policy.statement)
    except ValueError as exc:
        return [f"policy {policy.id!r}: does not parse: {exc}"]
    result = cedarpy.validate_policies(policy.statement, dict(schema))
    return sorted({f"policy {policy.id!r}: {e.error}" for e in result.errors})


def validate_assets(assets: CedarAssets) -> None:
    """Validate every policy and template against the schema (STRICT) and AVP's quotas.

    Raises :class:`CedarValidationError` listing every problem as ``policy '<id>': <Cedar error>``.
    """
    problems: list[str] = []
    if len(assets.schema) != 1:
        problems.append(f"schema must declare exactly one namespace (e.g. {NAMESPACE!r}); got {sorted(assets.schema)}")
    if len(assets.schema_json.encode()) > MAX_SCHEMA_BYTES:
        problems.append(f"schema is {len(assets.schema_json.encode())} bytes; AVP allows {MAX_SCHEMA_BYTES}")
    if len(assets.templates) > MAX_TEMPLATES_PER_STORE:
        problems.append(f"{len(assets.templates)} templates; AVP allows {MAX_TEMPLATES_PER_STORE} per store")
    try:
        cedarpy.Schema.from_json_str(assets.schema_json)
    except ValueError as exc:
        problems.append(f"schema does not parse: {exc}")
        raise CedarValidationError("Cedar assets are invalid: " + "; ".join(problems)) from None
    ids = [p.id for p in (*assets.policies, *assets.templates)]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"policy ids must be unique across policies/ and templates/; duplicated: {dupes}")
    for policy in assets.policies:
        problems.extend(_cedar_errors(policy, assets.schema))
        if "?principal" in policy.statement or "?resource" in policy.statement:
            problems.append(f"policy {policy.id!r}: has a slot (?principal/?resource); move it to templates/")
        rendered = CedarPolicy(policy.id, assets.render(policy, "tenant-check"), policy.description)
        if rendered.statement != policy.statement:
            problems.extend(f"{e} (rendered for a tenant)" for e in _cedar_errors(rendered, assets.schema))
    for template in assets.templates:
        problems.extend(_cedar_errors(template, assets.schema))
        if TENANT_PLACEHOLDER in template.statement:
            problems.append(f"policy {template.id!r}: a template takes its tenant from ?resource, not a placeholder")
        if "?principal" not in template.statement and "?resource" not in template.statement:
            problems.append(f"policy {template.id!r}: a template needs a ?principal or ?resource slot")
    for policy in (*assets.policies, *assets.templates):
        size = len(policy.statement.encode())
        if size > MAX_POLICY_BYTES:
            problems.append(f"policy {policy.id!r}: {size} bytes; AVP allows {MAX_POLICY_BYTES} per policy")
    template_ids = {t.id for t in assets.templates}
    for link in assets.links:
        if link.template not in template_ids:
            problems.append(f"link {link.id!r}: no template {link.template!r}; known: {sorted(template_ids)}")
        if not COGNITO_GROUP_RE.fullmatch(link.group):
            problems.append(f"link {link.id!r}: group {link.group!r} is not a Cognito group name")
    if problems:
        raise CedarValidationError("Cedar assets are invalid: " + "; ".join(problems))


@cache
def default_assets() -> CedarAssets:
    """The repository's assets, loaded and validated once per process."""
    assets = load_assets()
    validate_assets(assets)
    return assets


def group_entity_id(user_pool_id: str, group: str) -> str:
    """AVP's id of a Cognito group entity: ``<userPoolId>|<group>``."""
    return f"{user_pool_id}|{group}"


def user_entity_id(user_pool_id: str, sub: str) -> str:
    """AVP's id of a Cognito user entity: ``<userPoolId>|<sub>``."""
    return f"{user_pool_id}|{sub}"


def uid(entity_type: str, entity_id: str) -> dict[str, str]:
    """A Cedar entity uid in cedarpy's dict form."""
    return {"type": entity_type, "id": entity_id}


def tenant_policy_set(
    assets: CedarAssets, tenant_id: str, user_pool_id: str, links: Sequence[TemplateLink] | None = None
) -> cedarpy.PolicySet:
    """The policy set one tenant's store holds: static policies, templates, and the links for this tenant.

    Linking is Cedar's own (``PolicySet.with_linked_batch``), exactly what AVP does with a template-linked
    policy; used by the tests and the AVP test double so they evaluate what the store would.
    """
    text = "\n".join(assets.render(p, tenant_id) for p in assets.policies)
    base = cedarpy.PolicySet.from_str(text)
    for template in assets.templates:
        base = base.with_added_str(f'@id("{template.id}")\n{template.statement}')
    batch = [
        {
            "template_id": link.template,
            "new_id": link.id,
            "values": {
                slot: value
                for slot, value in (
                    ("?principal", uid(assets.entity_type("UserGroup"), group_entity_id(user_pool_id, link.group))),
                    ("?resource", uid(assets.entity_type("Tenant"), tenant_id)),
                )
                if slot in assets.template(link.template).statement
            },
        }
        for link in (assets.links if links is None else links)
    ]
    return base.with_linked_batch(batch) if batch else base
