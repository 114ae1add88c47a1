"""The wheel's contents (its metadata is in pyproject.toml): the repository's components/,
functions/, policies/ and preview/ installed beneath one import package, `serverless_patterns`.

Contributors keep the folders at the top level and import `components`; `package_dir` maps
each folder to its place under `serverless_patterns`, so the installed package has below
`serverless_patterns/` the layout the repository has at its top: the components find the
Lambda sources at `../../functions` from `components/core/packaging.py`, and the policy pack
folder is complete for `pulumi preview --policy-pack`. Every file that is not Python goes in
as package data. The components import each other relatively, so they work under either name;
the Lambda sources are data (zip roots), never imported by the library. The offline preview
imports itself relatively and the library by the name beside it, so `python -m
serverless_patterns.preview --program .` previews and gates a user's program with the
installed pack and profiles (its paths are relative to its own folder's parent).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup

PACKAGE = "serverless_patterns"
TREES = ("components", "functions", "policies", "preview")
# Caches, the Pulumi CLI's policies/venv and the pack's development tools stay out.
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", "tests", "venv", "tools"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
HERE = Path(__file__).resolve().parent


def _folders() -> dict[str, Path]:
    """Package name -> its folder (relative to this file), for every folder with files."""
    folders = {PACKAGE: Path(PACKAGE)}
    for tree in TREES:
        for folder in sorted([HERE / tree, *(HERE / tree).rglob("*")]):
            relative = folder.relative_to(HERE)
            if not folder.is_dir() or any(
                part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts
            ):
                continue
            if any(path.is_file() for path in folder.iterdir()):
                folders[".".join((PACKAGE, *relative.parts))] = relative
    return folders


def _data(folder: Path) -> list[str]:
    return sorted(
        path.name
        for path in (HERE / folder).iterdir()
        if path.is_file() and path.suffix != ".py" and path.suffix not in SKIPPED_SUFFIXES
    )


FOLDERS = _folders()

setup(
    packages=list(FOLDERS),
    package_dir={name: folder.as_posix() for name, folder in FOLDERS.items()},
    package_data={name: data for name, folder in FOLDERS.items() if (data := _data(folder))},
)
