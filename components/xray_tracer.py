"""`xray-tracer`: a traced fan-out, REST -> SNS -> Lambda, SQS, DynamoDB, HTTP and SNS flows.

A reference topology defined by how it reports to X-Ray rather than by what it computes:
`GET /{proxy+}` publishes the request path straight to the `fanout` topic (an `AWS`
integration, no function), and each enabled flow picks it up. `dynamo` counts hits per path
in a table, `sqs` forwards the path through a queue to a consumer, `http` calls an external
URL (explicit timeouts, optional injected faults), `sns` republishes to a `second` topic
and its consumer. Every hop traces (the stage, both topics Active, every function Active)
and every function annotates `flow` and `path`, so one X-Ray group per flow shows that
flow's service map, and one alarm per group watches its fault rate.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging
from .core.alarms import MetricRef, rate_alarm
from .core.api import RestStage, StageSpec, check_stage_name, regional_rest_api
from .core.dead_letter import DeadLetterQueue
from .core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.queue import DurableQueue, QueueSpec, check_consumer_concurrency
from .core.settings import REGIONAL_WEB_ACL
from .core.sns_api import SnsPublishIntegration, publish_form
from .core.table import EPHEMERAL_TABLE_DEFAULTS, TableSpec, create_table
from .core.topic import TracedTopic

__all__ = ["FLOWS", "XRayTracer", "XRayTracerArgs"]

Flow = Literal["dynamo", "sqs", "http", "sns"]
FLOWS: tuple[Flow, ...] = ("dynamo", "sqs", "http", "sns")
FUNCTION_TIMEOUT_S = 10
MEMORY_MB = 256  # 128 is the provider's default, which reads as "not set" (LAMBDA-002)
HTTP_BACKOFF_MARGIN_S = 1  # the retry's backoff and the handler's own work
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
# The path (after `/`) is the message: `%2F` is the URL-encoded leading slash.
MESSAGE = "%2F$util.urlEncode($input.params('proxy'))"


def group_filter(flow: str, entry_function: str) -> str:
    """Traces of one flow of this instance: annotated with the flow, through its function."""
    return f'annotation.flow = "{flow}" AND service("{entry_function}")'


@dataclass(frozen=True, kw_only=True)
class XRayTracerArgs(PatternArgs):
    """Arguments of `XRayTracer`.

    flows: the flows subscribed to the `fanout` topic, any of `dynamo` (hit counter table),
      `sqs` (queue and consumer), `http` (external URL) and `sns` (second topic and consumer).
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a regional WAFv2 web ACL for the stage; None associates none.
    consumer_concurrency: the SQS consumer's reserved concurrency, and its mapping's maximum
      concurrency (SQS's floor is 2).
    http_target_url: the URL the `http` flow GETs (with `?path=<request path>`).
    http_connect_timeout_s: the `http` flow's connect timeout in seconds.
    http_read_timeout_s: the `http` flow's read timeout in seconds.
    http_retries: retries of a failed connection or a 502/503/504; every attempt, with its
      timeouts, must fit in the function's 10 s.
    failure_rate: the share of `http` flow calls that fail on purpose (0 to 1), so faults
      show on the service map and in the flow's group.
    xray_groups: one X-Ray group per flow (insights on) and one fault-rate alarm per group.
    group_alarm_threshold: a flow's fault rate (failed invocations of its functions over
      invocations of its entry function, per 5 minutes) above which its alarm fires.
    counter_ttl_days: a path not hit for this many days leaves the hit counter (TTL).
    log_retention_days: the retention of this pattern's log groups; None keeps the stack's.
    table: an existing hit counter table with partition key `path` (S) and TTL on
      `expiresAt`; None makes a new one (on-demand, encrypted, TTL).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            EPHEMERAL_TABLE_DEFAULTS,
            "They are the table owner's to set; it needs `path` (S) as its key.",
        ),
    )

    flows: tuple[Flow, ...] = FLOWS
    stage_name: str = "prod"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    waf_acl_arn: str | None = None
    consumer_concurrency: int = 2
    http_target_url: str = "https://checkip.amazonaws.com/"
    http_connect_timeout_s: float = 1.0
    http_read_timeout_s: float = 3.0
    http_retries: int = 1
    failure_rate: float = 0.0
    xray_groups: bool = True
    group_alarm_threshold: float = 0.05
    counter_ttl_days: int = 30
    log_retention_days: int | None = None
    table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        unknown = [flow for flow in self.flows if flow not in FLOWS]
        if unknown or not self.flows or len(set(self.flows)) != len(self.flows):
            raise ValueError(
                f"flows must be distinct values of {', '.join(FLOWS)}, at least one "
                f"(got {list(self.flows)})"
            )
        check_stage_name(self.stage_name)
        check_consumer_concurrency(
            self.consumer_concurrency, self.settings, floor=defaults.SQS_MIN_MAXIMUM_CONCURRENCY
        )
        if not _URL.match(self.http_target_url):
            raise ValueError(
                f"http_target_url must be an http(s) URL (got {self.http_target_url!r})"
            )
        for name in ("http_connect_timeout_s", "http_read_timeout_s"):
            value = getattr(self, name)
            if not 0.1 <= value <= FUNCTION_TIMEOUT_S:
                raise ValueError(
                    f"{name} must be between 0.1 and {FUNCTION_TIMEOUT_S} s (got {value})"
                )
        if not 0 <= self.http_retries <= 3:
            raise ValueError(f"http_retries must be between 0 and 3 (got {self.http_retries})")
        worst = self.http_worst_case_s
        if worst > FUNCTION_TIMEOUT_S - HTTP_BACKOFF_MARGIN_S:
            raise ValueError(
                f"http_retries + 1 attempts of http_connect_timeout_s + http_read_timeout_s "
                f"({worst:g} s) must fit in the function's {FUNCTION_TIMEOUT_S} s less "
                f"{HTTP_BACKOFF_MARGIN_S} s"
            )
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1 (got {self.failure_rate})")
        if not 0.0 < self.group_alarm_threshold <= 1.0:
            raise ValueError(
                f"group_alarm_threshold must be above 0 and at most 1 "
                f"(got {self.group_alarm_threshold})"
            )
        if not 1 <= self.counter_ttl_days <= 3650:
            raise ValueError(
                f"counter_ttl_days must be between 1 and 3650 (got {self.counter_ttl_days})"
            )
        if (
            self.log_retention_days is not None
            and self.log_retention_days not in defaults.VALID_LOG_RETENTION_DAYS
        ):
            allowed = ", ".join(str(d) for d in defaults.VALID_LOG_RETENTION_DAYS)
            raise ValueError(
                f"log_retention_days must be one of {allowed} (got {self.log_retention_days})"
            )
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        self.stage_spec()

    @property
    def http_worst_case_s(self) -> float:
        attempts = self.http_retries + 1
        return attempts * (self.http_connect_timeout_s + self.http_read_timeout_s)

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def http_environment(self) -> dict[str, str]:
        return {
            "HTTP_TARGET_URL": self.http_target_url,
            "HTTP_CONNECT_TIMEOUT_S": f"{self.http_connect_timeout_s:g}",
            "HTTP_READ_TIMEOUT_S": f"{self.http_read_timeout_s:g}",
            "HTTP_RETRIES": str(self.http_retries),
            "FAILURE_RATE": f"{self.failure_rate:g}",
        }


