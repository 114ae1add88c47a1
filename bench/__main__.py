"""`make bench`: timings printed next to a baseline measured in the same run.

- offline preview of the dev stack, in a fresh process, against the same preview of a stack
  with no patterns (the cost of the engine itself);
- cold import of each handler module in a fresh process, against importing boto3 alone (what
  every Python Lambda pays anyway).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
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


def preview() -> list[str]:
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


def handlers() -> list[str]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "TABLE_NAME": "bench",
        "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/bench",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
    }
    base = wall([sys.executable, "-c", "import boto3"], env=env)
    lines = [f"handler cold import (fresh process, median of {RUNS})"]
    lines.append(row("baseline: import boto3", base, base))
    for folder in sorted(p for p in (ROOT / "functions").iterdir() if p.is_dir()):
        for module in sorted(folder.glob("*.py")):
            source = module.read_text()
            if "def handler(" not in source:
                continue
            seconds = wall([sys.executable, "-c", f"import {module.stem}"], cwd=folder, env=env)
            lines.append(row(f"{folder.name}/{module.name}", seconds, base))
    return lines


def main() -> int:
    for section in (preview, handlers):
        print("\n".join(section()))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
