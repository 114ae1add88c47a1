"""The WebSocket connection registry and resumable sessions (two DynamoDB tables).

connections  PK `connectionId`; `userId`, `connectedAt`, `expiresAt`; GSI `byUser` (PK
             `userId`). `expiresAt` (epoch seconds) is connect time + API Gateway's 2-hour
             connection limit + a margin, so TTL removes items whose `$disconnect` was lost.
sessions     PK `userId`; `state` (app-defined, e.g. a read cursor), `lastSeen`, and
             `expiresAt` only while the user has no live connection: set on the last
             disconnect to `lastSeen + resume window`, removed again on reconnect.

TTL deletes lazily (often days late), so every read treats `expiresAt < now` as absent.
The registry runs in one thread; the sender's worker threads only post.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

MAX_CONNECTION_S = 2 * 3600  # API Gateway closes every WebSocket connection after 2 hours
CONNECTION_MARGIN_S = 600
BY_USER_INDEX = "byUser"
DEFAULT_RESUME_WINDOW_S = 300

Clock = Callable[[], float]


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    connected_at: int
    expires_at: int

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Connection:
        return cls(
            connection_id=str(item["connectionId"]),
            user_id=str(item.get("userId", "")),
            connected_at=int(item.get("connectedAt", 0)),
            expires_at=int(item.get("expiresAt", 0)),
        )


@dataclass(frozen=True)
class Session:
    user_id: str
    state: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False


@dataclass(frozen=True)
class SweepResult:
    connections: int
    sessions: int


def _is_live(item: Mapping[str, Any], now: int) -> bool:
    expires = item.get("expiresAt")
    return expires is None or int(expires) >= now


class Registry:
    def __init__(
        self,
        connections: Any,
        sessions: Any,
        *,
        resume_window_s: int = DEFAULT_RESUME_WINDOW_S,
        clock: Clock = time.time,
    ) -> None:
        """`connections` / `sessions`: boto3 `Table` resources."""
        self.connections = connections
        self.sessions = sessions
        self.resume_window_s = resume_window_s
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    # Connect and disconnect ------------------------------------------------------------

    def connect(self, connection_id: str, user_id: str, **attributes: Any) -> Session:
        """Record the connection (an upsert, no read first) and revive or start the session."""
        now = self.now()
        self.connections.put_item(
            Item={
                **attributes,
                "connectionId": connection_id,
                "userId": user_id,
                "connectedAt": now,
                "expiresAt": now + MAX_CONNECTION_S + CONNECTION_MARGIN_S,
            }
        )
        return self._revive(user_id, now)

    def _revive(self, user_id: str, now: int) -> Session:
        try:
            # Resumable: a live session (no expiry) or one still inside its resume window.
            old = self.sessions.update_item(
                Key={"userId": user_id},
                UpdateExpression="SET lastSeen = :now REMOVE expiresAt",
                ConditionExpression="attribute_not_exists(expiresAt) OR expiresAt >= :now",
                ExpressionAttributeValues={":now": now},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Past its window (TTL has not deleted it yet): start over.
            self.sessions.put_item(Item={"userId": user_id, "state": {}, "lastSeen": now})
            return Session(user_id=user_id)
        if not old:
            return Session(user_id=user_id)
        return Session(user_id=user_id, state=dict(old.get("state") or {}), resumed=True)

    def disconnect(self, connection_id: str) -> str | None:
        """Forget the connection; the user id it belonged to, or None if it was unknown.

        Duplicate `$disconnect` deliveries happen: a missing item is not an error.
        """
        old = self.connections.delete_item(
            Key={"connectionId": connection_id}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old or not old.get("userId"):
            return None
        user_id = str(old["userId"])
        self.suspend(user_id)
        return user_id

    def suspend(self, user_id: str) -> bool:
        """Start the user's resume window unless another connection of theirs is still live."""
        now = self.now()
        if self.connections_of(user_id):
            return False
        self.sessions.update_item(
            Key={"userId": user_id},
            UpdateExpression="SET lastSeen = :now, expiresAt = :expires",
            ExpressionAttributeValues={":now": now, ":expires": now + self.resume_window_s},
        )
        return True

    def forget(self, connections: Iterable[Connection]) -> int:
        """Remove departed connections (one batch) and suspend their users' sessions."""
        gone = list(connections)
        if not gone:
            return 0
        with self.connections.batch_writer() as batch:
            for connection in gone:
                batch.delete_item(Key={"connectionId": connection.connection_id})
        for user_id in sorted({c.user_id for c in gone if c.user_id}):
            self.suspend(user_id)
        return len(gone)

    # Reads -------------------------------------------------------------------------------

    def connection(self, connection_id: str) -> Connection | None:
        item = self.connections.get_item(Key={"connectionId": connection_id}).get("Item")
        if not item or not _is_live(item, self.now()):
            return None
        return Connection.from_item(item)

    def connections_of(self, user_id: str) -> list[Connection]:
        """The user's live connections, through the `byUser` index."""
        now = self.now()
        found: list[Connection] = []
        kwargs: dict[str, Any] = {
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": Key("userId").eq(user_id),
        }
        while True:
            page = self.connections.query(**kwargs)
            found += [Connection.from_item(i) for i in page["Items"] if _is_live(i, now)]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def live_pages(self, page_size: int = 500) -> Iterator[list[Connection]]:
        """Every live connection, a scan page at a time (expired items are skipped)."""
        kwargs: dict[str, Any] = {
            "Limit": page_size,
            "ProjectionExpression": "connectionId, userId, connectedAt, expiresAt",
        }
        while True:
            now = self.now()
            page = self.connections.scan(**kwargs)
            live = [Connection.from_item(i) for i in page["Items"] if _is_live(i, now)]
            if live:
                yield live
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def session(self, user_id: str) -> Session | None:
        item = self.sessions.get_item(Key={"userId": user_id}).get("Item")
        if not item or not _is_live(item, self.now()):
            return None
        return Session(user_id=user_id, state=dict(item.get("state") or {}))

    def save_state(self, user_id: str, state: Mapping[str, Any]) -> None:
        self.sessions.update_item(
            Key={"userId": user_id},
            UpdateExpression="SET #state = :state, lastSeen = :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": dict(state), ":now": self.now()},
        )

    # Scheduled cleanup -------------------------------------------------------------------

    def sweep(self) -> SweepResult:
        """Delete every item whose `expiresAt` has passed, in both tables, without waiting
        for TTL (predictable timing for the `ttl+sweeper` cleanup)."""
        now = self.now()
        expired = [i["connectionId"] for i in self._expired(self.connections, "connectionId", now)]
        # Connection ids are never reused, so nothing can revive these: one batch.
        with self.connections.batch_writer() as batch:
            for connection_id in expired:
                batch.delete_item(Key={"connectionId": connection_id})
        sessions = 0
        for item in self._expired(self.sessions, "userId", now):
            try:
                # A reconnect may have revived the session since the scan.
                self.sessions.delete_item(
                    Key={"userId": item["userId"]},
                    ConditionExpression="expiresAt < :now",
                    ExpressionAttributeValues={":now": now},
                )
                sessions += 1
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return SweepResult(connections=len(expired), sessions=sessions)

    @staticmethod
    def _expired(table: Any, key: str, now: int) -> Iterator[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr("expiresAt").lt(now),
            "ProjectionExpression": "#key",
            "ExpressionAttributeNames": {"#key": key},
        }
        while True:
            page = table.scan(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
