"""lambda-extension: a warm config-cache read over localhost HTTP against direct Powertools reads.

Rows (median of single-read latencies, same run, same secret):
- `extension, warm cache`: the function's client (`config_cache_client.from_extension`)
  asking the extension's server on 127.0.0.1 for a value it already holds: one new TCP
  connection, one HTTP request, the token check, a dict lookup. No AWS call.
- `powertools, no cache (baseline)`: `parameters.get_secret(..., max_age=0)`, one
  GetSecretValue per read, here answered by moto *in process*: botocore's request signing,
  serialisation and parsing, but no network. A real Secrets Manager call adds a TLS round
  trip within the Region (typically milliseconds), so this row is a floor, and the ratio
  understates what a cache hit saves against the real service.
- `powertools, warm cache`: the same call with `max_age=300`: Powertools' in-memory cache
  in the function's own process, which needs no extension at all.

What this does not show: the extension's cold start (registration, boto3 import) that
counts toward the function's init, its memory, and the real service's latency and price.
It does show what a warm extension read costs: a localhost TCP connection and HTTP
exchange, a fraction of a millisecond, about half of moto's in-process read on an idle
machine (a loaded one has measured it above moto's). Against the real service's network
call the gap is wider; against Powertools' own cache the extension always loses.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws

from bench.timing import ROOT

REGION = "eu-west-1"
SECRET_NAME = "bench/orders/db"
READS = 400
LAYER = ROOT / "functions" / "lambda_extension" / "layer"
SHARED = ROOT / "functions" / "shared"
TOKEN = "bench-session-token"


def _median_ms(read: Callable[[], Any], reads: int = READS) -> float:
    samples = []
    for _ in range(reads):
        start = time.perf_counter()
        read()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run() -> list[str]:
    for folder in (LAYER, SHARED):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": TOKEN,
            "POWERTOOLS_TRACE_DISABLED": "1",
        }
    )
    import config_cache_client as client
    from aws_lambda_powertools.utilities import parameters
    from config_cache.cache import AllowList, ConfigCache
    from config_cache.fetch import fetchers
    from config_cache.server import start

    with mock_aws():
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET_NAME, SecretString='{"user": "orders", "password": "bench"}'
        )["ARN"]
        cache = ConfigCache(AllowList.of([arn], []), fetchers(), ttl_s=300)
        port = _free_port()
        server = start(cache, TOKEN, port)
        try:
            client.from_extension("secret", SECRET_NAME, port=port)  # warm the cache
            extension = _median_ms(lambda: client.from_extension("secret", SECRET_NAME, port=port))
            fetches = cache.fetches
        finally:
            server.shutdown()
            server.server_close()
        direct = _median_ms(lambda: parameters.get_secret(SECRET_NAME, max_age=0))
        parameters.get_secret(SECRET_NAME, max_age=300)
        cached = _median_ms(lambda: parameters.get_secret(SECRET_NAME, max_age=300))
        parameters.clear_caches()

    rows = [
        ("extension, warm cache (localhost HTTP)", extension),
        ("powertools, no cache (baseline, moto)", direct),
        ("powertools, warm cache (in-process)", cached),
    ]
    lines = [f"  {label:<44} {ms:8.3f} ms   {ms / direct:6.3f}x baseline" for label, ms in rows]
    verdict = "faster" if extension < direct else "slower"
    lines.append(
        f"  a warm extension read is {verdict} than an in-process moto read "
        f"({extension / direct:.2f}x); {fetches} service fetch for {READS + 1} extension reads"
    )
    return lines
