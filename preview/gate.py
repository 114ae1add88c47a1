"""The offline policy gate: the policy pack run over Pulumi's analyzer protocol.

Exactly what the engine does with `--policy-pack policies`: start the pack as
`python -u -m pulumi.policy <engine-address> .` in `policies/`, read the port it prints,
then over gRPC: Handshake (older packs answer UNIMPLEMENTED, which the engine tolerates),
ConfigureStack, GetAnalyzerInfo, Configure with the stack's profile, one Analyze per
resource with provider-checked inputs, and one AnalyzeStack with the outputs. With
`preview=True` every computed output is unknown, as in a first `pulumi preview`.

The offline gate sends those same requests to the pack's analyzer servicer loaded in this
process (`in_process_pack`: the pack's `__main__.py` run as the engine runs it, the servicer
its `PolicyPack` would serve kept instead of served), which saves a second interpreter, the
pack's start-up and the transport; `policy_pack()` starts the pack as a process and talks
gRPC, as the engine does (set PREVIEW_PACK_PROCESS=1 to make the gate use it). The CLI
analyzes a run's resources as they register (`streamed`: the in-process pack in a forked
child, on the other core), as the engine does during `pulumi preview`.
tests/e2e/test_gate_paths.py checks all three give the same findings.

Findings are kept in a stable order (rule id, URN, message), so the JSON and SARIF made
from one input are the same bytes on every run.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
import pickle
import runpy
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from . import provider_defaults
from .engine import ROOT, Plan, Registration, plain

POLICIES_DIR = ROOT / "policies"
PROFILES_DIR = POLICIES_DIR / "profiles"
PACK_FILE = POLICIES_DIR / "PulumiPolicy.yaml"
LIBRARY_TYPE = "serverless-patterns:"  # type tokens of this library's components
CRASHED = ": could not evaluate: "  # the pack's text for a rule that raised (it fails closed)
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-string sentinel
IN_FLIGHT = 32  # Analyze calls outstanding at once
PACK_PROCESS_ENV = "PREVIEW_PACK_PROCESS"  # "1": the gate starts the pack and talks gRPC
_LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_VALUES = {name: value for value, name in _LEVELS.items()}
_SEVERITIES = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}


class ProfileError(ValueError):
    """A policy profile that names nothing, does not parse or sets what the pack lacks."""


@dataclass(frozen=True)
class Finding:
    """One diagnostic; `message` is the pack's text, `text` what the gate shows."""

    policy: str
    id: str
    urn: str
    enforcement: str
    severity: str
    message: str
    help: str = ""  # the rule's page, as the pack gives it (docs/rules/<ID>.md)

    @property
    def text(self) -> str:
        return with_fix_for_owner(self.message, self.urn)

    @property
    def crashed(self) -> bool:
        """The rule raised on this resource: a violation that says nothing was checked."""
        return CRASHED in self.message

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "id": self.id,
            "urn": self.urn,
            "enforcement": self.enforcement,
            "severity": self.severity,
            "message": self.text,
            "help": self.help,
        }


def from_library(urn: str) -> bool:
    """Whether a component of this library made the resource: a `serverless-patterns:` type
    in its URN's type chain (the parents' types, `$`-joined, then its own)."""
    parts = urn.split("::")
    return len(parts) >= 4 and any(t.startswith(LIBRARY_TYPE) for t in parts[2].split("$"))


def split_fix(message: str) -> tuple[str, str, str] | None:
    """(text before the fix, component argument or "", pulumi_aws property) of a pack message
    ending `. Fix: <argument> (raw: <property>)` or `. Fix: <property>`; None without a fix."""
    head, marker, fix = message.rpartition(". Fix: ")
    if not marker:
        return None
    knob, has_raw, raw = fix.partition(" (raw: ")
    if has_raw and raw.endswith(")"):
        return head, knob, raw[:-1]
    return head, "", fix


