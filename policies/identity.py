"""Rules for Cognito user pools, app clients, identity pools and trigger permissions (isolation invariants 14-26).

Resource rules read one resource's inputs (camelCase, as the engine sends them). Stack rules join
resources by their outputs: which user pool uses which trigger function, which identity pool names which
user pool and clients, which roles an identity pool hands out. Mandatory unless the invariant is a SHOULD.
An absent security-relevant property is a violation, never a pass (isolation invariant 48).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from saas_platform.policies._common import as_list, get_path, has_key, parse_json_document, statements
from saas_platform.policies._iam import Graph, stack_graph

Report = Callable[..., None]
"""pulumi-policy's ``report_violation(message, urn=None)`` (its ``ReportViolation`` alias makes ``urn`` required)."""

USER_POOL: Final = "aws:cognito/userPool:UserPool"
CLIENT: Final = "aws:cognito/userPoolClient:UserPoolClient"
IDENTITY_POOL: Final = "aws:cognito/identityPool:IdentityPool"
ROLE_ATTACHMENT: Final = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"
PRINCIPAL_TAG: Final = "aws:cognito/identityPoolProviderPrincipalTag:IdentityPoolProviderPrincipalTag"
PERMISSION: Final = "aws:lambda/permission:Permission"
ROLE: Final = "aws:iam/role:Role"

TENANT_CLAIM_ATTRIBUTES: Final = frozenset(
    {"custom:tenantId", "custom:tenantRole", "custom:environment", "custom:environments"}
)
"""Attributes no app client may write: the tenant claims and the environment entitlement."""
ROLE_MAPPING_CLAIMS: Final = frozenset({"custom:tenantRole"})
"""Claims identity-pool rules may match: admin-set, never client-writable."""
PRINCIPAL_TAG_MAP: Final[Mapping[str, str]] = {"TenantId": "custom:tenantId"}
"""The only session tag and its immutable source claim (the IAM policies reference ``aws:PrincipalTag/TenantId``)."""
SYSTEM_TENANT: Final = "system"
PRIVILEGED_ROLE_VALUES: Final = frozenset({"admin", "superuser"})
USER_POOL_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_[0-9a-zA-Z]+")
PROVIDER_RE: Final = re.compile(r"cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[\w-]+_[0-9a-zA-Z]+")
COGNITO_PRINCIPAL: Final = "cognito-idp.amazonaws.com"
MIN_TOKEN_MINUTES: Final = 5
MAX_TOKEN_MINUTES: Final = 24 * 60
UNIT_MINUTES: Final[Mapping[str, float]] = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 24 * 60}


class _Unknown:
    """A value that is not known yet (``pulumi preview`` of a resource created in the same update)."""

    def __repr__(self) -> str:
        return "<not known yet>"


UNKNOWN: Final = _Unknown()


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    """``mapping.get(key)``, except that a value unknown during preview comes back as :data:`UNKNOWN`
    instead of aborting the whole rule (pulumi-policy raises ``UnknownValueError`` on access). Rules check
    presence and every known value; values computed by the same update (pool ids, ARNs) are checked with
    their real values by the stack rules when ``pulumi up`` evaluates the final outputs."""
    if not isinstance(mapping, Mapping) or not has_key(mapping, key):
        return default
    try:
        return mapping[key]
    except UnknownValueError:
        return UNKNOWN


def _known(*values: Any) -> bool:
    return not any(v is UNKNOWN for v in values)


