"""`lambda-extension`: an external Lambda extension, shipped as a versioned layer, that
serves allow-listed secrets and parameters from a TTL cache on 127.0.0.1.

The layer (`functions/lambda_extension/layer/`) holds `extensions/config-cache`, an
executable launcher whose file name is the extension's name, and the `config_cache`
package it runs on the function's own Python interpreter; so the layer is compatible with
the Python runtimes and the stack's architecture only (a runtime-independent extension
needs a compiled binary, or AWS's Parameters and Secrets extension on port 2773). The
extension registers for INVOKE and SHUTDOWN, answers `GET /secret?name=` and
`GET /parameter?name=` when the request carries the environment's session token, and reads
Secrets Manager / SSM with the function's role on a miss or after the TTL.

Every function this component builds with the layer (the `demo` and each of `attach_to`)
lists the layer after Powertools, gets the extension's environment and a role that may read
exactly the allowed names. Handlers read through `functions/shared/config_cache_client.py`,
which falls back to Powertools `parameters` when the extension does not answer within
200 ms. A function built elsewhere attaches the layer itself: `layer_arn`, `environment`
and `read_statements` are what it needs (Pulumi cannot add a layer to a function that is
already declared). Cautions: the extension's start-up counts toward the function's
10-second init phase and its memory toward the function's; for light secret traffic
Powertools `parameters` alone caches as well and adds no process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from .core import aws_context, iam, packaging
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import SECRET

__all__ = ["ConsumerSpec", "ExtensionLayer", "ExtensionLayerArgs"]

LAYER_SOURCE = "lambda_extension/layer"
DEMO_SOURCE = "lambda_extension/function"
EXTENSION_NAME = "config-cache"  # the launcher's file name under /opt/extensions
LAUNCHER = f"extensions/{EXTENSION_NAME}"
CLIENT_MODULE = "config_cache_client.py"  # functions/shared/, in every consumer's zip
# Python runtimes the extension (stdlib + the runtime's boto3) runs on.
PYTHON_RUNTIMES = ("python3.11", "python3.12", "python3.13")
RESERVED_PORTS = {
    2773: "AWS's Parameters and Secrets extension",
    9001: "the Lambda Runtime API",
}
MAX_TTL_S = 86_400
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_SUFFIX = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_SOURCE = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$")
_PARAMETER = re.compile(r"^[A-Za-z0-9_.\-/]{1,2048}$")
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_ENVIRONMENT = (
    "CONFIG_CACHE_PORT",
    "CONFIG_CACHE_TTL_S",
    "CONFIG_CACHE_ALLOWED_SECRETS",
    "CONFIG_CACHE_ALLOWED_PARAMETERS",
)
LAYER_DEFAULTS = (
    "compatible architectures matching the functions",
    "Python-only compatible runtimes",
    "no sharing beyond this account",
)


@dataclass(frozen=True, kw_only=True)
class ConsumerSpec:
    """A function the component builds with the layer attached.

    name: the function's suffix in its physical name (lowercase, digits, hyphens, 1-24).
    handler: `module.function` in the zip.
    source: the zip root, a folder under functions/ (`<pattern>` or `<pattern>/<folder>`);
      the zip also carries `config_cache_client.py` from functions/shared/.
    memory_size: memory in MB (the extension's process shares it).
    timeout_s: timeout in seconds.
    environment: extra environment variables (configuration, never secret values).
    """

    name: str
    handler: str
    source: str = DEMO_SOURCE
    memory_size: int = 256
    timeout_s: int = 30
    environment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SUFFIX.match(self.name):
            raise ValueError(
                f"attach_to name must be 1-24 lowercase letters, digits or hyphens, starting "
                f"with a letter (got {self.name!r})"
            )
        if not _HANDLER.match(self.handler):
            raise ValueError(f"handler must be 'module.function' (got {self.handler!r})")
        if not _SOURCE.match(self.source) or not (packaging.FUNCTIONS_DIR / self.source).is_dir():
            raise ValueError(f"source must name a folder under functions/ (got {self.source!r})")
        for key in self.environment:
            if key in RESERVED_ENVIRONMENT or key.startswith(("POWERTOOLS_", "AWS_")):
                raise ValueError(
                    f"environment must not set {key!r}: the component sets it "
                    f"({', '.join(RESERVED_ENVIRONMENT)}, POWERTOOLS_*, AWS_*)"
                )
            if not _ENV_KEY.match(key):
                raise ValueError(f"environment key {key!r} must be a variable name")
        self.function_spec()

    def function_spec(
        self,
        environment: dict[str, pulumi.Input[str]] | None = None,
        layers: Sequence[pulumi.Input[str]] = (),
    ) -> FunctionSpec:
        return FunctionSpec(
            handler=self.handler,
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            environment={**self.environment, **(environment or {})},
            layers=layers,
            description=f"Reads configuration through the {EXTENSION_NAME} extension",
        )


@dataclass(frozen=True, kw_only=True)
class ExtensionLayerArgs(PatternArgs):
    """Arguments of `ExtensionLayer`.

    name: the layer's name (prefixed with the stack); the extension inside is always
      `config-cache`, its launcher's file name.
    port: the 127.0.0.1 port the extension serves on (1024-65535, not 2773, which AWS's
      Parameters and Secrets extension uses, nor 9001, the Runtime API's).
    ttl_s: how long a value is served from the cache before it is read again (1-86400 s).
    allowed_secrets: Secrets Manager secret ARNs (complete, with the random suffix) the
      extension may serve; attached roles may read exactly these.
    allowed_parameters: SSM parameter names the extension may serve; attached roles may
      read exactly these (SecureStrings under the AWS managed key need no KMS grant).
    attach_to: functions to build with the layer attached (handler, source folder, memory,
      timeout, environment each); each gets the extension's environment and read rights.
    create_demo_function: build the `demo` function, which reads one allowed value and
      reports whether the extension or the Powertools fallback served it.
    layer: an existing layer version holding the extension to attach instead of building
      one; None builds and publishes the layer from functions/lambda_extension/layer/.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "layer",
            LAYER_DEFAULTS,
            "Publish it for the stack's architecture and Python runtimes, keep its version "
            "pinned, and share it only with your own accounts.",
        ),
    )

    name: str = EXTENSION_NAME
    port: int = 2772
    ttl_s: int = 300
    allowed_secrets: list[str] = field(default_factory=list)
    allowed_parameters: list[str] = field(default_factory=list)
    attach_to: list[ConsumerSpec] = field(default_factory=list)
    create_demo_function: bool = True
    layer: aws.lambda_.LayerVersion | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"name must be 1-40 lowercase letters, digits or hyphens, starting with a "
                f"letter (got {self.name!r})"
            )
        if not 1024 <= self.port <= 65535 or self.port in RESERVED_PORTS:
            taken = f": {RESERVED_PORTS[self.port]} uses it" if self.port in RESERVED_PORTS else ""
            raise ValueError(
                f"port must be between 1024 and 65535 and not 2773 or 9001 (got {self.port}{taken})"
            )
        if not 1 <= self.ttl_s <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} (got {self.ttl_s})")
        for index, arn in enumerate(self.allowed_secrets):
            SECRET.check(arn, f"allowed_secrets[{index}]")
        for index, name in enumerate(self.allowed_parameters):
            if not _PARAMETER.match(name) or "*" in name:
                raise ValueError(
                    f"allowed_parameters[{index}] must be an SSM parameter name (letters, "
                    f"digits, _ . - /; no wildcards) (got {name!r})"
                )
        for label, values in (
            ("allowed_secrets", self.allowed_secrets),
            ("allowed_parameters", self.allowed_parameters),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"{label} must not repeat a value")
        names = [consumer.name for consumer in self.attach_to]
        if self.create_demo_function:
            names.append("demo")
        if len(set(names)) != len(names):
            raise ValueError(f"attach_to names must be unique and not 'demo' (got {names})")

    @property
    def environment(self) -> dict[str, str]:
        """What the extension reads from the function's environment."""
        environment = {"CONFIG_CACHE_PORT": str(self.port), "CONFIG_CACHE_TTL_S": str(self.ttl_s)}
        if self.allowed_secrets:
            environment["CONFIG_CACHE_ALLOWED_SECRETS"] = ",".join(self.allowed_secrets)
        if self.allowed_parameters:
            environment["CONFIG_CACHE_ALLOWED_PARAMETERS"] = ",".join(self.allowed_parameters)
        return environment


