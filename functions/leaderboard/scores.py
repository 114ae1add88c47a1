"""Score events -> one tumbling window's state -> ranked-table items (pure logic, no AWS calls).

A score event is a Kinesis record whose data is the JSON object
`{"boardId": "race-42", "playerId": "rider-7", "score": 1234, "final": false}` (producers
use the board id as the partition key, so one board's events stay ordered on one shard).
`score` is the player's running score on the board, a whole number from 0 to MAX_SCORE.

The window's state is `{"v": 1, "boards": {board: {player: best score}}}`: merging takes the
maximum, so a record merged twice (Lambda retries and replays records) changes nothing.
At the window's end every (board, player) of the state becomes one item, whose key and
content depend only on the state and the window, so writing it again is a no-op overwrite.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

STATE_VERSION: Final = 1
MAX_SCORE: Final = 10**15 - 1  # 15 digits: the byScore sort key is the zero-padded score
SCORE_DIGITS: Final = 15
# Lambda ends a window early when the returned state passes 1 MB; the aggregator flushes
# itself below that, so it never hands Lambda a state Lambda would refuse.
STATE_LIMIT_BYTES: Final = 1_000_000
STATE_BUDGET_BYTES: Final = 900_000
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class MalformedRecordError(ValueError):
    """A record whose data is not a score event: reported as a batch item failure."""


class UnidentifiableRecordError(ValueError):
    """A record without a sequence number: no batch item failure can name it, so the
    invocation fails and the mapping bisects the batch until the record is alone."""


@dataclass(frozen=True)
class ScoreEvent:
    board_id: str
    player_id: str
    score: int
    final: bool = False


@dataclass(frozen=True)
class Rejected:
    """A record that is not a score event, and why."""

    sequence_number: str
    reason: str


# Records -----------------------------------------------------------------------------------


def sequence_number(record: Any) -> str:
    kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
    number = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    if not isinstance(number, str) or not number.isdigit():
        event_id = record.get("eventID") if isinstance(record, Mapping) else None
        raise UnidentifiableRecordError(f"Kinesis record {event_id!r} has no sequence number")
    return number


def check_id(value: Any, name: str) -> str:
    """A board or player id; MalformedRecordError names the field otherwise."""
    if not isinstance(value, str) or not _ID.match(value):
        raise MalformedRecordError(
            f"{name} must be 1-128 letters, digits or '_.:@-' (got {value!r:.60})"
        )
    return value


def parse_score(document: Any) -> ScoreEvent:
    """The score event in a decoded JSON document; MalformedRecordError says what is wrong."""
    if not isinstance(document, Mapping):
        raise MalformedRecordError(f"data must be a JSON object (got {type(document).__name__})")
    board_id = check_id(document.get("boardId"), "boardId")
    player_id = check_id(document.get("playerId"), "playerId")
    score = document.get("score")
    # bool is an int to Python, never to a producer; floats would round in the sort key.
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= MAX_SCORE:
        raise MalformedRecordError(
            f"score must be a whole number from 0 to {MAX_SCORE} (got {score!r:.40})"
        )
    final = document.get("final", False)
    if not isinstance(final, bool):
        raise MalformedRecordError(f"final must be true or false (got {final!r:.20})")
    return ScoreEvent(board_id, player_id, score, final)


def decode(record: Mapping[str, Any]) -> ScoreEvent:
    """The score event a Kinesis record carries (base64 JSON in `kinesis.data`)."""
    data = record["kinesis"].get("data")
    if not isinstance(data, str):
        raise MalformedRecordError("kinesis.data is missing")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedRecordError("kinesis.data is not base64") from None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise MalformedRecordError("kinesis.data is not JSON") from None
    return parse_score(document)


def decode_batch(records: Iterable[Any]) -> tuple[list[ScoreEvent], list[Rejected]]:
    """Every record's score event, and the records that are not score events.

    UnidentifiableRecordError (a record without a sequence number) is raised before any
    record is looked at, so a batch is either read whole or fails whole.
    """
    batch = list(records)
    numbers = [sequence_number(record) for record in batch]
    events: list[ScoreEvent] = []
    rejected: list[Rejected] = []
    for record, number in zip(batch, numbers, strict=True):
        try:
            events.append(decode(record))
        except MalformedRecordError as error:
            rejected.append(Rejected(number, str(error)))
    return events, rejected


# Window state ------------------------------------------------------------------------------


def window_bounds(event: Mapping[str, Any]) -> tuple[str, str]:
    """The window's (start, end); an event without them is not from a tumbling-window
    mapping (a misconfigured mapping must fail loudly, not write unbounded windows)."""
    window = event.get("window")
    start = window.get("start") if isinstance(window, Mapping) else None
    end = window.get("end") if isinstance(window, Mapping) else None
    if not isinstance(start, str) or not isinstance(end, str):
        raise ValueError("event has no window {start, end}: not a tumbling-window invocation")
    return start, end


def empty_state() -> dict[str, Any]:
    return {"v": STATE_VERSION, "boards": {}}


def read_state(state: Any) -> dict[str, Any]:
    """The state Lambda handed back (`{}` on a window's first invocation), checked."""
    if state in (None, {}):
        return empty_state()
    boards = state.get("boards") if isinstance(state, Mapping) else None
    if not isinstance(state, Mapping) or state.get("v") != STATE_VERSION:
        raise ValueError(f"window state is not a version {STATE_VERSION} leaderboard state")
    if not isinstance(boards, Mapping) or not all(
        isinstance(players, Mapping) for players in boards.values()
    ):
        raise ValueError("window state boards must map board ids to {player: score}")
    return {"v": STATE_VERSION, "boards": {b: dict(p) for b, p in boards.items()}}


def merge(state: dict[str, Any], events: Iterable[ScoreEvent]) -> dict[str, Any]:
    """`state` with every event merged in, best score per (board, player) (in place)."""
    boards: dict[str, dict[str, int]] = state["boards"]
    for event in events:
        players = boards.setdefault(event.board_id, {})
        best = players.get(event.player_id)
        if best is None or event.score > best:
            players[event.player_id] = event.score
    return state


def state_size(state: Mapping[str, Any]) -> int:
    """The state's size as JSON text with non-ASCII escaped: never less than Lambda counts,
    however the runtime encodes the response."""
    return len(json.dumps(state, separators=(",", ":")).encode("utf-8"))


def pair_count(state: Mapping[str, Any]) -> int:
    return sum(len(players) for players in state["boards"].values())


# Items --------------------------------------------------------------------------------------


def board_key(board_id: str) -> str:
    return f"board#{board_id}"


def score_key(score: int) -> str:
    """The byScore sort key: zero-padded, so text order is score order."""
    return f"{score:0{SCORE_DIGITS}d}"


def entry_item(board_id: str, player_id: str, score: int, window_end: str) -> dict[str, Any]:
    """The live ranking item of one player on one board, in DynamoDB JSON."""
    return {
        "pk": {"S": board_key(board_id)},
        "sk": {"S": f"entry#{player_id}"},
        "gsi1pk": {"S": board_key(board_id)},
        "gsi1sk": {"S": score_key(score)},
        "boardId": {"S": board_id},
        "playerId": {"S": player_id},
        "score": {"N": str(score)},
        "windowEnd": {"S": window_end},
    }


def window_items(state: Mapping[str, Any], window_end: str) -> list[dict[str, Any]]:
    """One entry item per (board, player) of the window, in a stable order."""
    return [
        entry_item(board, player, int(score), window_end)
        for board, players in sorted(state["boards"].items())
        for player, score in sorted(players.items())
    ]


def final_board_key(board_id: str) -> str:
    return f"board#{board_id}#final"


def final_item(event: ScoreEvent, sequence: str) -> dict[str, Any]:
    """A player's final result on a board, in DynamoDB JSON; ranked under its own byScore
    partition, so final standings never mix with live ones."""
    return {
        "pk": {"S": board_key(event.board_id)},
        "sk": {"S": f"final#{event.player_id}"},
        "gsi1pk": {"S": final_board_key(event.board_id)},
        "gsi1sk": {"S": score_key(event.score)},
        "boardId": {"S": event.board_id},
        "playerId": {"S": event.player_id},
        "score": {"N": str(event.score)},
        "sequenceNumber": {"S": sequence},
    }
