"""Deterministic Lambda packages: one zip per `functions/<pattern>/` folder.

The zip's bytes depend only on the files' paths and contents (sorted entries, fixed
timestamps and modes), so its hash, and the function's `sourceCodeHash`, change only
when the code does. A `requirements.txt` in the folder is bundled for the target
architecture with pip's `--platform` flags (binary wheels only, nothing compiled here).
Every function zip carries `functions/shared/lambda_tracing.py` (`TRACING`), the Tracer
every handler takes. The same zips serve as layers: `build("<pattern>/<folder>", layer=True,
executables=[...])` zips a sub-folder (say, a layer's `extensions/` and code) and marks the
named entries 0755.

The zips and bundled requirements are cached in a build directory (`build_directory()`):
`$SERVERLESS_PATTERNS_BUILD_DIR` when set; else `.build/` of this repository in a checkout;
else, in an installed package, `.build/` of the current directory, the user's program (the
Pulumi CLI runs a program in its own directory), never the installed package itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

# The repository in a checkout; the `serverless_patterns` package when installed, which
# carries functions/ (and policies/) as package data at the same places.
ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
SHARED = "shared"  # functions/shared/: modules several patterns' zips include
# functions/shared/lambda_tracing.py: the one Tracer every handler takes, in every function zip
TRACING = "lambda_tracing.py"
BUILD_DIR_ENV = "SERVERLESS_PATTERNS_BUILD_DIR"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}

Runner = Callable[[Sequence[str]], None]


def build_directory() -> Path:
    """Where zips and bundled requirements are cached (see the module's docstring)."""
    configured = os.environ.get(BUILD_DIR_ENV)
    if configured:
        return Path(configured).absolute()
    if (ROOT / "Pulumi.yaml").is_file():  # a checkout: the repository's own program
        return ROOT / ".build"
    return Path.cwd() / ".build"


@dataclass(frozen=True)
class Package:
    """A built zip: where it is and the base64 SHA-256 Lambda compares (`sourceCodeHash`)."""

    path: Path
    sha256: str

    @property
    def archive(self) -> pulumi.FileArchive:
        return pulumi.FileArchive(str(self.path))


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or any(part in _EXCLUDED_DIRS for part in relative.parts):
            continue
        if path.suffix in _EXCLUDED_SUFFIXES or path.name == "requirements.txt":
            continue
        yield relative.as_posix(), path


def _entries(*roots: Path, extra_files: Sequence[Path] = ()) -> dict[str, Path]:
    """Zip entry name -> file: every file under `roots` (later roots win on clashes), plus
    `extra_files` at the zip root, which may not clash with anything."""
    entries: dict[str, Path] = {}
    for root in roots:
        entries.update(_files(root))
    for extra in extra_files:
        if extra.name in entries:
            raise ValueError(f"shared file {extra.name} clashes with a file of the same name")
        entries[extra.name] = extra
    return entries


def _manifest(entries: dict[str, Path], executables: Sequence[str] = ()) -> str:
    """A digest of the entries' names, contents and modes: equal manifests make equal zips,
    so a zip built once is found again without compressing it anew (bundled wheels are MBs)."""
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(name.encode() + b"\0" + hashlib.sha256(entries[name].read_bytes()).digest())
        if name in executables:
            digest.update(b"\0x")
    return digest.hexdigest()


def _check_executables(entries: dict[str, Path], executables: Sequence[str]) -> None:
    missing = sorted(set(executables) - set(entries))
    if missing:
        raise ValueError(f"executables not in the zip: {', '.join(missing)}")


def zip_bytes(
    *roots: Path, extra_files: Sequence[Path] = (), executables: Sequence[str] = ()
) -> bytes:
    """The deterministic zip of every file under `roots` (later roots win on clashes), plus
    `extra_files` at the zip root, which may not clash with anything. Entries named in
    `executables` (e.g. a layer's `extensions/<name>`) get mode 0755, the rest 0644."""
    entries = _entries(*roots, extra_files=extra_files)
    _check_executables(entries, executables)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (0o755 if name in executables else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes(), compresslevel=9)
    return buffer.getvalue()


def pip_install_command(
    requirements: Path, target: Path, architecture: str, python_version: str
) -> list[str]:
    """pip arguments that fetch Lambda-compatible wheels for another platform."""
    if architecture not in _PLATFORMS:
        raise ValueError(f"architecture must be one of {', '.join(_PLATFORMS)}")
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--requirement", str(requirements), "--target", str(target),
        "--platform", _PLATFORMS[architecture], "--implementation", "cp",
        "--python-version", python_version, "--only-binary=:all:", "--no-compile",
    ]  # fmt: skip


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)


