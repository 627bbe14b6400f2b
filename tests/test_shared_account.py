"""Two stacks of one environment in one AWS account: with different ``namePrefix`` / ``tableNamePrefix`` no
physical name (tables, buckets, functions, roles, pools, log groups, layers, topics, aliases) collides."""

from __future__ import annotations

from typing import Any

import pytest

from saas_platform.components.errors import StackConfigError
from saas_platform.components.testing.harness import ProgramRun, run_program
from tests.conftest import ROOT

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]  # two whole dev plans

NAME_KEYS = (
    "name",
    "bucket",
    "functionName",
    "identityPoolName",
    "layerName",
    "clusterName",
    "policyName",
    "roleName",
)


def physical_names(run: ProgramRun) -> dict[str, str]:
    """Physical name -> URN, for every custom resource input that names an account-wide object."""
    names: dict[str, str] = {}
    for r in run.resources:
        if not r.custom:
            continue
        for key in NAME_KEYS:
            value: Any = r.inputs.get(key)
            if isinstance(value, str) and value and "[unknown]" not in value:
                names[f"{r.type.split(':')[1]}:{value}"] = r.urn
    return names


def test_two_dev_stacks_share_an_account_without_collisions() -> None:
    first = run_program(ROOT, "dev", config={"saas:msk": None})
    second = run_program(
        ROOT, "dev", config={"saas:msk": None, "saas:namePrefix": "Alice", "saas:tableNamePrefix": "alice"}
    )
    a, b = physical_names(first), physical_names(second)
    assert "dynamodb/table:EmploymentDev" in a
    assert "dynamodb/table:alice-EmploymentDev" in b
    assert len(a) > 50
    assert sorted(set(a) & set(b)) == []


def test_a_table_prefix_that_would_break_the_names_is_refused() -> None:
    with pytest.raises(StackConfigError, match=r"saas:tableNamePrefix: the table-name prefix is empty or starts"):
        run_program(ROOT, "dev", config={"saas:tableNamePrefix": "9lives"})
