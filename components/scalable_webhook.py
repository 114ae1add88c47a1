"""`scalable-webhook`: API Gateway -> SQS -> throttled consumer -> DynamoDB.

Bursts of webhook deliveries are accepted cheaply (API Gateway writes straight to SQS and
answers 202) and drained at a fixed pace by a consumer whose concurrency is capped below
what the backend can take; each delivery is written once (conditional put on its id).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import aws_context, defaults, iam, packaging
from .core.api import RestStage, StageSpec, check_stage_name, lambda_proxy, regional_rest_api
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.queue import (
    SERIAL_CONSUMER,
    DurableQueue,
    QueueSpec,
    check_consumer_concurrency,
    maximum_concurrency,
)
from .core.settings import REGIONAL_WEB_ACL, SECRET
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["ScalableWebhook", "ScalableWebhookArgs", "SignatureSpec"]

_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True, kw_only=True)
class SignatureSpec:
    """HMAC signature check in the consumer: the provider's header, the secret's ARN."""

    header: str
    secret_arn: str
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"

    def __post_init__(self) -> None:
        if not _HEADER.match(self.header):
            raise ValueError(f"signature.header must be an HTTP header name (got {self.header!r})")
        SECRET.check(self.secret_arn, "signature.secret_arn")
        if self.algorithm not in ("sha256", "sha1", "sha512"):
            raise ValueError(
                f"signature.algorithm must be one of sha256, sha1, sha512 (got {self.algorithm!r})"
            )


@dataclass(frozen=True, kw_only=True)
class ScalableWebhookArgs(PatternArgs):
    """Arguments of `ScalableWebhook`.

    ingest: `direct` (API Gateway -> SQS integration) or `lambda` (a publisher function that
      can reject a request before it is queued).
    consumer_concurrency: reserved concurrency of the consumer, kept under the backend's
      connection or rate budget; the SQS mapping's maximum concurrency follows it (SQS's
      floor is 2, so 1 relies on reserved concurrency alone: a warning in dev, refused in
      prod, where the pack's STACK-002 fails it).
    batch_size: deliveries per consumer invocation (1-10, up to 10000 with a batching window).
    batching_window_s: seconds the mapping waits to fill a batch (0-300).
    consumer_timeout_s: the consumer's timeout; the queue's visibility timeout is six times it.
    consumer_memory_size: the consumer's memory in MB.
    max_receive_count: receives before a delivery moves to the dead-letter queue.
    signature: an HMAC signature check in the consumer (`SignatureSpec`: header, secret ARN,
      algorithm); None checks no signature.
    delivery_id_header: the provider's delivery-id header; the dedupe key is
      `<source>#<delivery id>`, or with None `<source>#<SHA-256 of the body>`.
    sink_table: an existing table with partition key `id` (S); None makes a new one.
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a WAFv2 web ACL to associate with the stage; None associates none.
    api_key_required: callers send `x-api-key` (a usage plan with `daily_quota` and the stage
      throttle holds the key). Providers that cannot send a header set False: the route is
      then public, its deliveries checked by `signature` alone, and the stack's policy config
      needs an APIGW-008 exemption for it (docs/patterns/scalable-webhook.md).
    daily_quota: requests a day the usage plan allows the API key.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        SERIAL_CONSUMER,
        Safeguard("sink_table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "api_key_required",
            ("an API key on the route", "a usage plan with daily_quota"),
            "Anyone can post: check each delivery's `signature` and exempt APIGW-008.",
            off=False,
        ),
    )

    ingest: Literal["direct", "lambda"] = "direct"
    consumer_concurrency: int = 2
    batch_size: int = 10
    batching_window_s: int = 1
    consumer_timeout_s: int = 30
    consumer_memory_size: int = 256
    max_receive_count: int = defaults.DLQ_MAX_RECEIVE_COUNT
    signature: SignatureSpec | None = None
    delivery_id_header: str | None = None
    sink_table: aws.dynamodb.Table | None = None
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    waf_acl_arn: str | None = None
    api_key_required: bool = True
    daily_quota: int = 100_000

    def __post_init__(self) -> None:
        if self.daily_quota < 1:
            raise ValueError(f"daily_quota must be at least 1 (got {self.daily_quota})")
        if self.ingest not in ("direct", "lambda"):
            raise ValueError(f"ingest must be one of direct, lambda (got {self.ingest!r})")
        check_consumer_concurrency(self.consumer_concurrency, self.settings)
        if not 0 <= self.batching_window_s <= 300:
            raise ValueError(
                f"batching_window_s must be between 0 and 300 (got {self.batching_window_s})"
            )
        # SQS allows more than 10 per batch only with a batching window.
        max_batch = 10_000 if self.batching_window_s > 0 else 10
        if not 1 <= self.batch_size <= max_batch:
            raise ValueError(
                f"batch_size must be between 1 and {max_batch} with batching_window_s="
                f"{self.batching_window_s} (got {self.batch_size})"
            )
        if self.delivery_id_header is not None and not _HEADER.match(self.delivery_id_header):
            raise ValueError(
                f"delivery_id_header must be an HTTP header name (got {self.delivery_id_header!r})"
            )
        memory = (defaults.LAMBDA_MIN_MEMORY_MB, defaults.LAMBDA_MAX_MEMORY_MB)
        if not memory[0] <= self.consumer_memory_size <= memory[1]:
            raise ValueError(
                f"consumer_memory_size must be between {memory[0]} and {memory[1]} MB "
                f"(got {self.consumer_memory_size})"
            )
        check_stage_name(self.stage_name)
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        # QueueSpec (consumer_timeout_s), FunctionSpec and StageSpec check their own ranges.
        self.queue_spec()
        self.consumer_spec()
        self.stage_spec()

    def consumer_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="consumer.handler",
            memory_size=self.consumer_memory_size,
            timeout_s=self.consumer_timeout_s,
            reserved_concurrency=self.consumer_concurrency,
            throttled=self.consumer_concurrency,
            description="Drains webhook deliveries into the sink table at a fixed pace",
        )

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(
            consumer_timeout_s=self.consumer_timeout_s,
            batching_window_s=self.batching_window_s,
            max_receive_count=self.max_receive_count,
        )

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    @property
    def maximum_concurrency(self) -> int | None:
        return maximum_concurrency(self.consumer_concurrency)


