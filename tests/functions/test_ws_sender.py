"""functions/shared/ws_sender.py with a fake management client and registry: which errors
mean the client has gone, one post per connection however the pages repeat it, the worker
pool's bounds and the client the environment configures (issue #19).

The moto-backed tests in test_websocket_api.py drive the same sender end to end; here every
call is observable and each error arrives exactly as chosen.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

CALLBACK_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/live"


@pytest.fixture
def ws_sender(load_function: Callable[[str, str], ModuleType]) -> ModuleType:
    return load_function("shared", "ws_sender")


def client_error(code: str | None, status: int | None) -> ClientError:
    response: dict[str, Any] = {}
    if code is not None:
        response["Error"] = {"Code": code, "Message": code}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "PostToConnection")  # type: ignore[arg-type]


GONE_BY_CODE = client_error("GoneException", None)
GONE_BY_STATUS = client_error("SomethingNew", 410)
FORBIDDEN = client_error("ForbiddenException", 403)


class FakeClient:
    """Answers each connection id with an error (raised) or success; records every call."""

    def __init__(self, errors: dict[str, Exception] | None = None) -> None:
        self.errors = errors or {}
        self.posts: list[tuple[str, bytes]] = []
        self.gets: list[str] = []
        self.lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:
        with self.lock:
            self.posts.append((ConnectionId, Data))
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]

    def get_connection(self, ConnectionId: str) -> dict[str, Any]:
        with self.lock:
            self.gets.append(ConnectionId)
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]
        return {}


class FakeRegistry:
    def __init__(self, pages: list[list[Any]] | None = None) -> None:
        self.pages = pages or []
        self.disconnected: list[str] = []
        self.forgotten: list[list[str]] = []

    def disconnect(self, connection_id: str) -> str | None:
        self.disconnected.append(connection_id)
        return None

    def forget(self, connections: Any) -> int:
        gone = [c.connection_id for c in connections]
        self.forgotten.append(gone)
        return len(gone)

    def live_pages(self, page_size: int = 500) -> Any:
        return iter(self.pages)


def connections(ws_sender: ModuleType, *ids: str) -> list[Any]:
    registry = ws_sender.ws_registry
    return [registry.Connection(cid, f"u-{cid}", 0, 0) for cid in ids]


# Gone -------------------------------------------------------------------------------------


def test_a_410_alone_or_a_gone_exception_alone_means_gone(ws_sender):
    assert ws_sender.is_gone(GONE_BY_CODE)
    assert ws_sender.is_gone(GONE_BY_STATUS)
    assert not ws_sender.is_gone(FORBIDDEN)
    assert not ws_sender.is_gone(client_error(None, None))
    assert not ws_sender.is_gone(client_error("GoneExceptions", 400))


@pytest.mark.parametrize("error", [GONE_BY_CODE, GONE_BY_STATUS], ids=["code", "status"])
def test_send_to_a_gone_client_forgets_it(ws_sender, error):
    registry = FakeRegistry()
    sender = ws_sender.Sender(FakeClient({"c1": error}), registry)
    assert sender.send("c1", {"type": "hello"}) is False
    assert registry.disconnected == ["c1"]


def test_send_delivers_json_or_bytes_and_raises_other_errors(ws_sender):
    registry = FakeRegistry()
    client = FakeClient({"bad": FORBIDDEN})
    sender = ws_sender.Sender(client, registry)
    assert sender.send("c1", {"b": 1, "a": [1, 2]}) is True
    assert sender.send("c2", b"\x00raw") is True
    assert client.posts == [("c1", b'{"b":1,"a":[1,2]}'), ("c2", b"\x00raw")]
    with pytest.raises(ClientError, match="ForbiddenException"):
        sender.send("bad", {"x": 1})
    assert registry.disconnected == []


# Broadcast and probe ----------------------------------------------------------------------


def test_a_connection_repeated_across_pages_is_posted_to_once(ws_sender):
    a, b, c = connections(ws_sender, "a", "b", "c")
    client = FakeClient({"b": GONE_BY_STATUS})
    registry = FakeRegistry()
    sender = ws_sender.Sender(client, registry, max_workers=2)
    result = sender.broadcast({"n": 1}, [[a, b], [b, c, a], [c]])
    assert sorted(cid for cid, _ in client.posts) == ["a", "b", "c"]
    assert {data for _, data in client.posts} == {b'{"n":1}'}
    assert result == ws_sender.BroadcastResult(sent=2, gone=1, failed=0)
    assert registry.forgotten == [["b"], [], []]


def test_a_broadcast_counts_failures_without_raising_or_forgetting(ws_sender):
    a, b, c, d = connections(ws_sender, "a", "b", "c", "d")
    errors = {"a": FORBIDDEN, "b": RuntimeError("socket closed"), "c": GONE_BY_CODE}
    registry = FakeRegistry()
    result = ws_sender.Sender(FakeClient(errors), registry).broadcast({"n": 1}, [[a, b, c, d]])
    assert result == ws_sender.BroadcastResult(sent=1, gone=1, failed=2)
    assert registry.forgotten == [["c"]]


def test_a_broadcast_reaches_the_live_connections_unless_given_pages(ws_sender):
    a, b = connections(ws_sender, "a", "b")
    client = FakeClient()
    sender = ws_sender.Sender(client, FakeRegistry([[a], [b]]))
    assert sender.broadcast({"n": 1}) == ws_sender.BroadcastResult(sent=2, gone=0, failed=0)
    assert sorted(cid for cid, _ in client.posts) == ["a", "b"]
    assert sender.broadcast({"n": 1}, []) == ws_sender.BroadcastResult(sent=0, gone=0, failed=0)
    assert len(client.posts) == 2


def test_a_probe_asks_without_posting_and_forgets_the_gone(ws_sender):
    a, b, c = connections(ws_sender, "a", "b", "c")
    client = FakeClient({"b": GONE_BY_STATUS, "c": FORBIDDEN})
    registry = FakeRegistry([[a, b, c], [a]])
    result = ws_sender.Sender(client, registry).probe()
    assert result == ws_sender.BroadcastResult(sent=1, gone=1, failed=1)
    assert sorted(client.gets) == ["a", "b", "c"] and client.posts == []
    assert registry.forgotten == [["b"], []]


# The pool and the client ------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, -1])
def test_a_pool_needs_at_least_one_worker(ws_sender, workers):
    with pytest.raises(ValueError, match=rf"max_workers must be at least 1 \(got {workers}\)"):
        ws_sender.Sender(FakeClient(), FakeRegistry(), max_workers=workers)
    assert ws_sender.Sender(FakeClient(), FakeRegistry(), max_workers=1).max_workers == 1


def test_the_default_pool_has_16_workers(ws_sender):
    assert ws_sender.Sender(FakeClient(), FakeRegistry()).max_workers == 16


def test_the_client_is_sized_to_the_pool_with_bounded_retries_and_timeouts(ws_sender):
    client = ws_sender.management_client(CALLBACK_URL, 7)
    config = client.meta.config
    assert client.meta.endpoint_url == CALLBACK_URL
    assert config.max_pool_connections == 7
    # botocore counts the first call too: max_attempts=3 retries is 4 attempts in all.
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert ws_sender.management_client(CALLBACK_URL).meta.config.max_pool_connections == 16


def test_the_sender_from_the_environment(ws_sender, monkeypatch):
    monkeypatch.setenv("CALLBACK_URL", CALLBACK_URL)
    registry = FakeRegistry()
    sender = ws_sender.sender_from_environment(registry)
    assert sender.max_workers == 16 and sender.registry is registry
    assert sender.client.meta.config.max_pool_connections == 16
    monkeypatch.setenv("SEND_MAX_WORKERS", "4")
    sender = ws_sender.sender_from_environment(registry)
    assert sender.max_workers == 4
    assert sender.client.meta.config.max_pool_connections == 4


def test_the_registry_from_the_environment(ws_sender, monkeypatch):
    monkeypatch.setenv("CONNECTIONS_TABLE", "connections")
    monkeypatch.setenv("SESSIONS_TABLE", "sessions")
    registry = ws_sender.registry_from_environment()
    assert (registry.connections.name, registry.sessions.name) == ("connections", "sessions")
    assert registry.resume_window_s == 300
    monkeypatch.setenv("RESUME_WINDOW_S", "60")
    assert ws_sender.registry_from_environment().resume_window_s == 60


def test_a_broadcast_result_is_an_immutable_value(ws_sender):
    result = ws_sender.BroadcastResult(sent=1, gone=0, failed=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.sent = 2


def test_the_pool_size_is_passed_by_name(ws_sender):
    with pytest.raises(TypeError):
        ws_sender.Sender(FakeClient(), FakeRegistry(), 4)


def test_the_sender_logs_through_the_handlers_logger(ws_sender, capsys):
    from aws_lambda_powertools import Logger

    handler_logger = Logger()  # the handler's, for the same service
    handler_logger.append_keys(request="r-1")
    sender = ws_sender.Sender(FakeClient({"c1": GONE_BY_CODE}), FakeRegistry())
    assert sender.send("c1", {"x": 1}) is False
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (gone,) = [r for r in records if r.get("message") == "Client gone; connection removed"]
    assert (gone["connectionId"], gone["request"]) == ("c1", "r-1")
