"""The gate's two paths to the pack give the same findings.

The offline gate loads the pack into its own process (`gate.in_process_pack`); the engine
starts it as a process and talks gRPC (`gate.policy_pack`). Both get the same requests, so
every finding (rule id, URN, level, severity, message, rule page), every not-applicable
entry and the pack's announced policies must be the same on the dev, prod and bad stacks.
"""

from __future__ import annotations

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
