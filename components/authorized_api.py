"""`authorized-api`: a REST API behind one Lambda authorizer (JWT, Cognito group -> policy).

Every route but the `public_routes` runs behind a TOKEN (or REQUEST) authorizer that
verifies the caller's bearer JWT against the issuer's published keys (a Cognito user pool
the component makes or is given, or any OIDC issuer) and returns an IAM policy over every
route the caller may use: in `jwt` mode from the token's scopes or claims
(`claim_routes`), in `cognito_groups` mode from a table that maps each Cognito group to
its statements (seeded from `group_policies`). API Gateway caches the result per token for
`result_ttl_s`, so the authorizer runs once per token, not once per request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import aws_context, iam, packaging
from .core.alarms import metric_alarm
from .core.api import RestStage, StageSpec, check_stage_name, lambda_proxy, regional_rest_api
from .core.function import FUNCTION_DEFAULTS, FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.scope import Scope
from .core.settings import REGIONAL_WEB_ACL
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = [
    "AuthorizedApi",
    "AuthorizedApiArgs",
    "GroupGrant",
    "RouteSpec",
    "TokenAuthorizerSpec",
    "UserPoolSpec",
]

Mode = Literal["jwt", "cognito_groups"]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_SEGMENT = r"/([A-Za-z0-9._-]+|\{[A-Za-z0-9_]+\})"
_ROUTE = re.compile(rf"^(?P<method>[A-Z]+) (?P<path>/|({_SEGMENT})*(/\{{[A-Za-z0-9_]+\+\}})?)$")
_PARAM = re.compile(r"\{[^/{}]+\}")
_CLAIM_KEY = re.compile(r"^(scope:[!-~]{1,256}|[A-Za-z0-9_:.-]{1,128}=[!-~]{1,256})$")
_GROUP = re.compile(r"^[\w+=,.@-]{1,128}$")
# API Gateway's identity validation for TOKEN authorizers: a compact JWS after "Bearer ".
BEARER_JWT = r"^Bearer [-0-9A-Za-z_]+\.[-0-9A-Za-z_]+\.[-0-9A-Za-z_]*$"
IDENTITY_SOURCE = "method.request.header.Authorization"
MAX_RESULT_TTL_S = 3600  # API Gateway's ceiling for authorizer result caching


def parse_route(route: str) -> tuple[str, str]:
    """`GET /reports/{id}` -> (`GET`, `/reports/{id}`); ValueError on anything else."""
    match = _ROUTE.match(route)
    if match is None or match["method"] not in METHODS:
        raise ValueError(
            f"route {route!r} must be '<METHOD> /path' with METHOD one of {', '.join(METHODS)} "
            "and path segments of letters, digits, '.', '_', '-' or {param} (a last {param+})"
        )
    return match["method"], match["path"]


def route_arn_part(route: str) -> str:
    """`GET /reports/{id}` -> `GET/reports/*`: the method ARN's tail a policy names."""
    method, path = parse_route(route)
    return f"{'*' if method == 'ANY' else method}/{_PARAM.sub('*', path).lstrip('/')}"


@dataclass(frozen=True, kw_only=True)
class RouteSpec:
    """A route's function from the shipped `functions/authorized_api/` (the example
    `routes.handler` answers GET /me and GET /reports)."""

    handler: str = "routes.handler"
    memory_size: int = 256
    timeout_s: int = 10

    def __post_init__(self) -> None:
        self.function_spec("route")

    def function_spec(self, route: str) -> FunctionSpec:
        return FunctionSpec(
            handler=self.handler,
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description=f"authorized-api route {route}",
        )


