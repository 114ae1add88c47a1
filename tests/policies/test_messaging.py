"""Messaging rules (SQS, SNS, EventBridge, Scheduler, Pipes): the section 4 regression cases,
the schedule-expression validator, preview shapes and odd props."""

from __future__ import annotations

import json

import pytest

from preview import gate
from preview.engine import Plan
from serverless_wa.registry import REGISTRY, Case, Resource
from serverless_wa.rules._common import ESM, FUNCTION, INVOKE_CONFIG, PIPE, QUEUE, arn, case
from serverless_wa.rules._common import stack_case as sc
from serverless_wa.rules.events import schedule_expression_problem
from tests.policies.harness import findings_of, only, plan_of, run_case

EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
SQS_001 = REGISTRY["SQS-001"]


def queue(
    name: str, depends: dict[str, tuple[str, ...]] | None = None, **props: object
) -> Resource:
    url = f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name}"
    return Resource(
        QUEUE, name, {"arn": arn("sqs", name), "url": url, **props}, None, depends or {}
    )


def redrive(target: str) -> str:
    return json.dumps({"deadLetterTargetArn": arn("sqs", target), "maxReceiveCount": 5})


def messages(pack, rule_id: str, case_: Case, **config: object) -> list[str]:
    rule = REGISTRY[rule_id]
    return [f.message for f in findings_of(run_case(pack, rule, case_, **config), rule)]


# SQS-001 regression cases (serverless-rules#79, #153, #177; cdk-nag#1629) -----------------

FUNCTION_ARN = arn("lambda", "function:worker")
DLQ_OWNERS = {
    "a queue": lambda wired: Resource(
        QUEUE,
        "source",
        {"arn": arn("sqs", "source"), "redrivePolicy": redrive("dlq")},
        depends={"redrivePolicy": ("dlq",)} if wired else {},
    ),
    "an EventBridge target": lambda wired: Resource(
        EVENT_TARGET,
        "target",
        {"arn": FUNCTION_ARN, "deadLetterConfig": {"arn": arn("sqs", "dlq")}},
        depends={"deadLetterConfig": ("dlq",)} if wired else {},
    ),
    "a Lambda function": lambda wired: Resource(
        FUNCTION,
        "worker",
        {"arn": FUNCTION_ARN, "deadLetterConfig": {"targetArn": arn("sqs", "dlq")}},
        depends={"deadLetterConfig": ("dlq",)} if wired else {},
    ),
    "a Lambda on-failure destination": lambda wired: Resource(
        INVOKE_CONFIG,
        "worker-async",
        {
            "functionName": "worker",
            "destinationConfig": {"onFailure": {"destination": arn("sqs", "dlq")}},
        },
        depends={"destinationConfig": ("dlq",)} if wired else {},
    ),
}


@pytest.mark.parametrize("wired", [True, False], ids=["preview-shape", "fallback-shape"])
@pytest.mark.parametrize("owner", sorted(DLQ_OWNERS))
def test_sqs_001_passes_a_queue_used_only_as_a_dlq(pack, owner, wired):
    case_ = sc(queue("dlq"), DLQ_OWNERS[owner](wired), subject="dlq")
    assert messages(pack, "SQS-001", case_) == []


def test_sqs_001_still_reports_the_source_queue_next_to_its_dlq(pack):
    case_ = sc(
        queue("dlq"), queue("jobs"), queue("other", redrivePolicy=redrive("dlq")), subject="x"
    )
    found = findings_of(run_case(pack, SQS_001, case_), SQS_001)
    assert [f.urn.rsplit("::", 1)[-1] for f in found] == ["jobs"]


def test_sqs_001_dlq_tag_marks_an_external_dlq(pack):
    assert messages(pack, "SQS-001", sc(queue("dlq", tags={"wa:dlq": "true"}), subject="dlq")) == []
    (message,) = messages(pack, "SQS-001", sc(queue("dlq", tags={"wa:dlq": "yes"}), subject="dlq"))
    assert (
        "queue has no redrive policy and is not a dead-letter queue of anything in this stack"
        in message
    )


