"""`RecordExtracted` -> `RecordTransformed` or `RecordFailed` (pure, no AWS calls).

The row's headers and values are zipped into an item; its `id` is the row's `id_column`
value when the file has that column, else `<etag>#<row>`, so the same upload always gives
the same ids and a replay overwrites instead of duplicating. The item also records where it
came from (`etlSource`: file, etag, row).
"""

from __future__ import annotations

from typing import Any

import etl_events
from models import ExtractedDetail, Row, ValidationError, first_error

STAGE = "transform"
SOURCE_ATTRIBUTE = "etlSource"


def row_id(detail: ExtractedDetail, row: Row) -> str:
    if row.id_column in row.headers:
        return row.values[row.id_column].strip()
    return f"{detail.etag}#{detail.row}"


def transform(detail: ExtractedDetail, *, id_column: str) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) of the event the row becomes."""
    try:
        row = Row(headers=detail.headers, data=detail.data, id_column=id_column)
    except ValidationError as error:
        return etl_events.FAILED, etl_events.failed_detail(
            detail.fileKey,
            detail.etag,
            detail.row,
            stage=STAGE,
            reason=first_error(error),
            data={"headers": detail.headers, "data": detail.data},
        )
    identifier = row_id(detail, row)
    item: dict[str, Any] = {name: value for name, value in row.values.items()}
    item["id"] = identifier
    item[SOURCE_ATTRIBUTE] = {"file": detail.fileKey, "etag": detail.etag, "row": detail.row}
    return etl_events.TRANSFORMED, {
        "fileKey": detail.fileKey,
        "etag": detail.etag,
        "row": detail.row,
        "id": identifier,
        "item": item,
    }
