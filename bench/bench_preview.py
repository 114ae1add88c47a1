"""Offline preview of the dev stack in a fresh process, against a stack of one pattern.

(A stack must choose a pattern, so the baseline is the smallest useful one: scalable-webhook.)
"""

from __future__ import annotations

import sys

from bench.timing import RUNS, measure, target

GOAL_SECONDS = 2.0  # the dev stack's offline preview, whole process, at most


def run() -> list[str]:
    one_pattern = [sys.executable, "-m", "preview", "--stack", "scalable-webhook"]
    dev_stack = [sys.executable, "-m", "preview", "--stack", "dev"]
    timed = measure({"baseline: scalable-webhook alone": one_pattern, "dev stack": dev_stack})
    lines = [f"offline preview (fresh process, one warm-up, median of {RUNS} interleaved runs)"]
    lines += [f"  {label:<34} {runs.summary()}" for label, runs in timed.items()]
    dev = timed["dev stack"].median
    lines.append(
        target(
            "offline preview of the dev stack",
            f"{dev:.2f} s",
            f"<= {GOAL_SECONDS:.1f} s",
            dev <= GOAL_SECONDS,
        )
    )
    return lines