def with_fix_for_owner(message: str, urn: str) -> str:
    """The argument for a resource a library component made; the raw property, said plainly,
    for any other (and for a fix no argument controls)."""
    parts = split_fix(message) if urn else None
    if parts is None:
        return message
    head, knob, raw = parts
    if not from_library(urn):
        return f"{head}. Fix: {raw} (pulumi_aws; not made by a serverless-patterns component)"
    if knob:
        return f"{head}. Fix: {knob}"
    return f"{head}. Fix: {raw} (pulumi_aws; no component argument sets it)"


@dataclass
class Report:
    pack: str
    version: str
    findings: list[Finding] = field(default_factory=list)
    not_applicable: list[tuple[str, str, str]] = field(default_factory=list)  # policy, urn, why
    policies: dict[str, analyzer_pb2.PolicyInfo] = field(default_factory=dict)

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.enforcement == "mandatory"]

    @property
    def crashed(self) -> list[Finding]:
        """Findings of rules that raised ("could not evaluate"), whatever their level."""
        return [f for f in self.findings if f.crashed]

    @property
    def exempted(self) -> list[tuple[str, str, str]]:
        return [n for n in self.not_applicable if n[2].startswith("exempt")]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with each policy's info as its bytes (protobuf message classes of the
        analyzer protocol pickle only by that)."""
        infos = {name: info.SerializeToString() for name, info in self.policies.items()}
        return (_report, (self.pack, self.version, self.findings, self.not_applicable, infos))

    def summary(self) -> dict[str, int]:
        """The counts the summary line shows; `could_not_evaluate` findings are also counted
        as mandatory or advisory, at their rule's level."""
        mandatory = len(self.mandatory)
        return {
            "mandatory": mandatory,
            "advisory": len(self.findings) - mandatory,
            "exempted": len(self.exempted),
            "could_not_evaluate": len(self.crashed),
            "policies": len(self.policies),
        }


def _report(
    pack: str,
    version: str,
    findings: list[Finding],
    not_applicable: list[tuple[str, str, str]],
    infos: dict[str, bytes],
) -> Report:
    policies = {name: analyzer_pb2.PolicyInfo.FromString(info) for name, info in infos.items()}
    return Report(pack, version, findings, not_applicable, policies)


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def profile_for(stack: str) -> dict[str, Any] | None:
    """`policies/profiles/<stack>.json` when it exists, else the pack's built-in config."""
    path = PROFILES_DIR / f"{stack}.json"
    return read_profile(path) if path.is_file() else None


def load_profile(spec: str) -> dict[str, Any]:
    """A profile by name (`policies/profiles/<name>.json`) or by path (a `.json` file or a
    path with a directory); `ProfileError` when it names nothing or does not parse."""
    path = Path(spec)
    if path.suffix == ".json" or len(path.parts) > 1:
        if not path.is_file():
            raise ProfileError(f"--profile {spec}: no such file")
        return read_profile(path)
    path = PROFILES_DIR / f"{spec}.json"
    if not path.is_file():
        raise ProfileError(
            f"--profile {spec}: no such profile; profiles: {', '.join(profile_names())} "
            "(or the path of a JSON profile file)"
        )
    return read_profile(path)


def read_profile(path: Path) -> dict[str, Any]:
    """A profile file: a JSON object of policy name -> level, or -> an object with an
    optional `enforcementLevel` and the policy's config (as `--policy-pack-config` takes)."""
    try:
        profile = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProfileError(f"profile {path}: {error}") from error
    if not isinstance(profile, dict):
        raise ProfileError(f"profile {path}: expected a JSON object of policy name -> config")
    levels = ", ".join(_LEVEL_VALUES)
    for name, entry in sorted(profile.items()):
        level = entry.get("enforcementLevel") if isinstance(entry, dict) else entry
        if not isinstance(entry, str | dict) or (level is not None and level not in _LEVEL_VALUES):
            raise ProfileError(f"profile {path}: {name}: enforcement level must be one of {levels}")
    return profile


