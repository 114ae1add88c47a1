"""The caller's dependency: one HTTPS GET with a client timeout, SigV4-signed when the
downstream is an IAM-authorised API Gateway route (the demo endpoint).

A status of 500 or more, or 429, is the dependency failing (`DownstreamError`); a client
timeout raises too. Both count as failures in the breaker. No AWS client here: the signer
is handed the credentials by the handler.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

MAX_BODY_BYTES = 64 * 1024  # read no more than this of a response (we only need its status)

Opener = Callable[..., Any]


class DownstreamError(Exception):
    """The dependency answered with a failure status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"downstream answered {status}")
        self.status = status


@dataclass(frozen=True)
class Signer:
    """Signs requests for `service` (execute-api) in `region` with fresh credentials."""

    credentials: Callable[[], Any]  # returns botocore credentials (refreshed as they expire)
    region: str
    service: str = "execute-api"

    def headers(self, url: str) -> dict[str, str]:
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(self.credentials(), self.service, self.region).add_auth(request)
        return dict(request.headers.items())


def failed(status: int) -> bool:
    return status >= 500 or status == 429


def get(
    url: str,
    *,
    timeout_s: float,
    signer: Signer | None = None,
    opener: Opener | None = None,
) -> int:
    """GET `url`; returns the status, or raises DownstreamError / the client's timeout."""
    if not url.startswith("https://"):
        raise ValueError(f"the downstream URL must be https:// (got {url!r})")
    headers = {"Accept": "application/json", **(signer.headers(url) if signer else {})}
    request = urllib.request.Request(url, method="GET", headers=headers)
    try:
        with (opener or urllib.request.urlopen)(request, timeout=timeout_s) as response:
            response.read(MAX_BODY_BYTES)
            status = int(response.status)
    except urllib.error.HTTPError as error:  # urlopen raises for every 4xx and 5xx
        status = int(error.code)
        error.close()
    if failed(status):
        raise DownstreamError(status)
    return status
