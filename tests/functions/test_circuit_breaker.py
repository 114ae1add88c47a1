"""circuit-breaker: the `CircuitBreaker` library and the handlers against moto DynamoDB, with a
frozen clock and a fake downstream (no network).

The race tests interleave two breakers deterministically (a hook runs the rival's whole
write between one breaker's read and its write); the concurrency test runs 16 threads.
moto does not serialise writes to one item across threads as DynamoDB does, so that test
wraps moto's item operations in one lock (`atomic_items`, the lifo-queue harness's), and
what it checks is our protocol.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import urllib.error
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from bench.bench_lifo_queue import atomic_items

PATTERN = "circuit-breaker"
TABLE = "circuits"
REGION = "eu-west-1"
NOW_S = 1_796_472_000.0  # 2026-12-04T09:20:00Z
OPEN_MS = 10_000
URL = "https://quotes.example.com/latest"

pytestmark = pytest.mark.disable_socket

LoadFunction = Callable[[str, str], ModuleType]


class Clock:
    """A frozen clock (epoch seconds) the test moves."""

    def __init__(self, now: float = NOW_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance_ms(self, ms: int) -> None:
        self.now += ms / 1000


class Downstream:
    """A fake dependency: fails or answers as told, counts calls, can hold a call open."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.failing = False
        self.calls = 0
        self.clock = clock
        self.takes_ms = 0
        self.gate: threading.Event | None = None  # set: calls wait on it
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(timeout=30), "the test never released the call"
        if self.clock is not None and self.takes_ms:
            self.clock.advance_ms(self.takes_ms)
        if self.failing:
            raise ConnectionError("downstream unavailable")
        return "payload"


def fallback() -> str:
    return "fallback"


