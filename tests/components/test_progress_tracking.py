"""ProgressTrackedWorkflow under mocks, per reporting mode: who may post, the report
function and its event route, the start route, the definition checked by the ASL checker."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.core.settings import Settings
from components.progress_tracking import (
    ProgressTrackedWorkflow,
    ProgressTrackedWorkflowArgs,
    ReportTarget,
    StepSpec,
    build_definition,
    report_states,
)
from components.websocket_api import WebSocketApi, WebSocketApiArgs
from serverless_wa import asl as asl_checker
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
MACHINE = "aws:sfn/stateMachine:StateMachine"
MANAGE = "execute-api:ManageConnections"
MODES = ("direct", "lambda", "eventbridge")
ALARMS = Settings(alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",))


def workflow(**kwargs):
    return lambda: ProgressTrackedWorkflow(
        "pt", ProgressTrackedWorkflowArgs(settings=ALARMS, **kwargs)
    )


def definition_of(plan):
    return json.loads(plan.one(MACHINE).inputs["definition"])


def manage_holders(plan):
    holders = {}
    for role in plan.of_type(ROLE):
        for statement in statements_of_role(plan, role.name):
            if MANAGE in statement["Action"]:
                holders[role.name] = statement["Resource"]
    return holders


@pytest.mark.parametrize("mode", MODES)
def test_manage_connections_sits_only_on_the_posting_roles(build, mode):
    plan = build(workflow(reporting_mode=mode))
    api = plan.one("aws:apigatewayv2/api:Api").outputs["executionArn"]
    posting = {
        "direct": "pt-workflow-role",
        "lambda": "pt-report-role",
        "eventbridge": "pt-report-role",
    }
    # `start` answers the client through the shared sender, so it posts too.
    assert manage_holders(plan) == {
        posting[mode]: f"{api}/live/POST/@connections/*",
        "pt-start-role": f"{api}/live/POST/@connections/*",
    }
    reports = [f for f in plan.of_type(FN) if f.name == "pt-report"]
    assert len(reports) == (0 if mode == "direct" else 1)
    if mode != "direct":
        assert "pt-workflow-role" not in manage_holders(plan)
        (report,) = reports
        assert report.inputs["timeout"] == 5


@pytest.mark.parametrize("mode", MODES)
def test_definition_passes_the_asl_checks_and_every_report_continues(build, mode):
    plan = build(workflow(reporting_mode=mode))
    machine = plan.one(MACHINE).inputs
    definition = definition_of(plan)
    assert asl_checker.check(definition, workflow_type=machine["type"]) == []
    assert machine["type"] == "STANDARD" and definition["TimeoutSeconds"] == 900
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["loggingConfiguration"]["logDestination"].endswith(":*")
    states = definition["States"]
    reports = report_states(definition)
    assert set(reports) == {
        "Report: Inventory check",
        "Report: Payment",
        "Report: completed",
        "Report: failed",
    }
    following = {
        "Report: Inventory check": "Inventory check",
        "Report: Payment": "Payment",
        "Report: completed": "Done",
        "Report: failed": "Failed",
    }
    for name in reports:
        state = states[name]
        assert state["ResultPath"] is None
        assert state["Next"] == following[name]
        (catcher,) = state["Catch"]
        assert catcher == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": None,
            "Next": following[name],
        }
    assert states["Inventory check"]["Next"] == "Report: Payment"
    assert states["Payment"]["Next"] == "Report: completed"
    for step in ("Inventory check", "Payment"):
        assert states[step]["Catch"][0]["Next"] == "Report: failed"
        assert states[step]["Catch"][0]["ResultPath"] == "$.error"
    assert states["Failed"]["Type"] == "Fail" and states["Done"]["Type"] == "Succeed"
    progress = [states[f"Report: {s}"]["Parameters"] for s in ("Inventory check", "Payment")]
    bodies = [
        p.get("RequestBody") or p.get("Payload") or p["Entries"][0]["Detail"] for p in progress
    ]
    assert [b["progress"] for b in bodies] == [0, 50]


def test_direct_mode_posts_to_the_connections_path_with_the_machine_role(build):
    plan = build(workflow(reporting_mode="direct"))
    api = plan.one("aws:apigatewayv2/api:Api")
    parameters = definition_of(plan)["States"]["Report: Payment"]["Parameters"]
    assert parameters == {
        "ApiEndpoint": f"{api.id}.execute-api.eu-west-1.amazonaws.com",
        "Method": "POST",
        "Stage": "live",
        "Path.$": "States.Format('/@connections/{}', $.connectionId)",
        "RequestBody": {
            "executionArn.$": "$$.Execution.Id",
            "step": "Payment",
            "progress": 50,
            "message": "Payment started",
        },
        "AuthType": "IAM_ROLE",
    }
    # A 410 (client gone) is not retried: only throttling, 5xx and timeouts are.
    (retrier,) = definition_of(plan)["States"]["Report: Payment"]["Retry"]
    assert "ApiGateway.410" not in retrier["ErrorEquals"]


def test_lambda_mode_invokes_report_and_the_machine_may_invoke_only_its_functions(build):
    plan = build(workflow())
    report = plan.one(FN, "pt-report")
    states = definition_of(plan)["States"]
    assert states["Report: Payment"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["Report: Payment"]["Parameters"]["FunctionName"] == report.outputs["arn"]
    invokable = {
        r
        for s in statements_of_role(plan, "pt-workflow-role")
        if "lambda:InvokeFunction" in s["Action"]
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    functions = {
        f.outputs["arn"]
        for f in plan.of_type(FN)
        if f.name in ("pt-report", "pt-step-inventory_check", "pt-step-payment")
    }
    assert {r.removesuffix(":*") for r in invokable} == functions


def test_eventbridge_mode_rule_target_has_retry_dlq_and_the_report_an_async_config(build):
    plan = build(
        workflow(reporting_mode="eventbridge", report_retry_attempts=4, report_max_age_s=600)
    )
    bus = plan.one("aws:cloudwatch/eventBus:EventBus")
    rule = plan.one("aws:cloudwatch/eventRule:EventRule")
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    dlq = plan.one("aws:sqs/queue:Queue", "report-dlq")
    report = plan.one(FN, "pt-report")
    machine = plan.one(MACHINE)
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["serverless-patterns.progress-tracking"],
        "detail-type": ["WorkflowProgress"],
        "detail": {"workflow": [machine.inputs["name"]]},
    }
    assert rule.inputs["eventBusName"] == bus.inputs["name"]
    assert target["arn"] == report.outputs["arn"] and target["inputPath"] == "$.detail"
    assert target["retryPolicy"] == {"maximumRetryAttempts": 4, "maximumEventAgeInSeconds": 600}
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    queue_policy = json.loads(
        plan.one("aws:sqs/queuePolicy:QueuePolicy", "report-dlq-policy").inputs["policy"]
    )
    allow = [s for s in queue_policy["Statement"] if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Sid": "AllowSender0",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": dlq.outputs["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}},
        }
    ]
    invoke = plan.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert invoke["destinationConfig"]["onFailure"]["destination"] == dlq.outputs["arn"]
    permission = plan.one("aws:lambda/permission:Permission", "report-invoke").inputs
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == rule.outputs["arn"]
    entry = definition_of(plan)["States"]["Report: Payment"]["Parameters"]["Entries"][0]
    assert entry["EventBusName"] == bus.inputs["name"] and entry["DetailType"] == "WorkflowProgress"
    puts = [
        s for s in statements_of_role(plan, "pt-workflow-role") if "events:PutEvents" in s["Action"]
    ]
    assert [s["Resource"] for s in puts] == [bus.outputs["arn"]]


def test_start_route_is_integrated_with_start_which_may_start_only_this_machine(build):
    plan = build(workflow(start_route="beginOrder"))
    start = plan.one(FN, "pt-start")
    route = next(
        r
        for r in plan.of_type("aws:apigatewayv2/route:Route")
        if r.inputs["routeKey"] == "beginOrder"
    )
    integration = plan.by_urn(route.property_dependencies["target"][0])
    assert integration.inputs["integrationUri"] == start.outputs["invokeArn"]
    machine = plan.one(MACHINE).outputs["arn"]
    starts = [
        s
        for s in statements_of_role(plan, "pt-start-role")
        if "states:StartExecution" in s["Action"]
    ]
    assert starts == [{"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": machine}]
    variables = start.inputs["environment"]["variables"]
    assert variables["STATE_MACHINE_ARN"] == machine and variables["CALLBACK_URL"].startswith(
        "https://"
    )
    assert plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "workflow-failed")


def test_start_keeps_idempotency_records_and_may_read_its_executions(build):
    plan = build(workflow())
    table = plan.one("aws:dynamodb/table:Table", "pt-idempotency")
    assert table.inputs["hashKey"] == "id"
    assert table.inputs["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert table.inputs["tags"]["wa:data"] == "ephemeral"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    start = plan.one(FN, "pt-start")
    assert start.inputs["environment"]["variables"]["IDEMPOTENCY_TABLE"] == table.inputs["name"]
    machine = plan.one(MACHINE).outputs["arn"]
    executions = machine.replace(":stateMachine:", ":execution:") + ":*"
    grants = {
        (action, statement["Resource"])
        for statement in statements_of_role(plan, "pt-start-role")
        for action in statement["Action"]
        if statement["Resource"] in (table.outputs["arn"], executions)
    }
    assert grants == {
        ("states:DescribeExecution", executions),
        *(
            (f"dynamodb:{action}", table.outputs["arn"])
            for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        ),
    }
    # Nobody else touches the records.
    for role in plan.of_type(ROLE):
        if role.name != "pt-start-role":
            assert not any(
                table.outputs["arn"] in json.dumps(st["Resource"])
                for st in statements_of_role(plan, role.name)
            )


def test_an_existing_websocket_api_gets_the_route_and_no_second_api(build):
    def program():
        ws = WebSocketApi("shared-ws", WebSocketApiArgs(settings=ALARMS))
        ProgressTrackedWorkflow("pt", ProgressTrackedWorkflowArgs(websocket=ws, settings=ALARMS))

    plan = build(program)
    (api,) = plan.of_type("aws:apigatewayv2/api:Api")
    assert api.name == "shared-ws-api"
    route = next(
        r
        for r in plan.of_type("aws:apigatewayv2/route:Route")
        if r.inputs["routeKey"] == "startWorkflow"
    )
    assert route.parent == plan.one("serverless-patterns:patterns:ProgressTrackedWorkflow").urn


def test_a_new_websocket_api_is_built_flat_with_the_stack_settings(build):
    """Given args, the API's resources belong to this component (one owner per resource, as
    the policy pack names them), not to a nested WebSocketApi."""
    settings = Settings(
        environment="prod", log_retention_days=365, alarm_actions=ALARMS.alarm_actions
    )
    plan = build(
        lambda: ProgressTrackedWorkflow(
            "pt",
            ProgressTrackedWorkflowArgs(
                settings=settings, websocket=WebSocketApiArgs(cleanup="ttl+sweeper")
            ),
        )
    )
    assert plan.of_type("serverless-patterns:patterns:WebSocketApi") == []
    component = plan.one("serverless-patterns:patterns:ProgressTrackedWorkflow")
    children = [r for r in plan.registrations if r is not component]
    assert all(r.parent == component.urn and r.name.startswith("pt-") for r in children)
    assert plan.one("aws:apigatewayv2/api:Api").name == "pt-api"
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    assert plan.of_type("aws:scheduler/schedule:Schedule")
    assert plan.one(MACHINE).inputs["loggingConfiguration"]["level"] == "ERROR"


def test_outputs(build):
    outputs = {}

    def program():
        pt = ProgressTrackedWorkflow(
            "pt", ProgressTrackedWorkflowArgs(reporting_mode="eventbridge", settings=ALARMS)
        )
        for key, value in pt.exports.items():
            if value is not None:
                value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    assert outputs["ws_url"].startswith("wss://") and outputs["ws_url"].endswith("/live")
    assert outputs["state_machine_arn"] == plan.one(MACHINE).outputs["arn"]
    assert outputs["report_function_name"] == plan.one(FN, "pt-report").inputs["name"]
    assert outputs["bus_name"] == plan.one("aws:cloudwatch/eventBus:EventBus").inputs["name"]


def test_custom_steps_and_progress_build_a_valid_definition():
    steps = [StepSpec(name=n, handler="steps.payment", timeout_s=5) for n in ("A", "B", "C")]
    args = ProgressTrackedWorkflowArgs(steps=steps, progress={"B": 40})
    assert args.percentages() == {"A": 0, "B": 40, "C": 67}
    definition = build_definition(
        steps,
        args.percentages(),
        {s.name: f"arn:aws:lambda:eu-west-1:123456789012:function:{s.key}" for s in steps},
        ReportTarget("lambda", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:r"),
        timeout_s=300,
    )
    assert asl_checker.check(definition) == []
    assert definition["StartAt"] == "Report: A"
    assert definition["States"]["C"]["TimeoutSeconds"] == 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reporting_mode": "sns"}, "reporting_mode must be one of direct, lambda, eventbridge"),
        ({"steps": []}, "steps must name at least one step"),
        ({"progress": {"Shipping": 50}}, r"progress names no step: \['Shipping'\]"),
        ({"progress": {"Payment": 0}}, "progress must rise with the steps"),
        ({"progress": {"Inventory check": 100}}, "progress must rise with the steps"),
        ({"start_route": "$start"}, "routes keys must be"),
        ({"state_machine_timeout_s": 60}, "state_machine_timeout_s must be above"),
        ({"report_retry_attempts": 200}, "report_retry_attempts must be between 0 and 185"),
        ({"report_max_age_s": 10}, "report_max_age_s must be between 60 and 86400"),
        (
            {"event_bus": "bus"},
            "event_bus is used only with reporting_mode='eventbridge'",
        ),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProgressTrackedWorkflowArgs(**kwargs)


def test_step_spec_checks():
    with pytest.raises(ValueError, match=r"steps\[\].name must be"):
        StepSpec(name="failed", handler="steps.payment")
    with pytest.raises(ValueError, match="timeout_s must be between 1 and 900"):
        StepSpec(name="Ship", handler="steps.payment", timeout_s=0)
    with pytest.raises(ValueError, match="steps must have distinct names"):
        ProgressTrackedWorkflowArgs(
            steps=[StepSpec(name="Ship it", handler="a.b"), StepSpec(name="ship-it", handler="a.b")]
        )


def test_existing_bus_fills_the_slot(build):
    def program():
        bus = aws.cloudwatch.EventBus("mine", name="orders")
        ProgressTrackedWorkflow(
            "pt",
            ProgressTrackedWorkflowArgs(
                reporting_mode="eventbridge", event_bus=bus, settings=ALARMS
            ),
        )

    plan = build(program)
    (bus,) = plan.of_type("aws:cloudwatch/eventBus:EventBus")
    assert bus.name == "mine"
    assert plan.one("aws:cloudwatch/eventRule:EventRule").inputs["eventBusName"] == "orders"
