"""StreamWorkflow under mocks: pipe to the machine, the loop guard in the filter, roles, args."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.config import ConfigError, parse
from components.core import streams
from components.core.settings import Settings
from components.stream_workflow import StepSpec, StreamWorkflow, StreamWorkflowArgs, Writeback
from serverless_wa.asl import check
from tests.helpers import statements_of_role

PIPE = "aws:pipes/pipe:Pipe"
MACHINE = "aws:sfn/stateMachine:StateMachine"
TABLE = "aws:dynamodb/table:Table"
FN = "aws:lambda/function:Function"
COMPLETE = {"dynamodb": {"NewImage": {"status": {"S": ["COMPLETE"]}}}}


def workflow(**kwargs):
    return lambda: StreamWorkflow("bench", StreamWorkflowArgs(**kwargs))


def test_pipe_starts_the_standard_machine_fire_and_forget(build):
    plan = build(workflow(filter=COMPLETE))
    pipe = plan.one(PIPE).inputs
    machine = plan.one(MACHINE)
    assert pipe["target"] == machine.outputs["arn"]
    target = pipe["targetParameters"]
    assert target["stepFunctionStateMachineParameters"] == {"invocationType": "FIRE_AND_FORGET"}
    assert target["inputTemplate"].startswith('{"Keys": <$.dynamodb.Keys>')
    source = pipe["sourceParameters"]["dynamodbStreamParameters"]
    dlq = plan.one("aws:sqs/queue:Queue", "pipe-dlq")
    assert source["batchSize"] == 1
    assert source["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert source["onPartialBatchItemFailure"] == "AUTOMATIC_BISECT"
    assert (source["maximumRetryAttempts"], source["maximumRecordAgeInSeconds"]) == (3, 3600)
    assert pipe["logConfiguration"]["level"] == "ERROR"
    table = plan.one(TABLE)
    assert pipe["source"] == table.outputs["streamArn"]
    assert table.inputs["streamViewType"] == "NEW_IMAGE"


def pipe_pattern(plan) -> dict:
    (criteria,) = plan.one(PIPE).inputs["sourceParameters"]["filterCriteria"]["filters"]
    return json.loads(criteria["pattern"])


def test_filter_carries_the_guard_on_the_write_back_s_type_key(build):
    default = pipe_pattern(build(workflow(filter=COMPLETE)))
    assert default["eventName"] == ["INSERT", "MODIFY"]
    assert default["dynamodb"]["NewImage"] == {
        "status": {"S": ["COMPLETE"]},
        "totalCost": {"S": [{"exists": False}]},
        "workflowFailure": {"S": [{"exists": False}]},
    }
    numeric = Writeback(
        guard_attribute="durationS",
        guard_type="N",
        set_expression="SET durationS = :d",
        values={":d": {"N": "$.results.collect.output.instanceHours"}},
    )
    image = pipe_pattern(build(workflow(filter=COMPLETE, writeback=numeric)))["dynamodb"]
    assert image["NewImage"]["durationS"] == {"N": [{"exists": False}]}
    unguarded = pipe_pattern(build(workflow(filter=COMPLETE, writeback=None)))
    assert unguarded["dynamodb"]["NewImage"] == {"status": {"S": ["COMPLETE"]}}


def test_machine_is_standard_traced_logged_and_bounded(build):
    plan = build(workflow())
    machine = plan.one(MACHINE).inputs
    assert machine["type"] == "STANDARD"
    assert machine["tracingConfiguration"] == {"enabled": True}
    logging = machine["loggingConfiguration"]
    assert logging["level"] == "ALL"  # dev
    assert logging["logDestination"].endswith(":*")
    definition = json.loads(machine["definition"])
    assert definition["TimeoutSeconds"] == 3600
    assert check(definition, workflow_type="STANDARD") == []
    write = definition["States"]["WriteBack"]
    assert write["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert write["Parameters"]["TableName"] == plan.one(TABLE).inputs["name"]
    assert write["Parameters"]["ConditionExpression"] == "attribute_not_exists(#guard)"
    collect = definition["States"]["collect"]
    assert collect["Parameters"]["FunctionName"] == plan.one(FN, "step-collect").outputs["arn"]
    assert collect["TimeoutSeconds"] >= plan.one(FN, "step-collect").inputs["timeout"]
    alarms = {a.name for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert "bench-workflow-failed" in alarms
    prod = build(workflow(settings=Settings(environment="prod"))).one(MACHINE).inputs
    assert prod["loggingConfiguration"]["level"] == "ERROR"


def test_roles_are_scoped(build):
    plan = build(workflow())
    machine = plan.one(MACHINE)
    table = plan.one(TABLE).outputs["arn"]
    pipe_statements = {
        tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "pipe-role")
    }
    assert pipe_statements[("states:StartExecution",)] == machine.outputs["arn"]
    assert (
        pipe_statements[
            (
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            )
        ]
        == (plan.one(TABLE).outputs["streamArn"])
    )
    assert pipe_statements[("dynamodb:ListStreams",)] == "*"  # it accepts only "*"
    assert not any(a.startswith("dynamodb:Update") for actions in pipe_statements for a in actions)
    machine_statements = statements_of_role(plan, "workflow-role")
    invoked = sorted(
        r
        for s in machine_statements
        if s["Action"] == ["lambda:InvokeFunction"]
        for r in s["Resource"]
    )
    functions = sorted(plan.one(FN, name).outputs["arn"] for name in ("step-collect", "step-price"))
    assert invoked == sorted([*functions, *(f"{f}:*" for f in functions)])
    updates = [s for s in machine_statements if s["Action"] == ["dynamodb:UpdateItem"]]
    assert updates == [{"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": table}]
    for name in ("step-collect-role", "step-price-role"):
        assert len(statements_of_role(plan, name)) == 1  # their own log streams only


def test_steps_are_the_example_functions(build):
    plan = build(workflow())
    handlers = {f.name: f.inputs["handler"] for f in plan.of_type(FN)}
    assert handlers == {"bench-step-collect": "steps.collect", "bench-step-price": "steps.price"}
    for function in plan.of_type(FN):
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        assert "reservedConcurrentExecutions" not in function.inputs  # invoked by the machine


def test_existing_table_and_step_function_are_used(build):
    outputs = {}

    def program():
        table = aws.dynamodb.Table(
            "launches",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
        )
        mine = aws.lambda_.Function(
            "pricing", role="arn:aws:iam::123456789012:role/pricing", runtime="python3.13",
            handler="p.handler", code=pulumi.AssetArchive({}),
        )  # fmt: skip
        steps = [
            StepSpec(name="collect", handler="steps.collect"),
            StepSpec(name="price", function=mine),
        ]
        component = StreamWorkflow("bench", StreamWorkflowArgs(table=table, steps=steps))
        assert streams.stream_readers(table) == ("bench/pipe",)
        for key, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert [t.name for t in plan.of_type(TABLE)] == ["launches"]
    definition = json.loads(plan.one(MACHINE).inputs["definition"])
    price = plan.one(FN, "pricing").outputs["arn"]
    assert definition["States"]["price"]["Parameters"]["FunctionName"] == price
    source = plan.one(PIPE).inputs["sourceParameters"]["dynamodbStreamParameters"]
    assert source["startingPosition"] == "LATEST"
    assert outputs["state_machine_arn"] == plan.one(MACHINE).outputs["arn"]
    assert outputs["pipe_arn"] == plan.one(PIPE).outputs["arn"]
    assert outputs["dlq_url"] == plan.one("aws:sqs/queue:Queue", "pipe-dlq").outputs["url"]


def test_wait_state_comes_before_the_write_back(build):
    definition = json.loads(build(workflow(wait_seconds=900)).one(MACHINE).inputs["definition"])
    assert definition["States"]["price"]["Next"] == "Wait"
    assert definition["States"]["Wait"] == {"Type": "Wait", "Seconds": 900, "Next": "WriteBack"}


def test_every_child_is_parented_and_prefixed(build):
    plan = build(workflow())
    component = plan.one("serverless-patterns:patterns:StreamWorkflow")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("bench-") for r in children)


def writeback(**overrides):
    fields = {
        "guard_attribute": "totalCost",
        "set_expression": "SET totalCost = :total",
        "values": {":total": {"S": "$.results.price.output.totalCost"}},
    }
    return Writeback(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("build_args", "message"),
    [
        (lambda: writeback(guard_type="N"), "writes 'totalCost' as S but guard_type is N"),
        (lambda: writeback(set_expression="SET other = :total"), "must SET the guard attribute"),
        (lambda: writeback(set_expression="REMOVE totalCost"), "must be a SET expression"),
        (
            lambda: writeback(set_expression="SET totalCost = :total, x = :x"),
            "must define exactly the placeholders",
        ),
        (lambda: writeback(values={":total": {"SS": "$.x"}}), r"values\[':total'\] must be one of"),
        (lambda: writeback(failure_attribute="totalCost"), "failure_attribute must differ"),
        (lambda: writeback(names={"#guard": "x"}), "#guard and #failure are the component's"),
        (lambda: StepSpec(name="WriteBack", handler="h.h"), "not one of Record, Wait, WriteBack"),
        (lambda: StepSpec(name="price"), "steps.price: handler is required"),
        (lambda: StepSpec(name="p", handler="h.h", timeout_s=0), "timeout_s must be between"),
        (lambda: StreamWorkflowArgs(steps=[]), "steps must list at least one step"),
        (
            lambda: StreamWorkflowArgs(
                steps=[StepSpec(name="a", handler="h.h"), StepSpec(name="a", handler="h.h")]
            ),
            "names must be unique",
        ),
        (lambda: StreamWorkflowArgs(wait_seconds=-1), "wait_seconds must be between 0 and 86400"),
        (
            lambda: StreamWorkflowArgs(state_machine_timeout_s=60),
            "state_machine_timeout_s must exceed the steps' timeouts",
        ),
        (lambda: StreamWorkflowArgs(event_names=["UPSERT"]), "event_names must be a non-empty"),
        (
            lambda: StreamWorkflowArgs(stream_view_type="KEYS_ONLY"),  # type: ignore[arg-type]
            "stream_view_type must be one of NEW_IMAGE, NEW_AND_OLD_IMAGES",
        ),
        (
            lambda: StreamWorkflowArgs(input_template='{"id": "<$.eventID>"}'),
            "input_template must set Keys",
        ),
        (
            lambda: StreamWorkflowArgs(
                filter={"dynamodb": {"NewImage": {"totalCost": {"S": ["x"]}}}}
            ),
            "the loop guard needs those fields",
        ),
        (lambda: StreamWorkflowArgs(pipe_max_retries=-1), "max_retries must be between 0"),
        (lambda: StreamWorkflowArgs(log_level="OFF"), "log_level must be one of ERROR"),  # type: ignore[arg-type]
    ],
)
def test_invalid_args_name_the_argument(build_args, message):
    with pytest.raises(ValueError, match=message):
        build_args()


def test_the_pipe_is_one_of_the_tables_two_readers(build):
    def program():
        table = aws.dynamodb.Table(
            "launches",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
        )
        StreamWorkflow("one", StreamWorkflowArgs(table=table))
        StreamWorkflow("two", StreamWorkflowArgs(table=table))
        with pytest.raises(ValueError, match=r"three/pipe needs 1 and 2 are taken"):
            StreamWorkflow("three", StreamWorkflowArgs(table=table))

    plan = build(program)
    assert len(plan.of_type(PIPE)) == 2


def test_stack_config_builds_the_args_and_reports_a_guard_mismatch():
    writeback = {
        "guard_attribute": "totalCost",
        "set_expression": "SET totalCost = :t",
        "values": {":t": {"S": "$.results.price.output.totalCost"}},
    }
    config = {"stream-workflow": {"filter": COMPLETE, "writeback": writeback, "wait_seconds": 60}}
    (choice,) = parse({"serverless-patterns:patterns": json.dumps(config)}).patterns
    assert choice.args.writeback == Writeback(**writeback)
    assert choice.args.wait_seconds == 60
    config["stream-workflow"]["writeback"]["guard_type"] = "N"
    with pytest.raises(ConfigError, match=r"stream-workflow\.writeback: writeback\.values"):
        parse({"serverless-patterns:patterns": json.dumps(config)})


def test_every_function_zip_carries_the_shared_stream_decoder(build):
    """The handlers import `ddb_json` from their zip's root (functions/shared/ddb_json.py)."""
    shared = (
        Path(__file__).resolve().parents[2] / "functions" / "shared" / "ddb_json.py"
    ).read_bytes()
    carried = {}
    for function in build(workflow()).of_type(FN):
        with zipfile.ZipFile(function.inputs["code"].path) as zipped:
            carried[function.name] = zipped.read("ddb_json.py") == shared
    assert carried == {name: True for name in ["bench-step-collect", "bench-step-price"]}
