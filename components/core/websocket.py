"""WebSocket API building blocks: the API and its stage, Lambda routes, the connection
registry tables and the `ManageConnections` grant that senders attach.

API Gateway cannot trace WebSocket APIs, so the stage carries what it can instead: JSON
access logs, execution logs at ERROR into a group with retention (the service would make
`/aws/apigateway/<api-id>/<stage>` itself and keep it forever), detailed metrics and
default route throttling; the functions behind it trace. Both need the account-level
CloudWatch role (`components/core/api.py`, `ApiGatewayAccount`), which patterns never make.

The runtime side of the same contract is `functions/shared/ws_registry.py` and
`functions/shared/ws_sender.py`; `SHARED_MODULES` names them for `packaging.build`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from . import aws_context, defaults, iam
from .api import check_stage_name
from .function import FunctionSpec, LambdaFunction
from .scope import Scope
from .table import TableSpec, create_table

SHARED_MODULES = ("ddb_json.py", "ws_registry.py", "ws_sender.py")
BY_USER_INDEX = "byUser"
# A WebSocket integration times out at 29 s (not configurable upwards), so a route's
# function must finish first or the client gets an error while it keeps running.
ROUTE_MAX_TIMEOUT_S = 29
_ROUTE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+$")
_IDENTITY_SOURCE = re.compile(
    r"^(route\.request\.(header|querystring)\.[A-Za-z0-9_-]+|context\.\w+)$"
)

ConnectAuthorization = Literal["NONE", "AWS_IAM", "CUSTOM"]


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    stage_name: str = "live"
    throttle_rate: float = defaults.WEBSOCKET_THROTTLE_RATE
    throttle_burst: int = defaults.WEBSOCKET_THROTTLE_BURST
    execution_log_level: Literal["ERROR", "INFO"] = defaults.WEBSOCKET_EXECUTION_LOG_LEVEL

    def __post_init__(self) -> None:
        check_stage_name(self.stage_name)
        if self.throttle_rate <= 0:
            raise ValueError(f"throttle_rate must be positive (got {self.throttle_rate})")
        if self.throttle_burst < 1:
            raise ValueError(f"throttle_burst must be at least 1 (got {self.throttle_burst})")
        if self.execution_log_level not in ("ERROR", "INFO"):
            raise ValueError(
                f"execution_log_level must be one of ERROR, INFO (got {self.execution_log_level!r})"
            )


@dataclass(frozen=True, kw_only=True)
class AuthorizerSpec:
    """An existing REQUEST Lambda authorizer for `$connect`.

    function_arn: the authorizer function's ARN; in code also the ARN output of a function
      built in the same program (a pattern that brings its own authorizer).
    identity_sources: where its credential is (browsers cannot set headers on a WebSocket
      handshake, so the default is a query parameter); a request without them is refused
      before the authorizer runs.
    """

    function_arn: pulumi.Input[str]
    identity_sources: tuple[str, ...] = ("route.request.querystring.token",)

    def __post_init__(self) -> None:
        if isinstance(self.function_arn, str) and not _LAMBDA_ARN.match(self.function_arn):
            raise ValueError(
                f"authorizer.function_arn must be a Lambda function ARN (got {self.function_arn!r})"
            )
        if not self.identity_sources or not all(
            _IDENTITY_SOURCE.match(s) for s in self.identity_sources
        ):
            raise ValueError(
                "authorizer.identity_sources must be route.request.header.<name>, "
                f"route.request.querystring.<name> or context.<name> (got {self.identity_sources})"
            )

    @property
    def invoke_uri(self) -> pulumi.Output[str]:
        def uri(function_arn: str) -> str:
            partition, region = function_arn.split(":")[1], function_arn.split(":")[3]
            return (
                f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"{function_arn}/invocations"
            )

        return pulumi.Output.from_input(self.function_arn).apply(uri)


def check_route(key: str, spec: FunctionSpec) -> None:
    """A custom route's key and its function's timeout (under the integration's 29 s)."""
    if key.startswith("$") or not _ROUTE_KEY.match(key):
        raise ValueError(
            f"routes keys must be 1-64 letters, digits or ._- and not start with '$' (got {key!r})"
        )
    if spec.timeout_s > ROUTE_MAX_TIMEOUT_S:
        raise ValueError(
            f"routes[{key!r}].timeout_s must be at most {ROUTE_MAX_TIMEOUT_S}, the WebSocket "
            f"integration timeout (got {spec.timeout_s})"
        )


class WebSocketEndpoint:
    """`aws.apigatewayv2.Api` (WEBSOCKET) + auto-deployed stage + its log groups."""

    def __init__(
        self,
        scope: Scope,
        spec: StageSpec,
        *,
        description: str,
        route_selection_expression: str = "$request.body.action",
    ) -> None:
        self.scope = scope
        self.spec = spec
        self.api = aws.apigatewayv2.Api(
            scope.child("api"),
            name=scope.physical("api", max_length=128),
            description=description,
            protocol_type="WEBSOCKET",
            route_selection_expression=route_selection_expression,
            tags=scope.tags,
            opts=scope.opts(),
        )
        retention = scope.settings.log_retention_days
        self.access_log_group = aws.cloudwatch.LogGroup(
            scope.child("access-logs"),
            name=f"/aws/apigateway/{scope.physical('api')}/{spec.stage_name}/access",
            retention_in_days=retention,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.execution_log_group = aws.cloudwatch.LogGroup(
            scope.child("execution-logs"),
            name=self.api.id.apply(lambda api_id: f"/aws/apigateway/{api_id}/{spec.stage_name}"),
            retention_in_days=retention,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.stage = aws.apigatewayv2.Stage(
            scope.child("stage"),
            api_id=self.api.id,
            name=spec.stage_name,
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_log_group.arn,
                format=json.dumps(defaults.WEBSOCKET_ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=spec.throttle_rate,
                throttling_burst_limit=spec.throttle_burst,
                logging_level=spec.execution_log_level,
                detailed_metrics_enabled=True,
                data_trace_enabled=False,
            ),
            tags=scope.tags,
            # The group must exist before the first execution log, or the service makes it.
            opts=scope.opts(depends_on=[self.execution_log_group]),
        )
        region = aws_context.region(scope.component)
        self.ws_url = pulumi.Output.concat(self.api.api_endpoint, "/", self.stage.name)
        self.callback_url = pulumi.Output.all(self.api.id, region, self.stage.name).apply(
            lambda v: f"https://{v[0]}.execute-api.{v[1]}.amazonaws.com/{v[2]}"
        )
        self.api_id = self.api.id
        self.execution_arn = self.api.execution_arn

    def connections_arn(self, method: Literal["POST", "GET", "DELETE"]) -> pulumi.Output[str]:
        """`{api}/{stage}/{method}/@connections/*`: the management API's resource."""
        return pulumi.Output.concat(
            self.api.execution_arn, "/", self.stage.name, f"/{method}/@connections/*"
        )

    def send_statement(self) -> iam.Statement:
        """Post to any connection of this stage, nothing else: for sender roles only."""
        return iam.Statement(["execute-api:ManageConnections"], [self.connections_arn("POST")])

    def probe_statement(self) -> iam.Statement:
        """Ask whether a connection still exists (GET), without sending it anything."""
        return iam.Statement(["execute-api:ManageConnections"], [self.connections_arn("GET")])

    def route(
        self,
        scope: Scope,
        suffix: str,
        route_key: str,
        function: LambdaFunction,
        *,
        two_way: bool = False,
        authorization: ConnectAuthorization = "NONE",
        authorizer_id: pulumi.Input[str] | None = None,
    ) -> aws.apigatewayv2.Route:
        """`route_key` -> Lambda proxy integration -> `function`, with its invoke permission.

        `scope` owns the new resources (another component may add routes to this API).
        `two_way`: the function's response body goes back to the client.
        """
        permission = aws.lambda_.Permission(
            scope.child(f"{suffix}-invoke"),
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/", route_key),
            opts=scope.opts(),
        )
        integration = aws.apigatewayv2.Integration(
            scope.child(f"{suffix}-integration"),
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.function.invoke_arn,
            opts=scope.opts(depends_on=[permission]),
        )
        route = aws.apigatewayv2.Route(
            scope.child(f"{suffix}-route"),
            api_id=self.api.id,
            route_key=route_key,
            target=integration.id.apply(lambda integration_id: f"integrations/{integration_id}"),
            authorization_type=authorization,
            authorizer_id=authorizer_id,
            route_response_selection_expression="$default" if two_way else None,
            opts=scope.opts(),
        )
        if two_way:
            aws.apigatewayv2.RouteResponse(
                scope.child(f"{suffix}-response"),
                api_id=self.api.id,
                route_id=route.id,
                route_response_key="$default",
                opts=scope.opts(),
            )
        return route

    def request_authorizer(self, scope: Scope, spec: AuthorizerSpec) -> aws.apigatewayv2.Authorizer:
        authorizer = aws.apigatewayv2.Authorizer(
            scope.child("authorizer"),
            api_id=self.api.id,
            name=scope.physical("authorizer", max_length=128),
            authorizer_type="REQUEST",
            authorizer_uri=spec.invoke_uri,
            identity_sources=list(spec.identity_sources),
            opts=scope.opts(),
        )
        aws.lambda_.Permission(
            scope.child("authorizer-invoke"),
            action="lambda:InvokeFunction",
            function=spec.function_arn,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/authorizers/", authorizer.id),
            opts=scope.opts(),
        )
        return authorizer


# The connection registry ------------------------------------------------------------------

CONNECTIONS_TABLE = TableSpec(
    hash_key=("connectionId", "S"),
    ephemeral=True,
    ttl_attribute=defaults.TTL_ATTRIBUTE,
    global_indexes={BY_USER_INDEX: ("userId", "S")},
)
SESSIONS_TABLE = TableSpec(
    hash_key=("userId", "S"), ephemeral=True, ttl_attribute=defaults.TTL_ATTRIBUTE
)


@dataclass(frozen=True)
class RegistryTables:
    """Both registry tables and the environment that `ws_sender.*_from_environment` reads."""

    connections: aws.dynamodb.Table
    sessions: aws.dynamodb.Table
    resume_window_s: int

    @classmethod
    def create(
        cls,
        scope: Scope,
        *,
        resume_window_s: int,
        connections: aws.dynamodb.Table | None = None,
        sessions: aws.dynamodb.Table | None = None,
        connections_stream: str | None = None,
    ) -> RegistryTables:
        """New ephemeral tables (TTL on `expiresAt`, no PITR) unless existing ones are given.

        connections_stream: a stream view type for a reader of new connections.
        """
        spec = CONNECTIONS_TABLE
        if connections_stream is not None:
            spec = TableSpec(
                hash_key=spec.hash_key,
                ephemeral=True,
                global_indexes=spec.global_indexes,
                stream_view_type=connections_stream,
            )
        return cls(
            connections=connections or create_table(scope, "connections", spec),
            sessions=sessions or create_table(scope, "sessions", SESSIONS_TABLE),
            resume_window_s=resume_window_s,
        )

    @property
    def by_user_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.connections.arn, f"/index/{BY_USER_INDEX}")

    def environment(
        self, callback_url: pulumi.Input[str] | None = None
    ) -> dict[str, pulumi.Input[str]]:
        env: dict[str, pulumi.Input[str]] = {
            "CONNECTIONS_TABLE": self.connections.name,
            "SESSIONS_TABLE": self.sessions.name,
            "RESUME_WINDOW_S": str(self.resume_window_s),
        }
        if callback_url is not None:
            env["CALLBACK_URL"] = callback_url
        return env

    # Grants, one per role the runtime modules play ----------------------------------------

    def connect_statements(self) -> list[iam.Statement]:
        return [
            iam.Statement(["dynamodb:PutItem"], [self.connections.arn]),
            iam.Statement(["dynamodb:UpdateItem", "dynamodb:PutItem"], [self.sessions.arn]),
        ]

    def disconnect_statements(self) -> list[iam.Statement]:
        """Delete a connection, look up the user's others, stamp the session."""
        return [
            iam.Statement(["dynamodb:DeleteItem"], [self.connections.arn]),
            iam.Statement(["dynamodb:Query"], [self.by_user_arn]),
            iam.Statement(["dynamodb:UpdateItem"], [self.sessions.arn]),
        ]

    def send_only_statements(self) -> list[iam.Statement]:
        """What `ws_sender.Sender.send` needs besides the API grant: when the one client it
        posts to has gone, forget that connection and suspend the user's session (it looks
        up the user's other connections first). No reads of the registry, no batches."""
        return [
            iam.Statement(["dynamodb:DeleteItem"], [self.connections.arn]),
            iam.Statement(["dynamodb:Query"], [self.by_user_arn]),
            iam.Statement(["dynamodb:UpdateItem"], [self.sessions.arn]),
        ]

    def sender_statements(self) -> list[iam.Statement]:
        """What `ws_sender.Sender` needs besides the API grant: read the registry, forget
        departed connections (one by one or in batches) and suspend their sessions."""
        return [
            iam.Statement(
                [
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                ],
                [self.connections.arn],
            ),
            iam.Statement(["dynamodb:Query"], [self.by_user_arn]),
            iam.Statement(["dynamodb:UpdateItem"], [self.sessions.arn]),
        ]

    def sweeper_statements(self) -> list[iam.Statement]:
        return [
            *self.sender_statements(),
            iam.Statement(["dynamodb:Scan", "dynamodb:DeleteItem"], [self.sessions.arn]),
        ]
