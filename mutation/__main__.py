"""`make mutation`: mutation testing with cosmic-ray, one module at a time against its own tests.

The modules, the parts of each that are mutated and the tests that must kill the mutants are
listed in `mutation/modules.toml`; survivors that are equivalent to the original (no test can
tell them apart) are listed, each with its reason, in `mutation/equivalent.toml`.

Everything runs in a scratch copy of the work tree (under .build/mutation/), so the files being
edited are never touched and other test runs never see a mutant. For each module it prints the
score (killed / (mutants - listed equivalents)) against the module's target, then every
surviving mutant that is not listed, as a diff. Exit status 1 when a module is below target.

    python -m mutation                 every module
    python -m mutation stack exempt    the modules whose name contains one of the words
    python -m mutation --list          the modules, their tests and targets
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmic_ray.commands import init as cr_init
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SCRATCH = ROOT / ".build" / "mutation"
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".build", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache",
    ".ruff_cache", ".hypothesis", "out", ".tools", "venv", "node_modules",
)  # fmt: skip


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    tests: tuple[str, ...]
    target: int
    select: tuple[str, ...] = ()  # top-level names to mutate; empty: the whole file
    keyword: str = ""  # pytest -k expression narrowing `tests`
    about: str = ""


@dataclass(frozen=True)
class Equivalent:
    module: str
    operator: str
    line: str  # the source line, stripped
    mutant: str  # the mutated line, stripped (one line can hold several mutants)
    reason: str


@dataclass
class Outcome:
    module: Module
    killed: int = 0
    # (line number, operator, source line, diff) of each unlisted survivor
    survivors: list[tuple[int, str, str, str]] = field(default_factory=list)
    equivalent: int = 0
    seconds: float = 0.0
    errors: list[tuple[Any, ...]] = field(default_factory=list)  # mutants cosmic-ray could not make

    @property
    def mutants(self) -> int:
        return self.killed + len(self.survivors) + self.equivalent

    @property
    def score(self) -> float:
        scored = self.mutants - self.equivalent
        return 100.0 * self.killed / scored if scored else 100.0


def load() -> tuple[dict[str, Any], list[Module], list[Equivalent]]:
    config = tomllib.loads((HERE / "modules.toml").read_text())
    modules = [
        Module(
            name=m["name"],
            path=m["path"],
            tests=tuple(m["tests"]),
            target=int(m["target"]),
            select=tuple(m.get("select", ())),
            keyword=m.get("keyword", ""),
            about=m.get("about", ""),
        )
        for m in config["module"]
    ]
    listed = tomllib.loads((HERE / "equivalent.toml").read_text()).get("equivalent", [])
    equivalents = [
        Equivalent(e["module"], e["operator"], e["line"].strip(), e["mutant"].strip(), e["reason"])
        for e in listed
    ]
    return config.get("defaults", {}), modules, equivalents


def line_ranges(source: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The lines of the top-level definitions and assignments named in `names`."""
    ranges = []
    found = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            node_names = {node.name}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            node_names = {t.id for t in targets if isinstance(t, ast.Name)}
        else:
            continue
        hits = node_names & set(names)
        if hits:
            found |= hits
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            ranges.append((first, node.end_lineno or node.lineno))
    missing = set(names) - found
    if missing:
        raise SystemExit(f"mutation: {sorted(missing)} not found at the top level")
    return ranges


def mutated_line(diff: str) -> str:
    """The first line a mutant's diff adds, stripped."""
    added = [d[1:] for d in diff.splitlines() if d.startswith("+") and not d.startswith("+++")]
    return added[0].strip() if added else ""


def test_command(module: Module) -> str:
    words = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:warnings", *module.tests]
    if module.keyword:
        words += ["-k", module.keyword]
    return shlex.join(words)


