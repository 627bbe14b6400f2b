"""``iam-document-headroom``: compliant, violating and missing-property fixtures (small programs under mocks, and
literal resources for what a program cannot leave out). Sizes are built to exact character counts here, never
taken from the code under test."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from saas_platform.components.testing.harness import run_function
from saas_platform.components.testing.mocks import AwsMocks
from saas_platform.components.testing.policy import PolicyReport, evaluate
from saas_platform.policies import iam_headroom
from saas_platform.policies.pack import POLICIES
from tests._access_fixtures import violations

RULE = iam_headroom.iam_document_headroom
REGION, ACCOUNT = "ap-southeast-1", "123456789012"
POOL_ARN = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEfGhI"
LAMBDA_TRUST = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def compact(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))


def sized(size: int, *, trust: bool = False) -> str:
    """A policy document of exactly ``size`` characters without whitespace (padded in a Sid)."""
    statement: dict[str, Any] = (
        dict(LAMBDA_TRUST) if trust else {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    )
    statement["Sid"] = ""
    base = len(compact({"Version": "2012-10-17", "Statement": [statement]}))
    statement["Sid"] = "S" * (size - base)
    text = compact({"Version": "2012-10-17", "Statement": [statement]})
    assert len(text) == size
    return json.dumps(json.loads(text), indent=2)  # whitespace does not count


def messages(report: PolicyReport) -> list[str]:
    return [v.message.split("\n", 1)[1] for v in report.mandatory]


def program(
    *,
    trust: int = 400,
    inline: tuple[int, ...] = (1000,),
    role_inline: int = 0,
    managed: int = 1000,
    permissions: int = 2,
    table_policy: int = 0,
) -> PolicyReport:
    def build() -> None:
        role = aws.iam.Role(
            "worker",
            name="worker",
            assume_role_policy=sized(trust, trust=True),
            inline_policies=[aws.iam.RoleInlinePolicyArgs(name="own", policy=sized(role_inline))]
            if role_inline
            else None,
        )
        for n, size in enumerate(inline):
            aws.iam.RolePolicy(f"worker-{n}", role=role.id, policy=sized(size))
        aws.iam.Policy("shared", policy=sized(managed))
        fn = aws.lambda_.Function(
            "trigger", name="trigger", role=role.arn, runtime="python3.13", handler="h.h", code=pulumi.AssetArchive({})
        )
        for n in range(permissions):
            aws.lambda_.Permission(
                f"pool-{n:03d}",
                statement_id=f"pool-{n:03d}",
                function=fn.name,
                action="lambda:InvokeFunction",
                principal="cognito-idp.amazonaws.com",
                source_arn=f"{POOL_ARN}{n:03d}",
                source_account=ACCOUNT,
            )
        if table_policy:
            table = aws.dynamodb.Table(
                "t",
                name="T",
                hash_key="pk",
                billing_mode="PAY_PER_REQUEST",
                attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            )
            aws.dynamodb.ResourcePolicy("t-policy", resource_arn=table.arn, policy=sized(table_policy))

    return evaluate(run_function(build), [RULE])


def test_rule_is_in_the_pack_and_mandatory() -> None:
    assert RULE in POLICIES
    assert RULE.enforcement_level is not None
    assert RULE.enforcement_level.value == "mandatory"


def test_compliant_stack_passes() -> None:
    assert messages(program()) == []


def test_three_quarters_of_each_limit_is_the_budget() -> None:
    at = program(trust=1536, inline=(4000, 3680), managed=4608, table_policy=15360)
    assert messages(at) == []  # 75% exactly: still 25% headroom
    over = program(trust=1537, inline=(4000, 3681), managed=4609, table_policy=15361)
    assert sorted(messages(over)) == [
        "inline policies of role worker is 7,681 characters (whitespace excluded), 75% of its 10,240 limit; "
        "keep it at or below 7,680 (75%) so the stack can grow: move statements to customer-managed policies, or "
        "split the role",
        "managed policy shared is 4,609 characters (whitespace excluded), 75% of its 6,144 limit; keep it at or "
        "below 4,608 (75%) so the stack can grow: split it into several managed policies",
        "table resource policy t-policy is 15,361 characters (whitespace excluded), 75% of its 20,480 limit; keep "
        "it at or below 15,360 (75%) so the stack can grow: grant fewer principals in the table's resource policy",
        "trust policy of role worker is 1,537 characters (whitespace excluded), 75% of its 2,048 limit; keep it at "
        "or below 1,536 (75%) so the stack can grow: trust fewer identity pools per role "
        "(saas:access.tenantsPerRole), or record the raised quota (trustPolicyMaxChars: 4096)",
    ]


def test_inline_policies_count_together_with_the_roles_own() -> None:
    """Each document alone is well within 6,144 (what ``iam-policy-size`` checks); together they are not."""
    assert messages(program(inline=(3000, 3000), role_inline=1000)) == []
    found = messages(program(inline=(3000, 3000), role_inline=2000))
    assert len(found) == 1
    assert found[0].startswith("inline policies of role worker is 8,000 characters")


def test_raised_trust_quota_is_config() -> None:
    def build() -> None:
        aws.iam.Role("big", assume_role_policy=sized(3000, trust=True))

    run = run_function(build)
    assert len(evaluate(run, [RULE]).mandatory) == 1
    raised = evaluate(run, [RULE], config={"iam-document-headroom": {"trustPolicyMaxChars": 4096}})
    assert raised.mandatory == []  # 3,000 of 4,096 is 73%


def test_lambda_policy_is_built_like_add_permission_writes_it() -> None:
    statement = iam_headroom.lambda_statement(
        {
            "statementId": "pool-000",
            "action": "lambda:InvokeFunction",
            "principal": "cognito-idp.amazonaws.com",
            "sourceArn": POOL_ARN,
            "sourceAccount": ACCOUNT,
        },
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trigger",
    )
    assert statement == {
        "Sid": "pool-000",
        "Effect": "Allow",
        "Principal": {"Service": "cognito-idp.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trigger",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}, "ArnLike": {"AWS:SourceArn": POOL_ARN}},
    }
    account = iam_headroom.lambda_statement({"action": "lambda:InvokeFunction", "principal": ACCOUNT}, "arn:f")
    assert account is not None
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert account["Sid"] == "terraform-" + "0" * 26  # what the provider generates: counted at its length


def test_a_function_with_a_permission_per_user_pool_runs_out_of_headroom() -> None:
    """One shared trigger with a permission per tenant's user pool: each statement is about 380 bytes."""
    one = json.dumps(
        iam_headroom.lambda_policy(
            [
                iam_headroom.lambda_statement(
                    {
                        "statementId": "pool-000",
                        "action": "lambda:InvokeFunction",
                        "principal": "cognito-idp.amazonaws.com",
                        "sourceArn": f"{POOL_ARN}000",
                        "sourceAccount": ACCOUNT,
                    },
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trigger",
                )
                or {}
            ]
        ),
        separators=(",", ":"),
    )
    per_statement = len(one) - len('{"Version":"2012-10-17","Id":"default","Statement":[]}')
    fits = (15360 - 54) // (per_statement + 1)
    assert messages(program(permissions=fits)) == []
    found = messages(program(permissions=fits + 1))
    assert len(found) == 1
    assert found[0].startswith(f"resource policy of function trigger ({fits + 1} permissions) is ")
    assert "of its 20,480 limit" in found[0]


