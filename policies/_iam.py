"""IAM analysis shared by the access rules: action expansion (parliament's copy of the Service Authorization
Reference), statement helpers, and the stack graph that joins roles, policies, attachments, identity pools,
role attachments, principal-tag maps and tables by their properties (ISOLATION.md invariant 48).

Pure functions over the engine's camelCase property maps; no Pulumi imports. Only the property keys a rule
needs are read, so an unknown value elsewhere in a resource does not stop a rule at preview.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from parliament import UnknownActionException, UnknownPrefixException, expand_action

from policies._common import as_list, get_path, parse_json_document, statements

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


@dataclass
class Doc:
    """A permissions policy document reachable from a role."""

    urn: str
    kind: str  # "managed" | "inline"
    document: dict[str, Any] | None
    text: str


@dataclass
class Role:
    urn: str
    logical: str
    name: str
    arn: str
    trust: dict[str, Any] | None
    docs: list[Doc] = field(default_factory=list)
    attached_arns: list[tuple[str, str]] = field(default_factory=list)  # (attachment urn, policy arn)
    pools: list[str] = field(default_factory=list)  # aud pool ids in the trust policy
    mapped_by: list[str] = field(default_factory=list)  # pool ids whose role attachment names this role

    @property
    def is_cognito(self) -> bool:
        return bool(self.trust and cognito_statements(self.trust))

    def uses_abac(self) -> bool:
        return any("${aws:PrincipalTag/" in d.text for d in self.docs)

    def literal_tenants(self) -> set[str]:
        return {m for d in self.docs for m in TENANT_KEY_RE.findall(d.text)}


@dataclass
class Pool:
    urn: str
    pool_id: str
    tenant: str
    has_providers: bool


@dataclass
class Attachment:
    urn: str
    pool_id: str
    role_refs: list[tuple[str, str]]  # (property path, role arn)
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
    policy_arns: set[str]

    def role(self, ref: str) -> Role | None:
        for r in self.roles:
            if ref in (r.arn, r.name) and ref:
                return r
        return None

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

    def is_sanctioned_abac(self, role: Role) -> bool:
        """A shared role: trusted only by customer pools, TagSession with the web-identity action, and
        policies whose only tenant reference is the principal-tag variable (invariants 7, 8, 12)."""
        if not role.trust or SYSTEM_TENANT in self.reach(role) or UNKNOWN_TENANT in self.reach(role):
            return False
        if role.literal_tenants() or not role.uses_abac():
            return False
        return all(
            {"sts:assumerolewithwebidentity", "sts:tagsession"} <= {str(a).lower() for a in as_list(st.get("Action"))}
            for st in cognito_statements(role.trust)
        )


def pool_id_of(props: Mapping[str, Any]) -> str:
    arn = props.get("arn")
    if isinstance(arn, str) and "identitypool/" in arn:
        return arn.split("identitypool/", 1)[1]
    value = props.get("id")
    return value if isinstance(value, str) else ""


def build_graph(resources: Sequence[Any]) -> Graph:
    """Join the stack's IAM and Cognito resources (``resources`` are pulumi-policy ``PolicyResource``s)."""
    roles: list[Role] = []
    policies: dict[str, tuple[str, Any]] = {}
    pools: dict[str, Pool] = {}
    attachments: list[Attachment] = []
    principal_tags: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    tables: dict[str, Table] = {}
    role_policies: list[tuple[str, str, Any]] = []
    role_attachments: list[tuple[str, str, str]] = []
    for r in resources:
        t, p = r.resource_type, r.props
        if t == ROLE:
            trust = parse_json_document(p.get("assumeRolePolicy"))
            role = Role(r.urn, r.name, str(p.get("name") or ""), str(p.get("arn") or ""), trust)
            if trust:
                for st in cognito_statements(trust):
                    role.pools += aud_values(st)
            for inline in as_list(p.get("inlinePolicies")):
                if isinstance(inline, Mapping) and inline.get("policy"):
                    role.docs.append(_doc(r.urn, "inline", inline.get("policy")))
            for arn in as_list(p.get("managedPolicyArns")):
                role.attached_arns.append((r.urn, str(arn)))
            roles.append(role)
        elif t == POLICY:
            policies[str(p.get("arn") or f"urn:{r.urn}")] = (r.urn, p.get("policy"))
        elif t == ROLE_POLICY:
            role_policies.append((r.urn, str(p.get("role") or ""), p.get("policy")))
        elif t == ROLE_POLICY_ATTACHMENT:
            role_attachments.append((r.urn, str(p.get("role") or ""), str(p.get("policyArn") or "")))
        elif t == POLICY_ATTACHMENT:
            for ref in as_list(p.get("roles")):
                role_attachments.append((r.urn, str(ref), str(p.get("policyArn") or "")))
        elif t == IDENTITY_POOL:
            pid = pool_id_of(p)
            tags = p.get("tags") or {}
            has_providers = bool(
                p.get("cognitoIdentityProviders")
                or p.get("openidConnectProviderArns")
                or p.get("samlProviderArns")
                or p.get("supportedLoginProviders")
                or p.get("developerProviderName")
            )
            pools[pid] = Pool(r.urn, pid, str(tags.get(TENANT_TAG) or UNKNOWN_TENANT), has_providers)
        elif t == POOL_ROLE_ATTACHMENT:
            refs: list[tuple[str, str]] = []
            role_map = p.get("roles") or {}
            for k, v in role_map.items() if isinstance(role_map, Mapping) else []:
                refs.append((f"roles.{k}", str(v)))
            for i, m in enumerate(as_list(p.get("roleMappings"))):
                for j, rule in enumerate(as_list(get_path(m, "mappingRules") if isinstance(m, Mapping) else None)):
                    if isinstance(rule, Mapping):
                        refs.append((f"roleMappings[{i}].mappingRules[{j}].roleArn", str(rule.get("roleArn") or "")))
            unauth = isinstance(role_map, Mapping) and "unauthenticated" in role_map
            attachments.append(Attachment(r.urn, str(p.get("identityPoolId") or ""), refs, unauth))
        elif t == PRINCIPAL_TAG:
            principal_tags.setdefault(str(p.get("identityPoolId") or ""), []).append((r.urn, p))
        elif t == TABLE:
            name = str(p.get("name") or "")
            tenant_idx = {
                str(g.get("name"))
                for g in as_list(p.get("globalSecondaryIndexes"))
                if isinstance(g, Mapping) and g.get("hashKey") == PARTITION_KEY
            } | {str(lsi.get("name")) for lsi in as_list(p.get("localSecondaryIndexes")) if isinstance(lsi, Mapping)}
            all_idx = {
                str(g.get("name"))
                for g in [*as_list(p.get("globalSecondaryIndexes")), *as_list(p.get("localSecondaryIndexes"))]
                if isinstance(g, Mapping)
            }
            tables[name] = Table(r.urn, name, tenant_idx, all_idx)
    graph = Graph(roles, pools, attachments, principal_tags, tables, set(policies))
    for urn, ref, doc in role_policies:
        role = graph.role(ref)
        if role is not None:
            role.docs.append(_doc(urn, "inline", doc))
    for urn, ref, arn in role_attachments:
        role = graph.role(ref)
        if role is None:
            continue
        role.attached_arns.append((urn, arn))
    for role in roles:
        for _, arn in role.attached_arns:
            if arn in policies:
                purn, doc = policies[arn]
                role.docs.append(_doc(purn, "managed", doc))
    for a in attachments:
        for _, arn in a.role_refs:
            role = graph.role(arn)
            if role is not None:
                role.mapped_by.append(a.pool_id)
    return graph


def _doc(urn: str, kind: str, value: Any) -> Doc:
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
