"""`python -m preview --stack dev [--json FILE] [--diagram FILE]`: the offline preview.

Runs `__main__.py` for `stacks/Pulumi.<stack>.yaml` under the simulated cloud, prints the
plan as `pulumi preview` would, and writes the recorded registrations or a diagram.
Exit codes: 0 planned, 2 the stack config is invalid, 1 anything else failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from components.config import ConfigError
from preview import engine, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stacks/Pulumi.<stack>.yaml (default dev)")
    parser.add_argument(
        "--stack-file", type=Path, metavar="FILE", help="preview this stack file instead"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the registrations")
    parser.add_argument("--diagram", type=Path, metavar="FILE", help="write a Mermaid diagram")
    options = parser.parse_args(argv)

    try:
        plan = engine.run_main(options.stack, path=options.stack_file)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(render.tree(plan))
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {options.json}")
    if options.diagram:
        options.diagram.parent.mkdir(parents=True, exist_ok=True)
        options.diagram.write_text(render.diagram(plan))
        print(f"wrote {options.diagram}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
