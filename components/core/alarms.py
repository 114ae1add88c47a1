"""CloudWatch alarms with one shape: a metric, a threshold, the stack's alarm actions."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.core import defaults
from components.core.scope import Scope


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


class AlarmTopic(pulumi.ComponentResource):
    """The stack's alarm topic (SSE with the AWS managed key), used when none is configured."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-patterns:core:AlarmTopic", name, None, opts)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            kms_master_key_id="alias/aws/sns",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})
