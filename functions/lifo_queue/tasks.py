"""Data access for LIFO tasks: every status change is one conditional write.

An item: `taskId` (key), `taskStatus`, `createdAt` (epoch ms, the `byStatus` index's sort
key, so a descending query is newest first), `updatedAt` (epoch ms), `payload` (JSON text,
so numbers round-trip exactly), `expiresAt` (epoch s, the table's TTL), `attempts`, and
while TAKEN: `claimToken` (who holds the claim) and `claimExpiresAt` (epoch ms, the lease).

Transitions, each guarded by a condition expression so concurrent processors can never
both win one task:

  PENDING --claim--> TAKEN --complete--> SUCCESS | FAILURE
                     TAKEN --release---> PENDING   (downstream busy, retryable error)
                     TAKEN --reclaim---> PENDING   (the lease expired: the holder died)

`complete` and `release` name the claim token: a processor whose lease expired and whose
task was reclaimed (and perhaps claimed again) cannot overwrite the new holder's state.
TTL deletion is lazy (typically within days), so reads treat `expiresAt <= now` as gone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

INDEX_NAME: Final = "byStatus"
PENDING: Final = "PENDING"
TAKEN: Final = "TAKEN"
SUCCESS: Final = "SUCCESS"
FAILURE: Final = "FAILURE"
STATUSES: Final = (PENDING, TAKEN, SUCCESS, FAILURE)
_LOST_RACE = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Task:
    """A claimed task as the downstream sees it."""

    task_id: str
    payload: Any
    created_at_ms: int
    attempts: int
    claim_token: str


def _lost_race(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == _LOST_RACE


def new_item(payload: Any, *, now_ms: int, ttl_s: int, task_id: str | None = None) -> dict:
    """The PENDING item for `payload` (any JSON value)."""
    return {
        "taskId": task_id or uuid.uuid4().hex,
        "taskStatus": PENDING,
        "createdAt": now_ms,
        "updatedAt": now_ms,
        "payload": json.dumps(payload, separators=(",", ":"), sort_keys=True),
        "expiresAt": now_ms // 1000 + ttl_s,
        "attempts": 0,
    }


def put_task(
    table: Any, payload: Any, *, now_ms: int, ttl_s: int, task_id: str | None = None
) -> str:
    """Queue a task (PENDING); returns its id. A repeated id is refused, never overwritten."""
    item = new_item(payload, now_ms=now_ms, ttl_s=ttl_s, task_id=task_id)
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(taskId)")
    return str(item["taskId"])


def _pending_page(
    table: Any, *, now_ms: int, limit: int, start: Mapping[str, Any] | None, newest: bool = True
) -> tuple[list[dict[str, Any]], Mapping[str, Any] | None]:
    kwargs: dict[str, Any] = {
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "taskStatus = :pending",
        "FilterExpression": "expiresAt > :now",
        "ExpressionAttributeValues": {":pending": PENDING, ":now": now_ms // 1000},
        "ScanIndexForward": not newest,
        "Limit": limit,
    }
    if start is not None:
        kwargs["ExclusiveStartKey"] = start
    page = table.query(**kwargs)
    return list(page.get("Items", [])), page.get("LastEvaluatedKey")


def live_pending_page(
    table: Any, *, now_ms: int, limit: int, max_pages: int = 5
) -> list[dict[str, Any]]:
    """The newest live PENDING items: pages past expired ones (they sort last, being the
    oldest) for at most `max_pages` index pages."""
    start: Mapping[str, Any] | None = None
    for _ in range(max_pages):
        items, start = _pending_page(table, now_ms=now_ms, limit=limit, start=start)
        if items or start is None:
            return items
    return []


def oldest_pending_age_ms(table: Any, *, now_ms: int, max_pages: int = 5) -> int:
    """Age of the oldest live PENDING task (0 when none): what the backlog alarm watches."""
    start: Mapping[str, Any] | None = None
    for _ in range(max_pages):
        items, start = _pending_page(table, now_ms=now_ms, limit=25, start=start, newest=False)
        if items:
            return max(0, now_ms - int(items[0]["createdAt"]))
        if start is None:
            return 0
    return 0


def claim(
    table: Any, item: Mapping[str, Any], *, now_ms: int, lease_ms: int, token: str | None = None
) -> Task | None:
    """PENDING -> TAKEN for this caller, or None when another caller won the race (or the
    task expired or is gone). `item` is the task as the index read returned it; its
    immutable attributes (id, payload, createdAt) need not be read again."""
    task_id = str(item["taskId"])
    token = token or uuid.uuid4().hex
    try:
        response = table.update_item(
            Key={"taskId": task_id},
            UpdateExpression=(
                "SET taskStatus = :taken, claimToken = :token, claimExpiresAt = :until, "
                "updatedAt = :now ADD attempts :one"
            ),
            ConditionExpression="taskStatus = :pending AND expiresAt > :now_s",
            ExpressionAttributeValues={
                ":taken": TAKEN,
                ":pending": PENDING,
                ":token": token,
                ":until": now_ms + lease_ms,
                ":now": now_ms,
                ":now_s": now_ms // 1000,
                ":one": 1,
            },
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as error:
        if _lost_race(error):
            return None
        raise
    return Task(
        task_id=task_id,
        payload=json.loads(str(item["payload"])),
        created_at_ms=int(item["createdAt"]),
        attempts=int(response["Attributes"]["attempts"]),
        claim_token=token,
    )


def complete(
    table: Any,
    task: Task,
    status: str,
    *,
    now_ms: int,
    retain_s: int,
    result: Any = None,
    error: str | None = None,
) -> bool:
    """TAKEN -> SUCCESS or FAILURE, kept `retain_s` more seconds; False when the claim was
    no longer ours (it expired and was reclaimed)."""
    if status not in (SUCCESS, FAILURE):
        raise ValueError(f"status must be {SUCCESS} or {FAILURE} (got {status!r})")
    values: dict[str, Any] = {
        ":status": status,
        ":taken": TAKEN,
        ":token": task.claim_token,
        ":now": now_ms,
        ":expires": now_ms // 1000 + retain_s,
    }
    sets = ["taskStatus = :status", "updatedAt = :now", "expiresAt = :expires"]
    if result is not None:
        sets.append("#result = :result")
        values[":result"] = json.dumps(result, separators=(",", ":"), sort_keys=True)
    if error is not None:
        sets.append("#error = :error")
        values[":error"] = error[:1000]
    names = {
        name: attribute
        for name, attribute, wanted in (("#result", "result", result), ("#error", "error", error))
        if wanted is not None
    }
    return _transition(
        table,
        task.task_id,
        update=f"SET {', '.join(sets)} REMOVE claimToken, claimExpiresAt",
        condition="taskStatus = :taken AND claimToken = :token",
        values=values,
        names=names,
    )


def release(table: Any, task: Task, *, now_ms: int) -> bool:
    """TAKEN -> PENDING (the downstream was busy); False when the claim was no longer ours."""
    return _transition(
        table,
        task.task_id,
        update="SET taskStatus = :pending, updatedAt = :now REMOVE claimToken, claimExpiresAt",
        condition="taskStatus = :taken AND claimToken = :token",
        values={":pending": PENDING, ":taken": TAKEN, ":token": task.claim_token, ":now": now_ms},
    )


def reclaim_expired(table: Any, *, now_ms: int, limit: int = 100) -> list[str]:
    """Every TAKEN task whose lease has run out goes back to PENDING (its processor died or
    timed out); returns their ids. Each flip re-checks the lease, so a claim renewed or
    completed meanwhile is left alone."""
    returned: list[str] = []
    start: Mapping[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "taskStatus = :taken",
            "FilterExpression": "claimExpiresAt <= :now AND expiresAt > :now_s",
            "ExpressionAttributeValues": {
                ":taken": TAKEN,
                ":now": now_ms,
                ":now_s": now_ms // 1000,
            },
            "Limit": limit,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        page = table.query(**kwargs)
        for item in page.get("Items", []):
            task_id = str(item["taskId"])
            if _transition(
                table,
                task_id,
                update=(
                    "SET taskStatus = :pending, updatedAt = :now REMOVE claimToken, claimExpiresAt"
                ),
                condition="taskStatus = :taken AND claimExpiresAt <= :now",
                values={":pending": PENDING, ":taken": TAKEN, ":now": now_ms},
            ):
                returned.append(task_id)
        start = page.get("LastEvaluatedKey")
        if start is None:
            return returned


def _transition(
    table: Any,
    task_id: str,
    *,
    update: str,
    condition: str,
    values: dict[str, Any],
    names: Mapping[str, str] | None = None,
) -> bool:
    kwargs: dict[str, Any] = {
        "Key": {"taskId": task_id},
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    try:
        table.update_item(**kwargs)
    except ClientError as error:
        if _lost_race(error):
            return False
        raise
    return True
