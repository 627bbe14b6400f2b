"""Edit the ``saas:tenants`` list of a ``Pulumi.<stack>.yaml`` in place, keeping its comments and layout.

The fleet tool (``saas_platform.components.fleet``) adds, suspends and removes tenants by editing stack files
that people also edit by hand, so an edit must not reformat the file or drop a comment. ruamel.yaml (a
round-trip YAML library) is not a dependency of this project, so the edits here are textual: PyYAML's
``compose`` gives the exact position of every node, and each edit splices lines at those positions, in the
style of the neighbouring entries (block mappings, or ``- {id: ...}`` flow items).

Every edit is checked before it is returned: the edited text is parsed again and must equal the original
document with exactly the intended change to ``saas:tenants``. Anything else (an unusual layout this module
does not handle, a flow-style list ``[...]``) raises :class:`StackFileError` and nothing is written.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

TENANTS_KEY: Final = "saas:tenants"
ENTRY_KEYS: Final = ("id", "displayName", "tier", "status")
"""The keys the fleet tool writes, in this order."""
_PLAIN_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class StackFileError(ValueError):
    """A stack file cannot be edited safely; the message names the file and what to do. Nothing was written."""


@dataclass(frozen=True)
class _Item:
    node: yaml.MappingNode
    tenant: str | None
    dash: int
    """Index of the item's ``-``."""
    dash_column: int
    key_column: int
    """Column of the item's keys (block mappings)."""
    end: int
    """Index just past the item's last line (its newline included), trailing indented comments included."""


