"""Offline preview of the dev stack in a fresh process, against a stack of one pattern.

(A stack must choose a pattern, so the baseline is the smallest useful one: scalable-webhook.)

The repository's modules are byte-compiled first, as an installed package's are (pip compiles
on install; `make preview` does it for the repository): a machine that sets
PYTHONDONTWRITEBYTECODE would otherwise compile them from source on every run.

Two more figures say where the time goes. The SDK floor: the dev program run a second time
in one warm process (everything imported, no gate), which is the Pulumi SDK's own work per
resource plus the components'; no change around the SDK brings the whole process below it.
And the phases of one fresh run, from the process's start.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from bench.timing import ROOT, RUNS, measure, target

GOAL_SECONDS = 2.0  # the dev stack's offline preview, whole process, at most

_FLOOR = """
import gc, json, statistics, sys, time
gc.disable()
from preview import engine
engine.run_main("dev")  # imports, caches
runs = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    engine.run_main("dev")
    runs.append(time.perf_counter() - start)
print(json.dumps(statistics.median(runs)))
"""

_PHASES = """
import time
start = time.perf_counter()
import gc, json, os, sys
gc.disable()
from preview import engine, gate, sdk_imports
import preview.__main__ as cli
sdk_imports.install()  # as the CLI's process does
marks = {"imported": time.perf_counter() - start}
def timed(owner, name, label):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        began = time.perf_counter() - start
        try:
            return real(*args, **kwargs)
        finally:
            marks[label] = (began, time.perf_counter() - start)
    setattr(owner, name, wrapper)
timed(engine, "load_stack_config", "stack config")
timed(engine, "run", "program run")
timed(gate.StreamedGate, "finish", "gate's end")
sys.argv = ["preview", "--stack", "dev"]
shown, sys.stdout = sys.stdout, open(os.devnull, "w")
cli.main()
marks["end"] = time.perf_counter() - start
print(json.dumps(marks), file=shown, flush=True)
os._exit(0)
"""


def _python(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def run() -> list[str]:
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "preview", "components", "policies"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    one_pattern = [sys.executable, "-m", "preview", "--stack", "scalable-webhook"]
    dev_stack = [sys.executable, "-m", "preview", "--stack", "dev"]
    timed = measure({"baseline: scalable-webhook alone": one_pattern, "dev stack": dev_stack})
    lines = [f"offline preview (fresh process, one warm-up, median of {RUNS} interleaved runs)"]
    lines += [f"  {label:<34} {runs.summary()}" for label, runs in timed.items()]
    floor = float(json.loads(_python(_FLOOR, str(RUNS))))
    lines.append(f"  {'SDK floor: dev program, warm rerun':<34} median {floor:7.2f} s")
    phases = [json.loads(_python(_PHASES)) for _ in range(RUNS)]
    imported = statistics.median(p["imported"] for p in phases)
    shown = [f"imports {imported:.2f} s"]
    for label in ("stack config", "program run", "gate's end"):
        began = statistics.median(p[label][0] for p in phases)
        ended = statistics.median(p[label][1] for p in phases)
        shown.append(f"{label} {began:.2f}-{ended:.2f} s")
    shown.append(f"end {statistics.median(p['end'] for p in phases):.2f} s")
    lines.append(f"  {'phases of one run (from start)':<34} " + ", ".join(shown))
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
