"""cognito_groups mode: each group's statements from the policy table, cached briefly.

Item: `group` (key) and `statements`, a list of `{"effect", "resource"}` maps. A group
with no item maps to nothing (cached too, so unknown groups cost no repeated reads).
Errors reading the table propagate: an outage is a 500, never a silent Deny or Allow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_deserializer = TypeDeserializer()


class GroupPolicies:
    """`client`: a DynamoDB client, not a `Table` resource: one GetItem by key needs none of
    the resource's model, which costs a cold start more than the client itself."""

    def __init__(
        self, client: Any, table_name: str, *, clock: Callable[[], float], ttl_s: float
    ) -> None:
        self.client = client
        self.table_name = table_name
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
            item = self.client.get_item(TableName=self.table_name, Key={"group": {"S": group}})
            stored = (item.get("Item") or {}).get("statements")
            listed = _deserializer.deserialize(stored) if stored else None
            statements = [s for s in listed or [] if isinstance(s, dict)]
            self._cache[group] = (now, statements)
            found[group] = statements
        return found
