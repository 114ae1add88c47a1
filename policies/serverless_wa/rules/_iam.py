"""IAM policy documents from every source, and what they allow (POLICY-RULES.md 3.13).

Sources: `aws:iam/policy:Policy` `policy`, `aws:iam/rolePolicy:RolePolicy` `policy`, the
deprecated `Role` `inlinePolicies[].policy`; attachments through RolePolicyAttachment,
PolicyAttachment, RolePolicyAttachmentsExclusive and `Role.managedPolicyArns`. Documents are
JSON strings; `Statement`, `Action` and `Resource` may each be one value or a list.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN, as_list, known, parse_json

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
DOCUMENT_TYPES = (POLICY, ROLE_POLICY, ROLE)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    principal: Any
    condition: Mapping[str, Any]
    source: Node
    index: int

    @property
    def allow(self) -> bool:
        return self.effect == "Allow"


def statements(document: Any, source: Node) -> list[Statement] | None:
    """The statements of a parsed document; None when the document is unknown or invalid."""
    if not isinstance(document, Mapping):
        return None
    found = []
    for index, raw in enumerate(as_list(document.get("Statement"))):
        if not isinstance(raw, Mapping):
            continue
        found.append(
            Statement(
                effect=str(raw.get("Effect", "")),
                actions=tuple(str(a) for a in as_list(raw.get("Action"))),
                not_actions=tuple(str(a) for a in as_list(raw.get("NotAction"))),
                resources=tuple(str(r) for r in as_list(raw.get("Resource"))),
                principal=raw.get("Principal"),
                condition=_mapping(raw.get("Condition")),
                source=source,
                index=index,
            )
        )
    return found


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def documents_of(node: Node) -> Iterator[Any]:
    """The parsed documents a policy-carrying resource holds (UNKNOWN/INVALID included)."""
    if node.type in (POLICY, ROLE_POLICY):
        yield parse_json(node.get("policy"))
    elif node.type == ROLE:
        inline = node.get("inlinePolicies")
        if isinstance(inline, list):
            for entry in inline:
                if isinstance(entry, Mapping):
                    yield parse_json(entry.get("policy", UNKNOWN))


def _role_of(graph: Graph, node: Node, prop: str) -> list[Node]:
    return graph.refs(node, prop, (ROLE,))


def role_documents(graph: Graph, role: Node) -> tuple[list[Statement], bool]:
    """Every statement granted to `role`, and whether some source could not be read."""
    found: list[Statement] = []
    incomplete = False

    def add(document: Any, source: Node) -> None:
        nonlocal incomplete
        parsed = statements(document, source)
        if parsed is None:
            incomplete = True
        else:
            found.extend(parsed)

    for document in documents_of(role):
        add(document, role)
    for prop, node in graph.referrers(role, (ROLE_POLICY,)):
        if prop == "role":
            add(parse_json(node.get("policy")), node)
    for node in graph.of_type(ROLE_POLICY):
        if not node.deps.get("role") and role in _role_of(graph, node, "role"):
            add(parse_json(node.get("policy")), node)
    for policy in attached_policies(graph, role):
        for document in documents_of(policy):
            add(document, policy)
    return found, incomplete


def managed_policy_arns(graph: Graph, role: Node) -> list[Any]:
    """ARNs attached to `role` (values; UNKNOWN entries kept)."""
    arns: list[Any] = list(as_list(role.get("managedPolicyArns")))
    for node in graph.of_type(ROLE_POLICY_ATTACHMENT):
        if role in _role_of(graph, node, "role"):
            arns.append(node.get("policyArn"))
    for node in graph.of_type(POLICY_ATTACHMENT):
        targets = [t for t in node.deps.get("roles", []) if t.type == ROLE]
        names = node.get("roles")
        if role in targets or (isinstance(names, list) and role.get("name") in names):
            arns.append(node.get("policyArn"))
    for node in graph.of_type(ATTACHMENTS_EXCLUSIVE):
        if role in _role_of(graph, node, "roleName"):
            arns.extend(as_list(node.get("policyArns")))
    return arns


def attached_policies(graph: Graph, role: Node) -> list[Node]:
    """Customer-managed Policy resources in the stack attached to `role`."""
    found = []
    for value in managed_policy_arns(graph, role):
        policy = graph.find(value, (POLICY,)) if known(value) else None
        if policy is not None:
            found.append(policy)
    for node in graph.of_type(ROLE_POLICY_ATTACHMENT, POLICY_ATTACHMENT):
        if role in _role_of(graph, node, "role") or role in node.deps.get("roles", []):
            found.extend(graph.refs(node, "policyArn", (POLICY,)))
    unique = {n.urn: n for n in found}
    return list(unique.values())


def trusted_services(role: Node) -> set[str] | None:
    """Service principals the role's trust policy names; None when unknown."""
    document = parse_json(role.get("assumeRolePolicy"))
    parsed = statements(document, role)
    if parsed is None:
        return None
    services: set[str] = set()
    for statement in parsed:
        if statement.allow and isinstance(statement.principal, Mapping):
            services.update(str(s) for s in as_list(statement.principal.get("Service")))
    return services


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, `*` and `?` wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def resource_matches(pattern: str, arn: str) -> bool:
    return pattern == "*" or fnmatch.fnmatchcase(arn, pattern)


def allows(statements_: list[Statement], action: str, arn: str | None = None) -> bool:
    """Whether some Allow statement grants `action` (on `arn`, when given)."""
    for statement in statements_:
        if not statement.allow:
            continue
        if not any(action_matches(a, action) for a in statement.actions):
            continue
        if arn is None or any(resource_matches(r, arn) for r in statement.resources):
            return True
    return False
