"""What makes the offline plan fast must not change what it finds: the analyzer that converts each request once
answers exactly like pulumi-policy's own, the stack rules share one IAM graph per request and never across
stacks, and the harness leaves the SDK's quadratic wait loop nothing to wait for."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import types
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime import stack as pulumi_stack
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer

from saas_platform.components import lambda_function
from saas_platform.components.lambda_function import build_code_zip
from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.policy import (
    SHARED_CONVERSION,
    SharedConversionAnalyzer,
    analyze,
    make_analyzer,
)
from saas_platform.policies import _iam, access
from saas_platform.policies.pack import DEFAULT_ENFORCEMENT, PACK_NAME, POLICIES
from tests._access_fixtures import abac_stack, captured, compliant_stack, edit_doc
from tests.conftest import run_stack
from tests.test_access_policies import CASES

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi-policy's sentinel for an unknown string


def _stock(policies: Sequence[Policy], config: dict[str, Any] | None = None) -> _PolicyAnalyzerServicer:
    """pulumi-policy's own servicer, configured exactly as ``make_analyzer`` configures ours."""
    return make_analyzer(
        policies,
        pack_name="p",
        enforcement_level=EnforcementLevel.MANDATORY,
        config=config,
        analyzer_class=_PolicyAnalyzerServicer,
    )


def _ours(policies: Sequence[Policy], config: dict[str, Any] | None = None) -> _PolicyAnalyzerServicer:
    svc = make_analyzer(policies, pack_name="p", enforcement_level=EnforcementLevel.MANDATORY, config=config)
    assert type(svc) is SharedConversionAnalyzer
    return svc


def test_the_pinned_pulumi_policy_gets_the_shared_conversion() -> None:
    assert SHARED_CONVERSION  # pyproject pins pulumi-policy 1.21.*; another version falls back to the stock loops


@pytest.mark.parametrize("preview", [False, True], ids=["up", "first-preview"])
def test_the_pack_finds_the_same_on_a_real_stack(preview: bool) -> None:
    run = run_stack("dev", preview=preview)
    names = [p.name for p in POLICIES]
    ours = analyze(
        make_analyzer(POLICIES, pack_name=PACK_NAME, enforcement_level=DEFAULT_ENFORCEMENT), run.resources, names
    )
    stock = analyze(
        make_analyzer(
            POLICIES,
            pack_name=PACK_NAME,
            enforcement_level=DEFAULT_ENFORCEMENT,
            analyzer_class=_PolicyAnalyzerServicer,
        ),
        run.resources,
        names,
    )
    assert ours.to_json() == stock.to_json()


@pytest.mark.parametrize(("rule", "case", "build", "expected"), CASES, ids=[f"{r}:{c}" for r, c, _, _ in CASES])
def test_every_access_violation_is_found_alike(rule: str, case: str, build: Callable[[], Any], expected: str) -> None:
    resources = captured(build())
    names = [p.name for p in access.POLICIES]
    ours = analyze(_ours(access.POLICIES), resources, names)
    stock = analyze(_stock(access.POLICIES), resources, names)
    assert ours.to_json() == stock.to_json()
    assert any(v.policy == rule and expected in v.message for v in ours.violations), case


# ------------------------------------------------------------------ every branch of the analyzer, both servicers


def _unknown_name(args: ResourceValidationArgs, report: Any) -> None:
    report(f"name is {args.props['name']}")  # raises UnknownValueError on the unknown fixture


def _not_applicable(args: ResourceValidationArgs, report: Any) -> None:
    if args.resource_type == "aws:sqs/queue:Queue":
        args.not_applicable("queues are out of scope")
    report(f"{args.name} tagged {dict(args.props.get('tags') or {})} config {dict(args.get_config())}", args.urn)


async def _async_stack(args: StackValidationArgs, report: Any) -> None:
    await asyncio.sleep(0)
    for r in args.resources:
        parent = r.parent.urn if r.parent else None
        deps = sorted(d.urn for d in r.dependencies)
        prop_deps = {k: sorted(d.urn for d in v) for k, v in r.property_dependencies.items()}
        report(f"{r.name}: parent {parent} deps {deps} prop {prop_deps} opts {r.opts.protect}", r.urn)


