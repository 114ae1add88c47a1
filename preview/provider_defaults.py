"""What the AWS provider adds before the engine calls the policy pack.

`Analyze` receives provider-checked inputs: defaults filled in for properties the program
left unset. `AnalyzeStack` receives outputs, where unset attributes carry the service's own
values. Only the types and properties the rules read are listed, each checked against the
provider's schema (a Lambda arrives with memorySize 128, timeout 3; a queue with
visibilityTimeoutSeconds 30; a table with billingMode PROVISIONED...).
"""

from __future__ import annotations

import copy
from typing import Any

CHECK_DEFAULTS: dict[str, dict[str, Any]] = {
    "aws:lambda/function:Function": {
        "memorySize": 128,
        "timeout": 3,
        "reservedConcurrentExecutions": -1,
        "packageType": "Zip",
        "publish": False,
    },
    "aws:sqs/queue:Queue": {
        "visibilityTimeoutSeconds": 30,
        "messageRetentionSeconds": 345600,
        "delaySeconds": 0,
        "maxMessageSize": 262144,
        "receiveWaitTimeSeconds": 0,
        "fifoQueue": False,
    },
    "aws:dynamodb/table:Table": {"billingMode": "PROVISIONED"},
    "aws:sfn/stateMachine:StateMachine": {"type": "STANDARD"},
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": {
        "maximumRetryAttempts": 2,
    },
    "aws:lambda/eventSourceMapping:EventSourceMapping": {"enabled": True},
    "aws:cloudwatch/logGroup:LogGroup": {"retentionInDays": 0},
}

# Service values of attributes a program left unset, as read back after a deployment.
SERVICE_OUTPUTS: dict[str, dict[str, Any]] = {
    "aws:lambda/function:Function": {
        "tracingConfig": {"mode": "PassThrough"},
        "architectures": ["x86_64"],
        "loggingConfig": {"logFormat": "Text"},
    },
    "aws:cloudwatch/logGroup:LogGroup": {"retentionInDays": 0},
    "aws:sfn/stateMachine:StateMachine": {
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
        "tracingConfiguration": {"enabled": False},
    },
    "aws:sns/topic:Topic": {"tracingConfig": "PassThrough"},
    "aws:apigateway/stage:Stage": {"xrayTracingEnabled": False},
}


def _merge(defaults: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        elif value is not None:
            merged[key] = value
    return merged


def checked_inputs(type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return _merge(CHECK_DEFAULTS.get(type_, {}), inputs)


def service_outputs(type_: str, outputs: dict[str, Any]) -> dict[str, Any]:
    return _merge(_merge(SERVICE_OUTPUTS.get(type_, {}), CHECK_DEFAULTS.get(type_, {})), outputs)
