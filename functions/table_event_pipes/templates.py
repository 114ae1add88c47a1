"""EventBridge Pipes input templates, rendered the way Pipes renders them.

A placeholder inside a JSON string takes the value's text (escaped); one outside a string
takes the value as JSON, so objects and arrays go unquoted. The same rules as the
component library's `streams.render_input_template` (a test keeps the two in step); this
copy lives here because Lambda source imports nothing from the component library.
A path the record lacks raises `MissingPathError`, naming the record and the path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"<(\$(?:\.[A-Za-z0-9_\-/]+|\[\d+\])*|aws\.pipes\.[a-z.\-]+)>")


class MissingPathError(LookupError):
    """The record lacks an attribute the template reads (e.g. an optional attribute that
    this item was written without): the batch fails, so the pipe retries, then dead-letters."""

    def __init__(self, event_id: str | None, path: str) -> None:
        super().__init__(f"stream record {event_id}: input template path {path} is not in it")
        self.event_id = event_id
        self.path = path


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for key, index in re.findall(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]", path[1:]):
        try:
            value = value[key] if key else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise MissingPathError(record.get("eventID"), path) from None
    return value


def _inside_string(template: str, position: int) -> bool:
    inside, escaped = False, False
    for char in template[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def render(
    template: str, record: Mapping[str, Any], reserved: Mapping[str, str] | None = None
) -> str:
    variables: dict[str, Any] = {"aws.pipes.event": json.dumps(record), **(reserved or {})}
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name.startswith("$"):
            value: Any = _lookup(record, name)
        elif name == "aws.pipes.event.json":
            value = dict(record)
        elif name in variables:
            value = variables[name]
        else:
            raise KeyError(f"unknown reserved variable <{name}>")
        parts.append(template[last : match.start()])
        if _inside_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            parts.append(json.dumps(text)[1:-1])
        else:
            parts.append(json.dumps(value))
        last = match.end()
    parts.append(template[last:])
    return "".join(parts)
