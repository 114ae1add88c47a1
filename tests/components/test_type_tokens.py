"""Type tokens are pinned: a deployed component keeps its URN (and its children theirs) across
a class rename, and a token that changes keeps the old one as an alias.

`type_tokens.json` is every token each pattern has had, oldest first, the current one last.
Changing a token means appending the new one there; the old ones must then be listed in the
class's `former_type_tokens`, which the component passes to Pulumi as aliases.
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path
from typing import ClassVar

import pytest

from components.catalog import CATALOG
from components.core.pattern import PACKAGE, Pattern, PatternArgs
from components.scalable_webhook import ScalableWebhook

HISTORY: dict[str, list[str]] = json.loads(Path(__file__).with_name("type_tokens.json").read_text())
SLUGS = sorted(CATALOG)


def test_every_pattern_has_a_token_history():
    assert sorted(HISTORY) == SLUGS, "add the new pattern's token to type_tokens.json"


@pytest.mark.parametrize("slug", SLUGS)
def test_the_token_is_the_latest_in_its_history_and_former_ones_are_aliases(slug):
    component = CATALOG[slug].component
    *former, current = HISTORY[slug]
    assert component.type_token == current, (
        f"{component.__name__}'s type token changed: append it to type_tokens.json and keep "
        f"{current!r} in former_type_tokens, or deployed stacks replace every resource"
    )
    assert set(former) <= set(component.former_type_tokens)
    assert current.startswith(f"{PACKAGE}:")


@pytest.mark.parametrize("slug", SLUGS)
def test_the_token_is_a_literal_in_the_class_body(slug):
    component = CATALOG[slug].component
    source = ast.parse(inspect.getsource(component))
    pinned = [
        node.value.value
        for node in ast.walk(source)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "type_token"
        and isinstance(node.value, ast.Constant)
    ]
    assert pinned == [component.type_token]


def test_the_component_registers_under_its_token(build):
    plan = build(lambda: ScalableWebhook("hook"))
    (component,) = plan.of_type(ScalableWebhook.type_token)
    assert component.aliases == []


class _RenamedWebhook(ScalableWebhook):
    """What a rename looks like: a new token, the old one kept."""

    type_token: ClassVar[str] = f"{PACKAGE}:patterns:RenamedWebhook"
    former_type_tokens: ClassVar[tuple[str, ...]] = (ScalableWebhook.type_token,)


def test_a_renamed_component_passes_its_former_tokens_as_aliases(build):
    plan = build(lambda: _RenamedWebhook("hook"))
    (component,) = plan.of_type(_RenamedWebhook.type_token)
    assert component.aliases == [ScalableWebhook.type_token]
    assert not plan.of_type(ScalableWebhook.type_token)
    children = [r for r in plan.registrations if r.parent == component.urn]
    assert children and all(c.urn.split("::")[2].startswith(component.type) for c in children)


class _Unpinned(Pattern):
    slug: ClassVar[str] = "unpinned"


def test_a_pattern_without_a_pinned_token_is_refused():
    with pytest.raises(TypeError, match=r"_Unpinned must pin its type token"):
        _Unpinned("x", PatternArgs())
