"""leaderboard handlers against moto DynamoDB: the tumbling-window contract (state carried
between invocations, one write per (board, player) at the window's end, idempotent replays),
malformed records as batch item failures, UnprocessedItems retries, final results and the
ranking API."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

TABLE = "leaderboard-ranked"
SLUG = "leaderboard"
FINAL_SEQ = "49656117234805743919227843917123456789012345678901230007"


def create_table() -> None:
    """The ranked table as the component makes it (keys, byScore index)."""
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byScore",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("QUERY_LIMIT_MAX", "50")
    with mock_aws():
        create_table()
        yield


def counted(module):
    """Count the item puts the module's client sends (every BatchWriteItem and PutItem)."""
    puts: list[str] = []

    def count(params, **_):
        for requests in params.get("RequestItems", {}).values():
            puts.extend(r["PutRequest"]["Item"]["sk"]["S"] for r in requests)
        if "Item" in params:
            puts.append(params["Item"]["sk"]["S"])

    module.dynamodb.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", count)
    module.dynamodb.meta.events.register("provide-client-params.dynamodb.PutItem", count)
    return puts


@pytest.fixture
def load_aggregate(aws, load_function):
    """Loads the aggregator with its puts counted (call it in the test when it reads log
    lines: a module loaded during setup logs to setup's capture)."""

    def load():
        module = load_function(SLUG, "aggregate")
        module.puts = counted(module)
        return module

    return load


@pytest.fixture
def aggregate(load_aggregate):
    return load_aggregate()


def table_items() -> dict[tuple[str, str], dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def scores_in_table() -> dict[tuple[str, str], int]:
    return {
        (item["boardId"]["S"], item["playerId"]["S"]): int(item["score"]["N"])
        for item in table_items().values()
        if item["sk"]["S"].startswith("entry#")
    }


def through_lambda(response: dict[str, Any]) -> Any:
    """The state as Lambda hands it to the next invocation: JSON on the wire."""
    return json.loads(json.dumps(response["state"]))


def run_window(aggregate, load_event, context) -> list[dict[str, Any]]:
    """first -> next -> final, each handed the state the previous one returned."""
    responses = []
    state: Any = {}
    for name in ("window-first", "window-next", "window-final"):
        event = load_event(SLUG, name)
        event["state"] = state
        response = aggregate.handler(event, context)
        responses.append(response)
        state = through_lambda(response)
    return responses


def log_records(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if "level" in line]


def kinesis_record(sequence: str, data: Any, *, raw: bool = False) -> dict[str, Any]:
    text = data if raw else base64.b64encode(json.dumps(data).encode()).decode()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "race-42",
            "sequenceNumber": sequence,
            "data": text,
            "approximateArrivalTimestamp": 1772355600.5,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/leaderboard-scores",
    }


# The tumbling-window contract ------------------------------------------------------------


def test_state_is_carried_forward_and_written_once_at_the_windows_end(
    aggregate, load_event, lambda_context
):
    first, second, final = run_window(aggregate, load_event, lambda_context)
    assert first == {
        "state": {
            "v": 1,
            "boards": {"race-42": {"rider-7": 1500, "rider-9": 900}, "race-43": {"rider-7": 300}},
        },
        "batchItemFailures": [],
    }
    # Non-final invocations only carry state: nothing is written before the window ends.
    assert second["state"]["boards"]["race-42"] == {"rider-7": 1500, "rider-9": 1700}
    assert second["batchItemFailures"] == []
    # The final invocation writes and still returns the state (Lambda needs it).
    assert final["state"]["boards"] == {
        "race-42": {"rider-3": 800, "rider-7": 1500, "rider-9": 1700},
        "race-43": {"rider-7": 300},
    }
    assert final["batchItemFailures"] == []
    assert scores_in_table() == {
        ("race-42", "rider-3"): 800,
        ("race-42", "rider-7"): 1500,
        ("race-42", "rider-9"): 1700,
        ("race-43", "rider-7"): 300,
    }
    # 7 score events, 4 distinct (board, player) pairs: 4 puts, each pair once.
    assert sorted(aggregate.puts) == sorted(
        ["entry#rider-3", "entry#rider-7", "entry#rider-9", "entry#rider-7"]
    )
    item = table_items()[("board#race-42", "entry#rider-9")]
    assert item["gsi1pk"] == {"S": "board#race-42"}
    assert item["gsi1sk"] == {"S": "000000000001700"}
    assert item["windowEnd"] == {"S": "2026-03-01T09:00:15Z"}


