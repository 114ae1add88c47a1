"""The state machine block: logging by environment, tracing, alarms, and the derived role."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from statelint.linter import Linter

from components.core import asl, iam
from components.core.scope import Scope
from components.core.settings import Settings
from components.core.state_machine import LOG_DELIVERY_ACTIONS, StateMachine
from serverless_wa.asl import check
from tests.helpers import policy, statements_of_role

ALARM = "arn:aws:sns:eu-west-1:123456789012:alarms"
SM = "aws:sfn/stateMachine:StateMachine"
REGION_ACCOUNT = "eu-west-1:123456789012"


class Owner(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("serverless-patterns:test:Owner", "owner", None, None)


def scope(environment: str = "dev") -> Scope:
    settings = Settings(environment=environment, alarm_actions=(ALARM,))  # type: ignore[arg-type]
    return Scope(Owner(), "owner", settings)


def _retry() -> list[dict]:
    return [asl.retry([asl.TASK_FAILED])]


def _catch() -> list[dict]:
    return [asl.catch("Failed")]


def definition(table: pulumi.Input[str], queue_url: pulumi.Input[str]) -> dict:
    """Touches each integration kind once: DynamoDB, SQS callback, SDK, Lambda, events, Map."""
    common = {"retry": _retry(), "catch": _catch(), "timeout_s": 30}
    return asl.machine(
        "Record",
        {
            "Record": asl.task(
                asl.integration("dynamodb", "putItem"),
                parameters={"TableName": table, "Item": {"pk": {"S.$": "$.id"}}},
                result_path=None,
                next_state="Read",
                **common,
            ),
            "Read": asl.task(
                asl.integration("dynamodb", "getItem"),
                parameters={"TableName": table, "Key": {"pk": {"S.$": "$.id"}}},
                result_path="$.item",
                next_state="Wait",
                **common,
            ),
            "Wait": asl.task(
                asl.integration("sqs", "sendMessage", "waitForTaskToken"),
                parameters={"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                heartbeat_s=60,
                result_path="$.job",
                next_state="Depth",
                retry=_retry(),
                catch=_catch(),
                timeout_s=600,
            ),
            "Depth": asl.task(
                asl.sdk("sqs", "getQueueAttributes"),
                parameters={"QueueUrl": queue_url, "AttributeNames": ["All"]},
                result_path="$.depth",
                next_state="Both",
                **common,
            ),
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    asl.machine(
                        "Invoke",
                        {
                            "Invoke": asl.task(
                                asl.integration("lambda", "invoke"),
                                parameters={"FunctionName": "worker", "Payload.$": "$"},
                                result_selector={"out.$": "$.Payload"},
                                retry=[asl.retry(asl.LAMBDA_TRANSIENT_ERRORS)],
                                catch=[],  # the Parallel's Catch covers the branch
                                timeout_s=30,
                            )
                        },
                        comment="branch",
                    )
                ],
                "ResultPath": None,
                "Next": "Files",
                "Catch": _catch(),
            },
            "Files": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "results", "Prefix.$": "$.prefix"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    **asl.machine("Noop", {"Noop": asl.pass_state()}, comment="per file"),
                },
                "MaxConcurrency": 5,
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "results", "Prefix": "out/"},
                },
                "ResultPath": None,
                "Catch": _catch(),
                "Next": "Announce",
            },
            "Announce": asl.task(
                asl.integration("events", "putEvents"),
                parameters={"Entries": [{"Source": "x", "DetailType": "Done", "Detail": {}}]},
                **common,
            ),
            "Failed": asl.fail("Failed", "see the execution history"),
        },
        comment="every integration once",
        timeout_s=3600,
    )


def program(environment: str = "dev", **kwargs):
    def run():
        owner = scope(environment)
        table = aws.dynamodb.Table(
            "runs",
            name="runs",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            opts=pulumi.ResourceOptions(parent=owner.component),
        )
        queue = aws.sqs.Queue(
            "jobs", name="jobs", opts=pulumi.ResourceOptions(parent=owner.component)
        )
        StateMachine(owner, "flow", definition(table.name, queue.url), **kwargs)

    return run


def scoped_statements(plan, role: str) -> list[dict]:
    """The role's statements without the log-delivery one (tested on its own)."""
    return [s for s in statements_of_role(plan, role) if s["Action"] != list(LOG_DELIVERY_ACTIONS)]


