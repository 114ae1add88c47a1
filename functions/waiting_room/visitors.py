"""What a visitor does: enter, ask for their status, leave, complete.

The visitor id always comes from a verified source (the visitor authorizer's context);
nothing here trusts an id from a request body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import room
import signing
import web
import zones
from botocore.exceptions import ClientError
from room import ADMITTED, COMPLETED, EXPIRED, LEFT, TOTALS, WAITING, Tables, Visitor

# A waiting visitor's `lastSeen` is rewritten at most this often: every status poll would
# otherwise be a write (and a write to the waiting index) for nothing.
HEARTBEAT_S = 60
POLL_AFTER_S = 10  # what a waiting visitor is told; the heartbeat only needs one a minute


class VisitorError(web.HttpError):
    """A visitor's request that cannot be served (the HTTP status and a safe message)."""


@dataclass(frozen=True)
class View:
    """What a visitor is told about their place (the API's JSON body)."""

    zone_id: str
    status: str
    entered: bool = False
    place: int | None = None
    priority: bool = False
    token: str | None = None
    token_expires_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"zoneId": self.zone_id, "status": self.status}
        if self.place is not None:
            body["place"] = self.place
            body["priority"] = self.priority
        if self.token is not None:
            body["accessToken"] = self.token
            body["tokenExpiresAt"] = self.token_expires_at
        return {**body, **self.extra}


@dataclass(frozen=True)
class Pass:
    pass_id: str
    pass_class: str  # signing.PASS_PRIORITY or PASS_EXEMPT


