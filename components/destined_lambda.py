"""`destined-lambda`: Lambda Destinations route results without routing code in the function.

REST `GET /send?mode=succeed|fail` publishes straight to an SNS topic (no function in the
request path); SNS invokes `destined` asynchronously, and the function's invoke config, not
its code, sends every outcome to a custom event bus: on success a record carrying the
function's result, on failure (after bounded retries) a record carrying the error and the
original request. Two rules on the bus pick the handler: "success" (condition `Success` and
the result's `source`) -> `on_success`, "failure" (an `errorType` in the response, or an
event that expired unrun) -> `on_failure`. Every hop has failure handling: the subscription
redrives to a DLQ, the rule targets retry and dead-letter, and both handlers have on-failure
DLQs of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging
from .core.api import RestStage, StageSpec, check_stage_name, regional_rest_api
from .core.dead_letter import DeadLetterQueue
from .core.event_route import MAX_EVENT_AGE_S, MAX_RETRY_ATTEMPTS, EventRoute, event_bus
from .core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import REGIONAL_WEB_ACL
from .core.sns_api import SnsPublishIntegration, publish_form
from .core.topic import TracedTopic

__all__ = ["DestinedLambda", "DestinedLambdaArgs", "failure_pattern", "success_pattern"]

# The `source` the function puts in its result; the success rule matches on it.
PAYLOAD_SOURCE = "serverless-patterns.destined-lambda"
# Lambda sends destination records to EventBridge with this source (and these detail types).
DESTINATION_SOURCE = "lambda"
SUCCESS_DETAIL_TYPE = "Lambda Function Invocation Result - Success"
FAILURE_DETAIL_TYPE = "Lambda Function Invocation Result - Failure"
MODES = ("succeed", "fail")
_REQUEST_ID = "REQUEST-ID-PLACEHOLDER"
# What an existing `bus` leaves to its owner, as the warning lists it.
BUS_DEFAULTS = ("a bus of the pattern's own", "its archive (archive_retention_days)")


def _function_arn_prefix(function_arn: str) -> list[dict[str, str]]:
    # Records name the qualified ARN (`...:function:name:$LATEST`); the colon keeps
    # `name-2` out of `name`'s match.
    return [{"prefix": f"{function_arn}:"}]


def success_pattern(function_arn: str, payload_source: str = PAYLOAD_SOURCE) -> dict[str, Any]:
    """Success records of this function whose result carries `payload_source`."""
    return {
        "source": [DESTINATION_SOURCE],
        "detail-type": [SUCCESS_DETAIL_TYPE],
        "detail": {
            "requestContext": {
                "condition": ["Success"],
                "functionArn": _function_arn_prefix(function_arn),
            },
            "responsePayload": {"source": [payload_source]},
        },
    }


def failure_pattern(function_arn: str) -> dict[str, Any]:
    """Failure records of this function: an error response (`errorType` present) or an
    event that expired before it ran (no response at all), so neither is dropped."""
    return {
        "source": [DESTINATION_SOURCE],
        "detail-type": [FAILURE_DETAIL_TYPE],
        "detail": {
            "requestContext": {"functionArn": _function_arn_prefix(function_arn)},
            "$or": [
                {"responsePayload": {"errorType": [{"exists": True}]}},
                {"requestContext": {"condition": ["EventAgeExceeded"]}},
            ],
        },
    }


def send_template(topic_arn: str) -> str:
    """`GET /send?mode=`: publishes `{"mode", "requestId"}` for a known mode. Any other mode
    leaves out the message, so SNS refuses the call and the caller gets 400."""
    branches = []
    for index, mode in enumerate(MODES):
        body = json.dumps({"mode": mode, "requestId": _REQUEST_ID}, separators=(",", ":"))
        message = quote(body, safe="").replace(_REQUEST_ID, "$context.requestId")
        keyword = "#if" if index == 0 else "#elseif"
        branches.append(f'{keyword}($mode == "{mode}"){publish_form(topic_arn, message)}')
    refused = f"Action=Publish&TopicArn={quote(topic_arn, safe='')}"
    return "#set($mode = $input.params('mode'))" + "".join(branches) + "#{else}" + refused + "#end"


@dataclass(frozen=True, kw_only=True)
class DestinedLambdaArgs(PatternArgs):
    """Arguments of `DestinedLambda`.

    retry_attempts: Lambda's retries of a failed asynchronous invocation of `destined` before
      the failure record is sent (0-2).
    max_event_age_s: how long Lambda keeps trying to run an event before it sends an
      EventAgeExceeded failure record (60-21600).
    target_retry_attempts: EventBridge's retries of a rule target (0-185) before the event
      goes to that rule's dead-letter queue.
    target_max_event_age_s: how long EventBridge retries a rule target (60-86400 s).
    handler_timeout_s: timeout of `destined`, `on_success` and `on_failure` (1-29: the
      handlers are quick, and an API caller never waits on them).
    archive_retention_days: with a new bus, keep its events in an archive for replay this
      many days (0 = forever); None keeps no archive.
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a regional WAFv2 web ACL for the stage; None associates none.
    bus: an existing custom event bus for the destination records; None makes a new one.
      The rules match only this function's records, so the bus may be shared.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "bus",
            BUS_DEFAULTS,
            "Its resource policy, encryption and archive are the bus owner's to set.",
        ),
    )

    retry_attempts: int = defaults.ASYNC_MAX_RETRY_ATTEMPTS
    max_event_age_s: int = defaults.ASYNC_MAX_EVENT_AGE_S
    target_retry_attempts: int = defaults.EVENT_TARGET_RETRY_ATTEMPTS
    target_max_event_age_s: int = defaults.EVENT_TARGET_MAX_EVENT_AGE_S
    handler_timeout_s: int = 10
    archive_retention_days: int | None = None
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    waf_acl_arn: str | None = None
    bus: aws.cloudwatch.EventBus | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.retry_attempts <= 2:
            raise ValueError(f"retry_attempts must be between 0 and 2 (got {self.retry_attempts})")
        if not 60 <= self.max_event_age_s <= 21_600:
            raise ValueError(
                f"max_event_age_s must be between 60 and 21600 (got {self.max_event_age_s})"
            )
        if not 0 <= self.target_retry_attempts <= MAX_RETRY_ATTEMPTS:
            raise ValueError(
                f"target_retry_attempts must be between 0 and {MAX_RETRY_ATTEMPTS} "
                f"(got {self.target_retry_attempts})"
            )
        if not 60 <= self.target_max_event_age_s <= MAX_EVENT_AGE_S:
            raise ValueError(
                f"target_max_event_age_s must be between 60 and {MAX_EVENT_AGE_S} "
                f"(got {self.target_max_event_age_s})"
            )
        if not 1 <= self.handler_timeout_s <= 29:
            raise ValueError(
                f"handler_timeout_s must be between 1 and 29 (got {self.handler_timeout_s})"
            )
        if self.archive_retention_days is not None:
            if self.bus is not None:
                raise ValueError(
                    "archive_retention_days applies to a new bus only; archive an existing "
                    "bus where it is defined"
                )
            if not 0 <= self.archive_retention_days <= 36_500:
                raise ValueError(
                    "archive_retention_days must be between 0 (forever) and 36500 "
                    f"(got {self.archive_retention_days})"
                )
        check_stage_name(self.stage_name)
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        self.stage_spec()

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def async_invoke(self, bus_arn: pulumi.Input[str]) -> AsyncInvoke:
        """Both outcomes of `destined` go to the bus: this is the routing."""
        return AsyncInvoke(
            on_success_arn=bus_arn,
            on_failure_arn=bus_arn,
            maximum_retry_attempts=self.retry_attempts,
            maximum_event_age_s=self.max_event_age_s,
        )


