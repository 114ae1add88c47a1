"""The trigger: one `process` message per stream batch of new tasks, not one per record.

The stream mapping passes only INSERT records (status updates and TTL deletions are
filtered out before the function runs). Surplus messages are harmless: a processor that
finds nothing PENDING ends at once. A record that is not a new task is a batch item
failure (one ERROR line), so the mapping retries it and then parks it in its failure queue.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TOPIC_ARN = os.environ["TOPIC_ARN"]

logger = Logger()
metrics = Metrics()

sns = boto3.client("sns")


def new_task_id(record: Any) -> str | None:
    """The task id of an INSERT record of a task, else None."""
    if not isinstance(record, dict) or record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    task_id = (image.get("taskId") or {}).get("S")
    status = (image.get("taskStatus") or {}).get("S")
    return task_id if isinstance(task_id, str) and task_id and status == "PENDING" else None


def _sequence_number(record: Any) -> str:
    dynamodb = record.get("dynamodb") if isinstance(record, dict) else None
    return str((dynamodb or {}).get("SequenceNumber", ""))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    new_tasks: list[str] = []
    for record in event.get("Records") or []:
        task_id = new_task_id(record)
        if task_id is None:
            logger.error(
                "Stream record is not a new task; reported as a batch item failure",
                extra={"sequenceNumber": _sequence_number(record)},
            )
            failures.append({"itemIdentifier": _sequence_number(record)})
        else:
            new_tasks.append(task_id)
    if new_tasks:
        sns.publish(
            TopicArn=TOPIC_ARN, Message=json.dumps({"reason": "new", "tasks": len(new_tasks)})
        )
        metrics.add_metric(name="ProcessTriggered", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TasksCreated", unit=MetricUnit.Count, value=len(new_tasks))
    return {"batchItemFailures": failures}
