"""`simple-webservice`: API -> Lambda -> DynamoDB hit counter, the reference for API routes.

Every request, whatever its path and method, reaches the `hits` function through the API's
catch-all route; the function adds one to the path's counter with a single `UpdateItem ADD`
(atomic in DynamoDB, so concurrent hits never lose a count) and answers with the new count.

Two front doors, one function: an HTTP API (`api_type="http"`, the default: cheaper and
faster, `$default` route, IAM or JWT authorization) or a REST API (`api_type="rest"`:
`ANY /` and `ANY /{proxy+}`, IAM authorization, optional WAF). API Gateway can trace only
REST APIs with X-Ray, so choose `rest` when the trace must start at the API.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import iam, packaging
from .core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from .core.function import FunctionSpec, LambdaFunction
from .core.http_api import (
    HttpEndpoint,
    HttpStageSpec,
    JwtSpec,
    RouteAuthorization,
    check_function_timeout,
    route_url,
)
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import REGIONAL_WEB_ACL
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["SimpleWebservice", "SimpleWebserviceArgs"]

KEY_ATTRIBUTE = "path"  # the table's partition key: one counter per request path
API_TYPES = ("http", "rest")
AUTHORIZATIONS = ("AWS_IAM", "JWT", "NONE")


@dataclass(frozen=True, kw_only=True)
class SimpleWebserviceArgs(PatternArgs):
    """Arguments of `SimpleWebservice`.

    api_type: `http` (an HTTP API: `$default` route, access logs, throttling; API Gateway
      cannot trace it, the function does) or `rest` (a REST API: `ANY /` and `ANY
      /{proxy+}`, X-Ray from the API on; choose it when X-Ray is required).
    authorization: who may call: `AWS_IAM` (SigV4-signed callers with
      `execute-api:Invoke`), `JWT` (http only: tokens of `jwt_issuer` for `jwt_audiences`)
      or `NONE` (public: the policy pack then reports the route until the stack exempts it).
    jwt_issuer: with JWT, the token issuer's https:// URL (e.g. a Cognito user pool's
      `https://cognito-idp.<region>.amazonaws.com/<pool id>`); None without JWT.
    jwt_audiences: with JWT, the accepted audiences (app client ids).
    stage_name: the stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    memory_size: the `hits` function's memory in MB.
    timeout_s: the `hits` function's timeout in seconds, under the 29 s integration limit.
    waf_acl_arn: rest only: a regional WAFv2 web ACL for the stage; None associates none.
    table: an existing counters table with partition key `path` (S); None makes a new one
      (on-demand, point-in-time recovery, encrypted).
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard("table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "authorization",
            ("IAM or JWT authorization on every route",),
            "Anyone can call the API: exempt APIGW2-005 (http) or APIGW-008 (rest) for it "
            "in the stack's policy config, and keep the throttle low.",
            off="NONE",
        ),
    )

    api_type: Literal["http", "rest"] = "http"
    authorization: Literal["AWS_IAM", "JWT", "NONE"] = "AWS_IAM"
    jwt_issuer: str | None = None
    jwt_audiences: list[str] = field(default_factory=list)
    stage_name: str = "v1"
    throttle_rate: float = 100.0
    throttle_burst: int = 50
    memory_size: int = 256
    timeout_s: int = 10
    waf_acl_arn: str | None = None
    table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        if self.api_type not in API_TYPES:
            raise ValueError(f"api_type must be one of http, rest (got {self.api_type!r})")
        if self.authorization not in AUTHORIZATIONS:
            raise ValueError(
                f"authorization must be one of AWS_IAM, JWT, NONE (got {self.authorization!r})"
            )
        if self.authorization == "JWT":
            if self.api_type != "http":
                raise ValueError(
                    "authorization JWT needs api_type http (a REST API takes a Lambda "
                    "authorizer: see the authorized-api pattern)"
                )
            self.jwt_spec()
        elif self.jwt_issuer is not None or self.jwt_audiences:
            raise ValueError("jwt_issuer and jwt_audiences apply only with authorization JWT")
        if self.waf_acl_arn is not None:
            if self.api_type != "rest":
                raise ValueError("waf_acl_arn needs api_type rest (HTTP APIs take no web ACL)")
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        check_function_timeout(self.timeout_s)
        # The stage and function specs check the remaining ranges.
        self.function_spec()
        self.http_stage_spec()
        self.rest_stage_spec()

    def jwt_spec(self) -> JwtSpec:
        if self.jwt_issuer is None:
            raise ValueError("jwt_issuer is required with authorization JWT")
        return JwtSpec(issuer=self.jwt_issuer, audiences=tuple(self.jwt_audiences))

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="hits.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description="Counts the hits of each request path and returns the new count",
        )

    def http_stage_spec(self) -> HttpStageSpec:
        return HttpStageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def rest_stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )


