"""``GroupAuthorization``: one organisation's role permissions as Cedar policies in Amazon Verified Permissions.

``TenantAuthorization`` gives every customer tenant of the platform its own policy store. A single-organisation
system (an ``AppUserPool`` with groups) needs one store whose policies grant actions to Cognito groups:

* the Cedar schema and policies are validated with cedarpy while the program runs (STRICT, as the store
  validates them) - a policy naming an unknown action or entity type fails the plan, not the deployment;
* ``{{userPoolId}}`` in a policy is replaced by the pool's id, so ``principal in Ns::UserGroup::"{{userPoolId}}|agent"``
  names the pool's ``agent`` group exactly as AVP's Cognito identity source maps it (``<poolId>|<group>``);
* the store has STRICT validation and deletion protection; its one identity source accepts only the listed app
  clients' tokens and maps ``cognito:groups`` to ``<namespace>::UserGroup``.

The store is tagged ``saas:store-scope=organization``: the policy pack treats it as the stack's one
organisation store instead of asking for a tenant tag.

Callers ask ``IsAuthorizedWithToken`` with the user's access token; a group without a permit is denied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cedarpy
import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

NAMESPACE_RE: Final = re.compile(r"[A-Z][A-Za-z0-9]{1,30}")
POLICY_ID_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,62}")
POOL_PLACEHOLDER: Final = "{{userPoolId}}"
VALIDATION_POOL_ID: Final = "eu-west-1_Validation"
"""Stands in for the pool id while validating (validation does not depend on entity ids)."""


def validate_cedar(policies: Mapping[str, str], schema: Mapping[str, Any]) -> None:
    """Raise :class:`ComponentArgError` unless every policy parses and validates against ``schema`` (STRICT)."""
    try:
        cedarpy.Schema.from_json_str(json.dumps(schema))
    except ValueError as exc:  # cedarpy raises ValueError for a schema that does not parse
        raise ComponentArgError(f"Cedar schema does not parse: {exc}") from None
    problems: list[str] = []
    for policy_id, text in policies.items():
        rendered = text.replace(POOL_PLACEHOLDER, VALIDATION_POOL_ID)
        result = cedarpy.validate_policies(rendered, dict(schema))
        if not result.validation_passed:
            problems.append(f"{policy_id}: " + "; ".join(str(e.error) for e in result.errors))
    if problems:
        raise ComponentArgError(f"Cedar policies do not validate against the schema: {' | '.join(problems)}")


@dataclass(frozen=True, kw_only=True)
class GroupAuthorizationArgs:
    """Arguments of :class:`GroupAuthorization`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        namespace: the schema's Cedar namespace (``Crm``); principals are ``<ns>::User``, groups ``<ns>::UserGroup``.
        schema: the Cedar schema (JSON form, as a dict).
        policies: ``{policy id: Cedar text}``; ``{{userPoolId}}`` is replaced by the pool id.
        user_pool_id / user_pool_arn: the ``AppUserPool``.
        client_ids: app clients whose tokens the store accepts (at least one).
        protect: Default ``True``: deletion protection on the store and Pulumi ``protect``.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    namespace: str
    schema: Mapping[str, Any]
    policies: Mapping[str, str]
    user_pool_id: pulumi.Input[str]
    user_pool_arn: pulumi.Input[str]
    client_ids: Sequence[pulumi.Input[str]]
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not NAMESPACE_RE.fullmatch(self.namespace):
            raise ComponentArgError(f"namespace must match {NAMESPACE_RE.pattern!r}; got {self.namespace!r}")
        if self.namespace not in self.schema:
            raise ComponentArgError(f"schema has no namespace {self.namespace!r}; it has {sorted(self.schema)}")
        types = (self.schema[self.namespace] or {}).get("entityTypes") or {}
        for needed in ("User", "UserGroup"):
            if needed not in types:
                raise ComponentArgError(f"schema namespace {self.namespace!r} needs entity type {needed!r}")
        if not self.policies:
            raise ComponentArgError("policies is empty: every request would be denied")
        for policy_id in self.policies:
            if not POLICY_ID_RE.fullmatch(policy_id):
                raise ComponentArgError(f"policy id must match {POLICY_ID_RE.pattern!r}; got {policy_id!r}")
        if not self.client_ids:
            raise ComponentArgError("client_ids is empty: the store would accept tokens of any app client")
        validate_cedar(self.policies, self.schema)


class GroupAuthorization(pulumi.ComponentResource):
    """A STRICT Verified Permissions store with Cedar policies per Cognito group and a Cognito identity source.

    Example::

        authz = GroupAuthorization("crm-authz", GroupAuthorizationArgs(
            environment="dev", namespace="Crm", schema=SCHEMA, policies=POLICIES,
            user_pool_id=pool.user_pool_id, user_pool_arn=pool.user_pool_arn,
            client_ids=[pool.client_ids["alb"]]))

    Documentation:
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/identity-sources.html
        https://docs.cedarpolicy.com/policies/syntax-policy.html
    """

    policy_store_id: pulumi.Output[str]
    policy_store_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GroupAuthorizationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:authorization:GroupAuthorization", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        store = aws.verifiedpermissions.PolicyStore(
            f"{name}-store",
            description=f"{args.namespace} role permissions ({args.environment})",
            validation_settings=aws.verifiedpermissions.PolicyStoreValidationSettingsArgs(mode="STRICT"),
            deletion_protection="ENABLED" if args.protect else "DISABLED",
            tags=tags(
                args.environment, "GroupAuthorization", extra={**args.extra_tags, "saas:store-scope": "organization"}
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        schema = aws.verifiedpermissions.Schema(
            f"{name}-schema",
            policy_store_id=store.policy_store_id,
            definition=aws.verifiedpermissions.SchemaDefinitionArgs(value=json.dumps(args.schema)),
            opts=child,
        )
        for policy_id, text in args.policies.items():
            aws.verifiedpermissions.Policy(
                f"{name}-policy-{policy_id}",
                policy_store_id=store.policy_store_id,
                definition=aws.verifiedpermissions.PolicyDefinitionArgs(
                    static=aws.verifiedpermissions.PolicyDefinitionStaticArgs(
                        statement=pulumi.Output.from_input(args.user_pool_id).apply(
                            lambda pool_id, t=text: t.replace(POOL_PLACEHOLDER, pool_id)
                        ),
                        description=policy_id,
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[schema]),
            )
        aws.verifiedpermissions.IdentitySource(
            f"{name}-identity-source",
            policy_store_id=store.policy_store_id,
            principal_entity_type=f"{args.namespace}::User",
            configuration=aws.verifiedpermissions.IdentitySourceConfigurationArgs(
                cognito_user_pool_configuration=aws.verifiedpermissions.IdentitySourceConfigurationCognitoUserPoolConfigurationArgs(
                    user_pool_arn=args.user_pool_arn,
                    client_ids=list(args.client_ids),
                    group_configuration=aws.verifiedpermissions.IdentitySourceConfigurationCognitoUserPoolConfigurationGroupConfigurationArgs(
                        group_entity_type=f"{args.namespace}::UserGroup"
                    ),
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[schema]),
        )
        self.policy_store_id = store.policy_store_id
        self.policy_store_arn = store.arn
        self.register_outputs({"policy_store_id": self.policy_store_id, "policy_store_arn": self.policy_store_arn})
