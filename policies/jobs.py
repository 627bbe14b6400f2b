"""System-job rules (docs/jobs.md): schedules, asynchronously invoked functions, cross-tenant indexes, runners.

* ``schedule-dlq-and-scoped-role`` - every EventBridge Scheduler schedule has a dead-letter queue and a retry
  policy, and its role is trusted by ``scheduler.amazonaws.com`` only under ``aws:SourceAccount`` and may invoke
  exactly the schedule's target (besides sending to its DLQ).
* ``async-function-dead-letter`` - a function that something invokes asynchronously (a schedule's target, or a
  function another role may ``lambda:InvokeFunction``) has a dead-letter queue or an on-failure destination.
* ``cross-tenant-index-not-in-tenant-policies`` - an index whose partition key is not ``TenantId`` (the job
  picker's ``DueJobs``) never appears, by name or wildcard, in a tenant-scoped policy (one that uses
  ``dynamodb:LeadingKeys`` or the ``TenantId`` principal tag, or that a tenant identity pool reaches).
* ``runner-role-least-privilege`` - a job runner's roles (tag ``saas:runner``) hold only that runner's actions;
  an execution role reads only the tenant registry (AttGen-System: only its keys-only ``byStatus`` index) and takes
  tenant sessions with exactly one ``TenantId`` tag and no tenant list; a writer role's trust lists no tenants.

Resources are joined through the engine's property dependencies and by function name (``:function:<name>``),
which are known at preview. An absent property is a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from saas_platform.policies._common import as_list, get_path, index_keys, parse_json_document, statements
from saas_platform.policies._iam import is_unknown, plain_props, stack_graph, tenant_docs

SCHEDULE: Final = "aws:scheduler/schedule:Schedule"
FUNCTION: Final = "aws:lambda/function:Function"
INVOKE_CONFIG: Final = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
TABLE: Final = "aws:dynamodb/table:Table"
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY: Final = "aws:iam/policy:Policy"
FUNCTION_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::[^:]+)?")
TENANT_MARKERS: Final = ("dynamodb:LeadingKeys", "${aws:PrincipalTag/TenantId}")
TENANT_TAG_KEY: Final = "aws:RequestTag/TenantId"

BASE_ACTIONS: Final = frozenset(
    {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
)
"""Every job function: its log group, X-Ray, its dead-letter queue and that queue's key."""
REGISTRY_CHECK: Final = frozenset({"dynamodb:GetItem", "dynamodb:Query", "kms:DescribeKey"})
"""A per-tenant runner checks the job's tenant in the tenant registry (its table and ``byUserPool`` index only)."""
REGISTRY_LIST: Final = frozenset({"dynamodb:Query", "kms:DescribeKey"})
"""AttGen-System lists the active tenant ids (a Query of the registry's keys-only ``byStatus`` index only)."""
TENANT_SESSION: Final = frozenset({"sts:AssumeRole", "sts:TagSession"}) | REGISTRY_CHECK
EXECUTION_ACTIONS: Final[Mapping[str, frozenset[str]]] = {
    "JobPicker": frozenset({"dynamodb:Query", "dynamodb:UpdateItem", "lambda:InvokeFunction", "kms:DescribeKey"}),
    "AttGen-System": frozenset({"lambda:InvokeFunction"}) | REGISTRY_LIST,
    "AttGen-Tenant": TENANT_SESSION,
    "Job-Runner": TENANT_SESSION,
    "Employee-Earn-AL": TENANT_SESSION,
    "CRUD-Item": TENANT_SESSION,
    "Tenant-Notification-Dispatcher": TENANT_SESSION | {"sns:Publish"},
}
"""Beyond :data:`BASE_ACTIONS`, what each job function's own role may do."""
REGISTRY_TABLE_ARN_RE: Final = re.compile(
    r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/([A-Za-z][A-Za-z0-9-]{0,19}-)?TenantRegistry(Dev|Staging|Prod)"
    r"(?P<index>/index/(byUserPool|byStatus))?"
)
"""The tenant registry table and its two indexes (``byUserPool``: pool -> tenant; ``byStatus``: keys only)."""
WRITER_ACTIONS: Final[Mapping[str, frozenset[str]]] = {
    "AttGen-Tenant": frozenset({"dynamodb:Query", "dynamodb:PutItem"}),
    "Job-Runner": frozenset({"dynamodb:UpdateItem"}),
    "Employee-Earn-AL": frozenset({"dynamodb:UpdateItem"}),
    "CRUD-Item": frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
    "Tenant-Notification-Dispatcher": frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
}
"""What each per-tenant runner's writer role may do on its tables (always under a LeadingKeys condition)."""
TABLE_KEY_ACTIONS: Final = frozenset({"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"})
"""Writer roles (and the picker) may use the tables' key, only through DynamoDB."""


