"""Assertion helpers for component tests."""

from __future__ import annotations

import json
from typing import Any

from components.core.topic import SNS_TRACING
from preview import engine


def policy(registration: engine.Registration) -> dict[str, Any]:
    """The parsed JSON policy document of a RolePolicy/QueuePolicy registration."""
    return json.loads(registration.inputs["policy"])


def statements_of_role(plan: engine.Plan, role_name: str) -> list[dict[str, Any]]:
    """Every Allow statement of the inline policies attached to the role `role_name`."""
    role = plan.one("aws:iam/role:Role", role_name)
    found = []
    for rp in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        if role.urn in rp.property_dependencies.get("role", []):
            found += policy(rp)["Statement"]
    return found


def scoped_grants(plan: engine.Plan, role_name: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the role's inline policies allow on ARNs (`*` grants left out:
    the state machine block's log-delivery policy is tested on its own)."""
    pairs = set()
    for statement in statements_of_role(plan, role_name):
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            if resource != "*":
                pairs |= {(action, resource) for action in statement["Action"]}
    return pairs


def children_of(plan: engine.Plan, component: engine.Registration) -> list[engine.Registration]:
    """Every registration but the component and the stack-wide resources a component may
    share with others (the one X-Ray resource policy for SNS, a child of the stack)."""
    return [
        r
        for r in plan.registrations
        if r is not component and not (r.name == SNS_TRACING and r.parent == plan.stack_urn)
    ]
