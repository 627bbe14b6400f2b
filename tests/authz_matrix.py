"""The authorization matrix: every declared data path of a planned stack, and its variants, evaluated the way AWS
evaluates a request - identity policies together with the resource's policy (bucket policy, KMS key policy, role
trust policy, Lambda permissions) and the session policy - by a maintained evaluator.

Evaluator: ``@cloud-copilot/iam-simulate`` (npm, pinned by ``tests/iam-simulate/package-lock.json``, installed by
``scripts/_bootstrap.sh``; AGPL-3.0, so test-only and never shipped). It implements every condition operator,
resource policies with same-account semantics, the KMS key-policy rule (a key policy must allow, directly or by
delegating to the account) and the trust-policy rule (a trust naming the role allows without an identity
policy), and it validates actions, resource types and condition keys against the Service Authorization Reference
(an invalid request is an error here, never a silent deny). It runs once per batch: one node process, JSON on
stdin/stdout.

Everything below reads the plan (``ProgramRun``): the paths come from the inventory, the policies from the
registered resources. Nothing is shared with the code that writes the policies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from saas_platform.components.datapaths import substitute
from saas_platform.components.testing.harness import ProgramRun
from saas_platform.handlers.msk_consumer import Settings, session_policy

SIM_DIR = Path(__file__).resolve().parent / "iam-simulate"
ACCOUNT = "123456789012"
USER = "ap-southeast-1:11111111-2222-3333-4444-555555555555"
OTHER_USER = "ap-southeast-1:99999999-8888-7777-6666-555555555555"
UNREGISTERED = "offboarded-tenant"


class EvaluatorUnavailable(RuntimeError):
    """node or the installed evaluator is missing: run ``source scripts/_bootstrap.sh``."""


def simulate(simulations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate a batch in one node process; results in the same order."""
    node = shutil.which("node")
    if node is None or not (SIM_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise EvaluatorUnavailable(
            "the IAM evaluator is not installed: needs node >= 20 and npm; run `source scripts/_bootstrap.sh` "
            "(npm ci in tests/iam-simulate)"
        )
    if not simulations:
        return []
    proc = subprocess.run(
        [node, str(SIM_DIR / "evaluate.mjs")],
        input=json.dumps(simulations),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    if len(results) != len(simulations):
        raise AssertionError(f"evaluator returned {len(results)} results for {len(simulations)} simulations")
    return results


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


AWS_MANAGED: Final[dict[str, dict[str, Any]]] = {
    # As the AWS managed policy reference documents it (version v1); only the roles of this stack attach it.
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                ],
                "Resource": "*",
            }
        ],
    }
}
"""AWS managed policies the stacks attach, with their documented content, so paths through them are evaluated."""
TAG_AUTHORIZED_TYPES: Final = ("aws:verifiedpermissions/policyStore:PolicyStore",)
"""Resources whose grants are narrowed by ``aws:ResourceTag/*`` (the authorizer's policy-store grant): AWS sets those
keys from the resource's tags, so the matrix reads the tags from the plan and adds them to the request, and asks the
same call on a store tagged for another environment, by another component, for no tenant, or untagged."""
OTHER_ENVIRONMENT: Final = {"dev": "prod", "staging": "prod", "prod": "staging"}


