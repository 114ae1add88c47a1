"""Physical names: predictable, unique per stack, within AWS length limits."""

from __future__ import annotations

import hashlib
import re

import pulumi

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def physical_name(*parts: str, max_length: int = 64) -> str:
    """`<stack>-<part>-<part>`, shortened with a stable hash suffix when it is too long.

    Names are explicit (not auto-named) where another resource must know them before
    creation, e.g. a function's log group `/aws/lambda/<name>`.
    """
    raw = "-".join(p for p in (pulumi.get_stack(), *parts) if p)
    name = _UNSAFE.sub("-", raw).strip("-")
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9].rstrip('-')}-{digest}"
