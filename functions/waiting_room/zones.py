"""A protected zone's configuration, and the admission budget it allows.

  WAITING_ROOM             nobody before `saleStartsAt`, then `releasePerMinute`
  QUEUE                    at most `maxInZone` admitted visitors at once (a rate is optional)
  WAITING_ROOM_THEN_QUEUE  nobody before `saleStartsAt`, then both limits

`tokenPool` (optional, any mode) caps the access tokens held or consumed: a visitor who
leaves or whose token expires returns one, a visitor who completes keeps it. A term that
does not apply to the mode is left out of the budget, so a zone can never be configured
with a limit that silently does nothing (such a zone is refused).

`ordering=PRIORITY` honours priority passes (tier 0 goes before every tier-1 visitor);
`exempt=true` honours exempt passes (straight into the zone, still taking a token).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

WAITING_ROOM, QUEUE, WAITING_ROOM_THEN_QUEUE = "WAITING_ROOM", "QUEUE", "WAITING_ROOM_THEN_QUEUE"
MODES = (WAITING_ROOM, QUEUE, WAITING_ROOM_THEN_QUEUE)
FIFO, PRIORITY = "FIFO", "PRIORITY"
ORDERINGS = (FIFO, PRIORITY)
ZONE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# One zone's waiting index partition takes about 1,000 writes a second; each admission is
# one of them (the visitor leaves the index), so a faster release could not be honoured.
MAX_RELEASE_PER_MINUTE = 60_000
MAX_IN_ZONE = 1_000_000
MAX_TOKEN_POOL = 100_000_000
FIELDS = (
    "mode",
    "saleStartsAt",
    "releasePerMinute",
    "maxInZone",
    "tokenPool",
    "ordering",
    "exempt",
)


class ZoneError(ValueError):
    """A zone configuration that cannot be used; the message names the field."""


def _epoch(value: Any, name: str) -> int | None:
    """Epoch seconds, or an ISO 8601 time with a zone (`2026-06-01T10:00:00Z`)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ZoneError(f"{name} must be epoch seconds or an ISO 8601 time with a zone")
    if isinstance(value, int | float | Decimal):
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return int(parsed.timestamp())
    raise ZoneError(f"{name} must be epoch seconds or an ISO 8601 time with a zone (got {value!r})")


def _count(value: Any, name: str, upper: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ZoneError(f"{name} must be a whole number between 1 and {upper} (got {value!r})")
    if int(value) != value or not 1 <= int(value) <= upper:
        raise ZoneError(f"{name} must be a whole number between 1 and {upper} (got {value})")
    return int(value)


@dataclass(frozen=True)
class Zone:
    zone_id: str
    mode: str
    sale_starts_at: int | None = None
    release_per_minute: int | None = None
    max_in_zone: int | None = None
    token_pool: int | None = None
    ordering: str = FIFO
    exempt: bool = False
    managed_by: str | None = None

    def __post_init__(self) -> None:
        if not ZONE_ID.match(self.zone_id):
            raise ZoneError("zoneId must be 1-64 letters, digits, '_' or '-'")
        if self.mode not in MODES:
            raise ZoneError(f"mode must be one of {', '.join(MODES)} (got {self.mode!r})")
        if self.ordering not in ORDERINGS:
            raise ZoneError(f"ordering must be one of {', '.join(ORDERINGS)}")
        gated = self.mode in (WAITING_ROOM, WAITING_ROOM_THEN_QUEUE)
        if gated and (self.sale_starts_at is None or self.release_per_minute is None):
            raise ZoneError(f"mode {self.mode} needs saleStartsAt and releasePerMinute")
        if not gated and self.sale_starts_at is not None:
            raise ZoneError("saleStartsAt applies only to WAITING_ROOM modes")
        if self.mode in (QUEUE, WAITING_ROOM_THEN_QUEUE) and self.max_in_zone is None:
            raise ZoneError(f"mode {self.mode} needs maxInZone")
        if self.mode == WAITING_ROOM and self.max_in_zone is not None:
            raise ZoneError("maxInZone applies only to QUEUE modes")

    # Reading and writing ----------------------------------------------------------------

    @classmethod
    def parse(cls, zone_id: str, body: Mapping[str, Any], managed_by: str | None = None) -> Zone:
        """From an admin request body or a stored item (camelCase); ZoneError names the field."""
        unknown = sorted(set(body) - {*FIELDS, "zoneId", "managedBy"})
        if unknown:
            raise ZoneError(f"unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}")
        ordering = body.get("ordering", FIFO)
        exempt = body.get("exempt", False)
        if not isinstance(exempt, bool):
            raise ZoneError(f"exempt must be true or false (got {exempt!r})")
        return cls(
            zone_id=zone_id,
            mode=str(body.get("mode")),
            sale_starts_at=_epoch(body.get("saleStartsAt"), "saleStartsAt"),
            release_per_minute=_count(
                body.get("releasePerMinute"), "releasePerMinute", MAX_RELEASE_PER_MINUTE
            ),
            max_in_zone=_count(body.get("maxInZone"), "maxInZone", MAX_IN_ZONE),
            token_pool=_count(body.get("tokenPool"), "tokenPool", MAX_TOKEN_POOL),
            ordering=str(ordering),
            exempt=exempt,
            managed_by=managed_by if managed_by is not None else body.get("managedBy"),
        )

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Zone:
        return cls.parse(str(item["zoneId"]), item)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "zoneId": self.zone_id,
            "mode": self.mode,
            "ordering": self.ordering,
            "exempt": self.exempt,
        }
        for name, value in (
            ("saleStartsAt", self.sale_starts_at),
            ("releasePerMinute", self.release_per_minute),
            ("maxInZone", self.max_in_zone),
            ("tokenPool", self.token_pool),
            ("managedBy", self.managed_by),
        ):
            if value is not None:
                item[name] = value
        return item

    def describe(self) -> dict[str, Any]:
        """The zone as the admin API returns it."""
        shown = self.to_item()
        if self.sale_starts_at is not None:
            shown["saleStartsAt"] = datetime.fromtimestamp(self.sale_starts_at, UTC).isoformat()
        return shown

    # Admission ------------------------------------------------------------------------

    def open_at(self, now: int) -> bool:
        return self.sale_starts_at is None or now >= self.sale_starts_at

    def budget(
        self,
        *,
        now: int,
        minute_issued: int,
        active: int,
        tokens_used: int,
        slice_index: int = 0,
        slices: int = 1,
    ) -> int:
        """How many more visitors may be admitted now: the smallest applicable term.

        The rate term is spread over `slices` per minute: slice k may bring the minute's
        admissions up to ceil(rate * (k + 1) / slices).
        """
        if not self.open_at(now):
            return 0
        terms = []
        if self.release_per_minute is not None:
            allowance = math.ceil(self.release_per_minute * (slice_index + 1) / slices)
            terms.append(min(allowance, self.release_per_minute) - minute_issued)
        if self.max_in_zone is not None:
            terms.append(self.max_in_zone - active)
        if self.token_pool is not None:
            terms.append(self.token_pool - tokens_used)
        return max(0, min(terms))