@dataclass
class Policies:
    """The policies of one planned stack, indexed the way a request finds them."""

    roles: dict[str, dict[str, Any]] = field(default_factory=dict)  # role ARN -> {name, trust, identity: [...]}
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket name -> policy
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN -> policy
    key_aliases: dict[str, list[str]] = field(default_factory=dict)  # key ARN -> alias names (kms:ResourceAliases)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # function ARN -> {name, env, policy}
    pools: dict[str, str] = field(default_factory=dict)  # tenant -> identity pool id
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)  # topic ARN -> topic policy
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # ARN -> tags (aws:ResourceTag/*)

    @classmethod
    def of(cls, run: ProgramRun) -> Policies:
        out = cls()
        managed = {r.state["arn"]: _json(r.inputs["policy"]) for r in run.of_type("aws:iam/policy:Policy")}
        by_name: dict[str, dict[str, Any]] = {}
        for role in run.of_type("aws:iam/role:Role"):
            name = role.state.get("name") or role.inputs.get("name") or str(role.id)
            entry = {"name": name, "trust": _json(role.inputs["assumeRolePolicy"]), "identity": []}
            out.roles[role.state["arn"]] = entry
            by_name[name] = entry
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            if a.inputs["policyArn"] in managed:
                by_name[a.inputs["role"]]["identity"].append(managed[a.inputs["policyArn"]])
            elif a.inputs["policyArn"] in AWS_MANAGED:  # not in the plan: its documented content
                by_name[a.inputs["role"]]["identity"].append(AWS_MANAGED[a.inputs["policyArn"]])
            else:
                by_name[a.inputs["role"]].setdefault("aws_managed", []).append(a.inputs["policyArn"])
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy"):
            by_name[p.inputs["role"]]["identity"].append(_json(p.inputs["policy"]))
        for b in run.of_type("aws:s3/bucketPolicy:BucketPolicy"):
            out.buckets[b.inputs["bucket"]] = _json(b.inputs["policy"])
        key_ids: dict[str, str] = {}
        for k in run.of_type("aws:kms/key:Key"):
            out.keys[k.state["arn"]] = _json(k.inputs["policy"])
            key_ids[k.state["keyId"]] = k.state["arn"]
        for alias in run.of_type("aws:kms/alias:Alias"):
            arn = key_ids.get(alias.inputs["targetKeyId"]) or str(alias.inputs["targetKeyId"])
            out.key_aliases.setdefault(arn, []).append(alias.inputs["name"])
        names: dict[str, str] = {}
        for f in run.of_type("aws:lambda/function:Function"):
            env = ((f.inputs.get("environment") or {}).get("variables")) or {}
            out.functions[f.state["arn"]] = {"name": f.state["name"], "env": env, "statements": []}
            names[f.state["name"]] = f.state["arn"]
        for perm in run.of_type("aws:lambda/permission:Permission"):
            arn = names.get(perm.inputs["function"]) or str(perm.inputs["function"])
            if arn not in out.functions:
                out.functions[arn] = {"name": arn, "env": {}, "statements": []}
            out.functions[arn]["statements"].append(_permission_statement(perm.inputs, arn))
        for t in run.of_type("aws:sns/topicPolicy:TopicPolicy"):
            out.topics[str(t.inputs["arn"])] = _json(t.inputs["policy"])
        for store in (r for type_ in TAG_AUTHORIZED_TYPES for r in run.of_type(type_)):
            out.resource_tags[store.state["arn"]] = dict(store.inputs.get("tags") or {})
        for pool in run.of_type("aws:cognito/identityPool:IdentityPool"):
            out.pools[pool.inputs["tags"]["saas:tenant"]] = str(pool.id)
        return out

    def resource_policy(self, action: str, resource: str) -> dict[str, Any] | None:
        service = action.split(":", 1)[0]
        if service == "s3":
            return self.buckets.get(resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
        if service == "kms":
            return self.keys.get(resource)
        if service == "sts":
            role = self.roles.get(resource)
            return role["trust"] if role else None
        if service == "sns":
            return self.topics.get(resource)
        if service == "lambda":
            fn = self.functions.get(resource)
            if fn and fn["statements"]:
                return {"Version": "2012-10-17", "Statement": fn["statements"]}
        return None


def _permission_statement(inputs: Mapping[str, Any], function_arn: str) -> dict[str, Any]:
    """The statement Lambda adds to the function's resource policy for an ``AddPermission`` call."""
    condition: dict[str, Any] = {}
    if inputs.get("sourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": inputs["sourceArn"]}
    if inputs.get("sourceAccount"):
        condition["StringEquals"] = {"AWS:SourceAccount": inputs["sourceAccount"]}
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": inputs["principal"]},
        "Action": inputs["action"],
        "Resource": function_arn,
    }
    if condition:
        statement["Condition"] = condition
    return statement


