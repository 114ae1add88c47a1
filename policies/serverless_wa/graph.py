"""The relationship graph stack rules share.

The SDK hands every stack policy freshly deserialized resources, so the graph is built per
policy, cheaply: properties unwrap lazily and the identity index is built on first lookup.

Resources are indexed by URN, type, name, ARN and parent. Edges come from property
dependencies (keys are top-level property names only, so callers filter by the target's
type); when values are known, references resolve by ARN (Lambda qualifiers and API invoke
URIs normalised), queue URL, id or name. A link that stays ambiguous resolves to nothing,
and rules never report on an unresolved link.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from serverless_wa.props import ABSENT, UNKNOWN, Props, known

_INVOKE_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/invocations$"
)
_LAMBDA_QUALIFIED = re.compile(r"^(arn:[^:]+:lambda:[^:]+:\d+:function:[^:]+):[^:]+$")


T = TypeVar("T")


def normalise_arn(value: str) -> str:
    match = _INVOKE_URI.match(value)
    if match:
        value = match.group(1)
    match = _LAMBDA_QUALIFIED.match(value)
    if match:
        value = match.group(1)
    return value


@dataclass(eq=False)
class Node:
    type: str
    name: str
    urn: str
    props: Props
    parent: Node | None = None
    deps: dict[str, list[Node]] = field(default_factory=dict)

    @property
    def owner(self) -> Node | None:
        """The nearest ancestor that is neither a provider nor the stack."""
        current = self.parent
        while current is not None:
            if not current.type.startswith("pulumi:providers:") and (
                current.type != "pulumi:pulumi:Stack"
            ):
                return current
            current = current.parent
        return None

    def get(self, path: str) -> Any:
        return self.props.get(path)


class Graph:
    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)
        self._by_urn = {n.urn: n for n in self.nodes}
        self._by_type: dict[str, list[Node]] = defaultdict(list)
        self._by_key: dict[str, list[Node]] | None = None
        self._referrers: dict[str, list[tuple[str, Node]]] = defaultdict(list)
        self._memo: dict[str, Any] = {}
        for node in self.nodes:
            self._by_type[node.type].append(node)
            for prop, targets in node.deps.items():
                for target in targets:
                    self._referrers[target.urn].append((prop, node))

    @classmethod
    def from_policy_resources(cls, resources: Iterable[Any]) -> Graph:
        """From the SDK's `PolicyResource`s (props are proxies; parents and deps objects)."""
        resources = list(resources)
        nodes = {
            id(r): Node(type=r.resource_type, name=r.name, urn=r.urn, props=Props(r.props))
            for r in resources
        }
        for r in resources:
            node = nodes[id(r)]
            parent = getattr(r, "parent", None)
            if parent is not None and id(parent) in nodes:
                node.parent = nodes[id(parent)]
            for prop, targets in (getattr(r, "property_dependencies", None) or {}).items():
                node.deps[prop] = [nodes[id(t)] for t in targets if id(t) in nodes]
        return cls(list(nodes.values()))

    def memo(self, key: str, build: Callable[[Graph], T]) -> T:
        """A derived index (alarms by metric, policies by role...) built once per graph and
        shared by every rule that asks for the same `key`, so stack rules stay linear."""
        if key not in self._memo:
            self._memo[key] = build(self)
        return cast(T, self._memo[key])

    def by_urn(self, urn: str) -> Node | None:
        return self._by_urn.get(urn)

    def of_type(self, *types: str) -> list[Node]:
        return [n for t in types for n in self._by_type.get(t, [])]

    def find(self, value: Any, types: Sequence[str]) -> Node | None:
        """The single node of `types` whose ARN, URL, id or name equals `value`."""
        if not isinstance(value, str) or not value:
            return None
        if self._by_key is None:
            self._by_key = defaultdict(list)
            for node in self.nodes:
                for key in _identities(node):
                    self._by_key[key].append(node)
        matches = {n.urn: n for n in self._by_key.get(normalise_arn(value), []) if n.type in types}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def refs(self, node: Node, prop: str, types: Sequence[str], value: Any = ABSENT) -> list[Node]:
        """What `node.prop` refers to among `types`: property dependencies first, else the
        known `value` (default: the property's own value) matched by identity."""
        linked = [t for t in node.deps.get(prop.split(".")[0], []) if t.type in types]
        if linked:
            return linked
        if value is ABSENT:
            value = node.get(prop)
        if value is UNKNOWN or not known(value):
            return []
        target = self.find(value, types)
        return [target] if target is not None else []

    def referrers(self, node: Node, types: Sequence[str] | None = None) -> list[tuple[str, Node]]:
        """(property, node) pairs that depend on `node` through a property."""
        return [
            (p, n) for p, n in self._referrers.get(node.urn, []) if types is None or n.type in types
        ]


def _identities(node: Node) -> set[str]:
    keys = set()
    for path in ("arn", "url", "id", "name", "queueUrl"):
        value = node.get(path)
        if isinstance(value, str) and value:
            keys.add(normalise_arn(value))
    return keys
