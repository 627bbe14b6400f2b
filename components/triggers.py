"""``CognitoTriggers``: the shared pre-authentication and pre-token-generation functions of the stack that owns
the user pools (docs/fleet.md, "Shared triggers"; docs/identity.md).

One pair of functions serves every pool, instead of a pair (with two roles and two log groups) per tenant. The
handlers know no tenant: they resolve the event's ``userPoolId`` to a tenant through the tenant registry
(``saas_platform.handlers._identity``), so neither their environment nor their IAM policy grows with the fleet.

What does grow is each function's **resource-based policy**: Cognito may invoke a trigger only through a
``lambda:InvokeFunction`` permission whose ``source_arn`` is the one pool (isolation invariant 18), one statement
per pool, and Lambda limits that policy to 20 KB. :func:`pools_per_function` computes, from the worst-case
statement (longest tenant id, longest pool id Cognito allows, this region and function name), how many pools fit
with :data:`POLICY_HEADROOM` to spare; the pools are then **sharded**: one function pair per that many pools, in
the order of ``tenant_ids`` (so appending tenants never moves a pool to another function). A smaller
``pools_per_function`` may be chosen; a larger one is refused before anything is registered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from saas_platform.components import datapaths
from saas_platform.components.context import resolve_account
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.identity import CUSTOMER_ROLES, SYSTEM_TENANT_ROLES
from saas_platform.components.lambda_function import HandlerFunction, HandlerFunctionArgs, LayerLike, check_layers
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    ENVIRONMENTS,
    LOG_RETENTION_DAYS,
    TENANT_ID_RE,
    Environment,
    trigger_function_name,
)
from saas_platform.components.registry import (
    REGISTRY_TABLE_ENV,
    registry_key_statement,
    registry_read_paths,
    registry_read_statement,
)

TRIGGER_HANDLERS: Final[Mapping[str, str]] = {
    "PreAuth": "saas_platform.handlers.pre_authentication.lambda_handler",
    "PreToken": "saas_platform.handlers.pre_token_generation.lambda_handler",
}
"""The Cognito triggers every owned pool runs: function-name infix -> handler."""
TRIGGER_LABELS: Final[Mapping[str, str]] = {"PreAuth": "pre-auth", "PreToken": "pre-token"}
COGNITO_PRINCIPAL: Final = "cognito-idp.amazonaws.com"
LAMBDA_POLICY_MAX_BYTES: Final = 20_480
"""Lambda's limit on a function's resource-based policy (20 KB)."""
POLICY_HEADROOM: Final = 0.25
"""Share of the 20 KB kept free: the statements are computed at their worst case, the rest absorbs AWS changing
its serialization."""
USER_POOL_ID_MAX: Final = 55
"""The longest ``UserPoolId`` the Cognito API accepts (real ids are ``<region>_<9 characters>``)."""
TENANT_ID_MAX: Final = 31
STATEMENT_ID_PREFIX: Final = "cognito-"
"""Each pool's permission has ``statement_id`` ``cognito-<tenant>`` (the pool's tenant), at most 39 characters."""


def statement_id(tenant_id: str) -> str:
    """The ``statement_id`` of the pool's invoke permission on a shared trigger: ``cognito-acme``."""
    return f"{STATEMENT_ID_PREFIX}{tenant_id}"


