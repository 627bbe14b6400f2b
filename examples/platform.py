"""Example: compose a whole environment from a config you build in code instead of a stack file.

`load_stack_config` applies exactly the validation `Pulumi.<stack>.yaml` gets (it raises StackConfigError
naming every bad key), so other stacks can reuse the contract.
"""

import pulumi

from saas_platform.components.config import load_stack_config
from saas_platform.components.platform import Platform, PlatformArgs

config = load_stack_config(
    {
        "aws:region": "ap-southeast-1",
        "saas:environment": "dev",
        "saas:tenants": [{"id": "acme", "displayName": "Acme Corp"}, {"id": "globex", "tier": "premium"}],
        "saas:identity": {"mode": "own", "mfa": "ON"},
        "saas:alarms": {"email": "oncall@example.com"},
        "saas:protect": False,
    },
    stack="example",
)
platform = Platform("example", PlatformArgs(config=config))
pulumi.export("tables", platform.table_names)
