"""Cold import of each handler module in a fresh process, against importing boto3 alone.

Each handler is imported with the environment its component sets in the dev stack (read
from the offline preview), from its own zip root plus `functions/shared/`, with
`LAMBDA_TASK_ROOT` set as Lambda sets it: outside Lambda the X-Ray SDK builds its
centralized sampler's clients at import, which a function never pays.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from bench.timing import ROOT, RUNS, row, target, wall
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


def run() -> list[str]:
    base_env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PYTHONPATH": str(ROOT / "functions" / "shared"),
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
    }
    base = wall([sys.executable, "-c", "import boto3"], env=base_env)
    lines = [f"handler cold import (fresh process, one warm-up, median of {RUNS})"]
    lines.append(row("baseline: import boto3", base, base))
    ratios: dict[str, float] = {}
    unmeasured: list[str] = []
    for (folder, module), variables in sorted(_handlers().items()):
        cwd = ROOT / "functions" / folder
        env = {**base_env, **variables, "LAMBDA_TASK_ROOT": str(cwd)}
        command = [sys.executable, "-c", f"import {module}"]
        label = f"{folder}/{module}.py"
        probe = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["?"])[-1][:60]
            lines.append(f"  {label:<44} not measured: {reason}")
            unmeasured.append(label)
            continue
        seconds = wall(command, cwd=cwd, env=env)
        ratios[label] = seconds / base
        lines.append(row(label, seconds, base))
    ranked = sorted(ratios, key=ratios.__getitem__, reverse=True)
    over = [label for label in ranked if ratios[label] > GOAL_RATIO]
    lines.append(
        target(
            "every handler's cold import",
            f"{ratios[ranked[0]]:.2f}x boto3",
            f"<= {GOAL_RATIO}x",
            not over and not unmeasured,
        )
    )
    if over:
        worst = ", ".join(f"{label} {ratios[label]:.2f}x" for label in over[:5])
        lines.append(
            f"    {len(over)} of {len(ratios)} handlers over {GOAL_RATIO}x; worst: {worst}"
        )
    if unmeasured:
        lines.append(f"    not measured, so not met: {', '.join(unmeasured)}")
    return lines
