"""The CRM stack's config contract, validated before any resource is registered."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from saas_platform.components.project_config import project_config_from_pulumi

NAMESPACE = "crm"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Identity(_Model):
    domain_prefix: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    web_callback_urls: list[str] = Field(min_length=1)


class Alb(_Model):
    hostname: str = Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$")
    certificate_arn: str = Field(pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
    vpc_cidr: str

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if net.version != 4 or net.prefixlen > 24 or not net.is_private:
            raise ValueError("must be a private IPv4 network of /24 or larger, e.g. 10.50.0.0/22")
        return value


class Llm(_Model):
    model_id: str = Field(pattern=r"^[a-z0-9-]+\.[A-Za-z0-9.:-]+$")
    sender: str = Field(pattern=r"^[^@\s]+@[a-z0-9.-]+\.[a-z]{2,}$")


class Sftp(_Model):
    schedule: str = Field(pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")


class CrmConfig(_Model):
    environment: Literal["dev", "staging", "prod"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    alarm_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    protect: bool
    identity: Identity
    alb: Alb
    llm: Llm
    sftp: Sftp


def semantic_problems(cfg: CrmConfig) -> list[tuple[str, str]]:
    ns = NAMESPACE
    problems: list[tuple[str, str]] = []
    cert_region = cfg.alb.certificate_arn.split(":")[3]
    if cert_region != cfg.region:
        problems.append(
            (f"{ns}:alb.certificateArn", f"the certificate is in {cert_region}; the ALB is in {cfg.region}")
        )
    if cfg.environment == "prod":
        if not cfg.protect:
            problems.append((f"{ns}:protect", "must be true in prod"))
        for i, url in enumerate(cfg.identity.web_callback_urls):
            if not url.startswith("https://"):
                problems.append(
                    (f"{ns}:identity.webCallbackUrls[{i}]", f"prod callback URLs must be HTTPS; got {url!r}")
                )
    return problems


def load() -> CrmConfig:
    return project_config_from_pulumi(CrmConfig, NAMESPACE, semantic_problems)
