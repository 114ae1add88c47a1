"""`waiting-room`: a virtual waiting room that admits visitors to a protected zone fairly and
at a controlled pace, built to hold its limits through an on-sale.

Visitors enter through a REST API (`POST /zones/{zoneId}/enter`) and get a signed,
HttpOnly visitor cookie and a place in the zone's queue (one per visitor, however often they
enter). The `admitter` (Scheduler, every minute, reserved concurrency 1) admits the next
visitors in position order (priority tier first) within the zone's budget: the release rate
per minute, the zone's size and the token pool, each enforced as a condition of the same
transaction that counts it, so overlapping runs can never over-issue. Admitted visitors are
told over the WebSocket API (`websocket-api`'s core, `$connect` authorized by a push
ticket) and fetch their access token from `GET .../status`, which is also the polling
fallback. Tokens are HMAC-SHA256 with a key in Secrets Manager that rotates on a schedule;
`verify_access` is the REQUEST authorizer for routes behind the room (and `complete`).
The `sweeper` (every 5 minutes) expires overdue tokens and drops visitors who stopped
polling; the queue table's stream feeds business metrics (EMF).

Runtime: `functions/waiting_room/`; design notes: docs/patterns/waiting-room.md.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from ..core import iam, packaging
from ..core.alarms import metric_alarm
from ..core.api import RestStage, StageSpec, check_stage_name, lambda_proxy, regional_rest_api
from ..core.dead_letter import DeadLetterQueue
from ..core.function import AsyncInvoke, FunctionSpec, LambdaFunction
from ..core.pattern import Pattern, PatternArgs, Safeguard
from ..core.schedule import ScheduleSpec, TargetSchedule, validate_expression
from ..core.settings import REGIONAL_WEB_ACL
from ..core.streams import StreamConsumer, StreamConsumerSpec
from ..core.table import (
    EPHEMERAL_TABLE_DEFAULTS,
    TABLE_DEFAULTS,
    TableSpec,
    create_table,
)
from ..core.websocket import SHARED_MODULES, AuthorizerSpec
from ..websocket_api import WebSocketApi, WebSocketApiArgs, WebSocketCore
from .zones import ZoneSpec

__all__ = ["WaitingRoom", "WaitingRoomArgs", "ZoneSpec"]

Transport = Literal["websocket", "polling"]
SWEEP_EXPRESSION = "rate(5 minutes)"
HEARTBEAT_S = 60  # how often a waiting visitor's poll rewrites `lastSeen` (runtime: visitors.py)
ADMITTER_TIMEOUT_S = 60
MAX_SLICES_PER_MINUTE = 12  # a slice every 5 seconds at most
VISITOR_CACHE_TTL_S = 300  # the visitor authorizer's cached answer, per cookie
PLACEHOLDER_SECRET = "not-a-key: replaced by the first rotation"
PUSH_TICKET_QUERY = "route.request.querystring.ticket"
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TABLE_KEYS = {
    "zones": TableSpec(hash_key=("zoneId", "S")),
    "counters": TableSpec(hash_key=("zoneId", "S"), range_key=("name", "S"), ephemeral=True),
    "queue": TableSpec(
        hash_key=("zoneId", "S"),
        range_key=("sk", "S"),
        ephemeral=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
        global_indexes={"waiting": ("waitingZone", "S"), "admitted": ("admittedZone", "S")},
        index_sort_keys={"waiting": ("position", "S"), "admitted": ("tokenExp", "N")},
    ),
}
# The metrics function reads visitor items that entered or changed state, never the
# `lastSeen` heartbeats of waiting visitors (MODIFY with a WAITING new image).
VISITOR_KEY = {"Keys": {"sk": {"S": [{"prefix": "visitor#"}]}}}
METRIC_FILTERS = (
    {"eventName": ["INSERT"], "dynamodb": VISITOR_KEY},
    {
        "eventName": ["MODIFY"],
        "dynamodb": {
            **VISITOR_KEY,
            "NewImage": {"status": {"S": ["ADMITTED", "LEFT", "COMPLETED", "EXPIRED"]}},
        },
    },
    {
        "eventName": ["MODIFY"],
        "dynamodb": {
            **VISITOR_KEY,
            "NewImage": {"status": {"S": ["WAITING"]}},
            "OldImage": {"status": {"S": ["LEFT", "EXPIRED"]}},
        },
    },
)


@dataclass(frozen=True, kw_only=True)
class WaitingRoomArgs(PatternArgs):
    """Arguments of `WaitingRoom`.

    zones: protected zones configured with the stack (`ZoneSpec`); the admin API refuses to
      change them. Empty: every zone is configured at runtime.
    zones_managed_at_runtime: add the IAM-authorized admin routes (`PUT /zones/{zoneId}`
      and `POST /zones/{zoneId}/passes`); passes need them.
    transport: `websocket` pushes "your turn" (with `status` polling as the fallback);
      `polling` relies on `status` alone.
    websocket: an existing `WebSocketApi` to push through (its users must be identified by
      visitor id), or the args of a new one; None makes a new one whose `$connect` the
      visitor authorizer guards. Only with transport `websocket`.
    admit_schedule: when the admitter runs (Scheduler rate() or cron()).
    slices_per_minute: spread each minute's release over this many slices of a run (1-12);
      1 admits the minute's budget at once.
    token_ttl_s: how long an access token lasts (60-86400 s); the sweeper returns the place
      and the token of a visitor who lets it expire.
    abandon_after_s: a waiting visitor who has not polled for this long is dropped
      (120-86400 s).
    visitor_cookie: the visitor cookie's name.
    signing_key: an existing Secrets Manager secret holding the signing key (base64 of 32+
      random bytes); None makes one that rotates every `signing_key_rotation_days`.
    signing_key_rotation_days: rotation period of the signing key the component makes.
    waf_acl_arn: a regional WAFv2 web ACL for the REST stage (rate-based rules belong
      there); None associates none.
    stage_name: the REST stage's name.
    throttle_rate / throttle_burst: the REST stage's request rate and burst limits.
    waiting_age_alarm_s: alarm when the head of a queue has waited longer than this.
    zones_table / counters_table / queue_table: existing tables with the same keys and
      indexes (see docs/patterns/waiting-room.md); None makes new ones.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "signing_key",
            ("automatic rotation of the signing key",),
            "Rotate it yourself; tokens signed with the previous version keep verifying.",
        ),
        Safeguard("zones_table", TABLE_DEFAULTS, "They are the table owner's to set."),
        Safeguard(
            "counters_table",
            EPHEMERAL_TABLE_DEFAULTS,
            "Enable TTL on its `expiresAt` attribute, or minute counters are never removed.",
        ),
        Safeguard(
            "queue_table",
            EPHEMERAL_TABLE_DEFAULTS,
            "Enable TTL on its `expiresAt` attribute and its NEW_AND_OLD_IMAGES stream.",
        ),
    )

    zones: list[ZoneSpec] = field(default_factory=list)
    zones_managed_at_runtime: bool = True
    transport: Transport = "websocket"
    websocket: WebSocketApi | WebSocketApiArgs | None = None
    admit_schedule: str = "rate(1 minute)"
    slices_per_minute: int = 1
    token_ttl_s: int = 600
    abandon_after_s: int = 900
    visitor_cookie: str = "vwr_visitor"
    signing_key: aws.secretsmanager.Secret | None = None
    signing_key_rotation_days: int = 30
    waf_acl_arn: str | None = None
    stage_name: str = "v1"
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    waiting_age_alarm_s: int = 3600
    zones_table: aws.dynamodb.Table | None = None
    counters_table: aws.dynamodb.Table | None = None
    queue_table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        if not self.zones and not self.zones_managed_at_runtime:
            raise ValueError(
                "zones must name at least one zone when zones_managed_at_runtime is false"
            )
        ids = [zone.zone_id for zone in self.zones]
        if len(set(ids)) != len(ids):
            raise ValueError(f"zones must have distinct zone_id values (got {ids})")
        if self.transport not in ("websocket", "polling"):
            raise ValueError(
                f"transport must be one of websocket, polling (got {self.transport!r})"
            )
        if self.transport == "polling" and self.websocket is not None:
            raise ValueError("websocket is used only with transport='websocket'")
        validate_expression(self.admit_schedule, "admit_schedule")
        if self.admit_schedule.startswith("at("):
            raise ValueError("admit_schedule must repeat: rate() or cron(), not at()")
        if not 1 <= self.slices_per_minute <= MAX_SLICES_PER_MINUTE:
            raise ValueError(
                f"slices_per_minute must be between 1 and {MAX_SLICES_PER_MINUTE} "
                f"(got {self.slices_per_minute})"
            )
        if not 60 <= self.token_ttl_s <= 86_400:
            raise ValueError(f"token_ttl_s must be between 60 and 86400 (got {self.token_ttl_s})")
        if not 2 * HEARTBEAT_S <= self.abandon_after_s <= 86_400:
            raise ValueError(
                f"abandon_after_s must be between {2 * HEARTBEAT_S} and 86400 "
                f"(got {self.abandon_after_s})"
            )
        if not _COOKIE_NAME.match(self.visitor_cookie):
            raise ValueError(
                "visitor_cookie must be 1-64 letters, digits, '_' or '-' "
                f"(got {self.visitor_cookie!r})"
            )
        if not 1 <= self.signing_key_rotation_days <= 365:
            raise ValueError(
                "signing_key_rotation_days must be between 1 and 365 "
                f"(got {self.signing_key_rotation_days})"
            )
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        check_stage_name(self.stage_name)
        if self.waiting_age_alarm_s < 60:
            raise ValueError(
                f"waiting_age_alarm_s must be at least 60 (got {self.waiting_age_alarm_s})"
            )
        self.stage_spec()

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )


