"""The Lambda function block: role, log group, tracing, JSON logs, Powertools, alarms.

Every function in the library is made here, so the Well-Architected defaults hold for all
of them: Active tracing, JSON logs into an explicit `/aws/lambda/<name>` group with
retention, explicit memory and timeout, the configured runtime and architecture, the
Powertools layer and environment, a role of its own with exactly the statements given, and
alarms on errors and throttles. Throttled consumers carry reserved concurrency and the tag
the policy pack reads; asynchronously invoked functions get an invoke config with bounded
retries and an on-failure destination.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import aws_context, defaults, iam
from .alarms import metric_alarm
from .packaging import Package
from .scope import Scope

# What `LambdaFunction` hardens, as a warning lists it when a pattern is given a function.
FUNCTION_DEFAULTS = (
    "active X-Ray tracing",
    "JSON logs in a log group with the stack's retention",
    "a least-privilege role",
    "error and throttle alarms",
)


@dataclass(frozen=True, kw_only=True)
class AsyncInvoke:
    """Failure handling for a function that is invoked asynchronously.

    on_success_arn: where Lambda also sends a record of each successful invocation (a queue,
      topic, function or event bus the function's role may write to); None sends none.
    """

    on_failure_arn: pulumi.Input[str]
    on_success_arn: pulumi.Input[str] | None = None
    maximum_retry_attempts: int = defaults.ASYNC_MAX_RETRY_ATTEMPTS
    maximum_event_age_s: int = defaults.ASYNC_MAX_EVENT_AGE_S

    def __post_init__(self) -> None:
        if not 0 <= self.maximum_retry_attempts <= 2:
            raise ValueError("maximum_retry_attempts must be between 0 and 2")
        if not 60 <= self.maximum_event_age_s <= 21600:
            raise ValueError("maximum_event_age_s must be between 60 and 21600")


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """What a pattern asks of one function; everything else comes from the defaults.

    reserved_concurrency: caps concurrent executions (None leaves the account pool shared).
    throttled: marks a consumer of a rate-limited dependency: True, or the downstream
      concurrency budget N; written to the `wa:throttled-consumer` tag.
    """

    handler: str
    memory_size: int = 256
    timeout_s: int = 30
    reserved_concurrency: int | None = None
    throttled: bool | int = False
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    description: str = ""
    async_invoke: AsyncInvoke | None = None
    # Extra tags on the function only, e.g. a `wa:exempt:<RULE-ID>` exemption for it.
    tags: Mapping[str, str] = field(default_factory=dict)
    # Layer version ARNs attached after the Powertools layer (e.g. an extension's).
    layers: Sequence[pulumi.Input[str]] = ()

    def __post_init__(self) -> None:
        if not defaults.LAMBDA_MIN_MEMORY_MB <= self.memory_size <= defaults.LAMBDA_MAX_MEMORY_MB:
            raise ValueError(
                f"memory_size must be between {defaults.LAMBDA_MIN_MEMORY_MB} and "
                f"{defaults.LAMBDA_MAX_MEMORY_MB} MB (got {self.memory_size})"
            )
        if not 1 <= self.timeout_s <= defaults.LAMBDA_MAX_TIMEOUT_S:
            raise ValueError(
                f"timeout_s must be between 1 and {defaults.LAMBDA_MAX_TIMEOUT_S} "
                f"(got {self.timeout_s})"
            )
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(
                f"reserved_concurrency must be at least 1 (got {self.reserved_concurrency}); "
                "0 stops the function from ever running"
            )
        if self.throttled is not False and self.reserved_concurrency is None:
            raise ValueError("a throttled consumer needs reserved_concurrency")

    @property
    def throttled_tag(self) -> str | None:
        if self.throttled is False:
            return None
        return "true" if self.throttled is True else str(int(self.throttled))


class LambdaFunction:
    """The resources of one function, children of the scope's component."""

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        spec: FunctionSpec,
        *,
        package: Package,
        statements: Sequence[iam.Statement] = (),
        service: str,
    ) -> None:
        settings = scope.settings
        self.function_name = scope.physical(suffix)
        tags = {**scope.tags, **spec.tags}
        if spec.throttled_tag is not None:
            tags[defaults.TAG_THROTTLED_CONSUMER] = spec.throttled_tag

        self.log_group = aws.cloudwatch.LogGroup(
            scope.child(f"{suffix}-logs"),
            name=f"/aws/lambda/{self.function_name}",
            retention_in_days=settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.role, self.policy = iam.service_role(
            scope, suffix, "lambda.amazonaws.com", [iam.logs_write(self.log_group.arn), *statements]
        )
        self.xray_attachment = aws.iam.RolePolicyAttachment(
            scope.child(f"{suffix}-xray"),
            role=self.role.name,
            policy_arn=iam.XRAY_WRITE_POLICY,
            opts=scope.opts(),
        )
        region = aws_context.region(scope.component)
        environment: dict[str, pulumi.Input[str]] = {
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessPatterns",
            "POWERTOOLS_LOG_LEVEL": defaults.APPLICATION_LOG_LEVEL,
            **spec.environment,
        }
        # The role's grants must exist before the function first runs.
        ready: list[pulumi.Resource] = [self.log_group, self.xray_attachment]
        if self.policy is not None:
            ready.append(self.policy)
        self.function = aws.lambda_.Function(
            scope.child(suffix),
            name=self.function_name,
            description=spec.description or f"{service}: {suffix}",
            role=self.role.arn,
            runtime=settings.runtime,
            architectures=[settings.architecture],
            handler=spec.handler,
            code=package.archive,
            source_code_hash=package.sha256,
            memory_size=spec.memory_size,
            timeout=spec.timeout_s,
            reserved_concurrent_executions=spec.reserved_concurrency,
            layers=[region.apply(settings.layer_arn), *spec.layers],
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode=defaults.TRACING_MODE),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format=defaults.LOG_FORMAT,
                log_group=self.log_group.name,
                application_log_level=defaults.APPLICATION_LOG_LEVEL,
                system_log_level=defaults.SYSTEM_LOG_LEVEL,
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tags=tags,
            opts=scope.opts(depends_on=ready),
        )
        self.arn = self.function.arn
        self.name = self.function.name

        self.invoke_config: aws.lambda_.FunctionEventInvokeConfig | None = None
        if spec.async_invoke is not None:
            failure = aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=spec.async_invoke.on_failure_arn
            )
            success = (
                aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnSuccessArgs(
                    destination=spec.async_invoke.on_success_arn
                )
                if spec.async_invoke.on_success_arn is not None
                else None
            )
            self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
                scope.child(f"{suffix}-async"),
                function_name=self.function.name,
                maximum_retry_attempts=spec.async_invoke.maximum_retry_attempts,
                maximum_event_age_in_seconds=spec.async_invoke.maximum_event_age_s,
                destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                    on_failure=failure, on_success=success
                ),
                opts=scope.opts(),
            )

        dimensions = {"FunctionName": self.function.name}
        self.errors_alarm = metric_alarm(
            scope,
            f"{suffix}-errors",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=dimensions,
            statistic="Sum",
            threshold=0,
            description=f"{self.function_name} reported errors",
        )
        self.throttles_alarm = metric_alarm(
            scope,
            f"{suffix}-throttles",
            namespace="AWS/Lambda",
            metric="Throttles",
            dimensions=dimensions,
            statistic="Sum",
            threshold=0,
            evaluation_periods=5,
            description=f"{self.function_name} was throttled for 5 minutes",
        )
