"""TableEventPipes under mocks: pipes per type or one, filters, targets, roles, limits, args."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.config import parse
from components.table_archive import TableArchive, TableArchiveArgs
from components.table_event_pipes import (
    STORY,
    EnrichmentSpec,
    ItemType,
    TableEventPipes,
    TableEventPipesArgs,
)
from tests.helpers import policy, statements_of_role

PIPE = "aws:pipes/pipe:Pipe"
BUS = "aws:cloudwatch/eventBus:EventBus"
TABLE = "aws:dynamodb/table:Table"
FN = "aws:lambda/function:Function"
ORDER = ItemType(
    discriminator={"dynamodb": {"NewImage": {"entityType": {"S": ["Order"]}}}},
    detail_type="OrderPlaced",
    input_template='{"orderId": "<$.dynamodb.Keys.pk.S>", "sourceEventId": "<$.eventID>"}',
    lookup_key={"pk": "customerId", "sk": "customerSk"},
)
CUSTOMER = ItemType(
    discriminator={"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "CUSTOMER#"}]}}}},
    detail_type="CustomerChanged",
    event_names=["INSERT", "MODIFY"],
    input_template='{"customerId": "<$.dynamodb.Keys.pk.S>", "sourceEventId": "<$.eventID>"}',
)
STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)


def pipes(**kwargs):
    return lambda: TableEventPipes("app", TableEventPipesArgs(**kwargs))


def filters_of(pipe) -> list[dict]:
    criteria = pipe.inputs["sourceParameters"]["filterCriteria"]["filters"]
    return [json.loads(f["pattern"]) for f in criteria]


def test_one_pipe_per_type_with_its_filter_target_and_template(build):
    plan = build(pipes(item_types={"story": STORY, "order": ORDER}))
    by_name = {p.name: p for p in plan.of_type(PIPE)}
    assert set(by_name) == {"app-story-pipe", "app-order-pipe"}
    bus = plan.one(BUS)
    table = plan.one(TABLE)
    for type_name, item_type in (("story", STORY), ("order", ORDER)):
        pipe = by_name[f"app-{type_name}-pipe"]
        assert filters_of(pipe) == [{"eventName": ["INSERT"], **item_type.discriminator}]
        target = pipe.inputs["targetParameters"]
        assert pipe.inputs["target"] == bus.outputs["arn"]
        assert target["eventbridgeEventBusParameters"] == {
            "detailType": item_type.detail_type,
            "source": f"app.{table.inputs['name']}",
        }
        assert target["inputTemplate"] == item_type.input_template
        assert pipe.inputs["source"] == table.outputs["streamArn"]
        assert "enrichment" not in pipe.inputs
    assert plan.of_type(FN) == []  # no enrichment asked for


def test_pipes_have_the_failure_model_and_logging(build):
    plan = build(pipes())
    pipe = plan.one(PIPE)
    source = pipe.inputs["sourceParameters"]["dynamodbStreamParameters"]
    dlq = plan.one("aws:sqs/queue:Queue", "events-dlq")
    assert source["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert source["onPartialBatchItemFailure"] == "AUTOMATIC_BISECT"
    assert source["maximumRetryAttempts"] == 5
    assert source["maximumRecordAgeInSeconds"] == 3600
    assert source["batchSize"] == 1
    # The table is created alongside, so the pipe reads it from the start.
    assert source["startingPosition"] == "TRIM_HORIZON"
    assert pipe.inputs["logConfiguration"]["level"] == "ERROR"
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "story-pipe-logs")
    assert pipe.inputs["logConfiguration"]["cloudwatchLogsLogDestination"] == {
        "logGroupArn": group.outputs["arn"]
    }
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "events-dlq-depth")
    assert alarm.inputs["dimensions"] == {"QueueName": dlq.outputs["name"]}


def test_pipe_role_reads_the_stream_and_puts_to_this_bus_only(build):
    plan = build(pipes())
    stream = plan.one(TABLE).outputs["streamArn"]
    bus = plan.one(BUS).outputs["arn"]
    dlq = plan.one("aws:sqs/queue:Queue", "events-dlq").outputs["arn"]
    by_action = {
        tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "story-pipe-role")
    }
    assert by_action[STREAM_READ] == stream
    assert by_action[("dynamodb:ListStreams",)] == "*"  # it accepts only "*"
    assert by_action[("events:PutEvents",)] == bus
    put_events = next(
        s
        for s in statements_of_role(plan, "story-pipe-role")
        if s["Action"] == ["events:PutEvents"]
    )
    source = "app." + plan.one(TABLE).inputs["name"]  # the events' source by default
    assert put_events["Condition"] == {"StringEquals": {"events:source": [source]}}
    assert by_action[("sqs:SendMessage",)] == dlq
    assert not any(a.startswith("lambda:") for actions in by_action for a in actions)
    role = plan.one("aws:iam/role:Role", "story-pipe-role")
    assert "pipes.amazonaws.com" in role.inputs["assumeRolePolicy"]


def test_existing_table_starts_at_latest_and_keeps_its_name(build):
    def program():
        table = aws.dynamodb.Table(
            "stories",
            name="stories",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
        )
        TableEventPipes("app", TableEventPipesArgs(table=table, event_source="app.stories"))

    plan = build(program)
    pipe = plan.one(PIPE)
    assert pipe.inputs["sourceParameters"]["dynamodbStreamParameters"]["startingPosition"] == (
        "LATEST"
    )
    assert pipe.inputs["targetParameters"]["eventbridgeEventBusParameters"]["source"] == (
        "app.stories"
    )
    assert [t.name for t in plan.of_type(TABLE)] == ["stories"]


def test_single_pipe_routes_every_type_through_the_enrichment(build):
    plan = build(
        pipes(item_types={"story": STORY, "order": ORDER, "customer": CUSTOMER}, mode="single_pipe")
    )
    pipe = plan.one(PIPE)
    assert filters_of(pipe) == [t.filter() for t in (STORY, ORDER, CUSTOMER)]
    enrich = plan.one(FN, "enrich")
    assert pipe.inputs["enrichment"] == enrich.outputs["arn"]
    target = pipe.inputs["targetParameters"]
    assert target["eventbridgeEventBusParameters"]["detailType"] == "$.detailType"
    assert target["inputTemplate"] == "<$.detail>"
    assert (enrich.inputs["memorySize"], enrich.inputs["timeout"]) == (256, 10)
    routes = json.loads(enrich.inputs["environment"]["variables"]["ITEM_TYPES"])
    assert routes["order"] == {
        "detailType": "OrderPlaced",
        "filter": ORDER.filter(),
        "inputTemplate": ORDER.input_template,
        "lookupKey": {"pk": "customerId", "sk": "customerSk"},
    }
    table = plan.one(TABLE).outputs["arn"]
    assert statements_of_role(plan, "enrich-role")[1:] == [
        {"Effect": "Allow", "Action": ["dynamodb:BatchGetItem"], "Resource": table}
    ]
    invoke = [
        s for s in statements_of_role(plan, "pipe-role") if s["Action"] == ["lambda:InvokeFunction"]
    ]
    assert invoke == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": enrich.outputs["arn"]}
    ]


def test_enrichment_without_lookups_has_no_table_rights(build):
    plan = build(pipes(enrichment=EnrichmentSpec(timeout_s=5)))
    assert plan.one(FN, "enrich").inputs["timeout"] == 5
    assert len(statements_of_role(plan, "enrich-role")) == 1  # its own log group only
    assert "LOOKUP_TABLE_NAME" not in plan.one(FN, "enrich").inputs["environment"]["variables"]


def test_an_existing_enrichment_function_is_invoked_not_created(build):
    def program():
        mine = aws.lambda_.Function(
            "mine", role="arn:aws:iam::123456789012:role/mine", runtime="python3.13",
            handler="h.handler", code=pulumi.AssetArchive({}),
        )  # fmt: skip
        TableEventPipes("app", TableEventPipesArgs(enrichment=mine))

    plan = build(program)
    assert [f.name for f in plan.of_type(FN)] == ["mine"]
    assert plan.one(PIPE).inputs["enrichment"] == plan.one(FN).outputs["arn"]


def test_three_types_need_a_single_pipe():
    with pytest.raises(ValueError, match=r"mode='pipe_per_type' runs one pipe .* 3 types need"):
        TableEventPipesArgs(item_types={"story": STORY, "order": ORDER, "customer": CUSTOMER})


def test_the_table_s_other_readers_count_against_the_limit(build):
    def program():
        table = aws.dynamodb.Table(
            "shared",
            hash_key="pk",
            attributes=[aws.dynamodb.TableAttributeArgs(name="pk", type="S")],
            stream_enabled=True,
            stream_view_type="NEW_AND_OLD_IMAGES",
        )
        TableArchive("history", TableArchiveArgs(table=table))
        two_types = TableEventPipesArgs(table=table, item_types={"story": STORY, "order": ORDER})
        with pytest.raises(ValueError, match=r"app needs 2 and 1 are taken \(history/archiver"):
            TableEventPipes("app", two_types)
        one_pipe = TableEventPipesArgs(
            table=table, item_types={"story": STORY, "order": ORDER}, mode="single_pipe"
        )
        TableEventPipes("app", one_pipe)

    plan = build(program)
    assert [p.name for p in plan.of_type(PIPE)] == ["app-pipe"]


def test_example_consumer_rule_target_and_failure_handling(build):
    plan = build(pipes(consumers=["StoryCreated"]))
    rule = plan.one("aws:cloudwatch/eventRule:EventRule")
    table = plan.one(TABLE, "app-table").inputs["name"]
    assert json.loads(rule.inputs["eventPattern"]) == {
        "detail-type": ["StoryCreated"],
        "source": [f"app.{table}"],
    }
    assert rule.inputs["eventBusName"] == plan.one(BUS).outputs["name"]
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    consumer = plan.one(FN, "consumer")
    dlq = plan.one("aws:sqs/queue:Queue", "consumer-dlq")
    assert target["arn"] == consumer.outputs["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 8, "maximumEventAgeInSeconds": 3600}
    assert target["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    invoke = plan.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert invoke["destinationConfig"]["onFailure"]["destination"] == dlq.outputs["arn"]
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == rule.outputs["arn"]
    statements = policy(plan.one("aws:sqs/queuePolicy:QueuePolicy", "consumer-dlq-policy"))[
        "Statement"
    ]
    allow = next(s for s in statements if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}}
    idempotency = plan.one(TABLE, "idempotency").inputs
    assert idempotency["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert idempotency["tags"]["wa:data"] == "ephemeral"
    by_action = {
        tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, "consumer-role")
    }
    assert (
        by_action[
            ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        ]
        == plan.one(TABLE, "idempotency").outputs["arn"]
    )


def test_bus_key_archive_and_outputs(build):
    key = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1f3e-1111-2222-3333-444455556666"
    outputs = {}

    def program():
        component = TableEventPipes(
            "app", TableEventPipesArgs(kms_key_arn=key, archive_retention_days=30)
        )
        for name, value in component.exports.items():
            pulumi.Output.from_input(value).apply(lambda v, k=name: outputs.setdefault(k, v))

    plan = build(program)
    bus = plan.one(BUS)
    assert bus.inputs["kmsKeyIdentifier"] == key
    archive = plan.one("aws:cloudwatch/eventArchive:EventArchive").inputs
    assert archive["eventSourceArn"] == bus.outputs["arn"] and archive["retentionDays"] == 30
    assert outputs["bus_name"] == bus.outputs["name"]
    assert outputs["bus_arn"] == bus.outputs["arn"]
    assert outputs["pipe_arns"] == {"story": plan.one(PIPE).outputs["arn"]}
    assert outputs["dlq_url"] == plan.one("aws:sqs/queue:Queue", "events-dlq").outputs["url"]


def test_an_existing_bus_is_used(build):
    def program():
        bus = aws.cloudwatch.EventBus("domain", name="domain")
        TableEventPipes("app", TableEventPipesArgs(event_bus=bus))

    plan = build(program)
    assert [b.name for b in plan.of_type(BUS)] == ["domain"]
    assert plan.one(PIPE).inputs["target"] == plan.one(BUS).outputs["arn"]


def test_every_child_is_parented_and_prefixed(build):
    plan = build(pipes(consumers=["StoryCreated"], mode="single_pipe"))
    component = plan.one("serverless-patterns:patterns:TableEventPipes")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("app-") for r in children)


def item(**overrides):
    fields = {
        "discriminator": {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}},
        "detail_type": "OrderPlaced",
        "input_template": '{"sourceEventId": "<$.eventID>"}',
    }
    return ItemType(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fan_out"}, "mode must be one of pipe_per_type, single_pipe"),
        ({"item_types": {}}, "item_types must name at least one item type"),
        ({"item_types": {"bad name": item()}}, "item_types key 'bad name' must be"),
        (
            {"item_types": {"o": item(detail_type="Order Placed")}},
            "item_types.o.detail_type must be 1-128",
        ),
        (
            {
                "item_types": {
                    "o": item(discriminator={"dynamodb": {"NewImage": {"type": ["Order"]}}})
                }
            },
            r"item_types.o.discriminator.dynamodb.NewImage.type must be a non-empty list under",
        ),
        (
            {"item_types": {"o": item(discriminator={"eventName": ["INSERT"]})}},
            "item_types.o.discriminator.eventName must be",
        ),
        (
            {
                "item_types": {
                    "o": item(
                        discriminator={"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#"}]}}}}
                    )
                }
            },
            "conditions must be values or one of prefix, exists, anything-but",
        ),
        (
            {"item_types": {"o": item(event_names=["UPSERT"])}},
            "item_types.o.event_names must be a non-empty list",
        ),
        (
            {
                "item_types": {
                    "o": item(
                        event_names=["REMOVE"],
                        discriminator={"dynamodb": {"NewImage": {"t": {"S": ["Order"]}}}},
                    )
                }
            },
            "uses NewImage, which REMOVE records lack",
        ),
        (
            {"item_types": {"o": item(input_template='{"orderId": "<$.eventID>"}')}},
            "item_types.o.input_template must set sourceEventId",
        ),
        (
            {"item_types": {"o": item(input_template='{"sourceEventId": <$.eventID>,}')}},
            "item_types.o.input_template must render to JSON",
        ),
        ({"batch_size": 11}, "batch_size must be between 1 and 10"),
        ({"max_retries": -1}, "max_retries must be between 0 and 10000"),
        ({"event_source": "app stories"}, "event_source must be 1-256"),
        ({"archive_retention_days": -1}, "archive_retention_days must be 0"),
        ({"kms_key_arn": "alias/aws/events"}, "kms_key_arn must be a KMS key ARN"),
        (
            {"consumers": ["OrderPlaced"]},
            r"consumers must be detail-types of item_types \(StoryCreated\)",
        ),
        ({"log_level": "OFF"}, "log_level must be one of ERROR, INFO, TRACE"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TableEventPipesArgs(**kwargs)


def test_stack_config_builds_item_types_and_the_enrichment():
    config = {
        "table-event-pipes": {
            "mode": "single_pipe",
            "enrichment": {"timeout_s": 8},
            "item_types": {
                "customer": {
                    "discriminator": CUSTOMER.discriminator,
                    "detail_type": "CustomerChanged",
                    "event_names": ["INSERT", "MODIFY"],
                    "input_template": CUSTOMER.input_template,
                }
            },
        }
    }
    (choice,) = parse({"serverless-patterns:patterns": json.dumps(config)}).patterns
    assert choice.args.item_types == {"customer": CUSTOMER}
    assert choice.args.enrichment == EnrichmentSpec(timeout_s=8)


def test_every_function_zip_carries_the_shared_stream_decoder(build):
    """The handlers import `ddb_json` from their zip's root (functions/shared/ddb_json.py)."""
    shared = (
        Path(__file__).resolve().parents[2] / "functions" / "shared" / "ddb_json.py"
    ).read_bytes()
    carried = {}
    for function in build(pipes(consumers=["StoryCreated"], mode="single_pipe")).of_type(FN):
        with zipfile.ZipFile(function.inputs["code"].path) as zipped:
            carried[function.name] = zipped.read("ddb_json.py") == shared
    assert carried == {name: True for name in ["app-consumer", "app-enrich"]}