def test_replaying_the_final_invocation_changes_nothing(aggregate, load_event, lambda_context):
    responses = run_window(aggregate, load_event, lambda_context)
    before = table_items()
    final = load_event(SLUG, "window-final")
    final["state"] = through_lambda(responses[1])
    replay = aggregate.handler(final, lambda_context)
    assert replay == responses[2]
    assert table_items() == before  # same keys, same values: no double count
    assert len(aggregate.puts) == 8  # the replay rewrote the same 4 items


def test_records_replayed_into_the_same_window_are_not_counted_twice(
    aggregate, load_event, lambda_context
):
    first = load_event(SLUG, "window-first")
    state = through_lambda(aggregate.handler(copy.deepcopy(first), lambda_context))
    first["state"] = state
    again = aggregate.handler(first, lambda_context)  # Lambda retried the same records
    assert again["state"] == state


def test_an_empty_final_invocation_writes_the_state(aggregate, load_event, lambda_context):
    state = through_lambda(aggregate.handler(load_event(SLUG, "window-first"), lambda_context))
    final = load_event(SLUG, "window-final")
    final["Records"], final["state"] = [], state
    response = aggregate.handler(final, lambda_context)
    assert response == {"state": state, "batchItemFailures": []}
    assert scores_in_table() == {
        ("race-42", "rider-7"): 1500,
        ("race-42", "rider-9"): 900,
        ("race-43", "rider-7"): 300,
    }


def test_a_window_terminated_early_is_written(aggregate, load_event, lambda_context):
    event = load_event(SLUG, "window-next")
    event["state"] = through_lambda(
        aggregate.handler(load_event(SLUG, "window-first"), lambda_context)
    )
    event["isWindowTerminatedEarly"] = True
    response = aggregate.handler(event, lambda_context)
    assert response["state"]["boards"]["race-42"] == {"rider-7": 1500, "rider-9": 1700}
    assert scores_in_table()[("race-42", "rider-9")] == 1700
    assert len(aggregate.puts) == 3


def test_a_state_past_its_budget_is_written_and_the_window_goes_on_empty(
    load_aggregate, load_event, lambda_context, capsys, monkeypatch
):
    aggregate = load_aggregate()
    players = {f"player-{n:04d}": n for n in range(100)}
    state = {"v": 1, "boards": {"race-42": players}}
    size = aggregate.scores.state_size(state)
    # The budget sits between this state and the same state plus the batch's new player.
    monkeypatch.setattr(aggregate.scores, "STATE_BUDGET_BYTES", size + 5)
    event = load_event(SLUG, "window-next")
    event["state"] = state
    response = aggregate.handler(event, lambda_context)
    assert response == {"state": {"v": 1, "boards": {}}, "batchItemFailures": []}
    assert len(aggregate.puts) == 102  # every pair written, none lost
    assert scores_in_table()[("race-42", "rider-9")] == 1700
    warnings = [r for r in log_records(capsys.readouterr().out) if r["level"] == "WARNING"]
    assert [w["pairs"] for w in warnings] == [102]


def test_the_state_budget_is_below_lambdas_limit_as_lambda_measures_it(load_function):
    scores = load_function(SLUG, "scores")
    assert scores.STATE_BUDGET_BYTES < scores.STATE_LIMIT_BYTES == 1_000_000
    state = {"v": 1, "boards": {"b": {"é": 1}}}
    assert scores.state_size(state) >= len('{"v":1,"boards":{"b":{"é":1}}}'.encode())


