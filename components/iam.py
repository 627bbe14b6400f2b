"""Pure, typed builders of the IAM documents that isolate tenants (isolation invariants 1-13, 38-39).

Nothing here touches Pulumi: every function takes plain strings and returns plain ``dict``s, so it can be
unit-tested, linted (parliament) and evaluated against request contexts without a program. Components
(``saas_platform.components.access``) call them inside ``Output.apply`` and serialize once with ``Output.json_dumps``.

The documents this module emits, and only these, are what the policy pack's rules and the cross-tenant
evaluation test reason about:

* **Tenant DynamoDB statement** - only the data-plane allowlist (no Scan, PartiQL, streams or control
  plane), resources are exact table ARNs plus tenant-keyed index ARNs, and in the same statement
  ``ForAllValues:StringEquals {"dynamodb:LeadingKeys": ["TENANT#<tenant>"]}`` with the
  ``Null {"dynamodb:LeadingKeys": "false"}`` guard.
* **Tenant S3 statements** - object actions on ``arn:aws:s3:::<bucket>/<root>/<tenant>/*`` and
  ``s3:ListBucket`` on the bucket ARN only under ``StringLike s3:prefix`` of that tenant.
* **Trust policies** bound to identity pools: ``Federated cognito-identity.amazonaws.com``,
  ``sts:AssumeRoleWithWebIdentity`` (plus ``sts:TagSession`` in the same statement for ABAC roles),
  ``StringEquals cognito-identity.amazonaws.com:aud`` and ``ForAnyValue:StringLike ...:amr =
  authenticated``.

``<tenant>`` is either a literal tenant id (per-tenant roles) or ``${aws:PrincipalTag/TenantId}`` (shared
ABAC roles; the literal ``TENANT#`` prefix stays in the text, invariant 7d).

Sizes are counted as IAM counts them: characters of the JSON text, whitespace excluded.

Documentation:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    https://docs.aws.amazon.com/cognito/latest/developerguide/iam-roles.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from saas_platform.components.naming import DOCUMENT_ROOT, SYSTEM_TENANT, TENANT_ID_RE
from saas_platform.components.pool_table import TENANT_KEY_PREFIX

TENANT_ID_MAX_CHARS: Final = 31
"""The longest tenant id ``TENANT_ID_RE`` admits (capacity arithmetic uses the worst case)."""

Statement = dict[str, Any]
PolicyDocument = dict[str, Any]

POLICY_VERSION: Final = "2012-10-17"
"""Without it ``${aws:PrincipalTag/...}`` is not substituted (invariant 5)."""

LEADING_KEYS: Final = "dynamodb:LeadingKeys"
TENANT_TAG_KEY: Final = "TenantId"
"""The principal tag carrying the tenant id in ABAC mode, mapped from ``custom:tenantId`` (invariant 26)."""
TENANT_TAG_CLAIM: Final = "custom:tenantId"
PRINCIPAL_TAG_VARIABLE: Final = "${aws:PrincipalTag/TenantId}"
IDENTITY_VARIABLE: Final = "${cognito-identity.amazonaws.com:sub}"
"""Stands for the caller's Cognito identity id in per-identity document prefixes."""
USER_SEGMENT: Final = "users"
"""Users' own documents: ``tenants/<tenant>/users/<identity id>/``."""
"""Stands for the caller's tenant id in shared (ABAC) policies."""

COGNITO_IDENTITY: Final = "cognito-identity.amazonaws.com"
AUD_KEY: Final = "cognito-identity.amazonaws.com:aud"
AMR_KEY: Final = "cognito-identity.amazonaws.com:amr"
ASSUME_ROLE_WITH_WEB_IDENTITY: Final = "sts:AssumeRoleWithWebIdentity"
TAG_SESSION: Final = "sts:TagSession"

