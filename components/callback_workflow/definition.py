"""The callback workflow's definition, as a pure function of names and settings.

    GetWatermark -> Window -> ClaimRun -> RecordRun -> StartJob (callback) ->
    ProcessResults (Distributed Map over the job's files) -> CompleteRun ->
    AdvanceWatermark -> Announce -> Succeeded

The `runs` table holds one item per run (`jobName`, `runId`) and a `watermark` item with the
last successful `since` and, while a run is active, the execution holding the claim
(`activeRun`). A trigger for a run already recorded ends in `AlreadyRecorded`; a trigger
while another execution holds the claim ends in `AlreadyRunning`: neither starts a job.
Every failure is caught into `$.error` and goes `MarkFailed` (run FAILED with the error) ->
`ReleaseClaim` -> `AnnounceFailure` -> Fail.

An execution that ends without reaching those states (a stop by hand, the machine's own
timeout) would keep the claim, so the component routes this machine's TIMED_OUT, ABORTED and
FAILED status events back to it as `{"release": <executionArn>}`, which `ReleaseStale`
handles by clearing a claim still held by that execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from ..core import asl

WATERMARK = "watermark"
EPOCH = "1970-01-01T00:00:00Z"
RESULTS_PREFIX = "results/"
COMPLETED_DETAIL_TYPE = "RunCompleted"
FAILED_DETAIL_TYPE = "RunFailed"
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
DDB_TIMEOUT_S = 10


@dataclass(frozen=True, kw_only=True)
class WorkflowNames:
    """What the definition refers to (Outputs in the component, strings in tests)."""

    job_name: str
    runs_table: pulumi.Input[str]
    start_queue_url: pulumi.Input[str]
    results_bucket: pulumi.Input[str]
    process_file_arn: pulumi.Input[str]
    source: str
    event_bus: pulumi.Input[str] | None = None


@dataclass(frozen=True, kw_only=True)
class WorkflowSettings:
    heartbeat_s: int
    job_timeout_s: int
    timeout_s: int
    map_max_concurrency: int
    tolerated_failure_pct: float
    child_execution_type: Literal["STANDARD", "EXPRESS"]
    process_file_timeout_s: int


def _tolerance(percent: float) -> dict[str, Any]:
    """ToleratedFailurePercentage, left out at its default 0 (statelint wants an integer,
    moto's grammar only parses a decimal; the default needs neither)."""
    if not percent:
        return {}
    return {"ToleratedFailurePercentage": int(percent) if percent == int(percent) else percent}


def definition(names: WorkflowNames, settings: WorkflowSettings) -> dict[str, Any]:
    table = names.runs_table
    me = {"S.$": "$$.Execution.Id"}

    def _key(run_id: dict[str, str] | str) -> dict[str, Any]:
        run = {"S": run_id} if isinstance(run_id, str) else run_id
        return {"jobName": {"S": names.job_name}, "runId": run}

    ddb_retry = [asl.retry(asl.DYNAMODB_TRANSIENT_ERRORS)]

    def ddb(action: str, parameters: dict[str, Any], **kwargs: Any) -> asl.State:
        fields: dict[str, Any] = {
            "retry": ddb_retry,
            "catch": [asl.catch("MarkFailed")],
            "timeout_s": DDB_TIMEOUT_S,
            "result_path": None,
        }
        fields.update(kwargs)
        return asl.task(
            asl.integration("dynamodb", action),
            parameters={"TableName": table, **parameters},
            **fields,
        )

    def watermark_update(expression: str, condition: str, values: dict[str, Any]) -> dict:
        return {
            "Key": _key(WATERMARK),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }

    release = watermark_update("REMOVE activeRun, activeRunId", "activeRun = :me", {":me": me})

    def announce(detail_type: str, detail: dict[str, Any], next_state: str, catch_to: str) -> dict:
        entry: dict[str, Any] = {
            "Source": names.source,
            "DetailType": detail_type,
            "Detail": detail,
        }
        if names.event_bus is not None:
            entry["EventBusName"] = names.event_bus
        return asl.task(
            asl.integration("events", "putEvents"),
            parameters={"Entries": [entry]},
            result_path=None,
            timeout_s=DDB_TIMEOUT_S,
            retry=[asl.retry(asl.EVENTS_TRANSIENT_ERRORS)],
            catch=[asl.catch(catch_to, result_path="$.announceError")],
            next_state=next_state,
        )

    states: dict[str, asl.State] = {
        "Route": asl.choice(
            [{"Variable": "$.release", "IsPresent": True, "Next": "ReleaseStale"}],
            default="GetWatermark",
        ),
        "ReleaseStale": asl.task(
            asl.integration("dynamodb", "updateItem"),
            parameters={
                "TableName": table,
                **watermark_update(
                    "REMOVE activeRun, activeRunId",
                    "activeRun = :stale",
                    {":stale": {"S.$": "$.release"}},
                ),
            },
            result_path=None,
            timeout_s=DDB_TIMEOUT_S,
            retry=ddb_retry,
            catch=[
                asl.catch("Released", errors=[CONDITION_FAILED], result_path=None),
                asl.catch("ReleaseFailed", result_path="$.error"),
            ],
            next_state="Released",
        ),
        "Released": asl.succeed("no claim of that execution remains"),
        "ReleaseFailed": asl.fail("ReleaseFailed", "the stale claim could not be cleared"),
        "GetWatermark": ddb(
            "getItem",
            {"Key": _key(WATERMARK), "ConsistentRead": True},
            result_path="$.watermark",
            next_state="Window",
        ),
        "Window": asl.choice(
            [
                {
                    "Variable": "$.watermark.Item.since.S",
                    "IsPresent": True,
                    "Next": "FromWatermark",
                }
            ],
            default="FromBeginning",
        ),
        # The window is [since, startedAt); the next run starts where this one started.
        # (State.EnteredTime, not Execution.StartTime: moto hands the latter over as a
        # datetime that its DynamoDB tasks cannot serialise.)
        "FromWatermark": asl.pass_state(
            parameters={
                "since.$": "$.watermark.Item.since.S",
                "startedAt.$": "$$.State.EnteredTime",
            },
            ResultPath="$.window",
            next_state="ClaimRun",
        ),
        "FromBeginning": asl.pass_state(
            parameters={"since": EPOCH, "startedAt.$": "$$.State.EnteredTime"},
            ResultPath="$.window",
            next_state="ClaimRun",
        ),
        "ClaimRun": ddb(
            "updateItem",
            watermark_update(
                "SET activeRun = :me, activeRunId = :run",
                "attribute_not_exists(activeRun) OR activeRun = :me",
                {":me": me, ":run": {"S.$": "$.runId"}},
            ),
            catch=[
                asl.catch("AlreadyRunning", errors=[CONDITION_FAILED], result_path=None),
                asl.catch("MarkFailed"),
            ],
            next_state="RecordRun",
        ),
        "AlreadyRunning": asl.succeed("another execution holds the claim: no second job"),
        "RecordRun": ddb(
            "putItem",
            {
                "Item": {
                    **_key({"S.$": "$.runId"}),
                    "status": {"S": "RUNNING"},
                    "since": {"S.$": "$.window.since"},
                    "startedAt": {"S.$": "$.window.startedAt"},
                    "executionArn": me,
                },
                "ConditionExpression": "attribute_not_exists(runId)",
            },
            catch=[
                asl.catch("ReleaseDuplicate", errors=[CONDITION_FAILED], result_path=None),
                asl.catch("MarkFailed"),
            ],
            next_state="StartJob",
        ),
        "ReleaseDuplicate": ddb(
            "updateItem",
            release,
            catch=[asl.catch("ReleaseFailed", result_path="$.error")],
            next_state="AlreadyRecorded",
        ),
        "AlreadyRecorded": asl.succeed("this run was recorded before: no second job"),
        "StartJob": asl.task(
            asl.integration("sqs", "sendMessage", "waitForTaskToken"),
            parameters={
                "QueueUrl": names.start_queue_url,
                "MessageBody": {
                    "token.$": "$$.Task.Token",
                    "jobName": names.job_name,
                    "runId.$": "$.runId",
                    "since.$": "$.window.since",
                },
            },
            result_path="$.job",
            heartbeat_s=settings.heartbeat_s,
            timeout_s=settings.job_timeout_s,
            retry=[asl.retry(asl.SQS_TRANSIENT_ERRORS)],
            catch=[asl.catch("MarkFailed")],
            next_state="ProcessResults",
        ),
        "ProcessResults": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket": names.results_bucket, "Prefix.$": "$.job.prefix"},
            },
            "ItemSelector": {
                "bucket": names.results_bucket,
                "key.$": "$$.Map.Item.Value.Key",
                "runId.$": "$.runId",
            },
            "ItemProcessor": {
                "ProcessorConfig": {
                    "Mode": "DISTRIBUTED",
                    "ExecutionType": settings.child_execution_type,
                },
                **asl.machine(
                    "ProcessFile",
                    {
                        "ProcessFile": asl.task(
                            asl.integration("lambda", "invoke"),
                            parameters={"FunctionName": names.process_file_arn, "Payload.$": "$"},
                            result_selector={"processed.$": "$.Payload"},
                            timeout_s=settings.process_file_timeout_s + 30,
                            retry=[asl.retry(asl.LAMBDA_TRANSIENT_ERRORS)],
                            catch=[],  # a failed file fails its child; the Map's tolerance decides
                        )
                    },
                    comment="one result file",
                ),
            },
            "MaxConcurrency": settings.map_max_concurrency,
            **_tolerance(settings.tolerated_failure_pct),
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": names.results_bucket, "Prefix": RESULTS_PREFIX},
            },
            "ResultPath": "$.results",
            "Catch": [asl.catch("MarkFailed")],
            "Next": "CompleteRun",
        },
        "CompleteRun": ddb(
            "updateItem",
            {
                "Key": _key({"S.$": "$.runId"}),
                "UpdateExpression": (
                    "SET #status = :succeeded, finishedAt = :now, jobId = :job, "
                    "outputPrefix = :prefix, resultsManifest = :manifest"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":succeeded": {"S": "SUCCEEDED"},
                    ":now": {"S.$": "$$.State.EnteredTime"},
                    ":job": {"S.$": "$.job.jobId"},
                    ":prefix": {"S.$": "$.job.prefix"},
                    ":manifest": {"S.$": "$.results.ResultWriterDetails.Key"},
                },
            },
            next_state="AdvanceWatermark",
        ),
        "AdvanceWatermark": ddb(
            "updateItem",
            watermark_update(
                "SET since = :started, lastRunId = :run REMOVE activeRun, activeRunId",
                "activeRun = :me",
                {
                    ":started": {"S.$": "$.window.startedAt"},
                    ":run": {"S.$": "$.runId"},
                    ":me": me,
                },
            ),
            next_state="Announce",
        ),
        "Announce": announce(
            COMPLETED_DETAIL_TYPE,
            {
                "jobName": names.job_name,
                "runId.$": "$.runId",
                "since.$": "$.window.since",
                "outputPrefix.$": "$.job.prefix",
                "resultsManifest.$": "$.results.ResultWriterDetails.Key",
            },
            "Succeeded",
            "AnnouncementFailed",
        ),
        "Succeeded": asl.succeed(),
        "AnnouncementFailed": asl.fail(
            "AnnouncementFailed", "the run succeeded but RunCompleted could not be sent"
        ),
        "MarkFailed": ddb(
            "updateItem",
            {
                "Key": _key({"S.$": "$.runId"}),
                "UpdateExpression": "SET #status = :failed, finishedAt = :now, #error = :error",
                "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
                "ExpressionAttributeValues": {
                    ":failed": {"S": "FAILED"},
                    ":now": {"S.$": "$$.State.EnteredTime"},
                    ":error": {"S.$": "States.JsonToString($.error)"},
                },
            },
            catch=[asl.catch("ReleaseClaim", result_path="$.markError")],
            next_state="ReleaseClaim",
        ),
        "ReleaseClaim": ddb(
            "updateItem",
            release,
            # Not ours (a failure before ClaimRun) or already gone: nothing to release.
            catch=[asl.catch("AnnounceFailure", result_path=None)],
            next_state="AnnounceFailure",
        ),
        "AnnounceFailure": announce(
            FAILED_DETAIL_TYPE,
            {"jobName": names.job_name, "runId.$": "$.runId", "error.$": "$.error"},
            "Failed",
            "Failed",
        ),
        "Failed": asl.fail("RunFailed", "the run failed; its item in the runs table has the error"),
    }
    return asl.machine(
        "Route",
        states,
        comment=f"{names.job_name}: run a long job by callback, then process its files",
        timeout_s=settings.timeout_s,
    )