class ExtensionLayer(Pattern):
    """config-cache extension layer (arm64, Python runtimes) -> functions built with it,
    each reading exactly the allowed secrets and parameters."""

    slug: ClassVar[str] = "lambda-extension"
    type_token: ClassVar[str] = "serverless-patterns:patterns:ExtensionLayer"

    def __init__(
        self,
        name: str,
        args: ExtensionLayerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ExtensionLayerArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings

        self.package: packaging.Package | None = None
        if args.layer is not None:
            self.layer = args.layer
        else:
            self.package = packaging.build(
                LAYER_SOURCE,
                architecture=settings.architecture,
                runtime=settings.runtime,
                layer=True,
                executables=[LAUNCHER],
            )
            runtimes = sorted({*PYTHON_RUNTIMES, settings.runtime})
            # No LayerVersionPermission: the layer stays in this account (add one per
            # consuming account to share it, never to `*`).
            self.layer = aws.lambda_.LayerVersion(
                scope.child("layer"),
                layer_name=scope.physical(args.name, max_length=140),
                description=(
                    f"{EXTENSION_NAME} extension: allow-listed secrets and parameters cached "
                    f"on 127.0.0.1 (Python runtimes, {settings.architecture})"
                ),
                code=self.package.archive,
                source_code_hash=self.package.sha256,
                compatible_architectures=[settings.architecture],
                compatible_runtimes=runtimes,
                opts=scope.opts(),
            )
        self.layer_arn: pulumi.Output[str] = self.layer.arn  # versioned: ...:layer:<name>:<n>

        self.environment: dict[str, pulumi.Input[str]] = dict(args.environment)
        self.read_statements = self._read_statements(args)

        self.consumers: dict[str, LambdaFunction] = {}
        for consumer in args.attach_to:
            self.consumers[consumer.name] = self._consumer(consumer, consumer.name)
        self.demo: LambdaFunction | None = None
        if args.create_demo_function:
            demo_environment = {}
            if args.allowed_secrets:
                demo_environment["DEMO_SECRET_NAME"] = args.allowed_secrets[0]
            elif args.allowed_parameters:
                demo_environment["DEMO_PARAMETER_NAME"] = args.allowed_parameters[0]
            self.demo = self._consumer(
                ConsumerSpec(name="demo", handler="demo.handler", environment=demo_environment),
                "demo",
            )

        self.demo_function_name = self.demo.name if self.demo is not None else None
        self.register_outputs(
            {
                "layer_arn": self.layer_arn,
                "demo_function_name": self.demo_function_name,
            }
        )

    def _read_statements(self, args: ExtensionLayerArgs) -> list[iam.Statement]:
        """Exactly the allowed names: what every function carrying the layer may read."""
        statements = []
        if args.allowed_secrets:
            statements.append(
                iam.Statement(["secretsmanager:GetSecretValue"], list(args.allowed_secrets))
            )
        if args.allowed_parameters:
            where = pulumi.Output.all(
                aws_context.partition(self),
                aws_context.region(self),
                aws_context.account_id(self),
            )
            arns = [
                where.apply(
                    lambda w, n=name: f"arn:{w[0]}:ssm:{w[1]}:{w[2]}:parameter/{n.lstrip('/')}"
                )
                for name in args.allowed_parameters
            ]
            statements.append(iam.Statement(["ssm:GetParameter"], arns))
        return statements

    def _consumer(self, consumer: ConsumerSpec, suffix: str) -> LambdaFunction:
        settings = self.scope.settings
        return LambdaFunction(
            self.scope,
            suffix,
            consumer.function_spec(environment=self.environment, layers=[self.layer_arn]),
            package=packaging.build(
                consumer.source,
                architecture=settings.architecture,
                runtime=settings.runtime,
                shared=[CLIENT_MODULE],
            ),
            statements=self.read_statements,
            service=self.slug,
        )
