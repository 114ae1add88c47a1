"""websocket-api handlers and the shared registry/sender against moto (DynamoDB and the
API Gateway management API).

moto's `post_to_connection` never raises `GoneException` (it accepts any id), so departed
clients are simulated at botocore's `before-call` hook, the mechanism botocore's own
`Stubber` uses: the client raises the real `GoneException` (410) for chosen ids while every
other call still reaches moto. A plain `Stubber` is used where one call is made; a
broadcast posts from several threads in no fixed order, which a Stubber's queue of
expected calls cannot express.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from components.websocket_api import WebSocketApi, WebSocketApiArgs

PATTERN = "websocket-api"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
CONNECTIONS = "ws-test-connections"
SESSIONS = "ws-test-sessions"
TOGGLES = "ws-test-toggles"
CALLBACK_URL = f"https://abc123defg.execute-api.{REGION}.amazonaws.com/live"
CONNECTION_TTL_S = 2 * 3600 + 600
FUNCTION = "aws:lambda/function:Function"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


# --- fixtures ------------------------------------------------------------------------------


def create_tables() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=CONNECTIONS,
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
    for name, key in ((SESSIONS, "userId"), (TOGGLES, "featureId")):
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONNECTIONS_TABLE", CONNECTIONS)
    monkeypatch.setenv("SESSIONS_TABLE", SESSIONS)
    monkeypatch.setenv("TOGGLES_TABLE", TOGGLES)
    monkeypatch.setenv("RESUME_WINDOW_S", "300")
    monkeypatch.setenv("CALLBACK_URL", CALLBACK_URL)
    with mock_aws():
        create_tables()
        yield


def table(name: str) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table(name)


def delivered() -> dict[str, bytes]:
    """What moto's management API received, per connection id (posts accumulate)."""
    connections = apigatewaymanagementapi_backends[ACCOUNT][REGION].connections
    return {unquote(cid): c.data for cid, c in connections.items() if c.data}


def put_connection(connection_id: str, user_id: str, *, expires_in: int = 3600) -> None:
    now = int(time.time())
    table(CONNECTIONS).put_item(
        Item={
            "connectionId": connection_id,
            "userId": user_id,
            "connectedAt": now,
            "expiresAt": now + expires_in,
        }
    )


def connection_of(request: dict[str, Any]) -> str:
    """The connection id of a serialized management API request (it is in the path)."""
    return unquote(request["url_path"].rsplit("/@connections/", 1)[1])


@contextmanager
def gone(client: Any, connection_ids: set[str], operation: str = "PostToConnection"):
    """`client` raises the real 410 GoneException for `connection_ids`, from any thread."""
    event = f"before-call.apigatewaymanagementapi.{operation}"
    calls: list[str] = []

    def answer(params: dict[str, Any], **_: Any) -> Any:
        connection_id = connection_of(params)
        calls.append(connection_id)
        if connection_id not in connection_ids:
            return None  # on to moto
        error = {"Code": "GoneException", "Message": f"Connection {connection_id} is gone"}
        meta = {"HTTPStatusCode": 410}
        return AWSResponse(CALLBACK_URL, 410, {}, None), {"Error": error, "ResponseMetadata": meta}

    client.meta.events.register(event, answer)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, answer)


def gone_stub(client: Any, connection_id: str) -> Stubber:
    stubber = Stubber(client)
    stubber.add_client_error(
        "post_to_connection",
        service_error_code="GoneException",
        service_message="Gone",
        http_status_code=410,
        expected_params={"ConnectionId": connection_id, "Data": stubber_any()},
    )
    return stubber


def stubber_any() -> Any:
    from botocore.stub import ANY

    return ANY


def logged(output: str) -> list[dict[str, Any]]:
    """The Powertools JSON log records in captured stdout (metric blobs left out)."""
    records = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "level" in record and "_aws" not in record:
            records.append(record)
    return records


def errors(output: str, *keys: str) -> list[dict[str, Any]]:
    """Each ERROR record as its message, error type and the given keys."""
    return [
        {k: r.get(k) for k in ("message", "exception_name", *keys)}
        for r in logged(output)
        if r["level"] == "ERROR"
    ]


# --- connect / disconnect / sessions -------------------------------------------------------


def test_connect_stores_the_connection_with_an_epoch_expiry_and_echoes_the_subprotocol(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    before = int(time.time())
    response = connect.handler(load_event(PATTERN, "connect"), lambda_context)
    assert response == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "u-3f9c2a7e41b8"}}
    item = table(CONNECTIONS).get_item(Key={"connectionId": "CjPZpeSfDoECGrg="})["Item"]
    assert item["userId"] == "u-3f9c2a7e41b8"
    # TTL needs a Number holding absolute epoch seconds (not ms, not a duration).
    assert isinstance(item["expiresAt"], Decimal)
    assert before + CONNECTION_TTL_S <= item["expiresAt"] <= int(time.time()) + CONNECTION_TTL_S
    assert before <= item["connectedAt"] <= item["expiresAt"] - CONNECTION_TTL_S
    session = table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"]
    assert "expiresAt" not in session


