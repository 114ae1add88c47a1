"""The offline run's faster SDK paths (`preview.sdk_patches`: the stack capture, the monitor
calls in line, the mock's serialization) send the engine the same requests, stack traces and
source positions included, and get the same answers, byte for byte, as the Pulumi SDK's own."""

from __future__ import annotations

import asyncio
import sys
import threading
from contextlib import nullcontext
from typing import Any

import pytest

from preview import engine, sdk_patches


class _Seen:
    """Every RegisterResource and Invoke of a run: URN (or token and args) -> the request's
    and the answer's bytes, and which threads the monitor was called from."""

    def __init__(self) -> None:
        self.traces: dict[str, tuple[bytes, bytes]] = {}
        self.registered: dict[str, tuple[bytes, bytes]] = {}
        self.invoked: dict[bytes, bytes] = {}
        self.threads: set[str] = set()


def _bytes(message: Any) -> bytes:
    return bytes(message.SerializeToString(deterministic=True))


def _request(request: Any) -> bytes:
    """A RegisterResource request's bytes with its dependency lists sorted: the engine reads
    them as sets, and their order follows which dependency resolved first."""
    request = type(request).FromString(_bytes(request))
    dependencies = sorted(request.dependencies)
    del request.dependencies[:]
    request.dependencies.extend(dependencies)
    for deps in request.propertyDependencies.values():
        urns = sorted(deps.urns)
        del deps.urns[:]
        deps.urns.extend(urns)
    return _bytes(request)


def _run(monkeypatch: pytest.MonkeyPatch, patched: bool, stack: str = "scalable-webhook") -> _Seen:
    seen = _Seen()
    register, invoke = engine.RecordingMonitor.RegisterResource, engine.RecordingMonitor.Invoke

    def registering(self: engine.RecordingMonitor, request: Any) -> Any:
        seen.threads.add(threading.current_thread().name)
        response = register(self, request)
        seen.traces[response.urn] = (_bytes(request.stackTrace), _bytes(request.sourcePosition))
        seen.registered[response.urn] = (_request(request), _bytes(response))
        return response

    def invoking(self: engine.RecordingMonitor, request: Any) -> Any:
        response = invoke(self, request)
        seen.invoked[_bytes(request)] = _bytes(response)
        return response

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", registering)
    monkeypatch.setattr(engine.RecordingMonitor, "Invoke", invoking)
    if not patched:  # the SDK's own paths: the run installs nothing
        monkeypatch.setattr(engine.sdk_patches, "installed", lambda loop=None: nullcontext())
    engine.run_main(stack)  # one call site for both runs: the same frames
    monkeypatch.undo()
    return seen


@pytest.mark.parametrize("stack", ["scalable-webhook", "dev"])
def test_the_same_requests_and_answers_as_the_sdk(
    monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    sdk, fast = (_run(monkeypatch, patched, stack) for patched in (False, True))
    assert len(sdk.registered) > 30
    assert fast.traces == sdk.traces
    assert fast.registered == sdk.registered
    assert fast.invoked == sdk.invoked
    # Not vacuous: the traces name the program's and the components' files, the SDK called
    # the monitor from its worker threads and the patched run from the loop's own.
    assert sum(b"components/" in trace for trace, _ in sdk.traces.values()) > 30
    assert all(position for _, position in sdk.traces.values() if position)
    assert "MainThread" not in sdk.threads
    assert fast.threads == {"MainThread"}
    if stack == "dev":
        assert sdk.invoked  # the data sources are compared too


def test_the_sdk_paths_are_restored_after_a_run() -> None:
    from pulumi.runtime import mocks, resource

    capture, sync_await = resource._get_stack_trace, mocks._sync_await
    loop = asyncio.new_event_loop()
    try:
        with sdk_patches.installed(loop):
            assert resource._get_stack_trace is sdk_patches.stack_trace
            assert mocks._sync_await is sdk_patches.settled
            assert "run_in_executor" in vars(loop)
        assert resource._get_stack_trace is capture and mocks._sync_await is sync_await
        assert "run_in_executor" not in vars(loop)
    finally:
        loop.close()


def test_a_traceback_limit_falls_back_to_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    traces = []
    for patched in (True, False):
        monkeypatch.setattr(sys, "tracebacklimit", 3, raising=False)
        traces.append(_run(monkeypatch, patched).traces)
    assert traces[0] == traces[1]


def test_only_the_sdks_monitor_calls_run_in_line() -> None:
    """A program's own executor work still goes to the pool; an SDK call's error reaches
    its awaiter."""
    from pulumi.runtime._context import wrap_with_context

    def fail() -> None:
        raise ValueError("from the monitor")

    async def calls(loop: asyncio.AbstractEventLoop) -> tuple[str, str, str]:
        own = await loop.run_in_executor(None, lambda: threading.current_thread().name)
        sdk = await loop.run_in_executor(
            None, wrap_with_context(lambda: threading.current_thread().name)
        )
        try:
            await loop.run_in_executor(None, wrap_with_context(fail))
        except ValueError as error:
            return own, sdk, str(error)
        return own, sdk, ""

    loop = asyncio.new_event_loop()
    try:
        with sdk_patches.installed(loop):
            own, sdk, error = loop.run_until_complete(calls(loop))
    finally:
        loop.close()
    assert own != "MainThread" and sdk == "MainThread"
    assert error == "from the monitor"


def test_settled_waits_for_a_pending_future_as_the_sdk_does() -> None:
    loop = asyncio.new_event_loop()

    async def program() -> int:
        pending = loop.create_future()
        loop.call_soon(pending.set_result, 41)

        async def serialize() -> int:
            await asyncio.sleep(0)  # a bare yield
            return await pending + 1

        return sdk_patches.settled(serialize())

    try:
        assert loop.run_until_complete(program()) == 42
    finally:
        loop.close()
