"""Rule modules, one per group; importing this package registers every rule."""

from serverless_wa.rules import (  # noqa: F401
    apigw,
    apigw2,
    appsync,
    dynamodb,
    events,
    iam,
    iam_grants,
    kinesis,
    lambda_,
    logs,
    pipes,
    s3,
    sfn,
    sns,
    sqs,
    stack,
    stack_failure,
)
