"""`lifo-queue`: a LIFO task queue in front of a throughput-limited system.

Newer tasks are served first and stale ones are shed (TTL), so a slow downstream stays
useful during a spike: a DynamoDB table holds the tasks, its `byStatus` index (PK
`taskStatus`, SK `createdAt`) read descending is the queue, and every status change is a
conditional write, so no task is taken twice however many processors race. New tasks
reach the processor through the table's stream (INSERT only), a `trigger` function and an
SNS topic; the processor, whose reserved concurrency is the downstream's budget, drains for
up to `max_loop_s` and tail-calls itself through the topic while work remains. A claim is
a lease: a task whose processor died returns to the queue when the lease runs out (the
next run, or the `reclaim_schedule` wake-up, puts it back).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from .core import iam, packaging
from .core.alarms import metric_alarm
from .core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from .core.dead_letter import DeadLetterQueue
from .core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.schedule import ScheduleSpec, TargetSchedule
from .core.settings import REGIONAL_WEB_ACL
from .core.streams import StreamConsumer, StreamConsumerSpec
from .core.table import EPHEMERAL_TABLE_DEFAULTS, TableSpec, create_table
from .core.topic import TracedTopic

__all__ = ["DownstreamSpec", "LifoQueue", "LifoQueueArgs"]

INDEX_NAME = "byStatus"
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROCESSOR_MAX_EVENT_AGE_S = 600  # a trigger older than this is moot: a newer one follows
SAFETY_MARGIN_S = 5  # the processor keeps this back from its timeout (processor.py)
METRIC_NAMESPACE = "ServerlessPatterns"


@dataclass(frozen=True, kw_only=True)
class DownstreamSpec:
    """The throughput-limited system, as a module of `functions/lifo_queue/`.

    module: has `call(task) -> result` and raises `lifo.DownstreamBusy` at capacity and
      `lifo.InvalidTask` for a task that can never succeed (`downstream`, the example,
      validates an IP address).
    call_timeout_s: the longest one call may take; the processor's timeout must cover the
      loop plus one call, and a claim's lease must outlast the processor.
    """

    module: str = "downstream"
    call_timeout_s: int = 10

    def __post_init__(self) -> None:
        if not _MODULE.match(self.module):
            raise ValueError(f"downstream.module must be a module name (got {self.module!r})")
        if not 1 <= self.call_timeout_s <= 300:
            raise ValueError(
                f"downstream.call_timeout_s must be between 1 and 300 (got {self.call_timeout_s})"
            )


@dataclass(frozen=True, kw_only=True)
class LifoQueueArgs(PatternArgs):
    """Arguments of `LifoQueue`.

    downstream: the module the processor calls for each task (see DownstreamSpec).
    processor_concurrency: the processor's reserved concurrency, the downstream's budget
      (1 serves strictly newest first; more is safe, claims are conditional writes).
    processor_memory_size: the processor's memory in MB.
    batch_limit: PENDING tasks read per index page.
    max_loop_s: how long one processor run drains before it tail-calls itself.
    processor_timeout_s: the processor's timeout; more than max_loop_s plus one downstream
      call plus a safety margin.
    claim_timeout_s: a claim's lease; a TAKEN task older than this returns to the queue.
      At least processor_timeout_s, so a live processor never loses its task.
    max_attempts: claims before a task whose downstream call keeps raising is FAILURE.
    task_ttl_s: a task not processed within this is shed (TTL) and never processed.
    processed_ttl_s: how long SUCCESS and FAILURE tasks are kept for inspection.
    pending_age_alarm_s: alarm when the oldest PENDING task is older than this.
    reclaim_schedule: how often an idle queue wakes the processor to return expired claims
      (None: only new tasks wake it).
    create_api: a REST `POST /tasks` (IAM-authorised) in front of the `create` function;
      without it producers write with `tasks.put_task`.
    stage_name: with create_api, the REST stage's name (the URL's first path segment).
    throttle_rate: with create_api, the stage's steady-state request rate limit (requests
      per second).
    throttle_burst: with create_api, the stage's burst limit (requests).
    waf_acl_arn: with create_api, a regional WAFv2 web ACL for the stage; None associates
      none.
    table: an existing table with `taskId` (S) as key, GSI `byStatus` (`taskStatus` S,
      `createdAt` N), TTL on `expiresAt` and a NEW_IMAGE (or NEW_AND_OLD_IMAGES) stream;
      None makes a new one (on-demand, encrypted, TTL on `expiresAt`).
    topic: an existing SNS topic for the process signal (tracing Active, encrypted); None
      makes a new one (SNS's managed key, Active tracing, TLS only).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            EPHEMERAL_TABLE_DEFAULTS,
            "They are the table owner's to set; it also needs the byStatus index and a "
            "NEW_IMAGE stream.",
        ),
        Safeguard(
            "topic",
            ("Active tracing", "encryption", "a TLS-only topic policy"),
            "They are the topic owner's to set.",
        ),
    )

    downstream: DownstreamSpec = field(default_factory=DownstreamSpec)
    processor_concurrency: int = 1
    processor_memory_size: int = 256
    batch_limit: int = 10
    max_loop_s: int = 60
    processor_timeout_s: int = 90
    claim_timeout_s: int = 120
    max_attempts: int = 3
    task_ttl_s: int = 3600
    processed_ttl_s: int = 86_400
    pending_age_alarm_s: int = 900
    reclaim_schedule: str | None = "rate(5 minutes)"
    create_api: bool = False
    stage_name: str = "v1"
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    waf_acl_arn: str | None = None
    table: aws.dynamodb.Table | None = None
    topic: aws.sns.Topic | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.processor_concurrency <= 100:
            raise ValueError(
                f"processor_concurrency must be between 1 and 100 "
                f"(got {self.processor_concurrency})"
            )
        if not 1 <= self.batch_limit <= 100:
            raise ValueError(f"batch_limit must be between 1 and 100 (got {self.batch_limit})")
        if not 1 <= self.max_loop_s <= 840:
            raise ValueError(f"max_loop_s must be between 1 and 840 (got {self.max_loop_s})")
        needed = self.max_loop_s + self.downstream.call_timeout_s + SAFETY_MARGIN_S
        if not needed <= self.processor_timeout_s <= 900:
            raise ValueError(
                f"processor_timeout_s must be between {needed} (max_loop_s + "
                f"downstream.call_timeout_s + {SAFETY_MARGIN_S} s) and 900 "
                f"(got {self.processor_timeout_s})"
            )
        if not self.processor_timeout_s <= self.claim_timeout_s <= 43_200:
            raise ValueError(
                f"claim_timeout_s must be between processor_timeout_s "
                f"({self.processor_timeout_s}) and 43200 (got {self.claim_timeout_s})"
            )
        if not 1 <= self.max_attempts <= 10:
            raise ValueError(f"max_attempts must be between 1 and 10 (got {self.max_attempts})")
        if not 60 <= self.task_ttl_s <= 30 * 86_400:
            raise ValueError(f"task_ttl_s must be between 60 and 2592000 (got {self.task_ttl_s})")
        if not 60 <= self.processed_ttl_s <= 365 * 86_400:
            raise ValueError(
                f"processed_ttl_s must be between 60 and 31536000 (got {self.processed_ttl_s})"
            )
        if not 60 <= self.pending_age_alarm_s < self.task_ttl_s:
            raise ValueError(
                f"pending_age_alarm_s must be at least 60 and under task_ttl_s "
                f"({self.task_ttl_s}) (got {self.pending_age_alarm_s})"
            )
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        if self.reclaim_schedule is not None:
            ScheduleSpec(expression=self.reclaim_schedule, argument="reclaim_schedule")
        self.processor_spec()
        self.stage_spec()

    def processor_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="processor.handler",
            memory_size=self.processor_memory_size,
            timeout_s=self.processor_timeout_s,
            reserved_concurrency=self.processor_concurrency,
            throttled=self.processor_concurrency,
            description="Drains the LIFO queue newest first into the throughput-limited system",
        )

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def processor_environment(self) -> dict[str, str]:
        return {
            "DOWNSTREAM_MODULE": self.downstream.module,
            "BATCH_LIMIT": str(self.batch_limit),
            "MAX_LOOP_S": str(self.max_loop_s),
            "CLAIM_TIMEOUT_S": str(self.claim_timeout_s),
            "PROCESSED_TTL_S": str(self.processed_ttl_s),
            "MAX_ATTEMPTS": str(self.max_attempts),
            "PROCESSOR_CONCURRENCY": str(self.processor_concurrency),
        }


