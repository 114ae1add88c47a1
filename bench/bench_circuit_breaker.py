"""circuit-breaker: per-call overhead of CircuitBreaker.call on a closed circuit, against moto.

The baseline is calling the same function directly, in the same run. The breaker reads the
circuit's state once per `state_cache_ms` (default 1000 ms) and reuses that CLOSED read in
between, so a call on a closed circuit costs a clock read and a dict-free check, and a
successful call on a clean circuit writes nothing. The second pair of rows reads the table
on every call (`state_cache_ms=0`): what the cache saves. The DynamoDB figures are moto's (an
in-process interpreter, not the service's network round trip), so compare rows, not
absolutes; `reads` is how many GetItem calls the breaker made.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws

from bench.timing import ROOT

REGION = "eu-west-1"
TABLE = "bench-circuits"
FOLDER = ROOT / "functions" / "circuit_breaker"
CACHED_CALLS = 50_000
UNCACHED_CALLS = 200
REPEATS = 5
PAYLOAD = {"quote": 42.5, "currency": "EUR", "symbols": ["A", "B", "C"], "ok": True}


def breaker_module() -> Any:
    """The Lambda's `breaker` module, imported as its zip root makes it."""
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    import breaker

    return breaker


class CountingTable:
    def __init__(self, table: Any) -> None:
        self.table = table
        self.reads = 0

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.table.get_item(**kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        return self.table.update_item(**kwargs)


def create_table() -> Any:
    return boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "circuitId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "circuitId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def noop() -> int:
    return 42


def small_call() -> Any:
    """A stand-in for a cheap dependency: a JSON round trip of a small document."""
    return json.loads(json.dumps(PAYLOAD))


def fallback() -> Any:
    return None


def per_call(run: Callable[[], Any], calls: int) -> float:
    """Median seconds per call over REPEATS runs of `calls` calls."""
    for _ in range(min(calls, 1000)):  # warm up
        run()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def row(label: str, seconds: float, baseline: float, note: str = "") -> str:
    return (
        f"  {label:<44} {seconds * 1e6:9.2f} µs/call   {seconds / baseline:6.1f}x baseline"
        f"   +{(seconds - baseline) * 1e6:8.2f} µs  {note}"
    ).rstrip()


def run() -> list[str]:
    lines = []
    with mock_aws():
        table = CountingTable(create_table())
        lib = breaker_module()
        cached = lib.CircuitBreaker(table, "bench", state_cache_ms=1000)
        uncached = lib.CircuitBreaker(table, "bench-uncached", state_cache_ms=0)
        lines.append(
            f"  closed circuit, state_cache_ms=1000 (the default); {CACHED_CALLS} calls x "
            f"{REPEATS}, median"
        )
        for name, fn in (("no-op function", noop), ("small JSON round trip", small_call)):
            base = per_call(fn, CACHED_CALLS)
            before = table.reads
            guarded = per_call(functools.partial(cached.call, fn, fallback), CACHED_CALLS)
            reads = table.reads - before
            lines.append(row(f"{name}, direct (baseline)", base, base))
            lines.append(row(f"{name}, through the breaker", guarded, base, f"reads={reads}"))
        lines.append(
            f"  closed circuit, state_cache_ms=0 (a read per call); {UNCACHED_CALLS} calls x "
            f"{REPEATS}, median"
        )
        base = per_call(small_call, UNCACHED_CALLS)
        before = table.reads
        guarded = per_call(functools.partial(uncached.call, small_call, fallback), UNCACHED_CALLS)
        lines.append(row("small JSON round trip, direct (baseline)", base, base))
        lines.append(
            row(
                "small JSON round trip, through the breaker",
                guarded,
                base,
                f"reads={table.reads - before}",
            )
        )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
