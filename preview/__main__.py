"""`python -m preview [--stack dev | --stack-file FILE] [--profile NAME|FILE] [--json FILE] ...`.

The offline preview: runs `__main__.py` for `stacks/Pulumi.<stack>.yaml` (or a stack file
`Pulumi.<stack>.yaml` of your own, previewed as stack `<stack>`) under the simulated cloud,
prints the plan and the stack outputs as `pulumi preview` would, then runs the policy pack
over the analyzer protocol with the stack's profile (`policies/profiles/<stack>.json` when
it exists, else the pack's built-in config) and prints its findings by component.
The JSON and SARIF files are the same bytes for the same input.
`--plan FILE` gates a saved plan (a `--json` file, made here or elsewhere) without running
any program: with the plan's stack profile unless `--profile` says otherwise.
Exit codes: 0 clean or advisory only, 1 a mandatory finding (or a failure), 2 a bad stack
config or a bad option (an unknown profile, a profile file that does not parse, a plan file
that cannot be read).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

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
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="gate this saved plan (a --json file) instead of running the program",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the policy summary line")
    options = parser.parse_args(argv)
    if options.plan and (options.stack or options.stack_file or options.no_policy):
        parser.error("--plan gates a saved plan: it takes no --stack, --stack-file or --no-policy")
    if options.plan:
        return gate_saved_plan(options)
    stack = stack_name(options.stack, options.stack_file)
    profile: dict[str, object] | None = None
    profile_label = "built-in"
    if not options.no_policy:  # a bad profile stops before the preview, not after it
        try:
            profile, profile_label = choose_profile(options.profile, stack)
        except gate.ProfileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    from components.config import ConfigError  # the program's library; --plan needs none

    try:
        plan = engine.run_main(stack, path=options.stack_file, preview=options.preview)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if not options.quiet:
        print(render.tree(plan, gate.stack_outputs(plan, preview=options.preview)))
    if options.no_policy:
        write_files(options, plan, None)
        return 0
    stack_file = options.stack_file or Path("stacks") / f"Pulumi.{plan.stack}.yaml"
    return gate_and_report(options, plan, profile, profile_label, str(stack_file))


def gate_saved_plan(options: argparse.Namespace) -> int:
    """`--plan FILE`: the gate over a saved plan, no program run."""
    try:
        plan = engine.load_plan(options.plan)
    except engine.PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        profile, profile_label = choose_profile(options.profile, plan.stack)
    except gate.ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not options.quiet:
        resources = len(plan.registrations)
        print(f"Gating plan {options.plan} (stack {plan.stack}, {resources} resources)")
    return gate_and_report(options, plan, profile, profile_label, str(options.plan))


def choose_profile(spec: str | None, stack: str) -> tuple[dict[str, object] | None, str]:
    """(profile, label): `--profile`'s, else the stack's, else the pack's built-in config."""
    if spec:
        return gate.load_profile(spec), spec
    profile = gate.profile_for(stack)
    return profile, stack if profile is not None else "built-in"


def gate_and_report(
    options: argparse.Namespace,
    plan: engine.Plan,
    profile: dict[str, object] | None,
    profile_label: str,
    artifact: str,
) -> int:
    """Run the gate, print its findings (or only the summary line with --quiet), write the
    requested files; 1 on a mandatory finding, 2 on a policy the pack does not have."""
    try:
        report = gate.run(plan, profile=profile, preview=options.preview)
    except gate.ProfileError as error:  # a policy the pack does not have
        print(f"error: {error}", file=sys.stderr)
        return 2
    rendered = gate.render(plan, report, profile=profile_label)
    if options.quiet:
        print(next(line for line in rendered.splitlines() if line.startswith("Policy summary")))
    else:
        print()
        print(rendered)
    if options.sarif:
        log = gate.sarif(report, artifact, docs_url=options.docs_url)
        write(options.sarif, json.dumps(log, indent=2, sort_keys=True), options.quiet)
    write_files(options, plan, report)
    return 1 if report.mandatory else 0


def write_files(options: argparse.Namespace, plan: engine.Plan, report: gate.Report | None) -> None:
    """--json (the plan, and the findings when the gate ran) and --diagram."""
    if options.json:
        document = engine.plan_document(plan)
        if report is not None:
            document["findings"] = [f.to_json() for f in report.findings]
            document["policy_summary"] = report.summary()
        write(options.json, json.dumps(document, indent=2, sort_keys=True), options.quiet)
    if options.diagram:
        write(options.diagram, render.diagram(plan), options.quiet)


def stack_name(stack: str | None, stack_file: Path | None) -> str:
    """`--stack`, else the stack a `Pulumi.<stack>.yaml` file is for, else `dev`."""
    if stack:
        return stack
    named = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", stack_file.name) if stack_file else None
    return named[1] if named else "dev"


def write(path: Path, text: str, quiet: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("" if text.endswith("\n") else "\n"))
    if not quiet:
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
