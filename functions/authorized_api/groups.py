"""cognito_groups mode: each group's statements from the policy table, cached briefly.

Item: `group` (key) and `statements`, a list of `{"effect", "resource"}` maps. A group
with no item maps to nothing (cached too, so unknown groups cost no repeated reads).
Errors reading the table propagate: an outage is a 500, never a silent Deny or Allow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class GroupPolicies:
    def __init__(self, table: Any, *, clock: Callable[[], float], ttl_s: float) -> None:
        self.table = table
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self.reads = 0

    def statements(self, groups: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """group -> its statements (empty when unmapped), for every group given."""
        now = self.clock()
        found: dict[str, list[dict[str, Any]]] = {}
        for group in dict.fromkeys(groups):
            cached = self._cache.get(group)
            if cached is not None and now - cached[0] < self.ttl_s:
                found[group] = cached[1]
                continue
            self.reads += 1
            item = self.table.get_item(Key={"group": group}).get("Item") or {}
            statements = [s for s in item.get("statements") or [] if isinstance(s, dict)]
            self._cache[group] = (now, statements)
            found[group] = statements
        return found
