"""The ETL's event shapes as Powertools parser models, and the row rules `transform` checks.

An event that does not fit its envelope model (not JSON, not an EventBridge event, a detail
without `fileKey` or `row`) is a broken message: the consumer reports it as a batch item
failure. A well-formed `RecordExtracted` whose row breaks the rules of `Row` (a ragged row,
a blank id) is a bad row: `transform` turns it into `RecordFailed`.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from aws_lambda_powertools.utilities.parser import BaseModel, ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field, model_validator

KEY_ATTRIBUTE = "id"  # the sink table's partition key
MAX_ID_BYTES = 1024  # DynamoDB allows 2048 for a partition key; half leaves room


class RecordDetail(BaseModel):
    fileKey: str = Field(min_length=1)
    etag: str
    row: int | None = None


class ExtractedDetail(RecordDetail):
    row: int = Field(ge=1)
    headers: list[str]
    data: list[str]


class TransformedDetail(RecordDetail):
    row: int = Field(ge=1)
    id: str = Field(min_length=1)
    item: dict[str, Any]


class EtlEvent(EventBridgeModel):
    detail: RecordDetail


class ExtractedEvent(EventBridgeModel):
    detail: ExtractedDetail


class TransformedEvent(EventBridgeModel):
    detail: TransformedDetail


class Row(BaseModel):
    """A CSV row that can become an item: as many values as headers, and an id."""

    headers: list[str]
    data: list[str]
    id_column: str

    @model_validator(mode="after")
    def _check(self) -> Row:
        if len(self.data) != len(self.headers):
            raise ValueError(f"ragged row: {len(self.data)} values for {len(self.headers)} columns")
        if len(set(self.headers)) != len(self.headers):
            raise ValueError("the header row repeats a column name")
        if KEY_ATTRIBUTE in self.headers and self.id_column != KEY_ATTRIBUTE:
            raise ValueError(
                f"the {KEY_ATTRIBUTE!r} column would be overwritten by the table key "
                f"(id_column is {self.id_column!r})"
            )
        if self.id_column in self.headers:
            value = self.values[self.id_column].strip()
            if not value:
                raise ValueError(f"the {self.id_column!r} column is blank")
            if len(value.encode()) > MAX_ID_BYTES:
                raise ValueError(f"the {self.id_column!r} value is over {MAX_ID_BYTES} bytes")
        return self

    @property
    def values(self) -> dict[str, str]:
        return dict(zip(self.headers, self.data, strict=True))


Model = TypeVar("Model", bound=BaseModel)


def from_body(body: str, model: type[Model]) -> Model:
    """Powertools' `parse` on an SQS body: JSON text, validated as it is read."""
    return cast(Model, parse(event=body, model=model))  # type: ignore[call-overload]


def first_error(error: ValidationError) -> str:
    """A short reason: the first problem pydantic found, with its location."""
    problems = error.errors()
    if not problems:
        return str(error)
    problem = problems[0]
    where = ".".join(str(part) for part in problem.get("loc", ()))
    message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


__all__ = [
    "EtlEvent",
    "ExtractedEvent",
    "Row",
    "TransformedEvent",
    "ValidationError",
    "first_error",
    "from_body",
]