class Watched:
    """A boto3 Table that counts reads and writes and can run a hook before the next write."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.reads = 0
        self.writes = 0
        self.before_write: Callable[[], None] | None = None

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.table.get_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        self.writes += 1
        return self.table.update_item(**kwargs)


class Unreachable:
    """A table whose endpoint cannot be reached."""

    def get_item(self, **kwargs: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

    update_item = get_item


def create_table() -> Any:
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "circuitId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "circuitId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def item(table: Any, circuit_id: str = "quotes") -> dict[str, Any]:
    found = table.get_item(Key={"circuitId": circuit_id}, ConsistentRead=True).get("Item", {})
    return {k: int(v) if not isinstance(v, str) else v for k, v in found.items()}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        create_table()
        yield


@pytest.fixture
def lib(load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "breaker")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def new_breaker(lib: ModuleType, clock: Clock, aws: None) -> Callable[..., Any]:
    """A breaker on the moto table (its own boto3 session, like another Lambda instance)."""

    def make(table: Any = None, **kwargs: Any) -> Any:
        if table is None:
            table = boto3.Session(region_name=REGION).resource("dynamodb").Table(TABLE)
        options = {"open_ms": OPEN_MS, "state_cache_ms": 0, "clock": clock, **kwargs}
        return lib.CircuitBreaker(table, "quotes", **options)

    return make


def transitions_into(log: list[Any]) -> Callable[[Any], None]:
    return log.append


# The state machine, call by call -------------------------------------------------------------


def test_three_failures_open_the_circuit_and_it_stays_open_for_open_ms(new_breaker, clock):
    moves: list[Any] = []
    breaker = new_breaker(on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    states = [breaker.run(downstream, fallback).state for _ in range(3)]
    assert states == ["CLOSED", "CLOSED", "OPEN"]
    assert [(m.old, m.new) for m in moves] == [("CLOSED", "OPEN")]
    stored = item(breaker.store.table)
    assert (stored["state"], stored["failures"], stored["version"]) == ("OPEN", 3, 3)
    assert stored["openedUntil"] == int(NOW_S * 1000) + OPEN_MS

    for _ in range(5):  # open: the dependency is never called, right up to openedUntil
        clock.advance_ms(OPEN_MS // 5 - 1)
        result = breaker.run(downstream, fallback)
        assert (result.value, result.state, result.fallback) == ("fallback", "OPEN", True)
    assert downstream.calls == 3


def test_after_open_ms_a_probe_goes_through_and_two_successes_close(new_breaker, clock):
    moves: list[Any] = []
    breaker = new_breaker(on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        breaker.call(downstream, fallback)
    clock.advance_ms(OPEN_MS)
    downstream.failing = False

    first = breaker.run(downstream, fallback)
    assert (first.value, first.state, first.probe) == ("payload", "HALF_OPEN", True)
    assert item(breaker.store.table)["successes"] == 1
    second = breaker.run(downstream, fallback)
    assert (second.value, second.state, second.probe) == ("payload", "CLOSED", True)
    assert [(m.old, m.new) for m in moves] == [
        ("CLOSED", "OPEN"),
        ("OPEN", "HALF_OPEN"),
        ("HALF_OPEN", "CLOSED"),
    ]
    stored = item(breaker.store.table)
    assert (stored["state"], stored["failures"], stored["successes"]) == ("CLOSED", 0, 0)
    assert "probeToken" not in stored
    assert breaker.run(downstream, fallback).probe is False


def test_success_threshold_one_closes_on_the_first_probe(new_breaker, clock):
    breaker = new_breaker(success_threshold=1)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        breaker.call(downstream, fallback)
    clock.advance_ms(OPEN_MS)
    downstream.failing = False
    assert breaker.run(downstream, fallback).state == "CLOSED"


def test_a_failure_in_half_open_reopens_for_a_new_cool_down(new_breaker, clock):
    moves: list[Any] = []
    breaker = new_breaker(on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        breaker.call(downstream, fallback)
    clock.advance_ms(OPEN_MS)
    downstream.failing = False
    assert breaker.run(downstream, fallback).state == "HALF_OPEN"  # one success of two
    downstream.failing = True
    probe = breaker.run(downstream, fallback)
    assert (probe.value, probe.state, probe.probe) == ("fallback", "OPEN", True)
    stored = item(breaker.store.table)
    assert stored["openedUntil"] == int(clock.now * 1000) + OPEN_MS
    assert stored["successes"] == 0
    calls = downstream.calls
    clock.advance_ms(OPEN_MS - 1)
    assert breaker.run(downstream, fallback).fallback and downstream.calls == calls
    assert [m.new for m in moves] == ["OPEN", "HALF_OPEN", "OPEN"]


def test_a_success_resets_the_failure_count(new_breaker):
    breaker = new_breaker()
    downstream = Downstream()
    downstream.failing = True
    breaker.call(downstream, fallback)
    breaker.call(downstream, fallback)
    downstream.failing = False
    breaker.call(downstream, fallback)
    assert item(breaker.store.table)["failures"] == 0
    downstream.failing = True
    breaker.call(downstream, fallback)
    breaker.call(downstream, fallback)
    assert item(breaker.store.table)["state"] == "CLOSED"


def test_a_clean_closed_circuit_is_never_written(new_breaker):
    table = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    breaker = new_breaker(table)
    for _ in range(10):
        assert breaker.call(Downstream(), fallback) == "payload"
    assert table.writes == 0
    assert item(table.table) == {}


# Timeouts and an unreachable table ----------------------------------------------------------


def test_a_downstream_timeout_counts_as_a_failure(new_breaker):
    breaker = new_breaker()

    def times_out() -> str:
        raise TimeoutError("The read operation timed out")

    results = [breaker.run(times_out, fallback) for _ in range(3)]
    assert [r.value for r in results] == ["fallback"] * 3
    assert all(isinstance(r.error, TimeoutError) for r in results)
    assert results[-1].state == "OPEN"


def test_a_call_slower_than_call_timeout_ms_counts_as_a_failure(new_breaker, clock):
    breaker = new_breaker(call_timeout_ms=500)
    slow = Downstream(clock)
    slow.takes_ms = 501
    results = [breaker.run(slow, fallback) for _ in range(3)]
    assert [r.value for r in results] == ["payload"] * 3  # the answer arrived, late
    assert all(isinstance(r.error, TimeoutError) for r in results)
    assert results[-1].state == "OPEN"
    on_time = Downstream(clock)
    on_time.takes_ms = 500
    fresh = new_breaker(call_timeout_ms=500)
    fresh.store.circuit_id = "other"
    assert fresh.run(on_time, fallback).error is None


@pytest.mark.parametrize(
    ("fail_mode", "expected", "calls"), [("open", "fallback", 0), ("closed", "payload", 1)]
)
def test_an_unreachable_table_follows_fail_mode(lib, clock, fail_mode, expected, calls):
    breaker = lib.CircuitBreaker(Unreachable(), "quotes", fail_mode=fail_mode, clock=clock)
    downstream = Downstream()
    result = breaker.run(downstream, fallback)
    assert (result.value, result.state, downstream.calls) == (expected, "UNKNOWN", calls)


def test_a_missing_table_follows_fail_mode_too(lib, clock, aws):
    missing = boto3.resource("dynamodb", region_name=REGION).Table("no-such-table")
    breaker = lib.CircuitBreaker(missing, "quotes", clock=clock)
    downstream = Downstream()
    assert breaker.call(downstream, fallback) == "fallback" and downstream.calls == 0


def test_an_outcome_the_table_refuses_is_dropped_not_raised(new_breaker):
    table = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    breaker = new_breaker(table)

    def unreachable() -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")

    table.before_write = unreachable
    downstream = Downstream()
    downstream.failing = True
    result = breaker.run(downstream, fallback)
    assert (result.value, result.state) == ("fallback", "CLOSED")
    assert item(table.table) == {}


# Races: two breakers on one version ---------------------------------------------------------


def test_two_breakers_racing_to_open_produce_one_transition(new_breaker):
    moves: list[Any] = []
    table_a = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    a = new_breaker(table_a, on_transition=moves.append)
    b = new_breaker(on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    a.call(downstream, fallback)
    a.call(downstream, fallback)  # failures 2, version 2

    # A reads version 2, then B's failure lands before A's write: A's write loses.
    table_a.before_write = lambda: b.call(downstream, fallback)
    result = a.run(downstream, fallback)
    assert result.state == "OPEN"
    assert [(m.old, m.new, m.version) for m in moves] == [("CLOSED", "OPEN", 3)]
    stored = item(table_a.table)
    assert (stored["version"], stored["failures"]) == (3, 3)  # A's stale failure was not added


def test_two_breakers_racing_after_the_cool_down_make_one_probe(new_breaker, clock):
    moves: list[Any] = []
    table_a = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    a = new_breaker(table_a, on_transition=moves.append)
    b = new_breaker(on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        a.call(downstream, fallback)
    clock.advance_ms(OPEN_MS)
    downstream.failing = False
    gate = Downstream()
    gate.gate = threading.Event()
    probes: list[Any] = []
    b_thread = threading.Thread(target=lambda: probes.append(b.run(gate, fallback)))

    def b_probes_first() -> None:
        b_thread.start()
        assert gate.entered.wait(timeout=10)  # B holds the probe, its call in flight

    table_a.before_write = b_probes_first
    first = a.run(downstream, fallback)  # A's move to HALF_OPEN loses to B's
    assert first.fallback and not first.probe and first.state == "HALF_OPEN"
    assert downstream.calls == 3 and gate.calls == 1
    gate.gate.set()
    b_thread.join(timeout=10)
    assert probes[0].probe and probes[0].state == "HALF_OPEN"
    assert [(m.old, m.new) for m in moves] == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN")]


def test_a_late_failure_after_another_instance_opened_is_ignored(new_breaker):
    a = new_breaker()
    b = new_breaker()
    failing = Downstream()
    failing.failing = True

    def fails_after_b_opened() -> str:
        for _ in range(3):
            b.call(failing, fallback)
        raise ConnectionError("late")

    assert a.run(fails_after_b_opened, fallback).state == "OPEN"
    stored = item(b.store.table)
    assert (stored["version"], stored["failures"]) == (3, 3)


def test_a_late_failure_during_another_instances_probe_does_not_reopen(new_breaker, clock):
    a = new_breaker()
    b = new_breaker()
    failing = Downstream()
    failing.failing = True

    def fails_while_b_probes() -> str:
        for _ in range(3):
            b.call(failing, fallback)
        clock.advance_ms(OPEN_MS)
        assert b._decide(b.now_ms()).probe_token  # B holds the probe, its call in flight
        raise ConnectionError("late")

    assert a.run(fails_while_b_probes, fallback).state == "HALF_OPEN"
    stored = item(b.store.table)
    assert (stored["state"], stored["version"]) == ("HALF_OPEN", 4)


def test_a_probe_that_never_reports_frees_the_circuit_after_its_lease(new_breaker, clock, lib):
    moves: list[Any] = []
    breaker = new_breaker(call_timeout_ms=1000, on_transition=moves.append)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        breaker.call(downstream, fallback)
    clock.advance_ms(OPEN_MS)
    dead = breaker._decide(breaker.now_ms())  # took the probe, then its function died
    assert dead.call and dead.probe_token
    assert breaker.run(downstream, fallback).fallback and downstream.calls == 3
    clock.advance_ms(1000 + lib.PROBE_MARGIN_MS)
    downstream.failing = False
    taken_over = breaker.run(downstream, fallback)
    assert taken_over.probe and taken_over.state == "HALF_OPEN"
    assert breaker._record(dead, ok=False) == "HALF_OPEN"  # the dead probe's word is void
    assert item(breaker.store.table)["state"] == "HALF_OPEN"


# The read cache -------------------------------------------------------------------------------


def test_the_closed_path_reads_the_table_once_per_state_cache_ms(new_breaker, clock):
    table = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    breaker = new_breaker(table, state_cache_ms=1000)
    for _ in range(50):
        breaker.call(Downstream(), fallback)
    assert table.reads == 1
    clock.advance_ms(999)
    breaker.call(Downstream(), fallback)
    assert table.reads == 1
    clock.advance_ms(1)
    breaker.call(Downstream(), fallback)
    assert table.reads == 2


def test_an_open_circuit_is_cached_no_longer_than_its_cool_down(new_breaker, clock):
    table = Watched(boto3.resource("dynamodb", region_name=REGION).Table(TABLE))
    breaker = new_breaker(table, state_cache_ms=OPEN_MS - 1)
    downstream = Downstream()
    downstream.failing = True
    for _ in range(3):
        breaker.call(downstream, fallback)
    reads = table.reads
    clock.advance_ms(OPEN_MS - 2)
    assert breaker.run(downstream, fallback).fallback
    assert table.reads == reads  # served from the cache
    clock.advance_ms(2)
    assert breaker.run(downstream, fallback).probe  # cool-down over: to the table
    assert table.reads == reads + 1


def test_a_cached_closed_is_stale_for_at_most_state_cache_ms(new_breaker, clock):
    """Bounded staleness, and the reason state_cache_ms < open_ms: a CLOSED read before the
    circuit opened has expired before the cool-down ends, so it never meets a probe."""
    stale = new_breaker(state_cache_ms=1000)
    opener = new_breaker()
    healthy = Downstream()
    stale.call(healthy, fallback)  # caches CLOSED
    failing = Downstream()
    failing.failing = True
    for _ in range(3):
        opener.call(failing, fallback)
    clock.advance_ms(999)
    assert stale.run(healthy, fallback).fallback is False  # within the cache: still calls
    clock.advance_ms(1)
    assert stale.run(healthy, fallback).state == "OPEN"


def test_the_cache_may_not_outlive_the_cool_down(lib):
    with pytest.raises(ValueError, match="state_cache_ms must be between 0 and open_ms - 1"):
        lib.CircuitBreaker(None, "quotes", open_ms=1000, state_cache_ms=1000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be at least 1"),
        ({"success_threshold": 0}, "success_threshold must be at least 1"),
        ({"open_ms": 0, "state_cache_ms": 0}, "open_ms must be at least 1"),
        ({"call_timeout_ms": 0}, "call_timeout_ms must be at least 1"),
        ({"fail_mode": "half"}, "fail_mode must be one of open, closed"),
        ({"state_cache_ms": -1}, "state_cache_ms must be between"),
    ],
)
def test_invalid_breaker_arguments_name_the_argument(lib, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lib.CircuitBreaker(None, "quotes", **kwargs)


def test_next_state_is_the_table_of_transitions(lib):
    policy = lib.Policy(failure_threshold=3, success_threshold=2, open_ms=100)
    state = lib.CircuitState

    def after(current: Any, ok: bool, token: str | None = None) -> Any:
        return lib.next_state(current, ok=ok, probe_token=token, now_ms=1000, policy=policy)

    assert after(state(), ok=True) is None
    assert after(state(failures=1, version=4), ok=True) == state(failures=0, version=5)
    assert after(state(failures=1, version=4), ok=False) == state(failures=2, version=5)
    assert after(state(failures=2, version=4), ok=False) == state(
        state="OPEN", failures=3, opened_until_ms=1100, version=5
    )
    assert after(state(state="OPEN", version=4), ok=False) is None
    probing = state(state="HALF_OPEN", version=4, probe_token="t", probe_until_ms=2000)
    assert after(probing, ok=False) is None  # not the probe
    assert after(probing, ok=True, token="u") is None  # another probe's lease
    assert after(probing, ok=True, token="t") == state(state="HALF_OPEN", successes=1, version=5)
    assert after(state(state="HALF_OPEN", successes=1, version=4, probe_token="t"), True, "t") == (
        state(version=5)
    )
    assert after(probing, ok=False, token="t") == state(
        state="OPEN", opened_until_ms=1100, version=5
    )


# 16 threads against a failing, then recovering dependency ------------------------------------


def test_sixteen_threads_make_one_probe_per_cool_down_and_lose_no_transition(lib, clock, aws):
    threads = 16
    moves: list[Any] = []
    lock = threading.Lock()

    def record(move: Any) -> None:
        with lock:
            moves.append(move)

    breakers = [
        lib.CircuitBreaker(
            boto3.Session(region_name=REGION).resource("dynamodb").Table(TABLE),
            "quotes",
            open_ms=OPEN_MS,
            state_cache_ms=1000,
            clock=clock,
            on_transition=record,
        )
        for _ in range(threads)
    ]
    downstream = Downstream()
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)

    def round_(*, held: bool = False) -> list[Any]:
        """Every breaker calls once, all at the same (frozen) instant. `held`: the first
        call into the downstream waits until every other thread has its answer, and the
        downstream has then been called exactly once."""
        barrier = threading.Barrier(threads)
        finished = threading.Condition()
        done: list[Any] = []
        downstream.gate = threading.Event() if held else None
        calls = downstream.calls

        def one(breaker: Any) -> Any:
            barrier.wait(timeout=30)
            result = breaker.run(downstream, fallback)
            with finished:
                done.append(result)
                finished.notify_all()
            return result

        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(one, b) for b in breakers]
            if held:
                with finished:
                    assert finished.wait_for(lambda: len(done) == threads - 1, timeout=30)
                assert downstream.calls == calls + 1  # only the probe, still in flight
                assert all(r.fallback and not r.probe for r in done)
                downstream.gate.set()
            return [f.result(timeout=30) for f in futures]

    with atomic_items():
        downstream.failing = True
        opened = round_()
        assert item(table)["state"] == "OPEN"
        assert downstream.calls >= 3  # those that read CLOSED before the third failure
        assert [(m.old, m.new) for m in moves] == [("CLOSED", "OPEN")]

        clock.advance_ms(OPEN_MS // 2)
        calls = downstream.calls
        assert all(r.fallback and r.state == "OPEN" for r in round_())
        assert downstream.calls == calls  # open: nobody calls

        for cool_down in range(2):  # still failing: one probe per cool-down, then open again
            clock.advance_ms(OPEN_MS)
            calls = downstream.calls
            results = round_(held=True)
            assert downstream.calls == calls + 1, f"cool-down {cool_down}"
            assert sum(r.probe for r in results) == 1
            assert sum(r.fallback for r in results) == threads
            assert item(table)["state"] == "OPEN"

        downstream.failing = False  # recovered: one probe at a time until two succeed
        clock.advance_ms(OPEN_MS)
        for expected in ("HALF_OPEN", "CLOSED"):
            calls = downstream.calls
            results = round_(held=True)
            assert downstream.calls == calls + 1
            (probe,) = [r for r in results if r.probe]
            assert (probe.value, probe.state) == ("payload", expected)
            assert sum(r.fallback for r in results) == threads - 1
        closed = round_()
        assert all(r.value == "payload" and not r.fallback for r in closed)
        assert all(r.fallback for r in opened)

    # No lost transition: ordered by version, each starts where the previous ended, and
    # the last is what the table holds.
    chain = sorted(moves, key=lambda m: m.version)
    assert [m.new for m in chain] == [
        "OPEN",
        "HALF_OPEN",
        "OPEN",
        "HALF_OPEN",
        "OPEN",
        "HALF_OPEN",
        "CLOSED",
    ]
    assert all(prev.new == nxt.old for prev, nxt in itertools.pairwise(chain))
    assert len({m.version for m in chain}) == len(chain)
    assert item(table)["state"] == chain[-1].new == "CLOSED"


# The caller handler ------------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __init__(self, status: int) -> None:
        super().__init__(b'{"quote": 42}')
        self.status = status


class FakeHttp:
    """`urllib.request.urlopen` for the downstream: answers with `status`, or raises."""

    def __init__(self) -> None:
        self.status = 200
        self.raises: BaseException | None = None
        self.requests: list[Any] = []

    def __call__(self, request: Any, timeout: float) -> Any:
        self.requests.append((request, timeout))
        if self.raises is not None:
            raise self.raises
        if self.status >= 400:
            raise urllib.error.HTTPError(request.full_url, self.status, "error", {}, None)
        return FakeResponse(self.status)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> FakeHttp:
    fake = FakeHttp()
    monkeypatch.setattr("urllib.request.urlopen", fake)
    return fake


@pytest.fixture
def caller_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "TABLE_NAME": TABLE,
        "CIRCUIT_ID": "quotes",
        "DOWNSTREAM_URL": URL,
        "FAILURE_THRESHOLD": "3",
        "SUCCESS_THRESHOLD": "2",
        "OPEN_MS": str(OPEN_MS),
        "CALL_TIMEOUT_MS": "2000",
        "FAIL_MODE": "open",
        "STATE_CACHE_MS": "0",
        "FALLBACK_BODY": '{"message": "Fallback", "quote": null}',
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def caller(load_function, caller_env, aws, clock, http) -> ModuleType:
    module = load_function(PATTERN, "caller")
    module.circuit.clock = clock
    return module


def test_the_caller_answers_success_with_the_circuit_state(
    caller, load_event, lambda_context, http
):
    response = caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "Success"}
    assert response["headers"]["X-Circuit-State"] == "CLOSED"
    ((request, timeout),) = http.requests
    assert (request.full_url, request.get_method(), timeout) == (URL, "GET", 2.0)
    assert "Authorization" not in request.headers


def test_the_caller_opens_after_three_failures_then_falls_back_without_calling(
    caller, load_event, lambda_context, http, capsys
):
    http.status = 503
    event = load_event(PATTERN, "http-get")  # the HTTP API's payload 2.0 works the same
    answers = [caller.handler(event, lambda_context) for _ in range(4)]
    assert [a["headers"]["X-Circuit-State"] for a in answers] == ["CLOSED"] * 2 + ["OPEN"] * 2
    assert all(json.loads(a["body"]) == {"message": "Fallback", "quote": None} for a in answers)
    assert len(http.requests) == 3
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    names = [m["Name"] for blob in emitted for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names.count("CircuitOpened") == 1 and names.count("Fallbacks") == 4
    assert names.count("Calls") == 3 and names.count("Failures") == 3
    dims = emitted[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    assert set(dims) == {"circuit", "table", "service"}


def test_a_client_timeout_counts_as_a_failure(caller, load_event, lambda_context, http):
    http.raises = urllib.error.URLError(TimeoutError("timed out"))
    for _ in range(3):
        response = caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    assert response["headers"]["X-Circuit-State"] == "OPEN"


def test_client_errors_of_the_downstream_are_not_its_failures(
    caller, load_event, lambda_context, http
):
    http.status = 404
    for _ in range(4):
        response = caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    assert response["headers"]["X-Circuit-State"] == "CLOSED"
    assert json.loads(response["body"]) == {"message": "Success"}


def test_the_caller_falls_back_when_the_table_is_unreachable(
    load_function, caller_env, aws, http, monkeypatch, load_event, lambda_context
):
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    caller = load_function(PATTERN, "caller")
    response = caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    assert response["headers"]["X-Circuit-State"] == "UNKNOWN"
    assert json.loads(response["body"])["message"] == "Fallback"
    assert http.requests == []


def test_transitions_are_published_on_the_bus(
    load_function, caller_env, aws, clock, http, monkeypatch, load_event, lambda_context
):
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="circuits")
    queue = sqs.create_queue(QueueName="seen")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="all",
        EventBusName="circuits",
        EventPattern=json.dumps({"source": ["serverless-patterns.circuit-breaker"]}),
    )
    events.put_targets(
        Rule="all",
        EventBusName="circuits",
        Targets=[{"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}],
    )
    monkeypatch.setenv("EVENT_BUS_NAME", "circuits")
    caller = load_function(PATTERN, "caller")
    caller.circuit.clock = clock
    http.status = 500
    for _ in range(3):
        caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    clock.advance_ms(OPEN_MS)
    http.status = 200
    for _ in range(2):
        caller.handler(load_event(PATTERN, "rest-get"), lambda_context)

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    received = [json.loads(m["Body"]) for m in messages]
    assert [(e["detail-type"], e["detail"]["from"], e["detail"]["to"]) for e in received] == [
        ("CircuitOpened", "CLOSED", "OPEN"),
        ("CircuitClosed", "HALF_OPEN", "CLOSED"),
    ]
    assert received[0]["detail"]["circuitId"] == "quotes"


def test_the_demo_downstream_is_called_with_a_sigv4_signature(
    load_function, caller_env, aws, http, monkeypatch, load_event, lambda_context
):
    monkeypatch.setenv("DOWNSTREAM_AUTH", "iam")
    monkeypatch.setenv(
        "DOWNSTREAM_URL", "https://k7x2m9q4w1.execute-api.eu-west-1.amazonaws.com/v1/flaky"
    )
    caller = load_function(PATTERN, "caller")
    caller.handler(load_event(PATTERN, "rest-get"), lambda_context)
    ((request, _),) = http.requests
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/execute-api/aws4_request" in authorization


@pytest.mark.parametrize(
    ("event", "status", "message"),
    [
        ("not an event", 400, "not an API Gateway proxy request"),
        ({}, 400, "not an API Gateway proxy request"),
        ({"httpMethod": 7}, 400, "not an API Gateway proxy request"),
        ("rest-post", 405, "POST is not allowed; use GET"),
    ],
)
def test_what_is_not_a_get_is_a_4xx_with_a_message(
    caller, load_event, lambda_context, http, event, status, message
):
    if event == "rest-post":
        event = load_event(PATTERN, "rest-post")
    response = caller.handler(event, lambda_context)
    assert response["statusCode"] == status
    assert message in json.loads(response["body"])["message"]
    assert http.requests == []


# The downstream client and the demo endpoint --------------------------------------------------


def test_the_downstream_client_classifies_statuses(load_function, http):
    downstream = load_function(PATTERN, "downstream")
    for status, fails in [(200, False), (404, False), (429, True), (500, True), (503, True)]:
        http.status = status
        if fails:
            with pytest.raises(downstream.DownstreamError) as caught:
                downstream.get(URL, timeout_s=1)
            assert caught.value.status == status
        else:
            assert downstream.get(URL, timeout_s=1) == status
    with pytest.raises(ValueError, match="must be https://"):
        downstream.get("file:///etc/passwd", timeout_s=1)


def test_the_demo_endpoint_fails_at_its_configured_rate(
    load_function, monkeypatch, load_event, lambda_context
):
    monkeypatch.setenv("FAILURE_RATE", "0.25")
    flaky = load_function(PATTERN, "flaky")
    assert flaky.FAILURE_RATE == 0.25
    assert flaky.outcome(0.24) == (503, "Injected failure")
    assert flaky.outcome(0.25) == (200, "OK")
    flaky.chance.seed(7)
    statuses = [
        flaky.handler(load_event(PATTERN, "flaky-get"), lambda_context)["statusCode"]
        for _ in range(400)
    ]
    assert set(statuses) == {200, 503}
    assert 60 <= statuses.count(503) <= 140  # about a quarter of 400
    assert flaky.outcome(0.0, rate=0.0) == (200, "OK")
    assert flaky.outcome(0.999, rate=1.0)[0] == 503
