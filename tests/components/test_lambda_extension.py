"""ExtensionLayer under mocks: the layer (architectures, runtimes, code, no sharing), the
functions built with it (layer ARN, environment, least-privilege reads), an existing layer,
stack config, argument checks and the prod gate."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.config import ConfigError, parse
from components.core import defaults
from components.core.settings import Settings
from components.lambda_extension import ConsumerSpec, ExtensionLayer, ExtensionLayerArgs
from preview import gate
from tests.helpers import statements_of_role

FN = "aws:lambda/function:Function"
LAYER = "aws:lambda/layerVersion:LayerVersion"
ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:orders/db-AbCdEf"
OTHER_SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:orders/api-key-GhIjKl"
PARAMETER = "/orders/feature-flags"
ALLOWED = {"allowed_secrets": [SECRET, OTHER_SECRET], "allowed_parameters": [PARAMETER, "plain"]}


def extension(**kwargs):
    return lambda: ExtensionLayer("cfg", ExtensionLayerArgs(**kwargs))


def test_the_layer_is_arm64_python_only_versioned_and_not_shared(build):
    plan = build(extension(**ALLOWED))
    layer = plan.one(LAYER)
    assert layer.inputs["compatibleArchitectures"] == ["arm64"]
    assert layer.inputs["compatibleRuntimes"] == ["python3.11", "python3.12", "python3.13"]
    assert layer.inputs["layerName"] == "test-cfg-config-cache"
    assert layer.inputs["sourceCodeHash"]
    assert plan.of_type("aws:lambda/layerVersionPermission:LayerVersionPermission") == []


def test_every_function_built_with_it_lists_the_layer_and_matches_its_architecture(build):
    consumers = [
        ConsumerSpec(name="orders", handler="demo.handler"),
        ConsumerSpec(name="billing", handler="demo.handler", memory_size=512),
    ]
    plan = build(extension(**ALLOWED, attach_to=consumers))
    layer = plan.one(LAYER)
    functions = plan.of_type(FN)
    assert sorted(f.name for f in functions) == ["cfg-billing", "cfg-demo", "cfg-orders"]
    for function in functions:
        assert function.inputs["layers"][-1] == layer.outputs["arn"]
        assert len(function.inputs["layers"]) == 2  # Powertools, then the extension
        assert function.inputs["architectures"] == layer.inputs["compatibleArchitectures"]
        assert function.inputs["runtime"] in layer.inputs["compatibleRuntimes"]
        variables = function.inputs["environment"]["variables"]
        assert variables["CONFIG_CACHE_PORT"] == "2772"
        assert variables["CONFIG_CACHE_TTL_S"] == "300"
        assert variables["CONFIG_CACHE_ALLOWED_SECRETS"] == f"{SECRET},{OTHER_SECRET}"
        assert variables["CONFIG_CACHE_ALLOWED_PARAMETERS"] == f"{PARAMETER},plain"
        assert function.inputs["tracingConfig"]["mode"] == defaults.TRACING_MODE
    assert plan.one(FN, "cfg-billing").inputs["memorySize"] == 512
    assert plan.one(FN, "cfg-demo").inputs["environment"]["variables"]["DEMO_SECRET_NAME"] == SECRET


def test_an_x86_stack_gets_an_x86_layer(build):
    plan = build(extension(**ALLOWED, settings=Settings(architecture="x86_64")))
    assert plan.one(LAYER).inputs["compatibleArchitectures"] == ["x86_64"]
    assert plan.one(FN).inputs["architectures"] == ["x86_64"]


def test_roles_read_exactly_the_allowed_names(build):
    plan = build(
        extension(**ALLOWED, attach_to=[ConsumerSpec(name="orders", handler="demo.handler")])
    )
    for role in ("cfg-demo-role", "cfg-orders-role"):
        reads = [
            s
            for s in statements_of_role(plan, role)
            if not any(a.startswith("logs:") for a in s["Action"])
        ]
        assert reads == [
            {
                "Action": ["secretsmanager:GetSecretValue"],
                "Effect": "Allow",
                "Resource": [SECRET, OTHER_SECRET],
            },
            {
                "Action": ["ssm:GetParameter"],
                "Effect": "Allow",
                "Resource": [
                    f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/orders/feature-flags",
                    f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/plain",
                ],
            },
        ]


def test_without_allowed_names_roles_get_no_read_rights(build):
    plan = build(extension())
    actions = {a for s in statements_of_role(plan, "cfg-demo-role") for a in s["Action"]}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
    variables = plan.one(FN).inputs["environment"]["variables"]
    assert "CONFIG_CACHE_ALLOWED_SECRETS" not in variables


def test_the_demo_can_be_left_out_and_the_outputs_name_what_was_built(build):
    built: list[ExtensionLayer] = []
    outputs: dict[str, object] = {}

    def program():
        component = ExtensionLayer("cfg", ExtensionLayerArgs(**ALLOWED, create_demo_function=False))
        built.append(component)
        component.layer_arn.apply(lambda arn: outputs.setdefault("layer_arn", arn))

    plan = build(program)
    assert plan.of_type(FN) == []
    assert built[0].exports["demo_function_name"] is None
    assert outputs == {"layer_arn": plan.one(LAYER).outputs["arn"]}


def test_an_existing_layer_is_attached_instead_of_building_one(build):
    def program():
        existing = aws.lambda_.LayerVersion(
            "shared-layer",
            layer_name="config-cache",
            code="s3://bucket/config-cache.zip",  # type: ignore[arg-type]
            compatible_architectures=["arm64"],
        )
        ExtensionLayer("cfg", ExtensionLayerArgs(**ALLOWED, layer=existing))

    plan = build(program)
    (layer,) = plan.of_type(LAYER)
    assert layer.name == "shared-layer"
    assert plan.one(FN).inputs["layers"][-1] == layer.outputs["arn"]
    assert [log.message.split(",")[0] for log in plan.logs if log.severity == "warning"] == [
        "layer is an existing resource"
    ]


def test_the_prod_gate_has_no_mandatory_finding(build):
    settings = Settings(
        environment="prod",
        log_retention_days=365,
        alarm_actions=(f"arn:aws:sns:eu-west-1:{ACCOUNT}:alarms",),
    )
    consumers = [ConsumerSpec(name="orders", handler="demo.handler")]
    plan = build(extension(**ALLOWED, attach_to=consumers, settings=settings))
    report = gate.run(plan, profile=gate.profile_for("prod"))
    assert report.mandatory == [], gate.render(plan, report)
    advised = {f.id for f in report.findings}
    assert advised.isdisjoint({"IAM-008", "LAMBDA-008"}), advised


def test_stack_config_builds_the_args_and_names_a_bad_key():
    args = {"ttl_s": 60, "allowed_parameters": [PARAMETER]}
    parsed = parse({"serverless-patterns:patterns": json.dumps({"lambda-extension": args})})
    (choice,) = parsed.patterns
    assert choice.args.ttl_s == 60 and choice.args.allowed_parameters == [PARAMETER]
    bad = {"port": 2773, "allowed_secrets": ["orders/db"]}
    with pytest.raises(ConfigError) as caught:
        parse({"serverless-patterns:patterns": json.dumps({"lambda-extension": bad})})
    assert "port must be between 1024 and 65535 and not 2773 or 9001" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Config Cache"}, "^name must be 1-40 lowercase"),
        ({"port": 2773}, "^port must be .* Parameters and Secrets extension uses it"),
        ({"port": 9001}, "^port must be .* the Lambda Runtime API uses it"),
        ({"port": 80}, "^port must be between 1024 and 65535"),
        ({"port": 70000}, "^port must be between 1024 and 65535"),
        ({"ttl_s": 0}, "^ttl_s must be between 1 and 86400"),
        ({"ttl_s": 86_401}, "^ttl_s must be between 1 and 86400"),
        ({"allowed_secrets": ["orders/db"]}, r"^allowed_secrets\[0\] must be a Secrets Manager"),
        ({"allowed_secrets": [SECRET, SECRET]}, "^allowed_secrets must not repeat"),
        ({"allowed_parameters": ["/orders/*"]}, r"^allowed_parameters\[0\] must be an SSM"),
        ({"allowed_parameters": ["a b"]}, r"^allowed_parameters\[0\] must be an SSM"),
        (
            {"attach_to": [ConsumerSpec(name="demo", handler="demo.handler")]},
            "^attach_to names must be unique",
        ),
    ],
)
def test_bad_arguments_name_themselves_before_any_resource(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExtensionLayerArgs(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Orders"}, "^attach_to name must be 1-24 lowercase"),
        ({"handler": "demo"}, "^handler must be 'module.function'"),
        ({"source": "../etc"}, "^source must name a folder under functions/"),
        ({"source": "no_such_folder"}, "^source must name a folder under functions/"),
        ({"environment": {"CONFIG_CACHE_PORT": "1"}}, "^environment must not set"),
        ({"environment": {"AWS_REGION": "x"}}, "^environment must not set"),
        ({"timeout_s": 0}, "^timeout_s must be between 1 and 900"),
    ],
)
def test_bad_consumer_specs_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConsumerSpec(**{"name": "orders", "handler": "demo.handler", **kwargs})
