"""Pulumi provider SDKs imported one resource module at a time, for the CLI's process.

A generated provider SDK (`pulumi_aws`) makes each service a package whose `__init__` imports
every module of the service (`from .bucket import *`, 68 of them for `s3`), so the first
`aws.s3.Bucket` runs them all. `install()` puts a finder in front of the import system that
loads such a package without those imports: a name is found in the `__all__` of the module
that exports it (read from the module's source, not run) and that module alone is imported on
first use. The objects are the same as an eager import gives; only the modules nobody uses
are never run: on the dev stack, about 125 modules of `pulumi_aws` run instead of 433.

What falls back to the package's own `__init__` (everything loaded, as without this):
a package whose `__init__` is anything but those generated imports, a module without a
literal `__all__`, `dir()`, `from <package> import *`, and a name no module exports (so its
`AttributeError` is the package's own).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

_STAR = re.compile(r"from \.(\w+) import \*")  # a module of the package, all it exports
_MODULE = re.compile(r"from \. import (\w+)")  # a module of the package, as an attribute
_KEPT = re.compile(r"import builtins as _builtins|from \.\. import _utilities|import typing")
_ALL = re.compile(r"^__all__ = \[([^\]]*)\]", re.M)
_NAME = re.compile(r"""['"](\w+)['"]""")


def _exports(path: Path) -> list[str] | None:
    """The names in a generated module's literal `__all__` (near its top), or None (also for
    a package, which has no such file)."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as source:
        text = source.read(16384)
        found = _ALL.search(text)
        if found is None:
            text += source.read()
            found = _ALL.search(text)
    return None if found is None else _NAME.findall(found[1])


def _plan(init: Path) -> tuple[dict[str, str], list[str]] | None:
    """For a generated package `__init__`: which module exports each name (the last one to
    export it, as its star imports run in order) and the lines to run at once; None for
    anything else."""
    exporter: dict[str, str] = {}
    kept = []
    try:
        source = init.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    for line in source.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or _MODULE.fullmatch(stripped):
            continue
        star = _STAR.fullmatch(stripped)
        if star is None:
            if not _KEPT.fullmatch(stripped):
                return None
            kept.append(stripped)
            continue
        try:
            names = _exports(init.parent / f"{star[1]}.py")
        except (OSError, ValueError):  # unreadable: the package's own imports will say
            names = None
        if names is None:
            return None
        exporter.update(dict.fromkeys(names, star[1]))
    return exporter, kept


class _Package(ModuleType):
    """A generated service package loaded by `_Loader`: a name is imported from the module
    that exports it on first use, and kept."""

    def __getattr__(self, name: str) -> Any:
        loader: _Loader = self.__spec__.loader  # type: ignore[assignment,union-attr]
        owner = loader.exporter.get(name)
        if owner is not None:
            value = getattr(importlib.import_module(f"{self.__name__}.{owner}"), name)
            setattr(self, name, value)
            return value
        if loader.has_module(name):
            return importlib.import_module(f"{self.__name__}.{name}")
        loader.load_all(self)
        if name in self.__dict__:
            return self.__dict__[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        self.__spec__.loader.load_all(self)  # type: ignore[union-attr]
        return sorted(self.__dict__)

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a module sets it on its package. Where the module exports a name of its
        # own name (`get_bucket` in get_bucket.py), the package's star import would have
        # put the exported object there instead; so it does here.
        loader: _Loader = self.__spec__.loader  # type: ignore[assignment,union-attr]
        if isinstance(value, ModuleType) and loader.exporter.get(name) == name:
            value = getattr(value, name, value)
        super().__setattr__(name, value)


class _Loader(importlib.abc.Loader):
    """Runs a generated package's `__init__` as a table of which module exports which name."""

    def __init__(self, eager: importlib.abc.Loader, folder: Path) -> None:
        self.eager = eager
        self.folder = folder
        self.exporter: dict[str, str] = {}
        self.complete = False

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        plan = _plan(self.folder / "__init__.py")
        if plan is None:
            self.complete = True
            self.eager.exec_module(module)
            return
        self.exporter, kept = plan
        exec(compile("\n".join(kept), module.__file__ or "", "exec"), module.__dict__)
        module.__class__ = _Package

    def has_module(self, name: str) -> bool:
        return (self.folder / f"{name}.py").is_file() or (self.folder / name).is_dir()

    def load_all(self, module: ModuleType) -> None:
        """Run the package's own `__init__` (every module it imports), once."""
        if not self.complete:
            self.complete = True
            self.eager.exec_module(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the service packages of generated provider SDKs (a top-level package whose
    `_utilities` is loaded) and loads them with `_Loader`; declines everything else."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        sdk, _, service = fullname.partition(".")
        if not service or "." in service or service.startswith("_"):
            return None
        if f"{sdk}._utilities" not in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not spec.submodule_search_locations:
            return spec
        spec.loader = _Loader(spec.loader, Path(spec.submodule_search_locations[0]))
        return spec


def install() -> None:
    """Put the finder first on `sys.meta_path`, once; SDKs imported before keep what they
    loaded."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
