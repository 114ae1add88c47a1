"""simple-webservice's `hits` against moto DynamoDB: one counter per path, both API event
formats, no lost count under concurrent hits, clear errors.

moto does not serialise requests to one item across threads as DynamoDB does: it applies
an update, then builds the response from the item object, with no lock between, so another
thread's update can show in the answer. The concurrency tests hold `atomic_requests`, one
lock around each whole item request of moto's DynamoDB handler, so each request is atomic
as in DynamoDB and what they test is that a hit is one request. A read-then-write counter
under the same lock loses a hit (its test), so the lock hides nothing.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from tests.functions.conftest import FakeLambdaContext

PATTERN = "simple-webservice"
TABLE = "web-hits"
REGION = "eu-west-1"
_ITEM_REQUESTS = ("get_item", "put_item", "update_item")

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


@contextlib.contextmanager
def atomic_requests() -> Iterator[None]:
    """One lock around each GetItem, PutItem and UpdateItem request, response included."""
    lock = threading.Lock()
    originals = {name: getattr(DynamoHandler, name) for name in _ITEM_REQUESTS}

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return call

    for name, method in originals.items():
        setattr(DynamoHandler, name, locked(method))
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(DynamoHandler, name, method)


def _create_table() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "path", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "path", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _count(client: Any, path: str) -> int | None:
    item = client.get_item(TableName=TABLE, Key={"path": {"S": path}}).get("Item")
    return int(item["hits"]["N"]) if item else None


@pytest.fixture
def hits(monkeypatch: pytest.MonkeyPatch, load_function: LoadFunction):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    with mock_aws():
        _create_table()
        yield load_function(PATTERN, "hits")


def _call(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, FakeLambdaContext())
    assert response["headers"] == {"Content-Type": "application/json"}
    return response["statusCode"], json.loads(response["body"])


def _http(load_event: LoadEvent, raw_path: str, stage: str = "v1") -> dict[str, Any]:
    event = load_event(PATTERN, "http-get")
    event["rawPath"] = raw_path
    event["requestContext"]["stage"] = stage
    return event


def test_each_hit_counts_and_returns_the_new_count(hits, load_event):
    event = load_event(PATTERN, "http-get")
    assert _call(hits, event) == (200, {"path": "/docs/intro", "hits": 1})
    assert _call(hits, copy.deepcopy(event)) == (200, {"path": "/docs/intro", "hits": 2})
    assert _count(hits.dynamodb, "/docs/intro") == 2


def test_one_counter_per_path(hits, load_event):
    for path, times in (("/a", 3), ("/b", 1), ("/a/b", 2), ("/", 1)):
        for _ in range(times):
            _call(hits, _http(load_event, f"/v1{path}" if path != "/" else "/v1"))
    client = hits.dynamodb
    assert {p: _count(client, p) for p in ("/a", "/b", "/a/b", "/")} == {
        "/a": 3,
        "/b": 1,
        "/a/b": 2,
        "/": 1,
    }
    assert client.scan(TableName=TABLE)["Count"] == 4


def test_rest_and_http_events_count_the_same_path(hits, load_event):
    assert _call(hits, load_event(PATTERN, "http-get"))[1]["hits"] == 1
    assert _call(hits, load_event(PATTERN, "rest-get")) == (
        200,
        {"path": "/docs/intro", "hits": 2},
    )


@pytest.mark.parametrize(
    ("raw_path", "stage", "counted"),
    [
        ("/v1/docs", "v1", "/docs"),
        ("/v1", "v1", "/"),
        ("/v1/", "v1", "/"),
        ("/v10/docs", "v1", "/v10/docs"),  # another path, not the stage
        ("/docs", "$default", "/docs"),
        ("/v1/docs", "$default", "/v1/docs"),
        ("/caf%C3%A9?", "$default", "/caf%C3%A9?"),
    ],
)
def test_the_stage_is_not_part_of_the_counted_path(hits, load_event, raw_path, stage, counted):
    assert _call(hits, _http(load_event, raw_path, stage))[1]["path"] == counted


def test_concurrent_hits_never_lose_a_count(hits):
    """64 workers, 1,000 hits on one hot path and 200 on a cold one, all at once."""
    hot, cold = 1000, 200
    counter = hits.counter
    client = hits.dynamodb
    start = threading.Barrier(8)

    def hit(path: str) -> int:
        return int(counter.increment(client, TABLE, path))

    def burst(path: str, times: int) -> list[int]:
        start.wait()
        return [hit(path) for _ in range(times)]

    with atomic_requests(), ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(burst, "/hot", hot // 8) for _ in range(4)]
        jobs += [pool.submit(burst, "/hot", hot // 8) for _ in range(4)]
        results = [job.result() for job in jobs]
        seen = [n for result in results for n in result]
        cold_counts = list(pool.map(hit, ["/cold"] * cold))
    assert _count(hits.dynamodb, "/hot") == hot
    # Every caller saw a distinct count: no two updates read the same old value.
    assert sorted(seen) == list(range(1, hot + 1))
    assert sorted(cold_counts) == list(range(1, cold + 1))
    assert _count(hits.dynamodb, "/cold") == cold


def test_a_read_then_write_counter_would_lose_hits_under_the_same_harness(hits):
    """Two read-then-write increments that both read before either writes: one hit is lost,
    although every single request is atomic. `increment` is one request, so it cannot."""
    client = hits.dynamodb
    both_read = threading.Barrier(2)

    def read_then_write() -> None:
        item = client.get_item(TableName=TABLE, Key={"path": {"S": "/racy"}}).get("Item")
        current = int(item["hits"]["N"]) if item else 0
        both_read.wait()
        client.put_item(
            TableName=TABLE, Item={"path": {"S": "/racy"}, "hits": {"N": str(current + 1)}}
        )

    with atomic_requests(), ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(read_then_write) for _ in range(2)]:
            job.result()
    assert _count(hits.dynamodb, "/racy") == 1  # two hits, one counted


def test_a_path_over_the_key_limit_is_a_414(hits, load_event):
    status, body = _call(hits, _http(load_event, "/v1/" + "x" * 1100))
    assert status == 414
    assert body == {"message": "request path is over 1024 bytes"}
    assert hits.dynamodb.scan(TableName=TABLE)["Count"] == 0


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"version": "2.0", "requestContext": {"stage": "v1"}},
        {"version": "2.0", "rawPath": 42},
        {"path": ["a"]},
        {"path": "no-slash"},
    ],
)
def test_an_event_without_a_usable_path_is_a_400(hits, event):
    status, body = _call(hits, event)
    assert status == 400
    assert body["message"].startswith("request path must be text starting with '/'")


def test_a_malformed_request_context_keeps_the_raw_path(hits):
    event = {"version": "2.0", "rawPath": "/v1/x", "requestContext": "broken"}
    assert _call(hits, event) == (200, {"path": "/v1/x", "hits": 1})


def test_a_dynamodb_failure_is_a_503_with_a_message(hits, load_event, caplog):
    hits.dynamodb.delete_table(TableName=TABLE)
    status, body = _call(hits, load_event(PATTERN, "http-get"))
    assert status == 503
    assert body == {"message": "hit not counted; retry later"}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [(r.getMessage(), r.path) for r in errors] == [("Hit not counted", "/docs/intro")]
    assert errors[0].exc_info[0].__name__ == "ResourceNotFoundException"
