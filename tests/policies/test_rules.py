"""Every registered rule, through the analyzer protocol: compliant, non-compliant,
unknown-at-preview and exempted cases (the rule contract, section 4)."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

from serverless_wa.registry import rules
from tests.policies import sdk
from tests.policies.expected_findings import EXPECTED
from tests.policies.harness import (
    findings_of,
    run_case,
    subject_urn,
    with_tag,
    with_unknowns,
)

RULES = rules()
COMPLIANT = [(r, c) for r in RULES for c in r.examples.compliant]
NON_COMPLIANT = [(r, c) for r in RULES for c in r.examples.non_compliant]
FUTURE = (dt.date.today() + dt.timedelta(days=30)).isoformat()
PAST = (dt.date.today() - dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(("rule", "case"), COMPLIANT, ids=[r.id for r, _ in COMPLIANT])
def test_compliant_case_passes(pack, rule, case):
    assert findings_of(run_case(pack, rule, case), rule) == []


@pytest.mark.parametrize(("rule", "case"), NON_COMPLIANT, ids=[r.id for r, _ in NON_COMPLIANT])
def test_non_compliant_case_is_reported_on_the_child_with_its_component(pack, rule, case):
    found = findings_of(run_case(pack, rule, case), rule)
    assert found, f"{rule.id} found nothing"
    assert {f.urn for f in found} == {subject_urn(case)}
    subject = next(r for r in case.resources if r.name == case.subject)
    owner = 'serverless-patterns:patterns:Example "owner"' if subject.parent else "stack"
    for finding in found:
        assert finding.id == rule.id and finding.enforcement == "mandatory"
        assert finding.message.startswith(f"[{rule.id}] {owner} › ")
        assert "Fix:" in finding.message and "\n" not in finding.message


def messages(report, rule) -> list[str]:
    return sorted(f.message for f in findings_of(report, rule))


NUMBERED = [(r, n, c) for r in RULES for n, c in enumerate(r.examples.non_compliant)]


def test_every_non_compliant_example_says_what_it_must_report():
    counts = {r.id: len(r.examples.non_compliant) for r in RULES}
    listed = {k: len(v) for k, v in EXPECTED.items()}
    wrong = sorted(k for k in counts.keys() | listed.keys() if counts.get(k) != listed.get(k))
    assert not wrong, (
        f"tests/policies/expected_findings.py needs one entry per non-compliant example of {wrong}"
    )


@pytest.mark.parametrize(
    ("rule", "n", "case"), NUMBERED, ids=[f"{r.id}[{n}]" for r, n, _ in NUMBERED]
)
def test_non_compliant_case_reports_exactly_the_expected_problems(pack, rule, n, case):
    """Each expected problem in its own finding, and no other finding."""
    messages = [f.message for f in findings_of(run_case(pack, rule, case), rule)]
    expected = EXPECTED[rule.id][n] if n < len(EXPECTED.get(rule.id, ())) else ()
    assert len(messages) == len(expected), messages
    unmatched = list(messages)
    for problem in expected:
        match = next((m for m in unmatched if f": {problem}" in m), None)
        assert match is not None, f"no finding says {problem!r}: {unmatched}"
        unmatched.remove(match)


@pytest.mark.parametrize(("rule", "case"), NON_COMPLIANT, ids=[r.id for r, _ in NON_COMPLIANT])
def test_unknown_at_preview_is_never_a_violation(pack, rule, case):
    if not any(rule.reads.values()):
        pytest.skip(f"{rule.id} reads no properties, only the resource tree")
    report = run_case(pack, rule, with_unknowns(case, rule.reads))
    assert findings_of(report, rule) == []


def _taggable(type_token: str) -> bool:
    cls = sdk.resource_class(type_token)
    if cls is None:
        return False
    args = getattr(inspect.getmodule(cls), f"{cls.__name__}Args", None)
    return args is not None and "tags" in inspect.signature(args.__init__).parameters


@pytest.mark.parametrize(("rule", "case"), NON_COMPLIANT, ids=[r.id for r, _ in NON_COMPLIANT])
def test_exemption_by_config_applies_until_it_expires(pack, rule, case):
    exemption = {"match": f"^{case.subject}$", "reason": "accepted risk", "expires": FUTURE}
    report = run_case(pack, rule, case, exemptions=[exemption])
    assert findings_of(report, rule) == []
    reasons = [why for policy, _, why in report.not_applicable if policy == rule.name]
    assert any("exempt until" in why and "accepted risk" in why for why in reasons)

    expired = run_case(pack, rule, case, exemptions=[{**exemption, "expires": PAST}])
    assert messages(expired, rule) == messages(run_case(pack, rule, case), rule)


@pytest.mark.parametrize(("rule", "case"), NON_COMPLIANT, ids=[r.id for r, _ in NON_COMPLIANT])
def test_exemption_by_tag_applies_until_it_expires(pack, rule, case):
    subject = next(r for r in case.resources if r.name == case.subject)
    if not _taggable(subject.type):
        pytest.skip(f"{subject.type} has no tags; exemptions come from config")
    key = f"wa:exempt:{rule.id}"
    report = run_case(pack, rule, with_tag(case, key, f"{FUTURE} reviewed by the team"))
    assert findings_of(report, rule) == []
    assert any(
        "reviewed by the team" in why
        for policy, _, why in report.not_applicable
        if policy == rule.name
    )
    expired = run_case(pack, rule, with_tag(case, key, f"{PAST} reviewed by the team"))
    back, original = messages(expired, rule), messages(run_case(pack, rule, case), rule)
    # The findings come back; STACK-021 also reports the expired tag itself.
    extra = [m for m in back if m not in original]
    assert set(original) <= set(back) and all(f"{key} expired on {PAST}" in m for m in extra)
