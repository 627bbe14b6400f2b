"""Typed stack config for any Pulumi project built on this library (not only the platform's ``saas`` project).

A consumer project declares one pydantic model (``extra="forbid"``, camelCase aliases) and calls
:func:`project_config_from_pulumi` before registering any resource. A bad value raises
:class:`~saas_platform.components.errors.StackConfigError` naming the stack file and every bad key in the YAML
spelling (``compensation:database.maxCapacity``), the same contract as the platform's own config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from saas_platform.components.errors import StackConfigError

M = TypeVar("M", bound=BaseModel)


def _decode(value: Any) -> Any:
    """Undo the CLI's encoding: objects and lists arrive as JSON text, scalars as plain strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def config_key(namespace: str, loc: tuple[int | str, ...]) -> str:
    """``("database", "max_capacity")`` -> ``<namespace>:database.maxCapacity`` (the YAML spelling)."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
            continue
        name = to_camel(part) if "_" in part else part
        parts.append(name if i == 0 else f".{name}")
    return f"{namespace}:{''.join(parts)}"


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (not part of the config contract; check the spelling)"
    if err["type"] == "missing":
        return "required key is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{msg}; got {err.get('input')!r}" if "input" in err and not isinstance(err["input"], dict) else msg


Semantic = Callable[[Any], list[tuple[str, str]]]


def load_project_config(
    model: type[M], raw: Mapping[str, Any], namespace: str, stack: str, semantic: Semantic | None = None
) -> M:
    """Validate the flat config map (``{"<namespace>:key": value, "aws:region": ...}``) against ``model``.

    ``aws:region`` is passed to the model as ``region`` when the model has that field. ``semantic`` returns
    cross-field problems of a valid model as ``(key, message)`` pairs (e.g. "prod needs protect: true"). Raises
    :class:`StackConfigError` (``Pulumi.<stack>.yaml is invalid (...): <key>: <problem>; ...``).
    """
    data: dict[str, Any] = {}
    for key, value in raw.items():
        ns, _, name = key.partition(":")
        if ns == namespace:
            data[name] = _decode(value)
    problems: list[tuple[str, str]] = []
    if "region" in model.model_fields:
        if "region" in data:
            problems.append((f"{namespace}:region", "unknown key; the region is read from aws:region"))
        data["region"] = raw.get("aws:region", "")
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = "aws:region" if loc[:1] == ("region",) else config_key(namespace, loc)
            problems.append((key, _message(err)))
        raise StackConfigError(f"Pulumi.{stack}.yaml", problems) from None
    if semantic is not None:
        problems.extend(semantic(config))
    if problems:
        raise StackConfigError(f"Pulumi.{stack}.yaml", problems)
    return config


def project_config_from_pulumi(model: type[M], namespace: str | None = None, semantic: Semantic | None = None) -> M:
    """Read and validate the running program's config (call it before registering any resource)."""
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    return load_project_config(model, raw, namespace or pulumi.get_project(), pulumi.get_stack(), semantic)
