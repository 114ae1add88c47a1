"""Shared timing helpers for the benchmarks."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def wall(command: Sequence[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    """Median wall time of `command` over RUNS fresh processes, in seconds."""
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(label: str, seconds: float, baseline: float) -> str:
    return f"  {label:<44} {seconds * 1000:8.0f} ms   {seconds / baseline:5.2f}x baseline"
