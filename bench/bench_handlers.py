"""Cold import of each handler module in a fresh process, against importing boto3 alone."""

from __future__ import annotations

import os
import sys

from bench.timing import ROOT, RUNS, row, wall


def run() -> list[str]:
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
