"""The authorization matrix (issue 9): every declared data path of every stack, in both access modes, is allowed
when evaluated over identity + resource (bucket, key, trust, Lambda permission) + session policies, and every
variant - another tenant, a prefix-trap tenant, an unregistered tenant, another user of the same tenant, a guard
key missing - is denied. Evaluator: ``@cloud-copilot/iam-simulate`` (see ``tests/authz_matrix.py``).

The evaluator's own tests below show it judges the shapes this issue is about as AWS does, and the small oracle
(``tests/iam_oracle.py``, identity policies only) is cross-checked against it on the same requests.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest

from saas_platform.components.testing.harness import ProgramRun
from tests.authz_matrix import ACCOUNT, MatrixResult, cases_for, evaluate_run, simulate
from tests.authz_support import SERVICE_ARNS
from tests.conftest import run_stack
from tests.iam_oracle import Request, evaluate

MODES = ("perTenant", "abac")
STACKS = ("dev", "staging", "prod")
API = "prod+api"
"""prod with the microservices' ARNs in ``saas:api.services`` (the stack files serve only the image route):
API Gateway invoking the authorizer, the integrations and the image upload function."""
IMAGE_PATHS = frozenset(
    {
        "platform-api:apigateway/invoke-images",
        "platform-images:upload/assume-writer",
        "platform-images:upload-writer/metadata",
        "platform-images:upload-writer/raw",
        "platform-images:upload-writer/raw-key",
        "platform-images:processor/receive",
        "platform-images:processor/queue-key",
        "platform-images:processor/dead-letter",
        "platform-images:processor/dead-letter-key",
        "platform-images:processor/assume-writer",
        "platform-images:processor-writer/metadata",
        "platform-images:processor-writer/raw",
        "platform-images:processor-writer/raw-key",
        "platform-images:processor-writer/processed",
        "platform-images:processor-writer/processed-key",
    }
)
"""The image pipeline's paths, both legs: every stack plans them (``saas:images`` on, ``saas:api: {}``)."""


def _config(stack: str, mode: str) -> dict[str, Any]:
    config: dict[str, Any] = {"saas:access": {"mode": mode}}
    if stack == API:
        config["saas:api"] = {"services": SERVICE_ARNS}
    return config


@functools.cache
def matrix(stack: str, mode: str) -> MatrixResult:
    """One stack in one mode, evaluated in one batch (cached per worker process)."""
    return evaluate_run(run_stack(stack.split("+", maxsplit=1)[0], _config(stack, mode)))


@pytest.mark.parametrize(("stack", "mode"), [*((s, m) for s in STACKS for m in MODES), (API, "perTenant")])
def test_every_path_allowed_every_variant_denied(stack: str, mode: str) -> None:
    result = matrix(stack, mode)
    counts = result.counts()
    print(f"authorization matrix {stack}/{mode}: {counts}")
    assert counts["paths"] >= 150  # 2026-12-06: staging 193-208 paths, dev 209-224, prod 214-255
    assert counts["variant:other-tenant"] > 0
    assert counts["variant:prefix-trap"] > 0
    assert counts["variant:other-user"] > 0
    assert counts["variant:store-tags"] > 0  # the authorizer's store grant, judged on the stores' own tags
    if mode == "abac":  # the shared trust binds each pool to its tenant: another tenant's tag is refused
        assert counts["variant:other-tenant-tag"] > 0
    mismatches = result.mismatches
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


