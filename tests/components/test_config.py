"""Stack config validation: every problem in one message, each naming the key as written,
before any resource."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.catalog import CATALOG
from components.config import ConfigError, Problem, parse
from components.core.settings import (
    EVENT_BUS,
    KMS_KEY,
    LAYER_VERSION,
    REGIONAL_WEB_ACL,
    SECRET,
    SNS_TOPIC,
    check_event_bus,
)
from components.queue_redrive import RedriveTarget
from components.scalable_webhook import ScalableWebhookArgs

NS = "serverless-patterns"
PATTERNS = f"{NS}:patterns"
SLUGS = ", ".join(sorted(CATALOG))
ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:hook-AbCdEf"
WEBHOOK_ARGS = (
    "api_key_required, batch_size, batching_window_s, consumer_concurrency, "
    "consumer_memory_size, consumer_timeout_s, daily_quota, delivery_id_header, ingest, "
    "max_receive_count, signature, sink_table, stage_name, throttle_burst, throttle_rate, "
    "waf_acl_arn"
)
SETTINGS = (
    "alarmTopicArn, apiGatewayAccount, architecture, environment, logRetentionDays, "
    "patterns, powertoolsLayerArn, runtime, tags"
)
RETENTIONS = (
    "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, "
    "2922, 3288, 3653"
)
NO_PATTERN = (
    f"{PATTERNS}: no pattern chosen; map at least one of these to its arguments "
    f"({{}} for the defaults): {SLUGS}"
)


def patterns(value) -> dict[str, str]:
    return {PATTERNS: json.dumps(value)}


def webhook(**args) -> dict[str, str]:
    return patterns({"scalable-webhook": args})


def problems_of(raw: dict[str, str]) -> list[str]:
    """The message's problem lines, after the `invalid stack config:` heading."""
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    heading, *lines = str(caught.value).split("\n")
    assert heading == "invalid stack config:"
    assert all(line.startswith("  ") for line in lines)
    return [line[2:] for line in lines]


def test_defaults_when_only_a_pattern_is_chosen():
    config = parse(patterns({"saga": {}}))
    assert [c.slug for c in config.patterns] == ["saga"]
    assert config.settings.environment == "dev"
    assert config.settings.log_retention_days == 30
    assert config.alarm_topic_arn is None and config.api_gateway_account is False


@pytest.mark.parametrize(
    "raw",
    [{}, {"aws:region": "eu-west-1"}, patterns({}), {f"{NS}:environment": "prod"}],
    ids=["nothing", "region only", "empty patterns", "settings only"],
)
def test_a_stack_that_chooses_no_pattern_is_an_error(raw):
    assert problems_of(raw) == [NO_PATTERN]


def test_engine_strings_are_decoded_into_typed_settings_and_args():
    config = parse(
        {
            f"{NS}:environment": "prod",
            f"{NS}:logRetentionDays": "365",
            f"{NS}:apiGatewayAccount": "true",
            f"{NS}:tags": json.dumps({"team": "payments"}),
            f"{NS}:powertoolsLayerArn": f"arn:aws:lambda:{{region}}:{ACCOUNT}:layer:x:1",
            f"{NS}:alarmTopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:alarms",
            "aws:region": "eu-west-1",
            **webhook(
                consumer_concurrency=3,
                throttle_rate=50,
                signature={"header": "X-Sig", "secret_arn": SECRET_ARN},
            ),
        }
    )
    assert config.settings.production and config.settings.log_retention_days == 365
    assert config.settings.tags == {"team": "payments"}
    assert config.api_gateway_account is True
    assert config.alarm_topic_arn == f"arn:aws:sns:eu-west-1:{ACCOUNT}:alarms"
    (choice,) = config.patterns
    assert choice.slug == "scalable-webhook"
    assert isinstance(choice.args, ScalableWebhookArgs)
    assert choice.args.consumer_concurrency == 3 and choice.args.throttle_rate == 50.0
    assert choice.args.signature is not None and choice.args.signature.header == "X-Sig"
    assert choice.args.settings is config.settings


def test_pattern_with_null_args_takes_defaults():
    (choice,) = parse(patterns({"scalable-webhook": None})).patterns
    assert choice.args == ScalableWebhookArgs(settings=choice.args.settings)