class Visitors:
    def __init__(
        self, tables: Tables, signer: signing.Signer | None, *, token_ttl_s: int = 600
    ) -> None:
        """`signer` None: this function never signs (leave, complete), so it has no key."""
        self.tables = tables
        self._signer = signer
        self.token_ttl_s = token_ttl_s

    @property
    def signer(self) -> signing.Signer:
        if self._signer is None:
            raise RuntimeError("this function holds no signing key")
        return self._signer

    def now(self) -> int:
        return self.tables.now()

    # Enter ----------------------------------------------------------------------------

    def read_pass(self, zone: zones.Zone, token: Any) -> Pass | None:
        """A priority or exempt pass for this zone that the zone honours; VisitorError
        otherwise (a pass for another zone, a forged or expired one)."""
        if token is None:
            return None
        try:
            claims = self.signer.verify(signing.PRIORITY_PASS, token)
        except signing.InvalidToken as error:
            raise VisitorError(403, f"the pass is not valid ({error})") from None
        if claims["zone"] != zone.zone_id:
            raise VisitorError(403, "the pass is for another zone")
        honoured = {signing.PASS_PRIORITY: zone.ordering == zones.PRIORITY}
        honoured[signing.PASS_EXEMPT] = zone.exempt
        if not honoured.get(claims["class"], False):
            raise VisitorError(403, "this zone does not honour this kind of pass")
        return Pass(pass_id=claims["pass"], pass_class=claims["class"])

    def enter(self, zone: zones.Zone, visitor_id: str, admission_pass: Pass | None = None) -> View:
        """Join the zone's queue once: a visitor already waiting or admitted keeps their
        place; one who left or whose token expired joins again at the back."""
        existing = self.tables.visitor(zone.zone_id, visitor_id)
        if existing is not None and existing.status not in (LEFT, EXPIRED):
            return self._known(existing)
        if admission_pass is not None and admission_pass.pass_class == signing.PASS_EXEMPT:
            return self._enter_exempt(zone, visitor_id, admission_pass)
        tier = room.PRIORITY_TIER if admission_pass is not None else room.STANDARD_TIER
        seq = self.tables.next_seq(zone.zone_id)
        now = self.now()
        item = {
            **room.visitor_key(zone.zone_id, visitor_id),
            "visitorId": visitor_id,
            "status": WAITING,
            "tier": tier,
            "seq": seq,
            "position": room.position(tier, seq),
            "waitingZone": zone.zone_id,
            "enqueuedAt": now,
            "lastSeen": now,
            "expiresAt": now + room.VISITOR_TTL_S,
        }
        put = self._put_visitor(item)
        try:
            if admission_pass is None:
                self.tables.put(put["Put"])
            else:
                item["passId"] = admission_pass.pass_id
                self.tables.transact([put, *self._pass_guard(zone, visitor_id, admission_pass)])
        except room.Cancelled as cancelled:
            return self._lost_race(zone, visitor_id, cancelled)
        # No place yet: reading the counters for it would make every entry a read more;
        # the visitor's first status call tells it.
        return View(zone.zone_id, WAITING, entered=True, priority=tier == room.PRIORITY_TIER)

    def _put_visitor(self, item: dict[str, Any]) -> dict[str, Any]:
        """A put that only a new visitor, or one who left or expired, may make."""
        return {
            "Put": {
                "TableName": self.tables.queue.name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(sk) OR #s IN (:left, :expired)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":left": LEFT, ":expired": EXPIRED},
            }
        }

    def _pass_guard(
        self, zone: zones.Zone, visitor_id: str, admission_pass: Pass | None
    ) -> list[dict[str, Any]]:
        """A pass places one visitor (it may be used again by that same visitor)."""
        if admission_pass is None:
            return []
        return [
            {
                "Put": {
                    "TableName": self.tables.queue.name,
                    "Item": {
                        "zoneId": zone.zone_id,
                        "sk": f"{room.PASS_PREFIX}{admission_pass.pass_id}",
                        "visitorId": visitor_id,
                        "usedAt": self.now(),
                        "expiresAt": self.now() + room.VISITOR_TTL_S,
                    },
                    "ConditionExpression": "attribute_not_exists(sk) OR visitorId = :v",
                    "ExpressionAttributeValues": {":v": visitor_id},
                }
            }
        ]

    def _lost_race(self, zone: zones.Zone, visitor_id: str, cancelled: room.Cancelled) -> View:
        """The same visitor entered twice at once (their position is the other entry's, the
        seq taken here is a gap), or the pass was someone else's."""
        if len(cancelled.reasons) > 1 and cancelled.reasons[1] == "ConditionalCheckFailed":
            raise VisitorError(409, "this pass has already been used by another visitor")
        existing = self.tables.visitor(zone.zone_id, visitor_id, consistent=True)
        if existing is None:
            raise RuntimeError(f"entry refused ({', '.join(cancelled.reasons)})")
        return self._known(existing)

    def _enter_exempt(self, zone: zones.Zone, visitor_id: str, exempt: Pass) -> View:
        """Exempt visitors skip the queue and the zone's size and rate, but take a token."""
        now = self.now()
        token_exp = now + self.token_ttl_s
        item = {
            **room.visitor_key(zone.zone_id, visitor_id),
            "visitorId": visitor_id,
            "status": ADMITTED,
            "exempt": True,
            "tier": room.PRIORITY_TIER,
            "seq": 0,
            "position": room.EXEMPT_POSITION,
            "enqueuedAt": now,
            "lastSeen": now,
            "admittedAt": now,
            "tokenExp": token_exp,
            "admittedZone": zone.zone_id,
            "passId": exempt.pass_id,
            "expiresAt": now + room.VISITOR_TTL_S,
        }
        values: dict[str, Any] = {":one": 1}
        condition = None
        if zone.token_pool is not None:
            condition = "attribute_not_exists(tokensUsed) OR tokensUsed <= :pool"
            values[":pool"] = zone.token_pool - 1
        totals = self.tables.update(
            self.tables.counters,
            {"zoneId": zone.zone_id, "name": TOTALS},
            "ADD exemptIssued :one, exemptActive :one, tokensUsed :one",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        try:
            self.tables.transact(
                [totals, self._put_visitor(item), *self._pass_guard(zone, visitor_id, exempt)]
            )
        except room.Cancelled as cancelled:
            if cancelled.reasons[0] == "ConditionalCheckFailed":
                raise VisitorError(409, "no access tokens are left in this zone") from None
            if cancelled.reasons[2:] == ["ConditionalCheckFailed"]:
                raise VisitorError(
                    409, "this pass has already been used by another visitor"
                ) from None
            return self._known(self.tables.visitor(zone.zone_id, visitor_id, consistent=True))
        return self._admitted_view(Visitor.from_item(item), entered=True)

    # Status ---------------------------------------------------------------------------

    def status(self, zone_id: str, visitor_id: str) -> View:
        counters, visitor = self.tables.read(zone_id, visitor_id)
        if visitor is None:
            raise VisitorError(404, "you are not in this zone's queue; enter it first")
        if visitor.status == WAITING and self.now() - visitor.last_seen >= HEARTBEAT_S:
            self._touch(visitor)
        return self._known(visitor, counters)

    def _touch(self, visitor: Visitor) -> None:
        """Stamp `lastSeen` (the sweeper marks visitors who stop asking as abandoned)."""
        try:
            self.tables.queue.update_item(
                Key=visitor.key,
                UpdateExpression="SET lastSeen = :now",
                ConditionExpression="#s = :waiting",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":now": self.now(), ":waiting": WAITING},
            )
        except ClientError as error:  # admitted meanwhile: nothing to stamp
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def _known(self, visitor: Visitor | None, counters: room.Counters | None = None) -> View:
        if visitor is None:
            raise RuntimeError("the visitor's item vanished")
        if visitor.status == WAITING:
            counters = counters or self.tables.read(visitor.zone_id)[0]
            return View(
                visitor.zone_id,
                WAITING,
                place=self._place(visitor.seq, visitor.tier, counters),
                priority=visitor.tier == room.PRIORITY_TIER,
            )
        if visitor.status == ADMITTED:
            if visitor.token_exp is not None and visitor.token_exp <= self.now():
                return View(visitor.zone_id, EXPIRED)
            return self._admitted_view(visitor)
        return View(visitor.zone_id, visitor.status)

    def _admitted_view(self, visitor: Visitor, *, entered: bool = False) -> View:
        assert visitor.token_exp is not None
        token = self.signer.access_token(visitor.zone_id, visitor.visitor_id, visitor.token_exp)
        return View(
            visitor.zone_id,
            ADMITTED,
            entered=entered,
            token=token,
            token_expires_at=visitor.token_exp,
        )

    @staticmethod
    def _place(seq: int, tier: int, counters: room.Counters) -> int:
        """Approximate: positions since the tier's last admission (departed visitors and
        the other tier's entries among them are still counted)."""
        return max(1, seq - counters.last_seq[tier])

    # Leave and complete -----------------------------------------------------------------

    def leave(self, zone_id: str, visitor_id: str) -> View:
        """Give up the place, or the zone: an admitted visitor's token goes back to the pool."""
        for _ in range(room.MAX_ATTEMPTS):
            visitor = self.tables.visitor(zone_id, visitor_id, consistent=True)
            if visitor is None:
                raise VisitorError(404, "you are not in this zone's queue")
            if visitor.status == COMPLETED:
                raise VisitorError(409, "you have already completed your visit")
            if visitor.status in (LEFT, EXPIRED):
                return View(zone_id, visitor.status)
            try:
                self._end(visitor, LEFT, tokens_back=True)
            except room.Cancelled:
                continue  # admitted or swept meanwhile: decide again on the new state
            if visitor.status == WAITING:
                self.tables.count_departed(zone_id, 1)
            return View(zone_id, LEFT)
        raise RuntimeError("the visitor's state kept changing")

    def complete(self, zone_id: str, visitor_id: str) -> View:
        """Consume the token: the visitor leaves the zone, the token stays used."""
        visitor = self.tables.visitor(zone_id, visitor_id, consistent=True)
        if visitor is None or visitor.status == WAITING:
            raise VisitorError(409, "you have not been admitted to this zone")
        if visitor.status != ADMITTED:
            raise VisitorError(409, f"your visit has already ended ({visitor.status})")
        try:
            self._end(visitor, COMPLETED, tokens_back=False)
        except room.Cancelled:
            raise VisitorError(409, "your access token has expired") from None
        return View(zone_id, COMPLETED)

    def _end(self, visitor: Visitor, status: str, *, tokens_back: bool) -> None:
        """WAITING -> LEFT on its own; ADMITTED -> LEFT/COMPLETED with the zone's counters."""
        now = self.now()
        names = {"#s": "status"}
        values: dict[str, Any] = {
            ":new": status,
            ":old": visitor.status,
            ":now": now,
            ":expires": now + room.TERMINAL_RETENTION_S,
        }
        condition = "#s = :old"
        remove = "waitingZone" if visitor.status == WAITING else "admittedZone"
        if status == COMPLETED:
            condition += " AND tokenExp > :now"
        update = self.tables.update(
            self.tables.queue,
            visitor.key,
            f"SET #s = :new, endedAt = :now, expiresAt = :expires REMOVE {remove}",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        if visitor.status == WAITING:
            self.tables.update_one(update["Update"])
            return
        active = "exemptActive" if visitor.exempt else "active"
        counter = f"ADD {active} :minus" + (", tokensUsed :minus" if tokens_back else "")
        totals = self.tables.update(
            self.tables.counters,
            {"zoneId": visitor.zone_id, "name": TOTALS},
            counter,
            ExpressionAttributeValues={":minus": -1},
        )
        self.tables.transact([totals, update])