@dataclass(frozen=True, kw_only=True)
class TokenAuthorizerSpec:
    """The shipped authorizer (PyJWT, bundled for the target platform).

    jwks_cache_s: how long the issuer's keys are kept (an unknown key id refetches once
      a minute at most); leeway_s: clock skew allowed on exp, nbf and iat.
    """

    memory_size: int = 256
    timeout_s: int = 5
    jwks_cache_s: int = 3600
    jwks_timeout_s: int = 2
    leeway_s: int = 30

    def __post_init__(self) -> None:
        self.function_spec()
        if not 60 <= self.jwks_cache_s <= 86_400:
            raise ValueError(
                f"authorizer.jwks_cache_s must be between 60 and 86400 (got {self.jwks_cache_s})"
            )
        if not 1 <= self.jwks_timeout_s < self.timeout_s:
            raise ValueError(
                f"authorizer.jwks_timeout_s must be at least 1 and under authorizer.timeout_s "
                f"({self.timeout_s}) (got {self.jwks_timeout_s})"
            )
        if not 0 <= self.leeway_s <= 300:
            raise ValueError(f"authorizer.leeway_s must be between 0 and 300 (got {self.leeway_s})")

    def function_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="authorizer.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description="Verifies bearer JWTs and returns the caller's API policy",
        )


@dataclass(frozen=True, kw_only=True)
class UserPoolSpec:
    """A new Cognito user pool (and app client, see `AuthorizedApiArgs.user_pool_client`).

    mfa: ON (TOTP required), OPTIONAL or OFF. advanced_security: threat protection
      (ENFORCED blocks risky sign-ins, AUDIT only reports; both need the PLUS tier).
    deletion_protection: None follows the stack (on in prod): a pool has no backup.
    self_sign_up: users may register themselves (off: administrators create them).
    """

    mfa: Literal["ON", "OPTIONAL", "OFF"] = "ON"
    advanced_security: Literal["ENFORCED", "AUDIT", "OFF"] = "ENFORCED"
    deletion_protection: bool | None = None
    password_min_length: int = 12
    self_sign_up: bool = False
    access_token_minutes: int = 60

    def __post_init__(self) -> None:
        if self.mfa not in ("ON", "OPTIONAL", "OFF"):
            raise ValueError(f"user_pool.mfa must be one of ON, OPTIONAL, OFF (got {self.mfa!r})")
        if self.advanced_security not in ("ENFORCED", "AUDIT", "OFF"):
            raise ValueError(
                "user_pool.advanced_security must be one of ENFORCED, AUDIT, OFF "
                f"(got {self.advanced_security!r})"
            )
        if not 8 <= self.password_min_length <= 99:
            raise ValueError(
                "user_pool.password_min_length must be between 8 and 99 "
                f"(got {self.password_min_length})"
            )
        if not 5 <= self.access_token_minutes <= 1440:
            raise ValueError(
                "user_pool.access_token_minutes must be between 5 and 1440 "
                f"(got {self.access_token_minutes})"
            )


@dataclass(frozen=True, kw_only=True)
class GroupGrant:
    """What one Cognito group may call: route keys allowed and denied (a deny wins)."""

    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


def _default_routes() -> dict[str, RouteSpec | aws.lambda_.Function]:
    return {"GET /me": RouteSpec(), "GET /reports": RouteSpec()}


def _default_group_policies() -> dict[str, GroupGrant]:
    return {
        "admins": GroupGrant(allow=["GET /me", "GET /reports"]),
        "users": GroupGrant(allow=["GET /me"]),
    }


def _default_claim_routes() -> dict[str, list[str]]:
    return {
        "cognito:groups=admins": ["GET /me", "GET /reports"],
        "cognito:groups=users": ["GET /me"],
    }