@dataclass(frozen=True)
class _Tenants:
    text: str
    items: list[_Item]


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just past the newline of the line holding ``index`` (the text's end if it has none)."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _get(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _last_scalar(node: yaml.Node) -> yaml.Node:
    """The node that ends last inside ``node`` (its last value, recursively)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return node


def _parse(text: str, name: str) -> _Tenants:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{name} is not valid YAML: {exc}") from None
    config = _get(root, "config") if root is not None else None
    seq = _get(config, TENANTS_KEY) if config is not None else None
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        raise StackFileError(f"{name} has no {TENANTS_KEY} list under config: (each stack lists its tenants)")
    if seq.flow_style:
        raise StackFileError(
            f"{name} writes {TENANTS_KEY} in flow style ([...]); write it as a block list (one '- id: ...' per "
            "tenant) and run the command again"
        )
    items: list[_Item] = []
    for node in seq.value:
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise StackFileError(f"{name}: every {TENANTS_KEY} entry must be a mapping with an id")
        tenant_node = _get(node, "id")
        tenant = tenant_node.value if isinstance(tenant_node, yaml.ScalarNode) else None
        dash = text.rfind("-", 0, node.start_mark.index)
        if dash < 0 or text[dash + 1 : node.start_mark.index].strip():
            raise StackFileError(f"{name}: cannot find the '-' of the {TENANTS_KEY} entry {tenant!r}")
        dash_column = dash - _line_start(text, dash)
        key_column = node.value[0][0].start_mark.column if not node.flow_style else dash_column + 2
        if key_column <= dash_column:
            key_column = dash_column + 2
        last_end = (node.end_mark if node.flow_style else _last_scalar(node).end_mark).index
        end = _line_end(text, max(last_end - 1, node.start_mark.index))
        while end < len(text):  # comment lines indented inside the item belong to it
            line = text[end : _line_end(text, end)]
            stripped = line.lstrip(" ")
            if not stripped.startswith("#") or len(line) - len(stripped) <= dash_column:
                break
            end = _line_end(text, end)
        items.append(_Item(node, tenant, dash, dash_column, key_column, end))
    return _Tenants(text, items)


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when that reads back as the same string, else double-quoted."""
    if _PLAIN_RE.fullmatch(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _ordered(entry: Mapping[str, str]) -> list[tuple[str, str]]:
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown or "id" not in entry:
        raise ValueError(f"a tenant entry has the keys {ENTRY_KEYS} (id required); got {sorted(entry)}")
    return [(k, entry[k]) for k in ENTRY_KEYS if k in entry]


def _tenants_of(doc: Any) -> list[dict[str, Any]]:
    return doc["config"][TENANTS_KEY]


def _checked(old: str, new: str, name: str, change: Callable[[list[dict[str, Any]]], None]) -> str:
    """``new`` if it parses to ``old``'s document with ``change`` applied to the tenant list; else raise."""
    expected = copy.deepcopy(yaml.safe_load(old))
    change(_tenants_of(expected))
    try:
        got = yaml.safe_load(new)
    except yaml.YAMLError:
        got = None
    if got != expected:
        raise StackFileError(
            f"{name}: the edit could not be made without changing something else in the file (an unusual "
            f"layout of {TENANTS_KEY}); make this change by hand"
        )
    return new


def _find(tenants: _Tenants, tenant: str, name: str) -> _Item:
    for item in tenants.items:
        if item.tenant == tenant:
            return item
    raise StackFileError(f"{name} has no tenant {tenant!r} in {TENANTS_KEY}")


def _with_crlf(edit: Callable[[str], str], text: str) -> str:
    if "\r\n" not in text:
        return edit(text)
    return edit(text.replace("\r\n", "\n")).replace("\n", "\r\n")


def tenant_ids(text: str, name: str = "stack file") -> list[str]:
    """The ids of ``saas:tenants`` in ``text``, in file order (an entry without an id is an error)."""
    tenants = _parse(text.replace("\r\n", "\n"), name)
    missing = [i for i, item in enumerate(tenants.items) if not item.tenant]
    if missing:
        raise StackFileError(f"{name}: {TENANTS_KEY}[{missing[0]}] has no id")
    return [item.tenant for item in tenants.items if item.tenant]


def add_tenant(text: str, entry: Mapping[str, str], name: str = "stack file") -> str:
    """``text`` with ``entry`` appended to ``saas:tenants``, written like the last entry (block or flow).

    Raises:
        StackFileError: the list is missing or in flow style, or the edit would change anything else.
    """
    pairs = _ordered(entry)

    def edit(src: str) -> str:
        last = _parse(src, name).items[-1]
        if last.node.flow_style:
            body = ", ".join(f"{k}: {_scalar(v)}" for k, v in pairs)
            lines = [f"{' ' * last.dash_column}- {{{body}}}"]
        else:
            gap = " " * (last.key_column - last.dash_column - 1)
            lines = [f"{' ' * last.dash_column}-{gap}{pairs[0][0]}: {_scalar(pairs[0][1])}"]
            lines += [f"{' ' * last.key_column}{k}: {_scalar(v)}" for k, v in pairs[1:]]
        head = src[: last.end] if src[: last.end].endswith("\n") else src[: last.end] + "\n"
        return _checked(src, head + "\n".join(lines) + "\n" + src[last.end :], name, lambda ts: ts.append(dict(pairs)))

    return _with_crlf(edit, text)


def set_tenant_field(text: str, tenant: str, key: str, value: str, name: str = "stack file") -> str:
    """``text`` with ``key: value`` set on the entry of ``tenant`` (replacing the value in place, or adding the
    key after the entry's last line).

    Raises:
        StackFileError: no such tenant, or the edit would change anything else.
    """
    if key not in ENTRY_KEYS or key == "id":
        raise ValueError(f"the fleet tool sets only {ENTRY_KEYS[1:]}; got {key!r}")

    def edit(src: str) -> str:
        item = _find(_parse(src, name), tenant, name)
        current = _get(item.node, key)
        if current is not None:
            start, stop = current.start_mark.index, current.end_mark.index
            new = src[:start] + _scalar(value) + src[stop:]
        elif item.node.flow_style:
            close = item.node.end_mark.index - 1
            if src[close] != "}":
                raise StackFileError(f"{name}: cannot find the end of the entry {tenant!r}")
            new = src[:close].rstrip(" ") + f", {key}: {_scalar(value)}" + src[close:]
        else:
            at = _line_end(src, _last_scalar(item.node).end_mark.index - 1)
            head = src[:at] if src[:at].endswith("\n") else src[:at] + "\n"
            new = head + f"{' ' * item.key_column}{key}: {_scalar(value)}\n" + src[at:]

        def change(ts: list[dict[str, Any]]) -> None:
            next(t for t in ts if t.get("id") == tenant)[key] = value

        return _checked(src, new, name, change)

    return _with_crlf(edit, text)


def remove_tenant(text: str, tenant: str, name: str = "stack file") -> str:
    """``text`` without the entry of ``tenant`` (its lines and the comments indented inside it).

    Raises:
        StackFileError: no such tenant, it is the only one (``saas:tenants`` needs at least one), or the edit
            would change anything else.
    """

    def edit(src: str) -> str:
        tenants = _parse(src, name)
        item = _find(tenants, tenant, name)
        if len(tenants.items) == 1:
            raise StackFileError(
                f"{name}: {tenant!r} is its only tenant and {TENANTS_KEY} needs at least one; retire the whole "
                "stack instead (pulumi destroy, then delete the file)"
            )
        start = _line_start(src, item.dash)
        if src[start : item.dash].strip():
            raise StackFileError(f"{name}: the entry {tenant!r} does not start its own line; edit it by hand")
        new = src[:start] + src[item.end :]

        def change(ts: list[dict[str, Any]]) -> None:
            ts[:] = [t for t in ts if t.get("id") != tenant]

        return _checked(src, new, name, change)

    return _with_crlf(edit, text)
