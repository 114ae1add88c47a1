"""`websocket-api`: a WebSocket API with a connection registry and resumable sessions.

The reusable WebSocket core: `$connect` / `$disconnect` keep the registry (connections
with a TTL, sessions that survive a reconnect inside `resume_window_s`), `$default` answers
unroutable messages, and every function that pushes to clients uses the shared sender
(`functions/shared/ws_sender.py`) with the stage's `ManageConnections` grant
(`send_statement`). Other components (`progress-tracking`, later `waiting-room`) add
routes to `endpoint` and attach `send_statement` to their posting roles.

`feature_toggles=True` adds the worked example: a toggles table whose stream is broadcast
to every client, and a snapshot of all toggles to each new connection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import defaults, iam, packaging
from .core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.schedule import (
    SCHEDULED_TIME,
    ScheduleSpec,
    TargetSchedule,
    invoke_statement,
)
from .core.scope import Scope
from .core.streams import FailureQueue, StreamConsumer, StreamConsumerSpec
from .core.table import (
    EPHEMERAL_TABLE_DEFAULTS,
    TABLE_DEFAULTS,
    TableSpec,
    create_table,
)
from .core.websocket import (
    SHARED_MODULES,
    AuthorizerSpec,
    ConnectAuthorization,
    RegistryTables,
    StageSpec,
    WebSocketEndpoint,
    check_route,
)

__all__ = ["AuthorizerSpec", "WebSocketApi", "WebSocketApiArgs", "WebSocketCore"]

SWEEP_EXPRESSION = "rate(5 minutes)"
SWEEP_RETRY_ATTEMPTS = 3
SWEEP_MAX_EVENT_AGE_S = 300  # the next run, five minutes later, supersedes an older one
STREAM_RETRY_ATTEMPTS = 3
STREAM_MAX_RECORD_AGE_S = 3600
MAX_RESUME_WINDOW_S = 86_400


@dataclass(frozen=True, kw_only=True)
class WebSocketApiArgs(PatternArgs):
    """Arguments of `WebSocketApi`.

    stage_name: the WebSocket stage's name (the URL's path).
    routes: extra route keys (the message's `action`) -> function in
      `functions/websocket_api/`; each is two-way and may push through the shared sender.
    user_id_source: where `$connect` reads the user id: `protocol_header` (a browser-made
      id sent as the subprotocol and echoed back), `query` (`?userId=`) or `authorizer`
      (the authorizer context's `userId` or `principalId`).
    authorizer: a REQUEST Lambda authorizer for `$connect`; with None `$connect` needs IAM
      (SigV4) authorization, unless `public=True` opens it.
    public: `$connect` without any authorization (no authorizer allowed then).
    resume_window_s: how long a session outlives its user's last connection.
    cleanup: `ttl` (DynamoDB TTL, lazy) or `ttl+sweeper` (also a sweep every 5 minutes).
    throttle_rate: the stage's steady-state message rate limit (messages per second).
    throttle_burst: the stage's burst limit (messages).
    log_retention_days: the log retention of this API's log groups; None keeps the stack's.
    feature_toggles: add the feature-toggle broadcaster example.
    connections_table / sessions_table / toggles_table: existing tables with the same keys
      (`connectionId` + GSI `byUser` on `userId`; `userId`; `featureId` with a stream);
      None makes new ones.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "public",
            ("$connect authorization (IAM or the Lambda authorizer)",),
            "Anyone can connect and claim any user id: keep it to public broadcasts.",
            off=True,
        ),
        Safeguard(
            "connections_table",
            EPHEMERAL_TABLE_DEFAULTS,
            "Enable TTL on its `expiresAt` attribute, or connections are never cleaned up.",
        ),
        Safeguard(
            "sessions_table",
            EPHEMERAL_TABLE_DEFAULTS,
            "Enable TTL on its `expiresAt` attribute, or sessions are never cleaned up.",
        ),
        Safeguard("toggles_table", TABLE_DEFAULTS, "They are the table owner's to set."),
    )

    stage_name: str = "live"
    routes: dict[str, FunctionSpec] = field(default_factory=dict)
    user_id_source: Literal["protocol_header", "query", "authorizer"] = "protocol_header"
    authorizer: AuthorizerSpec | None = None
    public: bool = False
    resume_window_s: int = 300
    cleanup: Literal["ttl", "ttl+sweeper"] = "ttl"
    throttle_rate: float = defaults.WEBSOCKET_THROTTLE_RATE
    throttle_burst: int = defaults.WEBSOCKET_THROTTLE_BURST
    log_retention_days: int | None = None
    feature_toggles: bool = False
    connections_table: aws.dynamodb.Table | None = None
    sessions_table: aws.dynamodb.Table | None = None
    toggles_table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        if self.user_id_source not in ("protocol_header", "query", "authorizer"):
            raise ValueError(
                "user_id_source must be one of protocol_header, query, authorizer "
                f"(got {self.user_id_source!r})"
            )
        if self.user_id_source == "authorizer" and self.authorizer is None:
            raise ValueError("user_id_source='authorizer' needs an authorizer")
        if self.public and self.authorizer is not None:
            raise ValueError("public=True and an authorizer exclude each other")
        if not 1 <= self.resume_window_s <= MAX_RESUME_WINDOW_S:
            raise ValueError(
                f"resume_window_s must be between 1 and {MAX_RESUME_WINDOW_S} "
                f"(got {self.resume_window_s})"
            )
        if self.cleanup not in ("ttl", "ttl+sweeper"):
            raise ValueError(f"cleanup must be one of ttl, ttl+sweeper (got {self.cleanup!r})")
        if (
            self.log_retention_days is not None
            and self.log_retention_days not in defaults.VALID_LOG_RETENTION_DAYS
        ):
            raise ValueError(
                "log_retention_days must be one of "
                f"{', '.join(map(str, defaults.VALID_LOG_RETENTION_DAYS))} "
                f"(got {self.log_retention_days})"
            )
        for key, spec in self.routes.items():
            check_route(key, spec)
        self.stage_spec()

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    @property
    def connect_authorization(self) -> ConnectAuthorization:
        if self.public:
            return "NONE"
        return "CUSTOM" if self.authorizer is not None else "AWS_IAM"


