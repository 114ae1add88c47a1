"""`callback-workflow`: a Step Functions task-token callback around a long asynchronous job,
whose result files are then processed in parallel by a Distributed Map.

Scheduler starts a STANDARD execution per run; the workflow records the run, sends the job
request with a task token to the `start` queue and pauses cheaply; `starter` starts the job
through a pluggable adapter, `poller` checks it every `poll_interval_s` (heartbeating the
task) and resumes the workflow with the job's output location or its failure; each output
file is then handed to `process_file` (definition: `components.callback_workflow.definition`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from ..core import iam, packaging
from ..core.bucket import BUCKET_DEFAULTS, PrivateBucket
from ..core.dead_letter import DeadLetterQueue
from ..core.function import FunctionSpec, LambdaFunction
from ..core.pattern import Pattern, PatternArgs, Safeguard
from ..core.queue import DurableQueue, QueueSpec
from ..core.schedule import ScheduleSpec, TargetSchedule
from ..core.settings import check_event_bus
from ..core.state_machine import StateMachine
from ..core.table import TableSpec, create_table
from .definition import WorkflowNames, WorkflowSettings, definition

__all__ = ["CallbackWorkflow", "CallbackWorkflowArgs", "JobAdapterSpec"]

MAX_POLL_DELAY_S = 900  # SQS's DelaySeconds ceiling
# Time the workflow gives itself beyond the job for processing its files.
PROCESSING_BUDGET_S = 86_400
MAX_JOB_TIMEOUT_S = 365 * 86_400 - PROCESSING_BUDGET_S  # a STANDARD execution lasts a year
WORKER_CONCURRENCY = 2  # SQS's floor for maximumConcurrency; the job API is rate-limited
WORKER_TIMEOUT_S = 30
_MODULE = re.compile(r"^[a-z_][a-z0-9_]*$")
_STATUS_EVENTS = ("TIMED_OUT", "ABORTED", "FAILED")
RELEASE_RETRY_ATTEMPTS = 10
RELEASE_MAX_EVENT_AGE_S = 3600


@dataclass(frozen=True, kw_only=True)
class JobAdapterSpec:
    """The job behind the callback: a module in `functions/callback_workflow/` with
    `start(run_id, since) -> job_id` and `status(job_id) -> JobStatus`.

    statements: what the adapter's calls need (e.g. healthlake:StartFHIRExportJob).
    environment: its settings, passed to `starter` and `poller`.
    workspace_access: read/write `jobs/*` and `exports/*` of the results bucket (the fake
      adapter keeps its state and writes its output there).
    """

    module: str = "fake_job"
    statements: tuple[iam.Statement, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    workspace_access: bool = True

    def __post_init__(self) -> None:
        if not _MODULE.match(self.module):
            raise ValueError(f"job.module must be a Python module name (got {self.module!r})")


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA zones Scheduler knows; empty when this machine has no time zone data."""
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def default_item_processor() -> FunctionSpec:
    return FunctionSpec(
        handler="process_file.handler",
        memory_size=512,
        timeout_s=300,
        description="Loads one result file of a run into the records table",
    )


