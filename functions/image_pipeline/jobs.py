"""What the state machine asks of each step, and where a rendition is written (no AWS calls).

The state carries S3 references only (bucket, key, target size), never image bytes: a
payload that is not such a reference raises `InvalidRequestError`, a typed error the
state machine does not retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_SIDE = 10_000


class InvalidRequestError(Exception):
    """The step's payload is not the object reference (and size) the step needs."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str


@dataclass(frozen=True)
class ResizeRequest:
    source: ObjectRef
    width: int
    height: int


def _text(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{name} must be a non-empty string (got {value!r:.100})")
    return value


def _side(event: dict[str, Any], name: str) -> int:
    value = event.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
        raise InvalidRequestError(f"{name} must be an integer 1-{MAX_SIDE} (got {value!r:.100})")
    return value


def object_ref(event: Any) -> ObjectRef:
    if not isinstance(event, dict):
        raise InvalidRequestError(f"the payload must be an object (got {type(event).__name__})")
    return ObjectRef(bucket=_text(event, "bucket"), key=_text(event, "key"))


def resize_request(event: Any) -> ResizeRequest:
    source = object_ref(event)
    return ResizeRequest(source=source, width=_side(event, "width"), height=_side(event, "height"))


def output_key(key: str, width: int, height: int, *, input_prefix: str, output_prefix: str) -> str:
    """`<output_prefix><w>x<h>/<key without the input prefix>`: the same source and size
    always give the same key, so a retried or re-run step overwrites its own rendition."""
    relative = key.removeprefix(input_prefix) if input_prefix else key
    return f"{output_prefix}{width}x{height}/{relative}"


def writes_into_input(
    source: ObjectRef, output_bucket: str, target_key: str, input_prefix: str
) -> bool:
    """Whether the rendition would land where uploads start the pipeline (a loop)."""
    return output_bucket == source.bucket and target_key.startswith(input_prefix)