class WebSocketCore:
    """Everything a `WebSocketApi` owns, built into any component's scope.

    `WebSocketApi` is this core in a component of its own; a pattern that needs a WebSocket
    API of its own (`progress-tracking` given args rather than an existing API) builds the
    core into its own scope, so every resource keeps one owning component (flat children).
    """

    def __init__(self, scope: Scope, args: WebSocketApiArgs, *, service: str) -> None:
        if args.log_retention_days is not None:
            settings = dataclasses.replace(
                scope.settings, log_retention_days=args.log_retention_days
            )
            scope = dataclasses.replace(scope, settings=settings)
        self.scope = scope
        self.service = service
        self.package = packaging.build(
            "websocket_api",
            shared=SHARED_MODULES,
            architecture=scope.settings.architecture,
            runtime=scope.settings.runtime,
        )

        self.endpoint = WebSocketEndpoint(
            scope,
            args.stage_spec(),
            description="WebSocket API with a connection registry and resumable sessions",
        )
        self.registry = RegistryTables.create(
            scope,
            resume_window_s=args.resume_window_s,
            connections=args.connections_table,
            sessions=args.sessions_table,
            connections_stream="NEW_IMAGE" if args.feature_toggles else None,
        )
        self.send_statement = self.endpoint.send_statement()
        self.sender_environment = self.registry.environment(self.endpoint.callback_url)
        registry_env = self.registry.environment()

        authorizer_id: pulumi.Output[str] | None = None
        self.authorizer: aws.apigatewayv2.Authorizer | None = None
        if args.authorizer is not None:
            self.authorizer = self.endpoint.request_authorizer(scope, args.authorizer)
            authorizer_id = self.authorizer.id

        self.connect = self._function(
            "connect",
            FunctionSpec(
                handler="connect.handler",
                timeout_s=10,
                environment={**registry_env, "USER_ID_SOURCE": args.user_id_source},
                description="Registers a WebSocket connection and revives its user's session",
            ),
            self.registry.connect_statements(),
        )
        self.disconnect = self._function(
            "disconnect",
            FunctionSpec(
                handler="disconnect.handler",
                timeout_s=10,
                environment=registry_env,
                description="Forgets a WebSocket connection and starts its session's window",
            ),
            self.registry.disconnect_statements(),
        )
        self.default = self._function(
            "default",
            FunctionSpec(
                handler="default.handler",
                timeout_s=5,
                environment={"KNOWN_ACTIONS": ",".join(sorted(args.routes))},
                description="Answers WebSocket messages whose action has no route",
            ),
            [],
        )
        self.routes = {
            "$connect": self.endpoint.route(
                scope,
                "connect",
                "$connect",
                self.connect,
                authorization=args.connect_authorization,
                authorizer_id=authorizer_id,
            ),
            "$disconnect": self.endpoint.route(scope, "disconnect", "$disconnect", self.disconnect),
            "$default": self.endpoint.route(
                scope, "default", "$default", self.default, two_way=True
            ),
        }
        self.route_functions: dict[str, LambdaFunction] = {}
        for key, spec in sorted(args.routes.items()):
            function = self._sender(f"route-{key}", spec)
            self.route_functions[key] = function
            self.routes[key] = self.endpoint.route(
                scope, f"route-{key}", key, function, two_way=True
            )

        self.sweeper: LambdaFunction | None = None
        self.schedule: aws.scheduler.Schedule | None = None
        if args.cleanup == "ttl+sweeper":
            self._sweeper()

        self.toggles: aws.dynamodb.Table | None = None
        if args.feature_toggles:
            self._feature_toggles(args)

        self.ws_url = self.endpoint.ws_url
        self.callback_url = self.endpoint.callback_url
        self.api_id = self.endpoint.api_id
        self.connections_table = self.registry.connections.name
        self.sessions_table = self.registry.sessions.name
        self.send_policy = iam.policy_document([self.send_statement])

    def outputs(self) -> dict[str, pulumi.Input[object]]:
        return {
            "ws_url": self.ws_url,
            "callback_url": self.callback_url,
            "api_id": self.api_id,
            "connections_table": self.connections_table,
            "sessions_table": self.sessions_table,
            "send_policy": self.send_policy,
        }

    # Functions ---------------------------------------------------------------------------

    def _function(
        self, suffix: str, spec: FunctionSpec, statements: list[iam.Statement]
    ) -> LambdaFunction:
        return LambdaFunction(
            self.scope,
            suffix,
            spec,
            package=self.package,
            statements=statements,
            service=self.service,
        )

    def _sender(
        self, suffix: str, spec: FunctionSpec, extra: list[iam.Statement] | None = None
    ) -> LambdaFunction:
        """A function that pushes to clients: the sender's registry rights and the grant."""
        spec = dataclasses.replace(
            spec, environment={**self.sender_environment, **spec.environment}
        )
        statements = [*self.registry.sender_statements(), self.send_statement, *(extra or [])]
        return self._function(suffix, spec, statements)

    def _sweeper(self) -> None:
        scope = self.scope
        self.sweeper_dlq = FailureQueue(scope, "sweeper-dlq")
        self.sweeper = self._function(
            "sweeper",
            FunctionSpec(
                handler="sweeper.handler",
                timeout_s=120,
                environment=self.sender_environment,
                description="Deletes expired connections and sessions, and departed clients",
                async_invoke=AsyncInvoke(
                    on_failure_arn=self.sweeper_dlq.arn,
                    maximum_event_age_s=SWEEP_MAX_EVENT_AGE_S,
                ),
            ),
            [
                *self.registry.sweeper_statements(),
                self.endpoint.probe_statement(),
                iam.sqs_send(self.sweeper_dlq.arn),
            ],
        )
        # One failure queue for both paths: runs Scheduler could not deliver and runs
        # that failed in the function.
        self.sweeper_schedule = TargetSchedule(
            scope,
            "sweeper",
            ScheduleSpec(
                expression=SWEEP_EXPRESSION,
                retry_attempts=SWEEP_RETRY_ATTEMPTS,
                max_event_age_s=SWEEP_MAX_EVENT_AGE_S,
            ),
            target_arn=self.sweeper.arn,
            target_statement=invoke_statement(self.sweeper.arn),
            input={"scheduledTime": SCHEDULED_TIME},
            description=f"Runs {self.sweeper.function_name} {SWEEP_EXPRESSION}",
            dlq_arn=self.sweeper_dlq.arn,
        )
        self.schedule = self.sweeper_schedule.schedule

    def _feature_toggles(self, args: WebSocketApiArgs) -> None:
        scope = self.scope
        self.toggles = args.toggles_table or create_table(
            scope,
            "toggles",
            TableSpec(hash_key=("featureId", "S"), stream_view_type="NEW_IMAGE"),
        )
        # Removing a toggle is not pushed: clients treat a toggle they do not know as off.
        self.broadcast_reader = StreamConsumer(
            scope, "broadcast", self.toggles, _stream_spec(("INSERT", "MODIFY"))
        )
        self.broadcast = self._sender(
            "broadcast",
            FunctionSpec(
                handler="broadcast.handler",
                memory_size=512,
                timeout_s=300,
                description="Broadcasts feature-toggle changes to every live client",
            ),
            self.broadcast_reader.statements,
        )
        self.broadcast_reader.attach(self.broadcast)
        # A connection cannot be posted to until $connect returns: the snapshot follows the
        # registry's INSERT instead of being sent from $connect.
        self.snapshot_reader = StreamConsumer(
            scope, "snapshot", self.registry.connections, _stream_spec(("INSERT",))
        )
        self.snapshot = self._sender(
            "snapshot",
            FunctionSpec(
                handler="snapshot.handler",
                timeout_s=30,
                environment={"TOGGLES_TABLE": self.toggles.name},
                description="Sends every feature toggle to a newly connected client",
            ),
            [
                iam.Statement(["dynamodb:Scan"], [self.toggles.arn]),
                *self.snapshot_reader.statements,
            ],
        )
        self.snapshot_reader.attach(self.snapshot)


