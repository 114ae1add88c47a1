"""`big-fan`: SNS fan-out to queues, each selecting its slice by a subscription filter policy.

REST `POST /send` publishes the request body straight to an SNS topic (no function in the
request path) with the body's `status` as a message attribute. Each route is a queue
subscribed with raw delivery and a filter policy, so one publish reaches only the consumers
whose slice it belongs to (by default `created` to one queue, anything but `created` to the
other). Every queue has a DLQ, every subscription a redrive policy of its own, and every
consumer reports failed records individually.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging
from .core.api import RestStage, StageSpec, check_stage_name, regional_rest_api
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.queue import (
    SERIAL_CONSUMER,
    DurableQueue,
    QueueSpec,
    check_consumer_concurrency,
    maximum_concurrency,
)
from .core.settings import REGIONAL_WEB_ACL
from .core.sns_api import SnsPublishIntegration, publish_form
from .core.topic import TracedTopic, check_filter_policy

__all__ = ["DEFAULT_ROUTES", "BigFan", "BigFanArgs", "filter_combinations"]

STATUS_ATTRIBUTE = "status"
DEFAULT_ROUTES: Mapping[str, Mapping[str, Any]] = {
    "created": {STATUS_ATTRIBUTE: ["created"]},
    "other": {STATUS_ATTRIBUTE: [{"anything-but": ["created"]}]},
}
# Lower-case letters and digits: every child's name is `<route>-<role>`, so a hyphen could
# make one route's children collide with another's (`a` + `-dlq` and a route `a-dlq`).
_ROUTE = re.compile(r"^[a-z][a-z0-9]{0,31}$")
MAX_ROUTES = 20
MAX_COMBINATIONS = 150  # SNS's limit on a filter policy's total combinations
MAX_POLICY_BYTES = 256 * 1024
MAX_STATUS_LENGTH = 256


def filter_combinations(policy: Mapping[str, Any]) -> int:
    """How SNS counts a policy against its 150-combination limit: the product of each key's
    value count (nested keys multiply in), `$or` branches adding up."""
    total = 1
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list | tuple):
            total *= sum(filter_combinations(b) for b in value if isinstance(b, Mapping)) or 1
        elif isinstance(value, Mapping):
            total *= filter_combinations(value)
        elif isinstance(value, list | tuple):
            total *= max(len(value), 1)
    return total


def _check_route(name: object, policy: object, scope: str) -> None:
    if not isinstance(name, str) or not _ROUTE.match(name):
        raise ValueError(
            f"routes keys must be 1-32 lower-case letters and digits, starting with a letter "
            f"(got {name!r})"
        )
    where = f"routes[{name!r}]"
    if not isinstance(policy, Mapping):
        raise ValueError(f"routes: {where} must be a filter policy map (got {policy!r})")
    try:
        text = json.dumps(policy)
    except (TypeError, ValueError) as error:
        raise ValueError(f"routes: {where} is not JSON-serialisable ({error})") from error
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise ValueError(f"routes: {where} is over SNS's 256 KB filter policy limit")
    try:
        check_filter_policy({k: v for k, v in policy.items() if k != "$or"} or policy, where)
    except ValueError as error:
        raise ValueError(f"routes: {error}") from error
    if scope == "MessageAttributes":
        nested = [k for k, v in policy.items() if k != "$or" and isinstance(v, Mapping)]
        if nested:
            raise ValueError(
                f"routes: {where} nests {nested[0]!r}; message attributes are flat, so nesting "
                "needs filter_scope='MessageBody'"
            )
    combinations = filter_combinations(policy)
    if combinations > MAX_COMBINATIONS:
        raise ValueError(
            f"routes: {where} has {combinations} combinations; SNS allows at most "
            f"{MAX_COMBINATIONS}"
        )


@dataclass(frozen=True, kw_only=True)
class BigFanArgs(PatternArgs):
    """Arguments of `BigFan`.

    routes: route name -> the SNS filter policy of its queue's subscription. A name is 1-32
      lower-case letters and digits (it names the queue, DLQs and consumer); a policy maps
      attributes to lists of values or operators (`anything-but`, `prefix`, `numeric`,
      `exists`, ...), at most 5 keys and 150 combinations. The API sets one attribute,
      `status`. Default: `created` gets status `created`, `other` everything else.
    filter_scope: what the policies filter on: `MessageAttributes` (the `status` attribute)
      or `MessageBody` (fields of the JSON body, nesting allowed).
    consumer_concurrency: each consumer's reserved concurrency, which its queue's mapping
      also caps (SQS's floor for that cap is 2, so 1 relies on reserved concurrency alone:
      a warning in dev, refused in prod, where the pack's STACK-002 fails it).
    consumer_timeout_s: each consumer's timeout; its queue's visibility timeout is six times
      it plus the batching window.
    consumer_memory_size: each consumer's memory in MB.
    batch_size: messages per consumer invocation (1-10, up to 10000 with a batching window).
    batching_window_s: seconds a mapping waits to fill a batch (0-300).
    max_receive_count: receives before a message moves to its queue's DLQ.
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a regional WAFv2 web ACL for the stage; None associates none.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (SERIAL_CONSUMER,)

    routes: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(DEFAULT_ROUTES))
    filter_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    consumer_concurrency: int = 5
    consumer_timeout_s: int = 30
    consumer_memory_size: int = 256
    batch_size: int = 10
    batching_window_s: int = 0
    max_receive_count: int = defaults.DLQ_MAX_RECEIVE_COUNT
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    waf_acl_arn: str | None = None

    def __post_init__(self) -> None:
        if self.filter_scope not in ("MessageAttributes", "MessageBody"):
            raise ValueError(
                "filter_scope must be one of MessageAttributes, MessageBody "
                f"(got {self.filter_scope!r})"
            )
        if not isinstance(self.routes, Mapping) or not 1 <= len(self.routes) <= MAX_ROUTES:
            count = len(self.routes) if isinstance(self.routes, Mapping) else self.routes
            raise ValueError(f"routes must hold between 1 and {MAX_ROUTES} routes (got {count})")
        for name, policy in self.routes.items():
            _check_route(name, policy, self.filter_scope)
        check_consumer_concurrency(self.consumer_concurrency, self.settings)
        memory = (defaults.LAMBDA_MIN_MEMORY_MB, defaults.LAMBDA_MAX_MEMORY_MB)
        if not memory[0] <= self.consumer_memory_size <= memory[1]:
            raise ValueError(
                f"consumer_memory_size must be between {memory[0]} and {memory[1]} MB "
                f"(got {self.consumer_memory_size})"
            )
        if not 1 <= self.consumer_timeout_s <= defaults.LAMBDA_MAX_TIMEOUT_S:
            raise ValueError(
                f"consumer_timeout_s must be between 1 and {defaults.LAMBDA_MAX_TIMEOUT_S} "
                f"(got {self.consumer_timeout_s})"
            )
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
        if not 1 <= self.max_receive_count <= 1000:
            raise ValueError(
                f"max_receive_count must be between 1 and 1000 (got {self.max_receive_count})"
            )
        check_stage_name(self.stage_name)
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        self.queue_spec()
        self.stage_spec()

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(
            consumer_timeout_s=self.consumer_timeout_s,
            batching_window_s=self.batching_window_s,
            max_receive_count=self.max_receive_count,
        )

    def consumer_spec(self, route: str) -> FunctionSpec:
        return FunctionSpec(
            handler="consumer.handler",
            memory_size=self.consumer_memory_size,
            timeout_s=self.consumer_timeout_s,
            reserved_concurrency=self.consumer_concurrency,
            throttled=self.consumer_concurrency,
            environment={"ROUTE": route},
            description=f"Consumes the {route} slice of the fan-out",
        )

    @property
    def maximum_concurrency(self) -> int | None:
        return maximum_concurrency(self.consumer_concurrency)

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )


