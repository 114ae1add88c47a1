"""Every committed stack builds offline; the preview CLI prints, writes and fails as documented."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.catalog import CATALOG
from components.config import ConfigError
from preview import engine

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("*.yaml"))
PATTERN = "serverless-patterns:patterns:"


def components_of(plan: engine.Plan) -> set[str]:
    """The patterns the stack chose (top-level; a pattern may compose others inside it)."""
    return {
        r.name
        for r in plan.registrations
        if r.type.startswith(PATTERN) and r.parent == plan.stack_urn
    }


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_builds(stack):
    plan = engine.run_main(stack)
    chosen = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"][
        "serverless-patterns:patterns"
    ]
    assert components_of(plan) == set(chosen)
    assert all(r.parent for r in plan.registrations)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dev_and_prod_deploy_every_pattern(stack):
    assert components_of(engine.run_main(stack)) == set(CATALOG)


@pytest.mark.parametrize("slug", sorted(CATALOG))
def test_each_pattern_has_its_own_stack(slug):
    assert components_of(engine.run_main(slug)) == {slug}


def test_prod_uses_production_settings():
    plan = engine.run_main("prod")
    tables = plan.of_type("aws:dynamodb/table:Table")
    assert tables and all(
        t.inputs["deletionProtectionEnabled"] or t.inputs["tags"].get("wa:data") == "ephemeral"
        for t in tables
    )
    groups = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {365}
    assert plan.of_type("aws:apigateway/account:Account")


# Names AWS keeps unique per account and Region: two instances must never share one.
UNIQUE_NAMES = {
    "aws:lambda/function:Function": "name",
    "aws:sqs/queue:Queue": "name",
    "aws:dynamodb/table:Table": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:iam/role:Role": "name",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:apigateway/restApi:RestApi": "name",
}


def test_two_instances_of_a_pattern_and_two_stream_readers_share_nothing():
    plan = engine.run_main("multi-instance")
    assert components_of(plan) == {"orders-hook", "billing-hook", "orders-archive", "audit-archive"}
    for token, key in UNIQUE_NAMES.items():
        names = [r.inputs[key] for r in plan.of_type(token) if key in r.inputs]
        assert len(names) == len(set(names)), token
    functions = {r.name: r.inputs for r in plan.of_type("aws:lambda/function:Function")}
    assert functions["orders-hook-consumer"]["reservedConcurrentExecutions"] == 3
    assert functions["billing-hook-consumer"]["reservedConcurrentExecutions"] == 2
    # Each archive reads the stream of its own table.
    tables = {r.name: r for r in plan.of_type("aws:dynamodb/table:Table")}
    mappings = {
        r.name: r.inputs["eventSourceArn"]
        for r in plan.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if r.name.endswith("archive-archiver-mapping")
    }
    assert mappings == {
        f"{archive}-archiver-mapping": tables[f"{archive}-source"].outputs["streamArn"]
        for archive in ("orders-archive", "audit-archive")
    }
    assert set(plan.outputs) >= {"orders-hook", "billing-hook", "orders-archive", "audit-archive"}


def test_bad_config_stops_before_any_resource(build):
    def program():
        with pytest.raises(ConfigError, match="unknown pattern 'nope'"):
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    plan = build(program, config={"serverless-patterns:patterns": json.dumps({"nope": {}})})
    assert plan.registrations == []


def preview_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_cli_prints_the_plan_and_writes_json_and_diagram(tmp_path):
    out, diagram = tmp_path / "dev.json", tmp_path / "dev.mmd"
    run = preview_cli("--stack", "dev", "--json", str(out), "--diagram", str(diagram))
    assert run.returncode == 0, run.stderr
    assert "Previewing update (dev):" in run.stdout
    assert "serverless-patterns:patterns:ScalableWebhook" in run.stdout
    assert "aws:lambda:Function" in run.stdout
    document = json.loads(out.read_text())
    assert document["stack"] == "dev" and document["project"] == "serverless-patterns"
    count = len(document["resources"]) + 1  # the stack itself
    assert f"+ {count} to create" in run.stdout
    first = document["resources"][0]
    assert set(first) == {
        "urn", "type", "name", "parent", "inputs", "dependencies", "propertyDependencies",
        "custom", "id", "outputs",
    }  # fmt: skip
    # The webhook's SQS mapping by name: registration order across patterns is not fixed, and
    # stream mappings depend on their on-failure queue as well.
    mapping = next(
        r
        for r in document["resources"]
        if r["type"].endswith("eventSourceMapping:EventSourceMapping")
        and r["name"] == "scalable-webhook-consumer-mapping"
    )
    assert set(mapping["propertyDependencies"]) == {"eventSourceArn", "functionName"}
    text = diagram.read_text()
    assert text.startswith("flowchart LR") and "subgraph" in text and "-->|eventSourceArn|" in text


def test_cli_config_error_exits_2_with_one_clear_message(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        "config:\n  serverless-patterns:patterns:\n    scalable-webhok: {}\n"
        "    scalable-webhook: {consumer_concurrency: zero}\n"
    )
    run = preview_cli("--stack-file", str(bad))
    assert run.returncode == 2
    assert "unknown pattern 'scalable-webhok' (did you mean 'scalable-webhook'?)" in run.stderr
    assert "consumer_concurrency: must be an integer (got 'zero')" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_cli_unknown_stack_exits_2():
    run = preview_cli("--stack", "nope")
    assert run.returncode == 2 and "no stack file" in run.stderr
    assert {"dev", "prod"} <= set(run.stderr.split("stacks: ", 1)[1].strip().split(", "))
