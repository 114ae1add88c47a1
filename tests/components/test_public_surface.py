"""The library's public surface is declared: each pattern module's `__all__`, the patterns and
their args re-exported from `components`, and the packages marked typed (PEP 561)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import components
from components.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[2]
SLUGS = sorted(CATALOG)


@pytest.mark.parametrize("slug", SLUGS)
def test_each_pattern_module_declares_its_public_names(slug):
    entry = CATALOG[slug]
    module = importlib.import_module(entry.component.__module__)
    public = getattr(module, "__all__", None)
    assert public is not None, f"{module.__name__} declares no __all__"
    assert {entry.component.__name__, entry.args.__name__} <= set(public)
    for name in public:
        assert hasattr(module, name), f"{module.__name__}.__all__ names a missing {name}"


@pytest.mark.parametrize("slug", SLUGS)
def test_each_pattern_and_its_args_are_importable_from_components(slug):
    entry = CATALOG[slug]
    for cls in (entry.component, entry.args):
        assert cls.__name__ in components.__all__
        assert getattr(components, cls.__name__) is cls


def test_components_exports_nothing_but_patterns_and_their_args():
    exported = {getattr(components, name) for name in components.__all__}
    catalogued = {cls for entry in CATALOG.values() for cls in (entry.component, entry.args)}
    assert exported == catalogued


@pytest.mark.parametrize("package", ["components", "policies/serverless_wa"])
def test_packages_are_marked_typed(package):
    assert (ROOT / package / "py.typed").is_file()