def _is_list(value: Any) -> bool:
    """A list property (pulumi-policy passes its own ``Sequence`` proxy, not ``list``)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _tenant(props: Mapping[str, Any]) -> str | None:
    tags = props.get("tags")
    value = tags.get("saas:tenant") if isinstance(tags, Mapping) else None
    return value if isinstance(value, str) else None


def _environment(props: Mapping[str, Any]) -> str | None:
    tags = props.get("tags")
    value = tags.get("saas:environment") if isinstance(tags, Mapping) else None
    return value if isinstance(value, str) else None


def _policy(name: str, description: str, level: EnforcementLevel, validate: Any) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(name=name, description=description, enforcement_level=level, validate=validate)


# --------------------------------------------------------------------------------------------- user pools (#14-20)


def _organization_pool(props: Mapping[str, Any]) -> bool:
    """A single-organisation pool (``AppUserPool``): tagged ``saas:pool-scope=organization`` and no tenant."""
    tags = props.get("tags")
    return isinstance(tags, Mapping) and tags.get("saas:pool-scope") == "organization" and _tenant(props) is None


def _tenant_id_immutable(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL or _organization_pool(args.props):
        return
    attrs = [s for s in as_list(args.props.get("schemas")) if isinstance(s, Mapping) and s.get("name") == "tenantId"]
    if not attrs:
        report_violation("user pool declares no custom:tenantId attribute; add it with mutable=False")
        return
    if attrs[0].get("mutable") is not False:
        report_violation(
            "custom:tenantId is mutable (or mutability is left to the default); declare it with mutable=False so "
            "no one can move a user to another tenant"
        )


cognito_tenant_id_immutable = _policy(
    "cognito-tenant-id-immutable",
    "Tenant user pools declare custom:tenantId with mutable=False (isolation invariant 14); a single-organisation "
    "pool (saas:pool-scope=organization, no saas:tenant tag) has no tenant claim to protect.",
    EnforcementLevel.MANDATORY,
    _tenant_id_immutable,
)


def _admin_create_only(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL:
        return
    if get_path(args.props, "adminCreateUserConfig", "allowAdminCreateUserOnly") is not True:
        report_violation(
            "self sign-up is allowed, so a user could set an immutable custom:tenantId of their choosing; set "
            "admin_create_user_config.allow_admin_create_user_only=True"
        )


cognito_admin_create_only = _policy(
    "cognito-admin-create-only",
    "Tenant user pools allow only administrators to create users (isolation invariant 14).",
    EnforcementLevel.MANDATORY,
    _admin_create_only,
)


def _deletion_protection(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL:
        return
    if args.props.get("deletionProtection") == "ACTIVE":
        return
    env = _environment(args.props)
    if args.opts.protect or env != "dev":
        report_violation(
            f"user pool deletion protection is {args.props.get('deletionProtection')!r} (environment {env!r}, "
            f"protect={args.opts.protect}); deleting the pool deletes every user. Set deletion_protection='ACTIVE' "
            "(only an explicitly unprotected dev stack may leave it INACTIVE)"
        )


cognito_user_pool_deletion_protection = _policy(
    "cognito-user-pool-deletion-protection",
    "User pools have deletion_protection=ACTIVE, except in an unprotected dev stack (isolation invariant 15).",
    EnforcementLevel.MANDATORY,
    _deletion_protection,
)


def _pre_token_version(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL:
        return
    lambda_config = args.props.get("lambdaConfig") or {}
    if not isinstance(lambda_config, Mapping):
        return
    config = lambda_config.get("preTokenGenerationConfig")
    if not config:
        if lambda_config.get("preTokenGeneration"):
            report_violation(
                "pre-token-generation trigger set without an explicit version (legacy V1_0 customizes only the ID "
                "token); use pre_token_generation_config with lambda_version='V2_0'"
            )
        return
    version = config.get("lambdaVersion") if isinstance(config, Mapping) else None
    if version not in ("V2_0", "V3_0"):
        report_violation(
            f"pre-token-generation lambda_version is {version!r}; the authorizer reads tenant claims from the access "
            "token, which only V2_0/V3_0 customize"
        )
        return
    tier = args.props.get("userPoolTier")
    if tier not in ("ESSENTIALS", "PLUS"):
        report_violation(
            f"pre-token-generation {version} needs user_pool_tier ESSENTIALS or PLUS; got {tier!r} (on LITE "
            "Cognito rejects the trigger)"
        )


cognito_pre_token_version = _policy(
    "cognito-pre-token-version",
    "The pre-token trigger has an explicit V2_0/V3_0 version and a feature plan that supports it (isolation invariant 16).",
    EnforcementLevel.MANDATORY,
    _pre_token_version,
)


def _tenant_mfa(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL or _tenant(args.props) == SYSTEM_TENANT:
        return
    if args.props.get("mfaConfiguration") not in ("ON", "OPTIONAL"):
        report_violation(
            f"user pool MFA is {args.props.get('mfaConfiguration')!r}; set mfa_configuration to 'ON' "
            "(or 'OPTIONAL' outside prod)"
        )


cognito_user_pool_mfa = _policy(
    "cognito-user-pool-mfa",
    "Tenant user pools offer MFA (mfa_configuration ON or OPTIONAL) (isolation invariant 19).",
    EnforcementLevel.ADVISORY,
    _tenant_mfa,
)


def _system_mfa(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL or _tenant(args.props) != SYSTEM_TENANT:
        return
    if args.props.get("mfaConfiguration") != "ON":
        report_violation(
            f"the system pool (SystemAdmin/Superuser/Support) has mfa_configuration "
            f"{args.props.get('mfaConfiguration')!r}; it must be 'ON'"
        )
    if get_path(args.props, "softwareTokenMfaConfiguration", "enabled") is not True:
        report_violation("the system pool must offer TOTP: set software_token_mfa_configuration.enabled=True")


cognito_system_pool_mfa = _policy(
    "cognito-system-pool-mfa",
    "The system tenant's pool requires MFA with software tokens (isolation invariant 19).",
    EnforcementLevel.MANDATORY,
    _system_mfa,
)


def _threat_protection_plan(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL:
        return
    mode = get_path(args.props, "userPoolAddOns", "advancedSecurityMode")
    if mode in ("AUDIT", "ENFORCED") and args.props.get("userPoolTier") != "PLUS":
        report_violation(
            f"threat protection {mode} needs user_pool_tier='PLUS'; got {args.props.get('userPoolTier')!r}"
        )


cognito_threat_protection_plan = _policy(
    "cognito-threat-protection-plan",
    "Threat protection (AUDIT/ENFORCED) is only configured on the PLUS plan (isolation invariant 20).",
    EnforcementLevel.MANDATORY,
    _threat_protection_plan,
)


def _threat_protection_enforced(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != USER_POOL or args.props.get("userPoolTier") != "PLUS":
        return
    if _environment(args.props) == "prod" and get_path(args.props, "userPoolAddOns", "advancedSecurityMode") != (
        "ENFORCED"
    ):
        report_violation("prod PLUS pool does not enforce threat protection; set advanced_security_mode='ENFORCED'")


cognito_threat_protection_enforced = _policy(
    "cognito-threat-protection-enforced",
    "Prod pools on PLUS enforce threat protection (isolation invariant 20).",
    EnforcementLevel.ADVISORY,
    _threat_protection_enforced,
)


# ------------------------------------------------------------------------------------------ app clients (#14, #21)


def _client_write_attributes(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != CLIENT:
        return
    writable = args.props.get("writeAttributes")
    if not _is_list(writable):
        report_violation(
            "write_attributes is not set, so the client may write every writable attribute (including "
            "custom:tenantRole); list the attributes users may change explicitly"
        )
        return
    bad = sorted(TENANT_CLAIM_ATTRIBUTES & {str(a) for a in as_list(writable)})
    if bad:
        report_violation(f"app client may write {bad}; tenant claims are set by admins only - remove them")


cognito_client_write_attributes = _policy(
    "cognito-client-write-attributes",
    "App clients list write_attributes explicitly and never include tenant claims (isolation invariant 14).",
    EnforcementLevel.MANDATORY,
    _client_write_attributes,
)


def _prevent_user_existence(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type == CLIENT and args.props.get("preventUserExistenceErrors") != "ENABLED":
        report_violation(
            "set prevent_user_existence_errors='ENABLED' so sign-in errors do not reveal which users exist"
        )


cognito_client_prevent_user_existence_errors = _policy(
    "cognito-client-prevent-user-existence-errors",
    "App clients hide whether a user exists (isolation invariant 21).",
    EnforcementLevel.ADVISORY,
    _prevent_user_existence,
)


def _token_revocation(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type == CLIENT and args.props.get("enableTokenRevocation") is not True:
        report_violation("set enable_token_revocation=True so signing out revokes refresh tokens")


cognito_client_token_revocation = _policy(
    "cognito-client-token-revocation",
    "App clients enable token revocation (isolation invariant 21).",
    EnforcementLevel.ADVISORY,
    _token_revocation,
)


def _token_minutes(props: Mapping[str, Any], key: str, unit_key: str) -> float | None:
    value = props.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    unit = get_path(props, "tokenValidityUnits", unit_key) or "hours"
    return value * UNIT_MINUTES.get(str(unit), 60)


def _token_validity(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != CLIENT:
        return
    for key, unit_key in (("accessTokenValidity", "accessToken"), ("idTokenValidity", "idToken")):
        minutes = _token_minutes(args.props, key, unit_key)
        if minutes is None:
            report_violation(f"{key} is not set (the default is 60 minutes but must be stated); set it explicitly")
        elif not MIN_TOKEN_MINUTES <= minutes <= MAX_TOKEN_MINUTES:
            report_violation(
                f"{key} is {minutes:g} minutes; keep it between {MIN_TOKEN_MINUTES} minutes and 1 day "
                "(AVP does not check revocation)"
            )


cognito_client_token_validity = _policy(
    "cognito-client-token-validity",
    "Access and ID tokens live between 5 minutes and 1 day (isolation invariant 21).",
    EnforcementLevel.ADVISORY,
    _token_validity,
)


def _auth_flows(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != CLIENT:
        return
    flows = args.props.get("explicitAuthFlows")
    if not _is_list(flows) or not flows:
        report_violation(
            "explicit_auth_flows is not set (the default adds custom auth); set it to "
            "['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']"
        )
        return
    weak = sorted(
        {str(f) for f in flows}
        & {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_CUSTOM_AUTH", "USER_PASSWORD_AUTH"}
    )
    if weak:
        report_violation(f"app client allows {weak}; prefer SRP (ALLOW_USER_SRP_AUTH) and justify anything else")


cognito_client_auth_flows = _policy(
    "cognito-client-auth-flows",
    "App clients allow the minimum auth flows, SRP preferred (isolation invariant 21).",
    EnforcementLevel.ADVISORY,
    _auth_flows,
)


# ---------------------------------------------------------------------------------------- trigger permission (#18)


def _permission_source_arn(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != PERMISSION or args.props.get("principal") != COGNITO_PRINCIPAL:
        return
    if not has_key(args.props, "sourceArn"):
        report_violation("Cognito may invoke this function from any user pool; set source_arn to the pool's ARN")
        return
    source = _get(args.props, "sourceArn")
    if source is UNKNOWN:
        # The ARN of a pool created in the same update is not known during preview. It is set (checked above);
        # cognito-trigger-permission-pinned checks its exact value against the pool's outputs.
        return
    if not isinstance(source, str) or not USER_POOL_ARN_RE.fullmatch(source):
        report_violation(
            f"Cognito may invoke this function from any user pool (source_arn={source!r}); set source_arn to the "
            "ARN of the one pool that uses it"
        )


lambda_cognito_permission_source_arn = _policy(
    "lambda-cognito-permission-source-arn",
    "Lambda permissions for cognito-idp.amazonaws.com name one user pool ARN as source_arn (isolation invariant 18).",
    EnforcementLevel.MANDATORY,
    _permission_source_arn,
)


def _permission_source_account(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != PERMISSION or args.props.get("principal") != COGNITO_PRINCIPAL:
        return
    if not args.props.get("sourceAccount"):
        report_violation("set source_account on Cognito trigger permissions as well (confused-deputy guard)")


lambda_cognito_permission_source_account = _policy(
    "lambda-cognito-permission-source-account",
    "Lambda permissions for cognito-idp.amazonaws.com also set source_account (isolation invariant 18).",
    EnforcementLevel.ADVISORY,
    _permission_source_account,
)


# ----------------------------------------------------------------------------------------- identity pools (#22-26)


def _no_guest(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != IDENTITY_POOL:
        return
    if args.props.get("allowUnauthenticatedIdentities") is not False:
        report_violation("identity pool may hand out guest credentials; set allow_unauthenticated_identities=False")
    if args.props.get("allowClassicFlow") is not False:
        report_violation("identity pool allows the classic (basic) flow; set allow_classic_flow=False")


identity_pool_no_guest_or_classic = _policy(
    "identity-pool-no-guest-or-classic",
    "Identity pools give no unauthenticated identities and no classic-flow credentials (isolation invariant 22).",
    EnforcementLevel.MANDATORY,
    _no_guest,
)


def _providers(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != IDENTITY_POOL:
        return
    providers = [p for p in as_list(args.props.get("cognitoIdentityProviders")) if isinstance(p, Mapping)]
    if not providers:
        report_violation("identity pool has no Cognito user pool provider; bind it to the tenant's user pool")
        return
    names = {_get(p, "providerName") for p in providers}
    if _known(*names) and len(names) != 1:
        report_violation(f"identity pool trusts {len(names)} user pools {sorted(map(str, names))}; exactly one allowed")
    for p in providers:
        name = _get(p, "providerName")
        if name is not UNKNOWN and (not isinstance(name, str) or not PROVIDER_RE.fullmatch(name)):
            report_violation(f"provider_name {name!r} is not cognito-idp.<region>.amazonaws.com/<userPoolId>")
        if not has_key(p, "clientId") or not _get(p, "clientId"):
            report_violation(f"provider {name!r} has no client_id; name each app client of this environment")
        if p.get("serverSideTokenCheck") is not True:
            report_violation(f"provider {name!r} lacks server_side_token_check=True (revoked tokens would still work)")
    for other in ("openidConnectProviderArns", "samlProviderArns", "supportedLoginProviders", "developerProviderName"):
        if args.props.get(other):
            report_violation(f"identity pool also trusts {other}; tenant identity pools trust only the tenant's pool")


identity_pool_cognito_provider = _policy(
    "identity-pool-cognito-provider",
    "Identity pools trust exactly one user pool, with named clients and server-side token check (isolation invariant 23).",
    EnforcementLevel.MANDATORY,
    _providers,
)


def _role_mapping(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != ROLE_ATTACHMENT:
        return
    roles = args.props.get("roles")
    if has_key(roles, "unauthenticated"):
        report_violation("role attachment has an 'unauthenticated' role; tenant identity pools have no guests")
    mappings = [m for m in as_list(args.props.get("roleMappings")) if isinstance(m, Mapping)]
    if not mappings:
        report_violation(
            "role attachment has no role_mappings, so every user gets roles.authenticated; map custom:tenantRole "
            "with type='Rules' and ambiguous_role_resolution='Deny'"
        )
        return
    privileged: set[str] = set()
    for m in mappings:
        provider = _get(m, "identityProvider")
        if m.get("ambiguousRoleResolution") != "Deny":
            report_violation(
                f"role mapping for {provider!r} resolves ambiguous users with {m.get('ambiguousRoleResolution')!r}; "
                "set ambiguous_role_resolution='Deny'"
            )
        if m.get("type") not in ("Rules", "Token"):
            report_violation(f"role mapping for {provider!r} has type {m.get('type')!r}; use 'Rules'")
        if m.get("type") == "Rules":
            rules = [r for r in as_list(m.get("mappingRules")) if isinstance(r, Mapping)]
            if not rules:
                report_violation(f"role mapping for {provider!r} has type Rules but no rules")
            for r in rules:
                if r.get("matchType") != "Equals":
                    report_violation(
                        f"rule on {r.get('claim')!r} uses {r.get('matchType')!r}; only 'Equals' is exact "
                        "(Contains/StartsWith/NotEqual match unintended values)"
                    )
                if r.get("claim") not in ROLE_MAPPING_CLAIMS:
                    report_violation(
                        f"rule matches claim {r.get('claim')!r}; only admin-set, non-writable claims "
                        f"{sorted(ROLE_MAPPING_CLAIMS)} may pick a role"
                    )
                role_arn = _get(r, "roleArn")
                if r.get("value") in PRIVILEGED_ROLE_VALUES and isinstance(role_arn, str):
                    privileged.add(role_arn)
    default = _get(roles, "authenticated")
    if isinstance(default, str) and default in privileged:
        report_violation(
            f"roles.authenticated {default!r} is also the role for a privileged claim value; the default must be "
            "the tenant's least-privileged role"
        )


identity_pool_role_mapping = _policy(
    "identity-pool-role-mapping",
    "Identity-pool role attachments map an admin-set claim with Equals rules and deny ambiguous users "
    "(isolation invariant 24).",
    EnforcementLevel.MANDATORY,
    _role_mapping,
)


def _principal_tags(args: ResourceValidationArgs, report_violation: Report) -> None:
    if args.resource_type != PRINCIPAL_TAG:
        return
    if args.props.get("useDefaults") is not False:
        report_violation(
            "principal tags use the defaults (aud, sub), not the tenant claim; set use_defaults=False and map "
            "TenantId explicitly"
        )
    tags = args.props.get("principalTags")
    if not isinstance(tags, Mapping) or not tags:
        report_violation(f"principal_tags is empty; set {dict(PRINCIPAL_TAG_MAP)}")
        return
    for key, claim in tags.items():
        if PRINCIPAL_TAG_MAP.get(key) != claim:
            report_violation(
                f"principal tag {key!r} <- {claim!r} is not allowed; only {dict(PRINCIPAL_TAG_MAP)} (an immutable, "
                "non-writable claim, spelled as the IAM policies reference it)"
            )


identity_pool_principal_tags = _policy(
    "identity-pool-principal-tags",
    "Identity pools map principal tags explicitly from immutable claims only (isolation invariant 26).",
    EnforcementLevel.MANDATORY,
    _principal_tags,
)


# ------------------------------------------------------------------------------------------------- stack rules


def _of_type(resources: Iterable[PolicyResource], type_: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == type_]


def _trigger_arns(pool: PolicyResource) -> set[Any]:
    """Function ARNs in the pool's ``lambdaConfig`` (:data:`UNKNOWN` for ones not known yet)."""
    config = _get(pool.props, "lambdaConfig")
    if not isinstance(config, Mapping):
        return set()
    arns: set[Any] = set()
    for key in config:
        value = _get(config, key)
        if key == "kmsKeyId":
            continue
        if isinstance(value, Mapping):
            value = _get(value, "lambdaArn")
        if isinstance(value, str) or value is UNKNOWN:
            arns.add(value)
    return arns


