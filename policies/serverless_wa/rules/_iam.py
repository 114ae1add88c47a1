"""IAM policy documents from every source, and what they allow.

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
    sid: str = ""

    @property
    def allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def label(self) -> str:
        """The Sid, else `#<index>`: names the statement in findings and exemption details."""
        return self.sid or f"#{self.index}"


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
                sid=str(raw.get("Sid") or ""),
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
        if inline is UNKNOWN:  # unknown inline policies: some document cannot be read
            yield UNKNOWN
        if isinstance(inline, list):
            for entry in inline:
                if isinstance(entry, Mapping):
                    yield parse_json(entry.get("policy", UNKNOWN))


def _role_of(graph: Graph, node: Node, prop: str) -> list[Node]:
    return graph.refs(node, prop, (ROLE,))


def _by_role(graph: Graph) -> dict[str, list[tuple[str, Node]]]:
    """Role URN -> (kind, node) for every policy source and attachment that names it,
    resolved once per graph (through dependencies, else by ARN or name)."""
    index: dict[str, list[tuple[str, Node]]] = {}

    def add(roles: list[Node], kind: str, node: Node) -> None:
        for role in roles:
            index.setdefault(role.urn, []).append((kind, node))

    for node in graph.of_type(ROLE_POLICY):
        add(_role_of(graph, node, "role"), "inline", node)
    for node in graph.of_type(ROLE_POLICY_ATTACHMENT):
        add(_role_of(graph, node, "role"), "attachment", node)
    for node in graph.of_type(POLICY_ATTACHMENT):
        roles = [t for t in node.deps.get("roles", []) if t.type == ROLE]
        names = node.get("roles")
        if not roles and isinstance(names, list):
            roles = [r for r in graph.of_type(ROLE) if r.get("name") in names]
        add(roles, "attachment", node)
    for node in graph.of_type(ATTACHMENTS_EXCLUSIVE):
        add(_role_of(graph, node, "roleName"), "exclusive", node)
    return index


def _sources(graph: Graph, role: Node) -> list[tuple[str, Node]]:
    return graph.memo("iam-sources-by-role", _by_role).get(role.urn, [])


def role_documents(graph: Graph, role: Node) -> tuple[list[Statement], bool]:
    """Every statement granted to `role`, and whether some source could not be read (read
    once per role and graph: half a dozen stack rules ask for the same roles)."""
    read: dict[str, tuple[list[Statement], bool]] = graph.memo("iam-documents", lambda _: {})
    if role.urn not in read:
        read[role.urn] = _role_documents(graph, role)
    found, incomplete = read[role.urn]
    return list(found), incomplete  # the caller's own list


def _role_documents(graph: Graph, role: Node) -> tuple[list[Statement], bool]:
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
    for kind, node in _sources(graph, role):
        if kind == "inline":
            add(parse_json(node.get("policy")), node)
    for policy in attached_policies(graph, role):
        for document in documents_of(policy):
            add(document, policy)
    return found, incomplete


def managed_policy_arns(graph: Graph, role: Node) -> list[Any]:
    """ARNs attached to `role` (values; UNKNOWN entries kept)."""
    arns: list[Any] = list(as_list(role.get("managedPolicyArns")))
    for kind, node in _sources(graph, role):
        if kind == "attachment":
            arns.append(node.get("policyArn"))
        elif kind == "exclusive":
            arns.extend(as_list(node.get("policyArns")))
    return arns


def attached_policies(graph: Graph, role: Node) -> list[Node]:
    """Customer-managed Policy resources in the stack attached to `role`."""
    found = []
    for value in managed_policy_arns(graph, role):
        policy = graph.find(value, (POLICY,)) if known(value) else None
        if policy is not None:
            found.append(policy)
    for kind, node in _sources(graph, role):
        if kind == "attachment":
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


# Resource policies of queues, topics and buses (SQS-003/004, SNS-004/005, EVENTS-003) ------

SOURCE_KEYS = ("aws:SourceArn", "aws:SourceAccount", "aws:PrincipalOrgID", "aws:SourceVpce")


def public_principal(principal: Any) -> bool:
    """`"*"` or `{"AWS": "*"}` (also inside a list)."""
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def service_principals(principal: Any) -> list[str]:
    if not isinstance(principal, Mapping):
        return []
    return [str(s) for s in as_list(principal.get("Service"))]


def condition_keys(statement: Statement) -> set[str]:
    """Lower-cased keys the statement's conditions pin. `Null` and `...IfExists` operators
    pin nothing: they pass when the key is missing."""
    keys: set[str] = set()
    for operator, entries in statement.condition.items():
        name = str(operator)
        if name == "Null" or name.endswith("IfExists") or not isinstance(entries, Mapping):
            continue
        keys.update(str(key).lower() for key in entries)
    return keys


def public_grants(statements_: list[Statement], service: str) -> list[tuple[Statement, str]]:
    """(statement, problem) for each way an Allow opens a resource policy: Principal `*`
    without a SOURCE_KEYS condition, a service principal without `aws:SourceArn`, or action
    `*` / `<service>:*`."""
    found: list[tuple[Statement, str]] = []
    source_keys = {k.lower() for k in SOURCE_KEYS}
    for statement in statements_:
        if not statement.allow:
            continue
        keys = condition_keys(statement)
        if public_principal(statement.principal) and not keys & source_keys:
            names = f"{', '.join(SOURCE_KEYS[:-1])} or {SOURCE_KEYS[-1]}"
            found.append((statement, f"allows Principal * without an {names} condition"))
        services = service_principals(statement.principal)
        if services and "aws:sourcearn" not in keys:
            found.append(
                (statement, f"allows {', '.join(services)} without an aws:SourceArn condition")
            )
        broad = [a for a in statement.actions if a.lower() in ("*", f"{service}:*")]
        if broad:
            found.append((statement, f"allows action {broad[0]} (every {service} action)"))
    return found


def denies_insecure_transport(statements_: list[Statement], action: str) -> bool:
    """Whether a Deny for every principal covers `action` when `aws:SecureTransport` is false."""
    for statement in statements_:
        if statement.effect != "Deny" or not public_principal(statement.principal):
            continue
        if not any(action_matches(a, action) for a in statement.actions):
            continue
        for operator, entries in statement.condition.items():
            if str(operator) not in ("Bool", "BoolIfExists") or not isinstance(entries, Mapping):
                continue
            for key, value in entries.items():
                if str(key).lower() == "aws:securetransport" and any(
                    str(v).lower() == "false" for v in as_list(value)
                ):
                    return True
    return False