@pytest.mark.parametrize("stack", [*STACKS, API])
def test_image_pipeline_paths_are_in_every_stack_matrix(stack: str) -> None:
    """Both legs of the image pipeline (API upload, processing) are in the matrix of every stack: allowed as
    declared; the writer sessions denied on another tenant's rows and objects and on a prefix-trap tenant; the
    functions' AssumeRole into the writers denied without the TenantId tag (an unregistered tenant is the
    registry's refusal, in the handler tests); API Gateway's invocation of the upload function denied without its
    source ARN."""
    cases = matrix(stack, "perTenant").cases

    def paths(prefix: str) -> set[str]:
        return {
            c.path
            for c in cases
            if c.variant.startswith(prefix) and c.expect == ("Allowed" if prefix == "declared" else "Denied")
        }

    declared = paths("declared")
    assert declared >= IMAGE_PATHS, sorted(IMAGE_PATHS - declared)
    writer_data = {f"platform-images:upload-writer/{p}" for p in ("metadata", "raw")} | {
        f"platform-images:processor-writer/{p}" for p in ("metadata", "raw", "processed")
    }
    assert writer_data <= paths("other-tenant:") & paths("prefix-trap:"), sorted(writer_data - paths("other-tenant:"))
    assume = {"platform-images:upload/assume-writer", "platform-images:processor/assume-writer"}
    # constant-size IAM: which tenants exist is the registry's call (handler tests), so IAM is not expected to
    # refuse an unregistered tenant's tag; a session without the TenantId tag is still denied
    assert not assume & paths("unregistered:"), sorted(assume & paths("unregistered:"))
    assert assume <= paths("missing:aws:RequestTag/TenantId"), sorted(assume - paths("missing:aws:RequestTag/TenantId"))
    assert "platform-api:apigateway/invoke-images" in paths("missing:aws:SourceArn")


def environment_run(platform: ProgramRun, *cells: ProgramRun) -> ProgramRun:
    """An environment as the evaluator sees it: the platform stack's and its cells' resources and declared paths
    together (one account), so a cell's paths meet the platform's key, bucket and table policies."""
    resources = [r for run in (platform, *cells) for r in run.resources]
    outputs = {k: v for run in (platform, *cells) for k, v in run.component_outputs.items()}
    return ProgramRun(platform.project, "+".join(r.stack for r in (platform, *cells)), resources, {}, outputs)


@pytest.mark.parametrize("mode", MODES)
def test_an_environment_with_a_cell_every_path_allowed_every_variant_denied(mode: str) -> None:
    """dev plus its cell dev-cell-01: the cell tenant's paths (its roles on the platform's tables, bucket and key,
    its triggers on the registry) are allowed; another tenant of either stack is denied on them and they on it."""
    config = _config("dev", mode)
    result = evaluate_run(environment_run(run_stack("dev", config), run_stack("dev-cell-01", config)))
    cell_cases = [c for c in result.cases if c.path.startswith("cell-")]
    variants = {c.variant for c in cell_cases}
    assert {"declared", "other-tenant:acme", "other-tenant:globex", "prefix-trap:umbrella-corp"} <= variants
    assert sum(c.variant == "declared" for c in cell_cases) >= 10  # admin/user on tables, documents, key; triggers
    platform_on_cell = [
        c for c in result.cases if c.variant == "other-tenant:umbrella" and not c.path.startswith("cell")
    ]
    assert platform_on_cell, "the platform tenants' paths are tried against the cell's tenant"
    assert not result.mismatches, "\n".join(result.mismatches[:40])


@pytest.mark.parametrize("stack", [*STACKS, API])
def test_the_authorizer_reaches_only_its_environments_tenant_stores(stack: str) -> None:
    """The authorizer's grant names no store: for every tenant store of the plan the call is allowed with the
    store's own tags (read from the plan), and denied on the same store tagged for another environment, by another
    component, for no tenant, or untagged."""
    cases = matrix(stack, "perTenant").cases
    stores = [c for c in cases if ":authorizer/is-authorized/" in c.path]
    declared = {c.path for c in stores if c.variant == "declared" and c.expect == "Allowed"}
    assert len(declared) >= 2, declared
    for path in declared:
        variants = {c.variant.split("=", 1)[0] for c in stores if c.path == path and c.expect == "Denied"}
        assert variants == {
            "store-tags:environment",
            "store-tags:component",
            "store-tags:no-tenant",
            "store-tags:untagged",
        }, (path, variants)


