"""``ScopedRestApi``: a REST API whose every method needs a Cognito access token carrying an OAuth scope.

For systems with one organisation's ``AppUserPool`` (the multi-tenant platform uses ``TenantApi`` and its
Verified Permissions authorizer instead):

* one ``COGNITO_USER_POOLS`` authorizer on the pool, no result caching (``authorizer_result_ttl_in_seconds=0``);
* every route names the scopes it accepts (``authorization_scopes``): API Gateway then requires an *access*
  token with one of them, so an ID token or a token of another client is refused before any Lambda runs;
* ``AWS_PROXY`` integrations, one ``lambda:InvokeFunction`` permission per route scoped to its method and path;
* a regional endpoint, a stage with X-Ray, JSON access logs in an encrypted log group, metrics and throttling.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, LOG_RETENTION_DAYS, Environment, tags

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
PATH_RE: Final = re.compile(r"(/([a-z0-9-]+|\{[A-Za-z][A-Za-z0-9]*\}))+")
NAME_RE: Final = re.compile(r"[A-Za-z0-9-]{2,64}")
ACCESS_LOG_FORMAT: Final = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "sub": "$context.authorizer.claims.sub",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


@dataclass(frozen=True, kw_only=True)
class ScopedRoute:
    """``method path`` served by a Lambda function, open to access tokens with one of ``scopes``."""

    method: str
    path: str
    scopes: tuple[str, ...]
    function_name: pulumi.Input[str]
    invoke_arn: pulumi.Input[str]

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ComponentArgError(f"route method must be one of {METHODS}; got {self.method!r}")
        if not PATH_RE.fullmatch(self.path):
            raise ComponentArgError(
                f"route path must look like '/claims/{{claimId}}/decision' (lowercase segments or {{param}}); "
                f"got {self.path!r}"
            )
        if not self.scopes:
            raise ComponentArgError(f"{self.method} {self.path}: a route without scopes would accept any token")

    @property
    def label(self) -> str:
        slug = "-".join(seg.strip("{}").lower() for seg in self.path.split("/") if seg)
        return f"{self.method.lower()}-{slug}"


@dataclass(frozen=True, kw_only=True)
class ScopedRestApiArgs:
    """Arguments of :class:`ScopedRestApi`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod`` (also the stage name).
        api_name: physical API name.
        user_pool_arn: the Cognito user pool whose access tokens are accepted.
        routes: at least one :class:`ScopedRoute`; ``method path`` pairs are unique.
        kms_key_arn: encrypts the access-log group.
        log_retention_days: Default 90.
        throttle_rate_limit / throttle_burst_limit: Default 50 requests/s, burst 100 (stage-wide).
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    api_name: str
    user_pool_arn: pulumi.Input[str]
    routes: tuple[ScopedRoute, ...]
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int = 90
    throttle_rate_limit: float = 50
    throttle_burst_limit: int = 100
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not NAME_RE.fullmatch(self.api_name):
            raise ComponentArgError(f"api_name must match {NAME_RE.pattern!r}; got {self.api_name!r}")
        if not self.routes:
            raise ComponentArgError("routes is empty")
        keys = [(r.method, r.path) for r in self.routes]
        if len(set(keys)) != len(keys):
            raise ComponentArgError(f"routes repeat a method and path: {keys}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ComponentArgError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}; got {self.log_retention_days}"
            )


class ScopedRestApi(pulumi.ComponentResource):
    """A regional REST API with a Cognito user-pool authorizer and OAuth scopes on every method.

    Example::

        api = ScopedRestApi("compensation-api", ScopedRestApiArgs(
            environment="dev", api_name="compensation-dev", user_pool_arn=pool.user_pool_arn,
            kms_key_arn=base.kms_key_arn,
            routes=(ScopedRoute(method="POST", path="/claims", scopes=("compensation/claims.submit",),
                                function_name=fn.function_name, invoke_arn=fn.invoke_arn),)))
        pulumi.export("apiUrl", api.invoke_url)

    Documentation:
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-enable-cognito-user-pool.html
    """

    rest_api_id: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    stage_name: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    api_name: str

    def __init__(self, name: str, args: ScopedRestApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:api:ScopedRestApi", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "ScopedRestApi", extra=args.extra_tags)
        api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=args.api_name,
            description=f"{args.api_name}: Cognito access tokens with OAuth scopes on every method",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            tags=resource_tags,
            opts=child,
        )
        authorizer = aws.apigateway.Authorizer(
            f"{name}-authorizer",
            name=f"{args.api_name}-cognito",
            rest_api=api.id,
            type="COGNITO_USER_POOLS",
            provider_arns=[args.user_pool_arn],
            identity_source="method.request.header.Authorization",
            authorizer_result_ttl_in_seconds=0,
            opts=child,
        )
        resources: dict[str, aws.apigateway.Resource] = {}

        def resource_for(path: str) -> pulumi.Input[str]:
            if path == "":
                return api.root_resource_id
            if path not in resources:
                parent, _, part = path.rpartition("/")
                slug = "-".join(s.strip("{}").lower() for s in path.split("/") if s)
                resources[path] = aws.apigateway.Resource(
                    f"{name}-res-{slug}", rest_api=api.id, parent_id=resource_for(parent), path_part=part, opts=child
                )
            return resources[path].id

        wired: list[pulumi.Resource] = []
        for route in args.routes:
            params = [seg[1:-1] for seg in route.path.split("/") if seg.startswith("{")]
            method = aws.apigateway.Method(
                f"{name}-{route.label}",
                rest_api=api.id,
                resource_id=resource_for(route.path),
                http_method=route.method,
                authorization="COGNITO_USER_POOLS",
                authorizer_id=authorizer.id,
                authorization_scopes=list(route.scopes),
                request_parameters={f"method.request.path.{p}": True for p in params} or None,
                opts=child,
            )
            integration = aws.apigateway.Integration(
                f"{name}-{route.label}-integration",
                rest_api=api.id,
                resource_id=method.resource_id,
                http_method=method.http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=route.invoke_arn,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-{route.label}-invoke",
                action="lambda:InvokeFunction",
                function=route.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(
                    api.execution_arn, "/", args.environment, "/", route.method, re.sub(r"\{[^}]+\}", "*", route.path)
                ),
                opts=child,
            )
            wired.extend([method, integration])
        fingerprint = hashlib.sha256(
            json.dumps([[r.method, r.path, list(r.scopes)] for r in args.routes]).encode()
        ).hexdigest()
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            description=f"routes {fingerprint[:12]}",
            triggers={"routes": fingerprint},
            opts=pulumi.ResourceOptions(parent=self, depends_on=wired),
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.api_name}/access",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=resource_tags,
            opts=child,
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
            opts=child,
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                data_trace_enabled=False,
                throttling_rate_limit=args.throttle_rate_limit,
                throttling_burst_limit=args.throttle_burst_limit,
            ),
            opts=child,
        )
        self.api_name = args.api_name
        self.rest_api_id = api.id
        self.execution_arn = api.execution_arn
        self.stage_name = stage.stage_name
        self.invoke_url = stage.invoke_url
        self.register_outputs(
            {"rest_api_id": self.rest_api_id, "stage_name": self.stage_name, "invoke_url": self.invoke_url}
        )
