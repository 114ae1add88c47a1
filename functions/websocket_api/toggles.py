"""Feature toggles (the worked example): table items in, client messages out.

A toggle item is `featureId` (S), `name` (S), `isActive` (BOOL); other attributes are
allowed and ignored. Messages:
  {"type": "toggle", "featureId", "name", "isActive"}      one change, to every client
  {"type": "snapshot", "toggles": [<toggle>, ...]}          every toggle, to a new client

Stream images and scanned items are both DynamoDB JSON, decoded by `ddb_json` (binary
attributes stay base64 text, numbers exact), so any attribute a table may hold decodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ddb_json


class InvalidToggleError(ValueError):
    """A toggle item without the attributes the message contract needs."""


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A toggle from a decoded item."""
    feature_id, active = item.get("featureId"), item.get("isActive")
    if not isinstance(feature_id, str) or not isinstance(active, bool):
        raise InvalidToggleError("a toggle needs featureId (S) and isActive (BOOL)")
    return {"featureId": feature_id, "name": str(item.get("name", feature_id)), "isActive": active}


def from_image(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """A toggle from a stream image or a low-level item (DynamoDB JSON)."""
    if image is None:
        raise InvalidToggleError("the record has no NewImage")
    return from_item(ddb_json.image(image))


def change_message(new_image: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"type": "toggle", **from_image(new_image)}


def snapshot_message(toggles: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """`toggles`: as `from_item` or `from_image` returned them."""
    return {"type": "snapshot", "toggles": sorted(toggles, key=lambda t: t["featureId"])}