def _function_keys(fn: PolicyResource) -> set[str]:
    keys = {_get(fn.props, k) for k in ("arn", "name", "qualifiedArn")}
    return {str(k) for k in keys if isinstance(k, str) and k}


def _trigger_permissions_pinned(args: StackValidationArgs, report_violation: Report) -> None:
    pools = _of_type(args.resources, USER_POOL)
    functions = _of_type(args.resources, "aws:lambda/function:Function")
    used_by: dict[str, list[PolicyResource]] = {}
    for pool in pools:
        arns = _trigger_arns(pool)
        if not _known(*arns):
            return  # preview of a first deployment: evaluated on the real outputs by `pulumi up`
        for arn in arns:
            used_by.setdefault(arn, []).append(pool)
    pool_arns = [_get(p.props, "arn") for p in pools]
    granted: dict[str, set[str]] = {}  # function ARN -> source ARNs of its Cognito permissions
    for perm in _of_type(args.resources, PERMISSION):
        if _get(perm.props, "principal") != COGNITO_PRINCIPAL:
            continue
        target, source = _get(perm.props, "function", ""), _get(perm.props, "sourceArn")
        if not _known(target, source, *pool_arns):
            continue
        fn = next((f for f in functions if str(target) in _function_keys(f)), None)
        keys = _function_keys(fn) if fn else {str(target)}
        if fn is None:  # a function of another stack, named here: its ARN ends with ``:function:<name>``
            keys |= {arn for arn in used_by if isinstance(arn, str) and arn.endswith(f":function:{target}")}
        pools_using = [p for arn, ps in used_by.items() if arn in keys for p in ps]
        if not pools_using:
            report_violation(
                f"Cognito may invoke {target!r}, but no user pool in this stack uses it as a trigger; remove the "
                "permission",
                perm.urn,
            )
            continue
        expected = {str(_get(p.props, "arn")) for p in pools_using}
        if source not in expected:
            report_violation(
                f"permission for {target!r} has source_arn {source!r}; it must be the ARN of "
                f"a pool that uses the function {sorted(expected)}",
                perm.urn,
            )
        for key in keys:
            granted.setdefault(key, set()).add(str(source))
    if not _known(*pool_arns):
        return
    for arn, users in used_by.items():
        fn = next((f for f in functions if arn in _function_keys(f)), None)
        sources = set().union(*(granted.get(k, set()) for k in (_function_keys(fn) if fn else {arn})))
        for pool in users:
            if str(_get(pool.props, "arn")) not in sources:
                report_violation(
                    f"user pool {_get(pool.props, 'arn')!r} uses trigger {arn} but no Cognito permission of that "
                    "function names the pool as source_arn; give every pool that shares a trigger its own "
                    "permission (the pool's ARN, never a wildcard)",
                    pool.urn,
                )