def test_connect_echoes_only_the_first_offered_subprotocol(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    event = load_event(PATTERN, "connect")
    event["headers"]["Sec-WebSocket-Protocol"] = "u-1, chat.v2"
    assert connect.handler(event, lambda_context)["headers"] == {"Sec-WebSocket-Protocol": "u-1"}


@pytest.mark.parametrize("value", [None, "", "has space", "x" * 129])
def test_connect_without_a_valid_user_id_is_refused_and_stores_nothing(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, value
):
    connect = load_function(PATTERN, "connect")
    event = load_event(PATTERN, "connect")
    if value is None:
        del event["headers"]["Sec-WebSocket-Protocol"]
    else:
        event["headers"]["Sec-WebSocket-Protocol"] = value
    response = connect.handler(event, lambda_context)
    assert response["statusCode"] == 400 and "user id" in json.loads(response["body"])["error"]
    assert table(CONNECTIONS).scan()["Items"] == []


@pytest.mark.parametrize(
    ("source", "change"),
    [
        ("query", lambda e: e.update(queryStringParameters={"userId": "q-user"})),
        ("authorizer", lambda e: e["requestContext"].update(authorizer={"userId": "q-user"})),
        ("authorizer", lambda e: e["requestContext"].update(authorizer={"principalId": "q-user"})),
    ],
)
def test_user_id_from_query_or_authorizer_is_not_echoed(
    aws,
    monkeypatch,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    source,
    change,
):
    monkeypatch.setenv("USER_ID_SOURCE", source)
    connect = load_function(PATTERN, "connect")
    event = load_event(PATTERN, "connect")
    change(event)
    assert connect.handler(event, lambda_context) == {"statusCode": 200}
    item = table(CONNECTIONS).get_item(Key={"connectionId": "CjPZpeSfDoECGrg="})["Item"]
    assert item["userId"] == "q-user"


def test_disconnect_forgets_the_connection_and_starts_the_resume_window(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    disconnect = load_function(PATTERN, "disconnect")
    connect.handler(load_event(PATTERN, "connect"), lambda_context)
    before = int(time.time())
    assert disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context) == {
        "statusCode": 200
    }
    assert "Item" not in table(CONNECTIONS).get_item(Key={"connectionId": "CjPZpeSfDoECGrg="})
    session = table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"]
    assert session["expiresAt"] == session["lastSeen"] + 300
    assert before <= session["lastSeen"] <= int(time.time())
    # A duplicate delivery of $disconnect changes nothing and does not fail.
    assert (
        disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context)["statusCode"] == 200
    )
    assert table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"] == session


def test_disconnecting_one_of_two_tabs_keeps_the_session_live(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    disconnect = load_function(PATTERN, "disconnect")
    first = load_event(PATTERN, "connect")
    second = load_event(PATTERN, "connect")
    second["requestContext"]["connectionId"] = "SecondTabConn="
    connect.handler(first, lambda_context)
    connect.handler(second, lambda_context)
    disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context)
    assert "expiresAt" not in table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"]


def test_a_session_resumes_where_it_stopped_after_a_reconnect(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    disconnect = load_function(PATTERN, "disconnect")
    connect.handler(load_event(PATTERN, "connect"), lambda_context)
    connect.registry.save_state("u-3f9c2a7e41b8", {"cursor": 1742})
    disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context)

    again = load_event(PATTERN, "connect")
    again["requestContext"]["connectionId"] = "NewConnAfterDrop="
    session = connect.registry.connect("NewConnAfterDrop=", "u-3f9c2a7e41b8")
    assert session.resumed and session.state == {"cursor": 1742}
    item = table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"]
    assert item["state"] == {"cursor": 1742} and "expiresAt" not in item
    assert connect.handler(again, lambda_context)["statusCode"] == 200


