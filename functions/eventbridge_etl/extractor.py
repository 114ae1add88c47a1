"""CSV rows -> `RecordExtracted` entries, and every way a file can fail (no AWS calls).

`objects(body)` reads an S3 event notification as SQS delivers it; `rows(reader, ...)`
walks a CSV reader and yields, in order, one entry per row plus a `RecordFailed` for each
row or file problem, and finally `FileExtracted`. A file problem (no header row, a bad
header, bad UTF-8, a malformed CSV record, rows past `max_rows`) stops the file at that
point with one `RecordFailed` naming the first row not extracted: rows before it are sent,
nothing after it is silently lost.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import etl_events

STAGE = "extract"
EXTRA = "\x00extra"  # DictReader's restkey: values beyond the header (a ragged row)
TEST_EVENT = "s3:TestEvent"


class NotificationError(ValueError):
    """The SQS message is not an S3 event notification this function can act on."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    size: int | None
    version_id: str | None = None


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_rows: int
    prefix: str = ""
    suffix: str = ".csv"


def objects(body: str) -> list[S3Object]:
    """The created objects an S3 notification names; [] for S3's `s3:TestEvent` (sent once
    when the notification is configured: it names no object). Anything else that is not an
    `ObjectCreated` notification raises NotificationError."""
    try:
        message = json.loads(body)
    except ValueError as error:
        raise NotificationError(f"the message body is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise NotificationError("the message body is not a JSON object")
    if message.get("Event") == TEST_EVENT:
        return []
    records = message.get("Records")
    if not isinstance(records, list) or not records:
        raise NotificationError("the message has no S3 `Records`")
    found = []
    for index, record in enumerate(records):
        try:
            if record["eventSource"] != "aws:s3" or not str(record["eventName"]).startswith(
                "ObjectCreated:"
            ):
                raise NotificationError(
                    f"Records[{index}] is {record['eventSource']} {record['eventName']}, "
                    "not an S3 ObjectCreated event"
                )
            s3 = record["s3"]
            size = s3["object"].get("size")
            found.append(
                S3Object(
                    bucket=str(s3["bucket"]["name"]),
                    # Keys arrive URL-encoded, spaces as '+'.
                    key=unquote_plus(str(s3["object"]["key"])),
                    etag=str(s3["object"].get("eTag") or s3["object"].get("sequencer") or ""),
                    size=int(size) if size is not None else None,
                    version_id=s3["object"].get("versionId") or None,
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, NotificationError):
                raise
            raise NotificationError(f"Records[{index}] lacks or mangles {error}") from None
    return found


def refusal(obj: S3Object, limits: Limits) -> str | None:
    """Why the object is not extracted at all, before reading it (None: it is)."""
    if not obj.key.lower().endswith(limits.suffix):
        return f"not a {limits.suffix} object"
    if not obj.key.startswith(limits.prefix):
        return f"not under the landing prefix {limits.prefix!r}"
    if obj.size is not None and obj.size > limits.max_file_bytes:
        return (
            f"the file is {obj.size} bytes, over max_file_mb "
            f"({limits.max_file_bytes // (1024 * 1024)} MB)"
        )
    return None


def header_problem(headers: list[str] | None) -> str | None:
    if not headers:
        return "empty file: no header row"
    if any(not h.strip() for h in headers):
        return f"the header row has a blank column name: {headers!r}"
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        return f"the header row repeats {', '.join(duplicates)}"
    return None


def raw_values(record: dict[str | None, Any], headers: list[str]) -> list[str]:
    """The row as it was written: a short row has no value for the last columns (DictReader
    fills None), a long one keeps its extra values (under EXTRA)."""
    values = [record[h] for h in headers if record.get(h) is not None]
    return values + list(record.get(EXTRA) or [])


@dataclass
class FileTally:
    rows: int = 0
    failed: int = 0
    complete: bool = True


class RowEntries:
    """Walks one file's CSV reader, yielding entries; `tally` says how it went."""

    def __init__(self, obj: S3Object, bus_name: str, source: str, limits: Limits) -> None:
        self.obj = obj
        self.bus_name = bus_name
        self.source = source
        self.limits = limits
        self.tally = FileTally()

    def _entry(self, detail_type: str, detail: dict[str, Any]) -> etl_events.Entry:
        return etl_events.entry(self.bus_name, self.source, detail_type, detail)

    def failed(self, row: int | None, reason: str, data: Any = None) -> etl_events.Entry:
        self.tally.failed += 1
        if row is None:
            self.tally.complete = False
        return self._entry(
            etl_events.FAILED,
            etl_events.failed_detail(
                self.obj.key, self.obj.etag, row, stage=STAGE, reason=reason, data=data
            ),
        )

    def stop(self, row: int, reason: str) -> etl_events.Entry:
        """The file stops at `row`: it and every row after it are not extracted."""
        self.tally.complete = False
        self.tally.failed += 1
        return self._entry(
            etl_events.FAILED,
            etl_events.failed_detail(
                self.obj.key,
                self.obj.etag,
                None,
                stage=STAGE,
                reason=f"row {row} and any after it were not extracted: {reason}",
            ),
        )

    def summary(self) -> etl_events.Entry:
        return self._entry(
            etl_events.FILE_EXTRACTED,
            {
                "fileKey": self.obj.key,
                "etag": self.obj.etag,
                "rows": self.tally.rows,
                "failed": self.tally.failed,
                "complete": self.tally.complete,
            },
        )

    def walk(self, reader: csv.DictReader[str]) -> Iterator[etl_events.Entry]:
        """Entries for the file, ending with `FileExtracted`."""
        row = 0
        try:
            headers = list(reader.fieldnames or [])
            problem = header_problem(headers)
            if problem is not None:
                yield self.failed(None, problem)
                yield self.summary()
                return
            for record in reader:
                row += 1
                if row > self.limits.max_rows:
                    limit = self.limits.max_rows
                    yield self.stop(row, f"the file has more than max_rows ({limit})")
                    break
                item = self._entry(
                    etl_events.EXTRACTED,
                    {
                        "fileKey": self.obj.key,
                        "etag": self.obj.etag,
                        "row": row,
                        "headers": headers,
                        "data": raw_values(record, headers),
                    },
                )
                if not etl_events.fits(item):
                    yield self.failed(row, "the row is over EventBridge's 256 KB event size")
                    continue
                self.tally.rows += 1
                yield item
        except UnicodeDecodeError as error:
            yield self.stop(row + 1, f"the file is not valid UTF-8 ({error.reason})")
        except csv.Error as error:
            yield self.stop(row + 1, f"malformed CSV ({error})")
        yield self.summary()
