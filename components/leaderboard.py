"""`leaderboard`: a Kinesis tumbling-window aggregator feeding a ranked DynamoDB table.

Score events (`{"boardId", "playerId", "score", "final"}` JSON, partition key = board id) go
into an encrypted Kinesis stream. The `aggregate` function reads it through a mapping with a
tumbling window: each invocation merges its batch into the window's state (best score per
board and player), and the window's final invocation writes one keyed item per (board,
player) with BatchWriteItem, so a thousand events a second cost a few hundred writes per
window and a replayed window overwrites the same items. An optional second mapping, filtered
to `final: true` records, puts each player's final result. `GET /boards/{id}` (IAM
authorised) pages the ranking best first through the `byScore` index.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import iam, packaging
from .core.alarms import metric_alarm
from .core.api import RestStage, StageSpec, lambda_proxy, regional_rest_api
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import KMS_KEY, REGIONAL_WEB_ACL
from .core.streams import FailureQueue, StreamConsumer, StreamConsumerSpec
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["Leaderboard", "LeaderboardArgs"]

INDEX_NAME = "byScore"
AWS_MANAGED_KINESIS_KEY = "alias/aws/kinesis"
FINAL_FILTER = {"data": {"final": [True]}}
DURATION_ALARM_SHARE = 0.8  # alarm when the aggregator's duration passes 80% of its timeout
STREAM_DEFAULTS = ("KMS encryption", "the retention and capacity mode of this component")
StreamMode = Literal["ON_DEMAND", "PROVISIONED"]


@dataclass(frozen=True, kw_only=True)
class LeaderboardArgs(PatternArgs):
    """Arguments of `Leaderboard`.

    stream: an existing Kinesis stream of score events (encrypted); None makes a new one.
    stream_mode: a new stream's capacity mode, ON_DEMAND (scales itself) or PROVISIONED.
    shard_count: with PROVISIONED, the new stream's shards (1-500).
    stream_retention_hours: how long a new stream keeps records (24-8760 hours).
    kms_key_arn: a customer-managed KMS key for a new stream (None: the AWS managed
      alias/aws/kinesis); the readers may `kms:Decrypt` with it (give the key of an existing
      stream so they can read it).
    window_s: the tumbling window in seconds (1-900): how often rankings are written.
    batch_size: records per aggregator invocation (1-10000).
    starting_position: LATEST, or TRIM_HORIZON to backfill from the stream's retention.
    parallelization_factor: concurrent batches per shard (1-10); a board's events keep
      their order (one partition key).
    max_retries: retries of a failing batch (halved by bisection) before its range goes to
      the failure queue.
    max_record_age_s: records older than this go to the failure queue unprocessed (60 s up
      to the stream's retention).
    aggregate_memory: the aggregator's memory in MB.
    aggregate_timeout_s: the aggregator's timeout; it must cover merging a batch and
      writing a window (10-900 s).
    final_results: a second mapping, filtered to `final: true` records, puts each player's
      final result (ranked apart from the live view).
    query_limit_max: the largest `limit` the ranking API accepts (1-1000).
    iterator_age_alarm_s: alarm when a reader falls this far behind; under both
      max_record_age_s and half the stream's retention.
    table: an existing ranked table (`pk`/`sk` strings, GSI `byScore` on `gsi1pk`/`gsi1sk`
      strings); None makes a new one (on-demand, PITR, encrypted).
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    waf_acl_arn: a regional WAFv2 web ACL for the stage; None associates none.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "stream",
            STREAM_DEFAULTS,
            "They are the stream owner's to set; stream_mode, shard_count and "
            "stream_retention_hours are not applied, kms_key_arn only grants kms:Decrypt.",
        ),
        Safeguard(
            "table",
            TABLE_DEFAULTS,
            "They are the table owner's to set; it also needs the byScore index.",
        ),
    )

    stream: aws.kinesis.Stream | None = None
    stream_mode: StreamMode = "ON_DEMAND"
    shard_count: int = 1
    stream_retention_hours: int = 24
    kms_key_arn: str | None = None
    window_s: int = 15
    batch_size: int = 1000
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "LATEST"
    parallelization_factor: int = 1
    max_retries: int = 5
    max_record_age_s: int = 3600
    aggregate_memory: int = 512
    aggregate_timeout_s: int = 60
    final_results: bool = True
    query_limit_max: int = 1000
    iterator_age_alarm_s: int = 120
    table: aws.dynamodb.Table | None = None
    stage_name: str = "v1"
    throttle_rate: float = 100.0
    throttle_burst: int = 200
    waf_acl_arn: str | None = None

    def __post_init__(self) -> None:
        if self.stream_mode not in ("ON_DEMAND", "PROVISIONED"):
            raise ValueError(
                f"stream_mode must be one of ON_DEMAND, PROVISIONED (got {self.stream_mode!r})"
            )
        if not 1 <= self.shard_count <= 500:
            raise ValueError(f"shard_count must be between 1 and 500 (got {self.shard_count})")
        if not 24 <= self.stream_retention_hours <= 8760:
            raise ValueError(
                "stream_retention_hours must be between 24 and 8760 "
                f"(got {self.stream_retention_hours})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")
        if not 1 <= self.window_s <= 900:
            raise ValueError(f"window_s must be between 1 and 900 (got {self.window_s})")
        retention_s = self.stream_retention_hours * 3600
        if not 60 <= self.max_record_age_s <= retention_s:
            raise ValueError(
                f"max_record_age_s must be between 60 and the stream's retention "
                f"({retention_s} s) (got {self.max_record_age_s})"
            )
        if not 10 <= self.aggregate_timeout_s <= 900:
            raise ValueError(
                f"aggregate_timeout_s must be between 10 and 900 (got {self.aggregate_timeout_s})"
            )
        if not 1 <= self.query_limit_max <= 1000:
            raise ValueError(
                f"query_limit_max must be between 1 and 1000 (got {self.query_limit_max})"
            )
        ceiling = min(self.max_record_age_s, retention_s // 2)
        if not 1 <= self.iterator_age_alarm_s < ceiling:
            raise ValueError(
                f"iterator_age_alarm_s must be at least 1 and under {ceiling} (max_record_age_s "
                f"and half the stream's retention) (got {self.iterator_age_alarm_s})"
            )
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        # The specs check their own ranges (batch size, parallelization, memory, stage).
        self.aggregate_reader_spec()
        self.aggregate_spec()
        self.stage_spec()

    def aggregate_reader_spec(self) -> StreamConsumerSpec:
        return StreamConsumerSpec(
            starting_position=self.starting_position,
            batch_size=self.batch_size,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            parallelization_factor=self.parallelization_factor,
            tumbling_window_s=self.window_s,
            iterator_age_alarm_s=self.iterator_age_alarm_s,
        )

    def final_reader_spec(self) -> StreamConsumerSpec:
        return StreamConsumerSpec(
            starting_position=self.starting_position,
            batch_size=100,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            parallelization_factor=self.parallelization_factor,
            patterns=(FINAL_FILTER,),
            iterator_age_alarm_s=self.iterator_age_alarm_s,
        )

    def aggregate_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="aggregate.handler",
            memory_size=self.aggregate_memory,
            timeout_s=self.aggregate_timeout_s,
            description="Merges score events per tumbling window; writes rankings at its end",
        )

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )


