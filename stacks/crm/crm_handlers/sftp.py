"""The SFTP integration: every run moves new files from the partner's outbox into the CRM's inbox bucket.

The partner's credentials live in Secrets Manager (``SFTP_SECRET_ARN``) as JSON::

    {"host": "sftp.partner.example", "port": 22, "username": "crm", "privateKey": "-----BEGIN ...",
     "hostKey": "ssh-ed25519 AAAA...", "remoteDir": "/outbox", "archiveDir": "/archive"}

Fail closed: a secret that does not validate (no pinned ``hostKey``, a password instead of a key, unknown
fields) stops the run before connecting; a host presenting another key is refused. A file is archived on the
server only after S3 confirmed the upload, so a failed run loses nothing and the next run retries it.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
from collections.abc import Callable
from typing import Any, Protocol

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FILE_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")


class SftpCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(pattern=r"^[A-Za-z0-9.-]{1,253}$")
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64)
    private_key: str = Field(alias="privateKey", pattern=r"^-----BEGIN [A-Z ]*PRIVATE KEY-----")
    host_key: str = Field(
        alias="hostKey", pattern=r"^(ssh-ed25519|ecdsa-sha2-nistp256|rsa-sha2-512|ssh-rsa) [A-Za-z0-9+/=]+$"
    )
    remote_dir: str = Field(alias="remoteDir", default="/outbox", pattern=r"^/[A-Za-z0-9/._-]*$")
    archive_dir: str = Field(alias="archiveDir", default="/archive", pattern=r"^/[A-Za-z0-9/._-]*$")


class BadCredentials(ValueError):
    pass


def credentials(secret_string: str) -> SftpCredentials:
    try:
        return SftpCredentials.model_validate(json.loads(secret_string))
    except (json.JSONDecodeError, ValidationError) as exc:
        # never echo the secret: name the fields only
        fields = (
            [".".join(map(str, e["loc"])) for e in exc.errors()] if isinstance(exc, ValidationError) else ["(not JSON)"]
        )
        raise BadCredentials(f"SFTP secret is invalid: {fields}") from None


class Remote(Protocol):
    def listdir(self, path: str, /) -> list[str]: ...
    def getfo(self, path: str, fileobj: Any, /) -> Any: ...
    def rename(self, old: str, new: str, /) -> None: ...


def transfer(remote: Remote, creds: SftpCredentials, put: Callable[[str, bytes], None]) -> dict[str, list[str]]:
    """Copy every regular file name of the outbox to S3 (``put(key, data)``), then archive it remotely."""
    moved: list[str] = []
    skipped: list[str] = []
    for name in sorted(remote.listdir(creds.remote_dir)):
        if not FILE_RE.fullmatch(name) or name in (".", ".."):
            skipped.append(name)
            continue
        buffer = io.BytesIO()
        remote.getfo(f"{creds.remote_dir.rstrip('/')}/{name}", buffer)
        put(f"inbox/{name}", buffer.getvalue())
        remote.rename(f"{creds.remote_dir.rstrip('/')}/{name}", f"{creds.archive_dir.rstrip('/')}/{name}")
        moved.append(name)
    return {"moved": moved, "skipped": skipped}


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)


def _connect(creds: SftpCredentials) -> tuple[Any, Remote]:  # pragma: no cover - needs a real SFTP server
    import paramiko  # pyright: ignore[reportMissingModuleSource]  # from the SFTP layer (requirements-sftp.txt)

    key_type, key_b64 = creds.host_key.split(" ", 1)
    client = paramiko.SSHClient()
    client.get_host_keys().add(
        creds.host if creds.port == 22 else f"[{creds.host}]:{creds.port}",
        key_type,
        paramiko.PKey.from_type_string(key_type, base64.b64decode(key_b64)),
    )
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # another host key: refuse
    client.connect(
        creds.host,
        port=creds.port,
        username=creds.username,
        pkey=paramiko.PKey.from_private_key(io.StringIO(creds.private_key)),
        allow_agent=False,
        look_for_keys=False,
        timeout=15,
    )
    return client, client.open_sftp()


def run(
    secret: Callable[[], str],
    connect: Callable[[SftpCredentials], tuple[Any, Remote]],
    put: Callable[[str, bytes], None],
) -> dict[str, list[str]]:
    creds = credentials(secret())
    client, remote = connect(creds)
    try:
        return transfer(remote, creds, put)
    finally:
        client.close()


def _put(key: str, data: bytes) -> None:
    _client("s3").put_object(
        Bucket=os.environ["INBOX_BUCKET"],
        Key=key,
        Body=data,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=os.environ["INBOX_KMS_KEY_ARN"],
    )


def _secret() -> str:
    return str(_client("secretsmanager").get_secret_value(SecretId=os.environ["SFTP_SECRET_ARN"])["SecretString"])


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = run(_secret, _connect, _put)
    return {"moved": len(result["moved"]), "skipped": result["skipped"]}
