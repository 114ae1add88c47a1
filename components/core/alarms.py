"""CloudWatch alarms with one shape: a metric, a threshold, the stack's alarm actions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import aws_context, defaults
from .scope import Scope


def metric_alarm(
    scope: Scope,
    suffix: str,
    *,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    threshold: float,
    description: str,
    statistic: str = "Maximum",
    comparison: str = "GreaterThanThreshold",
    evaluation_periods: int = 1,
    period_s: int = defaults.ALARM_PERIOD_S,
) -> aws.cloudwatch.MetricAlarm:
    actions = list(scope.settings.alarm_actions)
    return aws.cloudwatch.MetricAlarm(
        scope.child(suffix),
        name=scope.physical(suffix, max_length=255),
        alarm_description=description,
        namespace=namespace,
        metric_name=metric,
        dimensions=dict(dimensions),
        statistic=statistic,
        comparison_operator=comparison,
        threshold=threshold,
        period=period_s,
        evaluation_periods=evaluation_periods,
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=scope.tags,
        opts=scope.opts(),
    )


@dataclass(frozen=True)
class MetricRef:
    """One CloudWatch metric a metric-math alarm reads (summed over each period)."""

    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]


def rate_alarm(
    scope: Scope,
    suffix: str,
    *,
    events: Sequence[MetricRef],
    total: MetricRef,
    threshold: float,
    description: str,
    evaluation_periods: int = 1,
    period_s: int = 300,
) -> aws.cloudwatch.MetricAlarm:
    """Alarms when the sum of `events` over `total` (a fraction, 0 when `total` is 0 or
    absent) exceeds `threshold` in a period: a fault rate, say, Errors over Invocations."""
    if not events:
        raise ValueError("rate_alarm needs at least one event metric")
    actions = list(scope.settings.alarm_actions)

    def query(query_id: str, ref: MetricRef) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query_id,
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=ref.namespace,
                metric_name=ref.metric,
                dimensions=dict(ref.dimensions),
                period=period_s,
                stat="Sum",
            ),
        )

    summed = " + ".join(f"FILL(e{index}, 0)" for index in range(len(events)))
    return aws.cloudwatch.MetricAlarm(
        scope.child(suffix),
        name=scope.physical(suffix, max_length=255),
        alarm_description=description,
        comparison_operator="GreaterThanThreshold",
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        treat_missing_data="notBreaching",
        metric_queries=[
            *(query(f"e{index}", ref) for index, ref in enumerate(events)),
            query("total", total),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate",
                expression=f"IF(FILL(total, 0) > 0, ({summed}) / FILL(total, 0), 0)",
                label="rate",
                return_data=True,
            ),
        ],
        alarm_actions=actions,
        ok_actions=actions,
        tags=scope.tags,
        opts=scope.opts(),
    )


class AlarmTopic(pulumi.ComponentResource):
    """The stack's alarm topic, used when no `alarmTopicArn` is configured.

    CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key, so the topic
    gets a customer managed key (rotated) whose policy lets CloudWatch use it, and a topic
    policy that admits CloudWatch alarms of this account only and denies requests without TLS.
    """

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-patterns:core:AlarmTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws_context.account_id(self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description="Encrypts the alarm topic; CloudWatch may use it to publish",
            enable_key_rotation=True,
            policy=account.apply(_key_policy),
            opts=child,
        )
        self.topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=self.key.arn, opts=child)
        self.policy = aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account).apply(
                lambda v: _topic_policy(v[0], v[1])
            ),
            opts=child,
        )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})


def _key_policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchPublishes",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        }
    )


def _topic_policy(topic_arn: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarms",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:*:{account}:alarm:*"},
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )
