"""What handlers build at cold start from the environment the component sets.

ZONES_TABLE, COUNTERS_TABLE, QUEUE_TABLE   the three tables
SIGNING_SECRET_ARN                          the signing key's secret
ACCESS_TTL_S, VISITOR_COOKIE, ABANDON_AFTER_S, SLICES_PER_MINUTE
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import boto3
import room
import signing
import zones

DEFAULT_ACCESS_TTL_S = 600
DEFAULT_VISITOR_COOKIE = "vwr_visitor"
COOKIE_TTL_S = 2 * 86400
PUSH_TICKET_TTL_S = 2 * 3600  # API Gateway closes a WebSocket after 2 hours anyway
ZONE_CACHE_S = 10


def tables() -> room.Tables:
    dynamodb = boto3.resource("dynamodb")
    return room.Tables(
        dynamodb.Table(os.environ["ZONES_TABLE"]),
        dynamodb.Table(os.environ["COUNTERS_TABLE"]),
        dynamodb.Table(os.environ["QUEUE_TABLE"]),
    )


def signer() -> signing.Signer:
    client = boto3.client("secretsmanager")
    loader = signing.secrets_manager_loader(client, os.environ["SIGNING_SECRET_ARN"])
    return signing.Signer(signing.KeyRing(loader))


def token_ttl_s() -> int:
    return int(os.environ.get("ACCESS_TTL_S", DEFAULT_ACCESS_TTL_S))


def visitor_cookie_name() -> str:
    return os.environ.get("VISITOR_COOKIE", DEFAULT_VISITOR_COOKIE)


class ZoneCache:
    """Zone configurations read at most every ZONE_CACHE_S per container: every entry
    reading the zone's item would make it the hottest key of the sale."""

    def __init__(
        self, read: Callable[[str], Any], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._read = read
        self._clock = clock
        self._cache: dict[str, tuple[float, zones.Zone | None]] = {}

    def get(self, zone_id: str) -> zones.Zone | None:
        cached = self._cache.get(zone_id)
        if cached is not None and self._clock() - cached[0] < ZONE_CACHE_S:
            return cached[1]
        item = self._read(zone_id)
        zone = zones.Zone.from_item(item) if item else None
        self._cache[zone_id] = (self._clock(), zone)
        return zone
