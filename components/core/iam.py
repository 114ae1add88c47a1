"""Least-privilege IAM: statements scoped to ARNs, rendered to policy JSON.

Every statement names its actions exactly (no `*`, no `service:*`) and its resources by ARN;
a statement that cannot be scoped (X-Ray segments) is granted through the AWS managed policy
instead, so the inline policies the components write stay wildcard-free. The one exception
is an action the Service Authorization Reference lists with no resource type (it accepts
only `"*"`): `Statement.any_resource` grants it alone, and STAR_ONLY_ACTIONS says which
(a test checks the list against the policy pack's generated action data).

Trust policies of the services that pass `aws:SourceAccount`/`aws:SourceArn` when they
assume a role (EventBridge, Pipes, Scheduler, Step Functions) are always pinned to this
account, and to the source ARN where the caller knows it (confused deputy). Firehose passes
the stream's account as the external id instead, so its roles are pinned with
`sts:ExternalId`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from . import aws_context
from .scope import Scope

XRAY_WRITE_POLICY = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
# Actions with no resource-level permissions that the library grants, each on "*" alone.
STAR_ONLY_ACTIONS = frozenset(
    {
        "dynamodb:ListStreams",
        "logs:DescribeLogGroups",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "states:SendTaskSuccess",
    }
)
# Service principals that pass aws:SourceAccount and aws:SourceArn when assuming a role.
SOURCE_PINNED_SERVICES = frozenset(
    {
        "events.amazonaws.com",
        "pipes.amazonaws.com",
        "scheduler.amazonaws.com",
        "states.amazonaws.com",
    }
)
# Service principals that pass the caller's account id as `sts:ExternalId` instead.
EXTERNAL_ID_SERVICES = frozenset({"firehose.amazonaws.com"})


@dataclass(frozen=True)
class Statement:
    """One Allow statement. `resources` may hold Outputs (ARNs of sibling resources)."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sid: str | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("a statement needs at least one action")
        for action in self.actions:
            service, _, name = action.partition(":")
            if not service or not name or "*" in action:
                raise ValueError(f"IAM action {action!r} must be an exact 'service:Action'")
        if not self.resources:
            raise ValueError(f"statement {list(self.actions)} needs at least one resource ARN")
        if list(self.resources) == ["*"] and set(self.actions) <= STAR_ONLY_ACTIONS:
            return
        for resource in self.resources:
            if isinstance(resource, str) and (resource == "*" or not resource.startswith("arn:")):
                raise ValueError(f"IAM resource {resource!r} must be an ARN, not a wildcard")


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The JSON policy document for `statements`, resolved once every ARN (and every
    condition value) is known."""

    def render(resolved: list[list[Any]]) -> str:
        body = []
        for statement, (resources, conditions) in zip(statements, resolved, strict=True):
            entry: dict[str, Any] = {
                "Effect": "Allow",
                "Action": sorted(set(statement.actions)),
                "Resource": resources[0] if len(resources) == 1 else list(resources),
            }
            if statement.sid:
                entry["Sid"] = statement.sid
            if conditions:
                entry["Condition"] = {k: dict(v) for k, v in conditions.items()}
            body.append(entry)
        return json.dumps({"Version": "2012-10-17", "Statement": body}, sort_keys=True)

    parts = [
        pulumi.Output.all(
            pulumi.Output.all(*s.resources),
            pulumi.Output.from_input({k: dict(v) for k, v in s.conditions.items()}),
        )
        for s in statements
    ]
    return pulumi.Output.all(*parts).apply(lambda resolved: render([list(r) for r in resolved]))


def assume_role_policy(
    service: str,
    source_account: pulumi.Input[str] | None = None,
    source_arn: pulumi.Input[str] | None = None,
) -> Any:
    """Trust policy for one AWS service principal, optionally pinned to this account and to
    the ARN of the resource that makes the service assume the role."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is None and source_arn is None:
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    def render(pins: list[str | None]) -> str:
        account, arn = pins
        condition: dict[str, Any] = {}
        if account is not None:
            key = "sts:ExternalId" if service in EXTERNAL_ID_SERVICES else "aws:SourceAccount"
            condition["StringEquals"] = {key: account}
        if arn is not None:
            condition["ArnEquals"] = {"aws:SourceArn": arn}
        pinned = {**statement, "Condition": condition}
        return json.dumps({"Version": "2012-10-17", "Statement": [pinned]})

    return pulumi.Output.all(source_account, source_arn).apply(render)


