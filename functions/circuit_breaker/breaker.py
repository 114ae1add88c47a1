"""A circuit breaker whose state lives in DynamoDB, for any function that calls out.

    breaker = CircuitBreaker(table, "payments-api", failure_threshold=3, open_ms=10_000)
    value = breaker.call(lambda: fetch(url, timeout=breaker.call_timeout_s), fallback)

One item per dependency (`circuitId`), shared by every function and every instance that
calls it: `state` (CLOSED | OPEN | HALF_OPEN), `failures`, `successes`, `openedUntil` (epoch
ms), `version`, `updatedAt`, and while a half-open probe is in flight `probeToken` and
`probeUntil` (epoch ms). Every write is an UpdateItem conditional on the `version` it read
(the item's absence for the first write), so two invocations racing on one version produce
exactly one transition; the loser reads again and decides anew.

    CLOSED    --failures >= failure_threshold--> OPEN (openedUntil = now + open_ms)
    OPEN      --now >= openedUntil, one caller wins the write--> HALF_OPEN (it probes)
    HALF_OPEN --the probe succeeds, successes >= success_threshold--> CLOSED
    HALF_OPEN --the probe succeeds, fewer--> HALF_OPEN (the next caller probes)
    HALF_OPEN --the probe fails--> OPEN (a new cool-down)

Half-open admits one call at a time: the probe holds a lease (`probeUntil`, the call
timeout plus a margin, so a probe whose function died frees the circuit); every other
caller gets the fallback meanwhile. Only the probe's own outcome moves a half-open circuit:
a call that started while the circuit was closed and ends later is ignored, as is any
outcome that reaches an open circuit.

The read cache (`state_cache_ms`, default 1000 ms): the closed path must not pay a
DynamoDB read per call, so a CLOSED snapshot is reused for that long, and an OPEN one until
the earlier of that and its `openedUntil` (a fact that holds until then). HALF_OPEN is never
cached, and every move out of OPEN or HALF_OPEN is decided on a strongly consistent read and
a conditional write. `state_cache_ms` must be below `open_ms`: a CLOSED snapshot read before
the circuit opened has then expired before the cool-down ends, so no instance calls on a
stale CLOSED while a probe is in flight (which keeps "one probe at a time" true across
instances; it assumes instance clocks agree to well within `open_ms - state_cache_ms`). The
price is bounded staleness: an instance may call a dependency up to `state_cache_ms` after
another instance opened the circuit.

A call fails when `fn` raises (a client timeout included) or returns after
`call_timeout_ms` (a slow success counts as a failure, its value still returned). When the
table cannot be read, `fail_mode` decides: "open" answers with the fallback, "closed" calls
the dependency unguarded. A failed outcome write is logged and dropped, never raised.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Generic, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

CLOSED: Final = "CLOSED"
OPEN: Final = "OPEN"
HALF_OPEN: Final = "HALF_OPEN"
UNKNOWN: Final = "UNKNOWN"  # the table could not be read
STATES: Final = (CLOSED, OPEN, HALF_OPEN)
FAIL_MODES: Final = ("open", "closed")
# Lost races before a decision or an outcome gives up: each loss means another writer
# made progress, so this bounds work under contention, not correctness.
MAX_RACES: Final = 32
PROBE_MARGIN_MS: Final = 1000  # the probe lease outlasts the call by this much
_LOST_RACE = "ConditionalCheckFailedException"

FailMode = Literal["open", "closed"]
T = TypeVar("T")

logger = logging.getLogger(__name__)


class StateUnavailable(Exception):
    """The circuits table could not be read or written (not a lost race)."""


class _LostRace(Exception):
    """Another writer moved the item first."""


@dataclass(frozen=True)
class CircuitState:
    """One circuit's item; version 0 means no item exists yet (a fresh CLOSED circuit)."""

    state: str = CLOSED
    failures: int = 0
    successes: int = 0
    opened_until_ms: int = 0
    version: int = 0
    probe_token: str | None = None
    probe_until_ms: int = 0

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> CircuitState:
        if not item:
            return cls()
        state = str(item.get("state", CLOSED))
        return cls(
            state=state if state in STATES else CLOSED,
            failures=int(item.get("failures", 0)),
            successes=int(item.get("successes", 0)),
            opened_until_ms=int(item.get("openedUntil", 0)),
            version=int(item.get("version", 0)),
            probe_token=str(item["probeToken"]) if item.get("probeToken") else None,
            probe_until_ms=int(item.get("probeUntil", 0)),
        )


