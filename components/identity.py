"""Tenant identity (docs/identity.md): per-tenant Cognito user pools shared by every environment, and
per-environment identity pools.

* :class:`TenantIdentity` - created by the stack that owns the pools (``saas:identity.mode: own``): the
  tenant's user pool, an app client per environment and front end, wired to the stack's shared triggers
  (``saas_platform.components.triggers.CognitoTriggers``) with its own two invoke permissions.
* :class:`SharedTenantIdentities` - used by ``mode: shared`` stacks: reads the owning stack's
  :data:`IDENTITY_EXPORT` output through a ``StackReference`` and creates no pool.
* :class:`TenantIdentityPool` - per tenant and environment: the identity pool bound to that tenant's pool
  and this environment's clients, principal tags for ABAC, and :meth:`TenantIdentityPool.attach_roles`.

Both identity sources expose the same read-only view, :class:`TenantIdentityOutputs`, so the rest of the
platform (access, authorization) does not care which stack owns the pools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.context import resolve_account, resolve_region
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.identity_schema import USER_POOL_SCHEMA, check_schema_contract
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    ENVIRONMENTS,
    FRONTENDS,
    SYSTEM_TENANT,
    TENANT_ID_RE,
    Environment,
    app_client_name,
    identity_pool_name,
    tags,
    user_pool_name,
)

if TYPE_CHECKING:
    from saas_platform.components.triggers import TriggerFunctions

IDENTITY_EXPORT: Final = "identity"
"""Name of the stack output an owning stack exports and ``mode: shared`` stacks read (see README)."""
COGNITO_PRINCIPAL: Final = "cognito-idp.amazonaws.com"
IDENTITY_CONTRACT_VERSION: Final = 1

CUSTOMER_ROLES: Final[tuple[str, ...]] = ("admin", "user")
"""Values of ``custom:tenantRole`` in customer tenants; ``user`` is the least privileged."""
SYSTEM_TENANT_ROLES: Final[tuple[str, ...]] = ("admin", "superuser", "support")
"""Values of ``custom:tenantRole`` in the system tenant; ``support`` (read-only) is the least privileged."""

TENANT_CLAIMS: Final[tuple[str, ...]] = ("custom:tenantId", "custom:tenantRole", "custom:environment")
"""Claims the pre-token trigger injects; no app client may write them (isolation invariant 14)."""
ROLE_CLAIM: Final = "custom:tenantRole"
PRINCIPAL_TAGS: Final[Mapping[str, str]] = {"TenantId": "custom:tenantId"}
"""Session tags for ABAC: tag key -> immutable, non-writable claim (isolation invariants 7, 26)."""

READ_ATTRIBUTES: Final[tuple[str, ...]] = (
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    *(a.claim for a in USER_POOL_SCHEMA.custom_attributes),
)
WRITE_ATTRIBUTES: Final[tuple[str, ...]] = ("name", "given_name", "family_name")
"""What a signed-in user may change through an app client. Email (the username) and every ``custom:``
attribute are changed by admins only."""
AUTH_FLOWS: Final[tuple[str, ...]] = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
TOKEN_MINUTES: Final = 60
"""Access and ID token lifetime. Short because AVP does not check revocation (isolation invariant 21)."""
REFRESH_HOURS: Final[Mapping[str, int]] = {"hr-admin": 12, "ess-mobile": 720}
"""Refresh-token lifetime per front end: a working day for the web admin, 30 days for the mobile app."""
PRE_TOKEN_LAMBDA_VERSION: Final = "V2_0"
"""V2 customizes the access token too, which the authorizer reads (isolation invariant 16)."""

ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


def _role_values(tenant_id: str) -> tuple[str, ...]:
    return SYSTEM_TENANT_ROLES if tenant_id == SYSTEM_TENANT else CUSTOMER_ROLES


def _check_tenant_id(tenant_id: str) -> None:
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise ComponentArgError(
            f"tenant_id must match {TENANT_ID_RE.pattern!r} (lowercase letter first, 2-31 characters); got "
            f"{tenant_id!r}"
        )


def _check_environment(value: str, what: str) -> None:
    if value not in ENVIRONMENTS:
        raise ComponentArgError(f"{what} must be one of {list(ENVIRONMENTS)}; got {value!r}")


def issuer_for(region: pulumi.Input[str], user_pool_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """``https://cognito-idp.<region>.amazonaws.com/<poolId>`` - the ``iss`` of the pool's tokens."""
    return pulumi.Output.concat("https://cognito-idp.", region, ".amazonaws.com/", user_pool_id)