def hit_counter_spec() -> TableSpec:
    """One item per request path; ephemeral: a path nobody calls ages out (TTL)."""
    return TableSpec(hash_key=("path", "S"), ephemeral=True)


def fanout_template(topic_arn: str) -> str:
    """`GET /{proxy+}`: the request path is the message."""
    return publish_form(topic_arn, MESSAGE)


@dataclass
class TracedFlow:
    """One flow: the function the fanout topic invokes, the functions behind it, its group
    and its fault-rate alarm (None without `xray_groups`)."""

    entry: LambdaFunction
    subscription: aws.sns.TopicSubscription
    functions: list[LambdaFunction]
    group: aws.xray.Group | None = None
    alarm: aws.cloudwatch.MetricAlarm | None = None


class XRayTracer(Pattern):
    """REST GET /{proxy+} -> SNS fanout -> dynamo, sqs, http and sns flows, all traced."""

    slug: ClassVar[str] = "xray-tracer"
    type_token: ClassVar[str] = "serverless-patterns:patterns:XRayTracer"

    def __init__(
        self,
        name: str,
        args: XRayTracerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or XRayTracerArgs()
        if args.log_retention_days is not None:
            settings = dataclasses.replace(
                args.settings, log_retention_days=args.log_retention_days
            )
            args = dataclasses.replace(args, settings=settings)
        super().__init__(name, args, opts)
        scope = self.scope
        self.package = packaging.build(
            "xray_tracer", architecture=args.settings.architecture, runtime=args.settings.runtime
        )

        self.fanout = TracedTopic(scope, "fanout")
        self.failures = DeadLetterQueue(
            scope,
            "failed-invocations",
            description="An SNS-invoked function failed all its attempts",
        )
        self.table: aws.dynamodb.Table | None = None
        self.queue: DurableQueue | None = None
        self.second: TracedTopic | None = None
        self.flows: dict[str, TracedFlow] = {}
        builders: dict[Flow, Callable[[XRayTracerArgs], TracedFlow]] = {
            "dynamo": self._dynamo_flow,
            "sqs": self._sqs_flow,
            "http": self._http_flow,
            "sns": self._sns_flow,
        }
        for flow in args.flows:
            self.flows[flow] = builders[flow](args)
        if args.xray_groups:
            for name, traced in self.flows.items():
                self._group(name, traced, args)
        self._api(args)

        self.url = self.stage.invoke_url
        self.topic_arn = self.fanout.arn
        self.group_names = [t.group.group_name for t in self.flows.values() if t.group]
        outputs: dict[str, pulumi.Input[object]] = {
            "url": self.url,
            "topic_arn": self.topic_arn,
            "group_names": self.group_names,
            "failures_queue_url": self.failures.url,
        }
        # The table and the queue exist only with the flows that use them.
        self.table_name = self.table.name if self.table is not None else None
        self.queue_url = self.queue.url if self.queue is not None else None
        if self.table_name is not None:
            outputs["table_name"] = self.table_name
        if self.queue_url is not None:
            outputs["queue_url"] = self.queue_url
        self.register_outputs(outputs)

    # --- functions ---------------------------------------------------------------------------

    def _function(
        self,
        suffix: str,
        handler: str,
        description: str,
        *,
        environment: dict[str, pulumi.Input[str]] | None = None,
        statements: list[iam.Statement] | None = None,
        invoked_by_sns: bool = True,
        concurrency: int | None = None,
    ) -> LambdaFunction:
        """A traced function of the pattern; SNS-invoked ones send failed events, after
        Lambda's retries, to the failed-invocations queue. `concurrency` reserves that many
        executions for a queue consumer."""
        grants = list(statements or [])
        if invoked_by_sns:
            grants.append(iam.sqs_send(self.failures.arn))
        return LambdaFunction(
            self.scope,
            suffix,
            FunctionSpec(
                handler=handler,
                memory_size=MEMORY_MB,
                timeout_s=FUNCTION_TIMEOUT_S,
                reserved_concurrency=concurrency,
                throttled=concurrency if concurrency is not None else False,
                environment=environment or {},
                description=description,
                async_invoke=(
                    AsyncInvoke(on_failure_arn=self.failures.arn) if invoked_by_sns else None
                ),
            ),
            package=self.package,
            statements=grants,
            service=self.slug,
        )

    def _subscribed(
        self, flow: str, function: LambdaFunction, *behind: LambdaFunction
    ) -> TracedFlow:
        subscription = self.fanout.subscribe_function(f"{flow}-flow", function)
        return TracedFlow(function, subscription, [function, *behind])

    def _dynamo_flow(self, args: XRayTracerArgs) -> TracedFlow:
        self.table = args.table or create_table(self.scope, "hits", hit_counter_spec())
        function = self._function(
            "dynamo-flow",
            "dynamo_flow.handler",
            "xray-tracer dynamo flow: counts hits per request path",
            environment={
                "TABLE_NAME": self.table.name,
                "COUNTER_TTL_S": str(args.counter_ttl_days * 86_400),
            },
            statements=[iam.Statement(["dynamodb:UpdateItem"], [self.table.arn])],
        )
        return self._subscribed("dynamo", function)

    def _sqs_flow(self, args: XRayTracerArgs) -> TracedFlow:
        scope = self.scope
        self.queue = DurableQueue(scope, "hops", QueueSpec(consumer_timeout_s=FUNCTION_TIMEOUT_S))
        function = self._function(
            "sqs-flow",
            "sqs_flow.handler",
            "xray-tracer sqs flow: forwards the request path to the hop queue",
            environment={"QUEUE_URL": self.queue.url},
            statements=[iam.sqs_send(self.queue.arn)],
        )
        consumer = self._function(
            "sqs-consumer",
            "sqs_consumer.handler",
            "xray-tracer sqs flow: consumes the hop queue",
            statements=[iam.sqs_consume(self.queue.arn)],
            invoked_by_sns=False,
            concurrency=args.consumer_concurrency,
        )
        self.sqs_mapping = aws.lambda_.EventSourceMapping(
            scope.child("sqs-consumer-mapping"),
            event_source_arn=self.queue.arn,
            function_name=consumer.arn,
            batch_size=10,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=args.consumer_concurrency
            ),
            opts=scope.opts(depends_on=[r for r in [consumer.policy] if r is not None]),
        )
        return self._subscribed("sqs", function, consumer)

    def _http_flow(self, args: XRayTracerArgs) -> TracedFlow:
        function = self._function(
            "http-flow",
            "http_flow.handler",
            "xray-tracer http flow: calls the external URL",
            environment=dict(args.http_environment()),
        )
        return self._subscribed("http", function)

    def _sns_flow(self, args: XRayTracerArgs) -> TracedFlow:
        self.second = TracedTopic(self.scope, "second")
        function = self._function(
            "sns-flow",
            "sns_flow.handler",
            "xray-tracer sns flow: republishes the request path to the second topic",
            environment={"SECOND_TOPIC_ARN": self.second.arn},
            statements=[iam.Statement(["sns:Publish"], [self.second.arn])],
        )
        consumer = self._function(
            "sns-consumer",
            "sns_consumer.handler",
            "xray-tracer sns flow: consumes the second topic",
        )
        self.second_subscription = self.second.subscribe_function("sns-consumer", consumer)
        return self._subscribed("sns", function, consumer)

    # --- X-Ray groups and their alarms ---------------------------------------------------------

    def _group(self, flow: str, traced: TracedFlow, args: XRayTracerArgs) -> None:
        scope = self.scope
        traced.group = aws.xray.Group(
            scope.child(f"{flow}-group"),
            group_name=scope.physical(flow, max_length=32),
            filter_expression=group_filter(flow, traced.entry.function_name),
            insights_configuration=aws.xray.GroupInsightsConfigurationArgs(
                insights_enabled=True, notifications_enabled=True
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        traced.alarm = rate_alarm(
            scope,
            f"{flow}-fault-rate",
            events=[
                MetricRef("AWS/Lambda", "Errors", {"FunctionName": f.name})
                for f in traced.functions
            ],
            total=MetricRef("AWS/Lambda", "Invocations", {"FunctionName": traced.entry.name}),
            threshold=args.group_alarm_threshold,
            description=(
                f"The {flow} flow (X-Ray group {scope.physical(flow, max_length=32)}) "
                f"failed more than {args.group_alarm_threshold:.0%} of its invocations"
            ),
        )

    # --- the API -------------------------------------------------------------------------------

    def _api(self, args: XRayTracerArgs) -> None:
        scope = self.scope
        self.api = regional_rest_api(
            scope, "X-Ray tracer: GET /{proxy+} publishes the request path to the fanout topic"
        )
        resource = aws.apigateway.Resource(
            scope.child("proxy-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="{proxy+}",
            opts=scope.opts(),
        )
        self.method = aws.apigateway.Method(
            scope.child("get-proxy"),
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method="GET",
            authorization="AWS_IAM",
            request_parameters={"method.request.path.proxy": True},
            opts=scope.opts(),
        )
        self.publish = SnsPublishIntegration(
            scope,
            "fanout",
            api=self.api,
            resource=resource,
            method=self.method,
            topic_arn=self.fanout.arn,
            request_template=self.fanout.arn.apply(fanout_template),
            refused_message="SNS refused the request path",
        )
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[self.method, *self.publish.routes],
            fingerprint=f"GET /{{proxy+}}|{MESSAGE}",
            waf_acl_arn=args.waf_acl_arn,
        )