def send_template(topic_arn: str) -> str:
    """`POST /send`: the body, unchanged, as the message; its `status` as an attribute."""
    return publish_form(
        topic_arn,
        "$util.urlEncode($input.body)",
        {STATUS_ATTRIBUTE: "$util.urlEncode($input.path('$.status'))"},
    )


SEND_MODEL = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Send",
    "type": "object",
    "required": [STATUS_ATTRIBUTE],
    "properties": {
        STATUS_ATTRIBUTE: {"type": "string", "minLength": 1, "maxLength": MAX_STATUS_LENGTH}
    },
}


@dataclass
class Route:
    """One slice: its queue (+DLQ), subscription (+redrive DLQ), consumer and mapping."""

    queue: DurableQueue
    subscription: aws.sns.TopicSubscription
    consumer: LambdaFunction
    mapping: aws.lambda_.EventSourceMapping


class BigFan(Pattern):
    """REST POST /send -> SNS (status attribute) -> filtered SQS subscriptions -> consumers."""

    slug: ClassVar[str] = "big-fan"
    type_token: ClassVar[str] = "serverless-patterns:patterns:BigFan"

    def __init__(
        self,
        name: str,
        args: BigFanArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or BigFanArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "big_fan", architecture=settings.architecture, runtime=settings.runtime
        )
        self.topic = TracedTopic(scope, "topic")
        self.routes: dict[str, Route] = {}
        maximum = args.maximum_concurrency
        for route, policy in args.routes.items():
            queue = DurableQueue(
                scope,
                f"{route}-queue",
                args.queue_spec(),
                service_senders=[("sns.amazonaws.com", self.topic.arn)],
            )
            subscription = self.topic.subscribe_queue(
                route, queue, filter_policy=policy, filter_scope=args.filter_scope, raw=True
            )
            consumer = LambdaFunction(
                scope,
                f"{route}-consumer",
                args.consumer_spec(route),
                package=package,
                statements=[iam.sqs_consume(queue.arn)],
                service=self.slug,
            )
            mapping = aws.lambda_.EventSourceMapping(
                scope.child(f"{route}-consumer-mapping"),
                event_source_arn=queue.arn,
                function_name=consumer.arn,
                batch_size=args.batch_size,
                maximum_batching_window_in_seconds=args.batching_window_s,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config=(
                    aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=maximum)
                    if maximum is not None
                    else None
                ),
                opts=scope.opts(depends_on=[r for r in [consumer.policy] if r is not None]),
            )
            self.routes[route] = Route(queue, subscription, consumer, mapping)

        self._api(args)
        self.url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/send")
        self.topic_arn = self.topic.arn
        self.queue_urls = pulumi.Output.all(
            **{name: route.queue.url for name, route in self.routes.items()}
        )
        self.register_outputs(
            {"url": self.url, "topic_arn": self.topic_arn, "queue_urls": self.queue_urls}
        )

    def _api(self, args: BigFanArgs) -> None:
        scope = self.scope
        self.api = regional_rest_api(
            scope, "Big fan: POST /send publishes the body once; subscriptions pick their slice"
        )
        resource = aws.apigateway.Resource(
            scope.child("send-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="send",
            opts=scope.opts(),
        )
        model = aws.apigateway.Model(
            scope.child("send-model"),
            rest_api=self.api.id,
            name="Send",
            content_type="application/json",
            schema=json.dumps(SEND_MODEL),
            opts=scope.opts(),
        )
        validator = aws.apigateway.RequestValidator(
            scope.child("validator"),
            rest_api=self.api.id,
            name=scope.physical("validator"),
            validate_request_body=True,
            validate_request_parameters=False,
            opts=scope.opts(),
        )
        self.method = aws.apigateway.Method(
            scope.child("post-send"),
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method="POST",
            authorization="AWS_IAM",
            request_validator_id=validator.id,
            request_models={"application/json": model.name},
            opts=scope.opts(),
        )
        self.publish = SnsPublishIntegration(
            scope,
            "send",
            api=self.api,
            resource=resource,
            method=self.method,
            topic_arn=self.topic.arn,
            request_template=self.topic.arn.apply(send_template),
            refused_message="SNS refused the message (over 256 KB, or an invalid status)",
        )
        self.api_role = self.publish.role
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[self.method, *self.publish.routes],
            fingerprint=f"POST /send|{json.dumps(SEND_MODEL, sort_keys=True)}",
            waf_acl_arn=args.waf_acl_arn,
        )