def provider_name_for(region: pulumi.Input[str], user_pool_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """``cognito-idp.<region>.amazonaws.com/<poolId>`` - how identity pools name a user pool."""
    return pulumi.Output.concat("cognito-idp.", region, ".amazonaws.com/", user_pool_id)


@dataclass(frozen=True)
class TenantIdentityOutputs:
    """What the rest of the platform needs from a tenant's user pool, wherever it is created.

    Attributes:
        tenant_id: the tenant.
        user_pool_id / user_pool_arn / issuer: the tenant's one user pool.
        client_ids: environment -> front end (``hr-admin``, ``ess-mobile``) -> app client id.
    """

    tenant_id: str
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    issuer: pulumi.Output[str]
    client_ids: Mapping[str, Mapping[str, pulumi.Output[str]]]

    def environment_client_ids(self, environment: str) -> list[pulumi.Output[str]]:
        """The app client ids of one environment, in :data:`~saas_platform.components.naming.FRONTENDS` order."""
        if environment not in self.client_ids:
            raise ComponentArgError(
                f"tenant {self.tenant_id!r} has no app clients for environment {environment!r}; it has "
                f"{sorted(self.client_ids)}. Add {environment!r} to saas:identity.clientEnvironments of the "
                "stack that owns the user pools."
            )
        return [self.client_ids[environment][fe] for fe in FRONTENDS]


# --------------------------------------------------------------------------------------------------- TenantIdentity


@dataclass(frozen=True, kw_only=True)
class TenantIdentityArgs:
    """Arguments of :class:`TenantIdentity`.

    Attributes:
        tenant_id: the tenant (``system`` for the platform owner's pool, whose MFA is always ``ON``).
        environment: environment of the owning stack (tags).
        triggers: the shared trigger functions of this tenant's shard, ``CognitoTriggers.functions_for(tenant_id)``.
            The pool's ``lambda_config`` names them and this component adds the pool's two invoke permissions.
            The triggers refuse the pool until the tenant's registry item lists it (``Platform`` writes it).
        region: the pool's region (issuer URL, SMS region); may be an Output. Default ``None``: the provider's
            (``aws.config.region``, else looked up with ``aws.get_region``).
        client_environments: environments to create app clients for. Default: ``(environment,)``.
        mfa: ``ON`` (default) or ``OPTIONAL``. TOTP (software token) always; SMS only with ``sms_role_arn``.
        feature_plan: ``ESSENTIALS`` (default) or ``PLUS``; ``PLUS`` turns threat protection to ``ENFORCED``.
        sms_role_arn: IAM role Cognito assumes to send SMS codes; offering SMS MFA needs it.
        protect: Default ``True``: deletion protection ``ACTIVE`` in Cognito, and Pulumi ``protect`` and
            ``retain_on_delete`` on the pool, so neither a delete nor a replacement can drop the users.
        account_id: the AWS account (``source_account`` of the trigger permissions); looked up if ``None``.
        name_prefix: prefix of physical names (``AIML-SaaS``).
        extra_tags: added to every taggable child.
    """

    tenant_id: str
    environment: Environment
    triggers: TriggerFunctions
    region: pulumi.Input[str] | None = None
    client_environments: Sequence[Environment] = ()
    mfa: Literal["ON", "OPTIONAL"] = "ON"
    feature_plan: Literal["ESSENTIALS", "PLUS"] = "ESSENTIALS"
    sms_role_arn: str | None = None
    protect: bool = True
    account_id: pulumi.Input[str] | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_tenant_id(self.tenant_id)
        if getattr(self.triggers, "tenant_id", None) != self.tenant_id:
            raise ComponentArgError(
                f"triggers must be CognitoTriggers.functions_for({self.tenant_id!r}) (the functions that serve this "
                f"tenant's pool); got functions for {getattr(self.triggers, 'tenant_id', self.triggers)!r}"
            )
        _check_environment(self.environment, "environment")
        for env in self.client_environments:
            _check_environment(env, "client_environments entries")
        if len(set(self.client_environments)) != len(self.client_environments):
            raise ComponentArgError(f"client_environments has duplicates: {list(self.client_environments)}")
        if self.mfa not in ("ON", "OPTIONAL"):
            raise ComponentArgError(f"mfa must be 'ON' or 'OPTIONAL' (never 'OFF'); got {self.mfa!r}")
        if self.tenant_id == SYSTEM_TENANT and self.mfa != "ON":
            raise ComponentArgError(
                f"the system tenant's pool (SystemAdmin/Superuser/Support) always requires MFA: mfa must be 'ON'; "
                f"got {self.mfa!r}"
            )
        if self.feature_plan not in ("ESSENTIALS", "PLUS"):
            raise ComponentArgError(
                f"feature_plan must be 'ESSENTIALS' or 'PLUS' (LITE lacks the V2 pre-token trigger); got "
                f"{self.feature_plan!r}"
            )
        if self.sms_role_arn is not None and not ARN_RE.fullmatch(self.sms_role_arn):
            raise ComponentArgError(
                f"sms_role_arn must be an IAM role ARN arn:aws:iam::<account>:role/<name>; got {self.sms_role_arn!r}"
            )

    @property
    def resolved_client_environments(self) -> tuple[Environment, ...]:
        envs = tuple(self.client_environments) or (self.environment,)
        return tuple(e for e in ENVIRONMENTS if e in envs)


class TenantIdentity(pulumi.ComponentResource):
    """A tenant's Cognito user pool, shared by Dev, Staging and Prod, with its app clients and triggers.

    Secure by default: immutable ``custom:tenantId``; admin-create-only; MFA (TOTP; SMS only with a role);
    12-character password policy; recovery by verified email; deletion protection; threat protection
    ``ENFORCED`` on PLUS; app clients with explicit read/write attributes (tenant claims never writable),
    SRP only, no secret, 60-minute tokens, revocation on, no user-existence errors; the stack's shared
    pre-authentication trigger (environment gate) and V2 pre-token-generation trigger (tenant claims), each
    given a permission that lets exactly this pool invoke it (``source_arn``, ``source_account``,
    ``statement_id`` ``cognito-<tenant>``). The attribute schema is the locked contract of
    ``saas_platform.components.identity_schema``.

    Example::

        acme = TenantIdentity("acme", TenantIdentityArgs(
            tenant_id="acme", environment="prod", region="ap-southeast-1", triggers=triggers.functions_for("acme"),
            client_environments=("dev", "staging", "prod"), feature_plan="PLUS"))
        pulumi.export("acmeIssuer", acme.issuer)

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-authentication.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-client-apps.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pool-settings-threat-protection.html
    """

    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    issuer: pulumi.Output[str]
    client_ids: dict[str, dict[str, pulumi.Output[str]]]
    pre_authentication_function_arn: pulumi.Output[str]
    pre_token_generation_function_arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        check_schema_contract()  # a schema change must be acknowledged before any resource is registered
        super().__init__("saas:identity:TenantIdentity", name, None, opts)
        self.tenant_id = args.tenant_id
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "TenantIdentity", args.tenant_id, args.extra_tags)
        account_id = resolve_account(args.account_id, self)
        region = resolve_region(args.region, self)
        triggers = args.triggers
        from saas_platform.components.triggers import statement_id  # triggers.py imports this module

        pool = aws.cognito.UserPool(
            f"{name}-user-pool",
            name=user_pool_name(args.name_prefix, args.tenant_id),
            user_pool_tier=args.feature_plan,
            deletion_protection="ACTIVE" if args.protect else "INACTIVE",
            username_attributes=list(USER_POOL_SCHEMA.username_attributes),
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(
                case_sensitive=USER_POOL_SCHEMA.username_case_sensitive
            ),
            auto_verified_attributes=["email"],
            user_attribute_update_settings=aws.cognito.UserPoolUserAttributeUpdateSettingsArgs(
                attributes_require_verification_before_updates=["email"]
            ),
            schemas=user_pool_schemas(),
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            mfa_configuration=args.mfa,
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            sms_configuration=aws.cognito.UserPoolSmsConfigurationArgs(
                external_id=f"{args.name_prefix}-{args.tenant_id}-cognito-sms",
                sns_caller_arn=args.sms_role_arn,
                sns_region=region,
            )
            if args.sms_role_arn
            else None,
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
                password_history_size=5 if args.feature_plan == "PLUS" else None,
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(
                advanced_security_mode="ENFORCED" if args.feature_plan == "PLUS" else "OFF"
            ),
            lambda_config=aws.cognito.UserPoolLambdaConfigArgs(
                pre_authentication=triggers.pre_authentication_arn,
                pre_token_generation_config=aws.cognito.UserPoolLambdaConfigPreTokenGenerationConfigArgs(
                    lambda_arn=triggers.pre_token_generation_arn, lambda_version=PRE_TOKEN_LAMBDA_VERSION
                ),
            ),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )

        # The shared functions exist before the pool (lambda_config); the pool's permission to invoke them is
        # created after it, naming exactly its ARN. One statement per pool is what sizes the shards (triggers.py).
        invoke_paths: list[DataPath] = []
        for label, fn_name, fn_arn in (
            ("pre-auth", triggers.pre_authentication_name, triggers.pre_authentication_arn),
            ("pre-token", triggers.pre_token_generation_name, triggers.pre_token_generation_arn),
        ):
            aws.lambda_.Permission(
                f"{name}-{label}-invoke",
                action="lambda:InvokeFunction",
                function=fn_name,
                principal=COGNITO_PRINCIPAL,
                source_arn=pool.arn,
                source_account=account_id,
                statement_id=statement_id(args.tenant_id),
                opts=child,
            )
            invoke_paths.append(
                DataPath(
                    name=f"cognito/invoke-{label}",
                    principal=COGNITO_PRINCIPAL,
                    principal_type="service",
                    actions=("lambda:InvokeFunction",),
                    resource=fn_arn,
                    context={"aws:SourceArn": pool.arn, "aws:SourceAccount": account_id},
                    guards=("aws:SourceArn",),
                    description=f"Cognito runs the shared {label} trigger for this user pool",
                )
            )

        self.client_ids = {}
        for env in args.resolved_client_environments:
            self.client_ids[env] = {}
            for frontend in FRONTENDS:
                client = aws.cognito.UserPoolClient(
                    f"{name}-{env}-{frontend}",
                    name=app_client_name(args.name_prefix, args.tenant_id, frontend, env),
                    user_pool_id=pool.id,
                    generate_secret=False,
                    explicit_auth_flows=list(AUTH_FLOWS),
                    prevent_user_existence_errors="ENABLED",
                    enable_token_revocation=True,
                    access_token_validity=TOKEN_MINUTES,
                    id_token_validity=TOKEN_MINUTES,
                    refresh_token_validity=REFRESH_HOURS[frontend],
                    auth_session_validity=3,
                    token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                        access_token="minutes", id_token="minutes", refresh_token="hours"
                    ),
                    read_attributes=list(READ_ATTRIBUTES),
                    write_attributes=list(WRITE_ATTRIBUTES),
                    supported_identity_providers=["COGNITO"],
                    allowed_oauth_flows_user_pool_client=False,
                    opts=child,
                )
                self.client_ids[env][frontend] = client.id

        self.user_pool_id = pool.id
        self.user_pool_arn = pool.arn
        self.issuer = issuer_for(region, pool.id)
        self.pre_authentication_function_arn = triggers.pre_authentication_arn
        self.pre_token_generation_function_arn = triggers.pre_token_generation_arn
        self.register_outputs(
            {
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "issuer": self.issuer,
                "client_ids": self.client_ids,
                datapaths.OUTPUT_KEY: datapaths.declare(invoke_paths),
            }
        )

    @property
    def outputs(self) -> TenantIdentityOutputs:
        """The read-only view shared with :class:`SharedTenantIdentities`."""
        return TenantIdentityOutputs(
            self.tenant_id, self.user_pool_id, self.user_pool_arn, self.issuer, self.client_ids
        )

    def export(self) -> dict[str, Any]:
        """This tenant's entry of the :data:`IDENTITY_EXPORT` stack output (see :func:`identity_export`)."""
        return {
            "userPoolId": self.user_pool_id,
            "userPoolArn": self.user_pool_arn,
            "issuer": self.issuer,
            "clientIds": self.client_ids,
        }


