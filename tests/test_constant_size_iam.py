"""Constant-size IAM (issue 11): the documents that used to list tenants are the same size for 2 tenants and for
1,000, and keep the 25% headroom ``iam-document-headroom`` asks for.

Each component is built under mocks twice, once with two short tenant ids and once with 1,000 generated ids of
the longest allowed shape (31 characters), and every IAM document and function environment it registers is
measured the way IAM and Lambda measure them. Equal sizes with ids of different lengths mean no document holds a
tenant id at all; the budgets are 75% of the limits in ``policies/iam_headroom.py``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from saas_platform.components.api import ApiTenant, TenantApi
from saas_platform.components.image_pipeline import ImagePipeline
from saas_platform.components.jobs import ScheduledJobs
from saas_platform.components.testing.harness import ProgramRun, run_function
from saas_platform.policies._iam import doc_size
from saas_platform.policies.access import INLINE_PER_ROLE_MAX, TRUST_POLICY_MAX
from saas_platform.policies.iam_headroom import budget
from tests import test_image_pipeline_component as images_support
from tests import test_jobs_component as jobs_support
from tests import test_tenant_api as api_support

LAMBDA_ENV_MAX = 4096
"""Bytes of all environment variables of one function (Lambda quotas)."""
FEW = ("acme", "globex")
MANY = tuple(f"tenant-{i:04d}-{'x' * 19}" for i in range(1000))
"""1,000 ids of 31 characters, the longest ``TENANT_ID_RE`` allows."""


def _api(tenants: Sequence[str]) -> Callable[[], None]:
    store = "arn:aws:verifiedpermissions::123456789012:policy-store/PS{:022d}"

    def program() -> None:
        TenantApi(
            "platform-api",
            api_support.api_args(
                tenants=[
                    ApiTenant(tenant_id=t, tier="standard", policy_store_arn=store.format(i))
                    for i, t in enumerate(tenants)
                ]
            ),
        )

    return program


def _jobs(tenants: Sequence[str]) -> Callable[[], None]:
    def program() -> None:
        ScheduledJobs("jobs", jobs_support.args(tenant_ids=tuple(tenants)))

    return program


def _images(tenants: Sequence[str]) -> Callable[[], None]:
    def program() -> None:
        ImagePipeline("images", images_support.args(tenant_ids=tuple(tenants)))

    return program


BUILDERS: dict[str, Callable[[Sequence[str]], Callable[[], None]]] = {"api": _api, "images": _images, "jobs": _jobs}


@functools.cache
def planned(component: str, size: str) -> ProgramRun:
    return run_function(BUILDERS[component](FEW if size == "few" else MANY), stack="dev")


def documents(run: ProgramRun) -> dict[str, tuple[str, int]]:
    """Every IAM document (role trust, inline role policy) and function environment: name -> (kind, size)."""
    out: dict[str, tuple[str, int]] = {}
    for role in run.of_type("aws:iam/role:Role"):
        out[f"{role.name} trust"] = ("trust", doc_size(role.inputs["assumeRolePolicy"]))
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        out[f"{policy.name}"] = ("inline", doc_size(policy.inputs["policy"]))
    for fn in run.of_type("aws:lambda/function:Function"):
        environment = fn.inputs.get("environment") or {}
        variables: dict[str, Any] = (environment.get("value") or environment).get("variables") or {}
        size = sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items())
        out[f"{fn.inputs['name']} environment"] = ("environment", size)
    return out


LIMITS = {"trust": TRUST_POLICY_MAX, "inline": INLINE_PER_ROLE_MAX, "environment": LAMBDA_ENV_MAX}


@pytest.mark.parametrize("component", sorted(BUILDERS))
def test_documents_do_not_grow_with_the_tenants(component: str) -> None:
    few, many = documents(planned(component, "few")), documents(planned(component, "many"))
    assert few.keys() == many.keys()
    assert len(few) >= 3
    grown = {name: (few[name][1], many[name][1]) for name in few if few[name] != many[name]}
    assert not grown, f"documents that grow with the tenants (2 -> 1,000): {grown}"
    for name, (kind, size) in many.items():
        assert size <= budget(LIMITS[kind]), (
            f"{name}: {size} of {LIMITS[kind]} ({kind}); 25% headroom is {budget(LIMITS[kind])}"
        )
    print(f"{component}: " + json.dumps({name: size for name, (_, size) in sorted(many.items())}))


def test_the_measured_documents_include_the_ones_that_used_to_list_tenants() -> None:
    """The authorizer's role policy, every runner's writer trust and policy, the runners' environments, and the
    image functions' policies and environments (their AssumeTenantWriter and KNOWN_TENANTS used to list tenants)."""
    api = documents(planned("api", "many"))
    assert "platform-api-authorizer-policy" in api
    jobs = documents(planned("jobs", "many"))
    for runner in ("crud-item", "job-runner", "attgen-tenant", "employee-earn-al", "tenant-notification-dispatcher"):
        assert f"jobs-{runner}-writer-role trust" in jobs
        assert f"jobs-{runner}-writer-policy" in jobs
        assert f"jobs-{runner}-policy" in jobs
    assert "AIML-SaaS-AttGen-System-Dev environment" in jobs
    images = documents(planned("images", "many"))
    assert {"images-processor-policy", "images-upload-policy"} <= images.keys()
    assert {"AIML-SaaS-ImageProcessor-Dev environment", "AIML-SaaS-ImageUpload-Dev environment"} <= images.keys()
    text = json.dumps([r.inputs for r in planned("jobs", "many").resources if r.type.startswith("aws:iam/")])
    assert "tenant-0999" not in text
