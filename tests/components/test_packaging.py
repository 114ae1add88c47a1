"""Deterministic Lambda zips and the arm64 requirements bundling."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from components.core import packaging


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    write(root / "demo" / "handler.py", "def handler(event, context):\n    return 1\n")
    write(root / "demo" / "logic" / "rules.py", "LIMIT = 3\n")
    write(root / "demo" / "__pycache__" / "handler.cpython-311.pyc", "junk")
    write(root / "shared" / packaging.TRACING, "tracer = None\n")
    return root


def test_zip_is_deterministic_and_excludes_caches(source: Path, tmp_path: Path):
    first = packaging.build("demo", functions_dir=source, build_dir=tmp_path / "b1")
    os.utime(source / "demo" / "handler.py", (1_000_000_000, 1_000_000_000))
    second = packaging.build("demo", functions_dir=source, build_dir=tmp_path / "b2")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        assert archive.namelist() == ["handler.py", "lambda_tracing.py", "logic/rules.py"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_hash_changes_only_when_code_does(source: Path, tmp_path: Path):
    before = packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    write(source / "demo" / "logic" / "rules.py", "LIMIT = 4\n")
    after = packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    assert before.sha256 != after.sha256
    assert before.path != after.path and before.path.exists() and after.path.exists()


def test_shared_modules_join_the_zip_root_deterministically(source: Path, tmp_path: Path):
    write(source / "shared" / "ws_sender.py", "def send():\n    return True\n")
    write(source / "shared" / "other.py", "UNUSED = 1\n")
    first = packaging.build(
        "demo", shared=["ws_sender.py"], functions_dir=source, build_dir=tmp_path / "b1"
    )
    again = packaging.build(
        "demo", shared=("ws_sender.py", "ws_sender.py"), functions_dir=source, build_dir=tmp_path
    )
    plain = packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    with zipfile.ZipFile(first.path) as archive:
        assert archive.namelist() == [
            "handler.py",
            "lambda_tracing.py",
            "logic/rules.py",
            "ws_sender.py",
        ]
        assert archive.read("ws_sender.py") == b"def send():\n    return True\n"
    assert first.path.read_bytes() == again.path.read_bytes()
    assert plain.sha256 != first.sha256
    write(source / "shared" / "ws_sender.py", "def send():\n    return False\n")
    changed = packaging.build(
        "demo", shared=["ws_sender.py"], functions_dir=source, build_dir=tmp_path
    )
    assert changed.sha256 != first.sha256


def test_shared_module_must_exist_and_not_clash(source: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="no shared Lambda module"):
        packaging.build("demo", shared=["missing.py"], functions_dir=source, build_dir=tmp_path)
    with pytest.raises(ValueError, match="no shared Lambda module"):
        packaging.build(
            "demo", shared=["../demo/handler.py"], functions_dir=source, build_dir=tmp_path
        )
    write(source / "shared" / "handler.py", "CLASH = 1\n")
    with pytest.raises(ValueError, match=r"shared file handler\.py clashes"):
        packaging.build("demo", shared=["handler.py"], functions_dir=source, build_dir=tmp_path)


def test_every_function_zip_carries_the_shared_tracer_and_a_layer_only_what_it_names(
    source: Path, tmp_path: Path
):
    write(source / "demo" / "layer" / "tool_code" / "__init__.py", "")
    function = packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    layer = packaging.build("demo/layer", layer=True, functions_dir=source, build_dir=tmp_path)
    with zipfile.ZipFile(function.path) as archive:
        assert archive.read(packaging.TRACING) == b"tracer = None\n"
    with zipfile.ZipFile(layer.path) as archive:
        assert archive.namelist() == ["tool_code/__init__.py"]
    write(source / "demo" / packaging.TRACING, "tracer = 'mine'\n")
    with pytest.raises(ValueError, match=r"shared file lambda_tracing\.py clashes"):
        packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    (source / "shared" / packaging.TRACING).unlink()
    with pytest.raises(ValueError, match="no shared Lambda module"):
        packaging.build("demo/layer", functions_dir=source, build_dir=tmp_path)


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="no Lambda source folder"):
        packaging.build("nope", functions_dir=tmp_path, build_dir=tmp_path)


def test_pip_command_targets_lambda_platform(tmp_path: Path):
    command = packaging.pip_install_command(tmp_path / "r.txt", tmp_path / "t", "arm64", "3.13")
    joined = " ".join(command)
    assert "--platform manylinux2014_aarch64" in joined
    assert "--python-version 3.13" in joined and "--only-binary=:all:" in joined
    assert "--target" in command and "--implementation cp" in joined
    with pytest.raises(ValueError, match="architecture must be one of"):
        packaging.pip_install_command(tmp_path / "r.txt", tmp_path / "t", "sparc", "3.13")


def test_requirements_are_bundled_once_per_platform(source: Path, tmp_path: Path):
    """Real pip, offline: a local pure-Python wheel installed for the arm64 platform."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "tinylib-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("tinylib/__init__.py", "VALUE = 42\n")
        wheel.writestr(
            "tinylib-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n"
        )
        wheel.writestr(
            "tinylib-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr("tinylib-1.0.dist-info/RECORD", "")
    write(source / "demo" / "requirements.txt", "tinylib==1.0\n")
    calls = []

    def offline_pip(command):
        calls.append(command)
        subprocess.run([*command, "--no-index", "--find-links", str(wheels)], check=True)

    package = packaging.build(
        "demo", functions_dir=source, build_dir=tmp_path / "build", runner=offline_pip
    )
    with zipfile.ZipFile(package.path) as archive:
        names = archive.namelist()
    assert "tinylib/__init__.py" in names and "handler.py" in names
    assert "requirements.txt" not in names
    again = packaging.build(
        "demo", functions_dir=source, build_dir=tmp_path / "build", runner=offline_pip
    )
    assert again.sha256 == package.sha256 and len(calls) == 1


def test_prefetch_bundles_each_folders_requirements_once(source: Path, tmp_path: Path):
    """`make setup` prefetches, so a later build (a preview, a test) runs no pip at all."""
    write(source / "demo" / "requirements.txt", "tinylib==1.0\n")
    write(source / "other" / "handler.py", "X = 1\n")  # no requirements: nothing to fetch
    calls = []

    def fake_pip(command):
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        write(target / "tinylib" / "__init__.py", "VALUE = 42\n")

    build_dir = tmp_path / "build"
    (cached,) = packaging.prefetch(functions_dir=source, build_dir=build_dir, runner=fake_pip)
    assert (cached / "tinylib" / "__init__.py").is_file() and len(calls) == 1

    def no_pip(command):
        raise AssertionError("the build ran pip although the requirements were prefetched")

    package = packaging.build("demo", functions_dir=source, build_dir=build_dir, runner=no_pip)
    with zipfile.ZipFile(package.path) as archive:
        assert "tinylib/__init__.py" in archive.namelist()


def test_an_unchanged_folder_is_not_zipped_again(source: Path, tmp_path: Path, monkeypatch):
    first = packaging.build("demo", functions_dir=source, build_dir=tmp_path)

    def no_zip(*roots, extra_files=(), executables=()):
        raise AssertionError("zipped again")

    monkeypatch.setattr(packaging, "zip_bytes", no_zip)
    again = packaging.build("demo", functions_dir=source, build_dir=tmp_path)
    assert (again.path, again.sha256) == (first.path, first.sha256)
    write(source / "demo" / "handler.py", "def handler(event, context):\n    return 2\n")
    with pytest.raises(AssertionError, match="zipped again"):
        packaging.build("demo", functions_dir=source, build_dir=tmp_path)


def test_named_entries_of_a_sub_folder_zip_are_executable(source: Path, tmp_path: Path):
    write(source / "demo" / "layer" / "extensions" / "tool", "#!/bin/sh\nexec true\n")
    write(source / "demo" / "layer" / "tool_code" / "__init__.py", "")
    package = packaging.build(
        "demo/layer",
        layer=True,
        executables=["extensions/tool"],
        functions_dir=source,
        build_dir=tmp_path,
    )
    assert package.path.name.startswith("demo-layer-")
    with zipfile.ZipFile(package.path) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert modes == {"extensions/tool": 0o755, "tool_code/__init__.py": 0o644}
    plain = packaging.build("demo/layer", layer=True, functions_dir=source, build_dir=tmp_path)
    assert plain.sha256 != package.sha256  # the mode is part of the cache key and the hash
    with pytest.raises(ValueError, match="executables not in the zip: extensions/missing"):
        packaging.build(
            "demo/layer",
            layer=True,
            executables=["extensions/missing"],
            functions_dir=source,
            build_dir=tmp_path,
        )


def test_the_build_directory_is_the_checkouts_the_programs_or_the_configured_one(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(packaging.BUILD_DIR_ENV, raising=False)
    assert packaging.build_directory() == packaging.ROOT / ".build"  # a checkout
    installed = tmp_path / "site-packages" / "serverless_patterns"
    installed.mkdir(parents=True)
    program = tmp_path / "program"
    program.mkdir()
    monkeypatch.setattr(packaging, "ROOT", installed)
    monkeypatch.chdir(program)
    assert packaging.build_directory() == program / ".build"  # never the installed package
    assert packaging.build("demo", functions_dir=source).path.parent == program / ".build"
    monkeypatch.setenv(packaging.BUILD_DIR_ENV, "cache")
    assert packaging.build_directory() == program / "cache"
    assert packaging.build("demo", functions_dir=source).path.parent == program / "cache"
