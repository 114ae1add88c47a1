"""What the subscriber reads from a stream record: the stored text and its request id.

The API writes `{<key>: {"S": text}, "requestId": {"S": id}}`; the mapping passes INSERT
records only. Anything else (another event name, no new image, a key that is missing, not
a string or empty) raises `InvalidRecordError`, which the handler reports as that record's
batch item failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ddb_json

REQUEST_ID_ATTRIBUTE = "requestId"


class InvalidRecordError(ValueError):
    """A stream record that is not an item the API stored."""


@dataclass(frozen=True)
class StoredItem:
    text: str
    request_id: str | None
    sequence_number: str


def stored_item(record: Mapping[str, Any], key_name: str) -> StoredItem:
    if not isinstance(record, Mapping):
        raise InvalidRecordError(f"record is not an object: {type(record).__name__}")
    if record.get("eventName") != "INSERT":
        raise InvalidRecordError(f"event {record.get('eventName')!r} is not an INSERT")
    change = record.get("dynamodb")
    if not isinstance(change, Mapping):
        raise InvalidRecordError("record has no dynamodb change")
    sequence_number = change.get("SequenceNumber")
    if not isinstance(sequence_number, str) or not sequence_number:
        raise InvalidRecordError("record has no sequence number")
    if not isinstance(change.get("NewImage"), Mapping):
        raise InvalidRecordError("record has no new image (the stream must carry NEW_IMAGE)")
    try:
        item = ddb_json.image(change["NewImage"])
    except ddb_json.InvalidAttributeError as error:
        raise InvalidRecordError(str(error)) from None
    text = item.get(key_name)
    if not isinstance(text, str) or not text:
        raise InvalidRecordError(f"item has no non-empty string {key_name!r}")
    request_id = item.get(REQUEST_ID_ATTRIBUTE)
    return StoredItem(
        text=text,
        request_id=request_id if isinstance(request_id, str) else None,
        sequence_number=sequence_number,
    )
