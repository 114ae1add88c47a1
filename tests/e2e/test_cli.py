"""The preview's command line says what it does: profiles, stack files, stable files, outputs,
exit codes through make, and an install that holds only what the preview needs."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preview import gate
from preview.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
# An advisory rule under every committed profile that the dev-environment stacks break (their
# tables have no deletion protection): a profile that makes it mandatory must fail the gate.
ADVISORY_ON_DEV = "dynamodb-deletion-protection"


def _strict_profile(tmp_path: Path) -> Path:
    path = tmp_path / "strict.json"
    path.write_text(json.dumps({ADVISORY_ON_DEV: "mandatory"}))
    return path


def test_unknown_profile_name_exits_2_and_lists_the_profiles(capsys):
    assert main(["--stack", "scalable-webhook", "--profile", "prdo"]) == 2
    error = capsys.readouterr().err
    assert "prdo" in error
    for name in gate.profile_names():
        assert name in error


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("{not json", "strict.json"),
        ('["prod"]', "JSON object"),
        (json.dumps({ADVISORY_ON_DEV: "fatal"}), "enforcement level"),
        (
            json.dumps(
                {ADVISORY_ON_DEV: {"exemptions": [{"match": "x", "reason": "soon", "expires": ""}]}}
            ),
            f"{ADVISORY_ON_DEV}: exemptions[0].reason: 'soon' is shorter than 10 characters",
        ),
    ],
    ids=["missing", "not-json", "not-an-object", "bad-level", "malformed-exemption"],
)
def test_profile_file_that_is_missing_or_bad_exits_2(tmp_path, capsys, content, expected):
    path = tmp_path / "strict.json"
    if content is not None:
        path.write_text(content)
    assert main(["--stack", "scalable-webhook", "--profile", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_profile_naming_a_policy_the_pack_lacks_exits_2(tmp_path, capsys):
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"dynamodb-deletion-protecton": "mandatory"}))
    assert main(["--stack", "scalable-webhook", "--profile", str(path)]) == 2
    assert "dynamodb-deletion-protecton" in capsys.readouterr().err


def test_profile_file_is_applied(tmp_path, capsys):
    assert main(["--stack", "scalable-webhook"]) == 0
    capsys.readouterr()
    profile = _strict_profile(tmp_path)
    assert main(["--stack", "scalable-webhook", "--profile", str(profile)]) == 1
    out = capsys.readouterr().out
    assert f"profile {profile}" in out
    assert re.search(r"^Policy summary: [1-9]\d* mandatory", out, re.MULTILINE)


def test_stack_file_named_for_a_stack_previews_as_that_stack(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(ROOT / "stacks" / "Pulumi.prod.yaml", stack_file)
    out = tmp_path / "plan.json"
    assert main(["--stack-file", str(stack_file), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Previewing update (prod):")
    assert "profile prod)" in printed
    assert json.loads(out.read_text())["stack"] == "prod"


def test_json_and_sarif_are_the_same_bytes_on_every_run(tmp_path, capsys):
    runs = []
    for run in ("first", "second"):
        files = tmp_path / f"{run}.json", tmp_path / f"{run}.sarif"
        args = ["--stack", "dev", "--json", str(files[0]), "--sarif", str(files[1])]
        assert main(args) == 0
        runs.append(tuple(f.read_bytes() for f in files))
    capsys.readouterr()
    assert runs[0][0] == runs[1][0], "JSON differs between runs"
    assert runs[0][1] == runs[1][1], "SARIF differs between runs"
    document = json.loads(runs[0][0])
    keys = [(f["id"], f["urn"]) for f in document["findings"]]
    assert keys == sorted(keys)
    assert [r["urn"] for r in document["resources"]] == sorted(
        r["urn"] for r in document["resources"]
    )


def _outputs_section(printed: str) -> list[str]:
    lines = printed.splitlines()
    start = lines.index("Outputs:")
    end = lines.index("Resources:", start)
    assert lines[end - 1] == ""
    return lines[start + 1 : end - 1]


def test_plan_shows_the_stack_outputs_unknown_at_preview(capsys):
    assert main(["--stack", "scalable-webhook", "--no-policy"]) == 0
    known = _outputs_section(capsys.readouterr().out)
    assert main(["--stack", "scalable-webhook", "--no-policy", "--preview"]) == 0
    previewed = _outputs_section(capsys.readouterr().out)
    assert known[0].startswith('    alarm_topic_arn : "arn:aws:sns:')
    assert known[1] == "    scalable-webhook: {" and known[-1] == "    }"
    fields = {line.split(":")[0].strip(): line.split(": ", 1)[1] for line in known[2:-1]}
    assert set(fields) == {"api_key_id", "dlq_url", "queue_url", "table_name", "url"}
    assert fields["url"].startswith('"https://') and "execute-api" in fields["url"]
    shown = {line.split(":")[0].strip(): line.split(": ", 1)[1] for line in previewed[2:-1]}
    # Computed at deploy time: unknown in a first preview. Set by the program: known.
    assert shown["url"] == shown["queue_url"] == "output<string>"
    assert previewed[0].endswith(": output<string>")
    assert (
        shown["table_name"]
        == fields["table_name"]
        == '"scalable-webhook-scalable-webhook-deliveries"'
    )


def test_sarif_help_uri_points_at_the_projects_rule_docs(tmp_path, capsys):
    relative, absolute = tmp_path / "relative.sarif", tmp_path / "absolute.sarif"
    base = "https://example.test/repo/blob/main"
    assert main(["--stack", "scalable-webhook", "--sarif", str(relative)]) == 0
    assert main(["--stack", "scalable-webhook", "--sarif", str(absolute), "--docs-url", base]) == 0
    capsys.readouterr()
    rules = json.loads(relative.read_text())["runs"][0]["tool"]["driver"]["rules"]
    assert rules
    for rule in rules:
        assert rule["helpUri"] == f"docs/rules/{rule['id']}.md"
        assert (ROOT / rule["helpUri"]).read_text().startswith("<!-- generated")
    for rule in json.loads(absolute.read_text())["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["helpUri"] == f"{base}/docs/rules/{rule['id']}.md"


def _make_preview(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make preview` with this interpreter's venv and an up-to-date stamp (no install)."""
    stamp = tmp_path / "stamp"
    stamp.touch()
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "preview",
            f"BIN={bin_dir}",
            f"PREVIEW_STAMP={stamp}",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_preview_says_which_exit_code_the_preview_returned(tmp_path):
    bad_config = tmp_path / "Pulumi.typo.yaml"
    bad_config.write_text(
        yaml.safe_dump({"config": {"serverless-patterns:patterns": {"scalable-webhok": {}}}})
    )
    clean = _make_preview(tmp_path, "STACK=scalable-webhook")
    mandatory = _make_preview(
        tmp_path, "STACK=scalable-webhook", f"ARGS=--profile {_strict_profile(tmp_path)}"
    )
    config_error = _make_preview(tmp_path, f"ARGS=--stack-file {bad_config}")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # make turns every failing recipe into its own exit 2, so the recipe names the real code.
    assert mandatory.returncode == 2
    assert "make preview: exit 1 (a mandatory policy finding" in mandatory.stderr
    assert config_error.returncode == 2
    assert "make preview: exit 2 (a stack config or option error)" in config_error.stderr


