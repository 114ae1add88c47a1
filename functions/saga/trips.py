"""Trip requests: validation and the execution input, shared by `start` and the tests.

No AWS calls here. The execution input is canonical JSON (sorted keys, amount with two
decimals), so the same trip sent twice is byte-for-byte the same input and Step Functions'
name-based idempotency recognises it.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser import BaseModel, ValidationError, parse
from echo import bounded
from pydantic import ConfigDict, Field, field_validator

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MAX_PROBLEMS = 5  # validation problems a 400 lists


class InvalidTripError(ValueError):
    """The request cannot become a booking; the message says why."""


class TripRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    trip_id: Identifier = Field(alias="tripId")
    hotel_id: Identifier = Field(alias="hotelId")
    flight_id: Identifier = Field(alias="flightId")
    amount: Decimal = Field(gt=0, le=Decimal("100000"), decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    run_type: str | None = Field(default=None, pattern=r"^fail[A-Za-z0-9_]{1,64}$")

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_is_text_or_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("amount must be a decimal number")
        return value


def parse_request(
    body: str | None, is_base64_encoded: bool = False, *, allow_fault_injection: bool = False
) -> TripRequest:
    """The trip in an API Gateway request body; raises InvalidTripError with a clear message."""
    if not body or not isinstance(body, str):
        raise InvalidTripError("request body is required")
    try:
        text = base64.b64decode(body, validate=True).decode() if is_base64_encoded else body
        document = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidTripError("request body must be a JSON object") from error
    if not isinstance(document, dict):
        raise InvalidTripError("request body must be a JSON object")
    try:
        request = parse(event=document, model=TripRequest)
    except ValidationError as error:
        errors = error.errors()
        problems = "; ".join(
            f"{bounded('.'.join(str(p) for p in e['loc']) or 'body')}: {bounded(e['msg'])}"
            for e in errors[:MAX_PROBLEMS]
        )
        if len(errors) > MAX_PROBLEMS:
            problems += f"; and {len(errors) - MAX_PROBLEMS} more"
        raise InvalidTripError(problems) from error
    if request.run_type is not None and not allow_fault_injection:
        raise InvalidTripError("run_type: fault injection is disabled in this stack")
    return request


def execution_input(request: TripRequest) -> str:
    payload: dict[str, Any] = {
        "tripId": request.trip_id,
        "hotelId": request.hotel_id,
        "flightId": request.flight_id,
        "amount": f"{request.amount:.2f}",
        "currency": request.currency,
    }
    if request.run_type is not None:
        payload["run_type"] = request.run_type
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def same_input(left: str, right: str) -> bool:
    return bool(json.loads(left) == json.loads(right))