class DestinedLambda(Pattern):
    """REST GET /send -> SNS -> `destined` -> (invoke config) bus -> on_success | on_failure."""

    slug: ClassVar[str] = "destined-lambda"
    type_token: ClassVar[str] = "serverless-patterns:patterns:DestinedLambda"

    def __init__(
        self,
        name: str,
        args: DestinedLambdaArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or DestinedLambdaArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        self.package = packaging.build(
            "destined_lambda", architecture=settings.architecture, runtime=settings.runtime
        )

        self.archive: aws.cloudwatch.EventArchive | None = None
        if args.bus is not None:
            self.bus = args.bus
        else:
            self.bus, self.archive = event_bus(
                scope,
                "destinations",
                archive_retention_days=args.archive_retention_days,
                description="Lambda destination records of destined, kept for replay",
            )
        self.topic = TracedTopic(scope, "requests")

        self.destined = LambdaFunction(
            scope,
            "destined",
            FunctionSpec(
                handler="destined.handler",
                timeout_s=args.handler_timeout_s,
                environment={"PAYLOAD_SOURCE": PAYLOAD_SOURCE},
                description="Answers a request or fails; its invoke config routes the outcome",
                async_invoke=args.async_invoke(self.bus.arn),
            ),
            package=self.package,
            # Lambda sends destination records with the function's role, as source `lambda`.
            statements=[iam.events_put(self.bus.arn, [DESTINATION_SOURCE])],
            service=self.slug,
        )
        self.subscription = self.topic.subscribe_function("destined", self.destined)

        arn = self.destined.arn
        self.success_route, self.on_success = self._route(
            args,
            "success",
            arn.apply(lambda a: json.dumps(success_pattern(a), sort_keys=True)),
            "Success records of destined that carry its result",
            "on_success.handler",
            "Logs each success record of destined",
        )
        self.failure_route, self.on_failure = self._route(
            args,
            "failure",
            arn.apply(lambda a: json.dumps(failure_pattern(a), sort_keys=True)),
            "Failure records of destined: errors and expired events",
            "on_failure.handler",
            "Logs each failure record of destined with its original request",
        )

        self._api(args)
        self.url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/send")
        self.topic_arn = self.topic.arn
        self.bus_name = self.bus.name
        self.register_outputs(
            {"url": self.url, "topic_arn": self.topic_arn, "bus_name": self.bus_name}
        )

    def _route(
        self,
        args: DestinedLambdaArgs,
        kind: str,
        pattern: pulumi.Output[str],
        rule_description: str,
        handler: str,
        description: str,
    ) -> tuple[EventRoute, LambdaFunction]:
        """A rule for one outcome and its handler, which EventBridge invokes asynchronously:
        the handler's own failures go to a DLQ of its own after Lambda's retries."""
        scope = self.scope
        route = EventRoute(
            scope,
            kind,
            bus_name=self.bus.name,
            pattern=pattern,
            description=rule_description,
            retry_attempts=args.target_retry_attempts,
            max_event_age_s=args.target_max_event_age_s,
        )
        suffix = f"on-{kind}"
        dlq = DeadLetterQueue(
            scope, f"{suffix}-dlq", description=f"{suffix} gave up on destination records"
        )
        function = LambdaFunction(
            scope,
            suffix,
            FunctionSpec(
                handler=handler,
                timeout_s=args.handler_timeout_s,
                description=description,
                async_invoke=AsyncInvoke(on_failure_arn=dlq.arn),
            ),
            package=self.package,
            statements=[iam.sqs_send(dlq.arn)],
            service=self.slug,
        )
        permission = route.invoke_permission(function.function.name)
        route.target(function.arn, depends_on=[permission])
        return route, function

    def _api(self, args: DestinedLambdaArgs) -> None:
        scope = self.scope
        self.api = regional_rest_api(
            scope, "Destined Lambda: GET /send?mode=succeed|fail publishes one request"
        )
        resource = aws.apigateway.Resource(
            scope.child("send-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="send",
            opts=scope.opts(),
        )
        validator = aws.apigateway.RequestValidator(
            scope.child("validator"),
            rest_api=self.api.id,
            name=scope.physical("validator"),
            validate_request_parameters=True,
            validate_request_body=False,
            opts=scope.opts(),
        )
        self.method = aws.apigateway.Method(
            scope.child("get-send"),
            rest_api=self.api.id,
            resource_id=resource.id,
            http_method="GET",
            authorization="AWS_IAM",
            request_parameters={"method.request.querystring.mode": True},
            request_validator_id=validator.id,
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
            refused_message=f"mode must be one of {', '.join(MODES)}",
        )
        self.api_role = self.publish.role
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[self.method, *self.publish.routes],
            fingerprint=f"GET /send|{'|'.join(MODES)}",
            waf_acl_arn=args.waf_acl_arn,
        )
