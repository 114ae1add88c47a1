"""Generated docs match the code; every pattern has its page and its stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.catalog import CATALOG
from components.config import parse
from preview import stack_files
from preview.engine import project_name

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_current():
    run = subprocess.run(
        [sys.executable, "docs/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_every_pattern_has_a_page_with_a_diagram_and_a_stack():
    for slug in CATALOG:
        page = ROOT / "docs" / "patterns" / f"{slug}.md"
        assert "```mermaid" in page.read_text()
        assert (ROOT / "stacks" / f"Pulumi.{slug}.yaml").is_file()


def _yaml_blocks(page: Path) -> list[str]:
    blocks, current = [], None
    for line in page.read_text().splitlines():
        if current is None and line.strip() == "```yaml":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


PAGES = sorted((ROOT / "docs" / "patterns").glob("*.md"))
EXAMPLES = [(page, i, block) for page in PAGES for i, block in enumerate(_yaml_blocks(page))]


@pytest.mark.parametrize(
    ("page", "index", "block"),
    EXAMPLES,
    ids=[f"{page.stem}-{index}" for page, index, _ in EXAMPLES],
)
def test_every_stack_file_example_in_the_pattern_pages_parses(tmp_path, page, index, block):
    """Read as a stack file (the offline preview's reader) and parsed by the program's own
    config parser, so an example cannot drift from the arguments."""
    path = tmp_path / f"Pulumi.{page.stem}.yaml"
    path.write_text(block)
    stack = stack_files.load(path, project_name())
    stack.check()  # ConfigError names the example's line and the problem
    config = parse(stack.config)
    assert [choice.slug for choice in config.patterns] == [page.stem]
    assert config.notes == [], "examples use the current argument names"


def test_the_examples_are_found():
    assert len(EXAMPLES) >= len(PAGES) - 1  # queue-redrive's queues are set in code