cognito_trigger_permission_pinned = StackValidationPolicy(
    name="cognito-trigger-permission-pinned",
    description="Every Cognito invoke permission names one pool that uses the function, and every pool using a "
    "(shared) trigger has its own such permission (isolation invariant 18).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_trigger_permissions_pinned,
)


def _user_pool_id(pool: PolicyResource) -> Any:
    """The pool id: the ``id`` output, or the last segment of its ARN (``...:userpool/<id>``)."""
    pool_id = _get(pool.props, "id")
    if pool_id:
        return pool_id
    arn = _get(pool.props, "arn", "")
    return arn if arn is UNKNOWN else str(arn).rsplit("/", 1)[-1]


def _pool_id_of_provider(name: Any) -> Any:
    if isinstance(name, str) and "/" in name:
        return name.rsplit("/", 1)[1]
    return name if name is UNKNOWN else None


def _identity_pool_binding(args: StackValidationArgs, report_violation: Report) -> None:
    user_pools = _of_type(args.resources, USER_POOL)
    if not user_pools:
        return  # mode: shared - the pools live in the owning stack; the component binds them from its export
    pool_tenant = {_user_pool_id(p): _tenant(p.props) for p in user_pools}
    clients_of: dict[Any, set[Any]] = {}
    for c in _of_type(args.resources, CLIENT):
        clients_of.setdefault(_get(c.props, "userPoolId"), set()).add(_get(c.props, "id"))
    if UNKNOWN in pool_tenant or UNKNOWN in clients_of:
        return  # preview of a first deployment: evaluated on the real outputs by `pulumi up`
    for ip in _of_type(args.resources, IDENTITY_POOL):
        tenant = _tenant(ip.props)
        for provider in [p for p in as_list(_get(ip.props, "cognitoIdentityProviders")) if isinstance(p, Mapping)]:
            pool_id = _pool_id_of_provider(_get(provider, "providerName"))
            client_id = _get(provider, "clientId")
            if not _known(pool_id, client_id):
                continue
            if pool_id not in pool_tenant:
                report_violation(
                    f"identity pool of tenant {tenant!r} trusts user pool {pool_id!r}, which this stack does not "
                    "create; bind it to the tenant's own pool",
                    ip.urn,
                )
                continue
            if pool_tenant[pool_id] != tenant:
                report_violation(
                    f"identity pool of tenant {tenant!r} trusts the user pool of tenant {pool_tenant[pool_id]!r}",
                    ip.urn,
                )
            if client_id not in clients_of.get(pool_id, set()):
                report_violation(
                    f"identity pool of tenant {tenant!r} names client {client_id!r}, which is not an "
                    f"app client of user pool {pool_id}",
                    ip.urn,
                )


