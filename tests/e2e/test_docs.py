"""Generated docs match the code; every pattern has its page and its stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.catalog import CATALOG

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