def pack_version(directory: Path = POLICIES_DIR) -> str | None:
    """PulumiPolicy.yaml's `version`: the CLI uses it over the pack's own answer (a Python
    pack always answers 0.0.1)."""
    try:
        document = yaml.safe_load((directory / PACK_FILE.name).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    version = document.get("version") if isinstance(document, dict) else None
    return str(version) if version is not None else None


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A protobuf Struct of JSON-safe data (the views below are built with `plain`)."""
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _computed(registration: Registration) -> set[str]:
    """Output values a resource gets only once it exists (not among its inputs)."""
    values: set[str] = set()
    for key, value in registration.outputs.items():
        if key not in registration.inputs and isinstance(value, str) and len(value) > 3:
            values.add(value)
    if registration.id and registration.id not in json.dumps(plain(registration.inputs)):
        values.add(registration.id)
    return values


def _mask(value: Any, computed: set[str]) -> Any:
    """Replace every string built from a computed value with the unknown sentinel."""
    if isinstance(value, str):
        return UNKNOWN if any(c in value for c in computed) else value
    if isinstance(value, Mapping):
        return {k: _mask(v, computed) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, computed) for v in value]
    return value


def stack_outputs(plan: Plan, preview: bool = False) -> dict[str, Any]:
    """The stack's outputs; with `preview`, each value built from a computed output is the
    unknown sentinel, as in a first `pulumi preview`."""
    outputs: dict[str, Any] = plain(plan.outputs)
    if not preview:
        return outputs
    computed: set[str] = set()
    for registration in plan.registrations:
        computed |= _computed(registration)
    masked: dict[str, Any] = _mask(outputs, computed)
    return masked


class Requests:
    """The engine's requests for a plan's registrations, taken in registration order: each
    resource's Analyze request (inputs provider-checked; with `preview`, masked where they
    take a computed output of a dependency), then the AnalyzeStack request of all of them.
    `known` is every registration of the plan when it is at hand; without it, each resource's
    dependencies are those taken before it (the SDK registers a dependency first)."""

    def __init__(self, preview: bool, known: Mapping[str, Registration] | None = None) -> None:
        self.preview = preview
        self.by_urn: dict[str, Registration] = dict(known or {})
        self.stack = analyzer_pb2.AnalyzeStackRequest()  # grows with each resource taken

    def analyze(self, r: Registration) -> analyzer_pb2.AnalyzeRequest:
        self.by_urn.setdefault(r.urn, r)
        inputs = provider_defaults.checked_inputs(r.type, plain(r.inputs))
        outputs = provider_defaults.service_outputs(r.type, plain(r.outputs or r.inputs))
        if self.preview:
            upstream: set[str] = set()
            for deps in r.property_dependencies.values():
                for dep in deps:
                    if dep in self.by_urn:
                        upstream |= _computed(self.by_urn[dep])
            inputs = {
                k: _mask(v, upstream) if k in r.property_dependencies else v
                for k, v in inputs.items()
            }
            outputs = {
                k: UNKNOWN if k in r.outputs and k not in r.inputs else inputs.get(k, v)
                for k, v in outputs.items()
            }
        # Each message is filled in place: passing a built Struct to a constructor copies it.
        resource = self.stack.resources.add(
            type=r.type, urn=r.urn, name=r.name, parent=r.parent or "", dependencies=r.dependencies
        )
        resource.options.SetInParent()
        resource.options.parent = r.parent or ""
        resource.properties.SetInParent()
        resource.properties.update(outputs)
        for key, urns in r.property_dependencies.items():
            resource.propertyDependencies[key].urns.extend(urns)
        request = analyzer_pb2.AnalyzeRequest(type=r.type, urn=r.urn, name=r.name)
        request.options.SetInParent()
        request.options.parent = r.parent or ""
        request.properties.SetInParent()
        request.properties.update(inputs)
        return request

    def analyze_stack(self) -> analyzer_pb2.AnalyzeStackRequest:
        return self.stack


def analyze_requests(
    plan: Plan, preview: bool = False
) -> tuple[list[analyzer_pb2.AnalyzeRequest], analyzer_pb2.AnalyzeStackRequest]:
    """The engine's Analyze requests (one per resource) and its AnalyzeStack request."""
    built = Requests(preview, known={r.urn: r for r in plan.registrations})
    requests = [built.analyze(r) for r in plan.registrations]
    return requests, built.analyze_stack()


