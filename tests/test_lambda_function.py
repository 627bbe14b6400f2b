"""HandlerFunction: Python 3.13 on arm64, X-Ray, its own encrypted log group, least-privilege role."""

from __future__ import annotations

import json

import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lambda_function import (
    HandlerFunction,
    HandlerFunctionArgs,
    HandlerLayer,
    HandlerLayerArgs,
)
from saas_platform.components.testing.harness import run_function

KEY_ARN = "arn:aws:kms:ap-southeast-1:123456789012:key/2ee1a50d-ea66-c9e1-a37b-0dec8901c87c"
DLQ = "arn:aws:sqs:ap-southeast-1:123456789012:runner-dlq"


def _args(**kwargs: object) -> HandlerFunctionArgs:
    base: dict[str, object] = {
        "function_name": "AIML-SaaS-Probe-Dev",
        "handler": "saas_platform.handlers.probe_fixture.lambda_handler",
        "environment": "dev",
        "component": "Probe",
        "kms_key_arn": KEY_ARN,
    }
    return HandlerFunctionArgs(**(base | kwargs))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def probe_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import saas_platform.components.lambda_function as lf

    monkeypatch.setattr(lf, "HANDLERS_DIR", lf.HANDLERS_DIR.parent / "tests" / "fixtures" / "handlers")


def test_defaults() -> None:
    run = run_function(
        lambda: (
            HandlerLayer("deps", HandlerLayerArgs(environment="dev")),
            HandlerFunction(
                "probe",
                _args(
                    tenant="acme",
                    dead_letter_arn=DLQ,
                    statements=[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
                    env={"TABLE": "EmploymentDev"},
                ),
            ),
        )
    )
    fn = run.named("probe-function").inputs
    assert (fn["runtime"], fn["architectures"], fn["handler"]) == (
        "python3.13",
        ["arm64"],
        "saas_platform.handlers.probe_fixture.lambda_handler",
    )
    assert fn["tracingConfig"] == {"mode": "Active"}
    assert fn["loggingConfig"]["logFormat"] == "JSON"
    assert fn["loggingConfig"]["logGroup"] == "/aws/lambda/AIML-SaaS-Probe-Dev"
    assert fn["kmsKeyArn"] == KEY_ARN
    assert fn["environment"]["variables"] == {
        "POWERTOOLS_SERVICE_NAME": "Probe",
        "POWERTOOLS_METRICS_NAMESPACE": "saas",
        "SAAS_ENVIRONMENT": "dev",
        "TABLE": "EmploymentDev",
    }
    assert fn["deadLetterConfig"] == {"targetArn": DLQ}
    assert fn["tags"] == {"saas:environment": "dev", "saas:component": "Probe", "saas:tenant": "acme"}
    logs = run.named("probe-logs").inputs
    assert (logs["retentionInDays"], logs["kmsKeyId"]) == (90, KEY_ARN)
    trust = json.loads(run.named("probe-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    policy = json.loads(run.named("probe-policy").inputs["policy"])
    assert [s.get("Sid") for s in policy["Statement"]] == ["OwnLogGroup", "XRay", "DeadLetter", None]
    assert policy["Statement"][0]["Resource"] == (
        "arn:aws:logs:ap-southeast-1:123456789012:log-group:/aws/lambda/AIML-SaaS-Probe-Dev:*"
    )
    assert policy["Statement"][2] == {
        "Sid": "DeadLetter",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": DLQ,
    }
    layer = run.named("deps-layer").inputs
    assert (layer["compatibleRuntimes"], layer["compatibleArchitectures"]) == (["python3.13"], ["arm64"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"function_name": "x" * 65}, "function_name must be 1-64 characters of [A-Za-z0-9_-]"),
        ({"handler": "probe.lambda_handler"}, "handler must look like 'saas_platform.handlers.<module>.<function>'"),
        ({"handler": "saas_platform.handlers.missing_module.lambda_handler"}, "missing_module.py does not exist"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"memory_size": 64}, "memory_size must be 128-10240 MB; got 64"),
        ({"timeout": 901}, "timeout must be 1-900 seconds; got 901"),
    ],
)
def test_bad_args(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ComponentArgError, match=message.replace("[", r"\[").replace("(", r"\(")):
        _args(**kwargs)