def tasks_table_spec() -> TableSpec:
    """The tasks table: ephemeral (TTL on `expiresAt`, no PITR), the `byStatus` queue index
    and a NEW_IMAGE stream for the trigger."""
    return TableSpec(
        hash_key=("taskId", "S"),
        ephemeral=True,
        stream_view_type="NEW_IMAGE",
        global_indexes={INDEX_NAME: ("taskStatus", "S")},
        index_sort_keys={INDEX_NAME: ("createdAt", "N")},
    )


def trigger_stream_spec() -> StreamConsumerSpec:
    """INSERT only: status updates and TTL deletions (REMOVE) never wake the processor."""
    return StreamConsumerSpec(
        starting_position="LATEST",
        batch_size=100,
        batching_window_s=1,
        max_retries=3,
        max_record_age_s=3600,
        event_names=("INSERT",),
    )


class LifoQueue(Pattern):
    """Tasks table (+ stream) -> trigger -> SNS `process` -> processor (reserved concurrency)."""

    slug: ClassVar[str] = "lifo-queue"
    type_token: ClassVar[str] = "serverless-patterns:patterns:LifoQueue"

    def __init__(
        self,
        name: str,
        args: LifoQueueArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or LifoQueueArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "lifo_queue", architecture=settings.architecture, runtime=settings.runtime
        )

        self.table = args.table or create_table(scope, "tasks", tasks_table_spec())
        self.topic = args.topic or self._topic()
        self.dlq = DeadLetterQueue(
            scope,
            "process-dlq",
            description="Process signals were given up on (SNS delivery or the processor)",
            service_senders=[("sns.amazonaws.com", self.topic.arn)],
        )
        publish = iam.Statement(["sns:Publish"], [self.topic.arn])
        index_arn = self.table.arn.apply(lambda arn: f"{arn}/index/{INDEX_NAME}")

        self.trigger_reader = StreamConsumer(scope, "trigger", self.table, trigger_stream_spec())
        self.trigger = LambdaFunction(
            scope,
            "trigger",
            FunctionSpec(
                handler="trigger.handler",
                timeout_s=10,
                environment={"TOPIC_ARN": self.topic.arn},
                description="Wakes the processor once per batch of new tasks",
            ),
            package=package,
            statements=[*self.trigger_reader.statements, publish],
            service=self.slug,
        )
        self.trigger_reader.attach(self.trigger)

        self.processor = LambdaFunction(
            scope,
            "processor",
            dataclasses.replace(
                args.processor_spec(),
                environment={
                    "TABLE_NAME": self.table.name,
                    "TOPIC_ARN": self.topic.arn,
                    **args.processor_environment(),
                },
                async_invoke=AsyncInvoke(
                    on_failure_arn=self.dlq.arn, maximum_event_age_s=PROCESSOR_MAX_EVENT_AGE_S
                ),
            ),
            package=package,
            statements=[
                iam.Statement(["dynamodb:Query"], [index_arn]),
                iam.Statement(["dynamodb:UpdateItem"], [self.table.arn]),
                publish,
                iam.sqs_send(self.dlq.arn),
            ],
            service=self.slug,
        )
        self.permission = aws.lambda_.Permission(
            scope.child("processor-invoke"),
            action="lambda:InvokeFunction",
            function=self.processor.function.name,
            principal="sns.amazonaws.com",
            source_arn=self.topic.arn,
            opts=scope.opts(),
        )
        self.subscription = aws.sns.TopicSubscription(
            scope.child("processor-subscription"),
            topic=self.topic.arn,
            protocol="lambda",
            endpoint=self.processor.arn,
            redrive_policy=self.dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn})),
            opts=scope.opts(depends_on=[self.permission, self.dlq.policy]),
        )
        self.backlog_alarm = metric_alarm(
            scope,
            "oldest-pending",
            namespace=METRIC_NAMESPACE,
            metric="OldestPendingTaskAge",
            dimensions={"service": self.slug, "queue": self.table.name},
            threshold=args.pending_age_alarm_s,
            evaluation_periods=3,
            period_s=300,
            description=f"The oldest PENDING task has waited over {args.pending_age_alarm_s} s",
        )

        self.reclaim: TargetSchedule | None = None
        if args.reclaim_schedule is not None:
            self.reclaim = TargetSchedule(
                scope,
                "reclaim",
                ScheduleSpec(expression=args.reclaim_schedule, argument="reclaim_schedule"),
                target_arn=self.topic.arn,
                target_statement=publish,
                input={"reason": "reclaim"},
                description="Wakes the processor to return expired claims to the queue",
            )

        self.create: LambdaFunction | None = None
        self.api: aws.apigateway.RestApi | None = None
        self.stage: RestStage | None = None
        self.api_url: pulumi.Output[str] | None = None
        if args.create_api:
            self._create_api(args, package)

        self.table_name = self.table.name
        self.process_topic_arn = self.topic.arn
        self.dlq_url = self.dlq.url
        outputs: dict[str, pulumi.Input[object]] = {
            "table_name": self.table_name,
            "process_topic_arn": self.process_topic_arn,
            "dlq_url": self.dlq_url,
        }
        if self.api_url is not None:
            outputs["api_url"] = self.api_url
        self.register_outputs(outputs)

    def _topic(self) -> aws.sns.Topic:
        """The process topic: SSE with SNS's AWS managed key (only roles of this account
        publish), Active tracing, TLS only."""
        return TracedTopic(self.scope, "process").topic

    def _create_api(self, args: LifoQueueArgs, package: packaging.Package) -> None:
        scope = self.scope
        self.create = LambdaFunction(
            scope,
            "create",
            FunctionSpec(
                handler="create.handler",
                timeout_s=5,
                environment={"TABLE_NAME": self.table.name, "TASK_TTL_S": str(args.task_ttl_s)},
                description="Queues one task (POST /tasks)",
            ),
            package=package,
            statements=[iam.dynamodb_put(self.table.arn)],
            service=self.slug,
        )
        self.api = regional_rest_api(scope, "LIFO task queue: POST /tasks queues a task")
        resource = aws.apigateway.Resource(
            scope.child("tasks-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="tasks",
            opts=scope.opts(),
        )
        model = aws.apigateway.Model(
            scope.child("task-model"),
            rest_api=self.api.id,
            name="Task",
            content_type="application/json",
            schema=json.dumps(
                {
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "type": "object",
                    "required": ["payload"],
                    "properties": {"taskId": {"type": "string"}},
                }
            ),
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
        method = aws.apigateway.Method(
            scope.child("post-tasks"),
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method="POST",
            authorization="AWS_IAM",
            request_validator_id=validator.id,
            request_models={"application/json": model.name},
            opts=scope.opts(),
        )
        routes = lambda_proxy(
            scope, self.api, resource, method, self.create, "create", "POST/tasks"
        )
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[method, *routes],
            fingerprint="post-tasks",
            waf_acl_arn=args.waf_acl_arn,
        )
        self.api_url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/tasks")
