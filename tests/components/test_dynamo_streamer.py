"""DynamoStreamer under mocks: the direct PutItem integration, its template and request model,
the stream mapping, least privilege, the prod gate, argument checks.

The request template is rendered by `tests/vtl.py`, a renderer for the small subset of
API Gateway's VTL the template uses (`$input.json`, `$input.path`, `$context.*`,
`$util.escapeJavaScript`), written from API Gateway's documentation; it refuses anything
else, so a template that grows a construct it does not know fails the test instead of
passing unrendered. What it proves: given a body API Gateway's validator accepted, the
template yields a PutItem request that is valid JSON and stores the caller's text
unchanged, whatever characters it holds. What it cannot prove: that API Gateway's own JSON
serialiser is byte-identical to Python's (any correct serialiser yields a valid string
literal of the same text, which is all the template relies on).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pulumi_aws as aws
import pytest

from components.core import streams
from components.core.settings import Settings
from components.dynamo_streamer import (
    BACKEND_ERROR_PATTERN,
    DynamoStreamer,
    DynamoStreamerArgs,
    item_schema,
    put_item_template,
)
from preview import gate
from tests.helpers import statements_of_role
from tests.vtl import render_vtl

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
INTEGRATION = "aws:apigateway/integration:Integration"
METHOD = "aws:apigateway/method:Method"
ALARMS = ("arn:aws:sns:eu-west-1:123456789012:alarms",)
PROD = Settings(environment="prod", log_retention_days=365, alarm_actions=ALARMS)
BODY_FIXTURE = (
    Path(__file__).resolve().parents[1] / "events" / "dynamo-streamer" / "api-put-item.json"
)
REQUEST_ID = "0f8a3c1e-5d2b-4e77-9c10-2b1f6e0d9a01"


def streamer(**kwargs):
    return lambda: DynamoStreamer("streamer", DynamoStreamerArgs(**kwargs))


def _render(body: Any, key_name: str = "message", table: str = "streamer-items") -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return render_vtl(put_item_template(table, key_name), text, {"requestId": REQUEST_ID})


TRICKY = [
    'She said "hi"',
    "it's",
    "back\\slash \\\\ and \\u0041 \\n as text",
    "line one\nline two\r\n\ttab",
    "control \u0000 \u0007 \u001f chars",
    "unicode é ü 中文 🚀 \u2028 \u2029",
    '"}, "Evil": {"S": "injected"}, "x": {"S": "',
    "$context.requestId #set($x = 1) ${input.body}",
    "</script><script>alert(1)</script>",
    "/slashes/ and 'quotes'",
]


# Template -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TRICKY)
def test_the_template_stores_any_text_unchanged_as_valid_json(text):
    body = json.dumps({"message": text})
    jsonschema.Draft4Validator(item_schema("message", 512)).validate(json.loads(body))
    request = json.loads(_render(body))
    assert request == {
        "TableName": "streamer-items",
        "Item": {"message": {"S": text}, "requestId": {"S": REQUEST_ID}},
    }


def test_the_fixture_body_renders_to_a_put_item_request(load_body):
    body = load_body()
    request = json.loads(_render(body))
    assert request["Item"]["message"]["S"] == body["message"]
    assert set(request["Item"]) == {"message", "requestId"}


def test_the_seed_templates_would_break_on_the_same_bodies():
    """What `$input.json` replaces: pasting `$input.path` between quotes (the seed) breaks
    on a quote, and `$util.escapeJavaScript` breaks on an apostrophe."""
    pasted = put_item_template("t", "message").replace(
        "$input.json('$.message')", "\"$input.path('$.message')\""
    )
    escaped = put_item_template("t", "message").replace(
        "$input.json('$.message')", "\"$util.escapeJavaScript($input.path('$.message'))\""
    )
    body = json.dumps({"message": 'She said "it\'s"'})
    for template in (pasted, escaped):
        with pytest.raises(json.JSONDecodeError):
            json.loads(render_vtl(template, body, {"requestId": REQUEST_ID}))
    # escapeJavaScript is fine without an apostrophe: the renderer is not what breaks.
    plain = json.dumps({"message": 'She said "hi"\n'})
    assert json.loads(render_vtl(escaped, plain, {"requestId": REQUEST_ID}))["Item"]["message"]


def test_the_renderer_refuses_constructs_it_does_not_know():
    with pytest.raises(NotImplementedError):
        render_vtl('{"a": "$input.body"}', "{}", {})
    with pytest.raises(NotImplementedError):
        render_vtl("#set($x = 1)$x", "{}", {})
    with pytest.raises(NotImplementedError):
        render_vtl("$input.json('$.items[0]')", "{}", {})


def test_a_custom_key_name_is_the_body_property_and_the_table_key(build):
    request = json.loads(_render({"note": 'a "b" c'}, key_name="note"))
    assert request["Item"] == {"note": {"S": 'a "b" c'}, "requestId": {"S": REQUEST_ID}}
    plan = build(streamer(key_name="note"))
    assert plan.one(TABLE).inputs["hashKey"] == "note"
    schema = json.loads(plan.one("aws:apigateway/model:Model").inputs["schema"])
    assert schema["required"] == ["note"]


# Request model and validator ------------------------------------------------------------------


BAD_BODIES = [
    {},
    {"message": ""},
    {"message": 42},
    {"message": None},
    {"message": ["a"]},
    {"message": {"S": "nested"}},
    {"message": "ok", "extra": "field"},
    {"message": "x" * 513},
    ["message"],
    "message",
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[json.dumps(b)[:30] for b in BAD_BODIES])
def test_the_model_rejects_bodies_put_item_could_not_store(body):
    """API Gateway answers 400 "Invalid request body" for these before the integration runs
    (a body that is not JSON at all is refused the same way)."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(item_schema("message", 512)).validate(body)


