"""Tenant data isolation: the IAM roles identity pools hand out (the OptimalHR design "IAM Model", isolation invariants 1-13, 38-39).

* :class:`TenantAccess` - per tenant per environment: ``TenantAdminRole`` + ``TenantAdminPolicy`` and
  ``TenantUserRole`` + ``TenantUserPolicy``, trusted only by that tenant's identity pool, scoped with
  ``dynamodb:LeadingKeys = TENANT#<tenant>`` and the ``tenants/<tenant>/`` document prefix.
* :class:`SharedTenantAccess` - the scale option (``saas:access.mode: abac``): one admin and one user role
  for a *shard* of tenants, scoped with ``TENANT#${aws:PrincipalTag/TenantId}``; each tenant's identity pool
  maps ``custom:tenantId`` to the ``TenantId`` principal tag.
* :class:`SystemAccess` - the system tenant's ``SystemAdminRole``/``SystemAdminPolicy`` (cross-tenant CRUD),
  ``SystemSuperuserRole`` (the admin policy; plus Scan only when asked) and
  ``SystemSupportRole``/``SystemSupportPolicy`` (cross-tenant read-only), trusted only by the system pool.

The documents come from the pure builders in :mod:`saas_platform.components.iam`; these components add names, tags,
attachments and the size checks (ComponentArgError when a document would exceed an IAM quota).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths, iam
from saas_platform.components.datapaths import TENANT, USER, DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import (
    DEFAULT_NAME_PREFIX,
    DOCUMENT_ROOT,
    ENVIRONMENTS,
    IAM_ROLE_NAME_MAX,
    SYSTEM_TENANT,
    TENANT_ID_RE,
    Environment,
    shared_role_name,
    system_role_name,
    tags,
    tenant_policy_name,
    tenant_role_name,
)
from saas_platform.components.pool_table import TENANT_KEY_PREFIX

MAX_SESSION_SECONDS: Final = 3600
SHARD_MAX: Final = 999
"""Highest ABAC shard number: 1,000 shards, enough for 1,000 tenants at one per role."""
"""Identity-pool sessions last at most one hour (the role's ``max_session_duration``)."""

AccessMode = Literal["perTenant", "abac"]


class IdentityPoolLike(Protocol):
    """What access needs from a tenant identity pool (issue 3's ``TenantIdentityPool`` satisfies it)."""

    @property
    def identity_pool_id(self) -> pulumi.Output[str]: ...

    def attach_roles(self, role_arns: Mapping[str, pulumi.Input[str]], default_role_arn: pulumi.Input[str]) -> Any: ...


def _check_common(
    environment: str, name_prefix: str, table_arns: Mapping[str, Any], indexes: Mapping[str, Any]
) -> None:
    if environment not in ENVIRONMENTS:
        raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {environment!r}")
    if not name_prefix or len(name_prefix) > 20:
        raise ComponentArgError(f"name_prefix must be 1-20 characters; got {name_prefix!r}")
    if not table_arns:
        raise ComponentArgError("table_arns is empty; pass Platform.table_arns (pool table base name -> ARN)")
    unknown = sorted(set(indexes) - set(table_arns))
    if unknown:
        raise ComponentArgError(
            f"tenant_index_names names tables {unknown} that are not in table_arns {sorted(table_arns)}; "
            "pass PoolTable.tenant_index_names per table"
        )


def _check_user_tables(user_tables: Sequence[str] | None, table_arns: Mapping[str, Any]) -> None:
    if user_tables is None:
        return
    unknown = sorted(set(user_tables) - set(table_arns))
    if unknown or not user_tables:
        raise ComponentArgError(
            f"user_tables must be a non-empty subset of table_arns {sorted(table_arns)}; got {user_tables}"
        )
    sensitive = sorted(set(user_tables) & set(iam.SENSITIVE_TABLES))
    if sensitive:
        raise ComponentArgError(
            f"user_tables {sensitive} are sensitive: tenant users reach them only through the API (Cedar decides per "
            f"record); drop them from user_tables"
        )


def _check_role_names(names: Sequence[str]) -> None:
    for n in names:
        if len(n) > IAM_ROLE_NAME_MAX:
            raise ComponentArgError(f"IAM role name {n!r} is {len(n)} characters; AWS allows {IAM_ROLE_NAME_MAX}")


def _checked_json(document: Mapping[str, Any], limit: int, what: str) -> str:
    """Serialize once, failing the program if IAM would reject the size (invariant 13)."""
    size = iam.document_size(document)
    if size > limit:
        raise ComponentArgError(
            f"{what} is {size} characters (whitespace excluded); IAM allows {limit}. Split the tables across "
            "roles or use saas:access.mode: abac with a smaller saas:access.tenantsPerRole"
        )
    return json.dumps(document)


def _arn_lists(
    table_arns: Mapping[str, pulumi.Input[str]], indexes: Mapping[str, Sequence[str]], tables: Sequence[str] | None
) -> tuple[list[str], pulumi.Output[list[str]]]:
    bases = sorted(table_arns) if tables is None else list(tables)
    return bases, pulumi.Output.all(*[table_arns[b] for b in bases])


def policy_key(
    kms_key_arn: pulumi.Input[str] | None, alias: str | None, account_id: pulumi.Input[str] | None, region: str | None
) -> pulumi.Input[str] | None:
    """What the policies name as the key: ``key/*`` + alias (known at preview) when alias and account are given."""
    if kms_key_arn is None:
        return None
    if alias is not None and account_id is not None and region is not None:
        return pulumi.Output.concat("arn:aws:kms:", region, ":", account_id, ":key/*")
    return kms_key_arn


def role_tables(
    role: Literal["admin", "user"], table_bases: Sequence[str], user_tables: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """``(write, read_only)`` table base names of a tenant role: admins write every pool table but the
    pipeline-owned ones, which they only read; users reach only ``user_tables`` (default: none - the API only)."""
    if role == "admin":
        return (
            [b for b in table_bases if b not in iam.PIPELINE_TABLES],
            [b for b in table_bases if b in iam.PIPELINE_TABLES],
        )
    return [], list(user_tables or ())


def _tenant_policy_output(
    *,
    tenant_id: str | None,
    table_arns: Mapping[str, pulumi.Input[str]],
    indexes: Mapping[str, Sequence[str]],
    write_tables: Sequence[str],
    read_tables: Sequence[str],
    bucket: pulumi.Output[str] | None,
    kms_key_arn: pulumi.Input[str] | None,
    kms_key_alias: str | None,
    region: str | None,
    actions: Sequence[str],
    objects: Sequence[str],
    per_identity: bool,
    sid: str,
    what: str,
) -> pulumi.Output[str]:
    """The JSON of a tenant policy (literal tenant or ABAC), size-checked once its inputs are known."""
    bases = [*write_tables, *read_tables]
    inputs: list[Any] = [
        pulumi.Output.all(*[table_arns[b] for b in bases]),
        bucket if bucket is not None else "",
        kms_key_arn if kms_key_arn is not None else "",
    ]

    def build(v: list[Any]) -> str:
        by_base = dict(zip(bases, v[0], strict=True))
        return _checked_json(
            iam.tenant_policy(
                tenant_id=tenant_id,
                table_arns=[by_base[b] for b in write_tables],
                read_only_table_arns=[by_base[b] for b in read_tables],
                tenant_indexes={by_base[b]: list(ix) for b, ix in indexes.items() if b in by_base and ix},
                table_actions=actions,
                bucket_arn=v[1] or None,
                object_actions=objects,
                per_identity_objects=per_identity,
                kms_key_arn=v[2] or None,
                kms_key_alias=kms_key_alias,
                region=region,
                sid=sid,
            ),
            iam.MANAGED_POLICY_MAX_CHARS,
            what,
        )

    return pulumi.Output.all(*inputs).apply(build)


class _RoleFactory:
    """Creates role + customer-managed policy + attachment triples under one component."""

    def __init__(self, parent: pulumi.ComponentResource, name: str, resource_tags: Mapping[str, str]) -> None:
        self.child = pulumi.ResourceOptions(parent=parent)
        self.name = name
        self.tags = dict(resource_tags)

    def role(self, key: str, role_name: str, trust: pulumi.Output[str], description: str) -> aws.iam.Role:
        return aws.iam.Role(
            f"{self.name}-{key}-role",
            name=role_name,
            description=description,
            assume_role_policy=trust,
            max_session_duration=MAX_SESSION_SECONDS,
            tags=self.tags,
            opts=self.child,
        )

    def policy(self, key: str, policy_name: str, document: pulumi.Output[str], description: str) -> aws.iam.Policy:
        return aws.iam.Policy(
            f"{self.name}-{key}-policy",
            name=policy_name,
            description=description,
            policy=document,
            tags=self.tags,
            opts=self.child,
        )

    def attach(self, key: str, role: aws.iam.Role, policy: aws.iam.Policy) -> aws.iam.RolePolicyAttachment:
        return aws.iam.RolePolicyAttachment(
            f"{self.name}-{key}-attachment", role=role.name, policy_arn=policy.arn, opts=self.child
        )


def _trust(
    pool_ids: Sequence[pulumi.Input[str]],
    *,
    tag_session: bool,
    limit: int,
    what: str,
    tenant_ids: Sequence[str] | None = None,
) -> pulumi.Output[str]:
    return pulumi.Output.all(*pool_ids).apply(
        lambda ids: _checked_json(
            iam.identity_pool_trust_policy(list(ids), tag_session=tag_session, tenant_ids=tenant_ids), limit, what
        )
    )


WEB_IDENTITY_AMR: Final = "authenticated"
USER_DOCUMENT_SEGMENT: Final = "users"
"""Users' own documents live under ``tenants/<tenant>/users/<identity id>/``."""
SUB_KEY: Final = "cognito-identity.amazonaws.com:sub"
"""The caller's identity id in a web-identity session (``${cognito-identity.amazonaws.com:sub}``)."""


def web_identity_paths(
    *, key: str, role_arn: pulumi.Input[str], pools: Mapping[str, pulumi.Input[str]], tag_session: bool
) -> list[DataPath]:
    """Cognito asking STS for the role on behalf of an authenticated identity of each tenant's pool."""
    out: list[DataPath] = []
    for tenant, pool_id in pools.items():
        context: dict[str, datapaths.ContextValue] = {
            iam.AUD_KEY: pool_id,
            iam.AMR_KEY: [WEB_IDENTITY_AMR, f"cognito-identity.amazonaws.com:{USER}"],
        }
        if tag_session:
            context |= {f"aws:RequestTag/{iam.TENANT_TAG_KEY}": TENANT, "aws:TagKeys": [iam.TENANT_TAG_KEY]}
        out.append(
            DataPath(
                name=f"{key}/assume/{tenant}",
                principal=iam.COGNITO_IDENTITY,
                principal_type="federated",
                actions=(iam.ASSUME_ROLE_WITH_WEB_IDENTITY, iam.TAG_SESSION)
                if tag_session
                else (iam.ASSUME_ROLE_WITH_WEB_IDENTITY,),
                resource=role_arn,
                context=context,
                tenants=(tenant,),
                guards=(iam.AUD_KEY, iam.AMR_KEY),
                description=f"an authenticated identity of {tenant}'s identity pool takes the role",
            )
        )
    return out


def tenant_role_paths(
    *,
    key: str,
    role_arn: pulumi.Input[str],
    tenants: Sequence[str],
    abac: bool,
    region: str | None,
    table_arns: Mapping[str, pulumi.Input[str]],
    write_tables: Sequence[str],
    read_tables: Sequence[str],
    bucket_arn: pulumi.Input[str] | None,
    kms_key_arn: pulumi.Input[str] | None,
    object_actions: Sequence[str],
    per_user_documents: bool,
) -> list[DataPath]:
    """The runtime calls of a tenant role (both modes): item calls on its tables, the key through DynamoDB, and
    document calls (per tenant, or per identity for users) with the key through S3."""
    session: dict[str, pulumi.Input[str]] = {SUB_KEY: USER}
    tag_guard: tuple[str, ...] = ()
    if abac:
        session[f"aws:PrincipalTag/{iam.TENANT_TAG_KEY}"] = TENANT
        tag_guard = (f"aws:PrincipalTag/{iam.TENANT_TAG_KEY}",)
    keys: dict[str, datapaths.ContextValue] = {iam.LEADING_KEYS: [f"{TENANT_KEY_PREFIX}{TENANT}"]}

    def path(  # noqa: PLR0917 - one positional per DataPath field keeps the six call sites readable
        name: str,
        actions: Sequence[str],
        resource: pulumi.Input[str],
        context: Mapping[str, datapaths.ContextValue],
        guards: Sequence[str],
        description: str,
    ) -> DataPath:
        return DataPath(
            name=f"{key}/{name}",
            principal=role_arn,
            principal_type="role",
            actions=tuple(actions),
            resource=resource,
            context=context,
            session=session,
            tenants=tuple(tenants),
            guards=tuple(guards),
            description=description,
        )

    out: list[DataPath] = []
    for base, actions in [
        *((b, iam.TENANT_ADMIN_TABLE_ACTIONS) for b in write_tables),
        *((b, iam.TENANT_USER_TABLE_ACTIONS) for b in read_tables),
    ]:
        out.append(
            path(
                f"items/{base}",
                actions,
                table_arns[base],
                keys,
                (iam.LEADING_KEYS, *tag_guard),
                f"items of the tenant's partition of {base}",
            )
        )
    if kms_key_arn is not None and region is not None and (write_tables or read_tables):
        out.append(
            path(
                "table-key",
                ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
                if write_tables
                else ("kms:Decrypt", "kms:DescribeKey"),
                kms_key_arn,
                datapaths.dynamodb_kms_context(region),
                ("kms:ViaService",),
                "DynamoDB uses the environment key for the caller",
            )
        )
    if bucket_arn is not None:
        prefix = f"{DOCUMENT_ROOT}/{TENANT}/" + (f"{USER_DOCUMENT_SEGMENT}/{USER}/" if per_user_documents else "")
        owner_guard: tuple[str, ...] = (SUB_KEY,) if per_user_documents else ()
        out += [
            path(
                "documents",
                object_actions,
                pulumi.Output.concat(bucket_arn, "/", prefix, "payslip.pdf"),
                datapaths.secure_transport(),
                (*tag_guard, *owner_guard),
                "document calls under the prefix (no SSE header: the bucket's default encryption applies)",
            ),
            path(
                "documents-list",
                iam.LIST_BUCKET_ACTIONS,
                bucket_arn,
                {**datapaths.secure_transport(), "s3:prefix": prefix},
                ("s3:prefix", *tag_guard, *owner_guard),
                "listing the prefix",
            ),
        ]
        if kms_key_arn is not None and region is not None:
            writes = any(a in object_actions for a in ("s3:PutObject",))
            out.append(
                path(
                    "documents-key",
                    iam.S3_KMS_WRITE_ACTIONS if writes else iam.S3_KMS_READ_ACTIONS,
                    kms_key_arn,
                    datapaths.s3_kms_context(region, bucket_arn),
                    ("kms:ViaService", "kms:EncryptionContext:aws:s3:arn"),
                    "S3 uses the bucket's key (with an S3 Bucket Key the context is the bucket ARN)",
                )
            )
    return out


def _tenant_paths(
    *,
    admin_arn: pulumi.Input[str],
    user_arn: pulumi.Input[str],
    tenants: Sequence[str],
    pools: Mapping[str, pulumi.Input[str]],
    abac: bool,
    region: str | None,
    table_arns: Mapping[str, pulumi.Input[str]],
    user_tables: Sequence[str] | None,
    bucket_arn: pulumi.Input[str] | None,
    kms_key_arn: pulumi.Input[str] | None,
) -> list[DataPath]:
    """Both tenant roles' paths: admins write the tenant's rows (read-only on pipeline-owned tables) and documents;
    users reach only their own documents (``users/<identity id>/``) and the tables named in ``user_tables``."""
    bases = sorted(table_arns)
    common: dict[str, Any] = {"tenants": tenants, "abac": abac, "region": region, "table_arns": table_arns}
    paths = [
        *web_identity_paths(key="admin", role_arn=admin_arn, pools=pools, tag_session=abac),
        *web_identity_paths(key="user", role_arn=user_arn, pools=pools, tag_session=abac),
        *tenant_role_paths(
            key="admin",
            role_arn=admin_arn,
            write_tables=[b for b in bases if b not in iam.PIPELINE_TABLES],
            read_tables=[b for b in bases if b in iam.PIPELINE_TABLES],
            bucket_arn=bucket_arn,
            kms_key_arn=kms_key_arn,
            object_actions=iam.TENANT_ADMIN_OBJECT_ACTIONS,
            per_user_documents=False,
            **common,
        ),
        *tenant_role_paths(
            key="user",
            role_arn=user_arn,
            write_tables=[],
            read_tables=list(user_tables or ()),
            bucket_arn=bucket_arn,
            kms_key_arn=kms_key_arn,
            object_actions=iam.TENANT_USER_OBJECT_ACTIONS,
            per_user_documents=True,
            **common,
        ),
    ]
    return paths


@dataclass(frozen=True, kw_only=True)
class TenantAccessArgs:
    """Arguments of :class:`TenantAccess`.

    Attributes:
        tenant_id: the customer tenant (``[a-z][a-z0-9-]{1,30}``, never ``system``).
        environment: ``dev`` | ``staging`` | ``prod``; part of role and policy names.
        identity_pool_id: this tenant's identity pool in this environment; the roles' trust policies name it
            as the single ``cognito-identity.amazonaws.com:aud`` value.
        table_arns: pool-table base name -> exact table ARN (``Platform.table_arns``). Build them from known
            values (account, region, name) so policies are known at preview (invariant 48).
        tenant_index_names: base name -> names of indexes keyed by ``TenantId`` (``PoolTable.tenant_index_names``).
            Only these index ARNs appear in tenant policies (invariant 6).
        document_bucket_arn: the document bucket; ``None`` leaves S3 out of both policies.
        user_tables: base names the user role may read directly. Default ``None``: none - employees reach rows only
            through the API, where Cedar decides per record (IAM cannot tell one employee's rows from another's
            inside the tenant's partition). Never the sensitive tables (Employment, PIM, Payroll).
        kms_key_arn: the environment key the tables and the document bucket are encrypted with; the policies then
            hold it through DynamoDB and S3 only (``kms:ViaService``). Needs ``region``.
        kms_key_alias, account_id: with both, the policies name ``arn:aws:kms:<region>:<account>:key/*`` narrowed by
            ``kms:ResourceAliases`` to the key with that alias, so they are known at the first preview (isolation
            invariant 48); without them, the exact ``kms_key_arn``.
        region: the stack's region (``kms:ViaService`` values).
        name_prefix: prefix of physical names (``saas:namePrefix``).
        extra_tags: merged under the ``saas:*`` tags.
    """

    tenant_id: str
    environment: Environment
    identity_pool_id: pulumi.Input[str]
    table_arns: Mapping[str, pulumi.Input[str]]
    tenant_index_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    document_bucket_arn: pulumi.Input[str] | None = None
    user_tables: tuple[str, ...] | None = None
    kms_key_arn: pulumi.Input[str] | None = None
    kms_key_alias: str | None = None
    account_id: pulumi.Input[str] | None = None
    region: str | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TENANT_ID_RE.fullmatch(self.tenant_id) or self.tenant_id == SYSTEM_TENANT:
            raise ComponentArgError(
                f"tenant_id must match {TENANT_ID_RE.pattern!r} and not be {SYSTEM_TENANT!r} "
                f"(the system tenant uses SystemAccess); got {self.tenant_id!r}"
            )
        _check_common(self.environment, self.name_prefix, self.table_arns, self.tenant_index_names)
        _check_user_tables(self.user_tables, self.table_arns)
        if self.kms_key_arn is not None and self.region is None:
            raise ComponentArgError("kms_key_arn needs region (the kms:ViaService condition names it)")
        _check_role_names(
            [
                tenant_role_name(self.name_prefix, self.tenant_id, r, self.environment)
                for r in ("TenantAdminRole", "TenantUserRole")
            ]
        )


class TenantAccess(pulumi.ComponentResource):
    """One tenant's roles in one environment (the OptimalHR design: ``TenantAdminRole``/``TenantUserRole``).

    Both roles trust only ``identity_pool_id`` (authenticated identities), and their policies reach only rows
    whose partition key is ``TENANT#<tenant>`` and objects under ``tenants/<tenant>/``:

    * ``TenantAdminPolicy``: GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, BatchWriteItem,
      ConditionCheckItem on every pool table; Get/Put/DeleteObject and multipart clean-up under the prefix.
    * ``TenantUserPolicy``: GetItem, BatchGetItem, Query; GetObject/PutObject (no delete) under the prefix.

    Never Scan, PartiQL, streams or control-plane actions; resources are exact table ARNs and tenant-keyed
    index ARNs. A document over the IAM size quota fails the program with ``ComponentArgError``.

    Example::

        access = TenantAccess("acme-access", TenantAccessArgs(
            tenant_id="acme", environment="dev", identity_pool_id=pool.identity_pool_id,
            table_arns=platform.table_arns, document_bucket_arn=platform.document_bucket_arn))
        pool.attach_roles({"admin": access.admin_role_arn, "user": access.user_role_arn}, access.user_role_arn)

    Documentation:
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
        https://docs.aws.amazon.com/cognito/latest/developerguide/role-trust-and-permissions.html
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    """

    admin_role_arn: pulumi.Output[str]
    user_role_arn: pulumi.Output[str]
    admin_role_name: pulumi.Output[str]
    user_role_name: pulumi.Output[str]
    admin_policy_arn: pulumi.Output[str]
    user_policy_arn: pulumi.Output[str] | None
    """None when the user role has nothing to hold (no ``user_tables`` and no document bucket)."""

    def __init__(self, name: str, args: TenantAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:access:TenantAccess", name, None, opts)
        t, env, prefix = args.tenant_id, args.environment, args.name_prefix
        make = _RoleFactory(self, name, tags(env, "TenantAccess", tenant=t, extra=args.extra_tags))
        trust = _trust(
            [args.identity_pool_id], tag_session=False, limit=iam.TRUST_POLICY_MAX_CHARS, what=f"{t} trust policy"
        )
        bucket = pulumi.Output.from_input(args.document_bucket_arn) if args.document_bucket_arn is not None else None

        def document(
            role: Literal["admin", "user"], actions: Sequence[str], objects: Sequence[str], sid: str
        ) -> pulumi.Output[str]:
            write, read = role_tables(role, sorted(args.table_arns), args.user_tables)
            return _tenant_policy_output(
                tenant_id=t,
                table_arns=args.table_arns,
                indexes=args.tenant_index_names,
                write_tables=write,
                read_tables=read,
                bucket=bucket,
                kms_key_arn=policy_key(args.kms_key_arn, args.kms_key_alias, args.account_id, args.region),
                kms_key_alias=args.kms_key_alias,
                region=args.region,
                actions=actions,
                objects=objects,
                per_identity=role == "user",
                sid=sid,
                what=f"{sid} policy of tenant {t}",
            )

        admin_role = make.role(
            "admin", tenant_role_name(prefix, t, "TenantAdminRole", env), trust, f"{t} tenant administrators ({env})"
        )
        admin_policy = make.policy(
            "admin",
            tenant_policy_name(prefix, t, "TenantAdminPolicy", env),
            document("admin", iam.TENANT_ADMIN_TABLE_ACTIONS, iam.TENANT_ADMIN_OBJECT_ACTIONS, "TenantAdmin"),
            f"Item CRUD on TENANT#{t} rows (pipeline tables read-only) and tenants/{t}/ documents",
        )
        make.attach("admin", admin_role, admin_policy)
        user_role = make.role(
            "user", tenant_role_name(prefix, t, "TenantUserRole", env), trust, f"{t} tenant users ({env})"
        )
        user_policy: aws.iam.Policy | None = None
        if args.user_tables or args.document_bucket_arn is not None:
            user_policy = make.policy(
                "user",
                tenant_policy_name(prefix, t, "TenantUserPolicy", env),
                document("user", iam.TENANT_USER_TABLE_ACTIONS, iam.TENANT_USER_OBJECT_ACTIONS, "TenantUser"),
                f"Own documents under tenants/{t}/users/<identity>/; rows only through the API",
            )
            make.attach("user", user_role, user_policy)
        self.admin_role_arn, self.user_role_arn = admin_role.arn, user_role.arn
        self.admin_role_name, self.user_role_name = admin_role.name, user_role.name
        self.admin_policy_arn = admin_policy.arn
        self.user_policy_arn = user_policy.arn if user_policy is not None else None
        self.data_paths = datapaths.declare(
            _tenant_paths(
                admin_arn=admin_role.arn,
                user_arn=user_role.arn,
                tenants=(t,),
                pools={t: args.identity_pool_id},
                abac=False,
                region=args.region,
                table_arns=args.table_arns,
                user_tables=args.user_tables,
                bucket_arn=args.document_bucket_arn,
                kms_key_arn=args.kms_key_arn,
            )
        )
        self.register_outputs(
            {
                "admin_role_arn": self.admin_role_arn,
                "user_role_arn": self.user_role_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )


@dataclass(frozen=True, kw_only=True)
class SharedTenantAccessArgs:
    """Arguments of :class:`SharedTenantAccess` (one shard of tenants in ABAC mode).

    Attributes:
        shard: shard number (``0``-``999``), part of the role names (``...-TenantAdminRole-S00-Dev``; three
            digits from shard 100).
        tenant_ids: the tenants of this shard, in the same order as ``identity_pool_ids``.
        identity_pool_ids: each tenant's identity pool; every pool must map ``custom:tenantId`` to the
            ``TenantId`` principal tag (``IdentityPoolProviderPrincipalTag``, ``use_defaults=False``).
        region: the stack's region; with ``trust_policy_max_chars`` it fixes how many pools one trust policy
            holds with 25% headroom (:func:`saas_platform.components.iam.abac_tenants_per_role`).
        trust_policy_max_chars: 2,048 (default quota) or 4,096 (after a recorded quota increase).
        table_arns, tenant_index_names, document_bucket_arn, user_tables, name_prefix, extra_tags: as for
            :class:`TenantAccessArgs`.
        cell: Default ``None`` (the platform stack). In cell stack ``<env>-cell-NN`` its number, part of the role
            names (``...-TenantAdminRole-C01-S00-Dev``) so the cells of an environment never collide.
    """

    shard: int
    environment: Environment
    region: str
    tenant_ids: tuple[str, ...]
    identity_pool_ids: tuple[pulumi.Input[str], ...]
    table_arns: Mapping[str, pulumi.Input[str]]
    tenant_index_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    document_bucket_arn: pulumi.Input[str] | None = None
    user_tables: tuple[str, ...] | None = None
    kms_key_arn: pulumi.Input[str] | None = None
    kms_key_alias: str | None = None
    account_id: pulumi.Input[str] | None = None
    trust_policy_max_chars: Literal[2048, 4096] = 2048
    name_prefix: str = DEFAULT_NAME_PREFIX
    cell: int | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_common(self.environment, self.name_prefix, self.table_arns, self.tenant_index_names)
        if not 0 <= self.shard <= SHARD_MAX:
            raise ComponentArgError(f"shard must be 0-{SHARD_MAX}; got {self.shard}")
        bad = [t for t in self.tenant_ids if not TENANT_ID_RE.fullmatch(t) or t == SYSTEM_TENANT]
        if bad or not self.tenant_ids or len(set(self.tenant_ids)) != len(self.tenant_ids):
            raise ComponentArgError(f"tenant_ids must be unique customer tenant ids; got {self.tenant_ids}")
        if len(self.identity_pool_ids) != len(self.tenant_ids):
            raise ComponentArgError(
                f"identity_pool_ids has {len(self.identity_pool_ids)} entries for {len(self.tenant_ids)} tenants; "
                "pass one pool per tenant, in the same order"
            )
        capacity = iam.abac_tenants_per_role(self.region, self.trust_policy_max_chars)
        if len(self.tenant_ids) > capacity:
            raise ComponentArgError(
                f"shard {self.shard} has {len(self.tenant_ids)} tenants; a {self.trust_policy_max_chars}-character "
                f"trust policy in {self.region} holds {capacity} identity pools with the 25% size headroom the "
                "policy pack requires (iam-document-headroom). Use more shards (saas:access.tenantsPerRole) or "
                "record a quota increase (saas:access.trustPolicyQuota: 4096)"
            )
        _check_user_tables(self.user_tables, self.table_arns)
        _check_role_names(
            [shared_role_name(self.name_prefix, "TenantAdminRole", self.shard, self.environment, self.cell)]
        )


class SharedTenantAccess(pulumi.ComponentResource):
    """ABAC roles for a shard of tenants: one ``TenantAdminRole`` and one ``TenantUserRole`` whose policies
    use ``TENANT#${aws:PrincipalTag/TenantId}`` and ``tenants/${aws:PrincipalTag/TenantId}/``.

    The trust policy lists every shard pool in ``cognito-identity.amazonaws.com:aud`` and allows
    ``sts:TagSession`` in the same statement, so the pool's principal-tag map (``TenantId`` <-
    ``custom:tenantId``) reaches the session. The same action sets as :class:`TenantAccess` apply.

    Example::

        shard = SharedTenantAccess("tenants-s00", SharedTenantAccessArgs(
            shard=0, environment="prod", region="ap-southeast-1", tenant_ids=("acme", "globex"),
            identity_pool_ids=(acme_pool.identity_pool_id, globex_pool.identity_pool_id),
            table_arns=platform.table_arns))

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/attributes-for-access-control.html
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    """

    admin_role_arn: pulumi.Output[str]
    user_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SharedTenantAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:access:SharedTenantAccess", name, None, opts)
        env, prefix, shard = args.environment, args.name_prefix, args.shard
        resource_tags = tags(env, "SharedTenantAccess", extra={**args.extra_tags, "saas:access-shard": f"S{shard:02d}"})
        make = _RoleFactory(self, name, resource_tags)
        trust = _trust(
            list(args.identity_pool_ids),
            tenant_ids=args.tenant_ids,
            tag_session=True,
            limit=args.trust_policy_max_chars,
            what=f"shard S{shard:02d} trust policy",
        )
        bucket = pulumi.Output.from_input(args.document_bucket_arn) if args.document_bucket_arn is not None else None

        def document(
            role: Literal["admin", "user"], actions: Sequence[str], objects: Sequence[str], sid: str
        ) -> pulumi.Output[str]:
            write, read = role_tables(role, sorted(args.table_arns), args.user_tables)
            return _tenant_policy_output(
                tenant_id=None,
                table_arns=args.table_arns,
                indexes=args.tenant_index_names,
                write_tables=write,
                read_tables=read,
                bucket=bucket,
                kms_key_arn=policy_key(args.kms_key_arn, args.kms_key_alias, args.account_id, args.region),
                kms_key_alias=args.kms_key_alias,
                region=args.region,
                actions=actions,
                objects=objects,
                per_identity=role == "user",
                sid=sid,
                what=f"shared {sid} policy",
            )

        def pair(key: str, role: str, pol: str, doc: pulumi.Output[str] | None, what: str) -> aws.iam.Role:
            r = make.role(
                key,
                shared_role_name(prefix, role, shard, env, args.cell),
                trust,
                f"{what} of tenant shard S{shard:02d} ({env})",
            )
            if doc is not None:
                p = make.policy(
                    key,
                    shared_role_name(prefix, pol, shard, env, args.cell),
                    doc,
                    f"{what}: caller's tenant only (TenantId tag)",
                )
                make.attach(key, r, p)
            return r

        admin = pair(
            "admin",
            "TenantAdminRole",
            "TenantAdminPolicy",
            document("admin", iam.TENANT_ADMIN_TABLE_ACTIONS, iam.TENANT_ADMIN_OBJECT_ACTIONS, "TenantAdmin"),
            "Tenant administrators",
        )
        user = pair(
            "user",
            "TenantUserRole",
            "TenantUserPolicy",
            document("user", iam.TENANT_USER_TABLE_ACTIONS, iam.TENANT_USER_OBJECT_ACTIONS, "TenantUser")
            if args.user_tables or args.document_bucket_arn is not None
            else None,
            "Tenant users",
        )
        self.admin_role_arn, self.user_role_arn = admin.arn, user.arn
        self.data_paths = datapaths.declare(
            _tenant_paths(
                admin_arn=admin.arn,
                user_arn=user.arn,
                tenants=args.tenant_ids,
                pools=dict(zip(args.tenant_ids, args.identity_pool_ids, strict=True)),
                abac=True,
                region=args.region,
                table_arns=args.table_arns,
                user_tables=args.user_tables,
                bucket_arn=args.document_bucket_arn,
                kms_key_arn=args.kms_key_arn,
            )
        )
        self.register_outputs(
            {
                "admin_role_arn": self.admin_role_arn,
                "user_role_arn": self.user_role_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )


SYSTEM_EXAMPLE_TENANT: Final = "any-tenant"
"""System roles reach every tenant; their paths name this stand-in where a request carries a tenant."""


def system_role_paths(
    *,
    key: str,
    role_arn: pulumi.Input[str],
    pool_id: pulumi.Input[str],
    region: str | None,
    table_arns: Mapping[str, pulumi.Input[str]],
    table_actions: Sequence[str],
    bucket_arn: pulumi.Input[str] | None,
    kms_key_arn: pulumi.Input[str] | None,
    object_actions: Sequence[str],
) -> list[DataPath]:
    """A system role's runtime calls: cross-tenant item calls, the key through DynamoDB and S3, documents."""
    writes = any(a in table_actions for a in ("dynamodb:PutItem", "dynamodb:UpdateItem"))
    session: dict[str, pulumi.Input[str]] = {SUB_KEY: USER}
    out = [
        DataPath(
            name=f"{key}/assume",
            principal=iam.COGNITO_IDENTITY,
            principal_type="federated",
            actions=(iam.ASSUME_ROLE_WITH_WEB_IDENTITY,),
            resource=role_arn,
            context={iam.AUD_KEY: pool_id, iam.AMR_KEY: [WEB_IDENTITY_AMR, f"cognito-identity.amazonaws.com:{USER}"]},
            guards=(iam.AUD_KEY, iam.AMR_KEY),
            description="an authenticated identity of the system tenant's identity pool takes the role",
        )
    ]
    for base in sorted(table_arns):
        out.append(
            DataPath(
                name=f"{key}/items/{base}",
                principal=role_arn,
                principal_type="role",
                actions=tuple(table_actions),
                resource=table_arns[base],
                context={iam.LEADING_KEYS: [f"{TENANT_KEY_PREFIX}{SYSTEM_EXAMPLE_TENANT}"]},
                session=session,
                description=f"items of any tenant in {base}",
            )
        )
    if kms_key_arn is not None and region is not None:
        out.append(
            DataPath(
                name=f"{key}/table-key",
                principal=role_arn,
                principal_type="role",
                actions=("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
                if writes
                else ("kms:Decrypt", "kms:DescribeKey"),
                resource=kms_key_arn,
                context=datapaths.dynamodb_kms_context(region),
                session=session,
                guards=("kms:ViaService",),
                description="DynamoDB uses the environment key for the caller",
            )
        )
    if bucket_arn is not None:
        out.append(
            DataPath(
                name=f"{key}/documents",
                principal=role_arn,
                principal_type="role",
                actions=tuple(object_actions),
                resource=pulumi.Output.concat(bucket_arn, f"/{DOCUMENT_ROOT}/{SYSTEM_EXAMPLE_TENANT}/payslip.pdf"),
                context=datapaths.secure_transport(),
                session=session,
                description="documents of any tenant (no SSE header: the bucket's default encryption applies)",
            )
        )
        if kms_key_arn is not None and region is not None:
            out.append(
                DataPath(
                    name=f"{key}/documents-key",
                    principal=role_arn,
                    principal_type="role",
                    actions=iam.S3_KMS_WRITE_ACTIONS if "s3:PutObject" in object_actions else iam.S3_KMS_READ_ACTIONS,
                    resource=kms_key_arn,
                    context=datapaths.s3_kms_context(region, bucket_arn),
                    session=session,
                    guards=("kms:ViaService", "kms:EncryptionContext:aws:s3:arn"),
                    description="S3 uses the bucket's key for the caller",
                )
            )
    return out


@dataclass(frozen=True, kw_only=True)
class SystemAccessArgs:
    """Arguments of :class:`SystemAccess`.

    Attributes:
        identity_pool_id: the **system** tenant's identity pool; the only ``aud`` the system roles trust.
        table_arns: pool-table base name -> exact table ARN.
        document_bucket_arn: the document bucket (keys ``tenants/<tenant>/...``); ``None`` leaves S3 out.
        superuser_scan: Default ``False``. Also grant ``dynamodb:Scan`` on the pool tables to
            ``SystemSuperuserRole``. The policy pack then requires the role be named in
            ``system-role-scan-exception.scanAllowedRoles`` (invariant 11c).
    """

    environment: Environment
    identity_pool_id: pulumi.Input[str]
    table_arns: Mapping[str, pulumi.Input[str]]
    document_bucket_arn: pulumi.Input[str] | None = None
    superuser_scan: bool = False
    kms_key_arn: pulumi.Input[str] | None = None
    kms_key_alias: str | None = None
    account_id: pulumi.Input[str] | None = None
    region: str | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_common(self.environment, self.name_prefix, self.table_arns, {})
        _check_role_names(
            [
                system_role_name(self.name_prefix, r, self.environment)
                for r in ("SystemAdminRole", "SystemSuperuserRole", "SystemSupportRole")
            ]
        )


class SystemAccess(pulumi.ComponentResource):
    """The system (platform owner) tenant's roles, the OptimalHR design's "System Admin Tenant".

    * ``SystemAdminRole`` + ``SystemAdminPolicy``: item CRUD and DescribeTable on every pool table and its
      indexes for all tenants (no LeadingKeys condition); Get/Put/DeleteObject under ``tenants/``.
    * ``SystemSuperuserRole``: "inherits admin" - the same ``SystemAdminPolicy`` attached; with
      ``superuser_scan=True`` also ``SystemSuperuserPolicy`` (Scan on the pool tables).
    * ``SystemSupportRole`` + ``SystemSupportPolicy``: cross-tenant read-only (GetItem, BatchGetItem, Query,
      DescribeTable; GetObject and listing under ``tenants/``).

    All three trust only the system identity pool; no PartiQL anywhere.

    Example::

        system = SystemAccess("system-access", SystemAccessArgs(
            environment="dev", identity_pool_id=system_pool.identity_pool_id, table_arns=platform.table_arns))

    Documentation:
        https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/using-identity-based-policies.html
    """

    admin_role_arn: pulumi.Output[str]
    superuser_role_arn: pulumi.Output[str]
    support_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: SystemAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:access:SystemAccess", name, None, opts)
        env, prefix = args.environment, args.name_prefix
        make = _RoleFactory(self, name, tags(env, "SystemAccess", tenant=SYSTEM_TENANT, extra=args.extra_tags))
        trust = _trust(
            [args.identity_pool_id], tag_session=False, limit=iam.TRUST_POLICY_MAX_CHARS, what="system trust policy"
        )
        bucket = pulumi.Output.from_input(args.document_bucket_arn) if args.document_bucket_arn is not None else None
        bases = sorted(args.table_arns)
        arns = pulumi.Output.all(*[args.table_arns[b] for b in bases])
        key = policy_key(args.kms_key_arn, args.kms_key_alias, args.account_id, args.region)

        def document(
            actions: Sequence[str], objects: Sequence[str], sid: str, with_bucket: bool = True
        ) -> pulumi.Output[str]:
            inputs: list[Any] = [
                arns,
                bucket if bucket is not None and with_bucket else "",
                key if key is not None and with_bucket else "",
            ]
            return pulumi.Output.all(*inputs).apply(
                lambda v: _checked_json(
                    iam.system_policy(
                        table_arns=list(v[0]),
                        table_actions=actions,
                        bucket_arn=v[1] or None,
                        object_actions=objects,
                        sid=sid,
                        kms_key_arn=v[2] or None,
                        kms_key_alias=args.kms_key_alias,
                        region=args.region,
                    ),
                    iam.MANAGED_POLICY_MAX_CHARS,
                    f"{sid} policy",
                )
            )

        admin_role = make.role(
            "admin", system_role_name(prefix, "SystemAdminRole", env), trust, f"Platform administrators ({env})"
        )
        admin_policy = make.policy(
            "admin",
            system_role_name(prefix, "SystemAdminPolicy", env),
            document(iam.SYSTEM_ADMIN_TABLE_ACTIONS, iam.TENANT_ADMIN_OBJECT_ACTIONS, "SystemAdmin"),
            "Item CRUD across tenants on the pool tables and tenants/ documents",
        )
        make.attach("admin", admin_role, admin_policy)
        superuser = make.role(
            "superuser", system_role_name(prefix, "SystemSuperuserRole", env), trust, f"Platform superusers ({env})"
        )
        make.attach("superuser-admin", superuser, admin_policy)
        if args.superuser_scan:
            scan = make.policy(
                "superuser",
                system_role_name(prefix, "SystemSuperuserPolicy", env),
                document(iam.SUPERUSER_SCAN_ACTIONS, (), "SystemSuperuser", with_bucket=False),
                "Full-table Scan of the pool tables (policy-pack exception required)",
            )
            make.attach("superuser", superuser, scan)
        support_role = make.role(
            "support", system_role_name(prefix, "SystemSupportRole", env), trust, f"Platform support ({env})"
        )
        support_policy = make.policy(
            "support",
            system_role_name(prefix, "SystemSupportPolicy", env),
            document(iam.SYSTEM_SUPPORT_TABLE_ACTIONS, iam.SYSTEM_SUPPORT_OBJECT_ACTIONS, "SystemSupport"),
            "Read-only across tenants",
        )
        make.attach("support", support_role, support_policy)
        self.admin_role_arn = admin_role.arn
        self.superuser_role_arn = superuser.arn
        self.support_role_arn = support_role.arn
        common: dict[str, Any] = {
            "pool_id": args.identity_pool_id,
            "region": args.region,
            "table_arns": args.table_arns,
            "bucket_arn": args.document_bucket_arn,
            "kms_key_arn": args.kms_key_arn,
        }
        self.data_paths = datapaths.declare(
            [
                *system_role_paths(
                    key="admin",
                    role_arn=admin_role.arn,
                    table_actions=iam.SYSTEM_ADMIN_TABLE_ACTIONS,
                    object_actions=iam.TENANT_ADMIN_OBJECT_ACTIONS,
                    **common,
                ),
                *system_role_paths(
                    key="superuser",
                    role_arn=superuser.arn,
                    table_actions=iam.SYSTEM_ADMIN_TABLE_ACTIONS,
                    object_actions=iam.TENANT_ADMIN_OBJECT_ACTIONS,
                    **common,
                ),
                *system_role_paths(
                    key="support",
                    role_arn=support_role.arn,
                    table_actions=iam.SYSTEM_SUPPORT_TABLE_ACTIONS,
                    object_actions=iam.SYSTEM_SUPPORT_OBJECT_ACTIONS,
                    **common,
                ),
            ]
        )
        self.register_outputs(
            {
                "admin_role_arn": self.admin_role_arn,
                "superuser_role_arn": self.superuser_role_arn,
                "support_role_arn": self.support_role_arn,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )


@dataclass(frozen=True)
class TenantRoles:
    """The two role ARNs a tenant's identity pool maps to (``custom:tenantRole`` admin / user)."""

    admin_role_arn: pulumi.Output[str]
    user_role_arn: pulumi.Output[str]


def shard_tenants(tenant_ids: Sequence[str], per_role: int) -> list[tuple[str, ...]]:
    """Split tenants into consecutive shards of at most ``per_role`` (config order, so adding a tenant at
    the end never moves existing tenants to another role)."""
    if per_role < 1:
        raise ComponentArgError(f"tenants per role must be at least 1; got {per_role}")
    return [tuple(tenant_ids[i : i + per_role]) for i in range(0, len(tenant_ids), per_role)]


def build_tenant_access(
    name: str,
    *,
    mode: AccessMode,
    environment: Environment,
    region: str,
    pools: Mapping[str, IdentityPoolLike],
    table_arns: Mapping[str, pulumi.Input[str]],
    tenant_index_names: Mapping[str, Sequence[str]] | None = None,
    document_bucket_arn: pulumi.Input[str] | None = None,
    kms_key_arn: pulumi.Input[str] | None = None,
    kms_key_alias: str | None = None,
    account_id: pulumi.Input[str] | None = None,
    tenants_per_role: int | None = None,
    trust_policy_max_chars: Literal[2048, 4096] = 2048,
    name_prefix: str = DEFAULT_NAME_PREFIX,
    extra_tags: Mapping[str, str] | None = None,
    cell: int | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, TenantRoles]:
    """Create every customer tenant's roles in ``mode`` and map each tenant's identity pool to its own roles.

    ``pools`` maps tenant id -> identity pool (config order). Each pool gets
    ``attach_roles({"admin": admin, "user": user}, default_role_arn=user)``: the least-privileged role is
    the default. ``cell``: the cell stack's number (shared ABAC role names), ``None`` in the platform stack.
    """
    indexes = dict(tenant_index_names or {})
    out: dict[str, TenantRoles] = {}
    tag_extra = dict(extra_tags or {})
    if mode == "perTenant":
        for tenant, pool in pools.items():
            access = TenantAccess(
                f"{name}-{tenant}",
                TenantAccessArgs(
                    tenant_id=tenant,
                    environment=environment,
                    identity_pool_id=pool.identity_pool_id,
                    table_arns=table_arns,
                    tenant_index_names=indexes,
                    document_bucket_arn=document_bucket_arn,
                    kms_key_arn=kms_key_arn,
                    kms_key_alias=kms_key_alias,
                    account_id=account_id,
                    region=region,
                    name_prefix=name_prefix,
                    extra_tags=tag_extra,
                ),
                opts=opts,
            )
            out[tenant] = TenantRoles(access.admin_role_arn, access.user_role_arn)
    else:
        per_role = tenants_per_role or iam.abac_tenants_per_role(region, trust_policy_max_chars)
        for shard, members in enumerate(shard_tenants(list(pools), per_role)):
            access = SharedTenantAccess(
                f"{name}-s{shard:02d}",
                SharedTenantAccessArgs(
                    shard=shard,
                    environment=environment,
                    region=region,
                    tenant_ids=members,
                    identity_pool_ids=tuple(pools[t].identity_pool_id for t in members),
                    table_arns=table_arns,
                    tenant_index_names=indexes,
                    document_bucket_arn=document_bucket_arn,
                    kms_key_arn=kms_key_arn,
                    kms_key_alias=kms_key_alias,
                    account_id=account_id,
                    trust_policy_max_chars=trust_policy_max_chars,
                    name_prefix=name_prefix,
                    cell=cell,
                    extra_tags=tag_extra,
                ),
                opts=opts,
            )
            for tenant in members:
                out[tenant] = TenantRoles(access.admin_role_arn, access.user_role_arn)
    for tenant, roles in out.items():
        pools[tenant].attach_roles({"admin": roles.admin_role_arn, "user": roles.user_role_arn}, roles.user_role_arn)
    return out
