"""A small IAM evaluator used as a **test oracle** for exactly the policy shapes this project emits.

Why hand-written: the maintained Python options do not fit. parliament (BSD) lints but does not evaluate
requests; policyuniverse (Apache-2.0) expands and summarizes but does not evaluate conditions; Principal
Mapper (AGPL-3.0, last release 2022) has a local simulator but does not substitute policy variables in
condition values (so ``TENANT#${aws:PrincipalTag/TenantId}`` cannot be judged) and its licence does not suit
this Apache-2.0 project; iam-ape (GPL-3.0) summarizes an account, it does not evaluate a request.

Scope, deliberately narrow (anything else raises :class:`UnsupportedPolicy`, never a silent allow/deny):

* identity-based and trust policies, ``Effect`` Allow/Deny: explicit Deny wins, then Allow, else deny;
* ``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*``/``?`` wildcards (actions
  case-insensitive), ``Principal`` ``{"Federated": ...}``;
* policy variables ``${aws:PrincipalTag/<key>}`` and other ``${...}`` keys in resources and condition
  values; a variable whose key is absent makes the statement not apply (AWS: the request is not matched);
* condition operators ``StringEquals``, ``StringLike``, ``Null`` and the set qualifiers ``ForAllValues:`` /
  ``ForAnyValue:`` over them (``ForAllValues`` is true when the key is absent, as in AWS);
* condition keys case-insensitively.

Documentation (the semantics implemented):
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["Allow", "Deny"]
_VAR = re.compile(r"\$\{([^}]+)\}")
_SUPPORTED_OPS = {"StringEquals", "StringLike", "Null"}


class UnsupportedPolicy(ValueError):
    """The document uses an element or operator the oracle does not implement."""


class _Absent(Exception):
    pass


@dataclass(frozen=True)
class Request:
    """One API call: ``action`` on ``resource`` with request-context keys (values: str or list of str)."""

    action: str
    resource: str = "*"
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    principal: Mapping[str, str] | None = (
        None  # for trust policies, e.g. {"Federated": "cognito-identity.amazonaws.com"}
    )

    def get(self, key: str) -> list[str] | None:
        for k, v in self.context.items():
            if k.lower() == key.lower():
                return [v] if isinstance(v, str) else list(v)
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _substitute(text: str, request: Request) -> str:
    def repl(m: re.Match[str]) -> str:
        if "," in m.group(1):
            raise UnsupportedPolicy(f"policy variable defaults are not emitted by this project: {m.group(0)}")
        values = request.get(m.group(1))
        if not values:
            raise _Absent(m.group(1))
        return values[0]

    return _VAR.sub(repl, text)


def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def _match_values(op: str, policy_values: list[str], value: str) -> bool:
    if op == "StringEquals":
        return value in policy_values
    return any(_wildcard(p, value, ignore_case=False) for p in policy_values)


def _condition(op_full: str, key: str, raw_values: Any, request: Request) -> bool:
    qualifier, _, op = op_full.rpartition(":")
    if op not in _SUPPORTED_OPS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise UnsupportedPolicy(f"condition operator {op_full!r} is not implemented by the oracle")
    present = request.get(key)
    if op == "Null":
        want_absent = [str(v).lower() for v in _as_list(raw_values)] == ["true"]
        return (not present) == want_absent
    policy_values = [_substitute(str(v), request) for v in _as_list(raw_values)]
    if qualifier == "ForAllValues":
        return all(_match_values(op, policy_values, v) for v in (present or []))
    if qualifier == "ForAnyValue":
        return any(_match_values(op, policy_values, v) for v in (present or []))
    if present is None:
        return False
    if len(present) != 1:
        raise UnsupportedPolicy(f"single-valued operator {op_full} on multi-valued key {key}")
    return _match_values(op, policy_values, present[0])


def _statement_applies(st: Mapping[str, Any], request: Request) -> bool:
    unknown = set(st) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal"}
    if unknown:
        raise UnsupportedPolicy(f"statement elements {sorted(unknown)} are not implemented")
    if "Action" in st:
        if not any(_wildcard(a, request.action, ignore_case=True) for a in _as_list(st["Action"])):
            return False
    elif any(_wildcard(a, request.action, ignore_case=True) for a in _as_list(st.get("NotAction"))):
        return False
    if "Principal" in st:
        principal = st["Principal"]
        if not isinstance(principal, Mapping) or request.principal is None:
            raise UnsupportedPolicy(f"principal {principal!r} is not implemented")
        if not any(request.principal.get(k) in _as_list(v) for k, v in principal.items()):
            return False
    try:
        if "Resource" in st or "NotResource" in st:
            listed = any(
                _wildcard(_substitute(r, request), request.resource, ignore_case=False)
                for r in _as_list(st.get("Resource", st.get("NotResource")))
            )
            if listed != ("Resource" in st):
                return False
        for op, block in (st.get("Condition") or {}).items():
            for key, values in block.items():
                if not _condition(op, key, values, request):
                    return False
    except _Absent:
        return False
    return True


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """The decision of a principal's policies (or one trust policy) on ``request``."""
    allowed = False
    for doc in documents:
        if doc.get("Version") != "2012-10-17":
            raise UnsupportedPolicy("only Version 2012-10-17 documents are evaluated (variables need it)")
        for st in _as_list(doc.get("Statement")):
            if _statement_applies(st, request):
                if st.get("Effect") == "Deny":
                    return "Deny"
                allowed = allowed or st.get("Effect") == "Allow"
    return "Allow" if allowed else "Deny"
