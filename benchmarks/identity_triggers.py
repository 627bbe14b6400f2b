"""Cost of the shared pre-token-generation trigger per invocation, and what the registry cache saves.

Runs the real handler (Powertools event class, the tenant registry in moto DynamoDB in-process) three ways, in
one run:
  decision - the pure decision function alone (check_entitlement): the floor;
  warm     - the handler with the pool's registry record cached (every invocation within the 60 s TTL);
  cold     - the handler with the registry reader reset before every call: a new boto3 client and one
             ``Query`` on ``byUserPool`` per invocation (what a fresh container, or the first sign-in of a pool
             after each TTL, pays).
It also counts the registry reads of 1,000 sign-ins spread over 100 pools: one per pool per TTL, not one per
sign-in. moto's in-process endpoint is far faster than DynamoDB over the network (a few ms per call), so the
cold/warm ratio printed here understates the saving in Lambda.

    .venv/bin/python benchmarks/identity_triggers.py [--n 500]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE = "TenantRegistryProd"
REGION = "ap-southeast-1"


def _per_call_us(fn: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    n = parser.parse_args().n
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "SAAS_TENANT_ROLES": "admin,user",
            "SAAS_SYSTEM_ROLES": "admin,superuser,support",
            "SAAS_CLIENT_ENVIRONMENTS": "dev,staging,prod",
            "SAAS_REGISTRY_TABLE": TABLE,
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    import boto3
    from moto import mock_aws

    from saas_platform.handlers import _identity, _registry, pre_token_generation
    from tests.registry_support import put_tenant, registry_table

    event = json.loads((ROOT / "tests" / "events" / "pre_token_generation_v2.json").read_text())
    with mock_aws():
        ddb = boto3.client("dynamodb")
        registry_table(ddb, TABLE)
        pools = {f"tenant-{i:03d}": f"{REGION}_Pool{i:05d}" for i in range(100)}
        for tenant, pool in pools.items():
            put_tenant(ddb, TABLE, tenant, pool, app_clients={f"{tenant}-prod-client": "prod"})
        put_tenant(ddb, TABLE, "acme", f"{REGION}_AcmePool1", app_clients={"acmehradminprod00000001": "prod"})
        event["userPoolId"] = f"{REGION}_AcmePool1"
        event["callerContext"]["clientId"] = "acmehradminprod00000001"
        settings = _identity.TriggerSettings.from_env()
        attrs = event["request"]["userAttributes"]

        def decision() -> None:
            _identity.check_entitlement(attrs, "prod", "acme", settings)

        def warm() -> None:
            pre_token_generation.lambda_handler(copy.deepcopy(event), None)  # type: ignore[arg-type]

        def cold() -> None:
            _identity.reset()
            warm()

        _identity.reset()
        warm()  # first call fills the cache
        floor = _per_call_us(decision, n)
        warm_us = _per_call_us(warm, n)
        cold_us = _per_call_us(cold, n)

        _identity.reset()
        reader = _registry.registry()
        fleet_event = copy.deepcopy(event)
        for i in range(1000):  # 1,000 sign-ins over 100 pools within one TTL
            tenant = f"tenant-{i % 100:03d}"
            fleet_event["userPoolId"] = pools[tenant]
            fleet_event["callerContext"]["clientId"] = f"{tenant}-prod-client"
            fleet_event["request"]["userAttributes"] = {**attrs, "custom:tenantId": tenant}
            pre_token_generation.lambda_handler(copy.deepcopy(fleet_event), None)  # type: ignore[arg-type]
        fleet_reads = reader.reads
    print(f"invocations per case: {n}")
    print(f"{'case':<10}{'us/call':>12}{'x decision':>14}")
    for name, value in (("decision", floor), ("warm", warm_us), ("cold", cold_us)):
        print(f"{name:<10}{value:>12.1f}{value / floor:>14.1f}")
    print(f"cold / warm: {cold_us / warm_us:.1f}x (client creation + one registry Query, paid once per pool per TTL)")
    print(f"1,000 sign-ins over 100 pools in one TTL: {fleet_reads} registry reads")


if __name__ == "__main__":
    main()
