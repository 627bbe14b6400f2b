"""The data-path inventory: every runtime call a principal of this platform makes, with the request context AWS
supplies (docs/access.md, "Data paths").

Each component that creates a principal (a role, or a resource an AWS service acts on for us) declares the calls
that principal makes at run time as :class:`DataPath` values and registers them, serialized, as its
``dataPaths`` component output (one ``Output`` per component, not one per path). The offline plan collects them
into the plan JSON (``"dataPaths"``), where the authorization matrix in the test suite reads them and evaluates
each path - and its denied variants - over identity, resource, key, trust and session policies.

A path is a *template* over two placeholders:

* ``{tenant}`` - the tenant the call is made for. On the principal side (``session``) it is the caller's tenant;
  on the request side (``resource``, ``context``) it is the tenant whose data is reached. A declared path has
  both equal; the matrix's variants change only the request side (another tenant, a prefix-trap tenant such as
  ``acme`` vs ``acme-corp``) and expect a deny.
* ``{user}`` - the caller's Cognito identity id (``cognito-identity.amazonaws.com:sub``) where the model is per
  user; the "another user of the same tenant" variant changes it on the request side only.

``guards`` names the request-context keys the policies must require: dropping any one of them (no
``dynamodb:LeadingKeys``, no ``kms:ViaService``, no session tag...) must turn the decision into a deny.

Documentation:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi

from saas_platform.components.errors import ComponentArgError

TENANT: Final = "{tenant}"
"""Placeholder for the tenant a path serves (see the module docstring)."""
USER: Final = "{user}"
"""Placeholder for the caller's Cognito identity id, in per-user paths."""
OUTPUT_KEY: Final = "dataPaths"
"""The component output that carries a component's serialized paths (read by ``ProgramRun.data_paths``)."""

PrincipalType = Literal["role", "service", "federated"]
"""``role``: a session of the IAM role ``principal`` (an ARN); ``service``: an AWS service principal acting for
us (``logging.s3.amazonaws.com``); ``federated``: a web-identity request to STS (``cognito-identity.amazonaws.com``)."""
ContextValue = pulumi.Input[str] | Sequence[pulumi.Input[str]]

ACTION_RE: Final = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")
PLACEHOLDER_RE: Final = re.compile(r"\{[a-z]+\}")


