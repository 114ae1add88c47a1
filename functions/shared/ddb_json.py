"""DynamoDB JSON in, plain values and exact JSON out: one decoder for every stream image.

`image` decodes a stream record's `NewImage`/`OldImage` (or a `GetItem`/`BatchGetItem`
item) the way Powertools' DynamoDB stream data classes do: its `TypeDeserializer`, so
`B`/`BS` stay the base64 text the stream carries (boto3's deserializer fails on them)
and `N` becomes a `Decimal` with DynamoDB's 38-digit precision, never a float. A value
that is not valid DynamoDB JSON raises `InvalidAttributeError` naming the attribute.

`dumps` writes JSON with numbers exactly as DynamoDB holds them
(`12345678901234567890.123456789` stays that text), sets as sorted lists, bytes as base64.
"""

from __future__ import annotations

import base64
import decimal
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

_deserializer = TypeDeserializer()


class InvalidAttributeError(ValueError):
    """An attribute whose DynamoDB JSON cannot be decoded (a bad number, an unknown type)."""

    def __init__(self, attribute: str, reason: str) -> None:
        super().__init__(f"attribute {attribute!r}: {reason}")
        self.attribute = attribute


def _check_numbers(value: Any, path: str) -> None:
    """Numbers are checked here, where the attribute's path is known: Powertools turns "" and
    "." into 0 and accepts NaN and Infinity, none of which DynamoDB ever sends."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise InvalidAttributeError(path, f"not a DynamoDB JSON value: {_shape(value)}")
    (kind, inner), *_ = value.items()
    if kind == "N":
        if not isinstance(inner, str) or inner.strip() in ("", "."):
            raise InvalidAttributeError(path, f"invalid number {str(inner)[:40]!r}")
        try:
            number = Decimal(inner)
        except decimal.InvalidOperation:
            raise InvalidAttributeError(path, f"invalid number {inner[:40]!r}") from None
        if not number.is_finite():
            raise InvalidAttributeError(path, f"invalid number {inner[:40]!r}")
        try:
            _deserializer.deserialize({"N": inner})
        except decimal.DecimalException:
            raise InvalidAttributeError(
                path, f"number {inner[:40]!r} does not fit DynamoDB's 38 digits"
            ) from None
    if kind == "NS" and isinstance(inner, list):
        for number in inner:
            _check_numbers({"N": number}, path)
    elif kind == "L" and isinstance(inner, list):
        for index, item in enumerate(inner):
            _check_numbers(item, f"{path}[{index}]")
    elif kind == "M" and isinstance(inner, Mapping):
        for name, item in inner.items():
            _check_numbers(item, f"{path}.{name}")


def _shape(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a map with keys " + ", ".join(sorted(map(str, value))[:5])
    return type(value).__name__


def attribute(name: str, value: Any) -> Any:
    """One attribute's DynamoDB JSON -> its Python value."""
    _check_numbers(value, name)
    try:
        return _deserializer.deserialize(value)
    except (decimal.DecimalException, TypeError, ValueError, AttributeError) as error:
        raise InvalidAttributeError(name, f"{type(error).__name__}: {error}"[:200]) from None


def image(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """A whole image or item (absent -> {})."""
    if item is None:
        return {}
    if not isinstance(item, Mapping):
        raise InvalidAttributeError("<image>", f"not a map: {_shape(item)}")
    return {name: attribute(name, value) for name, value in item.items()}


class _Exact(float):
    """A DynamoDB number that is not a small integer: a float for the json module, written
    out as its exact decimal text (see `_floatstr`)."""

    text: str

    def __new__(cls, value: Decimal) -> _Exact:
        exact = super().__new__(cls, float(value))
        exact.text = format(value, "f" if abs(value.adjusted()) < 40 else "e")
        return exact


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and value.adjusted() < 38:
            return int(value)
        return _Exact(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=_sort_key)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, _Exact):
        return (0, Decimal(value.text))
    if isinstance(value, int | float):
        return (0, Decimal(value))
    return (1, str(value))


def plain(value: Any) -> Any:
    """Decoded values -> JSON-ready values (sets as sorted lists, bytes as base64)."""
    return _plain(value)


def _floatstr(value: float, allow_nan: bool = False) -> str:
    if isinstance(value, _Exact):
        return value.text
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"JSON has no {value!r}")
    return float.__repr__(value)


def dumps(value: Any, **kwargs: Any) -> str:
    """JSON text with DynamoDB numbers written exactly (no float rounding). Takes
    `json.dumps`'s formatting arguments (indent, separators, sort_keys...)."""
    encoder = json.JSONEncoder(**kwargs)
    encode_string = (
        json.encoder.encode_basestring_ascii
        if encoder.ensure_ascii
        else json.encoder.encode_basestring
    )
    chunks = json.encoder._make_iterencode(  # type: ignore[attr-defined]
        {} if encoder.check_circular else None,
        encoder.default,
        encode_string,
        encoder.indent,
        _floatstr,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        False,
    )
    return "".join(chunks(_plain(value), 0))


def loads(text: str | bytes) -> Any:
    """JSON text -> values, numbers that are not integers as exact Decimals."""
    return json.loads(text, parse_float=Decimal)
