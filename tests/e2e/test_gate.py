"""The offline gate end to end: our stacks pass, a deliberately bad stack fails exactly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy.policy import EnforcementLevel

from preview import engine, gate
from serverless_wa import server
from serverless_wa.pack import PACK_NAME, policy
from serverless_wa.registry import REGISTRY, rules
from tests.e2e.programs import bad_stack
from tests.policies.harness import crashes

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("*.yaml"))
PROD = gate.profile_for("prod")
# The rules the bad stack breaks, each on purpose; mandatory under the prod profile.
BAD_STACK_MANDATORY = {"EVENTS-001", "IAM-001", "LAMBDA-001", "STACK-001"}


@pytest.fixture(scope="module")
def pack():
    with gate.policy_pack() as stub:
        yield stub


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_has_no_mandatory_finding_under_its_profile_and_prod(pack, stack):
    plan = engine.run_main(stack)
    for profile in (gate.profile_for(stack), PROD):
        report = gate.run(plan, profile=profile, stub=pack)
        assert report.mandatory == [], gate.render(plan, report)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_with_unknown_outputs_stays_clean(pack, stack):
    plan = engine.run_main(stack, preview=True)
    report = gate.run(plan, profile=PROD, preview=True, stub=pack)
    assert report.mandatory == [], gate.render(plan, report)
    assert not [f for f in report.findings if "during preview" in f.message]
    assert crashes(report) == []


def test_bad_stack_fails_with_exactly_the_expected_rules(pack):
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    report = gate.run(plan, profile=PROD, stub=pack)
    assert {f.id for f in report.mandatory} == BAD_STACK_MANDATORY, gate.render(plan, report)
    by_id = {f.id: f for f in report.mandatory}
    assert by_id["LAMBDA-001"].urn.endswith("::passthrough")
    assert by_id["STACK-001"].urn.endswith("::consumer")
    assert by_id["EVENTS-001"].urn.endswith("::orders-target")
    assert by_id["IAM-001"].urn.endswith("::admin-policy")


def test_bad_stack_with_exemptions_passes_and_reports_them(pack):
    plan = engine.run(
        lambda: bad_stack.program(exempt=True), stack="bad", config={"aws:region": "eu-west-1"}
    )
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    profile = json.loads(json.dumps(PROD))
    # Event targets and role policies carry no tags: their exemptions come from config.
    for name, match in (
        ("eventbridge-target-dlq", "orders-target"),
        ("iam-no-wildcard-actions", "admin-policy"),
    ):
        profile[name]["exemptions"] = [
            {"match": f"^{match}$", "reason": "bad-stack test", "expires": until}
        ]
    report = gate.run(plan, profile=profile, stub=pack)
    assert report.mandatory == [], gate.render(plan, report)
    exempted = {policy for policy, _, why in report.not_applicable if why.startswith("exempt")}
    assert {
        "lambda-tracing-active",
        "throttled-consumer-reserved-concurrency",
        "eventbridge-target-dlq",
        "iam-no-wildcard-actions",
    } <= exempted
    assert "exempted" in gate.render(plan, report)


def test_cli_writes_findings_and_sarif(tmp_path):
    out, sarif = tmp_path / "dev.json", tmp_path / "dev.sarif"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            "--stack",
            "dev",
            "--json",
            str(out),
            "--sarif",
            str(sarif),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Policy summary: 0 mandatory" in run.stdout
    document = json.loads(out.read_text())
    assert isinstance(document["findings"], list)
    for finding in document["findings"]:
        assert set(finding) == {
            "policy", "id", "urn", "enforcement", "severity", "message", "help"
        }  # fmt: skip
        assert finding["help"] == f"docs/rules/{finding['id']}.md"
    pages = sorted({f"docs/rules/{f['id']}.md" for f in document["findings"]})
    assert f"    rule pages: {', '.join(pages)}" in run.stdout.splitlines()
    log = json.loads(sarif.read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["tool"]["driver"]["rules"]
    assert len(log["runs"][0]["results"]) == len(document["findings"])


def test_reported_pack_version_is_pulumipolicy_yaml_version(pack):
    version = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["version"]
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    report = gate.run(plan, profile=PROD, stub=pack)
    assert report.version == str(version)
    assert gate.render(plan, report).startswith(f"Policies ({report.pack}@v{version}")


RAW_FIX = "(pulumi_aws; not made by a serverless-patterns component)"


def test_fix_for_resources_outside_the_library_is_the_raw_property(pack):
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    report = gate.run(plan, profile=PROD, stub=pack)
    assert report.findings
    for finding in report.findings:
        if finding.urn:
            assert finding.text.endswith(RAW_FIX), finding.text
            assert "(raw:" not in finding.text
    tracing = next(f for f in report.mandatory if f.id == "LAMBDA-001")
    assert tracing.text.endswith(f"Fix: tracing_config.mode='Active' {RAW_FIX}")
    assert tracing.to_json()["message"] == tracing.text


def test_fix_for_library_resources_names_the_component_argument(pack):
    plan = engine.run_main("scalable-webhook")
    report = gate.run(plan, profile=PROD, stub=pack)
    by_id = {f.id: f for f in report.findings}
    # The table has no deletion protection outside prod: the stack setting turns it on.
    assert by_id["DDB-003"].text.endswith("Fix: environment='prod'")
    for finding in report.findings:
        assert gate.from_library(finding.urn)
        assert "(raw:" not in finding.text and RAW_FIX not in finding.text
        assert finding.text in gate.render(plan, report)


# Fail closed: malformed config is refused, crashed rules are counted -----------------------

UNTIL = (dt.date.today() + dt.timedelta(days=30)).isoformat()
GOOD_EXEMPTION = {"match": "^worker$", "reason": "migrating next sprint", "expires": UNTIL}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({**GOOD_EXEMPTION, "reason": "later"}, "exemptions[0].reason: 'later' is shorter than 10"),
        ({**GOOD_EXEMPTION, "expires": "2026-1-1"}, "exemptions[0].expires: '2026-1-1' does not"),
        (
            {"match": "^worker$", "reason": "migrating next sprint"},
            "exemptions[0]: 'expires' is a required property",
        ),
        (
            {**GOOD_EXEMPTION, "reson": "typo"},
            "exemptions[0]: Additional properties are not allowed ('reson' was unexpected)",
        ),
        ("^worker$", "exemptions[0]: '^worker$' is not of type 'object'"),
    ],
    ids=["short-reason", "bad-date", "no-expiry", "unknown-key", "not-an-object"],
)
def test_profile_config_the_packs_schema_refuses_stops_the_gate(pack, entry, problem):
    profile = {"lambda-tracing-active": {"enforcementLevel": "mandatory", "exemptions": [entry]}}
    empty = engine.Plan("p", "s", [], {}, None)
    with pytest.raises(gate.ProfileError) as refused:
        gate.run(empty, profile=profile, stub=pack)
    assert f"lambda-tracing-active: {problem}" in str(refused.value)


def test_profile_config_the_schema_accepts_is_sent_to_the_pack(pack):
    profile = {"lambda-tracing-active": {"exemptions": [GOOD_EXEMPTION]}}
    report = gate.run(engine.Plan("p", "s", [], {}, None), profile=profile, stub=pack)
    assert report.findings == []


@contextmanager
def _serving(policies: list[Any]) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack's servicer with only `policies`, in process, over gRPC like the real pack."""
    level = EnforcementLevel.ADVISORY
    servicer = server.FastAnalyzerServicer(PACK_NAME, "0.0.1", policies, level, {})
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        channel.close()
        grpc_server.stop(None)


