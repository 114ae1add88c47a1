"""The admitter: per zone, admit the next visitors in order, within the zone's budget.

One round: read the zone's counters (`totals` and this minute's item, strongly consistent),
compute the budget (`zones.Zone.budget`), query the `waiting` index for that many visitors
in ascending position (tier 0 first, then entry order), and admit them in one transaction
that re-checks every limit on the counters and every visitor's WAITING status. A round
admits at most `room.MAX_BATCH` visitors; rounds repeat until the budget or the queue is
spent.

Why overlapping runs stay correct: the limits are conditions of the same transaction that
increments the counters, so no interleaving of two runs can take the counters past a limit
(the second transaction is cancelled and its run re-reads the budget); a visitor another
run admitted fails its WAITING condition and is dropped from the batch, so nobody is
admitted twice. Each committed batch is a prefix of the queue at its commit, so admission
order is position order.

Visitors whose entry is younger than `SETTLE_S` wait for the next round: a position is
handed out before the visitor's item is written, and the index is updated asynchronously,
so a just-entered visitor could otherwise be passed over by one entered after them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import room
import zones
from room import ADMITTED, MINUTE_ITEM_TTL_S, TOTALS, WAITING, Tables, Visitor
from zones import Zone

SETTLE_S = 2
MAX_ROUNDS_OVER_BUDGET = 10  # rounds that admit nobody (races), before the run gives up

Notify = Callable[[str, Sequence[Visitor]], None]
Sleep = Callable[[float], None]


@dataclass
class ZoneResult:
    zone_id: str
    admitted: int = 0
    budget: int = 0
    waiting_head_age_s: int | None = None
    rounds: int = 0
    refused: int = 0  # rounds the counters or the visitors refused (another run, a leaver)
    error: Exception | None = None  # the zone's admission failed; the other zones went on


@dataclass
class RunResult:
    zones: list[ZoneResult] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)  # zone items that do not parse

    @property
    def admitted(self) -> int:
        return sum(z.admitted for z in self.zones)

    @property
    def failed(self) -> list[ZoneResult]:
        return [z for z in self.zones if z.error is not None]


class Admitter:
    def __init__(
        self,
        tables: Tables,
        *,
        token_ttl_s: int,
        notify: Notify | None = None,
        slices_per_minute: int = 1,
        sleep: Sleep | None = None,
    ) -> None:
        self.tables = tables
        self.token_ttl_s = token_ttl_s
        self.notify = notify
        self.slices = slices_per_minute
        self.sleep = sleep or tables.sleep

    def now(self) -> int:
        return self.tables.now()

    def zones(self, unusable: list[str] | None = None) -> list[Zone]:
        """Every zone; the ids of items that do not parse (a hand edit: the admin API never
        writes one) go to `unusable`, and the other zones carry on."""
        found = []
        for item in self.tables.zone_items():
            try:
                found.append(Zone.from_item(item))
            except (zones.ZoneError, KeyError):
                if unusable is not None:
                    unusable.append(str(item.get("zoneId", "?")))
        return found

    def run(self, remaining_s: Callable[[], float] | None = None) -> RunResult:
        """One scheduled run: `slices_per_minute` slices, spread over the minute."""
        result = RunResult()
        interval = 60 / self.slices
        configured = self.zones(result.unusable)
        totals: dict[str, ZoneResult] = {z.zone_id: ZoneResult(z.zone_id) for z in configured}
        for index in range(self.slices):
            if index:
                # Stop before a slice that could not finish inside the invocation.
                if remaining_s is not None and remaining_s() < interval + 5:
                    break
                self.sleep(interval)
            for zone in configured:
                outcome = totals[zone.zone_id]
                if outcome.error is not None:
                    continue
                try:
                    self.admit_zone(zone, slice_index=index, into=outcome)
                except Exception as error:  # one zone's failure must not hold up the others
                    outcome.error = error
        result.zones = list(totals.values())
        return result

    def admit_zone(
        self, zone: Zone, *, slice_index: int = 0, into: ZoneResult | None = None
    ) -> ZoneResult:
        result = into or ZoneResult(zone.zone_id)
        idle_rounds = 0
        while idle_rounds <= MAX_ROUNDS_OVER_BUDGET:
            now = self.now()
            counters, _ = self.tables.read(zone.zone_id, minute=now)
            budget = zone.budget(
                now=now,
                minute_issued=counters.minute_issued,
                active=counters.active,
                tokens_used=counters.tokens_used,
                slice_index=slice_index,
                slices=self.slices,
            )
            result.budget = max(result.budget, budget)
            first = result.rounds == 0
            result.rounds += 1
            if budget <= 0:
                if first:  # only to report how long the head of the queue has waited
                    self._head_age(zone, now, result)
                return result
            head = list(
                self.tables.query_index(
                    room.WAITING_INDEX,
                    "waitingZone",
                    zone.zone_id,
                    limit=min(budget, room.MAX_BATCH),
                )
            )
            if first and head:
                result.waiting_head_age_s = now - head[0].enqueued_at
            batch = _settled(head, now)
            if not batch:
                return result
            transition = self.tables.transition(
                batch,
                functools.partial(self._admit, now=now),
                functools.partial(self._counters, zone, now=now),
            )
            if transition.moved:
                result.admitted += len(transition.moved)
                self._notify(zone.zone_id, transition.moved)
                idle_rounds = 0
                # Spent the budget, or took every settled visitor there was: another round
                # would only read the counters and the queue again to learn that.
                everyone = len(transition.moved) == len(batch)
                drained = len(batch) < len(head) or len(head) < min(budget, room.MAX_BATCH)
                if len(transition.moved) >= budget or (everyone and drained):
                    return result
            else:
                result.refused += 1
                idle_rounds += 1
        return result

    def _head_age(self, zone: Zone, now: int, result: ZoneResult) -> None:
        head = next(
            self.tables.query_index(room.WAITING_INDEX, "waitingZone", zone.zone_id, limit=1),
            None,
        )
        if head is not None:
            result.waiting_head_age_s = now - head.enqueued_at

    def _admit(self, visitor: Visitor, now: int) -> dict[str, Any]:
        return self.tables.update(
            self.tables.queue,
            visitor.key,
            "SET #s = :admitted, admittedAt = :now, tokenExp = :exp, admittedZone = :zone "
            "REMOVE waitingZone",
            ConditionExpression="#s = :waiting",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":admitted": ADMITTED,
                ":waiting": WAITING,
                ":now": now,
                ":exp": now + self.token_ttl_s,
                ":zone": visitor.zone_id,
            },
        )

    def _counters(self, zone: Zone, moved: list[Visitor], now: int) -> list[dict[str, Any]]:
        """The counter updates for admitting `moved`, each guarded by its limit."""
        count = len(moved)
        values: dict[str, Any] = {":n": count}
        conditions = []
        if zone.max_in_zone is not None:
            conditions.append("(attribute_not_exists(active) OR active <= :room)")
            values[":room"] = zone.max_in_zone - count
        if zone.token_pool is not None:
            conditions.append("(attribute_not_exists(tokensUsed) OR tokensUsed <= :pool)")
            values[":pool"] = zone.token_pool - count
        sets = []
        for tier in (room.PRIORITY_TIER, room.STANDARD_TIER):
            seqs = [v.seq for v in moved if v.tier == tier]
            if seqs:
                # A batch is a prefix of its tier, so its last seq is the tier's highest.
                sets.append(f"lastSeq{tier} = :last{tier}")
                values[f":last{tier}"] = max(seqs)
        expression = "ADD issued :n, active :n, tokensUsed :n"
        if sets:
            expression += " SET " + ", ".join(sets)
        updates = [
            self.tables.update(
                self.tables.counters,
                {"zoneId": zone.zone_id, "name": TOTALS},
                expression,
                ConditionExpression=" AND ".join(conditions) or None,
                ExpressionAttributeValues=values,
            )
        ]
        if zone.release_per_minute is not None:
            updates.append(
                self.tables.update(
                    self.tables.counters,
                    {"zoneId": zone.zone_id, "name": room.minute_name(now)},
                    "ADD issued :n SET expiresAt = :expires",
                    ConditionExpression="attribute_not_exists(issued) OR issued <= :rate",
                    ExpressionAttributeValues={
                        ":n": count,
                        ":rate": zone.release_per_minute - count,
                        ":expires": now + MINUTE_ITEM_TTL_S,
                    },
                )
            )
        return updates

    def _notify(self, zone_id: str, moved: Sequence[Visitor]) -> None:
        if self.notify is not None:
            self.notify(zone_id, moved)


def _settled(head: list[Visitor], now: int) -> list[Visitor]:
    """The head of the queue up to the first visitor who entered less than SETTLE_S ago."""
    batch = []
    for visitor in head:
        if visitor.enqueued_at > now - SETTLE_S:
            break
        batch.append(visitor)
    return batch
