"""The offline harness: capture fidelity, duplicate-URN detection, CLI-like config checks, determinism."""

from __future__ import annotations

import gc
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.testing.harness import (
    DuplicateUrnError,
    ProjectConfigError,
    load_project_config,
    plain,
    run_function,
    run_program,
)
from saas_platform.components.testing.mocks import AwsMocks, UnmockedInvokeError
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "violating_program"


class _Child(pulumi.ComponentResource):
    def __init__(self, name: str, child_name: str) -> None:
        super().__init__("test:index:Child", name, None, None)
        aws.sqs.Queue(child_name, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


def test_duplicate_urn_is_rejected_like_the_engine() -> None:
    # a child named without the parent's name collides across two instances
    with pytest.raises(DuplicateUrnError, match=r"Duplicate resource URN .*test:index:Child\$aws:sqs/queue:Queue::q'"):
        run_function(lambda: (_Child("a", "q"), _Child("b", "q")))


def test_unique_child_names_pass() -> None:
    run = run_function(lambda: (_Child("a", "a-q"), _Child("b", "b-q")))
    assert sorted(r.name for r in run.of_type("aws:sqs/queue:Queue")) == ["a-q", "b-q"]


def _program() -> None:
    key = aws.kms.Key("key", enable_key_rotation=True)
    table = aws.dynamodb.Table(
        "t",
        name="EmploymentDev",
        hash_key="TenantId",
        attributes=[aws.dynamodb.TableAttributeArgs(name="TenantId", type="S")],
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True, kms_key_arn=key.arn),
        opts=pulumi.ResourceOptions(protect=True, retain_on_delete=True, ignore_changes=["tags"]),
    )
    aws.sns.Topic("topic", opts=pulumi.ResourceOptions(depends_on=[table]))
    pulumi.export("tableArn", table.arn)
    pulumi.export("password", pulumi.Output.secret("hunter2"))
    # a resource created inside apply() is still captured: run_in_stack waits for every registration
    table.arn.apply(lambda arn: aws.sqs.Queue("late", tags={"table": arn}))