@dataclass(frozen=True, kw_only=True)
class AuthorizedApiArgs(PatternArgs):
    """Arguments of `AuthorizedApi`.

    routes: `METHOD /path` -> the shipped handler (RouteSpec) or an existing function
      (whose hardened defaults are then its owner's to set); the example's `GET /me` and
      `GET /reports` by default.
    public_routes: routes that skip the authorizer (each needs an APIGW-008 exemption);
      none by default.
    mode: `jwt` (claim_routes) or `cognito_groups` (group_policies, kept in a table).
    user_pool: a new pool (UserPoolSpec, the default), an existing pool, or None for
      another issuer (then issuer and audience are required).
    user_pool_client: an existing app client of user_pool that tokens must be issued to
      (its id is the audience); None makes a new one in the pool (SRP sign-in, no secret,
      token revocation).
    groups: Cognito groups to create in the pool (empty without a user pool).
    issuer / audience / jwks_url: when user_pool is None, the issuer (https), its app
      client ids or audiences, and its keys (None: `<issuer>/.well-known/jwks.json`); with
      a user pool they come from the pool and its client and stay unset.
    token_use: Cognito's token kind to accept (`access`, or `id`), None for an issuer
      without the claim (then `aud` is checked against audience).
    group_policies: cognito_groups mode: group -> routes allowed and denied.
    claim_routes: jwt mode: `scope:<scope>` or `<claim>=<value>` -> routes.
    authorizer: the shipped authorizer's settings, or an existing authorizer function.
    authorizer_type: TOKEN (header validated by API Gateway first) or REQUEST.
    result_ttl_s: how long API Gateway caches an authorizer result per token (0: never).
    policy_cache_s: how long the authorizer keeps a group's statements in memory.
    policy_table: cognito_groups mode: an existing table (PK `group`, S) for the group
      policies; None makes a new one. Unused in jwt mode.
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a regional WAFv2 web ACL to associate with the stage; None associates none.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "routes",
            FUNCTION_DEFAULTS,
            "They are the function owner's to set; API Gateway only invokes it.",
        ),
        Safeguard(
            "user_pool",
            ("required MFA", "threat protection", "deletion protection in prod"),
            "They are the pool owner's to set (COGNITO-001 to COGNITO-003 check them).",
        ),
        Safeguard(
            "user_pool_client",
            (
                "no client secret",
                "SRP and refresh-token sign-in only",
                "user existence errors prevented",
                "token revocation",
                "token validity of user_pool.access_token_minutes",
            ),
            "They are the client owner's to set; its id is the audience the authorizer checks.",
        ),
        Safeguard("policy_table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "authorizer",
            (*FUNCTION_DEFAULTS, "JWT checks on issuer, audience, token use and expiry"),
            "The function must refuse bad tokens with Exception('Unauthorized') itself.",
        ),
    )

    routes: dict[str, RouteSpec | aws.lambda_.Function] = field(default_factory=_default_routes)
    public_routes: list[str] = field(default_factory=list)
    mode: Mode = "jwt"
    user_pool: aws.cognito.UserPool | UserPoolSpec | None = field(default_factory=UserPoolSpec)
    user_pool_client: aws.cognito.UserPoolClient | None = None
    groups: list[str] = field(default_factory=lambda: ["admins", "users"])
    issuer: str | None = None
    audience: list[str] = field(default_factory=list)
    jwks_url: str | None = None
    token_use: Literal["access", "id"] | None = "access"
    group_policies: dict[str, GroupGrant] = field(default_factory=_default_group_policies)
    claim_routes: dict[str, list[str]] = field(default_factory=_default_claim_routes)
    authorizer: TokenAuthorizerSpec | aws.lambda_.Function = field(
        default_factory=TokenAuthorizerSpec
    )
    authorizer_type: Literal["TOKEN", "REQUEST"] = "TOKEN"
    result_ttl_s: int = 300
    policy_cache_s: int = 60
    policy_table: aws.dynamodb.Table | None = None
    stage_name: str = "v1"
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    waf_acl_arn: str | None = None

    def __post_init__(self) -> None:
        if not self.routes:
            raise ValueError("routes must name at least one route")
        for route in self.routes:
            parse_route(route)
        for route in self.public_routes:
            if route not in self.routes:
                raise ValueError(f"public_routes names {route!r}, which is not in routes")
        if set(self.public_routes) == set(self.routes):
            raise ValueError("public_routes must leave at least one route behind the authorizer")
        if self.mode not in ("jwt", "cognito_groups"):
            raise ValueError(f"mode must be one of jwt, cognito_groups (got {self.mode!r})")
        if self.authorizer_type not in ("TOKEN", "REQUEST"):
            raise ValueError(
                f"authorizer_type must be one of TOKEN, REQUEST (got {self.authorizer_type!r})"
            )
        if self.token_use not in ("access", "id", None):
            raise ValueError(f"token_use must be access, id or null (got {self.token_use!r})")
        self._check_issuer()
        for group in self.groups:
            if not _GROUP.match(group):
                raise ValueError(f"groups: {group!r} is not a Cognito group name")
        if self.mode == "cognito_groups":
            for group, grant in self.group_policies.items():
                if not _GROUP.match(group):
                    raise ValueError(f"group_policies: {group!r} is not a Cognito group name")
                self._check_routes(f"group_policies.{group}", [*grant.allow, *grant.deny])
        else:
            if not self.claim_routes:
                raise ValueError(
                    "claim_routes must map at least one scope or claim in jwt mode "
                    "(else every caller is denied)"
                )
            for key, routes in self.claim_routes.items():
                if not _CLAIM_KEY.match(key):
                    raise ValueError(
                        f"claim_routes key {key!r} must be 'scope:<scope>' or '<claim>=<value>'"
                    )
                self._check_routes(f"claim_routes[{key!r}]", routes)
        if not 0 <= self.result_ttl_s <= MAX_RESULT_TTL_S:
            raise ValueError(
                f"result_ttl_s must be between 0 and {MAX_RESULT_TTL_S} (got {self.result_ttl_s})"
            )
        if not 0 <= self.policy_cache_s <= 3600:
            raise ValueError(
                f"policy_cache_s must be between 0 and 3600 (got {self.policy_cache_s})"
            )
        check_stage_name(self.stage_name)
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        self.stage_spec()

    def _check_issuer(self) -> None:
        if self.user_pool is not None:
            if self.issuer is not None or self.jwks_url is not None:
                raise ValueError(
                    "issuer and jwks_url come from the user pool; set user_pool to null to "
                    "trust another issuer"
                )
            if self.audience:
                raise ValueError("audience comes from user_pool_client when a user pool is used")
            return
        if self.user_pool_client is not None or self.groups:
            raise ValueError("user_pool_client and groups need a user pool (user_pool)")
        if self.issuer is None or not self.issuer.startswith("https://"):
            raise ValueError(
                f"issuer must be an https:// URL without a user pool (got {self.issuer!r})"
            )
        if not self.audience:
            raise ValueError("audience must name at least one client id or audience")
        if self.jwks_url is not None and not self.jwks_url.startswith("https://"):
            raise ValueError(f"jwks_url must be an https:// URL (got {self.jwks_url!r})")
        if self.mode == "cognito_groups" and self.token_use is None:
            raise ValueError("mode 'cognito_groups' reads Cognito's groups claim; set token_use")

    def _check_routes(self, where: str, routes: list[str]) -> None:
        for route in routes:
            if route not in self.routes:
                raise ValueError(f"{where} names {route!r}, which is not in routes")

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )

    def claim_routes_environment(self) -> str:
        """CLAIM_ROUTES for the authorizer: key -> [[method, resource path], ...]."""
        rendered = {
            key: [route_arn_part(route).split("/", 1) for route in routes]
            for key, routes in sorted(self.claim_routes.items())
        }
        return json.dumps(rendered, sort_keys=True, separators=(",", ":"))


def policy_item(group: str, grant: GroupGrant, stage_arn: str) -> str:
    """The policy table item (DynamoDB JSON) for one group: its statements as execute-api
    ARNs of this API's stage (`<execution ARN>/<stage>`)."""
    statements = [
        {"M": {"effect": {"S": effect}, "resource": {"S": f"{stage_arn}/{route_arn_part(r)}"}}}
        for effect, routes in (("Allow", grant.allow), ("Deny", grant.deny))
        for r in routes
    ]
    return json.dumps({"group": {"S": group}, "statements": {"L": statements}}, sort_keys=True)


