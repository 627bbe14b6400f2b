"""``TenantApi``: the environment's single REST API (the OptimalHR design), guarded by the AVP Lambda authorizer.

One API per environment is shared by all tenants. Its methods are exactly the rows of ``handlers/routes.json``
whose microservice has a Lambda ARN in ``saas:api.services``; every method uses the REQUEST authorizer
(``handlers/authorizer.py``) and a Lambda proxy integration to its microservice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components import datapaths
from saas_platform.components.cedar import CEDAR_NAMESPACE_RE
from saas_platform.components.config import (
    DEFAULT_TIER_THROTTLES,
    JWKS_MAX_STALE_DEFAULT_SECONDS,
    JWKS_MAX_STALE_LIMIT_SECONDS,
    LAMBDA_FUNCTION_ARN_RE,
    ThrottleConfig,
    Tier,
)
from saas_platform.components.datapaths import DataPath
from saas_platform.components.errors import ComponentArgError
from saas_platform.components.iam import service_trust_policy
from saas_platform.components.lambda_function import (
    HANDLERS_DIR,
    HandlerFunction,
    HandlerFunctionArgs,
    LayerLike,
)
from saas_platform.components.naming import (
    LOG_RETENTION_DAYS,
    TAG_COMPONENT,
    TAG_ENVIRONMENT,
    TAG_TENANT,
    TENANT_ID_RE,
    Environment,
    env_suffix,
    tags,
)
from saas_platform.components.registry import (
    REGISTRY_TABLE_ENV,
    registry_key_statement,
    registry_read_paths,
    registry_read_statement,
)

ROUTES_FILE: Final = HANDLERS_DIR / "routes.json"
AUTHORIZER_HANDLER: Final = "saas_platform.handlers.authorizer.lambda_handler"
IDENTITY_SOURCE: Final = "method.request.header.Authorization"
JWKS_MAX_STALE_ENV: Final = "AUTHZ_JWKS_MAX_STALE_SECONDS"
"""The authorizer's environment variable for ``TenantApiArgs.jwks_max_stale_seconds``."""
AUTHORIZER_TTL_SECONDS: Final = 0
"""No authorizer caching: the decision depends on the token, the method and the concrete path (owner path
parameters), and a REQUEST authorizer cannot key its cache on the full path (isolation invariant 32 (a))."""
MAX_CONFIG_BYTES: Final = 3_500
"""Lambda allows 4 KB of environment variables in total; the authorizer config must leave room for the rest.
(It holds environment-level settings only: the tenants come from the registry, so it no longer grows.)"""
ACCESS_LOG_FORMAT: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "principalId": "$context.authorizer.principalId",
    "tenantId": "$context.authorizer.tenantId",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


@dataclass(frozen=True)
class ApiRoute:
    """One route of ``handlers/routes.json``: method and path, its service, its Cedar action and where the owner comes from."""

    method: str
    path: str
    service: str
    action: str
    owner: str | None