def test_sqs_001_redrive_allow_policy_marks_a_dlq(pack):
    allow = json.dumps({"redrivePermission": "allowAll"})
    assert (
        messages(pack, "SQS-001", sc(queue("dlq", redriveAllowPolicy=allow), subject="dlq")) == []
    )


def test_sqs_001_an_unresolved_redrive_policy_resource_is_never_a_finding(pack):
    case_ = sc(
        queue("jobs"),
        Resource(REDRIVE_POLICY, "redrive", {"queueUrl": gate.UNKNOWN, "redrivePolicy": "{}"}),
        subject="jobs",
    )
    assert messages(pack, "SQS-001", case_) == []


def _durable_queue() -> Case:
    """The DurableQueue component's shape: documents built from the queues' outputs."""

    def deny(name: str) -> str:
        statement = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": arn("sqs", name),
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    return sc(
        queue("jobs-dlq"),
        queue("jobs", {"redrivePolicy": ("jobs-dlq",)}, redrivePolicy=redrive("jobs-dlq")),
        *(
            Resource(
                QUEUE_POLICY,
                f"{name}-policy",
                {"queueUrl": queue(name).props["url"], "policy": deny(name)},
                depends={"queueUrl": (name,), "policy": (name,)},
            )
            for name in ("jobs", "jobs-dlq")
        ),
        Resource(FUNCTION, "worker", {"arn": FUNCTION_ARN}),
        Resource(
            ESM,
            "mapping",
            {"eventSourceArn": arn("sqs", "jobs"), "functionName": FUNCTION_ARN},
            depends={"eventSourceArn": ("jobs",), "functionName": ("worker",)},
        ),
        subject="jobs",
    )


def _computed_identities(plan: Plan) -> Plan:
    """ARNs and URLs exist only once a resource is created: outputs, not inputs."""
    for registration in plan.registrations:
        for key in ("arn", "url"):
            registration.inputs.pop(key, None)
    return plan


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
@pytest.mark.parametrize("rule_id", ["SQS-001", "SQS-004", "SQS-005"])
def test_sqs_stack_rules_pass_the_component_shape(pack, rule_id, preview):
    rule = REGISTRY[rule_id]
    plan = _computed_identities(plan_of(_durable_queue()))
    report = gate.run(plan, profile=only(rule), preview=preview, stub=pack)
    assert findings_of(report, rule) == []
    assert not [why for policy, _, why in report.not_applicable if "could not" in why]


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_sqs_005_reports_a_low_count_at_up_and_stays_silent_at_preview(pack, preview):
    rule = REGISTRY["SQS-005"]
    plan = _computed_identities(plan_of(_durable_queue()))
    report = gate.run(
        plan, profile=only(rule, {"min_receive_count": 6}), preview=preview, stub=pack
    )
    assert bool(findings_of(report, rule)) is not preview


def test_sqs_005_threshold_comes_from_config(pack):
    case_ = _durable_queue()
    (message,) = messages(pack, "SQS-005", case_, min_receive_count=6)
    assert (
        'maxReceiveCount is 5 on a queue that feeds Lambda mapping "mapping" (minimum 6)' in message
    )
    assert messages(pack, "SQS-005", case_, min_receive_count=5) == []


# SQS-003 / SNS-004 ------------------------------------------------------------------------


