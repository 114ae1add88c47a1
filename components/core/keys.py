"""A customer managed KMS key that named AWS services may use on this account's behalf.

Some service-to-service deliveries cannot use an AWS managed key, whose policy nobody can
change: EventBridge (and CloudWatch alarms) cannot publish to an SNS topic encrypted with
`alias/aws/sns`. `ServiceKey` is the smallest key that works: rotated yearly, administered
by the account, and usable (`kms:GenerateDataKey`, `kms:Decrypt`) by each named service
principal only on behalf of this account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi_aws as aws

from . import aws_context
from .scope import Scope

DELETION_WINDOW_DAYS = 30


def key_policy(account: str, services: Sequence[str]) -> str:
    statements = [
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    for index, service in enumerate(sorted(set(services))):
        statements.append(
            {
                "Sid": f"ServiceUses{index}",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class ServiceKey:
    """A rotated CMK (+ alias) that `services` may encrypt and decrypt with."""

    def __init__(
        self, scope: Scope, suffix: str, *, description: str, services: Sequence[str]
    ) -> None:
        if not services:
            raise ValueError("ServiceKey needs at least one service principal")
        account = aws_context.account_id(scope.component)
        self.key = aws.kms.Key(
            scope.child(f"{suffix}-key"),
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            policy=account.apply(lambda a: key_policy(a, services)),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.alias = aws.kms.Alias(
            scope.child(f"{suffix}-key-alias"),
            name=f"alias/{scope.physical(suffix, max_length=200)}",
            target_key_id=self.key.key_id,
            opts=scope.opts(),
        )
        self.arn = self.key.arn
