"""Slug -> pattern component and its args: drives `__main__`, config validation and docs."""

from __future__ import annotations

from dataclasses import dataclass

from .authorized_api import AuthorizedApi, AuthorizedApiArgs
from .big_fan import BigFan, BigFanArgs
from .callback_workflow import CallbackWorkflow, CallbackWorkflowArgs
from .cdc_data_lake import CdcDataLake, CdcDataLakeArgs
from .circuit_breaker import CircuitBreakerService, CircuitBreakerServiceArgs
from .core.pattern import Pattern, PatternArgs
from .destined_lambda import DestinedLambda, DestinedLambdaArgs
from .dynamo_streamer import DynamoStreamer, DynamoStreamerArgs
from .eventbridge_etl import EventBridgeEtl, EventBridgeEtlArgs
from .image_pipeline import ImagePipeline, ImagePipelineArgs
from .lambda_extension import ExtensionLayer, ExtensionLayerArgs
from .leaderboard import Leaderboard, LeaderboardArgs
from .lifo_queue import LifoQueue, LifoQueueArgs
from .progress_tracking import ProgressTrackedWorkflow, ProgressTrackedWorkflowArgs
from .queue_redrive import QueueRedrive, QueueRedriveArgs
from .saga import Saga, SagaArgs
from .scalable_webhook import ScalableWebhook, ScalableWebhookArgs
from .scheduled_job import ScheduledJob, ScheduledJobArgs
from .simple_webservice import SimpleWebservice, SimpleWebserviceArgs
from .stream_workflow import StreamWorkflow, StreamWorkflowArgs
from .table_archive import TableArchive, TableArchiveArgs
from .table_event_pipes import TableEventPipes, TableEventPipesArgs
from .waiting_room import WaitingRoom, WaitingRoomArgs
from .websocket_api import WebSocketApi, WebSocketApiArgs
from .xray_tracer import XRayTracer, XRayTracerArgs


@dataclass(frozen=True)
class Entry:
    slug: str
    component: type[Pattern]
    args: type[PatternArgs]
    summary: str


CATALOG: dict[str, Entry] = {
    entry.slug: entry
    for entry in [
        Entry(
            "scalable-webhook",
            ScalableWebhook,
            ScalableWebhookArgs,
            "API Gateway -> SQS -> throttled consumer -> DynamoDB, each delivery written once",
        ),
        Entry(
            "websocket-api",
            WebSocketApi,
            WebSocketApiArgs,
            "WebSocket API with a connection registry, resumable sessions and a safe sender",
        ),
        Entry(
            "progress-tracking",
            ProgressTrackedWorkflow,
            ProgressTrackedWorkflowArgs,
            "Step Functions reporting progress to the WebSocket client that started it",
        ),
        Entry(
            "table-archive",
            TableArchive,
            TableArchiveArgs,
            "DynamoDB stream -> Lambda -> Hive-partitioned S3 (gzipped NDJSON), Glue-ready",
        ),
        Entry(
            "table-event-pipes",
            TableEventPipes,
            TableEventPipesArgs,
            "DynamoDB stream -> EventBridge Pipes -> one domain event per item type on a bus",
        ),
        Entry(
            "stream-workflow",
            StreamWorkflow,
            StreamWorkflowArgs,
            "DynamoDB stream -> pipe with loop guard -> Step Functions writing the result back",
        ),
        Entry(
            "saga",
            Saga,
            SagaArgs,
            "Step Functions saga: ordered steps, each failure undone in reverse, trip booking",
        ),
        Entry(
            "callback-workflow",
            CallbackWorkflow,
            CallbackWorkflowArgs,
            "Step Functions task-token callback around a long job, its files via Distributed Map",
        ),
        Entry(
            "queue-redrive",
            QueueRedrive,
            QueueRedriveArgs,
            "DLQ redrive state machine: StartMessageMoveTask, one move per queue, watched",
        ),
        Entry(
            "authorized-api",
            AuthorizedApi,
            AuthorizedApiArgs,
            "REST API behind a JWT Lambda authorizer: Cognito groups or claims -> route policy",
        ),
        Entry(
            "lifo-queue",
            LifoQueue,
            LifoQueueArgs,
            "LIFO task queue on DynamoDB: newest first, conditional claims, stale tasks shed",
        ),
        Entry(
            "waiting-room",
            WaitingRoom,
            WaitingRoomArgs,
            "Virtual waiting room: fair queue, paced admission, signed access tokens, push",
        ),
        Entry(
            "cdc-data-lake",
            CdcDataLake,
            CdcDataLakeArgs,
            "DynamoDB -> Kinesis Data Streams -> Firehose (Lambda transform) -> partitioned S3",
        ),
        Entry(
            "leaderboard",
            Leaderboard,
            LeaderboardArgs,
            "Kinesis tumbling-window aggregator -> ranked DynamoDB table, top-N REST API",
        ),
        Entry(
            "scheduled-job",
            ScheduledJob,
            ScheduledJobArgs,
            "EventBridge Scheduler -> Lambda: retry policy, DLQ, one completed run per slot",
        ),
        Entry(
            "destined-lambda",
            DestinedLambda,
            DestinedLambdaArgs,
            "REST -> SNS -> Lambda, results routed by its invoke config to a bus, then by rules",
        ),
        Entry(
            "big-fan",
            BigFan,
            BigFanArgs,
            "REST -> SNS fan-out -> SQS queues, each selecting its slice by a filter policy",
        ),
        Entry(
            "simple-webservice",
            SimpleWebservice,
            SimpleWebserviceArgs,
            "API -> Lambda -> DynamoDB hit counter: one atomic counter per path, HTTP or REST",
        ),
        Entry(
            "dynamo-streamer",
            DynamoStreamer,
            DynamoStreamerArgs,
            "REST -> DynamoDB PutItem (no function, validated, escaped) -> stream -> Lambda",
        ),
        Entry(
            "circuit-breaker",
            CircuitBreakerService,
            CircuitBreakerServiceArgs,
            "Lambda circuit breaker: state in DynamoDB, conditional transitions, one probe",
        ),
        Entry(
            "eventbridge-etl",
            EventBridgeEtl,
            EventBridgeEtlArgs,
            "S3 CSV -> extract -> EventBridge rules -> transform, load, observe -> DynamoDB",
        ),
        Entry(
            "xray-tracer",
            XRayTracer,
            XRayTracerArgs,
            "Traced fan-out: REST -> SNS -> DynamoDB, SQS, HTTP and SNS flows, a group per flow",
        ),
        Entry(
            "lambda-extension",
            ExtensionLayer,
            ExtensionLayerArgs,
            "Extension layer: allow-listed secrets and parameters cached on localhost",
        ),
        Entry(
            "image-pipeline",
            ImagePipeline,
            ImagePipelineArgs,
            "S3 upload -> EventBridge -> Step Functions: validate, resize to each size, notify",
        ),
    ]
}