def test_unknown_slug_names_it_and_the_allowed_ones():
    assert problems_of(patterns({"scalable-webhok": {}})) == [
        f"{PATTERNS}: unknown pattern 'scalable-webhok' (did you mean 'scalable-webhook'?); "
        f"a key is a pattern's slug ({SLUGS}), or an instance name with `pattern: <slug>` "
        "among its arguments"
    ]


# Several instances of a pattern ------------------------------------------------------------


def test_named_instances_of_one_pattern_sit_beside_a_slug_key():
    config = parse(
        patterns(
            {
                "orders-hook": {"pattern": "scalable-webhook", "consumer_concurrency": 3},
                "billing-hook": {"pattern": "scalable-webhook"},
                "scalable-webhook": {},
                "saga": {"pattern": "saga"},
            }
        )
    )
    chosen = {(c.instance, c.slug, c.name) for c in config.patterns}
    assert chosen == {
        ("orders-hook", "scalable-webhook", "orders-hook"),
        ("billing-hook", "scalable-webhook", "billing-hook"),
        ("scalable-webhook", "scalable-webhook", ""),
        ("saga", "saga", ""),
    }
    orders = next(c for c in config.patterns if c.name == "orders-hook")
    assert orders.args.consumer_concurrency == 3
    billing = next(c for c in config.patterns if c.name == "billing-hook")
    assert billing.args == ScalableWebhookArgs(settings=billing.args.settings)


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            {"orders-hook": {"pattern": "scalable-webhok"}},
            f"{PATTERNS}.orders-hook.pattern: unknown pattern 'scalable-webhok' (did you mean "
            f"'scalable-webhook'?); allowed: {SLUGS}",
        ),
        (
            {"orders-hook": {"pattern": 3}},
            f"{PATTERNS}.orders-hook.pattern: unknown pattern 3; allowed: {SLUGS}",
        ),
        (
            {"saga": {"pattern": "scalable-webhook"}},
            f"{PATTERNS}.saga: 'saga' is the slug of another pattern; name this "
            "scalable-webhook instance otherwise",
        ),
        *[
            (
                {name: {"pattern": "saga"}},
                f"{PATTERNS}.{name}: instance name {name!r} is not usable in names: lowercase "
                "letters, digits and hyphens, starting with a letter and not ending with a "
                "hyphen, at most 32 characters",
            )
            for name in ("Orders", "orders_hook", "1st", "hook-", "a" * 33, "trips.eu")
        ],
    ],
)
def test_instance_names_and_patterns_are_checked(entries, problem):
    assert problems_of(patterns(entries)) == [problem]


def test_an_instance_s_arguments_are_checked_under_its_name():
    assert problems_of(patterns({"orders-hook": {"pattern": "scalable-webhook", "ingest": "x"}}))[
        0
    ].startswith(f"{PATTERNS}.orders-hook.ingest: ")


def test_unknown_arguments_each_get_a_problem_with_a_suggestion():
    assert problems_of(webhook(concurrency=2, consumer_timeout=10)) == [
        f"{PATTERNS}.scalable-webhook: unknown argument 'concurrency' (did you mean "
        f"'consumer_concurrency'?); allowed: {WEBHOOK_ARGS}",
        f"{PATTERNS}.scalable-webhook: unknown argument 'consumer_timeout' (did you mean "
        f"'consumer_timeout_s'?); allowed: {WEBHOOK_ARGS}",
    ]


def test_unknown_keys_of_nested_specs_are_problems_too():
    config = patterns({"progress-tracking": {"websocket": {"stage": "v2"}}})
    (problem,) = problems_of(config)
    assert problem.startswith(
        f"{PATTERNS}.progress-tracking.websocket: unknown argument 'stage' (did you mean "
        "'stage_name'?); allowed: authorizer, cleanup, "
    )