def test_the_post_method_validates_its_body_against_the_model(build):
    plan = build(streamer())
    method = plan.one(METHOD).inputs
    assert (method["httpMethod"], method["authorization"]) == ("POST", "AWS_IAM")
    model = plan.one("aws:apigateway/model:Model")
    assert method["requestModels"] == {"application/json": model.inputs["name"]}
    validator = plan.one("aws:apigateway/requestValidator:RequestValidator")
    assert method["requestValidatorId"] == validator.id
    assert validator.inputs["validateRequestBody"] is True
    schema = json.loads(model.inputs["schema"])
    assert schema == item_schema("message", 512)
    jsonschema.Draft4Validator.check_schema(schema)
    assert plan.one("aws:apigateway/resource:Resource").inputs["pathPart"] == "items"


# Integration and role ------------------------------------------------------------------------


def test_the_integration_calls_put_item_with_the_escaping_template(build):
    plan = build(streamer())
    integration = plan.one(INTEGRATION).inputs
    assert integration["type"] == "AWS"
    assert integration["integrationHttpMethod"] == "POST"
    assert integration["uri"] == "arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem"
    assert integration["passthroughBehavior"] == "NEVER"
    table = plan.one(TABLE).inputs["name"]
    (template,) = integration["requestTemplates"].values()
    assert template == put_item_template(table, "message")
    assert "$input.json('$.message')" in template
    assert "$input.path" not in template and "$input.body" not in template
    role = plan.one("aws:iam/role:Role", "api-role")
    assert integration["credentials"] == role.outputs["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }


def test_the_api_role_may_only_put_items_into_its_table(build):
    plan = build(streamer())
    assert statements_of_role(plan, "api-role") == [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem"],
            "Resource": plan.one(TABLE).outputs["arn"],
        }
    ]


def test_backend_errors_become_a_retryable_503_and_success_a_200(build):
    plan = build(streamer())
    responses = {
        r.inputs["statusCode"]: r.inputs
        for r in plan.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
    }
    assert set(responses) == {"200", "503"}
    assert "selectionPattern" not in responses["200"]  # the default response
    assert responses["503"]["selectionPattern"] == BACKEND_ERROR_PATTERN
    assert all(re.fullmatch(BACKEND_ERROR_PATTERN, s) for s in ("400", "403", "500", "503"))
    assert not re.fullmatch(BACKEND_ERROR_PATTERN, "200")
    for response in responses.values():
        (template,) = response["responseTemplates"].values()
        assert json.loads(template.replace("$context.requestId", REQUEST_ID))
    methods = plan.of_type("aws:apigateway/methodResponse:MethodResponse")
    assert sorted(m.inputs["statusCode"] for m in methods) == ["200", "503"]


# Stream -------------------------------------------------------------------------------------


