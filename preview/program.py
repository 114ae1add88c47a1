"""Any Pulumi Python program folder, run offline: `python -m preview --program DIR`.

The folder's `Pulumi.yaml` names the project, its `main` (default `__main__.py`) and, in
`config:` and `template: config:`, defaults for config keys. The stack is `--stack`, else the
only `Pulumi.<stack>.yaml` in the folder (or its `stackConfigDir`), else `dev`; its config is
that file's, over the defaults, under the `--config KEY=VALUE` pairs. The program runs in its
own folder with the folder first on `sys.path`, as the Pulumi language host runs it. The
program's `requirements.txt` is not installed: an import of a package this environment lacks
stops with the module's name.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi.config
import yaml

from . import engine, stack_files
from .cloud import DEFAULT_REGION

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")


class ProgramError(Exception):
    """A program folder that cannot be run, or a program that raised: exit 2, this text."""


@dataclass
class Program:
    directory: Path
    project: str
    main: Path  # the file to run
    stack: str
    stack_file: Path | None  # None: the stack has no file; defaults and --config only
    config: dict[str, str]
    notes: list[str] = field(default_factory=list)

    @property
    def artifact(self) -> Path:
        """The file findings are reported at: the stack file, else the project file."""
        return self.stack_file or project_file(self.directory)


def project_file(directory: Path) -> Path:
    for name in PROJECT_FILES:
        if (directory / name).is_file():
            return directory / name
    return directory / PROJECT_FILES[0]


def load(directory: Path, stack: str | None = None, pairs: Iterable[str] = ()) -> Program:
    """The program in `directory` for `stack` with the `KEY=VALUE` config `pairs`;
    `ProgramError` saying what is missing or malformed."""
    if not directory.is_dir():
        raise ProgramError(f"--program {directory}: no such folder")
    directory = directory.resolve()
    path = project_file(directory)
    if not path.is_file():
        raise ProgramError(
            f"--program {directory}: no Pulumi.yaml (a Pulumi project folder has one)"
        )
    try:
        project = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ProgramError(f"{path}: {error}") from None
    if not isinstance(project, dict) or not project.get("name"):
        raise ProgramError(f"{path}: a project file needs a `name:`")
    name = str(project["name"])
    runtime = project.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name not in (None, "python"):
        raise ProgramError(f"{path}: runtime {runtime_name!r}; the offline preview runs Python")
    main = directory / str(project.get("main") or ".")
    if main.is_dir():
        main = main / "__main__.py"
    if not main.is_file():
        raise ProgramError(f"{path}: the program {main} does not exist")

    stack_dir = directory / str(project.get("stackConfigDir") or ".")
    stack, stack_file = _stack(stack_dir, stack)
    config = _defaults(name, project)
    notes: list[str] = []
    if stack_file is not None:
        try:
            config.update(stack_files.load(stack_file, name).config)
        except stack_files.StackFileError as error:
            raise ProgramError(str(error)) from None
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise ProgramError(f"--config {pair!r}: expected KEY=VALUE")
        config[key if ":" in key else f"{name}:{key}"] = value
    for key, value in sorted(config.items()):
        if value.startswith('{"secure":'):
            config[key] = f"preview-secret-{key.rpartition(':')[2]}"
            notes.append(f"{key} is encrypted; the program gets a placeholder offline")
    if engine.REGION_KEY not in config:
        config[engine.REGION_KEY] = DEFAULT_REGION
        notes.append(
            f"no {engine.REGION_KEY} in the config; previewing in {DEFAULT_REGION}, "
            "the simulated cloud's default"
        )
    return Program(directory, name, main, stack, stack_file, config, notes)


def _stack(stack_dir: Path, stack: str | None) -> tuple[str, Path | None]:
    files = sorted(stack_dir.glob("Pulumi.*.yaml")) + sorted(stack_dir.glob("Pulumi.*.yml"))
    by_stack = {p.name.split(".", 1)[1].rsplit(".", 1)[0]: p for p in files}
    if stack is None:
        stack = next(iter(by_stack)) if len(by_stack) == 1 else "dev"
    return stack, by_stack.get(stack)


def _defaults(project: str, document: dict[str, Any]) -> dict[str, str]:
    """Config defaults of the project file: `template: config:` (what `pulumi new` would
    write), under `config:` (project-level config, `key: value` or `key: {default: ...}`)."""
    defaults: dict[str, str] = {}
    template = document.get("template")
    sources = [template.get("config") if isinstance(template, dict) else None]
    sources.append(document.get("config"))
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key, spec in source.items():
            key = str(key) if ":" in str(key) else f"{project}:{key}"
            if isinstance(spec, dict):
                if "default" not in spec and "value" not in spec:
                    continue
                spec = spec.get("value", spec.get("default"))
            if spec is not None:
                defaults[key] = stack_files.engine_string(spec)
    return defaults


@contextmanager
def in_folder(directory: Path) -> Iterator[None]:
    """Run with `directory` as working directory and first on `sys.path`, as the language
    host runs a program; afterwards the process is as it was, its modules forgotten."""
    cwd, path, modules = Path.cwd(), list(sys.path), set(sys.modules)
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        own = __name__.rpartition(".")[0]  # this package, when the folder holds it
        for name in set(sys.modules) - modules:
            if name == own or name.startswith(f"{own}."):
                continue
            source = getattr(sys.modules[name], "__file__", None) or ""
            if source and Path(source).resolve().is_relative_to(directory):
                del sys.modules[name]


def run(
    program: Program,
    *,
    preview: bool = False,
    on_register: Callable[[engine.Registration], None] | None = None,
) -> engine.Plan:
    """Run the program under the simulated cloud; `ProgramError` when it raises, with its
    traceback trimmed to the program's own files."""
    with in_folder(program.directory):
        try:
            plan = engine.run(
                lambda: runpy.run_path(str(program.main), run_name="__main__"),
                stack=program.stack,
                config=program.config,
                project=program.project,
                preview=preview,
                on_register=on_register,
            )
        except Exception as error:  # the program's own error, whatever it is
            raise ProgramError(explain(error, program.directory)) from None
    plan.notes[:0] = program.notes
    return plan


