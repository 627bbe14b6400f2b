"""The LLM service behind the Application Load Balancer (``authenticate-cognito`` in front of it).

Two request shapes, validated with pydantic (unknown fields refused)::

    {"action": "generate", "prompt": "<prompt>"}
    {"action": "send", "recipient": "<email>", "subject": "<subject>", "body": "<body>"}

The load balancer signs the user in and passes the access token in ``x-amzn-oidc-accesstoken``; every request
is authorized with Verified Permissions (``IsAuthorizedWithToken``: the store checks the token's signature,
expiry and client, and the caller's groups against the Cedar policies). ``generate`` asks Amazon Bedrock;
``send`` sends one plain-text email through Amazon SES from the configured sender.

Fail closed: not POST -> 405; no token -> 401; a body that does not validate -> 400 with the reasons; a
decision other than ALLOW -> 403. Tokens and bodies are never logged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Callable
from typing import Annotated, Any, Literal

import boto3
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

ACTIONS = {"generate": "GenerateText", "send": "SendEmail"}
TOKEN_HEADER = "x-amzn-oidc-accesstoken"
MAX_BODY_BYTES = 64 * 1024


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["generate"]
    prompt: str = Field(min_length=1, max_length=8000)


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["send"]
    recipient: str = Field(pattern=r"^[^@\s,;<>]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", max_length=254)
    subject: str = Field(min_length=1, max_length=200, pattern=r"^[^\r\n]+$")  # no header injection
    body: str = Field(min_length=1, max_length=20000)


LlmRequest = Annotated[GenerateRequest | SendRequest, Field(discriminator="action")]
REQUEST: TypeAdapter[GenerateRequest | SendRequest] = TypeAdapter(LlmRequest)


def response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The ALB Lambda response shape."""
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed"}
    return {
        "statusCode": status,
        "statusDescription": f"{status} {reasons.get(status, '')}".strip(),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(payload),
    }


def parse(event: dict[str, Any]) -> GenerateRequest | SendRequest:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("body is not valid base64 UTF-8") from None
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise ValueError(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        return REQUEST.validate_json(raw)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        ) from None


def handle(
    event: dict[str, Any],
    authorize: Callable[[str, str], bool],
    generate: Callable[[str], str],
    send: Callable[[str, str, str], str],
) -> dict[str, Any]:
    if event.get("httpMethod") != "POST":
        return response(405, {"message": "use POST"})
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    token = headers.get(TOKEN_HEADER)
    if not isinstance(token, str) or not token:
        return response(401, {"message": "no access token from the load balancer"})
    try:
        request = parse(event)
    except ValueError as exc:
        return response(400, {"message": str(exc)})
    if not authorize(token, ACTIONS[request.action]):
        return response(403, {"message": f"not allowed to {request.action}"})
    if isinstance(request, GenerateRequest):
        return response(200, {"action": "generate", "text": generate(request.prompt)})
    return response(200, {"action": "send", "messageId": send(request.recipient, request.subject, request.body)})


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)


def avp_authorize(token: str, action_id: str) -> bool:
    result = _client("verifiedpermissions").is_authorized_with_token(
        policyStoreId=os.environ["POLICY_STORE_ID"],
        accessToken=token,
        action={"actionType": "Crm::Action", "actionId": action_id},
        resource={"entityType": "Crm::LlmService", "entityId": "llm"},
    )
    return result.get("decision") == "ALLOW"


def bedrock_generate(prompt: str) -> str:
    out = _client("bedrock-runtime").converse(
        modelId=os.environ["LLM_MODEL_ID"],
        messages=[{"role": "user", "content": [{"text": prompt}]}],
        inferenceConfig={"maxTokens": 1024},
    )
    return "".join(part.get("text", "") for part in out["output"]["message"]["content"])


def ses_send(recipient: str, subject: str, body: str) -> str:
    out = _client("sesv2").send_email(
        FromEmailAddress=os.environ["MAIL_SENDER"],
        Destination={"ToAddresses": [recipient]},
        Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}}},
    )
    return str(out["MessageId"])


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, avp_authorize, bedrock_generate, ses_send)
