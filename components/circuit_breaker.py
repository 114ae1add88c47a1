"""`circuit-breaker`: a Lambda circuit breaker with its state in DynamoDB.

`GET /{proxy+}` (REST by default, so API Gateway shows in the traces; `api_type="http"`
for an HTTP API) reaches the `caller`, which calls one downstream through
`functions/circuit_breaker/breaker.py`'s `CircuitBreaker`: after `failure_threshold`
failures the circuit opens and callers get `fallback_body` without waiting on the
dependency; after `open_ms` one caller at a time probes it (half-open), and
`success_threshold` successful probes close it again. The state is one item per
dependency in the `circuits` table, moved only by writes conditional on its `version`, so
concurrent invocations never double-transition; the closed path reuses a read for
`state_cache_ms`. `CircuitBreaker` is a plain module: any function that calls out can
package it and guard its own dependency the same way.

Timeouts are chained: the call (`call_timeout_ms`) plus the table's reads and writes fit in
the caller's timeout, which stays under API Gateway's 29 s integration limit. Transitions
are metrics (an alarm watches openings) and, with `publish_events`, `CircuitOpened` /
`CircuitClosed` events on a bus. `demo_downstream` deploys a flaky endpoint (failure rate
`demo_failure_rate`) behind an IAM-authorised `GET /flaky` on the same API, so the demo
shows the circuit opening without any failure injection in the caller.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from .core import aws_context, defaults, iam, packaging
from .core.alarms import metric_alarm
from .core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from .core.event_route import event_bus
from .core.function import FunctionSpec, LambdaFunction
from .core.http_api import HttpEndpoint, HttpStageSpec, check_function_timeout
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import REGIONAL_WEB_ACL
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["CircuitBreakerService", "CircuitBreakerServiceArgs"]

METRIC_NAMESPACE = "ServerlessPatterns"
# Kept back from the caller's timeout for the table: a read before the call and a write
# after it, each with 1 s client timeouts and one retry (functions/circuit_breaker/caller.py).
TABLE_BUDGET_MS = 3000
MAX_OPEN_MS = 3_600_000
MAX_FALLBACK_BYTES = 1024  # it travels in an environment variable (4 KB for all of them)
DEMO_PATH = "flaky"
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]{1,63})*$")
_CIRCUIT_ID = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
_SOURCE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")


def check_https_url(value: str, argument: str) -> None:
    """ValueError naming `argument` unless `value` is an https:// URL with a host name."""
    parts = urlsplit(value)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or not _HOST.match(parts.hostname)
        or parts.username is not None
        or any(c.isspace() for c in value)
    ):
        raise ValueError(
            f"{argument} must be an https:// URL with a host name and no credentials "
            f"(got {value!r})"
        )