def test_captures_inputs_options_dependencies_and_outputs() -> None:
    run = run_function(_program, config={"aws:region": "eu-west-1"})
    table = run.named("t")
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert table.inputs["hashKey"] == "TenantId"  # engine-side camelCase names
    assert (table.options.protect, table.options.retain_on_delete) == (True, True)
    assert table.options.ignore_changes == ("tags",)
    assert table.state["arn"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/EmploymentDev"
    assert table.id == "EmploymentDev"
    key = run.named("key")
    assert key.urn in table.dependencies
    topic = run.named("topic")
    assert topic.options.depends_on == (table.urn,)
    assert run.named("late").inputs["tags"] == {"table": "arn:aws:dynamodb:eu-west-1:123456789012:table/EmploymentDev"}
    assert run.outputs["tableArn"] == table.state["arn"]
    assert run.to_json()["outputs"]["password"] == "[secret]"


def test_runs_are_deterministic_and_isolated() -> None:
    first = json.dumps(run_function(_program).to_json(), sort_keys=True)
    second = json.dumps(run_function(_program).to_json(), sort_keys=True)
    assert first == second
    other = run_function(lambda: aws.sqs.Queue("only"), stack="other")
    assert [r.name for r in other.resources if r.custom] == ["only"]
    assert other.resources[0].urn.startswith("urn:pulumi:other::saas::")


def test_program_exceptions_propagate() -> None:
    def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_function(broken)


def test_unmocked_invoke_fails_loudly() -> None:
    def program() -> None:
        aws.ec2.get_vpc_output(default=True).id.apply(lambda v: aws.sqs.Queue(f"q-{v}"))

    with pytest.raises(Exception, match="no mock for invoke 'aws:ec2/getVpc:getVpc'"):
        run_function(program)


def test_stack_reference_is_answered_from_given_outputs_or_fails() -> None:
    captured: dict[str, Any] = {}

    def program() -> None:
        ref = pulumi.StackReference("organization/saas/prod")
        ref.get_output("poolId").apply(lambda v: captured.setdefault("poolId", v))

    mocks = AwsMocks(stack_outputs={"organization/saas/prod": {"poolId": "ap-southeast-1_AbC123"}})
    run_function(program, mocks=mocks)
    assert captured == {"poolId": "ap-southeast-1_AbC123"}
    missing = AwsMocks()
    with pytest.raises(Exception, match="no such stack"):
        run_function(program, mocks=missing)
    assert missing.missing_stack_refs == {"organization/saas/prod"}
    assert UnmockedInvokeError.__mro__[1] is NotImplementedError


def test_project_config_is_type_checked_like_the_cli() -> None:
    cfg = load_project_config(FIXTURE, "test")
    assert cfg.values == {"aws:region": "eu-west-1", "fixture:retentionDays": "30"}  # strings, as the CLI sends
    with pytest.raises(ProjectConfigError, match="configuration key 'fixture:retentionDays' must be of type 'integer'"):
        load_project_config(FIXTURE, "broken")
    with pytest.raises(ProjectConfigError, match="Stack 'test' is missing configuration value 'fixture:retentionDays'"):
        load_project_config(FIXTURE, "test", {"fixture:retentionDays": None})


def test_secure_values_become_marked_secrets() -> None:
    cfg = load_project_config(FIXTURE, "test", {"fixture:token": {"secure": "v1:abc"}})
    assert cfg.secret_keys == ["fixture:token"]
    assert cfg.values["fixture:token"] == "[secret]"


def test_run_program_reads_the_stack_file() -> None:
    run = run_program(FIXTURE, "test")
    assert run.outputs == {"tableArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders", "retention": 30}
    assert run.named("orders").urn == "urn:pulumi:test::fixture::pulumi:pulumi:Stack$aws:dynamodb/table:Table::orders"


def test_preview_leaves_unmocked_outputs_unknown() -> None:
    class NoArn(AwsMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            id_, state = super().new_resource(args)
            state.pop("arn", None)
            return id_, state

    run = run_function(_program, mocks=NoArn(), preview=True)
    assert [r for r in run.resources if r.name == "late"] == []  # apply on an unknown does not run
    assert plain(run.named("t").inputs)["serverSideEncryption"]["kmsKeyArn"] == "[unknown]"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


def _fails_in_outputs() -> None:
    """Many outputs derived from one failing apply: each would echo the error from an unretrieved future."""
    bad = pulumi.Output.from_input("x").apply(lambda _: (_ for _ in ()).throw(ValueError("deliberate")))
    for n in range(20):
        aws.s3.Bucket(f"b{n}", bucket=bad.apply(lambda v, n=n: f"{v}-{n}"))


def test_a_failed_run_raises_its_error_without_asyncio_echoes() -> None:
    records = _Records()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(records)
    try:
        for _ in range(2):  # leftovers of the first failure would surface during the second run
            with pytest.raises(ValueError, match="deliberate"):
                run_function(_fails_in_outputs)
            gc.collect()
        run_function(lambda: aws.s3.Bucket("ok", bucket="ok"))
        gc.collect()
    finally:
        asyncio_logger.removeHandler(records)
    assert [m for m in records.messages if "never retrieved" in m] == []


# ------------------------------------------------------------------------------------- consumer-style programs


def _infra_program(tmp_path: Path) -> Path:
    """Pulumi's recommended layout: resources in ``infra.py``, imported by ``__main__.py``."""
    (tmp_path / "Pulumi.yaml").write_text("name: consumer\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "infra.py").write_text(
        "import pulumi_aws as aws\n\nqueue = aws.sqs.Queue('jobs', tags={'saas:environment': 'dev'})\n"
    )
    (tmp_path / "__main__.py").write_text("import pulumi\n\nimport infra\n\npulumi.export('queue', infra.queue.id)\n")
    return tmp_path


def test_a_second_run_program_reimports_the_programs_modules(tmp_path: Path) -> None:
    program = _infra_program(tmp_path)
    first = run_program(program, "dev")
    second = run_program(program, "dev")
    for run in (first, second):
        assert [r.name for r in run.of_type("aws:sqs/queue:Queue")] == ["jobs"]
        assert run.project == "consumer"
    assert "infra" not in sys.modules


def test_run_function_takes_its_project_from_pulumi_yaml(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: consumer-app\nruntime: python\n")
    assert run_function(lambda: None, root_directory=str(tmp_path)).project == "consumer-app"
    assert run_function(lambda: None).project == "saas"  # this repository's Pulumi.yaml (the tests' cwd)
    assert run_function(lambda: None, root_directory=str(tmp_path / "missing")).project == "project"
    assert run_function(lambda: None, project="explicit").project == "explicit"


class PlainMocks(pulumi.runtime.Mocks):
    """What a consumer's first unit test writes: every invoke answers ``{}``."""

    def __init__(self, answers: dict[str, dict[str, Any]] | None = None) -> None:
        self.answers = answers or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return self.answers.get(args.token, {}), []


def _table_arn(mocks: pulumi.runtime.Mocks, config: dict[str, Any] | None = None) -> str:
    from saas_platform.components.pool_table import PoolTable, PoolTableArgs

    seen: list[str] = []

    def program() -> None:
        table = PoolTable("t", PoolTableArgs(base_name="Leave", environment="dev", kms_key_arn="arn:k", protect=False))
        table.table_arn.apply(seen.append)

    run_function(program, mocks=mocks, config=config)
    return seen[0]


def test_plain_mocks_get_a_clear_error_or_the_configured_region() -> None:
    with pytest.raises(Exception, match=r"returned no (region|accountId) \(got None\)") as info:
        _table_arn(PlainMocks())
    assert "TypeError" not in repr(info.value)
    account = {"aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "111122223333"}}
    with pytest.raises(Exception, match=r"getRegion returned no region.*set aws:region in the stack config"):
        _table_arn(PlainMocks(account))
    with pytest.raises(Exception, match=r"getCallerIdentity returned no accountId.*pass account_id="):
        _table_arn(PlainMocks(), {"aws:region": "eu-west-1"})
    assert _table_arn(PlainMocks(account), {"aws:region": "eu-west-1"}) == (
        "arn:aws:dynamodb:eu-west-1:111122223333:table/LeaveDev"
    )
