"""``TenantAuthorization``: one tenant's Amazon Verified Permissions policy store for one environment.

The OptimalHR design ("Authorization - Amazon Verified Permissions"): each tenant has a dedicated policy store with a
schema, policy templates and policies, integrated with the tenant's Cognito user pool. Isolation
invariants 27-30 are what this component guarantees and ``policies/authorization.py`` enforces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import pulumi
import pulumi_aws as aws

from saas_platform.components.cedar import (
    CEDAR_NAMESPACE_RE,
    CedarAssets,
    default_assets,
    validate_assets,
)
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import SYSTEM_TENANT, TENANT_ID_RE, Environment, tags

R = TypeVar("R", bound=pulumi.Resource)

DEFAULT_POLICY_BATCH_SIZE: Final = 5
"""Policies and templates created concurrently per batch; each batch waits for the previous one."""


@dataclass(frozen=True, kw_only=True)
class TenantAuthorizationArgs:
    """Arguments of :class:`TenantAuthorization`.

    Attributes:
        tenant_id: the customer tenant (names, tags, the ``?resource`` of template links).
        environment: ``dev`` | ``staging`` | ``prod``.
        user_pool_id: the tenant's user pool id (``<region>_<id>``): the prefix of every Cognito entity id.
        user_pool_arn: the tenant's user pool ARN; the identity source is bound to it.
        client_ids: this environment's app client ids of that pool (non-empty): the identity source accepts
            tokens of these clients only (invariant 29).
        protect: Default ``True``. Deletion protection ``ENABLED`` on the store, and ``protect``/
            ``retain_on_delete`` in Pulumi. ``False`` only for throwaway stacks.
        assets: Cedar assets; default: the repository's (``components/assets/cedar``), validated once.
        namespace: the Cedar namespace of the principal, group and tenant entity types. Default ``None``: the
            assets' own (``OptimalHR`` for the shipped assets). When given, it must be the namespace the assets'
            schema declares, so a custom schema cannot be paired with the wrong entity types.
        policy_batch_size: Default 5. Policies/templates are created in chained batches of this size so a
            store with many policies does not hit AVP's control-plane throttling.
        extra_tags: additional tags for the store.
    """

    tenant_id: str
    environment: Environment
    user_pool_id: pulumi.Input[str]
    user_pool_arn: pulumi.Input[str]
    client_ids: Sequence[pulumi.Input[str]]
    protect: bool = True
    assets: CedarAssets | None = None
    namespace: str | None = None
    policy_batch_size: int = DEFAULT_POLICY_BATCH_SIZE
    extra_tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TENANT_ID_RE.fullmatch(self.tenant_id) or self.tenant_id == SYSTEM_TENANT:
            raise ComponentArgError(
                f"tenant_id must match {TENANT_ID_RE.pattern!r} and not be {SYSTEM_TENANT!r}; got {self.tenant_id!r}"
            )
        if isinstance(self.client_ids, str) or not list(self.client_ids):
            raise ComponentArgError(
                f"client_ids must be a non-empty list of this environment's app client ids of tenant "
                f"{self.tenant_id!r}; got {self.client_ids!r}. Without them AVP accepts tokens of any client of "
                "the pool (isolation invariant 29)"
            )
        for value in self.client_ids:
            if isinstance(value, str) and not value:
                raise ComponentArgError(f"client_ids of tenant {self.tenant_id!r} contains an empty id")
        if not 1 <= self.policy_batch_size <= 25:
            raise ComponentArgError(f"policy_batch_size must be 1-25; got {self.policy_batch_size}")
        if self.assets is not None:
            validate_assets(self.assets)
        if self.namespace is not None:
            if not CEDAR_NAMESPACE_RE.fullmatch(self.namespace):
                raise ComponentArgError(f"namespace must be a Cedar namespace like 'OptimalHR'; got {self.namespace!r}")
            declared = (self.assets or default_assets()).namespace
            if self.namespace != declared:
                raise ComponentArgError(
                    f"namespace {self.namespace!r} is not the one the Cedar schema declares ({declared!r}); pass "
                    "assets whose schema uses it, or leave namespace unset to use the schema's"
                )


class TenantAuthorization(pulumi.ComponentResource):
    """One tenant's AVP policy store for one environment, with everything it holds.

    * ``PolicyStore``: validation ``STRICT``; deletion protection ``ENABLED`` when ``protect``; a description
      naming the tenant and environment.
    * ``Schema`` (Cedar, namespace ``OptimalHR``), created before anything that is validated against it.
    * ``PolicyTemplate`` per template, static ``Policy`` per policy, template-linked ``Policy`` per link
      (principal: ``OptimalHR::UserGroup::"<userPoolId>|<group>"`` of this tenant's pool; resource:
      ``OptimalHR::Tenant::"<tenantId>"``), created in chained batches (``policy_batch_size``).
    * One ``IdentitySource`` bound to this tenant's pool and this environment's client ids, principal entity
      type ``OptimalHR::User``, group entity type ``OptimalHR::UserGroup``.

    Every Cedar asset is validated with cedarpy (STRICT) when the component is constructed; a broken policy
    raises :class:`saas_platform.components.cedar.CedarValidationError` naming the policy id and the Cedar error.

    Example::

        authz = TenantAuthorization("acme-authz", TenantAuthorizationArgs(
            tenant_id="acme", environment="dev", user_pool_id=identity.user_pool_id,
            user_pool_arn=identity.user_pool_arn, client_ids=list(identity.client_ids["dev"].values())))
        pulumi.export("acmeStore", authz.policy_store_id)

    Documentation:
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/policy-stores.html
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/identity-sources-cognito.html
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/policy-templates.html
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/quotas.html
    """

    policy_store_id: pulumi.Output[str]
    policy_store_arn: pulumi.Output[str]
    identity_source_id: pulumi.Output[str]
    namespace: str
    """The Cedar namespace of the store's entity types (pass it to ``TenantApiArgs.cedar_namespace``)."""
    tenant_id: str

    def __init__(self, name: str, args: TenantAuthorizationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        assets = args.assets or default_assets()  # validates before any registration
        super().__init__("saas:authorization:TenantAuthorization", name, None, opts)
        self.namespace = assets.namespace
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "TenantAuthorization", args.tenant_id, dict(args.extra_tags))
        store = aws.verifiedpermissions.PolicyStore(
            f"{name}-store",
            description=f"OptimalHR authorization for tenant {args.tenant_id} in {args.environment}",
            validation_settings=aws.verifiedpermissions.PolicyStoreValidationSettingsArgs(mode="STRICT"),
            deletion_protection="ENABLED" if args.protect else "DISABLED",
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        schema = aws.verifiedpermissions.Schema(
            f"{name}-schema",
            policy_store_id=store.policy_store_id,
            definition=aws.verifiedpermissions.SchemaDefinitionArgs(value=assets.schema_json),
            opts=child,
        )
        batches = _Batches(schema, args.policy_batch_size)
        templates: dict[str, aws.verifiedpermissions.PolicyTemplate] = {}
        for template in assets.templates:
            templates[template.id] = batches.add(
                lambda deps, t=template: aws.verifiedpermissions.PolicyTemplate(
                    f"{name}-template-{t.id}",
                    policy_store_id=store.policy_store_id,
                    description=t.description,
                    statement=t.statement,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
                )
            )
        for policy in assets.policies:
            batches.add(
                lambda deps, p=policy: aws.verifiedpermissions.Policy(
                    f"{name}-policy-{p.id}",
                    policy_store_id=store.policy_store_id,
                    definition=aws.verifiedpermissions.PolicyDefinitionArgs(
                        static=aws.verifiedpermissions.PolicyDefinitionStaticArgs(
                            statement=assets.render(p, args.tenant_id),
                            description=p.description.replace("{{tenantId}}", args.tenant_id),
                        )
                    ),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
                )
            )
        for link in assets.links:
            statement = assets.template(link.template).statement
            batches.add(
                lambda deps, lk=link, st=statement: aws.verifiedpermissions.Policy(
                    f"{name}-link-{lk.id}",
                    policy_store_id=store.policy_store_id,
                    definition=aws.verifiedpermissions.PolicyDefinitionArgs(
                        template_linked=aws.verifiedpermissions.PolicyDefinitionTemplateLinkedArgs(
                            policy_template_id=templates[lk.template].policy_template_id,
                            principal=aws.verifiedpermissions.PolicyDefinitionTemplateLinkedPrincipalArgs(
                                entity_type=assets.entity_type("UserGroup"),
                                entity_id=pulumi.Output.concat(args.user_pool_id, "|", lk.group),
                            )
                            if "?principal" in st
                            else None,
                            resource=aws.verifiedpermissions.PolicyDefinitionTemplateLinkedResourceArgs(
                                entity_type=assets.entity_type("Tenant"), entity_id=args.tenant_id
                            )
                            if "?resource" in st
                            else None,
                        )
                    ),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*deps, templates[lk.template]]),
                )
            )
        identity_source = aws.verifiedpermissions.IdentitySource(
            f"{name}-identity-source",
            policy_store_id=store.policy_store_id,
            principal_entity_type=assets.entity_type("User"),
            configuration=aws.verifiedpermissions.IdentitySourceConfigurationArgs(
                cognito_user_pool_configuration=aws.verifiedpermissions.IdentitySourceConfigurationCognitoUserPoolConfigurationArgs(
                    user_pool_arn=args.user_pool_arn,
                    client_ids=list(args.client_ids),
                    group_configuration=aws.verifiedpermissions.IdentitySourceConfigurationCognitoUserPoolConfigurationGroupConfigurationArgs(
                        group_entity_type=assets.entity_type("UserGroup")
                    ),
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[schema]),
        )
        self.tenant_id = args.tenant_id
        self.policy_store_id = store.policy_store_id
        self.policy_store_arn = store.arn
        self.identity_source_id = identity_source.id
        self.register_outputs(
            {
                "policy_store_id": self.policy_store_id,
                "policy_store_arn": self.policy_store_arn,
                "identity_source_id": self.identity_source_id,
            }
        )


class _Batches:
    """Chains resource creation: every member of batch *n* depends on the schema and all of batch *n-1*."""

    def __init__(self, schema: pulumi.Resource, size: int) -> None:
        self._schema = schema
        self._size = size
        self._previous: list[pulumi.Resource] = []
        self._current: list[pulumi.Resource] = []

    def add(self, build: Callable[[list[pulumi.Resource]], R]) -> R:
        if len(self._current) == self._size:
            self._previous, self._current = self._current, []
        resource = build([self._schema, *self._previous])
        self._current.append(resource)
        return resource
