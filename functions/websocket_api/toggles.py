"""Feature toggles (the worked example): table items in, client messages out.

A toggle item is `featureId` (S), `name` (S), `isActive` (BOOL). Messages:
  {"type": "toggle", "featureId", "name", "isActive"}      one change, to every client
  {"type": "snapshot", "toggles": [<toggle>, ...]}          every toggle, to a new client
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_deserializer = TypeDeserializer()


class InvalidToggleError(ValueError):
    """A toggle item without the attributes the message contract needs."""


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A toggle from a table item (already deserialized)."""
    feature_id, active = item.get("featureId"), item.get("isActive")
    if not isinstance(feature_id, str) or not isinstance(active, bool):
        raise InvalidToggleError("a toggle needs featureId (S) and isActive (BOOL)")
    return {"featureId": feature_id, "name": str(item.get("name", feature_id)), "isActive": active}


def from_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A toggle from a stream image (DynamoDB JSON)."""
    return from_item({k: _deserializer.deserialize(v) for k, v in image.items()})


def change_message(new_image: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "toggle", **from_image(new_image)}


def snapshot_message(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    toggles = sorted((from_item(i) for i in items), key=lambda t: t["featureId"])
    return {"type": "snapshot", "toggles": toggles}
