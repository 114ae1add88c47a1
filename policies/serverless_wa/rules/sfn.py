"""Step Functions rules.

SFN-003 to SFN-009 lint the `definition` with the shared ASL walker (`serverless_wa.asl`):
every state, including Parallel branches and Map item processors, named by its path
(`Fanout/Branch[0]/Resize`), which each finding also carries as `detail` so a config
exemption can target one state. A definition that is unknown or does not parse is not
applicable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from serverless_wa import asl
from serverless_wa.graph import Node
from serverless_wa.props import UNKNOWN, as_list, known
from serverless_wa.registry import Case, Examples, Finding, Rule, anchors, figure, register
from serverless_wa.rules._common import STATE_MACHINE, arn, case

LOG_LEVELS = ("OFF", "FATAL", "ERROR", "ALL")
RETRY_ANY = frozenset({"States.ALL", "States.TaskFailed"})
DEFAULT_BACKOFF = 2.0


# Reading the definition ------------------------------------------------------------------


def _document(node: Node) -> Mapping[str, Any] | None:
    document = node.props.json("definition")
    return document if isinstance(document, Mapping) else None


def _states(node: Node) -> list[asl.StateRef] | None:
    """Every state of a known, well-formed definition; None when not applicable."""
    document = _document(node)
    if document is None:
        return None
    try:
        return list(asl.walk(document))
    except (ValueError, TypeError, AttributeError):
        return None


def _siblings(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """State path -> the States map it sits in (where its Catch may lead)."""
    found: dict[str, Mapping[str, Any]] = {}
    try:
        for prefix, body in asl.bodies(document):
            states = body.get("States")
            if isinstance(states, Mapping):
                found.update({f"{prefix}{name}": states for name in states})
    except (ValueError, TypeError, AttributeError):
        pass
    return found


def _of_type(node: Node, kind: str) -> Iterator[asl.StateRef]:
    for ref in _states(node) or ():
        if ref.state.get("Type") == kind:
            yield ref


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _at(ref: asl.StateRef, problem: str) -> Finding:
    return Finding(f"{ref.state.get('Type')} state {ref.path} {problem}", detail=ref.path)


# SFN-001 ---------------------------------------------------------------------------------


def _tracing(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    enabled = node.get("tracingConfiguration.enabled")
    if enabled is UNKNOWN or enabled is True:
        return
    shown = "false" if enabled is False else "absent (off)" if not known(enabled) else enabled
    yield Finding(f"X-Ray tracing is {shown}")


register(
    Rule(
        id="SFN-001",
        name="sfn-tracing",
        title="State machines trace with X-Ray",
        description="tracingConfiguration.enabled must be true; absent or false fails.",
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("tracingConfiguration.enabled",)},
        anchors=anchors(
            serverless_rules="WS5000",
            cdk_nag="AwsSolutions-SF2, Serverless-StepFunctionStateMachineXray",
            checkov="CKV_AWS_284",
        ),
        knob="",
        raw="tracing_configuration.enabled=True",
        check=_tracing,
        remediation=(
            "Raw: aws.sfn.StateMachine(..., tracing_configuration="
            "aws.sfn.StateMachineTracingConfigurationArgs(enabled=True)). "
            "Component: StateMachine(...) always traces; the role also "
            "needs X-Ray write access (STACK-013)."
        ),
        examples=Examples(
            compliant=(case(STATE_MACHINE, {"tracingConfiguration": {"enabled": True}}),),
            non_compliant=(
                case(STATE_MACHINE, {}),
                case(STATE_MACHINE, {"tracingConfiguration": {"enabled": False}}),
            ),
        ),
    )
)


# SFN-002 ---------------------------------------------------------------------------------


def _logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    level = node.get("loggingConfiguration.level")
    if level is UNKNOWN:
        return
    level = level if known(level) else "OFF"
    minimum = str(config.get("min_level") or "ERROR").upper()
    floor = LOG_LEVELS.index(minimum) if minimum in LOG_LEVELS else LOG_LEVELS.index("ERROR")
    rank = LOG_LEVELS.index(level) if level in LOG_LEVELS else -1
    if rank < floor:
        yield Finding(f"logging level is {level}, below {LOG_LEVELS[floor]}")
        return
    destination = node.get("loggingConfiguration.logDestination")
    if destination is not UNKNOWN and not (
        isinstance(destination, str) and destination.endswith(":*")
    ):
        shown = repr(destination) if known(destination) else "absent"
        yield Finding(f"log destination is {shown}, not a log group ARN ending in ':*'")
    data = node.get("loggingConfiguration.includeExecutionData")
    if config.get("require_execution_data") and data is not UNKNOWN and data is not True:
        yield Finding("includeExecutionData is off, so logs do not show state inputs and outputs")


register(
    Rule(
        id="SFN-002",
        name="sfn-logging",
        title="State machines log to CloudWatch Logs at the required level",
        description=(
            "loggingConfiguration.level at or above min_level (OFF < FATAL < ERROR < ALL, "
            "absent = OFF) with a logDestination ending in ':*'; includeExecutionData only "
            "when require_execution_data is set."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={
            STATE_MACHINE: (
                "loggingConfiguration.level",
                "loggingConfiguration.logDestination",
                "loggingConfiguration.includeExecutionData",
            )
        },
        anchors=anchors(cdk_nag="AwsSolutions-SF1", checkov="CKV_AWS_285"),
        knob="log_level",
        raw="logging_configuration.level / log_destination",
        check=_logging,
        config={
            "min_level": {"type": "string", "enum": list(LOG_LEVELS), "default": "ERROR"},
            "require_execution_data": {"type": "boolean", "default": False},
        },
        remediation=(
            "Raw: aws.sfn.StateMachine(..., logging_configuration="
            "aws.sfn.StateMachineLoggingConfigurationArgs(level='ERROR', "
            "log_destination=log_group.arn.apply(lambda a: f'{a}:*'))). "
            "Component: StateMachine(..., log_level='ERROR')."
        ),
        examples=Examples(
            compliant=(
                case(
                    STATE_MACHINE,
                    {
                        "loggingConfiguration": {
                            "level": "ERROR",
                            "logDestination": arn("logs", "log-group:/aws/states/m:*"),
                        }
                    },
                ),
                case(
                    STATE_MACHINE,
                    {
                        "loggingConfiguration": {
                            "level": "ALL",
                            "includeExecutionData": True,
                            "logDestination": arn("logs", "log-group:/aws/states/m:*"),
                        }
                    },
                    config={"min_level": "ALL", "require_execution_data": True},
                ),
            ),
            non_compliant=(
                case(STATE_MACHINE, {}),
                case(STATE_MACHINE, {"loggingConfiguration": {"level": "OFF"}}),
                case(
                    STATE_MACHINE,
                    {
                        "loggingConfiguration": {
                            "level": "ERROR",
                            "logDestination": arn("logs", "log-group:/aws/states/m"),
                        }
                    },
                ),
                case(
                    STATE_MACHINE,
                    {
                        "loggingConfiguration": {
                            "level": "ERROR",
                            "logDestination": arn("logs", "log-group:/aws/states/m:*"),
                        }
                    },
                    config={"min_level": "ALL"},
                ),
            ),
        ),
    )
)


# Example definitions ---------------------------------------------------------------------

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
PUT_ITEM = "arn:aws:states:::dynamodb:putItem"
LAMBDA_RETRY = {
    "ErrorEquals": sorted(asl.LAMBDA_RETRY_ERRORS),
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
}
CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]


def _task(resource: str = LAMBDA_INVOKE, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "TimeoutSeconds": 30,
        "Retry": [LAMBDA_RETRY] if "lambda" in resource else [{"ErrorEquals": ["States.ALL"]}],
    }
    state.update(fields)
    if "Next" not in state:
        state["End"] = True
    return state


def _good() -> dict[str, Any]:
    """Every rule passes: a callback, a Parallel and a Map whose inner tasks their
    enclosing state catches."""
    return {
        "StartAt": "Record",
        "States": {
            "Record": _task(PUT_ITEM, Catch=CATCH_ALL, Next="Approve"),
            "Approve": _task(
                CALLBACK,
                TimeoutSeconds=3600,
                HeartbeatSeconds=600,
                Catch=CATCH_ALL,
                Next="Fanout",
            ),
            "Fanout": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Resize", "States": {"Resize": _task()}}],
                "Catch": CATCH_ALL,
                "Next": "Items",
            },
            "Items": {
                "Type": "Map",
                "MaxConcurrency": 5,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Load",
                    "States": {"Load": _task(arn("lambda", "function:load"))},
                },
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Failed": {"Type": "Fail", "Error": "Failed", "Cause": "a task failed"},
        },
    }


def _machine(definition: str | dict[str, Any], **props: Any) -> Case:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return case(STATE_MACHINE, {"definition": text, **props})


def _nested(document: dict[str, Any], path: str) -> dict[str, Any]:
    target: Any = document
    for step in path.split("/"):
        target = target[int(step)] if isinstance(target, list) else target[step]
    return target


def _edit(
    edits: Mapping[str, Mapping[str, Any]], drops: Mapping[str, tuple[str, ...]] | None = None
) -> str:
    """The good definition with states (by `States/...` paths) updated or keys dropped."""
    document = _good()
    for path, update in edits.items():
        _nested(document, path).update(update)
    for path, keys in (drops or {}).items():
        for key in keys:
            _nested(document, path).pop(key, None)
    return json.dumps(document)


GOOD = json.dumps(_good())
RESIZE = "States/Fanout/Branches/0/States/Resize"
LOAD = "States/Items/ItemProcessor/States/Load"


# SFN-003 ---------------------------------------------------------------------------------


def _retried(retriers: list[Mapping[str, Any]]) -> set[str]:
    """The Lambda transient errors some retrier retries with backoff above 1."""
    covered: set[str] = set()
    for retrier in retriers:
        backoff = _number(retrier.get("BackoffRate", DEFAULT_BACKOFF))
        attempts = _number(retrier.get("MaxAttempts"))
        if (backoff is not None and backoff <= 1) or attempts == 0:
            continue
        errors = {str(e) for e in as_list(retrier.get("ErrorEquals"))}
        covered |= asl.LAMBDA_RETRY_ERRORS if errors & RETRY_ANY else errors
    return covered


def _task_retry(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    for ref in _of_type(node, "Task"):
        retriers = [r for r in as_list(ref.state.get("Retry")) if isinstance(r, Mapping)]
        if not retriers:
            yield _at(ref, "has no Retry")
        elif asl.is_lambda_task(ref.state):
            missing = sorted(asl.LAMBDA_RETRY_ERRORS - _retried(retriers))
            if missing:
                yield _at(ref, f"does not retry {', '.join(missing)} with BackoffRate > 1")


register(
    Rule(
        id="SFN-003",
        name="sfn-task-retry",
        title="Task states retry, and Lambda tasks retry Lambda's transient errors",
        description=(
            "Every Task state has Retry; Lambda tasks' retriers together cover "
            "Lambda.ServiceException, AWSLambdaException, SdkClientException and "
            "TooManyRequestsException (or States.ALL / States.TaskFailed) with BackoffRate > 1."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="retry_errors",
        raw="definition: Retry",
        check=_task_retry,
        remediation=(
            "Raw: give each Task state 'Retry': [{'ErrorEquals': ['Lambda.ServiceException', "
            "'Lambda.AWSLambdaException', 'Lambda.SdkClientException', "
            "'Lambda.TooManyRequestsException'], 'MaxAttempts': 3, 'BackoffRate': 2}]. "
            "Component: build states with components.core.asl.task(retry=...)."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD),
                _machine(
                    _edit({RESIZE: {"Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]}})
                ),
            ),
            non_compliant=(
                _machine(_edit({}, {RESIZE: ("Retry",)})),
                _machine(_edit({LOAD: {"Retry": [{**LAMBDA_RETRY, "BackoffRate": 1}]}})),
                _machine(
                    _edit(
                        {
                            LOAD: {
                                "Retry": [{"ErrorEquals": ["Lambda.ServiceException"]}],
                            }
                        }
                    )
                ),
            ),
        ),
    )
)


# SFN-004 ---------------------------------------------------------------------------------


def _handles(catchers: Any, siblings: Mapping[str, Any] | None) -> bool:
    """A Catch on States.ALL that leads to a state beside it and keeps the input."""
    for catcher in as_list(catchers):
        if not isinstance(catcher, Mapping):
            continue
        errors = {str(e) for e in as_list(catcher.get("ErrorEquals"))}
        keeps_input = ("ResultPath" in catcher and catcher["ResultPath"] != "$") or (
            "Output" in catcher  # JSONata catchers shape their output with Output
        )
        leads = siblings is not None and catcher.get("Next") in siblings
        if "States.ALL" in errors and keeps_input and leads:
            return True
    return False


def _task_catch(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    document, states = _document(node), _states(node)
    if document is None or states is None:
        return
    siblings = _siblings(document)
    guards = [
        f"{ref.path}/"
        for ref in states
        if ref.state.get("Type") in ("Parallel", "Map")
        and _handles(ref.state.get("Catch"), siblings.get(ref.path))
    ]
    for ref in states:
        if ref.state.get("Type") != "Task":
            continue
        if _handles(ref.state.get("Catch"), siblings.get(ref.path)):
            continue
        if any(ref.path.startswith(guard) for guard in guards):
            continue
        yield _at(
            ref,
            "is not covered by a Catch on States.ALL that sets ResultPath and leads to a "
            "handler state",
        )


register(
    Rule(
        id="SFN-004",
        name="sfn-task-catch",
        title="Task states are caught by a States.ALL handler that keeps the input",
        description=(
            "Every Task state is covered by a Catch on States.ALL (its own or its enclosing "
            "Parallel's or Map's) that leads to a handler state and sets ResultPath (not '$')."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="",
        raw="definition: Catch",
        check=_task_catch,
        remediation=(
            "Raw: 'Catch': [{'ErrorEquals': ['States.ALL'], 'ResultPath': '$.error', "
            "'Next': 'HandleFailure'}] on the Task or its enclosing Parallel/Map. "
            "Component: components.core.asl.catch(next_state) in asl.task(catch=...)."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD),
                _machine(
                    _edit(
                        {
                            "States/Record": {
                                "Catch": [
                                    {
                                        "ErrorEquals": ["States.ALL"],
                                        "ResultPath": None,
                                        "Next": "Failed",
                                    }
                                ]
                            }
                        }
                    )
                ),
            ),
            non_compliant=(
                _machine(_edit({}, {"States/Record": ("Catch",)})),
                _machine(_edit({}, {"States/Fanout": ("Catch",)})),
                _machine(
                    _edit(
                        {
                            "States/Items": {
                                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]
                            }
                        }
                    )
                ),
                _machine(
                    _edit(
                        {
                            "States/Record": {
                                "Catch": [
                                    {
                                        "ErrorEquals": ["States.ALL"],
                                        "ResultPath": "$.e",
                                        "Next": "Gone",
                                    }
                                ]
                            }
                        }
                    )
                ),
            ),
        ),
    )
)


# SFN-005 ---------------------------------------------------------------------------------


def _task_timeout(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    for ref in _of_type(node, "Task"):
        if "TimeoutSeconds" not in ref.state and "TimeoutSecondsPath" not in ref.state:
            yield _at(ref, "has no TimeoutSeconds (the default is effectively unbounded)")


register(
    Rule(
        id="SFN-005",
        name="sfn-task-timeout",
        title="Task states set a timeout",
        description="Every Task state has TimeoutSeconds or TimeoutSecondsPath.",
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="timeout_s / job_timeout_s",
        raw="definition: TimeoutSeconds",
        check=_task_timeout,
        remediation=(
            "Raw: 'TimeoutSeconds': <seconds> on each Task state. "
            "Component: components.core.asl.task(timeout_s=...)."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD),
                _machine(
                    _edit({LOAD: {"TimeoutSecondsPath": "$.timeout"}}, {LOAD: ("TimeoutSeconds",)})
                ),
            ),
            non_compliant=(
                _machine(_edit({}, {LOAD: ("TimeoutSeconds",)})),
                _machine(_edit({}, {"States/Record": ("TimeoutSeconds",)})),
            ),
        ),
    )
)


# SFN-006 ---------------------------------------------------------------------------------


def _callback_heartbeat(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    for ref in _of_type(node, "Task"):
        if not asl.is_callback(ref.state):
            continue
        state = ref.state
        missing = [
            key for key in ("TimeoutSeconds", "HeartbeatSeconds")
            if key not in state and f"{key}Path" not in state
        ]  # fmt: skip
        if missing:
            yield _at(ref, f"waits for a callback without {' or '.join(missing)}")
            continue
        heartbeat, timeout = (
            _number(state.get("HeartbeatSeconds")),
            _number(state.get("TimeoutSeconds")),
        )
        if heartbeat is not None and timeout is not None and heartbeat >= timeout:
            yield _at(
                ref,
                f"has HeartbeatSeconds {figure(heartbeat)}, "
                f"not below TimeoutSeconds {figure(timeout)}",
            )


register(
    Rule(
        id="SFN-006",
        name="sfn-callback-heartbeat",
        title="Callback and activity tasks bound their wait with a timeout and a heartbeat",
        description=(
            "Task states whose Resource ends in .waitForTaskToken, or is an activity, need "
            "TimeoutSeconds and HeartbeatSeconds (or the Path forms), heartbeat < timeout."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="heartbeat_s / job_timeout_s",
        raw="definition: HeartbeatSeconds, TimeoutSeconds",
        check=_callback_heartbeat,
        remediation=(
            "Raw: 'TimeoutSeconds': 3600, 'HeartbeatSeconds': 600 on each .waitForTaskToken "
            "or activity Task. Component: components.core.asl.task(timeout_s=..., "
            "heartbeat_s=...)."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD),
                _machine(
                    _edit(
                        {"States/Approve": {"HeartbeatSecondsPath": "$.heartbeat"}},
                        {"States/Approve": ("HeartbeatSeconds",)},
                    )
                ),
            ),
            non_compliant=(
                _machine(_edit({}, {"States/Approve": ("HeartbeatSeconds",)})),
                _machine(_edit({"States/Approve": {"HeartbeatSeconds": 3600}})),
                _machine(
                    _edit(
                        {
                            RESIZE: {
                                "Resource": arn("states", "activity:review"),
                                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                            }
                        },
                        {RESIZE: ("TimeoutSeconds",)},
                    )
                ),
            ),
        ),
    )
)


# SFN-007 ---------------------------------------------------------------------------------


def _map_max_concurrency(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    for ref in _of_type(node, "Map"):
        value = ref.state.get("MaxConcurrency")
        if "MaxConcurrencyPath" in ref.state or isinstance(value, str):  # path or JSONata
            continue
        number = _number(value)
        if number is None or number <= 0:
            shown = (
                f"MaxConcurrency {figure(number)}" if number is not None else "no MaxConcurrency"
            )
            yield _at(ref, f"has {shown}, so its iterations run unbounded")


register(
    Rule(
        id="SFN-007",
        name="sfn-map-max-concurrency",
        title="Map states bound their concurrency",
        description="Every Map state has MaxConcurrency > 0 or MaxConcurrencyPath.",
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="map_max_concurrency",
        raw="definition: MaxConcurrency",
        check=_map_max_concurrency,
        remediation=(
            "Raw: 'MaxConcurrency': <n> on each Map state, at or below the consumer's reserved "
            "concurrency. Component: CallbackWorkflowArgs(map_max_concurrency=...)."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD),
                _machine(
                    _edit(
                        {"States/Items": {"MaxConcurrencyPath": "$.limit"}},
                        {"States/Items": ("MaxConcurrency",)},
                    )
                ),
            ),
            non_compliant=(
                _machine(_edit({}, {"States/Items": ("MaxConcurrency",)})),
                _machine(_edit({"States/Items": {"MaxConcurrency": 0}})),
            ),
        ),
    )
)


# SFN-008 ---------------------------------------------------------------------------------


def _express_no_wait(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("type") != "EXPRESS":  # absent = STANDARD; unknown skips
        return
    for ref in _of_type(node, "Task"):
        resource = asl.resource_of(ref.state)
        if resource.endswith(".waitForTaskToken") or asl.is_sync(ref.state):
            yield _at(ref, f"uses {resource}, which EXPRESS workflows do not support")


register(
    Rule(
        id="SFN-008",
        name="sfn-express-no-wait-patterns",
        title="EXPRESS workflows use no .sync or callback integrations",
        description=(
            "type EXPRESS with any Task Resource ending in .sync or .waitForTaskToken is a "
            "finding (absent type = STANDARD)."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition", "type")},
        anchors=anchors(),
        knob="workflow_type",
        raw="type='STANDARD'",
        check=_express_no_wait,
        remediation=(
            "Raw: aws.sfn.StateMachine(..., type='STANDARD'), or drop the .sync / "
            ".waitForTaskToken integration. Component: StateMachine(..., "
            "workflow_type='STANDARD')."
        ),
        examples=Examples(
            compliant=(
                _machine(GOOD, type="STANDARD"),
                _machine(GOOD),
                _machine(_edit({"States/Approve": {"Resource": PUT_ITEM}}), type="EXPRESS"),
            ),
            non_compliant=(
                _machine(GOOD, type="EXPRESS"),
                _machine(
                    _edit(
                        {
                            "States/Approve": {"Resource": PUT_ITEM},
                            LOAD: {"Resource": "arn:aws:states:::states:startExecution.sync:2"},
                        }
                    ),
                    type="EXPRESS",
                ),
            ),
        ),
    )
)


# SFN-009 ---------------------------------------------------------------------------------


def _map_item_processor(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    for ref in _of_type(node, "Map"):
        if "Iterator" in ref.state:
            yield _at(ref, "uses the deprecated Iterator instead of ItemProcessor")


def _legacy_iterator() -> str:
    document = _good()
    items = document["States"]["Items"]
    processor = items.pop("ItemProcessor")
    processor.pop("ProcessorConfig")
    items["Iterator"] = processor
    return json.dumps(document)


register(
    Rule(
        id="SFN-009",
        name="sfn-map-item-processor",
        title="Map states use ItemProcessor, not the deprecated Iterator",
        description="A Map state that uses Iterator instead of ItemProcessor is a finding.",
        severity="LOW",
        pillar="OPS",
        scope="resource",
        types=(STATE_MACHINE,),
        reads={STATE_MACHINE: ("definition",)},
        anchors=anchors(),
        knob="item_processor",
        raw="definition: ItemProcessor",
        check=_map_item_processor,
        remediation=(
            "Raw: rename the Map state's Iterator to ItemProcessor and add "
            "'ProcessorConfig': {'Mode': 'INLINE'}. Component: pass the Map with ItemProcessor "
            "in StateMachine(definition=...)."
        ),
        examples=Examples(
            compliant=(_machine(GOOD),),
            non_compliant=(_machine(_legacy_iterator()),),
        ),
    )
)
