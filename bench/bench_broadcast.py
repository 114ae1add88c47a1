"""WebSocket broadcast to 1,000 connections: the shared sender beside a one-at-a-time loop.

Both run in this process against moto's server on loopback (the DynamoDB registry and the
management API over real HTTP). On bare loopback a post costs only CPU, and client and
server share one interpreter lock, so threads cannot overlap anything: that row shows the
pool's overhead. A post to API Gateway from Lambda is a network round trip, so the second
pair of rows adds `SERVICE_LATENCY_S` to each management call (the server sleeps, as a
remote service would) and shows what the bounded pool buys. Every run is checked: each
connection received the message exactly once.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from bench.timing import ROOT, RUNS

CONNECTIONS = 1000
REGION = "eu-west-1"
ACCOUNT = "123456789012"
PAYLOAD = {"type": "toggle", "featureId": "dark-mode", "isActive": True}
TARGET_RATIO = 5.0
SERVICE_LATENCY_S = 0.025  # the order of a management-API round trip from a function


class _Server(ThreadedMotoServer):
    """moto's threaded server; management API calls take `latency_s` like a remote call."""

    latency_s = 0.0

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def latent(environ: dict[str, Any], start_response: Any) -> Any:
            if self.latency_s and "/@connections/" in environ.get("PATH_INFO", ""):
                time.sleep(self.latency_s)
            return app(environ, start_response)

        self._server = make_server(
            self._ip_address, self._port, latent, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def _runtime_modules() -> tuple[Any, Any]:
    """The Lambda runtime modules, imported the way a zip root makes them importable."""
    shared = str(Path(ROOT) / "functions" / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    import ws_registry
    import ws_sender

    return ws_registry, ws_sender


def _tables(endpoint: str) -> tuple[Any, Any]:
    dynamodb = boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint)
    connections = dynamodb.create_table(
        TableName="bench-connections",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "userId", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byUser",
                "KeySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    sessions = dynamodb.create_table(
        TableName="bench-sessions",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
    )
    now = int(time.time())
    with connections.batch_writer() as batch:
        for i in range(CONNECTIONS):
            batch.put_item(
                Item={
                    "connectionId": f"bench-{i:04d}",
                    "userId": f"user-{i % 250}",
                    "connectedAt": now,
                    "expiresAt": now + 3600,
                }
            )
    return connections, sessions


def _check_each_reached_once(expected: bytes) -> None:
    received = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections
    data = {cid: c.data for cid, c in received.items()}
    wrong = [cid for cid, value in data.items() if value != expected]
    if len(data) != CONNECTIONS or wrong:
        raise AssertionError(
            f"{len(data)} connections reached, {len(wrong)} not exactly once (e.g. {wrong[:3]})"
        )
    received.clear()


def _timed(run: Callable[[], int], expected: bytes) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        sent = run()
        samples.append(time.perf_counter() - start)
        if sent != CONNECTIONS:
            raise AssertionError(f"sent {sent} of {CONNECTIONS}")
        _check_each_reached_once(expected)
    return statistics.median(samples)


def run() -> list[str]:
    ws_registry, ws_sender = _runtime_modules()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ.setdefault(name, value)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = _Server(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        connections, sessions = _tables(endpoint)
        registry = ws_registry.Registry(connections, sessions)
        # In AWS the client's endpoint is the callback URL (https://…/<stage>); moto's server
        # routes management calls only without the stage prefix.
        sender = ws_sender.Sender(ws_sender.management_client(endpoint), registry)
        expected = ws_sender.encode(PAYLOAD)

        def one_at_a_time() -> int:
            sent = 0
            for page in registry.live_pages():
                for connection in page:
                    sent += sender.post(connection.connection_id, expected)
            return sent

        def shared_sender() -> int:
            result = sender.broadcast(PAYLOAD)
            return int(result.sent)

        rows = []
        for latency in (0.0, SERVICE_LATENCY_S):
            server.latency_s = latency
            rows.append((latency, _timed(one_at_a_time, expected), _timed(shared_sender, expected)))
    finally:
        server.stop()
    lines = [f"broadcast to {CONNECTIONS} connections, moto server on loopback (median of {RUNS})"]
    for latency, baseline, pooled in rows:
        where = f"+{latency * 1000:.0f} ms per post" if latency else "bare loopback"
        ratio = baseline / pooled
        lines += [
            _row(f"baseline: one post at a time, {where}", baseline, baseline),
            _row(f"shared sender, {sender.max_workers} workers, {where}", pooled, baseline),
        ]
    ratio = rows[-1][1] / rows[-1][2]
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    lines.append(
        f"  with latency the pool is {ratio:.1f}x faster ({verdict} the {TARGET_RATIO:.0f}x "
        "target); every connection was reached exactly once in every run"
    )
    return lines


def _row(label: str, seconds: float, baseline: float) -> str:
    return f"  {label:<52} {CONNECTIONS / seconds:7.0f} msg/s   {baseline / seconds:5.2f}x baseline"
