"""Reads a secret or parameter through the config-cache extension, or without it.

The extension answers on 127.0.0.1:CONFIG_CACHE_PORT within 200 ms or not at all; on any
failure (no layer, port closed, timeout, an error status) the read falls back to Powertools
`parameters` with the same TTL, so a handler works in tests, locally and without the layer.
Which path served a read is returned beside the value, so callers can report it (never the
value itself).
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

Kind = Literal["secret", "parameter"]
Source = Literal["extension", "powertools"]

TOKEN_HEADER = "X-Config-Cache-Token"
TIMEOUT_S = 0.2
DEFAULT_PORT = 2772
DEFAULT_TTL_S = 300

logger = Logger(child=True)
# Loopback only: a proxy from the environment must never see the token.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Read:
    value: str
    source: Source


def _port() -> int:
    return int(os.environ.get("CONFIG_CACHE_PORT", DEFAULT_PORT))


def _ttl_s() -> int:
    return int(os.environ.get("CONFIG_CACHE_TTL_S", DEFAULT_TTL_S))


def from_extension(kind: Kind, name: str, *, port: int | None = None) -> str:
    """The value from the extension; raises OSError (URLError, HTTPError, timeout) if the
    extension is absent or refuses."""
    query = urllib.parse.urlencode({"name": name})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port or _port()}/{kind}?{query}",
        headers={TOKEN_HEADER: os.environ.get("AWS_SESSION_TOKEN", "")},
    )
    with _OPENER.open(request, timeout=TIMEOUT_S) as response:
        return bytes(response.read()).decode()


def from_powertools(kind: Kind, name: str) -> str:
    if kind == "secret":
        value = parameters.get_secret(name, max_age=_ttl_s())
    else:
        value = parameters.get_parameter(name, max_age=_ttl_s(), decrypt=True)
    return value if isinstance(value, str) else bytes(value).decode()


def read(kind: Kind, name: str) -> Read:
    try:
        return Read(from_extension(kind, name), "extension")
    except (OSError, ValueError, http.client.HTTPException) as error:  # URLError: OSError
        logger.info(
            "config-cache extension unavailable, reading directly",
            extra={"kind": kind, "value_name": name, "reason": _reason(error)},
        )
    return Read(from_powertools(kind, name), "powertools")


def get_secret(name: str) -> str:
    return read("secret", name).value


def get_parameter(name: str) -> str:
    return read("parameter", name).value


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    return type(error).__name__
