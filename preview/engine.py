"""Run a Pulumi program under mocks and record every registration the engine would see."""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.output import Unknown
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.rpc import UNKNOWN
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from . import sdk_patches
from .cloud import (
    DEFAULT_REGION,
    UNKNOWN_RESULT,
    SimulatedCloud,
    output_invokes_marked,
)

# Running a program needs the library (`components.config` validates the stack config, about
# 0.4 s of imports with pulumi_aws); gating a saved plan (`--plan`) needs none of it, so the
# functions that run programs import it when called.
REGION_KEY = "aws:region"

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Registration:
    """One RegisterResource request, as the engine (and the policy pack) sees it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str | None = None
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)  # former type tokens, or alias URNs

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": plain(self.inputs),
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "custom": self.custom,
            "id": self.id,
            "outputs": plain(self.outputs),
        }

    @classmethod
    def from_json(cls, resource: Any) -> Registration:
        """A resource of a saved plan (`to_json`'s format); `PlanError` when it is not one.
        A plan saved before `custom`, `id` and `outputs` were written gates on its inputs."""
        if not isinstance(resource, Mapping):
            raise PlanError(f"a resource is not an object: {str(resource)[:80]}")
        missing = [k for k in ("urn", "type", "name", "inputs") if k not in resource]
        if missing:
            raise PlanError(f"resource {resource.get('urn', '?')}: no {', '.join(missing)}")
        _expect(resource, "inputs", Mapping, "object")
        _expect(resource, "outputs", Mapping, "object")
        _expect(resource, "dependencies", list, "list")
        _expect(resource, "propertyDependencies", Mapping, "object")
        identity = resource.get("id")
        return cls(
            urn=str(resource["urn"]),
            type=str(resource["type"]),
            name=str(resource["name"]),
            custom=bool(resource.get("custom", identity is not None)),
            parent=resource.get("parent") or None,
            inputs=dict(resource["inputs"]),
            dependencies=[str(u) for u in resource.get("dependencies") or []],
            property_dependencies={
                str(k): [str(u) for u in v]
                for k, v in (resource.get("propertyDependencies") or {}).items()
            },
            id=None if identity is None else str(identity),
            outputs=dict(resource.get("outputs") or {}),
        )


class PlanError(ValueError):
    """A saved plan file that cannot be read, or is not a plan."""


def _expect(resource: Mapping[str, Any], key: str, kind: type, label: str) -> None:
    if key in resource and resource[key] is not None and not isinstance(resource[key], kind):
        raise PlanError(f"resource {resource['urn']}: {key} must be a JSON {label}")


@dataclass(frozen=True)
class Log:
    """A message the program logged (`pulumi.log.warn(..., resource=...)` and the like)."""

    severity: str  # info, warning, error
    message: str
    urn: str  # the resource it is about, or "" for the stack


_SEVERITIES = {
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}


_RESOURCE_REFERENCES = resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES


class RecordingEngine(runtime_mocks.MockEngine):
    """The engine's Log RPC, kept from info up: what `pulumi preview` prints under
    Diagnostics (the SDK's own debug chatter is left out, as the CLI leaves it out)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.logs: list[Log] = []

    def Log(self, request: Any) -> None:
        if request.severity != engine_pb2.DEBUG:
            severity = _SEVERITIES.get(request.severity, "info")
            self.logs.append(Log(severity, request.message, request.urn))


class RecordingMonitor(runtime_mocks.MockMonitor):
    """A MockMonitor that also keeps each request's parent and dependencies (and hands each
    registration to `on_register` as it is made)."""

    def __init__(
        self,
        mocks: pulumi.runtime.Mocks,
        on_register: Callable[[Registration], None] | None = None,
    ) -> None:
        super().__init__(mocks)
        self.on_register = on_register
        self.registrations: list[Registration] = []
        self.stack_urn: str | None = None
        self.remote: dict[str, str] = {}  # type -> first name: components of other packages

    def GetDeploymentInfo(self, request: Any) -> Any:
        """The mock's features without resource references: a resource given as an input
        (`role=role`) is then sent as the engine sends it to a provider that takes none, as
        its id (or a component's URN) with the dependency. (Deserializing a reference in the
        mock rebuilds the resource inside the running event loop: a hang or a loop error.)"""
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != _RESOURCE_REFERENCES]
        return type(info)(supportedFeatures=features)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: the parent's full type chain, the root stack left out
        (MockMonitor keeps only the parent's last type and includes the stack)."""
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{qualified}::{name}"

    def Invoke(self, request: Any) -> Any:
        response = super().Invoke(request)
        if UNKNOWN_RESULT in getattr(response, "return").fields:
            return resource_pb2.ResourceInvokeResponse(unknown=True)
        return response

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        if request.remote:  # a component of another package: its provider builds it
            self.remote.setdefault(request.type, request.name)
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        _absolute_assets(inputs)
        registered = self.resources.get(response.urn)
        outputs = dict(registered.state) if registered else {}
        _absolute_assets(outputs)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            inputs=inputs,
            dependencies=sorted(set(request.dependencies)),
            property_dependencies={
                key: sorted(set(deps.urns))
                for key, deps in sorted(request.propertyDependencies.items())
                if deps.urns
            },
            provider=request.provider or None,
            id=registered.id if registered else None,
            outputs=outputs,
            aliases=[alias.spec.type or alias.urn for alias in request.aliases]
            + list(request.aliasURNs),
        )
        self.registrations.append(registration)
        if self.on_register is not None:
            self.on_register(registration)
        return response


@dataclass
class Plan:
    project: str
    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    stack_urn: str | None
    logs: list[Log] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the offline run could not model

    def of_type(self, token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == token]

    def one(self, token: str, name: str | None = None) -> Registration:
        """The single resource of `token` (whose logical name ends with `name`, if given)."""
        found = [r for r in self.of_type(token) if name is None or r.name.endswith(name)]
        if len(found) != 1:
            names = [r.name for r in self.of_type(token)]
            raise LookupError(f"expected one {token} matching {name!r}, found {names}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": [r.to_json() for r in self.registrations],
            "outputs": plain(self.outputs),
        }

    @classmethod
    def from_json(cls, document: Any) -> Plan:
        """A plan `python -m preview --json` wrote (its findings are not read)."""
        if not isinstance(document, Mapping):
            raise PlanError("expected a JSON object with project, stack and resources")
        missing = [k for k in ("project", "stack", "resources") if k not in document]
        if missing:
            raise PlanError(f"not a plan: no {', '.join(missing)}")
        if not isinstance(document["resources"], list):
            raise PlanError("resources must be a JSON list")
        project, stack = str(document["project"]), str(document["stack"])
        return cls(
            project=project,
            stack=stack,
            registrations=[Registration.from_json(r) for r in document["resources"]],
            outputs=dict(document.get("outputs") or {}),
            notes=[str(note) for note in document.get("notes") or []],
            stack_urn=f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",
        )


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as `--json` writes it: resources sorted by URN, so that the same input gives
    the same bytes (the registration order across patterns is not fixed)."""
    document = plan.to_json()
    document["resources"].sort(key=lambda resource: resource["urn"])
    if plan.notes:
        document["notes"] = list(plan.notes)
    return document


def load_plan(path: Path) -> Plan:
    """A saved plan file; `PlanError` saying why when it cannot be read or is not a plan."""
    try:
        return Plan.from_json(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlanError(f"plan {path}: {error}") from error
    except PlanError as error:
        raise PlanError(f"plan {path}: {error}") from error


# Where file assets' and archives' paths are shown from: this repository, or with `--program`
# the program's folder (`assets_shown_from`).
_ASSET_ROOT: ContextVar[Path] = ContextVar("asset_root", default=ROOT)


@contextmanager
def assets_shown_from(folder: Path) -> Iterator[None]:
    """`plain` writes file assets' and archives' paths relative to `folder` in the block."""
    token = _ASSET_ROOT.set(folder)
    try:
        yield
    finally:
        _ASSET_ROOT.reset(token)


def _absolute_assets(value: Any) -> None:
    """Make the relative paths of the file assets and archives in `value` absolute, in
    place: a program gives them relative to its folder, the working directory as it runs."""
    if isinstance(value, dict):
        items: Any = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return
    for key, item in items:
        if isinstance(item, pulumi.FileArchive | pulumi.FileAsset):
            if not os.path.isabs(item.path):
                value[key] = type(item)(os.path.abspath(item.path))
        elif isinstance(item, dict | list):
            _absolute_assets(item)


def plain(value: Any) -> Any:
    """JSON-safe copy of deserialized property values (assets and archives by path)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": os.path.relpath(value.path, _ASSET_ROOT.get())}
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return {"asset": type(value).__name__}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Unknown):  # a value computed at preview, as the engine sends it
        return UNKNOWN
    return str(value)