@dataclass(frozen=True)
class Case:
    """One request and the decision it must get."""

    path: str
    variant: str
    action: str
    expect: str  # "Allowed" | "Denied"
    simulation: dict[str, Any]


@dataclass
class MatrixResult:
    cases: list[Case]
    results: list[dict[str, Any]]

    @property
    def mismatches(self) -> list[str]:
        out = []
        for case, result in zip(self.cases, self.results, strict=True):
            got = result["result"]
            ok = got == "Allowed" if case.expect == "Allowed" else got in ("ImplicitlyDenied", "ExplicitlyDenied")
            if not ok:
                detail = f" {json.dumps(result.get('errors'))[:400]}" if got == "Error" else ""
                out.append(f"{case.path} [{case.variant}] {case.action}: expected {case.expect}, got {got}{detail}")
        return out

    def counts(self) -> dict[str, int]:
        paths = {c.path for c in self.cases}
        variants = Counter(c.variant.split(":", 1)[0] for c in self.cases if c.variant != "declared")
        return {
            "paths": len(paths),
            "allowed": sum(1 for c in self.cases if c.variant == "declared"),
            "variants": sum(variants.values()),
            **{f"variant:{k}": v for k, v in sorted(variants.items())},
        }


def _session_principal(role: Mapping[str, Any]) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['name']}/matrix-session"