# Action sets. The tenant sets are the data-plane allowlist of invariant 1 (minus DescribeTable, which no
# tenant needs); nothing grants Scan, PartiQL, streams or control-plane actions to a tenant (invariant 2).
TENANT_ADMIN_TABLE_ACTIONS: Final[tuple[str, ...]] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
"""TenantAdminPolicy: full item CRUD within the tenant's partition."""
TENANT_USER_TABLE_ACTIONS: Final[tuple[str, ...]] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
)
"""TenantUserPolicy: read-only within the tenant's partition. Writes by employees (leave requests, clock
events) go through the API, where Verified Permissions decides per user; identity-pool credentials of a plain
user never write rows directly (see README "TenantAccess")."""
SYSTEM_ADMIN_TABLE_ACTIONS: Final[tuple[str, ...]] = (*TENANT_ADMIN_TABLE_ACTIONS, "dynamodb:DescribeTable")
"""SystemAdminPolicy: item CRUD across tenants (no LeadingKeys condition, the OptimalHR design), still no Scan/PartiQL."""
SYSTEM_SUPPORT_TABLE_ACTIONS: Final[tuple[str, ...]] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
)
"""SystemSupportPolicy: cross-tenant read-only."""
PIPELINE_TABLES: Final[tuple[str, ...]] = ("ImageMetadata", "TenantJob")
"""Pool tables the image pipeline and job runners write; tenant administrators only read them (a forged row could
point at another tenant's object or shadow a real upload)."""
SENSITIVE_TABLES: Final[tuple[str, ...]] = ("Employment", "PIM", "Payroll")
"""Pool tables a plain tenant user never reaches with credentials: only through the API, where Cedar decides per
record."""
DYNAMODB_KMS_READ_ACTIONS: Final[tuple[str, ...]] = ("kms:Decrypt", "kms:DescribeKey")
"""What DynamoDB asks KMS for, on the caller's behalf, to read a table encrypted with a customer managed key."""
DYNAMODB_KMS_WRITE_ACTIONS: Final[tuple[str, ...]] = (*DYNAMODB_KMS_READ_ACTIONS, "kms:GenerateDataKey")
"""... and to write one."""
S3_KMS_READ_ACTIONS: Final[tuple[str, ...]] = ("kms:Decrypt",)
S3_KMS_WRITE_ACTIONS: Final[tuple[str, ...]] = ("kms:Decrypt", "kms:GenerateDataKey")
"""SSE-KMS uploads need GenerateDataKey (and Decrypt for multipart uploads); downloads need Decrypt."""
SUPERUSER_SCAN_ACTIONS: Final[tuple[str, ...]] = ("dynamodb:Scan",)
"""Only with ``SystemAccessArgs.superuser_scan=True`` and a named policy-pack exception (invariant 11c)."""

TENANT_ADMIN_OBJECT_ACTIONS: Final[tuple[str, ...]] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
TENANT_USER_OBJECT_ACTIONS: Final[tuple[str, ...]] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
"""Users read and upload their tenant's documents (attachments, profile photos) but never delete."""
SYSTEM_SUPPORT_OBJECT_ACTIONS: Final[tuple[str, ...]] = ("s3:GetObject",)
LIST_BUCKET_ACTIONS: Final[tuple[str, ...]] = ("s3:ListBucket",)

# IAM quotas (reference_iam-quotas.html); sizes exclude whitespace.
MANAGED_POLICY_MAX_CHARS: Final = 6144
INLINE_POLICIES_PER_ROLE_MAX_CHARS: Final = 10240
TRUST_POLICY_MAX_CHARS: Final = 2048
TRUST_POLICY_MAX_CHARS_RAISED: Final = 4096
DOCUMENT_HEADROOM: Final = 0.75
"""The share of a size limit a document may use: the 25% headroom the policy pack's ``iam-document-headroom``
requires (isolation invariant 13), so a stack that adds tenants is refused while it still deploys."""
ABAC_TENANTS_PER_ROLE_CAP: Final = 10_000
"""Upper bound of :func:`abac_tenants_per_role` (far above any trust-policy quota)."""
MANAGED_POLICIES_PER_ROLE: Final = 10
DYNAMODB_RESOURCE_POLICY_MAX_BYTES: Final = 20480

INDEX_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]{3,255}")
TABLE_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}")
BUCKET_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IDENTITY_POOL_ID_RE: Final = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d:[0-9a-f-]{36}")


class IamDocumentError(ValueError):
    """A builder got a value that would produce an unsafe or malformed document."""