@contextmanager
def policy_pack(directory: Path = POLICIES_DIR) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the pack the way the engine does and yield a connected Analyzer stub."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            process.wait(timeout=10)
            raise RuntimeError(f"the policy pack did not start:\n{''.join(errors)[-2000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class _Unimplemented(grpc.RpcError):
    """What a gRPC client sees when the servicer leaves a method unimplemented."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNIMPLEMENTED


class _Context:
    """The little of `grpc.ServicerContext` a servicer uses: the status it sets."""

    def __init__(self) -> None:
        self.status: grpc.StatusCode | None = None

    def set_code(self, code: grpc.StatusCode) -> None:
        self.status = code

    def set_details(self, _details: str) -> None:
        pass


class _Done:
    """A call's result, already there (the in-process analyzer answers at once)."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class _Method:
    """One analyzer method called in process, with a stub method's call and `future`."""

    def __init__(self, servicer: Any, name: str) -> None:
        self._servicer, self._name = servicer, name

    def __call__(self, request: Any) -> Any:
        context = _Context()
        try:
            return getattr(self._servicer, self._name)(request, context)
        except NotImplementedError:
            if context.status == grpc.StatusCode.UNIMPLEMENTED:
                raise _Unimplemented(f"{self._name} is not implemented") from None
            raise

    def future(self, request: Any) -> _Done:
        return _Done(self(request))


class InProcessAnalyzer:
    """An `AnalyzerStub` look-alike calling the pack's servicer in this process: the same
    request and response messages as over gRPC, without the transport."""

    def __init__(self, servicer: Any) -> None:
        self.servicer = servicer
        self.Handshake = _Method(servicer, "Handshake")
        self.ConfigureStack = _Method(servicer, "ConfigureStack")
        self.GetAnalyzerInfo = _Method(servicer, "GetAnalyzerInfo")
        self.Configure = _Method(servicer, "Configure")
        self.Analyze = _Method(servicer, "Analyze")
        self.AnalyzeStack = _Method(servicer, "AnalyzeStack")


Analyzer = analyzer_pb2_grpc.AnalyzerStub | InProcessAnalyzer  # either way to the pack


_IN_PROCESS: dict[Path, InProcessAnalyzer] = {}


def in_process_pack(directory: Path = POLICIES_DIR) -> InProcessAnalyzer:
    """The pack in `directory` loaded into this process, once: its `__main__.py` is run as
    `python -m pulumi.policy` runs it (the directory importable), and the analyzer servicer
    its `PolicyPack(...)` would serve, built with the same arguments, is kept instead of
    served (the constructor never returns)."""
    directory = directory.resolve()
    if directory in _IN_PROCESS:
        return _IN_PROCESS[directory]
    import pulumi_policy
    from pulumi_policy import policy as sdk

    captured: list[inspect.BoundArguments] = []
    signature = inspect.signature(sdk.PolicyPack.__init__)

    def keep(*args: Any, **kwargs: Any) -> None:
        captured.append(signature.bind(None, *args, **kwargs))

    if str(directory) not in sys.path:  # runpy adds it only while the pack's main runs; the
        sys.path.append(str(directory))  # pack's later imports need it too (last: no shadowing)
    served = pulumi_policy.PolicyPack
    pulumi_policy.PolicyPack = keep  # type: ignore[assignment,misc]
    try:
        runpy.run_path(str(directory), run_name="__main__")
    finally:
        pulumi_policy.PolicyPack = served  # type: ignore[misc]
    if len(captured) != 1:
        raise RuntimeError(f"the policy pack in {directory} made {len(captured)} PolicyPacks")
    captured[0].apply_defaults()
    arguments = dict(captured[0].arguments)
    arguments.pop("self")
    level = arguments.pop("enforcement_level") or sdk.EnforcementLevel.ADVISORY
    name, policies = arguments.pop("name"), arguments.pop("policies")
    # The SDK's servicer class as the pack left it (a pack may install its own).
    servicer = sdk._PolicyAnalyzerServicer(name, "0.0.1", policies, level, **arguments)
    _IN_PROCESS[directory] = InProcessAnalyzer(servicer)
    return _IN_PROCESS[directory]


def config_problems(policy: analyzer_pb2.PolicyInfo, properties: Mapping[str, Any]) -> list[str]:
    """What is wrong with one policy's config under the schema the pack announces for it, as
    the engine checks it (an object of the schema's properties and required keys, defaults
    filled in) before any analysis; one `<policy>: <key path>: <problem>` line each."""
    announced = policy.configSchema
    schema: dict[str, Any] = {"type": "object"}
    if announced.properties:
        schema["properties"] = json_format.MessageToDict(announced.properties)
    if announced.required:
        schema["required"] = list(announced.required)
    defaults = {
        key: spec["default"]
        for key, spec in schema.get("properties", {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    import jsonschema  # the gate's alone (in its own process when streamed): not at start-up

    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in validator.iter_errors({**defaults, **properties}):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problem = error.message
        if error.validator == "minLength":  # the schema's numbers arrive as floats
            problem = f"{error.instance!r} is shorter than {int(error.validator_value)} characters"
        elif error.validator == "pattern":
            problem = f"{error.instance!r} does not match the pattern {error.validator_value}"
        problems.append(f"{policy.name}: {path.lstrip('.') or '(config)'}: {problem}")
    return sorted(problems)


def configure(
    stub: Analyzer,
    info: analyzer_pb2.AnalyzerInfo,
    profile: Mapping[str, Any] | None,
) -> None:
    """Configure with the initial config merged with `profile`, as the engine does; a config
    the pack's schemas refuse is a `ProfileError` naming each policy and problem (the engine
    refuses it too, before any analysis)."""
    unknown = sorted(set(profile or {}) - {p.name for p in info.policies})
    if unknown:
        raise ProfileError(f"the profile configures no such policy: {', '.join(unknown)}")
    config: dict[str, analyzer_pb2.PolicyConfig] = {}
    problems: list[str] = []
    for policy in info.policies:
        initial = info.initialConfig.get(policy.name)
        level = initial.enforcementLevel if initial is not None else policy.enforcementLevel
        properties: dict[str, Any] = (
            json_format.MessageToDict(initial.properties) if initial is not None else {}
        )
        override = (profile or {}).get(policy.name)
        if isinstance(override, str):
            level = _LEVEL_VALUES[override]
        elif isinstance(override, Mapping):
            if "enforcementLevel" in override:
                level = _LEVEL_VALUES[override["enforcementLevel"]]
            properties.update({k: v for k, v in override.items() if k != "enforcementLevel"})
        problems += config_problems(policy, properties)
        config[policy.name] = analyzer_pb2.PolicyConfig(
            enforcementLevel=level, properties=_struct(properties)
        )
    if problems:
        raise ProfileError("the profile's policy config is invalid:\n  " + "\n  ".join(problems))
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=config))


def run(
    plan: Plan,
    *,
    profile: Mapping[str, Any] | None = None,
    preview: bool = False,
    stub: Analyzer | None = None,
) -> Report:
    """Run `plan` through the pack: `stub`'s, else the pack loaded in this process (a new
    pack process talking gRPC when PREVIEW_PACK_PROCESS=1)."""
    if stub is None:
        if _pack_process():
            with policy_pack() as started:
                return run(plan, profile=profile, preview=preview, stub=started)
        stub = in_process_pack()
    # The requests and findings are many long-lived objects and no cycles: the collector's
    # passes over the plan-sized heap would find nothing, at a cost growing with the stack.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(stub, plan, profile, preview)
    finally:
        if collecting:
            gc.enable()


def _run(
    stub: Analyzer,
    plan: Plan,
    profile: Mapping[str, Any] | None,
    preview: bool,
) -> Report:
    report = _begin(stub, plan.stack, plan.project, profile, preview)
    requests, stack_request = analyze_requests(plan, preview)
    # The engine analyzes resources as they register, several in flight at once; so does the
    # gate, with a bounded window (thousands of queued calls make the server cancel some).
    window: deque[tuple[Any, str]] = deque()
    for request in requests:
        window.append((stub.Analyze.future(request), request.urn))
        if len(window) >= IN_FLIGHT:
            future, urn = window.popleft()
            _collect(report, future.result(), urn)
    for future, urn in window:
        _collect(report, future.result(), urn)
    return _end(report, stub.AnalyzeStack(stack_request))


def _begin(
    stub: Analyzer,
    stack: str,
    project: str,
    profile: Mapping[str, Any] | None,
    preview: bool,
) -> Report:
    """The engine's opening calls (Handshake, ConfigureStack, GetAnalyzerInfo, Configure with
    `profile`): the Report the findings go into."""
    try:
        stub.Handshake(
            analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address="127.0.0.1:0",
                root_directory=str(ROOT),
                program_directory=str(ROOT),
            )
        )
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    stub.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=stack, project=project, organization="organization", dry_run=preview
        )
    )
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    configure(stub, info, profile)
    version = pack_version() or info.version
    return Report(info.name, version, policies={p.name: p for p in info.policies})


