"""Which resources each IAM action accepts, from the generated Service Authorization data.

`data/iam_actions.json` is written by `policies/tools/generate_iam_actions.py` (never by
hand): per service, each resource type's ARN pattern (`${...}` variables as `*`) and, per
action, the resource types it accepts; an empty list means the action accepts only `"*"`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "iam_actions.json"


@cache
def _data() -> dict[str, Any]:
    services: dict[str, Any] = json.loads(DATA.read_text())["services"]
    return {
        prefix: {
            "types": service["resource_types"],
            "actions": {name.lower(): types for name, types in service["actions"].items()},
        }
        for prefix, service in services.items()
    }


def covered(service: str) -> bool:
    return service.lower() in _data()


@dataclass(frozen=True)
class Accepts:
    """What one action accepts: resource types as (name, ARN pattern); none: only `*`."""

    action: str
    types: tuple[tuple[str, str], ...]

    @property
    def only_star(self) -> bool:
        return not self.types

    def matches(self, resource: str) -> bool:
        """Whether the granted `resource` (a pattern with `*`/`?`) can name a resource of a
        type the action accepts. `*` always does: it covers every type and "only `*`"."""
        if resource == "*":
            return True
        return any(globs_intersect(resource, pattern) for _, pattern in self.types)


def accepts(action: str) -> Accepts | None:
    """None for a wildcard action, an unknown service or an unknown action."""
    service, _, name = action.partition(":")
    if not name or "*" in action or "?" in action:
        return None
    entry = _data().get(service.lower())
    if entry is None:
        return None
    type_names = entry["actions"].get(name.lower())
    if type_names is None:
        return None
    return Accepts(action, tuple((t, entry["types"][t]) for t in type_names))


def globs_intersect(left: str, right: str) -> bool:
    """Whether some string matches both IAM-style patterns (`*` any run, `?` one char)."""
    a, b = _squash(left), _squash(right)
    # Single-character tokens before the first `*` (and after the last) of either pattern
    # pair up one to one, so they must agree and can be set aside; most grants end here.
    head = 0
    while head < len(a) and head < len(b) and a[head] != "*" and b[head] != "*":
        if a[head] != b[head] and a[head] != "?" and b[head] != "?":
            return False
        head += 1
    tail = 0
    while (
        tail < len(a) - head
        and tail < len(b) - head
        and a[-1 - tail] != "*"
        and b[-1 - tail] != "*"
    ):
        if a[-1 - tail] != b[-1 - tail] and "?" not in (a[-1 - tail], b[-1 - tail]):
            return False
        tail += 1
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    if not (_WILD & set(a)):
        return _glob(b).fullmatch(a) is not None
    if not (_WILD & set(b)):
        return _glob(a).fullmatch(b) is not None
    return _search(a, b)


_WILD = frozenset("*?")


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL
    )


def _search(a: str, b: str) -> bool:
    """Whether two squashed patterns intersect: the positions of `b` reachable after each
    token of `a`, as the bits of one integer (bit j: `b[:j]` consumed)."""
    everything = (1 << (len(b) + 1)) - 1
    stars = singles = anyone = 0
    by_char: dict[str, int] = {}
    for j, c in enumerate(b):
        if c == "*":
            stars |= 1 << j
            continue
        singles |= 1 << j
        if c == "?":
            anyone |= 1 << j
        else:
            by_char[c] = by_char.get(c, 0) | 1 << j
    reach = _closure(1, stars)
    for token in a:
        if token == "*":
            reach = -(reach & -reach) & everything  # the lowest position and every later one
            continue
        fits = singles if token == "?" else by_char.get(token, 0) | anyone
        reach = _closure((reach & stars) | ((reach & fits) << 1), stars)
        if not reach:
            return False
    return bool(reach >> len(b) & 1)


def _closure(reach: int, stars: int) -> int:
    """Positions reachable by letting a `*` of `b` match nothing (stars never adjoin)."""
    return reach | ((reach & stars) << 1)


def _squash(pattern: str) -> str:
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    return pattern
