"""`python -m preview --plan FILE`: a saved plan gates exactly as the live run it came from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preview import engine, gate
from tests.e2e.programs import bad_stack

ROOT = Path(__file__).resolve().parents[2]


def preview_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_gating_the_saved_dev_plan_gives_the_live_findings(tmp_path):
    live, saved = tmp_path / "live.json", tmp_path / "saved.json"
    ran = preview_cli("--stack", "dev", "--json", str(live))
    assert ran.returncode == 0, ran.stderr
    gated = preview_cli("--plan", str(live), "--json", str(saved))
    assert gated.returncode == 0, gated.stderr
    before, after = json.loads(live.read_text()), json.loads(saved.read_text())
    assert before["findings"] and after["findings"] == before["findings"]
    assert after["policy_summary"] == before["policy_summary"]
    assert after == before  # the plan survives the round trip, byte for byte
    assert "profile dev" in gated.stdout  # the plan's stack profile, as the live run had it
    assert "Gating plan" in gated.stdout and "Previewing update" not in gated.stdout


def test_a_saved_plan_with_mandatory_findings_fails_like_the_live_run(tmp_path):
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    live = gate.run(plan, profile=gate.profile_for("prod"))
    assert live.mandatory
    path, out, sarif = tmp_path / "bad.json", tmp_path / "out.json", tmp_path / "bad.sarif"
    path.write_text(json.dumps(plan.to_json()))
    gated = preview_cli(
        "--plan", str(path), "--profile", "prod", "--json", str(out), "--sarif", str(sarif)
    )
    assert gated.returncode == 1, gated.stderr
    assert json.loads(out.read_text())["findings"] == [f.to_json() for f in live.findings]
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        str(path)
    }


def test_quiet_prints_only_the_summary_line(tmp_path):
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(plan.to_json()))
    gated = preview_cli("--plan", str(path), "--profile", "prod", "--quiet")
    assert gated.returncode == 1
    assert gated.stdout.splitlines() == [
        line for line in gated.stdout.splitlines() if line.startswith("Policy summary: ")
    ]
    assert len(gated.stdout.splitlines()) == 1 and " mandatory" in gated.stdout


def test_plan_round_trips_through_its_json():
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    loaded = engine.Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert (loaded.project, loaded.stack, loaded.stack_urn) == (
        plan.project,
        plan.stack,
        plan.stack_urn,
    )
    assert [r.to_json() for r in loaded.registrations] == [
        json.loads(json.dumps(r.to_json())) for r in plan.registrations
    ]
    assert [r.custom for r in loaded.registrations] == [r.custom for r in plan.registrations]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "No such file"),
        ("{not json", "Expecting property name"),
        ("[]", "expected a JSON object"),
        ('{"project": "p", "stack": "s"}', "not a plan: no resources"),
        ('{"project": "p", "stack": "s", "resources": [{"urn": "u"}]}', "resource u: no type"),
        (
            '{"project": "p", "stack": "s", "resources": '
            '[{"urn": "u", "type": "t", "name": "n", "inputs": []}]}',
            "resource u: inputs must be a JSON object",
        ),
    ],
)
def test_an_unreadable_plan_exits_2_with_one_clear_message(tmp_path, content, says):
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    gated = preview_cli("--plan", str(path))
    assert gated.returncode == 2
    assert gated.stderr.startswith(f"error: plan {path}: ") and says in gated.stderr
    assert "Traceback" not in gated.stderr and gated.stdout == ""


def test_plan_takes_no_stack():
    gated = preview_cli("--plan", "x.json", "--stack", "dev")
    assert gated.returncode == 2 and "--plan gates a saved plan" in gated.stderr