def by_resource(statements: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for statement in statements:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            found.setdefault(resource, []).extend(statement["Action"])
    return {k: sorted(v) for k, v in found.items()}


def test_role_is_derived_from_the_integrations(build):
    plan = build(program())
    granted = by_resource(scoped_statements(plan, "flow-role"))
    assert granted == {
        f"arn:aws:dynamodb:{REGION_ACCOUNT}:table/runs": ["dynamodb:GetItem", "dynamodb:PutItem"],
        f"arn:aws:sqs:{REGION_ACCOUNT}:jobs": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
        f"arn:aws:lambda:{REGION_ACCOUNT}:function:worker": ["lambda:InvokeFunction"],
        f"arn:aws:lambda:{REGION_ACCOUNT}:function:worker:*": ["lambda:InvokeFunction"],
        f"arn:aws:events:{REGION_ACCOUNT}:event-bus/default": ["events:PutEvents"],
        f"arn:aws:states:{REGION_ACCOUNT}:stateMachine:test-owner-flow": ["states:StartExecution"],
        f"arn:aws:states:{REGION_ACCOUNT}:execution:test-owner-flow/*": [
            "states:DescribeExecution",
            "states:StopExecution",
        ],
        "arn:aws:s3:::results": ["s3:ListBucket"],
        "arn:aws:s3:::results/out/*": [
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ],
    }
    (put_events,) = [s for s in statements_of_role(plan, "flow-role") if "Condition" in s]
    assert put_events["Action"] == ["events:PutEvents"]
    assert put_events["Condition"] == {"StringEquals": {"events:source": ["x"]}}
    role = plan.one("aws:iam/role:Role", "flow-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    machine = plan.one(SM)
    assert machine.inputs["roleArn"] == role.outputs["arn"]
    assert set(machine.dependencies) >= {
        plan.one("aws:iam/rolePolicy:RolePolicy", "flow-policy").urn,
        plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "flow-xray").urn,
    }


def test_only_the_log_delivery_policy_is_unscoped(build):
    plan = build(program())
    delivery = policy(plan.one("aws:iam/rolePolicy:RolePolicy", "flow-log-delivery"))
    assert delivery["Statement"] == [
        {"Effect": "Allow", "Action": list(LOG_DELIVERY_ACTIONS), "Resource": "*"}
    ]
    for statement in scoped_statements(plan, "flow-role"):
        assert all("*" not in action for action in statement["Action"])
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource.startswith("arn:") and resource != "*"
    xray = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "flow-xray")
    assert xray.inputs["policyArn"] == "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"


@pytest.mark.parametrize(
    ("environment", "level", "data"), [("dev", "ALL", True), ("prod", "ERROR", False)]
)
def test_logging_follows_the_environment(build, environment, level, data):
    plan = build(program(environment))
    machine = plan.one(SM).inputs
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    assert group.inputs["name"] == "/aws/vendedlogs/states/test-owner-flow"
    assert group.inputs["retentionInDays"] == 30
    assert machine["loggingConfiguration"] == {
        "level": level,
        "includeExecutionData": data,
        "logDestination": f"{group.outputs['arn']}:*",
    }
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["type"] == "STANDARD"
    assert machine["name"] == "test-owner-flow"


def test_explicit_log_level_wins(build):
    plan = build(program(log_level="ERROR"))
    logging = plan.one(SM).inputs["loggingConfiguration"]
    assert (logging["level"], logging["includeExecutionData"]) == ("ERROR", False)