# ---------------------------------------------------------------------------------- missing and unknown values


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"type": "aws:iam/role:Role", "name": "r", "props": {"name": "r"}}, []),
        ({"type": "aws:iam/policy:Policy", "name": "p", "props": {"name": "p"}}, []),
        ({"type": "aws:iam/rolePolicy:RolePolicy", "name": "rp", "props": {"policy": "x" * 9000}}, []),
        ({"type": "aws:lambda/permission:Permission", "name": "perm", "props": {"action": "lambda:Invoke"}}, []),
        (
            {
                "type": "aws:lambda/permission:Permission",
                "name": "no-principal",
                "props": {"function": "f", "action": "lambda:InvokeFunction", "sourceArn": "x" * 21000},
            },
            [],
        ),
        (
            {
                "type": "aws:lambda/permission:Permission",
                "name": "outside",
                "props": {"function": "f", "action": "a", "principal": "s3.amazonaws.com", "sourceArn": "x" * 21000},
            },
            ["resource policy of function f (1 permissions) is 21,"],
        ),
    ],
    ids=[
        "role-without-trust",
        "policy-without-document",
        "role-policy-without-role",
        "permission-without-function",
        "permission-without-principal",
        "function-outside-the-stack",
    ],
)
def test_missing_properties(resource: dict[str, Any], expected: list[str]) -> None:
    """A document that is absent is not measured (``iam-policy-version`` reports it); a permission without a
    function or principal adds no statement; a function outside the stack is still measured, by name."""
    found = [v.message.split("\n", 1)[1] for v in violations([RULE], [resource])]
    assert len(found) == len(expected)
    assert all(f.startswith(e) for f, e in zip(found, expected, strict=True))


def test_unknown_documents_wait_for_pulumi_up() -> None:
    def build() -> None:
        queue = aws.sqs.Queue("q")
        aws.iam.Policy(
            "late",
            policy=queue.arn.apply(
                lambda arn: json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": arn}]}
                    | {"Sid": "S" * 6000}
                )
            ),
        )
        role = aws.iam.Role("r", name="r", assume_role_policy=sized(400, trust=True))
        aws.iam.RolePolicy("known", role=role.id, policy=sized(8000))
        aws.iam.RolePolicy("unknown", role=role.id, policy=queue.arn.apply(lambda _: sized(200)))

    preview = evaluate(run_function(build, preview=True, mocks=AwsMocks(region=REGION, first_preview=True)), [RULE])
    # the unknown managed policy is not judged; the role's known inline part already breaks the budget
    assert [m.split(" is ", 1)[0] for m in messages(preview)] == ["inline policies of role r"]
    up = evaluate(run_function(build), [RULE])
    assert sorted(m.split(" is ", 1)[0] for m in messages(up)) == [
        "inline policies of role r",
        "managed policy late",
    ]
