"""Opt-in remediations: only the safe five, each making its rule pass, each idempotent, and
served through the analyzer's Remediate call."""

from __future__ import annotations

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.policy import EnforcementLevel

from preview import gate
from serverless_wa import server
from serverless_wa.graph import Node
from serverless_wa.pack import PACK_NAME, build_policies, initial_config
from serverless_wa.props import Props
from serverless_wa.registry import REGISTRY, rules
from serverless_wa.remediations import REMEDIATIONS
from tests.policies.harness import plan_of

SAFE = {"LAMBDA-001", "LAMBDA-007", "APIGW-001", "SFN-001", "APPSYNC-001"}


def test_only_the_safe_rules_remediate():
    assert set(REMEDIATIONS) == SAFE
    remediating = {
        p.name
        for p in build_policies()
        if getattr(p, "has_remediation", None) and p.has_remediation()
    }
    assert remediating == {REGISTRY[i].name for i in SAFE}


def test_each_remediation_fixes_its_examples_and_is_idempotent():
    for rule in rules():
        fixer = REMEDIATIONS.get(rule.id)
        if fixer is None:
            continue
        for case in rule.examples.non_compliant:
            subject = next(r for r in case.resources if r.name == case.subject)
            fixed = fixer(dict(subject.props))
            assert fixed is not None, rule.id
            node = Node(subject.type, subject.name, "urn:x", Props(fixed))
            assert list(rule.check(node, rule.defaults())) == [], rule.id
            assert fixer(fixed) is None, f"{rule.id} is not idempotent"
        for case in rule.examples.compliant:
            subject = next(r for r in case.resources if r.name == case.subject)
            assert fixer(dict(subject.props)) is None, f"{rule.id} changed a compliant resource"


def test_remediate_rpc_returns_the_fixed_properties():
    rule = REGISTRY["LAMBDA-001"]
    servicer = server.FastAnalyzerServicer(
        PACK_NAME, "0.0.1", build_policies(), EnforcementLevel.ADVISORY, initial_config()
    )
    level = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.REMEDIATE)
    servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={rule.name: level}), None)
    requests, _ = gate.analyze_requests(plan_of(rule.examples.non_compliant[0]))
    request = requests[-1]  # the subject (the first is its example component)
    response = servicer.Remediate(request, None)
    (remediation,) = response.remediations
    assert remediation.policyName == rule.name
    fixed = json_format.MessageToDict(remediation.properties)
    assert fixed["tracingConfig"]["mode"] == "Active"
