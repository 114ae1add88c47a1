"""The offline run's faster SDK paths (`preview.sdk_patches`: the stack capture, the monitor
calls in line, the mock's serialization) send the engine the same requests, stack traces and
source positions included, and get the same answers, byte for byte, as the Pulumi SDK's own."""

from __future__ import annotations

import asyncio
import sys
import threading
from contextlib import nullcontext
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.settings import SETTINGS

from preview import engine, sdk_patches
from preview.cloud import SimulatedCloud


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


def _aliased() -> None:
    """Aliases: a renamed component of a former type, and its child, which inherits the
    parent's aliases and has a former name of its own."""
    component = pulumi.ComponentResource(
        "acme:index:Service",
        "orders",
        opts=pulumi.ResourceOptions(
            aliases=[pulumi.Alias(type_="acme:index:OldService"), pulumi.Alias(name="sales")]
        ),
    )
    aws.sqs.Queue(
        "orders-queue",
        opts=pulumi.ResourceOptions(parent=component, aliases=[pulumi.Alias(name="jobs")]),
    )
    component.register_outputs({})


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
    if stack == "aliased":
        engine.run(_aliased, stack="dev", config={}, project="acme")
    else:
        engine.run_main(stack)  # one call site for both runs: the same frames
    monkeypatch.undo()
    return seen


def test_aliased_resources_send_the_same_requests_as_with_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sdk, fast = (_run(monkeypatch, patched, "aliased") for patched in (False, True))
    assert fast.registered == sdk.registered
    specs = [
        (alias.spec.name, alias.spec.type)
        for request, _ in sdk.registered.values()
        for alias in engine.resource_pb2.RegisterResourceRequest.FromString(request).aliases
    ]
    # Not vacuous: the requests carry the aliases (as specs: the monitor supports them)
    assert ("", "acme:index:OldService") in specs and ("jobs", "") in specs


@pytest.mark.parametrize(
    ("name", "type_", "parent", "project", "stack"),
    [
        ("orders", "aws:sqs/queue:Queue", None, None, None),
        ("orders", "aws:sqs/queue:Queue", None, "acme", "prod"),
        (
            "q",
            "aws:sqs/queue:Queue",
            "urn:pulumi:dev::acme::acme:index:Service::orders",
            None,
            None,
        ),
        ("q", "x:y:Z", "urn:pulumi:dev::acme::a:b:C$d:e:F::inner", None, None),
        ("root", "pulumi:pulumi:Stack", "", None, None),
    ],
)
def test_create_urn_is_the_sdks_for_plain_strings(name, type_, parent, project, stack) -> None:
    from pulumi.runtime import resource

    async def both() -> list[tuple[Any, ...]]:
        made = [
            make(name, type_, parent, project, stack)
            for make in (sdk_patches._sdk_create_urn, sdk_patches.create_urn)
        ]
        return [
            (await urn.future(), await urn.is_known(), await urn.is_secret(), await urn.resources())
            for urn in made
        ]

    pulumi.runtime.set_mocks(SimulatedCloud(), project="acme", stack="dev")
    assert resource.create_urn is sdk_patches._sdk_create_urn  # not left installed
    sdk, fast = asyncio.new_event_loop().run_until_complete(both())
    assert fast == sdk


class _Resource:
    """Stands in for a resource: transfer_properties only sets attributes on it."""


@pytest.mark.parametrize(
    "resolution",
    [
        ("queue-url", True, False, set(), None),
        ({"a": [1, 2]}, True, True, {"dep"}, None),
        (None, False, False, None, None),
        ("x", True, False, set(), ValueError("the resource failed")),
    ],
    ids=["known", "secret-with-deps", "unknown", "failed"],
)
def test_transfer_properties_resolves_outputs_as_the_sdks_do(resolution) -> None:
    value, known, secret, deps, failed = resolution

    async def outputs() -> list[tuple[Any, ...]]:
        seen = []
        for transfer in (sdk_patches._sdk_transfer_properties, sdk_patches.transfer_properties):
            res = _Resource()
            resolvers = transfer(res, {"url": None, "urn": None, "id": None}, True)
            assert set(resolvers) == {"url"} and not hasattr(res, "urn")
            resolvers["url"](value, known, secret, deps, failed)
            output = res.url
            try:
                got: tuple[Any, ...] = (
                    await output.future(),
                    await output.future(with_unknowns=True),
                    await output.is_known(),
                    await output.is_secret(),
                    {type(r).__name__ if r is res else r for r in await output.resources()},
                )
            except ValueError as error:
                got = ("raised", str(error))
            await asyncio.sleep(0)  # the SDK's tracking lets go of a settled Output a turn later
            # Tracked for the program's end (which raises its error) only if it failed
            got += (output._data in SETTINGS.outputs,)
            output._untrack()  # the program's end is not this test's
            seen.append(got)
        return seen

    sdk, fast = asyncio.new_event_loop().run_until_complete(outputs())
    assert fast == sdk
    assert sdk[-1] is (failed is not None)  # not vacuous: the SDK's tracking is seen


