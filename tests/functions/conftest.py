"""Shared fixtures for Lambda handler tests.

Each `functions/<pattern>/` folder is a zip root whose modules import each other as top-level
names (`import webhook`), and several patterns reuse names such as `consumer`. `load_function`
imports from one folder at a time and forgets its modules afterwards so they never collide.

Handlers create boto3 clients at import, so load them inside `mock_aws` (after creating the
resources and setting the env vars they read).
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_xray_sdk.core  # noqa: F401  (see below)
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities import parameters

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
EVENTS_DIR = ROOT / "tests" / "events"
# Modules that `packaging.build(..., shared=...)` puts at a zip's root beside the handlers.
SHARED_DIR = FUNCTIONS_DIR / "shared"

REGION = "eu-west-1"

# Powertools' Tracer imports aws_xray_sdk.core even when disabled, and that import opens the
# X-Ray daemon's UDP socket (nothing is ever sent). Importing it here, at collection, keeps it
# out of the tests, where pytest-socket (`--disable-socket`) would reject the socket.


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and Powertools settings, so nothing can reach a real account."""
    # POWERTOOLS_DEV pretty-prints logs and metrics over several lines.
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "POWERTOOLS_DEV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessPatternsTest")
    # Unique per test: Powertools reuses the stdlib logger of a service name, and with it a
    # handler bound to the stdout of whichever test created it first (closed by capsys).
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"patterns-test-{uuid.uuid4().hex[:8]}")
    # Powertools shares metrics and default dimensions between every Metrics instance of the
    # process: in Lambda a process holds one function, here it holds them all, so a handler's
    # module-level `set_default_dimensions(route=...)` would reach the next test's handler.
    shared = Metrics()
    shared.clear_metrics()
    shared.clear_default_dimensions()


def _is_from(module: ModuleType, folder: Path) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    return Path(file).resolve().is_relative_to(folder)


def _unload(folder: Path) -> None:
    path = str(folder)
    while path in sys.path:
        sys.path.remove(path)
    for name, module in list(sys.modules.items()):
        if _is_from(module, folder):
            del sys.modules[name]


@pytest.fixture
def load_function() -> Iterator[Callable[[str, str], ModuleType]]:
    """`load_function("scalable-webhook", "consumer")` imports scalable_webhook/consumer.py.

    Loading another pattern unloads the previous one first; everything is unloaded at teardown,
    and Powertools' parameter cache is cleared so no secret outlives its mock.
    """
    loaded: list[Path] = []

    def load(pattern: str, module: str) -> ModuleType:
        folder = (FUNCTIONS_DIR / pattern.replace("-", "_")).resolve()
        if not (folder / f"{module}.py").is_file():
            raise FileNotFoundError(f"no {module}.py in {folder}")
        for previous in loaded:
            if previous != folder:
                _unload(previous)
                _unload(SHARED_DIR)
        # A same-named module from elsewhere (another pattern, a library) would shadow ours.
        stale = sys.modules.get(module)
        if stale is not None and not _is_from(stale, folder):
            del sys.modules[module]
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        if SHARED_DIR.is_dir() and str(SHARED_DIR) not in sys.path:
            sys.path.insert(1, str(SHARED_DIR))  # after the pattern's own modules
        importlib.invalidate_caches()
        loaded.append(folder)
        return importlib.import_module(module)

    yield load

    for folder in [*loaded, SHARED_DIR]:
        _unload(folder)
    parameters.clear_caches()


@pytest.fixture
def load_event() -> Callable[[str, str], dict[str, Any]]:
    """`load_event("scalable-webhook", "sqs-batch")` returns a fresh copy of the JSON fixture."""

    def load(pattern: str, name: str) -> dict[str, Any]:
        path = EVENTS_DIR / pattern / f"{name}.json"
        event: dict[str, Any] = json.loads(path.read_text())
        return event

    return load


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the Lambda context object."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2024/12/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
