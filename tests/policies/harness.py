"""Policy cases driven through the real analyzer protocol.

A `registry.Case` becomes a `Plan` (the recording the offline preview makes), which
`preview.gate` sends to the pack process over gRPC exactly as the engine would: Analyze
per resource with provider-checked inputs, AnalyzeStack with outputs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from preview import gate
from preview.engine import Plan, Registration
from serverless_wa.registry import REGISTRY, Case, Rule

PROJECT, STACK = "policy-tests", "test"


def urn_of(resources: Mapping[str, Any], name: str) -> str:
    chain = []
    current = resources[name]
    while current is not None:
        chain.append(current.type)
        current = resources.get(current.parent) if current.parent else None
    return f"urn:pulumi:{STACK}::{PROJECT}::{'$'.join(reversed(chain))}::{name}"


def plan_of(case: Case) -> Plan:
    by_name = {r.name: r for r in case.resources}
    registrations = []
    for r in case.resources:
        deps = {prop: [urn_of(by_name, n) for n in names] for prop, names in r.depends.items()}
        registrations.append(
            Registration(
                urn=urn_of(by_name, r.name),
                type=r.type,
                name=r.name,
                custom=not r.type.startswith("serverless-patterns:"),
                parent=urn_of(by_name, r.parent) if r.parent else None,
                inputs=copy.deepcopy(dict(r.props)),
                dependencies=sorted({u for us in deps.values() for u in us}),
                property_dependencies=deps,
                outputs=copy.deepcopy(dict(r.props)),
            )
        )
    return Plan(PROJECT, STACK, registrations, {}, None)


def only(rule: Rule, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A profile with `rule` mandatory (plus `config`) and every other rule disabled."""
    profile: dict[str, Any] = {r.name: {"enforcementLevel": "disabled"} for r in REGISTRY.values()}
    profile[rule.name] = {"enforcementLevel": "mandatory", **(config or {})}
    return profile


def run_case(stub: Any, rule: Rule, case: Case, **config: Any) -> gate.Report:
    """Run one case; a rule that raised (the pack reports it as not applicable) fails."""
    report = gate.run(plan_of(case), profile=only(rule, {**case.config, **config}), stub=stub)
    assert not crashes(report), f"{rule.id} raised: {crashes(report)}"
    return report


def crashes(report: gate.Report) -> list[str]:
    """Findings a rule reported because it raised (the pack fails closed)."""
    return [f.message for f in report.findings if ": could not evaluate: " in f.message]


def subject_urn(case: Case) -> str:
    by_name = {r.name: r for r in case.resources}
    return urn_of(by_name, case.subject or case.resources[-1].name)


def set_path(props: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating the missing levels."""
    steps = path.split(".")
    current = props
    for step in steps[:-1]:
        child = current.get(step)
        if not isinstance(child, dict):
            child = current[step] = {}
        current = child
    current[steps[-1]] = value


def with_unknowns(case: Case, reads: Mapping[str, Iterable[str]]) -> Case:
    """Every property the rule reads replaced by the engine's unknown sentinel."""
    resources = []
    for r in case.resources:
        props = copy.deepcopy(dict(r.props))
        for path in reads.get(r.type, ()):
            set_path(props, path, gate.UNKNOWN)
        resources.append(type(r)(r.type, r.name, props, r.parent, r.depends))
    return Case(tuple(resources), case.subject, case.config)


def with_tag(case: Case, key: str, value: str) -> Case:
    resources = []
    for r in case.resources:
        props = copy.deepcopy(dict(r.props))
        if r.name == case.subject:
            props["tags"] = {**props.get("tags", {}), key: value}
        resources.append(type(r)(r.type, r.name, props, r.parent, r.depends))
    return Case(tuple(resources), case.subject, case.config)


def findings_of(report: gate.Report, rule: Rule) -> list[gate.Finding]:
    return [f for f in report.findings if f.policy == rule.name]
