# ruff: noqa: E501  (each entry is one finding's text, kept whole so it can be searched for)
"""What each rule's non-compliant examples must report: one entry per finding, in any order,
each a piece of the finding's problem text (between the resource and "Fix:").

tests/policies/test_rules.py checks every non-compliant example against its entry here, so a
rule that fires for the wrong reason, or once too often, fails; a new rule or example needs
its entry. Written down from the rules' output once and reviewed (issue #19); the LAMBDA-005
example is relative to today, so its entry leaves out the date.
"""

from __future__ import annotations

EXPECTED: dict[str, tuple[tuple[str, ...], ...]] = {
    "APIGW-001": (
        ("X-Ray tracing is false",),
        ("X-Ray tracing is unset (false)",),
    ),
    "APIGW-002": (
        ("access logging is off (no accessLogSettings destination or format)",),
        ("accessLogSettings has no format, so nothing is logged",),
    ),
    "APIGW-003": (
        ("access log format is not JSON, so its fields cannot be queried",),
        ("access log format is a JSON list, not an object",),
    ),
    "APIGW-004": (
        (
            "*/* method settings have throttling burst -1, rate -1, so the stage has no limit (both must be > 0)",
        ),
        ("no */* MethodSettings throttles this stage (usage plans limit only API-key callers)",),
        (
            "*/* method settings have throttling burst unset, rate unset, so the stage has no limit (both must be > 0)",
        ),
        ("no */* MethodSettings throttles this stage (usage plans limit only API-key callers)",),
    ),
    "APIGW-005": (
        ("execution logging level is OFF",),
        ("detailed metrics are off",),
        ("execution logging level is unset (OFF); detailed metrics are off",),
    ),
    "APIGW-006": (("data trace is on, so full request and response bodies are logged",),),
    "APIGW-007": (
        ("caching is on but cached responses are not encrypted",),
        ("caching is on but cached responses are not encrypted",),
    ),
    "APIGW-008": (
        ("POST method has authorization NONE and requires no API key",),
        ("GET method has authorization NONE and requires no API key",),
        ("OpenAPI body: POST /orders requires no authorizer and no API key",),
        ("OpenAPI body: POST /orders requires no authorizer and no API key",),
    ),
    "APIGW-009": (
        ("POST method has no request validator",),
        ("PATCH method has no request validator",),
        ("OpenAPI body: POST /orders has no request validator",),
        ("OpenAPI body: POST /orders has no request validator",),
    ),
    "APIGW-010": (
        ("stage of an API with endpoint type REGIONAL has no WAF web ACL",),
        ("stage of an API with endpoint type EDGE has no WAF web ACL",),
        ("stage of an API with endpoint type EDGE has no WAF web ACL",),
    ),
    "APIGW-011": (
        ("security policy TLS_1_0 is not one that requires TLS 1.2+",),
        ("security policy is unset, and the service default cannot be assumed",),
        ("security policy is unset, and the service default cannot be assumed",),
    ),
    "APIGW-012": (
        (
            "usage plan sets no throttleSettings.rateLimit, throttleSettings.burstLimit, quotaSettings.limit (0 means unset)",
        ),
        ("usage plan sets no throttleSettings.burstLimit (0 means unset)",),
    ),
    "APIGW-013": (
        ("endpoint type REGIONAL is not allowed here",),
        ("endpoint type EDGE is not allowed here",),
    ),
    "APIGW2-001": (
        ("access logging is off (no accessLogSettings destination or format)",),
        ("accessLogSettings has no destinationArn, so nothing is logged",),
        (
            "target (quick create) makes an automatic $default stage that writes no access "
            "logs; define an aws.apigatewayv2.Stage (and Route) instead of the Api's target",
        ),
    ),
    "APIGW2-002": (("access log format is not JSON, so its fields cannot be queried",),),
    "APIGW2-003": (
        ("default route throttling is unset, so only the account limits apply",),
        ("default route throttles at burst 0, rate 0 (both must be > 0)",),
        ("default route throttles at burst unset, rate 100 (both must be > 0)",),
        (
            "target (quick create) makes an automatic $default stage with no default route "
            "throttling; define an aws.apigatewayv2.Stage (and Route) instead of the Api's target",
        ),
    ),
    "APIGW2-004": (
        ("execution logging level is unset (OFF); detailed metrics are off",),
        ("execution logging level is OFF",),
        ("detailed metrics are off",),
    ),
    "APIGW2-005": (
        ("HTTP route $default (quick create target) has authorization NONE",),
        ("OpenAPI body: HTTP route GET /items has no authorizer",),
        ("HTTP route $default has authorization NONE",),
        ("WEBSOCKET route $connect has authorization NONE",),
        ("HTTP route POST /orders has authorization NONE",),
    ),
    "APIGW2-006": (
        ("CORS allows any origin ('*')",),
        ("CORS allows any origin ('*')",),
    ),
    "APPSYNC-001": (
        ("X-Ray tracing is false",),
        ("X-Ray tracing is unset (false)",),
    ),
    "APPSYNC-002": (
        ("logging is off (no logConfig)",),
        ("field log level is NONE",),
        ("logConfig has no cloudwatchLogsRoleArn, so AppSync cannot write logs",),
    ),
    "AUTH-001": (
        (
            "result caching is off (TTL 0), so the authorizer function runs on every request: its latency is added to each call and its throttling fails them",
        ),
        (
            "result caching is off (TTL 0), so the authorizer function runs on every request: its latency is added to each call and its throttling fails them",
        ),
        (
            "result caching is off (TTL 0), so the authorizer function runs on every request: its latency is added to each call and its throttling fails them",
        ),
    ),
    "COGNITO-001": (
        ("MFA is unset (OFF), so a stolen password alone signs in",),
        ("MFA is OFF, so a stolen password alone signs in",),
        ("MFA is OPTIONAL, so a stolen password alone signs in",),
    ),
    "COGNITO-002": (
        (
            "threat protection (advanced security) is unset (OFF): compromised credentials and risky sign-ins are not blocked",
        ),
        (
            "threat protection (advanced security) is AUDIT: compromised credentials and risky sign-ins are not blocked",
        ),
    ),
    "COGNITO-003": (
        (
            "deletion protection is unset (INACTIVE); a deleted pool and its users cannot be restored",
        ),
        ("deletion protection is INACTIVE; a deleted pool and its users cannot be restored",),
    ),
    "DDB-001": (
        ("point-in-time recovery is absent (off)",),
        ("point-in-time recovery is off",),
        ("point-in-time recovery is absent (off)",),
    ),
    "DDB-002": (
        (
            "billing mode PROVISIONED without application autoscaling for table ReadCapacityUnits, table WriteCapacityUnits",
        ),
        (
            "billing mode PROVISIONED without application autoscaling for table ReadCapacityUnits, table WriteCapacityUnits, index byCustomer ReadCapacityUnits, index byCustomer WriteCapacityUnits",
        ),
        (
            "billing mode PROVISIONED without application autoscaling for index byCustomer ReadCapacityUnits, index byCustomer WriteCapacityUnits",
        ),
        ("billing mode PROVISIONED without application autoscaling for table WriteCapacityUnits",),
    ),
    "DDB-003": (
        ("deletion protection is absent (off)",),
        ("deletion protection is off",),
    ),
    "DDB-004": (
        ("ephemeral table has TTL absent (off)",),
        ("ephemeral table has TTL off",),
        ("ephemeral table enables TTL without an attribute name",),
    ),
    "DDB-005": (
        (
            "consumer mapping filters on dynamodb.NewImage, but the stream view type is KEYS_ONLY, so the filter matches nothing",
        ),
        (
            "consumer pipe filters on dynamodb.OldImage, but the stream view type is NEW_IMAGE, so the filter matches nothing",
        ),
        (
            "consumer mapping filters on dynamodb.NewImage, but the stream view type is OLD_IMAGE, so the filter matches nothing",
        ),
    ),
    "DDB-006": (
        ("encryption uses the AWS owned key, not a customer-managed KMS key",),
        ("encryption uses the AWS owned key, not a customer-managed KMS key",),
        ("encryption uses the AWS managed key (no kmsKeyArn), not a customer-managed key",),
    ),
    "EVENTS-001": (
        ("no deadLetterConfig.arn: events that cannot be delivered are dropped",),
        ("no deadLetterConfig.arn: events that cannot be delivered are dropped",),
    ),
    "EVENTS-002": (
        ("no retryPolicy: the defaults retry 185 times for a day",),
        ("retryPolicy keeps the service defaults (185 attempts, 86400 s)",),
        ("retryPolicy keeps the service defaults (185 attempts, 86400 s)",),
    ),
    "EVENTS-003": (
        ("policy statement PutEvents grants * without an aws:PrincipalOrgID condition",),
        ("policy statement PutEvents grants * without an aws:PrincipalOrgID condition",),
        ("principal is * without an aws:PrincipalOrgID condition",),
    ),
    "EVENTS-004": (
        ("no target.deadLetterConfig.arn: events that cannot be delivered are dropped",),
    ),
    "EVENTS-005": (
        ("no target.retryPolicy: the defaults retry 185 times for a day",),
        ("target.retryPolicy keeps the service defaults (185 attempts, 86400 s)",),
    ),
    "EVENTS-006": (
        (
            "invalid scheduleExpression rate(5 minute): a rate above 1 takes the plural, rate(5 minutes)",
        ),
        (
            "invalid scheduleExpression cron(15 19 * * ?): cron needs six fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        (
            "invalid scheduleExpression at(2030-01-01T00:00:00): one-time at() schedules exist only in EventBridge Scheduler",
        ),
        (
            "invalid scheduleExpression cron(0 12 * * * *): cron needs '?' in exactly one of day-of-month and day-of-week",
        ),
        ("invalid scheduleExpression at(2030-02-30T00:00:00): not a valid date and time",),
    ),
    "EVENTS-007": (
        (
            "EventBridge rule runs on schedule rate(1 hour); EventBridge Scheduler has a per-target DLQ and retry policy, time zones and one-off schedules",
        ),
    ),
    "EVENTS-008": (("no kmsKeyArn: the schedule is encrypted with an AWS owned key",),),
    "IAM-001": (
        ("statement #0 allows dynamodb:*",),
        ("statement #0 allows *",),
        ("statement #0 allows everything but NotAction iam:*",),
    ),
    "IAM-002": (
        ('service role is allowed s3:Get* (RolePolicy "worker-role-policy" statement #0)',),
        ('service role is allowed dynamodb:Get* (RolePolicy "worker-role-policy" statement #0)',),
        ('service role is allowed lambda:Invoke* (RolePolicy "worker-role-policy" statement #0)',),
    ),
    "IAM-003": (
        ("attaches the AWS-managed policy AdministratorAccess",),
        ("attaches the AWS-managed policy AmazonS3FullAccess",),
        ("attaches the AWS-managed policy PowerUserAccess",),
        ("attaches the AWS-managed policy AmazonDynamoDBFullAccess",),
    ),
    "IAM-004": (
        ("statement #0 allows dynamodb:PutItem on Resource *",),
        ("statement #0 allows ssm:GetParameter on Resource *",),
        ("statement #0 allows kms:* on Resource *",),
    ),
    "IAM-005": (('shares its role with function "a"',),),
    "IAM-006": (
        (
            'function role is allowed lambda:InvokeFunction (RolePolicy "worker-role-policy" statement #0): functions call each other directly',
        ),
        (
            'function role is allowed lambda:* (RolePolicy "worker-role-policy" statement #0): functions call each other directly',
        ),
    ),
    "IAM-007": (
        ("an IAM user access key (Active) is created; workloads use roles",),
        ("an IAM user access key (Inactive) is created; workloads use roles",),
    ),
    "IAM-008": (
        (
            'statement #0 grants dynamodb:ListStreams on arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000, which never matches: it accepts only Resource "*"',
        ),
        (
            'statement #0 grants states:SendTaskSuccess on arn:aws:states:eu-west-1:123456789012:stateMachine:m, which never matches: it accepts only Resource "*"',
        ),
        (
            "statement #0 grants sqs:SendMessage on arn:aws:sns:eu-west-1:123456789012:topic, which never matches: it acts on queue",
        ),
    ),
    "IAM-009": (
        (
            "trust statement #0 lets events.amazonaws.com assume the role with no aws:SourceAccount or aws:SourceArn condition (confused deputy)",
        ),
        (
            "trust statement #0 lets states.amazonaws.com assume the role with no aws:SourceAccount or aws:SourceArn condition (confused deputy)",
        ),
    ),
    "IAM-010": (
        (
            'RolePolicy "publisher-policy" statement #0 allows events:PutEvents to default with no events:source condition, so it can publish events other workloads\' rules act on',
        ),
    ),
    "IAM-011": (
        (
            "service role (apigateway.amazonaws.com) attaches the AWS-managed policy AmazonAPIGatewayPushToCloudWatchLogs, which grants logs:GetLogEvents and logs:FilterLogEvents on Resource *",
        ),
        (
            "service role (lambda.amazonaws.com) attaches the AWS-managed policy AWSLambdaExecute, which grants s3:GetObject on every bucket on Resource *",
        ),
    ),
    "KINESIS-001": (
        ("encryption type is absent (NONE)",),
        ("encryption type is NONE",),
    ),
    "KINESIS-002": (
        ("Direct PUT delivery stream has server-side encryption absent (off)",),
        ("Direct PUT delivery stream has server-side encryption off",),
        ("server-side encryption key type is absent (AWS_OWNED_CMK), not CUSTOMER_MANAGED_CMK",),
    ),
    "KINESIS-003": (
        (
            "extended_s3 destination has CloudWatch error logging absent (off)",
            "extended_s3 destination has no errorOutputPrefix, so failed records mix with good ones",
        ),
        ("extended_s3 destination has no errorOutputPrefix, so failed records mix with good ones",),
        ("extended_s3 destination has CloudWatch error logging off",),
    ),
    "KINESIS-004": (
        ("stream has no KMS key, so it uses no customer-managed key",),
        ("stream uses the AWS managed key alias/aws/kinesis, not a customer-managed key",),
    ),
    "KINESIS-005": (
        (
            "prefix uses expressions but errorOutputPrefix lacks !{firehose:error-output-type}, "
            "so Firehose refuses the configuration and failure kinds would mix",
        ),
        ("prefix uses partition keys but dynamic partitioning is absent (off)",),
        ("dynamic partitioning with a 5 MiB buffer; it needs at least 64 MiB",),
    ),
    "KINESIS-006": (
        (
            "transformation function transform has a 900 s timeout; Firehose stops waiting "
            "after 300 s and retries the batch, so records are transformed twice or fail",
        ),
    ),
    "LAMBDA-001": (
        ("tracing mode is PassThrough, not Active",),
        ("tracing mode is absent (PassThrough), not Active",),
    ),
    "LAMBDA-002": (
        ("memory size is 128 MB, the provider default (not set explicitly)",),
        ("memory size is 128 MB, the provider default (not set explicitly)",),
    ),
    "LAMBDA-003": (
        ("timeout is 3 s, the provider default (not set explicitly)",),
        ("timeout is 3 s, the provider default (not set explicitly)",),
    ),
    "LAMBDA-004": (
        (
            "runtime python3.8 was deprecated on 2024-10-14 (function creation blocked from 2025-10-01, updates from 2025-11-01)",
        ),
        (
            "runtime nodejs16.x was deprecated on 2024-06-12 (function creation blocked from 2025-10-01, updates from 2025-11-01)",
        ),
    ),
    "LAMBDA-005": (("runtime python3.12 is deprecated on ",),),
    "LAMBDA-006": (("reserved concurrency is 0, so the function can never run",),),
    "LAMBDA-007": (
        ("log format is absent (Text), not JSON",),
        ("log format is Text, not JSON",),
        ("JSON logs set no applicationLogLevel",),
    ),
    "LAMBDA-008": (
        ("environment variable DB_PASSWORD looks like a secret held as a plain value",),
        ("environment variable stripe_api_key looks like a secret held as a plain value",),
        ("environment variable SLACK_VERIFICATION_CODE looks like a secret held as a plain value",),
        ("environment variable DATABASE_URL holds a URL with a password as a plain value",),
    ),
    "LAMBDA-009": (
        ("grants events.amazonaws.com without a source ARN",),
        ("grants principal * without a principal organization",),
        ("grants s3.amazonaws.com without a source account",),
        ("statement invoke grants principal * without a principal organization",),
    ),
    "LAMBDA-010": (("function URL authorization type is NONE (public)",),),
    "LAMBDA-011": (("recursive loop detection is switched off (Allow)",),),
    "LAMBDA-012": (
        ('no LogGroup "/aws/lambda/worker" in the stack, so Lambda creates it with no expiry',),
        ('log group "/aws/lambda/worker" never expires (retention 0)',),
        ('log group "/aws/lambda/worker" never expires (retention 0)',),
    ),
    "LAMBDA-013": (
        ("2 principals may invoke it (apigateway.amazonaws.com, events.amazonaws.com)",),
        ("2 principals may invoke it (apigateway.amazonaws.com, sns.amazonaws.com)",),
    ),
    "LAMBDA-014": (
        ("kinesis mapping has no on-failure destination, so failed batches are lost",),
        ("dynamodb mapping has no on-failure destination, so failed batches are lost",),
        ("dynamodb mapping has no on-failure destination, so failed batches are lost",),
    ),
    "LAMBDA-015": (
        (
            "kinesis mapping does not bisect failed batches",
            "kinesis mapping maximumRecordAgeInSeconds is absent (-1), so the record age is unbounded and one poison record blocks its shard",
            "kinesis mapping maximumRetryAttempts is absent (-1), so the retry count is unbounded and one poison record blocks its shard",
        ),
        (
            "dynamodb mapping maximumRetryAttempts is -1, so the retry count is unbounded and one poison record blocks its shard",
        ),
        ("kinesis mapping does not bisect failed batches",),
    ),
    "LAMBDA-016": (
        (
            "sqs mapping with batch size 10 does not report batch item failures, so one failed record retries the whole batch",
        ),
        (
            "dynamodb mapping with batch size 10 does not report batch item failures, so one failed record retries the whole batch",
        ),
        (
            "sqs mapping with batch size 5 does not report batch item failures, so one failed record retries the whole batch",
        ),
    ),
    "LAMBDA-017": (
        ("architectures is absent (x86_64), not arm64",),
        ("architectures is x86_64, not arm64",),
    ),
    "LAMBDA-018": (
        ("description is empty",),
        ("description is empty",),
    ),
    "LAMBDA-019": (
        ("reserved concurrency is not set (-1)",),
        ("reserved concurrency is not set (-1)",),
        ("reserved concurrency is 0, so the function can never run",),
    ),
    "LAMBDA-020": (("no dead-letter queue (deadLetterConfig.targetArn)",),),
    "LAMBDA-021": (
        ("the function is not attached to VPC subnets",),
        ("the function is not attached to VPC subnets",),
    ),
    "LAMBDA-022": (("environment variables are encrypted with the AWS-managed key, not a CMK",),),
    "LAMBDA-023": (("no code signing configuration",),),
    "LOGS-001": (
        ("retention is 0 (never expires)",),
        ("retention is 0 (never expires)",),
        ("retention of 30 days is below the configured minimum",),
        ("retention of 3653 days is above the configured maximum",),
    ),
    "LOGS-002": (("log data is encrypted with the service key, not a customer-managed key",),),
    "PIPES-001": (
        (
            "log level is absent (OFF), so the pipe records nothing",
            "logConfiguration has no CloudWatch Logs, Firehose or S3 destination",
        ),
        ("log level is OFF, so the pipe records nothing",),
        ("logConfiguration has no CloudWatch Logs, Firehose or S3 destination",),
        ("includeExecutionDatas ALL writes event payloads to the log",),
    ),
    "PIPES-002": (
        (
            "dynamodb stream pipe has no dynamodbStreamParameters.deadLetterConfig.arn (failed records are dropped)",
        ),
        (
            "dynamodbStreamParameters.maximumRetryAttempts is absent (infinite), so one bad record blocks its shard",
        ),
        (
            "dynamodbStreamParameters.maximumRetryAttempts is -1 (infinite), so one bad record blocks its shard",
        ),
        (
            "kinesisStreamParameters.maximumRecordAgeInSeconds is -1 (infinite), so one bad record blocks its shard",
            "kinesisStreamParameters.onPartialBatchItemFailure is absent, not AUTOMATIC_BISECT",
        ),
        (
            "kinesis stream pipe has no kinesisStreamParameters.deadLetterConfig.arn (failed records are dropped)",
            "kinesisStreamParameters.maximumRecordAgeInSeconds is absent (infinite), so one bad record blocks its shard",
            "kinesisStreamParameters.maximumRetryAttempts is absent (infinite), so one bad record blocks its shard",
            "kinesisStreamParameters.onPartialBatchItemFailure is absent, not AUTOMATIC_BISECT",
        ),
    ),
    "S3-001": (
        (
            "blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets are false or unset",
        ),
        ("blockPublicPolicy is false or unset",),
        ("blockPublicPolicy, restrictPublicBuckets are false or unset",),
    ),
    "S3-002": (
        ("canned ACL is public-read",),
        ("canned ACL is authenticated-read",),
        ("canned ACL is public-read-write",),
        ("canned ACL is public-read",),
        ("ACL grants access to AllUsers",),
        (
            "policy statement PublicRead allows s3:GetObject to Principal * with no aws:SourceArn, SourceAccount, PrincipalOrgID or SourceVpce condition",
        ),
        (
            "policy statement PublicRead allows s3:GetObject to Principal * with no aws:SourceArn, SourceAccount, PrincipalOrgID or SourceVpce condition",
        ),
    ),
    "S3-003": (
        ("bucket has no BucketPublicAccessBlock",),
        ("bucket has no BucketPublicAccessBlock",),
        ("bucket has no BucketPublicAccessBlock",),
    ),
    "S3-004": (
        ("bucket has no policy that would deny requests with aws:SecureTransport false",),
        ("bucket policy does not deny requests with aws:SecureTransport false",),
        ("bucket policy does not deny requests with aws:SecureTransport false",),
    ),
    "S3-005": (
        ("bucket has no BucketVersioning with status Enabled",),
        ("bucket has no BucketVersioning with status Enabled",),
        ("versioning status is Suspended, not Enabled",),
        ("versioning status is Disabled, not Enabled",),
    ),
    "S3-006": (
        ("bucket has no BucketLogging for server access logs",),
        ("bucket has no BucketLogging for server access logs",),
    ),
    "S3-007": (
        ("default encryption is SSE-S3 (AES256), not aws:kms or aws:kms:dsse",),
        ("default encryption is AES256, not aws:kms or aws:kms:dsse",),
        ("default encryption is AES256, not aws:kms or aws:kms:dsse",),
    ),
    "SECRETS-001": (
        (
            "secret has no SecretRotation: a leaked value stays valid until someone changes it by hand",
        ),
        ("secret rotates every 365 days, over the 90-day limit",),
        (
            "secret has no SecretRotation: a leaked value stays valid until someone changes it by hand",
        ),
        ("secret's rotation has no rotationRules, so it never repeats",),
    ),
    "SFN-001": (
        ("X-Ray tracing is absent (off)",),
        ("X-Ray tracing is false",),
    ),
    "SFN-002": (
        ("logging level is OFF, below ERROR",),
        ("logging level is OFF, below ERROR",),
        (
            "log destination is 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/states/m', not a log group ARN ending in ':*'",
        ),
        ("logging level is ERROR, below ALL",),
    ),
    "SFN-003": (
        ("Task state Fanout/Branch[0]/Resize has no Retry",),
        (
            "Task state Items/ItemProcessor/Load does not retry Lambda.AWSLambdaException, Lambda.SdkClientException, Lambda.ServiceException, Lambda.TooManyRequestsException with BackoffRate > 1",
        ),
        (
            "Task state Items/ItemProcessor/Load does not retry Lambda.AWSLambdaException, Lambda.SdkClientException, Lambda.TooManyRequestsException with BackoffRate > 1",
        ),
    ),
    "SFN-004": (
        (
            "Task state Record is not covered by a Catch on States.ALL that sets ResultPath and leads to a handler state",
        ),
        (
            "Task state Fanout/Branch[0]/Resize is not covered by a Catch on States.ALL that sets ResultPath and leads to a handler state",
        ),
        (
            "Task state Items/ItemProcessor/Load is not covered by a Catch on States.ALL that sets ResultPath and leads to a handler state",
        ),
        (
            "Task state Record is not covered by a Catch on States.ALL that sets ResultPath and leads to a handler state",
        ),
    ),
    "SFN-005": (
        (
            "Task state Items/ItemProcessor/Load has no TimeoutSeconds (the default is effectively unbounded)",
        ),
        ("Task state Record has no TimeoutSeconds (the default is effectively unbounded)",),
    ),
    "SFN-006": (
        ("Task state Approve waits for a callback without HeartbeatSeconds",),
        ("Task state Approve has HeartbeatSeconds 3600, not below TimeoutSeconds 3600",),
        (
            "Task state Fanout/Branch[0]/Resize waits for a callback without TimeoutSeconds or HeartbeatSeconds",
        ),
    ),
    "SFN-007": (
        ("Map state Items has no MaxConcurrency, so its iterations run unbounded",),
        ("Map state Items has MaxConcurrency 0, so its iterations run unbounded",),
    ),
    "SFN-008": (
        (
            "Task state Approve uses arn:aws:states:::sqs:sendMessage.waitForTaskToken, which EXPRESS workflows do not support",
        ),
        (
            "Task state Items/ItemProcessor/Load uses arn:aws:states:::states:startExecution.sync:2, which EXPRESS workflows do not support",
        ),
    ),
    "SFN-009": (("Map state Items uses the deprecated Iterator instead of ItemProcessor",),),
    "SNS-001": (
        ("sqs subscription has no redrive policy (failed deliveries are lost)",),
        ("redrive policy has no deadLetterTargetArn",),
    ),
    "SNS-002": (
        ("tracingConfig is PassThrough, not Active; subscribers orders-fn (lambda) follow traces",),
        ("tracingConfig is PassThrough, not Active; subscribers orders-queue (sqs) follow traces",),
        ("tracingConfig is PassThrough, not Active",),
    ),
    "SNS-003": (("no kmsMasterKeyId: the topic is not encrypted (SNS has no default)",),),
    "SNS-004": (
        (
            "policy statement #0 allows Principal * without an aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce condition",
        ),
        ("policy statement Admin allows action * (every sns action)",),
        ("policy statement AllowS3 allows s3.amazonaws.com without an aws:SourceArn condition",),
    ),
    "SNS-005": (
        ("topic has no policy, so nothing denies requests without TLS",),
        (
            "topic policy does not deny sns:Publish to every principal when aws:SecureTransport is false",
        ),
    ),
    "SQS-001": (
        ("queue has no redrive policy and is not a dead-letter queue of anything in this stack",),
        ("redrive policy has no maxReceiveCount",),
        ("queue has no redrive policy and is not a dead-letter queue of anything in this stack",),
    ),
    "SQS-002": (("sqsManagedSseEnabled is false and no kmsMasterKeyId is set (unencrypted)",),),
    "SQS-003": (
        (
            "policy statement #1 allows Principal * without an aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce condition",
        ),
        ("policy statement Everything allows action sqs:* (every sqs action)",),
        (
            "policy statement AllowEvents allows events.amazonaws.com without an aws:SourceArn condition",
        ),
    ),
    "SQS-004": (
        ("queue has no policy, so nothing denies requests without TLS",),
        ("queue policy does not deny sqs:* to every principal when aws:SecureTransport is false",),
        ("queue policy does not deny sqs:* to every principal when aws:SecureTransport is false",),
    ),
    "SQS-005": (
        ('maxReceiveCount is 2 on a queue that feeds Lambda mapping "mapping" (minimum 5)',),
        ('maxReceiveCount is 1 on a queue that feeds Lambda mapping "mapping" (minimum 5)',),
    ),
    "SQS-006": (
        ("no kmsMasterKeyId: the queue is not encrypted with a customer-managed key",),
        ("kmsMasterKeyId is the AWS managed key alias/aws/sqs, not a customer key",),
    ),
    "STACK-001": (
        ("throttled consumer (it drains a queue) has reserved concurrency unset",),
        ("reserved concurrency 5 exceeds the downstream budget 3",),
        ("throttled consumer (it is tagged wa:throttled-consumer) has reserved concurrency unset",),
    ),
    "STACK-002": (
        ("SQS maximumConcurrency 10 exceeds reserved concurrency 2",),
        (
            "SQS mapping mapping sets no scalingConfig.maximumConcurrency, so the poller can outrun reserved concurrency 2",
        ),
    ),
    "STACK-003": (
        (
            "reserved concurrency totals 950 over 2 functions (this one reserves 850), above the 900 the account limit leaves after the 100 unreserved executions AWS requires",
        ),
        (
            "reserved concurrency totals 450 over 1 function (this one reserves 450), above the 400 the account limit leaves after the 100 unreserved executions AWS requires",
        ),
    ),
    "STACK-004": (
        (
            'is invoked asynchronously by EventTarget "target" but has neither an on-failure destination nor a DLQ, so failed events are dropped',
        ),
        (
            'is invoked asynchronously by Permission "invoke" but has neither an on-failure destination nor a DLQ, so failed events are dropped',
        ),
        (
            'is invoked asynchronously by FunctionEventInvokeConfig "async" but has neither an on-failure destination nor a DLQ, so failed events are dropped',
        ),
        (
            'is invoked asynchronously by EventTarget "target" but has neither an on-failure destination nor a DLQ, so failed events are dropped',
        ),
    ),
    "STACK-005": (
        (
            "DLQ keeps messages 345600 s (4 days), less than the required 1209600 s (14 days)",
            'DLQ retention 345600 s (4 days) is not longer than that of its source queue "jobs" (345600 s (4 days)), so redriven messages expire early',
        ),
        (
            "DLQ keeps messages 345600 s (4 days), less than the required 1209600 s (14 days)",
            'DLQ retention 345600 s (4 days) is not longer than that of its source queue "jobs" (345600 s (4 days)), so redriven messages expire early',
        ),
        (
            'DLQ retention 1209600 s (14 days) is not longer than that of its source queue "jobs" (1209600 s (14 days)), so redriven messages expire early',
        ),
        ("DLQ keeps messages 86400 s (1 days), less than the required 1209600 s (14 days)",),
    ),
    "STACK-006": (
        ('FIFO queue sends failures to standard DLQ "jobs-dlq"; AWS needs both of the same type',),
        (
            'FIFO topic subscription sends failures to standard DLQ "sub-dlq"; AWS needs both of the same type',
        ),
        ('standard queue sends failures to FIFO DLQ "jobs-dlq"; AWS needs both of the same type',),
    ),
    "STACK-007": (
        (
            "DLQ has no alarm on AWS/SQS ApproximateNumberOfMessagesVisible, so failed messages pile up unnoticed",
        ),
        ('DLQ depth alarm "depth" has no alarmActions, so nobody is told',),
    ),
    "STACK-008": (
        (
            'no queue policy lets events.amazonaws.com send to this DLQ of EventTarget "target", so failed events are dropped',
        ),
        ("the queue policy lets sns.amazonaws.com send without an aws:SourceArn condition",),
        (
            "DLQ is encrypted with the AWS-managed key alias/aws/sqs, which events.amazonaws.com cannot use",
        ),
        (
            'its failure destination "worker-dlq" is not writable: role "worker-role" is not allowed sqs:SendMessage on it, so failed events are dropped',
        ),
        (
            'its failure destination "failures" is not writable: role "worker-role" is not allowed sns:Publish on it, so failed events are dropped',
        ),
    ),
    "STACK-009": (
        (
            'visibility timeout 30 s is below 6 x function timeout 10 s + batching window 0 s = 60 s (mapping "mapping"), so messages reappear while still being processed',
        ),
        (
            'visibility timeout 60 s is below 6 x function timeout 10 s + batching window 5 s = 65 s (mapping "mapping"), so messages reappear while still being processed',
        ),
        (
            'visibility timeout 100 s is below 6 x function timeout 20 s + batching window 0 s = 120 s (mapping "slow-mapping"), so messages reappear while still being processed',
        ),
    ),
    "STACK-010": (
        (
            'timeout 30 s outlasts API integration "integration" (29 s), so clients get a 504 while the function keeps running',
        ),
        (
            'timeout 30 s outlasts API integration "integration" (29 s), so clients get a 504 while the function keeps running',
        ),
        (
            'timeout 15 s outlasts API integration "integration" (10 s), so clients get a 504 while the function keeps running',
        ),
    ),
    "STACK-011": (
        (
            'Lambda task Resize times out after 10 s, before function "resize" (30 s), so it retries while the first call runs',
        ),
        (
            'Lambda task Fanout/Branch[0]/Resize times out after 5 s, before function "resize" (10 s), so it retries while the first call runs',
        ),
    ),
    "STACK-012": (
        (
            'does not trace, but Stage "stage" on the same invocation path does, so the trace breaks here',
        ),
        (
            'does not trace, but Stage "stage" on the same invocation path does, so the trace breaks here',
        ),
        (
            'does not trace, but StateMachine "workflow" on the same invocation path does, so the trace breaks here',
        ),
        (
            'does not trace, but Function "connect" on the same invocation path does, so the trace breaks here',
        ),
        (
            'does not trace, but Stage "stage" on the same invocation path does, so the trace breaks here',
        ),
        (
            'does not trace, but Function "handler" on the same invocation path does, so the trace breaks here',
        ),
    ),
    "STACK-013": (
        ("traces but its role role may not xray:PutTraceSegments, xray:PutTelemetryRecords",),
        ("traces Active but no X-Ray resource policy lets sns.amazonaws.com write segments",),
    ),
    "STACK-014": (
        ("logs to elsewhere, which no LogGroup in the stack manages",),
        ("execution logs go to API-Gateway-Execution-Logs_abc123/v1, which never expires",),
    ),
    "STACK-015": (
        ("rate limit 100/s x 500 ms needs 50 concurrent executions of fn, which reserves 2",),
    ),
    "STACK-016": (
        (
            "reads a dynamodb stream its role role can write to, with no filter (add an event-name or marker-attribute filter against write-back loops)",
        ),
    ),
    "STACK-017": (
        (
            "triggers fn, which may write back to the same bucket, with no filterPrefix or filterSuffix",
        ),
    ),
    "STACK-018": (
        (
            "its stream has 3 readers (a, b, c); at most 2 per shard avoid throttling (fan out through one pipe into EventBridge)",
        ),
        (
            "its stream has 2 readers (a, b); at most 1 per shard avoid throttling (fan out through one pipe into EventBridge)",
        ),
    ),
    "STACK-019": (("no alarm on ApproximateAgeOfOldestMessage of queue jobs",),),
    "STACK-020": (("is not built by a component of the pattern library",),),
    "STACK-021": (
        (
            "wa:exempt:LAMBDA-001 must be '<YYYY-MM-DD> <reason>' with a reason of at least 10 characters (got 'soon, promise')",
        ),
        (
            "wa:exempt:LAMBDA-001 must be '<YYYY-MM-DD> <reason>' with a reason of at least 10 characters (got '2099-01-01 ok')",
        ),
        ("exempts unknown rule id 'NOPE-001'",),
        ("wa:exempt:LAMBDA-001 expired on 2001-01-01",),
    ),
}
