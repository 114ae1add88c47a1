"""Cold import of each handler module in a fresh process, against importing boto3 alone.

Each handler is imported with the environment its component sets in the dev stack (read
from the offline preview), from its own zip root plus `functions/shared/`, with
`LAMBDA_TASK_ROOT` set as Lambda sets it: outside Lambda the X-Ray SDK builds its
centralized sampler's clients at import, which a function never pays.

The baseline is measured all through the run, not once: every handler sample is taken next
to an `import boto3` sample, in rounds over all handlers, so a change in the machine's load
falls on the baseline and the handlers alike. Each handler's median is compared with the
median of every baseline sample.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.timing import ROOT, RUNS, row, target
from preview import engine

FUNCTION = "aws:lambda/function:Function"
GOAL_RATIO = 2.5  # every handler's cold import at most this many times `import boto3`


def _handlers() -> dict[tuple[str, str], dict[str, str]]:
    """(pattern folder, module) -> the env vars of one function that uses it."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for registration in engine.run_main("dev").of_type(FUNCTION):
        inputs: dict[str, Any] = registration.inputs
        code = getattr(inputs.get("code"), "path", "")
        # `<folder>-<hash>.zip`; a folder with several zip roots is `<folder>-<root>-<hash>.zip`
        folder = os.path.basename(str(code)).rsplit("-", 1)[0].replace("-", "/")
        module = str(inputs.get("handler", "")).split(".")[0]
        variables = (inputs.get("environment") or {}).get("variables") or {}
        found.setdefault((folder, module), {k: str(v) for k, v in variables.items()})
    return found


def _seconds(command: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one fresh process."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def run() -> list[str]:
    base_env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": str(ROOT / "functions" / "shared"),
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
    }
    baseline_command = [sys.executable, "-c", "import boto3"]
    lines = [
        f"handler cold import (fresh process, one warm-up, median of {RUNS}, "
        "each sample next to an `import boto3` sample)"
    ]
    # label -> (command, cwd, env) of every handler that imports at all; the probe warms up.
    runnable: dict[str, tuple[list[str], Path, dict[str, str]]] = {}
    unmeasured: list[str] = []
    _seconds(baseline_command, ROOT, base_env)
    for (folder, module), variables in sorted(_handlers().items()):
        cwd = ROOT / "functions" / folder
        env = {**base_env, **variables, "LAMBDA_TASK_ROOT": str(cwd)}
        command = [sys.executable, "-c", f"import {module}"]
        label = f"{folder}/{module}.py"
        probe = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["?"])[-1][:60]
            unmeasured.append(f"  {label:<44} not measured: {reason}")
            continue
        runnable[label] = (command, cwd, env)
    baseline: list[float] = []
    samples: dict[str, list[float]] = {label: [] for label in runnable}
    for _ in range(RUNS):
        for label, (command, cwd, env) in runnable.items():
            baseline.append(_seconds(baseline_command, ROOT, base_env))
            samples[label].append(_seconds(command, cwd, env))
    base = statistics.median(baseline) if baseline else _seconds(baseline_command, ROOT, base_env)
    low, high = min(baseline, default=base), max(baseline, default=base)
    lines.append(
        f"  {'baseline: import boto3':<44} {base * 1000:8.0f} ms   median of {len(baseline)}, "
        f"min {low * 1000:.0f} ms, max {high * 1000:.0f} ms"
    )
    ratios: dict[str, float] = {}
    for label, taken in samples.items():
        seconds = statistics.median(taken)
        ratios[label] = seconds / base
        lines.append(row(label, seconds, base))
    lines += unmeasured
    ranked = sorted(ratios, key=ratios.__getitem__, reverse=True)
    over = [label for label in ranked if ratios[label] > GOAL_RATIO]
    worst = f"{ratios[ranked[0]]:.2f}x boto3" if ranked else "none"
    lines.append(
        target(
            "every handler's cold import",
            worst,
            f"<= {GOAL_RATIO}x",
            bool(ranked) and not over and not unmeasured,
        )
    )
    if ratios:
        lines.append(
            f"    median {statistics.median(ratios.values()):.2f}x over {len(ratios)} handlers; "
            "highest: " + ", ".join(f"{label} {ratios[label]:.2f}x" for label in ranked[:3])
        )
    if over:
        lines.append(f"    {len(over)} of {len(ratios)} handlers over {GOAL_RATIO}x")
    if unmeasured:
        lines.append(f"    not measured, so not met: {len(unmeasured)} handler(s), listed above")
    return lines