def send_message_template(args: ScalableWebhookArgs) -> str:
    """The integration's VTL: the raw body plus `source`, `deliveryId`, `signature` attributes.

    One line on purpose (line breaks would land in the form body); optional headers are
    added only when present, since SQS rejects empty attribute values.
    """
    parts = [
        "Action=SendMessage&MessageBody=$util.urlEncode($input.body)",
        "#set($n = 1)",
        "&MessageAttribute.$n.Name=source&MessageAttribute.$n.Value.DataType=String"
        "&MessageAttribute.$n.Value.StringValue=$util.urlEncode($input.params('source'))",
    ]
    optional = [("deliveryId", args.delivery_id_header)]
    if args.signature is not None:
        optional.append(("signature", args.signature.header))
    for attribute, header in optional:
        if header is None:
            continue
        variable = f"$h_{attribute}"
        parts.append(
            f"#set({variable} = $input.params().header.get('{header}'))"
            f'#if({variable} && {variable} != "")#set($n = $n + 1)'
            f"&MessageAttribute.$n.Name={attribute}&MessageAttribute.$n.Value.DataType=String"
            f"&MessageAttribute.$n.Value.StringValue=$util.urlEncode({variable})#end"
        )
    return "".join(parts)


ACCEPTED_TEMPLATE = (
    '{"accepted": true, '
    '"messageId": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')"}'
)


