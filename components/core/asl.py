"""Amazon States Language as Python data: the few shapes every definition repeats.

Definitions are dicts built from these helpers, never JSON text, so a value such as a table
name can be a `pulumi.Output` (the state machine block resolves them) or a plain string
(tests run the same definition in moto). `task` takes Retry, Catch and a timeout as required
arguments, so no Task state can be written without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

State = dict[str, Any]
IntegrationPattern = Literal["", "sync", "waitForTaskToken"]

# What Lambda's service can throw at an invocation that a retry may cure (the seed's bare
# "ServiceException" matches nothing: error names are qualified).
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
)
# Throttling and unmodelled service errors of the other integrations, by the names Step
# Functions gives them (`<Service>.<Java SDK exception>`): worth a retry, unlike a failed
# condition or a missing resource.
DYNAMODB_TRANSIENT_ERRORS = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.AmazonDynamoDBException",
)
SQS_TRANSIENT_ERRORS = (
    "SQS.AmazonSQSException",
    "SQS.SdkClientException",
    "Sqs.RequestThrottledException",
    "Sqs.SqsException",
)
EVENTS_TRANSIENT_ERRORS = (
    "EventBridge.AmazonEventBridgeException",
    "EventBridge.SdkClientException",
    "EventBridge.FailedEntry",
)
SNS_TRANSIENT_ERRORS = (
    "SNS.AmazonSNSException",
    "SNS.SdkClientException",
    "SNS.ThrottledException",
    "SNS.InternalErrorException",
    "SNS.KMSThrottlingException",
)
ALL_ERRORS = "States.ALL"
TASK_FAILED = "States.TaskFailed"


def integration(service: str, action: str, pattern: IntegrationPattern = "") -> str:
    """An optimized integration, e.g. `arn:aws:states:::sqs:sendMessage.waitForTaskToken`."""
    suffix = f".{pattern}" if pattern else ""
    return f"arn:aws:states:::{service}:{action}{suffix}"


def sdk(service: str, action: str) -> str:
    """An AWS SDK integration: `arn:aws:states:::aws-sdk:sqs:startMessageMoveTask`."""
    return f"arn:aws:states:::aws-sdk:{service}:{action}"


def retry(
    errors: Sequence[str],
    *,
    attempts: int = 3,
    interval_s: int = 1,
    backoff: float = 2.0,
    max_delay_s: int | None = None,
) -> dict[str, Any]:
    """One retrier with exponential backoff and full jitter."""
    if attempts < 0 or interval_s < 1 or backoff < 1:
        raise ValueError("retry needs attempts >= 0, interval_s >= 1 and backoff >= 1")
    retrier: dict[str, Any] = {
        "ErrorEquals": list(errors),
        "IntervalSeconds": interval_s,
        "MaxAttempts": attempts,
        "BackoffRate": backoff,
        "JitterStrategy": "FULL",
    }
    if max_delay_s is not None:
        retrier["MaxDelaySeconds"] = max_delay_s
    return retrier


def catch(
    next_state: str, *, errors: Sequence[str] = (ALL_ERRORS,), result_path: str | None = "$.error"
) -> dict[str, Any]:
    """A catcher that keeps the state's input and puts `{Error, Cause}` at `result_path`."""
    return {"ErrorEquals": list(errors), "ResultPath": result_path, "Next": next_state}


def task(
    resource: str,
    *,
    retry: Sequence[Mapping[str, Any]],
    catch: Sequence[Mapping[str, Any]],
    timeout_s: int,
    parameters: Mapping[str, Any] | None = None,
    next_state: str | None = None,
    result_path: str | Literal[False] | None = False,
    result_selector: Mapping[str, Any] | None = None,
    heartbeat_s: int | None = None,
    comment: str | None = None,
) -> State:
    """A Task state; `next_state=None` ends the workflow, `result_path=None` discards the result
    (`False`, the default, leaves ResultPath out: the result replaces the input)."""
    state: State = {"Type": "Task", "Resource": resource}
    if comment:
        state["Comment"] = comment
    if parameters is not None:
        state["Parameters"] = dict(parameters)
    if result_selector is not None:
        state["ResultSelector"] = dict(result_selector)
    if result_path is not False:
        state["ResultPath"] = result_path
    state["TimeoutSeconds"] = timeout_s
    if heartbeat_s is not None:
        state["HeartbeatSeconds"] = heartbeat_s
    if retry:
        state["Retry"] = [dict(r) for r in retry]
    # Empty only where an enclosing Parallel or Map catches for the state.
    if catch:
        state["Catch"] = [dict(c) for c in catch]
    return _link(state, next_state)


def pass_state(
    *, next_state: str | None = None, parameters: Mapping[str, Any] | None = None, **fields: Any
) -> State:
    state: State = {"Type": "Pass"}
    if parameters is not None:
        state["Parameters"] = dict(parameters)
    state.update(fields)
    return _link(state, next_state)


def choice(choices: Sequence[Mapping[str, Any]], *, default: str) -> State:
    return {"Type": "Choice", "Choices": [dict(c) for c in choices], "Default": default}


def succeed(comment: str | None = None) -> State:
    return {"Type": "Succeed", **({"Comment": comment} if comment else {})}


def fail(error: str, cause: str) -> State:
    return {"Type": "Fail", "Error": error, "Cause": cause}


def machine(
    start_at: str, states: Mapping[str, State], *, comment: str, timeout_s: int | None = None
) -> dict[str, Any]:
    """A top-level definition (or, without `timeout_s`, a branch or item processor body)."""
    definition: dict[str, Any] = {"Comment": comment, "StartAt": start_at}
    if timeout_s is not None:
        definition["TimeoutSeconds"] = timeout_s
    definition["States"] = dict(states)
    return definition


def _link(state: State, next_state: str | None) -> State:
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state
