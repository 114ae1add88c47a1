"""Which item type a stream record belongs to: the pipe filters' matching, for one record.

Supports the filter subset the component allows in discriminators and event names: nested
maps, lists of exact values, and `prefix`, `exists` and `anything-but` operators, on leaf
nodes only. With `mode="single_pipe"` the filters let through every type and this decides
each record's detail-type; a record no type claims raises, so it is retried and then
dead-lettered instead of dropped.
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


def item_type_of(types: Mapping[str, Mapping[str, Any]], record: Mapping[str, Any]) -> str:
    """The one type whose filter matches `record`; ValueError for none or several."""
    found = [name for name, spec in types.items() if matches(spec["filter"], record)]
    if len(found) != 1:
        claim = "no item type" if not found else f"several item types ({', '.join(found)})"
        raise ValueError(f"stream record {record.get('eventID')} matches {claim}")
    return found[0]