def invoke_statement(*, sid: str, function_arn: str, pool_arn: str, account_id: str) -> dict[str, Any]:
    """The statement Lambda stores for ``AddPermission`` (principal Cognito, ``SourceArn``, ``SourceAccount``)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": COGNITO_PRINCIPAL},
        "Action": "lambda:InvokeFunction",
        "Resource": function_arn,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": account_id},
            "ArnLike": {"AWS:SourceArn": pool_arn},
        },
    }


def pools_per_function(region: str, function_name: str) -> int:
    """How many pools' invoke statements fit in one function's resource policy (20 KB less the headroom), each
    at its worst case: the longest tenant id, the longest pool id, a 12-digit account, this region and name."""
    account = "0" * 12
    pool_arn = f"arn:aws:cognito-idp:{region}:{account}:userpool/{'x' * USER_POOL_ID_MAX}"
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"

    def compact(doc: Any) -> int:
        return len(json.dumps(doc, separators=(",", ":")).encode())

    statement = compact(
        invoke_statement(
            sid=statement_id("a" * TENANT_ID_MAX), function_arn=function_arn, pool_arn=pool_arn, account_id=account
        )
    )
    envelope = compact({"Version": "2012-10-17", "Id": "default", "Statement": []})
    budget = int(LAMBDA_POLICY_MAX_BYTES * (1 - POLICY_HEADROOM))
    return (budget - envelope) // (statement + 1)  # +1: the comma between statements


@dataclass(frozen=True)
class TriggerFunctions:
    """The trigger functions one tenant's pool uses (from :meth:`CognitoTriggers.functions_for`)."""

    tenant_id: str
    shard: int
    pre_authentication_arn: pulumi.Output[str]
    pre_authentication_name: pulumi.Output[str]
    pre_token_generation_arn: pulumi.Output[str]
    pre_token_generation_name: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class CognitoTriggersArgs:
    """Arguments of :class:`CognitoTriggers`.

    Attributes:
        environment: environment of the owning stack (function names, tags).
        region: the stack's region (plain: it sizes the shards and builds the registry key's ARN).
        kms_key_arn: encrypts the functions' logs and environment variables (the environment key).
        kms_key_alias: the environment key's alias (``alias/<prefix>-<env>``); the registry is encrypted with it.
        registry_table_name / registry_table_arn: the tenant registry (``TenantRegistry``) the triggers read.
        tenant_ids: every tenant whose pool the triggers serve (the ``system`` tenant too), in a stable order:
            the pools are sharded in this order, so append new tenants at the end.
        client_environments: environments the stack creates app clients for. Default: ``(environment,)``.
        layers: the layer(s) the triggers import Powertools from; refused if they do not provide it.
        account_id: ``source_account`` of the permissions and the registry key's account; looked up if ``None``.
        name_prefix: prefix of the function names (``AIML-SaaS``).
        log_retention_days: of the functions' logs (the sign-in audit trail). Default 90.
        pools_per_function: Default ``None``: as many as fit (:func:`pools_per_function`). A smaller value makes
            more, smaller shards; a larger one is refused.
        cell: Default ``None`` (the platform stack). In cell stack ``<env>-cell-NN`` its number, which goes into
            the function names (``AIML-SaaS-PreAuth-C01-S00-Dev``) so the cells of an environment never collide.
        extra_tags: added to every taggable child.
    """

    environment: Environment
    region: str
    kms_key_arn: pulumi.Input[str]
    kms_key_alias: str
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    tenant_ids: Sequence[str]
    client_environments: Sequence[Environment] = ()
    layers: Sequence[LayerLike] = ()
    account_id: pulumi.Input[str] | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    log_retention_days: int = 90
    pools_per_function: int | None = None
    cell: int | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {list(ENVIRONMENTS)}; got {self.environment!r}")
        bad = [t for t in self.tenant_ids if not TENANT_ID_RE.fullmatch(t)]
        dupes = sorted({t for t in self.tenant_ids if list(self.tenant_ids).count(t) > 1})
        if not self.tenant_ids or bad or dupes:
            raise ComponentArgError(
                f"tenant_ids must list every served tenant once, each matching {TENANT_ID_RE.pattern!r}; got "
                f"{list(self.tenant_ids)} (bad {bad}, duplicated {dupes})"
            )
        for env in self.client_environments:
            if env not in ENVIRONMENTS:
                raise ComponentArgError(f"client_environments entries must be in {list(ENVIRONMENTS)}; got {env!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )
        capacity = self.capacity
        if self.pools_per_function is not None and not 1 <= self.pools_per_function <= capacity:
            raise ComponentArgError(
                f"pools_per_function={self.pools_per_function} does not fit: a trigger's resource policy (Lambda "
                f"allows {LAMBDA_POLICY_MAX_BYTES} bytes, {POLICY_HEADROOM:.0%} kept free) holds at most {capacity} "
                "Cognito invoke permissions, one per pool; choose 1 to that, or leave it unset (as many as fit)"
            )
        check_layers("CognitoTriggersArgs", TRIGGER_HANDLERS, self.layers)

    @property
    def capacity(self) -> int:
        """Pools one function's resource policy holds (the longest function name of the stack decides)."""
        longest = max(
            (trigger_function_name(self.name_prefix, t, 99, self.environment, self.cell) for t in TRIGGER_HANDLERS),
            key=len,
        )
        return pools_per_function(self.region, longest)

    @property
    def shard_size(self) -> int:
        """Pools per function pair: ``pools_per_function``, or :attr:`capacity` when unset."""
        return self.pools_per_function or self.capacity

    @property
    def shards(self) -> list[tuple[str, ...]]:
        """The tenants of each shard, in ``tenant_ids`` order."""
        size = self.shard_size
        ids = tuple(self.tenant_ids)
        return [ids[i * size : (i + 1) * size] for i in range(math.ceil(len(ids) / size))]

    @property
    def resolved_client_environments(self) -> tuple[Environment, ...]:
        """``client_environments`` (default: the stack's own), in dev, staging, prod order."""
        envs = tuple(self.client_environments) or (self.environment,)
        return tuple(e for e in ENVIRONMENTS if e in envs)


class CognitoTriggers(pulumi.ComponentResource):
    """The owning stack's shared Cognito triggers: per shard of user pools one pre-authentication and one V2
    pre-token-generation ``HandlerFunction`` (Python 3.13, arm64, X-Ray, KMS-encrypted log group with
    ``log_retention_days``), whose roles may read the tenant registry (``GetItem``/``Query`` on the table and its
    ``byUserPool`` index, the environment key through DynamoDB only) and nothing else.

    The pools are wired by :class:`~saas_platform.components.identity.TenantIdentity`: its ``lambda_config``
    names the functions of its shard (:meth:`functions_for`) and it creates its own two invoke permissions
    (``source_arn`` = its pool, ``source_account``), so a pool that is not in ``tenant_ids`` cannot use them.

    Example::

        triggers = CognitoTriggers("platform-triggers", CognitoTriggersArgs(
            environment="prod", region="ap-southeast-1", kms_key_arn=key.arn, kms_key_alias="alias/aiml-saas-prod",
            registry_table_name=registry.table_name, registry_table_arn=registry.table_arn,
            tenant_ids=["system", "acme"], client_environments=("staging", "prod"), layers=[layer]))
        acme = TenantIdentity("acme", TenantIdentityArgs(tenant_id="acme", environment="prod",
            triggers=triggers.functions_for("acme"), client_environments=("staging", "prod")))

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html
        https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
        https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html
    """

    functions: list[dict[str, HandlerFunction]]
    """Per shard: trigger infix (``PreAuth``/``PreToken``) -> its function."""

    def __init__(self, name: str, args: CognitoTriggersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:identity:CognitoTriggers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account_id = resolve_account(args.account_id, self)
        self._args = args
        self._shard_of = {t: i for i, tenants in enumerate(args.shards) for t in tenants}
        statements = [
            registry_read_statement(args.registry_table_arn),
            registry_key_statement(region=args.region, account_id=account_id, kms_key_alias=args.kms_key_alias),
        ]
        env: dict[str, pulumi.Input[str]] = {
            "SAAS_TENANT_ROLES": ",".join(CUSTOMER_ROLES),
            "SAAS_SYSTEM_ROLES": ",".join(SYSTEM_TENANT_ROLES),
            "SAAS_CLIENT_ENVIRONMENTS": ",".join(args.resolved_client_environments),
            REGISTRY_TABLE_ENV: args.registry_table_name,
        }
        descriptions = {
            "PreAuth": "reject sign-ins to environments the user may not use",
            "PreToken": "add tenant claims to ID and access tokens",
        }
        self.functions = []
        paths: list[datapaths.DataPath] = []
        for shard, tenants in enumerate(args.shards):
            fns: dict[str, HandlerFunction] = {}
            for trigger, handler in TRIGGER_HANDLERS.items():
                label = f"{TRIGGER_LABELS[trigger]}-s{shard:02d}"
                fn = HandlerFunction(
                    f"{name}-{label}",
                    HandlerFunctionArgs(
                        function_name=trigger_function_name(
                            args.name_prefix, trigger, shard, args.environment, args.cell
                        ),
                        handler=handler,
                        environment=args.environment,
                        component="CognitoTriggers",
                        kms_key_arn=args.kms_key_arn,
                        description=f"shard {shard} ({len(tenants)} pools): {descriptions[trigger]}",
                        env=env,
                        statements=statements,
                        layers=args.layers,
                        memory_size=256,
                        timeout=5,
                        log_retention_days=args.log_retention_days,
                        extra_tags=args.extra_tags,
                    ),
                    opts=child,
                )
                fns[trigger] = fn
                paths += registry_read_paths(
                    principal=fn.role_arn,
                    table_arn=args.registry_table_arn,
                    kms_key_arn=args.kms_key_arn,
                    region=args.region,
                    label=label,
                )
            self.functions.append(fns)
        self.register_outputs(
            {
                "function_arns": [{t: fn.function_arn for t, fn in fns.items()} for fns in self.functions],
                datapaths.OUTPUT_KEY: datapaths.declare(paths),
            }
        )

    def functions_for(self, tenant_id: str) -> TriggerFunctions:
        """The functions of ``tenant_id``'s shard (for its pool's ``lambda_config`` and invoke permissions)."""
        shard = self._shard_of.get(tenant_id)
        if shard is None:
            raise ComponentArgError(
                f"tenant {tenant_id!r} is not served by these triggers (tenant_ids {list(self._args.tenant_ids)}); "
                "add it to CognitoTriggersArgs.tenant_ids"
            )
        fns = self.functions[shard]
        return TriggerFunctions(
            tenant_id=tenant_id,
            shard=shard,
            pre_authentication_arn=fns["PreAuth"].function_arn,
            pre_authentication_name=fns["PreAuth"].function_name,
            pre_token_generation_arn=fns["PreToken"].function_arn,
            pre_token_generation_name=fns["PreToken"].function_name,
        )
