"""Amazon States Language checks, shared by the tests and the policy pack (stdlib only).

`check(definition, workflow_type=...)` walks every state, including Parallel branches and
Map item processors, and returns one `Finding` per problem, named by the state's path
(`Fanout/Branch[0]/Resize`, `Files/ItemProcessor/Load`):

  start-at             StartAt names a state of its States
  unique-names         no two states share a name, at any depth
  next-exists          every Next, Default, Choices[].Next and Catch[].Next names a state
  transition           every state other than Choice, Succeed and Fail has Next or End
  reachable            every state can be reached from StartAt
  task-retry           every Task has Retry; Lambda tasks retry Lambda's transient errors
                       (or States.ALL / States.TaskFailed) with BackoffRate > 1
  task-catch           every Task is covered by a Catch on States.ALL (its own or its
                       enclosing Parallel's or Map's) that sets ResultPath
  task-timeout         every Task has TimeoutSeconds or TimeoutSecondsPath
  callback-heartbeat   callbacks (.waitForTaskToken, activities) have HeartbeatSeconds below
                       their timeout
  map-item-processor   Maps use ItemProcessor, not the deprecated Iterator
  map-max-concurrency  Maps bound MaxConcurrency (0 or absent means unbounded)
  express-integration  no callback, `.sync` or Distributed Map in an EXPRESS workflow
                       (nor in the EXPRESS child executions of a Distributed Map)

The module knows nothing of Pulumi or the components: the pack gives it the parsed
`definition` property, the tests the rendered definitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_wa.registry import figure

CHECKS = (
    "start-at",
    "unique-names",
    "next-exists",
    "transition",
    "reachable",
    "task-retry",
    "task-catch",
    "task-timeout",
    "callback-heartbeat",
    "map-item-processor",
    "map-max-concurrency",
    "express-integration",
)
LAMBDA_RETRY_ERRORS = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)
_CATCH_ALL = "States.ALL"
_RETRY_ANY = frozenset({"States.ALL", "States.TaskFailed"})
_TERMINAL_TYPES = frozenset({"Choice", "Succeed", "Fail"})
_DEFAULT_BACKOFF = 2.0


@dataclass(frozen=True)
class Finding:
    check: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.path or '<definition>'}: {self.message}"


@dataclass(frozen=True)
class StateRef:
    """One state with where it sits: its path, and what its enclosing states provide."""

    path: str
    name: str
    state: Mapping[str, Any]
    express: bool
    caught: bool  # an enclosing Parallel or Map catches States.ALL with a ResultPath


def parse(definition: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The definition as a mapping; raises ValueError when it is not a JSON object."""
    if isinstance(definition, str):
        definition = json.loads(definition)
    if not isinstance(definition, Mapping):
        raise ValueError("a state machine definition must be a JSON object")
    return definition


def walk(
    definition: str | Mapping[str, Any], *, workflow_type: str = "STANDARD"
) -> Iterator[StateRef]:
    """Every state of the definition, depth first, nested states after their parent."""
    yield from _walk(parse(definition), "", express=workflow_type == "EXPRESS", caught=False)


def _walk(
    body: Mapping[str, Any], prefix: str, *, express: bool, caught: bool
) -> Iterator[StateRef]:
    states = body.get("States")
    if not isinstance(states, Mapping):
        return
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        path = f"{prefix}{name}"
        yield StateRef(path, name, state, express, caught)
        inner_caught = caught or _catches_all(state)
        for index, branch in enumerate(state.get("Branches") or ()):
            if isinstance(branch, Mapping):
                yield from _walk(
                    branch, f"{path}/Branch[{index}]/", express=express, caught=inner_caught
                )
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            config = processor.get("ProcessorConfig") or {}
            child_express = express
            if config.get("Mode") == "DISTRIBUTED":
                child_express = config.get("ExecutionType") == "EXPRESS"
            label = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            yield from _walk(
                processor, f"{path}/{label}/", express=child_express, caught=inner_caught
            )