def ranked_table_spec() -> TableSpec:
    """`pk` = `board#{id}`, `sk` = `entry#{player}` | `final#{player}`; `byScore` ranks a
    board (`gsi1pk`) by its zero-padded score (`gsi1sk`)."""
    return TableSpec(
        hash_key=("pk", "S"),
        range_key=("sk", "S"),
        global_indexes={INDEX_NAME: ("gsi1pk", "S")},
        index_sort_keys={INDEX_NAME: ("gsi1sk", "S")},
    )


class Leaderboard(Pattern):
    """Kinesis -> `aggregate` (tumbling window) -> ranked table <- `query` (REST);
    `final: true` records -> `final_results`."""

    slug: ClassVar[str] = "leaderboard"
    type_token: ClassVar[str] = "serverless-patterns:patterns:Leaderboard"

    def __init__(
        self,
        name: str,
        args: LeaderboardArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or LeaderboardArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        package = packaging.build(
            "leaderboard", architecture=args.settings.architecture, runtime=args.settings.runtime
        )

        self.stream = args.stream or self._stream(args)
        self.table = args.table or create_table(scope, "ranked", ranked_table_spec())
        # One failure queue for both readers: each message names its mapping and shard range.
        self.failure_queue = FailureQueue(scope, "failures")
        decrypt = (
            [iam.Statement(["kms:Decrypt"], [args.kms_key_arn])]
            if args.kms_key_arn is not None
            else []
        )
        table_env = {"TABLE_NAME": self.table.name}

        self.aggregate_reader = StreamConsumer(
            scope,
            "aggregate",
            self.stream,
            args.aggregate_reader_spec(),
            failure_queue=self.failure_queue,
        )
        self.aggregate = LambdaFunction(
            scope,
            "aggregate",
            dataclasses.replace(args.aggregate_spec(), environment=table_env),
            package=package,
            statements=[
                *self.aggregate_reader.statements,
                *decrypt,
                iam.Statement(["dynamodb:BatchWriteItem"], [self.table.arn]),
            ],
            service=self.slug,
        )
        self.aggregate_mapping = self.aggregate_reader.attach(self.aggregate)
        self.duration_alarm = metric_alarm(
            scope,
            "aggregate-duration",
            namespace="AWS/Lambda",
            metric="Duration",
            dimensions={"FunctionName": self.aggregate.name},
            threshold=args.aggregate_timeout_s * 1000 * DURATION_ALARM_SHARE,
            evaluation_periods=3,
            description=(
                f"{self.aggregate.function_name} ran over {DURATION_ALARM_SHARE:.0%} of its "
                "timeout: raise aggregate_timeout_s or lower batch_size"
            ),
        )
        self.write_throttle_alarm = metric_alarm(
            scope,
            "write-throttles",
            namespace="AWS/DynamoDB",
            metric="WriteThrottleEvents",
            dimensions={"TableName": self.table.name},
            statistic="Sum",
            threshold=0,
            evaluation_periods=5,
            description="Ranking writes were throttled for 5 minutes (UnprocessedItems retried)",
        )

        self.final_reader: StreamConsumer | None = None
        self.final_results: LambdaFunction | None = None
        self.final_mapping: aws.lambda_.EventSourceMapping | None = None
        if args.final_results:
            self.final_reader = StreamConsumer(
                scope,
                "final-results",
                self.stream,
                args.final_reader_spec(),
                failure_queue=self.failure_queue,
            )
            self.final_results = LambdaFunction(
                scope,
                "final-results",
                FunctionSpec(
                    handler="final_results.handler",
                    timeout_s=30,
                    environment=table_env,
                    description="Puts each player's final result (final: true records)",
                ),
                package=package,
                statements=[
                    *self.final_reader.statements,
                    *decrypt,
                    iam.dynamodb_put(self.table.arn),
                ],
                service=self.slug,
            )
            self.final_mapping = self.final_reader.attach(self.final_results)

        self._api(args, package)

        self.stream_name = self.stream.name
        self.stream_arn = self.stream.arn
        self.table_name = self.table.name
        self.dlq_url = self.failure_queue.url
        self.register_outputs(
            {
                "stream_name": self.stream_name,
                "stream_arn": self.stream_arn,
                "table_name": self.table_name,
                "api_url": self.api_url,
                "dlq_url": self.dlq_url,
            }
        )

    def _stream(self, args: LeaderboardArgs) -> aws.kinesis.Stream:
        scope = self.scope
        provisioned = args.stream_mode == "PROVISIONED"
        return aws.kinesis.Stream(
            scope.child("scores"),
            name=scope.physical("scores", max_length=128),
            stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(
                stream_mode=args.stream_mode
            ),
            shard_count=args.shard_count if provisioned else None,
            retention_period=args.stream_retention_hours,
            encryption_type="KMS",
            kms_key_id=args.kms_key_arn or AWS_MANAGED_KINESIS_KEY,
            tags=scope.tags,
            opts=scope.opts(),
        )

    def _api(self, args: LeaderboardArgs, package: packaging.Package) -> None:
        scope = self.scope
        index_arn = self.table.arn.apply(lambda arn: f"{arn}/index/{INDEX_NAME}")
        self.query = LambdaFunction(
            scope,
            "query",
            FunctionSpec(
                handler="query.handler",
                timeout_s=10,
                environment={
                    "TABLE_NAME": self.table.name,
                    "QUERY_LIMIT_MAX": str(args.query_limit_max),
                },
                description="A board's top N, best first (GET /boards/{id})",
            ),
            package=package,
            statements=[iam.Statement(["dynamodb:Query"], [index_arn])],
            service=self.slug,
        )
        self.api = regional_rest_api(scope, "Leaderboard: GET /boards/{id} ranks a board")
        boards = aws.apigateway.Resource(
            scope.child("boards-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="boards",
            opts=scope.opts(),
        )
        board = aws.apigateway.Resource(
            scope.child("board-resource"),
            rest_api=self.api.id,
            parent_id=boards.id,
            path_part="{id}",
            opts=scope.opts(),
        )
        validator = aws.apigateway.RequestValidator(
            scope.child("validator"),
            rest_api=self.api.id,
            name=scope.physical("validator"),
            validate_request_body=False,
            validate_request_parameters=True,
            opts=scope.opts(),
        )
        method = aws.apigateway.Method(
            scope.child("get-board"),
            rest_api=self.api.id,
            resource_id=board.id,
            http_method="GET",
            authorization="AWS_IAM",
            request_validator_id=validator.id,
            request_parameters={
                "method.request.path.id": True,
                "method.request.querystring.limit": False,
                "method.request.querystring.next": False,
                "method.request.querystring.view": False,
            },
            opts=scope.opts(),
        )
        routes = lambda_proxy(scope, self.api, board, method, self.query, "query", "GET/boards/*")
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[method, *routes],
            fingerprint="get-board",
            waf_acl_arn=args.waf_acl_arn,
        )
        self.api_url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/boards")
