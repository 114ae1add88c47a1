"""Least-privilege IAM: statements scoped to ARNs, rendered to policy JSON.

Every statement names its actions exactly (no `*`, no `service:*`) and its resources by ARN;
a statement that cannot be scoped (X-Ray segments) is granted through the AWS managed policy
instead, so the inline policies the components write stay wildcard-free.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.core.scope import Scope

XRAY_WRITE_POLICY = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"


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
        for resource in self.resources:
            if isinstance(resource, str) and (resource == "*" or not resource.startswith("arn:")):
                raise ValueError(f"IAM resource {resource!r} must be an ARN, not a wildcard")


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The JSON policy document for `statements`, resolved once every ARN is known."""

    def render(resolved: list[list[str]]) -> str:
        body = []
        for statement, resources in zip(statements, resolved, strict=True):
            entry: dict[str, Any] = {
                "Effect": "Allow",
                "Action": sorted(set(statement.actions)),
                "Resource": resources[0] if len(resources) == 1 else resources,
            }
            if statement.sid:
                entry["Sid"] = statement.sid
            if statement.conditions:
                entry["Condition"] = {k: dict(v) for k, v in statement.conditions.items()}
            body.append(entry)
        return json.dumps({"Version": "2012-10-17", "Statement": body}, sort_keys=True)

    return pulumi.Output.all(*[pulumi.Output.all(*s.resources) for s in statements]).apply(
        lambda resolved: render([list(r) for r in resolved])
    )


def assume_role_policy(service: str, source_account: pulumi.Input[str] | None = None) -> Any:
    """Trust policy for one AWS service principal, optionally pinned to this account."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is None:
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return pulumi.Output.from_input(source_account).apply(
        lambda account: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {**statement, "Condition": {"StringEquals": {"aws:SourceAccount": account}}}
                ],
            }
        )
    )


def service_role(
    scope: Scope,
    suffix: str,
    service: str,
    statements: Sequence[Statement],
    *,
    source_account: pulumi.Input[str] | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy | None]:
    """A role for one service principal with one inline least-privilege policy."""
    role = aws.iam.Role(
        scope.child(f"{suffix}-role"),
        assume_role_policy=assume_role_policy(service, source_account),
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


def dynamodb_stream_read(stream_arn: pulumi.Input[str]) -> Statement:
    """What a Lambda mapping or a pipe needs to read one table's stream (scoped to it)."""
    return Statement(
        [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
        [stream_arn],
    )


def logs_write(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write to one log group (its streams are `<group-arn>:log-stream:*`)."""
    streams = pulumi.Output.from_input(log_group_arn).apply(
        lambda arn: f"{arn.removesuffix(':*')}:log-stream:*"
    )
    return Statement(["logs:CreateLogStream", "logs:PutLogEvents"], [streams])