def _deps(resource: PolicyResource, prop: str, type_: str) -> list[PolicyResource]:
    return [d for d in (resource.property_dependencies or {}).get(prop, []) if d.resource_type == type_]


def _actions(st: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(st.get("Action"))]


def _covers(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower())


def _function_name(arn: Any) -> str | None:
    m = FUNCTION_ARN_RE.fullmatch(str(arn or ""))
    return m.group(1) if m else None


def role_statements(resources: Iterable[PolicyResource], role: PolicyResource) -> list[dict[str, Any]]:
    """Statements of the role's inline policies and of the RolePolicies attached to it (joined through property
    dependencies). Documents not known yet (first preview) are left out; the pack runs again on ``pulumi up``."""
    found: list[dict[str, Any]] = []
    raw_docs: list[Any] = []
    for r in resources:
        if r.resource_type == ROLE_POLICY and any(d.urn == role.urn for d in _deps(r, "role", ROLE)):
            raw_docs.append(plain_props(r.props).get("policy"))
    raw_docs += [
        p.get("policy") for p in as_list(plain_props(role.props).get("inlinePolicies")) if isinstance(p, Mapping)
    ]
    for raw in raw_docs:
        if not is_unknown(raw):
            found.extend(statements(parse_json_document(raw) or {}))
    return found


# ------------------------------------------------------------------------------------------------ schedules


def schedule_role_problems(target_arn: str, trust: Mapping[str, Any] | None, stmts: list[dict[str, Any]]) -> list[str]:
    """What a schedule's role must look like (pure over its trust policy and permission statements)."""
    problems: list[str] = []
    trusted = [
        st
        for st in statements(trust or {})
        if st.get("Effect") == "Allow" and "scheduler.amazonaws.com" in as_list(get_path(st, "Principal", "Service"))
    ]
    if not trusted:
        problems.append("role is not trusted by scheduler.amazonaws.com")
    for st in trusted:
        if not get_path(st, "Condition", "StringEquals", "aws:SourceAccount"):
            problems.append("scheduler trust has no StringEquals aws:SourceAccount condition (confused deputy)")
    invokes = False
    for st in stmts:
        if st.get("Effect") != "Allow":
            continue
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"statement {st.get('Sid', '<no Sid>')}: NotAction/NotResource grants too much")
            continue
        resources = [str(r) for r in as_list(st.get("Resource"))]
        for action in _actions(st):
            if _covers(action, "lambda:InvokeFunction"):
                if action != "lambda:InvokeFunction":
                    problems.append(f"wildcard action {action!r}; allow lambda:InvokeFunction only")
                elif resources != [target_arn]:
                    problems.append(f"lambda:InvokeFunction on {resources}; allow it on the target {target_arn} only")
                else:
                    invokes = True
            elif action == "sqs:SendMessage":
                if any("*" in r for r in resources):
                    problems.append(f"sqs:SendMessage on {resources}; allow it on the dead-letter queue only")
            elif action not in ("kms:GenerateDataKey", "kms:Decrypt"):
                problems.append(f"action {action!r} is not needed by a schedule that invokes a function")
    if not invokes:
        problems.append(f"role does not allow lambda:InvokeFunction on the target {target_arn}")
    return problems


