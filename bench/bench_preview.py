"""Offline preview of the dev stack in a fresh process, against a stack with no patterns."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.timing import RUNS, row, wall


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "Pulumi.empty.yaml"
        empty.write_text("config:\n  aws:region: eu-west-1\n")
        base = wall([sys.executable, "-m", "preview", "--stack-file", str(empty)])
        dev = wall([sys.executable, "-m", "preview", "--stack", "dev"])
    return [
        f"offline preview (fresh process, median of {RUNS})",
        row("baseline: stack with no patterns", base, base),
        row("dev stack", dev, base),
    ]
