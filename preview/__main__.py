"""`python -m preview [--stack dev | --stack-file FILE] [--profile NAME|FILE] [--json FILE] ...`.

The offline preview: runs `__main__.py` for `stacks/Pulumi.<stack>.yaml` (or a stack file
`Pulumi.<stack>.yaml` of your own, previewed as stack `<stack>`) under the simulated cloud,
prints the plan and the stack outputs as `pulumi preview` would, then runs the policy pack
over the analyzer protocol with the stack's profile (`policies/profiles/<stack>.json` when
it exists, else the pack's built-in config) and prints its findings by component.
The JSON and SARIF files are the same bytes for the same input.
Exit codes: 0 clean or advisory only, 1 a mandatory finding (or a failure), 2 a bad stack
config or a bad option (an unknown profile, a profile file that does not parse).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from components.config import ConfigError
from preview import engine, gate, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack", help="stacks/Pulumi.<stack>.yaml (default: the --stack-file's stack, else dev)"
    )
    parser.add_argument(
        "--stack-file",
        type=Path,
        metavar="FILE",
        help="preview this stack file instead; Pulumi.<stack>.yaml previews as stack <stack>",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write registrations, findings")
    parser.add_argument("--diagram", type=Path, metavar="FILE", help="write a Mermaid diagram")
    parser.add_argument("--sarif", type=Path, metavar="FILE", help="write findings as SARIF 2.1.0")
    parser.add_argument(
        "--preview", action="store_true", help="computed outputs unknown, as in `pulumi preview`"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help=f"policy profile: {' or '.join(gate.profile_names())}, or a JSON file "
        "(default: the stack's, if any)",
    )
    parser.add_argument(
        "--docs-url",
        metavar="URL",
        help="where the repository's files are served: SARIF helpUri becomes "
        "URL/docs/rules/<ID>.md (default: that path, relative to the repository)",
    )
    parser.add_argument("--no-policy", action="store_true", help="skip the policy gate")
    options = parser.parse_args(argv)
    stack = stack_name(options.stack, options.stack_file)
    profile: dict[str, object] | None = None
    profile_label = "built-in"
    if not options.no_policy:  # a bad profile stops before the preview, not after it
        try:
            if options.profile:
                profile, profile_label = gate.load_profile(options.profile), options.profile
            else:
                profile = gate.profile_for(stack)
                profile_label = stack if profile is not None else profile_label
        except gate.ProfileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    try:
        plan = engine.run_main(stack, path=options.stack_file, preview=options.preview)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(render.tree(plan, gate.stack_outputs(plan, preview=options.preview)))
    document = plan.to_json()
    document["resources"].sort(key=lambda resource: resource["urn"])
    status = 0
    if not options.no_policy:
        try:
            report = gate.run(plan, profile=profile, preview=options.preview)
        except gate.ProfileError as error:  # a policy the pack does not have
            print(f"error: {error}", file=sys.stderr)
            return 2
        print()
        print(gate.render(plan, report, profile=profile_label))
        document["findings"] = [f.to_json() for f in report.findings]
        document["policy_summary"] = report.summary()
        if options.sarif:
            stack_file = options.stack_file or Path("stacks") / f"Pulumi.{plan.stack}.yaml"
            log = gate.sarif(report, str(stack_file), docs_url=options.docs_url)
            write(options.sarif, json.dumps(log, indent=2, sort_keys=True))
        status = 1 if report.mandatory else 0
    if options.json:
        write(options.json, json.dumps(document, indent=2, sort_keys=True))
    if options.diagram:
        write(options.diagram, render.diagram(plan))
    return status


def stack_name(stack: str | None, stack_file: Path | None) -> str:
    """`--stack`, else the stack a `Pulumi.<stack>.yaml` file is for, else `dev`."""
    if stack:
        return stack
    named = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", stack_file.name) if stack_file else None
    return named[1] if named else "dev"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("" if text.endswith("\n") else "\n"))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