def _without(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def cases_for(run: ProgramRun, policies: Policies | None = None) -> list[Case]:
    """Every declared path (for each of its tenants) and its variants, as requests with expected decisions."""
    pol = policies or Policies.of(run)
    tenants = sorted(t for t in pol.pools if t != "system")
    out: list[Case] = []
    paths = run.data_paths()
    trusted: dict[str, set[str]] = {}
    for p in paths:
        if p["principalType"] == "federated":
            trusted.setdefault(p["resource"], set()).update(p["tenants"] or ["system"])

    for p in paths:
        label = f"{p['component'].rsplit('::', 1)[-1]}:{p['name']}"
        role = pol.roles.get(p["principal"]) if p["principalType"] == "role" else None
        if p["principalType"] == "role" and role is None:
            raise AssertionError(f"{label}: principal {p['principal']} is not a role of this stack")

        def build(
            action: str,
            caller: str,
            target: str,
            user: str,
            target_user: str,
            drop: str | None = None,
            context_override: Mapping[str, Any] | None = None,
            resource_tags: Mapping[str, str] | None = None,
            *,
            p: Mapping[str, Any] = p,
            role: Mapping[str, Any] | None = role,
        ) -> dict[str, Any]:
            context = substitute(p["context"], tenant=target, user=target_user)
            if context_override:
                context = {**context, **context_override}
            session = substitute(p["session"], tenant=caller, user=user)
            ctx: dict[str, Any] = {**context, **session}
            if drop is not None:
                ctx = _without(ctx, drop)
            resource = substitute(p["resource"], tenant=target, user=target_user)
            simulation: dict[str, Any] = {
                "request": {
                    "principal": p["principal"],
                    "action": action,
                    "resource": {"resource": resource, "accountId": ACCOUNT},
                    "contextVariables": ctx,
                },
                "identityPolicies": [],
                "serviceControlPolicies": [],
                "resourceControlPolicies": [],
            }
            if role is not None:
                simulation["request"]["principal"] = _session_principal(role)
                ctx.setdefault("aws:PrincipalArn", p["principal"])
                ctx.setdefault("aws:PrincipalAccount", ACCOUNT)
                simulation["identityPolicies"] = [
                    {"name": f"policy-{i}", "policy": doc} for i, doc in enumerate(role["identity"])
                ]
                if "sessionPolicy" in p:
                    simulation["sessionPolicy"] = substitute(p["sessionPolicy"], tenant=caller)
                elif "sessionPolicyFrom" in p:
                    env = pol.functions[p["sessionPolicyFrom"]]["env"]
                    simulation["sessionPolicy"] = session_policy(caller, Settings.from_env(env))
            if action.startswith("kms:") and resource in pol.key_aliases:
                ctx["kms:ResourceAliases"] = pol.key_aliases[resource]  # AWS sets it from the key's aliases
            if resource in pol.resource_tags:  # AWS sets aws:ResourceTag/* from the resource's tags
                tags = pol.resource_tags[resource] if resource_tags is None else resource_tags
                ctx.update({f"aws:ResourceTag/{k}": v for k, v in tags.items()})
            resource_policy = pol.resource_policy(action, resource)
            if resource_policy is not None:
                simulation["resourcePolicy"] = resource_policy
            return simulation

        for caller in p["tenants"] or [""]:
            for action in p["actions"]:

                def add(
                    variant: str, expect: str, sim: dict[str, Any], *, action: str = action, label: str = label
                ) -> None:
                    out.append(Case(label, variant, action, expect, sim))

                add("declared", "Allowed", build(action, caller, caller, USER, USER))
                for guard in p["guards"]:
                    add(f"missing:{guard}", "Denied", build(action, caller, caller, USER, USER, drop=guard))
                tags = pol.resource_tags.get(substitute(p["resource"], tenant=caller, user=USER))
                if tags is not None:  # the same resource tagged otherwise: another environment, component, none
                    env = tags.get("saas:environment", "dev")
                    for variant, changed in (
                        (
                            f"store-tags:environment={OTHER_ENVIRONMENT[env]}",
                            {**tags, "saas:environment": OTHER_ENVIRONMENT[env]},
                        ),
                        ("store-tags:component=TenantApi", {**tags, "saas:component": "TenantApi"}),
                        ("store-tags:no-tenant", _without(tags, "saas:tenant")),
                        ("store-tags:untagged", {}),
                    ):
                        add(variant, "Denied", build(action, caller, caller, USER, USER, resource_tags=changed))
                if p["principalType"] == "federated":
                    allowed = trusted[p["resource"]]
                    for other, pool_id in sorted(pol.pools.items()):
                        if other not in allowed:
                            add(
                                f"other-tenant-pool:{other}",
                                "Denied",
                                build(
                                    action,
                                    caller,
                                    caller,
                                    USER,
                                    USER,
                                    context_override={"cognito-identity.amazonaws.com:aud": pool_id},
                                ),
                            )
                    tag = "aws:RequestTag/TenantId"
                    if tag in p["context"]:  # ABAC: this tenant's pool asking for a session tagged as another tenant
                        for other in [*(t for t in tenants if t != caller), f"{caller}-corp"]:
                            add(
                                f"other-tenant-tag:{other}",
                                "Denied",
                                build(action, caller, caller, USER, USER, context_override={tag: other}),
                            )
                    continue
                if not caller or "{tenant}" not in json.dumps([p["resource"], p["context"]]):
                    continue  # the request does not name the tenant (a bucket key's context): no tenant variant
                if not p.get("registryChecked"):  # else the handler's registry check refuses it (handler tests)
                    add(f"unregistered:{UNREGISTERED}", "Denied", build(action, caller, UNREGISTERED, USER, USER))
                if p["tenantBound"]:
                    for other in tenants:
                        if other != caller:
                            add(f"other-tenant:{other}", "Denied", build(action, caller, other, USER, USER))
                    add(f"prefix-trap:{caller}-corp", "Denied", build(action, caller, f"{caller}-corp", USER, USER))
                if p["perUser"]:
                    add("other-user", "Denied", build(action, caller, caller, USER, OTHER_USER))
    return out


def evaluate_run(run: ProgramRun) -> MatrixResult:
    cases = cases_for(run)
    return MatrixResult(cases, simulate([c.simulation for c in cases]))


def summary(results: Iterable[MatrixResult]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for r in results:
        total.update(r.counts())
    return dict(total)