def _schedules(args: StackValidationArgs, report: ReportViolation) -> None:
    for schedule in args.resources:
        if schedule.resource_type != SCHEDULE:
            continue
        props = plain_props(schedule.props)
        target = props.get("target") if isinstance(props.get("target"), Mapping) else {}
        assert isinstance(target, Mapping)
        if not get_path(target, "deadLetterConfig", "arn"):
            report("schedule has no dead-letter queue: set target.dead_letter_config.arn", schedule.urn)
        retry = target.get("retryPolicy")
        if not isinstance(retry, Mapping) or retry.get("maximumRetryAttempts") is None:
            report(
                "schedule has no explicit retry policy: set target.retry_policy.maximum_retry_attempts", schedule.urn
            )
        elif retry.get("maximumEventAgeInSeconds") is None:
            report("schedule retry policy has no maximum_event_age_in_seconds", schedule.urn)
        roles = _deps(schedule, "target", ROLE)
        if not roles:
            report("schedule's role is not part of this stack; its permissions cannot be checked", schedule.urn)
            continue
        role = roles[0]
        trust = parse_json_document(plain_props(role.props).get("assumeRolePolicy"))
        for problem in schedule_role_problems(
            str(target.get("arn") or ""), trust, role_statements(args.resources, role)
        ):
            report(f"schedule role: {problem}", schedule.urn)


schedule_dlq_and_scoped_role = StackValidationPolicy(
    name="schedule-dlq-and-scoped-role",
    description="Scheduler schedules have a DLQ and a retry policy; their role is trusted by the scheduler for "
    "this account only and may invoke only the schedule's target.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_schedules,
)


# ------------------------------------------------------------------------------------------------ async functions


SYNCHRONOUS_INVOKERS: Final = ("states.amazonaws.com",)
"""Services whose Lambda integrations wait for the result (Step Functions' ``lambda:invoke`` tasks): a failure
returns to the caller's Retry/Catch, so the function needs no dead-letter queue for them."""


def _synchronous_roles(resources: Iterable[PolicyResource]) -> set[str]:
    """Ids/names of roles trusted only by :data:`SYNCHRONOUS_INVOKERS` (as a RolePolicy's ``role`` names them)."""
    out: set[str] = set()
    for r in resources:
        if r.resource_type != ROLE:
            continue
        props = plain_props(r.props)
        trust = parse_json_document(props.get("assumeRolePolicy")) or {}
        services = [
            svc
            for st in statements(trust)
            if st.get("Effect") == "Allow"
            for svc in as_list(get_path(st, "Principal", "Service"))
        ]
        if services and all(svc in SYNCHRONOUS_INVOKERS for svc in services):
            out |= {str(v) for v in (props.get("name"), props.get("id"), r.name) if isinstance(v, str) and v}
    return out


def invoked_asynchronously(resources: Iterable[PolicyResource]) -> dict[str, str]:
    """Function name -> who invokes it asynchronously (a schedule, or a role allowed lambda:InvokeFunction; roles
    trusted only by Step Functions invoke synchronously and are left out)."""
    resources = list(resources)
    synchronous = _synchronous_roles(resources)
    found: dict[str, str] = {}
    for r in resources:
        props = plain_props(r.props)
        if r.resource_type == ROLE_POLICY and str(props.get("role") or "") in synchronous:
            continue
        if r.resource_type == ROLE and str(props.get("name") or "") in synchronous:
            continue
        if r.resource_type == SCHEDULE:
            name = _function_name(get_path(props, "target", "arn"))
            if name:
                found.setdefault(name, f"schedule {props.get('name') or r.name}")
            continue
        docs: list[Any] = []
        if r.resource_type in (ROLE_POLICY, MANAGED_POLICY):
            docs.append(props.get("policy"))
        elif r.resource_type == ROLE:
            docs += [p.get("policy") for p in as_list(props.get("inlinePolicies")) if isinstance(p, Mapping)]
        for doc in docs:
            for st in statements(parse_json_document(doc) or {}):
                if st.get("Effect") != "Allow" or not any(_covers(a, "lambda:InvokeFunction") for a in _actions(st)):
                    continue
                for res in as_list(st.get("Resource")):
                    name = _function_name(res)
                    if name:
                        found.setdefault(name, f"{r.resource_type.rsplit(':', 1)[-1]} {r.name}")
    return found


