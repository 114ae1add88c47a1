"""`pip install` gives a user the library as one package, `serverless_patterns`: a wheel built
from this checkout, installed into a fresh virtual environment, runs the README's program
from a folder outside the repository under the simulated cloud, zips the installed handler
sources into that folder's `.build/`, and the installed policy pack gates it under `prod`.

Nothing is downloaded. The wheel is built by this .venv's setuptools (`pip wheel --no-deps
--no-build-isolation`) from a copy of the files it takes, so the checkout gets no build/ or
egg-info. The fresh environment sees the dependencies already installed in this .venv
through a .pth file that names this .venv's site-packages, so `pip install --no-deps`
installs the wheel alone. The offline preview is in the package too: the driver takes
`serverless_patterns.preview`'s engine and gate from the installed package (nothing of this
checkout is on the path) and starts the installed pack as the engine does (`python -m
pulumi.policy` in its folder), and `python -m serverless_patterns.preview --program .` runs
in the program's folder as a user runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from components.core import packaging

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from (setup.py takes components/, functions/, policies/).
WHEEL_SOURCES = ("pyproject.toml", "setup.py", "README.md")
WHEEL_TREES = ("serverless_patterns", "components", "functions", "policies", "preview")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "venv", ".mypy_cache", ".pytest_cache")


def readme_program() -> str:
    """The program the README's "Use it as a package" shows: the one this test runs."""
    section = (ROOT / "README.md").read_text().split("## Use it as a package")[1]
    match = re.search(r"```python\n(.*?)```", section.split("\n## ")[0], re.S)
    assert match, "the README shows a program"
    return match.group(1)


PULUMI_YAML = """\
name: orders-service
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
"""

