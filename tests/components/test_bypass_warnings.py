"""A component says what the user turned off: an existing resource handed over instead of the
hardened one the pattern builds, or a safeguard switched off, is a warning on the component
(`pulumi.log.warn(..., resource=component)`) that names the argument and the defaults that
no longer apply. The warnings reach the engine's Log RPC, which the preview engine records."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.authorized_api import AuthorizedApi, AuthorizedApiArgs, RouteSpec
from components.big_fan import BigFan, BigFanArgs
from components.callback_workflow import CallbackWorkflow, CallbackWorkflowArgs
from components.catalog import CATALOG
from components.cdc_data_lake import CdcDataLake, CdcDataLakeArgs
from components.circuit_breaker import CircuitBreakerService, CircuitBreakerServiceArgs
from components.config import _PULUMI_NAMES
from components.core.bucket import BUCKET_DEFAULTS
from components.core.function import FUNCTION_DEFAULTS
from components.core.pattern import Safeguard
from components.core.queue import SERIAL_CONSUMER
from components.core.table import EPHEMERAL_TABLE_DEFAULTS, TABLE_DEFAULTS
from components.destined_lambda import BUS_DEFAULTS, DestinedLambda, DestinedLambdaArgs
from components.dynamo_streamer import DynamoStreamer, DynamoStreamerArgs
from components.eventbridge_etl import EventBridgeEtl, EventBridgeEtlArgs
from components.image_pipeline import TOPIC_DEFAULTS, ImagePipeline, ImagePipelineArgs
from components.lambda_extension import LAYER_DEFAULTS, ExtensionLayer, ExtensionLayerArgs
from components.leaderboard import STREAM_DEFAULTS, Leaderboard, LeaderboardArgs
from components.lifo_queue import LifoQueue, LifoQueueArgs
from components.progress_tracking import ProgressTrackedWorkflow, ProgressTrackedWorkflowArgs
from components.saga import Saga, SagaArgs
from components.scalable_webhook import ScalableWebhook, ScalableWebhookArgs
from components.scheduled_job import (
    DLQ_DEFAULTS,
    ONCE_PER_SLOT,
    ScheduledJob,
    ScheduledJobArgs,
)
from components.simple_webservice import SimpleWebservice, SimpleWebserviceArgs
from components.stream_workflow import StepSpec, StreamWorkflow, StreamWorkflowArgs
from components.table_archive import TableArchive, TableArchiveArgs
from components.table_event_pipes import TableEventPipes, TableEventPipesArgs
from components.waiting_room import WaitingRoom, WaitingRoomArgs
from components.websocket_api import WebSocketApi, WebSocketApiArgs
from components.xray_tracer import XRayTracer, XRayTracerArgs

# Resource slots without a warning, each for a reason: the pattern builds nothing hardened
# in their place.
NO_WARNING = {
    ("ProgressTrackedWorkflowArgs", "websocket"): "a library component, with its own warnings",
    ("WaitingRoomArgs", "websocket"): "a library component, with its own warnings",
    ("ProgressTrackedWorkflowArgs", "event_bus"): "its own bus has nothing but the stack's tags",
    ("TableArchiveArgs", "glue_database"): "its own database has nothing but the stack's tags",
    ("CdcDataLakeArgs", "glue_database"): "its own database has nothing but the stack's tags",
    ("CircuitBreakerServiceArgs", "event_bus"): "its own bus has nothing but the stack's tags",
    ("QueueRedriveArgs", "notify_topic"): "alarms notify it; the pattern builds no topic",
    ("RedriveTarget", "source"): "the queues to redrive are the user's by design",
    ("RedriveTarget", "dlq"): "the queues to redrive are the user's by design",
    ("RedriveTarget", "destination"): "the queues to redrive are the user's by design",
}


def _table() -> aws.dynamodb.Table:
    """A table the user made (here in the same program; `Table.get` works the same)."""
    return aws.dynamodb.Table(
        "existing-table",
        hash_key="pk",
        range_key="sk",
        attributes=[
            aws.dynamodb.TableAttributeArgs(name="pk", type="S"),
            aws.dynamodb.TableAttributeArgs(name="sk", type="S"),
        ],
        stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
    )


def _function() -> aws.lambda_.Function:
    return aws.lambda_.Function(
        "existing-function",
        role="arn:aws:iam::123456789012:role/pricing",
        runtime="python3.13",
        handler="pricing.handler",
        code=pulumi.AssetArchive({}),
    )


def _layer() -> aws.lambda_.LayerVersion:
    return aws.lambda_.LayerVersion(
        "existing-layer", layer_name="config-cache", code=pulumi.AssetArchive({})
    )


def _bucket() -> aws.s3.Bucket:
    return aws.s3.Bucket("existing-bucket")


# (component class, argument path in the warning, the defaults it lists, program)
Case = tuple[str, str, tuple[str, ...], Callable[[], Any]]
CASES: list[Case] = [
    (
        "ScalableWebhookArgs.sink_table",
        "sink_table is an existing resource",
        TABLE_DEFAULTS,
        lambda: ScalableWebhook("hook", ScalableWebhookArgs(sink_table=_table())),
    ),
    (
        "ScalableWebhookArgs.consumer_concurrency",
        "consumer_concurrency=1",
        SERIAL_CONSUMER.defaults,
        lambda: ScalableWebhook("hook", ScalableWebhookArgs(consumer_concurrency=1)),
    ),
    (
        "BigFanArgs.consumer_concurrency",
        "consumer_concurrency=1",
        SERIAL_CONSUMER.defaults,
        lambda: BigFan("fan", BigFanArgs(consumer_concurrency=1)),
    ),
    (
        "EventBridgeEtlArgs.consumer_concurrency",
        "consumer_concurrency=1",
        SERIAL_CONSUMER.defaults,
        lambda: EventBridgeEtl("etl", EventBridgeEtlArgs(consumer_concurrency=1)),
    ),
    (
        "ScalableWebhookArgs.api_key_required",
        "api_key_required=False",
        ("an API key on the route", "a usage plan with daily_quota"),
        lambda: ScalableWebhook("hook", ScalableWebhookArgs(api_key_required=False)),
    ),
    (
        "WebSocketApiArgs.public",
        "public=True",
        ("$connect authorization (IAM or the Lambda authorizer)",),
        lambda: WebSocketApi("ws", WebSocketApiArgs(public=True)),
    ),
    (
        "WebSocketApiArgs.connections_table",
        "connections_table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: WebSocketApi("ws", WebSocketApiArgs(connections_table=_table())),
    ),
    (
        "WebSocketApiArgs.sessions_table",
        "sessions_table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: WebSocketApi("ws", WebSocketApiArgs(sessions_table=_table())),
    ),
    (
        "WebSocketApiArgs.toggles_table",
        "toggles_table is an existing resource",
        TABLE_DEFAULTS,
        lambda: WebSocketApi("ws", WebSocketApiArgs(feature_toggles=True, toggles_table=_table())),
    ),
    (
        "WebSocketApiArgs.public (nested)",
        "websocket.public=True",
        ("$connect authorization (IAM or the Lambda authorizer)",),
        lambda: ProgressTrackedWorkflow(
            "progress", ProgressTrackedWorkflowArgs(websocket=WebSocketApiArgs(public=True))
        ),
    ),
    (
        "CdcDataLakeArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: CdcDataLake("lake", CdcDataLakeArgs(table=_table())),
    ),
    (
        "CdcDataLakeArgs.bucket",
        "bucket is an existing resource",
        BUCKET_DEFAULTS,
        lambda: CdcDataLake("lake", CdcDataLakeArgs(bucket=_bucket())),
    ),
    (
        "TableArchiveArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: TableArchive("archive", TableArchiveArgs(table=_table())),
    ),
    (
        "TableArchiveArgs.bucket",
        "bucket is an existing resource",
        BUCKET_DEFAULTS,
        lambda: TableArchive("archive", TableArchiveArgs(bucket=_bucket())),
    ),
    (
        "TableEventPipesArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: TableEventPipes("app", TableEventPipesArgs(table=_table())),
    ),
    (
        "TableEventPipesArgs.event_bus",
        "event_bus is an existing resource",
        ("encryption with kms_key_arn", "the stack's tags"),
        lambda: TableEventPipes(
            "app",
            TableEventPipesArgs(event_bus=aws.cloudwatch.EventBus("existing-bus", name="domain")),
        ),
    ),
    (
        "TableEventPipesArgs.enrichment",
        "enrichment is an existing resource",
        FUNCTION_DEFAULTS,
        lambda: TableEventPipes("app", TableEventPipesArgs(enrichment=_function())),
    ),
    (
        "StreamWorkflowArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: StreamWorkflow("bench", StreamWorkflowArgs(table=_table())),
    ),
    (
        "StepSpec.function",
        "steps[1].function is an existing resource",
        FUNCTION_DEFAULTS,
        lambda: StreamWorkflow(
            "bench",
            StreamWorkflowArgs(
                steps=[
                    StepSpec(name="collect", handler="steps.collect"),
                    StepSpec(name="price", function=_function()),
                ]
            ),
        ),
    ),
    (
        "SagaArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: Saga("trips", SagaArgs(table=_table())),
    ),
    (
        "SagaArgs.allow_fault_injection",
        "allow_fault_injection=True",
        ("steps fail only on real errors",),
        lambda: Saga("trips", SagaArgs(allow_fault_injection=True)),
    ),
    (
        "WaitingRoomArgs.signing_key",
        "signing_key is an existing resource",
        ("automatic rotation of the signing key",),
        lambda: WaitingRoom(
            "room", WaitingRoomArgs(signing_key=aws.secretsmanager.Secret("existing-key"))
        ),
    ),
    (
        "WaitingRoomArgs.zones_table",
        "zones_table is an existing resource",
        TABLE_DEFAULTS,
        lambda: WaitingRoom("room", WaitingRoomArgs(zones_table=_table())),
    ),
    (
        "WaitingRoomArgs.counters_table",
        "counters_table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: WaitingRoom("room", WaitingRoomArgs(counters_table=_table())),
    ),
    (
        "WaitingRoomArgs.queue_table",
        "queue_table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: WaitingRoom("room", WaitingRoomArgs(queue_table=_table())),
    ),
    (
        "CallbackWorkflowArgs.results_bucket",
        "results_bucket is an existing resource",
        BUCKET_DEFAULTS,
        lambda: CallbackWorkflow("exports", CallbackWorkflowArgs(results_bucket=_bucket())),
    ),
    (
        "LifoQueueArgs.table",
        "table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: LifoQueue("tasks", LifoQueueArgs(table=_table())),
    ),
    (
        "LifoQueueArgs.topic",
        "topic is an existing resource",
        ("Active tracing", "encryption", "a TLS-only topic policy"),
        lambda: LifoQueue("tasks", LifoQueueArgs(topic=aws.sns.Topic("existing-topic"))),
    ),
    (
        "AuthorizedApiArgs.routes",
        "routes['GET /reports'] is an existing resource",
        FUNCTION_DEFAULTS,
        lambda: AuthorizedApi(
            "shop",
            AuthorizedApiArgs(routes={"GET /me": RouteSpec(), "GET /reports": _function()}),
        ),
    ),
    (
        "AuthorizedApiArgs.user_pool",
        "user_pool is an existing resource",
        ("required MFA", "threat protection", "deletion protection in prod"),
        lambda: AuthorizedApi(
            "shop", AuthorizedApiArgs(user_pool=aws.cognito.UserPool("existing-pool"))
        ),
    ),
    (
        "AuthorizedApiArgs.user_pool_client",
        "user_pool_client is an existing resource",
        (
            "no client secret",
            "SRP and refresh-token sign-in only",
            "user existence errors prevented",
            "token revocation",
            "token validity of user_pool.access_token_minutes",
        ),
        lambda: AuthorizedApi(
            "shop",
            AuthorizedApiArgs(
                user_pool_client=aws.cognito.UserPoolClient(
                    "existing-client", user_pool_id="us-east-1_example"
                )
            ),
        ),
    ),
    (
        "AuthorizedApiArgs.policy_table",
        "policy_table is an existing resource",
        TABLE_DEFAULTS,
        lambda: AuthorizedApi(
            "shop", AuthorizedApiArgs(mode="cognito_groups", policy_table=_table())
        ),
    ),
    (
        "AuthorizedApiArgs.authorizer",
        "authorizer is an existing resource",
        (*FUNCTION_DEFAULTS, "JWT checks on issuer, audience, token use and expiry"),
        lambda: AuthorizedApi("shop", AuthorizedApiArgs(authorizer=_function())),
    ),
    (
        "LeaderboardArgs.stream",
        "stream is an existing resource",
        STREAM_DEFAULTS,
        lambda: Leaderboard("board", LeaderboardArgs(stream=aws.kinesis.Stream("existing-stream"))),
    ),
    (
        "LeaderboardArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: Leaderboard("board", LeaderboardArgs(table=_table())),
    ),
    (
        "DestinedLambdaArgs.bus",
        "bus is an existing resource",
        BUS_DEFAULTS,
        lambda: DestinedLambda(
            "destined", DestinedLambdaArgs(bus=aws.cloudwatch.EventBus("existing-bus"))
        ),
    ),
    (
        "ScheduledJobArgs.function",
        "function is an existing resource",
        (
            *FUNCTION_DEFAULTS,
            "bounded async retries with an on-failure destination",
            ONCE_PER_SLOT,
        ),
        lambda: ScheduledJob("nightly", ScheduledJobArgs(function=_function())),
    ),
    (
        "ScheduledJobArgs.idempotency",
        "idempotency=False",
        (ONCE_PER_SLOT,),
        lambda: ScheduledJob("nightly", ScheduledJobArgs(idempotency=False)),
    ),
    (
        "ScheduledJobArgs.idempotency_table",
        "idempotency_table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: ScheduledJob("nightly", ScheduledJobArgs(idempotency_table=_table())),
    ),
    (
        "ScheduledJobArgs.dlq",
        "dlq is an existing resource",
        DLQ_DEFAULTS,
        lambda: ScheduledJob("nightly", ScheduledJobArgs(dlq=aws.sqs.Queue("existing-dlq"))),
    ),
    (
        "CircuitBreakerServiceArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: CircuitBreakerService(
            "breaker",
            CircuitBreakerServiceArgs(downstream_url="https://quotes.example.com", table=_table()),
        ),
    ),
    (
        "EventBridgeEtlArgs.bus",
        "bus is an existing resource",
        ("encryption with kms_key_arn", "an archive for replay", "the stack's tags"),
        lambda: EventBridgeEtl(
            "etl", EventBridgeEtlArgs(bus=aws.cloudwatch.EventBus("existing-bus", name="etl"))
        ),
    ),
    (
        "EventBridgeEtlArgs.sink_table",
        "sink_table is an existing resource",
        TABLE_DEFAULTS,
        lambda: EventBridgeEtl("etl", EventBridgeEtlArgs(sink_table=_table())),
    ),
    (
        "SimpleWebserviceArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: SimpleWebservice("web", SimpleWebserviceArgs(table=_table())),
    ),
    (
        "SimpleWebserviceArgs.authorization",
        "authorization='NONE'",
        ("IAM or JWT authorization on every route",),
        lambda: SimpleWebservice("web", SimpleWebserviceArgs(authorization="NONE")),
    ),
    (
        "DynamoStreamerArgs.table",
        "table is an existing resource",
        TABLE_DEFAULTS,
        lambda: DynamoStreamer("streamer", DynamoStreamerArgs(table=_table())),
    ),
    (
        "DynamoStreamerArgs.authorization",
        "authorization='NONE'",
        ("IAM authorization on POST /items",),
        lambda: DynamoStreamer("streamer", DynamoStreamerArgs(authorization="NONE")),
    ),
    (
        "XRayTracerArgs.table",
        "table is an existing resource",
        EPHEMERAL_TABLE_DEFAULTS,
        lambda: XRayTracer("tracer", XRayTracerArgs(table=_table())),
    ),
    (
        "ExtensionLayerArgs.layer",
        "layer is an existing resource",
        LAYER_DEFAULTS,
        lambda: ExtensionLayer("ext", ExtensionLayerArgs(layer=_layer())),
    ),
    (
        "ImagePipelineArgs.input_bucket",
        "input_bucket is an existing resource",
        BUCKET_DEFAULTS,
        lambda: ImagePipeline("images", ImagePipelineArgs(input_bucket=_bucket())),
    ),
    (
        "ImagePipelineArgs.output_bucket",
        "output_bucket is an existing resource",
        BUCKET_DEFAULTS,
        lambda: ImagePipeline("images", ImagePipelineArgs(output_bucket=_bucket())),
    ),
    (
        "ImagePipelineArgs.output_bucket (the input bucket)",
        "output_bucket='input'",
        ("a separate output bucket",),
        lambda: ImagePipeline("images", ImagePipelineArgs(output_bucket="input")),
    ),
    (
        "ImagePipelineArgs.success_topic",
        "success_topic is an existing resource",
        TOPIC_DEFAULTS,
        lambda: ImagePipeline(
            "images", ImagePipelineArgs(success_topic=aws.sns.Topic("existing-topic"))
        ),
    ),
    (
        "ImagePipelineArgs.error_topic",
        "error_topic is an existing resource",
        TOPIC_DEFAULTS,
        lambda: ImagePipeline(
            "images", ImagePipelineArgs(error_topic=aws.sns.Topic("existing-topic"))
        ),
    ),
]


@pytest.mark.parametrize(
    ("safeguard", "given", "lost", "program"), CASES, ids=[case[0] for case in CASES]
)
def test_a_bypassed_default_is_a_warning_on_the_component(build, safeguard, given, lost, program):
    plan = build(program)
    (component,) = [r for r in plan.registrations if r.type.startswith("serverless-patterns:")]
    warnings = [log for log in plan.logs if log.severity == "warning"]
    assert len(warnings) == 1, warnings
    (warning,) = warnings
    assert warning.urn == component.urn
    assert warning.message.startswith(
        f"{given}, so these hardened defaults no longer apply: {', '.join(lost)}. "
    )


def test_two_bypasses_are_two_warnings_in_declaration_order(build):
    plan = build(
        lambda: ScalableWebhook(
            "hook", ScalableWebhookArgs(sink_table=_table(), api_key_required=False)
        )
    )
    messages = [log.message for log in plan.logs if log.severity == "warning"]
    assert [m.split(",")[0] for m in messages] == [
        "sink_table is an existing resource",
        "api_key_required=False",
    ]


def test_existing_resources_in_a_map_are_one_warning_naming_each_key(build):
    def program():
        me, reports = (
            aws.lambda_.Function(
                f"existing-{name}",
                role="arn:aws:iam::123456789012:role/routes",
                runtime="python3.13",
                handler=f"{name}.handler",
                code=pulumi.AssetArchive({}),
            )
            for name in ("me", "reports")
        )
        AuthorizedApi("shop", AuthorizedApiArgs(routes={"GET /me": me, "GET /reports": reports}))

    plan = build(program)
    messages = [log.message for log in plan.logs if log.severity == "warning"]
    assert [m.split(", so ")[0] for m in messages] == [
        "routes['GET /me'], routes['GET /reports'] are existing resources"
    ]


@pytest.mark.parametrize("slug", sorted(CATALOG))
def test_the_defaults_switch_nothing_off(slug):
    assert CATALOG[slug].args().bypassed() == []


def test_the_warnings_are_what_the_preview_shows_under_diagnostics(build):
    from preview import render

    plan = build(lambda: ScalableWebhook("hook", ScalableWebhookArgs(api_key_required=False)))
    printed = render.tree(plan)
    diagnostics = printed.split("Diagnostics:\n", 1)[1].splitlines()
    assert diagnostics[0] == "  serverless-patterns:patterns:ScalableWebhook (hook):"
    assert diagnostics[1].startswith("    warning: api_key_required=False, so these hardened")


# The declarations stay complete ----------------------------------------------------------------


def _members(tp: Any) -> Iterator[Any]:
    origin = typing.get_origin(tp)
    if origin is None:
        yield tp
    elif origin is not typing.Literal:
        for arg in typing.get_args(tp):
            yield from _members(arg)


def _slots() -> Iterator[tuple[type, str]]:
    """(dataclass, field) of every argument, at any depth, that can hold a resource."""
    seen: set[type] = set()
    todo: list[type] = [entry.args for entry in CATALOG.values()]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        hints = typing.get_type_hints(cls, localns=_PULUMI_NAMES)
        for field in dataclasses.fields(cls):
            for member in _members(hints[field.name]):
                if isinstance(member, type) and issubclass(member, pulumi.Resource):
                    yield cls, field.name
                elif dataclasses.is_dataclass(member) and isinstance(member, type):
                    todo.append(member)


def _declared(cls: type) -> tuple[Safeguard, ...]:
    return tuple(getattr(cls, "safeguards", ()))


def test_every_resource_slot_warns_or_says_why_not():
    silent = sorted(
        f"{cls.__name__}.{name}"
        for cls, name in _slots()
        if not any(s.field == name for s in _declared(cls))
        and (cls.__name__, name) not in NO_WARNING
    )
    assert silent == [], "declare a Safeguard for each (components/core/pattern.py)"


def test_every_safeguard_names_a_field_and_has_a_case():
    declared = set()
    for cls in {cls for cls, _ in _slots()} | {entry.args for entry in CATALOG.values()}:
        names = {f.name for f in dataclasses.fields(cls)}
        for safeguard in _declared(cls):
            assert safeguard.field in names, f"{cls.__name__}.safeguards: {safeguard.field}"
            declared.add(f"{cls.__name__}.{safeguard.field}")
    covered = {case[0].split(" ")[0] for case in CASES}
    assert declared <= covered, f"add a case for: {sorted(declared - covered)}"


def test_safeguard_defaults_and_advice_are_written_out():
    for cls in {cls for cls, _ in _slots()} | {entry.args for entry in CATALOG.values()}:
        for safeguard in _declared(cls):
            assert safeguard.defaults and all(safeguard.defaults)
            assert safeguard.advice.endswith(".")
