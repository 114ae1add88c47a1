"""components.core.iam at its edges: what a Statement refuses, how documents and trust
policies render, and which roles get an inline policy (issue #19)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest

from components.core import iam
from components.core.scope import Scope
from components.core.settings import Settings

QUEUE = "arn:aws:sqs:eu-west-1:123456789012:jobs"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


class Owner(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("serverless-patterns:test:Owner", "owner", None, None)


def scope() -> Scope:
    return Scope(Owner(), "owner", Settings())


def rendered(build: Any, statements: list[iam.Statement]) -> list[dict[str, Any]]:
    """The Statement list of the policy document, resolved."""
    out: dict[str, Any] = {}

    def program() -> None:
        iam.policy_document(statements).apply(lambda text: out.setdefault("doc", text))

    build(program)
    document = json.loads(out["doc"])
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def trust(build: Any, service: str, **pins: Any) -> dict[str, Any]:
    def program() -> None:
        iam.service_role(scope(), "svc", service, [], **pins)

    plan = build(program)
    document = json.loads(plan.one(ROLE).inputs["assumeRolePolicy"])
    assert document["Version"] == "2012-10-17"
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {"Service": service}
    return statement


# Statement ----------------------------------------------------------------------------------


def test_a_statement_needs_an_action_and_a_resource():
    with pytest.raises(ValueError, match="a statement needs at least one action"):
        iam.Statement([], [QUEUE])
    with pytest.raises(ValueError, match=r"statement \['sqs:SendMessage'\] needs at least one"):
        iam.Statement(["sqs:SendMessage"], [])


@pytest.mark.parametrize("action", ["sqs", "sqs:", ":SendMessage", ""])
def test_an_action_needs_a_service_and_a_name(action):
    with pytest.raises(ValueError, match="must be an exact 'service:Action'"):
        iam.Statement([action], [QUEUE])


def test_every_resource_is_checked_not_only_the_first():
    with pytest.raises(ValueError, match="IAM resource 'jobs' must be an ARN"):
        iam.Statement(["sqs:SendMessage"], [QUEUE, "jobs"])
    with pytest.raises(ValueError, match="IAM resource '\\*' must be an ARN"):
        iam.Statement(["sqs:SendMessage"], [QUEUE, "*"])


def test_star_is_granted_to_star_only_actions_alone():
    iam.Statement(sorted(iam.STAR_ONLY_ACTIONS), ["*"])
    iam.Statement(["logs:DescribeLogGroups"], ["*"])
    with pytest.raises(ValueError, match="must be an ARN"):
        iam.Statement(["logs:DescribeLogGroups"], ["*", "*"])
    with pytest.raises(ValueError, match="must be an ARN"):
        iam.Statement(["logs:DescribeLogGroups"], [QUEUE, "*"])


def test_resources_that_are_outputs_are_checked_once_resolved_not_before():
    iam.Statement(["sqs:SendMessage"], [pulumi.Output.from_input("anything")])


# Documents ----------------------------------------------------------------------------------


def test_a_document_sorts_and_dedupes_actions_and_keeps_several_resources(build):
    statement = iam.Statement(
        ["sqs:SendMessage", "sqs:DeleteMessage", "sqs:SendMessage"], [QUEUE, TABLE], sid="Jobs"
    )
    (entry,) = rendered(build, [statement])
    assert entry == {
        "Effect": "Allow",
        "Action": ["sqs:DeleteMessage", "sqs:SendMessage"],
        "Resource": [QUEUE, TABLE],
        "Sid": "Jobs",
    }


def test_a_document_renders_conditions_in_statement_order(build):
    pinned = iam.Statement(
        ["dynamodb:PutItem"],
        [TABLE],
        conditions={"StringEquals": {"aws:SourceAccount": pulumi.Output.from_input("1234")}},
    )
    first, second = rendered(build, [iam.sqs_send(QUEUE), pinned])
    assert first == {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": QUEUE}
    assert second["Condition"] == {"StringEquals": {"aws:SourceAccount": "1234"}}
    assert "Sid" not in second


def test_the_statement_helpers_grant_exactly_their_access_pattern(build):
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook"
    send, consume, put, read = rendered(
        build,
        [
            iam.sqs_send(QUEUE),
            iam.sqs_consume(QUEUE),
            iam.dynamodb_put(TABLE),
            iam.secret_read(secret),
        ],
    )
    assert send["Action"] == ["sqs:SendMessage"]
    assert consume["Action"] == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert (put["Action"], put["Resource"]) == (["dynamodb:PutItem"], TABLE)
    assert (read["Action"], read["Resource"]) == (["secretsmanager:GetSecretValue"], secret)


@pytest.mark.parametrize(
    "group",
    [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/pipes/p",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/pipes/p:*",
    ],
)
def test_logs_write_is_scoped_to_the_groups_streams(build, group):
    (entry,) = rendered(build, [iam.logs_write(group)])
    assert entry["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert entry["Resource"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/pipes/p:log-stream:*"
    )


# Roles --------------------------------------------------------------------------------------


def test_a_role_with_no_statements_gets_no_inline_policy(build):
    found: dict[str, Any] = {}

    def program() -> None:
        found["pair"] = iam.service_role(scope(), "svc", "lambda.amazonaws.com", [])

    plan = build(program)
    assert found["pair"][1] is None
    assert len(plan.of_type(ROLE)) == 1 and plan.of_type(ROLE_POLICY) == []


def test_a_role_with_statements_gets_one_inline_policy_holding_them(build):
    def program() -> None:
        iam.service_role(
            scope(), "svc", "lambda.amazonaws.com", [iam.sqs_send(QUEUE), iam.dynamodb_put(TABLE)]
        )

    plan = build(program)
    (inline,) = plan.of_type(ROLE_POLICY)
    statements = json.loads(inline.inputs["policy"])["Statement"]
    assert [s["Action"] for s in statements] == [["sqs:SendMessage"], ["dynamodb:PutItem"]]


def test_a_trust_policy_of_an_unpinned_service_has_no_condition(build):
    assert "Condition" not in trust(build, "lambda.amazonaws.com")


def test_a_given_source_account_replaces_the_stacks_own(build):
    statement = trust(build, "events.amazonaws.com", source_account="999999999999")
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "999999999999"}}
    statement = trust(build, "lambda.amazonaws.com", source_account="999999999999")
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "999999999999"}}


def test_a_source_arn_alone_pins_only_the_arn(build):
    rule = "arn:aws:sns:eu-west-1:123456789012:topic"
    statement = trust(build, "sns.amazonaws.com", source_arn=rule)
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule}}


def test_a_statement_cannot_be_changed_once_checked():
    statement = iam.sqs_send(QUEUE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.resources = ["*"]  # type: ignore[misc]


def test_the_document_text_is_canonical_so_an_unchanged_policy_never_shows_a_diff(build):
    out: dict[str, str] = {}

    def program() -> None:
        document = iam.policy_document([iam.Statement(["sqs:SendMessage"], [QUEUE], sid="S")])
        document.apply(lambda text: out.setdefault("doc", text))

    build(program)
    assert out["doc"] == json.dumps(json.loads(out["doc"]), sort_keys=True)
    assert out["doc"].index('"Action"') < out["doc"].index('"Effect"')


def test_trust_pins_are_passed_by_name(build):
    def program() -> None:
        with pytest.raises(TypeError, match="takes 4 positional arguments but 5 were given"):
            iam.service_role(scope(), "svc", "lambda.amazonaws.com", [], "999999999999")  # type: ignore[misc]

    build(program)
