"""waiting-room: a simulated on-sale of 10,000 visitors, every invariant checked at every tick.

Runs the waiting room's own runtime modules (entry, status, leave, complete, the admitter,
the sweeper, the push) against moto with a frozen clock and a fixed seed. A tick is one
minute of the sale; half the visitors are waiting when it opens, the rest arrive over
the first 20 minutes. Each tick: arrivals (some enter twice, some hold a priority pass),
visitors poll, leave, complete, abandon or sit on their token, then two admitter runs
overlap: the second runs from start to finish inside the first, in turn at the first's
transaction (its batch and budget stale) and at its queue read (its budget stale, its batch
fresh); every fifth tick the sweeper runs.

After every admitter run and every sweep the whole state is read back and checked: tokens
held or consumed never exceed the pool (and equal the counter), admissions per minute never
exceed the rate, visitors in the zone never exceed its size (and equal the counter), FIFO
order is exact within a tier, priority goes before FIFO, entering twice keeps one position,
and each tick admits exactly what the budget and the settled queue allow (no starvation).
DynamoDB requests are counted per phase at botocore's `before-call` hook; the checks read
moto's store directly and are not counted.

moto's TransactWriteItems deep-copies every table a transaction touches once per item (its
rollback), which costs seconds per transaction at this size. `fast_transactions` swaps in
the order DynamoDB itself follows: every condition is evaluated against the state before
the transaction, then all writes are applied, or none (with moto's own condition and update
code). The pytest version of this simulation (tests/functions/test_waiting_room.py) runs on
moto's unmodified transactions.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from bench.timing import ROOT

REGION = "eu-west-1"
ZONE = "launch"
SALE_OPENS = 1_780_653_600  # 2026-06-05T10:00:00Z
CALLBACK_URL = f"https://w9x8y7z6v5.execute-api.{REGION}.amazonaws.com/live"
FOLDER = ROOT / "functions" / "waiting_room"
SHARED = ROOT / "functions" / "shared"
MODULES = ("room", "zones", "signing", "visitors", "admission", "sweep", "push")
# The bound this benchmark holds the admission path to (docs/patterns/waiting-room.md).
ADMISSION_REQUESTS_BOUND = 0.1  # per admitted visitor, without push
PUSH_REQUESTS_BOUND = 1.0  # per admitted visitor, for the push's connection lookups


class InvariantError(AssertionError):
    """A waiting-room invariant failed during the simulation (the message says which)."""


@dataclass(frozen=True)
class Sale:
    visitors: int = 10_000
    ticks: int = 30
    release_per_minute: int = 500
    max_in_zone: int = 2_000
    token_pool: int = 5_000
    token_ttl_s: int = 600
    abandon_after_s: int = 900
    seed: int = 20_260_605
    pre_sale_share: float = 0.5  # waiting when the sale opens
    pre_sale_window_s: int = 600  # they arrived up to this long before it
    arrival_ticks: int = 20  # the others arrive over the first N minutes
    priority_share: float = 0.05  # hold a priority pass
    reenter_share: float = 0.1  # enter a second time (a reload)
    leave_waiting_rate: float = 0.01  # per tick, of those waiting
    abandoner_share: float = 0.05  # stop polling at some point (tab closed)
    # Per tick, of those admitted: a visit lasts about 7 minutes, so 500 a minute fill the
    # zone's 2,000 places within the first minutes and the size binds before the pool does.
    complete_rate: float = 0.12
    leave_admitted_rate: float = 0.03
    idle_share: float = 0.1  # admitted, never act: their token expires
    connected_share: float = 0.5  # have a WebSocket open (pushed when admitted)
    poll_every_ticks: int = 10  # keeps `lastSeen` inside abandon_after_s (15 minutes)
    sweep_every_ticks: int = 5


@dataclass
class TickReport:
    tick: int
    admitted: int
    expected: int
    in_zone: int
    tokens_used: int
    waiting: int


@dataclass
class Report:
    sale: Sale
    ticks: list[TickReport] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    admitted: int = 0
    pushed: int = 0
    checks: int = 0
    overlaps: int = 0
    wall_s: float = 0.0

    def per_admitted(self, *phases: str) -> float:
        return sum(self.requests[p] for p in phases) / max(1, self.admitted)


# The runtime, imported the way its zip root makes it importable ---------------------------


def runtime_modules() -> SimpleNamespace:
    """The pattern's modules by name, ahead of any same-named module from elsewhere."""
    for folder in (SHARED, FOLDER):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    loaded = {}
    for name in (*MODULES, "ws_registry", "ws_sender", "ddb_json"):
        module = sys.modules.get(name)
        home = FOLDER if name in MODULES else SHARED
        if module is not None and Path(getattr(module, "__file__", "") or "").parent != home:
            del sys.modules[name]
        loaded[name] = importlib.import_module(name)
    return SimpleNamespace(**loaded)