def _annotations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The annotations the SDK unwraps while it runs a program (on its own paths)."""
    from pulumi import _types

    seen: dict[int, Any] = {}

    def recording(annotation: Any) -> Any:
        seen[id(annotation)] = annotation
        return sdk_patches._sdk_unwrap_type(annotation)

    monkeypatch.setattr(_types, "unwrap_type", recording)
    monkeypatch.setattr(engine.sdk_patches, "installed", lambda loop=None: nullcontext())
    engine.run_main("scalable-webhook")
    monkeypatch.undo()
    return list(seen.values())


def test_unwrap_type_gives_the_sdks_answer_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import typing

    annotations = _annotations(monkeypatch)
    assert len(annotations) > 40
    for annotation in annotations:
        # Equal, and written the same: an equal annotation may be another object (typing's
        # own cache of `Union[...]` and `Mapping[...]` conflates equal ones the same way)
        expected = sdk_patches._sdk_unwrap_type(annotation)
        for _ in ("computed", "remembered"):
            unwrapped = sdk_patches.unwrap_type(annotation)
            assert unwrapped == expected and repr(unwrapped) == repr(expected)
    # Not vacuous: some are unwrapped (`Optional[Input[T]]` to T), not passed through (how
    # many depends on what earlier runs in the process left resolved)
    assert any(sdk_patches._sdk_unwrap_type(a) != a for a in annotations)
    unhashable = typing.Annotated[int, []]  # not a key: the SDK's answer each time
    assert sdk_patches.unwrap_type(unhashable) == sdk_patches._sdk_unwrap_type(unhashable)


def test_the_replacements_were_proven_against_this_sdk() -> None:
    """A new pulumi changes these digests: compare the SDK's new code with the replacement,
    re-run these tests, then update `_PROVEN`."""
    for replaced in sdk_patches._PROVEN:
        assert sdk_patches.proven(replaced), (replaced.__name__, sdk_patches.digest(replaced))


def test_an_sdk_function_of_another_version_is_left_in_place(monkeypatch) -> None:
    from pulumi.runtime import resource, rpc

    proven = sdk_patches._PROVEN[sdk_patches._sdk_transfer_properties]
    monkeypatch.setitem(
        sdk_patches._PROVEN, sdk_patches._sdk_transfer_properties, ("0" * 16, proven[1])
    )
    sdk_patches.proven.cache_clear()
    try:
        with sdk_patches.installed():
            assert rpc.transfer_properties is sdk_patches._sdk_transfer_properties
            assert resource.create_urn is sdk_patches.create_urn  # the others still apply
    finally:
        sdk_patches.proven.cache_clear()


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
    from pulumi import _types
    from pulumi.runtime import mocks, resource, rpc

    capture, sync_await, urn = resource._get_stack_trace, mocks._sync_await, resource.create_urn
    transfer, unwrap = rpc.transfer_properties, _types.unwrap_type
    loop = asyncio.new_event_loop()
    try:
        with sdk_patches.installed(loop):
            assert resource._get_stack_trace is sdk_patches.stack_trace
            assert mocks._sync_await is sdk_patches.settled
            assert resource.create_urn is sdk_patches.create_urn
            assert rpc.transfer_properties is sdk_patches.transfer_properties
            assert _types.unwrap_type is sdk_patches.unwrap_type
            assert "run_in_executor" in vars(loop)
        assert resource._get_stack_trace is capture and mocks._sync_await is sync_await
        assert resource.create_urn is urn and rpc.transfer_properties is transfer
        assert _types.unwrap_type is unwrap
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
