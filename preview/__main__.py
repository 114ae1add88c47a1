"""`python -m preview [--stack dev | --stack-file FILE] [--profile NAME|FILE] [--json FILE] ...`.

The offline preview: runs `__main__.py` for `stacks/Pulumi.<stack>.yaml` (or a stack file
`Pulumi.<stack>.yaml` of your own, previewed as stack `<stack>`) under the simulated cloud,
prints the plan and the stack outputs as `pulumi preview` would, then runs the policy pack
over the analyzer protocol with the stack's profile (`policies/profiles/<stack>.json` when
it exists, else the pack's built-in config) and prints its findings by component.
The JSON and SARIF files are the same bytes for the same input.
`--plan FILE` gates a saved plan (a `--json` file, made here or elsewhere) without running
any program: with the plan's stack profile unless `--profile` says otherwise.
`--program DIR` runs any Pulumi Python program folder instead (`preview/program.py`: its
`Pulumi.yaml`, its stack's config, `--config KEY=VALUE` pairs) and gates it the same way.
Exit codes: 0 clean or advisory only, 1 a mandatory finding (or a failure), 2 a bad stack
config or a bad option (an unknown profile, a profile file that does not parse, a plan file
that cannot be read), or a `--program` that cannot be run or that raises.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from . import engine, gate, library, render, sdk_imports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stack",
        help="stacks/Pulumi.<stack>.yaml (default: the --stack-file's stack, else dev); with "
        "--program, the program's stack (default: its only stack file's, else dev)",
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
    parser.add_argument(
        "--program",
        type=Path,
        metavar="DIR",
        help="run the Pulumi Python program in DIR (its Pulumi.yaml, its stack's config) instead",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --program: a config value over the stack file's (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the policy summary line")
    options = parser.parse_args(argv)
    if options.program and (options.stack_file or options.plan):
        parser.error("--program runs a program folder: it takes no --stack-file or --plan")
    if options.config and not options.program:
        parser.error("--config sets a --program's config (a stack file sets this project's)")
    if options.program:
        return preview_program(options)
    if options.plan and (options.stack or options.stack_file or options.no_policy):
        parser.error("--plan gates a saved plan: it takes no --stack, --stack-file or --no-policy")
    if options.plan:
        return gate_saved_plan(options)
    stack = stack_name(options.stack, options.stack_file)
    # the program's library (the stack config's schema); --plan needs none
    ConfigError = library("components.config").ConfigError
    return preview_and_gate(
        options,
        stack,
        engine.project_name(),
        lambda on_register: engine.run_main(
            stack, path=options.stack_file, preview=options.preview, on_register=on_register
        ),
        str(options.stack_file or Path("stacks") / f"Pulumi.{stack}.yaml"),
        refused=(ConfigError, FileNotFoundError, yaml.YAMLError),
    )


def preview_program(options: argparse.Namespace) -> int:
    """`--program DIR`: any Pulumi Python program, its own config, the same gate."""
    from . import program

    try:
        loaded = program.load(options.program, options.stack, options.config)
    except program.ProgramError as error:
        return refuse(error)
    with engine.assets_shown_from(loaded.directory):
        return preview_and_gate(
            options,
            loaded.stack,
            loaded.project,
            lambda on_register: program.run(
                loaded, preview=options.preview, on_register=on_register
            ),
            str(loaded.artifact),
            refused=(program.ProgramError,),
        )


Run = Callable[[Callable[[engine.Registration], None] | None], engine.Plan]


def preview_and_gate(
    options: argparse.Namespace,
    stack: str,
    project: str,
    run: Run,
    artifact: str,
    refused: tuple[type[Exception], ...],
) -> int:
    """Choose the profile (a bad one stops before the preview, not after it), `run` the
    program (exit 2 on a `refused` error) with the gate analyzing each resource as it
    registers (`gate.streamed`), print its notes and plan, then the gate's findings."""
    profile: dict[str, object] | None = None
    profile_label = "built-in"
    if not options.no_policy:
        try:
            profile, profile_label = choose_profile(options.profile, stack)
        except gate.ProfileError as error:
            return refuse(error)
    with contextlib.ExitStack() as cleanup:
        streaming = None
        if not options.no_policy:
            streaming = gate.streamed(stack, project, profile, options.preview)
        if streaming is not None:
            cleanup.enter_context(streaming)
        try:
            plan = run(streaming.send if streaming is not None else None)
        except refused as error:
            return refuse(error)
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)
        if not options.quiet:
            print(render.tree(plan, gate.stack_outputs(plan, preview=options.preview)))
        if options.no_policy:
            write_files(options, plan, None)
            return 0
        return gate_and_report(options, plan, profile, profile_label, artifact, streaming)


def refuse(error: Exception) -> int:
    """A bad option, config, profile, plan or program: said on stderr, exit 2."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def gate_saved_plan(options: argparse.Namespace) -> int:
    """`--plan FILE`: the gate over a saved plan, no program run."""
    try:
        plan = engine.load_plan(options.plan)
        profile, profile_label = choose_profile(options.profile, plan.stack)
    except (engine.PlanError, gate.ProfileError) as error:
        return refuse(error)
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
    streaming: gate.StreamedGate | None = None,
) -> int:
    """Run the gate (or take the report of the one that analyzed the run as it went), print
    its findings (or only the summary line with --quiet), write the requested files; 1 on a
    mandatory finding, 2 on a policy the pack does not have."""
    try:
        report = streaming.finish() if streaming is not None else None
        if report is None:
            report = gate.run(plan, profile=profile, preview=options.preview)
    except gate.ProfileError as error:  # a policy the pack does not have
        return refuse(error)
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
    # One run, then the process ends: its heap is plan-sized, long-lived and nearly free of
    # cycles, so it runs without the cyclic collector (switching it back on after a run
    # costs a full pass over the plan), and it exits without tearing the heap down (about a
    # second on the dev stack), once its output is flushed. Provider SDKs load only the
    # modules the program uses (`sdk_imports`).
    gc.disable()
    sdk_imports.install()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