def document_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against its quotas: the JSON text without any whitespace."""
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


def policy_document(statements: Sequence[Statement]) -> PolicyDocument:
    """``{"Version": "2012-10-17", "Statement": [...]}`` (invariant 5)."""
    if not statements:
        raise IamDocumentError("a policy needs at least one statement")
    return {"Version": POLICY_VERSION, "Statement": [dict(s) for s in statements]}


def tenant_segment(tenant_id: str | None) -> str:
    """The tenant's part of keys and prefixes: the literal id, or the ABAC variable when ``tenant_id`` is None."""
    if tenant_id is None:
        return PRINCIPAL_TAG_VARIABLE
    if not TENANT_ID_RE.fullmatch(tenant_id) or tenant_id == SYSTEM_TENANT:
        raise IamDocumentError(
            f"tenant_id must match {TENANT_ID_RE.pattern!r} and not be {SYSTEM_TENANT!r}; got {tenant_id!r}"
        )
    return tenant_id


def leading_keys_value(tenant_id: str | None) -> str:
    """``TENANT#acme``, or ``TENANT#${aws:PrincipalTag/TenantId}`` for shared ABAC roles (invariants 3, 7d)."""
    return f"{TENANT_KEY_PREFIX}{tenant_segment(tenant_id)}"


def leading_keys_condition(tenant_id: str | None) -> dict[str, dict[str, Any]]:
    """The exact LeadingKeys condition (invariant 3) plus the Null guard (invariant 4)."""
    return {
        "ForAllValues:StringEquals": {LEADING_KEYS: [leading_keys_value(tenant_id)]},
        "Null": {LEADING_KEYS: "false"},
    }


def table_resources(table_arns: Sequence[str], tenant_indexes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Exact table ARNs plus ``<table>/index/<name>`` for tenant-keyed indexes only (invariant 6).

    ``tenant_indexes`` maps a table ARN to the names of its indexes whose partition key is the tenant key
    (``PoolTable.tenant_index_names``); an ARN not in ``table_arns`` is an error.
    """
    if not table_arns:
        raise IamDocumentError("at least one table ARN is needed")
    indexes = dict(tenant_indexes or {})
    out: list[str] = []
    for arn in table_arns:
        if not TABLE_ARN_RE.fullmatch(arn):
            raise IamDocumentError(f"not an exact DynamoDB table ARN (no wildcards, no index suffix): {arn!r}")
        out.append(arn)
        for index in indexes.pop(arn, ()):
            if not INDEX_NAME_RE.fullmatch(index):
                raise IamDocumentError(f"index name {index!r} on {arn} must match {INDEX_NAME_RE.pattern!r}")
            out.append(f"{arn}/index/{index}")
    if indexes:
        raise IamDocumentError(f"tenant_indexes names tables that are not in table_arns: {sorted(indexes)}")
    return out


def tenant_table_statement(
    *, sid: str, actions: Sequence[str], resources: Sequence[str], tenant_id: str | None
) -> Statement:
    """One Allow statement: ``actions`` on ``resources``, only on rows whose partition key is the tenant's."""
    bad = [a for a in actions if a not in TENANT_ADMIN_TABLE_ACTIONS]
    if bad or not actions:
        raise IamDocumentError(
            f"tenant statements may only use the data-plane allowlist {list(TENANT_ADMIN_TABLE_ACTIONS)}; "
            f"got {bad or actions}"
        )
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": list(resources),
        "Condition": leading_keys_condition(tenant_id),
    }


def _bucket_arn(bucket_arn: str) -> str:
    if not BUCKET_ARN_RE.fullmatch(bucket_arn):
        raise IamDocumentError(f"not an S3 bucket ARN (arn:aws:s3:::<bucket>, no key part): {bucket_arn!r}")
    return bucket_arn


