"""Lambda rules: the section 4 regression cases, the runtime lifecycle data, preview shapes
and odd props."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi_aws as aws
import pytest

from preview import gate
from serverless_wa.registry import REGISTRY, Case, Resource, Rule
from serverless_wa.rules._common import ESM, FUNCTION, LOG_GROUP, PERMISSION, QUEUE, arn, case
from serverless_wa.rules._common import stack_case as sc
from serverless_wa.rules.lambda_runtimes import RUNTIMES, lifecycle
from tests.policies.harness import crashes, findings_of, plan_of, run_case

LAMBDA_IDS = [f"LAMBDA-{n:03d}" for n in range(1, 24)]


def messages(pack: Any, rule_id: str, case_: Case, **config: Any) -> list[str]:
    rule = REGISTRY[rule_id]
    return [f.message for f in findings_of(run_case(pack, rule, case_, **config), rule)]


def function(**props: Any) -> Case:
    return case(FUNCTION, props)


# Runtime lifecycle data (LAMBDA-004, LAMBDA-005, LAMBDA-017) ---------------------------------


def test_lifecycle_data_covers_every_pulumi_aws_runtime():
    missing = {runtime.value for runtime in aws.lambda_.Runtime} - set(RUNTIMES)
    assert not missing, f"add lifecycle entries for {sorted(missing)}"


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_lifecycle_dates_are_in_order(runtime):
    data = RUNTIMES[runtime]
    assert data.block_create and data.block_update
    assert data.deprecated <= data.block_create <= data.block_update


@pytest.mark.parametrize("rule_id", ["LAMBDA-004", "LAMBDA-005", "LAMBDA-017"])
def test_a_runtime_missing_from_the_lifecycle_data_is_not_flagged_as_deprecated(pack, rule_id):
    """cdk-nag#1528, #1685: a brand-new runtime is not "unsupported"."""
    unknown_runtime = function(runtime="python3.99", architectures=["arm64"])
    for today in ("2026-12-01", "2040-01-01"):
        assert messages(pack, rule_id, unknown_runtime, today=today) == []


def test_deprecated_runtime_message_gives_the_block_dates(pack):
    [message] = messages(pack, "LAMBDA-004", function(runtime="nodejs18.x"))
    assert "deprecated on 2025-09-01" in message
    assert "creation blocked from 2025-10-01" in message and "updates from 2025-11-01" in message


def test_today_can_be_injected(pack):
    python313 = function(runtime="python3.13")
    assert messages(pack, "LAMBDA-004", python313, today="2029-05-01") == []
    (message,) = messages(pack, "LAMBDA-005", python313, today="2029-05-01")
    assert "runtime python3.13 is deprecated on 2029-06-30, in 60 days" in message
    (message,) = messages(pack, "LAMBDA-004", python313, today="2029-06-30")
    assert "runtime python3.13 was deprecated on 2029-06-30" in message
    assert messages(pack, "LAMBDA-005", python313, today="2029-06-30") == []


def test_deprecation_window_follows_warn_days(pack):
    python313 = function(runtime="python3.13")
    assert messages(pack, "LAMBDA-005", python313, today="2029-02-01") == []
    (message,) = messages(pack, "LAMBDA-005", python313, today="2029-02-01", warn_days=180)
    assert "runtime python3.13 is deprecated on 2029-06-30, in 149 days" in message


def test_runtime_overrides_correct_and_add_entries(pack):
    overrides = {
        "python3.13": {"deprecated": "2026-01-01", "block_create": "2026-02-01"},
        "custom.al2023": {"deprecated": "2026-06-30", "arm64": False},
        "python3.12": {"deprecated": "not a date"},
    }
    [corrected] = messages(
        pack, "LAMBDA-004", function(runtime="python3.13"), runtime_overrides=overrides
    )
    assert "deprecated on 2026-01-01" in corrected and "from 2026-02-01" in corrected
    assert "updates from 2029-08-31" in corrected  # the fields not overridden stay
    assert messages(
        pack, "LAMBDA-004", function(runtime="custom.al2023"), runtime_overrides=overrides
    )
    assert (
        messages(pack, "LAMBDA-004", function(runtime="python3.12"), runtime_overrides=overrides)
        == []
    )
    x86 = function(runtime="custom.al2023", architectures=["x86_64"])
    assert messages(pack, "LAMBDA-017", x86, runtime_overrides=overrides) == []
    (message,) = messages(pack, "LAMBDA-017", x86)
    assert "architectures is x86_64, not arm64" in message


