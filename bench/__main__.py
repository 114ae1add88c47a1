"""`make bench`: every `bench/bench_*.py` module's `run()`, each printing its figures next to
a baseline measured in the same run (ratios, never absolute targets in tests), then every
target line again, with how many are met.

`python -m bench preview` runs only the modules whose name contains "preview".
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from bench.timing import TARGET


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = [n for n in names if not argv or any(a in n for a in argv)]
    targets: list[str] = []
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"[{name.removeprefix('bench_')}] {(module.__doc__ or '').strip().splitlines()[0]}")
        lines = module.run()
        print("\n".join(lines))
        print()
        targets += [line for line in lines if line.startswith(TARGET)]
    if targets:
        met = sum(line.endswith(" MET") and not line.endswith("NOT MET") for line in targets)
        print(f"[targets] {met} of {len(targets)} met")
        print("\n".join(targets))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
