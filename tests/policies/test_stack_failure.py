"""STACK-003 to STACK-012: the regression cases of the rule contract, section 4, a few paths the
examples do not show, shared-setting parity and robustness against odd property values."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from preview import gate, provider_defaults
from serverless_wa.graph import Graph, Node
from serverless_wa.props import Props
from serverless_wa.registry import REGISTRY, Case, Resource, Rule, rules
from serverless_wa.rules import stack_failure as sf
from serverless_wa.rules._common import arn, stack_case
from tests.policies.harness import findings_of, run_case, set_path, subject_urn, urn_of

RULES = rules()
OURS = [REGISTRY[f"STACK-{n:03d}"] for n in range(3, 13)]
FN_ARN = arn("lambda", "function:worker")
DLQ_ARN = arn("sqs", "worker-dlq")
INVOKE_URI = f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{FN_ARN}/invocations"


def found(pack: Any, rule_id: str, case: Case, **config: Any) -> list[gate.Finding]:
    rule = REGISTRY[rule_id]
    return findings_of(run_case(pack, rule, case, **config), rule)


# Regression cases (section 4) ----------------------------------------------------------------


def test_stack_003_fails_an_over_budget_sum_that_no_single_function_exceeds(pack):
    functions = [
        Resource(sf.FUNCTION, name, {"reservedConcurrentExecutions": 250})
        for name in ("a", "b", "c", "d")
    ]
    over = found(pack, "STACK-003", stack_case(*functions, subject="a"))
    assert len(over) == 1
    assert "totals 1000 over 4 functions" in over[0].message
    at_budget = stack_case(*functions[:3], Resource(sf.FUNCTION, "d", {}), subject="a")
    assert found(pack, "STACK-003", at_budget) == []


def test_stack_003_lists_unknown_reservations_it_left_out(pack):
    case = stack_case(
        Resource(sf.FUNCTION, "big", {"reservedConcurrentExecutions": 950}),
        Resource(sf.FUNCTION, "later", {"reservedConcurrentExecutions": gate.UNKNOWN}),
        subject="big",
    )
    (finding,) = found(pack, "STACK-003", case)
    assert finding.urn == subject_urn(case)
    assert "left out as unknown: later" in finding.message


def _eventbridge_to_lambda(*extra: Resource, function: dict[str, Any] | None = None) -> Case:
    return stack_case(
        Resource(sf.QUEUE, "target-dlq", {}),
        Resource(sf.FUNCTION, "worker", function or {}),
        Resource(
            sf.EVENT_TARGET,
            "target",
            {"deadLetterConfig": {"arn": sf.PENDING}},
            depends={"arn": ("worker",), "deadLetterConfig": ("target-dlq",)},
        ),
        *extra,
        subject="worker",
    )


def test_stack_004_fails_eventbridge_to_lambda_with_only_a_target_dlq(pack):
    (finding,) = found(pack, "STACK-004", _eventbridge_to_lambda())
    assert 'EventTarget "target"' in finding.message
    assert "neither an on-failure destination nor a DLQ" in finding.message


@pytest.mark.parametrize("handling", ["on_failure", "dead_letter"])
def test_stack_004_passes_eventbridge_to_lambda_with_failure_handling(pack, handling):
    if handling == "dead_letter":
        case = _eventbridge_to_lambda(function={"deadLetterConfig": {"targetArn": sf.PENDING}})
    else:
        case = _eventbridge_to_lambda(
            Resource(
                sf.INVOKE_CONFIG,
                "async",
                {"destinationConfig": {"onFailure": {"destination": sf.PENDING}}},
                depends={"functionName": ("worker",), "destinationConfig": ("target-dlq",)},
            )
        )
    assert found(pack, "STACK-004", case) == []


def test_stack_004_passes_a_function_reached_only_through_an_api(pack):
    case = stack_case(
        Resource(sf.FUNCTION, "handler", {"arn": FN_ARN}),
        Resource(
            sf.REST_INTEGRATION,
            "integration",
            {"type": "AWS_PROXY", "uri": INVOKE_URI},
        ),
        Resource(
            sf.PERMISSION,
            "invoke",
            {"principal": "apigateway.amazonaws.com", "function": FN_ARN},
            depends={"function": ("handler",)},
        ),
        subject="handler",
    )
    assert found(pack, "STACK-004", case) == []


# Paths the examples do not show -----------------------------------------------------------


@pytest.mark.parametrize(
    "invoker",
    [
        Resource(
            "aws:s3/bucketNotification:BucketNotification",
            "uploads",
            {"lambdaFunctions": [{"lambdaFunctionArn": FN_ARN, "events": ["s3:ObjectCreated:*"]}]},
        ),
        Resource(
            sf.PIPE,
            "pipe",
            {
                "target": FN_ARN,
                "targetParameters": {
                    "lambdaFunctionParameters": {"invocationType": "FIRE_AND_FORGET"}
                },
            },
        ),
        Resource(sf.SCHEDULE, "nightly", {"target": {"arn": FN_ARN, "roleArn": "r"}}),
        Resource(
            sf.PERMISSION,
            "logs",
            {"principal": "logs.eu-west-1.amazonaws.com", "function": FN_ARN},
        ),
    ],
    ids=["bucket-notification", "pipe-fire-and-forget", "schedule", "logs-regional"],
)
def test_stack_004_covers_every_asynchronous_path(pack, invoker):
    case = stack_case(Resource(sf.FUNCTION, "worker", {"arn": FN_ARN}), invoker, subject="worker")
    assert len(found(pack, "STACK-004", case)) == 1


def test_stack_004_a_config_for_the_invoked_alias_covers_it(pack):
    case = stack_case(
        Resource(sf.FUNCTION, "worker", {"arn": FN_ARN}),
        Resource(sf.EVENT_TARGET, "target", {"arn": f"{FN_ARN}:live"}),
        Resource(
            sf.INVOKE_CONFIG,
            "async",
            {
                "functionName": "worker",
                "qualifier": "live",
                "destinationConfig": {"onFailure": {"destination": DLQ_ARN}},
            },
            depends={"functionName": ("worker",)},
        ),
        subject="worker",
    )
    assert found(pack, "STACK-004", case) == []


def test_stack_007_accepts_an_actionless_alarm_when_actions_are_not_required(pack):
    case = REGISTRY["STACK-007"].examples.non_compliant[1]
    (finding,) = found(pack, "STACK-007", case)
    assert 'DLQ depth alarm "depth" has no alarmActions, so nobody is told' in finding.message
    assert found(pack, "STACK-007", case, require_alarm_actions=False) == []


def _role_sender(*attachments: str) -> Case:
    return stack_case(
        Resource(sf.QUEUE, "worker-dlq", {"arn": DLQ_ARN}),
        Resource(sf.ROLE, "worker-role", {}),
        *[
            Resource(
                sf.ROLE_POLICY_ATTACHMENT,
                f"attach-{index}",
                {"policyArn": f"arn:aws:iam::aws:policy/{name}"},
                depends={"role": ("worker-role",)},
            )
            for index, name in enumerate(attachments)
        ],
        Resource(
            sf.FUNCTION,
            "worker",
            {"deadLetterConfig": {"targetArn": DLQ_ARN}},
            depends={"role": ("worker-role",), "deadLetterConfig": ("worker-dlq",)},
        ),
        subject="worker",
    )


def test_stack_008_judges_roles_only_when_every_policy_can_be_read(pack):
    narrow = found(pack, "STACK-008", _role_sender("service-role/AWSLambdaBasicExecutionRole"))
    assert len(narrow) == 1 and 'role "worker-role" is not allowed sqs:SendMessage' in (
        narrow[0].message
    )
    assert found(pack, "STACK-008", _role_sender("AmazonSQSFullAccess")) == []


def test_stack_010_websocket_and_http_defaults_differ(pack):
    case = REGISTRY["STACK-010"].examples.non_compliant[1]  # WebSocket, 30 s function
    (finding,) = found(pack, "STACK-010", case)
    assert (
        'timeout 30 s outlasts API integration "integration" (29 s), so clients get a 504 while the'
        " function keeps running" in finding.message
    )
    http = tuple(
        Resource(r.type, r.name, {**r.props, "protocolType": "HTTP"}, r.parent, r.depends)
        if r.type == sf.V2_API
        else r
        for r in case.resources
    )
    assert found(pack, "STACK-010", Case(http, case.subject)) == []


def test_stack_012_follows_appsync_lambda_data_sources(pack):
    case = stack_case(
        Resource(sf.GRAPHQL_API, "graphql", {"xrayEnabled": True}),
        Resource(sf.FUNCTION, "resolver", {}),
        Resource(
            sf.DATA_SOURCE,
            "lambda-source",
            {"type": "AWS_LAMBDA", "lambdaConfig": {"functionArn": sf.PENDING}},
            depends={"apiId": ("graphql",), "lambdaConfig": ("resolver",)},
        ),
        subject="resolver",
    )
    (finding,) = found(pack, "STACK-012", case)
    assert 'GraphQLApi "graphql"' in finding.message


def test_stack_003_reservations_elsewhere_alone_are_not_this_stacks_finding(pack):
    case = stack_case(Resource(sf.FUNCTION, "a", {}), subject="a")
    assert found(pack, "STACK-003", case, reserved_elsewhere=5000) == []


def test_stack_005_an_empty_redrive_allow_policy_does_not_make_a_dlq(pack):
    case = stack_case(
        Resource(sf.QUEUE, "jobs", {"redriveAllowPolicy": "", "policy": ""}), subject="jobs"
    )
    assert found(pack, "STACK-005", case) == []
    assert found(pack, "STACK-007", case) == []


def test_stack_008_an_empty_inline_queue_policy_is_no_policy(pack):
    case = stack_case(
        Resource(sf.QUEUE, "target-dlq", {"policy": ""}),
        Resource(
            sf.EVENT_TARGET,
            "target",
            {"deadLetterConfig": {"arn": sf.PENDING}},
            depends={"deadLetterConfig": ("target-dlq",)},
        ),
        subject="target-dlq",
    )
    (finding,) = found(pack, "STACK-008", case)
    assert "no queue policy lets events.amazonaws.com send" in finding.message


def test_stack_009_an_unknown_consumer_does_not_hide_a_known_gap(pack):
    case = stack_case(
        Resource(sf.QUEUE, "jobs", {"visibilityTimeoutSeconds": 30}),
        Resource(sf.FUNCTION, "known", {"timeout": 10}),
        Resource(sf.FUNCTION, "later", {"timeout": gate.UNKNOWN}),
        *[
            Resource(
                sf.ESM,
                f"{name}-mapping",
                {},
                depends={"eventSourceArn": ("jobs",), "functionName": (name,)},
            )
            for name in ("known", "later")
        ],
        subject="jobs",
    )
    (finding,) = found(pack, "STACK-009", case)
    assert '= 60 s (mapping "known-mapping")' in finding.message


# Shared settings (section 2, item 5) ------------------------------------------------------


def test_settings_declared_by_several_rules_have_equal_schemas():
    declared: dict[str, list[tuple[str, Any]]] = {}
    for rule in RULES:
        for key, schema in rule.config.items():
            declared.setdefault(key, []).append((rule.id, schema.get("default")))
    for key, copies in declared.items():
        defaults = {json.dumps(default, sort_keys=True) for _, default in copies}
        assert len(defaults) == 1, f"{key} has different defaults in {copies}"


# Odd property values never raise ---------------------------------------------------------

ODD_VALUES = [None, [], {}, "", "not-json{", 7, True, [None, 3], {"x": [1]}]


def graph_of(case: Case) -> Graph:
    """The graph a stack rule sees for `case` (outputs with the service's values), built
    directly so that an exception in a check surfaces instead of becoming not-applicable."""
    by_name = {r.name: r for r in case.resources}
    nodes = {
        r.name: Node(
            r.type,
            r.name,
            urn_of(by_name, r.name),
            Props(provider_defaults.service_outputs(r.type, copy.deepcopy(dict(r.props)))),
        )
        for r in case.resources
    }
    for r in case.resources:
        if r.parent:
            nodes[r.name].parent = nodes[r.parent]
        nodes[r.name].deps = {p: [nodes[n] for n in names] for p, names in r.depends.items()}
    return Graph(list(nodes.values()))


def _with_prefixes(paths: tuple[str, ...]) -> list[str]:
    """`a.b.c` and also `a` and `a.b`, so whole blocks get odd values too."""
    steps = {".".join(p.split(".")[: n + 1]) for p in paths for n in range(p.count(".") + 1)}
    return sorted(steps)


def _mutations(rule: Rule) -> list[tuple[str, Case]]:
    mutated = []
    for case in (*rule.examples.compliant, *rule.examples.non_compliant):
        for index, resource in enumerate(case.resources):
            for path in _with_prefixes(rule.reads.get(resource.type, ())):
                for value in ODD_VALUES:
                    props = copy.deepcopy(dict(resource.props))
                    set_path(props, path, value)
                    changed = Resource(
                        resource.type, resource.name, props, resource.parent, resource.depends
                    )
                    resources = list(case.resources)
                    resources[index] = changed
                    label = f"{resource.name}.{path}={value!r}"
                    mutated.append((label, Case(tuple(resources), case.subject, case.config)))
    return mutated


@pytest.mark.parametrize("rule", OURS, ids=[r.id for r in OURS])
def test_odd_property_values_never_raise(rule):
    for label, case in _mutations(rule):
        try:
            list(rule.check(graph_of(case), rule.defaults()))
        except Exception as error:  # pragma: no cover - the assertion names the case
            pytest.fail(f"{rule.id} raised {type(error).__name__} for {label}: {error}")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1209600, "1209600"),  # 14 days of seconds: `:g` wrote 1.2096e+06
        (1209600.0, "1209600"),
        (345600, "345600"),
        (0.5, "0.5"),
        (29.25, "29.25"),
        (1234567.5, "1234567.5"),
        (-3, "-3"),
        (1e-7, "1e-07"),
        (float("inf"), "inf"),
    ],
)
def test_messages_show_numbers_in_full(value, shown):
    from serverless_wa.registry import figure

    assert figure(value) == shown