@dataclass(frozen=True, kw_only=True)
class CallbackWorkflowArgs(PatternArgs):
    """Arguments of `CallbackWorkflow`.

    job: the job behind the callback (`JobAdapterSpec`: the adapter module, its grants and
      settings); the shipped `fake_job` by default.
    schedule / timezone: when Scheduler starts a run (runId = the scheduled time).
    poll_interval_s: delay between status checks (an SQS message delay, so at most 900 s).
    heartbeat_s: the callback's HeartbeatSeconds; at least twice the poll interval.
    job_timeout_s: the callback's TimeoutSeconds: a job running longer fails the run.
    results_bucket: an existing bucket for the job's output and the Map's results; None
      makes a new private one.
    map_max_concurrency: files the Distributed Map processes at once (1-10000).
    tolerated_failure_pct: share of files that may fail before the run fails.
    child_execution_type: the Map's child workflows (EXPRESS is cheaper when each file takes
      under five minutes).
    item_processor: the function each file goes to.
    event_bus_name: name or ARN of the bus for run-outcome events (None: the account's
      default bus). Stack files may still call it `event_bus`.
    log_level: the state machine's log level (ALL, ERROR or FATAL).
    workflow_type: the parent must be STANDARD: EXPRESS has no callbacks or Distributed Map.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("results_bucket", BUCKET_DEFAULTS, "They are the bucket owner's to set."),
    )
    renamed_arguments: ClassVar[Mapping[str, str]] = {"event_bus": "event_bus_name"}

    job: JobAdapterSpec = field(default_factory=JobAdapterSpec)
    schedule: str = "cron(0 2 * * ? *)"
    timezone: str = "UTC"
    poll_interval_s: int = 60
    heartbeat_s: int = 300
    job_timeout_s: int = 86_400
    results_bucket: aws.s3.Bucket | None = None
    map_max_concurrency: int = 10
    tolerated_failure_pct: float = 0.0
    child_execution_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    item_processor: FunctionSpec = field(default_factory=default_item_processor)
    event_bus_name: str | None = None
    log_level: Literal["ALL", "ERROR", "FATAL"] = "ERROR"
    workflow_type: Literal["STANDARD", "EXPRESS"] = "STANDARD"

    def __post_init__(self) -> None:
        if self.workflow_type != "STANDARD":
            raise ValueError(
                "workflow_type must be STANDARD: EXPRESS workflows support neither callbacks "
                "nor Distributed Map"
            )
        if self.child_execution_type not in ("STANDARD", "EXPRESS"):
            raise ValueError("child_execution_type must be one of STANDARD, EXPRESS")
        if self.log_level not in ("ALL", "ERROR", "FATAL"):
            raise ValueError(f"log_level must be one of ALL, ERROR, FATAL ({self.log_level!r})")
        if not 1 <= self.poll_interval_s <= MAX_POLL_DELAY_S:
            raise ValueError(
                f"poll_interval_s must be between 1 and {MAX_POLL_DELAY_S} "
                f"(got {self.poll_interval_s})"
            )
        if not 60 <= self.job_timeout_s <= MAX_JOB_TIMEOUT_S:
            raise ValueError(
                f"job_timeout_s must be between 60 and {MAX_JOB_TIMEOUT_S} "
                f"(got {self.job_timeout_s})"
            )
        if not 2 * self.poll_interval_s <= self.heartbeat_s < self.job_timeout_s:
            raise ValueError(
                f"heartbeat_s must be at least 2 x poll_interval_s ({2 * self.poll_interval_s}) "
                f"and below job_timeout_s ({self.job_timeout_s}) (got {self.heartbeat_s})"
            )
        if not 1 <= self.map_max_concurrency <= 10_000:
            raise ValueError(
                f"map_max_concurrency must be between 1 and 10000 (got {self.map_max_concurrency})"
            )
        if not 0 <= self.tolerated_failure_pct <= 100:
            raise ValueError(
                f"tolerated_failure_pct must be between 0 and 100 "
                f"(got {self.tolerated_failure_pct})"
            )
        if self.event_bus_name is not None:
            check_event_bus(self.event_bus_name)
        zones = _time_zones()
        if zones and self.timezone not in zones:
            close = difflib.get_close_matches(self.timezone, sorted(zones), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(
                f"timezone must be an IANA time zone such as UTC or Europe/Lisbon "
                f"(got {self.timezone!r}{hint})"
            )
        self.schedule_spec()

    def schedule_spec(self) -> ScheduleSpec:
        return ScheduleSpec(expression=self.schedule, timezone=self.timezone)

    def settings_for_definition(self) -> WorkflowSettings:
        return WorkflowSettings(
            heartbeat_s=self.heartbeat_s,
            job_timeout_s=self.job_timeout_s,
            timeout_s=self.job_timeout_s + PROCESSING_BUDGET_S,
            map_max_concurrency=self.map_max_concurrency,
            tolerated_failure_pct=self.tolerated_failure_pct,
            child_execution_type=self.child_execution_type,
            process_file_timeout_s=self.item_processor.timeout_s,
        )


class CallbackWorkflow(Pattern):
    """Scheduler -> STANDARD workflow -> SQS callback workers -> Distributed Map over S3."""

    slug: ClassVar[str] = "callback-workflow"
    type_token: ClassVar[str] = "serverless-patterns:patterns:CallbackWorkflow"

    def __init__(
        self,
        name: str,
        args: CallbackWorkflowArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or CallbackWorkflowArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "callback_workflow",
            shared=("ddb_json.py",),  # stream images, exact numbers
            architecture=settings.architecture,
            runtime=settings.runtime,
        )

        self.runs = create_table(
            scope, "runs", TableSpec(hash_key=("jobName", "S"), range_key=("runId", "S"))
        )
        self.records = create_table(scope, "records", TableSpec(hash_key=("id", "S")))
        self.bucket: PrivateBucket | None = None
        if args.results_bucket is not None:
            bucket, bucket_arn = args.results_bucket.bucket, args.results_bucket.arn
        else:
            self.bucket = PrivateBucket(scope, "results")
            bucket, bucket_arn = self.bucket.name, self.bucket.arn
        worker_queue = QueueSpec(consumer_timeout_s=WORKER_TIMEOUT_S)
        self.start_queue = DurableQueue(scope, "start", worker_queue)
        self.poll_queue = DurableQueue(scope, "poll", worker_queue)

        self.process_file = LambdaFunction(
            scope,
            "process-file",
            dataclasses.replace(
                args.item_processor,
                environment={"RECORDS_TABLE": self.records.name, **args.item_processor.environment},
            ),
            package=package,
            statements=[
                iam.Statement(["s3:GetObject"], [bucket_arn.apply(lambda a: f"{a}/exports/*")]),
                iam.Statement(["dynamodb:BatchWriteItem", "dynamodb:PutItem"], [self.records.arn]),
            ],
            service=self.slug,
        )

        names = WorkflowNames(
            job_name=name,
            runs_table=self.runs.name,
            start_queue_url=self.start_queue.url,
            results_bucket=bucket,
            process_file_arn=self.process_file.arn,
            source=f"serverless-patterns.{name}",
            event_bus=args.event_bus_name,
        )
        self.machine = StateMachine(
            scope,
            "workflow",
            definition(names, args.settings_for_definition()),
            log_level=args.log_level,
        )

        adapter_env: dict[str, pulumi.Input[str]] = {
            "JOB_ADAPTER": args.job.module,
            "RUNS_TABLE": self.runs.name,
            "JOB_NAME": name,
            "POLL_QUEUE_URL": self.poll_queue.url,
            "POLL_INTERVAL_S": str(args.poll_interval_s),
            "RESULTS_BUCKET": bucket,
            **args.job.environment,
        }
        adapter_statements = list(args.job.statements)
        if args.job.workspace_access:
            adapter_statements.append(
                iam.Statement(
                    ["s3:GetObject", "s3:PutObject"],
                    [
                        bucket_arn.apply(lambda a: f"{a}/jobs/*"),
                        bucket_arn.apply(lambda a: f"{a}/exports/*"),
                    ],
                )
            )
        # SendTask* take no resource type (the Service Authorization Reference lists none):
        # they are granted on "*" alone, and the task token, which only this machine's
        # executions hand out, is the credential that names the task.
        callbacks = ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"]
        self.starter = self._worker(
            "starter",
            "Starts the job for a run and schedules its first status check",
            package,
            adapter_env,
            [
                iam.sqs_consume(self.start_queue.arn),
                iam.sqs_send(self.poll_queue.arn),
                iam.Statement(["dynamodb:GetItem", "dynamodb:UpdateItem"], [self.runs.arn]),
                iam.Statement(["states:SendTaskFailure"], ["*"]),
                *adapter_statements,
            ],
            self.start_queue,
        )
        self.poller = self._worker(
            "poller",
            "Checks the job, heartbeats the callback and resumes the workflow when it ends",
            package,
            adapter_env,
            [
                iam.sqs_consume(self.poll_queue.arn),
                iam.sqs_send(self.poll_queue.arn),
                iam.Statement(callbacks, ["*"]),
                *adapter_statements,
            ],
            self.poll_queue,
        )

        self.schedule = TargetSchedule(
            scope,
            "runs",
            args.schedule_spec(),
            target_arn=self.machine.arn,
            target_statement=iam.Statement(["states:StartExecution"], [self.machine.arn]),
            input={"runId": "<aws.scheduler.scheduled-time>"},
            description=f"Starts a {name} run",
        )
        self._release_on_abnormal_end()

        self.state_machine_arn = self.machine.arn
        self.runs_table = self.runs.name
        self.start_queue_url = self.start_queue.url
        self.poll_queue_url = self.poll_queue.url
        self.results_bucket = bucket
        self.register_outputs(
            {
                "state_machine_arn": self.state_machine_arn,
                "runs_table": self.runs_table,
                "start_queue_url": self.start_queue_url,
                "poll_queue_url": self.poll_queue_url,
                "results_bucket": self.results_bucket,
            }
        )

    def _worker(
        self,
        suffix: str,
        description: str,
        package: packaging.Package,
        environment: dict[str, pulumi.Input[str]],
        statements: list[iam.Statement],
        queue: DurableQueue,
    ) -> LambdaFunction:
        scope = self.scope
        function = LambdaFunction(
            scope,
            suffix,
            FunctionSpec(
                handler=f"{suffix}.handler",
                timeout_s=WORKER_TIMEOUT_S,
                reserved_concurrency=WORKER_CONCURRENCY,
                throttled=WORKER_CONCURRENCY,
                environment=environment,
                description=description,
            ),
            package=package,
            statements=statements,
            service=self.slug,
        )
        aws.lambda_.EventSourceMapping(
            scope.child(f"{suffix}-mapping"),
            event_source_arn=queue.arn,
            function_name=function.arn,
            batch_size=10,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=WORKER_CONCURRENCY
            ),
            opts=scope.opts(depends_on=[r for r in [function.policy] if r is not None]),
        )
        return function

    def _release_on_abnormal_end(self) -> None:
        """Executions that end without the workflow's own cleanup (stopped by hand, timed out,
        a runtime error) come back to the machine as `{"release": <executionArn>}`."""
        scope = self.scope
        self.release_rule = aws.cloudwatch.EventRule(
            scope.child("release"),
            name=scope.physical("release"),
            description="Clears the run claim of executions that ended abnormally",
            event_pattern=self.machine.arn.apply(
                lambda arn: json.dumps(
                    {
                        "source": ["aws.states"],
                        "detail-type": ["Step Functions Execution Status Change"],
                        "detail": {"stateMachineArn": [arn], "status": list(_STATUS_EVENTS)},
                    }
                )
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.release_dlq = DeadLetterQueue(
            scope,
            "release-dlq",
            description="Release requests EventBridge could not deliver",
            service_senders=[("events.amazonaws.com", self.release_rule.arn)],
        )
        role, policy = iam.service_role(
            scope,
            "release",
            "events.amazonaws.com",
            [iam.Statement(["states:StartExecution"], [self.machine.arn])],
            source_arn=self.release_rule.arn,
        )
        self.release_target = aws.cloudwatch.EventTarget(
            scope.child("release-target"),
            rule=self.release_rule.name,
            arn=self.machine.arn,
            role_arn=role.arn,
            input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths={"execution": "$.detail.executionArn"},
                input_template='{"release": <execution>}',
            ),
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=RELEASE_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=RELEASE_MAX_EVENT_AGE_S,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                arn=self.release_dlq.arn
            ),
            opts=scope.opts(depends_on=[r for r in [policy] if r is not None]),
        )
