"""Evaluate a CrossGuard policy pack over an offline run, through pulumi-policy's own analyzer.

The engine talks to a policy pack over gRPC (``Analyze`` per resource with its inputs, ``AnalyzeStack`` once
with every resource's final outputs). ``PolicyPack(...)`` would start that gRPC server and block, so this
module builds the same servicer (``pulumi_policy.policy._PolicyAnalyzerServicer``) directly and calls its
methods with the protobuf messages the engine sends (docs/offline-plan.md). That keeps the
unknown-checking proxy, secret unwrapping, ``get_config``/``not_applicable``, enforcement-level resolution
(pack default, per-policy level, policy config) and the message format ``description + "\\n" + message``.

Policy config is applied like ``--policy-pack-config``: an entry without ``enforcementLevel`` keeps the
policy's own level (the CLI fills it in from ``GetAnalyzerInfo``), and properties are checked against the
policy's ``config_schema`` (top-level types and required keys) because the servicer itself does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pulumi.runtime import proto

from saas_platform.components.testing.harness import STACK_TYPE, CapturedResource, ProgramRun

try:  # pulumi-policy is a dev/CI dependency, not a runtime one
    from pulumi_policy import EnforcementLevel, Policy
    from pulumi_policy.policy import _PolicyAnalyzerServicer
except ImportError as exc:  # pragma: no cover - exercised only without the dev extra
    raise ImportError(
        "saas_platform.components.testing.policy needs pulumi-policy: pip install 'saas-platform-components[dev]'"
    ) from exc


class PolicyConfigError(ValueError):
    """Policy-pack config names an unknown policy or does not match a policy's config schema."""


@dataclass(frozen=True)
class Violation:
    """One policy violation, as the engine reports it."""

    policy: str
    level: str
    urn: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message}


@dataclass
class PolicyReport:
    """The verdict of a pack over a run: violations, policies that did not apply (and why), policies evaluated."""

    violations: list[Violation] = field(default_factory=list)
    not_applicable: list[tuple[str, str]] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    def to_json(self) -> dict[str, Any]:
        return {
            "policies": self.policies,
            "violations": [v.to_json() for v in self.violations],
            "notApplicable": [{"policy": p, "reason": r} for p, r in self.not_applicable],
        }


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _check_config(policies: Mapping[str, Policy], config: Mapping[str, Mapping[str, Any]]) -> None:
    problems: list[str] = []
    for name, entry in config.items():
        policy = policies.get(name)
        if policy is None:
            problems.append(f"{name}: no such policy in the pack")
            continue
        props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        schema = policy.config_schema
        if schema is None:
            if props:
                problems.append(f"{name}: policy takes no configuration, got {sorted(props)}")
            continue
        for req in schema.required or []:
            if req not in props:
                problems.append(f"{name}.{req}: required")
        for key, value in props.items():
            spec = (schema.properties or {}).get(key)
            if spec is None:
                problems.append(f"{name}.{key}: not in the policy's config schema")
                continue
            allowed = _JSON_TYPES.get(str(spec.get("type", "")), ())
            if allowed and (not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)):
                problems.append(f"{name}.{key}: expected {spec.get('type')}, got {type(value).__name__}")
    if problems:
        raise PolicyConfigError("invalid policy-pack config: " + "; ".join(problems))


def make_analyzer(
    policies: Sequence[Policy],
    *,
    pack_name: str,
    enforcement_level: EnforcementLevel,
    initial_config: Mapping[str, Any] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    version: str = "0.0.1",
) -> _PolicyAnalyzerServicer:
    """The analyzer the engine would talk to, configured like ``--policy-pack-config``."""
    svc = _PolicyAnalyzerServicer(pack_name, version, list(policies), enforcement_level, dict(initial_config or {}))
    if config:
        by_name = {p.name: p for p in policies}
        _check_config(by_name, config)
        request = proto.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            level = entry.get("enforcementLevel") or (by_name[name].enforcement_level or enforcement_level).value
            pc = proto.PolicyConfig(enforcementLevel=getattr(proto, str(level).upper()))
            pc.properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            request.policyConfig[name].CopyFrom(pc)
        svc.Configure(request, None)
    return svc


def _options(r: CapturedResource) -> Any:
    return proto.AnalyzerResourceOptions(
        protect=r.options.protect,
        parent=r.parent or "",
        ignoreChanges=list(r.options.ignore_changes),
        additionalSecretOutputs=list(r.options.additional_secret_outputs),
        deleteBeforeReplace=r.options.delete_before_replace,
    )


def _level(value: int) -> str:
    return str(proto.EnforcementLevel.Name(cast(Any, value))).lower()


def analyze(
    svc: _PolicyAnalyzerServicer, resources: Iterable[CapturedResource], policy_names: list[str]
) -> PolicyReport:
    """Run ``Analyze`` on each resource's inputs, then ``AnalyzeStack`` on all outputs, like the engine."""
    report = PolicyReport(policies=policy_names)
    records = sorted(resources, key=lambda r: r.urn)
    for r in records:
        if r.type == STACK_TYPE:
            continue
        resp = svc.Analyze(
            proto.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=r.raw_inputs, options=_options(r)),
            None,
        )
        for d in resp.diagnostics:
            report.violations.append(Violation(d.policyName, _level(d.enforcementLevel), d.urn or r.urn, d.message))
        report.not_applicable.extend((n.policy_name, n.reason) for n in resp.not_applicable)
    stack_request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type,
                name=r.name,
                urn=r.urn,
                properties=r.raw_outputs,
                options=_options(r),
                parent=r.parent or "",
                dependencies=r.dependencies,
                propertyDependencies={
                    k: proto.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()
                },
            )
            for r in records
        ]
    )
    resp = svc.AnalyzeStack(stack_request, None)
    for d in resp.diagnostics:
        report.violations.append(Violation(d.policyName, _level(d.enforcementLevel), d.urn, d.message))
    report.not_applicable.extend((n.policy_name, n.reason) for n in resp.not_applicable)
    report.violations.sort(key=lambda v: (v.level != "mandatory", v.policy, v.urn))
    return report


def evaluate(
    run: ProgramRun,
    policies: Sequence[Policy],
    *,
    pack_name: str = "offline-pack",
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    initial_config: Mapping[str, Any] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> PolicyReport:
    """Evaluate ``policies`` over everything ``run`` registered and return the violations."""
    svc = make_analyzer(
        policies, pack_name=pack_name, enforcement_level=enforcement_level, initial_config=initial_config, config=config
    )
    return analyze(svc, run.resources, [p.name for p in policies])


def analyze_props(
    policies: Sequence[Policy],
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "r",
    protect: bool = False,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    initial_config: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """Run resource policies on one resource's engine-side (camelCase) ``props`` - for rule fixtures.

    Goes through the same ``Analyze`` path as :func:`evaluate`, so unknown handling, config and enforcement
    levels behave as in the engine.
    """
    from google.protobuf import struct_pb2

    svc = make_analyzer(
        policies,
        pack_name="fixture-pack",
        enforcement_level=EnforcementLevel.MANDATORY,
        initial_config=initial_config,
        config=config,
    )
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    urn = f"urn:pulumi:test::saas::{resource_type}::{name}"
    resp = svc.Analyze(
        proto.AnalyzeRequest(
            type=resource_type,
            name=name,
            urn=urn,
            properties=struct,
            options=proto.AnalyzerResourceOptions(protect=protect),
        ),
        None,
    )
    return [Violation(d.policyName, _level(d.enforcementLevel), d.urn or urn, d.message) for d in resp.diagnostics]
