"""Shared timing helpers for the benchmarks."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TARGET = "  target "  # how a target line starts; `make bench` repeats them at the end


def wall(command: Sequence[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    """Median wall time of `command` over RUNS fresh processes, after one warm-up, in seconds."""
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def row(label: str, seconds: float, baseline: float) -> str:
    return f"  {label:<44} {seconds * 1000:8.0f} ms   {seconds / baseline:5.2f}x baseline"


@dataclass(frozen=True)
class Runs:
    """Whole-process runs of one command: wall seconds of each, and the peak resident set
    (of the largest process of the tree: the child or any descendant it waited for)."""

    seconds: tuple[float, ...]
    peak_rss_mb: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def summary(self) -> str:
        bound = "<=" if self.peak_rss_mb < 0 else "  "
        return (
            f"median {self.median:7.2f} s  min {min(self.seconds):7.2f}  "
            f"max {max(self.seconds):7.2f}  peak RSS {bound}{abs(self.peak_rss_mb):6.0f} MB"
        )


TIME = Path("/usr/bin/time")


def run_process(
    command: Sequence[str],
    *,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    ok: Collection[int] = (0,),
) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process.

    The peak is `/usr/bin/time`'s maximum resident set: of the command or of any descendant
    it waited for (the largest one, not their sum). Without `/usr/bin/time` it is `os.wait4`'s
    rusage of the child, which Linux floors at this process's own peak (a child inherits its
    parent's high-water mark across fork and exec), so it is shown as a bound, with `<=`.
    """
    with tempfile.TemporaryDirectory() as scratch:
        report, errors = Path(scratch) / "rss", Path(scratch) / "stderr"
        wrapped = [str(TIME), "-q", "-f", "%M", "-o", str(report), *command]
        with errors.open("wb") as sink:
            start = time.perf_counter()
            process = subprocess.Popen(
                wrapped if TIME.is_file() else list(command),
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            tail = errors.read_text(errors="replace")[-800:]
            raise RuntimeError(f"{' '.join(command)} exited {code}:\n{tail}")
        # Negative when it is only an upper bound (see above).
        kilobytes = int(report.read_text().split()[-1]) if TIME.is_file() else -usage.ru_maxrss
    return seconds, kilobytes / 1024


def measure(
    commands: Mapping[str, Sequence[str]],
    *,
    runs: int = RUNS,
    ok: Mapping[str, Collection[int]] | None = None,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> dict[str, Runs]:
    """Each command once to warm up, then `runs` rounds, the commands interleaved in each
    round so that a change in the machine's load falls on all of them alike."""
    codes = ok or {}
    for label, command in commands.items():
        run_process(command, cwd=cwd, env=env, ok=codes.get(label, (0,)))
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            samples[label].append(run_process(command, cwd=cwd, env=env, ok=codes.get(label, (0,))))
    return {
        label: Runs(tuple(s for s, _ in taken), max((m for _, m in taken), key=abs))
        for label, taken in samples.items()
    }


def target(label: str, measured: str, goal: str, met: bool) -> str:
    """One target line: what was measured, the goal, and plainly whether it is met."""
    return f"{TARGET}{label:<46} {measured:>14}   goal {goal:<10} {'MET' if met else 'NOT MET'}"
