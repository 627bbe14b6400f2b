"""Authorizer cost: warm-path overhead per request and cold import time, each against a bare handler measured in
the same run.

warm  - ``Authorizer.decide`` on a valid ID token (header parse, the issuer's tenant from the registry cache - no
        registry read on the warm path -, token verification with a cached JWKS - or the verified-token cache for a
        token seen before, which still re-checks the tenant's registry entry -, claim checks, route lookup, AVP
        request build, IAM policy, the one structured log line, written to /dev/null)
        with the AVP call answered instantly by a constant stub, so the figure is the authorizer's own overhead
        without the network round trip; the baseline is a bare handler that returns a constant Allow policy for
        the same event. Also reported: the same path with the cedarpy-backed AVP double (local Cedar evaluation
        of the real assets, for scale only).
cold  - a fresh interpreter importing ``saas_platform.handlers.authorizer`` and building the decision core (config + route
        table), against a fresh interpreter importing a bare handler module. Median of several runs.
registry - the registry reads behind the warm figures (they must stay at one per pool per TTL), and the cost of
        a registry lookup that misses the cache (in-memory table: the read's own network time excluded).

    .venv/bin/python benchmarks/authorizer.py [--requests 2000] [--cold-runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_HANDLER = """
def lambda_handler(event, context):
    return {"principalId": "x", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}
"""


class InstantAllow:
    def is_authorized_with_token(self, **_: Any) -> dict[str, Any]:
        return {"decision": "ALLOW", "determiningPolicies": [], "errors": []}


def per_request(fn: Any, event: dict[str, Any], n: int) -> float:
    for _ in range(min(200, n)):  # warm caches (JWKS, route table) before timing
        fn(event)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn(event)
        samples.append((time.perf_counter() - started) / n)
    return statistics.median(samples)


def warm(n: int) -> None:
    from saas_platform.handlers import authorizer
    from saas_platform.handlers.authorizer import build_authorizer
    from tests.authz_support import (
        ACME,
        GLOBEX,
        CountingFetcher,
        FakeRegistryTable,
        avp_double,
        config_json,
        effect,
        event,
        fake_registry,
        token,
    )

    # every decision writes its one JSON log line, as in Lambda; here to /dev/null so the figures stay readable
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the benchmark
    authorizer.logger.logger_handler.setStream(sink)  # type: ignore[attr-defined]

    ev = event("GET", "/v1/me/pim", auth=f"Bearer {token(ACME, 'u-1')}")
    fresh_events = [event("GET", "/v1/me/pim", auth=f"Bearer {token(ACME, f'u-{i}')}") for i in range(n)]
    table = FakeRegistryTable()
    registry = fake_registry(table)
    stubbed = build_authorizer(config_json(), fetch=CountingFetcher(), avp=InstantAllow(), registry=registry)
    cedar = build_authorizer(config_json(), fetch=CountingFetcher(), avp=avp_double(), registry=fake_registry())
    assert effect(stubbed.decide(ev)) == "Allow"
    assert effect(cedar.decide(ev)) == "Allow"
    namespace: dict[str, Any] = {}
    exec(BARE_HANDLER, namespace)
    bare = namespace["lambda_handler"]

    base = per_request(lambda e: bare(e, None), ev, n)
    repeated = per_request(stubbed.decide, ev, n)
    samples = []
    for _ in range(5):
        stubbed.verifier._cache.clear()
        started = time.perf_counter()
        for e in fresh_events:
            stubbed.decide(e)
        samples.append((time.perf_counter() - started) / n)
    first_seen = statistics.median(samples)
    with_cedar = per_request(cedar.decide, ev, max(200, n // 4))
    print(f"warm path, {n} requests x 5 (median per request; AVP network call excluded)")
    print(f"  bare handler (baseline)                   {base * 1e6:9.1f} us")
    print(
        f"  authorizer, token seen before (cached)    {repeated * 1e6:9.1f} us   "
        f"overhead {(repeated - base) * 1e6:.1f} us, ratio {repeated / base:.0f}x"
    )
    print(
        f"  authorizer, first sight of each token     {first_seen * 1e6:9.1f} us   "
        f"overhead {(first_seen - base) * 1e6:.1f} us, ratio {first_seen / base:.0f}x (RS256 verify)"
    )
    print(f"  same, AVP answered by the cedarpy double  {with_cedar * 1e6:9.1f} us   (local Cedar, for scale)")
    requests = 200 + 5 * n + 5 * n  # every decide() of the two stubbed timings above
    print(f"registry reads behind the {requests} stubbed decisions above: {table.calls} (one pool)")
    directory = stubbed.verifier.tenants
    misses = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            registry.clear()  # every lookup misses the cache: one (in-memory) Query and a record parse
            directory.lookup(GLOBEX.issuer)
        misses.append((time.perf_counter() - started) / n)
    hits = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            directory.lookup(GLOBEX.issuer)
        hits.append((time.perf_counter() - started) / n)
    print(
        f"  issuer -> tenant, cached                  {statistics.median(hits) * 1e6:9.1f} us   "
        f"cache miss {statistics.median(misses) * 1e6:.1f} us + the DynamoDB round trip (once per pool per 60 s)"
    )


CONFIG = '{"environment":"dev","region":"ap-southeast-1"}'
"""The whole ``AUTHZ_CONFIG`` now: the tenants are in the registry."""


def cold(runs: int) -> None:
    ours = (
        "import time; t=time.perf_counter(); import saas_platform.handlers.authorizer as a; "
        "from saas_platform.handlers._registry import TenantRegistry; "
        f"b=time.perf_counter(); a.build_authorizer({CONFIG!r}, fetch=lambda u: {{}}, avp=object(), "
        "registry=TenantRegistry('TenantRegistryDev', object())); "
        "e=time.perf_counter(); print(b-t, e-b)"
    )
    bare = f"import time; t=time.perf_counter(); exec({BARE_HANDLER!r}); print(time.perf_counter()-t, 0.0)"

    def measure(code: str) -> tuple[float, float, float]:
        imports, builds, walls = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
            walls.append(time.perf_counter() - started)
            imp, build = (float(x) for x in out.stdout.split())
            imports.append(imp)
            builds.append(build)
        return statistics.median(imports), statistics.median(builds), statistics.median(walls)

    b_imp, _, b_wall = measure(bare)
    o_imp, o_build, o_wall = measure(ours)
    print(f"cold start, {runs} fresh interpreters (median)")
    print(f"  bare handler: import {b_imp * 1e3:7.1f} ms   process wall {b_wall * 1e3:7.1f} ms (baseline)")
    print(
        f"  authorizer:   import {o_imp * 1e3:7.1f} ms   core build {o_build * 1e3:5.1f} ms   "
        f"process wall {o_wall * 1e3:7.1f} ms   (+{(o_wall - b_wall) * 1e3:.0f} ms, ratio {o_wall / b_wall:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()
    warm(args.requests)
    cold(args.cold_runs)


if __name__ == "__main__":
    main()
