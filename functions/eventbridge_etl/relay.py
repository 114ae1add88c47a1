"""One SQS batch of bus events in, the events they lead to out, failures reported per message.

`transform` and `load` turn each message (an EventBridge event delivered by a rule's queue
target) into zero or more new entries; `relay` sends the whole batch's entries together (a
batch of 10 messages is usually one PutEvents call) and reports as batch item failures the
messages that could not be handled or whose entries did not reach the bus, so SQS retries
exactly those and finally dead-letters them. Never a silently dropped message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import etl_events
import publisher


@dataclass
class RelayReport:
    failed_ids: list[str] = field(default_factory=list)
    handled: int = 0
    put: publisher.PutReport = field(default_factory=publisher.PutReport)

    def response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failed_ids]}


def relay(
    records: Sequence[Mapping[str, Any]],
    handle: Callable[[str], list[etl_events.Entry]],
    *,
    client: Any,
    attempts: int,
    on_error: Callable[[str, Exception], None],
) -> RelayReport:
    """`handle(body)` -> entries for one message, raising when the message cannot be handled."""
    report = RelayReport()
    failed: set[str] = set()
    outbox: list[etl_events.Entry] = []
    owners: list[str] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        try:
            entries = handle(record["body"])
        except Exception as error:  # the message's fault or a dependency's: SQS retries it
            on_error(message_id, error)
            failed.add(message_id)
            continue
        report.handled += 1
        outbox.extend(entries)
        owners.extend([message_id] * len(entries))
    if outbox:
        report.put = publisher.put_all(client, outbox, attempts=attempts)
        for unsent in report.put.unsent:
            on_error(
                owners[unsent.index],
                RuntimeError(f"PutEvents failed: {unsent.error_code} {unsent.error_message}"),
            )
            failed.add(owners[unsent.index])
    # In batch order, each once.
    report.failed_ids = [
        str(r.get("messageId", "")) for r in records if str(r.get("messageId", "")) in failed
    ]
    return report
