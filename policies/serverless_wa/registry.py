"""One declarative entry per rule; policies, docs and profiles are generated from it.

A rule is a check function plus its metadata (POLICY-RULES.md section 2, item 1) and its
examples, which the generic tests run through the analyzer protocol: every rule carries a
compliant, a non-compliant, an unknown-at-preview and an exempted case by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
Pillar = Literal["OPS", "SEC", "REL", "PERF", "COST"]
Scope = Literal["resource", "stack"]

ID_PATTERN = re.compile(r"^[A-Z0-9]+-\d{3}$")
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CATALOGUE_URL = "https://github.com/serverless-patterns/policies#"
ANCHOR_KEYS = ("serverless_rules", "cdk_nag", "checkov", "awsguard", "crp")


@dataclass(frozen=True)
class Finding:
    """One problem with one subject. `detail` names the granular item (an IAM action, a
    state path, a mapping) so a config exemption can target it alone."""

    problem: str
    urn: str | None = None
    detail: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Resource:
    """A resource in an example: type token, logical name, engine props, wiring."""

    type: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None  # name of another example resource (a component)
    depends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # prop -> names


@dataclass(frozen=True)
class Case:
    """Resources (the first is the subject of a resource rule) and, for a stack rule, the
    resource name the finding must be raised on."""

    resources: tuple[Resource, ...]
    subject: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Examples:
    compliant: tuple[Case, ...]
    non_compliant: tuple[Case, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    description: str
    severity: Severity
    pillar: Pillar
    scope: Scope
    types: tuple[str, ...]
    reads: Mapping[str, tuple[str, ...]]  # type token -> property paths the rule reads
    anchors: Mapping[str, str | None]
    knob: str
    raw: str
    check: Callable[..., Iterable[Finding]]
    examples: Examples
    enabled: bool = True
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # JSON schema props
    remediation: str = ""

    @property
    def novel(self) -> bool:
        return all(v is None for v in self.anchors.values())

    @property
    def url(self) -> str:
        return f"{CATALOGUE_URL}{self.id.lower()}"

    @property
    def fix(self) -> str:
        return f"{self.knob} (raw: {self.raw})"

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config.items() if "default" in v}


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if not ID_PATTERN.match(rule.id):
        raise ValueError(f"rule id {rule.id!r} must look like GROUP-NNN")
    if not NAME_PATTERN.match(rule.name) or rule.name == "all":
        raise ValueError(f"rule name {rule.name!r} must be kebab-case and not 'all'")
    if rule.id in REGISTRY or any(r.name == rule.name for r in REGISTRY.values()):
        raise ValueError(f"rule {rule.id} / {rule.name} is registered twice")
    if set(rule.anchors) != set(ANCHOR_KEYS):
        raise ValueError(f"rule {rule.id} anchors must have exactly the keys {ANCHOR_KEYS}")
    REGISTRY[rule.id] = rule
    return rule


def rules() -> list[Rule]:
    """Every rule, in id order (importing the rule modules registers them)."""
    from serverless_wa import rules as _rules  # noqa: F401  (registers on import)

    return [REGISTRY[k] for k in sorted(REGISTRY, key=_sort_key)]


def _sort_key(rule_id: str) -> tuple[str, int]:
    group, _, number = rule_id.rpartition("-")
    return group, int(number)


def anchors(
    serverless_rules: str | None = None,
    cdk_nag: str | None = None,
    checkov: str | None = None,
    awsguard: str | None = None,
    crp: str | None = None,
) -> dict[str, str | None]:
    return {
        "serverless_rules": serverless_rules,
        "cdk_nag": cdk_nag,
        "checkov": checkov,
        "awsguard": awsguard,
        "crp": crp,
    }
