"""The compensation stack's config contract: one pydantic model, validated before any resource is registered."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from saas_platform.components.project_config import project_config_from_pulumi

NAMESPACE = "compensation"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Identity(_Model):
    domain_prefix: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    callback_urls: list[str] = Field(min_length=1)


class Documents(_Model):
    noncurrent_days: int = Field(ge=1, le=3650)
    """Days an earlier version of a compensation document is kept after it was replaced or deleted."""


class Audit(_Model):
    retention_days: int = Field(ge=1, le=36500)
    lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"


class Database(_Model):
    min_capacity: float = Field(ge=0, le=256)
    max_capacity: float = Field(ge=1, le=256)
    vpc_cidr: str

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        net = ipaddress.ip_network(value, strict=True)
        if net.version != 4 or net.prefixlen > 20 or not net.is_private:
            raise ValueError("must be a private IPv4 network of /20 or larger, e.g. 10.40.0.0/16")
        return value


class Approval(_Model):
    timeout_hours: int = Field(ge=1, le=24 * 30)
    """How long a claim waits for a manager's decision before the workflow times out."""


class CompensationConfig(_Model):
    environment: Literal["dev", "staging", "prod"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    alarm_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    protect: bool
    identity: Identity
    documents: Documents
    audit: Audit
    database: Database
    approval: Approval


def semantic_problems(cfg: CompensationConfig) -> list[tuple[str, str]]:
    """Cross-field rules: what prod must hold beyond the field types."""
    problems: list[tuple[str, str]] = []
    ns = NAMESPACE
    if cfg.database.min_capacity > cfg.database.max_capacity:
        problems.append((f"{ns}:database.minCapacity", "must not exceed database.maxCapacity"))
    if cfg.environment == "prod":
        if not cfg.protect:
            problems.append((f"{ns}:protect", "must be true in prod"))
        if cfg.audit.lock_mode != "COMPLIANCE":
            problems.append((f"{ns}:audit.lockMode", "must be COMPLIANCE in prod (no early deletion of audit logs)"))
        if cfg.audit.retention_days < 365:
            problems.append((f"{ns}:audit.retentionDays", "must be at least 365 in prod"))
        if cfg.documents.noncurrent_days < 365:
            problems.append((f"{ns}:documents.noncurrentDays", "must be at least 365 in prod (compliance retention)"))
        for i, url in enumerate(cfg.identity.callback_urls):
            if not url.startswith("https://"):
                problems.append((f"{ns}:identity.callbackUrls[{i}]", f"prod callback URLs must be HTTPS; got {url!r}"))
    return problems


def load() -> CompensationConfig:
    """The running stack's validated config (raises StackConfigError naming Pulumi.<stack>.yaml and the key)."""
    return project_config_from_pulumi(CompensationConfig, NAMESPACE, semantic_problems)
