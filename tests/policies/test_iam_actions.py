"""The pack's IAM action data is generated from a maintained source, never typed by hand,
and the matching it drives is exact where the audit needs it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from serverless_wa.rules._actions import DATA, accepts, globs_intersect

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "arn:aws:dynamodb:eu-west-1:123456789012"


def _generator():
    path = ROOT / "policies" / "tools" / "generate_iam_actions.py"
    spec = importlib.util.spec_from_file_location("generate_iam_actions", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_data_equals_a_fresh_generation():
    generator = _generator()
    assert DATA.read_text() == generator.render(generator.build()), (
        "iam_actions.json is stale: run `make iam-data`"
    )


@pytest.mark.parametrize(
    ("action", "resource", "matches"),
    [
        ("dynamodb:GetItem", f"{ACCOUNT}:table/orders", True),
        ("dynamodb:Query", f"{ACCOUNT}:table/orders/index/by-user", True),
        ("dynamodb:GetRecords", f"{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000", True),
        ("dynamodb:ListStreams", f"{ACCOUNT}:table/orders/stream/2026-01-01T00:00:00.000", False),
        ("dynamodb:ListStreams", "*", True),
        ("states:SendTaskSuccess", "arn:aws:states:eu-west-1:1:stateMachine:m", False),
        ("logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/f:*", True),
        ("logs:PutLogEvents", "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/f", False),
        ("s3:GetObject", "arn:aws:s3:::bucket/prefix/*", True),
        ("s3:GetObject", "arn:aws:s3:::bucket", False),
        ("s3:ListBucket", "arn:aws:s3:::bucket", True),
        ("sqs:SendMessage", "arn:aws:sns:eu-west-1:1:topic", False),
        ("events:PutEvents", "arn:aws:events:eu-west-1:1:event-bus/default", True),
        (
            "execute-api:ManageConnections",
            "arn:aws:execute-api:eu-west-1:1:a/v1/POST/@connections/*",
            True,
        ),
    ],
)
def test_what_each_action_accepts(action, resource, matches):
    accepted = accepts(action)
    assert accepted is not None
    assert accepted.matches(resource) is matches


def test_wildcard_and_unknown_actions_are_not_judged():
    assert accepts("dynamodb:Get*") is None
    assert accepts("nosuchservice:Thing") is None
    assert accepts("dynamodb:NoSuchAction") is None
    assert accepts("DynamoDB:getitem") is not None  # IAM action names are case-insensitive


@pytest.mark.parametrize(
    ("left", "right", "intersect"),
    [
        ("a*b", "ab", True),
        ("a*", "*b", True),
        ("abc", "abd", False),
        ("a?c", "abc", True),
        ("table/*", "table/x/stream/*", True),
        ("log-group:x", "log-group:*:log-stream:*", False),
        ("", "*", True),
        ("", "a", False),
    ],
)
def test_glob_intersection(left, right, intersect):
    assert globs_intersect(left, right) is intersect
    assert globs_intersect(right, left) is intersect