identity_pool_tenant_binding = StackValidationPolicy(
    name="identity-pool-tenant-binding",
    description="Each identity pool trusts only its own tenant's user pool and that pool's clients (isolation invariant 23).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_identity_pool_binding,
)


def _trust_document(role: PolicyResource) -> dict[str, Any] | None:
    """The role's trust policy (``{}`` when absent or not JSON); ``None`` while unknown."""
    policy = _get(role.props, "assumeRolePolicy")
    return None if policy is UNKNOWN else parse_json_document(policy) or {}


def _trust_audiences(role: PolicyResource) -> set[str] | None:
    """The ``cognito-identity.amazonaws.com:aud`` values a role trusts (``None`` while unknown)."""
    doc = _trust_document(role)
    if doc is None:
        return None
    auds: set[str] = set()
    for st in statements(doc):
        if st.get("Effect") != "Allow":
            continue
        cond = st.get("Condition")
        equals = cond.get("StringEquals") if isinstance(cond, Mapping) else None
        if isinstance(equals, Mapping):
            auds.update(str(a) for a in as_list(equals.get("cognito-identity.amazonaws.com:aud")))
    return auds


def _trust_tag_bindings(role: PolicyResource, pool_id: str) -> list[list[str]] | None:
    """For each Allow statement trusting ``pool_id`` with ``sts:TagSession``, the ``aws:RequestTag/TenantId``
    values it requires (``[]`` when it requires none); ``None`` while the trust is unknown."""
    doc = _trust_document(role)
    if doc is None:
        return None
    out: list[list[str]] = []
    for st in statements(doc):
        if st.get("Effect") != "Allow" or "sts:tagsession" not in {str(a).lower() for a in as_list(st.get("Action"))}:
            continue
        cond = st.get("Condition")
        equals = cond.get("StringEquals") if isinstance(cond, Mapping) else None
        if not isinstance(equals, Mapping):
            continue
        if pool_id in {str(a) for a in as_list(equals.get("cognito-identity.amazonaws.com:aud"))}:
            out.append([str(t) for t in as_list(equals.get("aws:RequestTag/TenantId"))])
    return out