# Malformed input ---------------------------------------------------------------------------


def test_malformed_records_are_batch_item_failures_and_logged(
    load_aggregate, load_event, lambda_context, capsys
):
    aggregate = load_aggregate()
    event = load_event(SLUG, "window-malformed")
    response = aggregate.handler(event, lambda_context)
    bad = [r["kinesis"]["sequenceNumber"] for r in event["Records"][1:-1]]
    assert response["batchItemFailures"] == [{"itemIdentifier": s} for s in bad]
    # The valid records around them are merged (merging them again on the retry is a no-op).
    assert response["state"]["boards"] == {"race-42": {"rider-1": 100, "rider-2": 400}}
    errors = [r for r in log_records(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert [e["sequenceNumber"] for e in errors] == bad
    reasons = [e["reason"] for e in errors]
    assert reasons[:3] == [
        "kinesis.data is not base64",
        "kinesis.data is not JSON",
        "playerId must be 1-128 letters, digits or '_.:@-' (got None)",
    ]
    assert all(r.startswith("score must be") for r in reasons[3:6])
    assert reasons[6].startswith("boardId must be")
    assert reasons[7] == "data must be a JSON object (got list)"
    assert reasons[8].startswith("score must be")
    assert aggregate.puts == []  # not the window's end: nothing written


def test_a_final_invocation_with_a_malformed_record_writes_and_reports_it(
    aggregate, load_event, lambda_context
):
    event = load_event(SLUG, "window-malformed")
    event["isFinalInvokeForWindow"] = True
    response = aggregate.handler(event, lambda_context)
    assert len(response["batchItemFailures"]) == 9
    assert scores_in_table() == {("race-42", "rider-1"): 100, ("race-42", "rider-2"): 400}


def test_a_record_without_a_sequence_number_fails_the_invocation(
    aggregate, load_event, lambda_context
):
    event = load_event(SLUG, "window-final")
    del event["Records"][0]["kinesis"]["sequenceNumber"]
    with pytest.raises(ValueError) as raised:
        aggregate.handler(event, lambda_context)
    assert type(raised.value).__name__ == "UnidentifiableRecordError"
    assert aggregate.puts == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("window"), "not a tumbling-window invocation"),
        (lambda e: e["window"].pop("end"), "not a tumbling-window invocation"),
        (lambda e: e.update(state={"boards": {}}), "not a version 1 leaderboard state"),
        (lambda e: e.update(state={"v": 1, "boards": []}), "boards must map board ids"),
    ],
)
def test_an_event_outside_the_window_contract_fails_loudly(
    aggregate, load_event, lambda_context, change, message
):
    event = load_event(SLUG, "window-final")
    change(event)
    with pytest.raises(ValueError, match=message):
        aggregate.handler(event, lambda_context)
    assert aggregate.puts == []


def test_an_empty_batch_returns_the_state_untouched(aggregate, load_event, lambda_context):
    event = load_event(SLUG, "window-next")
    event["Records"], event["state"] = [], {"v": 1, "boards": {"race-1": {"a": 3}}}
    assert aggregate.handler(event, lambda_context) == {
        "state": {"v": 1, "boards": {"race-1": {"a": 3}}},
        "batchItemFailures": [],
    }


# UnprocessedItems --------------------------------------------------------------------------


def final_event(load_event, pairs: int) -> dict[str, Any]:
    event = load_event(SLUG, "window-final")
    event["Records"] = []
    event["state"] = {"v": 1, "boards": {"race-42": {f"p{n:02d}": n for n in range(pairs)}}}
    return event


