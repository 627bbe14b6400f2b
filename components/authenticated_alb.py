"""``AuthenticatedAlb``: a Lambda function behind an internet-facing Application Load Balancer that signs
users in with Cognito before any request reaches the function.

* its own public network: a VPC, an internet gateway, two public subnets in two zones, one route table;
* a security group that accepts HTTPS (443) and HTTP (80, only to redirect) and sends out only HTTPS (the
  load balancer calls the Cognito token and user-info endpoints during sign-in);
* the load balancer drops invalid header fields (no header smuggling into ``x-amzn-oidc-*``), deletion
  protection when ``protect``;
* an HTTPS listener (TLS 1.3/1.2 policy) whose only rule for ``path_patterns`` is ``authenticate-cognito`` then
  ``forward`` to the function's target group; every other path gets a fixed 404, HTTP is redirected to HTTPS;
* the function sees the user through the headers the load balancer adds and signs (``x-amzn-oidc-data``,
  ``x-amzn-oidc-accesstoken``, ``x-amzn-oidc-identity``); the Lambda permission is bound to the target group.

Requests without a session are refused with 401 (``on_unauthenticated_request="deny"``): the path serves an
API called by the web UI, not pages a browser should be redirected from.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

NAME_RE: Final = re.compile(r"[a-z][a-z0-9-]{1,28}[a-z0-9]")
ACM_ARN_RE: Final = re.compile(r"arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")
TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"
SESSION_TIMEOUT_SECONDS: Final = 3600


@dataclass(frozen=True, kw_only=True)
class AuthenticatedAlbArgs:
    """Arguments of :class:`AuthenticatedAlb`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        name: physical name of the load balancer and target group (2-30 lowercase characters).
        certificate_arn: the ACM certificate of the listener (same region).
        function_arn / function_name: the Lambda function that serves ``path_patterns``.
        path_patterns: listener-rule path patterns (e.g. ``("/llm", "/llm/*")``).
        user_pool_arn / user_pool_client_id / user_pool_domain: the Cognito pool, a client *with a secret* and
            the pool's domain prefix (the client's callback URL is ``https://<host>/oauth2/idpresponse``).
        scopes: OAuth scopes the load balancer asks for (``openid`` is always included).
        vpc_cidr / availability_zones: the public network (/24 or larger; two zones).
        protect: Default ``True``: load-balancer deletion protection.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    name: str
    certificate_arn: str
    function_arn: pulumi.Input[str]
    function_name: pulumi.Input[str]
    path_patterns: tuple[str, ...]
    user_pool_arn: pulumi.Input[str]
    user_pool_client_id: pulumi.Input[str]
    user_pool_domain: pulumi.Input[str]
    vpc_cidr: str
    availability_zones: tuple[str, str]
    scopes: tuple[str, ...] = ("openid", "email")
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if not NAME_RE.fullmatch(self.name):
            raise ComponentArgError(
                f"name must match {NAME_RE.pattern!r} (load balancer names <= 32); got {self.name!r}"
            )
        if not ACM_ARN_RE.fullmatch(self.certificate_arn):
            raise ComponentArgError(f"certificate_arn is not an ACM certificate ARN; got {self.certificate_arn!r}")
        if not self.path_patterns or not all(p.startswith("/") for p in self.path_patterns):
            raise ComponentArgError(f"path_patterns must be absolute paths; got {self.path_patterns}")
        if len(self.path_patterns) > 5:
            raise ComponentArgError("a listener rule condition takes at most 5 path patterns")
        if "openid" not in self.scopes:
            raise ComponentArgError(
                f"scopes must include 'openid' (the load balancer needs an ID token); got {self.scopes}"
            )
        network = ipaddress.ip_network(self.vpc_cidr, strict=True)
        if network.version != 4 or not network.is_private or network.prefixlen > 24:
            raise ComponentArgError(f"vpc_cidr must be a private IPv4 network of /24 or larger; got {self.vpc_cidr!r}")
        if len(set(self.availability_zones)) != 2:
            raise ComponentArgError(f"availability_zones needs two different zones; got {self.availability_zones}")
        if self.environment == "prod" and not self.protect:
            raise ComponentArgError("protect=False is refused in prod")

    def subnets(self) -> tuple[str, str]:
        first, second = list(ipaddress.ip_network(self.vpc_cidr).subnets(prefixlen_diff=2))[:2]
        return str(first), str(second)