def _attachment_role_arns(att: PolicyResource) -> set[Any]:
    arns: set[Any] = set()
    roles = _get(att.props, "roles")
    if isinstance(roles, Mapping):
        arns.update(_get(roles, k) for k in roles)
    for m in as_list(_get(att.props, "roleMappings")):
        if isinstance(m, Mapping):
            rules = as_list(_get(m, "mappingRules"))
            arns.update(_get(r, "roleArn") for r in rules if isinstance(r, Mapping))
    return arns


def _roles_same_tenant(args: StackValidationArgs, report_violation: Report) -> None:
    identity_pools = {_get(p.props, "id"): p for p in _of_type(args.resources, IDENTITY_POOL)}
    roles = {_get(r.props, "arn"): r for r in _of_type(args.resources, ROLE)}
    graph: Graph | None = None

    def _sanctioned_abac(role_urn: str) -> bool:
        """A shared ABAC role (saas:access.mode abac) may trust several customer pools: TagSession, no literal
        tenant keys, ${aws:PrincipalTag/TenantId} policies, no system pool (isolation invariants 7, 8). Its binding
        and principal-tag map are checked by the access rules (tenant-role-trust-binding, abac-principal-tag-provenance)."""
        nonlocal graph
        if graph is None:
            graph = stack_graph(args.resources)
        found = [r for r in graph.roles if r.urn == role_urn]
        return bool(found) and graph.is_sanctioned_abac(found[0])

    for att in _of_type(args.resources, ROLE_ATTACHMENT):
        pool_id = _get(att.props, "identityPoolId")
        arns = _attachment_role_arns(att)
        if not _known(pool_id, *arns) or UNKNOWN in identity_pools or UNKNOWN in roles:
            continue  # preview of a first deployment: evaluated on the real outputs by `pulumi up`
        pool = identity_pools.get(pool_id)
        if pool is None:
            report_violation(
                f"role attachment for identity pool {pool_id!r}, which this stack does not create", att.urn
            )
            continue
        tenant = _tenant(pool.props)
        for arn in sorted(str(a) for a in arns):
            role = roles.get(arn)
            if role is None:
                report_violation(
                    f"identity pool of tenant {tenant!r} hands out role {arn}, which this stack does not create; "
                    "its tenant and trust policy cannot be checked",
                    att.urn,
                )
                continue
            role_tenant = _tenant(role.props)
            if role_tenant is not None and role_tenant != tenant:
                report_violation(
                    f"identity pool of tenant {tenant!r} hands out role {arn} of tenant {role_tenant!r}", att.urn
                )
            auds = _trust_audiences(role)
            if auds is not None and auds != {pool_id} and not (pool_id in auds and _sanctioned_abac(role.urn)):
                report_violation(
                    f"role {arn} is handed out by identity pool {pool_id} (tenant {tenant!r}) but its trust policy "
                    f"names audiences {sorted(auds)}; it must trust exactly that pool (several customer pools only "
                    "for a shared ABAC role: TagSession and ${aws:PrincipalTag/TenantId} policies)",
                    att.urn,
                )
            bindings = _trust_tag_bindings(role, pool_id)
            if bindings and any(b != [tenant] for b in bindings):
                report_violation(
                    f"role {arn} lets identity pool {pool_id} (tenant {tenant!r}) tag sessions with TenantId "
                    f"{[b or 'any' for b in bindings]}; each pool's trust statement must require "
                    f"aws:RequestTag/TenantId = {tenant!r} (StringEquals), so the tag cannot name another tenant",
                    att.urn,
                )


identity_pool_roles_same_tenant = StackValidationPolicy(
    name="identity-pool-roles-same-tenant",
    description="Every role an identity pool hands out belongs to the same tenant and trusts only that pool "
    "(isolation invariants 11, 24, 25).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_roles_same_tenant,
)


POLICIES = [
    cognito_tenant_id_immutable,
    cognito_admin_create_only,
    cognito_user_pool_deletion_protection,
    cognito_pre_token_version,
    cognito_user_pool_mfa,
    cognito_system_pool_mfa,
    cognito_threat_protection_plan,
    cognito_threat_protection_enforced,
    cognito_client_write_attributes,
    cognito_client_prevent_user_existence_errors,
    cognito_client_token_revocation,
    cognito_client_token_validity,
    cognito_client_auth_flows,
    lambda_cognito_permission_source_arn,
    lambda_cognito_permission_source_account,
    identity_pool_no_guest_or_classic,
    identity_pool_cognito_provider,
    identity_pool_role_mapping,
    identity_pool_principal_tags,
    cognito_trigger_permission_pinned,
    identity_pool_tenant_binding,
    identity_pool_roles_same_tenant,
]