def events_put(bus_arn: pulumi.Input[str], sources: Sequence[pulumi.Input[str]]) -> Statement:
    """PutEvents to one bus, only with the caller's own `source` values: other workloads'
    rules on the bus cannot be fed forged events (IAM-010)."""
    if not sources:
        raise ValueError("events_put needs the event sources the caller publishes")
    values = pulumi.Output.all(*sources).apply(lambda known: sorted(set(known)))
    return Statement(
        ["events:PutEvents"], [bus_arn], conditions={"StringEquals": {"events:source": values}}
    )


def service_role(
    scope: Scope,
    suffix: str,
    service: str,
    statements: Sequence[Statement],
    *,
    source_account: pulumi.Input[str] | None = None,
    source_arn: pulumi.Input[str] | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy | None]:
    """A role for one service principal with one inline least-privilege policy. Services in
    SOURCE_PINNED_SERVICES and EXTERNAL_ID_SERVICES are pinned to this account unless
    `source_account` is given."""
    if source_account is None and service in SOURCE_PINNED_SERVICES | EXTERNAL_ID_SERVICES:
        source_account = aws_context.account_id(scope.component)
    role = aws.iam.Role(
        scope.child(f"{suffix}-role"),
        assume_role_policy=assume_role_policy(service, source_account, source_arn),
        tags=scope.tags,
        opts=scope.opts(),
    )
    policy = None
    if statements:
        policy = aws.iam.RolePolicy(
            scope.child(f"{suffix}-policy"),
            role=role.id,
            policy=policy_document(statements),
            opts=scope.opts(),
        )
    return role, policy


# Statement helpers, one per access pattern the components grant.


def sqs_send(queue_arn: pulumi.Input[str]) -> Statement:
    return Statement(["sqs:SendMessage"], [queue_arn])


def sqs_consume(queue_arn: pulumi.Input[str]) -> Statement:
    return Statement(
        ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [queue_arn]
    )


def dynamodb_put(table_arn: pulumi.Input[str]) -> Statement:
    return Statement(["dynamodb:PutItem"], [table_arn])


def secret_read(secret_arn: pulumi.Input[str]) -> Statement:
    return Statement(["secretsmanager:GetSecretValue"], [secret_arn])


def dynamodb_stream_read(stream_arn: pulumi.Input[str]) -> list[Statement]:
    """What a Lambda mapping or a pipe needs to read one table's stream: the reads scoped to
    the stream, and ListStreams, which AWS documents for both readers but which accepts
    only "*" (on the stream's ARN the grant would never match)."""
    return [
        Statement(
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [stream_arn],
        ),
        Statement(["dynamodb:ListStreams"], ["*"]),
    ]


def kinesis_stream_read(stream_arn: pulumi.Input[str]) -> Statement:
    """What a Lambda mapping needs to read one Kinesis stream with shared throughput (an
    enhanced fan-out consumer would also need kinesis:SubscribeToShard on the consumer)."""
    return Statement(
        [
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
        ],
        [stream_arn],
    )


def logs_write(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group (its streams are `<group-arn>:log-stream:*`)."""
    streams = pulumi.Output.from_input(log_group_arn).apply(
        lambda arn: f"{arn.removesuffix(':*')}:log-stream:*"
    )
    return Statement(["logs:CreateLogStream", "logs:PutLogEvents"], [streams])
