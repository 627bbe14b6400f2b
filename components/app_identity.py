"""``AppUserPool``: one organisation's Cognito user pool as an OAuth2/OIDC provider for its own applications.

``TenantIdentity`` serves the multi-tenant platform (one pool per customer tenant, tenant claims in every
token). Other systems built on this library serve a single organisation: staff and customers of one airline or
one bank. They need the same secure defaults without tenant claims:

* MFA ``ON`` with TOTP (``OPTIONAL`` only outside prod), admin-created users only, deletion protection, a
  12-character password policy, email as the username;
* Cognito groups for the system's roles (``cognito:groups`` in every token; precedence decides the IAM role
  when a group carries one);
* a resource server with the API's OAuth scopes (``<identifier>/<scope>`` in access tokens);
* app clients on the authorization-code flow only, SRP and refresh for direct sign-in, explicit read and write
  attributes, hidden user-existence errors, token revocation, 60-minute access and ID tokens;
* optionally a Cognito domain (managed login) for the hosted OAuth2/OIDC endpoints.

The pool is tagged ``saas:pool-scope=organization``: the policy pack does not ask an organisation pool for the
tenant claim attribute (it has no tenants), and checks everything else as for tenant pools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, USER_POOL_NAME_MAX, Environment, tags

TAG_POOL_SCOPE: Final = "saas:pool-scope"
ORGANIZATION_SCOPE: Final = "organization"
GROUP_NAME_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,63}")
SCOPE_RE: Final = re.compile(r"[a-z][a-z0-9._-]{0,63}")
IDENTIFIER_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,63}")
DOMAIN_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
CLIENT_NAME_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,63}")
STANDARD_SCOPES: Final = ("openid", "email", "profile")
CLIENT_READ_ATTRIBUTES: Final = ("email", "email_verified", "name")
CLIENT_WRITE_ATTRIBUTES: Final = ("name",)
TOKEN_MINUTES: Final = 60


@dataclass(frozen=True, kw_only=True)
class UserGroup:
    """A Cognito group: ``name`` (kebab-case), what it is for, and its precedence (lower wins, 0-1000)."""

    name: str
    description: str
    precedence: int

    def __post_init__(self) -> None:
        if not GROUP_NAME_RE.fullmatch(self.name):
            raise ComponentArgError(f"group name must match {GROUP_NAME_RE.pattern!r}; got {self.name!r}")
        if not 0 <= self.precedence <= 1000:
            raise ComponentArgError(f"group {self.name!r}: precedence must be 0-1000; got {self.precedence}")


@dataclass(frozen=True, kw_only=True)
class AppClient:
    """An OAuth2 app client.

    Attributes:
        name: kebab-case, unique in the pool.
        callback_urls: HTTPS redirect URLs after sign-in (``http://localhost`` is accepted outside prod only).
        logout_urls: HTTPS redirect URLs after sign-out.
        scopes: resource-server scope names (without the identifier) this client may request.
        generate_secret: Default ``False`` (public client, PKCE). ``True`` for confidential clients such as an
            Application Load Balancer's ``authenticate-cognito`` action, which requires a secret.
    """

    name: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    generate_secret: bool = False

    def __post_init__(self) -> None:
        if not CLIENT_NAME_RE.fullmatch(self.name):
            raise ComponentArgError(f"app client name must match {CLIENT_NAME_RE.pattern!r}; got {self.name!r}")
        if not self.callback_urls:
            raise ComponentArgError(f"app client {self.name!r} needs at least one callback URL")
        for url in (*self.callback_urls, *self.logout_urls):
            if not (url.startswith("https://") or url.startswith("http://localhost")):
                raise ComponentArgError(
                    f"app client {self.name!r}: {url!r} is not HTTPS (only http://localhost is allowed, for dev)"
                )


@dataclass(frozen=True, kw_only=True)
class AppUserPoolArgs:
    """Arguments of :class:`AppUserPool`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        pool_name: physical pool name (<= 128 characters).
        groups: the system's roles as Cognito groups (at least one).
        resource_server: identifier of the API's resource server (``compensation``); scopes become
            ``<identifier>/<scope>``.
        scopes: ``{scope: description}`` of the resource server (at least one).
        clients: the app clients (at least one).
        domain_prefix: Default ``None``. A Cognito domain prefix (``<prefix>.auth.<region>.amazoncognito.com``)
            for the hosted OAuth2/OIDC endpoints; required when a client is used by a load balancer or a
            browser redirect flow.
        mfa: Default ``"ON"``. ``"OPTIONAL"`` is refused in prod.
        feature_plan: Default ``"ESSENTIALS"``.
        protect: Default ``True``: deletion protection ``ACTIVE`` and Pulumi ``protect``. Only dev may turn it off.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    pool_name: str
    groups: tuple[UserGroup, ...]
    resource_server: str
    scopes: Mapping[str, str]
    clients: tuple[AppClient, ...]
    domain_prefix: str | None = None
    mfa: Literal["ON", "OPTIONAL"] = "ON"
    feature_plan: Literal["ESSENTIALS", "PLUS"] = "ESSENTIALS"
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not 1 <= len(self.pool_name) <= USER_POOL_NAME_MAX:
            raise ComponentArgError(f"pool_name must be 1-{USER_POOL_NAME_MAX} characters; got {self.pool_name!r}")
        if self.mfa not in ("ON", "OPTIONAL"):
            raise ComponentArgError(f"mfa must be 'ON' or 'OPTIONAL'; got {self.mfa!r}")
        if self.environment == "prod" and self.mfa != "ON":
            raise ComponentArgError("mfa='OPTIONAL' is refused in prod: every prod user signs in with a second factor")
        if self.environment == "prod" and not self.protect:
            raise ComponentArgError("protect=False is refused in prod: deleting the pool deletes every user")
        if not self.groups:
            raise ComponentArgError("groups is empty; name the system's roles (e.g. managers, employees)")
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ComponentArgError(f"group names must be unique; got {names}")
        if not IDENTIFIER_RE.fullmatch(self.resource_server):
            raise ComponentArgError(
                f"resource_server must match {IDENTIFIER_RE.pattern!r}; got {self.resource_server!r}"
            )
        if not self.scopes:
            raise ComponentArgError("scopes is empty; an API without scopes cannot be secured with OAuth scopes")
        for scope in self.scopes:
            if not SCOPE_RE.fullmatch(scope):
                raise ComponentArgError(f"scope must match {SCOPE_RE.pattern!r}; got {scope!r}")
        if not self.clients:
            raise ComponentArgError("clients is empty; add the application's app client")
        client_names = [c.name for c in self.clients]
        if len(set(client_names)) != len(client_names):
            raise ComponentArgError(f"app client names must be unique; got {client_names}")
        for client in self.clients:
            unknown = sorted(set(client.scopes) - set(self.scopes))
            if unknown:
                raise ComponentArgError(
                    f"app client {client.name!r} asks for scopes {unknown} that resource server "
                    f"{self.resource_server!r} does not define ({sorted(self.scopes)})"
                )
            if self.environment == "prod" and any(
                u.startswith("http://") for u in (*client.callback_urls, *client.logout_urls)
            ):
                raise ComponentArgError(f"app client {client.name!r}: prod redirect URLs must be HTTPS")
        if self.domain_prefix is not None and (
            not DOMAIN_RE.fullmatch(self.domain_prefix) or "cognito" in self.domain_prefix
        ):
            raise ComponentArgError(
                f"domain_prefix must be 1-63 lowercase letters, digits or '-' and not contain 'cognito'; "
                f"got {self.domain_prefix!r}"
            )

    def scope(self, name: str) -> str:
        """The full scope string in access tokens: ``<resource_server>/<name>``."""
        if name not in self.scopes:
            raise ComponentArgError(f"scope {name!r} is not one of {sorted(self.scopes)}")
        return f"{self.resource_server}/{name}"


class AppUserPool(pulumi.ComponentResource):
    """An organisation's Cognito user pool: MFA, groups, a resource server with OAuth scopes, app clients on the
    authorization-code flow and an optional hosted domain.

    Example::

        pool = AppUserPool("compensation-identity", AppUserPoolArgs(
            environment="dev", pool_name="compensation-dev",
            groups=(UserGroup(name="managers", description="Approve claims", precedence=10),),
            resource_server="compensation", scopes={"claims.read": "Read claims"},
            clients=(AppClient(name="web", callback_urls=("https://app.example.com/callback",),
                               scopes=("claims.read",)),)))
        pulumi.export("userPoolId", pool.user_pool_id)

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-mfa.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-user-groups.html
    """

    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    client_ids: dict[str, pulumi.Output[str]]
    client_secrets: dict[str, pulumi.Output[str]]
    group_names: tuple[str, ...]
    domain: pulumi.Output[str] | None

    def __init__(self, name: str, args: AppUserPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:identity:AppUserPool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(
            args.environment, "AppUserPool", extra={**args.extra_tags, TAG_POOL_SCOPE: ORGANIZATION_SCOPE}
        )
        pool = aws.cognito.UserPool(
            f"{name}-user-pool",
            name=args.pool_name,
            user_pool_tier=args.feature_plan,
            deletion_protection="ACTIVE" if args.protect else "INACTIVE",
            username_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(case_sensitive=False),
            auto_verified_attributes=["email"],
            user_attribute_update_settings=aws.cognito.UserPoolUserAttributeUpdateSettingsArgs(
                attributes_require_verification_before_updates=["email"]
            ),
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            mfa_configuration=args.mfa,
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        for group in args.groups:
            aws.cognito.UserGroup(
                f"{name}-{group.name}",
                user_pool_id=pool.id,
                name=group.name,
                description=group.description,
                precedence=group.precedence,
                opts=child,
            )
        server = aws.cognito.ResourceServer(
            f"{name}-resource-server",
            user_pool_id=pool.id,
            identifier=args.resource_server,
            name=args.resource_server,
            scopes=[
                aws.cognito.ResourceServerScopeArgs(scope_name=scope, scope_description=description)
                for scope, description in args.scopes.items()
            ],
            opts=child,
        )
        self.client_ids = {}
        self.client_secrets = {}
        for client in args.clients:
            resource = aws.cognito.UserPoolClient(
                f"{name}-{client.name}-client",
                name=f"{args.pool_name}-{client.name}",
                user_pool_id=pool.id,
                generate_secret=client.generate_secret,
                allowed_oauth_flows=["code"],
                allowed_oauth_flows_user_pool_client=True,
                allowed_oauth_scopes=[*STANDARD_SCOPES, *(args.scope(s) for s in client.scopes)],
                callback_urls=list(client.callback_urls),
                logout_urls=list(client.logout_urls) or None,
                supported_identity_providers=["COGNITO"],
                explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                prevent_user_existence_errors="ENABLED",
                enable_token_revocation=True,
                access_token_validity=TOKEN_MINUTES,
                id_token_validity=TOKEN_MINUTES,
                refresh_token_validity=30,
                token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                    access_token="minutes", id_token="minutes", refresh_token="days"
                ),
                read_attributes=list(CLIENT_READ_ATTRIBUTES),
                write_attributes=list(CLIENT_WRITE_ATTRIBUTES),
                # The scopes must exist on the resource server before a client may be granted them.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[server]),
            )
            self.client_ids[client.name] = resource.id
            if client.generate_secret:
                self.client_secrets[client.name] = pulumi.Output.secret(resource.client_secret)
        self.domain = None
        if args.domain_prefix is not None:
            domain = aws.cognito.UserPoolDomain(
                f"{name}-domain",
                domain=args.domain_prefix,
                user_pool_id=pool.id,
                managed_login_version=2,
                opts=child,
            )
            self.domain = domain.domain
        self.user_pool_id = pool.id
        self.user_pool_arn = pool.arn
        self.endpoint = pool.endpoint
        self.group_names = tuple(g.name for g in args.groups)
        self.register_outputs(
            {"user_pool_id": self.user_pool_id, "user_pool_arn": self.user_pool_arn, "client_ids": self.client_ids}
        )