def create_tables(client: Any, prefix: str) -> dict[str, str]:
    """The component's three tables (keys and indexes; the stream only feeds the metrics
    function) plus the WebSocket registry's two."""
    names = {
        kind: f"{prefix}-{kind}"
        for kind in ("zones", "counters", "queue", "connections", "sessions")
    }

    def attributes(*pairs: tuple[str, str]) -> list[dict[str, str]]:
        return [{"AttributeName": n, "AttributeType": t} for n, t in pairs]

    def keys(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return schema

    def index(name: str, hash_key: str, range_key: str | None = None) -> dict[str, Any]:
        return {
            "IndexName": name,
            "KeySchema": keys(hash_key, range_key),
            "Projection": {"ProjectionType": "ALL"},
        }

    common = {"BillingMode": "PAY_PER_REQUEST"}
    client.create_table(
        TableName=names["zones"],
        AttributeDefinitions=attributes(("zoneId", "S")),
        KeySchema=keys("zoneId"),
        **common,
    )
    client.create_table(
        TableName=names["counters"],
        AttributeDefinitions=attributes(("zoneId", "S"), ("name", "S")),
        KeySchema=keys("zoneId", "name"),
        **common,
    )
    client.create_table(
        TableName=names["queue"],
        AttributeDefinitions=attributes(
            ("zoneId", "S"),
            ("sk", "S"),
            ("waitingZone", "S"),
            ("position", "S"),
            ("admittedZone", "S"),
            ("tokenExp", "N"),
        ),
        KeySchema=keys("zoneId", "sk"),
        GlobalSecondaryIndexes=[
            index("waiting", "waitingZone", "position"),
            index("admitted", "admittedZone", "tokenExp"),
        ],
        **common,
    )
    client.create_table(
        TableName=names["connections"],
        AttributeDefinitions=attributes(("connectionId", "S"), ("userId", "S")),
        KeySchema=keys("connectionId"),
        GlobalSecondaryIndexes=[index("byUser", "userId")],
        **common,
    )
    client.create_table(
        TableName=names["sessions"],
        AttributeDefinitions=attributes(("userId", "S")),
        KeySchema=keys("userId"),
        **common,
    )
    return names


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Actor:
    visitor_id: str
    arrives_at: int
    priority: bool
    reenters: bool
    abandons_at_tick: int | None
    idle: bool
    connected: bool
    status: str = "NEW"
    seq: int | None = None


# The simulation -------------------------------------------------------------------------


class Simulation:
    def __init__(self, sale: Sale, rt: SimpleNamespace, names: dict[str, str]) -> None:
        self.sale, self.rt, self.names = sale, rt, names
        self.rng = random.Random(sale.seed)
        self.clock = FrozenClock(SALE_OPENS - 3600)
        self.report = Report(sale)
        self.zone = rt.zones.Zone(
            ZONE,
            rt.zones.WAITING_ROOM_THEN_QUEUE,
            sale_starts_at=SALE_OPENS,
            release_per_minute=sale.release_per_minute,
            max_in_zone=sale.max_in_zone,
            token_pool=sale.token_pool,
            ordering=rt.zones.PRIORITY,
        )
        self.signer = rt.signing.Signer(
            rt.signing.static_ring(self.rng.randbytes(32), clock=self.clock), clock=self.clock
        )
        self.observer = self.tables("observer", counted=False)
        self.observer.zones.put_item(Item=self.zone.to_item())
        self.entry = rt.visitors.Visitors(
            self.tables("enter"), self.signer, token_ttl_s=sale.token_ttl_s
        )
        self.polls = rt.visitors.Visitors(
            self.tables("status"), self.signer, token_ttl_s=sale.token_ttl_s
        )
        self.actions = rt.visitors.Visitors(
            self.tables("leave+complete"), self.signer, token_ttl_s=sale.token_ttl_s
        )
        self.push = self._push()
        self.admitters = [
            rt.admission.Admitter(
                self.tables(f"admitter {name}"), token_ttl_s=sale.token_ttl_s, notify=self.notify
            )
            for name in ("A", "B")
        ]
        self.sweeper = rt.sweep.Sweeper(
            self.tables("sweeper"), abandon_after_s=sale.abandon_after_s
        )
        self.actors = self._actors()
        self.admitting_ticks = 0

    def resource(self, phase: str | None) -> Any:
        """A DynamoDB resource of its own per phase, its requests counted under `phase`."""
        resource = boto3.resource("dynamodb", region_name=REGION)
        if phase is not None:

            def count(**_: Any) -> None:
                self.report.requests[phase] += 1

            resource.meta.client.meta.events.register("before-call.dynamodb", count)
        return resource

    def tables(self, phase: str, *, counted: bool = True) -> Any:
        resource = self.resource(phase if counted else None)
        return self.rt.room.Tables(
            resource.Table(self.names["zones"]),
            resource.Table(self.names["counters"]),
            resource.Table(self.names["queue"]),
            clock=self.clock,
            sleep=lambda _s: None,
            rng=random.Random(self.sale.seed),
        )

    def _registry(self, phase: str | None) -> Any:
        resource = self.resource(phase)
        return self.rt.ws_registry.Registry(
            resource.Table(self.names["connections"]),
            resource.Table(self.names["sessions"]),
            clock=self.clock,
        )

    def _push(self) -> Any:
        # Connections are registered by the WebSocket API's own `$connect`: not counted.
        self.registry = self._registry(None)
        sender = self.rt.ws_sender.Sender(
            self.rt.ws_sender.management_client(CALLBACK_URL),
            self._registry("push lookups"),
            max_workers=4,
        )
        return self.rt.push.Push(sender)

    def notify(self, zone_id: str, moved: Any) -> None:
        self.report.pushed += self.push(zone_id, moved).sent

    def _actors(self) -> list[Actor]:
        sale, rng = self.sale, self.rng
        actors = []
        for i in range(sale.visitors):
            if rng.random() < sale.pre_sale_share:
                arrives = SALE_OPENS - rng.randint(10, sale.pre_sale_window_s)
            else:
                arrives = (
                    SALE_OPENS + rng.randint(0, sale.arrival_ticks - 1) * 60 + rng.randint(0, 50)
                )
            abandons = None
            if rng.random() < sale.abandoner_share:
                abandons = rng.randint(0, sale.ticks - 1)
            actors.append(
                Actor(
                    visitor_id=f"{rng.getrandbits(128):032x}",
                    arrives_at=arrives,
                    priority=rng.random() < sale.priority_share,
                    reenters=rng.random() < sale.reenter_share,
                    abandons_at_tick=abandons,
                    idle=rng.random() < sale.idle_share,
                    connected=rng.random() < sale.connected_share,
                )
            )
            del i
        return sorted(actors, key=lambda a: (a.arrives_at, a.visitor_id))

    # Phases ---------------------------------------------------------------------------

    def arrive(self, until: int) -> None:
        for actor in self.actors:
            if actor.status != "NEW" or actor.arrives_at >= until:
                continue
            self.clock.now = actor.arrives_at
            admission_pass = None
            if actor.priority:
                token = self.signer.priority_pass(
                    ZONE, "p", actor.visitor_id[:16], SALE_OPENS + 7200
                )
                admission_pass = self.entry.read_pass(self.zone, token)
            self.entry.enter(self.zone, actor.visitor_id, admission_pass)
            actor.status = "WAITING"
            actor.seq = self.item(actor)["seq"]
            if actor.connected:
                self.registry.connect(f"conn-{actor.visitor_id[:12]}", actor.visitor_id)
            if actor.reenters:
                self.clock.now += 1
                view = self.entry.enter(self.zone, actor.visitor_id, admission_pass)
                if view.entered or self.item(actor)["seq"] != actor.seq:
                    raise InvariantError(f"entering twice moved {actor.visitor_id} in the queue")

    def act(self, tick: int, at: int) -> None:
        sale, rng = self.sale, self.rng
        self.clock.now = at
        states = {v["visitorId"]: v["status"] for v in self.visitor_items()}
        for actor in self.actors:
            if actor.status == "NEW":
                continue
            actor.status = states[actor.visitor_id]
            if actor.status == "WAITING":
                if actor.abandons_at_tick is not None and tick >= actor.abandons_at_tick:
                    continue  # stopped polling: the sweeper will notice
                if rng.random() < sale.leave_waiting_rate:
                    self.actions.leave(ZONE, actor.visitor_id)
                elif (tick + int(actor.visitor_id[:4], 16)) % sale.poll_every_ticks == 0:
                    self.polls.status(ZONE, actor.visitor_id)
            elif actor.status == "ADMITTED" and not actor.idle:
                draw = rng.random()
                if draw < sale.complete_rate:
                    view = self.polls.status(ZONE, actor.visitor_id)
                    if view.token is None:
                        continue  # too late: the token expired, the sweeper will take it back
                    claims = self.signer.verify("at1", view.token)
                    if (claims["zone"], claims["visitor"]) != (ZONE, actor.visitor_id):
                        raise InvariantError("an access token names another zone or visitor")
                    self.actions.complete(ZONE, actor.visitor_id)
                elif draw < sale.complete_rate + sale.leave_admitted_rate:
                    self.actions.leave(ZONE, actor.visitor_id)

    def admit(self, tick: int, at: int) -> int:
        self.clock.now = at
        before = self.state()
        expected = self.expected_admissions(before, at)
        outer, inner = self.admitters if tick % 2 == 0 else self.admitters[::-1]
        nested = {"done": False}

        def overlap(**_: Any) -> None:
            if nested["done"]:
                return
            nested["done"] = True  # set first: the inner run's own calls must not recurse
            inner.run()
            self.report.overlaps += 1
            self.check(at, admitted_since=before)

        # The inner run goes from start to finish inside the outer one, at one of two moments
        # in turn: at the outer's first transaction (its counters and its batch of visitors
        # are both stale: the visitors' WAITING conditions must refuse them), or at its first
        # queue read (its budget is stale but the visitors it then reads are fresh: only the
        # counters' conditions stand between it and over-issuing). With nothing to admit the
        # outer run writes nothing, so the inner one runs at its queue read.
        moment = "Query"
        if expected:
            self.admitting_ticks += 1
            if self.admitting_ticks % 2:
                moment = "TransactWriteItems"
        client = outer.tables.client
        client.meta.events.register(f"before-call.dynamodb.{moment}", overlap)
        try:
            outer.run()
        finally:
            client.meta.events.unregister(f"before-call.dynamodb.{moment}", overlap)
        if not nested["done"]:
            raise InvariantError(f"tick {tick}: the two admitter runs did not overlap")
        after = self.check(at, admitted_since=before)
        admitted = after.ever_admitted - before.ever_admitted
        if admitted != expected:
            raise InvariantError(
                f"tick {tick}: admitted {admitted}, the budget and the queue allowed {expected}"
            )
        self.report.admitted += admitted
        self.report.ticks.append(
            TickReport(tick, admitted, expected, after.in_zone, after.tokens_used, after.waiting)
        )
        return admitted

    def sweep(self, at: int) -> None:
        self.clock.now = at
        before = self.state()
        self.sweeper.run([self.zone])
        self.check(at, admitted_since=before)

    # Reading the state back -----------------------------------------------------------

    def visitor_items(self) -> Iterator[dict[str, Any]]:
        """Every visitor item, straight from moto's store (not a counted request)."""
        for item in stored_items(self.names["queue"]):
            if str(item["sk"]).startswith("visitor#"):
                yield item

    def item(self, actor: Actor) -> dict[str, Any]:
        return stored_item(self.names["queue"], ZONE, f"visitor#{actor.visitor_id}")

    def state(self) -> State:
        return State.read(self)

    def expected_admissions(self, state: State, now: int) -> int:
        counters, _ = self.observer.read(ZONE, minute=now)
        budget = self.zone.budget(
            now=now,
            minute_issued=counters.minute_issued,
            active=counters.active,
            tokens_used=counters.tokens_used,
        )
        settled = sum(
            1
            for v in state.items
            if v["status"] == "WAITING" and int(v["enqueuedAt"]) <= now - 2  # SETTLE_S
        )
        return min(budget, settled)

    def check(self, now: int, *, admitted_since: State) -> State:
        """Every invariant, over the whole state as it is now."""
        self.report.checks += 1
        sale, state = self.sale, self.state()
        counters, _ = self.observer.read(ZONE, minute=now)
        holding = state.count("ADMITTED") + state.count("COMPLETED")
        if holding > sale.token_pool or counters.tokens_used != holding:
            raise InvariantError(
                f"{holding} tokens held or consumed (pool {sale.token_pool}), "
                f"counter says {counters.tokens_used}"
            )
        if state.in_zone > sale.max_in_zone or counters.active != state.in_zone:
            raise InvariantError(
                f"{state.in_zone} visitors in the zone (size {sale.max_in_zone}), "
                f"counter says {counters.active}"
            )
        for minute, count in state.admissions_per_minute().items():
            if count > sale.release_per_minute:
                raise InvariantError(f"{count} admissions in minute {minute}")
        if state.visitors != len({a.visitor_id for a in self.actors if a.status != "NEW"}):
            raise InvariantError("a visitor holds more than one position")
        for tier in (0, 1):
            state.check_fifo(tier, now)
        newly = {v["visitorId"] for v in state.admitted_items()} - {
            v["visitorId"] for v in admitted_since.admitted_items()
        }
        if any(state.tier_of[v] == 1 for v in newly):
            waiting_priority = [
                v
                for v in state.items
                if v["status"] == "WAITING"
                and int(v["tier"]) == 0
                and int(v["enqueuedAt"]) <= now - 2
            ]
            if waiting_priority:
                raise InvariantError("a FIFO visitor was admitted while a priority one waited")
        return state

    # The sale -------------------------------------------------------------------------

    def run(self, progress: Callable[[str], None] | None = None) -> Report:
        sale = self.sale
        start = time.perf_counter()
        self.arrive(SALE_OPENS)
        for tick in range(sale.ticks):
            base = SALE_OPENS + tick * 60
            self.arrive(base + 51)
            self.act(tick, base + 52)
            self.admit(tick, base + 55)
            if tick % sale.sweep_every_ticks == sale.sweep_every_ticks - 1:
                self.sweep(base + 58)
            if progress is not None:
                elapsed = time.perf_counter() - start
                progress(f"  tick {tick + 1}/{sale.ticks}, {elapsed:.0f} s")
        self.report.wall_s = time.perf_counter() - start
        return self.report


@dataclass
class State:
    items: list[dict[str, Any]]
    tier_of: dict[str, int]

    @classmethod
    def read(cls, simulation: Simulation) -> State:
        items = list(simulation.visitor_items())
        return cls(items, {str(v["visitorId"]): int(v["tier"]) for v in items})

    @property
    def visitors(self) -> int:
        return len(self.items)

    def count(self, status: str) -> int:
        return sum(1 for v in self.items if v["status"] == status)

    @property
    def in_zone(self) -> int:
        return self.count("ADMITTED")

    @property
    def waiting(self) -> int:
        return self.count("WAITING")

    @property
    def tokens_used(self) -> int:
        return self.count("ADMITTED") + self.count("COMPLETED")

    def admitted_items(self) -> list[dict[str, Any]]:
        return [v for v in self.items if v.get("admittedAt") is not None]

    @property
    def ever_admitted(self) -> int:
        return len(self.admitted_items())

    def admissions_per_minute(self) -> Counter[int]:
        return Counter(int(v["admittedAt"]) // 60 for v in self.admitted_items())

    def check_fifo(self, tier: int, now: int) -> None:
        """Within a tier, admission follows position: every admitted visitor precedes every
        settled waiting one, and each admission instant's visitors follow the earlier ones'."""
        admitted = [v for v in self.admitted_items() if int(v["tier"]) == tier]
        waiting = [
            int(v["seq"])
            for v in self.items
            if v["status"] == "WAITING"
            and int(v["tier"]) == tier
            and int(v["enqueuedAt"]) <= now - 2
        ]
        if admitted and waiting and max(int(v["seq"]) for v in admitted) > min(waiting):
            raise InvariantError(f"tier {tier}: a visitor was admitted ahead of an earlier one")
        by_instant: dict[int, list[int]] = {}
        for v in admitted:
            by_instant.setdefault(int(v["admittedAt"]), []).append(int(v["seq"]))
        previous = -1
        for instant in sorted(by_instant):
            seqs = by_instant[instant]
            if min(seqs) < previous:
                raise InvariantError(f"tier {tier}: admissions out of position order")
            previous = max(seqs)


def _plain(value: Any) -> Any:
    kind, inner = value.type, value.value
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if kind == "BOOL":
        return bool(inner)
    return inner


def stored_items(table_name: str) -> list[dict[str, Any]]:
    """A table's items as moto holds them, with plain values (S, N and BOOL attributes)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table_name)
    return [{k: _plain(v) for k, v in item.attrs.items()} for item in table.all_items()]


def stored_item(table_name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(table_name)
    item = table.get_item(DynamoType({"S": hash_key}), DynamoType({"S": range_key}))
    if item is None:
        raise InvariantError(f"no item {range_key} in {table_name}")
    return {k: _plain(v) for k, v in item.attrs.items()}


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    """TransactWriteItems as DynamoDB runs it: all conditions against the state before the
    transaction, then every write or none. moto's own rollback copies whole tables."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen: set[tuple[str, str]] = set()
        planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        errors: list[Any] = []
        for entry in transact_items:
            if len(entry) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (op["TableName"], str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            condition = op.get("ConditionExpression")
            current = self.get_item(op["TableName"], key)
            holds = condition is None or get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current)
            errors.append(
                (None, None, None)
                if holds
                else ("ConditionalCheckFailed", "The conditional request failed", None)
            )
            planned.append((op_type, op, key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        for op_type, op, key in planned:
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Update":
                self.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=op.get("ExpressionAttributeNames"),
                    expression_attribute_values=op.get("ExpressionAttributeValues"),
                )
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)

    original = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def simulate(
    sale: Sale, *, fast: bool = False, progress: Callable[[str], None] | None = None
) -> Report:
    """The sale, inside its own moto; raises InvariantError at the first broken invariant.
    `fast` uses `fast_transactions` (the benchmark's size needs it); `progress` is told
    after each tick."""
    from moto import mock_aws

    rt = runtime_modules()
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with mock_aws(), fast_transactions() if fast else contextlib.nullcontext():
            names = create_tables(boto3.client("dynamodb", region_name=REGION), "sale")
            return Simulation(sale, rt, names).run(progress)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run() -> list[str]:
    sale = Sale()
    report = simulate(sale, fast=True, progress=lambda line: print(line, file=sys.stderr))
    admission = report.per_admitted("admitter A", "admitter B")
    push = report.per_admitted("push lookups")
    lifecycle = report.per_admitted(*report.requests)
    lines = [
        f"{sale.visitors:,} visitors, {sale.ticks} one-minute ticks, releasePerMinute "
        f"{sale.release_per_minute}, maxInZone {sale.max_in_zone:,}, tokenPool "
        f"{sale.token_pool:,}, seed {sale.seed}; two admitter runs overlapping every tick",
        "  tick  admitted  rate  budget+queue  in zone  tokens used  waiting",
    ]
    for t in report.ticks:
        lines.append(
            f"  {t.tick:>4}  {t.admitted:>8}  {sale.release_per_minute:>4}  {t.expected:>12}"
            f"  {t.in_zone:>7}  {t.tokens_used:>11}  {t.waiting:>7}"
        )
    lines += [
        f"  admitted {report.admitted:,} visitors ({report.pushed:,} pushes sent); "
        f"{report.checks} full-state checks, {report.overlaps} overlapping runs, "
        "all invariants held",
        "  DynamoDB requests:",
    ]
    for phase, count in sorted(report.requests.items()):
        lines.append(
            f"    {phase:<16} {count:>8,}  {count / max(1, report.admitted):6.3f} per admitted"
        )
    if admission > ADMISSION_REQUESTS_BOUND or push > PUSH_REQUESTS_BOUND:
        raise InvariantError(
            f"requests per admitted visitor over the bound: admission {admission:.3f} "
            f"(bound {ADMISSION_REQUESTS_BOUND}), push {push:.3f} (bound {PUSH_REQUESTS_BOUND})"
        )
    lines += [
        f"  per admitted visitor: admission {admission:.3f} (bound {ADMISSION_REQUESTS_BOUND}), "
        f"push lookups {push:.3f} (bound {PUSH_REQUESTS_BOUND}): within the bounds; "
        f"whole lifecycle {lifecycle:.2f}",
        f"  wall time {report.wall_s:.1f} s",
    ]
    return lines