def test_the_subscriber_reads_inserts_with_failure_handling(build):
    plan = build(streamer(starting_position="TRIM_HORIZON", max_retries=4))
    table = plan.one(TABLE)
    assert table.inputs["streamEnabled"] is True
    assert table.inputs["streamViewType"] == "NEW_IMAGE"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    mapping = plan.one(ESM)
    inputs = mapping.inputs
    assert mapping.property_dependencies["eventSourceArn"] == [table.urn]
    assert mapping.property_dependencies["functionName"] == [plan.one(FN, "subscriber").urn]
    assert [json.loads(f["pattern"]) for f in inputs["filterCriteria"]["filters"]] == [
        {"eventName": ["INSERT"]}
    ]
    assert inputs["startingPosition"] == "TRIM_HORIZON"
    assert inputs["bisectBatchOnFunctionError"] is True
    assert inputs["maximumRetryAttempts"] == 4
    assert inputs["maximumRecordAgeInSeconds"] == 3600
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = plan.one(QUEUE, "subscriber-dlq")
    assert inputs["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    assert build(streamer()).one(ESM).inputs["startingPosition"] == "LATEST"  # the default


def test_the_subscriber_role_reads_the_stream_and_sends_to_its_queue_only(build):
    plan = build(streamer())
    grants = statements_of_role(plan, "subscriber-role")
    actions = {a for s in grants for a in s["Action"]}
    assert actions == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    subscriber = plan.one(FN, "subscriber").inputs
    assert subscriber["environment"]["variables"]["KEY_NAME"] == "message"
    assert "reservedConcurrentExecutions" not in subscriber  # bounded by the shards


def test_the_subscriber_is_one_of_the_tables_two_readers(build):
    def program():
        table = aws.dynamodb.Table(
            "shared",
            hash_key="message",
            attributes=[aws.dynamodb.TableAttributeArgs(name="message", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
        )
        streams.claim_stream_reader(table, "audit/archiver")
        DynamoStreamer("streamer", DynamoStreamerArgs(table=table))
        assert streams.stream_readers(table) == ("audit/archiver", "streamer/subscriber")
        with pytest.raises(ValueError, match="allows at most 2 stream readers"):
            DynamoStreamer("another", DynamoStreamerArgs(table=table))

    plan = build(program)
    (table,) = plan.of_type(TABLE)
    assert plan.one(ESM).property_dependencies["eventSourceArn"] == [table.urn]
    assert len(plan.of_type("serverless-patterns:patterns:DynamoStreamer")) == 1
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(",")[0] for w in warnings] == ["table is an existing resource"]


# Whole component ----------------------------------------------------------------------------


def test_the_prod_gate_has_no_mandatory_finding(build):
    plan = build(streamer(settings=PROD))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    assert {f.id for f in report.findings} <= {"LOGS-002", "APIGW-010"}
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["throttlingRateLimit"] > 0 and settings["dataTraceEnabled"] is False


def test_a_public_method_is_reported_until_exempted(build):
    plan = build(streamer(authorization="NONE", settings=PROD))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert [f.id for f in report.mandatory] == ["APIGW-008"]


def test_every_child_is_parented_and_outputs_are_registered(build):
    outputs = {}

    def program():
        component = DynamoStreamer("streamer")
        for key, value in component.exports.items():
            value.apply(lambda v, k=key: outputs.setdefault(k, v))

    plan = build(program)
    component = plan.one("serverless-patterns:patterns:DynamoStreamer")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert outputs == {
        "url": outputs["url"],
        "table_name": plan.one(TABLE).inputs["name"],
        "dlq_url": plan.one(QUEUE, "subscriber-dlq").outputs["url"],
    }
    assert outputs["url"].endswith(".execute-api.eu-west-1.amazonaws.com/v1/items")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key_name": "1st"}, "key_name must be 1-64 letters"),
        ({"key_name": "a-b"}, "key_name must be 1-64 letters"),
        ({"key_name": "requestId"}, "not 'requestId'"),
        ({"max_message_length": 0}, "max_message_length must be between 1 and 512"),
        ({"max_message_length": 513}, "max_message_length must be between 1 and 512"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position must be one of"),
        ({"authorization": "JWT"}, "authorization must be one of AWS_IAM, NONE"),
        ({"batch_size": 0}, "batch_size must be between 1"),
        ({"max_retries": -1}, "max_retries must be between 0"),
        ({"max_record_age_s": 10}, "max_record_age_s must be between 60"),
        ({"subscriber_timeout_s": 0}, "timeout_s must be between 1"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DynamoStreamerArgs(**kwargs)


@pytest.fixture
def load_body():
    return lambda: json.loads(BODY_FIXTURE.read_text())
