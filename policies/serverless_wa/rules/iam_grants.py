"""IAM rules that need to know what each action accepts (IAM-008 to IAM-011).

IAM-008 reads the generated Service Authorization data (`_actions`): a grant whose
resources can name nothing the action acts on is dead (it never matches, so the call it was
meant for is denied) or needed `"*"`. IAM-009 pins service trust policies to a source
(confused deputy). IAM-010 keeps one workload from publishing events that another's rules
act on. IAM-011 finds AWS-managed policies that give a writing service role account-wide
reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN, as_list, known, parse_json
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._actions import accepts, globs_intersect
from serverless_wa.rules._common import arn, case, stack_case
from serverless_wa.rules._iam import (
    ATTACHMENTS_EXCLUSIVE,
    POLICY,
    POLICY_ATTACHMENT,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    Statement,
    action_matches,
    condition_keys,
    managed_policy_arns,
    role_documents,
    service_principals,
    statements,
    trusted_services,
)
from serverless_wa.rules.iam import (
    DOCUMENT_READS,
    ROLE_SOURCE_READS,
    ROLE_SOURCE_TYPES,
    _allow,
    _allow_statements,
    _document,
    _trust,
    _where,
)

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
_POLICY_VARIABLE = re.compile(r"\$\{[^}]*\}")


# IAM-008 ------------------------------------------------------------------------------------


def _pattern(resource: str) -> str:
    """A granted resource as a match pattern: policy variables (`${aws:username}`) match
    anything, as they may at request time."""
    return _POLICY_VARIABLE.sub("*", resource)


def _dead_grants(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    seen: set[str] = set()
    for statement in _allow_statements(node):
        resources = [r for r in statement.resources if known(r)]
        if not resources or len(resources) != len(statement.resources):
            continue
        for action in statement.actions:
            accepted = accepts(action)
            if accepted is None or action in seen:
                continue
            if any(accepted.matches(_pattern(r)) for r in resources):
                continue
            seen.add(action)
            shown = ", ".join(resources[:3]) + (" ..." if len(resources) > 3 else "")
            if accepted.only_star:
                why = 'it accepts only Resource "*"'
            else:
                names = ", ".join(sorted({name for name, _ in accepted.types}))
                why = f"it acts on {names}"
            yield Finding(
                f"statement {statement.label} grants {action} on {shown}, which never "
                f"matches: {why}",
                detail=action,
            )


register(
    Rule(
        id="IAM-008",
        name="iam-grant-matches-resource-type",
        title="Every grant names a resource its action accepts",
        description=(
            "An Allow whose resources can name no resource type the action supports (per the "
            "AWS Service Authorization Reference, generated into the pack as data) never "
            "matches: the call it was meant for is denied, or the action accepts only "
            'Resource "*" and must be granted that way in a statement of its own.'
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(POLICY, ROLE_POLICY, ROLE),
        reads=DOCUMENT_READS,
        anchors=anchors(),
        knob="statements",
        raw="policy Resource",
        remediation=(
            "Raw: grant the action on an ARN of a resource type it supports (the Service "
            'Authorization Reference lists them), or on "*" in its own statement when it '
            "supports none. Component: the building block's statement helper grants it."
        ),
        check=_dead_grants,
        examples=Examples(
            compliant=(
                case(
                    ROLE_POLICY,
                    {
                        "policy": _document(
                            _allow(
                                ["dynamodb:GetRecords", "dynamodb:DescribeStream"],
                                arn("dynamodb", "table/orders/stream/*"),
                            ),
                            _allow("dynamodb:ListStreams", "*"),
                            _allow("logs:PutLogEvents", arn("logs", "log-group:/aws/x:*")),
                        )
                    },
                ),
            ),
            non_compliant=(
                case(
                    ROLE_POLICY,
                    {
                        "policy": _document(
                            _allow(
                                ["dynamodb:GetRecords", "dynamodb:ListStreams"],
                                arn("dynamodb", "table/orders/stream/2026-01-01T00:00:00.000"),
                            )
                        )
                    },
                ),
                case(
                    ROLE_POLICY,
                    {
                        "policy": _document(
                            _allow("states:SendTaskSuccess", arn("states", "stateMachine:m"))
                        )
                    },
                ),
                case(
                    POLICY,
                    {"policy": _document(_allow("sqs:SendMessage", arn("sns", "topic")))},
                ),
            ),
        ),
    )
)


# IAM-009 ------------------------------------------------------------------------------------

PINNED_SERVICES = (
    "events.amazonaws.com",
    "pipes.amazonaws.com",
    "scheduler.amazonaws.com",
    "states.amazonaws.com",
)
SOURCE_PINS = ("aws:sourceaccount", "aws:sourcearn")


def _trust_pinned(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    services = {str(s) for s in as_list(config.get("pinned_service_principals") or PINNED_SERVICES)}
    parsed = statements(parse_json(node.get("assumeRolePolicy")), node)
    for statement in parsed or []:
        if not statement.allow:
            continue
        unpinned = sorted(set(service_principals(statement.principal)) & services)
        if unpinned and not condition_keys(statement) & set(SOURCE_PINS):
            yield Finding(
                f"trust statement {statement.label} lets {', '.join(unpinned)} assume the role "
                "with no aws:SourceAccount or aws:SourceArn condition (confused deputy)",
                detail=",".join(unpinned),
            )


register(
    Rule(
        id="IAM-009",
        name="iam-service-trust-source-pinned",
        title="Service trust policies are pinned to a source account or ARN",
        description=(
            "A role's trust statement for an AWS service principal in pinned_service_principals "
            "(default: EventBridge, Pipes, Scheduler, Step Functions, which pass the keys when "
            "they assume a role) carries an aws:SourceAccount or aws:SourceArn condition, so "
            "another account's resource cannot make the service act with this role."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(ROLE,),
        reads={ROLE: ("assumeRolePolicy",)},
        anchors=anchors(),
        knob="",
        raw="assume_role_policy Condition",
        remediation=(
            'Raw: add "Condition": {"StringEquals": {"aws:SourceAccount": <account>}} (and '
            '"ArnLike": {"aws:SourceArn": <source ARN>} where the source is known) to the '
            "trust statement. Components: the library's service roles (iam.service_role) are "
            "pinned to the stack's account, and to the source ARN where it is known."
        ),
        check=_trust_pinned,
        config={
            "pinned_service_principals": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(PINNED_SERVICES),
            }
        },
        examples=Examples(
            compliant=(
                case(
                    ROLE,
                    {
                        "assumeRolePolicy": _document(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": "123456789012"}
                                },
                            }
                        )
                    },
                ),
                case(ROLE, {"assumeRolePolicy": _trust("lambda.amazonaws.com")}),
            ),
            non_compliant=(
                case(ROLE, {"assumeRolePolicy": _trust("events.amazonaws.com")}),
                case(
                    ROLE,
                    {
                        "assumeRolePolicy": _document(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": ["states.amazonaws.com"]},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}
                                },
                            }
                        )
                    },
                ),
            ),
        ),
    )
)


# IAM-010 ------------------------------------------------------------------------------------

PUT_EVENTS = "events:PutEvents"


def _bus_name(value: Any) -> str | None:
    """A rule's bus (name or ARN; absent is the default bus); None when unknown."""
    if value is UNKNOWN:
        return None
    if not isinstance(value, str) or not value:
        return "default"
    return value.rsplit("event-bus/", 1)[-1]