@dataclass(frozen=True)
class Policy:
    failure_threshold: int = 3
    success_threshold: int = 2
    open_ms: int = 10_000
    probe_lease_ms: int = 2_000 + PROBE_MARGIN_MS


@dataclass(frozen=True)
class Transition:
    """A state change this breaker wrote (`version` is the item's version after it)."""

    circuit_id: str
    old: str
    new: str
    at_ms: int
    version: int
    failures: int


@dataclass(slots=True)
class CallResult(Generic[T]):
    """What `run` did: the value, the state after the call, and how it was obtained."""

    value: T
    state: str
    fallback: bool
    probe: bool = False
    error: BaseException | None = None


def next_state(
    current: CircuitState, *, ok: bool, probe_token: str | None, now_ms: int, policy: Policy
) -> CircuitState | None:
    """The state after one call's outcome, or None when nothing is to be written (a success
    on a clean closed circuit; an outcome that no longer concerns the circuit)."""
    version = current.version + 1
    if probe_token is not None and current.probe_token != probe_token:
        return None  # this probe's lease expired and another caller took the circuit over
    if current.state == CLOSED:
        if ok:
            return None if current.failures == 0 else replace(current, failures=0, version=version)
        failures = current.failures + 1
        if failures >= policy.failure_threshold:
            return CircuitState(
                state=OPEN,
                failures=failures,
                opened_until_ms=now_ms + policy.open_ms,
                version=version,
            )
        return replace(current, failures=failures, version=version)
    if current.state == HALF_OPEN and probe_token is not None:
        if not ok:
            return CircuitState(
                state=OPEN,
                failures=current.failures,
                opened_until_ms=now_ms + policy.open_ms,
                version=version,
            )
        successes = current.successes + 1
        if successes >= policy.success_threshold:
            return CircuitState(state=CLOSED, version=version)
        return CircuitState(
            state=HALF_OPEN, failures=current.failures, successes=successes, version=version
        )
    return None  # OPEN already, or HALF_OPEN and this call was not the probe