def test_an_unconditioned_store_grant_would_fail_the_store_tag_variants() -> None:
    """The variants can fail: ``policy-store/*`` without the tag conditions allows another environment's store."""
    store = f"arn:aws:verifiedpermissions::{ACCOUNT}:policy-store/PSOTHERENV000000000001"
    action = "verifiedpermissions:IsAuthorizedWithToken"
    grant = {"Effect": "Allow", "Action": action, "Resource": f"arn:aws:verifiedpermissions::{ACCOUNT}:policy-store/*"}
    tagged = {
        **grant,
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/saas:environment": "prod",
                "aws:ResourceTag/saas:component": "TenantAuthorization",
            },
            "Null": {"aws:ResourceTag/saas:tenant": "false"},
        },
    }
    staging = {
        "aws:ResourceTag/saas:environment": "staging",
        "aws:ResourceTag/saas:component": "TenantAuthorization",
        "aws:ResourceTag/saas:tenant": "acme",
    }
    prod = {**staging, "aws:ResourceTag/saas:environment": "prod"}
    results = simulate([
        _sim(action, store, identity=[_doc(grant)], context=staging),
        _sim(action, store, identity=[_doc(tagged)], context=staging),
        _sim(action, store, identity=[_doc(tagged)], context=prod),
        _sim(action, store, identity=[_doc(tagged)], context={}),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["Allowed", "ImplicitlyDenied", "Allowed", "ImplicitlyDenied"]


def test_every_principal_kind_is_covered() -> None:
    results = [matrix("dev", "abac"), matrix(API, "perTenant")]
    paths = {c.path.split(":", 1)[1].split("/", 1)[0] for r in results for c in r.cases}
    assert {"admin", "user", "superuser", "support", "consumer", "writer", "function"} <= paths
    assert {"cognito", "log-delivery", "logs-service", "cloudwatch"} <= paths
    assert "apigateway" in paths


# ---- the evaluator judges the shapes of this issue as AWS does -------------------------------------------------
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Caller"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Caller/s"
KEY = f"arn:aws:kms:ap-southeast-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
BUCKET = "arn:aws:s3:::docs-bucket"


def _sim(action: str, resource: str, *, identity: list[dict[str, Any]], resource_policy: Any = None,
         context: dict[str, Any] | None = None, principal: str = SESSION) -> dict[str, Any]:  # fmt: skip
    sim: dict[str, Any] = {
        "request": {
            "principal": principal,
            "action": action,
            "resource": {"resource": resource, "accountId": ACCOUNT},
            "contextVariables": {"aws:PrincipalArn": ROLE, **(context or {})},
        },
        "identityPolicies": [{"name": f"p{i}", "policy": d} for i, d in enumerate(identity)],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
    }
    if resource_policy is not None:
        sim["resourcePolicy"] = resource_policy
    return sim


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_PUT = _doc({"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{BUCKET}/*"})


def test_if_exists_deny_blocks_uploads_without_the_header() -> None:
    """``StringNotEqualsIfExists`` is true when the key is absent: the Deny applies to default-encryption uploads."""
    deny_if_exists = _doc({
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{BUCKET}/*",
        "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    })  # fmt: skip
    deny_when_present = copy.deepcopy(deny_if_exists)
    deny_when_present["Statement"][0]["Condition"] = {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    results = simulate([
        _sim("s3:PutObject", f"{BUCKET}/k", identity=[ALLOW_PUT], resource_policy=deny_if_exists),
        _sim("s3:PutObject", f"{BUCKET}/k", identity=[ALLOW_PUT], resource_policy=deny_when_present),
        _sim("s3:PutObject", f"{BUCKET}/k", identity=[ALLOW_PUT], resource_policy=deny_when_present,
             context={"s3:x-amz-server-side-encryption": "AES256"}),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["ExplicitlyDenied", "Allowed", "ExplicitlyDenied"]


def test_key_policy_must_allow() -> None:
    """An identity policy alone does not open a KMS key: the key policy must allow or delegate to the account."""
    grant = _doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    delegates = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                      "Resource": "*"})  # fmt: skip
    only_logs = _doc({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:*",
                      "Resource": "*"})  # fmt: skip
    results = simulate([
        _sim("kms:Decrypt", KEY, identity=[grant], resource_policy=delegates),
        _sim("kms:Decrypt", KEY, identity=[grant], resource_policy=only_logs),
        _sim("kms:Decrypt", KEY, identity=[], resource_policy=delegates),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]


def test_trust_naming_the_role_skips_the_callers_identity_policy() -> None:
    """Same account: a trust policy that names the caller's role allows on its own; one that names the account
    root needs the caller's identity policy too (so its conditions are evaluated)."""
    writer = f"arn:aws:iam::{ACCOUNT}:role/Writer"
    names_role = _doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"})
    names_root = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                       "Action": "sts:AssumeRole", "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE}}})  # fmt: skip
    allow = _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": writer})
    results = simulate([
        _sim("sts:AssumeRole", writer, identity=[], resource_policy=names_role),
        _sim("sts:AssumeRole", writer, identity=[], resource_policy=names_root),
        _sim("sts:AssumeRole", writer, identity=[allow], resource_policy=names_root),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["Allowed", "ImplicitlyDenied", "Allowed"]


def test_encryption_context_keys_are_evaluated() -> None:
    """``kms:EncryptionContext:aws:s3:arn`` reaches the conditions (tests/iam-simulate/evaluate.mjs keeps it)."""
    grant = _doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
                  "Condition": {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": BUCKET}}})  # fmt: skip
    delegates = _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                      "Resource": "*"})  # fmt: skip
    results = simulate([
        _sim("kms:Decrypt", KEY, identity=[grant], resource_policy=delegates,
             context={"kms:EncryptionContext:aws:s3:arn": BUCKET}),
        _sim("kms:Decrypt", KEY, identity=[grant], resource_policy=delegates,
             context={"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::other"}),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["Allowed", "ImplicitlyDenied"]


def test_invalid_requests_are_errors_not_denies() -> None:
    results = simulate([_sim("dynamodb:NoSuchAction", "*", identity=[ALLOW_PUT])])
    assert results[0]["result"] == "Error"


# ---- the oracle agrees with the evaluator on identity-only requests --------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_oracle_cross_checked_against_the_evaluator(mode: str) -> None:
    """The oracle reads identity policies only; on exactly that (no resource or session policy), for every
    DynamoDB and S3 case of the tenant and system roles, both give the same decision."""
    run = run_stack("dev", {"saas:access": {"mode": mode}})
    cases = [
        c for c in cases_for(run)
        if "-access" in c.path and c.action.split(":")[0] in ("dynamodb", "s3") and c.simulation["identityPolicies"]
    ]  # fmt: skip
    sims = []
    for c in cases:
        sim = copy.deepcopy(c.simulation)
        sim.pop("resourcePolicy", None)
        sim.pop("sessionPolicy", None)
        sims.append(sim)
    results = simulate(sims)
    compared = 0
    for sim, result in zip(sims, results, strict=True):
        request = sim["request"]
        oracle = evaluate(
            [p["policy"] for p in sim["identityPolicies"]],
            Request(request["action"], request["resource"]["resource"], request["contextVariables"]),
        )
        assert (oracle == "Allow") == (result["result"] == "Allowed"), (request, oracle, result)
        compared += 1
    assert compared > 100


def test_network_interfaces_stay_in_the_clusters_network() -> None:
    """``CreateNetworkInterface`` is authorized on every resource of the request (interface, subnet, security
    group): another subnet, the VPC's default group, or an untagged subnet is refused; deletes stay in the VPC."""
    from saas_platform.components.msk_consumer import MskNetwork, network_interface_statements

    region, ec2 = "ap-southeast-1", f"arn:aws:ec2:ap-southeast-1:{ACCOUNT}"
    explicit = _doc(*network_interface_statements(
        MskNetwork(vpc_id="vpc-0a1b2c3d4e5f60718", subnet_ids=("subnet-0a1b2c3d4e5f60011",),
                   security_group_ids=("sg-0a1b2c3d4e5f60044",)),
        region=region, account_id=ACCOUNT))  # fmt: skip
    tagged = _doc(*network_interface_statements(MskNetwork(tag_value="hr-images-dev"), region=region,
                                                account_id=ACCOUNT))  # fmt: skip
    vpc = {"ec2:Vpc": f"{ec2}:vpc/vpc-0a1b2c3d4e5f60718"}
    other_vpc = {"ec2:Vpc": f"{ec2}:vpc/vpc-0ffffffffffffffff"}
    create, delete = "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"
    cases = [
        (explicit, create, f"{ec2}:network-interface/eni-0a1", vpc, "Allowed"),
        (explicit, create, f"{ec2}:subnet/subnet-0a1b2c3d4e5f60011", vpc, "Allowed"),
        (explicit, create, f"{ec2}:security-group/sg-0a1b2c3d4e5f60044", vpc, "Allowed"),
        (explicit, create, f"{ec2}:subnet/subnet-0ffffffffffffff99", vpc, "ImplicitlyDenied"),
        (explicit, create, f"{ec2}:security-group/sg-0default00000000", vpc, "ImplicitlyDenied"),
        (explicit, create, f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/eni-0a1", vpc, "ImplicitlyDenied"),
        (explicit, delete, f"{ec2}:network-interface/eni-0a1", vpc, "Allowed"),
        (explicit, delete, f"{ec2}:network-interface/eni-0a1", other_vpc, "ImplicitlyDenied"),
        (explicit, delete, f"{ec2}:network-interface/eni-0a1", {}, "ImplicitlyDenied"),
        (tagged, create, f"{ec2}:subnet/subnet-0a1", {"aws:ResourceTag/saas:mskNetwork": "hr-images-dev"}, "Allowed"),
        (tagged, create, f"{ec2}:security-group/sg-0a1", {"aws:ResourceTag/saas:mskNetwork": "hr-images-dev"},
         "Allowed"),
        (tagged, create, f"{ec2}:subnet/subnet-0a1", {"aws:ResourceTag/saas:mskNetwork": "other"}, "ImplicitlyDenied"),
        (tagged, create, f"{ec2}:subnet/subnet-0a1", {}, "ImplicitlyDenied"),
        (tagged, create, f"{ec2}:network-interface/eni-0a1", {}, "Allowed"),
    ]  # fmt: skip
    results = simulate([_sim(a, r, identity=[d], context=c) for d, a, r, c, _ in cases])
    assert [(r["result"], c[2]) for r, c in zip(results, cases, strict=True)] == [(c[4], c[2]) for c in cases]


@pytest.mark.parametrize(("project", "stack"), [("compensation", "dev"), ("compensation", "prod"), ("crm", "prod")])
def test_stack_projects_paths_allowed(project: str, stack: str) -> None:
    """The stacks/ projects' own calls (CloudTrail writing its log files, log delivery, handler logs and their
    keys) evaluated like the platform's: every declared path allowed, every dropped guard denied."""
    from saas_platform.components.testing.harness import run_program

    result = evaluate_run(run_program(f"stacks/{project}", stack))
    assert result.counts()["paths"] >= 8
    assert not result.mismatches, "\n".join(result.mismatches[:20])


def test_only_the_trail_may_name_its_key() -> None:
    """A trail configured with a KMS key names it on every log file; the bucket refuses explicit key ids from
    anyone else (so every other object gets the bucket's key), and the aws/s3 default key from everyone."""
    from saas_platform.components.lifecycle_bucket import bucket_policy

    trail = f"arn:aws:cloudtrail:ap-southeast-1:{ACCOUNT}:trail/audit"
    policy = bucket_policy("docs-bucket", kms=True, key_writer_source_arns=[trail])
    allow_trail = _doc({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                        "Resource": f"{BUCKET}/*"})  # fmt: skip
    policy["Statement"].append(allow_trail["Statement"][0])
    named = {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY,
             "aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}  # fmt: skip
    results = simulate([
        _sim("s3:PutObject", f"{BUCKET}/log.json.gz", identity=[], resource_policy=policy,
             context={**named, "aws:SourceArn": trail}, principal="cloudtrail.amazonaws.com"),
        _sim("s3:PutObject", f"{BUCKET}/log.json.gz", identity=[], resource_policy=policy,
             context={**named, "aws:SourceArn": f"{trail}-other"}, principal="cloudtrail.amazonaws.com"),
        _sim("s3:PutObject", f"{BUCKET}/k", identity=[ALLOW_PUT], resource_policy=policy, context=named),
        _sim("s3:PutObject", f"{BUCKET}/k", identity=[ALLOW_PUT], resource_policy=policy,
             context={"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}),
    ])  # fmt: skip
    assert [r["result"] for r in results] == ["Allowed", "ExplicitlyDenied", "ExplicitlyDenied", "Allowed"]
