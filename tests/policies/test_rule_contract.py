"""The rule contract is typed and checked when a rule registers: a resource rule's check takes
(node: Node, config), a stack rule's (graph: Graph, config)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from serverless_wa.graph import Graph, Node
from serverless_wa.registry import REGISTRY, SUBJECTS, Finding, Rule, register, rules

rules()  # registers every rule


def resource_check(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    yield from ()


def stack_check(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    yield from ()


def unannotated(subject, config):
    return []


def three(node: Node, config: dict[str, Any], extra: int) -> Iterator[Finding]:
    yield from ()


def _candidate(scope: str, check: Any) -> Rule:
    """A rule no one registered, on the model of a real one of that scope."""
    model = next(r for r in REGISTRY.values() if r.scope == scope)
    return dataclasses.replace(model, id="CONTRACT-901", name="contract-candidate", check=check)


@pytest.mark.parametrize(
    ("scope", "check", "message"),
    [
        ("resource", stack_check, "scope 'resource': its check's first parameter must be a Node"),
        ("stack", resource_check, "scope 'stack': its check's first parameter must be a Graph"),
        ("stack", unannotated, r"must be a Graph \(got no annotation\)"),
        ("resource", three, r"must take \(node, config\), not \(node, config, extra\)"),
        ("resource", lambda *args: [], r"must take \(node, config\), not \(args\)"),
    ],
    ids=["stack-check-as-resource", "resource-check-as-stack", "unannotated", "arity", "varargs"],
)
def test_a_check_that_does_not_fit_its_scope_is_refused(scope, check, message):
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match=message):
        register(_candidate(scope, check))
    assert before == REGISTRY


def test_every_registered_rule_fits_its_scope():
    for rule in rules():
        subject = SUBJECTS[rule.scope].__name__
        annotation = next(iter(rule.check.__annotations__.values()))
        assert str(getattr(annotation, "__name__", annotation)).endswith(subject), rule.id
