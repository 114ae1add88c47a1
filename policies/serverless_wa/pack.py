"""Registry -> pulumi-policy `ResourceValidationPolicy` / `StackValidationPolicy` objects.

The wrappers do what every rule needs and no rule should repeat: read props safely, merge
config defaults, apply exemptions (tags and config, with expiry), format one-line findings
that name the owning component and the fix, and never let an error in one rule abort the
analysis. A rule that raises fails closed: its error is a violation of that rule at the
rule's enforcement level ("could not evaluate: <error type>"), never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from serverless_wa import exemptions
from serverless_wa.graph import Graph, Node
from serverless_wa.props import Props, rewrap
from serverless_wa.registry import Finding, ResourceCheck, Rule, StackCheck, rules
from serverless_wa.remediations import REMEDIATIONS, Remediation

PACK_NAME = "serverless-well-architected"
COMMON_CONFIG: dict[str, dict[str, Any]] = {
    "exemptions": {
        "type": "array",
        "default": [],
        "items": {
            "type": "object",
            "properties": {
                "match": {"type": "string", "minLength": 1},
                "reason": {
                    "type": "string",
                    "minLength": exemptions.MIN_REASON_LENGTH,
                    "pattern": r"\S",
                },
                "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "detail": {"type": "string", "minLength": 1},
            },
            "required": ["match", "reason", "expires"],
            "additionalProperties": False,
        },
    },
    "today": {"type": "string", "description": "ISO date that replaces today (for tests)"},
}
SEVERITY = {
    "LOW": Severity.LOW,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}


def short_type(token: str) -> str:
    """`aws:lambda/function:Function` -> `aws:lambda:Function`; components keep their token."""
    package, _, rest = token.partition(":")
    module, _, kind = rest.rpartition(":")
    if package == "aws" and module:
        return f"aws:{module.split('/')[0]}:{kind}"
    return token


def owner_of_urn(parent_urn: str | None) -> tuple[str, str] | None:
    """(type, name) of a parent URN, unless it is the stack or a provider."""
    if not parent_urn:
        return None
    parts = parent_urn.split("::")
    if len(parts) < 4:
        return None
    kind = parts[2].split("$")[-1]
    if kind == "pulumi:pulumi:Stack" or kind.startswith("pulumi:providers:"):
        return None
    return kind, parts[3]


def message(
    rule: Rule, owner: tuple[str, str] | None, child_type: str, child_name: str, finding: Finding
) -> str:
    where = f'{owner[0]} "{owner[1]}"' if owner else "stack"
    problem = finding.problem.rstrip(".")
    fix = finding.fix or rule.fix
    return f'[{rule.id}] {where} › {short_type(child_type)} "{child_name}": {problem}. Fix: {fix}'


CRASH_FIX = (
    "the rule raised on these properties (a rule bug or an unexpected shape): report it with "
    "the resource's inputs; an exemption of the rule accepts it meanwhile"
)


def crash_finding(error: Exception, urn: str | None = None) -> Finding:
    """A rule that raised: a violation at the rule's level, never a silent pass."""
    return Finding(f"could not evaluate: {type(error).__name__}", urn=urn, fix=CRASH_FIX)


def _config(rule: Rule, args: Any) -> dict[str, Any]:
    provided = args.get_config() or {}
    return {**rule.defaults(), **dict(provided)}


def _split(
    findings: Iterable[Finding], exempt: list[exemptions.Exemption]
) -> tuple[list[Finding], list[tuple[Finding, exemptions.Exemption]]]:
    """Findings that stand and findings an exemption covers (whole-resource or by detail)."""
    standing, covered = [], []
    for finding in findings:
        match = next((e for e in exempt if e.detail is None or e.detail == finding.detail), None)
        if match is None:
            standing.append(finding)
        else:
            covered.append((finding, match))
    return standing, covered


def _resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        config = _config(rule, args)
        props = shared_props(args.props)
        when = exemptions.today(config)
        active = exemptions.applicable(props.tags(), config, rule.id, args.urn, args.name, when)
        if active and active[0].detail is None:
            args.not_applicable(active[0].describe())
            return
        node = Node(args.resource_type, args.name, args.urn, props)
        owner = owner_of_urn(args.opts.parent if args.opts else None) or _owner_from_urn(args.urn)
        try:
            findings = list(cast(ResourceCheck, rule.check)(node, config))  # scope: resource
        except Exception as error:  # fail closed, and never abort the analysis
            crash = crash_finding(error)
            report_violation(message(rule, owner, args.resource_type, args.name, crash), args.urn)
            return
        standing, covered = _split(findings, active)
        for finding in standing:
            report_violation(message(rule, owner, args.resource_type, args.name, finding), args.urn)
        if covered and not standing:
            args.not_applicable("; ".join(e.describe() for _, e in covered))

    return validate