def tenant_prefix(tenant_id: str | None, root: str = DOCUMENT_ROOT) -> str:
    """``tenants/acme/``: the tenant segment always has its own ``/`` on both sides (invariant 38)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", root):
        raise IamDocumentError(f"root must be one path segment of [a-z0-9_-]; got {root!r}")
    return f"{root}/{tenant_segment(tenant_id)}/"


def tenant_object_statements(
    *,
    sid_prefix: str,
    bucket_arn: str,
    tenant_id: str | None,
    object_actions: Sequence[str],
    root: str = DOCUMENT_ROOT,
    per_identity: bool = False,
) -> list[Statement]:
    """Object actions on ``<bucket>/<root>/<tenant>/*`` and ``s3:ListBucket`` limited by ``s3:prefix``.

    ``per_identity=True`` narrows both to the caller's own prefix ``<root>/<tenant>/users/${cognito-identity
    .amazonaws.com:sub}/`` (users' uploads: one employee cannot read or overwrite a colleague's documents). The
    ``s3:prefix`` condition appears only on the list statement: on object actions it never matches (invariant 39).
    """
    bucket = _bucket_arn(bucket_arn)
    prefix = tenant_prefix(tenant_id, root) + (f"{USER_SEGMENT}/{IDENTITY_VARIABLE}/" if per_identity else "")
    bad = [
        a
        for a in object_actions
        if not a.startswith("s3:") or "*" in a or (a.startswith("s3:List") and a != "s3:ListMultipartUploadParts")
    ]
    if bad or not object_actions:
        raise IamDocumentError(f"object_actions must be explicit S3 object actions; got {bad or object_actions}")
    return [
        {
            "Sid": f"{sid_prefix}Objects",
            "Effect": "Allow",
            "Action": list(object_actions),
            "Resource": [f"{bucket}/{prefix}*"],
        },
        {
            "Sid": f"{sid_prefix}List",
            "Effect": "Allow",
            "Action": list(LIST_BUCKET_ACTIONS),
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        },
    ]


KMS_KEY_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/([A-Za-z0-9-]+|\*)")
KMS_ALIAS_RE: Final = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")


def key_scope(kms_key: str, alias: str | None) -> tuple[str, dict[str, Any]]:
    """``(Resource, extra conditions)`` naming one KMS key: its exact ARN, or - so the document is known at the
    first preview, before the key has an id - ``arn:aws:kms:<region>:<account>:key/*`` narrowed to the key that
    carries ``alias`` (``ForAnyValue:StringEquals kms:ResourceAliases``)."""
    if not KMS_KEY_ARN_RE.fullmatch(kms_key):
        raise IamDocumentError(f"not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>): {kms_key!r}")
    if kms_key.endswith("/*"):
        if alias is None or not KMS_ALIAS_RE.fullmatch(alias):
            raise IamDocumentError(f"a key/* resource needs the key's alias (alias/<name>); got {alias!r}")
        return kms_key, {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}}
    return kms_key, {}


def table_key_statement(
    *, sid: str, kms_key_arn: str, region: str, writes: bool, alias: str | None = None
) -> Statement:
    """The environment key, only as DynamoDB uses it for the caller (``kms:ViaService``). Tables encrypted with a
    customer managed key need it: the key policy delegates to IAM, so without it every item call is refused."""
    resource, scope = key_scope(kms_key_arn, alias)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(DYNAMODB_KMS_WRITE_ACTIONS if writes else DYNAMODB_KMS_READ_ACTIONS),
        "Resource": resource,
        "Condition": {**scope, "StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
    }


def bucket_key_statement(
    *, sid: str, kms_key_arn: str, region: str, bucket_arn: str, writes: bool, alias: str | None = None
) -> Statement:
    """The bucket's key, only as S3 uses it for this bucket. With an S3 Bucket Key the encryption context is the
    bucket ARN (not the object's), so this is as narrow as KMS permissions on an SSE-KMS bucket can be; the
    tenant/identity prefix is enforced by the object statements."""
    resource, scope = key_scope(kms_key_arn, alias)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(S3_KMS_WRITE_ACTIONS if writes else S3_KMS_READ_ACTIONS),
        "Resource": resource,
        "Condition": {
            **scope,
            "StringEquals": {
                "kms:ViaService": f"s3.{region}.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": _bucket_arn(bucket_arn),
            },
        },
    }


def _writes(actions: Sequence[str]) -> bool:
    return any(a.split(":", 1)[1].startswith(("Put", "Update", "Delete", "BatchWrite")) for a in actions)


def tenant_policy(
    *,
    tenant_id: str | None,
    table_arns: Sequence[str],
    tenant_indexes: Mapping[str, Sequence[str]] | None = None,
    table_actions: Sequence[str],
    read_only_table_arns: Sequence[str] = (),
    bucket_arn: str | None = None,
    object_actions: Sequence[str] = (),
    per_identity_objects: bool = False,
    kms_key_arn: str | None = None,
    kms_key_alias: str | None = None,
    region: str | None = None,
    sid: str = "Tenant",
) -> PolicyDocument:
    """A complete tenant policy: the LeadingKeys statement on ``table_arns`` with ``table_actions``, a read-only one
    on ``read_only_table_arns`` (pipeline-owned tables), the environment key through DynamoDB, and - when a bucket
    is given - the tenant-prefix (or per-identity) S3 statements with the bucket key through S3.
    ``tenant_id=None`` builds the shared ABAC variant."""
    indexes = dict(tenant_indexes or {})
    unknown = sorted(set(indexes) - set(table_arns) - set(read_only_table_arns))
    if unknown:
        raise IamDocumentError(f"tenant_indexes names tables that are not in table_arns: {unknown}")
    statements: list[Statement] = []
    if table_arns:
        statements.append(
            tenant_table_statement(
                sid=f"{sid}Items",
                actions=table_actions,
                resources=table_resources(table_arns, {a: indexes[a] for a in table_arns if a in indexes}),
                tenant_id=tenant_id,
            )
        )
    if read_only_table_arns:
        statements.append(
            tenant_table_statement(
                sid=f"{sid}ReadItems",
                actions=TENANT_USER_TABLE_ACTIONS,
                resources=table_resources(
                    read_only_table_arns, {a: indexes[a] for a in read_only_table_arns if a in indexes}
                ),
                tenant_id=tenant_id,
            )
        )
    if (table_arns or read_only_table_arns) and kms_key_arn is not None:
        if region is None:
            raise IamDocumentError("region is needed with kms_key_arn (kms:ViaService names it)")
        statements.append(
            table_key_statement(
                sid=f"{sid}TableKey",
                kms_key_arn=kms_key_arn,
                region=region,
                writes=bool(table_arns) and _writes(table_actions),
                alias=kms_key_alias,
            )
        )
    if bucket_arn is not None:
        statements += tenant_object_statements(
            sid_prefix=f"{sid}Documents",
            bucket_arn=bucket_arn,
            tenant_id=tenant_id,
            object_actions=object_actions,
            per_identity=per_identity_objects,
        )
        if kms_key_arn is not None:
            if region is None:
                raise IamDocumentError("region is needed with kms_key_arn (kms:ViaService names it)")
            statements.append(
                bucket_key_statement(
                    sid=f"{sid}DocumentsKey",
                    kms_key_arn=kms_key_arn,
                    region=region,
                    bucket_arn=bucket_arn,
                    writes="s3:PutObject" in object_actions,
                    alias=kms_key_alias,
                )
            )
    return policy_document(statements)


def system_policy(
    *,
    table_arns: Sequence[str],
    table_actions: Sequence[str],
    bucket_arn: str | None = None,
    object_actions: Sequence[str] = (),
    sid: str = "System",
    root: str = DOCUMENT_ROOT,
    kms_key_arn: str | None = None,
    kms_key_alias: str | None = None,
    region: str | None = None,
) -> PolicyDocument:
    """A cross-tenant policy for the system tenant's roles: no LeadingKeys condition (the OptimalHR design), but still
    exact table ARNs (plus their indexes) and, in the bucket, only the tenants' root prefix. With ``kms_key_arn``
    (and ``region``) also the environment key through DynamoDB and, with a bucket, through S3 for that bucket."""
    resources: list[str] = []
    for arn in table_arns:
        if not TABLE_ARN_RE.fullmatch(arn):
            raise IamDocumentError(f"not an exact DynamoDB table ARN: {arn!r}")
        resources += [arn, f"{arn}/index/*"]
    forbidden = [a for a in table_actions if a.startswith("dynamodb:PartiQL") or "*" in a]
    if forbidden or not table_actions:
        raise IamDocumentError(
            f"system table actions must be explicit and exclude PartiQL; got {forbidden or table_actions}"
        )
    statements: list[Statement] = [
        {"Sid": f"{sid}Items", "Effect": "Allow", "Action": list(table_actions), "Resource": resources}
    ]
    if bucket_arn is not None:
        bucket = _bucket_arn(bucket_arn)
        statements += [
            {
                "Sid": f"{sid}DocumentsObjects",
                "Effect": "Allow",
                "Action": list(object_actions),
                "Resource": [f"{bucket}/{root}/*"],
            },
            {
                "Sid": f"{sid}DocumentsList",
                "Effect": "Allow",
                "Action": list(LIST_BUCKET_ACTIONS),
                "Resource": [bucket],
                "Condition": {"StringLike": {"s3:prefix": [f"{root}/", f"{root}/*"]}},
            },
        ]
    if kms_key_arn is not None:
        if region is None:
            raise IamDocumentError("region is needed with kms_key_arn (kms:ViaService names it)")
        statements.append(
            table_key_statement(
                sid=f"{sid}TableKey",
                kms_key_arn=kms_key_arn,
                region=region,
                writes=_writes(table_actions),
                alias=kms_key_alias,
            )
        )
        if bucket_arn is not None:
            statements.append(
                bucket_key_statement(
                    sid=f"{sid}DocumentsKey",
                    kms_key_arn=kms_key_arn,
                    region=region,
                    bucket_arn=bucket_arn,
                    writes="s3:PutObject" in object_actions,
                    alias=kms_key_alias,
                )
            )
    return policy_document(statements)


def service_trust_policy(service: str) -> PolicyDocument:
    """Trust policy letting one AWS service principal (``lambda.amazonaws.com``) assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def assume_tenant_writer_statement(writer_role_arn: Any) -> Statement:
    """A handler's grant to take tenant sessions in its writer role: ``sts:AssumeRole`` + ``sts:TagSession`` with
    exactly one ``TenantId`` session tag, and no tenant list (constant in the number of tenants).

    Which tenant ids are valid is the tenant registry's call, checked by the handler before every session; the
    session's ``TenantId`` tag plus its session policy confine what the session may touch. Used by the MSK
    consumer, the image pipeline's functions and the job runners."""
    return {
        "Sid": "AssumeTenantWriter",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Resource": writer_role_arn,
        "Condition": {
            "Null": {f"aws:RequestTag/{TENANT_TAG_KEY}": "false"},
            "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG_KEY]},
        },
    }


def tenant_writer_trust(caller_role_arn: str, sid: str) -> PolicyDocument:
    """Who may assume a writer role: only ``caller_role_arn``, only with exactly one ``TenantId`` session tag.

    The trust names the account (``:root``) and pins the caller with ``aws:PrincipalArn`` rather than naming the
    caller's role as principal: within one account a trust that names the role grants ``sts:AssumeRole`` on its
    own, so the caller's identity policy (:func:`assume_tenant_writer_statement`) would never be evaluated. Naming
    the account makes both policies required. Neither document lists tenants."""
    account = caller_role_arn.split(":")[4]
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": caller_role_arn},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG_KEY]},
                    "Null": {f"aws:RequestTag/{TENANT_TAG_KEY}": "false"},
                },
            }
        ],
    }


def identity_pool_trust_policy(
    identity_pool_ids: Sequence[str], *, tag_session: bool = False, tenant_ids: Sequence[str] | None = None
) -> PolicyDocument:
    """Trust for roles handed out by Cognito identity pools (invariant 12).

    One pool id without ``tag_session`` gives the per-tenant shape (a single ``aud`` value). ``tag_session=True``
    is the shared-ABAC shape: each pool belongs to one tenant and maps ``custom:tenantId`` to the ``TenantId``
    principal tag, ``sts:TagSession`` sits in the same statement, under the same conditions, as
    ``sts:AssumeRoleWithWebIdentity`` (invariant 7b), and ``tenant_ids`` (same order as the pools) binds each
    pool to its tenant: one statement per pool requires ``aws:RequestTag/TenantId`` to be that pool's tenant, so
    a token of tenant A's pool can never carry another tenant's tag into the session, whatever the pre-token
    trigger does.
    """
    if not identity_pool_ids:
        raise IamDocumentError("a trust policy needs at least one identity pool id")
    dupes = sorted({p for p in identity_pool_ids if list(identity_pool_ids).count(p) > 1})
    if dupes:
        raise IamDocumentError(f"identity pool ids must be unique; duplicated: {dupes}")
    for pool in identity_pool_ids:
        if "*" in pool or "?" in pool or not pool:
            raise IamDocumentError(f"identity pool id must be literal (no wildcards); got {pool!r}")
    if len(identity_pool_ids) > 1 and not tag_session:
        raise IamDocumentError(
            "a role trusted by several identity pools is only safe as a shared ABAC role: pass tag_session=True "
            "and scope its policies with ${aws:PrincipalTag/TenantId}"
        )
    amr = {"ForAnyValue:StringLike": {AMR_KEY: "authenticated"}}
    if not tag_session:
        return policy_document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": COGNITO_IDENTITY},
                    "Action": ASSUME_ROLE_WITH_WEB_IDENTITY,
                    "Condition": {"StringEquals": {AUD_KEY: identity_pool_ids[0]}, **amr},
                }
            ]
        )
    if tenant_ids is None or len(tenant_ids) != len(identity_pool_ids):
        raise IamDocumentError(
            "an ABAC trust binds each identity pool to its tenant: pass tenant_ids in the order of identity_pool_ids "
            f"(got {None if tenant_ids is None else len(tenant_ids)} for {len(identity_pool_ids)} pools)"
        )
    if any("*" in t or "?" in t or "$" in t or not t for t in tenant_ids):
        raise IamDocumentError(f"tenant ids in a trust policy must be literal; got {list(tenant_ids)}")
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": COGNITO_IDENTITY},
                "Action": [ASSUME_ROLE_WITH_WEB_IDENTITY, TAG_SESSION],
                "Condition": {"StringEquals": {AUD_KEY: pool, f"aws:RequestTag/{TENANT_TAG_KEY}": tenant}, **amr},
            }
            for pool, tenant in zip(identity_pool_ids, tenant_ids, strict=True)
        ]
    )


def identity_pool_id_length(region: str) -> int:
    """Length of an identity pool id in ``region``: ``<region>:<uuid>``."""
    return len(region) + 1 + 36


def abac_tenants_per_role(
    region: str, trust_policy_max_chars: int = TRUST_POLICY_MAX_CHARS, *, share: float = DOCUMENT_HEADROOM
) -> int:
    """How many tenant identity pools one shared ABAC role can trust within ``share`` of the trust-policy quota.

    Exact, not estimated: it builds the trust policy with pool ids of the real length for ``region`` and
    returns the largest count whose size is at most ``int(share * trust_policy_max_chars)``, assuming the
    longest tenant ids. The trust holds one statement per pool, binding it to its tenant
    (:func:`identity_pool_trust_policy`): in ``ap-southeast-1`` the first costs 438 characters and each further
    one 400. With the default ``share`` (:data:`DOCUMENT_HEADROOM`, 25% headroom) that is 3 pools in 2,048
    characters and 7 in 4,096; at the quota itself (``share=1.0``), 5 and 10.
    """
    id_len = identity_pool_id_length(region)
    budget = int(trust_policy_max_chars * share)

    def fits(count: int) -> bool:
        ids = [f"{region}:{n:0{id_len - len(region) - 1}d}" for n in range(count)]
        tenants = [f"t{n:0{TENANT_ID_MAX_CHARS - 1}d}" for n in range(count)]  # the longest tenant ids
        size = document_size(identity_pool_trust_policy(ids, tag_session=True, tenant_ids=tenants))
        return size <= budget

    # Doubling, then bisection: O(log n) documents of O(n) size each. A linear scan rebuilt every document
    # (quadratic), and ran to the cap when the document stopped growing.
    low, high = 0, 1  # fits(low) holds (no pool trusted: nothing to fit); high is the first count not known to fit
    while high <= ABAC_TENANTS_PER_ROLE_CAP and fits(high):
        low, high = high, high * 2
    if high > ABAC_TENANTS_PER_ROLE_CAP:
        return ABAC_TENANTS_PER_ROLE_CAP
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low
