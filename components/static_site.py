"""``StaticSite``: a web UI in a private S3 bucket, served only through CloudFront with origin access control.

* the bucket is a ``LifecycleBucket`` (``durable``: versioned, SSE-KMS, Block Public Access, ACLs disabled,
  TLS-only, access-logged) whose policy lets exactly this distribution read objects
  (``cloudfront.amazonaws.com`` with ``AWS:SourceArn`` = the distribution's ARN) - nobody reads it directly;
* an origin access control signs every origin request (SigV4, ``always``);
* the distribution redirects HTTP to HTTPS, allows only GET/HEAD/OPTIONS, caches with the managed
  ``CachingOptimized`` policy, adds the managed security headers (HSTS, X-Content-Type-Options, frame options)
  and serves ``index.html`` for ``/``;
* because objects are SSE-KMS, the environment key must let CloudFront decrypt for this account's
  distributions: :func:`cloudfront_key_statement` is the statement to add to the key policy.

The distribution uses the bucket's regional domain name (``<bucket>.s3.<region>.amazonaws.com``), built from
the bucket's name, so it can be created before the bucket policy that names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lifecycle_bucket import LifecycleBucket, LifecycleBucketArgs, depends_on_of
from saas_platform.components.naming import ENVIRONMENTS, Environment, tags

CACHING_OPTIMIZED: Final = "658327ea-f89d-4fab-a63d-7e88639e58f6"
"""Managed cache policy ``Managed-CachingOptimized``."""
SECURITY_HEADERS: Final = "67f7725c-6f97-4210-82d7-5512b31e9d03"
"""Managed response headers policy ``Managed-SecurityHeadersPolicy``."""
CLOUDFRONT_SERVICE: Final = "cloudfront.amazonaws.com"


def cloudfront_key_statement(account_id: pulumi.Input[str]) -> dict[str, Any]:
    """Key-policy statement: CloudFront may decrypt objects for distributions of this account (the bucket policy
    then narrows reads to one distribution). The distribution ARN cannot be named here: the key exists first."""
    return {
        "Sid": "CloudFrontDecryptsSiteObjects",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDFRONT_SERVICE},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringLike": {"AWS:SourceArn": pulumi.Output.concat("arn:aws:cloudfront::", account_id, ":distribution/*")}
        },
    }


def site_read_statement(bucket_name: str, distribution_arn: str) -> dict[str, Any]:
    """Bucket-policy statement: only this distribution reads objects (pure)."""
    return {
        "Sid": "CloudFrontReadsSite",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDFRONT_SERVICE},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket_name}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


@dataclass(frozen=True, kw_only=True)
class StaticSiteArgs:
    """Arguments of :class:`StaticSite`.

    Attributes:
        environment: ``dev`` | ``staging`` | ``prod``.
        purpose: kebab-case purpose of the bucket (``web-ui``).
        bucket_name: physical bucket name (known at preview, e.g. from ``EnvironmentFoundation.bucket_name``).
        region: the bucket's region (its regional domain name).
        kms_key_arn: the environment key (its policy needs :func:`cloudfront_key_statement`).
        access_log_bucket: the access-log bucket.
        price_class: Default ``PriceClass_100``.
        protect: Default ``True``: the bucket is protected and retained.
        extra_tags: merged under the ``saas:*`` tags.
    """

    environment: Environment
    purpose: str
    bucket_name: pulumi.Input[str]
    region: str
    kms_key_arn: pulumi.Input[str]
    access_log_bucket: pulumi.Input[str]
    price_class: str = "PriceClass_100"
    protect: bool = True
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ComponentArgError(f"environment must be one of {ENVIRONMENTS}; got {self.environment!r}")
        if self.price_class not in ("PriceClass_100", "PriceClass_200", "PriceClass_All"):
            raise ComponentArgError(f"price_class must be PriceClass_100, _200 or _All; got {self.price_class!r}")


class StaticSite(pulumi.ComponentResource):
    """A private, versioned, KMS-encrypted bucket behind a CloudFront distribution with origin access control.

    Example::

        site = StaticSite("crm-web", StaticSiteArgs(
            environment="dev", purpose="web-ui", bucket_name=base.bucket_name("web-ui"), region="eu-west-1",
            kms_key_arn=base.kms_key_arn, access_log_bucket=base.access_log_bucket_name, protect=False))
        pulumi.export("siteUrl", site.url)

    Documentation:
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
    """

    bucket_name: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: StaticSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("saas:web:StaticSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = pulumi.Output.from_input(args.bucket_name)
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            name=f"{name}-{args.environment}",
            description=f"{name}: CloudFront signs every request to the site bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        origin_id = f"{name}-bucket"
        distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            comment=f"{name} ({args.environment})",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=args.price_class,
            default_root_object="index.html",
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=origin_id,
                    domain_name=pulumi.Output.concat(bucket_name, ".s3.", args.region, ".amazonaws.com"),
                    origin_access_control_id=access_control.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin_id,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD", "OPTIONS"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=CACHING_OPTIMIZED,
                response_headers_policy_id=SECURITY_HEADERS,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True),
            tags=tags(args.environment, "StaticSite", extra=args.extra_tags),
            opts=child,
        )
        bucket = LifecycleBucket(
            f"{name}-site",
            LifecycleBucketArgs(
                environment=args.environment,
                purpose=args.purpose,
                data_class="durable",
                bucket_name=args.bucket_name,
                kms_key_arn=args.kms_key_arn,
                access_log_bucket=args.access_log_bucket,
                noncurrent_days=30,
                extra_policy_statements=pulumi.Output.all(bucket_name, distribution.arn).apply(
                    lambda v: [site_read_statement(v[0], v[1])]
                ),
                protect=args.protect,
                force_destroy=not args.protect,
                extra_tags=args.extra_tags,
            ),
            # the access-log bucket the caller waits for (opts.depends_on) must exist before logging is set up
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on_of(opts)),
        )
        self.bucket_name = bucket.bucket_name
        self.distribution_arn = distribution.arn
        self.domain_name = distribution.domain_name
        self.url = pulumi.Output.concat("https://", distribution.domain_name)
        self.register_outputs({"bucket_name": self.bucket_name, "url": self.url})
