"""Meta-tests: every rule is complete, its type tokens and property paths exist in the SDK,
the generated docs and profiles match the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serverless_wa import pack
from serverless_wa.registry import ANCHOR_KEYS, ID_PATTERN, NAME_PATTERN, rules
from tests.policies import sdk

ROOT = Path(__file__).resolve().parents[2]
RULES = rules()


def test_ids_and_names_are_unique_and_well_formed():
    assert len({r.id for r in RULES}) == len(RULES) == len({r.name for r in RULES})
    for rule in RULES:
        assert ID_PATTERN.match(rule.id) and NAME_PATTERN.match(rule.name)
        assert rule.name != "all"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_metadata_is_complete(rule):
    # knob may be empty (no component argument controls it): tests/policies/test_knobs.py
    assert rule.title and rule.description and rule.raw
    assert rule.severity in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    assert rule.pillar in ("OPS", "SEC", "REL", "PERF", "COST")
    assert rule.scope in ("resource", "stack")
    assert set(rule.anchors) == set(ANCHOR_KEYS)
    assert rule.url.endswith(f"/{rule.id}.md")
    assert rule.examples.compliant and rule.examples.non_compliant
    for key, schema in rule.config.items():
        assert "type" in schema, key
        assert "default" in schema, key


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_type_tokens_and_property_paths_exist_in_pulumi_aws(rule):
    for token in rule.types:
        assert sdk.resource_class(token), f"{rule.id}: {token} is not a pulumi_aws resource"
    for token, paths in rule.reads.items():
        assert token in rule.types
        for path in paths:
            assert sdk.path_exists(token, path), f"{rule.id}: {token} has no {path}"


def test_profiles_are_generated_from_the_registry():
    for name in ("dev", "prod"):
        path = ROOT / "policies" / "profiles" / f"{name}.json"
        assert json.loads(path.read_text()) == pack.profile(name), f"run `make docs` ({path})"
    prod = pack.profile("prod")
    for rule in RULES:
        expected = (
            "disabled"
            if not rule.enabled
            else "mandatory"
            if rule.severity in ("HIGH", "CRITICAL")
            else "advisory"
        )
        assert prod[rule.name]["enforcementLevel"] == expected


def test_rule_urls_point_at_their_page_in_the_projects_rule_docs():
    index = (ROOT / "docs" / "rules.md").read_text()
    for rule in RULES:
        assert rule.url == f"docs/rules/{rule.id}.md"
        page = (ROOT / rule.url).read_text()
        assert page.splitlines()[1] == f"# {rule.id} `{rule.name}`", f"{rule.id}: run `make docs`"
        assert f"[{rule.id}](rules/{rule.id}.md)" in index
        # Every example the registry holds is on the page, the fix twice, the config keys.
        assert page.count("### Compliant ") == len(rule.examples.compliant)
        assert page.count("### Non-compliant ") == len(rule.examples.non_compliant)
        assert f"set `{rule.raw}`" in page
        assert all(f"| `{key}` |" in page for key in rule.config)
