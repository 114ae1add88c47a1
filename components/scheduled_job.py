"""`scheduled-job`: EventBridge Scheduler -> Lambda, with a retry policy, a DLQ and at most
one completed run per scheduled slot.

The schedule (rate(), cron() or a one-off at(), in a time zone, optionally with a flexible
window) invokes the `job` function asynchronously through a role only Scheduler of this
account may assume, which may invoke this function and send to the DLQ, nothing else. Its
input carries Scheduler's context attributes: the slot's scheduled time, the execution id
and the attempt number. Runs Scheduler cannot deliver (after `retry_attempts` within
`max_event_age_s`) and runs that keep failing in the function (after `async_retries`, the
function's invoke config) land in one DLQ, alarmed on depth. With `idempotency`, the
handler is a Powertools idempotent function keyed on schedule name + scheduled time, so a
retried slot never redoes finished work. The schedule is built by the library's one
Scheduler block, `components.core.schedule`, which also checks the expression.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging
from .core.alarms import metric_alarm
from .core.dead_letter import DeadLetterQueue
from .core.function import (
    FUNCTION_DEFAULTS,
    AsyncInvoke,
    FunctionSpec,
    LambdaFunction,
)
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.schedule import (
    ATTEMPT_NUMBER,
    EXECUTION_ID,
    SCHEDULED_TIME,
    ScheduleSpec,
    TargetSchedule,
    invoke_statement,
)
from .core.settings import KMS_KEY, SECRET
from .core.table import EPHEMERAL_TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["ScheduledJob", "ScheduledJobArgs"]

FUNCTION_SUFFIX = "job"
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROUP = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Set by the component; the job's own `environment` may not override them.
RESERVED_ENVIRONMENT = ("IDEMPOTENCY_TABLE", "IDEMPOTENCY_EXPIRY_S", "SECRET_ARN", "TASK_MODULE")
# Scheduler takes at most 8192 characters of input; the context attributes take the rest.
MAX_INPUT_CHARS = 7168
# A completed slot's record outlives every retry of it by at least this.
IDEMPOTENCY_MARGIN_S = 3600
MIN_IDEMPOTENCY_EXPIRY_S = 86_400
# What the component hardens, as a warning lists it when it is handed an existing resource.
ONCE_PER_SLOT = "one completed run per scheduled slot"
DLQ_DEFAULTS = ("encryption", "14 days of retention", "a TLS-only queue policy")


@dataclass(frozen=True, kw_only=True)
class ScheduledJobArgs(PatternArgs):
    """Arguments of `ScheduledJob`.

    schedule_expression: when the job runs: rate(1 minute|hour|day) or rate(N
      minutes|hours|days) for N > 1, a six-field cron(minutes hours day-of-month month
      day-of-week year) with `?` in exactly one day field, or a one-off
      at(yyyy-mm-ddThh:mm:ss), after which the schedule deletes itself.
    timezone: the IANA time zone cron() and at() are read in (e.g. Europe/Lisbon).
    flexible_window_min: 0 runs on time; N lets Scheduler start within N minutes (1-1440).
    input: a JSON object handed to the job as `input` beside the slot's context.
    retry_attempts: how often Scheduler retries a run it could not deliver (0-185).
    max_event_age_s: how long Scheduler keeps trying to deliver a run (60-86400 s).
    async_retries: how often Lambda retries a run that raised (0-2) before the DLQ.
    reserved_concurrency: caps the job's concurrent runs, for a job that calls a
      rate-limited dependency (marked as a throttled consumer); None leaves it uncapped.
    idempotency: at most one completed run per slot (schedule + scheduled time), recorded
      in a Powertools idempotency table.
    group: an existing schedule group's name; None uses the default group.
    state: ENABLED or DISABLED (the schedule is kept but does not run).
    kms_key_arn: a customer-managed KMS key for the schedule; None uses an AWS owned key.
    task: the module of `functions/scheduled_job/` whose `run(job, secret)` does the work
      (`task`, the template, logs and returns a summary).
    secret_arn: a Secrets Manager secret with the job's third-party key; the job reads it
      through Powertools parameters (only the ARN is in the environment); None: no key.
    memory_size: the job function's memory in MB.
    timeout_s: the job function's timeout in seconds.
    environment: extra environment variables for the job (configuration, never secrets).
    description: what the job does, on the function and the schedule.
    function: an existing Lambda function to run instead of the template job; its role,
      log group, alarms, invoke config and idempotency stay its owner's; None builds the
      template job.
    idempotency_table: an existing table in Powertools' layout (key `id` S, TTL on
      `expiration`); None makes a new one (with idempotency).
    dlq: an existing SQS queue for undeliverable and failed runs; None makes a new one
      (encrypted, 14 days, TLS only).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "function",
            (
                *FUNCTION_DEFAULTS,
                "bounded async retries with an on-failure destination",
                ONCE_PER_SLOT,
            ),
            "Give it a FunctionEventInvokeConfig with an on-failure destination and make it "
            "idempotent on the event's schedule and scheduledTime.",
        ),
        Safeguard(
            "idempotency",
            (ONCE_PER_SLOT,),
            "Make the job itself idempotent: Scheduler and Lambda retries can deliver one "
            "slot more than once.",
            off=False,
        ),
        Safeguard(
            "idempotency_table",
            EPHEMERAL_TABLE_DEFAULTS,
            "They are the table owner's to set; it needs Powertools' layout (key id, TTL on "
            "expiration).",
        ),
        Safeguard(
            "dlq",
            DLQ_DEFAULTS,
            "They are the queue owner's to set.",
        ),
    )

    schedule_expression: str = "rate(1 hour)"
    timezone: str = "UTC"
    flexible_window_min: int = 0
    input: dict[str, Any] = field(default_factory=dict)
    retry_attempts: int = 3
    max_event_age_s: int = 3600
    async_retries: int = defaults.ASYNC_MAX_RETRY_ATTEMPTS
    reserved_concurrency: int | None = None
    idempotency: bool = True
    group: str | None = None
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    kms_key_arn: str | None = None
    task: str = "task"
    secret_arn: str | None = None
    memory_size: int = 256
    timeout_s: int = 60
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    function: aws.lambda_.Function | None = None
    idempotency_table: aws.dynamodb.Table | None = None
    dlq: aws.sqs.Queue | None = None

    def __post_init__(self) -> None:
        self.schedule_spec()
        if not 0 <= self.async_retries <= 2:
            raise ValueError(f"async_retries must be between 0 and 2 (got {self.async_retries})")
        if not isinstance(self.input, dict):
            raise ValueError(f"input must be a JSON object (got {self.input!r})")
        try:
            rendered = json.dumps(self.input)
        except (TypeError, ValueError) as error:
            raise ValueError(f"input must be JSON-serialisable ({error})") from None
        if len(rendered) > MAX_INPUT_CHARS:
            raise ValueError(
                f"input must be at most {MAX_INPUT_CHARS} characters as JSON (got {len(rendered)})"
            )
        if self.group is not None and not _GROUP.match(self.group):
            raise ValueError(
                f"group must be a schedule group name (1-64 of A-Z a-z 0-9 _ . -) "
                f"(got {self.group!r})"
            )
        if self.state not in ("ENABLED", "DISABLED"):
            raise ValueError(f"state must be one of ENABLED, DISABLED (got {self.state!r})")
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        if self.secret_arn is not None:
            SECRET.check(self.secret_arn, "secret_arn")
        if (
            not _MODULE.match(self.task)
            or not (packaging.FUNCTIONS_DIR / "scheduled_job" / f"{self.task}.py").is_file()
        ):
            raise ValueError(
                f"task must name a module of functions/scheduled_job/ with run(job, secret) "
                f"(got {self.task!r})"
            )
        for key in self.environment:
            if key in RESERVED_ENVIRONMENT or key.startswith(("POWERTOOLS_", "AWS_")):
                raise ValueError(
                    f"environment must not set {key!r}: the component sets it "
                    f"({', '.join(RESERVED_ENVIRONMENT)}, POWERTOOLS_*, AWS_*)"
                )
            if not _ENV_KEY.match(key):
                raise ValueError(f"environment key {key!r} must be a variable name")
        self.function_spec()

    def schedule_spec(self) -> ScheduleSpec:
        return ScheduleSpec(
            expression=self.schedule_expression,
            timezone=self.timezone,
            flexible_window_min=self.flexible_window_min,
            retry_attempts=self.retry_attempts,
            max_event_age_s=self.max_event_age_s,
            argument="schedule_expression",
        )

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="job.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            reserved_concurrency=self.reserved_concurrency,
            throttled=self.reserved_concurrency or False,
            description=self.description or "Runs one scheduled slot at most once to completion",
        )

    @property
    def idempotency_expiry_s(self) -> int:
        """How long a completed slot's record lasts: beyond any retry of that slot."""
        retries_end = self.max_event_age_s + defaults.ASYNC_MAX_EVENT_AGE_S
        return max(MIN_IDEMPOTENCY_EXPIRY_S, retries_end + IDEMPOTENCY_MARGIN_S)