def _remediator(rule: Rule, fixer: Remediation) -> Any:
    def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        if args.resource_type not in rule.types:
            return None
        fixed = fixer(Props(args.props).data)
        return None if fixed is None else rewrap(fixed)

    return remediate


def _owner_from_urn(urn: str) -> tuple[str, str] | None:
    """The component type from the child's URN type chain (its name is not in the URN)."""
    chain = urn.split("::")[2].split("$") if urn.count("::") >= 3 else []
    return (chain[-2], "?") if len(chain) >= 2 else None


def _stack_validator(rule: Rule) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = _config(rule, args)
        graph = shared_graph(args.resources)
        when = exemptions.today(config)
        try:
            findings = list(cast(StackCheck, rule.check)(graph, config))  # scope: stack
        except Exception as error:  # fail closed, and never abort the analysis
            crash = crash_finding(error)
            report_violation(message(rule, None, "pulumi:pulumi:Stack", "stack", crash), None)
            return
        exempted: list[str] = []
        for finding in findings:
            node = graph.by_urn(finding.urn or "")
            if node is None:
                if finding.urn is None:  # a finding about the stack as a whole
                    stack_message = message(rule, None, "pulumi:pulumi:Stack", "stack", finding)
                    report_violation(stack_message, None)
                continue
            active = exemptions.applicable(
                node.props.tags(), config, rule.id, node.urn, node.name, when
            )
            _, covered = _split([finding], active)
            if covered:
                exempted.append(f"{covered[0][1].describe()} [{node.name}]")
                continue
            owner = node.owner
            owner_id = (owner.type, owner.name) if owner else None
            report_violation(message(rule, owner_id, node.type, node.name, finding), node.urn)
        if exempted:
            args.not_applicable("; ".join(sorted(set(exempted))))

    return validate


_PROPS: dict[int, tuple[Any, Props]] = {}


def shared_props(raw: Any) -> Props:
    """One unwrapped copy of a resource's props for every resource policy: the analyzer
    hands them all the same proxy object (FastAnalyzerServicer), cached on its identity."""
    cached = _PROPS.get(id(raw))
    if cached is not None and cached[0] is raw:
        return cached[1]
    props = Props(raw)
    _PROPS.clear()
    _PROPS[id(raw)] = (raw, props)
    return props


_GRAPHS: dict[int, tuple[Any, Graph]] = {}


def shared_graph(resources: Any) -> Graph:
    """One graph per AnalyzeStack: the analyzer hands every stack policy the same resource
    list (FastAnalyzerServicer), so the graph is cached on that list's identity."""
    cached = _GRAPHS.get(id(resources))
    if cached is not None and cached[0] is resources:
        return cached[1]
    graph = Graph.from_policy_resources(resources)
    _GRAPHS.clear()
    _GRAPHS[id(resources)] = (resources, graph)
    return graph


def schema(rule: Rule) -> PolicyConfigSchema:
    properties: dict[str, Any] = {**COMMON_CONFIG, **rule.config}
    return PolicyConfigSchema(properties=properties)


def policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    """The pulumi-policy object of one registry rule."""
    common: dict[str, Any] = {
        "name": rule.name,
        "description": f"[{rule.id}] {rule.title}",
        "config_schema": schema(rule),
        "severity": SEVERITY[rule.severity],
        "remediation_steps": rule.remediation or f"Set {rule.fix}.",
        "url": rule.url,
        "tags": [rule.pillar, rule.id],
        "enforcement_level": None if rule.enabled else EnforcementLevel.DISABLED,
    }
    if rule.scope == "stack":
        return StackValidationPolicy(validate=_stack_validator(rule), **common)
    fixer = REMEDIATIONS.get(rule.id)
    if fixer is not None:
        common["remediate"] = _remediator(rule, fixer)
    resource_policy = ResourceValidationPolicy(validate=_resource_validator(rule), **common)
    # Lets the analyzer skip resources of other types before deserializing for them.
    resource_policy.resource_types = frozenset(rule.types)  # type: ignore[attr-defined]
    return resource_policy


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [policy(rule) for rule in rules()]


def profile(name: str) -> dict[str, dict[str, Any]]:
    """`dev`: every enabled rule advisory. `prod`: HIGH and CRITICAL mandatory, the rest
    advisory. Rules that are off stay disabled in both."""
    levels: dict[str, dict[str, Any]] = {}
    for rule in rules():
        if not rule.enabled:
            level = "disabled"
        elif name == "prod" and rule.severity in ("HIGH", "CRITICAL"):
            level = "mandatory"
        else:
            level = "advisory"
        levels[rule.name] = {"enforcementLevel": level}
    return levels


def initial_config() -> dict[str, Any]:
    """The dev profile, as the pack's built-in config."""
    return {
        name: EnforcementLevel(entry["enforcementLevel"]) for name, entry in profile("dev").items()
    }