def test_nested_specs_with_pulumi_input_fields_are_checked_not_crashed():
    def processor(**spec) -> dict[str, str]:
        return patterns({"callback-workflow": {"item_processor": {"handler": "a.b", **spec}}})

    assert problems_of(processor(environment={"MODE": 5})) == [
        f"{PATTERNS}.callback-workflow.item_processor.environment.MODE: must be a string (got 5)"
    ]
    (choice,) = parse(processor(environment={"MODE": "bulk"})).patterns
    assert choice.args.item_processor.environment == {"MODE": "bulk"}
    statement = {"actions": ["healthlake:StartFHIRExportJob"], "resources": ["arn:aws:x:::y"]}
    (choice,) = parse(
        patterns({"callback-workflow": {"job": {"statements": [statement]}}})
    ).patterns
    assert list(choice.args.job.statements[0].actions) == ["healthlake:StartFHIRExportJob"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"consumer_concurrency": "two"}, ".consumer_concurrency: must be an integer (got 'two')"),
        ({"consumer_concurrency": True}, ".consumer_concurrency: must be an integer (got True)"),
        ({"ingest": "kafka"}, ".ingest: must be one of direct, lambda (got 'kafka')"),
        (
            {"consumer_concurrency": 0},
            ": consumer_concurrency must be between 1 and 1000 (got 0)",
        ),
        (
            {"consumer_timeout_s": 0},
            ": consumer_timeout_s must be between 1 and 900 (got 0)",
        ),
        (
            {"consumer_memory_size": 64},
            ": consumer_memory_size must be between 128 and 10240 MB (got 64)",
        ),
        (
            {"stage_name": "v" * 129},
            f": stage_name must be 1-128 letters, digits, '-' or '_' (got '{'v' * 129}')",
        ),
        (
            {"waf_acl_arn": f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/acl/1a2b"},
            ": waf_acl_arn must be a regional WAFv2 web ACL ARN, arn:<partition>:wafv2:<region>:"
            "<account>:regional/webacl/<name>/<id> (got "
            f"'arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/acl/1a2b')",
        ),
        ({"signature": {"header": "X"}}, ".signature: missing argument 'secret_arn'"),
        (
            {"signature": {"header": "X-Sig", "secret_arn": "arn:aws:secretsmanager:x"}},
            ".signature: signature.secret_arn must be a Secrets Manager ARN, arn:<partition>:"
            "secretsmanager:<region>:<account>:secret:<name> (got 'arn:aws:secretsmanager:x')",
        ),
        (
            {"signature": "X-Sig"},
            ".signature: must be a map with keys header, secret_arn, algorithm (got 'X-Sig')",
        ),
        (
            {"sink_table": "existing"},
            ".sink_table: is a resource slot; pass an existing resource in code",
        ),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(args, expected):
    assert problems_of(webhook(**args)) == [f"{PATTERNS}.scalable-webhook{expected}"]


@pytest.mark.parametrize(
    ("slug", "args", "expected"),
    [
        (
            "stream-workflow",
            {"pipe_max_retries": -1},
            "pipe_max_retries must be between 0 and 10000 (got -1)",
        ),
        (
            "progress-tracking",
            {"start_route": "$start"},
            "start_route: routes keys must be 1-64 letters, digits or ._- and not start with "
            "'$' (got '$start')",
        ),
        (
            "callback-workflow",
            {"timezone": "Europe/Lisboa"},
            "timezone must be an IANA time zone such as UTC or Europe/Lisbon "
            "(got 'Europe/Lisboa'; did you mean Europe/Lisbon?)",
        ),
        (
            "saga",
            {"event_bus": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders"},
            "event_bus must be a bus name or ARN, or null for the default bus: 1-256 letters, "
            "digits, '.', '-', '_' or '/', or arn:<partition>:events:<region>:<account>:"
            f"event-bus/<name> (got 'arn:aws:sqs:eu-west-1:{ACCOUNT}:orders')",
        ),
        (
            "queue-redrive",
            {"event_bus_name": "bus name"},
            "event_bus_name must be a bus name or ARN, or null for the default bus: 1-256 letters, "
            "digits, '.', '-', '_' or '/', or arn:<partition>:events:<region>:<account>:"
            "event-bus/<name> (got 'bus name')",
        ),
        (
            "callback-workflow",
            {"event_bus": "b" * 257},
            "event_bus must be a bus name or ARN, or null for the default bus: 1-256 letters, "
            "digits, '.', '-', '_' or '/', or arn:<partition>:events:<region>:<account>:"
            f"event-bus/<name> (got '{'b' * 257}')",
        ),
        (
            "table-archive",
            {"kms_key_arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/archive"},
            "kms_key_arn must be a KMS key ARN, arn:<partition>:kms:<region>:<account>:"
            f"key/<key-id> (got 'arn:aws:kms:eu-west-1:{ACCOUNT}:alias/archive')",
        ),
        (
            "table-event-pipes",
            {"kms_key_arn": "arn:aws:kms:eu-west-1:1:key/abc"},
            "kms_key_arn must be a KMS key ARN, arn:<partition>:kms:<region>:<account>:"
            "key/<key-id> (got 'arn:aws:kms:eu-west-1:1:key/abc')",
        ),
    ],
)
def test_pattern_checks_name_the_argument_as_configured(slug, args, expected):
    assert problems_of(patterns({slug: args})) == [f"{PATTERNS}.{slug}: {expected}"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "environment",
            "staging",
            "serverless-patterns:environment: must be one of dev, prod (got 'staging')",
        ),
        (
            "logRetentionDays",
            "45",
            f"serverless-patterns:logRetentionDays: must be one of {RETENTIONS} (got 45)",
        ),
        (
            "architecture",
            "sparc",
            "serverless-patterns:architecture: must be one of arm64, x86_64 (got 'sparc')",
        ),
        (
            "runtime",
            "nodejs22.x",
            "serverless-patterns:runtime: must be a python3.x runtime (got 'nodejs22.x')",
        ),
        (
            "powertoolsLayerArn",
            "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3",
            "serverless-patterns:powertoolsLayerArn: must be a Lambda layer version ARN, "
            "arn:<partition>:lambda:<region>:<account>:layer:<name>:<version> "
            "(got 'arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3')",
        ),
        (
            "alarmTopicArn",
            "alarms",
            "serverless-patterns:alarmTopicArn: must be an SNS topic ARN, arn:<partition>:sns:"
            "<region>:<account>:<topic> (got 'alarms')",
        ),
        (
            "enviroment",
            "dev",
            "serverless-patterns:enviroment: unknown config key (did you mean 'environment'?); "
            f"allowed under serverless-patterns: {SETTINGS}",
        ),
        (
            "log_retention_days",
            "30",
            "serverless-patterns:log_retention_days: unknown config key (did you mean "
            f"'logRetentionDays'?); allowed under serverless-patterns: {SETTINGS}",
        ),
        ("patterns", "[1]", "serverless-patterns:patterns: must be a map (got [1])"),
    ],
)
def test_bad_top_level_settings_name_the_key_as_written(key, value, expected):
    assert problems_of({**patterns({"saga": {}}), f"{NS}:{key}": value}) == [expected]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"aws:team": "x"}, "key 'aws:team' must not start with 'aws:' (reserved for AWS)"),
        ({"AWS:team": "x"}, "key 'AWS:team' must not start with 'aws:' (reserved for AWS)"),
        ({"k" * 129: "x"}, f"key '{'k' * 40}...' must be 1-128 characters (got 129)"),
        ({"": "x"}, "key '' must be 1-128 characters (got 0)"),
        ({"team": "v" * 257}, "value of 'team' must be at most 256 characters (got 257)"),
    ],
)
def test_tags_aws_would_refuse(tags, expected):
    raw = {f"{NS}:tags": json.dumps(tags), **patterns({"saga": {}})}
    assert problems_of(raw) == [f"serverless-patterns:tags: {expected}"]