def test_lifecycle_lookup_ignores_malformed_overrides():
    assert lifecycle("python3.13", {"python3.13": "2020-01-01"}) == RUNTIMES["python3.13"]
    assert lifecycle("python3.13", ["python3.13"]) == RUNTIMES["python3.13"]
    assert lifecycle("brand-new", {"brand-new": {"arm64": True}}) is None


def test_image_packages_are_not_judged_by_runtime(pack):
    image = function(runtime="python3.8", packageType="Image")
    assert messages(pack, "LAMBDA-004", image) == []


# Section 4 regression cases ---------------------------------------------------------------


def test_zero_reserved_concurrency_fails(pack):
    """checkov#3637: its old remediation text suggested 0."""
    [message] = messages(pack, "LAMBDA-006", function(reservedConcurrentExecutions=0))
    assert message.startswith("[LAMBDA-006]") and "can never run" in message
    assert messages(pack, "LAMBDA-006", function()) == []


def test_secret_sounding_keys_holding_references_pass(pack):
    """checkov#6917, #7310."""
    references = function(
        environment={
            "variables": {
                "DB_PASSWORD": arn("secretsmanager", "secret:db-password"),
                "API_TOKEN": "/app/prod/api-token",
                "CLIENT_SECRET_NAME": "client-secret",
                "SIGNING_KEY_PARAM": "signing-key",
                "OAUTH_CREDENTIAL_ID": "cred-1",
            }
        }
    )
    assert messages(pack, "LAMBDA-008", references) == []


def test_plaintext_secrets_are_reported_per_key_and_exemptible_per_key(pack):
    plaintext = function(environment={"variables": {"DB_PASSWORD": "x", "API_KEY": "y"}})
    assert len(messages(pack, "LAMBDA-008", plaintext)) == 2
    exemption = {"match": "subject", "reason": "rotating the secret", "expires": "2099-01-01"}
    remaining = messages(
        pack, "LAMBDA-008", plaintext, exemptions=[{**exemption, "detail": "DB_PASSWORD"}]
    )
    assert len(remaining) == 1 and "API_KEY" in remaining[0]


def test_unknown_environment_values_are_skipped(pack):
    mixed = function(environment={"variables": {"DB_PASSWORD": gate.UNKNOWN, "TOKEN": "plain"}})
    [message] = messages(pack, "LAMBDA-008", mixed)
    assert "TOKEN" in message and "DB_PASSWORD" not in message


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_a_function_without_a_vpc_passes_by_default(pack, profile):
    """checkov#1794, #5894: LAMBDA-021 is off in every profile."""
    report = gate.run(plan_of(function()), profile=gate.profile_for(profile), stub=pack)
    assert findings_of(report, REGISTRY["LAMBDA-021"]) == []
    assert report.policies["lambda-in-vpc"].enforcementLevel == gate.analyzer_pb2.DISABLED


def log_group(name: str, retention: int, **props: Any) -> Resource:
    return Resource(LOG_GROUP, "custom-logs", {"name": name, "retentionInDays": retention, **props})


def logging_function(group: Any, linked: bool) -> Resource:
    return Resource(
        FUNCTION,
        "worker",
        {"name": "worker", "loggingConfig": {"logFormat": "JSON", "logGroup": group}},
        depends={"loggingConfig": ("custom-logs",)} if linked else {},
    )


@pytest.mark.parametrize("linked", [True, False], ids=["preview shape", "fallback shape"])
def test_function_logging_to_a_custom_group_by_reference_passes(pack, linked):
    """serverless-rules#190, cfn-lint#3103."""
    stack = sc(
        log_group("platform/worker", 30), logging_function("platform/worker", linked), subject="x"
    )
    assert messages(pack, "LAMBDA-012", stack) == []


def test_custom_group_resolves_through_dependencies_while_its_name_is_unknown(pack):
    retained = sc(log_group(gate.UNKNOWN, 30), logging_function(gate.UNKNOWN, True), subject="x")
    assert messages(pack, "LAMBDA-012", retained) == []
    never = sc(log_group(gate.UNKNOWN, 0), logging_function(gate.UNKNOWN, True), subject="x")
    [message] = messages(pack, "LAMBDA-012", never)
    assert "never expires" in message


def test_custom_group_missing_from_the_stack_is_reported(pack):
    stack = sc(log_group("other", 30), logging_function("platform/worker", False), subject="x")
    [message] = messages(pack, "LAMBDA-012", stack)
    assert 'no LogGroup "platform/worker"' in message


def mapping(source: Resource, **props: Any) -> Case:
    return sc(
        source,
        Resource(FUNCTION, "worker", {"name": "worker"}),
        Resource(
            ESM,
            "mapping",
            props,
            depends={"eventSourceArn": (source.name,), "functionName": ("worker",)},
        ),
        subject="mapping",
    )


