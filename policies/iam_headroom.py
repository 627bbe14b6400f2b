"""IAM document size headroom (isolation invariants 13 and 49): every policy document keeps 25% of its limit free.

``iam-policy-size`` and ``iam-role-policy-quota`` fail a document that no longer fits; this rule fails one that
has less than a quarter of its limit left, so a stack that adds tenants (a shard's trust policy gains a
statement per identity pool, a function's resource policy one per user pool) is refused while it still deploys,
not when AWS refuses the next tenant. Sizes are measured as AWS measures them: IAM documents in characters with
whitespace removed (``doc_size``, shared with ``iam-policy-size``), resource policies as the compact JSON AWS
stores, in bytes.

Documents and limits (the IAM and Lambda quota pages):

* a role's trust policy: 2,048 characters, or 4,096 once AWS raised the quota (config ``trustPolicyMaxChars``,
  the same key as ``iam-policy-size``'s);
* all inline policies of one role together (``inlinePolicies`` and ``RolePolicy`` resources): 10,240;
* a customer-managed policy: 6,144;
* a DynamoDB resource policy: 20,480;
* a Lambda function's resource policy, per function and qualifier: 20,480 bytes. The stack has no document for
  it; AWS builds it from the function's ``Permission`` resources, one statement each, and the rule builds the same
  document (``lambda_policy``) to measure it.

A document unknown at preview is judged at ``pulumi up``; a sum with unknown parts is judged on its known parts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.policies._iam import (
    DDB_RESOURCE_POLICY,
    POLICY,
    ROLE,
    doc_size,
    is_unknown,
    plain_props,
    stack_graph,
)
from saas_platform.policies.access import (
    DDB_RESOURCE_POLICY_MAX,
    INLINE_PER_ROLE_MAX,
    MANAGED_POLICY_MAX,
    TRUST_POLICY_MAX,
)

HEADROOM: Final = 0.75
"""A document may use at most this share of its limit (25% headroom)."""
LAMBDA_POLICY_MAX: Final = 20480
"""Bytes of one function's resource-based policy (Lambda quotas)."""
FUNCTION: Final = "aws:lambda/function:Function"
PERMISSION: Final = "aws:lambda/permission:Permission"
ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:")
ACCOUNT_RE: Final = re.compile(r"\d{12}")
ARN_PLACEHOLDER: Final = "arn:aws:lambda:xx-xxxxxxxxx-1:000000000000:function:"
"""Stands for the region and account of a function known only by name (the longest commercial region)."""
AUTO_STATEMENT_ID: Final = "terraform-" + "0" * 26
"""The statement id the provider generates when the Permission sets none (``terraform-`` + 26 characters)."""


def budget(limit: int) -> int:
    """The largest size with 25% headroom to ``limit``."""
    return int(limit * HEADROOM)


def _known(value: Any) -> bool:
    return value is not None and not is_unknown(value)