def test_tags_at_the_limits_are_fine():
    tags = {"k" * 128: "v" * 256, "team": "", "awsome": "x"}
    assert parse({f"{NS}:tags": json.dumps(tags), **patterns({"saga": {}})}).settings.tags == tags


def test_a_near_miss_of_the_namespace_is_a_typo_other_namespaces_pass():
    raw = {
        "serverless-pattern:patterns": json.dumps({"saga": {}}),
        "serverles-patterns:environment": "prod",
        "aws:region": "eu-west-1",
        "aws:profile": "ops",
        "pulumi:template": "x",
        "acme:owner": "payments",
    }
    assert problems_of(raw) == [
        "serverless-pattern:patterns: unknown namespace 'serverless-pattern'; did you mean "
        "serverless-patterns:patterns?",
        "serverles-patterns:environment: unknown namespace 'serverles-patterns'; did you mean "
        "serverless-patterns:environment?",
        NO_PATTERN,
    ]


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "ap-southeast-7", "cn-north-1"])
def test_regions_the_aws_provider_knows_pass(region):
    assert parse({"aws:region": region, **patterns({"saga": {}})}).patterns


def test_a_region_the_aws_provider_does_not_know_is_an_error():
    raw = {"aws:region": "eu-westt-1", **patterns({"saga": {}})}
    assert problems_of(raw) == [
        "aws:region: must be an AWS Region (got 'eu-westt-1'; did you mean eu-west-1?), or set "
        "aws:skipRegionValidation: true for one newer than the AWS provider"
    ]
    skipped = {**raw, "aws:skipRegionValidation": "true"}
    assert parse(skipped).patterns


