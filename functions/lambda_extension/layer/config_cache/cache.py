"""The cache itself: allow-lists, TTL and the fetch on a miss; no I/O of its own.

Secrets are allow-listed by ARN. A request may name a secret by that ARN, by its name
(the ARN's last part) or by the name without the six-character suffix Secrets Manager
appends, and is always fetched (and cached) under the allowed ARN, which is what the
function's role grants. Parameters are allow-listed by name, exactly.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["secret", "parameter"]
KINDS: tuple[Kind, ...] = ("secret", "parameter")
Fetch = Callable[[str], str]
Clock = Callable[[], float]

_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


class NotAllowed(Exception):
    """The name is outside the allow-list."""


class NotFound(Exception):
    """The service has no such secret or parameter."""


class FetchFailed(Exception):
    """The service could not be read (throttled, access denied, unreachable)."""


def secret_aliases(arn: str) -> set[str]:
    """The names a request may use for the allowed secret `arn`."""
    name = arn.split(":secret:", 1)[1] if ":secret:" in arn else arn
    return {arn, name, _SECRET_SUFFIX.sub("", name)}


@dataclass(frozen=True)
class AllowList:
    """Request name -> the identifier to fetch, per kind."""

    secrets: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, secret_arns: Iterable[str], parameter_names: Iterable[str]) -> AllowList:
        secrets: dict[str, str] = {}
        for arn in secret_arns:
            for alias in secret_aliases(arn):
                secrets.setdefault(alias, arn)
        return cls(secrets=secrets, parameters={name: name for name in parameter_names})

    @classmethod
    def from_text(cls, secret_arns: str, parameter_names: str) -> AllowList:
        """From the comma-separated lists the component puts in the environment."""
        return cls.of(_split(secret_arns), _split(parameter_names))

    def resolve(self, kind: Kind, name: str) -> str:
        allowed = self.secrets if kind == "secret" else self.parameters
        if name not in allowed:
            raise NotAllowed(f"{kind} {name!r} is not in the allow-list")
        return allowed[name]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass
class _Entry:
    value: str
    fetched_at: float


class ConfigCache:
    """Values by (kind, identifier), fetched on a miss or once older than `ttl_s`.

    One lock per key: concurrent requests for a cold key make one fetch, not one each.
    Failures are not cached, so the next request tries the service again.
    """

    def __init__(
        self,
        allow: AllowList,
        fetchers: dict[Kind, Fetch],
        *,
        ttl_s: float,
        clock: Clock = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive (got {ttl_s})")
        self.allow = allow
        self.fetchers = fetchers
        self.ttl_s = ttl_s
        self.clock = clock
        self.fetches = 0
        self._entries: dict[tuple[Kind, str], _Entry] = {}
        self._locks: dict[tuple[Kind, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, kind: Kind, name: str) -> str:
        key = (kind, self.allow.resolve(kind, name))
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            now = self.clock()
            if entry is not None and now - entry.fetched_at < self.ttl_s:
                return entry.value
            self.fetches += 1
            value = self.fetchers[kind](key[1])
            self._entries[key] = _Entry(value, now)
            return value