def _buses_with_rules(graph: Graph) -> set[str]:
    buses = set()
    for rule in graph.of_type(EVENT_RULE):
        name = _bus_name(rule.get("eventBusName"))
        if name is not None:
            buses.add(name)
    return buses


def _reaches(statement: Statement, bus: str) -> bool:
    target = f"arn:*:events:*:*:event-bus/{bus}"
    return any(globs_intersect(_pattern(r), target) for r in statement.resources if known(r))


def _put_events_pinned(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    buses = _buses_with_rules(graph)
    if not buses:
        return
    for role in graph.of_type(ROLE):
        granted, _ = role_documents(graph, role)
        for statement in granted:
            if not statement.allow or not any(
                action_matches(a, PUT_EVENTS) for a in statement.actions
            ):
                continue
            if "events:source" in condition_keys(statement):
                continue
            shared = sorted(bus for bus in buses if _reaches(statement, bus))
            if shared:
                yield Finding(
                    f"{_where(statement)} allows events:PutEvents to {', '.join(shared)} with no "
                    "events:source condition, so it can publish events other workloads' rules "
                    "act on",
                    urn=role.urn,
                    detail=statement.label,
                )


def _put_events_role(condition: Mapping[str, Any] | None = None) -> tuple[Resource, Resource]:
    statement = _allow(PUT_EVENTS, arn("events", "event-bus/default"))
    if condition:
        statement["Condition"] = condition
    return (
        Resource(ROLE, "publisher-role", {"assumeRolePolicy": _trust("lambda.amazonaws.com")}),
        Resource(
            ROLE_POLICY,
            "publisher-policy",
            {"policy": _document(statement)},
            depends={"role": ("publisher-role",)},
        ),
    )


_STUCK_RULE = Resource(EVENT_RULE, "stuck", {"eventPattern": '{"source": ["orders.saga"]}'})

register(
    Rule(
        id="IAM-010",
        name="events-put-events-source-pinned",
        title="Publishers to a bus with rules are pinned to their own event source",
        description=(
            "A role allowed events:PutEvents on a bus that has rules in the stack (the default "
            "bus when eventBusName is absent) carries an events:source condition naming its "
            "own sources, so it cannot forge events that another workload's rules act on."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(*ROLE_SOURCE_TYPES, EVENT_RULE),
        reads={**ROLE_SOURCE_READS, EVENT_RULE: ("eventBusName",)},
        anchors=anchors(),
        knob="statements",
        raw="policy Condition",
        remediation=(
            'Raw: add "Condition": {"StringEquals": {"events:source": ["<your.source>"]}} to '
            "the events:PutEvents statement. Components: state machines are pinned to the "
            "Source of their PutEvents tasks; iam.events_put pins other grants."
        ),
        check=_put_events_pinned,
        examples=Examples(
            compliant=(
                stack_case(
                    *_put_events_role({"StringEquals": {"events:source": ["orders.saga"]}}),
                    _STUCK_RULE,
                    subject="publisher-role",
                ),
                # No rule in the stack listens on the bus.
                stack_case(*_put_events_role(), subject="publisher-role"),
            ),
            non_compliant=(stack_case(*_put_events_role(), _STUCK_RULE, subject="publisher-role"),),
        ),
    )
)


# IAM-011 ------------------------------------------------------------------------------------

# AWS-managed policies that grant reads across the whole account (Resource "*"), with the
# reads each gives. A service role that only writes (delivers logs, puts objects) needs none.
ACCOUNT_WIDE_READ: dict[str, str] = {
    "AmazonAPIGatewayPushToCloudWatchLogs": "logs:GetLogEvents and logs:FilterLogEvents",
    "AWSLambdaExecute": "s3:GetObject on every bucket",
    "CloudWatchLogsReadOnlyAccess": "logs:Get*, logs:FilterLogEvents",
    "CloudWatchReadOnlyAccess": "cloudwatch:Get*, logs:Get*",
    "AmazonS3ReadOnlyAccess": "s3:Get*, s3:List*",
    "AmazonDynamoDBReadOnlyAccess": "dynamodb:Get*, Scan, Query",
    "AmazonSQSReadOnlyAccess": "sqs:Get*, sqs:List*",
    "AmazonKinesisReadOnlyAccess": "kinesis:Get*",
    "SecretsManagerReadWrite": "secretsmanager:GetSecretValue",
    "ReadOnlyAccess": "every service's reads",
    "ViewOnlyAccess": "every service's list and describe calls",
}
_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.+/)?([^/]+)$")


def _read_wide(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    extra = config.get("policies")
    listed = dict(ACCOUNT_WIDE_READ)
    if isinstance(extra, list):
        listed = {str(name): "reads across the account" for name in extra} | listed
    for role in graph.of_type(ROLE):
        services = trusted_services(role)
        if not services:
            continue
        for value in managed_policy_arns(graph, role):
            match = _MANAGED.match(value) if isinstance(value, str) else None
            if match is None or match.group(1) not in listed:
                continue
            name = match.group(1)
            yield Finding(
                f"service role ({', '.join(sorted(services))}) attaches the AWS-managed policy "
                f"{name}, which grants {listed[name]} on Resource *",
                urn=role.urn,
                detail=name,
            )


def _service_role_with(arns: list[str]) -> Resource:
    return Resource(
        ROLE,
        "service-role",
        {"assumeRolePolicy": _trust("apigateway.amazonaws.com"), "managedPolicyArns": arns},
    )


register(
    Rule(
        id="IAM-011",
        name="iam-no-account-wide-read-managed-policy",
        title="Service roles attach no AWS-managed policy that reads the whole account",
        description=(
            "A role trusted by an AWS service may not attach an AWS-managed policy that grants "
            "reads on Resource * (AmazonAPIGatewayPushToCloudWatchLogs, AWSLambdaExecute, the "
            "*ReadOnlyAccess family...): the service only writes, so a customer-managed policy "
            "with the write actions is enough. Config `policies` adds names."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(ROLE, ROLE_POLICY_ATTACHMENT, POLICY_ATTACHMENT, ATTACHMENTS_EXCLUSIVE),
        reads={
            ROLE: ("assumeRolePolicy", "managedPolicyArns"),
            ROLE_POLICY_ATTACHMENT: ("policyArn",),
            POLICY_ATTACHMENT: ("policyArn",),
            ATTACHMENTS_EXCLUSIVE: ("policyArns",),
        },
        anchors=anchors(),
        knob="",
        raw="managed_policy_arns / aws.iam.RolePolicyAttachment",
        remediation=(
            "Raw: replace the attachment with an aws.iam.RolePolicy that grants only the write "
            "actions the service needs, scoped to the resources it writes (the library's "
            "ApiGatewayAccount does)."
        ),
        check=_read_wide,
        config={"policies": {"type": "array", "items": {"type": "string"}, "default": []}},
        examples=Examples(
            compliant=(
                stack_case(
                    _service_role_with(
                        ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
                    ),
                    subject="service-role",
                ),
            ),
            non_compliant=(
                stack_case(
                    _service_role_with(
                        [
                            "arn:aws:iam::aws:policy/service-role/"
                            "AmazonAPIGatewayPushToCloudWatchLogs"
                        ]
                    ),
                    subject="service-role",
                ),
                stack_case(
                    Resource(
                        ROLE, "service-role", {"assumeRolePolicy": _trust("lambda.amazonaws.com")}
                    ),
                    Resource(
                        ROLE_POLICY_ATTACHMENT,
                        "attach",
                        {"policyArn": "arn:aws:iam::aws:policy/AWSLambdaExecute"},
                        depends={"role": ("service-role",)},
                    ),
                    subject="service-role",
                ),
            ),
        ),
    )
)
