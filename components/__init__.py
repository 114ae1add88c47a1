"""Serverless patterns for Pulumi: one ComponentResource per pattern, built on components.core.

Every pattern and its args are importable from here (`from components import ScalableWebhook,
ScalableWebhookArgs`); each pattern module's `__all__` adds the specs its args take.
"""

from components.authorized_api import AuthorizedApi, AuthorizedApiArgs
from components.big_fan import BigFan, BigFanArgs
from components.callback_workflow import CallbackWorkflow, CallbackWorkflowArgs
from components.cdc_data_lake import CdcDataLake, CdcDataLakeArgs
from components.circuit_breaker import CircuitBreakerService, CircuitBreakerServiceArgs
from components.destined_lambda import DestinedLambda, DestinedLambdaArgs
from components.dynamo_streamer import DynamoStreamer, DynamoStreamerArgs
from components.eventbridge_etl import EventBridgeEtl, EventBridgeEtlArgs
from components.image_pipeline import ImagePipeline, ImagePipelineArgs
from components.lambda_extension import ExtensionLayer, ExtensionLayerArgs
from components.leaderboard import Leaderboard, LeaderboardArgs
from components.lifo_queue import LifoQueue, LifoQueueArgs
from components.progress_tracking import ProgressTrackedWorkflow, ProgressTrackedWorkflowArgs
from components.queue_redrive import QueueRedrive, QueueRedriveArgs
from components.saga import Saga, SagaArgs
from components.scalable_webhook import ScalableWebhook, ScalableWebhookArgs
from components.scheduled_job import ScheduledJob, ScheduledJobArgs
from components.simple_webservice import SimpleWebservice, SimpleWebserviceArgs
from components.stream_workflow import StreamWorkflow, StreamWorkflowArgs
from components.table_archive import TableArchive, TableArchiveArgs
from components.table_event_pipes import TableEventPipes, TableEventPipesArgs
from components.waiting_room import WaitingRoom, WaitingRoomArgs
from components.websocket_api import WebSocketApi, WebSocketApiArgs
from components.xray_tracer import XRayTracer, XRayTracerArgs

__all__ = [
    "AuthorizedApi",
    "AuthorizedApiArgs",
    "BigFan",
    "BigFanArgs",
    "CallbackWorkflow",
    "CallbackWorkflowArgs",
    "CdcDataLake",
    "CdcDataLakeArgs",
    "CircuitBreakerService",
    "CircuitBreakerServiceArgs",
    "DestinedLambda",
    "DestinedLambdaArgs",
    "DynamoStreamer",
    "DynamoStreamerArgs",
    "EventBridgeEtl",
    "EventBridgeEtlArgs",
    "ExtensionLayer",
    "ExtensionLayerArgs",
    "ImagePipeline",
    "ImagePipelineArgs",
    "Leaderboard",
    "LeaderboardArgs",
    "LifoQueue",
    "LifoQueueArgs",
    "ProgressTrackedWorkflow",
    "ProgressTrackedWorkflowArgs",
    "QueueRedrive",
    "QueueRedriveArgs",
    "Saga",
    "SagaArgs",
    "ScalableWebhook",
    "ScalableWebhookArgs",
    "ScheduledJob",
    "ScheduledJobArgs",
    "SimpleWebservice",
    "SimpleWebserviceArgs",
    "StreamWorkflow",
    "StreamWorkflowArgs",
    "TableArchive",
    "TableArchiveArgs",
    "TableEventPipes",
    "TableEventPipesArgs",
    "WaitingRoom",
    "WaitingRoomArgs",
    "WebSocketApi",
    "WebSocketApiArgs",
    "XRayTracer",
    "XRayTracerArgs",
]
