"""The waiting room's three tables and the one transaction shape every state change uses.

zones     PK `zoneId`: the zone's configuration (`zones.Zone`).
counters  PK `zoneId`, SK `name`:
            `seq`             `nextSeq` (positions handed out), `departed` (left while
                              waiting); only ever updated on its own, never in a
                              transaction, because every entry increments it
            `totals`          `issued` (queue admissions), `exemptIssued`, `active` and
                              `exemptActive` (in the zone now), `tokensUsed` (held or
                              consumed), `lastSeq0`/`lastSeq1` (last admitted per tier)
            `minute#<epoch minute>`  `issued` that minute; `expiresAt` (TTL) an hour on
queue     PK `zoneId`, SK `sk`:
            `visitor#<id>`    one item per visitor: `position` = `<tier>#<seq:012d>`,
                              `status` WAITING -> ADMITTED -> COMPLETED | LEFT | EXPIRED,
                              `enqueuedAt`, `lastSeen`, `admittedAt`, `tokenExp`,
                              `expiresAt` (TTL, long after any state change)
            `pass#<id>`       a used priority or exempt pass, and who used it
          sparse GSI `waiting` (`waitingZone`, `position`): set only while WAITING, so
          the admitter reads exactly the next visitors in order; sparse GSI `admitted`
          (`admittedZone`, `tokenExp`): set only while ADMITTED, so the sweeper reads
          exactly the overdue tokens.

One item per visitor is its own guard: the entry is a conditional put on the visitor's
key, so entering twice can never create a second position.

Every transition that moves capacity is one `TransactWriteItems`: the visitors' items
under a status condition, and the counters under their limits. Two admitters running at
once can therefore never over-issue, and a cancelled transaction says which part refused
(`Transition`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

WAITING, ADMITTED, COMPLETED, LEFT, EXPIRED = "WAITING", "ADMITTED", "COMPLETED", "LEFT", "EXPIRED"
TERMINAL = (COMPLETED, LEFT, EXPIRED)
VISITOR_PREFIX, PASS_PREFIX = "visitor#", "pass#"
SEQ, TOTALS = "seq", "totals"
WAITING_INDEX, ADMITTED_INDEX = "waiting", "admitted"
PRIORITY_TIER, STANDARD_TIER = 0, 1
EXEMPT_POSITION = "exempt"
MINUTE_ITEM_TTL_S = 3600
# A visitor's item outlives every state it can be in: the sweeper ends each state long
# before (abandonment, token expiry), so TTL never decides capacity.
VISITOR_TTL_S = 7 * 86400
TERMINAL_RETENTION_S = 86400
# A transaction holds at most 100 items: two counters plus the visitors.
MAX_BATCH = 98
MAX_ATTEMPTS = 6
RETRYABLE_REASONS = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def visitor_key(zone_id: str, visitor_id: str) -> dict[str, str]:
    return {"zoneId": zone_id, "sk": f"{VISITOR_PREFIX}{visitor_id}"}


def position(tier: int, seq: int) -> str:
    return f"{tier}#{seq:012d}"


def minute_name(now: int) -> str:
    return f"minute#{now // 60}"


@dataclass(frozen=True)
class Visitor:
    zone_id: str
    visitor_id: str
    status: str
    tier: int
    seq: int
    enqueued_at: int
    last_seen: int
    admitted_at: int | None = None
    token_exp: int | None = None
    exempt: bool = False

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Visitor:
        def optional(name: str) -> int | None:
            value = item.get(name)
            return None if value is None else int(value)

        return cls(
            zone_id=str(item["zoneId"]),
            visitor_id=str(item["visitorId"]),
            status=str(item["status"]),
            tier=int(item.get("tier", STANDARD_TIER)),
            seq=int(item.get("seq", 0)),
            enqueued_at=int(item.get("enqueuedAt", 0)),
            last_seen=int(item.get("lastSeen", 0)),
            admitted_at=optional("admittedAt"),
            token_exp=optional("tokenExp"),
            exempt=bool(item.get("exempt", False)),
        )

    @property
    def key(self) -> dict[str, str]:
        return visitor_key(self.zone_id, self.visitor_id)


@dataclass(frozen=True)
class Counters:
    """A zone's `totals` and this minute's item, as read together."""

    issued: int = 0
    active: int = 0
    exempt_active: int = 0
    tokens_used: int = 0
    last_seq: tuple[int, int] = (0, 0)
    minute_issued: int = 0

    @classmethod
    def from_items(cls, totals: Mapping[str, Any], minute: Mapping[str, Any]) -> Counters:
        def number(item: Mapping[str, Any], name: str) -> int:
            return int(item.get(name, 0))

        return cls(
            issued=number(totals, "issued"),
            active=number(totals, "active"),
            exempt_active=number(totals, "exemptActive"),
            tokens_used=number(totals, "tokensUsed"),
            last_seq=(number(totals, "lastSeq0"), number(totals, "lastSeq1")),
            minute_issued=number(minute, "issued"),
        )


class Cancelled(Exception):
    """A transaction was cancelled; `reasons` holds one code per item ("None" = fine)."""

    def __init__(self, reasons: Sequence[str], items: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = list(reasons)
        self.items = list(items)  # ALL_OLD images where the condition failed, else {}


@dataclass(frozen=True)
class Transition:
    """What a batch transition did: the visitors moved, and whether the counters refused."""

    moved: list[Visitor]
    counters_refused: bool = False


class Tables:
    """boto3 `Table` resources for the three tables; their client runs the transactions."""

    def __init__(
        self,
        zones: Any,
        counters: Any,
        queue: Any,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.zones = zones
        self.counters = counters
        self.queue = queue
        self.client = queue.meta.client
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()

    def now(self) -> int:
        return int(self.clock())

    # Reads -------------------------------------------------------------------------------

    def zone_items(self) -> Iterator[Mapping[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            page = self.zones.scan(**kwargs)
            yield from page["Items"]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def zone_item(self, zone_id: str) -> Mapping[str, Any] | None:
        item: Mapping[str, Any] | None = self.zones.get_item(Key={"zoneId": zone_id}).get("Item")
        return item

    def visitor(self, zone_id: str, visitor_id: str, *, consistent: bool = False) -> Visitor | None:
        item = self.queue.get_item(
            Key=visitor_key(zone_id, visitor_id), ConsistentRead=consistent
        ).get("Item")
        return Visitor.from_item(item) if item else None

    def read(
        self, zone_id: str, visitor_id: str | None = None, *, minute: int | None = None
    ) -> tuple[Counters, Visitor | None]:
        """The zone's counters (and this minute's, when asked) and one visitor, in one
        strongly consistent BatchGetItem."""
        counter_keys = [{"zoneId": zone_id, "name": TOTALS}]
        if minute is not None:
            counter_keys.append({"zoneId": zone_id, "name": minute_name(minute)})
        request: dict[str, Any] = {
            self.counters.name: {"Keys": counter_keys, "ConsistentRead": True}
        }
        if visitor_id is not None:
            request[self.queue.name] = {
                "Keys": [visitor_key(zone_id, visitor_id)],
                "ConsistentRead": True,
            }
        found: dict[str, list[Mapping[str, Any]]] = {}
        for _ in range(MAX_ATTEMPTS):
            response = self.client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            self._backoff(0)
        else:
            raise RuntimeError("BatchGetItem left keys unprocessed after retries")
        counters = {str(i["name"]): i for i in found.get(self.counters.name, [])}
        minute_item = counters.get(minute_name(minute)) if minute is not None else None
        visitors = found.get(self.queue.name, [])
        return (
            Counters.from_items(counters.get(TOTALS, {}), minute_item or {}),
            Visitor.from_item(visitors[0]) if visitors else None,
        )

    def query_index(
        self,
        index: str,
        zone_attribute: str,
        zone_id: str,
        *,
        limit: int | None = None,
        **extra: Any,
    ) -> Iterator[Visitor]:
        """Visitors in one of the sparse indexes, in index order, page by page."""
        from boto3.dynamodb.conditions import Key

        condition = Key(zone_attribute).eq(zone_id)
        range_condition = extra.pop("range_condition", None)
        if range_condition is not None:
            condition = condition & range_condition
        kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition, **extra}
        remaining = limit
        while remaining is None or remaining > 0:
            if remaining is not None:
                kwargs["Limit"] = remaining
            page = self.queue.query(**kwargs)
            for item in page["Items"]:
                yield Visitor.from_item(item)
            if remaining is not None:
                remaining -= len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # Writes ------------------------------------------------------------------------------

    def next_seq(self, zone_id: str) -> int:
        updated = self.counters.update_item(
            Key={"zoneId": zone_id, "name": SEQ},
            UpdateExpression="ADD nextSeq :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(updated["Attributes"]["nextSeq"])

    def count_departed(self, zone_id: str, count: int) -> None:
        """Visitors who left while waiting (the queue-length gauge subtracts them)."""
        if count:
            self.counters.update_item(
                Key={"zoneId": zone_id, "name": SEQ},
                UpdateExpression="ADD departed :n",
                ExpressionAttributeValues={":n": count},
            )

    def put(self, put: Mapping[str, Any]) -> None:
        """One conditional PutItem, given as a transaction item's `Put` (Cancelled when the
        condition refuses, so single writes and transactions fail alike)."""
        self._single(self.client.put_item, put)

    def update_one(self, update: Mapping[str, Any]) -> None:
        """One conditional UpdateItem, given as a transaction item's `Update`."""
        self._single(self.client.update_item, update)

    @staticmethod
    def _single(call: Callable[..., Any], request: Mapping[str, Any]) -> None:
        try:
            call(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise Cancelled(["ConditionalCheckFailed"], [{}]) from None

    def transact(self, items: Sequence[Mapping[str, Any]]) -> None:
        """One TransactWriteItems, retried on conflicts and throttling; Cancelled when a
        condition refuses (with every item's reason)."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=list(items))
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                found = error.response.get("CancellationReasons") or []
                reasons = [str(r.get("Code") or "None") for r in found]
                if any(r in RETRYABLE_REASONS for r in reasons) and attempt + 1 < MAX_ATTEMPTS:
                    self._backoff(attempt)
                    continue
                raise Cancelled(reasons, [r.get("Item") or {} for r in found]) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> None:
        self.sleep(self.rng.uniform(0, 0.05 * 2**attempt))

    def update(
        self, table: Any, key: Mapping[str, Any], expression: str, **kwargs: Any
    ) -> dict[str, Any]:
        """One transaction item: an Update on `table`."""
        update: dict[str, Any] = {"TableName": table.name, "Key": dict(key)}
        update["UpdateExpression"] = expression
        for name, value in kwargs.items():
            if value:
                update[name] = value
        return {"Update": update}

    def transition(
        self,
        visitors: Sequence[Visitor],
        visitor_update: Callable[[Visitor], dict[str, Any]],
        counter_updates: Callable[[list[Visitor]], list[dict[str, Any]]],
    ) -> Transition:
        """Move `visitors` in one transaction with the counter updates their count needs.

        A visitor whose condition refuses (another run moved it, it left) is dropped and
        the rest are tried again; if the counters refuse, nothing moves and the caller
        re-reads its budget.
        """
        batch = list(visitors)
        while batch:
            counters = counter_updates(batch)
            try:
                self.transact([*counters, *(visitor_update(v) for v in batch)])
                return Transition(moved=batch)
            except Cancelled as cancelled:
                counter_reasons = cancelled.reasons[: len(counters)]
                visitor_reasons = cancelled.reasons[len(counters) :]
                refused = {
                    i for i, r in enumerate(visitor_reasons) if r == "ConditionalCheckFailed"
                }
                if "ConditionalCheckFailed" in counter_reasons:
                    return Transition(moved=[], counters_refused=True)
                if not refused:
                    raise
                batch = [v for i, v in enumerate(batch) if i not in refused]
        return Transition(moved=[])