def _stack_unknown(args: StackValidationArgs, report: Any) -> None:
    for r in args.resources:
        report(str(r.props["name"]))


def _stack_not_applicable(args: StackValidationArgs, _report: Any) -> None:
    args.not_applicable("nothing to see")


def _remediate(_args: ResourceValidationArgs) -> None:
    return None


EDGE_POLICIES: list[Policy] = [
    ResourceValidationPolicy(name="r-unknown", description="reads an unknown", validate=_unknown_name),
    ResourceValidationPolicy(name="r-na", description="not applicable to queues", validate=_not_applicable),
    ResourceValidationPolicy(
        name="r-advisory",
        description="advisory level",
        validate=_not_applicable,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    ResourceValidationPolicy(name="r-disabled", description="disabled", validate=_not_applicable),
    ResourceValidationPolicy(name="r-remediate-only", description="no validate", remediate=_remediate),
    ResourceValidationPolicy(
        name="r-remediate-level",
        description="remediate level reports as mandatory",
        validate=_not_applicable,
        enforcement_level=EnforcementLevel.REMEDIATE,
    ),
    StackValidationPolicy(name="s-async", description="async, reads links", validate=_async_stack),
    StackValidationPolicy(name="s-unknown", description="reads an unknown", validate=_stack_unknown),
    StackValidationPolicy(name="s-na", description="not applicable", validate=_stack_not_applicable),
    StackValidationPolicy(
        name="s-remediate-level",
        description="remediate level",
        validate=_stack_not_applicable,
        enforcement_level=EnforcementLevel.REMEDIATE,
    ),
    StackValidationPolicy(name="s-disabled", description="disabled", validate=_async_stack),
]
EDGE_CONFIG = {"r-disabled": {"enforcementLevel": "disabled"}, "s-disabled": {"enforcementLevel": "disabled"}}


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(props)
    return s


def _edge_resources() -> list[Any]:
    base = "urn:pulumi:test::p::"
    return [
        proto.AnalyzerResource(
            type="aws:s3/bucket:Bucket",
            name="b",
            urn=f"{base}aws:s3/bucket:Bucket::b",
            properties=_struct(
                {
                    "name": "b",
                    "tags": {"t": "1"},
                    "secret": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s"},
                }
            ),
            options=proto.AnalyzerResourceOptions(protect=True),
            parent="",
        ),
        proto.AnalyzerResource(
            type="aws:sqs/queue:Queue",
            name="q",
            urn=f"{base}aws:sqs/queue:Queue::q",
            properties=_struct({"name": UNKNOWN_STRING}),
            options=proto.AnalyzerResourceOptions(),
            parent=f"{base}aws:s3/bucket:Bucket::b",
            dependencies=[f"{base}aws:s3/bucket:Bucket::b", f"{base}x:y:Z::missing"],
            propertyDependencies={"name": proto.AnalyzerPropertyDependencies(urns=[f"{base}aws:s3/bucket:Bucket::b"])},
        ),
    ]


def test_every_branch_of_analyze_answers_like_the_stock_servicer() -> None:
    ours, stock = _ours(EDGE_POLICIES, EDGE_CONFIG), _stock(EDGE_POLICIES, EDGE_CONFIG)
    for r in _edge_resources():
        request = proto.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=r.properties, options=r.options)
        mine, theirs = ours.Analyze(request, None), stock.Analyze(request, None)
        assert mine == theirs
        assert mine.diagnostics or mine.not_applicable
    kinds = {d.policyName for r in _edge_resources() for d in ours.Analyze(
        proto.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=r.properties), None).diagnostics}  # fmt: skip
    assert {"r-unknown", "r-na", "r-advisory", "r-remediate-level"} <= kinds
    assert "r-disabled" not in kinds


def test_every_branch_of_analyze_stack_answers_like_the_stock_servicer() -> None:
    ours = _ours(EDGE_POLICIES, EDGE_CONFIG)
    request = proto.AnalyzeStackRequest(resources=_edge_resources())
    mine, theirs = ours.AnalyzeStack(request, None), _stock(EDGE_POLICIES, EDGE_CONFIG).AnalyzeStack(request, None)
    assert mine == theirs
    messages = [d.message for d in mine.diagnostics]
    assert any("parent urn:pulumi:test::p::aws:s3/bucket:Bucket::b deps" in m for m in messages)
    assert any("during preview" in m for m in messages)  # s-unknown: advisory "can't run" diagnostic
    assert {n.policy_name for n in mine.not_applicable} == {"s-na", "s-remediate-level"}


