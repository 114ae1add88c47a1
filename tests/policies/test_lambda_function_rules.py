"""LAMBDA-001 to LAMBDA-008 at their edges: the runtime windows to the day, the log format
and level, and which environment variables look like plaintext secrets (issue #19).

python3.13 is deprecated on 2029-06-30 in the lifecycle data, so its 90-day warning window
opens on 2029-04-01.
"""

from __future__ import annotations

from typing import Any

import pytest

from preview import gate
from serverless_wa.registry import REGISTRY
from serverless_wa.rules._common import FUNCTION, arn, case
from tests.policies.harness import findings_of, run_case, subject_urn


def problems(pack: Any, rule_id: str, props: dict[str, Any], **config: Any) -> list[str]:
    """The findings' messages, each checked to be raised on the function."""
    rule = REGISTRY[rule_id]
    subject = case(FUNCTION, props)
    found = findings_of(run_case(pack, rule, subject, **config), rule)
    assert {f.urn for f in found} <= {subject_urn(subject)}
    return [f.message for f in found]


PY313 = {"runtime": "python3.13"}


# LAMBDA-001 to LAMBDA-003 ------------------------------------------------------------------


def test_tracing_must_be_active(pack):
    assert problems(pack, "LAMBDA-001", {"tracingConfig": {"mode": "Active"}}) == []
    (message,) = problems(pack, "LAMBDA-001", {"tracingConfig": {"mode": "PassThrough"}})
    assert "tracing mode is PassThrough, not Active" in message
    (message,) = problems(pack, "LAMBDA-001", {})
    assert "tracing mode is absent (PassThrough), not Active" in message


@pytest.mark.parametrize(
    ("rule_id", "prop", "default", "text"),
    [
        ("LAMBDA-002", "memorySize", 128, "memory size is 128 MB"),
        ("LAMBDA-003", "timeout", 3, "timeout is 3 s"),
    ],
)
def test_the_provider_default_is_not_an_explicit_setting(pack, rule_id, prop, default, text):
    for value in (None, default, float(default)):
        props = {} if value is None else {prop: value}
        (message,) = problems(pack, rule_id, props)
        assert f"{text}, the provider default (not set explicitly)" in message
    for value in (default - 1, default + 1, str(default)):
        assert problems(pack, rule_id, {prop: value}) == []


# LAMBDA-004 / LAMBDA-005: the windows, to the day ----------------------------------------


def test_deprecated_from_the_deprecation_date_itself(pack):
    assert problems(pack, "LAMBDA-004", PY313, today="2029-06-29") == []
    (message,) = problems(pack, "LAMBDA-004", PY313, today="2029-06-30")
    assert "runtime python3.13 was deprecated on 2029-06-30" in message


def test_the_warning_window_opens_90_days_before_by_default(pack):
    assert REGISTRY["LAMBDA-005"].config["warn_days"]["default"] == 90
    assert problems(pack, "LAMBDA-005", PY313, today="2029-03-31") == []
    (message,) = problems(pack, "LAMBDA-005", PY313, today="2029-04-01")
    assert "runtime python3.13 is deprecated on 2029-06-30, in 90 days" in message
    assert "(function creation blocked from 2029-07-31, updates from 2029-08-31)" in message
    (message,) = problems(pack, "LAMBDA-005", PY313, today="2029-06-29")
    assert "in 1 days" in message
    # From the deprecation date on, LAMBDA-004 reports it instead.
    assert problems(pack, "LAMBDA-005", PY313, today="2029-06-30") == []


def test_warn_days_moves_the_window(pack):
    (message,) = problems(pack, "LAMBDA-005", PY313, today="2029-03-01", warn_days=121)
    assert "is deprecated on 2029-06-30, in 121 days" in message
    assert problems(pack, "LAMBDA-005", PY313, today="2029-03-01", warn_days=120) == []
    assert problems(pack, "LAMBDA-005", PY313, today="2029-06-29", warn_days=0) == []
    assert problems(pack, "LAMBDA-005", PY313, today="2029-06-29", warn_days=-5) == []