@dataclass(frozen=True)
class _Route:
    """A visitor or admin route: method, path under `/zones/{zoneId}`, handler function."""

    method: str
    path: str  # "" for `/zones/{zoneId}` itself
    function: str
    authorizer: str | None  # a key of `WaitingRoom.authorizers`, or None for AWS_IAM


class WaitingRoom(Pattern):
    """REST visitor API + admitter + sweeper over three tables, pushing over WebSocket."""

    slug: ClassVar[str] = "waiting-room"
    type_token: ClassVar[str] = "serverless-patterns:patterns:WaitingRoom"

    def __init__(
        self,
        name: str,
        args: WaitingRoomArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or WaitingRoomArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = scope.settings
        self.args = args
        self.package = packaging.build(
            "waiting_room",
            shared=SHARED_MODULES,
            architecture=settings.architecture,
            runtime=settings.runtime,
        )

        self.zones_table = args.zones_table or create_table(scope, "zones", TABLE_KEYS["zones"])
        self.counters_table = args.counters_table or create_table(
            scope, "counters", TABLE_KEYS["counters"]
        )
        self.queue_table = args.queue_table or create_table(scope, "queue", TABLE_KEYS["queue"])
        self.zone_items = [
            aws.dynamodb.TableItem(
                scope.child(f"zone-{zone.zone_id}"),
                table_name=self.zones_table.name,
                hash_key="zoneId",
                item=zone.item_json(),
                opts=scope.opts(),
            )
            for zone in args.zones
        ]
        self._signing_key(args)

        self.functions: dict[str, LambdaFunction] = {}
        self._visitor_functions(args)
        self._authorizer_functions(args)
        self._api(args)
        self.websocket: WebSocketCore | None = None
        if args.transport == "websocket":
            self._websocket(args)
        self._admitter(args)
        self._sweeper(args)
        self._metrics()
        self.waiting_age_alarm = metric_alarm(
            scope,
            "waiting-age",
            namespace="ServerlessPatterns",
            metric="OldestWaitingAge",
            dimensions={"service": self.slug, "room": name},
            threshold=args.waiting_age_alarm_s,
            evaluation_periods=3,
            description=(
                f"The head of a {name} queue has waited over {args.waiting_age_alarm_s} s "
                "(admission stalled or the zone is full)"
            ),
        )

        self.api_url = self.stage.invoke_url.apply(lambda base: base.rstrip("/"))
        self.ws_url = self.websocket.ws_url if self.websocket is not None else None
        self.table_names = pulumi.Output.all(
            self.zones_table.name, self.counters_table.name, self.queue_table.name
        ).apply(lambda names: {"zones": names[0], "counters": names[1], "queue": names[2]})
        self.signing_key_arn = self.signing_secret_arn
        self.authorizer_function_arn = self.functions["verify-access"].arn
        self.register_outputs(
            {
                "api_url": self.api_url,
                "ws_url": self.ws_url,
                "table_names": self.table_names,
                "signing_key_arn": self.signing_key_arn,
                "authorizer_function_arn": self.authorizer_function_arn,
            }
        )

    # Tables, key and the shared environment -------------------------------------------

    def _signing_key(self, args: WaitingRoomArgs) -> None:
        """The signing secret, rotated by `rotate_key` (the first rotation at deployment
        writes the first key, so no key ever passes through Pulumi's state)."""
        scope = self.scope
        self.rotator: LambdaFunction | None = None
        self.rotation: aws.secretsmanager.SecretRotation | None = None
        if args.signing_key is not None:
            self.secret = args.signing_key
            self.signing_secret_arn = args.signing_key.arn
            return
        self.secret = aws.secretsmanager.Secret(
            scope.child("signing-key"),
            name=scope.physical("signing-key", max_length=512),
            description="Signs the waiting room's visitor cookies, passes and access tokens",
            # A dev stack is torn down and rebuilt under the same name; prod keeps a week.
            recovery_window_in_days=7 if scope.settings.production else 0,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.signing_secret_arn = self.secret.arn
        # Not a key: the version the first rotation moves AWSCURRENT away from.
        placeholder = aws.secretsmanager.SecretVersion(
            scope.child("signing-key-placeholder"),
            secret_id=self.secret.id,
            secret_string=PLACEHOLDER_SECRET,
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["versionStages", "secretString"]
            ),
        )
        self.rotator = LambdaFunction(
            scope,
            "rotate-key",
            FunctionSpec(
                handler="rotate_key.handler",
                timeout_s=30,
                environment={"SIGNING_SECRET_ARN": self.secret.arn},
                description="Rotates the waiting room's signing key (Secrets Manager steps)",
            ),
            package=self.package,
            statements=[
                iam.Statement(
                    [
                        "secretsmanager:DescribeSecret",
                        "secretsmanager:GetSecretValue",
                        "secretsmanager:PutSecretValue",
                        "secretsmanager:UpdateSecretVersionStage",
                    ],
                    [self.secret.arn],
                )
            ],
            service=self.slug,
        )
        permission = aws.lambda_.Permission(
            scope.child("rotate-key-invoke"),
            action="lambda:InvokeFunction",
            function=self.rotator.function.name,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret.arn,
            opts=scope.opts(),
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            scope.child("signing-key-rotation"),
            secret_id=self.secret.id,
            rotation_lambda_arn=self.rotator.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                automatically_after_days=args.signing_key_rotation_days
            ),
            rotate_immediately=True,
            opts=scope.opts(depends_on=[permission, placeholder]),
        )

    def _environment(self, *extra: str) -> dict[str, pulumi.Input[str]]:
        args = self.args
        environment: dict[str, pulumi.Input[str]] = {
            "ZONES_TABLE": self.zones_table.name,
            "COUNTERS_TABLE": self.counters_table.name,
            "QUEUE_TABLE": self.queue_table.name,
            "ACCESS_TTL_S": str(args.token_ttl_s),
            "ROOM_NAME": self.scope.name,
        }
        optional: dict[str, pulumi.Input[str]] = {
            "SIGNING_SECRET_ARN": self.signing_secret_arn,
            "VISITOR_COOKIE": args.visitor_cookie,
            "ABANDON_AFTER_S": str(args.abandon_after_s),
            "SLICES_PER_MINUTE": str(args.slices_per_minute),
        }
        environment.update({name: optional[name] for name in extra})
        return environment

    def _function(
        self, suffix: str, spec: FunctionSpec, statements: list[iam.Statement]
    ) -> LambdaFunction:
        function = LambdaFunction(
            self.scope,
            suffix,
            spec,
            package=self.package,
            statements=statements,
            service=self.slug,
        )
        self.functions[suffix] = function
        return function

    def _index_arn(self, index: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.queue_table.arn, f"/index/{index}")

    def _secret_read(self) -> iam.Statement:
        return iam.secret_read(self.signing_secret_arn)

    # Functions ------------------------------------------------------------------------

    def _visitor_functions(self, args: WaitingRoomArgs) -> None:
        queue, counters, zones = self.queue_table.arn, self.counters_table.arn, self.zones_table.arn
        self._function(
            "enter",
            FunctionSpec(
                handler="enter.handler",
                timeout_s=10,
                environment=self._environment("SIGNING_SECRET_ARN"),
                description="Puts a visitor in a zone's queue, once",
            ),
            [
                iam.Statement(["dynamodb:GetItem"], [zones]),
                # A position (seq counter) and, for exempt passes, a token from `totals`.
                iam.Statement(["dynamodb:UpdateItem", "dynamodb:BatchGetItem"], [counters]),
                iam.Statement(
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem"], [queue]
                ),
                self._secret_read(),
            ],
        )
        self._function(
            "status",
            FunctionSpec(
                handler="status.handler",
                timeout_s=5,
                environment=self._environment("SIGNING_SECRET_ARN"),
                description="Tells a visitor their place, or hands over their access token",
            ),
            [
                iam.Statement(["dynamodb:BatchGetItem"], [counters]),
                iam.Statement(["dynamodb:BatchGetItem", "dynamodb:UpdateItem"], [queue]),
                self._secret_read(),
            ],
        )
        for suffix, description in (
            ("leave", "Takes a visitor out of the queue or the zone (the token goes back)"),
            ("complete", "Ends an admitted visit; the visitor's token stays consumed"),
        ):
            self._function(
                suffix,
                FunctionSpec(
                    handler=f"{suffix}.handler",
                    timeout_s=5,
                    environment=self._environment(),
                    description=description,
                ),
                [
                    iam.Statement(["dynamodb:UpdateItem"], [counters]),
                    iam.Statement(["dynamodb:GetItem", "dynamodb:UpdateItem"], [queue]),
                ],
            )
        if args.zones_managed_at_runtime:
            self._function(
                "admin",
                FunctionSpec(
                    handler="admin.handler",
                    timeout_s=10,
                    environment=self._environment("SIGNING_SECRET_ARN"),
                    description="Configures zones and issues priority or exempt passes",
                ),
                [
                    iam.Statement(["dynamodb:GetItem", "dynamodb:PutItem"], [zones]),
                    self._secret_read(),
                ],
            )

    def _authorizer_functions(self, args: WaitingRoomArgs) -> None:
        self._function(
            "visitor-auth",
            FunctionSpec(
                handler="visitor_auth.handler",
                timeout_s=5,
                environment=self._environment("SIGNING_SECRET_ARN", "VISITOR_COOKIE"),
                description="Verifies (or issues) the visitor cookie; push tickets at $connect",
            ),
            [self._secret_read()],
        )
        self._function(
            "verify-access",
            FunctionSpec(
                handler="verify_access.handler",
                timeout_s=5,
                environment=self._environment("SIGNING_SECRET_ARN", "VISITOR_COOKIE"),
                description="Admits requests that carry a valid access token for the zone",
            ),
            [self._secret_read()],
        )

    # REST API -------------------------------------------------------------------------

    def _authorizer(
        self,
        suffix: str,
        function: LambdaFunction,
        identity_source: str,
        ttl_s: int,
    ) -> aws.apigateway.Authorizer:
        scope = self.scope
        authorizer = aws.apigateway.Authorizer(
            scope.child(f"{suffix}-authorizer"),
            name=scope.physical(f"{suffix}-authorizer", max_length=128),
            rest_api=self.api.id,
            type="REQUEST",
            authorizer_uri=function.function.invoke_arn,
            identity_source=identity_source,
            authorizer_result_ttl_in_seconds=ttl_s,
            opts=scope.opts(),
        )
        aws.lambda_.Permission(
            scope.child(f"{suffix}-authorizer-invoke"),
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/authorizers/", authorizer.id),
            opts=scope.opts(),
        )
        return authorizer

    def _api(self, args: WaitingRoomArgs) -> None:
        scope = self.scope
        self.api = regional_rest_api(
            scope, "Waiting room: visitors enter, poll and leave; admins configure zones"
        )
        # Enter must run for a first visit, which has no cookie yet: its authorizer is keyed
        # on a stage variable (always present) and never cached.
        self.authorizers = {
            "enter": self._authorizer(
                "enter", self.functions["visitor-auth"], "stageVariables.waitingRoom", 0
            ),
            "visitor": self._authorizer(
                "visitor",
                self.functions["visitor-auth"],
                "method.request.header.Cookie",
                VISITOR_CACHE_TTL_S,
            ),
            "access": self._authorizer(
                "access", self.functions["verify-access"], "method.request.header.Authorization", 0
            ),
        }
        zones = aws.apigateway.Resource(
            scope.child("zones-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="zones",
            opts=scope.opts(),
        )
        zone = aws.apigateway.Resource(
            scope.child("zone-resource"),
            rest_api=self.api.id,
            parent_id=zones.id,
            path_part="{zoneId}",
            opts=scope.opts(),
        )
        self.validator = aws.apigateway.RequestValidator(
            scope.child("validator"),
            rest_api=self.api.id,
            name=scope.physical("validator"),
            validate_request_parameters=True,
            validate_request_body=False,
            opts=scope.opts(),
        )
        routes = [
            _Route("POST", "enter", "enter", "enter"),
            _Route("GET", "status", "status", "visitor"),
            _Route("POST", "leave", "leave", "visitor"),
            _Route("POST", "complete", "complete", "access"),
        ]
        if args.zones_managed_at_runtime:
            routes += [_Route("PUT", "", "admin", None), _Route("POST", "passes", "admin", None)]
        self.methods: dict[str, aws.apigateway.Method] = {}
        deployed: list[pulumi.Resource] = []
        for route in routes:
            resource = zone
            if route.path:
                resource = aws.apigateway.Resource(
                    scope.child(f"{route.path}-resource"),
                    rest_api=self.api.id,
                    parent_id=zone.id,
                    path_part=route.path,
                    opts=scope.opts(),
                )
            key = f"{route.method} {route.path or '{zoneId}'}"
            authorizer = self.authorizers[route.authorizer] if route.authorizer else None
            method = aws.apigateway.Method(
                scope.child(f"{route.path or 'zone'}-{route.method.lower()}"),
                rest_api=self.api.id,
                resource_id=resource.id,
                http_method=route.method,
                authorization="CUSTOM" if authorizer is not None else "AWS_IAM",
                authorizer_id=authorizer.id if authorizer is not None else None,
                request_parameters={"method.request.path.zoneId": True},
                request_validator_id=self.validator.id,
                opts=scope.opts(),
            )
            self.methods[key] = method
            path = f"zones/*/{route.path}" if route.path else "zones/*"
            deployed += [
                method,
                *lambda_proxy(
                    scope,
                    self.api,
                    resource,
                    method,
                    self.functions[route.function],
                    f"{route.path or 'zone'}-{route.method.lower()}",
                    f"{route.method}/{path}",
                ),
            ]
        fingerprint = "|".join(sorted(self.methods))
        self.stage_block = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=deployed,
            fingerprint=fingerprint,
            variables={"waitingRoom": scope.name},
        )
        self.stage = self.stage_block.stage
        self.waf_association: aws.wafv2.WebAclAssociation | None = None
        if args.waf_acl_arn is not None:
            self.waf_association = aws.wafv2.WebAclAssociation(
                scope.child("waf"),
                resource_arn=self.stage.arn,
                web_acl_arn=args.waf_acl_arn,
                opts=scope.opts(),
            )

    # WebSocket ------------------------------------------------------------------------

    def _websocket(self, args: WaitingRoomArgs) -> None:
        """The push channel: an existing `WebSocketApi`, or a core of our own whose
        `$connect` the visitor authorizer guards (a push ticket in `?ticket=`)."""
        if isinstance(args.websocket, WebSocketApi):
            self.websocket = args.websocket.core
            return
        ws_args = args.websocket or WebSocketApiArgs()
        ws_args = dataclasses.replace(
            ws_args,
            user_id_source="authorizer",
            authorizer=AuthorizerSpec(
                function_arn=self.functions["visitor-auth"].arn,
                identity_sources=(PUSH_TICKET_QUERY,),
            ),
            public=False,
        )
        # A scope of its own: its API, stage and log groups must not share names with ours.
        ws_scope = dataclasses.replace(self.scope, name=self.scope.child("ws"))
        self.websocket = WebSocketCore(ws_scope, ws_args, service=self.slug)

    # Scheduled functions ----------------------------------------------------------------

    def _scheduled(
        self,
        suffix: str,
        handler: str,
        expression: str,
        description: str,
        environment: dict[str, pulumi.Input[str]],
        statements: list[iam.Statement],
        *,
        max_event_age_s: int,
    ) -> LambdaFunction:
        """A function run by Scheduler alone (reserved concurrency 1), with a retry policy
        and a DLQ on the schedule and an on-failure destination on the function."""
        scope = self.scope
        dlq = DeadLetterQueue(scope, f"{suffix}-dlq", description=f"{description}: failed runs")
        function = self._function(
            suffix,
            FunctionSpec(
                handler=handler,
                timeout_s=ADMITTER_TIMEOUT_S,
                memory_size=512,
                reserved_concurrency=1,
                environment=environment,
                description=description,
                # A failed run is not retried: the next scheduled run does the same work.
                async_invoke=AsyncInvoke(
                    on_failure_arn=dlq.queue.arn,
                    maximum_retry_attempts=0,
                    maximum_event_age_s=max_event_age_s,
                ),
            ),
            [*statements, iam.sqs_send(dlq.queue.arn)],
        )
        TargetSchedule(
            scope,
            suffix,
            ScheduleSpec(
                expression=expression,
                retry_attempts=2,
                max_event_age_s=max_event_age_s,
                argument=f"{suffix} schedule",
            ),
            target_arn=function.arn,
            target_statement=iam.Statement(["lambda:InvokeFunction"], [function.arn]),
            input={"scheduledTime": "<aws.scheduler.scheduled-time>"},
            description=description,
        )
        return function

    def _admitter(self, args: WaitingRoomArgs) -> None:
        queue, counters = self.queue_table.arn, self.counters_table.arn
        statements = [
            iam.Statement(["dynamodb:Scan"], [self.zones_table.arn]),
            iam.Statement(["dynamodb:BatchGetItem", "dynamodb:UpdateItem"], [counters]),
            iam.Statement(["dynamodb:UpdateItem"], [queue]),
            iam.Statement(["dynamodb:Query"], [self._index_arn("waiting")]),
        ]
        environment = self._environment("SLICES_PER_MINUTE")
        if self.websocket is not None:
            registry = self.websocket.registry
            environment.update(self.websocket.sender_environment)
            statements += [
                # Look up the admitted visitors' connections; forget departed ones.
                iam.Statement(["dynamodb:Query"], [registry.by_user_arn]),
                iam.Statement(["dynamodb:BatchWriteItem"], [registry.connections.arn]),
                iam.Statement(["dynamodb:UpdateItem"], [registry.sessions.arn]),
                self.websocket.send_statement,
            ]
        self.admitter = self._scheduled(
            "admitter",
            "admitter.handler",
            args.admit_schedule,
            "Admits the next visitors of every zone within its budget",
            environment,
            statements,
            max_event_age_s=60,
        )

    def _sweeper(self, args: WaitingRoomArgs) -> None:
        queue, counters = self.queue_table.arn, self.counters_table.arn
        self.sweeper = self._scheduled(
            "sweeper",
            "sweeper.handler",
            SWEEP_EXPRESSION,
            "Expires overdue tokens and drops visitors who stopped polling",
            self._environment("ABANDON_AFTER_S"),
            [
                iam.Statement(["dynamodb:Scan"], [self.zones_table.arn]),
                iam.Statement(["dynamodb:UpdateItem"], [counters]),
                iam.Statement(["dynamodb:UpdateItem"], [queue]),
                iam.Statement(
                    ["dynamodb:Query"], [self._index_arn("waiting"), self._index_arn("admitted")]
                ),
            ],
            max_event_age_s=300,
        )

    def _metrics(self) -> None:
        reader = StreamConsumer(
            self.scope,
            "metrics",
            self.queue_table,
            StreamConsumerSpec(
                starting_position="LATEST",
                batch_size=100,
                batching_window_s=5,
                max_retries=3,
                max_record_age_s=3600,
                patterns=METRIC_FILTERS,
            ),
        )
        function = self._function(
            "metrics",
            FunctionSpec(
                handler="queue_metrics.handler",
                timeout_s=10,
                environment=self._environment(),
                description="Queue length, wait time, visitors in zone and drop-offs (EMF)",
            ),
            [
                iam.Statement(["dynamodb:BatchGetItem"], [self.counters_table.arn]),
                *reader.statements,
            ],
        )
        self.metrics_reader = reader
        self.metrics_mapping = reader.attach(function)
