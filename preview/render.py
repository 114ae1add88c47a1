"""Plan output: the `pulumi preview` style tree, and a Mermaid diagram of the wiring."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .engine import Plan, Registration
from .gate import UNKNOWN

# Plumbing that would crowd the diagram: it belongs to the node it serves.
_DIAGRAM_SKIP = re.compile(
    r"^aws:(iam/|cloudwatch/(logGroup|metricAlarm)|sqs/(queuePolicy|redriveAllowPolicy)|"
    r"apigateway/(methodResponse|integrationResponse|methodSettings|deployment|resource:))"
)


def short_type(token: str) -> str:
    """`aws:sqs/queue:Queue` -> `aws:sqs:Queue`, as the CLI shows it."""
    package, _, rest = token.partition(":")
    module, _, kind = rest.rpartition(":")
    return f"{package}:{module.split('/')[0]}:{kind}" if package == "aws" else token


def tree(plan: Plan, outputs: Mapping[str, Any] | None = None) -> str:
    """The plan as `pulumi preview` prints it: resources, the program's diagnostics (warnings
    by resource), the stack's outputs (`outputs`, plain values with the unknown sentinel
    where a value is computed), the count."""
    children: dict[str | None, list[Registration]] = defaultdict(list)
    for r in plan.registrations:
        children[r.parent].append(r)
    for items in children.values():
        items.sort(key=lambda r: (r.custom, r.type, r.name))

    rows: list[tuple[str, str]] = [("pulumi:pulumi:Stack", f"{plan.project}-{plan.stack}")]

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for index, item in enumerate(items):
            last = index == len(items) - 1
            rows.append((f"{prefix}{'└─ ' if last else '├─ '}{short_type(item.type)}", item.name))
            walk(item.urn, prefix + ("   " if last else "│  "))

    walk(plan.stack_urn, "")
    width = max(len(t) for t, _ in rows) + 2
    name_width = max(len(n) for _, n in rows) + 2
    lines = [
        f"Previewing update ({plan.stack}):",
        "",
        f"     {'Type':<{width}}{'Name':<{name_width}}Plan",
    ]
    lines += [f" +   {t:<{width}}{n:<{name_width}}create" for t, n in rows]
    lines += diagnostics(plan)
    if outputs:
        lines += ["", "Outputs:", *_properties(outputs, "    ")]
    lines += ["", "Resources:", f"    + {len(rows)} to create"]
    return "\n".join(lines)


def diagnostics(plan: Plan) -> list[str]:
    """`Diagnostics:` as the CLI prints it: each resource's messages under its type and name."""
    by_urn: dict[str, list[str]] = defaultdict(list)
    for log in plan.logs:
        by_urn[log.urn].append(f"    {log.severity}: {log.message}")
    lines: list[str] = []
    for urn in sorted(by_urn):
        parts = urn.split("::")
        label = (
            f"{parts[2].split('$')[-1]} ({parts[3]})"
            if len(parts) >= 4
            else f"pulumi:pulumi:Stack ({plan.project}-{plan.stack})"
        )
        lines += [f"  {label}:", *by_urn[urn], ""]
    return ["", "Diagnostics:", *lines[:-1]] if lines else []


def _properties(values: Mapping[str, Any], indent: str) -> list[str]:
    """`key: value` lines, keys sorted and padded so the colons line up, as the CLI does."""
    width = max(len(str(k)) for k in values)
    lines: list[str] = []
    for key in sorted(values, key=str):
        lines += _value(f"{indent}{key!s:<{width}}: ", values[key], indent)
    return lines


def _value(label: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, Mapping) and value:
        return [f"{label}{{", *_properties(value, indent + "    "), f"{indent}}}"]
    if isinstance(value, list | tuple) and value:
        items = {f"[{i}]": v for i, v in enumerate(value)}
        inner = [
            line
            for k, v in items.items()
            for line in _value(f"{indent}    {k}: ", v, indent + "    ")
        ]
        return [f"{label}[", *inner, f"{indent}]"]
    return [f"{label}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if value == UNKNOWN:
        return "output<string>"
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return json.dumps(value)


def diagram(plan: Plan) -> str:
    """A Mermaid flowchart: one subgraph per component, edges labelled by the property."""
    shown = {r.urn: r for r in plan.registrations if r.custom and not _DIAGRAM_SKIP.match(r.type)}
    components = {r.urn: r for r in plan.registrations if not r.custom}
    ids = {urn: f"n{i}" for i, urn in enumerate(sorted({*shown, *components}))}
    lines = ["flowchart LR"]
    members: dict[str | None, list[Registration]] = defaultdict(list)
    for r in shown.values():
        members[r.parent if r.parent in components else None].append(r)
    for urn, component in sorted(components.items(), key=lambda i: i[1].name):
        if not members.get(urn):
            continue
        lines.append(
            f'  subgraph {ids[urn]}["{component.name} ({component.type.rsplit(":", 1)[-1]})"]'
        )
        for r in sorted(members[urn], key=lambda r: r.name):
            lines.append(f'    {ids[r.urn]}["{short_type(r.type).split(":", 1)[1]}<br/>{r.name}"]')
        lines.append("  end")
    for r in sorted(members.get(None, []), key=lambda r: r.name):
        lines.append(f'  {ids[r.urn]}["{short_type(r.type).split(":", 1)[1]}<br/>{r.name}"]')
    edges = set()
    for r in shown.values():
        for prop, deps in r.property_dependencies.items():
            for dep in deps:
                if dep in shown and dep != r.urn:
                    edges.add((ids[r.urn], prop, ids[dep]))
    lines += [f"  {a} -->|{prop}| {b}" for a, prop, b in sorted(edges)]
    return "\n".join(lines) + "\n"
