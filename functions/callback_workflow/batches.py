"""SQS batch processing where every failed record leaves one ERROR log line.

Powertools reports a failed record as a batch item failure (SQS redelivers it, then moves
it to the DLQ) but logs it only at DEBUG; this processor adds one ERROR line naming the
message id, with the exception (Powertools' `exception_name` is its type). Message bodies
are not logged: they carry task tokens.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo


class LoggedSqsBatchProcessor(BatchProcessor):
    def __init__(self, log: Logger) -> None:
        # A batch that fails whole is still a list of failures, each redelivered on its own.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.log = log

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> Any:
        self.log.exception(
            "Message failed; SQS redelivers it",
            exc_info=exception[1],
            extra={"messageId": getattr(record, "message_id", None)},
        )
        return super().failure_handler(record, exception)
