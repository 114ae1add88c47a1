"""The gate's two paths to the pack give the same findings.

The offline gate loads the pack into its own process (`gate.in_process_pack`); the engine
starts it as a process and talks gRPC (`gate.policy_pack`). Both get the same requests, so
every finding (rule id, URN, level, severity, message, rule page), every not-applicable
entry and the pack's announced policies must be the same on the dev, prod and bad stacks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from preview import engine, gate
from tests.e2e.programs import bad_stack

PROD = gate.profile_for("prod")


@pytest.fixture(scope="module")
def process_pack() -> Iterator[Any]:
    with gate.policy_pack() as stub:
        yield stub


def _plans() -> dict[str, engine.Plan]:
    bad = {"aws:region": "eu-west-1"}
    return {
        "dev": engine.run_main("dev"),
        "prod": engine.run_main("prod"),
        "bad": engine.run(bad_stack.program, stack="bad", config=bad),
        "bad-exempt": engine.run(lambda: bad_stack.program(exempt=True), stack="bad", config=bad),
    }


@pytest.fixture(scope="module")
def plans() -> dict[str, engine.Plan]:
    return _plans()


def _seen(report: gate.Report) -> dict[str, Any]:
    return {
        "pack": (report.pack, report.version),
        "policies": {name: MessageToDict(info) for name, info in report.policies.items()},
        "findings": [f.to_json() | {"raw": f.message} for f in report.findings],
        "not_applicable": report.not_applicable,
    }


@pytest.mark.parametrize("stack", ["dev", "prod", "bad", "bad-exempt"])
@pytest.mark.parametrize("profile", ["prod", "own"])
def test_in_process_and_grpc_give_the_same_findings(plans, process_pack, stack, profile):
    plan = plans[stack]
    chosen = PROD if profile == "prod" else gate.profile_for(plan.stack)
    over_grpc = gate.run(plan, profile=chosen, stub=process_pack)
    in_process = gate.run(plan, profile=chosen, stub=gate.in_process_pack())
    assert _seen(in_process) == _seen(over_grpc)
    if stack == "bad" and profile == "prod":  # the comparison covers mandatory findings
        assert in_process.mandatory


@pytest.mark.parametrize("stack", ["dev", "bad"])
def test_both_paths_agree_with_unknown_outputs(process_pack, stack):
    if stack == "dev":
        plan = engine.run_main("dev", preview=True)
    else:
        plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    over_grpc = gate.run(plan, profile=PROD, preview=True, stub=process_pack)
    in_process = gate.run(plan, profile=PROD, preview=True, stub=gate.in_process_pack())
    assert _seen(in_process) == _seen(over_grpc)
    assert in_process.findings


def test_the_gate_runs_the_pack_in_process_unless_told_otherwise(plans, monkeypatch):
    started: list[str] = []
    real = gate.policy_pack

    def counting() -> Any:
        started.append("process")
        return real()

    monkeypatch.setattr(gate, "policy_pack", counting)
    monkeypatch.delenv(gate.PACK_PROCESS_ENV, raising=False)
    quick = gate.run(plans["bad"], profile=PROD)
    assert started == []
    monkeypatch.setenv(gate.PACK_PROCESS_ENV, "1")
    started_too = gate.run(plans["bad"], profile=PROD)
    assert started == ["process"]
    assert _seen(quick) == _seen(started_too)


def test_the_pack_is_loaded_once_and_configured_per_run(plans):
    pack = gate.in_process_pack()
    assert gate.in_process_pack() is pack
    strict = gate.run(plans["bad"], profile=PROD, stub=pack)
    relaxed = gate.run(plans["bad"], profile=gate.profile_for("dev"), stub=pack)
    assert strict.mandatory and not relaxed.mandatory
    assert {f.id for f in strict.findings} == {f.id for f in relaxed.findings}


def _streamed(plan: engine.Plan, profile: Any, preview: bool = False) -> gate.Report:
    with gate.StreamedGate(plan.stack, plan.project, profile, preview) as streaming:
        for registration in plan.registrations:
            streaming.send(registration)
        report = streaming.finish()
    assert report is not None
    return report


@pytest.mark.parametrize("stack", ["dev", "prod", "bad", "bad-exempt"])
def test_the_gate_streamed_beside_the_run_gives_the_same_findings(plans, stack):
    """The CLI's gate (`gate.streamed`: a forked child fed each registration as it is made)
    sends the same requests as `gate.run` after the run."""
    plan = plans[stack]
    for profile in (PROD, gate.profile_for(plan.stack)):
        after = gate.run(plan, profile=profile, stub=gate.in_process_pack())
        assert _seen(_streamed(plan, profile)) == _seen(after)


@pytest.mark.parametrize("stack", ["dev", "bad"])
def test_the_streamed_gate_masks_computed_outputs_the_same(stack):
    if stack == "dev":
        plan = engine.run_main("dev", preview=True)
    else:
        plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    after = gate.run(plan, profile=PROD, preview=True, stub=gate.in_process_pack())
    assert _seen(_streamed(plan, PROD, preview=True)) == _seen(after)
    assert after.findings


def test_the_streamed_gate_refuses_a_bad_profile_as_the_gate_does(plans):
    profile = {"lambda-tracing-active": {"exemptions": [{"match": "x", "reason": "short"}]}}
    with pytest.raises(gate.ProfileError) as after:
        gate.run(plans["bad"], profile=profile)
    with pytest.raises(gate.ProfileError) as streamed:
        _streamed(plans["bad"], profile)
    assert str(streamed.value) == str(after.value)
    assert "lambda-tracing-active: exemptions[0]" in str(after.value)


def test_a_failing_streamed_gate_is_an_error_with_its_traceback(plans, monkeypatch):
    def broken(*_: Any) -> Any:
        raise OSError("the pack is not there")

    monkeypatch.setattr(gate, "in_process_pack", broken)  # the child inherits it
    with pytest.raises(RuntimeError, match=r"(?s)the policy gate failed:.*the pack is not there"):
        _streamed(plans["bad"], PROD)


def test_a_value_that_does_not_pickle_leaves_the_gate_to_run_after(plans):
    registration = plans["bad"].registrations[0]
    odd = dataclasses.replace(registration, inputs={**registration.inputs, "odd": lambda: None})
    with gate.StreamedGate("bad", "serverless-patterns", PROD, False) as streaming:
        streaming.send(registration)
        streaming.send(odd)
        pid = streaming._pid
        assert streaming.finish() is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_streamed_gate_left_early_leaves_no_process(plans):
    with gate.StreamedGate("bad", "serverless-patterns", PROD, False) as streaming:
        streaming.send(plans["bad"].registrations[0])
        pid = streaming._pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_cli_streams_unless_the_pack_is_a_process(monkeypatch):
    monkeypatch.delenv(gate.PACK_PROCESS_ENV, raising=False)
    streaming = gate.streamed("bad", "serverless-patterns", PROD, False)
    assert streaming is not None
    with streaming:
        pass
    monkeypatch.setenv(gate.PACK_PROCESS_ENV, "1")
    assert gate.streamed("bad", "serverless-patterns", PROD, False) is None
