"""FastAnalyzerServicer answers exactly as the SDK's own servicer does."""

from __future__ import annotations

from google.protobuf import json_format
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer

from preview import engine, gate
from serverless_wa import server
from serverless_wa.pack import PACK_NAME, build_policies, initial_config
from tests.e2e.programs import bad_stack


def _servicers():
    policies = build_policies()
    args = (PACK_NAME, "0.0.1", policies, EnforcementLevel.ADVISORY, initial_config())
    return _PolicyAnalyzerServicer(*args), server.FastAnalyzerServicer(*args)


def _normalised(response):
    diagnostics = sorted(json_format.MessageToJson(d, sort_keys=True) for d in response.diagnostics)
    skipped = sorted((n.policy_name, n.reason) for n in response.not_applicable)
    return diagnostics, skipped


def _compare(plan, preview=False):
    sdk, fast = _servicers()
    requests, stack = gate.analyze_requests(plan, preview=preview)
    for request in requests:
        expected = _normalised(sdk.Analyze(request, None))
        assert _normalised(fast.Analyze(request, None)) == expected, request.urn
    assert _normalised(fast.AnalyzeStack(stack, None)) == _normalised(sdk.AnalyzeStack(stack, None))


def test_fast_servicer_matches_the_sdk_on_the_bad_stack():
    plan = engine.run(bad_stack.program, stack="bad", config={"aws:region": "eu-west-1"})
    _compare(plan)
    _compare(plan, preview=True)


def test_fast_servicer_matches_the_sdk_on_the_dev_stack():
    _compare(engine.run_main("dev"))


def test_install_is_compatible_with_the_pinned_sdk():
    assert server.compatible()
