"""Rules for Amazon Verified Permissions and the API Gateway Lambda authorizer (isolation invariants 27-33).

Invariant 31 (authorizer routing fails closed) is a handler property and is proven by the handler tests
(``tests/test_authorizer.py``); every other point is a mandatory rule here.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.policies._common import as_list, get_path, parse_json_document, statements
from saas_platform.policies._iam import is_unknown, plain_props

STORE: Final = "aws:verifiedpermissions/policyStore:PolicyStore"
SCHEMA: Final = "aws:verifiedpermissions/schema:Schema"
POLICY: Final = "aws:verifiedpermissions/policy:Policy"
TEMPLATE: Final = "aws:verifiedpermissions/policyTemplate:PolicyTemplate"
IDENTITY_SOURCE: Final = "aws:verifiedpermissions/identitySource:IdentitySource"
USER_POOL: Final = "aws:cognito/userPool:UserPool"
AUTHORIZER: Final = "aws:apigateway/authorizer:Authorizer"
FUNCTION: Final = "aws:lambda/function:Function"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AUTHORIZER_HANDLER: Final = "saas_platform.handlers.authorizer.lambda_handler"

TOKEN_SOURCE: Final = "method.request.header.Authorization"
MAX_TTL: Final = 3600
MAX_TEMPLATES: Final = 40
MAX_POLICY_BYTES: Final = 10_000
STORE_ARN_RE: Final = re.compile(r"arn:aws:verifiedpermissions::\d{12}:policy-store/[A-Za-z0-9]{1,200}")
STORE_WILDCARD_RE: Final = re.compile(r"arn:aws:verifiedpermissions::\d{12}:policy-store/\*")
"""The authorizer's one Verified Permissions resource: every store of the account, narrowed by the store's tags."""
STORE_COMPONENT: Final = "TenantAuthorization"
TENANT_TAG_KEY: Final = "saas:tenant"
ENVIRONMENTS: Final = ("dev", "staging", "prod")
ENTITY_LITERAL_RE: Final = re.compile(r'(\w+)::(User|UserGroup)::"([^"|]*)\|')
UNCONSTRAINED_RE: Final = re.compile(
    r"^\s*permit\s*\(\s*principal\s*,\s*action[^,]*,\s*resource\s*\)\s*;?\s*$", re.DOTALL
)
AUTHORIZER_ALLOWED_ACTIONS: Final = frozenset(
    {
        "verifiedpermissions:IsAuthorizedWithToken",
        "verifiedpermissions:IsAuthorized",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)
REGISTRY_READ_ACTIONS: Final = frozenset({"dynamodb:GetItem", "dynamodb:Query"})
"""The authorizer reads the tenant registry (iss -> pool -> tenant): these two, on the registry table only."""
REGISTRY_KEY_ACTIONS: Final = frozenset({"kms:Decrypt", "kms:DescribeKey"})
"""What DynamoDB asks KMS for on the authorizer's behalf: only with ``kms:ViaService`` ``dynamodb.<region>``."""
REGISTRY_TABLE_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/([A-Za-z][A-Za-z0-9-]{0,19}-)?TenantRegistry(Dev|Staging|Prod)"
    r"(/index/byUserPool)?"
)
VIA_DYNAMODB_RE: Final = re.compile(r"dynamodb\.[a-z0-9-]+\.amazonaws\.com")


def _say(report_violation: ReportViolation, message: str, urn: str | None = None) -> None:
    """``report_violation`` with the URN optional (the SDK's callable takes it positionally)."""
    report_violation(message, urn)


def _strip_comments(statement: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in statement.splitlines())


