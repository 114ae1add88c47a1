"""Stream records -> domain events: route to the item type, render its template, add lookups.

Pure logic: `plan_lookups` says which related items to read, `domain_events` builds the
output once they are read. One event per record, in order, so the pipe can match them up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import routing
import templates


def lookup_key(spec: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The related item's key (DynamoDB JSON) from the record's new image, if the type has one."""
    mapping = spec.get("lookupKey")
    if not mapping:
        return None
    image = record.get("dynamodb", {}).get("NewImage", {})
    if not all(source in image for source in mapping.values()):
        return None
    return {target: image[source] for target, source in mapping.items()}


def plan_lookups(
    types: Mapping[str, Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    keys = []
    for record in records:
        key = lookup_key(types[routing.item_type_of(types, record)], record)
        if key is not None:
            keys.append(key)
    return keys


def domain_events(
    types: Mapping[str, Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    related: Mapping[str, Mapping[str, Any]],
    identity: Any,
) -> list[dict[str, Any]]:
    events = []
    for record in records:
        spec = types[routing.item_type_of(types, record)]
        detail = json.loads(templates.render(spec["inputTemplate"], record))
        key = lookup_key(spec, record)
        if key is not None:
            detail["related"] = related.get(identity(key))
        events.append({"detailType": spec["detailType"], "detail": detail})
    return events
