"""A rule that raises fails closed: a violation of that rule at its enforcement level, through
the same analyzer servicer the pack serves, never a silent "not applicable"."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.policy import EnforcementLevel

from preview import engine, gate
from serverless_wa import server
from serverless_wa.pack import PACK_NAME, policy
from serverless_wa.registry import REGISTRY, Rule, rules
from tests.e2e.programs import bad_stack

LEVELS = {
    EnforcementLevel.MANDATORY: analyzer_pb2.MANDATORY,
    EnforcementLevel.ADVISORY: analyzer_pb2.ADVISORY,
}


rules()  # registers every rule


def _raises(*_: Any) -> Any:
    raise KeyError("boom")


def _servicer(rule: Rule, level: EnforcementLevel) -> server.FastAnalyzerServicer:
    broken = dataclasses.replace(rule, check=_raises)
    return server.FastAnalyzerServicer(PACK_NAME, "0.0.1", [policy(broken)], level, {})


@pytest.fixture(scope="module")
def plan() -> engine.Plan:
    return engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})


@pytest.mark.parametrize("level", [EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY])
def test_a_resource_rule_that_raises_is_a_violation_per_resource(plan, level):
    rule = REGISTRY["LAMBDA-001"]
    servicer = _servicer(rule, level)
    requests, _ = gate.analyze_requests(plan)
    functions = [r for r in requests if r.type == "aws:lambda/function:Function"]
    assert functions
    for request in functions:
        response = servicer.Analyze(request, None)
        (diagnostic,) = response.diagnostics
        assert diagnostic.policyName == rule.name
        assert diagnostic.urn == request.urn
        assert ": could not evaluate: KeyError. Fix: " in diagnostic.message
        assert diagnostic.enforcementLevel == LEVELS[level]
        assert list(response.not_applicable) == []


def test_a_stack_rule_that_raises_is_one_mandatory_violation(plan):
    rule = REGISTRY["STACK-001"]
    servicer = _servicer(rule, EnforcementLevel.MANDATORY)
    _, stack = gate.analyze_requests(plan)
    response = servicer.AnalyzeStack(stack, None)
    (diagnostic,) = response.diagnostics
    assert diagnostic.policyName == rule.name
    assert "\n[STACK-001] stack \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} pulumi" in (
        diagnostic.message
    )
    assert "could not evaluate: KeyError" in diagnostic.message
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert list(response.not_applicable) == []
