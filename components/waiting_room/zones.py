"""Zones configured with the stack: `ZoneSpec`, checked with the rules the admin API applies
at runtime (`functions/waiting_room/zones.py`; a test holds the two to the same answers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Mode = Literal["WAITING_ROOM", "QUEUE", "WAITING_ROOM_THEN_QUEUE"]
Ordering = Literal["FIFO", "PRIORITY"]
MODES = ("WAITING_ROOM", "QUEUE", "WAITING_ROOM_THEN_QUEUE")
GATED = ("WAITING_ROOM", "WAITING_ROOM_THEN_QUEUE")
ZONE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# One zone's waiting index partition takes about 1,000 writes a second, one per admission.
MAX_RELEASE_PER_MINUTE = 60_000
MAX_IN_ZONE = 1_000_000
MAX_TOKEN_POOL = 100_000_000
MANAGED_BY = "pulumi"


def _count(value: int | None, name: str, upper: int) -> None:
    if value is not None and not 1 <= value <= upper:
        raise ValueError(f"{name} must be between 1 and {upper} (got {value})")


@dataclass(frozen=True, kw_only=True)
class ZoneSpec:
    """A protected zone.

    zone_id: 1-64 letters, digits, '_' or '-' (the `{zoneId}` of the visitor routes).
    mode: `WAITING_ROOM` (nobody before `sale_starts_at`, then `release_per_minute`),
      `QUEUE` (at most `max_in_zone` admitted at once) or `WAITING_ROOM_THEN_QUEUE` (both).
    sale_starts_at: ISO 8601 with a zone (`2026-06-05T10:00:00Z`); WAITING_ROOM modes only.
    release_per_minute: admissions per minute; required by WAITING_ROOM modes, optional in
      QUEUE (None: no rate).
    max_in_zone: admitted visitors at once; required by QUEUE modes, refused in WAITING_ROOM.
    token_pool: access tokens held or consumed (the tickets on sale); None: no pool.
    ordering: `PRIORITY` honours priority passes (tier 0 before everyone else).
    exempt: honour exempt passes (straight in, still taking a token).
    """

    zone_id: str
    mode: Mode
    sale_starts_at: str | None = None
    release_per_minute: int | None = None
    max_in_zone: int | None = None
    token_pool: int | None = None
    ordering: Ordering = "FIFO"
    exempt: bool = False

    def __post_init__(self) -> None:
        if not ZONE_ID.match(self.zone_id):
            raise ValueError(
                f"zone_id must be 1-64 letters, digits, '_' or '-' (got {self.zone_id!r})"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} (got {self.mode!r})")
        if self.ordering not in ("FIFO", "PRIORITY"):
            raise ValueError(f"ordering must be one of FIFO, PRIORITY (got {self.ordering!r})")
        _count(self.release_per_minute, "release_per_minute", MAX_RELEASE_PER_MINUTE)
        _count(self.max_in_zone, "max_in_zone", MAX_IN_ZONE)
        _count(self.token_pool, "token_pool", MAX_TOKEN_POOL)
        gated = self.mode in GATED
        if gated and (self.sale_starts_at is None or self.release_per_minute is None):
            raise ValueError(f"mode {self.mode} needs sale_starts_at and release_per_minute")
        if not gated and self.sale_starts_at is not None:
            raise ValueError("sale_starts_at applies only to WAITING_ROOM modes")
        if self.mode != "WAITING_ROOM" and self.max_in_zone is None:
            raise ValueError(f"mode {self.mode} needs max_in_zone")
        if self.mode == "WAITING_ROOM" and self.max_in_zone is not None:
            raise ValueError("max_in_zone applies only to QUEUE modes")
        self.sale_epoch()

    def sale_epoch(self) -> int | None:
        if self.sale_starts_at is None:
            return None
        try:
            parsed = datetime.fromisoformat(self.sale_starts_at.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(
                "sale_starts_at must be an ISO 8601 time with a zone, e.g. "
                f"2026-06-05T10:00:00Z (got {self.sale_starts_at!r})"
            )
        return int(parsed.timestamp())

    def item(self) -> dict[str, Any]:
        """The zones table item (camelCase, as the admin API writes it), marked as managed by
        the stack so the admin API refuses to change it."""
        item: dict[str, Any] = {
            "zoneId": self.zone_id,
            "mode": self.mode,
            "ordering": self.ordering,
            "exempt": self.exempt,
            "managedBy": MANAGED_BY,
        }
        for name, value in (
            ("saleStartsAt", self.sale_epoch()),
            ("releasePerMinute", self.release_per_minute),
            ("maxInZone", self.max_in_zone),
            ("tokenPool", self.token_pool),
        ):
            if value is not None:
                item[name] = value
        return item

    def item_json(self) -> str:
        """`item()` in DynamoDB JSON, for `aws.dynamodb.TableItem`."""

        def typed(value: Any) -> dict[str, Any]:
            if isinstance(value, bool):
                return {"BOOL": value}
            if isinstance(value, int):
                return {"N": str(value)}
            return {"S": str(value)}

        return json.dumps({k: typed(v) for k, v in self.item().items()}, sort_keys=True)