def _async_functions(args: StackValidationArgs, report: ReportViolation) -> None:
    invoked = invoked_asynchronously(args.resources)
    destinations = set()
    for r in args.resources:
        if r.resource_type == INVOKE_CONFIG:
            props = plain_props(r.props)
            if get_path(props, "destinationConfig", "onFailure", "destination"):
                destinations.add(str(props.get("functionName") or ""))
    for fn in args.resources:
        if fn.resource_type != FUNCTION:
            continue
        props = plain_props(fn.props)
        name = str(props.get("name") or "")
        if name not in invoked:
            continue
        if get_path(props, "deadLetterConfig", "targetArn") or name in destinations:
            continue
        report(
            f"function {name} is invoked asynchronously by {invoked[name]} but has neither a dead-letter queue "
            "(dead_letter_config) nor an on-failure destination (FunctionEventInvokeConfig): failed events would be lost",
            fn.urn,
        )


async_function_dead_letter = StackValidationPolicy(
    name="async-function-dead-letter",
    description="Functions invoked asynchronously (schedule targets, InvokeFunction grants) have a DLQ or an "
    "on-failure destination.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_async_functions,
)


# ------------------------------------------------------------------------------------------------ indexes


def cross_tenant_indexes(resources: Iterable[PolicyResource]) -> set[tuple[str, str]]:
    """(table name, index name) of every GSI whose partition key is not ``TenantId``."""
    out: set[tuple[str, str]] = set()
    for r in resources:
        if r.resource_type != TABLE:
            continue
        props = plain_props(r.props)
        for gsi in as_list(props.get("globalSecondaryIndexes")):
            if isinstance(gsi, Mapping) and index_keys(gsi)[0] != "TenantId":
                out.add((str(props.get("name") or ""), str(gsi.get("name") or "")))
    return out


def index_problems(doc: Mapping[str, Any], indexes: set[tuple[str, str]]) -> list[str]:
    """Resources of ``doc`` that name (or wildcard-match) a cross-tenant index."""
    problems: list[str] = []
    for st in statements(doc):
        if st.get("Effect") != "Allow":
            continue
        if "NotResource" in st:
            problems.append(f"statement {st.get('Sid', '<no Sid>')}: NotResource reaches every index")
            continue
        for res in (str(x) for x in as_list(st.get("Resource"))):
            pattern = res.split(":table/", 1)[1] if ":table/" in res else None
            for table, index in sorted(indexes):
                # IAM wildcards match across "/", as fnmatch does: table/* reaches every index of every table.
                if res == "*" or (pattern is not None and fnmatchcase(f"{table}/index/{index}", pattern)):
                    problems.append(f"{res!r} reaches the cross-tenant index {index} of {table}")
    return problems


def _tenant_documents(args: StackValidationArgs) -> Iterable[tuple[str, dict[str, Any]]]:
    seen: set[str] = set()
    for r in args.resources:
        props = plain_props(r.props)
        docs: list[Any] = []
        if r.resource_type in (ROLE_POLICY, MANAGED_POLICY):
            docs.append(props.get("policy"))
        elif r.resource_type == ROLE:
            docs += [p.get("policy") for p in as_list(props.get("inlinePolicies")) if isinstance(p, Mapping)]
        for raw in docs:
            doc = parse_json_document(raw)
            text = raw if isinstance(raw, str) else ""
            if doc is not None and any(m in (text or str(doc)) for m in TENANT_MARKERS):
                seen.add(r.urn)
                yield r.urn, doc
    for _role, _tenants, d in tenant_docs(stack_graph(args.resources)):
        if d.document is not None and d.urn not in seen:
            yield d.urn, d.document