def test_after_the_window_the_session_starts_fresh_although_ttl_kept_the_item(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    connect = load_function(PATTERN, "connect")
    past = int(time.time()) - 10
    table(SESSIONS).put_item(
        Item={
            "userId": "u-3f9c2a7e41b8",
            "state": {"cursor": 99},
            "lastSeen": past - 300,
            "expiresAt": past,
        }
    )
    assert connect.registry.session("u-3f9c2a7e41b8") is None  # expired reads as absent
    connect.handler(load_event(PATTERN, "connect"), lambda_context)
    item = table(SESSIONS).get_item(Key={"userId": "u-3f9c2a7e41b8"})["Item"]
    assert item["state"] == {} and "expiresAt" not in item


def test_default_answers_unknown_and_malformed_messages(
    aws, monkeypatch, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    monkeypatch.setenv("KNOWN_ACTIONS", "startWorkflow,echo")
    default = load_function(PATTERN, "default")
    event = load_event(PATTERN, "message")
    response = default.handler(event, lambda_context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "error": "unknown action 'subscribe'",
        "action": "subscribe",
        "actions": ["echo", "startWorkflow"],
    }
    event["body"] = "not json"
    body = json.loads(default.handler(event, lambda_context)["body"])
    assert body["action"] is None and "JSON objects" in body["error"]


# --- the shared sender ---------------------------------------------------------------------


def test_send_reaches_a_live_connection_once(aws, load_function: LoadFunction):
    sweeper = load_function(PATTERN, "sweeper")  # any module that builds the shared sender
    put_connection("live-1", "u-1")
    assert sweeper.sender.send("live-1", {"type": "hello", "n": Decimal("3")}) is True
    assert delivered() == {"live-1": b'{"type":"hello","n":3}'}


def test_send_writes_numbers_read_from_dynamodb_exactly(aws, load_function: LoadFunction):
    sweeper = load_function(PATTERN, "sweeper")
    put_connection("live-1", "u-1")
    exact = Decimal("12345678901234567890.123456789")
    assert sweeper.sender.send("live-1", {"n": exact, "tags": {"b", "a"}}) is True
    assert delivered() == {"live-1": b'{"n":12345678901234567890.123456789,"tags":["a","b"]}'}


def test_send_to_a_gone_client_removes_it_and_returns_false(aws, load_function: LoadFunction):
    sweeper = load_function(PATTERN, "sweeper")
    sender = sweeper.sender
    put_connection("gone-1", "u-gone")
    put_connection("live-2", "u-live")
    with gone_stub(sender.client, "gone-1") as stubber:
        assert sender.send("gone-1", {"type": "hello"}) is False
        stubber.assert_no_pending_responses()
    assert "Item" not in table(CONNECTIONS).get_item(Key={"connectionId": "gone-1"})
    session = table(SESSIONS).get_item(Key={"userId": "u-gone"})["Item"]
    assert session["expiresAt"] == session["lastSeen"] + 300
    # The others are untouched and still reachable.
    assert sender.send("live-2", {"type": "hello"}) is True
    assert "Item" in table(CONNECTIONS).get_item(Key={"connectionId": "live-2"})


def test_send_raises_other_errors_for_the_callers_retry_policy(aws, load_function: LoadFunction):
    sender = load_function(PATTERN, "sweeper").sender
    put_connection("live-1", "u-1")
    with Stubber(sender.client) as stubber:
        stubber.add_client_error(
            "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
        )
        with pytest.raises(ClientError, match="ForbiddenException"):
            sender.send("live-1", {"type": "hello"})
    assert "Item" in table(CONNECTIONS).get_item(Key={"connectionId": "live-1"})


def test_broadcast_to_1000_reaches_every_live_connection_once_and_removes_every_gone_one(
    aws, load_function: LoadFunction
):
    sender = load_function(PATTERN, "sweeper").sender
    ids = [f"conn-{i:04d}" for i in range(1000)]
    departed = set(ids[::7])  # 143 clients left without a $disconnect
    with table(CONNECTIONS).batch_writer() as batch:
        now = int(time.time())
        for i, cid in enumerate(ids):
            item = {
                "connectionId": cid,
                "userId": f"u-{i % 400}",
                "connectedAt": now,
                "expiresAt": now + 3600,
            }
            batch.put_item(Item=item)
        # TTL is lazy: an expired item still in the table must not be posted to.
        batch.put_item(Item={"connectionId": "expired", "userId": "u-x", "expiresAt": now - 1})
    pages = list(sender.registry.live_pages(page_size=128))
    assert len(pages) > 1  # the broadcast below paginates the same way

    with gone(sender.client, departed) as calls:
        result = sender.broadcast(
            {"type": "toggle", "featureId": "f"}, sender.registry.live_pages(page_size=128)
        )
    assert (result.sent, result.gone, result.failed) == (1000 - len(departed), len(departed), 0)
    assert sorted(calls) == sorted(ids)  # each connection posted to exactly once
    received = delivered()
    assert set(received) == set(ids) - departed
    assert set(received.values()) == {b'{"type":"toggle","featureId":"f"}'}  # once each
    remaining = {i["connectionId"] for i in table(CONNECTIONS).scan()["Items"]}
    assert remaining == (set(ids) - departed) | {"expired"}


def test_broadcast_counts_a_failed_post_without_raising_or_removing(
    aws, load_function: LoadFunction
):
    sender = load_function(PATTERN, "sweeper").sender
    for cid in ("a", "b"):
        put_connection(cid, f"u-{cid}")

    def throttled(params: dict[str, Any], **_: Any) -> Any:
        if connection_of(params) != "a":
            return None
        error = {"Code": "LimitExceededException", "Message": "slow down"}
        return AWSResponse(CALLBACK_URL, 429, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 429},
        }

    sender.client.meta.events.register(
        "before-call.apigatewaymanagementapi.PostToConnection", throttled
    )
    result = sender.broadcast({"x": 1})
    assert (result.sent, result.gone, result.failed) == (1, 0, 1)
    assert len(table(CONNECTIONS).scan()["Items"]) == 2


# --- cleanup: TTL reads and the sweeper ----------------------------------------------------


def test_ttl_mode_treats_expired_items_as_absent(aws, load_function: LoadFunction):
    registry = load_function(PATTERN, "connect").registry
    put_connection("old", "u-1", expires_in=-1)
    put_connection("new", "u-1")
    assert registry.connection("old") is None and registry.connection("new") is not None
    assert [c.connection_id for c in registry.connections_of("u-1")] == ["new"]
    assert [c.connection_id for page in registry.live_pages() for c in page] == ["new"]


def test_sweeper_deletes_expired_items_and_gone_connections(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    sweeper = load_function(PATTERN, "sweeper")
    now = int(time.time())
    put_connection("expired", "u-1", expires_in=-60)
    put_connection("lost", "u-2")  # its $disconnect never arrived
    put_connection("live", "u-3")
    sessions = table(SESSIONS)
    sessions.put_item(
        Item={"userId": "u-old", "state": {}, "lastSeen": now - 900, "expiresAt": now - 600}
    )
    sessions.put_item(
        Item={"userId": "u-window", "state": {}, "lastSeen": now, "expiresAt": now + 300}
    )
    sessions.put_item(Item={"userId": "u-3", "state": {"cursor": 1}, "lastSeen": now})
    with gone(sweeper.sender.client, {"lost"}, operation="GetConnection") as probed:
        result = sweeper.handler(load_event(PATTERN, "schedule"), lambda_context)
    assert result == {
        "expiredConnections": 1,
        "expiredSessions": 1,
        "goneConnections": 1,
        "liveConnections": 1,
        "probeFailures": 0,
    }
    assert sorted(probed) == ["live", "lost"]
    assert [i["connectionId"] for i in table(CONNECTIONS).scan()["Items"]] == ["live"]
    users = {i["userId"]: i for i in sessions.scan()["Items"]}
    assert set(users) == {"u-window", "u-3", "u-2"}
    assert users["u-2"]["expiresAt"] == users["u-2"]["lastSeen"] + 300  # resume window begins
    assert delivered() == {}  # probing sends clients nothing


def test_sweep_spares_a_session_revived_since_its_scan(aws, load_function: LoadFunction):
    registry = load_function(PATTERN, "connect").registry
    now = int(time.time())
    table(SESSIONS).put_item(
        Item={"userId": "u-1", "state": {}, "lastSeen": now, "expiresAt": now - 1}
    )
    expired = list(registry._expired(registry.sessions, "userId", now))
    registry.connect("c-1", "u-1")  # the reconnect lands between the scan and the delete
    original = registry._expired
    registry._expired = lambda table_, key, now_: (
        iter(expired) if table_ is registry.sessions else original(table_, key, now_)
    )
    assert registry.sweep().sessions == 0
    assert "Item" in table(SESSIONS).get_item(Key={"userId": "u-1"})


# --- the feature-toggle example ------------------------------------------------------------


def test_broadcast_handler_pushes_each_toggle_change_and_survives_gone_clients(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    broadcast = load_function(PATTERN, "broadcast")
    for cid in ("c-1", "c-2", "c-gone"):
        put_connection(cid, f"u-{cid}")
    with gone(broadcast.sender.client, {"c-gone"}):
        response = broadcast.handler(load_event(PATTERN, "toggles-stream"), lambda_context)
    assert response == {"batchItemFailures": []}
    expected = (
        b'{"type":"toggle","featureId":"dark-mode","name":"Dark mode","isActive":true}'
        b'{"type":"toggle","featureId":"new-checkout","name":"New checkout","isActive":false}'
    )
    assert delivered() == {"c-1": expected, "c-2": expected}
    assert {i["connectionId"] for i in table(CONNECTIONS).scan()["Items"]} == {"c-1", "c-2"}


def test_broadcast_reports_a_malformed_toggle_as_its_own_failure(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    broadcast = load_function(PATTERN, "broadcast")
    put_connection("c-1", "u-1")
    event = load_event(PATTERN, "toggles-stream")
    event["Records"][0]["dynamodb"]["NewImage"]["isActive"] = {"S": "True"}  # the seed's bug
    response = broadcast.handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678901"}]}
    assert b"new-checkout" in delivered()["c-1"]


def test_snapshot_fires_only_on_insert(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    snapshot = load_function(PATTERN, "snapshot")
    toggles = table(TOGGLES)
    toggles.put_item(Item={"featureId": "b-flag", "name": "B", "isActive": False})
    toggles.put_item(Item={"featureId": "a-flag", "name": "A", "isActive": True})
    response = snapshot.handler(load_event(PATTERN, "connections-stream"), lambda_context)
    assert response == {"batchItemFailures": []}
    assert delivered() == {
        "CjPZpeSfDoECGrg=": json.dumps(
            {
                "type": "snapshot",
                "toggles": [
                    {"featureId": "a-flag", "name": "A", "isActive": True},
                    {"featureId": "b-flag", "name": "B", "isActive": False},
                ],
            },
            separators=(",", ":"),
        ).encode()
    }


def test_snapshot_retries_a_registered_connection_that_is_not_open_yet(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context
):
    snapshot = load_function(PATTERN, "snapshot")
    event = load_event(PATTERN, "connections-stream")
    put_connection("CjPZpeSfDoECGrg=", "u-3f9c2a7e41b8")
    with gone(snapshot.sender.client, {"CjPZpeSfDoECGrg="}):
        response = snapshot.handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "222100000000012345678901"}]}
    # The client that has really left (no registry item) is not retried.
    table(CONNECTIONS).delete_item(Key={"connectionId": "CjPZpeSfDoECGrg="})
    with gone(snapshot.sender.client, {"CjPZpeSfDoECGrg="}):
        assert snapshot.handler(event, lambda_context) == {"batchItemFailures": []}


# --- hardening: every request answered, every failure logged, nothing personal at INFO -----

ECHO_LIMIT = 100


def test_connect_logs_ids_and_shapes_never_the_user_id(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    connect = load_function(PATTERN, "connect")
    assert connect.handler(load_event(PATTERN, "connect"), lambda_context)["statusCode"] == 200
    output = capsys.readouterr().out
    (connected,) = [r for r in logged(output) if r["message"] == "Connected"]
    assert (connected["level"], connected["connectionId"], connected["resumed"]) == (
        "INFO",
        "CjPZpeSfDoECGrg=",
        False,
    )
    assert connected["userIdSource"] == "protocol_header"
    assert "u-3f9c2a7e41b8" not in output


def test_disconnect_logs_no_user_id(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    connect = load_function(PATTERN, "connect")
    disconnect = load_function(PATTERN, "disconnect")
    connect.handler(load_event(PATTERN, "connect"), lambda_context)
    capsys.readouterr()
    assert disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context) == {
        "statusCode": 200
    }
    output = capsys.readouterr().out
    (record,) = [r for r in logged(output) if r["message"] == "Disconnected"]
    assert (record["connectionId"], record["known"]) == ("CjPZpeSfDoECGrg=", True)
    assert "u-3f9c2a7e41b8" not in output


NO_CONNECTION = {"error": "event has no requestContext.connectionId"}
NO_USER_ID = {
    "error": "the Sec-WebSocket-Protocol header must carry a user id of 1-128 letters, "
    "digits or ._~-"
}
SUBPROTOCOL = {"Sec-WebSocket-Protocol": "u-3f9c2a7e41b8"}


@pytest.mark.parametrize(
    ("change", "status", "answer"),
    [
        pytest.param(lambda e: e.update(headers=None), 200, SUBPROTOCOL, id="headers-null"),
        pytest.param(lambda e: e.pop("headers"), 200, SUBPROTOCOL, id="multi-value-headers-only"),
        pytest.param(
            lambda e: e.update(headers=None, multiValueHeaders=None),
            400,
            NO_USER_ID,
            id="no-headers-at-all",
        ),
        pytest.param(
            lambda e: e["headers"].update({"Sec-WebSocket-Protocol": ["u-1"]}),
            400,
            NO_USER_ID,
            id="header-not-text",
        ),
        pytest.param(lambda e: e.pop("requestContext"), 400, NO_CONNECTION, id="no-context"),
        pytest.param(
            lambda e: e["requestContext"].pop("connectionId"), 400, NO_CONNECTION, id="no-id"
        ),
        pytest.param(lambda e: e.update(body="not json"), 200, SUBPROTOCOL, id="body-not-json"),
    ],
)
def test_connect_answers_every_malformed_event(
    aws,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    change,
    status,
    answer,
):
    connect = load_function(PATTERN, "connect")
    event = load_event(PATTERN, "connect")
    change(event)
    response = connect.handler(event, lambda_context)
    if status == 200:
        assert response == {"statusCode": 200, "headers": answer}
        assert table(CONNECTIONS).get_item(Key={"connectionId": "CjPZpeSfDoECGrg="})["Item"]
    else:
        assert response == {"statusCode": status, "body": json.dumps(answer, separators=(",", ":"))}
        assert table(CONNECTIONS).scan()["Items"] == []
    assert errors(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param(lambda e: e.pop("requestContext"), 400, id="no-context"),
        pytest.param(lambda e: e.update(requestContext=None), 400, id="context-null"),
        pytest.param(lambda e: e["requestContext"].pop("connectionId"), 400, id="no-id"),
        pytest.param(lambda e: e.update(headers=None), 200, id="headers-null"),
        pytest.param(lambda e: e.pop("headers"), 200, id="multi-value-headers-only"),
        pytest.param(lambda e: e.update(body="not json"), 200, id="body-not-json"),
    ],
)
def test_disconnect_answers_every_malformed_event(
    aws,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    change,
    status,
):
    disconnect = load_function(PATTERN, "disconnect")
    put_connection("CjPZpeSfDoECGrg=", "u-3f9c2a7e41b8")
    event = load_event(PATTERN, "disconnect")
    change(event)
    response = disconnect.handler(event, lambda_context)
    remaining = table(CONNECTIONS).scan()["Items"]
    if status == 200:
        assert response == {"statusCode": 200}
        assert remaining == []
    else:
        assert response == {
            "statusCode": 400,
            "body": json.dumps(NO_CONNECTION, separators=(",", ":")),
        }
        assert [i["connectionId"] for i in remaining] == ["CjPZpeSfDoECGrg="]
    assert errors(capsys.readouterr().out) == []


NOT_A_MESSAGE = 'messages must be JSON objects with a string "action"'


@pytest.mark.parametrize(
    ("change", "action"),
    [
        pytest.param(lambda e: e.pop("body"), None, id="no-body"),
        pytest.param(lambda e: e.update(body="not json"), None, id="body-not-json"),
        pytest.param(lambda e: e.update(body='["subscribe"]'), None, id="body-not-an-object"),
        pytest.param(lambda e: e.update(body={"action": "subscribe"}), None, id="body-not-text"),
        pytest.param(lambda e: e.update(body='{"action": 7}'), None, id="action-not-text"),
        pytest.param(
            lambda e: e.update(body="eyJhY3Rpb24iOiAic3Vic2NyaWJlIn0=", isBase64Encoded=True),
            "subscribe",
            id="base64-encoded",
        ),
        pytest.param(
            lambda e: e.update(body="not base64!", isBase64Encoded=True), None, id="bad-base64"
        ),
        pytest.param(lambda e: e.update(headers=None), "subscribe", id="headers-null"),
        pytest.param(lambda e: e.pop("requestContext"), "subscribe", id="no-context"),
        pytest.param(
            lambda e: e.update(multiValueHeaders={"Host": ["x"]}), "subscribe", id="multi-only"
        ),
    ],
)
def test_default_answers_every_malformed_event(
    aws,
    monkeypatch,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    change,
    action,
):
    monkeypatch.setenv("KNOWN_ACTIONS", "echo")
    default = load_function(PATTERN, "default")
    event = load_event(PATTERN, "message")
    change(event)
    response = default.handler(event, lambda_context)
    error = NOT_A_MESSAGE if action is None else f"unknown action {action!r}"
    assert response == {
        "statusCode": 400,
        "body": json.dumps(
            {"error": error, "action": action, "actions": ["echo"]}, separators=(",", ":")
        ),
    }
    assert errors(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (ECHO_LIMIT, "a" * ECHO_LIMIT),
        (ECHO_LIMIT + 1, "a" * ECHO_LIMIT + "\u2026"),
        (200_000, "a" * ECHO_LIMIT + "\u2026"),
    ],
)
def test_default_echoes_at_most_100_characters_of_an_action(
    aws,
    monkeypatch,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    length,
    shown,
):
    monkeypatch.setenv("KNOWN_ACTIONS", "echo")
    default = load_function(PATTERN, "default")
    event = load_event(PATTERN, "message")
    event["body"] = json.dumps({"action": "a" * length})
    response = default.handler(event, lambda_context)
    assert json.loads(response["body"]) == {
        "error": f"unknown action {shown!r}",
        "action": shown,
        "actions": ["echo"],
    }
    (record,) = [r for r in logged(capsys.readouterr().out) if r["message"] == "Unroutable message"]
    assert (record["action"], record["connectionId"]) == (shown, "CjPZpeSfDoECGrg=")
    assert len(json.dumps(record)) < 2_000


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_connect_answers_500_and_logs_once_when_the_registry_fails(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    connect = load_function(PATTERN, "connect")
    table(SESSIONS).delete()
    response = connect.handler(load_event(PATTERN, "connect"), lambda_context)
    assert response == {"statusCode": 500, "body": '{"error":"internal error"}'}
    assert errors(capsys.readouterr().out, "connectionId") == [
        {
            "message": "Request failed",
            "exception_name": "ResourceNotFoundException",
            "connectionId": "CjPZpeSfDoECGrg=",
        }
    ]


def test_disconnect_answers_500_and_logs_once_when_the_registry_fails(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    disconnect = load_function(PATTERN, "disconnect")
    table(CONNECTIONS).delete()
    response = disconnect.handler(load_event(PATTERN, "disconnect"), lambda_context)
    assert response["statusCode"] == 500
    assert errors(capsys.readouterr().out, "connectionId") == [
        {
            "message": "Request failed",
            "exception_name": "ResourceNotFoundException",
            "connectionId": "CjPZpeSfDoECGrg=",
        }
    ]


# --- stream batches: decoded with ddb_json, every poison record a logged item failure -------

TOGGLE_EVENT_IDS = ("c4ca4238a0b923820dcc509a6f75849b", "c81e728d9d4c2f636f067f89cc14862c")
NEW_CHECKOUT = (
    b'{"type":"toggle","featureId":"new-checkout","name":"New checkout","isActive":false}'
)


def test_broadcast_decodes_binary_and_exact_number_attributes(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    broadcast = load_function(PATTERN, "broadcast")
    put_connection("c-1", "u-1")
    event = load_event(PATTERN, "toggles-stream")
    event["Records"][0]["dynamodb"]["NewImage"].update(
        {
            "icon": {"B": "iVBORw0KGgo="},
            "variants": {"BS": ["AQ==", "Ag=="]},
            "rollout": {"N": "12345678901234567890.123456789"},
            "rules": {"M": {"weights": {"L": [{"N": "0.1"}, {"NULL": True}]}}},
        }
    )
    response = broadcast.handler(event, lambda_context)
    assert response == {"batchItemFailures": []}
    assert delivered() == {
        "c-1": b'{"type":"toggle","featureId":"dark-mode","name":"Dark mode","isActive":true}'
        + NEW_CHECKOUT
    }
    assert errors(capsys.readouterr().out) == []


def test_a_toggle_name_keeps_its_exact_number(load_function: LoadFunction):
    toggles = load_function(PATTERN, "toggles")
    image = {
        "featureId": {"S": "f"},
        "name": {"N": "12345678901234567890.123456789"},
        "isActive": {"BOOL": True},
    }
    assert toggles.change_message(image) == {
        "type": "toggle",
        "featureId": "f",
        "name": "12345678901234567890.123456789",
        "isActive": True,
    }


def _set_image(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record["dynamodb"].update(NewImage=value)


def _set_attribute(name: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record["dynamodb"]["NewImage"].update({name: value})


@pytest.mark.parametrize(
    ("break_record", "error"),
    [
        pytest.param(
            _set_attribute("isActive", {"S": "True"}), "InvalidToggleError", id="bool-as-s"
        ),
        pytest.param(
            lambda r: r["dynamodb"]["NewImage"].pop("featureId"),
            "InvalidToggleError",
            id="no-feature-id",
        ),
        pytest.param(lambda r: r["dynamodb"].pop("NewImage"), "InvalidToggleError", id="no-image"),
        pytest.param(_set_image("oops"), "InvalidAttributeError", id="image-not-a-map"),
        pytest.param(
            _set_attribute("rollout", {"N": "12..5"}), "InvalidAttributeError", id="bad-number"
        ),
        pytest.param(
            _set_attribute("rules", {"M": {"w": {"L": [{"N": "NaN"}]}}}),
            "InvalidAttributeError",
            id="nan-nested",
        ),
        pytest.param(
            _set_attribute("odd", {"S": "x", "N": "1"}), "InvalidAttributeError", id="two-types"
        ),
    ],
)
def test_broadcast_fails_a_poison_record_alone_and_logs_it_once(
    aws,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    break_record,
    error,
):
    broadcast = load_function(PATTERN, "broadcast")
    put_connection("c-1", "u-1")
    event = load_event(PATTERN, "toggles-stream")
    break_record(event["Records"][0])
    response = broadcast.handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678901"}]}
    assert delivered() == {"c-1": NEW_CHECKOUT}
    assert errors(capsys.readouterr().out, "eventID") == [
        {
            "message": "Toggle change not broadcast",
            "exception_name": error,
            "eventID": TOGGLE_EVENT_IDS[0],
        }
    ]


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_broadcast_logs_the_attribute_path_of_a_bad_number(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    broadcast = load_function(PATTERN, "broadcast")
    event = load_event(PATTERN, "toggles-stream")
    event["Records"] = event["Records"][:1]
    event["Records"][0]["dynamodb"]["NewImage"]["rules"] = {
        "M": {"weights": {"L": [{"N": "1"}, {"N": "1e"}]}}
    }
    response = broadcast.handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678901"}]}
    (record,) = [r for r in logged(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert record["exception"].endswith("attribute 'rules.weights[1]': invalid number '1e'")


CONNECTION_EVENT_ID = "1f0e3dad99908345f7439f8ffabdffc4"
A_FLAG_SNAPSHOT = (
    b'{"type":"snapshot","toggles":[{"featureId":"a-flag","name":"A","isActive":true}]}'
)


def second_insert(event: dict[str, Any]) -> dict[str, Any]:
    """A well-formed INSERT for connection `Other=`, to show the batch goes on."""
    record = json.loads(json.dumps(event["Records"][0]))
    record["eventID"] = "second-insert"
    record["dynamodb"]["Keys"]["connectionId"]["S"] = "Other="
    record["dynamodb"]["NewImage"]["connectionId"]["S"] = "Other="
    record["dynamodb"]["SequenceNumber"] = "222400000000012345678904"
    return record


@pytest.mark.parametrize(
    ("break_record", "error"),
    [
        pytest.param(lambda r: r["dynamodb"].pop("NewImage"), "InvalidRecordError", id="no-image"),
        pytest.param(
            lambda r: r["dynamodb"]["NewImage"].pop("connectionId"),
            "InvalidRecordError",
            id="no-connection-id",
        ),
        pytest.param(
            _set_attribute("connectionId", {"N": "1"}), "InvalidRecordError", id="id-a-number"
        ),
        pytest.param(_set_image(["x"]), "InvalidAttributeError", id="image-not-a-map"),
        pytest.param(
            _set_attribute("expiresAt", {"N": "soon"}), "InvalidAttributeError", id="bad-number"
        ),
        pytest.param(lambda r: r.pop("eventName"), "InvalidRecordError", id="no-event-name"),
    ],
)
def test_snapshot_fails_a_poison_record_alone_and_logs_it_once(
    aws,
    load_function: LoadFunction,
    load_event: LoadEvent,
    lambda_context,
    capsys,
    break_record,
    error,
):
    snapshot = load_function(PATTERN, "snapshot")
    table(TOGGLES).put_item(Item={"featureId": "a-flag", "name": "A", "isActive": True})
    event = load_event(PATTERN, "connections-stream")
    event["Records"].append(second_insert(event))
    break_record(event["Records"][0])
    response = snapshot.handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "222100000000012345678901"}]}
    assert delivered() == {"Other=": A_FLAG_SNAPSHOT}
    assert errors(capsys.readouterr().out, "eventID", "connectionId") == [
        {
            "message": "Snapshot not sent",
            "exception_name": error,
            "eventID": CONNECTION_EVENT_ID,
            "connectionId": None,
        }
    ]


def test_snapshot_logs_a_connection_that_is_not_open_yet(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    snapshot = load_function(PATTERN, "snapshot")
    put_connection("CjPZpeSfDoECGrg=", "u-3f9c2a7e41b8")
    with gone(snapshot.sender.client, {"CjPZpeSfDoECGrg="}):
        response = snapshot.handler(load_event(PATTERN, "connections-stream"), lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "222100000000012345678901"}]}
    assert errors(capsys.readouterr().out, "eventID", "connectionId") == [
        {
            "message": "Snapshot not sent",
            "exception_name": "ConnectionNotReadyError",
            "eventID": CONNECTION_EVENT_ID,
            "connectionId": "CjPZpeSfDoECGrg=",
        }
    ]


def test_snapshot_decodes_every_attribute_and_leaves_out_a_broken_toggle(
    aws, load_function: LoadFunction, load_event: LoadEvent, lambda_context, capsys
):
    snapshot = load_function(PATTERN, "snapshot")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.put_item(
        TableName=TOGGLES,
        Item={
            "featureId": {"S": "a-flag"},
            "name": {"S": "A"},
            "isActive": {"BOOL": True},
            "icon": {"B": b"\x89PNG"},
            "variants": {"BS": [b"\x01", b"\x02"]},
            "rollout": {"N": "12345678901234567890.123456789"},
        },
    )
    dynamodb.put_item(
        TableName=TOGGLES,
        Item={"featureId": {"S": "broken"}, "isActive": {"S": "yes"}},
    )
    response = snapshot.handler(load_event(PATTERN, "connections-stream"), lambda_context)
    assert response == {"batchItemFailures": []}
    assert delivered() == {"CjPZpeSfDoECGrg=": A_FLAG_SNAPSHOT}
    assert errors(capsys.readouterr().out, "featureId") == [
        {
            "message": "Toggle left out of snapshots",
            "exception_name": "InvalidToggleError",
            "featureId": "broken",
        }
    ]


# --- packaging -----------------------------------------------------------------------------


def test_every_module_a_handler_imports_is_in_its_zip(build):
    """The component's zip carries each shared module its handlers import (`ddb_json` too)."""
    functions_dir = Path(__file__).resolve().parents[2] / "functions"
    plan = build(lambda: WebSocketApi("ws", WebSocketApiArgs(feature_toggles=True)))
    handlers = {f.inputs["handler"]: f.inputs["code"].path for f in plan.of_type(FUNCTION)}
    assert set(handlers) == {
        "connect.handler",
        "disconnect.handler",
        "default.handler",
        "broadcast.handler",
        "snapshot.handler",
    }
    for zip_path in set(handlers.values()):
        with zipfile.ZipFile(zip_path) as archive:
            modules = {n.removesuffix(".py") for n in archive.namelist() if n.endswith(".py")}
            imported = set()
            for name in archive.namelist():
                if name.endswith(".py"):
                    for node in ast.walk(ast.parse(archive.read(name))):
                        if isinstance(node, ast.Import):
                            imported |= {a.name.split(".")[0] for a in node.names}
                        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                            imported.add(node.module.split(".")[0])
        missing = set()
        for name in sorted(imported - modules):
            spec = importlib.util.find_spec(name)
            origin = Path(spec.origin).resolve() if spec and spec.origin else None
            if spec is None or (origin and origin.is_relative_to(functions_dir)):
                missing.add(name)
        assert {"ddb_json", "toggles", "ws_sender", "ws_registry"} <= modules
        assert missing == set()
