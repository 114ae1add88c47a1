"""Every pattern argument is documented: a `name: meaning` entry in its args class's docstring
that says what a None default means, shown in the generated catalog."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from components.catalog import CATALOG
from components.core.pattern import PatternArgs
from components.docstrings import argument_docs

ROOT = Path(__file__).resolve().parents[2]
SLUGS = sorted(CATALOG)


def _arguments(slug: str) -> list[dataclasses.Field[object]]:
    return [f for f in dataclasses.fields(CATALOG[slug].args) if f.name != "settings"]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_argument_has_a_description(slug):
    docs = argument_docs(CATALOG[slug].args)
    undocumented = [f.name for f in _arguments(slug) if not docs.get(f.name)]
    assert undocumented == [], f"document these in {CATALOG[slug].args.__name__}'s docstring"


@pytest.mark.parametrize("slug", SLUGS)
def test_an_argument_that_defaults_to_none_says_what_none_means(slug):
    docs = argument_docs(CATALOG[slug].args)
    unexplained = [
        f.name for f in _arguments(slug) if f.default is None and "None" not in docs.get(f.name, "")
    ]
    assert unexplained == []


def test_the_common_settings_argument_is_documented_once():
    assert "settings" in argument_docs(PatternArgs)


def test_descriptions_read_entries_and_their_continuation_lines():
    @dataclasses.dataclass
    class Example:
        """Arguments of `Example`.

        alpha: the first,
          continued here.
        beta / gamma: shared.

        Not an entry: a closing paragraph.
        """

        alpha: int = 1
        beta: int = 2
        gamma: int = 3

    assert argument_docs(Example) == {
        "alpha": "the first, continued here.",
        "beta": "shared.",
        "gamma": "shared.",
    }


@pytest.mark.parametrize("slug", SLUGS)
def test_the_catalog_shows_each_description(slug):
    catalog = (ROOT / "docs" / "catalog.md").read_text().splitlines()
    docs = argument_docs(CATALOG[slug].args)
    heading = catalog.index(f"## `{slug}` arguments (`{CATALOG[slug].args.__name__}`)")
    for field in _arguments(slug):
        row = next(line for line in catalog[heading:] if line.startswith(f"| `{field.name}` |"))
        assert row.endswith(f"| {docs[field.name].replace('|', chr(92) + '|')} |")