def _indexes(args: StackValidationArgs, report: ReportViolation) -> None:
    indexes = cross_tenant_indexes(args.resources)
    if not indexes:
        return
    for urn, doc in _tenant_documents(args):
        for problem in index_problems(doc, indexes):
            report(f"tenant-scoped policy: {problem}; only system roles (the job picker) may read it", urn)


cross_tenant_index_not_in_tenant_policies = StackValidationPolicy(
    name="cross-tenant-index-not-in-tenant-policies",
    description="Indexes not keyed by TenantId (e.g. the job picker's DueJobs) never appear in tenant-scoped policies.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_indexes,
)


# ------------------------------------------------------------------------------------------------ runners


def _runner_tag(props: Mapping[str, Any]) -> str | None:
    value = get_path(props, "tags", "saas:runner")
    return str(value) if value else None


def excess_actions(stmts: list[dict[str, Any]], allowed: frozenset[str]) -> list[str]:
    """Actions (or patterns) in Allow statements that are not in ``allowed``."""
    extra: set[str] = set()
    for st in stmts:
        if st.get("Effect") != "Allow":
            continue
        if "NotAction" in st:
            extra.add("NotAction")
        extra.update(a for a in _actions(st) if a not in allowed)
    return sorted(extra)


def _runners(args: StackValidationArgs, report: ReportViolation) -> None:
    execution_roles = {
        d.urn for f in args.resources if f.resource_type == FUNCTION for d in _deps(f, "role", ROLE)
    }  # judged with their function; a tagged role no function runs as is a writer role
    for r in args.resources:
        if r.resource_type not in (FUNCTION, ROLE) or r.urn in execution_roles:
            continue
        props = plain_props(r.props)
        runner = _runner_tag(props)
        if runner is None:
            continue
        if r.resource_type == FUNCTION:
            if runner not in EXECUTION_ACTIONS:
                report(f"function tagged saas:runner={runner!r}, which is not a known job runner", r.urn)
                continue
            roles = _deps(r, "role", ROLE)
            if not roles:
                report(f"runner {runner}: its role is not part of this stack; its permissions cannot be checked", r.urn)
                continue
            stmts = role_statements(args.resources, roles[0])
            extra = excess_actions(stmts, BASE_ACTIONS | EXECUTION_ACTIONS[runner])
            if extra:
                report(f"runner {runner}'s execution role holds actions outside its job: {extra}", r.urn)
            if runner != "JobPicker":
                for problem in registry_problems(runner, stmts):
                    report(problem, r.urn)
            continue
        if runner not in WRITER_ACTIONS:
            report(f"role tagged saas:runner={runner!r}, which has no tenant writer role", r.urn)
            continue
        stmts = role_statements(args.resources, r)
        trust_text = props.get("assumeRolePolicy")
        if not is_unknown(trust_text):
            for problem in writer_trust_problems(runner, parse_json_document(trust_text)):
                report(problem, r.urn)
        attached = [p for p in args.resources if p.resource_type == ROLE_POLICY and _deps(p, "role", ROLE)]
        if not stmts and not any(d.urn == r.urn for p in attached for d in _deps(p, "role", ROLE)):
            report(f"runner {runner}'s writer role has no policy in this stack", r.urn)
        extra = excess_actions(stmts, WRITER_ACTIONS[runner] | TABLE_KEY_ACTIONS)
        if extra:
            report(f"runner {runner}'s writer role holds actions outside its job: {extra}", r.urn)
        for st in stmts:
            acts = _actions(st)
            if st.get("Effect") != "Allow":
                continue
            if acts and all(a in TABLE_KEY_ACTIONS for a in acts):
                via = str(get_path(st, "Condition", "StringEquals", "kms:ViaService") or "")
                if not via.startswith("dynamodb."):
                    report(
                        f"runner {runner}'s writer key statement {st.get('Sid', '<no Sid>')} is not limited to "
                        "kms:ViaService dynamodb.<region>.amazonaws.com",
                        r.urn,
                    )
                continue
            if not get_path(st, "Condition", "ForAllValues:StringEquals", "dynamodb:LeadingKeys"):
                report(
                    f"runner {runner}'s writer statement {st.get('Sid', '<no Sid>')} has no LeadingKeys condition",
                    r.urn,
                )


