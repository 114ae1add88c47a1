"""`python -m preview --stack dev [--json FILE] [--diagram FILE] [--sarif FILE] [--preview]`.

The offline preview: runs `__main__.py` for `stacks/Pulumi.<stack>.yaml` under the simulated
cloud, prints the plan as `pulumi preview` would, then runs the policy pack over the
analyzer protocol with the stack's profile (`policies/profiles/<stack>.json` when it
exists) and prints its findings by component.
Exit codes: 0 clean or advisory only, 1 a mandatory finding (or a failure), 2 a bad stack
config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from components.config import ConfigError
from preview import engine, gate, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stacks/Pulumi.<stack>.yaml (default dev)")
    parser.add_argument(
        "--stack-file", type=Path, metavar="FILE", help="preview this stack file instead"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write registrations, findings")
    parser.add_argument("--diagram", type=Path, metavar="FILE", help="write a Mermaid diagram")
    parser.add_argument("--sarif", type=Path, metavar="FILE", help="write findings as SARIF 2.1.0")
    parser.add_argument(
        "--preview", action="store_true", help="computed outputs unknown, as in `pulumi preview`"
    )
    parser.add_argument("--profile", help="policy profile (default: the stack's, if any)")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy gate")
    options = parser.parse_args(argv)

    try:
        plan = engine.run_main(options.stack, path=options.stack_file, preview=options.preview)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(render.tree(plan))
    document = plan.to_json()
    status = 0
    if not options.no_policy:
        profile = gate.profile_for(options.profile or plan.stack)
        report = gate.run(plan, profile=profile, preview=options.preview)
        print()
        print(gate.render(plan, report))
        document["findings"] = [f.to_json() for f in report.findings]
        if options.sarif:
            stack_file = options.stack_file or Path("stacks") / f"Pulumi.{plan.stack}.yaml"
            write(options.sarif, json.dumps(gate.sarif(report, str(stack_file)), indent=2))
        status = 1 if report.mandatory else 0
    if options.json:
        write(options.json, json.dumps(document, indent=2, sort_keys=True))
    if options.diagram:
        write(options.diagram, render.diagram(plan))
    return status


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("" if text.endswith("\n") else "\n"))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