class ScalableWebhook(Pattern):
    """REST `POST /webhook/{source}` -> SQS (+DLQ) -> throttled consumer -> DynamoDB."""

    slug: ClassVar[str] = "scalable-webhook"
    type_token: ClassVar[str] = "serverless-patterns:patterns:ScalableWebhook"

    def __init__(
        self,
        name: str,
        args: ScalableWebhookArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ScalableWebhookArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "scalable_webhook", architecture=settings.architecture, runtime=settings.runtime
        )

        self.queue = DurableQueue(scope, "deliveries", args.queue_spec())
        self.table = args.sink_table or create_table(
            scope, "deliveries", TableSpec(hash_key=("id", "S"))
        )

        consumer_env: dict[str, pulumi.Input[str]] = {"TABLE_NAME": self.table.name}
        consumer_statements = [iam.sqs_consume(self.queue.arn), iam.dynamodb_put(self.table.arn)]
        if args.signature is not None:
            consumer_env["SIGNATURE_SECRET_ARN"] = args.signature.secret_arn
            consumer_env["SIGNATURE_ALGORITHM"] = args.signature.algorithm
            consumer_statements.append(iam.secret_read(args.signature.secret_arn))
        self.consumer = LambdaFunction(
            scope,
            "consumer",
            dataclasses.replace(args.consumer_spec(), environment=consumer_env),
            package=package,
            statements=consumer_statements,
            service=self.slug,
        )
        maximum = args.maximum_concurrency
        self.mapping = aws.lambda_.EventSourceMapping(
            scope.child("consumer-mapping"),
            event_source_arn=self.queue.arn,
            function_name=self.consumer.arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=(
                aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=maximum)
                if maximum is not None
                else None
            ),
            opts=scope.opts(depends_on=[r for r in [self.consumer.policy] if r is not None]),
        )

        self.api = regional_rest_api(
            scope, "Webhook receiver: enqueues each delivery and answers 202"
        )
        webhook = aws.apigateway.Resource(
            scope.child("webhook-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="webhook",
            opts=scope.opts(),
        )
        self.source_resource = aws.apigateway.Resource(
            scope.child("source-resource"),
            rest_api=self.api.id,
            parent_id=webhook.id,
            path_part="{source}",
            opts=scope.opts(),
        )
        self.method = aws.apigateway.Method(
            scope.child("post"),
            rest_api=self.api.id,
            resource_id=self.source_resource.id,
            http_method="POST",
            authorization="NONE",
            api_key_required=args.api_key_required,
            request_parameters={"method.request.path.source": True},
            request_validator_id=aws.apigateway.RequestValidator(
                scope.child("validator"),
                rest_api=self.api.id,
                name=scope.physical("validator"),
                validate_request_parameters=True,
                validate_request_body=False,
                opts=scope.opts(),
            ).id,
            opts=scope.opts(),
        )
        self.publisher: LambdaFunction | None = None
        self.api_role: aws.iam.Role | None = None
        if args.ingest == "direct":
            routes = self._direct_integration(args)
        else:
            routes = self._publisher_integration(args, package)

        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[self.method, *routes],
            fingerprint=f"{args.ingest}|{args.api_key_required}|{send_message_template(args)}",
            waf_acl_arn=args.waf_acl_arn,
        )
        self.api_key: aws.apigateway.ApiKey | None = None
        if args.api_key_required:
            self._usage_plan(args)

        self.url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/webhook")
        self.queue_url = self.queue.url
        self.dlq_url = self.queue.dlq.url
        self.table_name = self.table.name
        outputs: dict[str, pulumi.Input[object]] = {
            "url": self.url,
            "queue_url": self.queue_url,
            "dlq_url": self.dlq_url,
            "table_name": self.table_name,
        }
        if self.api_key is not None:
            outputs["api_key_id"] = self.api_key.id
        self.register_outputs(outputs)

    def _usage_plan(self, args: ScalableWebhookArgs) -> None:
        """The API key callers send, in a usage plan with a quota and the stage's throttle."""
        scope = self.scope
        plan = aws.apigateway.UsagePlan(
            scope.child("usage-plan"),
            name=scope.physical("usage-plan"),
            api_stages=[
                aws.apigateway.UsagePlanApiStageArgs(
                    api_id=self.api.id, stage=self.stage.stage.stage_name
                )
            ],
            throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                rate_limit=args.throttle_rate, burst_limit=args.throttle_burst
            ),
            quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(
                limit=args.daily_quota, period="DAY"
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.api_key = aws.apigateway.ApiKey(
            scope.child("api-key"),
            name=scope.physical("api-key"),
            enabled=True,
            tags=scope.tags,
            opts=scope.opts(),
        )
        aws.apigateway.UsagePlanKey(
            scope.child("usage-plan-key"),
            key_id=self.api_key.id,
            key_type="API_KEY",
            usage_plan_id=plan.id,
            opts=scope.opts(),
        )

    def _direct_integration(self, args: ScalableWebhookArgs) -> list[pulumi.Resource]:
        scope = self.scope
        self.api_role, api_policy = iam.service_role(
            scope, "api", "apigateway.amazonaws.com", [iam.sqs_send(self.queue.arn)]
        )
        uri = pulumi.Output.all(
            aws_context.region(self), aws_context.account_id(self), self.queue.name
        ).apply(lambda v: f"arn:aws:apigateway:{v[0]}:sqs:path/{v[1]}/{v[2]}")
        integration = aws.apigateway.Integration(
            scope.child("sqs-integration"),
            rest_api=self.api.id,
            resource_id=self.source_resource.id,
            http_method=self.method.http_method,
            type="AWS",
            integration_http_method="POST",
            uri=uri,
            credentials=self.api_role.arn,
            passthrough_behavior="NEVER",
            request_parameters={
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            request_templates={"application/json": send_message_template(args)},
            opts=scope.opts(depends_on=[p for p in [api_policy] if p is not None]),
        )
        accepted = aws.apigateway.MethodResponse(
            scope.child("post-202"),
            rest_api=self.api.id,
            resource_id=self.source_resource.id,
            http_method=self.method.http_method,
            status_code="202",
            opts=scope.opts(),
        )
        accepted_integration = aws.apigateway.IntegrationResponse(
            scope.child("sqs-202"),
            rest_api=self.api.id,
            resource_id=self.source_resource.id,
            http_method=self.method.http_method,
            status_code=accepted.status_code,
            response_templates={"application/json": ACCEPTED_TEMPLATE},
            opts=scope.opts(depends_on=[integration]),
        )
        return [integration, accepted, accepted_integration]

    def _publisher_integration(
        self, args: ScalableWebhookArgs, package: packaging.Package
    ) -> list[pulumi.Resource]:
        scope = self.scope
        environment: dict[str, pulumi.Input[str]] = {"QUEUE_URL": self.queue.url}
        if args.signature is not None:
            environment["SIGNATURE_HEADER"] = args.signature.header
        if args.delivery_id_header is not None:
            environment["DELIVERY_ID_HEADER"] = args.delivery_id_header
        self.publisher = LambdaFunction(
            scope,
            "publisher",
            FunctionSpec(
                handler="publisher.handler",
                memory_size=256,
                timeout_s=10,
                environment=environment,
                description="Validates a webhook delivery and enqueues it",
            ),
            package=package,
            statements=[iam.sqs_send(self.queue.arn)],
            service=self.slug,
        )
        return lambda_proxy(
            scope,
            self.api,
            self.source_resource,
            self.method,
            self.publisher,
            "publisher",
            "POST/webhook/*",
        )