def registry_problems(runner: str, stmts: list[dict[str, Any]]) -> list[str]:
    """A runner's own DynamoDB actions reach only the tenant registry, and its tenant sessions are constant in size.

    * ``GetItem``/``Query`` only on a ``TenantRegistry<Env>`` table and its indexes: never a pool table, whose
      tenant data only a writer session may reach; AttGen-System only on the keys-only ``byStatus`` index;
    * ``sts:AssumeRole`` with exactly one ``TenantId`` tag (``ForAllValues:StringEquals aws:TagKeys``) and no tenant
      list (``aws:RequestTag/TenantId`` only under ``Null``): which tenant is valid is the registry's call.
    """
    problems: list[str] = []
    for st in stmts:
        if st.get("Effect") != "Allow":
            continue
        acts = set(_actions(st))
        sid = st.get("Sid", "<no Sid>")
        if acts & {"dynamodb:GetItem", "dynamodb:Query"}:
            resources = as_list(st.get("Resource"))
            matches = [REGISTRY_TABLE_ARN_RE.fullmatch(x) if isinstance(x, str) else None for x in resources]
            if runner == "AttGen-System":
                bad = [
                    x for x, m in zip(resources, matches, strict=True) if not (m and m["index"] == "/index/byStatus")
                ]
                where = "the tenant registry's byStatus index"
            else:
                bad = [x for x, m in zip(resources, matches, strict=True) if m is None]
                where = "the tenant registry (TenantRegistry<Env> and its indexes)"
            if bad or not resources:
                problems.append(
                    f"runner {runner}'s statement {sid} reads {sorted(acts)} on {bad or 'no resource'}; its own role "
                    f"may read only {where}"
                )
        if "sts:AssumeRole" in acts:
            problems += _tenant_tag_problems(runner, f"statement {sid}", st)
    return problems


def _tenant_tag_problems(runner: str, what: str, st: Mapping[str, Any]) -> list[str]:
    raw = st.get("Condition")
    condition: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    keys = get_path(st, "Condition", "ForAllValues:StringEquals", "aws:TagKeys")
    listed = sorted(
        op for op, block in condition.items() if op != "Null" and isinstance(block, Mapping) and TENANT_TAG_KEY in block
    )
    problems = []
    if [str(k) for k in as_list(keys)] != ["TenantId"]:
        problems.append(f"runner {runner}'s {what} does not limit the session tags to TenantId (aws:TagKeys)")
    if get_path(st, "Condition", "Null", TENANT_TAG_KEY) != "false":
        problems.append(f"runner {runner}'s {what} does not require a TenantId session tag (Null {TENANT_TAG_KEY})")
    if listed:
        problems.append(
            f"runner {runner}'s {what} lists tenant ids in {TENANT_TAG_KEY} ({listed}), which grows with the "
            "tenants; require the tag with Null and check the tenant in the registry"
        )
    return problems


def writer_trust_problems(runner: str, trust: Mapping[str, Any] | None) -> list[str]:
    """A writer role's trust: every Allow takes exactly one ``TenantId`` tag and lists no tenant ids."""
    if trust is None:
        return [f"runner {runner}'s writer role has no trust policy document"]
    problems: list[str] = []
    for st in statements(trust):
        if st.get("Effect") == "Allow":
            problems += _tenant_tag_problems(runner, f"writer trust {st.get('Sid', '<no Sid>')}", st)
    return problems


runner_role_least_privilege = StackValidationPolicy(
    name="runner-role-least-privilege",
    description="Job runner roles (tag saas:runner) hold only their job's actions; writer roles only under LeadingKeys.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_runners,
)

POLICIES = [
    schedule_dlq_and_scoped_role,
    async_function_dead_letter,
    cross_tenant_index_not_in_tenant_policies,
    runner_role_least_privilege,
]