class AuthenticatedAlb(pulumi.ComponentResource):
    """An internet-facing ALB: HTTPS, Cognito sign-in (``authenticate-cognito``) in front of one Lambda function.

    Example::

        alb = AuthenticatedAlb("crm-llm", AuthenticatedAlbArgs(
            environment="dev", name="crm-dev-llm", certificate_arn=cert_arn,
            function_arn=fn.function_arn, function_name=fn.function_name, path_patterns=("/llm", "/llm/*"),
            user_pool_arn=pool.user_pool_arn, user_pool_client_id=pool.client_ids["alb"],
            user_pool_domain=pool.domain, vpc_cidr="10.50.0.0/22", availability_zones=("eu-west-1a", "eu-west-1b")))

    Documentation:
        https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
        https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
    """

    dns_name: pulumi.Output[str]
    load_balancer_arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AuthenticatedAlbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:network:AuthenticatedAlb", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_tags = tags(args.environment, "AuthenticatedAlb", extra=args.extra_tags)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**resource_tags, "Name": args.name},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=resource_tags, opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags=resource_tags,
            opts=child,
        )
        subnets = []
        for i, (cidr, zone) in enumerate(zip(args.subnets(), args.availability_zones, strict=True)):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**resource_tags, "Name": f"{args.name}-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-routes", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            subnets.append(subnet)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            name=f"{args.name}-alb",
            description=f"{args.name}: HTTPS in (HTTP only to redirect), HTTPS out to the identity provider",
            vpc_id=vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="HTTPS"
                ),
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=80, to_port=80, cidr_blocks=["0.0.0.0/0"], description="redirect to HTTPS"
                ),
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                    description="Cognito endpoints",
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=args.name,
            load_balancer_type="application",
            internal=False,
            security_groups=[group.id],
            subnets=[s.id for s in subnets],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.protect,
            idle_timeout=60,
            tags=resource_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-targets",
            name=args.name,
            target_type="lambda",
            lambda_multi_value_headers_enabled=False,
            tags=resource_tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=args.function_name,
            principal="elasticloadbalancing.amazonaws.com",
            source_arn=target_group.arn,
            opts=child,
        )
        aws.lb.TargetGroupAttachment(
            f"{name}-target",
            target_group_arn=target_group.arn,
            target_id=args.function_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=args.certificate_arn,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="fixed-response",
                    fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                        content_type="application/json", status_code="404", message_body='{"message": "Not Found"}'
                    ),
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            tags=resource_tags,
            opts=child,
        )
        aws.lb.ListenerRule(
            f"{name}-authenticated",
            listener_arn=https.arn,
            priority=10,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(args.path_patterns))
                )
            ],
            actions=[
                aws.lb.ListenerRuleActionArgs(
                    type="authenticate-cognito",
                    order=1,
                    authenticate_cognito=aws.lb.ListenerRuleActionAuthenticateCognitoArgs(
                        user_pool_arn=args.user_pool_arn,
                        user_pool_client_id=args.user_pool_client_id,
                        user_pool_domain=args.user_pool_domain,
                        on_unauthenticated_request="deny",
                        scope=" ".join(args.scopes),
                        session_timeout=SESSION_TIMEOUT_SECONDS,
                    ),
                ),
                aws.lb.ListenerRuleActionArgs(type="forward", order=2, target_group_arn=target_group.arn),
            ],
            tags=resource_tags,
            opts=child,
        )
        self.dns_name = balancer.dns_name
        self.load_balancer_arn = balancer.arn
        self.arn_suffix = balancer.arn_suffix
        self.target_group_arn = target_group.arn
        self.register_outputs({"dns_name": self.dns_name, "load_balancer_arn": self.load_balancer_arn})