class CircuitStore:
    """The circuits table: strongly consistent reads, writes conditional on `version`."""

    def __init__(self, table: Any, circuit_id: str) -> None:
        self.table = table
        self.circuit_id = circuit_id

    def read(self) -> CircuitState:
        try:
            response = self.table.get_item(Key={"circuitId": self.circuit_id}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise StateUnavailable(str(error)) from error
        return CircuitState.from_item(response.get("Item"))

    def write(self, expected: int, new: CircuitState, now_ms: int) -> None:
        """Replace the item at version `expected` (0: it must not exist) with `new`."""
        names = {
            "#state": "state",
            "#failures": "failures",
            "#successes": "successes",
            "#openedUntil": "openedUntil",
            "#version": "version",
            "#updatedAt": "updatedAt",
            "#probeToken": "probeToken",
            "#probeUntil": "probeUntil",
        }
        values: dict[str, Any] = {
            ":state": new.state,
            ":failures": new.failures,
            ":successes": new.successes,
            ":openedUntil": new.opened_until_ms,
            ":version": new.version,
            ":updatedAt": now_ms,
        }
        sets = [
            "#state = :state",
            "#failures = :failures",
            "#successes = :successes",
            "#openedUntil = :openedUntil",
            "#version = :version",
            "#updatedAt = :updatedAt",
        ]
        expression = ""
        if new.probe_token is not None:
            sets += ["#probeToken = :probeToken", "#probeUntil = :probeUntil"]
            values[":probeToken"] = new.probe_token
            values[":probeUntil"] = new.probe_until_ms
        else:
            expression = " REMOVE #probeToken, #probeUntil"
        if expected == 0:
            condition = "attribute_not_exists(circuitId)"
        else:
            condition = "#version = :expected"
            values[":expected"] = expected
        try:
            self.table.update_item(
                Key={"circuitId": self.circuit_id},
                UpdateExpression="SET " + ", ".join(sets) + expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _LOST_RACE:
                raise _LostRace from error
            raise StateUnavailable(str(error)) from error
        except BotoCoreError as error:
            raise StateUnavailable(str(error)) from error


@dataclass(slots=True)
class _Decision:
    call: bool
    snapshot: CircuitState | None  # None: the table could not be read
    probe_token: str | None = None


class CircuitBreaker:
    """Guards calls to one dependency (`circuit_id`) with the state in `table`.

    table: a boto3 DynamoDB Table (`boto3.resource("dynamodb").Table(name)`), key
      `circuitId` (S); the caller needs GetItem and UpdateItem on it.
    failure_threshold: consecutive failed calls that open a closed circuit.
    success_threshold: successful half-open probes that close it again.
    open_ms: how long an open circuit answers with the fallback before it probes.
    call_timeout_ms: the longest a call may take; pass `call_timeout_s` to the client.
    fail_mode: "open" (fallback) or "closed" (call anyway) when the table is unreachable.
    state_cache_ms: how long a CLOSED (or unexpired OPEN) snapshot is reused; 0 reads the
      table on every call. Must be below open_ms.
    clock: epoch seconds (time.time); tests freeze it.
    on_transition: called with each Transition this breaker writes (metrics, events);
      an exception there is logged, never raised into the call.
    """

    def __init__(
        self,
        table: Any,
        circuit_id: str,
        *,
        failure_threshold: int = 3,
        success_threshold: int = 2,
        open_ms: int = 10_000,
        call_timeout_ms: int = 2_000,
        fail_mode: FailMode = "open",
        state_cache_ms: int = 1_000,
        clock: Callable[[], float] = time.time,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        if not circuit_id:
            raise ValueError("circuit_id must name the dependency")
        for name, value in (
            ("failure_threshold", failure_threshold),
            ("success_threshold", success_threshold),
            ("open_ms", open_ms),
            ("call_timeout_ms", call_timeout_ms),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value})")
        if fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of open, closed (got {fail_mode!r})")
        if not 0 <= state_cache_ms < open_ms:
            raise ValueError(
                f"state_cache_ms must be between 0 and open_ms - 1 ({open_ms - 1}), so a cached "
                f"CLOSED expires before a half-open probe can start (got {state_cache_ms})"
            )
        self.circuit_id = circuit_id
        self.store = CircuitStore(table, circuit_id)
        self.policy = Policy(
            failure_threshold=failure_threshold,
            success_threshold=success_threshold,
            open_ms=open_ms,
            probe_lease_ms=call_timeout_ms + PROBE_MARGIN_MS,
        )
        self.call_timeout_ms = call_timeout_ms
        self.fail_mode = fail_mode
        self.state_cache_ms = state_cache_ms
        self.clock = clock
        self.on_transition = on_transition
        # (snapshot, read at ms, the decision it gives); replaced whole, so threads sharing
        # a breaker see one or the other.
        self._cached: tuple[CircuitState, int, _Decision] | None = None

    @property
    def call_timeout_s(self) -> float:
        return self.call_timeout_ms / 1000

    def now_ms(self) -> int:
        return round(self.clock() * 1000)

    def call(self, fn: Callable[[], T], fallback: Callable[[], T]) -> T:
        """`fn()` when the circuit lets it through and it succeeds, else `fallback()`."""
        return self._execute(fn, fallback)[0]

    def run(self, fn: Callable[[], T], fallback: Callable[[], T]) -> CallResult[T]:
        """Like `call`, with the state after the call and how the value was obtained."""
        return CallResult(*self._execute(fn, fallback))

    def _execute(
        self, fn: Callable[[], T], fallback: Callable[[], T]
    ) -> tuple[T, str, bool, bool, BaseException | None]:
        """(value, state, fallback used, was the probe, the failure) of one guarded call."""
        decision = self._decide(self.now_ms())
        if not decision.call:
            state = decision.snapshot.state if decision.snapshot is not None else UNKNOWN
            return fallback(), state, True, False, None
        probe = decision.probe_token is not None
        started = self.now_ms()
        try:
            value = fn()
        except Exception as failure:  # any failure of the dependency, a timeout included
            return fallback(), self._record(decision, ok=False), True, probe, failure
        elapsed = self.now_ms() - started
        if elapsed <= self.call_timeout_ms:
            return value, self._record(decision, ok=True), False, probe, None
        # The answer came, but too late for a caller that waits call_timeout_ms: a failure.
        late = TimeoutError(f"call took {elapsed} ms (limit {self.call_timeout_ms})")
        return value, self._record(decision, ok=False), False, probe, late

    def state(self) -> CircuitState:
        """The circuit as the table holds it now (strongly consistent; no cache)."""
        return self.store.read()

    # decisions ---------------------------------------------------------------------------

    def _decide(self, now: int) -> _Decision:
        cached = self._fresh(now)
        if cached is not None:
            return cached
        try:
            return self._decide_on_table(now)
        except StateUnavailable as error:
            logger.warning(
                "Circuit state unavailable; fail_mode=%s", self.fail_mode, exc_info=error
            )
            return _Decision(call=self.fail_mode == "closed", snapshot=None)

    def _decide_on_table(self, now: int) -> _Decision:
        current = CircuitState()
        for _ in range(MAX_RACES):
            current = self._read(now)
            if current.state == CLOSED:
                return _Decision(call=True, snapshot=current)
            if current.state == OPEN and now < current.opened_until_ms:
                return _Decision(call=False, snapshot=current)
            if current.state == HALF_OPEN and now < current.probe_until_ms:
                return _Decision(call=False, snapshot=current)  # a probe is in flight
            # Cool-down over, or half-open with no probe in flight: try to be the probe.
            token = uuid.uuid4().hex
            probing = CircuitState(
                state=HALF_OPEN,
                failures=current.failures,
                successes=current.successes if current.state == HALF_OPEN else 0,
                version=current.version + 1,
                probe_token=token,
                probe_until_ms=now + self.policy.probe_lease_ms,
            )
            try:
                self.store.write(current.version, probing, now)
            except _LostRace:
                continue
            self._cached = None
            if current.state != HALF_OPEN:
                self._announce(current, probing, now)
            return _Decision(call=True, snapshot=probing, probe_token=token)
        return _Decision(call=False, snapshot=current)  # lost every race: stay safe

    # outcomes ----------------------------------------------------------------------------

    def _record(self, decision: _Decision, *, ok: bool) -> str:
        """Writes the outcome; returns the state after it (UNKNOWN if unwritable)."""
        snapshot = decision.snapshot
        if snapshot is None:
            return UNKNOWN  # fail_mode="closed" with the table unreachable
        if ok and snapshot.state == CLOSED and not snapshot.failures and not decision.probe_token:
            return CLOSED  # the common case: nothing to write
        now = self.now_ms()
        current: CircuitState | None = decision.snapshot
        try:
            for _ in range(MAX_RACES):
                if current is None:
                    current = self._read(now)
                new = next_state(
                    current, ok=ok, probe_token=decision.probe_token, now_ms=now, policy=self.policy
                )
                if new is None:
                    return current.state
                try:
                    self.store.write(current.version, new, now)
                except _LostRace:
                    current = None
                    continue
                self._remember(new, now)
                if new.state != current.state:
                    self._announce(current, new, now)
                return new.state
        except StateUnavailable as error:
            logger.warning("Call outcome not recorded", exc_info=error)
            return snapshot.state
        logger.warning("Call outcome not recorded: %d lost races", MAX_RACES)
        return current.state if current is not None else snapshot.state

    # the cache ---------------------------------------------------------------------------

    def _read(self, now: int) -> CircuitState:
        current = self.store.read()
        self._remember(current, now)
        return current

    def _remember(self, state: CircuitState, now: int) -> None:
        cacheable = state.state == CLOSED or (state.state == OPEN and now < state.opened_until_ms)
        if cacheable and self.state_cache_ms > 0:
            self._cached = (state, now, _Decision(call=state.state == CLOSED, snapshot=state))
        else:
            self._cached = None

    def _fresh(self, now: int) -> _Decision | None:
        """The cached decision, if its read is recent enough and still holds."""
        cached = self._cached
        if cached is None:
            return None
        state, read_at, decision = cached
        if not read_at <= now < read_at + self.state_cache_ms:
            return None
        if state.state == OPEN and now >= state.opened_until_ms:
            return None  # the cool-down is over: the move to HALF_OPEN goes to the table
        return decision

    def _announce(self, old: CircuitState, new: CircuitState, now: int) -> None:
        if self.on_transition is None:
            return
        transition = Transition(
            circuit_id=self.circuit_id,
            old=old.state,
            new=new.state,
            at_ms=now,
            version=new.version,
            failures=new.failures,
        )
        try:
            self.on_transition(transition)
        except Exception:
            logger.exception("on_transition failed for %s", transition)
