"""Push "your turn" over the WebSocket API, through the shared sender (`ws_sender`).

The WebSocket registry knows each visitor's live connections (its `userId` is the visitor
id, from the push ticket at `$connect`): one index query per admitted visitor, then one
bounded-pool broadcast per batch. A departed client is forgotten, never an error. The
message carries no token: the visitor fetches it from `status` with their cookie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ws_sender
from room import Visitor


def message(zone_id: str) -> dict[str, Any]:
    return {"type": "admitted", "zoneId": zone_id, "next": "status"}


class Push:
    def __init__(self, sender: ws_sender.Sender) -> None:
        self.sender = sender

    def __call__(self, zone_id: str, moved: Sequence[Visitor]) -> ws_sender.BroadcastResult:
        connections = [
            connection
            for visitor in moved
            for connection in self.sender.registry.connections_of(visitor.visitor_id)
        ]
        if not connections:
            return ws_sender.BroadcastResult(sent=0, gone=0, failed=0)
        return self.sender.broadcast(message(zone_id), [connections])