def _end(report: Report, stack_response: analyzer_pb2.AnalyzeResponse) -> Report:
    _collect(report, stack_response, "")
    report.findings.sort(key=lambda f: (f.id, f.urn, f.policy, f.message))
    report.not_applicable.sort()
    return report


class StreamedGate:
    """The gate of one program run in a forked child process, fed each resource as the
    program registers it, as the engine analyzes resources while a program runs: the child
    loads the pack and configures it while the program starts, and analyzes as it goes, on
    the machine's other core. The same requests reach the same in-process pack in the same
    order as `run` sends them (tests/e2e/test_gate_paths.py); `finish` gives the Report, or
    raises the error the gate raised (a `ProfileError` as itself), or gives None when a
    registration could not be sent (a value that does not pickle): then `run` gates the plan.

    Use it as a context manager (the child is ended however the block ends), and `send`
    every registration of the run in order."""

    def __init__(
        self, stack: str, project: str, profile: Mapping[str, Any] | None, preview: bool
    ) -> None:
        sys.stdout.flush()  # a forked child must not inherit unwritten output
        sys.stderr.flush()
        registrations_in, registrations_out = os.pipe()
        report_in, report_out = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: analyze, answer, and end without the parent's exits
            os.close(registrations_out)
            os.close(report_in)
            code = 0
            try:
                with open(registrations_in, "rb") as source, open(report_out, "wb") as sink:
                    code = _serve(source, sink, stack, project, profile, preview)
            finally:
                os._exit(code)
        os.close(registrations_in)
        os.close(report_out)
        self._out: BinaryIO | None = open(registrations_out, "wb", buffering=1 << 16)  # noqa: SIM115
        self._in = open(report_in, "rb")  # noqa: SIM115
        self._abandoned = False

    def __enter__(self) -> StreamedGate:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pid:
            self._close_out()
            self._in.close()
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = 0

    def send(self, registration: Registration) -> None:
        if self._out is None:
            return
        try:
            pickle.dump(registration, self._out, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:  # the child stopped (its error is read in `finish`)
            self._close_out()
        except (pickle.PicklingError, TypeError, AttributeError):  # a value that won't pickle
            self._abandoned = True
            self._close_out()

    def finish(self) -> Report | None:
        """The end of the run: the child's Report, once it has analyzed the stack (None if
        the run could not be streamed)."""
        if self._abandoned:
            self.__exit__()
            return None
        if self._out is not None:
            with suppress(BrokenPipeError):
                pickle.dump(None, self._out)
                self._out.flush()
            self._close_out()
        try:
            kind, value = pickle.load(self._in)
        except EOFError:
            kind, value = "crash", "the policy gate's process ended without a report"
        self._in.close()
        os.waitpid(self._pid, 0)
        self._pid = 0
        if kind == "report":
            report: Report = value
            return report
        if kind == "profile":
            raise ProfileError(value)
        raise RuntimeError(f"the policy gate failed:\n{value}")

    def _close_out(self) -> None:
        if self._out is not None:
            with suppress(BrokenPipeError):
                self._out.close()
            self._out = None


def _serve(
    source: BinaryIO,
    sink: BinaryIO,
    stack: str,
    project: str,
    profile: Mapping[str, Any] | None,
    preview: bool,
) -> int:
    """The StreamedGate child: the pack in this process, the registrations from `source` (until
    None), then ("report", Report), ("profile", message) or ("crash", traceback) to `sink`."""
    gc.disable()  # as `run`: many long-lived objects and no cycles, in a process of its own
    try:
        stub = in_process_pack()
        report = _begin(stub, stack, project, profile, preview)
        requests = Requests(preview)
        while (registration := pickle.load(source)) is not None:
            request = requests.analyze(registration)
            _collect(report, stub.Analyze(request), request.urn)
        stack_response = stub.AnalyzeStack(requests.analyze_stack())
        answer: tuple[str, Any] = ("report", _end(report, stack_response))
    except EOFError:  # the parent stopped before the end of its run: nobody to answer
        return 0
    except ProfileError as error:
        answer = ("profile", str(error))
    except BaseException:  # any failure goes to the parent, which reports it
        answer = ("crash", traceback.format_exc())
    try:
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an answer that does not pickle is a failure too
        answer = ("crash", traceback.format_exc())
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return 0 if answer[0] == "report" else 1


def streamed(
    stack: str, project: str, profile: Mapping[str, Any] | None, preview: bool
) -> StreamedGate | None:
    """A StreamedGate for a program run, or None where the gate runs after it (`run`): no
    `os.fork` on this system, or the pack is to be started as its own process (gRPC)."""
    if not hasattr(os, "fork") or _pack_process():
        return None
    return StreamedGate(stack, project, profile, preview)


def _pack_process() -> bool:
    """Whether the pack is to be started as its own process, as the engine starts it."""
    return os.environ.get(PACK_PROCESS_ENV) == "1"


def _collect(report: Report, response: analyzer_pb2.AnalyzeResponse, urn: str) -> None:
    for diagnostic in response.diagnostics:
        info = report.policies.get(diagnostic.policyName)
        rule_id = next((t for t in (info.tags if info else []) if "-" in t), diagnostic.policyName)
        text = diagnostic.message
        if text.startswith(diagnostic.description):
            text = text[len(diagnostic.description) :].lstrip("\n")
        report.findings.append(
            Finding(
                policy=diagnostic.policyName,
                id=rule_id,
                urn=diagnostic.urn,
                enforcement=_LEVELS.get(diagnostic.enforcementLevel, "advisory"),
                severity=_SEVERITIES.get(diagnostic.severity, "unspecified"),
                message=text or diagnostic.description,
                help=info.url if info else "",
            )
        )
    for entry in response.not_applicable:
        report.not_applicable.append((entry.policy_name, urn, entry.reason))


def help_uri(url: str, docs_url: str | None = None) -> str | None:
    """A rule's documentation: the pack gives `docs/rules/<ID>.md` (relative to the
    repository); with `docs_url` (where the repository's files are served) it is absolute."""
    if not url:
        return None
    if docs_url is None or "://" in url:
        return url
    return f"{docs_url.rstrip('/')}/{url.lstrip('/')}"


def sarif(report: Report, stack_file: str, docs_url: str | None = None) -> dict[str, Any]:
    """SARIF 2.1.0 for code-scanning tools: one result per finding, at the stack file."""
    rules = []
    for name, info in sorted(report.policies.items()):
        rule_id = next((t for t in info.tags if "-" in t), name)
        rule: dict[str, Any] = {
            "id": rule_id,
            "name": name,
            "shortDescription": {"text": info.description},
            "properties": {"severity": _SEVERITIES.get(info.severity, "unspecified")},
        }
        uri = help_uri(info.url, docs_url)
        if uri:
            rule["helpUri"] = uri
        rules.append(rule)
    results = [
        {
            "ruleId": f.id,
            "level": "error" if f.enforcement == "mandatory" else "warning",
            "message": {"text": f.text},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": stack_file}},
                    "logicalLocations": [{"fullyQualifiedName": f.urn, "kind": "resource"}],
                }
            ],
        }
        for f in report.findings
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": report.pack,
                        "version": report.version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def owner_label(plan: Plan, urn: str, by_urn: dict[str, Registration] | None = None) -> str:
    """`<component type> "<name>"` of the resource's owning component, or `stack`
    (`by_urn`: the plan's registrations by URN, when the caller has them)."""
    if by_urn is None:
        by_urn = {r.urn: r for r in plan.registrations}
    current = by_urn.get(urn)
    while current is not None and current.parent in by_urn:
        parent = by_urn[current.parent]
        if not parent.custom:
            return f'{parent.type} "{parent.name}"'
        current = parent
    return "stack"