def load_routes(path: Path = ROUTES_FILE) -> tuple[ApiRoute, ...]:
    """The route table shared with the authorizer."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        ApiRoute(method=r["method"], path=r["path"], service=r["service"], action=r["action"], owner=r.get("owner"))
        for r in doc["routes"]
    )


@dataclass(frozen=True)
class ApiTenant:
    """One tenant as the API sees it at deploy time: its usage plan (tier) and usage key. Everything the
    authorizer decides with at run time - the issuer's pool, the app clients, the store id, the status, the usage
    key - comes from the tenant registry.

    ``policy_store_arn`` (``TenantAuthorization.policy_store_arn``) is optional and feeds the data-path inventory
    only (the authorization matrix evaluates the authorizer's call on that store). The authorizer's role never
    names a store: it may ask any store of this environment tagged by ``TenantAuthorization``
    (:func:`authorizer_store_statement`), so its policy does not grow with the tenants and covers the stores of
    cell stacks too."""

    tenant_id: str
    tier: Tier
    policy_store_arn: pulumi.Input[str] | None = None


IMAGE_SERVICE: Final = "images"
"""The ``routes.json`` service served by the platform's own upload function (``ImagePipeline``), not by a
``saas:api.services`` microservice."""


@dataclass(frozen=True, kw_only=True)
class ImageUploadIntegration:
    """The image-pipeline upload function behind ``POST /v1/images`` (``ImagePipeline.upload_function_*``).

    ``function_name`` is plain (it names the permission and the deployment fingerprint); the ARN may be an Output.
    """

    function_name: str
    function_arn: pulumi.Input[str]
    region: str
    binary_media_types: Sequence[str] = ("image/gif", "image/jpeg", "image/png", "image/webp")


@dataclass(frozen=True, kw_only=True)
class TenantApiArgs:
    """Arguments of :class:`TenantApi`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``; also the stage name.
        name_prefix: physical-name prefix (``AIML-SaaS``).
        tenants: every customer tenant with its tier (non-empty): one usage key each, on its tier's usage plan.
            A tenant's ``policy_store_arn`` only adds its store to the data-path inventory.
        region: the stack's region: the only region whose issuers the authorizer looks up, and the registry key's.
        account_id: the account (the registry key's ARN).
        kms_key_alias: the environment key's alias; the registry table is encrypted with it.
        registry_table_name / registry_table_arn: the tenant registry (``TenantRegistry``): the authorizer resolves
            ``iss`` -> user pool -> tenant, app clients, policy store, status and usage key there
            (``SAAS_REGISTRY_TABLE``), cached per execution environment.
        services: microservice -> Lambda function ARN (keys as in ``routes.json``); routes of other services
            are not created.
        kms_key_arn: encrypts the access-log group and the authorizer's logs and environment.
        layer_arn: the handler dependencies layer (PyJWT, Powertools): a ``HandlerLayer``, a ``LayerRef`` or an
            ARN; the authorizer is refused if it does not provide what the authorizer imports.
        cedar_namespace: Default ``OptimalHR``. The Cedar namespace of the entity types the authorizer sends to
            AVP; set it to the namespace of the tenants' policy stores when they use custom assets
            (``TenantAuthorization(...).namespace``).
        tier_throttles: per-tier usage-plan throttles. Default ``DEFAULT_TIER_THROTTLES``.
        log_retention_days: access-log retention. Default 365.
        manage_account_log_role: Default ``True``: set the account's API Gateway CloudWatch Logs role (needed
            for access logging; one per account and region, so set ``False`` in every other stack there).
        image_upload: the upload function of the image pipeline; adds ``POST /v1/images`` (Cedar action
            ``UploadImage``, same authorizer) and the image types as binary media types. ``services`` may then
            be empty.
        jwks_max_stale_seconds: Default 21600 (6 h). The authorizer refetches a user pool's signing keys (JWKS)
            once they are an hour old; while refetching fails (retries backing off 60 s -> 900 s) it keeps
            verifying with the last good keys for at most this many more seconds, then denies every token of that
            pool until a refetch succeeds. 0 denies as soon as a refetch fails; at most 86400 (24 h). Passed to
            the function as ``AUTHZ_JWKS_MAX_STALE_SECONDS``.
    """

    environment: Environment
    name_prefix: str
    tenants: Sequence[ApiTenant]
    services: Mapping[str, str]
    kms_key_arn: pulumi.Input[str]
    region: str
    account_id: pulumi.Input[str]
    kms_key_alias: str
    registry_table_name: pulumi.Input[str]
    registry_table_arn: pulumi.Input[str]
    layer_arn: LayerLike | None = None
    cedar_namespace: str = "OptimalHR"
    tier_throttles: Mapping[Tier, ThrottleConfig] = field(default_factory=lambda: dict(DEFAULT_TIER_THROTTLES))
    log_retention_days: int = 365
    manage_account_log_role: bool = True
    image_upload: ImageUploadIntegration | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    jwks_max_stale_seconds: int = JWKS_MAX_STALE_DEFAULT_SECONDS

    def __post_init__(self) -> None:
        if (
            isinstance(self.jwks_max_stale_seconds, bool)
            or not isinstance(self.jwks_max_stale_seconds, int)
            or not 0 <= self.jwks_max_stale_seconds <= JWKS_MAX_STALE_LIMIT_SECONDS
        ):
            raise ComponentArgError(
                f"jwks_max_stale_seconds must be whole seconds between 0 and {JWKS_MAX_STALE_LIMIT_SECONDS} "
                f"(24 hours); got {self.jwks_max_stale_seconds!r}"
            )
        if not CEDAR_NAMESPACE_RE.fullmatch(self.cedar_namespace):
            raise ComponentArgError(
                f"cedar_namespace must be a Cedar namespace like 'OptimalHR'; got {self.cedar_namespace!r}"
            )
        ids = [t.tenant_id for t in self.tenants]
        bad = [i for i in ids if not TENANT_ID_RE.fullmatch(i)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if bad or dupes:
            raise ComponentArgError(
                f"tenant ids must be unique and match {TENANT_ID_RE.pattern!r}; bad {bad}, duplicated {dupes}"
            )
        for t in self.tenants:
            if t.tier not in self.tier_throttles:
                raise ComponentArgError(
                    f"tenant {t.tenant_id!r} is on tier {t.tier!r}, which has no throttle; "
                    f"known: {sorted(self.tier_throttles)}"
                )
        known = {r.service for r in load_routes()} - {IMAGE_SERVICE}
        unknown = sorted(set(self.services) - known)
        if unknown or not (self.services or self.image_upload):
            raise ComponentArgError(
                f"services must name at least one of {sorted(known)} (routes.json), or pass image_upload; "
                f"unknown: {unknown}"
                + (
                    " (the images routes are served by ImagePipeline: pass image_upload)"
                    if IMAGE_SERVICE in unknown
                    else ""
                )
            )
        for service, arn in self.services.items():
            if not LAMBDA_FUNCTION_ARN_RE.fullmatch(arn):
                raise ComponentArgError(f"services[{service!r}] must be a Lambda function ARN; got {arn!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )


def usage_key(
    name: str,
    *,
    tenant_id: str,
    environment: str,
    name_prefix: str,
    extra_tags: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.apigateway.ApiKey:
    """A tenant's usage identifier key (``<prefix>-<tenant>-<Env>``): the authorizer returns its value as
    ``usageIdentifierKey``, so API Gateway meters and throttles the tenant by its tier's usage plan. Not a
    credential: callers never send it."""
    return aws.apigateway.ApiKey(
        name,
        name=f"{name_prefix}-{tenant_id}-{env_suffix(environment)}",
        description=f"Usage identifier of tenant {tenant_id} (metering/throttling only; not a credential)",
        enabled=True,
        tags=tags(environment, "TenantApi", tenant_id, dict(extra_tags or {})),
        opts=opts,
    )


def tenant_usage_key(
    name: str,
    *,
    tenant_id: str,
    environment: str,
    name_prefix: str,
    usage_plan_id: pulumi.Input[str],
    extra_tags: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.apigateway.ApiKey:
    """A tenant of a cell stack joins the platform's API: its usage key (:func:`usage_key`) on its tier's plan
    (``TenantApi.usage_plan_ids``, read through the platform contract). Returns the key; its ``value`` goes into
    the tenant's registry item."""
    key = usage_key(
        name, tenant_id=tenant_id, environment=environment, name_prefix=name_prefix, extra_tags=extra_tags, opts=opts
    )
    aws.apigateway.UsagePlanKey(
        f"{name}-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=usage_plan_id, opts=opts
    )
    return key


STORE_COMPONENT: Final = "TenantAuthorization"
"""The ``saas:component`` tag of every tenant policy store (``TenantAuthorization`` tags its store with it)."""


def authorizer_store_statement(environment: str, account_id: pulumi.Input[str]) -> dict[str, Any]:
    """The authorizer's one grant on Verified Permissions, constant in the number of tenants.

    ``IsAuthorizedWithToken`` on ``policy-store/*`` of the account, only on stores whose tags say they belong to
    this environment (``saas:environment``), were created by ``TenantAuthorization`` (``saas:component``) and
    belong to a tenant (``saas:tenant`` present). The Service Authorization Reference lists
    ``aws:ResourceTag/${TagKey}`` for this action on the policy-store resource, so the tags are checked on the
    store the request names. A store of another environment, an untagged store or one some other component
    created is refused; a store a cell stack of the same environment creates is covered without changing this
    role. Which store a token may be asked of is the registry's answer (``policyStoreId`` of the issuer's tenant).
    """
    return {
        "Sid": "IsAuthorizedWithTokenOnTenantStores",
        "Effect": "Allow",
        "Action": ["verifiedpermissions:IsAuthorizedWithToken"],
        "Resource": pulumi.Output.concat("arn:aws:verifiedpermissions::", account_id, ":policy-store/*"),
        "Condition": {
            "StringEquals": {
                f"aws:ResourceTag/{TAG_ENVIRONMENT}": environment,
                f"aws:ResourceTag/{TAG_COMPONENT}": STORE_COMPONENT,
            },
            "Null": {f"aws:ResourceTag/{TAG_TENANT}": "false"},
        },
    }


def authorizer_config(environment: str, region: str) -> str:
    """The authorizer's ``AUTHZ_CONFIG``: environment-level settings only, ``{"environment", "region"}`` (pure; the
    handler's ``AuthorizerConfig.from_json`` reads it). The tenants are in the registry, not here."""
    text = json.dumps({"environment": environment, "region": region}, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > MAX_CONFIG_BYTES:  # unreachable with valid inputs; kept as the budget's one check
        raise ComponentArgError(f"the authorizer config is {len(text.encode())} bytes; we allow {MAX_CONFIG_BYTES}")
    return text


class TenantApi(pulumi.ComponentResource):
    """The environment's REST API with the AVP Lambda authorizer, per-tier usage plans and access logs.

    * ``RestApi`` (regional, ``api_key_source="AUTHORIZER"``: the authorizer returns the caller's tenant usage key,
      so each tenant is throttled by its own tier's usage plan - the OptimalHR design "Rate Limiting & Throttling").
    * The authorizer: ``HandlerFunction`` running ``saas_platform.handlers.authorizer`` whose role may call only
      ``verifiedpermissions:IsAuthorizedWithToken`` on this environment's tenant policy stores (``policy-store/*``
      under tag conditions, :func:`authorizer_store_statement`; no store list) and read the tenant registry
      (``GetItem``/``Query`` on the table and its ``byUserPool`` index, the key through DynamoDB); a ``REQUEST``
      ``Authorizer`` with identity source ``method.request.header.Authorization`` and result TTL 0.
    * One ``Resource`` per path segment and one ``Method`` (``CUSTOM`` auth, API key required) plus a Lambda proxy
      ``Integration`` per route; one ``lambda.Permission`` per microservice, scoped to this API's stage.
    * Gateway responses: ``ACCESS_DENIED``, ``AUTHORIZER_FAILURE`` and ``AUTHORIZER_CONFIGURATION_ERROR`` are 403
      (a failing authorizer never surfaces as a retryable 5xx); ``UNAUTHORIZED`` stays 401.
    * ``Deployment`` + ``Stage`` named after the environment: X-Ray tracing, JSON access logs to a KMS-encrypted
      log group with retention; usage plan per tier in use; ``ApiKey`` + ``UsagePlanKey`` per tenant.

    Example::

        api = TenantApi("platform-api", TenantApiArgs(environment="dev", name_prefix="AIML-SaaS",
            tenants=[ApiTenant(tenant_id="acme", tier="standard", policy_store_arn=acme_authz.policy_store_arn)],
            services={"leave": "arn:aws:lambda:ap-southeast-1:123456789012:function:Leave-Dev"},
            kms_key_arn=key.arn, region="ap-southeast-1", account_id=account_id, kms_key_alias="alias/aiml-saas-dev",
            registry_table_name=registry.table_name, registry_table_arn=registry.table_arn))

    Documentation:
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
        https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html
        https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-xray.html
        https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/security_iam_service-with-iam.html
    """

    rest_api_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage_name: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    authorizer_role_arn: pulumi.Output[str]
    authorizer_function_arn: pulumi.Output[str]
    usage_key_values: dict[str, pulumi.Output[str]]
    usage_plan_ids: dict[str, pulumi.Output[str]]
    """Tier -> usage plan id (every tier): what a cell stack's tenants join (``tenant_usage_key``)."""
    """Tenant -> the value of its usage-plan API key (a secret): written into the tenant's registry item, from
    which the authorizer returns it as ``usageIdentifierKey``."""
    routes: tuple[ApiRoute, ...]

    def __init__(self, name: str, args: TenantApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:api:TenantApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        suffix = env_suffix(args.environment)
        resource_tags = tags(args.environment, "TenantApi", extra=dict(args.extra_tags))
        upload = args.image_upload
        self.routes = tuple(
            r
            for r in load_routes()
            if r.service in args.services or (r.service == IMAGE_SERVICE and upload is not None)
        )

        api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=f"{args.name_prefix}-Api-{suffix}",
            description=f"OptimalHR tenant API ({args.environment}); authorized per request by Verified Permissions",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            api_key_source="AUTHORIZER",
            binary_media_types=list(upload.binary_media_types) if upload is not None else None,
            tags=resource_tags,
            opts=child,
        )

        # --- usage plans and per-tenant keys (the authorizer returns the key as usageIdentifierKey)
        keys = {
            t.tenant_id: usage_key(
                f"{name}-{t.tenant_id}-usage-key",
                tenant_id=t.tenant_id,
                environment=args.environment,
                name_prefix=args.name_prefix,
                extra_tags=args.extra_tags,
                opts=child,
            )
            for t in args.tenants
        }

        # --- the authorizer: environment-level settings in AUTHZ_CONFIG, the tenants in the registry
        config = authorizer_config(args.environment, args.region)
        function = HandlerFunction(
            f"{name}-authorizer",
            HandlerFunctionArgs(
                function_name=f"{args.name_prefix}-Authorizer-{suffix}",
                handler=AUTHORIZER_HANDLER,
                environment=args.environment,
                component="TenantApi",
                kms_key_arn=args.kms_key_arn,
                description="REQUEST authorizer: Cognito JWT -> tenant policy store -> IsAuthorizedWithToken",
                env={
                    "AUTHZ_CONFIG": config,
                    "SAAS_CEDAR_NAMESPACE": args.cedar_namespace,
                    JWKS_MAX_STALE_ENV: str(args.jwks_max_stale_seconds),
                    REGISTRY_TABLE_ENV: args.registry_table_name,
                },
                statements=[
                    authorizer_store_statement(args.environment, args.account_id),
                    registry_read_statement(args.registry_table_arn),
                    registry_key_statement(
                        region=args.region, account_id=args.account_id, kms_key_alias=args.kms_key_alias
                    ),
                ],
                layers=[args.layer_arn] if args.layer_arn is not None else [],
                memory_size=512,
                timeout=5,
                extra_tags=dict(args.extra_tags),
            ),
            opts=child,
        )
        authorizer = aws.apigateway.Authorizer(
            f"{name}-authorizer",
            name=f"{args.name_prefix}-AvpAuthorizer-{suffix}",
            rest_api=api.id,
            type="REQUEST",
            authorizer_uri=function.invoke_arn,
            identity_source=IDENTITY_SOURCE,
            authorizer_result_ttl_in_seconds=AUTHORIZER_TTL_SECONDS,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-authorizer-invoke",
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/authorizers/", authorizer.id),
            opts=child,
        )
        invoke_paths = [
            DataPath(
                name="apigateway/invoke-authorizer",
                principal="apigateway.amazonaws.com",
                principal_type="service",
                actions=("lambda:InvokeFunction",),
                resource=function.function_arn,
                context={"aws:SourceArn": pulumi.Output.concat(api.execution_arn, "/authorizers/", authorizer.id)},
                guards=("aws:SourceArn",),
                description="API Gateway runs the REQUEST authorizer",
            ),
            *registry_read_paths(
                principal=function.role_arn,
                table_arn=args.registry_table_arn,
                kms_key_arn=args.kms_key_arn,
                region=args.region,
            ),
            *(
                DataPath(
                    name=f"authorizer/is-authorized/{t.tenant_id}",
                    principal=function.role_arn,
                    principal_type="role",
                    actions=("verifiedpermissions:IsAuthorizedWithToken",),
                    resource=t.policy_store_arn,
                    description=f"the authorizer asks tenant {t.tenant_id}'s policy store (found in the registry); "
                    "the matrix reads the store's tags from the plan",
                )
                for t in args.tenants
                if t.policy_store_arn is not None
            ),
        ]

        # --- resources, methods, integrations
        resources: dict[str, aws.apigateway.Resource] = {}

        def resource_for(path: str) -> pulumi.Input[str]:
            if path == "/":
                return api.root_resource_id
            if path not in resources:
                parent, _, part = path.rpartition("/")
                resources[path] = aws.apigateway.Resource(
                    f"{name}-res{_slug(path)}",
                    rest_api=api.id,
                    parent_id=resource_for(parent or "/"),
                    path_part=part,
                    opts=child,
                )
            return resources[path].id

        methods: list[pulumi.Resource] = []
        for route in self.routes:
            label = f"{route.method.lower()}{_slug(route.path)}"
            path_params = [seg[1:-1] for seg in route.path.split("/") if seg.startswith("{")]
            method = aws.apigateway.Method(
                f"{name}-{label}",
                rest_api=api.id,
                resource_id=resource_for(route.path),
                http_method=route.method,
                authorization="CUSTOM",
                authorizer_id=authorizer.id,
                api_key_required=True,
                request_parameters={f"method.request.path.{p}": True for p in path_params} or None,
                opts=child,
            )
            if route.service == IMAGE_SERVICE and upload is not None:
                uri: pulumi.Input[str] = pulumi.Output.concat(
                    f"arn:aws:apigateway:{upload.region}:lambda:path/2015-03-31/functions/",
                    upload.function_arn,
                    "/invocations",
                )
            else:
                uri = (
                    f"arn:aws:apigateway:{_region(args.services[route.service])}:lambda:path/2015-03-31/functions/"
                    f"{args.services[route.service]}/invocations"
                )
            integration = aws.apigateway.Integration(
                f"{name}-{label}-integration",
                rest_api=api.id,
                resource_id=method.resource_id,
                http_method=method.http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=uri,
                opts=child,
            )
            methods.extend([method, integration])

        for status, kind in (
            ("403", "ACCESS_DENIED"),
            ("403", "AUTHORIZER_FAILURE"),
            ("403", "AUTHORIZER_CONFIGURATION_ERROR"),
            ("401", "UNAUTHORIZED"),
        ):
            methods.append(
                aws.apigateway.Response(
                    f"{name}-{kind.lower().replace('_', '-')}",
                    rest_api_id=api.id,
                    response_type=kind,
                    status_code=status,
                    response_templates={
                        "application/json": json.dumps({"message": "Forbidden" if status == "403" else "Unauthorized"})
                    },
                    opts=child,
                )
            )

        # --- deployment and stage
        fingerprint = hashlib.sha256(
            json.dumps(
                [
                    [
                        r.method,
                        r.path,
                        upload.function_name if upload and r.service == IMAGE_SERVICE else args.services[r.service],
                    ]
                    for r in self.routes
                ]
                + ([["binary", *upload.binary_media_types]] if upload else [])
            ).encode()
        ).hexdigest()
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            description=f"routes {fingerprint[:12]}",
            triggers={"routes": fingerprint},
            opts=pulumi.ResourceOptions(parent=self, depends_on=methods),
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.name_prefix}-Api-{suffix}/access",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
        )
        stage_deps: list[pulumi.Resource] = []
        if args.manage_account_log_role:
            log_role = aws.iam.Role(
                f"{name}-cloudwatch-role",
                description="API Gateway writes execution and access logs of this account to CloudWatch Logs",
                assume_role_policy=json.dumps(service_trust_policy("apigateway.amazonaws.com")),
                tags=resource_tags,
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-cloudwatch-role-logs",
                role=log_role.name,
                policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                opts=child,
            )
            stage_deps.append(aws.apigateway.Account(f"{name}-account", cloudwatch_role_arn=log_role.arn, opts=child))
            invoke_paths.append(
                DataPath(
                    name="apigateway/push-access-logs",
                    principal=log_role.arn,
                    principal_type="role",
                    actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                    resource=pulumi.Output.concat(access_logs.arn, ":log-stream:", api.id, "-stage"),
                    description="API Gateway writes the stage's access log through the account's log role",
                )
            )
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=args.environment,
            xray_tracing_enabled=True,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=json.dumps(ACCESS_LOG_FORMAT)
            ),
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=stage_deps),
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                metrics_enabled=True, logging_level="ERROR", data_trace_enabled=False
            ),
            opts=child,
        )
        for service, arn in sorted(args.services.items()):
            invoke_paths.append(
                DataPath(
                    name=f"apigateway/invoke-{service}",
                    principal="apigateway.amazonaws.com",
                    principal_type="service",
                    actions=("lambda:InvokeFunction",),
                    resource=arn,
                    context={
                        "aws:SourceArn": pulumi.Output.concat(api.execution_arn, "/", stage.stage_name, "/GET/v1/x")
                    },
                    guards=("aws:SourceArn",),
                    description=f"API Gateway invokes the {service} integration",
                )
            )
            aws.lambda_.Permission(
                f"{name}-{service}-invoke",
                action="lambda:InvokeFunction",
                function=arn,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(api.execution_arn, "/", stage.stage_name, "/*/*"),
                opts=child,
            )
        if upload is not None:
            upload_source = pulumi.Output.concat(api.execution_arn, "/", stage.stage_name, "/POST/v1/images")
            invoke_paths.append(
                DataPath(
                    name=f"apigateway/invoke-{IMAGE_SERVICE}",
                    principal="apigateway.amazonaws.com",
                    principal_type="service",
                    actions=("lambda:InvokeFunction",),
                    resource=upload.function_arn,
                    context={"aws:SourceArn": upload_source},
                    guards=("aws:SourceArn",),
                    description="API Gateway invokes the image pipeline's upload function (POST /v1/images only)",
                )
            )
            aws.lambda_.Permission(
                f"{name}-{IMAGE_SERVICE}-invoke",
                action="lambda:InvokeFunction",
                function=upload.function_arn,  # the ARN: the permission waits for the function
                principal="apigateway.amazonaws.com",
                source_arn=upload_source,
                opts=child,
            )
        # Every tier has its plan, used or not: a cell stack's tenants join the plans of the platform's API.
        plans = {
            tier: aws.apigateway.UsagePlan(
                f"{name}-{tier}-plan",
                name=f"{args.name_prefix}-{tier}-{suffix}",
                description=f"Tier {tier}: per-tenant throttling of the {args.environment} API",
                api_stages=[aws.apigateway.UsagePlanApiStageArgs(api_id=api.id, stage=stage.stage_name)],
                throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                    rate_limit=args.tier_throttles[tier].rate_limit,
                    burst_limit=args.tier_throttles[tier].burst_limit,
                ),
                tags=resource_tags,
                opts=child,
            )
            for tier in sorted(args.tier_throttles)
        }
        for t in args.tenants:
            aws.apigateway.UsagePlanKey(
                f"{name}-{t.tenant_id}-plan-key",
                key_id=keys[t.tenant_id].id,
                key_type="API_KEY",
                usage_plan_id=plans[t.tier].id,
                opts=child,
            )

        self.rest_api_id = api.id
        self.execution_arn = api.execution_arn
        self.stage_name = stage.stage_name
        self.invoke_url = stage.invoke_url
        self.authorizer_role_arn = function.role_arn
        self.authorizer_function_arn = function.function_arn
        self.usage_key_values = {tenant: key.value for tenant, key in keys.items()}
        self.usage_plan_ids = {tier: plan.id for tier, plan in plans.items()}
        self.data_paths = datapaths.declare(invoke_paths)
        self.register_outputs(
            {
                "rest_api_id": self.rest_api_id,
                "stage_name": self.stage_name,
                "invoke_url": self.invoke_url,
                datapaths.OUTPUT_KEY: self.data_paths,
            }
        )


def _slug(path: str) -> str:
    """``/v1/leave/requests/{requestId}`` -> ``-v1-leave-requests-requestid`` (logical-name safe, unique per path)."""
    segments = [seg for seg in path.split("/") if seg]
    return "".join("-" + seg.strip("{}").lower() + ("-p" if seg.startswith("{") else "") for seg in segments)


def _region(function_arn: str) -> str:
    match = LAMBDA_FUNCTION_ARN_RE.fullmatch(function_arn)
    if match is None:  # validated in TenantApiArgs
        raise ComponentArgError(f"not a Lambda function ARN: {function_arn!r}")
    return match["region"]
