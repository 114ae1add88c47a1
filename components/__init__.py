"""Serverless patterns for Pulumi: one ComponentResource per pattern, built on components.core.

Every pattern and its args are importable from here (`from components import ScalableWebhook,
ScalableWebhookArgs`); each pattern module's `__all__` adds the specs its args take.
"""

from components.authorized_api import AuthorizedApi, AuthorizedApiArgs
from components.callback_workflow import CallbackWorkflow, CallbackWorkflowArgs
from components.lifo_queue import LifoQueue, LifoQueueArgs
from components.progress_tracking import ProgressTrackedWorkflow, ProgressTrackedWorkflowArgs
from components.queue_redrive import QueueRedrive, QueueRedriveArgs
from components.saga import Saga, SagaArgs
from components.scalable_webhook import ScalableWebhook, ScalableWebhookArgs
from components.stream_workflow import StreamWorkflow, StreamWorkflowArgs
from components.table_archive import TableArchive, TableArchiveArgs
from components.table_event_pipes import TableEventPipes, TableEventPipesArgs
from components.waiting_room import WaitingRoom, WaitingRoomArgs
from components.websocket_api import WebSocketApi, WebSocketApiArgs

__all__ = [
    "AuthorizedApi",
    "AuthorizedApiArgs",
    "CallbackWorkflow",
    "CallbackWorkflowArgs",
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
]
