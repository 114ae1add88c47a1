"""The gate benchmark's inputs: whole copies with their own ids, and a CloudFormation template
with the same resources, their properties and real references, that cfn-lint accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import gate_inputs
from preview import engine

CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


@pytest.fixture(scope="module")
def two_copies() -> engine.Plan:
    return gate_inputs.build(2)


def test_every_copy_has_its_own_names_and_physical_ids(two_copies):
    apis = two_copies.of_type("aws:apigateway/restApi:RestApi")
    assert len(apis) == 4 and len({r.id for r in apis}) == 4  # a webhook's and a saga's, twice
    custom = [r for r in two_copies.registrations if r.custom]
    ids = Counter((r.type, r.id) for r in custom)
    assert [key for key, count in ids.items() if count > 1] == []
    arns = Counter(r.outputs.get("arn") for r in custom if r.outputs.get("arn"))
    assert [arn for arn, count in arns.items() if count > 1] == []
    for suffix, _ in gate_inputs.COPY:
        assert {f"c0-{suffix}", f"c1-{suffix}"} <= {r.name for r in two_copies.registrations}


def test_stacks_are_cut_at_whole_copies():
    one = len(gate_inputs.build(1).registrations)
    two = len(gate_inputs.build(2).registrations)
    per_copy, shared = two - one, 2 * one - two
    assert per_copy > 50 and shared >= 0
    copies = gate_inputs.copies_for(10 * per_copy + shared + 3)
    assert copies == 10
    assert gate_inputs.copies_for(1) == 1


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_template_holds_every_resource_with_its_properties(two_copies):
    converter = gate_inputs.Converter(two_copies)
    template = converter.template()
    assert converter.unsupported == Counter() and converter.unmapped == Counter()
    resources = template["Resources"]
    own = [r for r in two_copies.registrations if r.custom and r.type in gate_inputs.CFN_TYPES]
    assert len(resources) == len(own)
    assert all(body.get("Properties") for body in resources.values())
    folded = [r for r in two_copies.registrations if r.type in gate_inputs.FOLDED]
    assert all(converter.logical[r.urn] in resources for r in folded)
    kinds = {body["Type"] for body in resources.values()}
    assert {
        "AWS::ApiGateway::Method",
        "AWS::StepFunctions::StateMachine",
        "AWS::S3::Bucket",
    } <= kinds


def test_references_are_intrinsic_functions_not_strings(two_copies):
    template = gate_inputs.template(two_copies)
    queue = next(b for b in template["Resources"].values() if b["Properties"].get("RedrivePolicy"))
    target = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    assert set(target) == {"Fn::GetAtt"} and target["Fn::GetAtt"][1] == "Arn"
    # No property holds another resource's ARN or URL as a plain string, except the dead-letter
    # queues' RedriveAllowPolicy, whose reference would make a cycle.
    computed = {
        value
        for r in two_copies.registrations
        if r.custom
        for key, value in r.outputs.items()
        if key in ("arn", "url", "invokeArn", "streamArn") and isinstance(value, str)
    }
    plain = []
    for logical, body in template["Resources"].items():
        properties = {k: v for k, v in body["Properties"].items() if k != "RedriveAllowPolicy"}
        plain += [(logical, s) for s in _strings(properties) if any(c in s for c in computed)]
    assert plain == []


def test_cfn_lint_finds_no_schema_error_in_the_template(two_copies, tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(gate_inputs.template(two_copies), sort_keys=False))
    linted = subprocess.run([CFN_LINT, str(path)], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout[-3000:]


def test_cli_writes_the_plan_and_the_template(tmp_path, capsys):
    assert gate_inputs.main(["--size", "100", "--out", str(tmp_path)]) == 0
    plan = engine.load_plan(tmp_path / "plan-100.json")
    template = yaml.safe_load((tmp_path / "template-100.yaml").read_text())
    assert len(plan.registrations) > 50 and template["Resources"]
    assert plan.registrations == sorted(plan.registrations, key=lambda r: r.urn)
    assert all(r.outputs and r.id for r in plan.registrations if r.custom)
    first = json.loads((tmp_path / "plan-100.json").read_text())["resources"][0]
    assert {"outputs", "id", "custom", "propertyDependencies"} <= set(first)
    assert f"{len(plan.registrations)} resources" in capsys.readouterr().out
