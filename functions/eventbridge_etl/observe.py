"""Observes every ETL event and emits, per file, CloudWatch EMF counts of the rows extracted,
transformed, loaded and failed (one metric blob per file in each batch, the file's key and
etag as properties, so the metrics stay low-cardinality and Logs Insights can still group
by file).

A message that is not an ETL event is a batch item failure (retried, then dead-lettered).
Events arrive in no particular order: the counts add up over time, not per batch.
"""

from __future__ import annotations

from typing import Any

import tally
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer
from models import EtlEvent, from_body

logger = Logger()


def emit(files: dict[tuple[str, str], dict[str, int]]) -> None:
    for (file_key, etag), counts in sorted(files.items()):
        blob = EphemeralMetrics()
        for name, value in counts.items():
            blob.add_metric(name=name, unit=MetricUnit.Count, value=value)
        blob.add_metadata(key="fileKey", value=file_key)
        blob.add_metadata(key="etag", value=etag)
        blob.flush_metrics()
        logger.info("ETL progress", extra={"fileKey": file_key, "etag": etag, **counts})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    seen: list[tally.Seen] = []
    failures: list[dict[str, str]] = []
    for record in event.get("Records") or []:
        message_id = str(record.get("messageId", ""))
        try:
            parsed = from_body(record["body"], EtlEvent)
        except Exception as error:
            logger.error(
                "Not an ETL event; SQS will redeliver it",
                extra={"messageId": message_id, "error": f"{type(error).__name__}: {error}"},
            )
            failures.append({"itemIdentifier": message_id})
            continue
        seen.append(tally.Seen(parsed.detail.fileKey, parsed.detail.etag, parsed.detail_type))
    emit(tally.count(seen))
    return {"batchItemFailures": failures}