def _stream_spec(event_names: tuple[str, ...]) -> StreamConsumerSpec:
    # LATEST: a message about the past is of no use to clients connected now.
    return StreamConsumerSpec(
        starting_position="LATEST",
        batch_size=10,
        max_retries=STREAM_RETRY_ATTEMPTS,
        max_record_age_s=STREAM_MAX_RECORD_AGE_S,
        event_names=event_names,
    )


class WebSocketApi(Pattern):
    """WebSocket API -> connect/disconnect/default (+ routes) -> registry tables.

    The parts other components reuse: `endpoint` (add routes), `registry` (grants and
    environment for senders), `send_statement` and `sender_environment`.
    """

    slug: ClassVar[str] = "websocket-api"
    type_token: ClassVar[str] = "serverless-patterns:patterns:WebSocketApi"

    def __init__(
        self,
        name: str,
        args: WebSocketApiArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or WebSocketApiArgs()
        super().__init__(name, args, opts)
        self.core = WebSocketCore(self.scope, args, service=self.slug)
        core = self.core
        self.endpoint, self.registry = core.endpoint, core.registry
        self.send_statement, self.sender_environment = core.send_statement, core.sender_environment
        self.connect, self.disconnect, self.default = core.connect, core.disconnect, core.default
        self.routes, self.route_functions = core.routes, core.route_functions
        self.sweeper, self.schedule, self.toggles = core.sweeper, core.schedule, core.toggles
        self.ws_url, self.callback_url, self.api_id = core.ws_url, core.callback_url, core.api_id
        self.connections_table, self.sessions_table = core.connections_table, core.sessions_table
        self.send_policy = core.send_policy
        self.register_outputs(core.outputs())
