"""Stack config validation: each kind of bad config gives one clear message, before any resource."""

from __future__ import annotations

import json

import pytest

from components.config import ConfigError, parse
from components.scalable_webhook import ScalableWebhookArgs

NS = "serverless-patterns"


def patterns(value) -> dict[str, str]:
    return {f"{NS}:patterns": json.dumps(value)}


def error_of(raw: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return str(caught.value)


def test_defaults_when_nothing_is_set():
    config = parse({})
    assert config.patterns == []
    assert config.settings.environment == "dev"
    assert config.settings.log_retention_days == 30
    assert config.alarm_topic_arn is None and config.api_gateway_account is False


def test_engine_strings_are_decoded_into_typed_settings_and_args():
    config = parse(
        {
            f"{NS}:environment": "prod",
            f"{NS}:logRetentionDays": "365",
            f"{NS}:apiGatewayAccount": "true",
            f"{NS}:tags": json.dumps({"team": "payments"}),
            f"{NS}:powertoolsLayerArn": "arn:aws:lambda:{region}:1:layer:x:1",
            "aws:region": "eu-west-1",
            **patterns(
                {
                    "scalable-webhook": {
                        "consumer_concurrency": 3,
                        "throttle_rate": 50,
                        "signature": {
                            "header": "X-Sig",
                            "secret_arn": "arn:aws:secretsmanager:eu-west-1:1:secret:s",
                        },
                    }
                }
            ),
        }
    )
    assert config.settings.production and config.settings.log_retention_days == 365
    assert config.settings.tags == {"team": "payments"}
    assert config.api_gateway_account is True
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
    message = error_of(patterns({"scalable-webhok": {}}))
    assert "serverless-patterns:patterns: unknown pattern 'scalable-webhok'" in message
    allowed = message.split("allowed: ", 1)[1].split("\n")[0].split(", ")
    assert "scalable-webhook" in allowed and allowed == sorted(allowed)


def test_unknown_argument_names_it_and_the_allowed_ones():
    message = error_of(patterns({"scalable-webhook": {"concurrency": 2}}))
    assert (
        "serverless-patterns:patterns.scalable-webhook: unknown argument 'concurrency'" in message
    )
    assert "consumer_concurrency" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"consumer_concurrency": "two"}, "consumer_concurrency: must be an integer (got 'two')"),
        ({"consumer_concurrency": True}, "consumer_concurrency: must be an integer (got True)"),
        ({"ingest": "kafka"}, "ingest: must be one of direct, lambda (got 'kafka')"),
        ({"consumer_concurrency": 0}, "consumer_concurrency must be between 1 and 1000 (got 0)"),
        ({"signature": {"header": "X"}}, "signature: missing argument 'secret_arn'"),
        ({"signature": "X-Sig"}, "signature: must be a map with keys header, secret_arn"),
        ({"sink_table": "existing"}, "sink_table: is a resource slot"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(args, expected):
    message = error_of(patterns({"scalable-webhook": args}))
    assert "serverless-patterns:patterns.scalable-webhook" in message
    assert expected in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "environment",
            "staging",
            "serverless-patterns:environment: must be one of dev, prod (got 'staging')",
        ),
        ("logRetentionDays", "45", "log_retention_days must be one of 1, 3, 5"),
        ("architecture", "sparc", "architecture: must be one of arm64, x86_64"),
        ("enviroment", "dev", "serverless-patterns:enviroment: unknown config key; allowed:"),
        ("log_retention_days", "30", "log_retention_days: unknown config key"),
        ("patterns", "[1]", "serverless-patterns:patterns: must be a map"),
    ],
)
def test_bad_top_level_settings(key, value, expected):
    assert expected in error_of({f"{NS}:{key}": value})


def test_every_problem_is_reported_at_once():
    message = error_of(
        {
            f"{NS}:environment": "staging",
            **patterns({"nope": {}, "scalable-webhook": {"batch_size": 0}}),
        }
    )
    assert message.count("\n") >= 2
    assert "environment" in message and "'nope'" in message and "batch_size" in message
