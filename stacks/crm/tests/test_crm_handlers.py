"""The LLM service's request validation and authorization, and the SFTP integration (no network)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from crm_handlers import llm, sftp

TOKEN = "eyJraWQiOi.access.token"


def alb_event(body: Any, *, method: str = "POST", token: str | None = TOKEN, b64: bool = False) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["x-amzn-oidc-accesstoken"] = token
    return {
        "requestContext": {
            "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/1"}
        },
        "httpMethod": method,
        "path": "/llm",
        "headers": headers,
        "body": base64.b64encode(raw.encode()).decode() if b64 else raw,
        "isBase64Encoded": b64,
    }


class Recorder:
    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.authorized: list[tuple[str, str]] = []
        self.generated: list[str] = []
        self.sent: list[tuple[str, str, str]] = []

    def authorize(self, token: str, action: str) -> bool:
        self.authorized.append((token, action))
        return self.allow

    def generate(self, prompt: str) -> str:
        self.generated.append(prompt)
        return "draft text"

    def send(self, recipient: str, subject: str, body: str) -> str:
        self.sent.append((recipient, subject, body))
        return "msg-1"


def call(event: dict[str, Any], rec: Recorder) -> tuple[int, dict[str, Any]]:
    out = llm.handle(event, rec.authorize, rec.generate, rec.send)
    assert out["isBase64Encoded"] is False
    return out["statusCode"], json.loads(out["body"])


def test_generate() -> None:
    rec = Recorder()
    status, body = call(alb_event({"action": "generate", "prompt": "Summarise the client"}), rec)
    assert (status, body) == (200, {"action": "generate", "text": "draft text"})
    assert rec.authorized == [(TOKEN, "GenerateText")]


def test_send_base64_body() -> None:
    rec = Recorder()
    event = alb_event({"action": "send", "recipient": "a@b.example", "subject": "Hi", "body": "Text"}, b64=True)
    status, body = call(event, rec)
    assert (status, body) == (200, {"action": "send", "messageId": "msg-1"})
    assert rec.sent == [("a@b.example", "Hi", "Text")]
    assert rec.authorized == [(TOKEN, "SendEmail")]


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (alb_event({"action": "generate", "prompt": "x"}, method="GET"), 405),
        (alb_event({"action": "generate", "prompt": "x"}, token=None), 401),
        (alb_event({"action": "delete"}), 400),
        (alb_event({"action": "generate"}), 400),
        (alb_event({"action": "generate", "prompt": "x", "model": "other"}), 400),
        (alb_event({"action": "send", "recipient": "not-an-email", "subject": "s", "body": "b"}), 400),
        (alb_event({"action": "send", "recipient": "a@b.example", "subject": "s\r\nBcc: x@y.z", "body": "b"}), 400),
        (alb_event("{not json"), 400),
        (alb_event({"action": "generate", "prompt": "x" * 9000}), 400),
    ],
)
def test_fails_closed_before_doing_anything(event: dict[str, Any], status: int) -> None:
    rec = Recorder()
    assert call(event, rec)[0] == status
    assert rec.generated == []
    assert rec.sent == []


def test_denied_by_cedar_is_403_and_nothing_is_sent() -> None:
    rec = Recorder(allow=False)
    status, body = call(alb_event({"action": "send", "recipient": "a@b.example", "subject": "s", "body": "b"}), rec)
    assert status == 403
    assert body == {"message": "not allowed to send"}
    assert rec.sent == []


SECRET = {
    "host": "sftp.partner.example",
    "port": 22,
    "username": "crm",
    "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
}


class FakeRemote:
    def __init__(self, files: dict[str, bytes], fail_on: str | None = None) -> None:
        self.files = files
        self.renamed: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def listdir(self, path: str, /) -> list[str]:
        assert path == "/outbox"
        return list(self.files)

    def getfo(self, path: str, fileobj: Any, /) -> Any:
        fileobj.write(self.files[path.rsplit("/", 1)[1]])

    def rename(self, old: str, new: str, /) -> None:
        self.renamed.append((old, new))


class Closing:
    closed = False

    def close(self) -> None:
        self.closed = True


def test_transfer_moves_files_then_archives_them() -> None:
    remote = FakeRemote({"b.csv": b"2", "a.csv": b"1", "../etc": b"x"})
    put: list[tuple[str, bytes]] = []
    client = Closing()
    result = sftp.run(lambda: json.dumps(SECRET), lambda creds: (client, remote), lambda k, d: put.append((k, d)))
    assert result == {"moved": ["a.csv", "b.csv"], "skipped": ["../etc"]}
    assert put == [("inbox/a.csv", b"1"), ("inbox/b.csv", b"2")]
    assert remote.renamed == [("/outbox/a.csv", "/archive/a.csv"), ("/outbox/b.csv", "/archive/b.csv")]
    assert client.closed


def test_a_failed_upload_archives_nothing() -> None:
    remote = FakeRemote({"a.csv": b"1"})

    def put(key: str, data: bytes) -> None:
        raise OSError("S3 unavailable")

    with pytest.raises(OSError, match="S3 unavailable"):
        sftp.transfer(remote, sftp.credentials(json.dumps(SECRET)), put)
    assert remote.renamed == []


@pytest.mark.parametrize(
    "change",
    [
        {"hostKey": ""},  # no pinned host key
        {"privateKey": "hunter2"},  # a password is not a key
        {"password": "hunter2"},  # unknown field
        {"port": 0},
    ],
)
def test_bad_secret_stops_before_connecting_and_is_not_echoed(change: dict[str, Any]) -> None:
    connected: list[Any] = []
    with pytest.raises(sftp.BadCredentials) as err:
        sftp.run(
            lambda: json.dumps({**SECRET, **change}),
            lambda c: connected.append(c) or (Closing(), FakeRemote({})),
            lambda k, d: None,
        )
    assert connected == []
    assert "hunter2" not in str(err.value)
    assert "BEGIN OPENSSH" not in str(err.value)


def test_secret_that_is_not_json() -> None:
    with pytest.raises(sftp.BadCredentials, match=r"\(not JSON\)"):
        sftp.credentials("host=x")
