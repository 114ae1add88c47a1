"""The offline run's faster stack capture (`preview.sdk_patches`) sends the engine the same
stack traces and source positions, byte for byte, as the Pulumi SDK's own."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import pytest

from preview import engine, sdk_patches


def _traces(monkeypatch: pytest.MonkeyPatch, patched: bool) -> dict[str, tuple[bytes, bytes]]:
    """URN -> (stackTrace, sourcePosition) of every RegisterResource request of a run."""
    seen: dict[str, tuple[bytes, bytes]] = {}
    register = engine.RecordingMonitor.RegisterResource

    def recording(self: engine.RecordingMonitor, request: Any) -> Any:
        response = register(self, request)
        seen[response.urn] = (
            request.stackTrace.SerializeToString(deterministic=True),
            request.sourcePosition.SerializeToString(deterministic=True),
        )
        return response

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", recording)
    with sdk_patches.installed() if patched else contextlib.nullcontext():
        engine.run_main("scalable-webhook")  # one call site for both runs: same frames
    monkeypatch.undo()
    return seen


def test_the_same_stack_traces_as_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    sdk, fast = (_traces(monkeypatch, patched) for patched in (False, True))  # one call site
    assert len(sdk) > 30
    assert fast == sdk
    # Not vacuous: the traces name the program's and the components' files.
    assert sum(b"components/" in trace for trace, _ in sdk.values()) > 30
    assert all(position for _, position in sdk.values() if position)


def test_the_sdk_capture_is_restored_after_a_run() -> None:
    from pulumi.runtime import resource

    original = resource._get_stack_trace
    with sdk_patches.installed():
        assert resource._get_stack_trace is sdk_patches.stack_trace
    assert resource._get_stack_trace is original


def test_a_traceback_limit_falls_back_to_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    traces = []
    for patched in (True, False):
        monkeypatch.setattr(sys, "tracebacklimit", 3, raising=False)
        traces.append(_traces(monkeypatch, patched))
    assert traces[0] == traces[1]