def test_warn_days_is_capped_at_ten_years_so_huge_values_cannot_overflow(pack):
    huge = 10**15  # a timedelta of this many days would raise OverflowError
    (message,) = problems(pack, "LAMBDA-005", PY313, today="2019-07-03", warn_days=huge)
    assert "in 3650 days" in message
    assert problems(pack, "LAMBDA-005", PY313, today="2019-07-02", warn_days=huge) == []
    (message,) = problems(pack, "LAMBDA-005", PY313, today="2019-07-03", warn_days=3651)
    assert "in 3650 days" in message
    assert problems(pack, "LAMBDA-005", PY313, today="2019-07-02", warn_days=3651) == []


@pytest.mark.parametrize("rule_id", ["LAMBDA-004", "LAMBDA-005"])
def test_only_zip_packages_with_a_string_runtime_are_judged(pack, rule_id):
    today = {"LAMBDA-004": "2029-07-01", "LAMBDA-005": "2029-06-01"}[rule_id]
    for props in ({**PY313, "packageType": "Zip"}, PY313):
        (message,) = problems(pack, rule_id, props, today=today)
        assert "runtime python3.13 " in message and "deprecated on 2029-06-30" in message
    for odd in ({"packageType": "Image"}, {"packageType": gate.UNKNOWN}, {"runtime": 3.13}):
        assert problems(pack, rule_id, {**PY313, **odd}, today=today) == []


# LAMBDA-006 -------------------------------------------------------------------------------


def test_zero_reserved_concurrency_is_one_finding(pack):
    for zero in (0, 0.0):
        (message,) = problems(pack, "LAMBDA-006", {"reservedConcurrentExecutions": zero})
        assert "reserved concurrency is 0, so the function can never run" in message
    for other in (-1, 1, False):
        assert problems(pack, "LAMBDA-006", {"reservedConcurrentExecutions": other}) == []


# LAMBDA-007 -------------------------------------------------------------------------------


def test_text_logs_fail_once_whether_or_not_a_level_is_set(pack):
    for logging in ({"logFormat": "Text", "applicationLogLevel": "INFO"}, {"logFormat": "Text"}):
        (message,) = problems(pack, "LAMBDA-007", {"loggingConfig": logging})
        assert "log format is Text, not JSON" in message


def test_json_logs_need_an_application_log_level(pack):
    level = {"logFormat": "JSON", "applicationLogLevel": "WARN"}
    assert problems(pack, "LAMBDA-007", {"loggingConfig": level}) == []
    for unset in ({"logFormat": "JSON"}, {"logFormat": "JSON", "applicationLogLevel": ""}):
        (message,) = problems(pack, "LAMBDA-007", {"loggingConfig": unset})
        assert "JSON logs set no applicationLogLevel" in message
        assert "Fix: logging_config.application_log_level" in message


def test_absent_or_odd_log_formats_are_named_in_the_finding(pack):
    (message,) = problems(pack, "LAMBDA-007", {})
    assert "log format is absent (Text), not JSON" in message
    (message,) = problems(pack, "LAMBDA-007", {"loggingConfig": {"logFormat": 2.0}})
    assert "log format is 2, not JSON" in message
    (message,) = problems(pack, "LAMBDA-007", {"loggingConfig": {"logFormat": 2.5}})
    assert "log format is 2.5, not JSON" in message
    assert problems(pack, "LAMBDA-007", {"loggingConfig": {"logFormat": gate.UNKNOWN}}) == []


# LAMBDA-008 -------------------------------------------------------------------------------


def env(**variables: Any) -> dict[str, Any]:
    return {"environment": {"variables": variables}}


def flagged(pack: Any, props: dict[str, Any], **config: Any) -> list[str]:
    """The variable names reported, in the order reported."""
    messages = problems(pack, "LAMBDA-008", props, **config)
    assert all("looks like a secret held as a plain value" in m for m in messages)
    return [m.split("environment variable ")[1].split(" ")[0] for m in messages]


@pytest.mark.parametrize(
    "key",
    ["DB_PASSWORD", "CLIENT_SECRET", "GITHUB_TOKEN", "API_KEY", "PRIVATE_KEY", "CREDENTIAL"],
)
def test_each_default_pattern_flags_a_plain_value(pack, key):
    assert flagged(pack, env(**{key: "plain", "TABLE_NAME": "orders"})) == [key]


