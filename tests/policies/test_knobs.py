"""Every fix names something real. A rule's `knob` (and the fix each of its findings gives) is
an argument of a pattern's args (components/catalog.py), of a spec those args nest, of a core
block's spec, or a stack setting; a rule no argument controls has no knob and gives the raw
pulumi_aws property."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import typing
from collections.abc import Iterator

import pulumi
import pytest

import components.core
from components.catalog import CATALOG
from preview import gate
from serverless_wa.registry import knob_names, rules
from tests.policies.harness import findings_of, run_case

RULES = rules()
NON_COMPLIANT = [(r, c) for r in RULES for c in r.examples.non_compliant]
# Core dataclasses that are plumbing, not arguments anyone passes.
NOT_ARGUMENTS = {"Package", "Scope"}


def _dataclasses_in(tp: object) -> Iterator[type]:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        yield tp
    for arg in typing.get_args(tp):
        yield from _dataclasses_in(arg)


def argument_owners() -> dict[str, set[str]]:
    """Argument name -> the args classes that have it: the catalog's pattern args and every
    dataclass they nest, plus the core blocks' specs and `Settings` (stack settings)."""
    todo: list[type] = [entry.args for entry in CATALOG.values()]
    for module in pkgutil.iter_modules(components.core.__path__, "components.core."):
        for value in vars(importlib.import_module(module.name)).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.name
                and value.__name__ not in NOT_ARGUMENTS
            ):
                todo.append(value)
    owners: dict[str, set[str]] = {}
    seen: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        # pulumi.Input[T] is a union that names Output, which annotations leave unimported.
        hints = typing.get_type_hints(cls, localns={**vars(pulumi), "T": typing.Any})
        for field in dataclasses.fields(cls):
            owners.setdefault(field.name, set()).add(cls.__qualname__)
            todo.extend(_dataclasses_in(hints[field.name]))
    return owners


ARGUMENTS = argument_owners()


def _snake(name: str) -> str:
    """`logRetentionDays` (a stack setting as the stack file spells it) -> `log_retention_days`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def unknown_arguments(knob: str) -> list[str]:
    return [name for name in knob_names(knob) if _snake(name) not in ARGUMENTS]


def test_the_walk_finds_pattern_core_and_stack_arguments():
    assert "ScalableWebhookArgs" in ARGUMENTS["consumer_concurrency"]
    assert "FunctionSpec" in ARGUMENTS["memory_size"]
    assert "Settings" in ARGUMENTS["log_retention_days"]
    assert "SignatureSpec" in ARGUMENTS["header"]  # nested in ScalableWebhookArgs
    assert unknown_arguments("tracing='Active'") == ["tracing"]
    assert unknown_arguments("logRetentionDays / throttle_rate") == []
    with pytest.raises(ValueError):
        knob_names("statements (per-action grants)")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_knob_names_real_component_arguments(rule):
    assert unknown_arguments(rule.knob) == [], (
        f"{rule.id} knob {rule.knob!r}: not an argument of any component args or core spec; "
        'name the argument, or use knob="" when no argument controls it'
    )
    assert rule.raw and "(raw:" not in rule.raw


@pytest.mark.parametrize(("rule", "case"), NON_COMPLIANT, ids=[r.id for r, _ in NON_COMPLIANT])
def test_each_findings_fix_names_real_component_arguments(pack, rule, case):
    for finding in findings_of(run_case(pack, rule, case), rule):
        parts = gate.split_fix(finding.message)
        assert parts is not None, finding.message
        _, knob, raw = parts
        assert raw, finding.message
        assert unknown_arguments(knob) == [], f"{rule.id}: {finding.message}"
