"""Which resources each IAM action accepts, from the generated Service Authorization data.

`data/iam_actions.json` is written by `policies/tools/generate_iam_actions.py` (never by
hand): per service, each resource type's ARN pattern (`${...}` variables as `*`) and, per
action, the resource types it accepts; an empty list means the action accepts only `"*"`.
"""

from __future__ import annotations

import json
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
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            stack.append((i + 1, j))  # the star matches nothing more
            if j < len(b):
                stack.append((i, j + 1))  # the star eats b's next token
            continue
        if j < len(b) and b[j] == "*":
            stack.append((i, j + 1))
            if i < len(a):
                stack.append((i + 1, j))
            continue
        if i < len(a) and j < len(b) and (a[i] == b[j] or "?" in (a[i], b[j])):
            stack.append((i + 1, j + 1))
    return False


def _squash(pattern: str) -> str:
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    return pattern
