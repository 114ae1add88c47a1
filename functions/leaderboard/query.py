"""`GET /boards/{id}?limit=&next=&view=`: a board's top N, best first, a page at a time.

`limit` is 1 to QUERY_LIMIT_MAX (default DEFAULT_LIMIT); `next` is the token the previous
page returned; `view` is `live` (the windowed ranking, the default) or `final` (final
results). Bad parameters are a 400 that says which; the body is
`{"boardId", "view", "entries": [{"playerId", "score"}], "next": token | null}`.
"""

from __future__ import annotations

import os
from typing import Any

import board_table
import boto3
import scores
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer

TABLE_NAME = os.environ["TABLE_NAME"]
QUERY_LIMIT_MAX = int(os.environ.get("QUERY_LIMIT_MAX", "1000"))
DEFAULT_LIMIT = min(100, QUERY_LIMIT_MAX)
VIEWS = ("live", "final")

logger = Logger()
app = APIGatewayRestResolver()

dynamodb = boto3.client("dynamodb")


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= QUERY_LIMIT_MAX:
        raise BadRequestError(f"limit must be a whole number from 1 to {QUERY_LIMIT_MAX}")
    return int(text)


@app.get("/boards/<board_id>")
@tracer.capture_method
def get_board(board_id: str) -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    try:
        scores.check_id(board_id, "board id")
    except scores.MalformedRecordError as error:
        raise BadRequestError(str(error)) from None
    limit = parse_limit(params.get("limit"))
    view = params.get("view", "live")
    if view not in VIEWS:
        raise BadRequestError(f"view must be one of {', '.join(VIEWS)}")
    partition = scores.board_key(board_id) if view == "live" else scores.final_board_key(board_id)
    try:
        ranking = board_table.top(
            dynamodb, TABLE_NAME, partition, limit=limit, token=params.get("next")
        )
    except board_table.InvalidPageToken as error:
        raise BadRequestError(str(error)) from None
    return {
        "boardId": board_id,
        "view": view,
        "entries": ranking.entries,
        "next": ranking.next_token,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