def bodies(definition: str | Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state list with its path prefix: the top level, each branch, each processor."""
    yield from _bodies(parse(definition), "")


def _bodies(body: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield prefix, body
    for name, state in (body.get("States") or {}).items():
        if not isinstance(state, Mapping):
            continue
        for index, branch in enumerate(state.get("Branches") or ()):
            if isinstance(branch, Mapping):
                yield from _bodies(branch, f"{prefix}{name}/Branch[{index}]/")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            label = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            yield from _bodies(processor, f"{prefix}{name}/{label}/")


def resource_of(state: Mapping[str, Any]) -> str:
    resource = state.get("Resource")
    return resource if isinstance(resource, str) else ""


def is_lambda_task(state: Mapping[str, Any]) -> bool:
    resource = resource_of(state)
    if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
        return True
    return resource.split(".")[0].endswith(":states:::lambda:invoke")


def is_callback(state: Mapping[str, Any]) -> bool:
    resource = resource_of(state)
    return resource.endswith(".waitForTaskToken") or (
        ":states:" in resource and ":activity:" in resource
    )


def is_sync(state: Mapping[str, Any]) -> bool:
    resource = resource_of(state)
    return resource.endswith(".sync") or ".sync:" in resource


def is_distributed_map(state: Mapping[str, Any]) -> bool:
    processor = state.get("ItemProcessor") or {}
    return (
        state.get("Type") == "Map"
        and (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
    )


def check(definition: str | Mapping[str, Any], *, workflow_type: str = "STANDARD") -> list[Finding]:
    """Every finding of every check, in walk order (structure first, then states)."""
    document = parse(definition)
    findings: list[Finding] = []
    for prefix, body in bodies(document):
        findings += _structure(body, prefix)
    seen: set[str] = set()
    for ref in walk(document, workflow_type=workflow_type):
        if ref.name in seen:
            findings.append(
                Finding("unique-names", ref.path, f"another state is already named {ref.name!r}")
            )
        seen.add(ref.name)
        findings += _state_findings(ref)
    return findings


# Structure of one state list -------------------------------------------------------------


def _targets(state: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, target) of each transition the state can take."""
    if "Next" in state:
        yield "Next", state["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for index, rule in enumerate(state.get("Choices") or ()):
        if isinstance(rule, Mapping) and "Next" in rule:
            yield f"Choices[{index}].Next", rule["Next"]
    for index, catcher in enumerate(state.get("Catch") or ()):
        if isinstance(catcher, Mapping) and "Next" in catcher:
            yield f"Catch[{index}].Next", catcher["Next"]


def _structure(body: Mapping[str, Any], prefix: str) -> list[Finding]:
    states = body.get("States")
    if not isinstance(states, Mapping) or not states:
        return [Finding("start-at", prefix.rstrip("/"), "has no States")]
    findings = []
    start = body.get("StartAt")
    if start not in states:
        findings.append(
            Finding("start-at", prefix.rstrip("/"), f"StartAt {start!r} is not one of its States")
        )
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        path = f"{prefix}{name}"
        for where, target in _targets(state):
            if target not in states:
                findings.append(
                    Finding("next-exists", path, f"{where} {target!r} is not a state here")
                )
        if (
            state.get("Type") not in _TERMINAL_TYPES
            and "Next" not in state
            and state.get("End") is not True
        ):
            findings.append(Finding("transition", path, "has neither Next nor End: true"))
    reached: set[str] = set()
    pending: list[str] = [start] if isinstance(start, str) and start in states else []
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        state = states[name]
        if isinstance(state, Mapping):
            pending += [t for _, t in _targets(state) if t in states and t not in reached]
    for name in states:
        if name not in reached:
            findings.append(
                Finding("reachable", f"{prefix}{name}", "cannot be reached from StartAt")
            )
    return findings


# One state -------------------------------------------------------------------------------


def _catches_all(state: Mapping[str, Any]) -> bool:
    return any(
        isinstance(c, Mapping) and _CATCH_ALL in (c.get("ErrorEquals") or ()) and "ResultPath" in c
        for c in state.get("Catch") or ()
    )


def _retry_findings(ref: StateRef) -> list[Finding]:
    retriers = [r for r in ref.state.get("Retry") or () if isinstance(r, Mapping)]
    if not retriers:
        return [Finding("task-retry", ref.path, "Task has no Retry")]
    if not is_lambda_task(ref.state):
        return []
    covered: set[str] = set()
    for retrier in retriers:
        if float(retrier.get("BackoffRate", _DEFAULT_BACKOFF)) <= 1:
            continue
        errors = set(retrier.get("ErrorEquals") or ())
        covered |= LAMBDA_RETRY_ERRORS if errors & _RETRY_ANY else errors
    missing = sorted(LAMBDA_RETRY_ERRORS - covered)
    if missing:
        return [
            Finding(
                "task-retry",
                ref.path,
                f"Lambda task does not retry {', '.join(missing)} with BackoffRate > 1",
            )
        ]
    return []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _state_findings(ref: StateRef) -> list[Finding]:
    state, path = ref.state, ref.path
    kind = state.get("Type")
    findings: list[Finding] = []
    if kind == "Task":
        findings += _retry_findings(ref)
        if not (ref.caught or _catches_all(state)):
            findings.append(
                Finding(
                    "task-catch",
                    path,
                    "Task is not covered by a Catch on States.ALL that sets ResultPath",
                )
            )
        if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
            findings.append(Finding("task-timeout", path, "Task has no TimeoutSeconds"))
        if is_callback(state):
            if "HeartbeatSeconds" not in state and "HeartbeatSecondsPath" not in state:
                findings.append(
                    Finding("callback-heartbeat", path, "callback Task has no HeartbeatSeconds")
                )
            heartbeat = _number(state.get("HeartbeatSeconds"))
            timeout = _number(state.get("TimeoutSeconds"))
            if heartbeat is not None and timeout is not None and heartbeat >= timeout:
                findings.append(
                    Finding(
                        "callback-heartbeat",
                        path,
                        f"HeartbeatSeconds {figure(heartbeat)} must be below "
                        f"TimeoutSeconds {figure(timeout)}",
                    )
                )
        if ref.express and (is_callback(state) or is_sync(state)):
            findings.append(
                Finding(
                    "express-integration",
                    path,
                    f"EXPRESS workflows cannot run {resource_of(state)} (callback or .sync)",
                )
            )
    if kind == "Map":
        if "Iterator" in state:
            findings.append(Finding("map-item-processor", path, "Map uses the deprecated Iterator"))
        if not (_number(state.get("MaxConcurrency")) or "MaxConcurrencyPath" in state):
            findings.append(
                Finding("map-max-concurrency", path, "Map has no MaxConcurrency above 0")
            )
        if ref.express and is_distributed_map(state):
            findings.append(
                Finding(
                    "express-integration", path, "EXPRESS workflows cannot run a Distributed Map"
                )
            )
    return findings