def _queue_policy(**statement: object) -> Case:
    base = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn("sqs", "jobs")}
    return case(QUEUE_POLICY, {"policy": json.dumps({"Statement": [{**base, **statement}]})})


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        ({"Principal": "*"}, True),
        ({"Principal": {"AWS": ["arn:aws:iam::123456789012:root", "*"]}}, True),
        ({"Principal": "*", "Condition": {"StringEquals": {"AWS:SourceAccount": "1"}}}, False),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}, False),
        # IfExists and Null operators pass when the key is missing: they restrict nothing.
        ({"Principal": "*", "Condition": {"ArnEqualsIfExists": {"aws:SourceArn": "x"}}}, True),
        ({"Principal": "*", "Condition": {"Null": {"aws:SourceArn": "false"}}}, True),
        ({"Principal": {"Service": "sns.amazonaws.com"}}, True),
        (
            {
                "Principal": {"Service": "sns.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
            },
            True,
        ),
        ({"Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}}, False),
        ({"Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}, "Action": "SQS:*"}, True),
        ({"Principal": "*", "Effect": "Deny"}, False),
    ],
)
def test_sqs_003_statements(pack, statement, public):
    assert bool(messages(pack, "SQS-003", _queue_policy(**statement))) is public


def test_sns_004_uses_sns_actions(pack):
    policy = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sns:*",
    }
    topic_policy = "aws:sns/topicPolicy:TopicPolicy"
    assert messages(
        pack, "SNS-004", case(topic_policy, {"policy": json.dumps({"Statement": policy})})
    )
    sqs_only = {**policy, "Action": "sqs:*"}
    assert not messages(
        pack, "SNS-004", case(topic_policy, {"policy": json.dumps({"Statement": [sqs_only]})})
    )


# EVENTS-006: the validator as a pure function -----------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(5 minutes)",
        "rate(2 hours)",
        "rate(30 days)",
        "cron(15 19 * * ? *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 10 ? * 6L 2030)",
        "cron(0 10 ? * MON#2 *)",
        "cron(0 8 15W * ? *)",
        "cron(0 8 L JAN-MAR ? *)",
        "at(2030-01-01T00:00:00)",
    ],
)
def test_schedule_expressions_accepted(expression):
    assert schedule_expression_problem(expression, scheduler=True) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(5 minute)",
        "rate(1 minutes)",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "rate(five minutes)",
        "cron(15 19 * * ?)",
        "cron(0 15 19 * * ? *)",
        "at(2030-13-01T00:00:00)",
        "at(2030-01-01)",
        "every 5 minutes",
        "",
        # Accepted before the pack took the component validator's grammar:
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(61 12 * * ? *)",
        "cron(0 12 * 13 ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 * * ? 1969)",
        " rate(5 minutes)",
        "rate(5 minutes) ",
        "rate(05 minutes)",
    ],
)
def test_schedule_expressions_rejected(expression):
    assert schedule_expression_problem(expression, scheduler=True)


def test_at_is_only_for_scheduler():
    assert schedule_expression_problem("at(2030-01-01T00:00:00)", scheduler=False)
    assert schedule_expression_problem("rate(1 minute)", scheduler=False) is None


# Odd props never raise and never become findings --------------------------------------------

ODD = [None, 7, True, "not json", "[]", "{}", ["a"], {"Statement": "x"}, {"Statement": [1]}]
ODD_PATHS = {
    "SQS-001": (QUEUE, "redrivePolicy"),
    "SQS-003": (QUEUE_POLICY, "policy"),
    "SQS-004": (QUEUE, "policy"),
    "SNS-001": ("aws:sns/topicSubscription:TopicSubscription", "redrivePolicy"),
    "SNS-002": ("aws:sns/topic:Topic", "tracingConfig"),
    "SNS-004": ("aws:sns/topic:Topic", "policy"),
    "EVENTS-002": (EVENT_TARGET, "retryPolicy"),
    "EVENTS-003": ("aws:cloudwatch/eventPermission:EventPermission", "condition"),
    "EVENTS-006": ("aws:scheduler/schedule:Schedule", "scheduleExpression"),
    "PIPES-001": (PIPE, "logConfiguration"),
    "PIPES-002": (PIPE, "sourceParameters"),
}


@pytest.mark.parametrize("rule_id", sorted(ODD_PATHS))
def test_odd_props_are_never_an_error(pack, rule_id):
    rule = REGISTRY[rule_id]
    type_, prop = ODD_PATHS[rule_id]
    for value in ODD:
        props: dict[str, object] = {prop: value}
        if type_ == "aws:sns/topicSubscription:TopicSubscription":
            props["protocol"] = "sqs"
        case_ = (
            case(type_, props)
            if rule.scope == "resource"
            else sc(Resource(type_, "subject", props), subject="subject")
        )
        report = run_case(pack, rule, case_)
        errors = [why for policy, _, why in report.not_applicable if "could not" in why]
        assert errors == [], (value, errors)
