"""IAM analysis shared by the access rules: action expansion (parliament's copy of the Service Authorization
Reference), statement helpers, and the stack graph that joins roles, policies, attachments, identity pools,
role attachments, principal-tag maps and tables by their properties (isolation invariant 48).

Pure functions over the engine's camelCase property maps; no Pulumi imports. Only the property keys a rule
needs are read, so an unknown value elsewhere in a resource does not stop a rule at preview.

:func:`stack_graph` is :func:`build_graph` with a one-entry cache: the stack rules of one ``AnalyzeStack``
request share one graph when they are handed the same resource objects (the offline analyzer does that).
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from parliament import UnknownActionException, UnknownPrefixException, expand_action
from pulumi_policy import proxy

from saas_platform.components.naming import CELL_TYPE, PLATFORM_TABLES_OUTPUT
from saas_platform.policies._common import as_list, index_keys, parse_json_document, statements

ROLE: Final = "aws:iam/role:Role"
POLICY: Final = "aws:iam/policy:Policy"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT: Final = "aws:iam/policyAttachment:PolicyAttachment"
IDENTITY_POOL: Final = "aws:cognito/identityPool:IdentityPool"
POOL_ROLE_ATTACHMENT: Final = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"
PRINCIPAL_TAG: Final = "aws:cognito/identityPoolProviderPrincipalTag:IdentityPoolProviderPrincipalTag"
TABLE: Final = "aws:dynamodb/table:Table"
DDB_RESOURCE_POLICY: Final = "aws:dynamodb/resourcePolicy:ResourcePolicy"

SYSTEM_TENANT: Final = "system"
UNKNOWN_TENANT: Final = "?"
"""Stands for an identity pool this stack does not define (or one without a ``saas:tenant`` tag)."""
TENANT_TAG: Final = "saas:tenant"
COGNITO_IDENTITY: Final = "cognito-identity.amazonaws.com"
AUD_KEY: Final = "cognito-identity.amazonaws.com:aud"
AMR_KEY: Final = "cognito-identity.amazonaws.com:amr"
LEADING_KEYS: Final = "dynamodb:LeadingKeys"
ABAC_VARIABLE: Final = "${aws:PrincipalTag/TenantId}"
TENANT_KEY_RE: Final = re.compile(r"TENANT#([a-z][a-z0-9-]{1,30})(?![a-z0-9-])")
PARTITION_KEY: Final = "TenantId"

DYNAMODB_DATA_PLANE: Final = frozenset(
    f"dynamodb:{a}".lower()
    for a in (
        "GetItem",
        "BatchGetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "ConditionCheckItem",
        "DescribeTable",
    )
)
"""Invariant 1's allowlist (DescribeTable optional)."""
TENANT_FORBIDDEN_EXPLICIT: Final = (
    "Scan",
    "PartiQLSelect",
    "PartiQLInsert",
    "PartiQLUpdate",
    "PartiQLDelete",
    "GetRecords",
    "GetShardIterator",
    "DescribeStream",
    "ListStreams",
    "ExportTableToPointInTime",
    "ImportTable",
    "RestoreTable*",
    "CreateBackup",
    "UpdateTable",
    "DeleteTable",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "CreateTable",
)
"""Invariant 2's list, as SAR patterns."""
S3_OBJECT_ACTIONS: Final = frozenset(
    a.lower()
    for a in (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAttributes",
        "s3:GetObjectTagging",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:DeleteObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    )
)
"""Object-level S3 actions a tenant role may hold, on its own prefix only (invariant 38)."""
S3_LIST_ACTIONS: Final = frozenset(("s3:listbucket", "s3:listbucketversions", "s3:listbucketmultipartuploads"))
"""Bucket-level list actions a tenant role may hold, only under an ``s3:prefix`` condition (invariant 39)."""


@lru_cache(maxsize=4096)
def expand(pattern: str) -> frozenset[str] | None:
    """Every SAR action a pattern matches, lowercased (``dynamodb:*Item`` -> 7 actions); ``None`` when the
    pattern names no known action (an unknown service or action)."""
    if not isinstance(pattern, str):
        return None
    try:
        found = expand_action(pattern)
    except (UnknownActionException, UnknownPrefixException):
        return None
    return frozenset(f"{a['service']}:{a['action']}".lower() for a in found) or None


@lru_cache(maxsize=1)
def tenant_forbidden() -> frozenset[str]:
    out: set[str] = set()
    for p in TENANT_FORBIDDEN_EXPLICIT:
        out |= expand(f"dynamodb:{p}") or {f"dynamodb:{p}".lower()}
    return frozenset(out)


