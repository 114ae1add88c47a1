"""The sink table: one item per row, keyed on `id`, overwritten by a replay."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer
from models import TransformedDetail

_serializer = TypeSerializer()

# A write that no retry can fix: the item itself is refused (too big, a bad attribute).
REFUSED = frozenset({"ValidationException"})


def item(detail: TransformedDetail) -> dict[str, Any]:
    """The item to write: the transformed row, its key taken from the event's `id`."""
    return {**detail.item, "id": detail.id}


def put(client: Any, table_name: str, detail: TransformedDetail) -> None:
    """Unconditional PutItem: loading the same row twice leaves the same item.

    `client` is a DynamoDB client with the item serialized as a `Table` resource would (the
    same `TypeSerializer`): one PutItem needs none of the resource's model, which costs a
    cold start more than the client itself."""
    attributes = {name: _serializer.serialize(value) for name, value in item(detail).items()}
    client.put_item(TableName=table_name, Item=attributes)