# ------------------------------------------------------------------------------------- resource rules
def _store_strict(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != STORE:
        return
    mode = get_path(args.props, "validationSettings", "mode")
    if mode != "STRICT":
        _say(
            report_violation,
            f"policy store validation mode is {mode!r}; set validation_settings={{'mode': 'STRICT'}} so every policy "
            "is validated against the schema",
        )


avp_store_strict_validation = ResourceValidationPolicy(
    name="avp-store-strict-validation",
    description="Every Verified Permissions policy store validates policies in STRICT mode (invariant 27).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_store_strict,
)


def _store_deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != STORE:
        return
    if args.props.get("deletionProtection") == "ENABLED":
        return
    environment = (args.props.get("tags") or {}).get("saas:environment")
    if environment == "dev" and not args.opts.protect:
        args.not_applicable("dev store that the stack does not protect (saas:protect: false)")
        return
    _say(
        report_violation,
        f"policy store deletion protection is {args.props.get('deletionProtection')!r} (the API default is "
        "DISABLED); set deletion_protection='ENABLED'",
    )


avp_store_deletion_protection = ResourceValidationPolicy(
    name="avp-store-deletion-protection",
    description="Policy stores have deletion protection ENABLED (invariant 28; unprotected dev stacks excepted).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_store_deletion_protection,
)


def _identity_source_bound(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != IDENTITY_SOURCE:
        return
    # Presence and length only: the pool ARN and client ids are unknown in a preview that creates the pool, and
    # reading an unknown value would turn the whole rule into a "can't run during preview" note.
    cognito = get_path(args.props, "configuration", "cognitoUserPoolConfiguration")
    keys = set(iter(cognito)) if isinstance(cognito, Mapping) else set()  # iterating keys reads no value
    if "userPoolArn" not in keys:
        _say(report_violation, "identity source has no cognito_user_pool_configuration.user_pool_arn")
        return
    assert isinstance(cognito, Mapping)
    clients = cognito["clientIds"] if "clientIds" in keys else None  # the list itself is known; its items may not be
    if not isinstance(clients, Sequence) or isinstance(clients, str) or len(clients) == 0:
        _say(
            report_violation, "identity source has no client_ids: AVP would accept tokens of any app client of the pool"
        )
    principal = args.props.get("principalEntityType")
    if not isinstance(principal, str) or "::" not in principal or principal.startswith("AWS::"):
        _say(
            report_violation,
            f"principal_entity_type is {principal!r}; set it to the store namespace's user type (e.g. "
            "'OptimalHR::User'); blank becomes AWS::Cognito, which the schema does not know",
        )
    if not get_path(cognito, "groupConfiguration", "groupEntityType"):
        _say(
            report_violation,
            "identity source has no group_configuration.group_entity_type (e.g. 'OptimalHR::UserGroup')",
        )


avp_identity_source_bound = ResourceValidationPolicy(
    name="avp-identity-source-bound",
    description="An identity source names its user pool, client ids, principal and group entity types (invariant 29).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_identity_source_bound,
)


def _policy_content(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == TEMPLATE:
        statement = args.props.get("statement")
    elif args.resource_type == POLICY:
        statement = get_path(args.props, "definition", "static", "statement")
        if statement is None and get_path(args.props, "definition", "templateLinked") is None:
            _say(report_violation, "policy has neither a static statement nor a template link")
            return
    else:
        return
    if not isinstance(statement, str):
        return
    if len(statement.encode()) > MAX_POLICY_BYTES:
        _say(report_violation, f"policy is {len(statement.encode())} bytes; AVP allows {MAX_POLICY_BYTES}")
    if "{{tenantId}}" in statement:
        _say(
            report_violation, 'policy still contains the "{{tenantId}}" placeholder; render it for the store\'s tenant'
        )
    if args.resource_type == POLICY and UNCONSTRAINED_RE.match(_strip_comments(statement)):
        _say(
            report_violation,
            "static permit is unconstrained in principal and resource and has no when/unless clause: it would "
            "permit every caller of the store",
        )


avp_policy_content = ResourceValidationPolicy(
    name="avp-policy-content",
    description="No unconstrained static permit; policies within AVP's size quota (invariant 30).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_policy_content,
)


def _authorizer_cache(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != AUTHORIZER:
        return
    ttl = args.props.get("authorizerResultTtlInSeconds")
    sources = [s.strip() for s in str(args.props.get("identitySource") or "").split(",") if s.strip()]
    kind = args.props.get("type") or "TOKEN"
    if ttl is None:
        _say(report_violation, "authorizer_result_ttl_in_seconds is unset (API Gateway caches for 300 s); set it to 0")
        return
    if ttl > MAX_TTL:
        _say(report_violation, f"authorizer cache TTL {ttl} exceeds {MAX_TTL} seconds")
    if TOKEN_SOURCE not in sources and kind == "REQUEST":
        _say(report_violation, f"identity_source {sources} omits the bearer token ({TOKEN_SOURCE})")
    if ttl > 0 and not (
        kind == "REQUEST" and TOKEN_SOURCE in sources and {"context.httpMethod", "context.resourcePath"} <= set(sources)
    ):
        _say(
            report_violation,
            f"authorizer caches decisions for {ttl} s keyed on {sources}, which omits the route: one route's decision "
            "would be reused for another; set the TTL to 0 or key on the token, context.httpMethod and the path",
        )


apigw_authorizer_cache = ResourceValidationPolicy(
    name="apigw-authorizer-cache",
    description="Authorizer decisions are not cached across callers or routes (invariant 32).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_authorizer_cache,
)


# ------------------------------------------------------------------------------------------ stack rules
# Joins follow the engine's dependency graph (which input depends on which resource), known during preview;
# ids and ARNs are compared only where no dependency links the resources (e.g. an id typed in by hand).
def _deps(resource: PolicyResource, prop: str, type_: str) -> list[PolicyResource]:
    return [d for d in resource.property_dependencies.get(prop, []) if d.resource_type == type_]


def _tenant(resource: PolicyResource) -> str | None:
    tenant = (resource.props.get("tags") or {}).get("saas:tenant")
    return tenant if isinstance(tenant, str) else None


class _Stores:
    """Every policy store of the stack, and which store each store-scoped resource belongs to."""

    def __init__(self, args: StackValidationArgs) -> None:
        self.stores = {r.urn: r for r in args.resources if r.resource_type == STORE}
        self._by_id: dict[str, str] | None = None

    def of(self, resource: PolicyResource) -> PolicyResource | None:
        linked = _deps(resource, "policyStoreId", STORE)
        if linked:
            return self.stores.get(linked[0].urn)
        if self._by_id is None:
            self._by_id = {str(s.props.get("policyStoreId")): urn for urn, s in self.stores.items()}
        urn = self._by_id.get(str(resource.props.get("policyStoreId")))
        return self.stores.get(urn) if urn else None

    def members(self, args: StackValidationArgs, type_: str) -> dict[str, list[PolicyResource]]:
        out: dict[str, list[PolicyResource]] = defaultdict(list)
        for r in args.resources:
            if r.resource_type == type_:
                store = self.of(r)
                out[store.urn if store else ""].append(r)
        return out


ORGANIZATION_OWNER = "(organization)"


def _organization_store(store: PolicyResource) -> bool:
    """A single-organisation store (``GroupAuthorization``): ``saas:store-scope=organization`` and no tenant."""
    tags = store.props.get("tags")
    return isinstance(tags, Mapping) and tags.get("saas:store-scope") == "organization" and _tenant(store) is None


def _per_tenant_store(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stores = _Stores(args)
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for store in stores.stores.values():
        tenant = _tenant(store)
        if not tenant and _organization_store(store):
            by_tenant[ORGANIZATION_OWNER].append(store.urn)  # one organisation store per stack, like a tenant
            continue
        if not tenant:
            _say(
                report_violation,
                "policy store has no saas:tenant tag: each store belongs to exactly one tenant (a single-organisation "
                "store says so with saas:store-scope=organization)",
                store.urn,
            )
            continue
        by_tenant[tenant].append(store.urn)
    for tenant, urns in sorted(by_tenant.items()):
        if len(urns) > 1:
            _say(
                report_violation,
                f"tenant {tenant!r} has {len(urns)} policy stores; exactly one per tenant and environment",
            )
    schemas = stores.members(args, SCHEMA)
    for urn, store in stores.stores.items():
        found = schemas.get(urn, [])
        if len(found) != 1:
            _say(report_violation, f"policy store has {len(found)} schemas; it needs exactly one", store.urn)
            continue
        namespaces = _schema_namespaces(found[0])
        if namespaces is not None and len(namespaces) != 1:
            _say(report_violation, f"schema declares namespaces {namespaces}; exactly one is expected", found[0].urn)
    for type_ in (POLICY, TEMPLATE):
        for urn, members in stores.members(args, type_).items():
            store_schemas = {s.urn for s in schemas.get(urn, [])}
            for r in members:
                deps = {d.urn for d in r.dependencies} | {d.urn for ds in r.property_dependencies.values() for d in ds}
                if not store_schemas & deps:
                    _say(
                        report_violation,
                        "policy/template does not depend on its store's schema; in STRICT mode it may be created "
                        "before the schema and fail (add depends_on=[schema])",
                        r.urn,
                    )


def _schema_namespaces(schema: PolicyResource) -> list[str] | None:
    value = get_path(schema.props, "definition", "value")
    try:
        doc = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError:
        return []
    return sorted(doc) if isinstance(doc, dict) else None


avp_store_per_tenant = StackValidationPolicy(
    name="avp-store-per-tenant",
    description="One policy store per tenant, one schema per store, policies depend on the schema (invariant 27).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_per_tenant_store,
)


def _pool_id(arn: object) -> str | None:
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and ":userpool/" in arn else None


def _identity_source_per_store(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stores = _Stores(args)
    sources = stores.members(args, IDENTITY_SOURCE)
    bound: list[tuple[PolicyResource, PolicyResource]] = []
    for urn, store in stores.stores.items():
        found = sources.get(urn, [])
        if len(found) != 1:
            _say(
                report_violation, f"policy store has {len(found)} identity sources; exactly one is required", store.urn
            )
            continue
        bound.append((store, found[0]))
        for pool in _deps(found[0], "configuration", USER_POOL):  # the pool is built in this stack
            if _tenant(pool) != _tenant(store):
                _say(
                    report_violation,
                    f"identity source of tenant {_tenant(store)!r} is bound to the user pool of "
                    f"tenant {_tenant(pool)!r}",
                    found[0].urn,
                )
    # Pools of another stack (no dependency) are compared by value: their ARNs are stack-reference outputs, known
    # in a preview. A pool built in this run is identified by its URN (its ARN is unknown in a first preview).
    pools = [r for r in args.resources if r.resource_type == USER_POOL]
    pool_owner: dict[str, str] = {}
    for store, source in bound:
        tenant = _tenant(store)
        linked = _deps(source, "configuration", USER_POOL)
        if linked:
            for pool in linked:
                other = pool_owner.setdefault(pool.urn, str(tenant))
                if other != str(tenant):  # str on both sides: an organisation store has no tenant (None)
                    _say(
                        report_violation, f"tenants {other!r} and {tenant!r} share the user pool {pool.urn}", source.urn
                    )
            continue
        arn = get_path(source.props, "configuration", "cognitoUserPoolConfiguration", "userPoolArn")
        tenant_pools = {_tenant(r): r.props.get("arn") for r in pools}
        if tenant in tenant_pools and tenant_pools[tenant] != arn:
            _say(
                report_violation,
                f"identity source of tenant {tenant!r} is bound to {arn!r}, not the tenant's own "
                f"pool {tenant_pools[tenant]!r}",
                source.urn,
            )
        if isinstance(arn, str) and tenant:
            other = pool_owner.setdefault(arn, tenant)
            if other != tenant:
                _say(report_violation, f"tenants {other!r} and {tenant!r} share the user pool {arn}", source.urn)


avp_identity_source_per_store = StackValidationPolicy(
    name="avp-identity-source-per-store",
    description="Exactly one identity source per store, bound to that tenant's own user pool (invariant 29).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_identity_source_per_store,
)


def _same_tenant_entities(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stores = _Stores(args)
    templates = stores.members(args, TEMPLATE)
    for urn, members in templates.items():
        if len(members) > MAX_TEMPLATES:
            _say(report_violation, f"store {urn} has {len(members)} templates; AVP's default quota is {MAX_TEMPLATES}")
    sources = stores.members(args, IDENTITY_SOURCE)
    policies = [*stores.members(args, POLICY).items(), *templates.items()]
    for urn, members in policies:
        store = stores.stores.get(urn)
        tenant = _tenant(store) if store else None
        for r in members:
            for pool in _deps(r, "definition", USER_POOL):  # a link built from a pool of this stack
                if _tenant(pool) != tenant:
                    _say(
                        report_violation,
                        f"template link refers to the user pool of tenant {_tenant(pool)!r}; this store is {tenant!r}",
                        r.urn,
                    )
    # Value checks last, and only where a value is needed: entity ids built from a pool of this run are unknown
    # in a first preview (those links are covered by the dependency check above).
    for urn, members in policies:
        store = stores.stores.get(urn)
        tenant = _tenant(store) if store else None
        found = sources.get(urn, [])
        resolved: list[str | None] = []

        def pool_of_store(found: list[PolicyResource] = found, resolved: list[str | None] = resolved) -> str | None:
            if not resolved:
                arn = (
                    get_path(found[0].props, "configuration", "cognitoUserPoolConfiguration", "userPoolArn")
                    if len(found) == 1
                    else None
                )
                resolved.append(_pool_id(arn))
            return resolved[0]

        for r in members:
            statement = (
                r.props.get("statement")
                if r.resource_type == TEMPLATE
                else get_path(r.props, "definition", "static", "statement")
            )
            if isinstance(statement, str):
                for _, kind, prefix in ENTITY_LITERAL_RE.findall(_strip_comments(statement)):
                    if prefix != pool_of_store():
                        _say(
                            report_violation,
                            f"policy names a Cognito {kind} of pool {prefix!r}; this store's pool is "
                            f"{pool_of_store()!r}",
                            r.urn,
                        )
            link = get_path(r.props, "definition", "templateLinked")
            if not isinstance(link, Mapping):
                continue
            principal = link.get("principal") or {}
            resource = link.get("resource") or {}
            if principal and not _deps(r, "definition", USER_POOL):  # a pool of this run: checked by dependency
                pid = str(principal.get("entityId") or "")
                pool = pool_of_store()
                if pool is None or not pid.startswith(f"{pool}|"):
                    _say(
                        report_violation,
                        f"template-linked principal {pid!r} is not an entity of this tenant's pool {pool!r}",
                        r.urn,
                    )
            if str(resource.get("entityType", "")).endswith("::Tenant") and resource.get("entityId") != tenant:
                _say(
                    report_violation,
                    f"template-linked resource is tenant {resource.get('entityId')!r}; this store is {tenant!r}",
                    r.urn,
                )


avp_same_tenant_entities = StackValidationPolicy(
    name="avp-same-tenant-entities",
    description="Cedar entity literals and template links refer to the store's own tenant and pool (invariant 30).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_same_tenant_entities,
)


def _authorizer_privilege(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    role_type = "aws:iam/role:Role"
    functions = [
        r for r in args.resources if r.resource_type == FUNCTION and r.props.get("handler") == AUTHORIZER_HANDLER
    ]
    for fn in functions:
        roles = _deps(fn, "role", role_type)
        if not roles:
            by_arn = {r.props.get("arn"): r for r in args.resources if r.resource_type == role_type}
            roles = [by_arn[fn.props.get("role")]] if fn.props.get("role") in by_arn else []
        if not roles:
            _say(
                report_violation,
                "authorizer function's role is not managed by this stack; its privilege cannot be checked",
                fn.urn,
            )
            continue
        role = roles[0]

        def attached(r: PolicyResource, role: PolicyResource = role) -> bool:
            linked = _deps(r, "role", role_type)
            if linked:
                return linked[0].urn == role.urn
            return r.props.get("role") in {role.props.get("name"), role.props.get("id"), role.props.get("arn")}

        members = [r for r in args.resources if r.resource_type in (ROLE_POLICY, ROLE_POLICY_ATTACHMENT)]
        mine = [r for r in members if attached(r)]
        for r in mine:
            if r.resource_type == ROLE_POLICY_ATTACHMENT:
                _say(
                    report_violation,
                    f"authorizer role has a managed policy attached ({r.props.get('policyArn')})",
                    r.urn,
                )
        for r in mine:
            if r.resource_type != ROLE_POLICY:
                continue
            text = plain_props(r.props).get("policy")
            if is_unknown(text):
                # Unknown at preview: judge what is known - its property dependencies - and the document on
                # `pulumi up`. The accepted document names no resource of the stack (stores are reached by tag,
                # the registry by name), so any dependency is a violation; one on a store means the old store list.
                deps = r.property_dependencies.get("policy", [])
                stores = sorted({d.urn.rsplit("::", 1)[-1] for d in deps if d.resource_type == STORE})
                others = sorted({d.urn.rsplit("::", 1)[-1] for d in deps if d.resource_type != STORE})
                if stores:
                    _say(
                        report_violation,
                        f"authorizer role policy depends on the policy stores {stores}: it lists stores, which grows "
                        "with the tenants; grant policy-store/* under the store-tag conditions instead",
                        r.urn,
                    )
                if others:
                    _say(
                        report_violation,
                        f"authorizer role policy is unknown at preview and depends on {others}; build its ARNs from "
                        "names, account and region so it is known at preview",
                        r.urn,
                    )
                continue
            doc = parse_json_document(text)
            if doc is None:
                _say(report_violation, "authorizer role policy is not a JSON document", r.urn)
                continue
            for st in statements(doc):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    _say(report_violation, "authorizer role policy uses NotAction/NotResource", r.urn)
                actions = [str(a) for a in as_list(st.get("Action"))]
                if actions and set(actions) <= REGISTRY_READ_ACTIONS | REGISTRY_KEY_ACTIONS:
                    _registry_statement(st, actions, report_violation, r.urn)
                    continue
                extra = sorted(a for a in actions if a not in AUTHORIZER_ALLOWED_ACTIONS)
                if extra:
                    _say(
                        report_violation,
                        f"authorizer role may call {extra}; it needs only IsAuthorizedWithToken",
                        r.urn,
                    )
                if any(a.startswith("verifiedpermissions:") for a in actions):
                    environment = get_path(plain_props(fn.props), "tags", "saas:environment")
                    for problem in store_grant_problems(st, environment if isinstance(environment, str) else None):
                        _say(report_violation, problem, r.urn)


STORE_GRANT_TAGS: Final = ("saas:environment", "saas:component")
"""The store tags the authorizer's grant must require with ``StringEquals`` (``saas:component`` =
``TenantAuthorization``, ``saas:environment`` = the function's environment)."""


def store_grant_problems(st: Mapping[str, Any], environment: str | None) -> list[str]:
    """What is wrong with the authorizer's Verified Permissions statement (empty when it is the one accepted shape).

    Accepted: ``Resource`` exactly ``arn:aws:verifiedpermissions::<account>:policy-store/*`` (one string),
    ``Condition`` exactly ``StringEquals`` on ``aws:ResourceTag/saas:environment`` (one environment, the
    function's when it is tagged) and ``aws:ResourceTag/saas:component`` = ``TenantAuthorization``, and
    ``Null`` ``aws:ResourceTag/saas:tenant`` = ``"false"``. A list of store ARNs is refused (it grows with the
    fleet, constant-size IAM), and so is ``policy-store/*`` without the tag conditions (any store of the
    account, every environment's)."""
    resource = st.get("Resource")
    if isinstance(resource, list) and len(resource) == 1:
        resource = resource[0]
    if not isinstance(resource, str) or not STORE_WILDCARD_RE.fullmatch(resource):
        listed = [x for x in as_list(resource) if isinstance(x, str) and STORE_ARN_RE.fullmatch(x)]
        why = (
            "lists policy stores, which grows with the tenants"
            if listed
            else f"is on {as_list(resource) or 'no resource'}"
        )
        return [
            f"the authorizer's verifiedpermissions statement {why}; the only accepted resource is "
            "arn:aws:verifiedpermissions::<account>:policy-store/* under the store-tag conditions"
        ]
    condition = st.get("Condition")
    if not isinstance(condition, Mapping) or not condition:
        return [
            "the authorizer may call verifiedpermissions on policy-store/* without conditions (every store of the "
            "account); require aws:ResourceTag/saas:environment, aws:ResourceTag/saas:component = "
            f"{STORE_COMPONENT} and Null aws:ResourceTag/saas:tenant = false"
        ]
    problems: list[str] = []
    extra = sorted(set(condition) - {"StringEquals", "Null"})
    equals = condition.get("StringEquals")
    equals = equals if isinstance(equals, Mapping) else {}
    null = condition.get("Null")
    null = null if isinstance(null, Mapping) else {}
    wanted = {f"aws:ResourceTag/{k}" for k in STORE_GRANT_TAGS}
    extra_keys = sorted((set(equals) - wanted) | (set(null) - {f"aws:ResourceTag/{TENANT_TAG_KEY}"}))
    if extra or extra_keys:
        problems.append(f"the authorizer's store grant has other conditions {extra + extra_keys}; only the store tags")
    env = equals.get("aws:ResourceTag/saas:environment")
    if not isinstance(env, str) or env not in ENVIRONMENTS or (environment is not None and env != environment):
        problems.append(
            f"the authorizer's store grant must require aws:ResourceTag/saas:environment = "
            f"{environment or 'its environment'} (StringEquals, one value); got {env!r}"
        )
    component = equals.get("aws:ResourceTag/saas:component")
    if component != STORE_COMPONENT:
        problems.append(
            f"the authorizer's store grant must require aws:ResourceTag/saas:component = {STORE_COMPONENT} "
            f"(StringEquals); got {component!r}"
        )
    if null.get(f"aws:ResourceTag/{TENANT_TAG_KEY}") != "false":
        problems.append(
            f"the authorizer's store grant must require a tenant store: Null aws:ResourceTag/{TENANT_TAG_KEY} = "
            f"'false'; got {null.get(f'aws:ResourceTag/{TENANT_TAG_KEY}')!r}"
        )
    return problems


def _registry_statement(st: Mapping[str, Any], actions: list[str], report_violation: ReportViolation, urn: str) -> None:
    """A registry statement of the authorizer: ``GetItem``/``Query`` on the registry table and its ``byUserPool``
    index only; ``Decrypt``/``DescribeKey`` only through DynamoDB. Never both kinds in one statement."""
    resources = as_list(st.get("Resource"))
    if set(actions) <= REGISTRY_READ_ACTIONS:
        bad = [x for x in resources if not (isinstance(x, str) and REGISTRY_TABLE_ARN_RE.fullmatch(x))]
        if bad or not resources:
            _say(
                report_violation,
                f"authorizer role may read {sorted(actions)} on {bad or 'no resource'}; only the tenant registry "
                "table (TenantRegistry<Env>) and its byUserPool index are allowed",
                urn,
            )
        return
    if not set(actions) <= REGISTRY_KEY_ACTIONS:
        _say(report_violation, f"authorizer role statement mixes registry reads and key use: {sorted(actions)}", urn)
        return
    condition = st.get("Condition")
    equals = condition.get("StringEquals") if isinstance(condition, Mapping) else None
    via = equals.get("kms:ViaService") if isinstance(equals, Mapping) else None
    if not isinstance(via, str) or not VIA_DYNAMODB_RE.fullmatch(via):
        _say(
            report_violation,
            f"authorizer role may call {sorted(actions)} without kms:ViaService dynamodb.<region>.amazonaws.com; "
            "it uses the key only for DynamoDB reading the tenant registry",
            urn,
        )


authorizer_least_privilege = StackValidationPolicy(
    name="authorizer-least-privilege",
    description="The API authorizer's role may call only IsAuthorizedWithToken on policy-store/* narrowed to this "
    "environment's TenantAuthorization stores by tag (no store list), and read the "
    "tenant registry (GetItem/Query on its table and index, the key through DynamoDB) (invariant 33).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_authorizer_privilege,
)

POLICIES: list[Any] = [
    avp_store_strict_validation,
    avp_store_deletion_protection,
    avp_identity_source_bound,
    avp_policy_content,
    apigw_authorizer_cache,
    avp_store_per_tenant,
    avp_identity_source_per_store,
    avp_same_tenant_entities,
    authorizer_least_privilege,
]