@pytest.mark.parametrize(
    "key",
    [
        "SLACK_VERIFICATION_CODE",
        "DB_PASS",
        "MYSQL_PWD",
        "SSH_PASSPHRASE",
        "APIKEY",
        "AWS_ACCESS_KEY",
        "JWT_SIGNING_KEY",
        "ENCRYPTION_KEY",
        "HMAC_KEY",
        "SESSION_KEY",
        "CONNECTION_STRING",
        "AUTH_CODE",
        "LICENSE_KEY",
    ],
)
def test_names_public_programs_give_secrets_are_flagged(pack, key):
    assert flagged(pack, env(**{key: "plain"})) == [key]


@pytest.mark.parametrize(
    "key",
    ["PARTITION_KEY", "S3_KEY_PREFIX", "SORT_KEY", "KEY_SCHEMA", "PASSENGER_TABLE", "BYPASS_CACHE"],
)
def test_ordinary_keys_are_not_secrets(pack, key):
    assert problems(pack, "LAMBDA-008", env(**{key: "plain"})) == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "a private key"),
        ("postgres://app:hunter2@db.internal:5432/app", "a URL with a password"),
        ("mongodb+srv://u:p@cluster0.example.net/db", "a URL with a password"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "a Stripe live key"),
        ("xoxb-1234567890-abcdefghij", "a Slack token"),
        ("ghp_" + "a" * 36, "a GitHub token"),
    ],
)
def test_values_shaped_like_secrets_are_flagged_whatever_the_key(pack, value, kind):
    [message] = problems(pack, "LAMBDA-008", env(SETTINGS_BLOB=value, TABLE_NAME="orders"))
    assert f"environment variable SETTINGS_BLOB holds {kind} as a plain value" in message


def test_urls_without_a_password_and_references_are_not_secrets(pack):
    variables = env(
        DATABASE_URL="postgres://db.internal:5432/app",
        SERVICE_URL="https://user@example.com/path",
        DOCS="see https://example.com/a:b@c",
    )
    assert problems(pack, "LAMBDA-008", variables) == []


def test_keys_matching_only_secret_or_credential_are_flagged(pack):
    variables = env(OAUTH_SECRET="s", AZURE_CREDENTIALS="c", REGION="eu-west-1")
    assert sorted(flagged(pack, variables)) == ["AZURE_CREDENTIALS", "OAUTH_SECRET"]


def test_reference_suffixes_match_in_any_case(pack):
    variables = env(
        db_password_arn="plain",
        Api_Token_Name="plain",
        secret_param="plain",
        credential_id="plain",
        DB_PASSWORD_ARNS="plain",
    )
    assert flagged(pack, variables) == ["DB_PASSWORD_ARNS"]


def test_only_arn_and_path_values_are_references(pack):
    variables = env(
        A_TOKEN=arn("ssm", "parameter/token"),
        B_TOKEN="/app/token",
        C_TOKEN="ARN-looking but not one",
        D_TOKEN=12345,
        E_TOKEN=None,
        F_TOKEN=gate.UNKNOWN,
    )
    assert sorted(flagged(pack, variables)) == ["C_TOKEN", "D_TOKEN"]


def test_custom_secret_key_patterns_replace_the_defaults(pack):
    variables = env(STRIPE_KEY="sk_live_1", DB_PASSWORD="hunter2", MY_STRIPE="x", ODD_A_B="y")
    assert flagged(pack, variables, secret_key_patterns=["^stripe_"]) == ["STRIPE_KEY"]
    # A pattern that is not a valid regex is matched literally.
    assert flagged(pack, variables, secret_key_patterns=["(a_b"]) == []
    assert flagged(pack, env(**{"ODD(A_B": "y"}), secret_key_patterns=["(a_b"]) == ["ODD(A_B"]
    assert flagged(pack, variables, secret_key_patterns=[]) == []


def test_findings_come_one_per_key_in_key_order(pack):
    assert flagged(pack, env(Z_TOKEN="z", A_TOKEN="a", M_TOKEN="m")) == [
        "A_TOKEN",
        "M_TOKEN",
        "Z_TOKEN",
    ]


def test_variables_that_are_not_a_mapping_are_not_judged(pack):
    assert problems(pack, "LAMBDA-008", {"environment": {"variables": ["DB_PASSWORD"]}}) == []
    assert problems(pack, "LAMBDA-008", {"environment": "DB_PASSWORD=x"}) == []
