"""Result files as records: NDJSON lines, each an object with a string `id`.

A line is a plain JSON record, or an item of a DynamoDB export (`{"Item": {...}}` in
DynamoDB JSON), which is decoded with `ddb_json` (binary as base64 text, sets as sorted
lists). Numbers keep every digit from the line to the stored record: they are read as
Decimals and written back exactly, never through a float.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ddb_json


class BadRecordError(ValueError):
    """A line that is not a record; raised so the Map's failure tolerance applies."""


def _is_export_item(document: Any) -> bool:
    return isinstance(document, dict) and list(document) == ["Item"]


def parse_lines(text: str, key: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = ddb_json.loads(line)
        except ValueError as error:
            raise BadRecordError(f"{key}:{number}: not JSON") from error
        if _is_export_item(record):
            try:
                record = ddb_json.image(record["Item"])
            except ddb_json.InvalidAttributeError as error:
                raise BadRecordError(f"{key}:{number}: {error}") from error
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise BadRecordError(f"{key}:{number}: a record needs a string id")
        yield record


def item(record: dict[str, Any], key: str, run_id: str) -> dict[str, Any]:
    """The stored item: the record as JSON under its id, with where it came from."""
    return {
        "id": record["id"],
        "record": ddb_json.dumps(record),
        "sourceKey": key,
        "runId": run_id,
    }