def stack_file(stack: str, root: Path = ROOT) -> Path:
    """`stacks/Pulumi.<stack>.yaml` (the project's stackConfigDir)."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    stack_dir = root / project.get("stackConfigDir", ".")
    path = stack_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml")
        )
        raise FileNotFoundError(f"no stack file {path}; stacks: {', '.join(known)}")
    return path


def load_stack_config(path: Path, root: Path = ROOT) -> dict[str, str]:
    """A stack file's config as the engine passes it: keys namespaced, values strings.

    Raises a `ConfigError` naming the file, and the line, of every problem: the file's own
    (not a stack file, duplicate keys) and the config's (`components.config.parse`).
    """
    from . import stack_files

    stack = stack_files.load(path, project_name(root))
    stack.check()
    return stack.config


def project_name(root: Path = ROOT) -> str:
    return str(yaml.safe_load((root / "Pulumi.yaml").read_text())["name"])


def run(
    program: Callable[[], Any],
    *,
    stack: str,
    config: Mapping[str, str],
    project: str | None = None,
    preview: bool = False,
    on_register: Callable[[Registration], None] | None = None,
) -> Plan:
    """Run `program` with `config` under the simulated cloud and return what it registered
    (each registration also handed to `on_register` as it is made)."""
    project = project or project_name()
    region = config.get("aws:region", DEFAULT_REGION)
    cloud = SimulatedCloud(region=region, preview=preview)
    monitor = RecordingMonitor(cloud, on_register)
    # A fresh root stack per run: set_mocks keeps an existing one, whose URN names the
    # previous run's stack.
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor
    )
    recorder = RecordingEngine()
    runtime_settings.SETTINGS.engine = recorder
    runtime_config.set_all_config(dict(config))
    root = pulumi.runtime.get_root_resource()
    # The run allocates many small objects and frees few until it ends: the cyclic garbage
    # collector's passes over them cost about a third of a large stack's run (measured on
    # the dev stack), and the process (or the next run) collects once at the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with output_invokes_marked(), sdk_patches.installed(_ensure_event_loop()):
            _sync_await(run_pulumi_func(program))
    finally:
        if collecting:
            gc.enable()
    outputs = {}
    if root is not None:
        for key, value in getattr(root, "outputs", {}).items():
            output = pulumi.Output.from_input(value)
            known = _sync_await(output.is_known())
            outputs[key] = _sync_await(output.future()) if known else UNKNOWN
    notes = [*cloud.notes]
    notes += [
        f"not evaluated offline: {typ} ({name}): a component of another package, built by its "
        "own provider; the policy pack sees none of its resources"
        for typ, name in sorted(monitor.remote.items())
    ]
    return Plan(
        project, stack, monitor.registrations, outputs, monitor.stack_urn, recorder.logs, notes
    )


def run_main(
    stack: str,
    *,
    root: Path = ROOT,
    path: Path | None = None,
    preview: bool = False,
    on_register: Callable[[Registration], None] | None = None,
) -> Plan:
    """Run the project's `__main__.py` for `stacks/Pulumi.<stack>.yaml` (or the file `path`)."""
    path = path or stack_file(stack, root)
    config = load_stack_config(path, root)
    if REGION_KEY not in config:
        from . import stack_files

        print(
            f"note: {stack_files.shown(path)} sets no {REGION_KEY}; previewing in "
            f"{DEFAULT_REGION}, the simulated cloud's default",
            file=sys.stderr,
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return run(
        lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=config,
        project=project_name(root),
        preview=preview,
        on_register=on_register,
    )
