"""The redrive workflow, SDK integrations only (no glue functions).

    Prepare -> Check (GetQueueAttributes) -> Empty? -> ListActive -> (a task RUNNING?) ->
    Start -> Wait -> Poll -> Progress? -> (RUNNING: Count -> TooLong? -> Wait) |
    COMPLETED: Announce | FAILED, CANCELLED: AnnounceFailure

Input (made by `start_redrive` and by each queue's schedule):
`{"queue", "dlqArn", "dlqUrl", "destinationArn", "rate", "pollSeconds"}`. The DLQ and its
destination come from the input, so the role lists each allowed queue explicitly (the
component grants exactly the registered ones). `ListMessageMoveTasks` answers an empty
`Results` for a queue that never had a task, so every Choice on `Results[0].Status` is
guarded with `IsPresent`. The poll loop ends after `max_polls` checks (Fail
`RedriveStillRunning`), before the machine's own timeout.

`ListMessageMoveTasks` may answer an empty `Results`, so each listing keeps the count and
the tasks, a Choice on the count comes first, and the first task is taken with
`States.ArrayGetItem`. (Index paths such as `$.Results[0].Status` are avoided: moto
resolves them to one-element lists, which no comparison matches.)
"""

from __future__ import annotations

from typing import Any

import pulumi

from ..core import asl

COMPLETED_DETAIL_TYPE = "RedriveCompleted"
FAILED_DETAIL_TYPE = "RedriveFailed"
SDK_TIMEOUT_S = 30
# The states whose queue comes from the input: their grants are listed per registered DLQ.
RUNTIME_TARGETS = ("Check", "ListActive", "Start", "Poll")


def _status_is(path: str, status: str, next_state: str) -> dict[str, Any]:
    return {"Variable": path, "StringEquals": status, "Next": next_state}


def _first_task(listing: str, none: str, next_state: str) -> dict[str, asl.State]:
    """States that route on the listing's task count, then take its first task."""
    prefix = listing.removeprefix("$.").title()
    return {
        f"Any{prefix}": asl.choice(
            [{"Variable": f"{listing}.count", "NumericEquals": 0, "Next": none}],
            default=f"First{prefix}",
        ),
        f"First{prefix}": asl.pass_state(
            parameters={"task.$": f"States.ArrayGetItem({listing}.tasks, 0)"},
            ResultPath=f"{listing}.first",
            next_state=next_state,
        ),
    }