def test_alarms_on_failed_timed_out_and_throttled(build):
    plan = build(program())
    machine = plan.one(SM)
    alarms = {
        a.inputs["metricName"]: a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsThrottled"}
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/States"
        assert alarm["dimensions"] == {"StateMachineArn": machine.outputs["arn"]}
        assert alarm["threshold"] == 0 and alarm["alarmActions"] == [ALARM]


def test_definition_is_rendered_with_outputs_resolved_and_passes_both_linters(build):
    plan = build(program())
    document = json.loads(plan.one(SM).inputs["definition"])
    record = document["States"]["Record"]["Parameters"]
    assert record["TableName"] == "runs"
    assert document["States"]["Wait"]["Parameters"]["QueueUrl"].endswith("/123456789012/jobs")
    assert check(document) == []
    assert Linter.validate(document) == []


def test_runtime_targets_come_from_statements(build):
    def run():
        owner = scope()
        dynamic = asl.machine(
            "Put",
            {
                "Put": asl.task(
                    asl.integration("dynamodb", "putItem"),
                    parameters={"TableName.$": "$.table", "Item": {}},
                    retry=_retry(),
                    catch=[asl.catch("Done")],
                    timeout_s=10,
                    next_state="Done",
                ),
                "Done": asl.succeed(),
            },
            comment="target chosen by the caller",
        )
        grant = iam.Statement(["dynamodb:PutItem"], ["arn:aws:dynamodb:eu-west-1:1:table/a"])
        StateMachine(owner, "dyn", dynamic, statements=[grant], runtime_targets=["Put"])

    plan = build(run)
    assert scoped_statements(plan, "dyn-role") == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem"],
            "Resource": "arn:aws:dynamodb:eu-west-1:1:table/a",
        }
    ]


def _one_task(resource: str, parameters: dict) -> dict:
    task = asl.task(
        resource, parameters=parameters, retry=_retry(), catch=[asl.catch("End")], timeout_s=5
    )
    return asl.machine("T", {"T": task, "End": asl.succeed()}, comment="one task")


@pytest.mark.parametrize(
    ("document", "runtime_targets", "message"),
    [
        (
            _one_task(asl.integration("dynamodb", "putItem"), {"TableName.$": "$.t"}),
            (),
            "'T': TableName comes from the execution input",
        ),
        (
            _one_task(asl.integration("glue", "startJobRun", "sync"), {"JobName": "j"}),
            (),
            "'T': no IAM mapping for arn:aws:states:::glue:startJobRun.sync",
        ),
        (
            _one_task(asl.sdk("sqs", "purgeQueue"), {"Nothing": "here"}),
            (),
            "'T': no parameter names the target",
        ),
        (
            _one_task(asl.integration("dynamodb", "putItem"), {"TableName": "t"}),
            ("Nope",),
            r"runtime_targets names no state of the definition: \['Nope'\]",
        ),
        (
            _one_task(asl.integration("events", "putEvents"), {"Entries": [{"Source.$": "$.s"}]}),
            (),
            "'T': Source comes from the execution input",
        ),
        (
            _one_task(asl.integration("events", "putEvents"), {"Entries": [{"Detail": {}}]}),
            (),
            "'T': each PutEvents entry needs a static Source",
        ),
    ],
)
def test_underivable_grants_are_refused(build, document, runtime_targets, message):
    def run():
        with pytest.raises(ValueError, match=message):
            StateMachine(scope(), "bad", document, runtime_targets=runtime_targets)

    build(run)


def test_argument_checks(build):
    def run():
        document = _one_task(asl.integration("dynamodb", "putItem"), {"TableName": "t"})
        with pytest.raises(ValueError, match="workflow_type must be one of STANDARD, EXPRESS"):
            StateMachine(scope(), "a", document, workflow_type="BIG")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="log_level must be one of ALL, ERROR, FATAL"):
            StateMachine(scope(), "b", document, log_level="OFF")  # type: ignore[arg-type]

    plan = build(run)
    assert plan.of_type(SM) == []
