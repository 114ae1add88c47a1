"""A deliberately bad stack of raw pulumi_aws resources, each breaking one headline rule.

`exempt=True` adds a valid, dated exemption tag for each rule the resource breaks, so the same
stack then passes the gate and reports the exemptions instead.
"""

from __future__ import annotations

import datetime as dt
import json

import pulumi
import pulumi_aws as aws

CODE = pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(e, c):\n    return e\n")})


def _tags(exempt: bool, *rule_ids: str) -> dict[str, str]:
    if not exempt:
        return {}
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {
        f"wa:exempt:{rule_id}": f"{until} accepted for the bad-stack test" for rule_id in rule_ids
    }


def lambda_role(name: str, exempt: bool) -> aws.iam.Role:
    return aws.iam.Role(
        name,
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        tags=_tags(exempt),
    )


def program(exempt: bool = False) -> None:
    # A role allowed every action (IAM-001).
    admin = lambda_role("admin-role", exempt)
    aws.iam.RolePolicy(
        "admin-policy",
        role=admin.id,
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )

    # A function that traces PassThrough (LAMBDA-001).
    aws.lambda_.Function(
        "passthrough",
        role=admin.arn,
        runtime="python3.13",
        handler="index.handler",
        code=CODE,
        architectures=["arm64"],
        memory_size=256,
        timeout=10,
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="PassThrough"),
        tags=_tags(exempt, "LAMBDA-001"),
    )

    # A queue consumer without reserved concurrency (STACK-001).
    dlq = aws.sqs.Queue("jobs-dlq", message_retention_seconds=1209600, tags=_tags(exempt))
    queue = aws.sqs.Queue(
        "jobs",
        visibility_timeout_seconds=180,
        redrive_policy=dlq.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
        ),
        tags=_tags(exempt),
    )
    consumer = aws.lambda_.Function(
        "consumer",
        role=admin.arn,
        runtime="python3.13",
        handler="index.handler",
        code=CODE,
        architectures=["arm64"],
        memory_size=256,
        timeout=30,
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
        tags=_tags(exempt, "STACK-001"),
    )
    alarms = aws.sns.Topic("alarms", kms_master_key_id="alias/aws/sns")
    aws.cloudwatch.MetricAlarm(
        "jobs-dlq-depth",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": dlq.name},
        statistic="Maximum",
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        period=60,
        evaluation_periods=1,
        alarm_actions=[alarms.arn],
    )
    aws.lambda_.EventSourceMapping(
        "consumer-mapping",
        event_source_arn=queue.arn,
        function_name=consumer.arn,
        function_response_types=["ReportBatchItemFailures"],
    )

    # An EventBridge rule whose target has no DLQ (EVENTS-001).
    rule = aws.cloudwatch.EventRule(
        "orders", event_pattern=json.dumps({"source": ["shop.orders"]}), tags=_tags(exempt)
    )
    aws.cloudwatch.EventTarget(
        "orders-target",
        rule=rule.name,
        arn=queue.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
        ),
    )
