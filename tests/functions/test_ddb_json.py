"""functions/shared/ddb_json.py: DynamoDB JSON in, plain values and exact JSON out."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

LoadFunction = Callable[[str, str], ModuleType]

EXACT = "12345678901234567890.123456789"  # 29 digits: a float keeps 17


@pytest.fixture
def ddb_json(load_function: LoadFunction) -> ModuleType:
    return load_function("shared", "ddb_json")


def test_binary_stays_the_base64_text_the_stream_carries(ddb_json: ModuleType) -> None:
    decoded = ddb_json.image({"icon": {"B": "iVBORw0KGgo="}, "parts": {"BS": ["AQ==", "Ag=="]}})

    assert decoded == {"icon": "iVBORw0KGgo=", "parts": {"AQ==", "Ag=="}}
    assert (
        ddb_json.dumps(decoded, sort_keys=True)
        == '{"icon": "iVBORw0KGgo=", "parts": ["AQ==", "Ag=="]}'
    )


def test_bytes_from_a_low_level_item_are_written_as_base64(ddb_json: ModuleType) -> None:
    # botocore hands GetItem/Scan binaries over as bytes, not text.
    decoded = ddb_json.image({"icon": {"B": b"\x89PNG"}})

    assert decoded == {"icon": b"\x89PNG"}
    assert ddb_json.dumps(decoded) == '{"icon": "iVBORw=="}'


def test_a_number_keeps_every_digit_through_image_and_dumps(ddb_json: ModuleType) -> None:
    decoded = ddb_json.image({"n": {"N": EXACT}, "i": {"N": "-42"}, "small": {"N": "0.000001"}})

    assert decoded == {"n": Decimal(EXACT), "i": Decimal(-42), "small": Decimal("0.000001")}
    assert ddb_json.dumps(decoded) == f'{{"n": {EXACT}, "i": -42, "small": 0.000001}}'
    assert ddb_json.loads(ddb_json.dumps(decoded)) == decoded


def test_number_sets_become_sorted_lists_of_exact_numbers(ddb_json: ModuleType) -> None:
    decoded = ddb_json.image({"ns": {"NS": ["10", EXACT, "-1.5", "2"]}})

    assert decoded == {"ns": {Decimal(10), Decimal(EXACT), Decimal("-1.5"), Decimal(2)}}
    assert ddb_json.dumps(decoded) == f'{{"ns": [-1.5, 2, 10, {EXACT}]}}'


def test_nested_maps_and_lists_decode_every_type(ddb_json: ModuleType) -> None:
    item = {
        "m": {
            "M": {
                "l": {
                    "L": [
                        {"N": EXACT},
                        {"S": "x"},
                        {"NULL": True},
                        {"BOOL": False},
                        {"SS": ["b", "a"]},
                        {"M": {"b": {"B": "AQ=="}}},
                    ]
                }
            }
        }
    }

    decoded = ddb_json.image(item)

    assert decoded == {"m": {"l": [Decimal(EXACT), "x", None, False, {"a", "b"}, {"b": "AQ=="}]}}
    assert json.loads(ddb_json.dumps(decoded), parse_float=Decimal) == {
        "m": {"l": [Decimal(EXACT), "x", None, False, ["a", "b"], {"b": "AQ=="}]}
    }


def test_an_absent_or_empty_image_is_an_empty_dict(ddb_json: ModuleType) -> None:
    assert ddb_json.image(None) == {}
    assert ddb_json.image({}) == {}


@pytest.mark.parametrize(
    ("item", "attribute", "reason"),
    [
        pytest.param({"n": {"N": "12..5"}}, "n", "invalid number '12..5'", id="two-points"),
        pytest.param({"n": {"N": "abc"}}, "n", "invalid number 'abc'", id="letters"),
        pytest.param({"n": {"N": ""}}, "n", "invalid number ''", id="empty"),
        pytest.param({"n": {"N": "."}}, "n", "invalid number '.'", id="point"),
        pytest.param({"n": {"N": "NaN"}}, "n", "invalid number 'NaN'", id="nan"),
        pytest.param({"n": {"N": "-Infinity"}}, "n", "invalid number '-Infinity'", id="infinity"),
        pytest.param({"n": {"N": 5}}, "n", "invalid number '5'", id="not-text"),
        pytest.param({"ns": {"NS": ["1", "x"]}}, "ns", "invalid number 'x'", id="in-a-set"),
        pytest.param(
            {"m": {"M": {"a": {"L": [{"S": "ok"}, {"N": "1e"}]}}}},
            "m.a[1]",
            "invalid number '1e'",
            id="nested",
        ),
        pytest.param(
            {"n": {"N": "x" * 100}}, "n", "invalid number '" + "x" * 40 + "'", id="long-is-cut"
        ),
    ],
)
def test_an_invalid_number_names_its_attribute_path(
    ddb_json: ModuleType, item: dict[str, Any], attribute: str, reason: str
) -> None:
    with pytest.raises(ddb_json.InvalidAttributeError) as raised:
        ddb_json.image(item)

    assert raised.value.attribute == attribute
    assert str(raised.value) == f"attribute {attribute!r}: {reason}"
    assert isinstance(raised.value, ValueError)


def test_a_number_beyond_38_digits_names_its_attribute(ddb_json: ModuleType) -> None:
    # DynamoDB keeps 38 significant digits; more cannot have come from it.
    with pytest.raises(ddb_json.InvalidAttributeError) as raised:
        ddb_json.image({"n": {"N": "1" * 39 + ".5"}})

    assert raised.value.attribute == "n"
    assert str(raised.value).endswith("does not fit DynamoDB's 38 digits")

    with pytest.raises(ddb_json.InvalidAttributeError) as nested:
        ddb_json.image({"m": {"M": {"n": {"N": "1" * 39 + ".5"}}}})
    assert nested.value.attribute == "m.n"


@pytest.mark.parametrize(
    ("item", "attribute", "reason"),
    [
        pytest.param({"a": "text"}, "a", "not a DynamoDB JSON value: str", id="plain-text"),
        pytest.param({"a": None}, "a", "not a DynamoDB JSON value: NoneType", id="null"),
        pytest.param({"a": ["S", "x"]}, "a", "not a DynamoDB JSON value: list", id="list"),
        pytest.param({"a": {}}, "a", "not a DynamoDB JSON value: a map with keys ", id="empty-map"),
        pytest.param(
            {"a": {"S": "x", "N": "1"}},
            "a",
            "not a DynamoDB JSON value: a map with keys N, S",
            id="two-types",
        ),
        pytest.param(
            {"a": {"Q": "x"}}, "a", "TypeError: Dynamodb type Q is not supported", id="unknown-type"
        ),
        pytest.param(
            {"m": {"M": {"inner": 7}}}, "m.inner", "not a DynamoDB JSON value: int", id="nested"
        ),
    ],
)
def test_a_value_that_is_not_dynamodb_json_names_its_attribute(
    ddb_json: ModuleType, item: dict[str, Any], attribute: str, reason: str
) -> None:
    with pytest.raises(ddb_json.InvalidAttributeError) as raised:
        ddb_json.image(item)

    assert (raised.value.attribute, str(raised.value)) == (
        attribute,
        f"attribute {attribute!r}: {reason}",
    )


@pytest.mark.parametrize("image", ["text", ["a"], 7], ids=["text", "list", "number"])
def test_an_image_that_is_not_a_map_is_rejected(ddb_json: ModuleType, image: Any) -> None:
    with pytest.raises(ddb_json.InvalidAttributeError) as raised:
        ddb_json.image(image)

    assert raised.value.attribute == "<image>"
    assert str(raised.value) == f"attribute '<image>': not a map: {type(image).__name__}"


def test_dumps_passes_json_keyword_arguments_through(ddb_json: ModuleType) -> None:
    value = {"b": Decimal("1.5"), "a": [Decimal(EXACT)]}

    assert ddb_json.dumps(value, separators=(",", ":"), sort_keys=True) == (
        f'{{"a":[{EXACT}],"b":1.5}}'
    )


def test_dumps_writes_a_string_that_looks_like_its_number_mark_as_a_string(
    ddb_json: ModuleType,
) -> None:
    text = '\u0000ddb-number:1, "injected": true, "x": "'

    assert json.loads(ddb_json.dumps({"s": text})) == {"s": text}
