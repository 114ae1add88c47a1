"""Nothing the library ships may make a gate fail on a calendar date: no resource of any
committed stack carries a `wa:exempt:` tag, and no committed profile holds an exemption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preview import engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stack", ["dev", "prod"])  # between them, every pattern
def test_no_library_resource_carries_an_exemption(stack):
    plan = engine.run_main(stack)
    exempted = {
        (r.name, key)
        for r in plan.registrations
        for key in (r.inputs.get("tags") or {})
        if key.startswith("wa:exempt:")
    }
    assert exempted == set()


@pytest.mark.parametrize("profile", sorted((ROOT / "policies" / "profiles").glob("*.json")))
def test_no_committed_profile_exempts_anything(profile):
    config = json.loads(profile.read_text())
    exemptions = {
        name: rule["exemptions"]
        for name, rule in config.items()
        if isinstance(rule, dict) and rule.get("exemptions")
    }
    assert exemptions == {}
