"""Stream records -> domain events: route to the item type, render its template, add lookups.

Pure logic, one record at a time so the handler can name the record that fails: `spec_of`
routes a record to its item type (None when no type takes it: the pipe's filters remove such
records, so they have no event), `lookup_key` says which related item to read, and
`domain_event` builds the event once the related items are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ddb_json
import routing
import templates

IMAGES = ("Keys", "NewImage", "OldImage")


def spec_of(
    types: Mapping[str, Mapping[str, Any]], record: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The record's item type, None when no type's filter matches it.

    The images of a record that has a type must decode: a bad number raises
    `InvalidAttributeError` naming the attribute instead of reaching an event.
    """
    name = routing.item_type_of(types, record)
    if name is None:
        return None
    change = record["dynamodb"]  # every filter constrains `dynamodb`, so it is there
    for image in IMAGES:
        ddb_json.image(change.get(image))
    return types[name]


def lookup_key(spec: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The related item's key (DynamoDB JSON) from the record's new image, if the type has one."""
    mapping = spec.get("lookupKey")
    if not mapping:
        return None
    image = record.get("dynamodb", {}).get("NewImage", {})
    if not all(source in image for source in mapping.values()):
        return None
    return {target: image[source] for target, source in mapping.items()}


def domain_event(
    spec: Mapping[str, Any],
    record: Mapping[str, Any],
    related: Mapping[str, Any],
    identity: Any,
) -> dict[str, Any]:
    """`{"detailType", "detail"}`: the type's template over the record, plus `related`."""
    detail = ddb_json.loads(templates.render(spec["inputTemplate"], record))
    key = lookup_key(spec, record)
    if key is not None:
        detail["related"] = related.get(identity(key))
    return {"detailType": spec["detailType"], "detail": detail}
