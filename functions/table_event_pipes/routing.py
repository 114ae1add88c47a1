"""Which item type a stream record belongs to: the pipe filters' matching, for one record.

Supports the filter subset the component allows in discriminators and event names: nested
maps, lists of exact values, and `prefix`, `exists` and `anything-but` operators, on leaf
nodes only. With `mode="single_pipe"` the filters let through every type and this decides
each record's detail-type. A record no type claims is one the pipe's filters remove (another
item type, an event name the type does not take), so it has no event; a record several types
claim raises `AmbiguousRecordError`, so it is retried and then dead-lettered, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()


def _leaf_matches(value: Any, conditions: Sequence[Any]) -> bool:
    for condition in conditions:
        if isinstance(condition, Mapping):
            (operator, operand), *_ = condition.items()
            if operator == "exists":
                if (value is not _MISSING) == operand:
                    return True
            elif value is _MISSING:
                continue
            elif operator == "prefix":
                if isinstance(value, str) and value.startswith(operand):
                    return True
            elif operator == "anything-but":
                excluded = operand if isinstance(operand, list) else [operand]
                if value not in excluded:
                    return True
            else:
                raise ValueError(f"unsupported filter operator {operator!r}")
        elif value is not _MISSING and value == condition:
            return True
    return False


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    for key, expected in pattern.items():
        value = record.get(key, _MISSING) if isinstance(record, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not matches(expected, value if isinstance(value, Mapping) else {}):
                return False
        elif not _leaf_matches(value, expected):
            return False
    return True


class AmbiguousRecordError(ValueError):
    """Several item types' filters match one record: their discriminators overlap."""


def item_type_of(types: Mapping[str, Mapping[str, Any]], record: Mapping[str, Any]) -> str | None:
    """The one type whose filter matches `record`, None when no filter does."""
    found = [name for name, spec in types.items() if matches(spec["filter"], record)]
    if len(found) > 1:
        raise AmbiguousRecordError(
            f"stream record {record.get('eventID')} matches several item types ({', '.join(found)})"
        )
    return found[0] if found else None
