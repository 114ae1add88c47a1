"""Bad stack files stop the offline preview with exit 2 and one message, before any resource:
malformed files in one line naming the file, config problems all at once with file:line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[2]
SLUGS = ", ".join(sorted(CATALOG))
NO_PATTERN = (
    "serverless-patterns:patterns: no pattern chosen; map at least one of these to its "
    f"arguments ({{}} for the defaults): {SLUGS}"
)
SAGA = "config:\n  aws:region: eu-west-1\n  serverless-patterns:patterns:\n    saga: {}\n"


def preview(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", "--stack-file", str(path), "--no-policy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def expect_error(path: Path, message: str) -> None:
    run = preview(path)
    assert (run.returncode, run.stdout, run.stderr) == (2, "", f"error: {message}\n")


def config_error(*lines: str) -> str:
    return "invalid stack config:\n" + "\n".join(f"  {line}" for line in lines)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; a stack file needs a `config:` map"),
        (b"# a comment, no document\n", "is empty; a stack file needs a `config:` map"),
        (
            b"secretsprovider: passphrase\n",
            "has no `config:` key; settings and patterns go there",
        ),
        (
            b"confg:\n  aws:region: eu-west-1\n",
            "has no `config:` key (is 'confg' a typo?); settings and patterns go there",
        ),
    ],
    ids=["empty", "comments only", "no config", "misspelt config"],
)
def test_a_file_with_no_config_is_refused(tmp_path, content, message):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_bytes(content)
    expect_error(path, f"{path}: {message}")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"- config\n- patterns\n", ":1: must be a map with a `config:` key (got a list)"),
        (b"config: 5\n", ":1: `config:` must be a map of `namespace:key: value` (got 5)"),
        (
            b"config: [aws:region]\n",
            ":1: `config:` must be a map of `namespace:key: value` (got a list)",
        ),
        (b"config:\n  aws:region: caf\xe9\n", ":2: is not UTF-8 text (byte 0xe9)"),
        (
            b"config:\n  aws:region: [eu-west-1\n",
            ":3:1: invalid YAML: while parsing a flow sequence: expected ',' or ']', but got "
            "'<stream end>'",
        ),
        (
            b"config:\n  aws:region: eu-west-1\n---\nconfig: {}\n",
            ":3:1: invalid YAML: expected a single document in the stream: but found another "
            "document",
        ),
        (
            b"config:\n  serverless-patterns:tags: &t {a: *t}\n",
            ":2: serverless-patterns:tags: refers to itself (a recursive alias)",
        ),
    ],
    ids=["a list", "config 5", "config list", "not UTF-8", "invalid YAML", "two docs", "cycle"],
)
def test_a_malformed_file_gets_one_line_naming_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_bytes(content)
    expect_error(path, f"{path}{message}")


def test_a_directory_or_a_missing_file_is_refused(tmp_path):
    expect_error(tmp_path, f"{tmp_path}: is a directory, not a stack file")
    missing = tmp_path / "Pulumi.none.yaml"
    expect_error(missing, f"{missing}: no such file")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("config:\n  aws:region: eu-west-1\n", ""),
        ("config:\n", ""),
        ("config:\n  aws:region: eu-west-1\n  serverless-patterns:patterns: {}\n", ":3"),
    ],
    ids=["region only", "empty config", "empty patterns"],
)
def test_a_stack_that_chooses_no_pattern_is_refused(tmp_path, content, line):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    expect_error(path, config_error(f"{path}{line}: {NO_PATTERN}"))


def test_a_misspelt_namespace_is_refused_with_the_right_one(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(
        "config:\n  aws:region: eu-west-1\n  pulumi:template: x\n"
        "  serverless-pattern:patterns:\n    saga: {}\n"
    )
    expect_error(
        path,
        config_error(
            f"{path}: {NO_PATTERN}",
            f"{path}:4: serverless-pattern:patterns: unknown namespace 'serverless-pattern'; "
            "did you mean serverless-patterns:patterns?",
        ),
    )


def test_a_config_key_outside_config_is_refused(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(SAGA + "serverless-patterns:logRetentionDays: 14\n")
    expect_error(
        path,
        config_error(
            f"{path}:5: serverless-patterns:logRetentionDays: is a config key outside "
            "`config:`; indent it under `config:`"
        ),
    )


def test_duplicate_keys_are_refused_at_every_level(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(
        "config:\n"
        "  aws:region: eu-west-1\n"
        "  serverless-patterns:patterns:\n"
        "    saga: {}\n"
        "    scalable-webhook:\n"
        "      consumer_concurrency: 2\n"
        "      consumer_concurrency: 3\n"
        "  aws:region: eu-west-2\n"
        "config:\n"
        "  serverless-patterns:patterns:\n"
        "    saga: {}\n"
        "    saga: {}\n"
        "  logRetentionDays: 14\n"
        "  serverless-patterns:logRetentionDays: 30\n"
    )
    dup = "duplicate key (first on line {}); the Pulumi CLI refuses it"
    expect_error(
        path,
        config_error(
            f"{path}:7: serverless-patterns:patterns.scalable-webhook.consumer_concurrency: "
            + dup.format(6),
            f"{path}:8: aws:region: " + dup.format(2),
            f"{path}:9: config: " + dup.format(1),
            f"{path}:12: serverless-patterns:patterns.saga: " + dup.format(11),
            f"{path}:14: serverless-patterns:logRetentionDays: " + dup.format(13),
        ),
    )


def test_every_problem_is_listed_with_its_line_and_the_key_as_written(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(
        "config:\n"
        "  aws:region: eu-westt-1\n"
        "  serverless-patterns:logRetentionDays: 45\n"
        "  serverless-patterns:tags:\n"
        "    team: payments\n"
        "    aws:team: payments\n"
        "  serverless-patterns:alarmTopicArn: arn:aws:sns:eu-west-1:123:alarms\n"
        "  serverless-patterns:patterns:\n"
        "    scalable-webhook:\n"
        "      consumer_concurrency: 2\n"
        "      consumer_timeout_s: 0\n"
        "      consumer_concurency: 3\n"
        "      stage_name: " + "v" * 129 + "\n"
        "    callback-workflow:\n"
        "      timezone: Europe/Lisboa\n"
        "      job:\n"
        "        modul: fake_job\n"
    )
    expect_error(
        path,
        config_error(
            f"{path}:2: aws:region: must be an AWS Region (got 'eu-westt-1'; did you mean "
            "eu-west-1?), or set aws:skipRegionValidation: true for one newer than the AWS "
            "provider",
            f"{path}:3: serverless-patterns:logRetentionDays: must be one of 1, 3, 5, 7, 14, 30, "
            "60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, "
            "3653 (got 45)",
            f"{path}:6: serverless-patterns:tags: key 'aws:team' must not start with 'aws:' "
            "(reserved for AWS)",
            f"{path}:7: serverless-patterns:alarmTopicArn: must be an SNS topic ARN, "
            "arn:<partition>:sns:<region>:<account>:<topic> "
            "(got 'arn:aws:sns:eu-west-1:123:alarms')",
            f"{path}:11: serverless-patterns:patterns.scalable-webhook: consumer_timeout_s must "
            "be between 1 and 900 (got 0)",
            f"{path}:12: serverless-patterns:patterns.scalable-webhook: unknown argument "
            "'consumer_concurency' (did you mean 'consumer_concurrency'?); allowed: "
            "api_key_required, batch_size, batching_window_s, consumer_concurrency, "
            "consumer_memory_size, consumer_timeout_s, daily_quota, delivery_id_header, ingest, "
            "max_receive_count, signature, sink_table, stage_name, throttle_burst, "
            "throttle_rate, waf_acl_arn",
            f"{path}:13: serverless-patterns:patterns.scalable-webhook: stage_name must be "
            f"1-128 letters, digits, '-' or '_' (got '{'v' * 129}')",
            # job's default stands in for the broken job, so the other arguments are checked
            f"{path}:15: serverless-patterns:patterns.callback-workflow: timezone must be an "
            "IANA time zone such as UTC or Europe/Lisbon (got 'Europe/Lisboa'; did you mean "
            "Europe/Lisbon?)",
            f"{path}:17: serverless-patterns:patterns.callback-workflow.job: unknown argument "
            "'modul' (did you mean 'module'?); allowed: environment, module, statements, "
            "workspace_access",
        ),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "  serverless-patterns:environment: 2026-01-01\n",
            "serverless-patterns:environment: must be one of dev, prod (got '2026-01-01')",
        ),
        (
            "  serverless-patterns:apiGatewayAccount: yes\n",
            "serverless-patterns:apiGatewayAccount: must be true or false (got 'yes')",
        ),
    ],
    ids=["a date", "yes"],
)
def test_scalars_read_as_the_cli_reads_them(tmp_path, line, message):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(SAGA + line)
    expect_error(path, config_error(f"{path}:5: {message}"))


def test_a_stack_without_a_region_says_which_it_previews_in(tmp_path):
    path = tmp_path / "Pulumi.saga.yaml"
    path.write_text("config:\n  serverless-patterns:patterns:\n    saga: {}\n")
    run = preview(path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == (
        f"note: {path} sets no aws:region; previewing in us-east-1, the simulated cloud's default\n"
    )
    assert "serverless-patterns:patterns:Saga" in run.stdout
