"""IAM and CloudWatch Logs rules: granular exemptions, every policy source, preview shapes and
odd documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preview import gate
from serverless_wa.registry import REGISTRY, Case, Resource, Rule
from serverless_wa.rules._common import FUNCTION, LOG_GROUP, arn, case
from serverless_wa.rules._common import stack_case as sc
from serverless_wa.rules._iam import POLICY, ROLE, ROLE_POLICY, ROLE_POLICY_ATTACHMENT
from tests.policies.harness import crashes, findings_of, plan_of, run_case

IAM_IDS = [f"IAM-{n:03d}" for n in range(1, 8)] + ["LOGS-001", "LOGS-002"]
ROLE_ARN = "arn:aws:iam::123456789012:role/worker-role"
TABLE_ARN = arn("dynamodb", "table/orders")


def messages(pack: Any, rule_id: str, case_: Case, **config: Any) -> list[str]:
    rule = REGISTRY[rule_id]
    return [f.message for f in findings_of(run_case(pack, rule, case_, **config), rule)]


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def trust(service: str = "lambda.amazonaws.com") -> str:
    return document(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def role(**props: Any) -> Resource:
    return Resource(
        ROLE,
        "worker-role",
        {"name": "worker-role", "arn": ROLE_ARN, "assumeRolePolicy": trust(), **props},
    )


def role_policy(*statements: dict[str, Any], linked: bool = True) -> Resource:
    return Resource(
        ROLE_POLICY,
        "worker-policy",
        {"role": "worker-role", "policy": document(*statements)},
        depends={"role": ("worker-role",)} if linked else {},
    )


# IAM-001 / IAM-004: documents and granular findings -------------------------------------------


def test_one_finding_per_action_and_an_exemption_can_accept_one(pack):
    policy = case(POLICY, {"policy": document(allow(["s3:*", "dynamodb:*"]), allow("s3:*"))})
    assert len(messages(pack, "IAM-001", policy)) == 2
    exemption = {"match": "subject", "reason": "migration in progress", "expires": "2099-01-01"}
    [left] = messages(pack, "IAM-001", policy, exemptions=[{**exemption, "detail": "s3:*"}])
    assert "dynamodb:*" in left


def test_single_statement_object_and_single_action_string_are_read(pack):
    policy = case(
        POLICY, {"policy": json.dumps({"Statement": {"Effect": "Allow", "Action": "sqs:*"}})}
    )
    [message] = messages(pack, "IAM-001", policy)
    assert "sqs:*" in message


@pytest.mark.parametrize("rule_id", ["IAM-001", "IAM-004"])
@pytest.mark.parametrize(
    "policy",
    ["not json", "", json.dumps(["Statement"]), json.dumps({"Statement": "Allow *"})],
    ids=["invalid JSON", "empty", "a list", "a string statement"],
)
def test_a_document_that_does_not_parse_is_not_a_finding(pack, rule_id, policy):
    assert messages(pack, rule_id, case(ROLE_POLICY, {"role": "r", "policy": policy})) == []


def test_partial_wildcards_are_left_to_iam_002(pack):
    policy = case(POLICY, {"policy": document(allow("s3:Get*", "arn:aws:s3:::uploads/*"))})
    assert messages(pack, "IAM-001", policy) == []


def test_wildcard_actions_reach_the_data_plane(pack):
    policy = case(POLICY, {"policy": document(allow(["*", "ssm:Get*", "xray:Put*"]))})
    found = messages(pack, "IAM-004", policy)
    assert len(found) == 2
    assert any("allows * on" in m for m in found) and any("ssm:Get*" in m for m in found)


def test_allowed_actions_replace_the_default_list(pack):
    policy = case(POLICY, {"policy": document(allow(["sqs:SendMessage", "s3:GetObject"]))})
    assert len(messages(pack, "IAM-004", policy)) == 2
    [message] = messages(pack, "IAM-004", policy, allowed_actions=["s3:GetObject"])
    assert "allows sqs:SendMessage on Resource *" in message


def test_actions_that_accept_only_star_are_never_data_plane_findings(pack):
    # The Service Authorization Reference lists no resource type for these: "*" is the only
    # way to grant them, whatever allowed_actions says.
    only_star = ["sqs:ListQueues", "dynamodb:ListStreams", "s3:ListAllMyBuckets"]
    policy = case(POLICY, {"policy": document(allow(only_star))})
    assert messages(pack, "IAM-004", policy, allowed_actions=[]) == []


# IAM-002 / IAM-006: every policy source of a service role -------------------------------------


@pytest.mark.parametrize("linked", [True, False], ids=["preview shape", "fallback shape"])
def test_customer_policy_attached_to_a_service_role_counts(pack, linked):
    stack = sc(
        role(),
        Resource(
            POLICY,
            "shared",
            {
                "arn": "arn:aws:iam::123456789012:policy/shared",
                "policy": document(allow("s3:Get*")),
            },
        ),
        Resource(
            ROLE_POLICY_ATTACHMENT,
            "attach",
            {"role": "worker-role", "policyArn": "arn:aws:iam::123456789012:policy/shared"},
            depends={"role": ("worker-role",), "policyArn": ("shared",)} if linked else {},
        ),
        subject="worker-role",
    )
    [message] = messages(pack, "IAM-002", stack)
    assert 'allowed s3:Get* (Policy "shared"' in message


def test_a_full_wildcard_is_one_finding_not_two(pack):
    """IAM-001 reports `s3:*` on the document; IAM-002 leaves it there and keeps the
    partial wildcard of the same role."""
    stack = sc(role(), role_policy(allow("s3:*"), allow("sqs:Send*")), subject="worker-role")
    [only] = messages(pack, "IAM-002", stack)
    assert "sqs:Send*" in only
    policy_case = case(ROLE_POLICY, {"role": "worker-role", "policy": document(allow("s3:*"))})
    [wildcard] = messages(pack, "IAM-001", policy_case)
    assert "s3:*" in wildcard


def test_inline_role_policies_count(pack):
    stack = sc(
        role(inlinePolicies=[{"name": "inline", "policy": document(allow("sqs:Send*"))}]),
        subject="worker-role",
    )
    [message] = messages(pack, "IAM-002", stack)
    assert "sqs:Send*" in message


def test_an_unknown_trust_policy_is_skipped(pack):
    stack = sc(
        role(assumeRolePolicy=gate.UNKNOWN), role_policy(allow("s3:*")), subject="worker-role"
    )
    assert messages(pack, "IAM-002", stack) == []
    assert messages(pack, "IAM-006", stack) == []


def test_direct_invoke_counts_wildcards_and_ignores_denies(pack):
    stack = sc(
        role(),
        role_policy(
            allow("*"),
            {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"},
            allow("lambda:InvokeAsync", arn("lambda", "function:other")),
        ),
        subject="worker-role",
    )
    found = messages(pack, "IAM-006", stack)
    assert len(found) == 2 and "lambda:InvokeAsync" in found[1]


# IAM-003 / IAM-005 / IAM-007 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy_arn",
    [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        gate.UNKNOWN,
    ],
)
def test_narrow_or_unknown_managed_policies_pass(pack, policy_arn):
    attachment = case(ROLE_POLICY_ATTACHMENT, {"role": "worker-role", "policyArn": policy_arn})
    assert messages(pack, "IAM-003", attachment) == []


def test_functions_sharing_a_role_through_dependencies_are_reported(pack):
    """Preview shape: the role ARN is unknown, the dependency still names the role."""
    functions = [
        Resource(FUNCTION, name, {"name": name, "role": gate.UNKNOWN}, depends={"role": ("r",)})
        for name in ("a", "b", "c")
    ]
    stack = sc(role(), Resource(ROLE, "r", {"assumeRolePolicy": trust()}), *functions, subject="b")
    found = findings_of(run_case(pack, REGISTRY["IAM-005"], stack), REGISTRY["IAM-005"])
    assert sorted(f.urn.rsplit("::", 1)[-1] for f in found) == ["b", "c"]
    assert all('with function "a"' in f.message for f in found)


def test_functions_with_unresolved_roles_are_not_grouped(pack):
    functions = [
        Resource(FUNCTION, name, {"name": name, "role": gate.UNKNOWN}) for name in ("a", "b")
    ]
    assert messages(pack, "IAM-005", sc(*functions, subject="b")) == []


def test_an_access_key_with_an_unknown_status_is_skipped(pack):
    key = case("aws:iam/accessKey:AccessKey", {"user": "ci", "status": gate.UNKNOWN})
    assert messages(pack, "IAM-007", key) == []


# LOGS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "found"), [(None, 1), (0, 1), (1, 0), (3653, 0)])
def test_log_group_retention_absent_or_zero_fails(pack, days, found):
    props = {"name": "/aws/lambda/worker"} | ({"retentionInDays": days} if days is not None else {})
    assert len(messages(pack, "LOGS-001", case(LOG_GROUP, props))) == found


def test_retention_bounds_do_not_echo_config(pack):
    [message] = messages(pack, "LOGS-001", case(LOG_GROUP, {"retentionInDays": 30}), min_days=365)
    assert "365" not in message and "below the configured minimum" in message


# Odd props never abort a rule ---------------------------------------------------------------

ODD = sc(
    Resource(
        ROLE,
        "worker-role",
        {
            "assumeRolePolicy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]}),
            "inlinePolicies": {"policy": "x"},
            "managedPolicyArns": "arn:aws:iam::aws:policy/AdministratorAccess",
        },
    ),
    Resource(
        ROLE_POLICY,
        "p1",
        {"role": ["worker-role"], "policy": json.dumps({"Statement": [{"Action": [1, None]}]})},
    ),
    Resource(POLICY, "p2", {"policy": {"Statement": [allow(["s3:*"])]}}),
    Resource(ROLE_POLICY_ATTACHMENT, "a1", {"role": 5, "policyArn": ["x"]}),
    Resource("aws:iam/policyAttachment:PolicyAttachment", "a2", {"roles": "worker-role"}),
    Resource(FUNCTION, "f1", {"role": {"arn": ROLE_ARN}}),
    Resource(LOG_GROUP, "g1", {"retentionInDays": "forever", "kmsKeyId": 5}),
    Resource("aws:iam/accessKey:AccessKey", "k1", {"status": 1}),
    subject="worker-role",
)


def all_of(rules: list[Rule]) -> dict[str, Any]:
    profile: dict[str, Any] = {r.name: {"enforcementLevel": "disabled"} for r in REGISTRY.values()}
    profile.update({r.name: {"enforcementLevel": "mandatory"} for r in rules})
    return profile


def test_odd_props_never_abort_an_iam_or_logs_rule(pack):
    report = gate.run(plan_of(ODD), profile=all_of([REGISTRY[i] for i in IAM_IDS]), stub=pack)
    assert crashes(report) == []
    assert {f.id for f in report.findings} >= {"IAM-003", "IAM-004", "IAM-001"}
