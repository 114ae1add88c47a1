"""CallbackWorkflow under mocks: machine, queues, callbacks rights, schedule, Map, arguments."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from statelint.linter import Linter

from components.callback_workflow import CallbackWorkflow, CallbackWorkflowArgs, JobAdapterSpec
from components.core import iam
from serverless_wa.asl import check, walk
from tests.helpers import scoped_grants, statements_of_role

SM = "aws:sfn/stateMachine:StateMachine"
RULE = "aws:cloudwatch/eventRule:EventRule"
FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
CALLBACKS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def workflow(**kwargs):
    return lambda: CallbackWorkflow("exports", CallbackWorkflowArgs(**kwargs))


def document(plan) -> dict:
    return json.loads(plan.one(SM).inputs["definition"])


def test_machine_is_standard_logged_and_traced(build):
    plan = build(workflow())
    machine = plan.one(SM).inputs
    assert machine["type"] == "STANDARD"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert machine["loggingConfiguration"]["includeExecutionData"] is False
    assert machine["loggingConfiguration"]["logDestination"].endswith(":*")
    assert check(document(plan)) == []
    assert Linter.validate(document(plan)) == []


def test_the_callback_has_a_heartbeat_and_a_timeout(build):
    plan = build(workflow(heartbeat_s=600, job_timeout_s=7200, poll_interval_s=120))
    start = document(plan)["States"]["StartJob"]
    assert start["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert (start["HeartbeatSeconds"], start["TimeoutSeconds"]) == (600, 7200)
    assert start["Parameters"]["QueueUrl"] == plan.one(QUEUE, "exports-start").outputs["url"]
    assert start["Parameters"]["MessageBody"]["token.$"] == "$$.Task.Token"
    assert document(plan)["TimeoutSeconds"] > 7200


def test_the_map_is_distributed_bounded_and_reads_the_results_bucket(build):
    plan = build(workflow(map_max_concurrency=25, tolerated_failure_pct=5))
    files = document(plan)["States"]["ProcessResults"]
    bucket = plan.one("aws:s3/bucket:Bucket").outputs["bucket"]
    assert files["Type"] == "Map"
    assert files["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert (files["MaxConcurrency"], files["ToleratedFailurePercentage"]) == (25, 5)
    assert files["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert files["ItemReader"]["Parameters"]["Bucket"] == bucket
    assert files["ResultWriter"]["Parameters"] == {"Bucket": bucket, "Prefix": "results/"}
    processor = files["ItemProcessor"]["States"]["ProcessFile"]
    assert processor["Parameters"]["FunctionName"] == plan.one(FN, "process-file").outputs["arn"]
    assert "Iterator" not in files


def test_every_task_of_the_run_catches_to_mark_failed(build):
    states = document(build(workflow()))["States"]
    main = [
        "GetWatermark",
        "ClaimRun",
        "RecordRun",
        "StartJob",
        "ProcessResults",
        "CompleteRun",
        "AdvanceWatermark",
    ]
    for name in main:
        catchers = states[name]["Catch"]
        assert catchers[-1] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "MarkFailed",
        }
    assert states["MarkFailed"]["Next"] == "ReleaseClaim"
    assert states["ReleaseClaim"]["Next"] == "AnnounceFailure"
    assert states["AnnounceFailure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"
    # A duplicate trigger ends without a job.
    assert states["RecordRun"]["Catch"][0]["Next"] == "ReleaseDuplicate"
    assert states["ClaimRun"]["Catch"][0]["Next"] == "AlreadyRunning"


def test_machine_role_covers_the_map_children_and_the_bucket_prefixes(build):
    plan = build(workflow())
    machine = plan.one(SM).outputs["arn"]
    name = plan.one(SM).inputs["name"]
    bucket = plan.one("aws:s3/bucket:Bucket").outputs["arn"]
    runs = plan.one("aws:dynamodb/table:Table", "runs").outputs["arn"]
    granted = scoped_grants(plan, "workflow-role")
    assert ("states:StartExecution", machine) in granted
    children = machine.replace(":stateMachine:", ":execution:") + "/*"
    assert {("states:DescribeExecution", children), ("states:StopExecution", children)} <= granted
    assert ("s3:ListBucket", bucket) in granted
    assert ("s3:PutObject", f"{bucket}/results/*") in granted
    assert {a for a, r in granted if r == runs} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    assert ("sqs:SendMessage", plan.one(QUEUE, "exports-start").outputs["arn"]) in granted
    assert name.endswith("workflow")


def test_only_the_two_workers_may_answer_the_token(build):
    # SendTask* accept no resource type: each is granted on "*" in a statement of its own
    # (a grant on the machine's ARN would never match), and the task token is the credential.
    plan = build(workflow())
    holders = {}
    for role in plan.of_type("aws:iam/role:Role"):
        suffix = role.name.removeprefix("exports-")
        for statement in statements_of_role(plan, suffix):
            actions = {a for a in statement["Action"] if a.startswith("states:SendTask")}
            if actions:
                assert statement["Resource"] == "*"
                assert set(statement["Action"]) == actions
                holders.setdefault(suffix, set()).update(actions)
    assert holders == {
        "starter-role": {"states:SendTaskFailure"},
        "poller-role": {
            "states:SendTaskFailure",
            "states:SendTaskHeartbeat",
            "states:SendTaskSuccess",
        },
    }


def test_the_release_role_is_pinned_to_its_rule_and_account(build):
    plan = build(workflow())
    trust = json.loads(
        plan.one("aws:iam/role:Role", "exports-release-role").inputs["assumeRolePolicy"]
    )
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnEquals": {"aws:SourceArn": plan.one(RULE, "exports-release").outputs["arn"]},
    }


def test_queues_have_dlqs_and_visibility_for_their_consumers(build):
    plan = build(workflow())
    for suffix, worker in (("start", "starter"), ("poll", "poller")):
        queue = plan.one(QUEUE, f"exports-{suffix}")
        dlq = plan.one(QUEUE, f"{suffix}-dlq")
        function = plan.one(FN, worker)
        assert (
            json.loads(queue.inputs["redrivePolicy"])["deadLetterTargetArn"] == (dlq.outputs["arn"])
        )
        assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * function.inputs["timeout"]
        mapping = next(
            m
            for m in plan.of_type(ESM)
            if m.property_dependencies["functionName"] == [function.urn]
        )
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        reserved = function.inputs["reservedConcurrentExecutions"]
        assert 2 <= mapping.inputs["scalingConfig"]["maximumConcurrency"] <= reserved


def test_workers_get_the_adapter_and_its_settings(build):
    spec = JobAdapterSpec(
        module="healthlake_export",
        statements=(
            iam.Statement(
                ["healthlake:DescribeFHIRExportJob", "healthlake:StartFHIRExportJob"],
                ["arn:aws:healthlake:eu-west-1:123456789012:datastore/fhir/ds1"],
            ),
        ),
        environment={"DATASTORE_ID": "ds1"},
        workspace_access=False,
    )
    plan = build(workflow(job=spec, poll_interval_s=90, heartbeat_s=200))
    for worker in ("starter", "poller"):
        env = plan.one(FN, worker).inputs["environment"]["variables"]
        assert env["JOB_ADAPTER"] == "healthlake_export"
        assert env["DATASTORE_ID"] == "ds1"
        assert env["POLL_INTERVAL_S"] == "90"
        granted = scoped_grants(plan, f"{worker}-role")
        datastore = "arn:aws:healthlake:eu-west-1:123456789012:datastore/fhir/ds1"
        assert ("healthlake:StartFHIRExportJob", datastore) in granted
        assert not any(a.startswith("s3:") for a, _ in granted)


def test_the_schedule_starts_runs_with_retry_and_a_dlq(build):
    plan = build(workflow(schedule="cron(30 1 * * ? *)", timezone="Europe/Lisbon"))
    schedule = plan.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "cron(30 1 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "Europe/Lisbon"
    target = schedule["target"]
    assert target["arn"] == plan.one(SM).outputs["arn"]
    assert json.loads(target["input"]) == {"runId": "<aws.scheduler.scheduled-time>"}
    assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
    dlq = plan.one(QUEUE, "runs-schedule-dlq").outputs["arn"]
    assert target["deadLetterConfig"]["arn"] == dlq
    role = plan.one("aws:iam/role:Role", "runs-schedule-role")
    assert target["roleArn"] == role.outputs["arn"]
    assert scoped_grants(plan, "runs-schedule-role") == {
        ("states:StartExecution", plan.one(SM).outputs["arn"]),
        ("sqs:SendMessage", dlq),
    }
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_abnormal_ends_come_back_as_release_requests(build):
    plan = build(workflow())
    machine = plan.one(SM).outputs["arn"]
    rule = plan.one("aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail"] == {
        "stateMachineArn": [machine],
        "status": ["TIMED_OUT", "ABORTED", "FAILED"],
    }
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    assert target["arn"] == machine
    assert target["inputTransformer"]["inputTemplate"] == '{"release": <execution>}'
    assert target["deadLetterConfig"]["arn"] == plan.one(QUEUE, "release-dlq").outputs["arn"]
    assert target["retryPolicy"]["maximumRetryAttempts"] > 0
    assert scoped_grants(plan, "release-role") == {("states:StartExecution", machine)}
    dlq_policy = next(
        p
        for p in plan.of_type("aws:sqs/queuePolicy:QueuePolicy")
        if p.name.endswith("release-dlq-policy")
    )
    allow = json.loads(dlq_policy.inputs["policy"])["Statement"][1]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}}


def test_results_bucket_is_private_and_encrypted(build):
    plan = build(workflow())
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    tls = json.loads(plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"][0]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_process_file_reads_exports_and_writes_records_only(build):
    plan = build(workflow())
    bucket = plan.one("aws:s3/bucket:Bucket").outputs["arn"]
    records = plan.one("aws:dynamodb/table:Table", "records").outputs["arn"]
    function = plan.one(FN, "process-file").inputs
    assert (function["memorySize"], function["timeout"]) == (512, 300)
    assert {
        p for p in scoped_grants(plan, "process-file-role") if not p[0].startswith("logs:")
    } == {
        ("s3:GetObject", f"{bucket}/exports/*"),
        ("dynamodb:BatchWriteItem", records),
        ("dynamodb:PutItem", records),
    }


def test_outputs_and_parenting(build):
    outputs = {}

    def program():
        component = CallbackWorkflow("exports")
        for key, value in component.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert set(outputs) == {
        "state_machine_arn",
        "runs_table",
        "start_queue_url",
        "poll_queue_url",
        "results_bucket",
    }
    component = plan.one("serverless-patterns:patterns:CallbackWorkflow")
    assert all(r.parent == component.urn for r in plan.registrations if r is not component)
    runs = plan.one("aws:dynamodb/table:Table", "runs").inputs
    assert (runs["hashKey"], runs["rangeKey"]) == ("jobName", "runId")


def test_nested_states_are_walked_by_the_checker(build):
    paths = [ref.path for ref in walk(document(build(workflow())))]
    assert "ProcessResults/ItemProcessor/ProcessFile" in paths


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workflow_type": "EXPRESS"}, "workflow_type must be STANDARD"),
        ({"poll_interval_s": 901}, "poll_interval_s must be between 1 and 900"),
        ({"poll_interval_s": 200, "heartbeat_s": 300}, "heartbeat_s must be at least 2 x"),
        ({"heartbeat_s": 90_000}, "below job_timeout_s"),
        ({"job_timeout_s": 30}, "job_timeout_s must be between 60"),
        ({"map_max_concurrency": 0}, "map_max_concurrency must be between 1 and 10000"),
        ({"tolerated_failure_pct": 101}, "tolerated_failure_pct must be between 0 and 100"),
        ({"schedule": "rate(5 minute)"}, "singular unit for 1 and a plural"),
        ({"schedule": "cron(0 2 * * *)"}, "cron.. needs six fields"),
        ({"log_level": "OFF"}, "log_level must be one of ALL, ERROR, FATAL"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CallbackWorkflowArgs(**kwargs)


def test_adapter_module_must_be_a_module_name():
    with pytest.raises(ValueError, match=r"job\.module must be a Python module name"):
        JobAdapterSpec(module="../evil")


def test_every_function_zip_carries_the_shared_stream_decoder(build):
    """The handlers import `ddb_json` from their zip's root (functions/shared/ddb_json.py)."""
    shared = (
        Path(__file__).resolve().parents[2] / "functions" / "shared" / "ddb_json.py"
    ).read_bytes()
    carried = {}
    for function in build(workflow()).of_type(FN):
        with zipfile.ZipFile(function.inputs["code"].path) as zipped:
            carried[function.name] = zipped.read("ddb_json.py") == shared
    assert carried == {
        name: True for name in ["exports-poller", "exports-process-file", "exports-starter"]
    }