def lambda_statement(props: Mapping[str, Any], function_arn: str) -> dict[str, Any] | None:
    """The statement ``AddPermission`` writes into the function's policy for a ``Permission``'s properties
    (``None`` while a property it needs is unknown)."""
    needed = [props.get(k) for k in ("action", "principal")]
    optional = {
        k: props.get(k)
        for k in ("sourceArn", "sourceAccount", "principalOrgId", "eventSourceToken", "functionUrlAuthType")
    }
    if not all(_known(v) for v in needed) or any(is_unknown(v) for v in optional.values()):
        return None
    principal = str(props.get("principal"))
    if principal == "*":
        who: Any = "*"
    elif ACCOUNT_RE.fullmatch(principal):
        who = {"AWS": f"arn:aws:iam::{principal}:root"}
    elif ARN_RE.match(principal):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    sid = props.get("statementId") or (
        f"{props['statementIdPrefix']}{'0' * 26}" if props.get("statementIdPrefix") else AUTO_STATEMENT_ID
    )
    qualifier = props.get("qualifier")
    resource = f"{function_arn}:{qualifier}" if qualifier and _known(qualifier) else function_arn
    condition: dict[str, dict[str, str]] = {}
    for key, (operator, condition_key) in {
        "sourceAccount": ("StringEquals", "AWS:SourceAccount"),
        "principalOrgId": ("StringEquals", "aws:PrincipalOrgID"),
        "eventSourceToken": ("StringEquals", "lambda:EventSourceToken"),
        "functionUrlAuthType": ("StringEquals", "lambda:FunctionUrlAuthType"),
        "sourceArn": ("ArnLike", "AWS:SourceArn"),
    }.items():
        if optional[key]:
            condition.setdefault(operator, {})[condition_key] = str(optional[key])
    statement: dict[str, Any] = {
        "Sid": str(sid),
        "Effect": "Allow",
        "Principal": who,
        "Action": str(props.get("action")),
        "Resource": resource,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def lambda_policy(statements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A function's resource-based policy as Lambda stores it."""
    return {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}


def json_bytes(doc: Any) -> int:
    """Bytes of the compact JSON of ``doc``."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())


def _functions(resources: Sequence[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Functions of the stack: every known name and ARN -> URN, and URN -> ARN (or a placeholder ARN)."""
    refs: dict[str, str] = {}
    arns: dict[str, str] = {}
    for r in resources:
        if r.resource_type != FUNCTION:
            continue
        p = plain_props(r.props)
        name, arn = p.get("name"), p.get("arn")
        if _known(arn) and arn:
            refs[str(arn)] = r.urn
        if _known(name) and name:
            refs[str(name)] = r.urn
        arns[r.urn] = str(arn) if _known(arn) and arn else f"{ARN_PLACEHOLDER}{name if _known(name) else r.name}"
    return refs, arns


def _permission_targets(r: Any, value: Any, refs: Mapping[str, str]) -> list[str]:
    """The functions (URNs of this stack, else the reference as written) a Permission's ``function`` names."""
    if is_unknown(value):
        deps = getattr(r, "property_dependencies", None) or {}
        return [d.urn for d in deps.get("function", []) if d.resource_type == FUNCTION]
    if not value:
        return []
    text = str(value)
    return [refs.get(text) or refs.get(text.rsplit(":", 1)[-1] if text.startswith("arn:") else text) or text]


CHARS: Final = "characters (whitespace excluded)"


@dataclass(frozen=True)
class Measured:
    """One document's size against its limit, and what to do when it leaves less than 25% headroom."""

    what: str
    size: int
    limit: int
    unit: str
    fix: str
    urn: str | None

    @property
    def exceeded(self) -> bool:
        return self.size > budget(self.limit)

    def message(self) -> str:
        return (
            f"{self.what} is {self.size:,} {self.unit}, {self.size / self.limit:.0%} of its {self.limit:,} limit; "
            f"keep it at or below {budget(self.limit):,} ({HEADROOM:.0%}) so the stack can grow: {self.fix}"
        )


def _documents(resources: Sequence[Any], trust_max: int) -> Iterator[Measured]:
    for r in resources:
        if r.resource_type not in (ROLE, POLICY, DDB_RESOURCE_POLICY):
            continue
        p = plain_props(r.props)
        value = p.get("assumeRolePolicy" if r.resource_type == ROLE else "policy")
        if not _known(value):
            continue
        if r.resource_type == ROLE:
            fix = (
                "trust fewer identity pools per role (saas:access.tenantsPerRole), or record the raised quota "
                "(trustPolicyMaxChars: 4096)"
            )
            yield Measured(f"trust policy of role {r.name}", doc_size(value), trust_max, CHARS, fix, r.urn)
        elif r.resource_type == POLICY:
            fix = "split it into several managed policies"
            yield Measured(f"managed policy {r.name}", doc_size(value), MANAGED_POLICY_MAX, CHARS, fix, r.urn)
        else:
            fix = "grant fewer principals in the table's resource policy"
            yield Measured(
                f"table resource policy {r.name}", doc_size(value), DDB_RESOURCE_POLICY_MAX, CHARS, fix, r.urn
            )
    for role in stack_graph(resources).roles:
        inline = sum(doc_size(d.text) for d in role.docs if d.kind == "inline" and not d.unknown)
        fix = "move statements to customer-managed policies, or split the role"
        yield Measured(
            f"inline policies of role {role.name or role.logical}", inline, INLINE_PER_ROLE_MAX, CHARS, fix, role.urn
        )


def _lambda_policies(resources: Sequence[Any]) -> Iterator[Measured]:
    refs, arns = _functions(resources)
    statements: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in resources:
        if r.resource_type != PERMISSION:
            continue
        p = plain_props(r.props)
        qualifier = p.get("qualifier")
        for target in _permission_targets(r, p.get("function"), refs):
            arn = arns.get(target) or (target if target.startswith("arn:") else f"{ARN_PLACEHOLDER}{target}")
            statement = lambda_statement(p, arn)
            if statement is not None:
                key = (target, str(qualifier) if qualifier and _known(qualifier) else "")
                statements.setdefault(key, []).append(statement)
    for (target, qualifier), found in sorted(statements.items()):
        label = target.rsplit("::", 1)[-1] + (f":{qualifier}" if qualifier else "")
        yield Measured(
            f"resource policy of function {label} ({len(found)} permissions)",
            json_bytes(lambda_policy(found)),
            LAMBDA_POLICY_MAX,
            "bytes",
            "fewer permissions per function (one per user pool: shard the shared function), or a wider SourceArn",
            target if target.startswith("urn:") else None,
        )


def measure(resources: Sequence[Any], trust_max: int = TRUST_POLICY_MAX) -> list[Measured]:
    """Every document the rule measures in a stack (``resources``: pulumi-policy ``PolicyResource``s)."""
    return [*_documents(resources, trust_max), *_lambda_policies(resources)]


def _headroom(args: StackValidationArgs, report: ReportViolation) -> None:
    trust_max = int(args.get_config().get("trustPolicyMaxChars", TRUST_POLICY_MAX))
    for m in measure(args.resources, trust_max):
        if m.exceeded:
            report(m.message(), m.urn)


iam_document_headroom = StackValidationPolicy(
    name="iam-document-headroom",
    description="Every IAM document keeps 25% headroom to its size limit: trust policy 2,048 (or 4,096), a role's "
    "inline policies 10,240, managed policy 6,144, DynamoDB resource policy 20 KB, a function's Lambda resource "
    "policy 20 KB (#13, #49).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_headroom,
    config_schema=PolicyConfigSchema(properties={"trustPolicyMaxChars": {"type": "integer", "enum": [2048, 4096]}}),
)

POLICIES = [iam_document_headroom]
