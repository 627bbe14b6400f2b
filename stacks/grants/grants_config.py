"""The grants stack's config contract, validated before any resource is registered."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from saas_platform.components.project_config import project_config_from_pulumi

NAMESPACE = "grants"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Connection(_Model):
    host: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,252}$")
    port: int = Field(ge=1, le=65535)
    database: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    username: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class GrantsConfig(_Model):
    environment: Literal["dev", "staging", "prod"]
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    connection: Connection


def semantic_problems(cfg: GrantsConfig) -> list[tuple[str, str]]:
    if cfg.connection.username in ("postgres", "rdsadmin"):
        return [(f"{NAMESPACE}:connection.username", "use a dedicated grants role, not a superuser")]
    if cfg.connection.host.endswith(".rds.amazonaws.com") and f".{cfg.region}." not in cfg.connection.host:
        return [(f"{NAMESPACE}:connection.host", f"the cluster endpoint is not in {cfg.region}")]
    return []


def load() -> GrantsConfig:
    return project_config_from_pulumi(GrantsConfig, NAMESPACE, semantic_problems)
