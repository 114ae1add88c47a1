"""The ETL's events and the PutEvents limits they are sent under (pure, no AWS calls).

Every event carries `fileKey` and `etag` (which upload it came from) and, for a row, its
1-based `row` number among the file's data records (the header and blank lines are not
counted). Detail-types:

- `RecordExtracted`   {fileKey, etag, row, headers, data}: one per CSV row, by `extract`.
- `RecordTransformed` {fileKey, etag, row, id, item}: a valid row, by `transform`.
- `RecordLoaded`      {fileKey, etag, row, id}: the item is in the sink table, by `load`.
- `RecordFailed`      {fileKey, etag, row, stage, reason[, data]}: a row (or, with
  `row: null`, a whole file) that did not make it, and why.
- `FileExtracted`     {fileKey, etag, rows, failed, complete}: the end of one file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

EXTRACTED = "RecordExtracted"
TRANSFORMED = "RecordTransformed"
LOADED = "RecordLoaded"
FAILED = "RecordFailed"
FILE_EXTRACTED = "FileExtracted"
DETAIL_TYPES = (EXTRACTED, TRANSFORMED, LOADED, FAILED, FILE_EXTRACTED)

MAX_ENTRIES_PER_CALL = 10  # PutEvents accepts at most 10 entries...
MAX_CALL_BYTES = 256 * 1024  # ...whose sizes add up to at most 256 KB
TIME_BYTES = 14  # an entry's Time field counts as 14 bytes when present

Entry = dict[str, Any]


def entry(bus_name: str, source: str, detail_type: str, detail: Mapping[str, Any]) -> Entry:
    return {
        "EventBusName": bus_name,
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":")),
    }


def entry_size(item: Entry) -> int:
    """An entry's size as EventBridge counts it ("Calculating PutEvents event entry size")."""
    size = TIME_BYTES if item.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        value = item.get(name)
        if value:
            size += len(str(value).encode())
    for resource in item.get("Resources") or ():
        size += len(str(resource).encode())
    return size


def fits(item: Entry) -> bool:
    """Whether the entry can be sent at all (alone in a call)."""
    return entry_size(item) <= MAX_CALL_BYTES


def batches(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    """Greedy batches of at most 10 entries and 256 KB, in order. An entry that does not fit
    even alone raises ValueError: callers turn such rows into RecordFailed first."""
    batch: list[Entry] = []
    size = 0
    for item in entries:
        item_size = entry_size(item)
        if item_size > MAX_CALL_BYTES:
            raise ValueError(f"an entry of {item_size} bytes exceeds PutEvents' {MAX_CALL_BYTES}")
        if batch and (len(batch) == MAX_ENTRIES_PER_CALL or size + item_size > MAX_CALL_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def failed_detail(
    file_key: str,
    etag: str,
    row: int | None,
    *,
    stage: str,
    reason: str,
    data: Any = None,
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "fileKey": file_key,
        "etag": etag,
        "row": row,
        "stage": stage,
        "reason": reason,
    }
    if data is not None:
        detail["data"] = data
    return detail