@lru_cache(maxsize=1)
def all_actions() -> frozenset[str]:
    return expand("*") or frozenset()


def granted(statement: Mapping[str, Any]) -> tuple[frozenset[str], list[str]]:
    """Actions an Allow statement grants (NotAction grants everything it does not list), and unknown patterns."""
    unknown: list[str] = []
    if "NotAction" in statement:
        excluded: set[str] = set()
        for p in as_list(statement.get("NotAction")):
            excluded |= expand(p) or set()
        return all_actions() - excluded, unknown
    out: set[str] = set()
    for p in as_list(statement.get("Action")):
        found = expand(p)
        if found is None:
            unknown.append(str(p))
        else:
            out |= found
    return frozenset(out), unknown


def allows(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for st in statements(doc):
        if st.get("Effect") == "Allow":
            yield st


def doc_size(doc: Any) -> int:
    """IAM's size: JSON characters without whitespace."""
    text = doc if isinstance(doc, str) else json.dumps(doc, separators=(",", ":"))
    return len(re.sub(r"\s", "", text))


def normalized_key(key: str) -> str:
    return re.sub(r"\s", "", key).lower()


def cognito_statements(trust: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Trust statements whose principal includes the Cognito identity service."""
    out = []
    for st in statements(trust):
        principal = st.get("Principal")
        feds = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if COGNITO_IDENTITY in feds:
            out.append(st)
    return out


def aud_values(st: Mapping[str, Any]) -> list[str]:
    cond = st.get("Condition")
    if not isinstance(cond, Mapping):
        return []
    values: list[str] = []
    for block in cond.values():
        if isinstance(block, Mapping):
            for k, v in block.items():
                if normalized_key(k) == AUD_KEY:
                    values += [str(x) for x in as_list(v)]
    return values


UNKNOWN_SENTINELS: Final = frozenset(
    (
        proxy.UNKNOWN_BOOLEAN_VALUE,
        proxy.UNKNOWN_NUMBER_VALUE,
        proxy.UNKNOWN_STRING_VALUE,
        proxy.UNKNOWN_ARRAY_VALUE,
        proxy.UNKNOWN_ASSET_VALUE,
        proxy.UNKNOWN_ARCHIVE_VALUE,
        proxy.UNKNOWN_OBJECT_VALUE,
    )
)


def is_unknown(value: Any) -> bool:
    """True for a value the engine cannot know during preview (pulumi-policy's sentinel strings)."""
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def plain_props(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The properties without pulumi-policy's unknown-checking proxies (which wrap every nested dict and
    list): unknown values stay as sentinels (test them with :func:`is_unknown`) instead of raising, so a rule
    judges what is known at preview and joins the rest through property dependencies."""
    out = _unwrap(props)
    return out if isinstance(out, Mapping) else {}


def _unwrap(value: Any) -> Any:
    if isinstance(value, proxy._DictProxy | proxy._ListProxy):  # a proxy answers "__target" with what it wraps
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return value


@dataclass
class Doc:
    """A permissions policy document reachable from a role (``unknown``: not known until ``pulumi up``)."""

    urn: str
    kind: str  # "managed" | "inline"
    document: dict[str, Any] | None
    text: str
    unknown: bool = False


@dataclass
class Role:
    urn: str
    logical: str
    name: str
    arn: str
    trust: dict[str, Any] | None
    trust_unknown: bool = False
    docs: list[Doc] = field(default_factory=list)
    attached: list[tuple[str, str, str | None]] = field(default_factory=list)  # (attachment urn, label, policy urn)
    pools: list[str] = field(default_factory=list)  # pool keys named in the trust policy's aud
    mapped_by: list[str] = field(default_factory=list)  # pool keys whose role attachment names this role

    @property
    def is_cognito(self) -> bool:
        return bool(self.trust and cognito_statements(self.trust)) or (self.trust_unknown and bool(self.pools))

    def uses_abac(self) -> bool:
        return any("${aws:PrincipalTag/" in d.text for d in self.docs)

    def literal_tenants(self) -> set[str]:
        return {m for d in self.docs for m in TENANT_KEY_RE.findall(d.text)}


@dataclass
class Pool:
    key: str  # the IdentityPool's URN
    pool_id: str  # "" while unknown
    tenant: str
    has_providers: bool

    @property
    def label(self) -> str:
        return self.pool_id or self.key.rsplit("::", 1)[-1]


@dataclass
class Attachment:
    urn: str
    pool: str  # pool key
    role_refs: list[tuple[str, str | None, str]]  # (property path, role urn or None, reference as written)
    unauthenticated: bool


@dataclass
class Table:
    urn: str
    name: str
    tenant_indexes: set[str]
    indexes: set[str]


@dataclass
class Graph:
    roles: list[Role]
    pools: dict[str, Pool]
    attachments: list[Attachment]
    principal_tags: dict[str, list[tuple[str, Mapping[str, Any]]]]
    tables: dict[str, Table]
    policies: dict[str, str]  # policy urn -> arn ("" while unknown)

    def by_urn(self, urn: str | None) -> Role | None:
        return next((r for r in self.roles if r.urn == urn), None)

    def pool_label(self, key: str) -> str:
        pool = self.pools.get(key)
        return pool.label if pool else key.removeprefix("id:")

    def reach(self, role: Role) -> set[str]:
        """Tenants whose identity pool can hand out ``role`` (trust ``aud`` or a role attachment)."""
        out: set[str] = set()
        for p in [*role.pools, *role.mapped_by]:
            pool = self.pools.get(p)
            out.add(pool.tenant if pool else UNKNOWN_TENANT)
        if role.is_cognito and not role.pools:
            out.add(UNKNOWN_TENANT)
        return out

    def customer_tenants(self, role: Role) -> set[str]:
        return self.reach(role) - {SYSTEM_TENANT}

    def tenant_roles(self) -> Iterator[tuple[Role, set[str]]]:
        """Roles reachable from a customer tenant's identity pool, with those tenants."""
        for r in self.roles:
            tenants = self.customer_tenants(r)
            if tenants:
                yield r, tenants

    def trust_allows_tag_session(self, role: Role) -> bool | None:
        """Whether the Cognito trust statements allow sts:TagSession; ``None`` while the trust is unknown."""
        if role.trust_unknown:
            return None
        stmts = cognito_statements(role.trust or {})
        return bool(stmts) and all(
            {"sts:assumerolewithwebidentity", "sts:tagsession"} <= {str(a).lower() for a in as_list(st.get("Action"))}
            for st in stmts
        )

    def is_sanctioned_abac(self, role: Role) -> bool:
        """A shared role: trusted only by customer pools, TagSession with the web-identity action, and
        policies whose only tenant reference is the principal-tag variable (invariants 7, 8, 12). While the
        trust is unknown (first preview) the TagSession part is judged at ``pulumi up``."""
        reach = self.reach(role)
        if SYSTEM_TENANT in reach or UNKNOWN_TENANT in reach:
            return False
        if role.literal_tenants() or not role.uses_abac():
            return False
        return self.trust_allows_tag_session(role) is not False


def pool_id_of(props: Mapping[str, Any]) -> str:
    arn = props.get("arn")
    if isinstance(arn, str) and not is_unknown(arn) and "identitypool/" in arn:
        return arn.split("identitypool/", 1)[1]
    value = props.get("id")
    return value if isinstance(value, str) and not is_unknown(value) else ""


def _deps(resource: Any, prop: str, type_: str) -> list[str]:
    deps = getattr(resource, "property_dependencies", None) or {}
    return [d.urn for d in deps.get(prop, []) if d.resource_type == type_]


def build_graph(resources: Sequence[Any]) -> Graph:
    """Join the stack's IAM and Cognito resources (``resources`` are pulumi-policy ``PolicyResource``s).

    References are joined by value when known (role name or ARN, policy ARN, identity pool id) and through
    the engine's property dependencies when the value is unknown at preview (a new pool's id, a new role's
    ARN), so the joins hold in a first ``pulumi preview`` as well as on ``pulumi up``.
    """
    items = [(r, plain_props(r.props)) for r in resources]
    pools: dict[str, Pool] = {}
    pool_by_id: dict[str, str] = {}
    for r, p in items:
        if r.resource_type == IDENTITY_POOL:
            pid = pool_id_of(p)
            tags = p.get("tags")
            tenant = tags.get(TENANT_TAG) if isinstance(tags, Mapping) else None
            has_providers = any(
                p.get(k)
                for k in (
                    "cognitoIdentityProviders",
                    "openidConnectProviderArns",
                    "samlProviderArns",
                    "supportedLoginProviders",
                    "developerProviderName",
                )
            )
            pools[r.urn] = Pool(
                r.urn, pid, str(tenant) if tenant and not is_unknown(tenant) else UNKNOWN_TENANT, has_providers
            )
            if pid:
                pool_by_id[pid] = r.urn

    def pool_keys(value: Any, resource: Any, prop: str) -> list[str]:
        if is_unknown(value):
            return _deps(resource, prop, IDENTITY_POOL)
        return [pool_by_id.get(str(v), f"id:{v}") for v in as_list(value)]

    roles: list[Role] = []
    policies: dict[str, str] = {}
    policy_docs: dict[str, Any] = {}
    tables: dict[str, Table] = {}
    for r, p in items:
        t = r.resource_type
        if t == ROLE:
            raw_trust = p.get("assumeRolePolicy")
            unknown = is_unknown(raw_trust)
            trust = None if unknown else parse_json_document(raw_trust)
            name, arn = p.get("name"), p.get("arn")
            role = Role(
                r.urn,
                r.name,
                "" if is_unknown(name) else str(name or ""),
                "" if is_unknown(arn) else str(arn or ""),
                trust,
                trust_unknown=unknown,
            )
            if unknown:
                role.pools = _deps(r, "assumeRolePolicy", IDENTITY_POOL)
            for st in cognito_statements(trust or {}):
                for v in aud_values(st):
                    role.pools.append(pool_by_id.get(v, f"id:{v}"))
            for inline in as_list(p.get("inlinePolicies")):
                if isinstance(inline, Mapping) and inline.get("policy"):
                    role.docs.append(_doc(r.urn, "inline", inline.get("policy")))
            for arn_ in as_list(p.get("managedPolicyArns")):
                role.attached.append((r.urn, str(arn_), None))
            roles.append(role)
        elif t == POLICY:
            arn = p.get("arn")
            policies[r.urn] = "" if is_unknown(arn) else str(arn or "")
            policy_docs[r.urn] = p.get("policy")
        elif t == TABLE:
            name = str(p.get("name") or "")
            gsis = [g for g in as_list(p.get("globalSecondaryIndexes")) if isinstance(g, Mapping)]
            lsis = [g for g in as_list(p.get("localSecondaryIndexes")) if isinstance(g, Mapping)]
            tenant_idx = {str(g.get("name")) for g in gsis if index_keys(g)[0] == PARTITION_KEY} | {
                str(g.get("name")) for g in lsis
            }
            tables[name] = Table(r.urn, name, tenant_idx, {str(g.get("name")) for g in [*gsis, *lsis]})
        elif t == CELL_TYPE and isinstance(p.get(PLATFORM_TABLES_OUTPUT), Mapping):
            # A cell stack's pool tables live in its platform stack: the cell declares them as read from the
            # checked platform contract (TenantCell output), so its tenant roles are judged against them.
            for name, declared in p[PLATFORM_TABLES_OUTPUT].items():
                keyed = (
                    {str(i) for i in as_list(declared.get("tenantIndexNames"))}
                    if isinstance(declared, Mapping)
                    else set()
                )
                tables.setdefault(str(name), Table(r.urn, str(name), keyed, set(keyed)))
    graph = Graph(roles, pools, [], {}, tables, policies)
    policy_by_arn = {arn: urn for urn, arn in policies.items() if arn}

    def role_for(value: Any, resource: Any, prop: str) -> list[Role]:
        if is_unknown(value):
            return [x for x in (graph.by_urn(u) for u in _deps(resource, prop, ROLE)) if x]
        found = [x for x in roles if str(value) and str(value) in (x.name, x.arn)]
        return found[:1]

    for r, p in items:
        t = r.resource_type
        if t == ROLE_POLICY:
            for role in role_for(p.get("role"), r, "role"):
                role.docs.append(_doc(r.urn, "inline", p.get("policy")))
        elif t in (ROLE_POLICY_ATTACHMENT, POLICY_ATTACHMENT):
            value = p.get("policyArn")
            if is_unknown(value):
                targets: list[str | None] = list(_deps(r, "policyArn", POLICY)) or [None]
                label = "(unknown until apply)"
            else:
                targets, label = [policy_by_arn.get(str(value or ""))], str(value or "")
            role_values = [p.get("role")] if t == ROLE_POLICY_ATTACHMENT else as_list(p.get("roles"))
            prop = "role" if t == ROLE_POLICY_ATTACHMENT else "roles"
            for ref in role_values:
                for role in role_for(ref, r, prop):
                    for target in targets:
                        role.attached.append((r.urn, label, target))
        elif t == POOL_ROLE_ATTACHMENT:
            keys = pool_keys(p.get("identityPoolId"), r, "identityPoolId")
            role_map = p.get("roles")
            refs: list[tuple[str, str | None, str]] = []
            if is_unknown(role_map):
                refs += [("roles", u, "(unknown)") for u in _deps(r, "roles", ROLE)]
            elif isinstance(role_map, Mapping):
                for k, v in role_map.items():
                    found = role_for(v, r, "roles")
                    refs += [(f"roles.{k}", x.urn, str(v)) for x in found] or [(f"roles.{k}", None, str(v))]
            mappings = p.get("roleMappings")
            if is_unknown(mappings):
                refs += [("roleMappings", u, "(unknown)") for u in _deps(r, "roleMappings", ROLE)]
            else:
                for i, m in enumerate(as_list(mappings)):
                    rules = m.get("mappingRules") if isinstance(m, Mapping) else None
                    for j, rule in enumerate(as_list(rules)):
                        if not isinstance(rule, Mapping):
                            continue
                        v = rule.get("roleArn")
                        path = f"roleMappings[{i}].mappingRules[{j}].roleArn"
                        found = role_for(v, r, "roleMappings")
                        refs += [(path, x.urn, str(v)) for x in found] or [(path, None, str(v or ""))]
            unauth = isinstance(role_map, Mapping) and "unauthenticated" in role_map
            for key in keys or [""]:
                graph.attachments.append(Attachment(r.urn, key, refs, unauth))
                for _, urn, _ in refs:
                    role = graph.by_urn(urn)
                    if role is not None and key:
                        role.mapped_by.append(key)
        elif t == PRINCIPAL_TAG:
            for key in pool_keys(p.get("identityPoolId"), r, "identityPoolId") or [""]:
                graph.principal_tags.setdefault(key, []).append((r.urn, p))
    for role in roles:
        for _, _, target in role.attached:
            if target in policy_docs:
                role.docs.append(_doc(target, "managed", policy_docs[target]))
    return graph


_GRAPH_LOCK = threading.Lock()
_GRAPH_CACHE: list[tuple[tuple[weakref.ref[Any], ...], Graph]] = []
"""At most one entry: weak references to the resource objects a graph was built from, and the graph."""


def stack_graph(resources: Sequence[Any]) -> Graph:
    """:func:`build_graph` of ``resources``, shared by every rule that asks for the same resource objects.

    The cache holds one entry and hits only when ``resources`` holds the very objects the graph was built
    from (same length, ``is`` element by element). It keeps weak references, so it never keeps a stack
    alive, and a dead reference matches no new object even if the new one reuses the old one's ``id``. The
    offline analyzer hands every stack rule of one ``AnalyzeStack`` request a list of the same
    ``PolicyResource`` objects, so the graph is built once per request instead of once per rule. A key of
    URNs would be wrong: a preview and the update after it analyse the same URNs with different values. In
    ``pulumi preview --policy-pack`` the stock servicer converts the resources afresh for every rule, so each
    rule builds its own graph, as before. Rules read the graph and never change it.
    """
    items = tuple(resources)
    with _GRAPH_LOCK:
        for refs, graph in _GRAPH_CACHE:
            if len(refs) == len(items) and all(ref() is r for ref, r in zip(refs, items, strict=True)):
                return graph
    graph = build_graph(items)
    try:
        refs = tuple(weakref.ref(r) for r in items)
    except TypeError:  # an object without weak-reference support (a test double): no caching
        return graph
    with _GRAPH_LOCK:
        _GRAPH_CACHE[:] = [(refs, graph)]
    return graph


def clear_graph_cache() -> None:
    """Drop the cached graph."""
    with _GRAPH_LOCK:
        _GRAPH_CACHE.clear()


def _doc(urn: str, kind: str, value: Any) -> Doc:
    if is_unknown(value):
        return Doc(urn, kind, None, "", unknown=True)
    parsed = parse_json_document(value)
    text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
    return Doc(urn, kind, parsed, text)


def statement_conditions(st: Mapping[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """``(operator, key, values)`` triples of a statement's Condition block."""
    cond = st.get("Condition")
    out: list[tuple[str, str, list[Any]]] = []
    if isinstance(cond, Mapping):
        for op, block in cond.items():
            if isinstance(block, Mapping):
                for k, v in block.items():
                    out.append((str(op), str(k), as_list(v)))
            else:
                out.append((str(op), "", as_list(block)))
    return out


def tenant_docs(graph: Graph) -> Iterable[tuple[Role, set[str], Doc]]:
    for role, tenants in graph.tenant_roles():
        for d in role.docs:
            yield role, tenants, d
