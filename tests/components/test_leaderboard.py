"""Leaderboard under mocks: the encrypted stream, the tumbling-window mapping and its failure
model, the filtered final-results mapping, the ranked table's index, the traced IAM-only
API, the four alarms, least privilege, existing resources, argument checks and the gate."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.core.settings import Settings
from components.leaderboard import Leaderboard, LeaderboardArgs
from preview import gate
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1f3e-1111-2222-3333-444455556666"
KINESIS_READ = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


def board(**kwargs):
    return lambda: Leaderboard("scores", LeaderboardArgs(**kwargs))


def mapping_of(plan, function: str):
    fn = plan.one(FN, function)
    (found,) = [m for m in plan.of_type(ESM) if m.property_dependencies["functionName"] == [fn.urn]]
    return found


def test_the_stream_is_encrypted_and_on_demand_by_default(build):
    stream = build(board()).one(STREAM).inputs
    assert (stream["encryptionType"], stream["kmsKeyId"]) == ("KMS", "alias/aws/kinesis")
    assert stream["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in stream
    assert stream["retentionPeriod"] == 24
    provisioned = build(
        board(stream_mode="PROVISIONED", shard_count=4, kms_key_arn=KEY, stream_retention_hours=48)
    ).one(STREAM)
    assert provisioned.inputs["streamModeDetails"] == {"streamMode": "PROVISIONED"}
    assert (provisioned.inputs["shardCount"], provisioned.inputs["kmsKeyId"]) == (4, KEY)
    assert provisioned.inputs["retentionPeriod"] == 48


def test_the_aggregator_reads_through_a_tumbling_window_with_the_failure_model(build):
    plan = build(board())
    mapping = mapping_of(plan, "aggregate")
    inputs = mapping.inputs
    assert inputs["eventSourceArn"] == plan.one(STREAM).outputs["arn"]
    assert mapping.property_dependencies["eventSourceArn"] == [plan.one(STREAM).urn]
    assert inputs["tumblingWindowInSeconds"] == 15
    assert inputs["batchSize"] == 1000
    assert inputs["startingPosition"] == "LATEST"
    assert inputs["parallelizationFactor"] == 1
    assert inputs["bisectBatchOnFunctionError"] is True
    assert inputs["maximumRetryAttempts"] == 5
    assert inputs["maximumRecordAgeInSeconds"] == 3600
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = plan.one(QUEUE, "failures")
    assert inputs["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    assert "filterCriteria" not in inputs
    aggregate = plan.one(FN, "aggregate").inputs
    assert (aggregate["memorySize"], aggregate["timeout"]) == (512, 60)
    assert aggregate["environment"]["variables"]["TABLE_NAME"] == plan.one(TABLE).inputs["name"]
    assert aggregate["tracingConfig"] == {"mode": "Active"}
    assert "reservedConcurrentExecutions" not in aggregate  # bounded by shards, not reserved


def test_scaling_knobs_reach_the_mapping_and_function(build):
    plan = build(
        board(
            window_s=60,
            batch_size=5000,
            starting_position="TRIM_HORIZON",
            parallelization_factor=4,
            aggregate_memory=1024,
            aggregate_timeout_s=120,
        )
    )
    inputs = mapping_of(plan, "aggregate").inputs
    assert (inputs["tumblingWindowInSeconds"], inputs["batchSize"]) == (60, 5000)
    assert (inputs["startingPosition"], inputs["parallelizationFactor"]) == ("TRIM_HORIZON", 4)
    aggregate = plan.one(FN, "aggregate").inputs
    assert (aggregate["memorySize"], aggregate["timeout"]) == (1024, 120)
    duration = plan.one(ALARM, "aggregate-duration").inputs
    assert duration["threshold"] == 96_000  # 80% of 120 s, in ms


def test_final_results_read_only_final_records(build):
    plan = build(board())
    mapping = mapping_of(plan, "final-results").inputs
    patterns = [json.loads(f["pattern"]) for f in mapping["filterCriteria"]["filters"]]
    assert patterns == [{"data": {"final": [True]}}]
    assert "tumblingWindowInSeconds" not in mapping
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq = plan.one(QUEUE, "failures").outputs["arn"]
    assert mapping["destinationConfig"]["onFailure"]["destinationArn"] == dlq
    without = build(board(final_results=False))
    assert len(without.of_type(ESM)) == 1
    assert not [f for f in without.of_type(FN) if f.name.endswith("final-results")]


def test_the_ranked_table_ranks_boards_by_score(build):
    table = build(board()).one(TABLE).inputs
    assert (table["hashKey"], table["rangeKey"]) == ("pk", "sk")
    (index,) = table["globalSecondaryIndexes"]
    assert index["name"] == "byScore"
    assert [(k["attributeName"], k["keyType"]) for k in index["keySchemas"]] == [
        ("gsi1pk", "HASH"),
        ("gsi1sk", "RANGE"),
    ]
    assert {a["name"]: a["type"] for a in table["attributes"]} == {
        "pk": "S",
        "sk": "S",
        "gsi1pk": "S",
        "gsi1sk": "S",
    }
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}


def test_the_api_is_traced_throttled_and_iam_authorised(build):
    plan = build(board(query_limit_max=200, throttle_rate=50, throttle_burst=80))
    stage = plan.one("aws:apigateway/stage:Stage").inputs
    assert stage["xrayTracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"]
    settings = plan.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 80)
    method = plan.one("aws:apigateway/method:Method").inputs
    assert (method["httpMethod"], method["authorization"]) == ("GET", "AWS_IAM")
    assert method["requestParameters"]["method.request.path.id"] is True
    assert method["requestValidatorId"]
    resources = {r.inputs["pathPart"] for r in plan.of_type("aws:apigateway/resource:Resource")}
    assert resources == {"boards", "{id}"}
    query = plan.one(FN, "query").inputs
    assert query["environment"]["variables"]["QUERY_LIMIT_MAX"] == "200"
    assert query["timeout"] == 10
    permission = plan.one("aws:lambda/permission:Permission").inputs
    assert permission["sourceArn"].endswith("/*/GET/boards/*")


def test_the_four_alarms_exist(build):
    plan = build(board(iterator_age_alarm_s=90))
    aggregate = plan.one(FN, "aggregate").inputs["name"]
    age = plan.one(ALARM, "aggregate-iterator-age").inputs
    assert (age["metricName"], age["threshold"]) == ("IteratorAge", 90_000)
    assert age["dimensions"] == {"FunctionName": aggregate}
    errors = plan.one(ALARM, "aggregate-errors").inputs
    assert (errors["metricName"], errors["dimensions"]) == ("Errors", {"FunctionName": aggregate})
    duration = plan.one(ALARM, "aggregate-duration").inputs
    assert (duration["metricName"], duration["threshold"]) == ("Duration", 48_000)
    throttles = plan.one(ALARM, "write-throttles").inputs
    assert (throttles["namespace"], throttles["metricName"]) == (
        "AWS/DynamoDB",
        "WriteThrottleEvents",
    )
    assert throttles["dimensions"] == {"TableName": plan.one(TABLE).inputs["name"]}
    assert plan.one(ALARM, "final-results-iterator-age").inputs["threshold"] == 90_000
    assert plan.one(ALARM, "failures-depth").inputs["threshold"] == 0


def test_roles_are_least_privilege(build):
    plan = build(board())
    stream = plan.one(STREAM).outputs["arn"]
    table = plan.one(TABLE).outputs["arn"]
    dlq = plan.one(QUEUE, "failures").outputs["arn"]

    def grants(role):
        return {tuple(s["Action"]): s["Resource"] for s in statements_of_role(plan, role)}

    aggregate = grants("aggregate-role")
    assert aggregate[tuple(KINESIS_READ)] == stream
    assert aggregate[("dynamodb:BatchWriteItem",)] == table
    assert aggregate[("sqs:SendMessage",)] == dlq
    assert len(aggregate) == 4  # plus its own log group
    final = grants("final-results-role")
    assert final[tuple(KINESIS_READ)] == stream
    assert final[("dynamodb:PutItem",)] == table
    query = grants("query-role")
    assert query[("dynamodb:Query",)] == f"{table}/index/byScore"
    assert not any(a.startswith("kinesis:") for actions in query for a in actions)
    for role in ("aggregate-role", "final-results-role", "query-role"):
        for statement in statements_of_role(plan, role):
            assert all("*" not in action for action in statement["Action"])
            assert statement["Resource"] != "*"


def test_a_customer_managed_key_is_granted_to_the_readers(build):
    plan = build(board(kms_key_arn=KEY))
    for role in ("aggregate-role", "final-results-role"):
        decrypt = [s for s in statements_of_role(plan, role) if s["Action"] == ["kms:Decrypt"]]
        assert decrypt == [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY}]
    assert not [
        s for s in statements_of_role(build(board()), "aggregate-role") if "kms:" in s["Action"][0]
    ]


def test_existing_stream_and_table_are_used_instead_of_new_ones(build):
    def program():
        stream = aws.kinesis.Stream(
            "game-events",
            encryption_type="KMS",
            kms_key_id="alias/aws/kinesis",
            stream_mode_details={"stream_mode": "ON_DEMAND"},
        )
        table = aws.dynamodb.Table(
            "rankings",
            hash_key="pk",
            range_key="sk",
            attributes=[aws.dynamodb.TableAttributeArgs(name=n, type="S") for n in ("pk", "sk")],
        )
        Leaderboard("scores", LeaderboardArgs(stream=stream, table=table))

    plan = build(program)
    (stream,) = plan.of_type(STREAM)
    (table,) = plan.of_type(TABLE)
    assert (stream.name, table.name) == ("game-events", "rankings")
    for mapping in plan.of_type(ESM):
        assert mapping.property_dependencies["eventSourceArn"] == [stream.urn]
    warnings = [log.message for log in plan.logs if log.severity == "warning"]
    assert [w.partition(" is an existing resource")[0] for w in warnings] == ["stream", "table"]


def test_every_child_is_parented_to_the_component(build):
    plan = build(board())
    component = plan.one("serverless-patterns:patterns:Leaderboard")
    children = [r for r in plan.registrations if r is not component]
    assert children and all(r.parent == component.urn for r in children)


def test_defaults_pass_the_prod_gate_with_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=("arn:aws:sns:eu-west-1:123456789012:alarms",),
    )
    plan = build(lambda: Leaderboard("scores", LeaderboardArgs(settings=settings)))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    # The advisory findings left are the stack's choices (a WAF ACL, log-group CMKs).
    assert {f.id for f in report.findings} <= {"APIGW-010", "LOGS-002"}, gate.render(plan, report)
    assert plan.one(TABLE).inputs["deletionProtectionEnabled"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stream_mode": "SERVERLESS"}, "stream_mode must be one of ON_DEMAND, PROVISIONED"),
        ({"shard_count": 0}, "shard_count must be between 1 and 500"),
        ({"stream_retention_hours": 12}, "stream_retention_hours must be between 24 and 8760"),
        ({"kms_key_arn": "alias/mine"}, "kms_key_arn must be a KMS key ARN"),
        ({"window_s": 0}, "window_s must be between 1 and 900"),
        ({"window_s": 901}, "window_s must be between 1 and 900"),
        ({"batch_size": 10_001}, "batch_size must be between 1 and 10000"),
        ({"parallelization_factor": 11}, "parallelization_factor must be between 1 and 10"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position must be one of"),
        ({"max_retries": -1}, "max_retries must be between 0 and 10000"),
        ({"max_record_age_s": 86_401}, r"max_record_age_s must be between 60 and .*86400"),
        ({"aggregate_timeout_s": 5}, "aggregate_timeout_s must be between 10 and 900"),
        ({"aggregate_memory": 64}, "memory_size must be between 128 and 10240"),
        ({"query_limit_max": 1001}, "query_limit_max must be between 1 and 1000"),
        ({"iterator_age_alarm_s": 3600}, r"iterator_age_alarm_s must be at least 1 and under 3600"),
        ({"throttle_rate": 0}, "throttle_rate must be positive"),
        ({"waf_acl_arn": "arn:aws:s3:::bucket"}, "waf_acl_arn must be a regional WAFv2"),
    ],
)
def test_invalid_args_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LeaderboardArgs(**kwargs)


# The stream block's Kinesis path (components/core/streams.py) -------------------------------


def test_a_kinesis_reader_claims_no_table_slot_and_takes_no_event_names(build):
    from components.core.scope import Scope
    from components.core.streams import StreamConsumer, StreamConsumerSpec

    class Host(pulumi.ComponentResource):
        def __init__(self) -> None:
            super().__init__("test:index:Host", "host", None, None)
            self.scope = Scope(self, "host", Settings())

    errors: list[str] = []

    def program():
        host = Host()
        stream = aws.kinesis.Stream("events", encryption_type="KMS")
        for n in range(3):  # more than a table stream's two readers: Kinesis has no such cap
            reader = StreamConsumer(host.scope, f"r{n}", stream, StreamConsumerSpec())
            assert next(s.actions for s in reader.statements) == KINESIS_READ
        try:
            StreamConsumer(host.scope, "bad", stream, StreamConsumerSpec(event_names=("INSERT",)))
        except ValueError as error:
            errors.append(str(error))

    build(program)
    assert errors == [
        "event_names filter DynamoDB stream events; a Kinesis reader filters its records with "
        "patterns on `data`"
    ]


@pytest.mark.parametrize("window", [-1, 901])
def test_a_tumbling_window_is_at_most_900_seconds(window):
    from components.core.streams import StreamConsumerSpec

    with pytest.raises(ValueError, match="tumbling_window_s must be between 0 and 900"):
        StreamConsumerSpec(tumbling_window_s=window)
