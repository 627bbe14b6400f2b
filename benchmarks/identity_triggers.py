"""Cost of the pre-token-generation trigger per invocation, and what the client-name cache saves.

Runs the real handler (Powertools event class, moto cognito-idp in-process) three ways, in one run:
  decision - the pure decision function alone (check_entitlement): the floor;
  warm     - the handler with the app-client name cached (every invocation after a container's first);
  cold     - the handler with its caches reset before every call: a new boto3 client and one
             DescribeUserPoolClient per invocation (what a fresh container pays once).
moto's in-process endpoint is far faster than the real Cognito API (a few ms per call), so the cold/warm
ratio printed here understates the saving in Lambda.

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
            "AWS_DEFAULT_REGION": "ap-southeast-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "SAAS_TENANT_ID": "acme",
            "SAAS_NAME_PREFIX": "AIML-SaaS",
            "SAAS_TENANT_ROLES": "admin,user",
            "SAAS_CLIENT_ENVIRONMENTS": "dev,staging,prod",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    import boto3
    from moto import mock_aws

    from saas_platform.handlers import _identity, pre_token_generation

    event = json.loads((ROOT / "tests" / "events" / "pre_token_generation_v2.json").read_text())
    with mock_aws():
        idp = boto3.client("cognito-idp")
        pool = idp.create_user_pool(PoolName="AIML-SaaS-acme")["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="AIML-SaaS-acme-hr-admin-prod")
        event["userPoolId"] = pool
        event["callerContext"]["clientId"] = client["UserPoolClient"]["ClientId"]
        settings = _identity.TriggerSettings.from_env()
        attrs = event["request"]["userAttributes"]

        def decision() -> None:
            _identity.check_entitlement(attrs, "prod", settings)

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
    print(f"invocations per case: {n}")
    print(f"{'case':<10}{'us/call':>12}{'x decision':>14}")
    for name, value in (("decision", floor), ("warm", warm_us), ("cold", cold_us)):
        print(f"{name:<10}{value:>12.1f}{value / floor:>14.1f}")
    print(f"cold / warm: {cold_us / warm_us:.1f}x (client creation + DescribeUserPoolClient, paid once per container)")


if __name__ == "__main__":
    main()