def test_unprocessed_items_are_retried_with_backoff(
    aggregate, load_event, lambda_context, monkeypatch
):
    event = final_event(load_event, 30)  # two calls: 25 + 5
    items = aggregate.scores.window_items(event["state"], "2026-03-01T09:00:15Z")
    delays: list[float] = []
    monkeypatch.setattr(aggregate.board_table.time, "sleep", delays.append)

    def request(chunk):
        return {"RequestItems": {TABLE: [{"PutRequest": {"Item": i}} for i in chunk]}}

    def unprocessed(chunk):
        return {"UnprocessedItems": request(chunk)["RequestItems"]}

    with Stubber(aggregate.dynamodb) as stub:
        stub.add_response("batch_write_item", unprocessed(items[20:25]), request(items[:25]))
        stub.add_response("batch_write_item", unprocessed(items[23:25]), request(items[20:25]))
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, request(items[23:25]))
        stub.add_response("batch_write_item", {}, request(items[25:]))
        response = aggregate.handler(event, lambda_context)
        stub.assert_no_pending_responses()
    assert response["state"] == event["state"]
    assert len(delays) == 2 and all(0 <= d <= 2.0 for d in delays)


def test_items_dynamodb_keeps_refusing_fail_the_invocation(
    aggregate, load_event, lambda_context, monkeypatch
):
    event = final_event(load_event, 3)
    items = aggregate.scores.window_items(event["state"], "2026-03-01T09:00:15Z")
    monkeypatch.setattr(aggregate.board_table.time, "sleep", lambda _: None)
    refused = {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": items[0]}}]}}
    with Stubber(aggregate.dynamodb) as stub:
        for _ in range(aggregate.board_table.MAX_ATTEMPTS):
            stub.add_response("batch_write_item", refused)
        with pytest.raises(aggregate.board_table.UnprocessedItemsError, match="1 items still"):
            aggregate.handler(event, lambda_context)


# Pure merge properties ---------------------------------------------------------------------

_events = st.lists(
    st.tuples(st.sampled_from("ab"), st.sampled_from("xyz"), st.integers(0, 10**15 - 1)),
    max_size=40,
)


def _scores_module():
    """The pure `scores` module on its own (it imports nothing of its folder)."""
    path = Path(__file__).resolve().parents[2] / "functions" / "leaderboard" / "scores.py"
    spec = importlib.util.spec_from_file_location("leaderboard_scores", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SCORES = _scores_module()


@given(_events, st.randoms())
def test_merging_is_order_free_and_idempotent(events, rng):
    scores = SCORES
    typed = [scores.ScoreEvent(b, p, s) for b, p, s in events]
    expected: dict[str, dict[str, int]] = {}
    for b, p, s in events:
        expected.setdefault(b, {})[p] = max(s, expected.get(b, {}).get(p, -1))
    shuffled = typed * 2
    rng.shuffle(shuffled)
    assert scores.merge(scores.empty_state(), shuffled)["boards"] == expected
    items = scores.window_items({"boards": expected}, "end")
    keys = [i["gsi1sk"]["S"] for i in items]
    assert all(len(k) == 15 and int(k) >= 0 for k in keys)


# Final results ----------------------------------------------------------------------------


@pytest.fixture
def load_final_results(aws, load_function):
    def load():
        module = load_function(SLUG, "final_results")
        module.puts = counted(module)
        return module

    return load


@pytest.fixture
def final_results(load_final_results):
    return load_final_results()


def test_final_results_are_put_once_per_player_and_bad_records_reported(
    load_final_results, load_event, lambda_context, capsys
):
    final_results = load_final_results()
    event = load_event(SLUG, "final-results")
    response = final_results.handler(event, lambda_context)
    bad = event["Records"][2]["kinesis"]["sequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": bad}]}
    items = table_items()
    assert {k: int(v["score"]["N"]) for k, v in items.items()} == {
        ("board#race-42", "final#rider-7"): 2100,
        ("board#race-42", "final#rider-9"): 1900,
    }
    assert items[("board#race-42", "final#rider-7")]["gsi1pk"] == {"S": "board#race-42#final"}
    errors = [r for r in log_records(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert [(e["sequenceNumber"], e["reason"]) for e in errors] == [
        (bad, "boardId must be 1-128 letters, digits or '_.:@-' (got None)")
    ]
    # A replay rewrites the same items.
    final_results.handler(load_event(SLUG, "final-results"), lambda_context)
    assert table_items() == items
    assert final_results.puts.count("final#rider-7") == 2


def test_a_batch_of_only_bad_records_is_answered_not_raised(final_results, lambda_context):
    event = {"Records": [kinesis_record("1001", "bad", raw=True), kinesis_record("1002", 7)]}
    response = final_results.handler(event, lambda_context)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "1001"}, {"itemIdentifier": "1002"}]
    }
    assert final_results.puts == []


