"""The sink table: one item per row, keyed on `id`, overwritten by a replay."""

from __future__ import annotations

from typing import Any

from models import TransformedDetail

# A write that no retry can fix: the item itself is refused (too big, a bad attribute).
REFUSED = frozenset({"ValidationException"})


def item(detail: TransformedDetail) -> dict[str, Any]:
    """The item to write: the transformed row, its key taken from the event's `id`."""
    return {**detail.item, "id": detail.id}


def put(table: Any, detail: TransformedDetail) -> None:
    """Unconditional PutItem: loading the same row twice leaves the same item."""
    table.put_item(Item=item(detail))