# Runs in the fresh environment, in the program's folder; prints what the test asserts.
DRIVER = """\
import json
import runpy
import sys
from pathlib import Path

import serverless_patterns
import serverless_patterns.components
from serverless_patterns.preview import engine, gate


def preview(path):
    plan = engine.run(
        lambda: runpy.run_path(path, run_name="__main__"),
        stack="prod",
        config={{"aws:region": "eu-west-1"}},
        project=engine.project_name(Path.cwd()),
    )
    with gate.policy_pack(serverless_patterns.policy_pack_dir()) as stub:
        profile = gate.read_profile(serverless_patterns.profile_path("prod"))
        return plan, gate.run(plan, profile=profile, stub=stub)


plan, report = preview("__main__.py")
_, without_alarm_actions = preview("without_alarm_actions.py")
functions = plan.of_type("aws:lambda/function:Function")
print(json.dumps({{
    "package": serverless_patterns.__file__,
    "preview": engine.__file__,
    "checkout_modules": sorted({{"preview", "components", "policies"}} & set(sys.modules)),
    "components": serverless_patterns.components.__file__,
    "types": sorted({{r.type for r in plan.registrations}}),
    "outputs": sorted(plan.outputs),
    "code": [str(f.inputs["code"].path) for f in functions],
    "hashes": [f.inputs["sourceCodeHash"] for f in functions],
    "functions_dir": str(serverless_patterns.functions_dir()),
    "summary": report.summary(),
    "mandatory": [f.text for f in report.mandatory],
    "mandatory_without_alarm_actions": sorted({{f.id for f in without_alarm_actions.mandatory}}),
}}))
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def build_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in WHEEL_SOURCES:
        shutil.copy2(ROOT / name, source / name)
    for tree in WHEEL_TREES:
        shutil.copytree(ROOT / tree, source / tree, ignore=IGNORED)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."], source, env)
    (wheel,) = wheels.glob("serverless_patterns-*.whl")
    return wheel


def fresh_environment(tmp_path: Path, wheel: Path, env: dict[str, str]) -> Path:
    """A new venv that sees this .venv's packages (a .pth file) and has the wheel installed."""
    target = tmp_path / "env"
    venv.create(target, with_pip=False, symlinks=True)
    python = target / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        tmp_path,
        env,
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.strip()) / "dev_venv_packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], tmp_path, env)
    return python


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_an_installed_wheel_builds_and_gates_a_program_outside_the_repo(tmp_path: Path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", packaging.BUILD_DIR_ENV)}
    python = fresh_environment(tmp_path, build_wheel(tmp_path, env), env)

    program = tmp_path / "orders-service"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(PULUMI_YAML)
    source = readme_program()
    assert "from serverless_patterns.components import" in source
    (program / "__main__.py").write_text(source)
    unalarmed = source.replace(", alarm_actions=(alarms.arn,)", "")
    assert unalarmed != source
    (program / "without_alarm_actions.py").write_text(unalarmed)
    (program / "driver.py").write_text(DRIVER.format(repo=str(ROOT)))
    result = json.loads(run([str(python), "driver.py"], program, env).splitlines()[-1])

    installed = Path(result["package"]).parent
    assert installed.is_relative_to(tmp_path / "env")
    assert Path(result["components"]).is_relative_to(installed)
    assert Path(result["preview"]).is_relative_to(installed)
    assert result["checkout_modules"] == []  # nothing imported by the checkout's names
    assert "serverless-patterns:patterns:ScalableWebhook" in result["types"]
    assert "aws:lambda/function:Function" in result["types"]
    assert result["outputs"] == ["url"]

    # The consumer's zip: the installed handler sources, built into the program's .build/.
    (code,) = result["code"]
    assert Path(code).parent == program / ".build"
    handlers = Path(result["functions_dir"]) / "scalable_webhook"
    assert handlers.is_relative_to(installed)
    sources = sorted(
        [
            *(
                p.relative_to(handlers).as_posix()
                for p in handlers.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            ),
            packaging.TRACING,  # every function's zip carries the installed shared tracer
        ]
    )
    assert (handlers.parent / packaging.SHARED / packaging.TRACING).is_file()
    assert zip_names(Path(code)) == sources
    digest = base64.b64encode(hashlib.sha256(Path(code).read_bytes()).digest()).decode()
    assert result["hashes"] == [digest]
    # The same bytes as the checkout's own zip of the same folder.
    assert packaging.build("scalable_webhook", build_dir=tmp_path / "repo-build").sha256 == digest

    # The installed pack, started as the engine starts it, gates the program under the
    # installed prod profile: nothing mandatory with alarm actions, findings without them.
    assert result["summary"]["policies"] > 50
    assert result["summary"]["could_not_evaluate"] == 0
    assert result["mandatory"] == []
    # STACK-007 dlq-depth-alarm: the DLQ's alarm notifies no one.
    assert "STACK-007" in result["mandatory_without_alarm_actions"]

    # The installed preview's command line on the user's program, as the README says to run
    # it: the stack has no file here, its config comes as --config pairs.
    printed = run(
        [
            str(python),
            "-m",
            "serverless_patterns.preview",
            "--program",
            ".",
            "--stack",
            "prod",
            "--config",
            "aws:region=eu-west-1",
            "--profile",
            "prod",
            "--json",
            "plan.json",
        ],
        program,
        env,
    )
    assert "Policy summary: 0 mandatory" in printed
    document = json.loads((program / "plan.json").read_text())
    assert (document["project"], document["stack"]) == ("orders-service", "prod")
    assert document["policy_summary"]["mandatory"] == 0
    assert document["policy_summary"]["policies"] == result["summary"]["policies"]
    assert "serverless-patterns:patterns:ScalableWebhook" in {
        r["type"] for r in document["resources"]
    }

    printed = run([str(python), "-m", "serverless_patterns", "--policy-pack"], program, env)
    pack = Path(printed.strip())
    assert pack.is_relative_to(installed)
    assert {"PulumiPolicy.yaml", "__main__.py", "requirements.txt"} <= {
        p.name for p in pack.iterdir()
    }
    profile = run([str(python), "-m", "serverless_patterns", "--profile", "prod"], program, env)
    assert Path(profile.strip()) == pack / "profiles" / "prod.json"


def test_the_package_root_points_at_the_checkout_here():
    import serverless_patterns

    assert serverless_patterns.policy_pack_dir() == ROOT / "policies"
    assert serverless_patterns.functions_dir() == packaging.FUNCTIONS_DIR
    assert serverless_patterns.profile_path("prod") == ROOT / "policies" / "profiles" / "prod.json"
    with pytest.raises(ValueError, match="profile must be one of dev, prod"):
        serverless_patterns.profile_path("staging")


def test_setup_installs_the_four_trees_under_one_package():
    spec = textwrap.dedent(
        """
        import json, sys, setuptools
        captured = {}
        setuptools.setup = lambda **kwargs: captured.update(kwargs)
        sys.argv = ["setup.py"]
        exec(compile(open("setup.py").read(), "setup.py", "exec"), {"__file__": "setup.py"})
        print(json.dumps({k: captured[k] for k in ("packages", "package_dir", "package_data")}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", spec], cwd=ROOT, capture_output=True, text=True, check=True
    )
    setup = json.loads(done.stdout)
    packages = setup["packages"]
    assert all(p == "serverless_patterns" or p.startswith("serverless_patterns.") for p in packages)
    assert {
        "serverless_patterns.components",
        "serverless_patterns.components.core",
        "serverless_patterns.functions.scalable_webhook",
        "serverless_patterns.functions.lambda_extension.layer.extensions",
        "serverless_patterns.policies",
        "serverless_patterns.policies.serverless_wa.rules.stack_failure",
        "serverless_patterns.policies.profiles",
        "serverless_patterns.preview",
    } <= set(packages)
    assert setup["package_dir"]["serverless_patterns.components.core"] == "components/core"
    assert not [p for p in packages if ".tools" in p or ".venv" in p or "__pycache__" in p]
    assert setup["package_data"]["serverless_patterns.policies"] == [
        "PulumiPolicy.yaml",
        "requirements.txt",
    ]
    assert setup["package_data"]["serverless_patterns.policies.profiles"] == [
        "dev.json",
        "prod.json",
    ]
