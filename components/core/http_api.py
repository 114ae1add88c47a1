"""HTTP API (API Gateway v2) building blocks: the API with its stage, and Lambda routes.

API Gateway cannot trace HTTP APIs with X-Ray, so the stage carries what it can instead
(the policy pack's APIGW2 rules): JSON access logs into a group with retention, default
route throttling and detailed metrics; the functions behind it trace. A pattern that must
show API Gateway itself in its traces uses a REST API (`components/core/api.py`).

Routes take IAM or JWT authorization; `NONE` is allowed, and the policy pack reports it
(APIGW2-005) until the stack exempts the route.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from . import defaults
from .api import check_stage_name
from .function import LambdaFunction
from .scope import Scope

# An HTTP API integration gives up after 30 s (the maximum); REST and WebSocket after 29 s.
# Functions behind either stay under 29 s, so a route can move between the two unchanged.
INTEGRATION_MAX_TIMEOUT_S: Final = 29
HTTP_ACCESS_LOG_FORMAT: Final = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationError": "$context.integration.error",
    "errorMessage": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
}
_ISSUER = re.compile(r"^https://[^\s/]+(/\S*)?$")

RouteAuthorization = Literal["AWS_IAM", "JWT", "NONE"]


@dataclass(frozen=True, kw_only=True)
class HttpStageSpec:
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST

    def __post_init__(self) -> None:
        check_stage_name(self.stage_name)
        if self.throttle_rate <= 0:
            raise ValueError(f"throttle_rate must be positive (got {self.throttle_rate})")
        if self.throttle_burst < 1:
            raise ValueError(f"throttle_burst must be at least 1 (got {self.throttle_burst})")


@dataclass(frozen=True, kw_only=True)
class JwtSpec:
    """A JWT authorizer: tokens from `issuer` (its OIDC discovery document names the keys)
    for one of `audiences`, read from the Authorization header."""

    issuer: str
    audiences: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _ISSUER.match(self.issuer):
            raise ValueError(f"jwt_issuer must be an https:// URL (got {self.issuer!r})")
        if not self.audiences or not all(a.strip() for a in self.audiences):
            raise ValueError("jwt_audiences must name at least one audience (client id)")


class HttpEndpoint:
    """`aws.apigatewayv2.Api` (HTTP) + auto-deployed stage + its access log group."""

    def __init__(self, scope: Scope, spec: HttpStageSpec, *, description: str) -> None:
        self.scope = scope
        self.spec = spec
        self.api = aws.apigatewayv2.Api(
            scope.child("api"),
            name=scope.physical("api", max_length=128),
            description=description,
            protocol_type="HTTP",
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.access_log_group = aws.cloudwatch.LogGroup(
            scope.child("access-logs"),
            name=f"/aws/apigateway/{scope.physical('api')}/{spec.stage_name}",
            retention_in_days=scope.settings.log_retention_days,
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
                format=json.dumps(HTTP_ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=spec.throttle_rate,
                throttling_burst_limit=spec.throttle_burst,
                detailed_metrics_enabled=True,
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.invoke_url = pulumi.Output.concat(self.api.api_endpoint, "/", spec.stage_name)
        self.authorizer: aws.apigatewayv2.Authorizer | None = None

    def jwt_authorizer(self, jwt: JwtSpec) -> aws.apigatewayv2.Authorizer:
        self.authorizer = aws.apigatewayv2.Authorizer(
            self.scope.child("jwt"),
            api_id=self.api.id,
            name=self.scope.physical("jwt", max_length=128),
            authorizer_type="JWT",
            identity_sources=["$request.header.Authorization"],
            jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                issuer=jwt.issuer, audiences=list(jwt.audiences)
            ),
            opts=self.scope.opts(),
        )
        return self.authorizer

    def lambda_route(
        self,
        suffix: str,
        route_key: str,
        function: LambdaFunction,
        *,
        authorization: RouteAuthorization,
    ) -> aws.apigatewayv2.Route:
        """`route_key` (`$default`, `GET /items`) -> an AWS_PROXY integration (payload 2.0,
        29 s) of `function`, which only this API may invoke. JWT needs `jwt_authorizer`."""
        if authorization == "JWT" and self.authorizer is None:
            raise ValueError("a JWT route needs jwt_authorizer() first")
        scope = self.scope
        permission = aws.lambda_.Permission(
            scope.child(f"{suffix}-invoke"),
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=self.api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=scope.opts(),
        )
        integration = aws.apigatewayv2.Integration(
            scope.child(f"{suffix}-integration"),
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_MAX_TIMEOUT_S * 1000,
            opts=scope.opts(),
        )
        return aws.apigatewayv2.Route(
            scope.child(f"{suffix}-route"),
            api_id=self.api.id,
            route_key=route_key,
            target=integration.id.apply(lambda integration_id: f"integrations/{integration_id}"),
            authorization_type=authorization,
            authorizer_id=(
                self.authorizer.id
                if authorization == "JWT" and self.authorizer is not None
                else None
            ),
            opts=scope.opts(depends_on=[permission]),
        )


def check_function_timeout(timeout_s: int, argument: str = "timeout_s") -> None:
    """A function behind an API integration must finish before the integration gives up."""
    if not 1 <= timeout_s < INTEGRATION_MAX_TIMEOUT_S:
        raise ValueError(
            f"{argument} must be between 1 and {INTEGRATION_MAX_TIMEOUT_S - 1}, under the "
            f"{INTEGRATION_MAX_TIMEOUT_S} s API integration limit (got {timeout_s})"
        )


def route_url(invoke_url: pulumi.Input[str], path: str = "") -> pulumi.Output[str]:
    """The stage's URL with `path` appended (no doubled slash)."""
    return pulumi.Output.from_input(invoke_url).apply(
        lambda base: f"{base.rstrip('/')}/{path.lstrip('/')}" if path else base
    )
