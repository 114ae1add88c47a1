"""The example downstream: validates a device's IP address (the seed's legacy check).

Replace it with a module of your own that has `call(task) -> result` (any JSON value) and
raises `lifo.DownstreamBusy` when the system behind it is at capacity and
`lifo.InvalidTask` when a task can never succeed; name it in the component's
`downstream.module`. Anything else it raises is retried (`max_attempts` claims in all).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import tasks
from lifo import InvalidTask


def call(task: tasks.Task) -> dict[str, Any]:
    payload = task.payload
    if not isinstance(payload, dict) or not isinstance(payload.get("ip"), str):
        raise InvalidTask('payload must be an object with an "ip" string')
    try:
        address = ipaddress.ip_address(payload["ip"])
    except ValueError as error:
        raise InvalidTask(str(error)) from None
    return {
        "ip": str(address),
        "version": address.version,
        "global": address.is_global,
        "deviceId": payload.get("deviceId"),
    }
