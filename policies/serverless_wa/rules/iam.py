"""IAM rules.

Documents come from every source `_iam` knows (Policy, RolePolicy, Role inline policies and
the attachments); only Allow statements matter. Findings are granular, one per action, with
the action as `detail`, so a config exemption can accept a single grant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Graph, Node
from serverless_wa.props import UNKNOWN, as_list
from serverless_wa.registry import Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._actions import accepts
from serverless_wa.rules._common import FUNCTION, arn, case, stack_case
from serverless_wa.rules._iam import (
    ATTACHMENTS_EXCLUSIVE,
    POLICY,
    POLICY_ATTACHMENT,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    Statement,
    action_matches,
    documents_of,
    role_documents,
    statements,
    trusted_services,
)

ACCESS_KEY = "aws:iam/accessKey:AccessKey"
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"

# What the role-level rules (IAM-002, IAM-006) read of every policy source.
ROLE_SOURCE_READS: dict[str, tuple[str, ...]] = {
    ROLE: ("assumeRolePolicy", "inlinePolicies.policy", "managedPolicyArns", "name", "arn"),
    POLICY: ("policy", "arn"),
    ROLE_POLICY: ("role", "policy"),
    ROLE_POLICY_ATTACHMENT: ("role", "policyArn"),
    POLICY_ATTACHMENT: ("roles", "policyArn"),
    ATTACHMENTS_EXCLUSIVE: ("roleName", "policyArns"),
}
ROLE_SOURCE_TYPES = tuple(ROLE_SOURCE_READS)
DOCUMENT_READS: dict[str, tuple[str, ...]] = {
    POLICY: ("policy",),
    ROLE_POLICY: ("policy",),
    ROLE: ("inlinePolicies.policy",),
}


def _allow_statements(node: Node) -> list[Statement]:
    """The Allow statements of every known document the resource carries."""
    found: list[Statement] = []
    for document in documents_of(node):
        found += [s for s in statements(document, node) or [] if s.allow]
    return found


def _service_roles(graph: Graph, principals: set[str]) -> Iterator[tuple[Node, list[Statement]]]:
    """Roles trusted by one of `principals`, with every Allow statement granted to them."""
    for role in graph.of_type(ROLE):
        trusted = trusted_services(role)
        if trusted is None or not trusted & principals:
            continue
        granted, _ = role_documents(graph, role)
        yield role, [s for s in granted if s.allow]


def _where(statement: Statement) -> str:
    kind = statement.source.type.rsplit(":", 1)[-1]
    return f'{kind} "{statement.source.name}" statement {statement.label}'


def _document(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _trust(service: str) -> str:
    return _document(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


TABLE_ARN = arn("dynamodb", "table/orders")


# IAM-001 ------------------------------------------------------------------------------------


def _service_wildcard(action: str) -> bool:
    """`*` or `<service>:*` (every action of a service)."""
    return action == "*" or action.partition(":")[2] == "*"


def _no_wildcard_actions(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    seen: set[str] = set()
    for statement in _allow_statements(node):
        for action in statement.actions:
            if _service_wildcard(action) and action not in seen:
                seen.add(action)
                yield Finding(f"statement {statement.label} allows {action}", detail=action)
        if statement.not_actions and "NotAction" not in seen:
            seen.add("NotAction")
            yield Finding(
                f"statement {statement.label} allows everything but NotAction "
                f"{', '.join(statement.not_actions)}",
                detail="NotAction",
            )


register(
    Rule(
        id="IAM-001",
        name="iam-no-wildcard-actions",
        title="IAM policies allow no wildcard actions",
        description=(
            "A finding for each Allow of action * or <service>:*, and for any Allow that uses "
            "NotAction, in Policy, RolePolicy and Role inline documents."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(POLICY, ROLE_POLICY, ROLE),
        reads=DOCUMENT_READS,
        anchors=anchors(cdk_nag="AwsSolutions-IAM5", checkov="CKV_AWS_62, CKV_AWS_63"),
        knob="statements",
        raw="policy",
        remediation=(
            "Raw: list the actions the code calls, e.g. Action ['dynamodb:GetItem', "
            "'dynamodb:PutItem'] instead of 'dynamodb:*'. "
            "Component: pass iam.Statement grants per action; the role is built from them."
        ),
        check=_no_wildcard_actions,
        examples=Examples(
            compliant=(
                case(
                    ROLE_POLICY,
                    {
                        "role": "worker-role",
                        "policy": _document(
                            _allow(["dynamodb:GetItem", "dynamodb:PutItem"], TABLE_ARN)
                        ),
                    },
                ),
                case(
                    ROLE_POLICY,
                    {
                        "role": "worker-role",
                        "policy": _document({"Effect": "Deny", "Action": "*", "Resource": "*"}),
                    },
                ),
            ),
            non_compliant=(
                case(POLICY, {"policy": _document(_allow("dynamodb:*", TABLE_ARN))}),
                case(ROLE_POLICY, {"role": "worker-role", "policy": _document(_allow("*"))}),
                case(
                    ROLE,
                    {
                        "assumeRolePolicy": _trust(LAMBDA_PRINCIPAL),
                        "inlinePolicies": [
                            {
                                "name": "inline",
                                "policy": _document(
                                    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
                                ),
                            }
                        ],
                    },
                ),
            ),
        ),
    )
)


# IAM-002 ------------------------------------------------------------------------------------


def _principal_names(configured: Any) -> set[str]:
    names = configured if isinstance(configured, list) else [LAMBDA_PRINCIPAL]
    return {n if "." in str(n) else f"{n}.amazonaws.com" for n in map(str, names)}


def _service_role_no_star(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    principals = _principal_names(config.get("service_principals"))
    for role, granted in _service_roles(graph, principals):
        seen: set[str] = set()
        for statement in granted:
            for action in statement.actions:
                if _reported_by_iam001(statement, action):
                    continue  # one statement, one finding
                if "*" in action and action not in seen:
                    seen.add(action)
                    yield Finding(
                        f"service role is allowed {action} ({_where(statement)})",
                        urn=role.urn,
                        detail=action,
                    )


def _reported_by_iam001(statement: Statement, action: str) -> bool:
    """A full wildcard in a document IAM-001 reads is IAM-001's finding alone."""
    return _service_wildcard(action) and statement.source.type in DOCUMENT_READS