def test_every_problem_is_reported_at_once():
    raw = {
        f"{NS}:environment": "staging",
        **patterns(
            {
                "nope": {},
                "scalable-webhook": {"batch_size": 0, "consumer_concurrency": 0},
                "callback-workflow": {"poll_interval_s": 901, "map_max_concurrency": 0},
            }
        ),
    }
    assert problems_of(raw) == [
        "serverless-patterns:environment: must be one of dev, prod (got 'staging')",
        f"{PATTERNS}: unknown pattern 'nope'; a key is a pattern's slug ({SLUGS}), or an "
        "instance name with `pattern: <slug>` among its arguments",
        f"{PATTERNS}.scalable-webhook: consumer_concurrency must be between 1 and 1000 (got 0)",
        f"{PATTERNS}.scalable-webhook: batch_size must be between 1 and 10000 with "
        "batching_window_s=1 (got 0)",
        f"{PATTERNS}.callback-workflow: poll_interval_s must be between 1 and 900 (got 901)",
        f"{PATTERNS}.callback-workflow: map_max_concurrency must be between 1 and 10000 (got 0)",
    ]


@pytest.mark.parametrize("slug", ["scalable-webhook", "big-fan", "eventbridge-etl"])
def test_a_serial_queue_consumer_is_refused_in_prod_and_allowed_in_dev(slug):
    """Reserved concurrency 1 leaves the SQS mapping uncapped (its floor is 2): the pack's
    STACK-002 fails it, mandatory in prod, so prod refuses it before any resource exists."""
    serial = patterns({slug: {"consumer_concurrency": 1}})
    assert problems_of({f"{NS}:environment": "prod", **serial}) == [
        f"{PATTERNS}.{slug}: consumer_concurrency must be between 2 and 1000 with environment "
        "'prod' (got 1)"
    ]
    (choice,) = parse({f"{NS}:environment": "dev", **serial}).patterns
    assert choice.args.consumer_concurrency == 1
    assert choice.args.bypassed()[0].startswith("consumer_concurrency=1, so these hardened")


def test_a_wrong_type_does_not_hide_the_other_arguments_problems():
    # consumer_concurrency's default stands in for the mistyped value while the rest are
    # checked; a required argument of the wrong type still stops the checks (nothing stands in).
    raw = webhook(consumer_concurrency=1.5, throttle_rate=-1, stage_name="v 1")
    assert problems_of(raw) == [
        f"{PATTERNS}.scalable-webhook.consumer_concurrency: must be an integer (got 1.5)",
        f"{PATTERNS}.scalable-webhook: stage_name must be 1-128 letters, digits, '-' or '_' "
        "(got 'v 1')",
        f"{PATTERNS}.scalable-webhook: throttle_rate must be positive (got -1.0)",
    ]


def test_an_encrypted_value_says_it_cannot_be_read_offline():
    secret = json.dumps({"secure": "AAABAKx1"})  # as the stack file hands it over
    raw = {
        "aws:region": secret,
        f"{NS}:alarmTopicArn": secret,
        **webhook(stage_name={"secure": "AAABAKx2"}),
    }
    encrypted = (
        "is encrypted (`secure:`), which the offline preview cannot decrypt; no setting of "
        "this library is a secret (a secret goes in Secrets Manager and is passed by ARN), so "
        "set it in plain text"
    )
    assert sorted(problems_of(raw)) == sorted(
        [
            f"aws:region: {encrypted}",
            f"{NS}:alarmTopicArn: {encrypted}",
            f"{PATTERNS}.scalable-webhook.stage_name: {encrypted}",
        ]
    )


def test_a_problem_only_the_default_stand_in_causes_is_not_reported():
    # heartbeat_s=100 is below 2 x the default poll interval that stands in for the bad one.
    args = {"poll_interval_s": 5000, "heartbeat_s": 100}
    assert problems_of(patterns({"callback-workflow": args})) == [
        f"{PATTERNS}.callback-workflow: poll_interval_s must be between 1 and 900 (got 5000)"
    ]