def _route_suffix(route: str) -> str:
    method, path = parse_route(route)
    parts = [p.strip("{}+") + ("-param" if p.startswith("{") else "") for p in path.split("/") if p]
    return "-".join([method.lower(), *parts]) if parts else f"{method.lower()}-root"


class AuthorizedApi(Pattern):
    """REST API -> Lambda authorizer (JWT via JWKS; claims or group table) -> routes."""

    slug: ClassVar[str] = "authorized-api"
    type_token: ClassVar[str] = "serverless-patterns:patterns:AuthorizedApi"

    def __init__(
        self,
        name: str,
        args: AuthorizedApiArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or AuthorizedApiArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        self.package = packaging.build(
            "authorized_api", architecture=settings.architecture, runtime=settings.runtime
        )

        self.user_pool: aws.cognito.UserPool | None = None
        self.user_pool_client: aws.cognito.UserPoolClient | None = None
        self.groups: list[aws.cognito.UserGroup] = []
        issuer, audience = self._identity(args)
        jwks_url = (
            pulumi.Output.from_input(args.jwks_url)
            if args.jwks_url
            else issuer.apply(lambda i: f"{i.rstrip('/')}/.well-known/jwks.json")
        )

        self.api = regional_rest_api(scope, "REST API behind a JWT Lambda authorizer")
        self.policy_table: aws.dynamodb.Table | None = None
        if args.mode == "cognito_groups":
            self.policy_table = args.policy_table or create_table(
                scope, "group-policies", TableSpec(hash_key=("group", "S"))
            )

        self.authorizer_function: LambdaFunction | None = None
        authorizer_target = self._authorizer_function(args, issuer, audience, jwks_url)
        self.authorizer = aws.apigateway.Authorizer(
            scope.child("authorizer"),
            name=scope.physical("authorizer", max_length=128),
            rest_api=self.api.id,
            type=args.authorizer_type,
            authorizer_uri=authorizer_target.invoke_arn,
            identity_source=IDENTITY_SOURCE,
            identity_validation_expression=BEARER_JWT if args.authorizer_type == "TOKEN" else None,
            authorizer_result_ttl_in_seconds=args.result_ttl_s,
            opts=scope.opts(),
        )
        self.authorizer_permission = aws.lambda_.Permission(
            scope.child("authorizer-invoke"),
            action="lambda:InvokeFunction",
            function=authorizer_target.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(
                self.api.execution_arn, "/authorizers/", self.authorizer.id
            ),
            opts=scope.opts(),
        )
        self.unauthorized_response = aws.apigateway.Response(
            scope.child("unauthorized"),
            rest_api_id=self.api.id,
            response_type="UNAUTHORIZED",
            status_code="401",
            response_parameters={"gatewayresponse.header.WWW-Authenticate": "'Bearer'"},
            response_templates={"application/json": '{"message":$context.error.messageString}'},
            opts=scope.opts(),
        )

        self.route_functions: dict[str, LambdaFunction] = {}
        self.methods: dict[str, aws.apigateway.Method] = {}
        self.resources: dict[str, aws.apigateway.Resource] = {}
        deployed: list[pulumi.Resource] = [self.unauthorized_response]
        for route, target in sorted(args.routes.items()):
            deployed += self._route(args, route, target)

        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=deployed,
            fingerprint=json.dumps(
                {
                    "routes": sorted(args.routes),
                    "public": sorted(args.public_routes),
                    "type": args.authorizer_type,
                    "ttl": args.result_ttl_s,
                },
                sort_keys=True,
            ),
            waf_acl_arn=args.waf_acl_arn,
        )
        if self.policy_table is not None:
            self._seed_policies(args)
        self._alarms(args)

        self.url = self.stage.invoke_url
        self.api_id = self.api.id
        self.authorizer_id = self.authorizer.id
        self.issuer = issuer
        outputs: dict[str, pulumi.Input[object]] = {
            "url": self.url,
            "api_id": self.api_id,
            "authorizer_id": self.authorizer_id,
            "issuer": self.issuer,
        }
        if self.user_pool is not None:
            outputs["user_pool_id"] = self.user_pool.id
        if self.user_pool_client is not None:
            outputs["user_pool_client_id"] = self.user_pool_client.id
        if self.policy_table is not None:
            outputs["policy_table"] = self.policy_table.name
        self.register_outputs(outputs)

    # Identity -----------------------------------------------------------------------------

    def _identity(self, args: AuthorizedApiArgs) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """(issuer, comma-separated audience) of the tokens the authorizer accepts."""
        if args.user_pool is None:
            return pulumi.Output.from_input(str(args.issuer)), pulumi.Output.from_input(
                ",".join(args.audience)
            )
        scope = self.scope
        if isinstance(args.user_pool, UserPoolSpec):
            self.user_pool = _user_pool(scope, args.user_pool)
        else:
            self.user_pool = args.user_pool
        pool = self.user_pool
        self.groups = [
            aws.cognito.UserGroup(
                scope.child(f"group-{group}"),
                name=group,
                user_pool_id=pool.id,
                description=f"API callers in group {group}",
                opts=scope.opts(),
            )
            for group in args.groups
        ]
        minutes = (
            args.user_pool.access_token_minutes if isinstance(args.user_pool, UserPoolSpec) else 60
        )
        self.user_pool_client = args.user_pool_client or aws.cognito.UserPoolClient(
            scope.child("client"),
            name=scope.physical("client", max_length=128),
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=minutes,
            id_token_validity=minutes,
            refresh_token_validity=30,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="days"
            ),
            opts=scope.opts(),
        )
        region = aws_context.region(scope.component)
        issuer = pulumi.Output.all(region, pool.id).apply(
            lambda v: f"https://cognito-idp.{v[0]}.amazonaws.com/{v[1]}"
        )
        return issuer, self.user_pool_client.id

    # Authorizer ---------------------------------------------------------------------------

    def _authorizer_function(
        self,
        args: AuthorizedApiArgs,
        issuer: pulumi.Output[str],
        audience: pulumi.Output[str],
        jwks_url: pulumi.Output[str],
    ) -> aws.lambda_.Function:
        if isinstance(args.authorizer, aws.lambda_.Function):
            return args.authorizer
        spec = args.authorizer
        environment: dict[str, pulumi.Input[str]] = {
            "MODE": args.mode,
            "ISSUER": issuer,
            "AUDIENCE": audience,
            "JWKS_URL": jwks_url,
            "JWT_KIND": args.token_use or "",
            "LEEWAY_S": str(spec.leeway_s),
            "JWKS_CACHE_S": str(spec.jwks_cache_s),
            "JWKS_TIMEOUT_S": str(spec.jwks_timeout_s),
        }
        statements: list[iam.Statement] = []
        if self.policy_table is not None:
            environment["POLICY_TABLE"] = self.policy_table.name
            environment["POLICY_CACHE_S"] = str(args.policy_cache_s)
            statements.append(iam.Statement(["dynamodb:GetItem"], [self.policy_table.arn]))
        else:
            environment["CLAIM_ROUTES"] = args.claim_routes_environment()
        function_spec = spec.function_spec()
        self.authorizer_function = LambdaFunction(
            self.scope,
            "authorizer",
            FunctionSpec(
                handler=function_spec.handler,
                memory_size=function_spec.memory_size,
                timeout_s=function_spec.timeout_s,
                description=function_spec.description,
                environment=environment,
            ),
            package=self.package,
            statements=statements,
            service=self.slug,
        )
        return self.authorizer_function.function

    # Routes -------------------------------------------------------------------------------

    def _resource(self, path: str) -> aws.apigateway.Resource | pulumi.Output[str]:
        """The API resource for `path` (the root's id for `/`), making missing ancestors."""
        if path == "/":
            return self.api.root_resource_id
        if path not in self.resources:
            parent, _, part = path.rpartition("/")
            above = self._resource(parent or "/")
            self.resources[path] = aws.apigateway.Resource(
                self.scope.child("resource" + re.sub(r"[{}+]", "", path.replace("/", "-"))),
                rest_api=self.api.id,
                parent_id=above.id if isinstance(above, aws.apigateway.Resource) else above,
                path_part=part,
                opts=self.scope.opts(),
            )
        return self.resources[path]

    def _route(
        self, args: AuthorizedApiArgs, route: str, target: RouteSpec | aws.lambda_.Function
    ) -> list[pulumi.Resource]:
        scope = self.scope
        method_name, path = parse_route(route)
        resource = self._resource(path)
        public = route in args.public_routes
        suffix = _route_suffix(route)
        method = aws.apigateway.Method(
            scope.child(suffix),
            rest_api=self.api.id,
            resource_id=resource.id if isinstance(resource, aws.apigateway.Resource) else resource,
            http_method=method_name,
            authorization="NONE" if public else "CUSTOM",
            authorizer_id=None if public else self.authorizer.id,
            opts=scope.opts(),
        )
        self.methods[route] = method
        handler: LambdaFunction | aws.lambda_.Function
        if isinstance(target, RouteSpec):
            handler = self.route_functions[route] = LambdaFunction(
                scope,
                f"{suffix}-fn",
                target.function_spec(route),
                package=self.package,
                service=self.slug,
            )
        else:
            handler = target
        routes = lambda_proxy(
            scope, self.api, resource, method, handler, suffix, route_arn_part(route)
        )
        return [method, *routes]

    # Policies and alarms ------------------------------------------------------------------

    def _seed_policies(self, args: AuthorizedApiArgs) -> None:
        assert self.policy_table is not None
        stage_arn = self.api.execution_arn.apply(lambda arn: f"{arn}/{args.stage_name}")
        table = self.policy_table
        self.policy_items = [
            aws.dynamodb.TableItem(
                self.scope.child(f"policy-{group}"),
                table_name=table.name,
                hash_key="group",
                item=stage_arn.apply(lambda arn, g=group, grant=grant: policy_item(g, grant, arn)),
                opts=self.scope.opts(),
            )
            for group, grant in sorted(args.group_policies.items())
        ]

    def _alarms(self, args: AuthorizedApiArgs) -> None:
        scope = self.scope
        self.server_errors_alarm = metric_alarm(
            scope,
            "api-5xx",
            namespace="AWS/ApiGateway",
            metric="5XXError",
            dimensions={"ApiName": self.api.name, "Stage": args.stage_name},
            statistic="Sum",
            threshold=0,
            evaluation_periods=3,
            description="The API answered 5xx (authorizer failures included) for 3 minutes",
        )
        if self.authorizer_function is not None:
            spec = args.authorizer
            assert isinstance(spec, TokenAuthorizerSpec)
            self.authorizer_latency_alarm = metric_alarm(
                scope,
                "authorizer-latency",
                namespace="AWS/Lambda",
                metric="Duration",
                dimensions={"FunctionName": self.authorizer_function.name},
                threshold=spec.timeout_s * 1000 * 0.8,
                evaluation_periods=3,
                description="The authorizer is near its timeout (slow key fetches or table)",
            )


def _user_pool(scope: Scope, spec: UserPoolSpec) -> aws.cognito.UserPool:
    deletion = spec.deletion_protection
    if deletion is None:
        deletion = scope.settings.production
    mfa_on = spec.mfa != "OFF"
    return aws.cognito.UserPool(
        scope.child("users"),
        name=scope.physical("users", max_length=128),
        username_attributes=["email"],
        auto_verified_attributes=["email"],
        mfa_configuration=spec.mfa,
        software_token_mfa_configuration=(
            aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True) if mfa_on else None
        ),
        user_pool_tier="ESSENTIALS" if spec.advanced_security == "OFF" else "PLUS",
        user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(
            advanced_security_mode=spec.advanced_security
        ),
        deletion_protection="ACTIVE" if deletion else "INACTIVE",
        password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
            minimum_length=spec.password_min_length,
            require_lowercase=True,
            require_uppercase=True,
            require_numbers=True,
            require_symbols=True,
            temporary_password_validity_days=3,
        ),
        admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
            allow_admin_create_user_only=not spec.self_sign_up
        ),
        account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
            recovery_mechanisms=[
                aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(
                    name="verified_email", priority=1
                )
            ]
        ),
        tags=scope.tags,
        opts=scope.opts(),
    )