def test_sqs_mapping_without_destination_config_passes(pack):
    """aws-cdk#19917: SQS mappings do not support destinationConfig."""
    jobs = Resource(QUEUE, "jobs", {"arn": arn("sqs", "jobs")})
    assert messages(pack, "LAMBDA-014", mapping(jobs)) == []
    assert messages(pack, "LAMBDA-015", mapping(jobs)) == []


def test_mapping_of_unknown_source_kind_is_skipped(pack):
    bucket = Resource("aws:s3/bucket:Bucket", "bucket", {})
    for rule_id in ("LAMBDA-014", "LAMBDA-015", "LAMBDA-016"):
        assert messages(pack, rule_id, mapping(bucket)) == []


def test_self_managed_kafka_mapping_needs_an_on_failure_destination(pack):
    kafka = sc(
        Resource(
            ESM,
            "mapping",
            {"selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": "b:9092"}}},
        ),
        subject="mapping",
    )
    [message] = messages(pack, "LAMBDA-014", kafka)
    assert "kafka mapping" in message


def test_one_principal_granted_twice_is_a_single_principal(pack):
    grants = [
        Resource(
            PERMISSION,
            f"invoke-{n}",
            {"action": "lambda:InvokeFunction", "principal": principal},
            depends={"function": ("worker",)},
        )
        for n, principal in enumerate(
            ["events.amazonaws.com", "events.amazonaws.com", gate.UNKNOWN]
        )
    ]
    stack = sc(Resource(FUNCTION, "worker", {"name": "worker"}), *grants, subject="worker")
    assert messages(pack, "LAMBDA-013", stack) == []


# Odd props never abort a rule ---------------------------------------------------------------

ODD_FUNCTIONS = [
    {
        "memorySize": "big",
        "timeout": None,
        "runtime": 3.13,
        "packageType": ["Zip"],
        "reservedConcurrentExecutions": True,
        "loggingConfig": ["JSON"],
        "environment": {"variables": ["DB_PASSWORD"]},
        "architectures": "arm64",
        "description": 5,
        "deadLetterConfig": "dlq",
        "vpcConfig": {"subnetIds": "subnet-1"},
        "kmsKeyArn": 7,
        "codeSigningConfigArn": [],
        "name": ["worker"],
    },
    {
        "environment": "DB_PASSWORD=x",
        "loggingConfig": {"logFormat": 1, "logGroup": {"name": "g"}},
        "tracingConfig": "Active",
        "vpcConfig": [],
        "architectures": [None, 5],
    },
]
ODD_STACK = sc(
    Resource(FUNCTION, "worker", ODD_FUNCTIONS[0]),
    Resource(LOG_GROUP, "logs", {"name": 5, "retentionInDays": "forever"}),
    Resource(PERMISSION, "grant", {"function": ["worker"], "principal": {"AWS": "*"}}),
    Resource(
        "aws:lambda/resourcePolicy:ResourcePolicy",
        "policy",
        {"resourceArn": 1, "policy": '{"Statement": "not a list"'},
    ),
    Resource(
        ESM,
        "mapping",
        {
            "eventSourceArn": arn("kinesis", "stream/s"),
            "destinationConfig": "dlq",
            "batchSize": "10",
            "functionResponseTypes": "ReportBatchItemFailures",
            "maximumRetryAttempts": "3",
            "bisectBatchOnFunctionError": "yes",
        },
    ),
    subject="worker",
)


def all_of(rules: list[Rule]) -> dict[str, Any]:
    profile: dict[str, Any] = {r.name: {"enforcementLevel": "disabled"} for r in REGISTRY.values()}
    profile.update({r.name: {"enforcementLevel": "mandatory"} for r in rules})
    return profile


@pytest.mark.parametrize(
    "case_",
    [function(**props) for props in ODD_FUNCTIONS] + [ODD_STACK],
    ids=["odd function 1", "odd function 2", "odd stack"],
)
def test_odd_props_never_abort_a_lambda_rule(pack, case_):
    rules = [REGISTRY[i] for i in LAMBDA_IDS]
    report = gate.run(plan_of(case_), profile=all_of(rules), stub=pack)
    assert crashes(report) == []
    assert all("\n" not in f.message for f in report.findings)


def test_deprecation_window_example_is_inside_its_window_today():
    """The LAMBDA-005 example is a fixed date (its generated page must not change from day
    to day) inside its own window: python3.12 deprecated after today, within warn_days."""
    [example] = REGISTRY["LAMBDA-005"].examples.non_compliant
    date = example.config["runtime_overrides"]["python3.12"]["deprecated"]
    left = (dt.date.fromisoformat(date) - dt.date.today()).days
    assert 0 < left <= example.config["warn_days"]