def explain(error: BaseException, directory: Path) -> str:
    """What the program got wrong: a missing package named as such, else the error with a
    traceback of the program's own files only (the engine's and the SDK's frames left out)."""
    chain = _chain(error)
    origin = chain[-1]
    missing = next((e for e in chain if isinstance(e, ModuleNotFoundError)), None)
    if missing is not None and missing.name and not _inside(missing.name, directory):
        top = missing.name.split(".")[0]
        headline = (
            f"the program imports {missing.name}, which is not installed in this environment; "
            f"the offline preview does not install the program's requirements.txt "
            f"(install {top} beside the preview)"
        )
        origin = missing
    elif isinstance(origin, pulumi.config.ConfigMissingError):
        headline = (
            f"the program needs the config key {origin.key}: set it in the stack file or "
            f"pass --config {origin.key}=VALUE"
        )
    else:
        headline = "the program raised an error"
    frames: list[traceback.FrameSummary] = []
    for exception in reversed(chain):
        for frame in traceback.extract_tb(exception.__traceback__):
            path = Path(frame.filename)
            in_program = path.is_absolute() and path.resolve().is_relative_to(directory)
            if in_program and frame not in frames:
                frames.append(frame)
    lines = [headline, "Traceback (the program's files only):"]
    for frame in frames:
        where = os.path.relpath(frame.filename, directory)
        lines.append(f'  File "{where}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    if not frames:
        lines[-1] = "(no frame in the program's files)"
    lines.extend(traceback.format_exception_only(origin)[-1:])
    return "\n".join(line.rstrip("\n") for line in lines)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first (the original error last)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _inside(module: str, directory: Path) -> bool:
    top = module.split(".")[0]
    return (directory / f"{top}.py").is_file() or (directory / top).is_dir()
