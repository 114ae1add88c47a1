"""Serverless patterns for Pulumi: one ComponentResource per pattern, built on components.core.

Every pattern and its args are importable from here (`from components import ScalableWebhook,
ScalableWebhookArgs`); each pattern module's `__all__` adds the specs its args take.
"""

from .authorized_api import AuthorizedApi, AuthorizedApiArgs
from .big_fan import BigFan, BigFanArgs
from .callback_workflow import CallbackWorkflow, CallbackWorkflowArgs
from .cdc_data_lake import CdcDataLake, CdcDataLakeArgs
from .circuit_breaker import CircuitBreakerService, CircuitBreakerServiceArgs
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
