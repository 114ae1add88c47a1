"""Data access for deliveries: one conditional write per delivery id."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

_DUPLICATE = "ConditionalCheckFailedException"


def put_once(table: Any, item: dict[str, Any]) -> bool:
    """Write `item` unless its id exists; True if written, False if it was a duplicate.

    Every other error propagates: the caller must see it so SQS redelivers the record.
    """
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == _DUPLICATE:
            return False
        raise
    return True
