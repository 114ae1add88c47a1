"""Push messages to WebSocket clients through the API Gateway management API.

`send` posts to one connection, `broadcast` to many through a bounded thread pool, `probe`
asks API Gateway which connections still exist. A departed client (410 `GoneException`) is
never an error: its connection is removed from the registry, its session starts its resume
window, and the call reports it. Other failures of one post are counted, not raised, in a
broadcast (re-running the whole broadcast would reach the others twice); `send` raises them
so its caller's retry policy applies.

The management client is thread-safe and sized to the pool; the registry (DynamoDB
resources, which are not) is used only from the calling thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import boto3
import ddb_json
import ws_registry
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import ClientError

DEFAULT_MAX_WORKERS = 16
GONE_ERROR = "GoneException"
Outcome = Literal["sent", "gone", "failed"]

logger = Logger(child=True)


def encode(payload: Any) -> bytes:
    """JSON, with numbers read from DynamoDB written exactly (ddb_json), sets as lists."""
    if isinstance(payload, bytes):
        return payload
    return ddb_json.dumps(payload, separators=(",", ":")).encode()


def is_gone(error: ClientError) -> bool:
    response = error.response
    return (
        response.get("Error", {}).get("Code") == GONE_ERROR
        or response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410
    )


@dataclass(frozen=True)
class BroadcastResult:
    sent: int
    gone: int
    failed: int


def management_client(endpoint_url: str, max_workers: int = DEFAULT_MAX_WORKERS) -> Any:
    """A client for the stage's callback URL, with a connection pool for every worker."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        config=Config(
            max_pool_connections=max_workers,
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


class Sender:
    def __init__(
        self,
        client: Any,
        registry: ws_registry.Registry,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1 (got {max_workers})")
        self.client = client
        self.registry = registry
        self.max_workers = max_workers

    def post(self, connection_id: str, data: bytes) -> bool:
        """True if delivered, False if the client has gone; other errors raise."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        return True

    def send(self, connection_id: str, payload: Any) -> bool:
        """Post `payload` (JSON-encoded unless bytes); False, and the connection forgotten,
        if the client has gone."""
        if self.post(connection_id, encode(payload)):
            return True
        logger.info("Client gone; connection removed", extra={"connectionId": connection_id})
        self.registry.disconnect(connection_id)
        return False

    def broadcast(
        self,
        payload: Any,
        pages: Iterable[list[ws_registry.Connection]] | None = None,
    ) -> BroadcastResult:
        """Post to every connection in `pages` (default: every live connection), each once."""
        data = encode(payload)
        return self._fan_out(lambda c: self._outcome(lambda: self.post(c, data), c), pages)

    def probe(self, pages: Iterable[list[ws_registry.Connection]] | None = None) -> BroadcastResult:
        """Ask API Gateway about each connection (no message reaches the client); forget
        the ones that have gone."""

        def exists(connection_id: str) -> bool:
            try:
                self.client.get_connection(ConnectionId=connection_id)
            except ClientError as error:
                if is_gone(error):
                    return False
                raise
            return True

        return self._fan_out(lambda c: self._outcome(lambda: exists(c), c), pages)

    def _outcome(self, call: Callable[[], bool], connection_id: str) -> Outcome:
        try:
            return "sent" if call() else "gone"
        except Exception:
            logger.exception("Post failed", extra={"connectionId": connection_id})
            return "failed"

    def _fan_out(
        self,
        attempt: Callable[[str], Outcome],
        pages: Iterable[list[ws_registry.Connection]] | None,
    ) -> BroadcastResult:
        pages = self.registry.live_pages() if pages is None else pages
        counts = {"sent": 0, "gone": 0, "failed": 0}
        seen: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for page in pages:
                fresh = []
                for connection in page:
                    if connection.connection_id not in seen:
                        seen.add(connection.connection_id)
                        fresh.append(connection)
                outcomes = list(pool.map(attempt, [c.connection_id for c in fresh]))
                departed = [c for c, o in zip(fresh, outcomes, strict=True) if o == "gone"]
                self.registry.forget(departed)
                for outcome in outcomes:
                    counts[outcome] += 1
        return BroadcastResult(**counts)


def registry_from_environment() -> ws_registry.Registry:
    dynamodb = boto3.resource("dynamodb")
    return ws_registry.Registry(
        dynamodb.Table(os.environ["CONNECTIONS_TABLE"]),
        dynamodb.Table(os.environ["SESSIONS_TABLE"]),
        resume_window_s=int(os.environ.get("RESUME_WINDOW_S", ws_registry.DEFAULT_RESUME_WINDOW_S)),
    )


def sender_from_environment(registry: ws_registry.Registry | None = None) -> Sender:
    """The sender a component configured: `CALLBACK_URL` (https://…/stage), the tables."""
    workers = int(os.environ.get("SEND_MAX_WORKERS", DEFAULT_MAX_WORKERS))
    return Sender(
        management_client(os.environ["CALLBACK_URL"], workers),
        registry or registry_from_environment(),
        max_workers=workers,
    )
