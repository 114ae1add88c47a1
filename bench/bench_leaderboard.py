"""leaderboard: 100,000 score events through the tumbling-window aggregator, writes counted.

Events per second and ranked-table writes, against moto DynamoDB in process.

The events are real-shaped Kinesis records (base64 JSON) on 2 shards, 10 boards per shard
and 200 players per board, 10,000 events per window per shard (5 windows each), delivered
in batches of 1,000: the mapping's default batch size. Each invocation is the real
`aggregate.handler` (Powertools and all), handed the state the previous one returned after
a JSON round trip, as Lambda does; the last batch of each window is the final invocation.

Writes are counted where they leave the function: every put request of every
BatchWriteItem call its boto3 client sends (a botocore hook). The run is checked: the puts
equal the distinct (shard, window, board, player) tuples computed from the events (the
least any per-window ranking can write), the table holds each player's best score of the
last window they scored in, and replaying a final invocation leaves the table unchanged.

The baseline, measured in the same run, is the write-per-event design the window replaces:
one PutItem per event (a keyed overwrite of the player's best) on the first 2,000 events.
Figures are moto's (an in-process interpreter), so compare the rows, not DynamoDB.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from bench.timing import ROOT

EVENTS = 100_000
SHARDS = 2
BOARDS_PER_SHARD = 10
PLAYERS_PER_BOARD = 200
EVENTS_PER_WINDOW = 10_000  # per shard
BATCH = 1000
BASELINE_EVENTS = 2000
REGION = "eu-west-1"
TABLE = "bench-leaderboard-ranked"
FOLDER = ROOT / "functions" / "leaderboard"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:123456789012:stream/bench-scores"


@dataclass
class Context:
    """The attributes Powertools reads from the Lambda context object."""

    function_name: str = "bench-aggregate"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:bench-aggregate"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "bench"
    log_group_name: str = "/aws/lambda/bench-aggregate"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass(frozen=True)
class Score:
    shard: int
    window: int
    board: str
    player: str
    score: int


def generate() -> list[Score]:
    """EVENTS score events, shard by shard and window by window, deterministic."""
    rng = random.Random(7)
    per_shard = EVENTS // SHARDS
    events = []
    for shard in range(SHARDS):
        boards = [f"race-{shard}-{b}" for b in range(BOARDS_PER_SHARD)]
        for n in range(per_shard):
            board = rng.choice(boards)
            player = f"rider-{rng.randrange(PLAYERS_PER_BOARD):03d}"
            events.append(Score(shard, n // EVENTS_PER_WINDOW, board, player, rng.randrange(10**6)))
    return events


def record(event: Score, sequence: int) -> dict[str, Any]:
    data = {"boardId": event.board, "playerId": event.player, "score": event.score}
    seq = f"4965611723480574391922784391712345678901234{sequence:013d}"
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": event.board,
            "sequenceNumber": seq,
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "approximateArrivalTimestamp": 1772355600.0 + sequence / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-{event.shard:012d}:{seq}",
        "eventName": "aws:kinesis:record",
        "eventSourceARN": STREAM_ARN,
    }


def invocations(events: list[Score]) -> list[dict[str, Any]]:
    """The tumbling-window events Lambda would send (state filled in at run time)."""
    out = []
    for shard in range(SHARDS):
        for window in sorted({e.window for e in events if e.shard == shard}):
            chosen = [
                (i, e) for i, e in enumerate(events) if (e.shard, e.window) == (shard, window)
            ]
            batches = [chosen[i : i + BATCH] for i in range(0, len(chosen), BATCH)]
            start = 1772355600 + window * 15
            for number, batch in enumerate(batches):
                out.append(
                    {
                        "Records": [record(e, i) for i, e in batch],
                        "window": {"start": _iso(start), "end": _iso(start + 15)},
                        "shardId": f"shardId-{shard:012d}",
                        "eventSourceARN": STREAM_ARN,
                        "isFinalInvokeForWindow": number == len(batches) - 1,
                        "isWindowTerminatedEarly": False,
                    }
                )
    return out


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def create_table() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")
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


def load_aggregate() -> Any:
    """The handler module, imported fresh (its client is made at import, inside the mock)."""
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    for name in ("aggregate", "board_table", "scores"):
        sys.modules.pop(name, None)
    return importlib.import_module("aggregate")


def load_scores() -> Any:
    """The items module alone: importing the handler here would bind its logger to stdout."""
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    return importlib.import_module("scores")


def table_scores() -> dict[tuple[str, str], int]:
    client = boto3.client("dynamodb", region_name=REGION)
    found: dict[tuple[str, str], int] = {}
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        for item in page["Items"]:
            found[(item["boardId"]["S"], item["playerId"]["S"])] = int(item["score"]["N"])
    return found


@dataclass
class Run:
    seconds: float
    puts: int
    calls: int


def run_aggregator(events: list[Score], calls: list[dict[str, Any]]) -> Run:
    """Every invocation through the handler, writes counted; checked against the events."""
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        create_table()
        aggregate = load_aggregate()
        counts: Counter[str] = Counter()

        def count(params: dict[str, Any], **_: Any) -> None:
            counts["calls"] += 1
            counts["puts"] += sum(len(requests) for requests in params["RequestItems"].values())

        aggregate.dynamodb.meta.events.register(
            "provide-client-params.dynamodb.BatchWriteItem", count
        )
        context = Context()
        state: Any = {}
        last_final: tuple[dict[str, Any], Any] | None = None
        began = time.perf_counter()
        for call in calls:
            event = {**call, "state": state}
            response = aggregate.handler(event, context)
            if response["batchItemFailures"]:
                raise AssertionError(f"unexpected failures {response['batchItemFailures'][:3]}")
            state = (
                {} if call["isFinalInvokeForWindow"] else json.loads(json.dumps(response))["state"]
            )
            if call["isFinalInvokeForWindow"]:
                last_final = (call, event["state"])
        seconds = time.perf_counter() - began
        result = Run(seconds, counts["puts"], counts["calls"])
        _check(events, result, table_scores())
        # Replaying the last final invocation rewrites the same items: the table is unchanged.
        assert last_final is not None
        before = table_scores()
        aggregate.handler({**last_final[0], "state": last_final[1]}, context)
        if table_scores() != before:
            raise AssertionError("replaying a final invocation changed the table")
    return result


def _check(events: list[Score], run: Run, stored: dict[tuple[str, str], int]) -> None:
    pairs = {(e.shard, e.window, e.board, e.player) for e in events}
    if run.puts != len(pairs):
        raise AssertionError(f"{run.puts} puts for {len(pairs)} distinct (window, player) pairs")
    last_window: dict[tuple[str, str], int] = {}
    best: dict[tuple[int, str, str], int] = {}
    for e in events:
        key = (e.window, e.board, e.player)
        best[key] = max(best.get(key, -1), e.score)
        last_window[(e.board, e.player)] = e.window
    expected = {pair: best[(window, *pair)] for pair, window in last_window.items()}
    if stored != expected:
        raise AssertionError(f"table holds {len(stored)} entries, expected {len(expected)}")


def run_baseline(events: list[Score]) -> float:
    """One PutItem per event: the design without a window."""
    with mock_aws():
        create_table()
        client = boto3.client("dynamodb", region_name=REGION)
        scores = load_scores()
        began = time.perf_counter()
        for e in events:
            client.put_item(
                TableName=TABLE, Item=scores.entry_item(e.board, e.player, e.score, "baseline")
            )
        return time.perf_counter() - began


def run() -> list[str]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", REGION),
        ("TABLE_NAME", TABLE),
        ("POWERTOOLS_TRACE_DISABLED", "1"),
        ("POWERTOOLS_SERVICE_NAME", "bench-leaderboard"),
        ("POWERTOOLS_METRICS_NAMESPACE", "Bench"),
    ):
        os.environ.setdefault(name, value)
    events = generate()
    calls = invocations(events)
    baseline_s = run_baseline(events[:BASELINE_EVENTS])
    result = run_aggregator(events, calls)
    pairs = result.puts
    base_rate = BASELINE_EVENTS / baseline_s
    rate = EVENTS / result.seconds
    return [
        f"{EVENTS:,} events, {SHARDS} shards x {EVENTS // SHARDS // EVENTS_PER_WINDOW} windows, "
        f"batches of {BATCH}, {len(calls)} invocations (writes counted at the client, checked)",
        f"  {'baseline: one PutItem per event':<44} {base_rate:9,.0f} events/s   "
        f"1.000 writes/event ({BASELINE_EVENTS:,}-event sample)",
        f"  {'tumbling-window aggregator':<44} {rate:9,.0f} events/s   "
        f"{pairs / EVENTS:.3f} writes/event",
        f"  writes: {pairs:,} puts in {result.calls:,} BatchWriteItem calls = the distinct "
        f"(window, player) pairs; per-event writes would be {EVENTS:,} "
        f"({EVENTS / pairs:.1f}x more); throughput {rate / base_rate:.1f}x the baseline",
    ]
