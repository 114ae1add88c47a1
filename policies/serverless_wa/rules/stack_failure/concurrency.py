"""STACK-003: reserved concurrency against the account's limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, figure, register
from serverless_wa.rules._common import FUNCTION, reserved, shared_config, stack_case
from serverless_wa.rules.stack_failure._shared import UNRESERVED_MINIMUM, _names, _setting

# STACK-003 ---------------------------------------------------------------------------------


def _account_concurrency_budget(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    limit = _setting(config, "account_concurrency_limit", 1000)
    budget = limit - UNRESERVED_MINIMUM - _setting(config, "reserved_elsewhere", 0)
    reserving: list[tuple[int, Node]] = []
    unknown: list[Node] = []
    for function in graph.of_type(FUNCTION):
        value = reserved(function)
        if value is UNKNOWN:
            unknown.append(function)
        elif isinstance(value, int) and value >= 1:
            reserving.append((value, function))
    total = sum(value for value, _ in reserving)
    if not reserving or total <= budget:
        return
    largest, subject = max(reserving, key=lambda pair: (pair[0], pair[1].name))
    left_out = f"; left out as unknown: {_names(unknown)}" if unknown else ""
    count = f"{len(reserving)} function{'s' if len(reserving) > 1 else ''}"
    yield Finding(
        f"reserved concurrency totals {total} over {count} (this one "
        f"reserves {largest}), above the {figure(budget)} the account limit leaves after the "
        f"{UNRESERVED_MINIMUM} unreserved executions AWS requires{left_out}",
        urn=subject.urn,
    )


register(
    Rule(
        id="STACK-003",
        name="account-concurrency-budget",
        title="Reserved concurrency fits the account's concurrency budget",
        description=(
            "The sum of reservedConcurrentExecutions over the stack's functions stays within "
            "account_concurrency_limit - 100 (AWS's unreserved minimum) - reserved_elsewhere."
        ),
        severity="HIGH",
        pillar="REL",
        scope="stack",
        types=(FUNCTION,),
        reads={FUNCTION: ("reservedConcurrentExecutions",)},
        anchors=anchors(),
        knob="reserved_concurrency",
        raw="reserved_concurrent_executions",
        check=_account_concurrency_budget,
        config=shared_config("account_concurrency_limit", "reserved_elsewhere"),
        remediation=(
            "Lower the reservations, or raise the account limit and set "
            "account_concurrency_limit. Raw: aws.lambda_.Function(..., "
            "reserved_concurrent_executions=N). Component: reserved_concurrency=N."
        ),
        examples=Examples(
            compliant=(
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 450}),
                    Resource(FUNCTION, "b", {"reservedConcurrentExecutions": 450}),
                    Resource(FUNCTION, "c", {"reservedConcurrentExecutions": -1}),
                    Resource(FUNCTION, "d", {}),
                    subject="a",
                ),
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 2000}),
                    subject="a",
                    config={"account_concurrency_limit": 3000},
                ),
            ),
            non_compliant=(
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 850}),
                    Resource(FUNCTION, "b", {"reservedConcurrentExecutions": 100}),
                    Resource(FUNCTION, "c", {}),
                    subject="a",
                ),
                stack_case(
                    Resource(FUNCTION, "a", {"reservedConcurrentExecutions": 450}),
                    subject="a",
                    config={"reserved_elsewhere": 500},
                ),
            ),
        ),
    )
)