def test_problems_locate_the_key_they_name():
    with pytest.raises(ConfigError) as caught:
        parse(
            {
                f"{NS}:logRetentionDays": "45",
                f"{NS}:tags": json.dumps({"aws:x": "y"}),
                **webhook(consumer_concurrency=0, concurency=1),
            }
        )
    hook = (PATTERNS, "scalable-webhook")
    assert [(p.key, p.location) for p in caught.value.problems] == [
        ((f"{NS}:tags",), (f"{NS}:tags", "aws:x")),
        ((f"{NS}:logRetentionDays",), (f"{NS}:logRetentionDays",)),
        (hook, (*hook, "concurency")),
        (hook, (*hook, "consumer_concurrency")),
    ]
    assert isinstance(caught.value.problems[0], Problem)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (
            SNS_TOPIC,
            f"arn:aws:sns:eu-west-1:{ACCOUNT}:alarms.fifo",
            f"arn:aws:sqs:eu-west-1:{ACCOUNT}:a",
        ),
        (SECRET, SECRET_ARN, f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:hook"),
        (KMS_KEY, f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/mrk-1a2b", "alias/aws/s3"),
        (
            LAYER_VERSION,
            f"arn:aws:lambda:{{region}}:{ACCOUNT}:layer:tools:3",
            f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:tools",
        ),
        (
            REGIONAL_WEB_ACL,
            f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/edge/1a2b-3c",
            f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/ipset/edge/1a2b",
        ),
        (
            EVENT_BUS,
            f"arn:aws-us-gov:events:us-gov-west-1:{ACCOUNT}:event-bus/orders",
            f"arn:aws:events:{{region}}:{ACCOUNT}:event-bus/orders",
        ),
    ],
)
def test_arn_kinds_check_partition_service_region_account_and_resource(kind, good, bad):
    kind.check(good, "x")
    with pytest.raises(ValueError, match=rf"^x must be {kind.noun} ARN, arn:<partition>:"):
        kind.check(bad, "x")


def test_event_bus_takes_a_name_or_an_arn():
    check_event_bus("orders")
    check_event_bus("aws.partner/saas.com/123/orders")
    check_event_bus(f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/orders")
    with pytest.raises(ValueError, match=r"^event_bus_name must be a bus name or ARN"):
        check_event_bus("")


def test_redrive_target_checks_its_kms_key_arn(build):
    def program():
        source, dlq = aws.sqs.Queue("s"), aws.sqs.Queue("d")
        with pytest.raises(ValueError) as caught:
            RedriveTarget(name="orders", source=source, dlq=dlq, kms_key_arn="alias/orders")
        assert str(caught.value) == (
            "queues['orders'].kms_key_arn must be a KMS key ARN, arn:<partition>:kms:<region>:"
            "<account>:key/<key-id> (got 'alias/orders')"
        )

    build(program)


# Renamed arguments: a stack file written for an older version keeps working ----------------


@pytest.mark.parametrize("slug", ["saga", "queue-redrive", "callback-workflow"])
def test_the_former_event_bus_argument_still_sets_event_bus_name(slug):
    config = parse(patterns({slug: {"event_bus": "ops"}}))
    (choice,) = config.patterns
    assert choice.args.event_bus_name == "ops"
    assert config.notes == [
        f"{PATTERNS}.{slug}.event_bus: renamed 'event_bus_name'; the former name still works"
    ]


def test_the_current_name_takes_no_note():
    config = parse(patterns({"saga": {"event_bus_name": "ops"}}))
    assert config.patterns[0].args.event_bus_name == "ops"
    assert config.notes == []


def test_the_former_and_the_current_name_together_are_a_problem():
    assert problems_of(patterns({"saga": {"event_bus": "ops", "event_bus_name": "ops"}})) == [
        f"{PATTERNS}.saga: 'event_bus' is the former name of 'event_bus_name'; "
        "set 'event_bus_name' only"
    ]


def test_a_problem_with_a_former_name_names_it_as_written():
    problems = problems_of(patterns({"saga": {"event_bus": "bus name"}}))
    assert len(problems) == 1
    assert problems[0].startswith(f"{PATTERNS}.saga: event_bus must be a bus name or ARN")