def _role(name: str = "worker-role", service: str = LAMBDA_PRINCIPAL) -> Resource:
    return Resource(
        ROLE,
        name,
        {
            "name": name,
            "arn": f"arn:aws:iam::123456789012:role/{name}",
            "assumeRolePolicy": _trust(service),
        },
    )


def _role_policy(*statements_: dict[str, Any], role: str = "worker-role") -> Resource:
    """Preview shape: the RolePolicy depends on its role."""
    return Resource(
        ROLE_POLICY,
        f"{role}-policy",
        {"role": role, "policy": _document(*statements_)},
        depends={"role": (role,)},
    )


def _role_policy_by_name(*statements_: dict[str, Any], role: str = "worker-role") -> Resource:
    """Fallback shape: the RolePolicy names its role, no dependencies."""
    return Resource(
        ROLE_POLICY, f"{role}-policy", {"role": role, "policy": _document(*statements_)}
    )


register(
    Rule(
        id="IAM-002",
        name="iam-service-role-no-star",
        title="Service roles are allowed no wildcard actions at all",
        description=(
            "Roles whose trust policy names lambda.amazonaws.com (service_principals can add "
            "states, pipes, scheduler, events) may not be allowed any action containing *, "
            "partial wildcards such as s3:Get* included, from any policy source. A full "
            "wildcard (* or <service>:*) in a document IAM-001 reads is reported by IAM-001 "
            "only: one statement, one finding."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=ROLE_SOURCE_TYPES,
        reads=ROLE_SOURCE_READS,
        anchors=anchors(
            serverless_rules="WS1003",
            cdk_nag="Serverless-LambdaStarPermissions, AwsSolutions-IAM5",
        ),
        knob="statements",
        raw="policy",
        remediation=(
            "Raw: name each action (s3:GetObject, not s3:Get*) in the role's policies. "
            "Component: pass iam.Statement grants per action."
        ),
        check=_service_role_no_star,
        config={
            "service_principals": {
                "type": "array",
                "items": {"type": "string"},
                "default": [LAMBDA_PRINCIPAL],
            }
        },
        examples=Examples(
            compliant=(
                stack_case(
                    _role(),
                    _role_policy(_allow(["dynamodb:GetItem", "dynamodb:PutItem"], TABLE_ARN)),
                    subject="worker-role",
                ),
                # A full wildcard: IAM-001's finding, not reported twice.
                stack_case(
                    _role(),
                    _role_policy(_allow("dynamodb:*", TABLE_ARN)),
                    subject="worker-role",
                ),
                # Not a service role of the configured principals.
                stack_case(
                    _role(service="ec2.amazonaws.com"),
                    _role_policy(_allow("s3:Get*", "arn:aws:s3:::uploads/*")),
                    subject="worker-role",
                ),
            ),
            non_compliant=(
                stack_case(
                    _role(),
                    _role_policy(_allow("s3:Get*", "arn:aws:s3:::uploads/*")),
                    subject="worker-role",
                ),
                stack_case(
                    _role(),
                    _role_policy_by_name(_allow(["dynamodb:Get*", "dynamodb:Query"], TABLE_ARN)),
                    subject="worker-role",
                ),
                stack_case(
                    _role(service="states.amazonaws.com"),
                    _role_policy(_allow("lambda:Invoke*", arn("lambda", "function:worker"))),
                    subject="worker-role",
                    config={"service_principals": ["lambda", "states"]},
                ),
            ),
        ),
    )
)


# IAM-003 ------------------------------------------------------------------------------------

BROAD_MANAGED = ("AdministratorAccess", "PowerUserAccess")
_AWS_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.+/)?([^/]+)$")