def test_an_empty_final_results_batch_writes_nothing(final_results, lambda_context):
    assert final_results.handler({"Records": []}, lambda_context) == {"batchItemFailures": []}


# Ranking API -------------------------------------------------------------------------------


@pytest.fixture
def query(aws, load_function):
    client = boto3.client("dynamodb")
    scores = load_function(SLUG, "scores")
    board = {f"rider-{n}": n * 100 for n in range(1, 8)}
    for player, score in board.items():
        client.put_item(TableName=TABLE, Item=scores.entry_item("race-42", player, score, "end"))
    client.put_item(TableName=TABLE, Item=scores.entry_item("race-43", "rider-9", 99_999, "end"))
    final = scores.final_item(scores.ScoreEvent("race-42", "rider-1", 5000, True), "7")
    client.put_item(TableName=TABLE, Item=final)
    return load_function(SLUG, "query")


def call(query, load_event, lambda_context, params: dict[str, str] | None, path="race-42"):
    event = load_event(SLUG, "api-get-board")
    event["queryStringParameters"] = params
    event["path"] = f"/boards/{path}"
    event["pathParameters"] = {"id": path}
    response = query.handler(event, lambda_context)
    return response["statusCode"], json.loads(response["body"])


def test_the_top_n_is_descending_and_paginates(query, load_event, lambda_context):
    status, page = call(query, load_event, lambda_context, {"limit": "3"})
    assert status == 200
    assert page["boardId"] == "race-42" and page["view"] == "live"
    assert page["entries"] == [
        {"playerId": "rider-7", "score": 700},
        {"playerId": "rider-6", "score": 600},
        {"playerId": "rider-5", "score": 500},
    ]
    seen = [e["playerId"] for e in page["entries"]]
    while page["next"]:
        status, page = call(query, load_event, lambda_context, {"limit": "3", "next": page["next"]})
        assert status == 200
        seen += [e["playerId"] for e in page["entries"]]
    assert seen == [f"rider-{n}" for n in range(7, 0, -1)]  # no other board, no final result


def test_the_final_view_ranks_final_results(query, load_event, lambda_context):
    status, page = call(query, load_event, lambda_context, {"view": "final"})
    assert (status, page["entries"], page["next"]) == (
        200,
        [{"playerId": "rider-1", "score": 5000}],
        None,
    )


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"limit": "0"}, "race-42", "limit must be a whole number from 1 to 50"),
        ({"limit": "51"}, "race-42", "limit must be a whole number from 1 to 50"),
        ({"limit": "ten"}, "race-42", "limit must be a whole number from 1 to 50"),
        ({"view": "weekly"}, "race-42", "view must be one of live, final"),
        ({"next": "!!!"}, "race-42", "next is not a page token"),
        ({"next": "e30"}, "race-42", "next is not a page token of this board"),
        (None, "race%2042", "board id must be 1-128 letters"),
    ],
)
def test_bad_parameters_are_a_400_that_says_which(
    query, load_event, lambda_context, params, path, message
):
    status, body = call(query, load_event, lambda_context, params, path)
    assert status == 400
    assert body["message"].startswith(message)


def test_a_token_of_another_board_is_refused(query, load_event, lambda_context):
    _, page = call(query, load_event, lambda_context, {"limit": "1"})
    status, body = call(query, load_event, lambda_context, {"next": page["next"]}, "race-43")
    assert (status, body["message"]) == (400, "next is not a page token of this board")
