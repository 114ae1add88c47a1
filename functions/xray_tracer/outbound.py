"""The call to the external URL: explicit connect and read timeouts, a bounded retry on
connection errors and gateway answers, and the fault `failure_rate` injects.

Never trust a client's defaults (requests waits forever without a timeout): the two
timeouts together stay well under the function's own timeout, so a slow target is a
recorded fault, not a function killed mid-call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import hops
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (502, 503, 504)


@dataclass(frozen=True)
class Target:
    url: str
    connect_timeout_s: float
    read_timeout_s: float
    retries: int = 1
    failure_rate: float = 0.0


def session(retries: int) -> requests.Session:
    """A session that retries idempotent GETs `retries` times, with a short backoff."""
    policy = Retry(
        total=retries,
        backoff_factor=0.2,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    client = requests.Session()
    for prefix in ("https://", "http://"):
        client.mount(prefix, HTTPAdapter(max_retries=policy))
    return client


def call(client: requests.Session, target: Target, path: str, draw: Callable[[], float]) -> int:
    """GETs the target for `path` and returns the status; raises `hops.InjectedFault` when
    the draw says so and `hops.DownstreamError` on a server error."""
    if hops.should_inject(target.failure_rate, draw()):
        raise hops.InjectedFault(f"injected fault for {path} (failure_rate={target.failure_rate})")
    response = client.get(
        target.url,
        params={"path": path},
        timeout=(target.connect_timeout_s, target.read_timeout_s),
    )
    if response.status_code >= 500:
        raise hops.DownstreamError(f"{target.url} answered {response.status_code}")
    return response.status_code