def user_pool_schemas() -> list[aws.cognito.UserPoolSchemaArgs]:
    """The pool's ``schemas`` argument, built only from the locked :data:`USER_POOL_SCHEMA`."""
    standard = [
        aws.cognito.UserPoolSchemaArgs(
            name=attr,
            attribute_data_type="String",
            mutable=True,
            required=True,
            developer_only_attribute=False,
            # Cognito's own constraints for standard attributes; anything else shows a perpetual diff.
            string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(
                min_length="0", max_length="2048"
            ),
        )
        for attr in USER_POOL_SCHEMA.required_standard_attributes
    ]
    custom = [
        aws.cognito.UserPoolSchemaArgs(
            name=a.name,
            attribute_data_type="String",
            mutable=a.mutable,
            required=False,  # Cognito does not support required custom attributes
            developer_only_attribute=False,
            string_attribute_constraints=aws.cognito.UserPoolSchemaStringAttributeConstraintsArgs(
                min_length=str(a.min_length), max_length=str(a.max_length)
            ),
        )
        for a in USER_POOL_SCHEMA.custom_attributes
    ]
    return [*standard, *custom]


def identity_export(environment: str, region: str, identities: Mapping[str, TenantIdentity]) -> dict[str, Any]:
    """The :data:`IDENTITY_EXPORT` stack output of an owning stack (contract version 1)::

    {"contractVersion": 1, "environment": "prod", "region": "ap-southeast-1",
     "tenants": {"acme": {"userPoolId": "...", "userPoolArn": "...", "issuer": "https://...",
                          "clientIds": {"dev": {"hr-admin": "...", "ess-mobile": "..."}, "staging": {...}}}}}
    """
    return {
        "contractVersion": IDENTITY_CONTRACT_VERSION,
        "environment": environment,
        "region": region,
        "tenants": {tenant: identity.export() for tenant, identity in identities.items()},
    }