def _broad_managed_policy(value: Any) -> str | None:
    """The name of an AWS-managed AdministratorAccess, PowerUserAccess or *FullAccess ARN."""
    match = _AWS_MANAGED.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    name = match.group(1)
    return name if name in BROAD_MANAGED or name.endswith("FullAccess") else None


def _no_broad_managed(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    prop = {
        ROLE: "managedPolicyArns",
        ATTACHMENTS_EXCLUSIVE: "policyArns",
    }.get(node.type, "policyArn")
    seen: set[str] = set()
    for value in as_list(node.get(prop)):
        name = _broad_managed_policy(value)
        if name is not None and name not in seen:
            seen.add(name)
            yield Finding(f"attaches the AWS-managed policy {name}", detail=name)


register(
    Rule(
        id="IAM-003",
        name="iam-no-broad-managed-policies",
        title="Roles attach no broad AWS-managed policies",
        description=(
            "Attaching AdministratorAccess, PowerUserAccess or any AWS-managed *FullAccess "
            "policy is a finding; narrow policies such as AWSLambdaBasicExecutionRole are fine."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(ROLE_POLICY_ATTACHMENT, POLICY_ATTACHMENT, ATTACHMENTS_EXCLUSIVE, ROLE),
        reads={
            ROLE_POLICY_ATTACHMENT: ("policyArn",),
            POLICY_ATTACHMENT: ("policyArn",),
            ATTACHMENTS_EXCLUSIVE: ("policyArns",),
            ROLE: ("managedPolicyArns",),
        },
        anchors=anchors(cdk_nag="AwsSolutions-IAM4 (broader: any AWS-managed policy)"),
        knob="statements",
        raw="policy_arn",
        remediation=(
            "Raw: replace the attachment with an aws.iam.RolePolicy listing the actions and "
            "resources the code uses. Component: pass iam.Statement grants."
        ),
        check=_no_broad_managed,
        examples=Examples(
            compliant=(
                case(
                    ROLE_POLICY_ATTACHMENT,
                    {
                        "role": "worker-role",
                        "policyArn": (
                            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
                        ),
                    },
                ),
                case(
                    ROLE_POLICY_ATTACHMENT,
                    {
                        "role": "worker-role",
                        "policyArn": "arn:aws:iam::123456789012:policy/AppFullAccess",
                    },
                ),
            ),
            non_compliant=(
                case(
                    ROLE_POLICY_ATTACHMENT,
                    {
                        "role": "worker-role",
                        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
                    },
                ),
                case(
                    POLICY_ATTACHMENT,
                    {
                        "roles": ["worker-role"],
                        "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess",
                    },
                ),
                case(
                    ATTACHMENTS_EXCLUSIVE,
                    {
                        "roleName": "worker-role",
                        "policyArns": [
                            "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
                            "arn:aws:iam::aws:policy/PowerUserAccess",
                        ],
                    },
                ),
                case(
                    ROLE,
                    {
                        "assumeRolePolicy": _trust(LAMBDA_PRINCIPAL),
                        "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"],
                    },
                ),
            ),
        ),
    )
)


# IAM-004 ------------------------------------------------------------------------------------

DATA_PLANE_SERVICES = ("s3", "dynamodb", "sqs", "sns", "kinesis", "secretsmanager")
DATA_PLANE_ACTIONS = (
    "ssm:GetParameter*",
    "kms:Decrypt",
    "lambda:InvokeFunction",
    "states:StartExecution",
    "events:PutEvents",
)
# One concrete action per data-plane pattern, to tell whether a wildcard action reaches it.
DATA_PLANE_SAMPLES = (
    "s3:GetObject",
    "dynamodb:GetItem",
    "sqs:SendMessage",
    "sns:Publish",
    "kinesis:PutRecord",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParametersByPath",
    *DATA_PLANE_ACTIONS[1:],
)
# Actions with no resource-level permissions: `Resource: "*"` is the only way to grant them.
NO_RESOURCE_LEVEL = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "cloudwatch:PutMetricData",
    "s3:ListAllMyBuckets",
    "sqs:ListQueues",
    "sns:ListTopics",
    "dynamodb:ListTables",
    "kinesis:ListStreams",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:ListSecrets",
)


