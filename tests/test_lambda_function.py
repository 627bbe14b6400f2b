"""HandlerFunction: Python 3.13 on arm64, X-Ray, its own encrypted log group, least-privilege role."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from saas_platform.components.errors import ComponentArgError
from saas_platform.components.lambda_function import (
    DEFAULT_LAYER_MODULES,
    HandlerFunction,
    HandlerFunctionArgs,
    HandlerLayer,
    HandlerLayerArgs,
    LayerRef,
)
from saas_platform.components.testing.harness import run_function

KEY_ARN = "arn:aws:kms:ap-southeast-1:123456789012:key/2ee1a50d-ea66-c9e1-a37b-0dec8901c87c"
DLQ = "arn:aws:sqs:ap-southeast-1:123456789012:runner-dlq"
FIXTURE_HANDLERS = Path(__file__).resolve().parent / "fixtures" / "handlers"


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

    monkeypatch.setattr(lf, "HANDLERS_DIR", FIXTURE_HANDLERS)


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


# ------------------------------------------------------------------------------------- layers and handler imports

LIBRARY = {"handler": "saas_platform.handlers.pre_authentication.lambda_handler"}


@pytest.fixture
def library_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    import saas_platform.components.lambda_function as lf
    import saas_platform.handlers

    monkeypatch.setattr(lf, "HANDLERS_DIR", Path(saas_platform.handlers.__file__).resolve().parent)


@pytest.mark.usefixtures("library_handlers")
def test_library_handler_without_its_layer_is_refused() -> None:
    with pytest.raises(ComponentArgError, match=r"imports aws_lambda_powertools, which neither the Lambda runtime"):
        _args(**LIBRARY)
    with pytest.raises(ComponentArgError, match=r"imports aws_lambda_powertools"):  # a bare ARN promises nothing
        _args(**LIBRARY, layers=["arn:aws:lambda:ap-southeast-1:123456789012:layer:other:3"])
    with pytest.raises(ComponentArgError, match=r"imports aws_lambda_powertools, jwt"):
        _args(handler="saas_platform.handlers.authorizer.lambda_handler", layers=[LayerRef("arn:l", frozenset({"x"}))])


@pytest.mark.usefixtures("library_handlers")
def test_library_handlers_run_with_the_layer() -> None:
    layer = LayerRef("arn:aws:lambda:ap-southeast-1:123456789012:layer:deps:1", frozenset({"aws_lambda_powertools"}))
    assert _args(**LIBRARY, layers=[layer]).layer_arns == [layer.arn]
    full = LayerRef("arn:l", frozenset({"aws_lambda_powertools", "jwt", "pydantic"}))
    for module in ("authorizer", "msk_consumer", "pre_authentication", "pre_token_generation"):
        _args(handler=f"saas_platform.handlers.{module}.lambda_handler", layers=[full])


@pytest.mark.usefixtures("library_handlers")
def test_handler_layer_provides_what_requirements_install() -> None:
    run = run_function(
        lambda: HandlerFunction(
            "auth",
            _args(
                handler="saas_platform.handlers.authorizer.lambda_handler",
                layers=[HandlerLayer("deps", HandlerLayerArgs(environment="dev", path=Path("/nonexistent")))],
            ),
        )
    )
    assert run.named("auth-function").inputs["layers"] == [run.named("deps-layer").state["arn"]]


def test_default_layer_modules_cover_requirements() -> None:
    """Every distribution handlers/requirements.txt installs is importable under a name the layer declares."""
    import importlib.metadata
    import re

    import saas_platform.handlers

    names = importlib.metadata.packages_distributions()
    requirements = (Path(saas_platform.handlers.__file__).parent / "requirements.txt").read_text().splitlines()
    dists = {re.split(r"[\[<>=~ ]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in requirements}
    dists.discard("")
    dists = {d for d in dists if not d.startswith("#")}
    assert dists == {"aws-lambda-powertools", "pyjwt", "pydantic"}
    for dist in dists:
        provided = {top for top, ds in names.items() if dist in {d.lower().replace("_", "-") for d in ds}}
        provided = {t for t in provided if not t.startswith("_") or t == "_cffi_backend"}
        assert provided, dist
        assert provided <= DEFAULT_LAYER_MODULES, (dist, provided - DEFAULT_LAYER_MODULES)


def _consumer_code(tmp_path: Path) -> Path:
    code = tmp_path / "handlers"
    (code / "lib").mkdir(parents=True)
    (code / "lib" / "__init__.py").write_text("")
    (code / "lib" / "http.py").write_text("import requests\n")
    (code / "greet.py").write_text(
        "from __future__ import annotations\n"
        "import json\nfrom typing import TYPE_CHECKING\nimport boto3\n"
        "from .lib import http\n"
        "if TYPE_CHECKING:\n    import mypy_boto3_s3\n"
        "def lambda_handler(event, context):\n    return json.dumps(event)\n"
    )
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "greet.cpython-311.pyc").write_bytes(b"\x00")
    return code


def test_consumer_handler_code(tmp_path: Path) -> None:
    code = _consumer_code(tmp_path)
    base = {"source_dir": code, "source_package": "handlers", "handler": "handlers.greet.lambda_handler"}
    with pytest.raises(ComponentArgError, match=r"imports requests, which neither"):
        _args(**base)  # followed through the relative import into lib/http.py; TYPE_CHECKING imports ignored
    layer = LayerRef("arn:aws:lambda:ap-southeast-1:123456789012:layer:requests:2", frozenset({"requests"}))
    run = run_function(lambda: HandlerFunction("greet", _args(**base, layers=[layer])))
    fn = run.named("greet-function").inputs
    assert fn["handler"] == "handlers.greet.lambda_handler"
    assert fn["layers"] == [layer.arn]
    with zipfile.ZipFile(fn["code"].path) as archive:
        assert archive.namelist() == [
            "handlers/greet.py",
            "handlers/lib/__init__.py",
            "handlers/lib/http.py",
        ]


def test_consumer_handler_code_at_the_archive_root(tmp_path: Path) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "greet.py").write_text("import os\n\ndef lambda_handler(event, context):\n    return os.sep\n")
    args = _args(source_dir=code, handler="greet.lambda_handler")
    assert args.code_source.locate("greet") == code.resolve() / "greet.py"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"handler": "handlers.greet.main"}, "greet.py defines no top-level 'main'"),
        ({"handler": "handlers.missing.lambda_handler"}, "missing.py does not exist"),
        ({"handler": "greet"}, "handler must look like '<module>.<function>'"),
        ({"source_package": "not a package"}, "source_package must be a dotted Python name"),
    ],
)
def test_consumer_handler_code_is_validated(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    code = _consumer_code(tmp_path)
    base = {"source_dir": code, "source_package": "handlers", "handler": "handlers.greet.lambda_handler"}
    layer = LayerRef("arn:l", frozenset({"requests"}))
    with pytest.raises(ComponentArgError, match=message.replace("(", r"\(")):
        _args(**(base | {"layers": [layer]} | kwargs))


def test_consumer_code_importing_the_library_is_refused(tmp_path: Path) -> None:
    code = tmp_path / "fns"
    code.mkdir()
    (code / "app.py").write_text(
        "from saas_platform.components.naming import tags\n\ndef lambda_handler(event, context):\n    return tags\n"
    )
    with pytest.raises(ComponentArgError, match=r"imports saas_platform"):
        _args(source_dir=code, handler="app.lambda_handler")