def counters_table_spec() -> TableSpec:
    return TableSpec(hash_key=(KEY_ATTRIBUTE, "S"))


class SimpleWebservice(Pattern):
    """HTTP API `$default` (or REST `ANY /{proxy+}`) -> `hits` -> counters table."""

    slug: ClassVar[str] = "simple-webservice"
    type_token: ClassVar[str] = "serverless-patterns:patterns:SimpleWebservice"

    def __init__(
        self,
        name: str,
        args: SimpleWebserviceArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or SimpleWebserviceArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "simple_webservice", architecture=settings.architecture, runtime=settings.runtime
        )

        self.table = args.table or create_table(scope, "hits", counters_table_spec())
        self.hits = LambdaFunction(
            scope,
            "hits",
            dataclasses.replace(args.function_spec(), environment={"TABLE_NAME": self.table.name}),
            package=package,
            # One action: the counter is read back from the update itself (UPDATED_NEW).
            statements=[iam.Statement(["dynamodb:UpdateItem"], [self.table.arn])],
            service=self.slug,
        )

        self.http: HttpEndpoint | None = None
        self.api: aws.apigateway.RestApi | aws.apigatewayv2.Api
        self.stage: RestStage | None = None
        if args.api_type == "http":
            self.http = self._http_api(args)
            self.api = self.http.api
            invoke_url = self.http.invoke_url
        else:
            self.api, self.stage = self._rest_api(args)
            invoke_url = self.stage.invoke_url

        self.url = route_url(invoke_url)
        self.table_name = self.table.name
        self.function_name = self.hits.name
        self.register_outputs(
            {"url": self.url, "table_name": self.table_name, "function_name": self.function_name}
        )

    def _http_api(self, args: SimpleWebserviceArgs) -> HttpEndpoint:
        endpoint = HttpEndpoint(
            self.scope,
            args.http_stage_spec(),
            description="Hit counter: every path counts its own hits",
        )
        if args.authorization == "JWT":
            endpoint.jwt_authorizer(args.jwt_spec())
        authorization: RouteAuthorization = args.authorization
        self.route = endpoint.lambda_route(
            "hits", "$default", self.hits, authorization=authorization
        )
        return endpoint

    def _rest_api(self, args: SimpleWebserviceArgs) -> tuple[aws.apigateway.RestApi, RestStage]:
        scope = self.scope
        api = regional_rest_api(scope, "Hit counter: every path counts its own hits")
        proxy = aws.apigateway.Resource(
            scope.child("proxy-resource"),
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part="{proxy+}",
            opts=scope.opts(),
        )
        routes: list[pulumi.Resource] = []
        for suffix, resource, route in (
            ("root", api.root_resource_id, "*/"),
            ("proxy", proxy, "*/*"),
        ):
            resource_id = resource.id if isinstance(resource, aws.apigateway.Resource) else resource
            method = aws.apigateway.Method(
                scope.child(f"{suffix}-any"),
                rest_api=api.id,
                resource_id=resource_id,
                http_method="ANY",
                authorization=args.authorization,
                opts=scope.opts(),
            )
            routes += [
                method,
                *lambda_proxy(scope, api, resource, method, self.hits, suffix, route),
            ]
        stage = RestStage(
            scope,
            api,
            args.rest_stage_spec(),
            routes=routes,
            fingerprint=f"any-root|any-proxy|{args.authorization}",
            waf_acl_arn=args.waf_acl_arn,
        )
        return api, stage