def _requirements(path: Path) -> set[str]:
    """Distribution names a requirements file installs (following `-r`)."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= _requirements(path.parent / line[3:].strip())
        elif line:
            names.add(re.split(r"[\[<>=~! ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def _closure(names: set[str]) -> set[str]:
    """The distributions and everything they depend on (as installed here)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(
                re.split(r"[\[<>=~!; (]", requirement, maxsplit=1)[0].lower().replace("_", "-")
            )
    return seen


def _third_party_imports(paths: list[Path]) -> set[str]:
    local = {"components", "preview", "serverless_wa", "policies", "docs"}
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in local and m not in sys.stdlib_module_names}


def test_preview_requirements_hold_what_the_preview_imports_and_no_dev_tools():
    preview = _requirements(ROOT / "requirements-preview.txt")
    assert {"pulumi", "pulumi-aws", "pyyaml", "pulumi-policy"} <= preview
    dev = _requirements(ROOT / "requirements-dev.txt")
    assert preview < dev
    assert not {"moto", "cfn-lint", "mypy", "pytest", "ruff"} & preview
    sources = [ROOT / "__main__.py", ROOT / "docs" / "generate.py"]
    for folder in ("components", "preview", "policies"):
        sources += sorted((ROOT / folder).rglob("*.py"))
    installed = _closure(preview)
    distributions = metadata.packages_distributions()
    for module in sorted(_third_party_imports(sources)):
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert owners & installed, (
            f"the preview imports {module}; requirements-preview.txt lacks it"
        )


def test_a_stack_file_with_a_former_argument_name_previews_and_says_so(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.saga.yaml"
    stack_file.write_text(
        "config:\n"
        "  aws:region: eu-west-1\n"
        "  serverless-patterns:patterns:\n"
        "    saga:\n"
        "      event_bus: ops\n"
    )
    out = tmp_path / "plan.json"
    assert main(["--stack-file", str(stack_file), "--no-policy", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    diagnostics = printed.split("Diagnostics:\n", 1)[1].splitlines()
    assert diagnostics[:2] == [
        "  pulumi:pulumi:Stack (serverless-patterns-saga):",
        "    warning: serverless-patterns:patterns.saga.event_bus: renamed 'event_bus_name'; "
        "the former name still works",
    ]
    rule = next(r for r in json.loads(out.read_text())["resources"] if r["name"] == "saga-stuck")
    assert rule["inputs"]["eventBusName"] == "ops"