def _raises(*_: Any) -> Any:
    raise KeyError("boom")


def test_rules_that_raise_are_counted_in_the_summary_and_the_json():
    rules()
    broken = [
        policy(dataclasses.replace(REGISTRY[rule_id], check=_raises))
        for rule_id in ("LAMBDA-001", "STACK-001")
    ]
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    functions = len(plan.of_type("aws:lambda/function:Function"))
    with _serving(broken) as stub:
        report = gate.run(plan, stub=stub)
    assert len(report.crashed) == functions + 1  # each function, and the stack once
    assert report.summary()["could_not_evaluate"] == functions + 1
    text = gate.render(plan, report)
    assert f"advisory, 0 exempted, {functions + 1} could not evaluate; 2 policies" in text
    assert "    could not evaluate LAMBDA-001 (lambda-tracing-active) on " in text
    assert (
        "    could not evaluate STACK-001 (throttled-consumer-reserved-concurrency) on stack"
        in (text)
    )


def test_cli_json_carries_the_policy_summary(tmp_path):
    out = tmp_path / "plan.json"
    run = subprocess.run(
        [sys.executable, "-m", "preview", "--stack", "scalable-webhook", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    document = json.loads(out.read_text())
    summary = document["policy_summary"]
    assert set(summary) == {"mandatory", "advisory", "exempted", "could_not_evaluate", "policies"}
    assert summary["mandatory"] + summary["advisory"] == len(document["findings"])
    assert summary["could_not_evaluate"] == 0
    assert (
        f"Policy summary: {summary['mandatory']} mandatory, {summary['advisory']} advisory, "
        f"{summary['exempted']} exempted, 0 could not evaluate; {summary['policies']} policies"
    ) in run.stdout