@dataclass(frozen=True, kw_only=True)
class CircuitBreakerServiceArgs(PatternArgs):
    """Arguments of `CircuitBreakerService`.

    downstream_url: the https:// URL the caller GETs through the breaker (statuses of 500
      and up, and 429, are failures). None: only with demo_downstream, which supplies it.
    demo_downstream: deploy the flaky demo endpoint (`GET /flaky` on the same API, IAM
      authorised; the caller signs its requests) and call it instead of downstream_url.
    demo_failure_rate: with demo_downstream, the share of demo requests that fail (0-1).
    circuit_id: the circuit's key in the table, one per dependency (functions that call the
      same dependency share it). None: the downstream URL's host, or `demo-downstream`.
    failure_threshold: consecutive failed calls that open a closed circuit.
    success_threshold: successful half-open probes that close it again (at least, never
      one more).
    open_ms: how long an open circuit answers with the fallback before it probes (ms).
    call_timeout_ms: the client timeout of one downstream call (ms); a slower call is a
      failure. With the table's budget (3 s) it must fit in caller_timeout_s.
    state_cache_ms: how long the caller reuses a CLOSED (or unexpired OPEN) read before it
      reads the table again (ms); 0 reads on every call. Below open_ms, so a stale CLOSED
      never overlaps a half-open probe.
    fail_mode: when the table cannot be read: `open` answers with the fallback, `closed`
      calls the dependency unguarded.
    api_type: `rest` (traced with X-Ray) or `http` (an HTTP API, cheaper, not traceable).
    publish_events: put `CircuitOpened` / `CircuitClosed` events on a bus for alerting.
    event_source: with publish_events, the events' `source` (the caller may put no other).
    event_bus: with publish_events, an existing custom bus; None makes a new one.
    fallback_body: the JSON object the caller answers with when it falls back (at most
      1024 bytes).
    caller_timeout_s: the caller's timeout, under the 29 s API integration limit.
    caller_memory_size: the caller's memory in MB.
    caller_concurrency: reserved concurrency for the caller, for a dependency with a hard
      concurrency limit (tagged as a throttled consumer); None leaves it unreserved.
    stage_name: the API stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: with api_type `rest`, a regional WAFv2 web ACL for the stage; None
      associates none.
    table: an existing circuits table with partition key `circuitId` (S); None makes a new
      one (on-demand, PITR, encrypted).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            TABLE_DEFAULTS,
            "They are the table owner's to set; its key must be circuitId (S).",
        ),
    )

    downstream_url: str | None = None
    demo_downstream: bool = False
    demo_failure_rate: float = 0.5
    circuit_id: str | None = None
    failure_threshold: int = 3
    success_threshold: int = 2
    open_ms: int = 10_000
    call_timeout_ms: int = 2_000
    state_cache_ms: int = 1_000
    fail_mode: Literal["open", "closed"] = "open"
    api_type: Literal["rest", "http"] = "rest"
    publish_events: bool = False
    event_source: str = "serverless-patterns.circuit-breaker"
    event_bus: aws.cloudwatch.EventBus | None = None
    fallback_body: str = '{"message": "Fallback"}'
    caller_timeout_s: int = 10
    caller_memory_size: int = 256
    caller_concurrency: int | None = None
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    waf_acl_arn: str | None = None
    table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        self._check_downstream()
        for name, value, high in (
            ("failure_threshold", self.failure_threshold, 1000),
            ("success_threshold", self.success_threshold, 100),
        ):
            if not 1 <= value <= high:
                raise ValueError(f"{name} must be between 1 and {high} (got {value})")
        if not 1000 <= self.open_ms <= MAX_OPEN_MS:
            raise ValueError(f"open_ms must be between 1000 and {MAX_OPEN_MS} (got {self.open_ms})")
        if not 0 <= self.state_cache_ms < self.open_ms:
            raise ValueError(
                f"state_cache_ms must be between 0 and open_ms - 1 ({self.open_ms - 1}) "
                f"(got {self.state_cache_ms})"
            )
        check_function_timeout(self.caller_timeout_s, "caller_timeout_s")
        ceiling = self.caller_timeout_s * 1000 - TABLE_BUDGET_MS
        if not 100 <= self.call_timeout_ms <= ceiling:
            raise ValueError(
                f"call_timeout_ms must be between 100 and {ceiling} (caller_timeout_s "
                f"{self.caller_timeout_s} s less {TABLE_BUDGET_MS} ms for the table) "
                f"(got {self.call_timeout_ms})"
            )
        if self.fail_mode not in ("open", "closed"):
            raise ValueError(f"fail_mode must be one of open, closed (got {self.fail_mode!r})")
        if self.api_type not in ("rest", "http"):
            raise ValueError(f"api_type must be one of rest, http (got {self.api_type!r})")
        self._check_events()
        self._check_fallback_body()
        if self.caller_concurrency is not None and not 1 <= self.caller_concurrency <= 1000:
            raise ValueError(
                f"caller_concurrency must be between 1 and 1000, or None "
                f"(got {self.caller_concurrency})"
            )
        if self.waf_acl_arn is not None:
            if self.api_type != "rest":
                raise ValueError("waf_acl_arn needs api_type='rest' (WAF cannot guard HTTP APIs)")
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        self.caller_spec()
        self.stage_spec()

    def _check_downstream(self) -> None:
        if self.downstream_url is not None and self.demo_downstream:
            raise ValueError("set downstream_url or demo_downstream=True, not both")
        if self.downstream_url is not None:
            check_https_url(self.downstream_url, "downstream_url")
        if not 0 <= self.demo_failure_rate <= 1:
            raise ValueError(
                f"demo_failure_rate must be between 0 and 1 (got {self.demo_failure_rate})"
            )
        if self.circuit_id is not None and not _CIRCUIT_ID.match(self.circuit_id):
            raise ValueError(
                f"circuit_id must be 1-128 letters, digits or '_.:/-' (got {self.circuit_id!r})"
            )

    def _check_events(self) -> None:
        if not _SOURCE.match(self.event_source) or self.event_source.startswith("aws."):
            raise ValueError(
                f"event_source must be 1-256 letters, digits, '.', '_' or '-', not starting "
                f"with 'aws.' (got {self.event_source!r})"
            )
        if self.event_bus is not None and not self.publish_events:
            raise ValueError("event_bus is used only with publish_events=True")

    def _check_fallback_body(self) -> None:
        try:
            body = json.loads(self.fallback_body)
        except ValueError:
            body = None
        if not isinstance(body, dict) or len(self.fallback_body.encode()) > MAX_FALLBACK_BYTES:
            raise ValueError(
                f"fallback_body must be a JSON object of at most {MAX_FALLBACK_BYTES} bytes "
                f"(got {self.fallback_body[:60]!r})"
            )

    def require_downstream(self) -> None:
        """The component calls something: a URL or the demo (the args alone may omit both,
        so that their defaults construct)."""
        if self.downstream_url is None and not self.demo_downstream:
            raise ValueError(
                "downstream_url is required (an https:// URL), or set demo_downstream=True"
            )

    @property
    def resolved_circuit_id(self) -> str:
        if self.circuit_id is not None:
            return self.circuit_id
        if self.downstream_url is not None:
            return urlsplit(self.downstream_url).hostname or "downstream"
        return "demo-downstream"

    def caller_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="caller.handler",
            memory_size=self.caller_memory_size,
            timeout_s=self.caller_timeout_s,
            reserved_concurrency=self.caller_concurrency,
            throttled=self.caller_concurrency if self.caller_concurrency is not None else False,
            description="Calls the downstream through the circuit breaker",
        )

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def http_stage_spec(self) -> HttpStageSpec:
        return HttpStageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def caller_environment(self) -> dict[str, str]:
        return {
            "CIRCUIT_ID": self.resolved_circuit_id,
            "FAILURE_THRESHOLD": str(self.failure_threshold),
            "SUCCESS_THRESHOLD": str(self.success_threshold),
            "OPEN_MS": str(self.open_ms),
            "CALL_TIMEOUT_MS": str(self.call_timeout_ms),
            "STATE_CACHE_MS": str(self.state_cache_ms),
            "FAIL_MODE": self.fail_mode,
            "FALLBACK_BODY": self.fallback_body,
        }


def circuits_table_spec() -> TableSpec:
    """One item per dependency, keyed by `circuitId`; small and long-lived, so backed up."""
    return TableSpec(hash_key=("circuitId", "S"))


class CircuitBreakerService(Pattern):
    """API `GET /{proxy+}` -> caller (CircuitBreaker on the circuits table) -> downstream."""

    slug: ClassVar[str] = "circuit-breaker"
    type_token: ClassVar[str] = "serverless-patterns:patterns:CircuitBreakerService"

    def __init__(
        self,
        name: str,
        args: CircuitBreakerServiceArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or CircuitBreakerServiceArgs()
        args.require_downstream()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "circuit_breaker", architecture=settings.architecture, runtime=settings.runtime
        )
        self.circuit_id = args.resolved_circuit_id

        self.table = args.table or create_table(scope, "circuits", circuits_table_spec())
        self.bus: aws.cloudwatch.EventBus | None = None
        if args.publish_events:
            self.bus = (
                args.event_bus or event_bus(scope, "events", description="Circuit transitions")[0]
            )

        if args.api_type == "rest":
            self.rest_api: aws.apigateway.RestApi | None = regional_rest_api(
                scope, "Calls a downstream through a circuit breaker"
            )
            self.http: HttpEndpoint | None = None
            api_id, execution_arn = self.rest_api.id, self.rest_api.execution_arn
        else:
            self.rest_api = None
            self.http = HttpEndpoint(
                scope,
                args.http_stage_spec(),
                description="Calls a downstream through a circuit breaker",
            )
            api_id, execution_arn = self.http.api.id, self.http.api.execution_arn

        self.demo: LambdaFunction | None = None
        statements = [iam.Statement(["dynamodb:GetItem", "dynamodb:UpdateItem"], [self.table.arn])]
        environment: dict[str, pulumi.Input[str]] = {
            "TABLE_NAME": self.table.name,
            **args.caller_environment(),
        }
        if args.demo_downstream:
            self.demo = LambdaFunction(
                scope,
                "flaky",
                FunctionSpec(
                    handler="flaky.handler",
                    memory_size=256,
                    timeout_s=5,
                    environment={"FAILURE_RATE": str(args.demo_failure_rate)},
                    description="Demo downstream: fails at the configured rate",
                ),
                package=package,
                service=self.slug,
            )
            region = aws_context.region(self)
            environment["DOWNSTREAM_URL"] = pulumi.Output.all(api_id, region).apply(
                lambda v: (
                    f"https://{v[0]}.execute-api.{v[1]}.amazonaws.com/{args.stage_name}/{DEMO_PATH}"
                )
            )
            environment["DOWNSTREAM_AUTH"] = "iam"
            statements.append(
                iam.Statement(
                    ["execute-api:Invoke"],
                    [pulumi.Output.concat(execution_arn, f"/{args.stage_name}/GET/{DEMO_PATH}")],
                )
            )
        else:
            assert args.downstream_url is not None  # require_downstream
            environment["DOWNSTREAM_URL"] = args.downstream_url
        if self.bus is not None:
            environment["EVENT_BUS_NAME"] = self.bus.name
            environment["EVENT_SOURCE"] = args.event_source
            statements.append(iam.events_put(self.bus.arn, [args.event_source]))

        self.caller = LambdaFunction(
            scope,
            "caller",
            dataclasses.replace(args.caller_spec(), environment=environment),
            package=package,
            statements=statements,
            service=self.slug,
        )

        self.stage: RestStage | aws.apigatewayv2.Stage
        if self.rest_api is not None:
            self.stage = self._rest_routes(args, self.rest_api)
            invoke_url = self.stage.invoke_url
        else:
            assert self.http is not None
            self._http_routes(self.http)
            self.stage = self.http.stage
            # The stage's own invoke_url, built from what the API knows at preview too.
            invoke_url = pulumi.Output.concat(self.http.api.api_endpoint, "/", args.stage_name)

        self.transition_alarm = metric_alarm(
            scope,
            "circuit-opened",
            namespace=METRIC_NAMESPACE,
            metric="CircuitOpened",
            dimensions={
                "service": self.slug,
                "circuit": self.circuit_id,
                "table": self.table.name,
            },
            statistic="Sum",
            threshold=0,
            description=f"The circuit {self.circuit_id} opened: its dependency is failing",
        )

        self.url = invoke_url.apply(lambda base: base.rstrip("/"))
        self.demo_url: pulumi.Output[str] | None = (
            self.url.apply(lambda base: f"{base}/{DEMO_PATH}") if self.demo is not None else None
        )
        self.table_name = self.table.name
        self.bus_name = self.bus.name if self.bus is not None else None
        outputs: dict[str, pulumi.Input[object]] = {
            "url": self.url,
            "table_name": self.table_name,
        }
        if self.bus_name is not None:
            outputs["bus_name"] = self.bus_name
        self.register_outputs(outputs)

    def _rest_routes(
        self, args: CircuitBreakerServiceArgs, api: aws.apigateway.RestApi
    ) -> RestStage:
        """`GET /` and `GET /{proxy+}` -> caller; with the demo, `GET /flaky` -> flaky. Every
        method is IAM authorised (callers sign with SigV4)."""
        scope = self.scope
        proxy = aws.apigateway.Resource(
            scope.child("proxy-resource"),
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part="{proxy+}",
            opts=scope.opts(),
        )
        routes: list[pulumi.Resource] = []
        targets: list[tuple[str, aws.apigateway.Resource | pulumi.Output[str], str, str]] = [
            ("get-root", api.root_resource_id, "caller-root", "GET/"),
            ("get-proxy", proxy, "caller", "GET/*"),
        ]
        for method_name, resource, suffix, route in targets:
            method = self._get_method(api, method_name, resource)
            proxied = lambda_proxy(scope, api, resource, method, self.caller, suffix, route)
            routes += [method, *proxied]
        if self.demo is not None:
            flaky = aws.apigateway.Resource(
                scope.child("flaky-resource"),
                rest_api=api.id,
                parent_id=api.root_resource_id,
                path_part=DEMO_PATH,
                opts=scope.opts(),
            )
            method = self._get_method(api, "get-flaky", flaky)
            routes += [
                method,
                *lambda_proxy(scope, api, flaky, method, self.demo, "flaky", f"GET/{DEMO_PATH}"),
            ]
        stage = RestStage(
            scope,
            api,
            args.stage_spec(),
            routes=routes,
            fingerprint=f"get-root|get-proxy|demo={self.demo is not None}",
            waf_acl_arn=args.waf_acl_arn,
        )
        return stage

    def _get_method(
        self,
        api: aws.apigateway.RestApi,
        suffix: str,
        resource: aws.apigateway.Resource | pulumi.Output[str],
    ) -> aws.apigateway.Method:
        scope = self.scope
        return aws.apigateway.Method(
            scope.child(suffix),
            rest_api=api.id,
            resource_id=resource.id if isinstance(resource, aws.apigateway.Resource) else resource,
            http_method="GET",
            authorization="AWS_IAM",
            opts=scope.opts(),
        )

    def _http_routes(self, http: HttpEndpoint) -> None:
        http.lambda_route("caller-root", "GET /", self.caller, authorization="AWS_IAM")
        http.lambda_route("caller", "GET /{proxy+}", self.caller, authorization="AWS_IAM")
        if self.demo is not None:
            http.lambda_route("flaky", f"GET /{DEMO_PATH}", self.demo, authorization="AWS_IAM")
