"""Reading the engine's property bags without ever raising.

The SDK hands rules its `unknown_checking_proxy`, on which `[]`, `.get()` and even `in`
raise `UnknownValueError` for a value not known during preview. `Props` unwraps the proxy
once into plain data, with every unknown leaf replaced by the `UNKNOWN` marker, so a rule
asks `props.get("tracingConfig.mode")` and gets a known value, `ABSENT` or `UNKNOWN`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

UNKNOWN_SENTINELS: Final = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


ABSENT: Final = _Marker("ABSENT")
UNKNOWN: Final = _Marker("UNKNOWN")
INVALID: Final = _Marker("INVALID")  # a JSON string that does not parse


def known(value: Any) -> bool:
    return value is not ABSENT and value is not UNKNOWN and value is not INVALID


def unwrap(value: Any) -> Any:
    """Plain dicts and lists from the SDK's proxies; unknown leaves become `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        target = _target(value)
        return {str(k): unwrap(v) for k, v in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        target = _target(value)
        return [unwrap(v) for v in target]
    return value


def _target(proxy: Any) -> Any:
    """The SDK proxies expose their raw container under the key `__target`."""
    if type(proxy).__name__ in ("_DictProxy", "_ListProxy"):
        return proxy["__target"]
    return proxy


def rewrap(value: Any) -> Any:
    """The inverse of `unwrap` for returning props to the engine: UNKNOWN back to the
    engine's unknown-string sentinel."""
    if value is UNKNOWN:
        return "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    if isinstance(value, Mapping):
        return {k: rewrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrap(v) for v in value]
    return value


def walk(data: Any, path: str) -> Any:
    """`a.b.0.c` through plain data; ABSENT when a step is missing, UNKNOWN when one is."""
    current = data
    for step in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(current, Mapping):
            if step not in current or current[step] is None:
                return ABSENT
            current = current[step]
        elif isinstance(current, list) and step.isdigit():
            index = int(step)
            if index >= len(current):
                return ABSENT
            current = current[index]
        else:
            return ABSENT
    return current


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def parse_json(value: Any) -> Any:
    """A JSON-string property (policy, redrivePolicy, definition...) as data.

    ABSENT and UNKNOWN pass through; a string that is not JSON is INVALID (never a finding
    by itself); data that is already structured is returned as it is.
    """
    if value is ABSENT or value is UNKNOWN:
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return INVALID
    if contains_unknown(value):
        return UNKNOWN
    return value


def as_list(value: Any) -> list[Any]:
    """IAM-style "one value or a list" as a list; ABSENT as empty."""
    if value is ABSENT or value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


class Props:
    """A resource's properties as plain data, read by dotted path (unwrapped on first use,
    so a stack rule pays only for the resources it reads)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            data = unwrap(self._raw) if self._raw is not None else {}
            self._data = data if isinstance(data, dict) else {}
        return self._data

    def get(self, path: str) -> Any:
        return walk(self.data, path)

    def json(self, path: str) -> Any:
        return parse_json(self.get(path))

    def tags(self) -> dict[str, Any]:
        """`tags` merged over `tagsAll` (provider default tags), known entries only."""
        merged: dict[str, Any] = {}
        for key in ("tagsAll", "tags"):
            value = self.get(key)
            if isinstance(value, Mapping):
                merged.update({k: v for k, v in value.items() if isinstance(v, str)})
        return merged

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)