def render(plan: Plan, report: Report, profile: str | None = None) -> str:
    """Findings grouped by component, mandatory first, then a summary line."""
    groups: dict[str, list[Finding]] = {}
    by_urn = {r.urn: r for r in plan.registrations}
    for finding in report.findings:
        groups.setdefault(owner_label(plan, finding.urn, by_urn), []).append(finding)
    profiled = f", profile {profile}" if profile else ""
    lines = [f"Policies ({report.pack}@v{report.version}{profiled}):"]
    if not report.findings:
        lines.append("    no findings")
    for owner in sorted(groups):
        lines.append(f"    {owner}")
        ordered = sorted(groups[owner], key=lambda f: (f.enforcement != "mandatory", f.id, f.urn))
        for finding in ordered:
            lines.append(f"      {finding.enforcement:<9} {finding.severity:<6} {finding.text}")
    counts = report.summary()
    lines.append("")
    lines.append(
        f"Policy summary: {counts['mandatory']} mandatory, {counts['advisory']} advisory, "
        f"{counts['exempted']} exempted, {counts['could_not_evaluate']} could not evaluate; "
        f"{counts['policies']} policies"
    )
    pages = sorted({(f.id, f.help) for f in report.findings if f.help})
    if pages:
        lines.append(f"    rule pages: {', '.join(page for _, page in pages)}")
    for policy, urn, reason in sorted(report.exempted):
        lines.append(f"    exempted {policy} on {urn.rsplit('::', 1)[-1] or 'stack'}: {reason}")
    crashed: dict[str, list[Finding]] = {}
    for finding in report.crashed:
        crashed.setdefault(finding.policy, []).append(finding)
    for policy, findings in sorted(crashed.items()):
        subjects = sorted({f.urn.rsplit("::", 1)[-1] or "stack" for f in findings})
        more = f" and {len(subjects) - 3} more" if len(subjects) > 3 else ""
        lines.append(
            f"    could not evaluate {findings[0].id} ({policy}) on {', '.join(subjects[:3])}"
            f"{more}: the rule raised; reported at its level"
        )
    return "\n".join(lines)