def test_each_request_converts_its_properties_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = json_format.MessageToDict

    def counting(message: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(message, *args, **kwargs)

    monkeypatch.setattr(json_format, "MessageToDict", counting)
    request = proto.AnalyzeStackRequest(resources=_edge_resources())
    stack_policies = [p for p in EDGE_POLICIES if isinstance(p, StackValidationPolicy)]
    _stock(stack_policies).AnalyzeStack(request, None)
    stock_calls, calls[:] = len(calls), []
    _ours(stack_policies).AnalyzeStack(request, None)
    assert (len(calls), stock_calls) == (2, 2 * len(stack_policies))  # the stock servicer: once per stack policy
    calls[:] = []
    r = _edge_resources()[0]
    _ours(EDGE_POLICIES).Analyze(
        proto.AnalyzeRequest(type=r.type, name=r.name, urn=r.urn, properties=r.properties), None
    )
    assert len(calls) == 1


# ------------------------------------------------------------------------------------ one IAM graph per request


def _count_graphs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    built: list[int] = []
    original = _iam.build_graph

    def counting(resources: Sequence[Any]) -> _iam.Graph:
        built.append(len(resources))
        return original(resources)

    monkeypatch.setattr(_iam, "build_graph", counting)
    return built


def test_the_stack_rules_of_one_request_share_one_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _count_graphs(monkeypatch)
    stack_rules = [p for p in POLICIES if isinstance(p, StackValidationPolicy)]
    report = analyze(
        _ours(stack_rules),
        captured(abac_stack()),
        [p.name for p in stack_rules],
    )
    assert report.violations == []
    assert built == [len(abac_stack())]  # 17 access rules, identity and jobs rules: one graph
    built[:] = []
    analyze(_stock(stack_rules), captured(abac_stack()), [p.name for p in stack_rules])
    assert len(built) > 17  # the stock servicer's fresh objects per rule: one graph per rule, as before


def _trust_of_globex_on_acme(doc: dict[str, Any]) -> None:
    doc["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] = (
        "ap-southeast-1:22222222-2222-2222-2222-222222222222"
    )


def test_two_stacks_never_share_a_graph() -> None:
    """Same URNs, different values (a preview and the update after it would look like this): each request is
    judged on its own resources, in either order."""
    good = captured(compliant_stack())
    bad = captured(
        edit_doc(compliant_stack(), "acme-TenantAdminRole-role", "assumeRolePolicy", _trust_of_globex_on_acme)
    )
    assert sorted(r.urn for r in good) == sorted(r.urn for r in bad)
    names = [p.name for p in access.POLICIES]

    def verdict(resources: Any) -> list[str]:
        return sorted(f"{v.policy}: {v.message}" for v in analyze(_ours(access.POLICIES), resources, names).violations)

    _iam.clear_graph_cache()
    alone_bad = verdict(bad)
    _iam.clear_graph_cache()
    assert alone_bad
    assert verdict(good) == []
    assert verdict(bad) == alone_bad
    assert verdict(good) == []


class _Res:
    """A stand-in ``PolicyResource``: what ``build_graph`` reads."""

    def __init__(self, urn: str, resource_type: str, props: dict[str, Any]) -> None:
        self.urn, self.resource_type, self.props, self.name = urn, resource_type, props, urn.rsplit("::", 1)[-1]
        self.property_dependencies: dict[str, list[Any]] = {}


def _roles(trust_name: str) -> list[_Res]:
    return [_Res("urn:pulumi:s::p::aws:iam/role:Role::r", "aws:iam/role:Role", {"name": trust_name, "arn": "a"})]


def test_the_graph_cache_hits_only_for_the_same_objects() -> None:
    first = _roles("one")
    graph = _iam.stack_graph(first)
    assert _iam.stack_graph(list(first)) is graph  # another list of the very same objects
    assert _iam.stack_graph(tuple(first)) is graph
    same_urns = _roles("two")  # equal URNs, new objects, other values
    other = _iam.stack_graph(same_urns)
    assert other is not graph
    assert [r.name for r in other.roles] == ["two"]
    assert _iam.stack_graph(first) is not graph  # one entry: rebuilt, with the right values
    assert [r.name for r in _iam.stack_graph(first).roles] == ["one"]
    assert _iam.stack_graph([*first, *_roles("three")]) is not _iam.stack_graph(first)  # length differs


def test_a_dead_stack_never_answers_for_a_new_one() -> None:
    """The cache holds weak references: once a stack's objects are gone, no new object matches them, even if
    Python reuses their ids."""
    _iam.clear_graph_cache()
    _iam.stack_graph(_roles("gone"))  # the list and its objects die right away
    gc.collect()
    assert _iam._GRAPH_CACHE
    assert _iam._GRAPH_CACHE[0][0][0]() is None
    fresh = _iam.stack_graph(_roles("fresh"))
    assert [r.name for r in fresh.roles] == ["fresh"]


# -------------------------------------------------------------------------------- the harness's wait for outputs


def test_the_sdk_wait_loop_finds_every_output_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own loop (``FIRST_COMPLETED``, one done-callback per pending output per round) is quadratic in
    the outputs; after the harness has waited for them, it has nothing pending left to wait for."""
    seen: list[int] = []
    real_wait = asyncio.wait

    async def counting_wait(fs: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(sum(1 for f in fs if not f.done()))
        return await real_wait(fs, *args, **kwargs)

    monkeypatch.setattr(pulumi_stack, "asyncio", types.SimpleNamespace(**{**vars(asyncio), "wait": counting_wait}))

    def program() -> None:
        previous: pulumi.Output[str] = pulumi.Output.from_input("q")
        for n in range(60):  # a chain: each queue's name waits for the previous queue's
            previous = aws.sqs.Queue(f"q{n}", name=previous.apply(lambda v, n=n: f"{v}-{n}"[:70])).name

    run = run_function(program)
    assert len([r for r in run.resources if r.type == "aws:sqs/queue:Queue"]) == 60
    assert sum(seen) <= 5, seen  # only what the Stack registers after the program returns


# ----------------------------------------------------------------------- packaging once per content, not per function


def test_a_changed_handler_file_is_packaged_again(tmp_path: Path) -> None:
    """The code zip (and the handler check) are reused across functions only while no file changed."""
    (tmp_path / "h").mkdir()
    module = tmp_path / "h" / "mod.py"
    module.write_text("def handler(event, context):\n    return 1\n")
    first = build_code_zip(tmp_path / "h", "pkg")
    assert build_code_zip(tmp_path / "h", "pkg") is first  # reused
    module.write_text("def handler(event, context):\n    return 2\n")  # same size, new content
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1_000_000))
    second = build_code_zip(tmp_path / "h", "pkg")
    assert second != first
    with zipfile.ZipFile(io.BytesIO(second)) as archive:
        assert archive.read("pkg/mod.py").endswith(b"return 2\n")
    assert lambda_function._defines(module, "handler")
    module.write_text("def other(event, context):\n    return 2\n")
    assert not lambda_function._defines(module, "handler")


def _deliberate(_: object) -> str:
    raise ValueError("deliberate")


def test_a_failed_run_leaves_nothing_for_the_next_run() -> None:
    """A run whose resources get failed inputs raises; the next run neither waits for nor raises its leftovers
    (the SDK's tracked-output set outlives a run under MockSettings)."""

    def fails() -> None:
        bad = pulumi.Output.from_input("x").apply(_deliberate)
        for n in range(3):
            aws.s3.Bucket(f"b{n}", bucket=bad.apply(lambda v, n=n: f"{v}-{n}"))
        aws.iam.Policy("p", policy=bad)

    for _ in range(2):
        with pytest.raises(ValueError, match="deliberate"):
            run_function(fails)
        run = run_function(lambda: aws.s3.Bucket("ok", bucket="ok"))
        assert [r.name for r in run.resources if r.type == "aws:s3/bucket:Bucket"] == ["ok"]