# --------------------------------------------------------------------------------------- SharedTenantIdentities


class IdentityContractError(pulumi.RunError):
    """The owning stack's :data:`IDENTITY_EXPORT` output lacks what this stack needs."""


def read_tenant_export(exported: Any, source_stack: str, tenant_id: str, environment: str) -> dict[str, Any]:
    """Validate the owning stack's export and return ``tenant_id``'s entry; raise a clear error otherwise."""
    where = f"stack {source_stack!r} output {IDENTITY_EXPORT!r}"
    if not isinstance(exported, Mapping):
        raise IdentityContractError(
            f"{where} is missing or not an object; deploy the owning stack (saas:identity.mode: own) first"
        )
    version = exported.get("contractVersion")
    if version != IDENTITY_CONTRACT_VERSION:
        raise IdentityContractError(
            f"{where} has contractVersion {version!r}; this code reads version {IDENTITY_CONTRACT_VERSION}"
        )
    tenants = exported.get("tenants")
    if not isinstance(tenants, Mapping) or tenant_id not in tenants:
        known = sorted(tenants) if isinstance(tenants, Mapping) else []
        raise IdentityContractError(
            f"{where} has no user pool for tenant {tenant_id!r} (it exports {known}); add the tenant to that "
            "stack's saas:tenants and deploy it before this stack"
        )
    entry = tenants[tenant_id]
    missing = [
        k
        for k in ("userPoolId", "userPoolArn", "issuer", "clientIds")
        if not isinstance(entry, Mapping) or not entry.get(k)
    ]
    if missing:
        raise IdentityContractError(f"{where} tenant {tenant_id!r} lacks {missing}")
    clients = entry["clientIds"].get(environment) if isinstance(entry["clientIds"], Mapping) else None
    if not isinstance(clients, Mapping) or any(not clients.get(fe) for fe in FRONTENDS):
        raise IdentityContractError(
            f"{where} tenant {tenant_id!r} has no {environment!r} app clients for {list(FRONTENDS)} (it has "
            f"{sorted(entry['clientIds'])}); add {environment!r} to saas:identity.clientEnvironments of "
            f"{source_stack!r} and deploy it"
        )
    return dict(entry)


