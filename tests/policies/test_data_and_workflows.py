"""Step Functions, DynamoDB, Kinesis/Firehose and S3 rules beyond their registry examples:
state paths and per-state exemptions, ephemeral data, link resolution, both S3 spellings,
and odd property shapes that must never abort a rule."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from serverless_wa.registry import REGISTRY, Case, Resource, Rule
from serverless_wa.rules import sfn
from serverless_wa.rules._common import DATA_TAG, ESM, STATE_MACHINE, TABLE, arn, case, stack_case
from serverless_wa.rules.dynamodb import SCALING_TARGET
from serverless_wa.rules.kinesis import FIREHOSE
from serverless_wa.rules.s3 import (
    BUCKET,
    BUCKET_POLICY,
    BUCKET_V2,
    ENCRYPTION,
    LOGGING,
    PUBLIC_ACCESS_BLOCK,
    VERSIONING,
)
from tests.policies.harness import findings_of, run_case

GROUPS = ("SFN-", "DDB-", "KINESIS-", "S3-")
MINE = [r for r in REGISTRY.values() if r.id.startswith(GROUPS)]
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()


def _found(pack: Any, rule_id: str, case_: Case, **config: Any) -> list[str]:
    return [
        f.message
        for f in findings_of(run_case(pack, REGISTRY[rule_id], case_, **config), REGISTRY[rule_id])
    ]


def _errors(pack: Any, rule: Rule, case_: Case) -> list[str]:
    report = run_case(pack, rule, case_)
    return [
        why
        for policy, _, why in report.not_applicable
        if policy == rule.name and "could not" in why
    ]


def _machine(document: dict[str, Any] | str, **props: Any) -> Case:
    text = document if isinstance(document, str) else json.dumps(document)
    return case(STATE_MACHINE, {"definition": text, **props})


# Step Functions --------------------------------------------------------------------------


def test_every_nested_state_is_named_by_its_path(pack):
    document = sfn._good()
    for state in (
        document["States"]["Fanout"]["Branches"][0]["States"]["Resize"],
        document["States"]["Items"]["ItemProcessor"]["States"]["Load"],
        document["States"]["Record"],
    ):
        state.pop("TimeoutSeconds")
    messages = _found(pack, "SFN-005", _machine(document))
    assert len(messages) == 3
    for path in ("Fanout/Branch[0]/Resize", "Items/ItemProcessor/Load", "state Record "):
        assert any(path in m for m in messages), path


def test_legacy_iterator_states_are_walked_too(pack):
    document = json.loads(sfn._legacy_iterator())
    document["States"]["Items"]["Iterator"]["States"]["Load"].pop("Retry")
    messages = _found(pack, "SFN-003", _machine(document))
    assert len(messages) == 1 and "Items/Iterator/Load has no Retry" in messages[0]


def test_exempting_one_state_leaves_the_others_evaluated(pack):
    document = sfn._good()
    document["States"]["Record"].pop("Retry")
    document["States"]["Fanout"]["Branches"][0]["States"]["Resize"].pop("Retry")
    exemption = {
        "match": "^subject$",
        "reason": "non-idempotent",
        "expires": FUTURE,
        "detail": "Fanout/Branch[0]/Resize",
    }
    messages = _found(pack, "SFN-003", _machine(document), exemptions=[exemption])
    assert len(messages) == 1 and "state Record has no Retry" in messages[0]


def test_lambda_retry_rules(pack):
    def with_retry(retry: list[dict[str, Any]], resource: str = sfn.LAMBDA_INVOKE) -> Case:
        document = sfn._good()
        document["States"]["Record"].update(Resource=resource, Retry=retry)
        return _machine(document)

    errors = sorted(sfn.asl.LAMBDA_RETRY_ERRORS)
    assert not _found(pack, "SFN-003", with_retry([{"ErrorEquals": ["States.TaskFailed"]}]))
    # A bare Lambda ARN and the callback form are Lambda tasks as well.
    bare = arn("lambda", "function:record")
    (message,) = _found(
        pack, "SFN-003", with_retry([{"ErrorEquals": ["Lambda.ServiceException"]}], bare)
    )
    assert (
        "Task state Record does not retry Lambda.AWSLambdaException, Lambda.SdkClientException, "
        "Lambda.TooManyRequestsException with BackoffRate > 1" in message
    )
    callback = f"{sfn.LAMBDA_INVOKE}.waitForTaskToken"
    (message,) = _found(pack, "SFN-003", with_retry([{"ErrorEquals": errors[:2]}], callback))
    assert (
        "Task state Record does not retry Lambda.ServiceException, Lambda.TooManyRequestsException "
        "with BackoffRate > 1" in message
    )
    # Retriers together cover the errors; one with MaxAttempts 0 retries nothing.
    split = [{"ErrorEquals": errors[:2]}, {"ErrorEquals": errors[2:], "BackoffRate": 1.5}]
    assert not _found(pack, "SFN-003", with_retry(split))
    (message,) = _found(pack, "SFN-003", with_retry([{"ErrorEquals": errors, "MaxAttempts": 0}]))
    assert (
        "Task state Record does not retry Lambda.AWSLambdaException, Lambda.SdkClientException, "
        "Lambda.ServiceException, Lambda.TooManyRequestsException with BackoffRate > 1" in message
    )
    # Non-Lambda tasks need some Retry, not the Lambda errors.
    put = [{"ErrorEquals": ["DynamoDB.ThrottlingException"]}]
    assert not _found(pack, "SFN-003", with_retry(put, sfn.PUT_ITEM))


@pytest.mark.parametrize(
    ("catch", "compliant"),
    [
        ({"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}, True),
        ({"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Failed"}, True),
        ({"ErrorEquals": ["States.ALL"], "Output": "{% $states.input %}", "Next": "Failed"}, True),
        ({"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "Failed"}, False),
        ({"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "Failed"}, False),
        ({"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Nowhere"}, False),
        ({"ErrorEquals": ["States.ALL"], "ResultPath": "$.e"}, False),
    ],
)
def test_catch_must_lead_to_a_handler_and_keep_the_input(pack, catch, compliant):
    document = sfn._good()
    document["States"]["Record"]["Catch"] = [catch]
    assert bool(_found(pack, "SFN-004", _machine(document))) is not compliant


def test_an_enclosing_catch_covers_only_its_own_children(pack):
    document = sfn._good()
    document["States"]["Fanout"]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Missing"}
    ]
    messages = _found(pack, "SFN-004", _machine(document))
    assert len(messages) == 1 and "Fanout/Branch[0]/Resize" in messages[0]


def test_express_rules_follow_the_workflow_type(pack):
    assert not _found(pack, "SFN-008", _machine(sfn._good()))  # absent type = STANDARD
    document = sfn._good()
    document["States"]["Approve"]["Resource"] = sfn.PUT_ITEM
    document["States"]["Record"]["Resource"] = f"{sfn.LAMBDA_INVOKE}.waitForTaskToken"
    messages = _found(pack, "SFN-008", _machine(document, type="EXPRESS"))
    assert len(messages) == 1 and "state Record uses" in messages[0]


def test_heartbeat_paths_and_jsonata_values_are_accepted(pack):
    document = sfn._good()
    document["States"]["Approve"].update(TimeoutSeconds="{% $timeout %}", HeartbeatSeconds=60)
    document["States"]["Items"]["MaxConcurrency"] = "{% $limit %}"
    assert not _found(pack, "SFN-006", _machine(document))
    assert not _found(pack, "SFN-007", _machine(document))


@pytest.mark.parametrize(
    "definition",
    [
        "not json",
        "[]",
        "null",
        json.dumps({"StartAt": "A", "States": []}),
        json.dumps({"StartAt": "A", "States": {"A": "Task"}}),
        json.dumps({"States": {"P": {"Type": "Parallel", "Branches": 5, "End": True}}}),
        json.dumps({"States": {"P": {"Type": "Parallel", "Branches": ["x", None]}}}),
        json.dumps({"States": {"M": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": "x"}}}}),
        json.dumps(
            {
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": ["arn:aws:states:::lambda:invoke"],
                        "Retry": "all",
                        "Catch": {"ErrorEquals": "States.ALL"},
                        "HeartbeatSeconds": "60",
                        "TimeoutSeconds": None,
                    },
                    "U": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Retry": [{"ErrorEquals": "States.ALL", "BackoffRate": "2"}, 3],
                    },
                }
            }
        ),
    ],
)
def test_odd_definitions_never_abort_the_definition_rules(pack, definition):
    for rule_id in ("SFN-003", "SFN-004", "SFN-005", "SFN-006", "SFN-007", "SFN-008", "SFN-009"):
        machine = _machine(definition, type="EXPRESS")
        assert _errors(pack, REGISTRY[rule_id], machine) == [], rule_id


def test_unparseable_definitions_are_not_findings(pack):
    for rule_id in ("SFN-003", "SFN-004", "SFN-005", "SFN-006", "SFN-007", "SFN-008", "SFN-009"):
        assert not _found(pack, rule_id, _machine("{not json", type="EXPRESS")), rule_id


# DynamoDB --------------------------------------------------------------------------------

EPHEMERAL = {DATA_TAG: "ephemeral"}


@pytest.mark.parametrize("tag_key", ["tags", "tagsAll"])
def test_ephemeral_tables_need_ttl_instead_of_backups(pack, tag_key):
    bare = case(TABLE, {tag_key: EPHEMERAL})
    assert not _found(pack, "DDB-001", bare)
    assert not _found(pack, "DDB-003", bare)
    (message,) = _found(pack, "DDB-004", bare)
    assert "ephemeral table has TTL absent (off)" in message
    durable = case(TABLE, {})
    (backups,) = _found(pack, "DDB-001", durable)
    assert "point-in-time recovery is absent (off)" in backups
    (protection,) = _found(pack, "DDB-003", durable)
    assert "deletion protection is absent (off)" in protection
    assert not _found(pack, "DDB-004", durable)


def _provisioned(*targets: Resource) -> Case:
    table = Resource(
        TABLE,
        "orders",
        {
            "name": "orders",
            "billingMode": "PROVISIONED",
            "globalSecondaryIndexes": [{"name": "byDay"}],
        },
    )
    return stack_case(table, *targets, subject="orders")


def _scaling(name: str, resource: str, dimension: str, linked: bool) -> Resource:
    props = {"serviceNamespace": "dynamodb", "resourceId": resource, "scalableDimension": dimension}
    return Resource(
        SCALING_TARGET, name, props, depends={"resourceId": ("orders",)} if linked else {}
    )


def test_provisioned_capacity_links_targets_by_dependency_or_resource_id(pack):
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    dims = ("ReadCapacityUnits", "WriteCapacityUnits")
    table_targets = [_scaling(f"t{d}", unknown, f"dynamodb:table:{d}", True) for d in dims]
    index_known = [
        _scaling(f"i{d}", "table/orders/index/byDay", f"dynamodb:index:{d}", False) for d in dims
    ]
    assert not _found(pack, "DDB-002", _provisioned(*table_targets, *index_known))
    messages = _found(pack, "DDB-002", _provisioned(*table_targets))
    assert len(messages) == 1 and "index byDay" in messages[0] and "table Read" not in messages[0]
    # An index target whose resourceId is unknown: which index it scales is unknown, skip.
    index_unknown = [_scaling(f"i{d}", unknown, f"dynamodb:index:{d}", True) for d in dims]
    assert not _found(pack, "DDB-002", _provisioned(*table_targets, *index_unknown))
    # A target whose table cannot be resolved at all might be this table's: skip.
    stray = _scaling("stray", unknown, "dynamodb:table:ReadCapacityUnits", False)
    assert not _found(pack, "DDB-002", _provisioned(stray))
    # Another table's targets do not count.
    other = [_scaling(f"o{d}", "table/other", f"dynamodb:table:{d}", False) for d in dims]
    (message,) = _found(pack, "DDB-002", _provisioned(*other))
    assert (
        "billing mode PROVISIONED without application autoscaling for table ReadCapacityUnits, "
        "table WriteCapacityUnits, index byDay ReadCapacityUnits, index byDay WriteCapacityUnits"
        in message
    )


def _stream_case(pattern: str, view: str = "KEYS_ONLY") -> Case:
    stream = arn("dynamodb", "table/orders/stream/2026")
    table = Resource(
        TABLE, "orders", {"name": "orders", "streamViewType": view, "streamArn": stream}
    )
    mapping = Resource(
        ESM,
        "mapping",
        {"eventSourceArn": stream, "filterCriteria": {"filters": [{"pattern": pattern}]}},
    )
    return stack_case(table, mapping, subject="orders")


def test_stream_filters_find_images_anywhere_in_the_pattern(pack):
    nested = json.dumps(
        {"$or": [{"eventName": ["MODIFY"]}, {"dynamodb": {"OldImage": {"a": {"S": ["x"]}}}}]}
    )
    (message,) = _found(pack, "DDB-005", _stream_case(nested))
    assert (
        "consumer mapping filters on dynamodb.OldImage, but the stream view type is KEYS_ONLY, so "
        "the filter matches nothing" in message
    )
    (message,) = _found(pack, "DDB-005", _stream_case(nested, "NEW_IMAGE"))
    assert (
        "consumer mapping filters on dynamodb.OldImage, but the stream view type is NEW_IMAGE, so "
        "the filter matches nothing" in message
    )
    assert not _found(pack, "DDB-005", _stream_case(nested, "OLD_IMAGE"))
    keys = json.dumps({"dynamodb": {"Keys": {"pk": {"S": ["x"]}}}})
    assert not _found(pack, "DDB-005", _stream_case(keys))
    assert not _found(pack, "DDB-005", _stream_case("{not json"))


# S3 --------------------------------------------------------------------------------------


def _bucket(type_: str = BUCKET, name: str = "data", **props: Any) -> Resource:
    return Resource(type_, name, {"bucket": name, "arn": f"arn:aws:s3:::{name}", **props})


def _sub(type_: str, bucket: str = "data", linked: bool = True, **props: Any) -> Resource:
    depends = {"bucket": (bucket,)} if linked else {}
    return Resource(
        type_, f"{bucket}-{type_.rsplit(':', 1)[-1]}", {"bucket": bucket, **props}, depends=depends
    )


MISSING_SUB = {
    "S3-003": "bucket has no BucketPublicAccessBlock",
    "S3-005": "bucket has no BucketVersioning with status Enabled",
    "S3-006": "bucket has no BucketLogging for server access logs",
    "S3-007": "default encryption is SSE-S3 (AES256), not aws:kms or aws:kms:dsse",
}
V2_CASES = [
    ("S3-003", _sub(PUBLIC_ACCESS_BLOCK)),
    ("S3-005", _sub(VERSIONING[1], versioningConfiguration={"status": "Enabled"})),
    ("S3-006", _sub(LOGGING[1], targetBucket="elsewhere")),
    (
        "S3-007",
        _sub(
            ENCRYPTION[1],
            rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
        ),
    ),
]


@pytest.mark.parametrize(("rule_id", "sub"), V2_CASES, ids=[c[0] for c in V2_CASES])
@pytest.mark.parametrize("bucket_type", [BUCKET, BUCKET_V2])
def test_both_bucket_spellings_and_v2_sub_resources(pack, rule_id, sub, bucket_type):
    assert not _found(pack, rule_id, stack_case(_bucket(bucket_type), sub, subject="data"))
    (message,) = _found(pack, rule_id, stack_case(_bucket(bucket_type), subject="data"))
    assert MISSING_SUB[rule_id] in message


def test_an_unresolved_sub_resource_may_be_any_buckets(pack):
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    stray = Resource(PUBLIC_ACCESS_BLOCK, "stray", {"bucket": unknown})
    assert not _found(pack, "S3-003", stack_case(_bucket(), stray, subject="data"))
    # A known name of a bucket outside the stack resolves, to nothing of ours.
    foreign = Resource(PUBLIC_ACCESS_BLOCK, "foreign", {"bucket": "someone-elses"})
    (message,) = _found(pack, "S3-003", stack_case(_bucket(), foreign, subject="data"))
    assert "bucket has no BucketPublicAccessBlock" in message


def test_ephemeral_buckets_need_no_versioning(pack):
    assert not _found(pack, "S3-005", stack_case(_bucket(tags=EPHEMERAL), subject="data"))
    assert not _found(pack, "S3-005", stack_case(_bucket(tagsAll=EPHEMERAL), subject="data"))


def test_tls_deny_must_deny_everyone_on_plain_http(pack):
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": ["s3:*"],
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }

    def with_policy(statement: dict[str, Any]) -> Case:
        policy = json.dumps({"Statement": [statement]})
        return stack_case(_bucket(), _sub(BUCKET_POLICY, policy=policy), subject="data")

    assert not _found(pack, "S3-004", with_policy(deny))
    assert _found(
        pack, "S3-004", with_policy({**deny, "Principal": {"AWS": "arn:aws:iam::1:root"}})
    )
    (message,) = _found(pack, "S3-004", with_policy({**deny, "Action": "s3:PutObject"}))
    assert "bucket policy does not deny requests with aws:SecureTransport false" in message
    (message,) = _found(pack, "S3-004", with_policy({**deny, "Effect": "Allow"}))
    assert "bucket policy does not deny requests with aws:SecureTransport false" in message
    # An invalid document is not a finding.
    invalid = stack_case(_bucket(), _sub(BUCKET_POLICY, policy="{nope"), subject="data")
    assert not _found(pack, "S3-004", invalid)


def test_public_policy_conditions_that_restrict_the_caller(pack):
    for key in ("aws:SourceArn", "aws:sourceaccount", "aws:PrincipalOrgID", "aws:SourceVpce"):
        statement = {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "*",
            "Condition": {"StringEquals": {key: "x"}},
        }
        policy = json.dumps({"Statement": statement})
        assert not _found(pack, "S3-002", case(BUCKET_POLICY, {"bucket": "b", "policy": policy})), (
            key
        )
    weak = json.dumps(
        {
            "Statement": {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        }
    )
    (message,) = _found(pack, "S3-002", case(BUCKET, {"bucket": "b", "policy": weak}))
    assert (
        "policy statement Statement[0] allows s3:GetObject to Principal * with no aws:SourceArn, "
        "SourceAccount, PrincipalOrgID or SourceVpce condition" in message
    )


def test_log_target_buckets_need_no_logging_themselves(pack):
    logging = Resource(
        LOGGING[0],
        "logging",
        {"bucket": "data", "targetBucket": "logs"},
        depends={"bucket": ("data",), "targetBucket": ("logs",)},
    )
    both = stack_case(_bucket(), _bucket(name="logs"), logging, subject="logs")
    assert not _found(pack, "S3-006", both)


# Firehose --------------------------------------------------------------------------------


def test_msk_sourced_delivery_streams_are_not_direct_put(pack):
    msk = {
        "mskSourceConfiguration": {"mskClusterArn": arn("kafka", "cluster/c/1")},
        "destination": "extended_s3",
    }
    assert not _found(pack, "KINESIS-002", case(FIREHOSE, msk))


# Robustness ------------------------------------------------------------------------------

ODD_VALUES = [[], [None, 1, "x"], "x", 5, True, {"a": None, "b": [1]}]


def _odd_case(rule: Rule, value: Any) -> Case:
    resources = []
    for index, type_ in enumerate(rule.types):
        roots = {path.split(".")[0] for path in rule.reads.get(type_, ())}
        props = dict.fromkeys(roots, value)
        props.setdefault("tags", {DATA_TAG: "ephemeral"} if index % 2 else {"other": "x"})
        resources.append(Resource(type_, f"r{index}", props))
    if rule.scope == "resource":
        return Case(
            (Resource("serverless-patterns:patterns:Example", "owner", {}), *resources), "r0"
        )
    return stack_case(*resources, subject="r0")


@pytest.mark.parametrize("rule", MINE, ids=[r.id for r in MINE])
def test_odd_property_shapes_never_abort_a_rule(pack, rule):
    for value in ODD_VALUES:
        assert _errors(pack, rule, _odd_case(rule, value)) == [], value
