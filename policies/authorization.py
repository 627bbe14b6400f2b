"""Rules for Amazon Verified Permissions and the API Gateway Lambda authorizer (ISOLATION.md invariants 27-33).

Invariant 31 (authorizer routing fails closed) is a handler property and is proven by the handler tests
(``tests/test_authorizer.py``); every other point is a mandatory rule here.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
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

from policies._common import as_list, get_path, parse_json_document, statements

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
AUTHORIZER_HANDLER: Final = "handlers.authorizer.lambda_handler"

TOKEN_SOURCE: Final = "method.request.header.Authorization"
MAX_TTL: Final = 3600
MAX_TEMPLATES: Final = 40
MAX_POLICY_BYTES: Final = 10_000
STORE_ARN_RE: Final = re.compile(r"arn:aws:verifiedpermissions::\d{12}:policy-store/[A-Za-z0-9]{1,200}")
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
    cognito = get_path(args.props, "configuration", "cognitoUserPoolConfiguration")
    if not isinstance(cognito, Mapping) or not cognito.get("userPoolArn"):
        _say(report_violation, "identity source has no cognito_user_pool_configuration.user_pool_arn")
        return
    if not as_list(cognito.get("clientIds")):
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
def _store_key(resource: PolicyResource) -> str | None:
    store_id = resource.props.get("policyStoreId")
    return store_id if isinstance(store_id, str) else None


def _stores(args: StackValidationArgs) -> dict[str, PolicyResource]:
    return {
        str(r.props.get("policyStoreId") or r.props.get("id")): r for r in args.resources if r.resource_type == STORE
    }


def _per_tenant_store(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stores = _stores(args)
    by_tenant: dict[str, list[str]] = defaultdict(list)
    for store_id, store in stores.items():
        tenant = (store.props.get("tags") or {}).get("saas:tenant")
        if not tenant:
            _say(
                report_violation,
                "policy store has no saas:tenant tag: each store belongs to exactly one tenant",
                store.urn,
            )
            continue
        by_tenant[tenant].append(store_id)
    for tenant, ids in sorted(by_tenant.items()):
        if len(ids) > 1:
            _say(
                report_violation,
                f"tenant {tenant!r} has {len(ids)} policy stores; exactly one per tenant and environment",
            )
    schemas: dict[str, list[PolicyResource]] = defaultdict(list)
    for r in args.resources:
        if r.resource_type == SCHEMA and _store_key(r):
            schemas[str(_store_key(r))].append(r)
    for store_id, store in stores.items():
        found = schemas.get(store_id, [])
        if len(found) != 1:
            _say(report_violation, f"policy store has {len(found)} schemas; it needs exactly one", store.urn)
            continue
        namespaces = _schema_namespaces(found[0])
        if namespaces is not None and len(namespaces) != 1:
            _say(report_violation, f"schema declares namespaces {namespaces}; exactly one is expected", found[0].urn)
    for r in args.resources:
        if r.resource_type not in (POLICY, TEMPLATE):
            continue
        store_schemas = schemas.get(str(_store_key(r)), [])
        deps = {d.urn for d in r.dependencies} | {d.urn for ds in r.property_dependencies.values() for d in ds}
        if not store_schemas or not any(s.urn in deps for s in store_schemas):
            _say(
                report_violation,
                "policy/template does not depend on its store's schema; in STRICT mode it may be created before the "
                "schema and fail (add depends_on=[schema])",
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
    stores = _stores(args)
    sources: dict[str, list[PolicyResource]] = defaultdict(list)
    for r in args.resources:
        if r.resource_type == IDENTITY_SOURCE:
            sources[str(_store_key(r))].append(r)
    tenant_pools = {
        (r.props.get("tags") or {}).get("saas:tenant"): r.props.get("arn")
        for r in args.resources
        if r.resource_type == USER_POOL
    }
    pool_owner: dict[str, str] = {}
    for store_id, store in stores.items():
        tenant = (store.props.get("tags") or {}).get("saas:tenant")
        found = sources.get(store_id, [])
        if len(found) != 1:
            _say(
                report_violation, f"policy store has {len(found)} identity sources; exactly one is required", store.urn
            )
            continue
        arn = get_path(found[0].props, "configuration", "cognitoUserPoolConfiguration", "userPoolArn")
        if tenant in tenant_pools and tenant_pools[tenant] != arn:
            _say(
                report_violation,
                f"identity source of tenant {tenant!r} is bound to {arn!r}, not the tenant's own pool "
                f"{tenant_pools[tenant]!r}",
                found[0].urn,
            )
        if isinstance(arn, str) and tenant:
            other = pool_owner.setdefault(arn, tenant)
            if other != tenant:
                _say(report_violation, f"tenants {other!r} and {tenant!r} share the user pool {arn}", found[0].urn)


avp_identity_source_per_store = StackValidationPolicy(
    name="avp-identity-source-per-store",
    description="Exactly one identity source per store, bound to that tenant's own user pool (invariant 29).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_identity_source_per_store,
)


def _same_tenant_entities(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stores = _stores(args)
    pools: dict[str, str | None] = {}
    for r in args.resources:
        if r.resource_type == IDENTITY_SOURCE:
            arn = get_path(r.props, "configuration", "cognitoUserPoolConfiguration", "userPoolArn")
            pools[str(_store_key(r))] = _pool_id(arn)
    templates: dict[str, int] = defaultdict(int)
    for r in args.resources:
        if r.resource_type == TEMPLATE:
            templates[str(_store_key(r))] += 1
        if r.resource_type not in (POLICY, TEMPLATE):
            continue
        store_id = str(_store_key(r))
        store = stores.get(store_id)
        tenant = ((store.props.get("tags") or {}) if store else {}).get("saas:tenant")
        pool = pools.get(store_id)
        statement = (
            r.props.get("statement")
            if r.resource_type == TEMPLATE
            else get_path(r.props, "definition", "static", "statement")
        )
        if isinstance(statement, str):
            for _, kind, prefix in ENTITY_LITERAL_RE.findall(_strip_comments(statement)):
                if prefix != pool:
                    _say(
                        report_violation,
                        f"policy names a Cognito {kind} of pool {prefix!r}; this store's pool is {pool!r}",
                        r.urn,
                    )
        link = get_path(r.props, "definition", "templateLinked")
        if isinstance(link, Mapping):
            principal = link.get("principal") or {}
            resource = link.get("resource") or {}
            pid = str(principal.get("entityId") or "")
            if principal and (pool is None or not pid.startswith(f"{pool}|")):
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
    for store_id, count in templates.items():
        if count > MAX_TEMPLATES:
            _say(report_violation, f"store {store_id} has {count} templates; AVP's default quota is {MAX_TEMPLATES}")


avp_same_tenant_entities = StackValidationPolicy(
    name="avp-same-tenant-entities",
    description="Cedar entity literals and template links refer to the store's own tenant and pool (invariant 30).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_same_tenant_entities,
)


def _authorizer_privilege(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    functions = [
        r for r in args.resources if r.resource_type == FUNCTION and r.props.get("handler") == AUTHORIZER_HANDLER
    ]
    roles = {r.props.get("arn"): r for r in args.resources if r.resource_type == "aws:iam/role:Role"}
    for fn in functions:
        role = roles.get(fn.props.get("role"))
        if role is None:
            _say(
                report_violation,
                "authorizer function's role is not managed by this stack; its privilege cannot be checked",
                fn.urn,
            )
            continue
        role_keys = {role.props.get("name"), role.props.get("id"), role.props.get("arn")}
        for r in args.resources:
            if r.resource_type == ROLE_POLICY_ATTACHMENT and r.props.get("role") in role_keys:
                _say(
                    report_violation,
                    f"authorizer role has a managed policy attached ({r.props.get('policyArn')})",
                    r.urn,
                )
            if r.resource_type != ROLE_POLICY or r.props.get("role") not in role_keys:
                continue
            doc = parse_json_document(r.props.get("policy"))
            if doc is None:
                _say(report_violation, "authorizer role policy is not a JSON document", r.urn)
                continue
            for st in statements(doc):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    _say(report_violation, "authorizer role policy uses NotAction/NotResource", r.urn)
                actions = [str(a) for a in as_list(st.get("Action"))]
                extra = sorted(a for a in actions if a not in AUTHORIZER_ALLOWED_ACTIONS)
                if extra:
                    _say(
                        report_violation,
                        f"authorizer role may call {extra}; it needs only IsAuthorizedWithToken",
                        r.urn,
                    )
                if any(a.startswith("verifiedpermissions:") for a in actions):
                    resources = as_list(st.get("Resource"))
                    bad = [x for x in resources if not (isinstance(x, str) and STORE_ARN_RE.fullmatch(x))]
                    if bad or not resources:
                        _say(
                            report_violation,
                            f"verifiedpermissions actions on {bad}; only policy-store ARNs are allowed",
                            r.urn,
                        )


authorizer_least_privilege = StackValidationPolicy(
    name="authorizer-least-privilege",
    description="The API authorizer's role may call only IsAuthorizedWithToken on policy-store ARNs (invariant 33).",
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
