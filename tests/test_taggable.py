"""The required-tags rule's list of taggable types matches what pulumi-aws accepts, and covers every stack."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from saas_platform.policies._common import TAGGABLE_TYPES
from tests.conftest import run_stack


def _accepts_tags(type_token: str) -> bool:
    """Does the pulumi_aws class for `aws:<module>/<camel>:<Class>` take a `tags` argument?"""
    module, cls = type_token.split(":")[1].split("/", maxsplit=1)[0], type_token.split(":")[2]
    mod = importlib.import_module(f"pulumi_aws.{'lambda_' if module == 'lambda' else module}")
    klass = getattr(mod, cls)
    return "tags" in inspect.signature(klass._internal_init).parameters


@pytest.mark.parametrize("type_token", sorted(TAGGABLE_TYPES))
def test_listed_types_accept_tags(type_token: str) -> None:
    assert _accepts_tags(type_token), f"{type_token} takes no tags: remove it from TAGGABLE_TYPES"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_taggable_type_in_the_stacks_is_listed(stack: str) -> None:
    run = run_stack(stack)
    aws_types = {r.type for r in run.resources if r.custom and re.match(r"aws:[a-z0-9]+/", r.type)}
    missing = sorted(t for t in aws_types if t not in TAGGABLE_TYPES and _accepts_tags(t))
    assert missing == [], f"taggable types missing from policies/_common.py TAGGABLE_TYPES: {missing}"
