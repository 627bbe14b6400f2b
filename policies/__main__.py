"""Entry point the Pulumi CLI runs for ``pulumi preview --policy-pack policies``.

The only place that constructs ``PolicyPack``: its constructor starts the analyzer's gRPC server and
blocks, so nothing else may import this module.
"""

from pulumi_policy import PolicyPack

from saas_platform.policies.pack import DEFAULT_ENFORCEMENT, INITIAL_CONFIG, PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=DEFAULT_ENFORCEMENT,
    initial_config=INITIAL_CONFIG,
    description="Tenant-isolation and secure-default guardrails for the saas platform components.",
)