def _data_plane(action: str) -> bool:
    if action.partition(":")[0].lower() in DATA_PLANE_SERVICES:
        return True
    if any(action_matches(pattern, action) for pattern in DATA_PLANE_ACTIONS):
        return True
    return any(action_matches(action, sample) for sample in DATA_PLANE_SAMPLES)


def _data_plane_scoped(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    allowed = config.get("allowed_actions")
    exempt = [str(a) for a in allowed] if isinstance(allowed, list) else list(NO_RESOURCE_LEVEL)
    seen: set[str] = set()
    for statement in _allow_statements(node):
        if "*" not in statement.resources:
            continue
        for action in statement.actions:
            if action in seen or not _data_plane(action):
                continue
            if any(action_matches(pattern, action) for pattern in exempt):
                continue
            accepted = accepts(action)
            if accepted is not None and accepted.only_star:  # "*" is the only way to grant it
                continue
            seen.add(action)
            yield Finding(
                f"statement {statement.label} allows {action} on Resource *", detail=action
            )


register(
    Rule(
        id="IAM-004",
        name="iam-data-plane-resource-scoped",
        title="Data-plane grants name their resources",
        description=(
            "An Allow with Resource * and a data-plane action (s3, dynamodb, sqs, sns, kinesis, "
            "secretsmanager, ssm:GetParameter*, kms:Decrypt, lambda:InvokeFunction, "
            "states:StartExecution, events:PutEvents) is a finding. Actions the Service "
            "Authorization Reference lists with no resource type (they accept only *) and "
            "the allowed_actions list are not."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(POLICY, ROLE_POLICY, ROLE),
        reads=DOCUMENT_READS,
        anchors=anchors(cdk_nag="AwsSolutions-IAM5 (its Resource::* findings)"),
        knob="statements",
        raw="policy Resource",
        remediation=(
            "Raw: Resource [table.arn, f'{table.arn}/index/*'] instead of '*'. "
            "Component: iam.Statement grants take the resource's ARN."
        ),
        check=_data_plane_scoped,
        config={
            "allowed_actions": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(NO_RESOURCE_LEVEL),
            }
        },
        examples=Examples(
            compliant=(
                case(
                    ROLE_POLICY,
                    {
                        "role": "worker-role",
                        "policy": _document(
                            _allow("dynamodb:PutItem", TABLE_ARN),
                            _allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"]),
                            _allow("cloudwatch:PutMetricData"),
                        ),
                    },
                ),
            ),
            non_compliant=(
                case(
                    ROLE_POLICY,
                    {
                        "role": "worker-role",
                        "policy": _document(_allow(["dynamodb:PutItem", "xray:PutTraceSegments"])),
                    },
                ),
                case(POLICY, {"policy": _document(_allow("ssm:GetParameter", ["*"]))}),
                case(
                    ROLE,
                    {
                        "assumeRolePolicy": _trust(LAMBDA_PRINCIPAL),
                        "inlinePolicies": [
                            {"name": "inline", "policy": _document(_allow("kms:*"))}
                        ],
                    },
                ),
            ),
        ),
    )
)


# IAM-005 ------------------------------------------------------------------------------------


def _role_key(graph: Graph, function: Node) -> str | None:
    """The role a function runs as: its URN when in the stack, else the role ARN."""
    roles = [n for n in function.deps.get("role", []) if n.type == ROLE]
    if len(roles) == 1:
        return roles[0].urn
    value = function.get("role")
    if not isinstance(value, str) or not value:
        return None
    role = graph.find(value, (ROLE,))
    return role.urn if role is not None else value


def _role_per_function(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    sharing: dict[str, list[Node]] = {}
    for function in graph.of_type(FUNCTION):
        key = _role_key(graph, function)
        if key is not None:
            sharing.setdefault(key, []).append(function)
    for functions in sharing.values():
        first = functions[0]
        for function in functions[1:]:
            yield Finding(f'shares its role with function "{first.name}"', urn=function.urn)


def _function(name: str, role: str, *, linked: bool) -> Resource:
    """A function running as `role`: linked by a dependency (preview shape) or by ARN only."""
    depends = {"role": (role,)} if linked else {}
    props = {"name": name, "role": ROLE_ARN.format(role)}
    return Resource(FUNCTION, name, props, depends=depends)


ROLE_ARN = "arn:aws:iam::123456789012:role/{}"

register(
    Rule(
        id="IAM-005",
        name="lambda-role-per-function",
        title="Each Lambda function has a role of its own",
        description=(
            "Two or more functions sharing one role give one finding per extra function: a "
            "shared role holds the union of their permissions."
        ),
        severity="LOW",
        pillar="SEC",
        scope="stack",
        types=(FUNCTION,),
        reads={FUNCTION: ("role",)},
        anchors=anchors(),
        knob="",
        raw="role",
        remediation=(
            "Raw: one aws.iam.Role per aws.lambda_.Function. "
            "Component: LambdaFunction creates a role per function."
        ),
        check=_role_per_function,
        examples=Examples(
            compliant=(
                stack_case(
                    _role("a-role"),
                    _role("b-role"),
                    _function("a", "a-role", linked=True),
                    _function("b", "b-role", linked=True),
                    subject="b",
                ),
                stack_case(
                    _role("a-role"),
                    _role("b-role"),
                    _function("a", "a-role", linked=False),
                    _function("b", "b-role", linked=False),
                    subject="b",
                ),
            ),
            non_compliant=(
                # Fallback shape: known role ARNs, no dependencies.
                stack_case(
                    _role("shared-role"),
                    _function("a", "shared-role", linked=False),
                    _function("b", "shared-role", linked=False),
                    subject="b",
                ),
            ),
        ),
    )
)


# IAM-006 ------------------------------------------------------------------------------------

DIRECT_INVOKE = ("lambda:InvokeFunction", "lambda:InvokeAsync")


def _no_direct_invoke(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for role, granted in _service_roles(graph, {LAMBDA_PRINCIPAL}):
        seen: set[str] = set()
        for statement in granted:
            for action in statement.actions:
                if action in seen or not any(action_matches(action, a) for a in DIRECT_INVOKE):
                    continue
                seen.add(action)
                yield Finding(
                    f"function role is allowed {action} ({_where(statement)}): functions call "
                    "each other directly",
                    urn=role.urn,
                    detail=action,
                )


register(
    Rule(
        id="IAM-006",
        name="lambda-no-direct-invoke",
        title="Functions do not invoke each other directly",
        description=(
            "A role trusted by lambda.amazonaws.com that is allowed lambda:InvokeFunction, "
            "lambda:InvokeAsync or lambda:* is a finding; put a queue, a bus or a state machine "
            "between functions. Orchestrators take an exemption."
        ),
        severity="LOW",
        pillar="REL",
        scope="stack",
        types=ROLE_SOURCE_TYPES,
        reads=ROLE_SOURCE_READS,
        anchors=anchors(),
        knob="statements",
        raw="policy",
        remediation=(
            "Raw: send to an aws.sqs.Queue or aws.cloudwatch.EventBus the other function "
            "consumes, or orchestrate with aws.sfn.StateMachine, instead of lambda:InvokeFunction."
        ),
        check=_no_direct_invoke,
        examples=Examples(
            compliant=(
                stack_case(
                    _role(),
                    _role_policy(_allow("sqs:SendMessage", arn("sqs", "jobs"))),
                    subject="worker-role",
                ),
                stack_case(
                    _role(service="states.amazonaws.com"),
                    _role_policy(_allow("lambda:InvokeFunction", arn("lambda", "function:a"))),
                    subject="worker-role",
                ),
            ),
            non_compliant=(
                stack_case(
                    _role(),
                    _role_policy(_allow("lambda:InvokeFunction", arn("lambda", "function:other"))),
                    subject="worker-role",
                ),
                stack_case(
                    _role(),
                    _role_policy_by_name(_allow("lambda:*", arn("lambda", "function:other"))),
                    subject="worker-role",
                ),
            ),
        ),
    )
)


# IAM-007 ------------------------------------------------------------------------------------


def _no_access_keys(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    status = node.get("status")
    if status is UNKNOWN:
        return
    shown = status if isinstance(status, str) and status else "Active"
    yield Finding(f"an IAM user access key ({shown}) is created; workloads use roles")


register(
    Rule(
        id="IAM-007",
        name="iam-no-access-keys",
        title="Stacks create no IAM access keys",
        description="Any aws.iam.AccessKey is a finding: workloads use roles, not long-lived keys.",
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(ACCESS_KEY,),
        reads={ACCESS_KEY: ("status",)},
        anchors=anchors(),
        knob="",
        raw="aws.iam.AccessKey",
        remediation=(
            "Raw: delete the aws.iam.AccessKey; give the workload an aws.iam.Role (or OIDC "
            "federation for CI) instead."
        ),
        check=_no_access_keys,
        examples=Examples(
            compliant=(case(ROLE, {"assumeRolePolicy": _trust(LAMBDA_PRINCIPAL)}),),
            non_compliant=(
                case(ACCESS_KEY, {"user": "deployer"}),
                case(ACCESS_KEY, {"user": "deployer", "status": "Inactive"}),
            ),
        ),
    )
)
