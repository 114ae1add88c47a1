"""Per-file counts of what each stage did with a batch of ETL events (pure, no AWS calls)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import etl_events

# detail-type -> the count it adds to (FileExtracted is the extractor's own summary).
COUNTED = {
    etl_events.EXTRACTED: "RowsExtracted",
    etl_events.TRANSFORMED: "RowsTransformed",
    etl_events.LOADED: "RowsLoaded",
    etl_events.FAILED: "RowsFailed",
    etl_events.FILE_EXTRACTED: "FilesExtracted",
}
METRICS = tuple(COUNTED.values())


@dataclass(frozen=True)
class Seen:
    file_key: str
    etag: str
    detail_type: str
    stage: str | None = None


def count(events: Iterable[Seen]) -> dict[tuple[str, str], dict[str, int]]:
    """(fileKey, etag) -> metric name -> count, every metric present (0 when none)."""
    files: dict[tuple[str, str], dict[str, int]] = {}
    for seen in events:
        counts = files.setdefault((seen.file_key, seen.etag), dict.fromkeys(METRICS, 0))
        metric = COUNTED.get(seen.detail_type)
        if metric is not None:
            counts[metric] += 1
    return files
