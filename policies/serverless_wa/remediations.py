"""Opt-in remediations, offered only where the change is safe and idempotent.

Each takes a resource's plain props and returns the remediated props, or None when nothing
needs to change (so a second pass is a no-op). They apply when a rule's enforcement level
is `remediate`; concurrency, DLQs, VPC and IAM are never remediated automatically.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from serverless_wa.props import ABSENT, UNKNOWN, walk

Remediation = Callable[[dict[str, Any]], dict[str, Any] | None]


def _set(props: dict[str, Any], path: str, value: Any) -> dict[str, Any] | None:
    """`props` with `path` set to `value`; None when it already is, or is unknown."""
    current = walk(props, path)
    if current == value or current is UNKNOWN:
        return None
    fixed = copy.deepcopy(props)
    target = fixed
    *parents, leaf = path.split(".")
    for step in parents:
        child = target.get(step)
        if child is UNKNOWN:
            return None
        if not isinstance(child, dict):
            child = target[step] = {}
        target = child
    target[leaf] = value
    return fixed


def _lambda_structured_logging(props: dict[str, Any]) -> dict[str, Any] | None:
    """JSON logs, and an application log level of INFO unless one is set already."""
    changed = _set(props, "loggingConfig.logFormat", "JSON")
    current = changed or props
    if walk(current, "loggingConfig.applicationLogLevel") is ABSENT:
        changed = _set(current, "loggingConfig.applicationLogLevel", "INFO") or changed
    return changed


REMEDIATIONS: dict[str, Remediation] = {
    "LAMBDA-001": lambda props: _set(props, "tracingConfig.mode", "Active"),
    "LAMBDA-007": _lambda_structured_logging,
    "APIGW-001": lambda props: _set(props, "xrayTracingEnabled", True),
    "SFN-001": lambda props: _set(props, "tracingConfiguration.enabled", True),
    "APPSYNC-001": lambda props: _set(props, "xrayEnabled", True),
}
