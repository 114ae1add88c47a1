"""Well-Architected defaults, in one place so components and tests read the same numbers."""

from __future__ import annotations

from typing import Final

# Lambda
RUNTIME: Final = "python3.13"
ARCHITECTURE: Final = "arm64"
TRACING_MODE: Final = "Active"
LOG_FORMAT: Final = "JSON"
APPLICATION_LOG_LEVEL: Final = "INFO"
SYSTEM_LOG_LEVEL: Final = "WARN"
LOG_RETENTION_DAYS: Final = 30
# Retention values CloudWatch Logs accepts (0 = never expire, which we never choose).
VALID_LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
LAMBDA_MAX_TIMEOUT_S: Final = 900
LAMBDA_MIN_MEMORY_MB: Final = 128
LAMBDA_MAX_MEMORY_MB: Final = 10240

# Powertools for AWS Lambda (Python) v3, AWS-managed layer, per Region; {region} is filled in.
POWERTOOLS_LAYER_VERSION: Final = 27
POWERTOOLS_LAYER_ACCOUNT: Final = "017000801446"
POWERTOOLS_LAYER_ARN: Final = (
    "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:"
    f"{POWERTOOLS_LAYER_VERSION}"
)

# Asynchronous invocation
ASYNC_MAX_RETRY_ATTEMPTS: Final = 2
ASYNC_MAX_EVENT_AGE_S: Final = 3600

# EventBridge rule targets: retried for an hour, then dead-lettered
EVENT_TARGET_RETRY_ATTEMPTS: Final = 8
EVENT_TARGET_MAX_EVENT_AGE_S: Final = 3600

# SQS
DLQ_MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION_S: Final = 14 * 24 * 3600  # the SQS maximum
QUEUE_RETENTION_S: Final = 4 * 24 * 3600
VISIBILITY_TIMEOUT_FACTOR: Final = 6  # AWS guidance: >= 6x the consumer's timeout
SQS_MIN_MAXIMUM_CONCURRENCY: Final = 2  # an SQS mapping's scalingConfig floor
SQS_MAX_MAXIMUM_CONCURRENCY: Final = 1000  # and its ceiling

# DynamoDB
BILLING_MODE: Final = "PAY_PER_REQUEST"
TTL_ATTRIBUTE: Final = "expiresAt"

# API Gateway REST stages
API_THROTTLE_RATE: Final = 100.0
API_THROTTLE_BURST: Final = 200
ACCESS_LOG_FORMAT: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "xrayTraceId": "$context.xrayTraceId",
    "errorMessage": "$context.error.message",
}

# API Gateway WebSocket stages (no X-Ray: access logs, execution logs and traced functions)
WEBSOCKET_THROTTLE_RATE: Final = 100.0
WEBSOCKET_THROTTLE_BURST: Final = 50
WEBSOCKET_EXECUTION_LOG_LEVEL: Final = "ERROR"
WEBSOCKET_MAX_CONNECTION_S: Final = 2 * 3600  # API Gateway closes every connection after 2 h
WEBSOCKET_ACCESS_LOG_FORMAT: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationError": "$context.integration.error",
    "errorMessage": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
}

# Alarms
ALARM_PERIOD_S: Final = 60
QUEUE_AGE_ALARM_S: Final = 300

# Tags that the policy pack reads (README: exemptions; docs/design.md).
TAG_THROTTLED_CONSUMER: Final = "wa:throttled-consumer"
TAG_DLQ: Final = "wa:dlq"
TAG_DATA: Final = "wa:data"
TAG_EXEMPT_PREFIX: Final = "wa:exempt:"