def definition(
    *,
    max_polls: int,
    timeout_s: int,
    source: str,
    event_bus: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    sqs_retry = [asl.retry(asl.SQS_TRANSIENT_ERRORS, attempts=5, interval_s=2, max_delay_s=60)]
    failure = [asl.catch("AnnounceFailure", result_path="$.error")]

    def sqs(
        action: str,
        parameters: dict[str, Any],
        result_path: str,
        next_state: str,
        result_selector: dict[str, Any] | None = None,
    ) -> dict:
        return asl.task(
            asl.sdk("sqs", action),
            parameters=parameters,
            result_path=result_path,
            result_selector=result_selector,
            timeout_s=SDK_TIMEOUT_S,
            retry=sqs_retry,
            catch=failure,
            next_state=next_state,
        )

    def announce(detail_type: str, detail: dict[str, Any], next_state: str) -> dict:
        entry: dict[str, Any] = {"Source": source, "DetailType": detail_type, "Detail": detail}
        if event_bus is not None:
            entry["EventBusName"] = event_bus
        return asl.task(
            asl.integration("events", "putEvents"),
            parameters={"Entries": [entry]},
            result_path=None,
            timeout_s=SDK_TIMEOUT_S,
            retry=[asl.retry(asl.EVENTS_TRANSIENT_ERRORS)],
            catch=[asl.catch(next_state, result_path="$.announceError")],
            next_state=next_state,
        )

    status = "$.progress.first.task.Status"
    list_tasks = {"SourceArn.$": "$.dlqArn", "MaxResults": 1}
    listing = {"count.$": "States.ArrayLength($.Results)", "tasks.$": "$.Results"}
    states: dict[str, asl.State] = {
        "Prepare": asl.pass_state(
            parameters={"value": 0, "startedAt.$": "$$.State.EnteredTime"},
            ResultPath="$.polls",
            next_state="Check",
        ),
        "Check": sqs(
            "getQueueAttributes",
            {"QueueUrl.$": "$.dlqUrl", "AttributeNames": ["ApproximateNumberOfMessages"]},
            "$.check",
            "Empty",
        ),
        "Empty": asl.choice(
            [
                {
                    "Variable": "$.check.Attributes.ApproximateNumberOfMessages",
                    "StringEquals": "0",
                    "Next": "NothingToRedrive",
                }
            ],
            default="ListActive",
        ),
        "NothingToRedrive": asl.succeed("the DLQ is empty"),
        "ListActive": sqs("listMessageMoveTasks", list_tasks, "$.active", "AnyActive", listing),
        **_first_task("$.active", "Start", "Active"),
        "Active": asl.choice(
            [_status_is("$.active.first.task.Status", "RUNNING", "AlreadyRunning")],
            default="Start",
        ),
        "AlreadyRunning": asl.succeed("a move task is already running for this DLQ"),
        "Start": sqs(
            "startMessageMoveTask",
            {
                "SourceArn.$": "$.dlqArn",
                "DestinationArn.$": "$.destinationArn",
                "MaxNumberOfMessagesPerSecond.$": "$.rate",
            },
            "$.task",
            "Wait",
        ),
        "Wait": {"Type": "Wait", "SecondsPath": "$.pollSeconds", "Next": "Poll"},
        "Poll": sqs("listMessageMoveTasks", list_tasks, "$.progress", "AnyProgress", listing),
        **_first_task("$.progress", "AnnounceFailure", "Progress"),
        "Progress": asl.choice(
            [
                _status_is(status, "RUNNING", "Count"),
                _status_is(status, "COMPLETED", "Announce"),
            ],
            default="AnnounceFailure",  # FAILED or CANCELLED
        ),
        "Count": asl.pass_state(
            parameters={
                "value.$": "States.MathAdd($.polls.value, 1)",
                "startedAt.$": "$.polls.startedAt",
            },
            ResultPath="$.polls",
            next_state="TooLong",
        ),
        "TooLong": asl.choice(
            [
                {
                    "Variable": "$.polls.value",
                    "NumericGreaterThanEquals": max_polls,
                    "Next": "StillRunning",
                }
            ],
            default="Wait",
        ),
        "StillRunning": asl.fail(
            "RedriveStillRunning",
            f"the move task was still running after {max_polls} checks; it carries on, unwatched",
        ),
        "Announce": announce(
            COMPLETED_DETAIL_TYPE,
            {
                "queue.$": "$.queue",
                "dlqArn.$": "$.dlqArn",
                "destinationArn.$": "$.destinationArn",
                "moved.$": "$.progress.first.task.ApproximateNumberOfMessagesMoved",
                "startedAt.$": "$.polls.startedAt",
                "finishedAt.$": "$$.State.EnteredTime",
            },
            "Redriven",
        ),
        "Redriven": asl.succeed(),
        "AnnounceFailure": announce(
            FAILED_DETAIL_TYPE,
            {
                "queue.$": "$.queue",
                "dlqArn.$": "$.dlqArn",
                "execution.$": "$$.Execution.Id",
                "state.$": "$",
            },
            "RedriveFailed",
        ),
        "RedriveFailed": asl.fail("RedriveFailed", "the move task failed or was cancelled"),
    }
    return asl.machine(
        "Prepare",
        states,
        comment="Move a DLQ's messages back, one move task per queue, watched until it ends",
        timeout_s=timeout_s,
    )
