"""Tenant data isolation rules: isolation invariants 1-13 and the tenant-prefix S3 access of 38-39.

Which role is a *tenant role* is decided by joining resources, not by names or tags the author chose: a role
is reachable from tenant T when its trust policy names T's identity pool in
``cognito-identity.amazonaws.com:aud`` or T's ``IdentityPoolRoleAttachment`` maps it. The pool's tenant is
its ``saas:tenant`` tag; a pool this stack does not define counts as an unknown tenant (fail closed). A
role's policies are its inline policies, ``RolePolicy`` resources and every managed policy attached through
``RolePolicyAttachment``/``PolicyAttachment``/``managedPolicyArns``.

Action patterns are expanded with parliament's copy of the Service Authorization Reference, so ``dynamodb:*``,
``dynamodb:Get*`` or ``*`` are judged by what they grant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.policies._common import as_list, parse_json_document, statements
from saas_platform.policies._iam import (
    ABAC_VARIABLE,
    AMR_KEY,
    AUD_KEY,
    COGNITO_IDENTITY,
    DDB_RESOURCE_POLICY,
    DYNAMODB_DATA_PLANE,
    LEADING_KEYS,
    POLICY,
    ROLE,
    ROLE_POLICY,
    S3_LIST_ACTIONS,
    S3_OBJECT_ACTIONS,
    SYSTEM_TENANT,
    TENANT_KEY_RE,
    UNKNOWN_TENANT,
    Graph,
    Role,
    allows,
    cognito_statements,
    doc_size,
    granted,
    is_unknown,
    normalized_key,
    plain_props,
    stack_graph,
    statement_conditions,
    tenant_docs,
    tenant_forbidden,
)

MANAGED_POLICY_MAX: Final = 6144
INLINE_PER_ROLE_MAX: Final = 10240
TRUST_POLICY_MAX: Final = 2048
DDB_RESOURCE_POLICY_MAX: Final = 20480
TABLE_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:dynamodb:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}:table/([A-Za-z0-9_.-]{3,255})(?:/index/([A-Za-z0-9_.-]{3,255}))?"
)
OBJECT_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:s3:::([a-z0-9][a-z0-9.-]+)/([a-z0-9_-]+)/(\$\{aws:PrincipalTag/TenantId\}|[^/*?$]+)/"
    r"(users/\$\{cognito-identity\.amazonaws\.com:sub\}/)?\*"
)
"""``<bucket>/<root>/<tenant>/*``, or a user's own ``<bucket>/<root>/<tenant>/users/${cognito-identity...:sub}/*``."""
IDENTITY_PREFIX: Final = "users/${cognito-identity.amazonaws.com:sub}/"
KMS_VIA_ACTIONS: Final = frozenset({"kms:decrypt", "kms:describekey", "kms:generatedatakey", "kms:generatedatakey*"})
"""What a tenant role may hold on a KMS key, and only as DynamoDB or S3 uses it (``kms:ViaService``)."""


def _kms_via_service_only(st: Mapping[str, Any]) -> bool:
    """A KMS statement usable only through DynamoDB or S3: ``StringEquals kms:ViaService`` naming those services,
    on key ARNs (never ``*``)."""
    via = [
        str(v)
        for op, k, vals in statement_conditions(st)
        if op == "StringEquals" and normalized_key(k) == "kms:viaservice"
        for v in as_list(vals)
    ]
    resources = [str(r) for r in as_list(st.get("Resource"))]
    return (
        bool(via)
        and all(re.fullmatch(r"(dynamodb|s3)\.[a-z0-9-]+\.amazonaws\.com", v) for v in via)
        and bool(resources)
        and all(re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9*-]+", r) for r in resources)
    )


BUCKET_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]+")


def _name(role: Role) -> str:
    return role.name or role.logical


def _segments(graph: Graph, role: Role, tenants: set[str]) -> set[str]:
    """What may stand for "the tenant" in this role's policies: its one tenant's id, and the ABAC variable
    when no system or unknown pool reaches it (provenance checked by abac-principal-tag-provenance)."""
    segs: set[str] = set()
    reach = graph.reach(role)
    if len(tenants) == 1 and UNKNOWN_TENANT not in tenants:
        segs.add(next(iter(tenants)))
    if UNKNOWN_TENANT not in reach and SYSTEM_TENANT not in reach:
        segs.add(ABAC_VARIABLE)
    return segs


def _stack(validate: Any) -> Any:
    def run(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        validate(stack_graph(args.resources), args, report_violation)

    return run


def _dynamodb_statements(doc: Mapping[str, Any]) -> list[tuple[dict[str, Any], frozenset[str]]]:
    out = []
    for st in allows(doc):
        acts, _ = granted(st)
        ddb = frozenset(a for a in acts if a.startswith("dynamodb:"))
        if ddb:
            out.append((st, ddb))
    return out


# ---- invariant 1 ---------------------------------------------------------------------------------------
def _data_plane_only(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, _tenants, d in tenant_docs(graph):
        if d.unknown:
            continue  # judged on `pulumi up`, when the document is known
        if d.document is None:
            report(f"role {_name(role)}: a reachable policy is not a JSON policy document", d.urn)
            continue
        for st, ddb in _dynamodb_statements(d.document):
            sid = st.get("Sid", "<no Sid>")
            if "NotAction" in st:
                report(
                    f"role {_name(role)}, statement {sid}: NotAction in an Allow grants every other action; "
                    "list actions",
                    d.urn,
                )
                continue
            wild = [a for a in as_list(st.get("Action")) if isinstance(a, str) and ("*" in a or "?" in a)]
            if wild:
                report(
                    f"role {_name(role)}, statement {sid}: wildcard actions {wild}; "
                    "list the data-plane actions explicitly",
                    d.urn,
                )
            extra = sorted(ddb - DYNAMODB_DATA_PLANE)
            if extra:
                report(
                    f"role {_name(role)}, statement {sid}: grants {extra[:8]}{'...' if len(extra) > 8 else ''} outside "
                    "the data-plane allowlist (GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, "
                    "BatchWriteItem, ConditionCheckItem, DescribeTable)",
                    d.urn,
                )


tenant_dynamodb_data_plane_only = StackValidationPolicy(
    name="tenant-dynamodb-data-plane-only",
    description="Tenant roles hold only explicitly listed DynamoDB data-plane actions (isolation invariant 1).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_data_plane_only),
)


# ---- invariant 2 ---------------------------------------------------------------------------------------
def _no_scan(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    forbidden = tenant_forbidden()
    for role, _tenants, d in tenant_docs(graph):
        for st in allows(d.document or {}):
            acts, _ = granted(st)
            bad = sorted(acts & forbidden, key=lambda a: (not a.startswith(("dynamodb:scan", "dynamodb:partiql")), a))
            if bad:
                report(
                    f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}: grants {bad[:8]}"
                    f"{'...' if len(bad) > 8 else ''} to a tenant; a LeadingKeys condition does not constrain Scan, "
                    "PartiQL or streams, so this reads every tenant's rows",
                    d.urn,
                )


tenant_no_scan_partiql_streams = StackValidationPolicy(
    name="tenant-no-scan-partiql-streams",
    description="No Scan, PartiQL, stream, export/import/backup or control-plane action reaches a tenant role (#2).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_no_scan),
)


# ---- invariants 3 and 8 --------------------------------------------------------------------------------
def _leading_keys(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, tenants, d in tenant_docs(graph):
        segs = _segments(graph, role, tenants)
        allowed = {f"TENANT#{s}" for s in segs}
        for st, _ddb in _dynamodb_statements(d.document or {}):
            where = f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}"
            conds = statement_conditions(st)
            near = [(op, k, v) for op, k, v in conds if "leadingkeys" in normalized_key(k)]
            for op, k, _v in near:
                if k != LEADING_KEYS:
                    report(
                        f"{where}: condition key {k!r} is not spelled 'dynamodb:LeadingKeys'; a misspelled key is "
                        "absent from the request and ForAllValues over an absent key is true",
                        d.urn,
                    )
                elif op not in ("ForAllValues:StringEquals", "Null"):
                    report(
                        f"{where}: operator {op!r} on dynamodb:LeadingKeys; only ForAllValues:StringEquals is "
                        "exact (StringLike matches prefixes, ForAnyValue passes mixed batches, IfExists/Not* "
                        "match absent keys)",
                        d.urn,
                    )
            exact = [v for op, k, v in near if op == "ForAllValues:StringEquals" and k == LEADING_KEYS]
            if not exact:
                report(
                    f"{where}: no ForAllValues:StringEquals dynamodb:LeadingKeys condition in the statement; "
                    "tenant access must be limited to the tenant's partition",
                    d.urn,
                )
                continue
            values = [x for v in exact for x in v]
            if len(values) != 1:
                report(f"{where}: dynamodb:LeadingKeys must have exactly one value; got {values}", d.urn)
                continue
            value = str(values[0])
            if any(c in value for c in "*?") or ", '" in value or ",'" in value:
                report(f"{where}: LeadingKeys value {value!r} has a wildcard or a variable default", d.urn)
            elif value not in allowed:
                report(
                    f"{where}: LeadingKeys value {value!r} is not this role's tenant key; expected one of "
                    f"{sorted(allowed)} (reached from tenants {sorted(tenants)})",
                    d.urn,
                )


tenant_leading_keys_exact = StackValidationPolicy(
    name="tenant-leading-keys-exact",
    description="Every tenant DynamoDB grant carries ForAllValues:StringEquals dynamodb:LeadingKeys = "
    "[TENANT#<that tenant>] (or the TenantId principal-tag template) (#3, #8).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_leading_keys),
)


# ---- invariant 4 (SHOULD) ------------------------------------------------------------------------------
def _null_guard(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, _tenants, d in tenant_docs(graph):
        for st, _ddb in _dynamodb_statements(d.document or {}):
            guards = [v for op, k, v in statement_conditions(st) if op == "Null" and k == LEADING_KEYS]
            if [str(x).lower() for v in guards for x in v] != ["false"]:
                report(
                    f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}: add "
                    '"Null": {"dynamodb:LeadingKeys": "false"} so requests without keys are not allowed',
                    d.urn,
                )


tenant_leading_keys_null_guard = StackValidationPolicy(
    name="tenant-leading-keys-null-guard",
    description="Tenant DynamoDB grants also require the LeadingKeys key to be present (Null = false) (#4). "
    "Mandatory: without the guard a Scan or a request without key conditions passes ForAllValues vacuously.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_null_guard),
)


# ---- invariant 5 ---------------------------------------------------------------------------------------
def _documents(args: ResourceValidationArgs) -> list[tuple[str, Any]]:
    p = plain_props(args.props)
    if args.resource_type == ROLE:
        docs = [("assumeRolePolicy", p.get("assumeRolePolicy"))]
        docs += [
            (f"inlinePolicies[{i}]", x.get("policy"))
            for i, x in enumerate(as_list(p.get("inlinePolicies")))
            if isinstance(x, Mapping)
        ]
        return docs
    if args.resource_type in (POLICY, ROLE_POLICY, DDB_RESOURCE_POLICY):
        return [("policy", p.get("policy"))]
    return []


def _version(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for key, value in _documents(args):
        if is_unknown(value):
            continue  # known on `pulumi up`; the pack runs again then
        doc = parse_json_document(value)
        if doc is None:
            report(f"{key} is missing or not a JSON policy document", None)
        elif doc.get("Version") != "2012-10-17":
            report(
                f'{key} has Version {doc.get("Version")!r}; set "Version": "2012-10-17" (without it policy '
                "variables such as ${aws:PrincipalTag/TenantId} are not substituted)",
                None,
            )


iam_policy_version = ResourceValidationPolicy(
    name="iam-policy-version",
    description="Every IAM and DynamoDB resource policy document declares Version 2012-10-17 (#5).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_version,
)


# ---- invariant 6 ---------------------------------------------------------------------------------------
def _resource_scope(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, _tenants, d in tenant_docs(graph):
        for st, _ddb in _dynamodb_statements(d.document or {}):
            where = f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}"
            if "NotResource" in st or "Resource" not in st:
                report(
                    f"{where}: use Resource with exact table ARNs (NotResource or no Resource reaches every table)",
                    d.urn,
                )
                continue
            for res in as_list(st.get("Resource")):
                m = TABLE_ARN_RE.fullmatch(str(res))
                if not m:
                    report(
                        f"{where}: resource {res!r} is not an exact table or index ARN (no wildcards, no table/*)",
                        d.urn,
                    )
                    continue
                table = graph.tables.get(m.group(1))
                if table is None:
                    report(f"{where}: {res!r} is not a pool table of this stack", d.urn)
                elif m.group(2) and m.group(2) not in table.tenant_indexes:
                    report(
                        f"{where}: index {m.group(2)!r} of {m.group(1)} is not keyed by TenantId; tenant policies "
                        "may name only tenant-keyed indexes",
                        d.urn,
                    )


tenant_dynamodb_resource_scope = StackValidationPolicy(
    name="tenant-dynamodb-resource-scope",
    description="Tenant DynamoDB grants name only exact pool-table ARNs and tenant-keyed index ARNs (#6).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_resource_scope),
)


# ---- invariants 7 and 26 -------------------------------------------------------------------------------
def _abac(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, tenants, d in tenant_docs(graph):
        if "${aws:PrincipalTag/" not in d.text:
            continue
        variables = set(re.findall(r"\$\{aws:PrincipalTag/[^}]*\}", d.text))
        if variables != {ABAC_VARIABLE}:
            report(
                f"role {_name(role)}: principal-tag variables {sorted(variables)}; only {ABAC_VARIABLE} (no "
                "default, exact key) is mapped by the identity pools",
                d.urn,
            )
        if UNKNOWN_TENANT in tenants or SYSTEM_TENANT in graph.reach(role):
            report(
                f"role {_name(role)}: uses {ABAC_VARIABLE} but is reachable from an identity pool that is not a "
                "customer tenant's pool of this stack",
                role.urn,
            )
        if graph.trust_allows_tag_session(role) is False:
            report(
                f"role {_name(role)}: an ABAC role's trust must allow sts:TagSession in the same statement as "
                "sts:AssumeRoleWithWebIdentity, or the TenantId tag never reaches the session",
                role.urn,
            )
        for key in sorted({*role.pools, *role.mapped_by}):
            pool = graph.pools.get(key)
            if pool is None:
                continue
            maps = graph.principal_tags.get(key, [])
            if not maps and not pool.has_providers:
                continue  # a pool without identity providers issues no authenticated credentials at all
            good = [
                urn
                for urn, p in maps
                if p.get("useDefaults") is False
                and dict(p.get("principalTags") or {}) == {"TenantId": "custom:tenantId"}
            ]
            if not good or len(good) != len(maps):
                report(
                    f"identity pool {pool.label} (tenant {pool.tenant}) hands out ABAC role {_name(role)} but does not map "
                    'exactly {"TenantId": "custom:tenantId"} with use_defaults=False '
                    "(IdentityPoolProviderPrincipalTag)",
                    pool.key,
                )


abac_principal_tag_provenance = StackValidationPolicy(
    name="abac-principal-tag-provenance",
    description="Roles scoped by ${aws:PrincipalTag/TenantId} get the tag only from their tenants' identity-pool "
    "principal-tag map (TenantId <- custom:tenantId, no defaults) via TagSession (#7, #26).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_abac),
)


# ---- invariant 8 ---------------------------------------------------------------------------------------
def _single_tenant_policy(graph: Graph, args: StackValidationArgs, report: ReportViolation) -> None:
    for r in args.resources:
        if r.resource_type != POLICY:
            continue
        value = plain_props(r.props).get("policy")
        text = "" if is_unknown(value) else str(value or "")
        literal = set(TENANT_KEY_RE.findall(text))
        if not literal:
            continue
        if len(literal) > 1:
            report(f"policy names several tenant keys {sorted(literal)}; one customer-managed policy per tenant", r.urn)
            continue
        (tenant,) = literal
        for role in graph.roles:
            if any(target == r.urn for _, _, target in role.attached):
                reach = graph.reach(role)
                if reach != {tenant}:
                    report(
                        f"policy for TENANT#{tenant} is attached to role {_name(role)}, reachable from "
                        f"{sorted(reach) or 'no identity pool'}; attach it only to {tenant}'s roles",
                        r.urn,
                    )


tenant_policy_single_tenant = StackValidationPolicy(
    name="tenant-policy-single-tenant",
    description="A policy with a literal tenant key is attached only to roles of that one tenant (#8).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_single_tenant_policy),
)


# ---- invariant 9 ---------------------------------------------------------------------------------------
def _managed_allowlist(graph: Graph, args: StackValidationArgs, report: ReportViolation) -> None:
    allowed = set(args.get_config().get("allowedAwsManagedPolicyArns", []))
    for role, _tenants in graph.tenant_roles():
        for urn, arn, target in role.attached:
            if target is None and arn not in allowed:
                report(
                    f"role {_name(role)} attaches {arn!r}, which is neither a customer-managed policy of this stack "
                    "nor in allowedAwsManagedPolicyArns",
                    urn,
                )


tenant_role_managed_policy_allowlist = StackValidationPolicy(
    name="tenant-role-managed-policy-allowlist",
    description="Tenant roles attach only this stack's customer-managed policies or allow-listed AWS ones (#9).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_managed_allowlist),
    config_schema=PolicyConfigSchema(
        properties={"allowedAwsManagedPolicyArns": {"type": "array", "items": {"type": "string"}}}
    ),
)


# ---- invariant 10 --------------------------------------------------------------------------------------
def _resource_policy(graph: Graph, args: StackValidationArgs, report: ReportViolation) -> None:
    identity_roles = {r.arn for r in graph.roles if r.is_cognito and r.arn} | {
        r.name for r in graph.roles if r.is_cognito and r.name
    }
    for r in args.resources:
        if r.resource_type != DDB_RESOURCE_POLICY:
            continue
        value = plain_props(r.props).get("policy")
        if is_unknown(value):
            continue  # known on `pulumi up`
        doc = parse_json_document(value)
        if doc is None:
            report("DynamoDB resource policy is missing or not JSON", r.urn)
            continue
        for st in allows(doc):
            principal = st.get("Principal")
            refs = (
                [principal]
                if isinstance(principal, str)
                else [x for v in principal.values() for x in as_list(v)]
                if isinstance(principal, Mapping)
                else []
            )
            if "*" in refs:
                report(
                    "DynamoDB resource policy allows Principal '*'; within an account it grants access on its own",
                    r.urn,
                )
            hit = sorted(
                str(x)
                for x in refs
                if str(x) in identity_roles or any(str(x).endswith(f"/{n}") for n in identity_roles)
            )
            if hit:
                report(
                    f"DynamoDB resource policy grants identity-pool roles {hit}; tenant and system roles get "
                    "table access only from their identity policies",
                    r.urn,
                )


dynamodb_resource_policy_no_bypass = StackValidationPolicy(
    name="dynamodb-resource-policy-no-bypass",
    description="No DynamoDB resource policy grants '*' or any identity-pool (tenant/system) role (#10).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_resource_policy),
)


# ---- invariant 11 --------------------------------------------------------------------------------------
def _system_unreachable(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    system_pools = {key for key, p in graph.pools.items() if p.tenant == SYSTEM_TENANT}
    for role in graph.roles:
        if not (set(role.pools) & system_pools):
            continue
        customer = sorted(graph.pool_label(p) for p in role.pools if p not in system_pools)
        if customer:
            report(
                f"system role {_name(role)} also trusts identity pools {customer}; system roles trust only the "
                "system tenant's pool",
                role.urn,
            )
        for a in graph.attachments:
            if a.pool in system_pools:
                continue
            if any(urn == role.urn for _, urn, _ in a.role_refs):
                report(f"customer identity pool {graph.pool_label(a.pool)} maps system role {_name(role)}", a.urn)


system_roles_unreachable_from_tenants = StackValidationPolicy(
    name="system-roles-unreachable-from-tenants",
    description="Roles of the system identity pool are neither trusted by nor mapped from a customer pool (#11a-b).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_system_unreachable),
)


def _scan_exception(graph: Graph, args: StackValidationArgs, report: ReportViolation) -> None:
    allowed = set(args.get_config().get("scanAllowedRoles", []))
    risky = {a for a in tenant_forbidden() if a == "dynamodb:scan" or a.startswith("dynamodb:partiql")}
    tenant_role_urns = {r.urn for r, _ in graph.tenant_roles()}
    for role in graph.roles:
        if role.urn in tenant_role_urns:
            continue  # tenant roles are judged by tenant-no-scan-partiql-streams
        for d in role.docs:
            for st in allows(d.document or {}):
                bad = sorted(granted(st)[0] & risky)
                if bad and not ({role.name, role.logical} & allowed):
                    report(
                        f"role {_name(role)} holds {bad} without a LeadingKeys scope; name it in "
                        "system-role-scan-exception.scanAllowedRoles if this is intended",
                        d.urn,
                    )


system_role_scan_exception = StackValidationPolicy(
    name="system-role-scan-exception",
    description="A role without LeadingKeys may Scan or use PartiQL only as an exception named in the pack "
    "config (scanAllowedRoles) (#11c).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_scan_exception),
    config_schema=PolicyConfigSchema(properties={"scanAllowedRoles": {"type": "array", "items": {"type": "string"}}}),
)


# ---- invariant 12 --------------------------------------------------------------------------------------
def _trust_shape(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROLE:
        return
    value = plain_props(args.props).get("assumeRolePolicy")
    if is_unknown(value):
        return  # known on `pulumi up`; the pack runs again then
    trust = parse_json_document(value)
    if trust is None:
        return  # iam-policy-version reports a missing trust policy
    cognito = cognito_statements(trust)
    if not cognito:
        return
    if len(list(statements(trust))) != len(cognito):
        report(
            "trust policy mixes the Cognito identity principal with other statements; identity-pool roles are "
            "trusted by cognito-identity.amazonaws.com only",
            None,
        )
    for st in cognito:
        principal = st.get("Principal")
        if st.get("Effect") != "Allow" or principal != {"Federated": COGNITO_IDENTITY}:
            report(
                f'Principal must be exactly {{"Federated": "{COGNITO_IDENTITY}"}} (no AWS, Service or \'*\'); '
                f"got {principal!r}",
                None,
            )
        acts = [str(a) for a in as_list(st.get("Action"))]
        if "sts:AssumeRoleWithWebIdentity" not in acts or set(acts) - {
            "sts:AssumeRoleWithWebIdentity",
            "sts:TagSession",
        }:
            report(
                f"Action must be sts:AssumeRoleWithWebIdentity (plus sts:TagSession for ABAC roles); got {acts}", None
            )
        conds = statement_conditions(st)
        aud = [v for op, k, v in conds if op == "StringEquals" and k == AUD_KEY]
        other_aud = [
            op for op, k, _ in conds if normalized_key(k) == AUD_KEY and (op != "StringEquals" or k != AUD_KEY)
        ]
        if other_aud or not aud:
            report(
                f'trust needs StringEquals {{"{AUD_KEY}": <the tenant\'s identity pool id>}}'
                f"{f'; found operators {other_aud}' if other_aud else ' (missing: any identity pool could assume it)'}",
                None,
            )
        values = [str(x) for v in aud for x in v]
        if any("*" in x or "?" in x or not x for x in values):
            report(f"aud values must be literal identity pool ids; got {values}", None)
        if len(values) > 1 and "sts:TagSession" not in acts:
            report(
                f"aud lists {len(values)} identity pools; only a shared ABAC role (sts:TagSession, policies scoped "
                "by ${aws:PrincipalTag/TenantId}) may be trusted by several tenants' pools",
                None,
            )
        amr = [(op, [str(x) for x in v]) for op, k, v in conds if normalized_key(k) == AMR_KEY]
        if amr != [("ForAnyValue:StringLike", ["authenticated"])]:
            report(
                f'trust needs ForAnyValue:StringLike {{"{AMR_KEY}": "authenticated"}} and nothing else on amr; '
                f"got {amr or 'none'}",
                None,
            )


identity_pool_role_trust = ResourceValidationPolicy(
    name="identity-pool-role-trust",
    description="Identity-pool roles trust only cognito-identity.amazonaws.com for AssumeRoleWithWebIdentity, "
    "with a literal aud and amr = authenticated (#12).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_trust_shape,
)


def _trust_binding(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role in graph.roles:
        if not role.is_cognito:
            continue
        reach_by_trust = {graph.pools[p].tenant if p in graph.pools else UNKNOWN_TENANT for p in role.pools}
        unknown = sorted(graph.pool_label(p) for p in role.pools if p not in graph.pools)
        if unknown:
            report(
                f"role {_name(role)} trusts identity pools {unknown} that this stack does not define; a role must "
                "be bound to its own tenant's pool",
                role.urn,
            )
        tenants = reach_by_trust - {UNKNOWN_TENANT}
        if len(tenants) > 1 and not graph.is_sanctioned_abac(role):
            report(
                f"role {_name(role)} is trusted by the pools of tenants {sorted(tenants)}; only a shared ABAC role "
                "(TagSession, no literal tenant keys, ${aws:PrincipalTag/TenantId} policies) may be",
                role.urn,
            )
        tag_session = any(
            "sts:tagsession" in {str(a).lower() for a in as_list(st.get("Action"))}
            for st in cognito_statements(role.trust or {})
        )  # False while the trust is unknown: judged on `pulumi up`
        if tag_session and not role.uses_abac():
            report(
                f"role {_name(role)} allows sts:TagSession but no policy uses ${{aws:PrincipalTag/TenantId}}; drop "
                "TagSession (a session tag would override a role tag of the same key)",
                role.urn,
            )
        for key in role.mapped_by:
            if key not in role.pools:
                report(
                    f"identity pool {graph.pool_label(key)} maps role {_name(role)}, whose trust does not name that pool",
                    role.urn,
                )


tenant_role_trust_binding = StackValidationPolicy(
    name="tenant-role-trust-binding",
    description="Each identity-pool role trusts its own tenant's pool of this stack; several tenants' pools only "
    "for the sanctioned shared ABAC role (#12, #25).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_trust_binding),
)


def _pool_maps_own_roles(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for a in graph.attachments:
        pool = graph.pools.get(a.pool)
        if pool is None:
            report(
                f"role attachment names identity pool {graph.pool_label(a.pool)!r}, which this stack does not define",
                a.urn,
            )
            continue
        if a.unauthenticated:
            report("role attachment has an 'unauthenticated' role; guests get no credentials", a.urn)
        for path, urn, arn in a.role_refs:
            role = graph.by_urn(urn)
            if role is None:
                report(f"{path} = {arn!r} is not a role of this stack; mapped roles must be this tenant's roles", a.urn)
                continue
            reach = graph.reach(role)
            if pool.tenant == SYSTEM_TENANT:
                if reach != {SYSTEM_TENANT}:
                    report(f"system pool maps role {_name(role)}, which is also reachable from {sorted(reach)}", a.urn)
            elif a.pool not in role.pools or SYSTEM_TENANT in reach:
                report(
                    f"{path}: role {_name(role)} is not one of tenant {pool.tenant}'s roles (its trust names "
                    f"{[graph.pool_label(p) for p in role.pools] or 'no pool'})",
                    a.urn,
                )
            elif reach != {pool.tenant} and not graph.is_sanctioned_abac(role):
                report(
                    f"{path}: role {_name(role)} is shared with tenants {sorted(reach - {pool.tenant})} without "
                    "being a sanctioned ABAC role",
                    a.urn,
                )


identity_pool_maps_own_roles = StackValidationPolicy(
    name="identity-pool-maps-own-roles",
    description="A tenant identity pool maps only roles of that tenant (or its ABAC shard), never a system role, "
    "and no unauthenticated role (#24, #25, known-bad 17).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_pool_maps_own_roles),
)


# ---- invariant 13 --------------------------------------------------------------------------------------
def _size(args: ResourceValidationArgs, report: ReportViolation) -> None:
    trust_max = int(args.get_config().get("trustPolicyMaxChars", TRUST_POLICY_MAX))
    limits = {
        POLICY: MANAGED_POLICY_MAX,
        ROLE_POLICY: INLINE_PER_ROLE_MAX,
        DDB_RESOURCE_POLICY: DDB_RESOURCE_POLICY_MAX,
    }
    props = plain_props(args.props)
    if args.resource_type == ROLE:
        value = props.get("assumeRolePolicy")
        if value is not None and not is_unknown(value) and doc_size(value) > trust_max:
            report(
                f"trust policy is {doc_size(value)} characters (whitespace excluded); the quota is {trust_max} "
                "(trustPolicyMaxChars: 4096 only after AWS raised it)",
                None,
            )
        return
    limit = limits.get(args.resource_type)
    if limit is None:
        return
    value = props.get("policy")
    if value is not None and not is_unknown(value) and doc_size(value) > limit:
        report(f"policy is {doc_size(value)} characters (whitespace excluded); IAM/DynamoDB allow {limit}", None)


iam_policy_size = ResourceValidationPolicy(
    name="iam-policy-size",
    description="Managed policies <= 6,144, trust policies <= 2,048 (or 4,096), DynamoDB resource policies "
    "<= 20 KB, characters without whitespace (#13).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_size,
    config_schema=PolicyConfigSchema(properties={"trustPolicyMaxChars": {"type": "integer", "enum": [2048, 4096]}}),
)


def _role_quota(graph: Graph, args: StackValidationArgs, report: ReportViolation) -> None:
    per_role = int(args.get_config().get("managedPoliciesPerRole", 10))
    for role in graph.roles:
        inline = sum(doc_size(d.text) for d in role.docs if d.kind == "inline")
        if inline > INLINE_PER_ROLE_MAX:
            report(
                f"role {_name(role)}: inline policies total {inline} characters; IAM allows {INLINE_PER_ROLE_MAX}",
                role.urn,
            )
        if len(role.attached) > per_role:
            report(
                f"role {_name(role)}: {len(role.attached)} managed policies attached; the quota is {per_role}",
                role.urn,
            )


iam_role_policy_quota = StackValidationPolicy(
    name="iam-role-policy-quota",
    description="Per role: inline policies <= 10,240 characters in total, <= 10 (or 20) managed policies (#13).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_role_quota),
    config_schema=PolicyConfigSchema(properties={"managedPoliciesPerRole": {"type": "integer", "enum": [10, 20]}}),
)


# ---- tenant action allowlist (#1/#2 across services) and S3 (#38, #39) ---------------------------------
def _action_allowlist(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    ok = DYNAMODB_DATA_PLANE | S3_OBJECT_ACTIONS | S3_LIST_ACTIONS
    for role, _tenants, d in tenant_docs(graph):
        for st in allows(d.document or {}):
            acts, unknown = granted(st)
            extra = sorted(acts - ok)
            if extra and set(extra) <= KMS_VIA_ACTIONS and not unknown and _kms_via_service_only(st):
                continue  # the table or bucket key, through DynamoDB/S3 only
            if extra or unknown or "NotAction" in st:
                report(
                    f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}: tenant roles hold only DynamoDB "
                    f"data-plane and S3 object/list actions (and kms:Decrypt/DescribeKey/GenerateDataKey* on a key ARN "
                    f"under StringEquals kms:ViaService dynamodb|s3); found {(unknown + extra)[:8] or ['NotAction']}",
                    d.urn,
                )


tenant_role_action_allowlist = StackValidationPolicy(
    name="tenant-role-action-allowlist",
    description="Tenant roles are granted nothing but DynamoDB item actions, S3 object/list actions and their keys "
    "through DynamoDB/S3 (kms:ViaService).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_action_allowlist),
)


def _s3_objects(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, tenants, d in tenant_docs(graph):
        segs = _segments(graph, role, tenants)
        for st in allows(d.document or {}):
            acts, _ = granted(st)
            if not acts & S3_OBJECT_ACTIONS:
                continue
            where = f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}"
            if "NotResource" in st or "Resource" not in st:
                report(f"{where}: object actions need Resource arn:aws:s3:::<bucket>/<root>/<tenant>/*", d.urn)
            for res in as_list(st.get("Resource")):
                m = OBJECT_ARN_RE.fullmatch(str(res))
                if not m or m.group(3) not in segs:
                    report(
                        f"{where}: object resource {res!r} is not <bucket>/<root>/<tenant>/* for this role's tenant "
                        f"({sorted(segs)}); a '/' must separate the tenant id from '*'",
                        d.urn,
                    )
            if any(normalized_key(k) == "s3:prefix" for _, k, _ in statement_conditions(st)):
                report(f"{where}: s3:prefix never matches object actions; scope objects by resource ARN", d.urn)


tenant_s3_object_prefix = StackValidationPolicy(
    name="tenant-s3-object-prefix",
    description="Tenant object access is only on <bucket>/<root>/<tenant>/* (#38).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_s3_objects),
)


def _s3_list(graph: Graph, _args: StackValidationArgs, report: ReportViolation) -> None:
    for role, tenants, d in tenant_docs(graph):
        segs = _segments(graph, role, tenants)
        for st in allows(d.document or {}):
            acts, _ = granted(st)
            if not acts & S3_LIST_ACTIONS:
                continue
            where = f"role {_name(role)}, statement {st.get('Sid', '<no Sid>')}"
            if acts & S3_OBJECT_ACTIONS:
                report(
                    f"{where}: list and object actions share a statement; the s3:prefix condition never matches "
                    "object actions, so split them",
                    d.urn,
                )
            bad_res = [x for x in as_list(st.get("Resource")) if not BUCKET_ARN_RE.fullmatch(str(x))]
            if bad_res or "Resource" not in st:
                report(f"{where}: list actions belong on the bucket ARN only; got {bad_res or 'no Resource'}", d.urn)
            conds = statement_conditions(st)
            prefixes = [(op, [str(x) for x in v]) for op, k, v in conds if normalized_key(k) == "s3:prefix"]
            values = [x for op, v in prefixes if op == "StringLike" for x in v]
            wrong_ops = [op for op, _ in prefixes if op != "StringLike"]
            ok = {
                f"{root}/{s}/{own}{tail}"
                for s in segs
                for root in {x.split("/", 1)[0] for x in values}
                for own in ("", IDENTITY_PREFIX)
                for tail in ("", "*")
            }
            if not values or wrong_ops or any(x not in ok for x in values):
                report(
                    f"{where}: needs StringLike s3:prefix in {{'<root>/<tenant>/', '<root>/<tenant>/*'}} for this "
                    f"role's tenant ({sorted(segs)}); got {prefixes or 'no s3:prefix condition'}",
                    d.urn,
                )


tenant_s3_list_prefix = StackValidationPolicy(
    name="tenant-s3-list-prefix",
    description="Tenant listing is on the bucket ARN under StringLike s3:prefix of the tenant's prefix (#39).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_stack(_s3_list),
)


POLICIES = [
    tenant_dynamodb_data_plane_only,
    tenant_no_scan_partiql_streams,
    tenant_leading_keys_exact,
    tenant_leading_keys_null_guard,
    iam_policy_version,
    tenant_dynamodb_resource_scope,
    abac_principal_tag_provenance,
    tenant_policy_single_tenant,
    tenant_role_managed_policy_allowlist,
    dynamodb_resource_policy_no_bypass,
    system_roles_unreachable_from_tenants,
    system_role_scan_exception,
    identity_pool_role_trust,
    tenant_role_trust_binding,
    identity_pool_maps_own_roles,
    iam_policy_size,
    iam_role_policy_quota,
    tenant_role_action_allowlist,
    tenant_s3_object_prefix,
    tenant_s3_list_prefix,
]
