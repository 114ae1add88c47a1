"""Rule modules, one per group (a package when a group has several concerns); importing this
package registers every rule."""

from serverless_wa.rules import (  # noqa: F401
    apigw,
    apigw2,
    appsync,
    auth,
    dynamodb,
    events,
    iam,
    iam_grants,
    kinesis,
    lambda_,
    lambda_mappings,
    logs,
    pipes,
    s3,
    secrets,
    sfn,
    sns,
    sqs,
    stack,
    stack_consumers,
    stack_failure,
    stack_loops,
)