def run(module: Module, defaults: dict[str, Any], equivalents: list[Equivalent]) -> Outcome:
    source = Path(module.path).read_text()
    lines = source.splitlines()
    command = test_command(module)
    started = time.monotonic()
    baseline = subprocess.run(shlex.split(command), capture_output=True, text=True)
    if baseline.returncode != 0:
        raise SystemExit(f"mutation: {module.name}: the tests fail unmutated:\n{baseline.stdout}")
    took = time.monotonic() - started
    timeout = max(60.0, 4 * took)  # a mutant that loops forever counts as killed

    ranges = line_ranges(source, module.select) if module.select else [(1, len(lines))]
    excluded = re.compile("|".join(f"(?:{e})" for e in defaults.get("exclude_operators", [])))
    db_path = SCRATCH / f"{Path.cwd().name}-{module.name}.sqlite"  # cwd: the copy
    db_path.unlink(missing_ok=True)
    outcome = Outcome(module)
    with use_db(str(db_path), WorkDB.Mode.create) as db:
        cr_init([Path(module.path)], db, {})
        todo = []
        for item in db.pending_work_items:
            (mutation,) = item.mutations
            first, last = mutation.start_pos[0], mutation.end_pos[0]
            inside = any(first <= end and start <= last for start, end in ranges)
            if not inside or (excluded.pattern and excluded.match(mutation.operator_name)):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
            else:
                todo.append(item)
        todo.sort(key=lambda i: (i.mutations[0].start_pos, i.mutations[0].operator_name))
        print(f"{module.name}: {len(todo)} mutants, the tests take {took:.0f} s", flush=True)
        for done, item in enumerate(todo, 1):
            (mutation,) = item.mutations
            result = mutate_and_test(item.mutations, command, timeout)
            db.set_result(item.job_id, result)
            line = lines[mutation.start_pos[0] - 1].strip()
            mutant = mutated_line(result.diff or "")
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                pass
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                # cosmic-ray could not make this mutant (its exception operator fails on a
                # dotted name such as `re.error`): reported, not scored.
                last_line = (result.output or "").strip().splitlines()[-1:]
                outcome.errors.append((mutation.start_pos[0], mutation.operator_name, *last_line))
            elif result.test_outcome != TestOutcome.SURVIVED:
                outcome.killed += 1
            elif any(
                (e.module, e.operator, e.line, e.mutant)
                == (module.name, mutation.operator_name, line, mutant)
                for e in equivalents
            ):
                outcome.equivalent += 1
            else:
                outcome.survivors.append(
                    (mutation.start_pos[0], mutation.operator_name, line, result.diff or "")
                )
            if done % 25 == 0 or done == len(todo):
                print(
                    f"{module.name}: {done}/{len(todo)}  killed {outcome.killed}  "
                    f"survived {len(outcome.survivors)}  equivalent {outcome.equivalent}",
                    flush=True,
                )
    # The scratch copy must hold the original again: a mutant left behind would poison the
    # next module's run.
    if Path(module.path).read_text() != source:
        raise SystemExit(f"mutation: {module.path} was not restored")
    outcome.seconds = time.monotonic() - started
    return outcome


def report(outcomes: list[Outcome]) -> list[str]:
    width = max(len(o.module.name) for o in outcomes)
    out = [
        f"{'module':<{width}}  mutants  killed  survived  equivalent   score  target  time",
    ]
    for o in sorted(outcomes, key=lambda o: o.module.name):
        mark = "" if o.score >= o.module.target else "  BELOW TARGET"
        out.append(
            f"{o.module.name:<{width}}  {o.mutants:>7}  {o.killed:>6}  {len(o.survivors):>8}  "
            f"{o.equivalent:>10}  {o.score:>5.1f}%  {o.module.target:>5}%  "
            f"{o.seconds / 60:>3.0f} min{mark}"
        )
    for o in sorted(outcomes, key=lambda o: o.module.name):
        for number, operator, *why in o.errors:
            out.append(f"not made: {o.module.path}:{number} {operator}: {' '.join(why)}")
        for number, operator, line, diff in sorted(o.survivors):
            out += ["", f"survivor: {o.module.path}:{number} {operator}", f"  {line}"]
            changed = [d for d in diff.splitlines() if d[:1] in "+-"]
            out += [f"    {d}" for d in changed if not d.startswith(("+++", "---"))]
    return out


def stale(outcomes: list[Outcome], equivalents: list[Equivalent]) -> list[str]:
    """Listed equivalents whose line no longer exists in their module (edit or drop them)."""
    out = []
    for o in outcomes:
        text = {line.strip() for line in Path(o.module.path).read_text().splitlines()}
        out += [
            f"stale entry in mutation/equivalent.toml: {e.module}: {e.line}"
            for e in equivalents
            if e.module == o.module.name and e.line not in text
        ]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__.split("\n")[0])
    parser.add_argument("words", nargs="*", help="run the modules whose name contains a word")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    parser.add_argument(
        "--tree", type=Path, help="run in this prepared copy of the work tree (kept as it is)"
    )
    args = parser.parse_args(argv)
    defaults, modules, equivalents = load()
    names = {m.name for m in modules}
    # A word that names a module picks that one; any other word, the modules containing it.
    chosen = [
        m
        for m in modules
        if not args.words
        or m.name in args.words
        or any(w not in names and w in m.name for w in args.words)
    ]
    if args.list or not chosen:
        for m in modules:
            print(f"{m.name:<16} {m.target:>3}%  {m.path}  <- {test_command(m).split(' -p ')[1]}")
        return 0 if chosen else 2

    SCRATCH.mkdir(parents=True, exist_ok=True)
    copy = args.tree.resolve() if args.tree else SCRATCH / "tree"
    if not args.tree:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
    outcomes = []
    cwd = Path.cwd()
    # Stopped with SIGTERM (or SIGINT, which a background job ignores): unwind, so the
    # mutated file in the copy is put back before the process ends.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        os.chdir(copy)
        for module in chosen:
            outcomes.append(run(module, defaults, equivalents))
            print("\n".join(report(outcomes[-1:])) + "\n", flush=True)
        lines = report(outcomes) + stale(outcomes, equivalents)
    finally:
        os.chdir(cwd)
    text = "\n".join(lines)
    print("\n" + text)
    (SCRATCH / f"report-{copy.name}.txt").write_text(text + "\n")
    return 0 if all(o.score >= o.module.target for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
