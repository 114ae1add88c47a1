"""The worked example's steps as pure logic: usage of a finished launch, and its price.

The original collects usage from AWS Batch and EC2 and prices it with the Price List API
(served from a few Regions only, so a real pricing step needs a Region override). These
deterministic fakes use the launch item's own figures and fixed unit prices, so the example
deploys without Batch and the tests need no pricing data. Results are JSON-ready strings
(no Decimal): usage exactly, prices rounded to cents.

A figure may arrive as the text of a DynamoDB number (`"<$.dynamodb.NewImage.volumeGb.N>"`
in the pipe's template) or as the typed attribute itself (`<$.dynamodb.NewImage.volumeGb>`);
both decode through `ddb_json`, so a bad number raises `InvalidAttributeError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

import ddb_json

HOURS_PER_MONTH = Decimal(730)
INSTANCE_PRICE_PER_HOUR = {
    "c6g.4xlarge": Decimal("0.544"),
    "m6g.2xlarge": Decimal("0.308"),
    "r6g.4xlarge": Decimal("0.8064"),
}
VOLUME_PRICE_PER_GB_MONTH = Decimal("0.08")  # gp3
FILESYSTEM_PRICE_PER_GB_MONTH = Decimal("0.145")  # FSx for Lustre, persistent SSD
_CENT = Decimal("0.01")
# A product of two DynamoDB numbers (38 digits each) is exact in 76 digits; Python's
# default 28 would round it.
_EXACT = Context(prec=80)


class PriceUnavailable(Exception):
    """No unit price for a resource: Retry/Catch match on this class name."""


class UsageMissing(Exception):
    """The launch record lacks a figure the example needs."""


def _number(record: Mapping[str, Any], name: str) -> Decimal:
    if name not in record:
        raise UsageMissing(f"launch record has no {name!r}")
    value = record[name]
    if isinstance(value, Mapping):
        number = ddb_json.attribute(name, value)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        number = ddb_json.attribute(name, {"N": str(value)})
    else:
        number = None
    if not isinstance(number, Decimal):
        raise ddb_json.InvalidAttributeError(name, f"not a number: {type(value).__name__}")
    return number


def usage(record: Mapping[str, Any]) -> dict[str, str]:
    """Resource usage of a finished launch (the `collect` step)."""
    with localcontext(_EXACT):
        hours = _number(record, "runtimeHours")
        return {
            "launchId": str(record.get("launchId", "")),
            "instanceType": str(record.get("instanceType", "")),
            "instanceHours": str(_number(record, "instanceCount") * hours),
            "volumeGbHours": str(_number(record, "volumeGb") * hours),
            "filesystemGbHours": str(_number(record, "filesystemGb") * hours),
        }


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def price(used: Mapping[str, str]) -> dict[str, str]:
    """The price breakdown (the `price` step): `totalCost` and its parts, as strings."""
    unit = INSTANCE_PRICE_PER_HOUR.get(used["instanceType"])
    if unit is None:
        raise PriceUnavailable(f"no unit price for instance type {used['instanceType']!r}")
    with localcontext(_EXACT):
        instance = Decimal(used["instanceHours"]) * unit
        volume = Decimal(used["volumeGbHours"]) * VOLUME_PRICE_PER_GB_MONTH / HOURS_PER_MONTH
        filesystem = (
            Decimal(used["filesystemGbHours"]) * FILESYSTEM_PRICE_PER_GB_MONTH / HOURS_PER_MONTH
        )
        return {
            "totalCost": _money(instance + volume + filesystem),
            "instanceCost": _money(instance),
            "volumeCost": _money(volume),
            "filesystemCost": _money(filesystem),
        }
