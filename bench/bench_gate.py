"""The policy gate beside cfn-lint with cfn-lint-serverless: whole processes, same resources.

Both tools run as fresh processes on the same synthetic stack (`bench.gate_inputs`: whole
copies of scalable-webhook + table-archive + saga, each with its own names and physical ids),
interpreter start, imports and the pack's start included: the gate as
`python -m preview --plan plan-N.json --profile prod --quiet`, cfn-lint as
`cfn-lint template-N.yaml -a cfn_lint_serverless.rules` on the same resources as a
CloudFormation template. One warm-up each, then RUNS rounds, the two interleaved. AnalyzeStack
alone is timed in process, over the analyzer protocol, on the same plans.
"""

from __future__ import annotations

import collections
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import gate_inputs
from bench.timing import RUNS, Runs, measure, target
from preview import engine, gate

SIZES = (1_000, 10_000)
SPEEDUP_GOAL = 10.0  # the gate at least this many times faster than cfn-lint, whole process
GROWTH_GOAL = 11.0  # AnalyzeStack at 10,000 at most this many times its time at 1,000
CFN_LINT_OK = tuple(range(0, 16, 2))  # cfn-lint exits with a bit mask of finding levels


def commands(written: gate_inputs.Written) -> dict[str, list[str]]:
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    return {
        "gate": [
            sys.executable, "-m", "preview", "--plan", str(written.plan), "--profile", "prod",
            "--quiet",
        ],
        "cfn-lint": [cfn_lint, str(written.template), "-a", "cfn_lint_serverless.rules"],
    }  # fmt: skip


def findings(command: list[str], *, ok: tuple[int, ...]) -> str:
    """What one run of `command` reported: the gate's summary, cfn-lint's rule counts."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    if "preview" in command:
        return done.stdout.strip().splitlines()[-1]
    rules = collections.Counter(re.findall(r"^([EWI][A-Z]*\d+) ", done.stdout, re.MULTILINE))
    listed = ", ".join(f"{rule} x{count}" for rule, count in sorted(rules.items()))
    return f"{sum(rules.values())} findings" + (f" ({listed})" if listed else "")


def analyze_stack_seconds(plan_file: Path) -> float:
    """Median seconds of the AnalyzeStack call on a saved plan, the pack configured with prod."""
    plan = engine.load_plan(plan_file)
    with gate.policy_pack() as stub:
        gate.run(plan, profile=gate.profile_for("prod"), stub=stub)  # configures; warms up
        _, stack_request = gate.analyze_requests(plan)
        samples = []
        for _ in range(RUNS):
            start = time.perf_counter()
            stub.AnalyzeStack(stack_request)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run() -> list[str]:
    lines = [
        f"whole processes, one warm-up then median of {RUNS} interleaved runs; peak RSS is the",
        "largest process of each tree (the gate's pack process included). cfn-lint's E3010 and",
        "E1002 are CloudFormation's own limits (500 resources, 1 MB a template): no single",
        "template of this size deploys; they are findings, not conversion errors",
    ]
    ratios: dict[int, float] = {}
    stack_seconds: dict[int, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in SIZES:
            print(f"  gate bench: {size:,} resources ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            written = gate_inputs.write(size, Path(scratch))
            lines.append(
                f"  {size:>6}: {written.copies} copies, {written.resources} resources "
                f"({written.aws_resources} AWS; {written.cfn_resources} CloudFormation resources, "
                f"the rest folded into them), made in {time.perf_counter() - began:.0f} s"
            )
            chosen = commands(written)
            ok = {"gate": (0, 1), "cfn-lint": CFN_LINT_OK}
            for label, command in chosen.items():
                lines.append(f"    {label:<9} reports: {findings(command, ok=tuple(ok[label]))}")
            timed: dict[str, Runs] = measure(chosen, ok=ok)
            for label, runs in timed.items():
                lines.append(f"    {label:<9} {runs.summary()}")
            ratios[size] = timed["cfn-lint"].median / timed["gate"].median
            lines.append(f"    gate is {ratios[size]:.1f}x faster than cfn-lint + serverless rules")
            seconds = analyze_stack_seconds(written.plan)
            stack_seconds[size] = (written.resources, seconds)
            lines.append(f"    AnalyzeStack alone (in process, median of {RUNS}) {seconds:7.2f} s")
    for size in SIZES:
        lines.append(
            target(
                f"gate vs cfn-lint + serverless rules at {size:,}",
                f"{ratios[size]:.1f}x faster",
                f">= {SPEEDUP_GOAL:.0f}x",
                ratios[size] >= SPEEDUP_GOAL,
            )
        )
    (small, t_small), (large, t_large) = stack_seconds[SIZES[0]], stack_seconds[SIZES[-1]]
    growth = t_large / t_small
    lines.append(
        target(
            f"AnalyzeStack growth {small:,} -> {large:,} resources",
            f"x{growth:.1f} time",
            f"<= x{GROWTH_GOAL:.0f}",
            growth <= GROWTH_GOAL,
        )
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
