"""Cost of ``iam-service-authorization-reference`` over every policy document of a stack, against a same-run floor.

The documents come from the real program (``__main__.py`` with ``Pulumi.dev.yaml``, per-tenant roles, ``--tenants``
synthetic tenants) under the offline mocks. Three figures, each the median of several passes over all documents:

floor - parse each document and walk its statements, actions, resources and condition keys (what any rule that
        reads the documents pays);
cold  - the rule's check with every cache cleared first (the per-service index of the Service Authorization
        Reference is built on first use);
warm  - the same check with the caches filled (every stack after the first in one plan run).

    .venv/bin/python benchmarks/service_authorization.py [--tenants 20] [--passes 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _tenants(n: int) -> list[dict[str, str]]:
    tiers = ("basic", "standard", "premium")
    return [{"id": f"t{i:04d}", "displayName": f"Tenant {i}", "tier": tiers[i % 3]} for i in range(n)]


def documents(n: int) -> list[tuple[Any, Any]]:
    from saas_platform.components.testing.harness import run_program
    from saas_platform.policies.service_authorization import policy_documents

    # No tenant API: its authorizer's environment-variable tenant map holds about 12 tenants (docs/fleet.md).
    run = run_program(ROOT, "dev", config={"saas:tenants": _tenants(n), "saas:api": None})
    return [(kind, value) for r in run.resources for _, kind, value in policy_documents(r.type, r.inputs)]


def floor(docs: list[tuple[Any, Any]]) -> int:
    from saas_platform.policies._common import as_list, parse_json_document, statements

    seen = 0
    for _, value in docs:
        for st in statements(parse_json_document(value) or {}):
            seen += len(as_list(st.get("Action"))) + len(as_list(st.get("Resource")))
            cond = st.get("Condition") or {}
            seen += sum(len(block) for block in cond.values())
    return seen


def check(docs: list[tuple[Any, Any]]) -> int:
    from saas_platform.policies.service_authorization import check_document

    return sum(len(check_document(value, kind)) for kind, value in docs)


def clear() -> None:
    from saas_platform.policies import service_authorization as sar

    for fn in (sar._service, sar.expand_action, sar.arn_matches):
        fn.cache_clear()


def timed(fn: Any, docs: list[tuple[Any, Any]], passes: int, before: Any = None) -> float:
    samples = []
    for _ in range(passes):
        if before:
            before()
        started = time.perf_counter()
        fn(docs)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    docs = documents(args.tenants)
    problems = check(docs)
    base = timed(floor, docs, args.passes)
    cold = timed(check, docs, args.passes, before=clear)
    warm = timed(check, docs, args.passes)
    print(f"{len(docs)} documents ({args.tenants} tenants, dev, per-tenant roles), {problems} problems")
    print(f"floor (parse + walk): {base * 1000:.1f} ms  ({base / len(docs) * 1e6:.0f} us/doc)")
    print(f"rule, cold caches:    {cold * 1000:.1f} ms  ({cold / base:.1f}x floor)")
    print(f"rule, warm caches:    {warm * 1000:.1f} ms  ({warm / base:.1f}x floor)")


if __name__ == "__main__":
    main()
