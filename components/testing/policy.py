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

The servicer is :class:`SharedConversionAnalyzer`: pulumi-policy's own, except that each request's protobuf
properties become policy objects once per request instead of once per policy (same steps, same results).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, cast

from pulumi.runtime import proto

from saas_platform.components.testing.harness import STACK_TYPE, CapturedResource, ProgramRun

try:  # pulumi-policy is a dev/CI dependency, not a runtime one
    from google.protobuf import json_format
    from pulumi_policy import (
        EnforcementLevel,
        Policy,
        PolicyResource,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.policy import _NotApplicableError, _PolicyAnalyzerServicer
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy
    from pulumi_policy.version import VERSION as PULUMI_POLICY_VERSION
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


SHARED_CONVERSION: bool = PULUMI_POLICY_VERSION.startswith("1.21.")
"""Whether :class:`SharedConversionAnalyzer` runs its own loops: they follow pulumi-policy 1.21's
``Analyze``/``AnalyzeStack`` step by step and read the servicer's private fields, so any other version gets the
stock methods (slower, same results)."""


class SharedConversionAnalyzer(_PolicyAnalyzerServicer):
    """pulumi-policy's analyzer servicer, converting each request's properties once instead of once per policy.

    The stock ``Analyze`` and ``AnalyzeStack`` turn every resource's protobuf ``Struct`` into a dict, deserialize
    it and wrap it in the unknown-checking proxy inside their loop over policies: at 50 tenants (2,303
    resources, 35 stack and 45 resource policies) that was 184,000 ``MessageToDict`` calls for 4,600 distinct
    messages. Here the conversion runs lazily, at the first policy that needs it, and every policy of the
    request gets the same objects: in ``AnalyzeStack`` each stack policy receives its own list of the same
    ``PolicyResource`` objects, which also lets the access rules share one IAM graph per request
    (``saas_platform.policies._iam.stack_graph``). Everything else is the stock sequence: enforcement levels,
    ``report_violation``, not-applicable answers, the advisory "can't run policy ... during preview"
    diagnostic for an ``UnknownValueError``, awaitable validators. Sharing assumes validators do not mutate
    their arguments, which the pack's rules (pure functions over the props) never do; tests compare every
    response with the stock servicer's (``tests/test_plan_speed.py``).
    """

    def _field(self, name: str) -> Any:
        return getattr(self, f"_PolicyAnalyzerServicer__{name}")

    def _validate(self, policy: Policy, args: Any, report_violation: Any, response: Any) -> None:
        try:
            result = cast(Any, policy).validate(args, report_violation)
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                task = asyncio.Task(cast(Any, result), loop=loop)
                loop.run_until_complete(task)
                loop.close()
        except UnknownValueError as e:
            name, version = self._field("policy_pack_name"), self._field("policy_pack_version")
            response.diagnostics.append(
                proto.AnalyzeDiagnostic(
                    policyName=policy.name,
                    policyPackName=name,
                    policyPackVersion=version,
                    message=f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during preview: "
                    f"{e.message}",
                    urn="",
                    description=policy.description,
                    enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                )
            )
        except _NotApplicableError as e:
            response.not_applicable.append(proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or ""))

    def _props(self, message: Any) -> Any:
        return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(message)))

    def Analyze(self, request: Any, _context: Any) -> Any:
        """``Analyze`` with the resource's properties converted once for all resource policies."""
        if not SHARED_CONVERSION:
            return super().Analyze(request, _context)
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        shared: tuple[Any, Any, Any] | None = None
        for policy in self._field("policies"):
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
                continue
            if not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason="Policy does not implement validate")
                )
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
            if shared is None:
                shared = (
                    self._props(request.properties),
                    self._get_resource_options(request),
                    self._get_provider_resource(request),
                )
            props, opts, provider = shared
            config = self._get_policy_config(policy.name)
            args = ResourceValidationArgs(
                request.type, props, request.urn, request.name, opts, provider, config, self._field("stack_tags")
            )
            self._validate(policy, args, report, response)
        return response

    def _stack_resources(self, request: Any) -> list[PolicyResource]:
        """The request's resources as ``PolicyResource``s, parents and dependencies linked (the stock steps)."""
        linked: list[tuple[PolicyResource, str, list[str], dict[str, list[str]]]] = []
        for r in request.resources:
            resource = PolicyResource(
                r.type,
                self._props(r.properties),
                r.urn,
                r.name,
                self._get_resource_options(r),
                self._get_provider_resource(r),
                None,
                [],
                {},
            )
            deps = {k: list(v.urns) for k, v in r.propertyDependencies.items()}
            linked.append((resource, r.parent, list(r.dependencies), deps))
        by_urn = {resource.urn: resource for resource, *_ in linked}
        for resource, parent, dependencies, property_dependencies in linked:
            if parent is not None and parent in by_urn:
                resource.parent = by_urn[parent]
            resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
            for k, urns in property_dependencies.items():
                resource.property_dependencies[k] = [by_urn[d] for d in urns if d in by_urn]
        return [resource for resource, *_ in linked]

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:
        """``AnalyzeStack`` with the resources converted once; each stack policy gets its own list of them."""
        if not SHARED_CONVERSION:
            return super().AnalyzeStack(request, _context)
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources: list[PolicyResource] | None = None
        for policy in self._field("policies"):
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY
            report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
            if resources is None:
                resources = self._stack_resources(request)
            config = self._get_policy_config(policy.name)
            args = StackValidationArgs(list(resources), config, self._field("stack_tags"))
            self._validate(policy, args, report, response)
        return response


def make_analyzer(
    policies: Sequence[Policy],
    *,
    pack_name: str,
    enforcement_level: EnforcementLevel,
    initial_config: Mapping[str, Any] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    version: str = "0.0.1",
    analyzer_class: type[_PolicyAnalyzerServicer] = SharedConversionAnalyzer,
) -> _PolicyAnalyzerServicer:
    """The analyzer the engine would talk to, configured like ``--policy-pack-config``.

    ``analyzer_class``: :class:`SharedConversionAnalyzer` (default), or pulumi-policy's own
    ``_PolicyAnalyzerServicer`` to run its stock loops (what ``pulumi preview --policy-pack`` runs).
    """
    svc = analyzer_class(pack_name, version, list(policies), enforcement_level, dict(initial_config or {}))
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
