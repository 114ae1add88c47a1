"""Result files as records: NDJSON lines, each an object with a string `id`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class BadRecordError(ValueError):
    """A line that is not a record; raised so the Map's failure tolerance applies."""


def parse_lines(text: str, key: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise BadRecordError(f"{key}:{number}: not JSON") from error
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise BadRecordError(f"{key}:{number}: a record needs a string id")
        yield record


def item(record: dict[str, Any], key: str, run_id: str) -> dict[str, Any]:
    """The stored item: the record as JSON under its id, with where it came from."""
    return {"id": record["id"], "record": json.dumps(record), "sourceKey": key, "runId": run_id}