def build(
    pattern: str,
    *,
    architecture: str = "arm64",
    runtime: str = "python3.13",
    shared: Sequence[str] = (),
    layer: bool = False,
    executables: Sequence[str] = (),
    functions_dir: Path = FUNCTIONS_DIR,
    build_dir: Path | None = None,
    runner: Runner = _run,
) -> Package:
    """Zip `functions/<pattern>/` (plus its bundled requirements) into the build cache.

    `pattern` may name a sub-folder (`lambda_extension/layer`). `shared` names files in
    `functions/shared/` (e.g. `ws_sender.py`) that the zip carries at its root, so handlers
    import them as top-level modules like their own; a function's zip always carries
    `TRACING`, a layer's (`layer=True`) only what `shared` names. `executables` names zip
    entries (`extensions/config-cache`) that get mode 0755. `build_dir` defaults to
    `build_directory()`.
    """
    build_dir = build_dir or build_directory()
    source = functions_dir / pattern
    if not source.is_dir():
        raise ValueError(f"no Lambda source folder {source}")
    names = set(shared) if layer else {*shared, TRACING}
    extra_files = [functions_dir / SHARED / name for name in sorted(names)]
    for extra in extra_files:
        if not extra.is_file() or extra.parent != functions_dir / SHARED:
            raise ValueError(f"no shared Lambda module {extra}")
    roots = [source]
    requirements = source / "requirements.txt"
    with tempfile.TemporaryDirectory() as scratch:
        if requirements.is_file():
            deps = _bundled_dependencies(
                requirements, architecture, runtime, build_dir, runner, Path(scratch)
            )
            roots.insert(0, deps)
        entries = _entries(*roots, extra_files=extra_files)
        _check_executables(entries, executables)
        stem = pattern.replace("/", "-")
        built = build_dir / f"{stem}-{_manifest(entries, executables)[:16]}.built"
        if built.is_file():
            zip_name, sha256 = built.read_text().split()
            if (build_dir / zip_name).is_file():
                return Package(path=build_dir / zip_name, sha256=sha256)
        data = zip_bytes(*roots, extra_files=extra_files, executables=executables)
    digest = hashlib.sha256(data).digest()
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / f"{stem}-{digest.hex()[:16]}.zip"
    package = Package(path=path, sha256=base64.b64encode(digest).decode())
    for target, content in ((path, data), (built, f"{path.name} {package.sha256}\n".encode())):
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(content)
            tmp.replace(target)
    return package


def _bundled_dependencies(
    requirements: Path,
    architecture: str,
    runtime: str,
    build_dir: Path,
    runner: Runner,
    scratch: Path,
) -> Path:
    """Install once per (requirements, platform) into a cached folder and return it."""
    key = hashlib.sha256(
        requirements.read_bytes() + f"|{architecture}|{runtime}".encode()
    ).hexdigest()[:16]
    cached = build_dir / "deps" / key
    if not cached.is_dir():
        staging = scratch / "deps"
        python_version = runtime.removeprefix("python")
        runner(pip_install_command(requirements, staging, architecture, python_version))
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, cached, dirs_exist_ok=True)
    return cached


def prefetch(
    *,
    architecture: str = "arm64",
    runtime: str = "python3.13",
    functions_dir: Path = FUNCTIONS_DIR,
    build_dir: Path | None = None,
    runner: Runner = _run,
) -> list[Path]:
    """Bundle every `functions/*/requirements.txt` into the build cache now (`make setup`
    does, where the registry is expected to be reached), so previews and tests that build
    the packages later find them there and never download anything."""
    build_dir = build_dir or build_directory()
    cached = []
    for requirements in sorted(functions_dir.glob("*/requirements.txt")):
        with tempfile.TemporaryDirectory() as scratch:
            cached.append(
                _bundled_dependencies(
                    requirements, architecture, runtime, build_dir, runner, Path(scratch)
                )
            )
    return cached


def main() -> None:
    """`make setup`'s step: bundle every function's requirements, one line per folder."""
    for folder in prefetch():
        print(f"bundled Lambda requirements: {os.path.relpath(folder)}")