class ScheduledJob(Pattern):
    """Scheduler (retry policy, DLQ) -> job λ (invoke config, on-failure DLQ) -> work,
    idempotent per slot."""

    slug: ClassVar[str] = "scheduled-job"
    type_token: ClassVar[str] = "serverless-patterns:patterns:ScheduledJob"

    def __init__(
        self,
        name: str,
        args: ScheduledJobArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ScheduledJobArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        description = args.description or f"Runs {name} {args.schedule_expression}"

        failed_runs = f"{description}: runs that could not be delivered or kept failing"
        self.dead_letter: DeadLetterQueue | None = None
        if args.dlq is None:
            self.dead_letter = DeadLetterQueue(scope, "dlq", description=failed_runs)
            self.dlq = self.dead_letter.queue
        else:
            self.dlq = args.dlq
            # Someone else's queue, but these runs are ours to watch.
            metric_alarm(
                scope,
                "dlq-depth",
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": args.dlq.name},
                threshold=0,
                description=failed_runs,
            )

        self.idempotency_table: aws.dynamodb.Table | None = None
        self.job: LambdaFunction | None = None
        if args.function is not None:
            self.function = args.function
        else:
            self.function = self._job(args, settings.architecture, settings.runtime)

        schedule_name = scope.physical(FUNCTION_SUFFIX)
        self.schedule = TargetSchedule(
            scope,
            FUNCTION_SUFFIX,
            args.schedule_spec(),
            target_arn=self.function.arn,
            target_statement=invoke_statement(self.function.arn),
            input={
                "schedule": schedule_name,
                "scheduledTime": SCHEDULED_TIME,
                "executionId": EXECUTION_ID,
                "attemptNumber": ATTEMPT_NUMBER,
                "input": args.input,
            },
            description=description,
            dlq_arn=self.dlq.arn,
            group=args.group,
            state=args.state,
            kms_key_arn=args.kms_key_arn,
        )

        self.schedule_arn = self.schedule.arn
        self.function_name = self.function.name
        self.dlq_url = self.dlq.url
        self.idempotency_table_name = (
            self.idempotency_table.name if self.idempotency_table is not None else None
        )
        self.register_outputs(
            {
                "schedule_arn": self.schedule_arn,
                "function_name": self.function_name,
                "dlq_url": self.dlq_url,
                "idempotency_table": self.idempotency_table_name,
            }
        )

    def _job(self, args: ScheduledJobArgs, architecture: str, runtime: str) -> aws.lambda_.Function:
        scope = self.scope
        environment: dict[str, pulumi.Input[str]] = {**args.environment}
        if args.task != "task":
            environment["TASK_MODULE"] = args.task
        statements = [iam.sqs_send(self.dlq.arn)]
        if args.idempotency:
            self.idempotency_table = args.idempotency_table or create_table(
                scope,
                "idempotency",
                TableSpec(hash_key=("id", "S"), ephemeral=True, ttl_attribute="expiration"),
            )
            environment["IDEMPOTENCY_TABLE"] = self.idempotency_table.name
            environment["IDEMPOTENCY_EXPIRY_S"] = str(args.idempotency_expiry_s)
            statements.append(
                iam.Statement(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    [self.idempotency_table.arn],
                )
            )
        if args.secret_arn is not None:
            environment["SECRET_ARN"] = args.secret_arn
            statements.append(iam.secret_read(args.secret_arn))
        spec = args.function_spec()
        self.job = LambdaFunction(
            scope,
            FUNCTION_SUFFIX,
            FunctionSpec(
                handler=spec.handler,
                memory_size=spec.memory_size,
                timeout_s=spec.timeout_s,
                reserved_concurrency=spec.reserved_concurrency,
                throttled=spec.throttled,
                description=spec.description,
                environment=environment,
                # Scheduler invokes asynchronously: a run that raises is retried by Lambda,
                # then dead-lettered beside the runs Scheduler could not deliver.
                async_invoke=AsyncInvoke(
                    on_failure_arn=self.dlq.arn, maximum_retry_attempts=args.async_retries
                ),
            ),
            package=packaging.build("scheduled_job", architecture=architecture, runtime=runtime),
            statements=statements,
            service=self.slug,
        )
        return self.job.function