@dataclass(frozen=True, kw_only=True)
class SharedTenantIdentitiesArgs:
    """Arguments of :class:`SharedTenantIdentities`.

    Attributes:
        source_stack: the owning stack, ``<org>/<project>/<stack>`` (``saas:identity.sourceStack``).
        tenant_ids: tenants this stack serves (the system tenant is added automatically).
        environment: this stack's environment; the owning stack must export its clients.
    """

    source_stack: str
    tenant_ids: Sequence[str]
    environment: Environment

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", self.source_stack):
            raise ComponentArgError(
                f"source_stack must be a fully qualified stack name <org>/<project>/<stack>; got {self.source_stack!r}"
            )
        for t in self.tenant_ids:
            _check_tenant_id(t)
        _check_environment(self.environment, "environment")


class SharedTenantIdentities(pulumi.ComponentResource):
    """The tenants' user pools of another stack (``saas:identity.mode: shared``): no pool is created here.

    Reads the owning stack's :data:`IDENTITY_EXPORT` output through a ``StackReference`` and exposes one
    :class:`TenantIdentityOutputs` per tenant (plus ``system``). A tenant or environment the owning stack does
    not export fails the deployment with :class:`IdentityContractError` saying what to add where.

    Example::

        shared = SharedTenantIdentities("identity", SharedTenantIdentitiesArgs(
            source_stack="organization/saas/prod", tenant_ids=["acme"], environment="staging"))
        acme = shared.tenants["acme"]          # .user_pool_id, .issuer, .client_ids["staging"]

    Documentation:
        https://www.pulumi.com/docs/iac/concepts/stacks/#stackreferences
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-client-apps.html
    """

    tenants: dict[str, TenantIdentityOutputs]

    def __init__(self, name: str, args: SharedTenantIdentitiesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:identity:SharedTenantIdentities", name, None, opts)
        ref = pulumi.StackReference(
            f"{name}-source", stack_name=args.source_stack, opts=pulumi.ResourceOptions(parent=self)
        )
        exported = ref.get_output(IDENTITY_EXPORT)  # a missing output is reported by read_tenant_export
        self.tenants = {}
        for tenant in [*args.tenant_ids, SYSTEM_TENANT]:
            entry = exported.apply(
                lambda value, t=tenant: read_tenant_export(value, args.source_stack, t, args.environment)
            )
            self.tenants[tenant] = TenantIdentityOutputs(
                tenant_id=tenant,
                user_pool_id=entry.apply(lambda e: str(e["userPoolId"])),
                user_pool_arn=entry.apply(lambda e: str(e["userPoolArn"])),
                issuer=entry.apply(lambda e: str(e["issuer"])),
                client_ids={
                    args.environment: {
                        fe: entry.apply(lambda e, fe=fe: str(e["clientIds"][args.environment][fe])) for fe in FRONTENDS
                    }
                },
            )
        self.register_outputs({"source_stack": args.source_stack})


# ------------------------------------------------------------------------------------------- TenantIdentityPool


@dataclass(frozen=True, kw_only=True)
class TenantIdentityPoolArgs:
    """Arguments of :class:`TenantIdentityPool`.

    Attributes:
        tenant_id: the tenant (``system`` maps ``admin``/``superuser``/``support``).
        environment: this stack's environment.
        region: region of the user pool (the provider name ``cognito-idp.<region>.amazonaws.com/<poolId>``); may be
            an Output (e.g. from the owning stack). Default ``None``: the provider's region.
        user_pool_id: the tenant's user pool (never another tenant's); may come from another stack.
        client_ids: this environment's app clients of that pool (one per front end).
        name_prefix: prefix of the physical name ``<prefix>-<tenant>-<Env>``.
        principal_tags: Default ``False``. Map ``{"TenantId": "custom:tenantId"}`` into session tags (ABAC,
            ``saas:access.mode: abac``). Cognito then calls ``AssumeRoleWithWebIdentity`` with tags, which the
            roles' trust policies must allow (``sts:TagSession``); per-tenant roles scope by literal tenant keys
            and deliberately do not allow it (isolation invariant 7), so leave this off for them.
        extra_tags: added to the identity pool's tags.
    """

    tenant_id: str
    environment: Environment
    user_pool_id: pulumi.Input[str]
    client_ids: Sequence[pulumi.Input[str]]
    region: pulumi.Input[str] | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    principal_tags: bool = False
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_tenant_id(self.tenant_id)
        _check_environment(self.environment, "environment")
        if not self.client_ids:
            raise ComponentArgError(
                f"client_ids for tenant {self.tenant_id!r} is empty; pass this environment's app client ids "
                "(TenantIdentityOutputs.environment_client_ids(environment))"
            )


class TenantIdentityPool(pulumi.ComponentResource):
    """A tenant's Cognito identity pool in one environment: AWS credentials for that tenant's users only.

    Secure by default: no unauthenticated (guest) identities, classic flow off, exactly this tenant's user
    pool as provider with only this environment's app clients and server-side token check; in ABAC mode
    (``principal_tags=True``) principal tags ``{"TenantId": "custom:tenantId"}`` with ``use_defaults=False``. Roles are attached with
    :meth:`attach_roles` (rules on ``custom:tenantRole``, ``Equals`` only, ambiguous -> ``Deny``), because
    the roles' trust policies need this pool's id first.

    Example::

        pool = TenantIdentityPool("acme", TenantIdentityPoolArgs(
            tenant_id="acme", environment="dev", region="ap-southeast-1",
            user_pool_id=acme.user_pool_id, client_ids=acme.outputs.environment_client_ids("dev")))
        pool.attach_roles({"admin": admin_role.arn, "user": user_role.arn}, default_role_arn=user_role.arn)

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/identity-pools.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/attributes-for-access-control.html
    """

    identity_pool_id: pulumi.Output[str]
    identity_pool_arn: pulumi.Output[str]
    provider_name: pulumi.Output[str]

    def __init__(self, name: str, args: TenantIdentityPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:identity:TenantIdentityPool", name, None, opts)
        self._name = name
        self._args = args
        self._attachment: aws.cognito.IdentityPoolRoleAttachment | None = None
        child = pulumi.ResourceOptions(parent=self)
        self.provider_name = provider_name_for(resolve_region(args.region, self), args.user_pool_id)
        pool = aws.cognito.IdentityPool(
            f"{name}-identity-pool",
            identity_pool_name=identity_pool_name(args.name_prefix, args.tenant_id, args.environment),
            allow_unauthenticated_identities=False,
            allow_classic_flow=False,
            cognito_identity_providers=[
                aws.cognito.IdentityPoolCognitoIdentityProviderArgs(
                    provider_name=self.provider_name, client_id=client_id, server_side_token_check=True
                )
                for client_id in args.client_ids
            ],
            tags=tags(args.environment, "TenantIdentityPool", args.tenant_id, args.extra_tags),
            opts=child,
        )
        if args.principal_tags:
            aws.cognito.IdentityPoolProviderPrincipalTag(
                f"{name}-principal-tags",
                identity_pool_id=pool.id,
                identity_provider_name=self.provider_name,
                principal_tags=dict(PRINCIPAL_TAGS),
                use_defaults=False,
                opts=child,
            )
        self.identity_pool_id = pool.id
        self.identity_pool_arn = pool.arn
        self.register_outputs({"identity_pool_id": self.identity_pool_id})

    def attach_roles(
        self, role_arns: Mapping[str, pulumi.Input[str]], default_role_arn: pulumi.Input[str]
    ) -> aws.cognito.IdentityPoolRoleAttachment:
        """Map ``custom:tenantRole`` values to this tenant's roles; anything else is denied.

        Args:
            role_arns: claim value -> role ARN. Customer tenants: ``admin`` and ``user``; the system tenant:
                ``admin``, ``superuser``, ``support``. Every role must belong to this tenant and trust only
                this identity pool (the policy pack checks both).
            default_role_arn: the tenant's least-privileged role (``user``; ``support`` for the system
                tenant), set as ``roles.authenticated``. With ``ambiguous_role_resolution=Deny`` it is
                never used as a fallback for an unmatched claim.

        Returns:
            The ``IdentityPoolRoleAttachment`` (callers can ``depends_on`` it).
        """
        tenant = self._args.tenant_id
        allowed = _role_values(tenant)
        if self._attachment is not None:
            raise ComponentArgError(
                f"attach_roles was already called for tenant {tenant!r}; an identity pool has exactly one role "
                "attachment - pass every role in one call"
            )
        unknown = sorted(set(role_arns) - set(allowed))
        if unknown or not role_arns:
            raise ComponentArgError(
                f"role_arns for tenant {tenant!r} must map custom:tenantRole values {list(allowed)} to role ARNs; "
                f"got keys {sorted(role_arns)}"
            )
        least = allowed[-1]
        for label, arn in [*role_arns.items(), ("default_role_arn", default_role_arn)]:
            if isinstance(arn, str) and not ARN_RE.fullmatch(arn):
                raise ComponentArgError(f"{label} for tenant {tenant!r} must be an IAM role ARN; got {arn!r}")
        plain_default = default_role_arn if isinstance(default_role_arn, str) else None
        privileged = [v for k, v in role_arns.items() if k != least and isinstance(v, str)]
        if plain_default is not None and plain_default in privileged:
            raise ComponentArgError(
                f"default_role_arn for tenant {tenant!r} must be the least-privileged role ({least!r}), not "
                f"{plain_default!r}, which is mapped to a more privileged value"
            )
        rules = [
            aws.cognito.IdentityPoolRoleAttachmentRoleMappingMappingRuleArgs(
                claim=ROLE_CLAIM, match_type="Equals", value=value, role_arn=role_arns[value]
            )
            for value in allowed
            if value in role_arns
        ]
        self._attachment = aws.cognito.IdentityPoolRoleAttachment(
            f"{self._name}-roles",
            identity_pool_id=self.identity_pool_id,
            roles={"authenticated": default_role_arn},
            role_mappings=[
                aws.cognito.IdentityPoolRoleAttachmentRoleMappingArgs(
                    identity_provider=pulumi.Output.concat(self.provider_name, ":", client_id),
                    type="Rules",
                    ambiguous_role_resolution="Deny",
                    mapping_rules=rules,
                )
                for client_id in self._args.client_ids
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self._attachment