@dataclass(frozen=True, kw_only=True)
class DataPath:
    """One runtime call: ``principal`` performs ``actions`` on ``resource`` with ``context``.

    Attributes:
        name: stable id, unique within the declaring component (``admin/items-write/Payroll``).
        principal: role ARN (``role``), service principal (``service``) or identity provider (``federated``).
        principal_type: see :data:`PrincipalType`.
        actions: exact IAM actions (no wildcards); each is evaluated separately.
        resource: the exact ARN of the request (an Output is fine), with ``{tenant}``/``{user}`` where they vary.
        context: request-context keys AWS sets for this call (``dynamodb:LeadingKeys``, ``kms:ViaService``,
            ``kms:EncryptionContext:aws:s3:arn``, ``aws:SourceArn``...). A key that is *absent* in the real
            request (for example no ``s3:x-amz-server-side-encryption`` under default encryption) is simply not
            listed.
        session: principal-side keys of the session (``aws:PrincipalTag/TenantId``,
            ``cognito-identity.amazonaws.com:sub``) - the same for every variant.
        session_policy: the session policy the caller passes to STS, if any (``{tenant}`` substituted).
        session_policy_from: the ARN of the Lambda function whose handler builds the session policy at run time
            (``handlers/msk_consumer.session_policy``), when it is not static.
        tenants: the tenants that take this path (``{tenant}`` is each in turn); empty when the path is not
            tenant-scoped (system roles, services).
        tenant_bound: True (default) when the principal acts for one tenant at a time, so the same call for
            another registered tenant must be denied. False for a principal that serves every registered tenant
            (the consumer assuming the writer role), where only an unregistered tenant must be refused.
        registry_checked: True when the tenant registry, checked by the handler before the call, is what refuses
            an unregistered (or suspended) tenant, so the principal's IAM documents stay constant in size and do
            not list tenants (the consumer assuming the writer role). The matrix then does not expect IAM to deny
            the unregistered-tenant variant; the handler tests with the registry prove that refusal.
        guards: context keys the policies must require (dropping one must deny).
        description: what the call is for, in one line.
    """

    name: str
    principal: pulumi.Input[str]
    principal_type: PrincipalType
    actions: tuple[str, ...]
    resource: pulumi.Input[str]
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    session: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    session_policy: pulumi.Input[Mapping[str, Any]] | None = None
    session_policy_from: pulumi.Input[str] | None = None
    tenants: tuple[str, ...] = ()
    tenant_bound: bool = True
    registry_checked: bool = False
    guards: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.actions:
            raise ComponentArgError(f"a data path needs a name and at least one action; got {self.name!r}")
        bad = [a for a in self.actions if not ACTION_RE.fullmatch(a)]
        if bad:
            raise ComponentArgError(f"data path {self.name!r}: actions must be exact IAM actions; got {bad}")
        missing = [g for g in self.guards if g not in self.context and g not in self.session]
        if missing:
            raise ComponentArgError(f"data path {self.name!r}: guards {missing} are not in its context or session")
        for text in self._plain_texts():
            if TENANT in text and not self.tenants:
                raise ComponentArgError(f"data path {self.name!r} uses {TENANT} but names no tenants")

    def _plain_texts(self) -> list[str]:
        values: list[Any] = [self.resource, *self.session.values()]
        for v in self.context.values():
            values += [v] if isinstance(v, str) else list(v) if isinstance(v, list | tuple) else [v]
        return [v for v in values if isinstance(v, str)]

    @property
    def per_user(self) -> bool:
        """True when the request side (resource, context) names the caller's identity (``{user}``)."""
        request: list[Any] = [self.resource]
        for v in self.context.values():
            request += list(v) if isinstance(v, list | tuple) else [v]
        return any(isinstance(t, str) and USER in t for t in request)

    def to_json(self) -> dict[str, Any]:
        """The serialized form (camelCase keys; Inputs left for ``Output.from_input`` to resolve)."""
        out: dict[str, Any] = {
            "name": self.name,
            "principal": self.principal,
            "principalType": self.principal_type,
            "actions": list(self.actions),
            "resource": self.resource,
            "context": {k: (list(v) if isinstance(v, list | tuple) else v) for k, v in self.context.items()},
            "session": dict(self.session),
            "tenants": list(self.tenants),
            "tenantBound": self.tenant_bound,
            "registryChecked": self.registry_checked,
            "guards": list(self.guards),
            "perUser": self.per_user,
            "description": self.description,
        }
        if self.session_policy is not None:
            out["sessionPolicy"] = self.session_policy
        if self.session_policy_from is not None:
            out["sessionPolicyFrom"] = self.session_policy_from
        return out


def declare(paths: Sequence[DataPath]) -> pulumi.Output[list[dict[str, Any]]]:
    """One Output holding every path of a component, serialized; register it as ``{OUTPUT_KEY: ...}``."""
    names = [p.name for p in paths]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ComponentArgError(f"data path names must be unique within a component; duplicated: {dupes}")
    resolved: pulumi.Output[list[dict[str, Any]]] = pulumi.Output.from_input([p.to_json() for p in paths])
    return resolved.apply(lambda ps: [{**p, "perUser": names_user(p)} for p in ps])


def names_user(path: Mapping[str, Any]) -> bool:
    """True when a serialized path's request side (resource, context) names the caller's identity (``{user}``)."""
    return USER in str(path.get("resource")) or USER in str(path.get("context"))


def substitute(value: Any, **values: str) -> Any:
    """``value`` (str, list or dict, nested) with ``{tenant}``/``{user}`` replaced by ``values`` (pure)."""
    if isinstance(value, str):
        return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(0)[1:-1], m.group(0)), value)
    if isinstance(value, list | tuple):
        return [substitute(v, **values) for v in value]
    if isinstance(value, Mapping):
        return {k: substitute(v, **values) for k, v in value.items()}
    return value


def dynamodb_kms_context(region: str) -> dict[str, str]:
    """What KMS sees when DynamoDB uses a customer managed table key on a caller's behalf."""
    return {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}


def s3_kms_context(region: str, bucket_arn: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """What KMS sees when S3 uses the bucket's key with an S3 Bucket Key: the encryption context is the *bucket*
    ARN (not the object's), so KMS permissions cannot be narrowed below the bucket."""
    return {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": bucket_arn}


def secure_transport() -> dict[str, str]:
    """Every SDK request: TLS, at least 1.2."""
    return {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
