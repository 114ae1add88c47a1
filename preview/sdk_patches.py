"""Faster equivalents of the Pulumi SDK's per-resource work, for the offline run only.

Stack traces. Every resource registration captures the program's call stack for the engine's source
positions: the SDK's `_get_stack_trace` takes `traceback.extract_stack()`, which reads each
frame's source line through linecache, and turns every file name into a URI through
pathlib, about 0.4 ms a resource (a third of a second on the dev stack). `stack_trace`
builds the same `StackTrace` message, frame for frame, from the frame objects, with each
file's URI computed once. `installed()` puts it in place for the duration of a run and
restores the SDK's own afterwards.

Monitor calls in line. The SDK sends each request to the engine from a worker thread
(`run_in_executor`), because a real engine answers over gRPC; the offline monitor answers in
this process, so the hop buys nothing and costs a thread switch and a contended lock per
call (seven threads sharing one interpreter). `inline_rpcs` runs the SDK's monitor calls in
the event loop's thread instead. The mock monitor then serializes its answers with `settled`
instead of the SDK's `_sync_await`, which would pump the running loop from inside one of its
own callbacks: the simulated cloud's values are plain data, so the serialization finishes
without waiting, and a step that does wait is waited for the SDK's way.

URNs. Every registration also computes the URN the SDK would make up without a monitor
(`create_urn(name, type, parent_urn)`, awaited, then unused when a monitor answers): an
`Output.all(...).apply(...)` of plain strings, a handful of tasks and loop callbacks each,
about 7% of the dev stack's run. `create_urn` gives the same URN as a known Output at once
when its arguments are plain strings, and defers to the SDK's otherwise.

Outputs of a resource's properties. For each property of each resource the SDK makes four
futures (value, known, secret, dependencies) and an Output whose task awaits them: about
21,000 tasks on the dev stack, most of the loop's work. `transfer_properties` makes one
future of the Output's data per property and resolves it with the same value, known and
secret flags, dependencies and error, so each Output is ready when its resource's answer
is; the SDK's one loop turn later (an order of callbacks no program may rely on). They are
tracked for the program's end only if they fail: the end waits for the registrations that
settle them.

Annotations. For every input property it serializes, the SDK works out the T of its
annotation (`Optional[Input[T]]`...) again; `unwrap_type` remembers the answer for each.

The three replacements of whole SDK functions apply only to the SDK code they were proven
against (the digest of its source and of the SDK code they build on, `_PROVEN`): another SDK
version runs its own.
tests/e2e/test_sdk_patches.py proves the requests and answers are byte-for-byte the same.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import pathlib
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType, ModuleType
from typing import Any, TypeVar

import pulumi
from pulumi import _types as sdk_types
from pulumi.output import _OutputData
from pulumi.runtime import _context as sdk_context
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc as sdk_rpc
from pulumi.runtime import settings as sdk_settings
from pulumi.runtime.proto import source_pb2

T = TypeVar("T")

_sdk_stack_trace = sdk_resource._get_stack_trace
_sdk_create_urn = sdk_resource.create_urn
_sdk_transfer_properties = sdk_rpc.transfer_properties
_sdk_unwrap_type = sdk_types.unwrap_type
# What each SDK function replaced whole was proven against (pulumi 3.272.0): the digest of
# its source and of the sources of the SDK code its replacement builds on.
_PROVEN: dict[Callable[..., Any], tuple[str, tuple[Any, ...]]] = {
    _sdk_create_urn: ("b4efa209c920a83a", ()),
    _sdk_transfer_properties: (
        "3deb783202ff3098",
        (pulumi.Output.__init__, pulumi.Output._track, pulumi.Output._from_data, _OutputData),
    ),
    _sdk_unwrap_type: ("e2f3b88d72603a89", (sdk_types._is_union_type, sdk_types.is_input_type)),
}
_sdk_sync_await = sdk_mocks._sync_await
_frames: dict[tuple[str, int | None], source_pb2.StackFrame] = {}


def _frame(filename: str, line: int | None) -> source_pb2.StackFrame:
    """The StackFrame the SDK builds for a frame summary (`_get_source_position_for_frame`)."""
    key = (filename, line)
    cached = _frames.get(key)
    if cached is None:
        position = None
        if filename != "" and line is not None:
            try:
                position = source_pb2.SourcePosition(uri=pathlib.Path(filename).as_uri(), line=line)
            except ValueError:  # a relative name ("<frozen runpy>"): no position, as in the SDK
                position = None
        cached = _frames[key] = source_pb2.StackFrame(pc=position)
    return cached


def stack_trace() -> source_pb2.StackTrace:
    """`pulumi.runtime.resource._get_stack_trace`, without source lines: the frames below
    (outside) the third `__init__` from the top (the concrete resource class's), topmost
    first; an empty trace when there is no such frame or it is the outermost one."""
    if getattr(sys, "tracebacklimit", None) is not None:  # the SDK's stack is cut there
        return _sdk_stack_trace()
    frame: FrameType | None = sys._getframe(1)
    seen = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            seen += 1
            if seen == 3:
                break
        frame = frame.f_back
    if frame is None:
        return source_pb2.StackTrace()
    frames = []
    caller = frame.f_back
    while caller is not None:
        frames.append(_frame(caller.f_code.co_filename, caller.f_lineno))
        caller = caller.f_back
    return source_pb2.StackTrace(frames=frames)


def create_urn(
    name: Any, type_: Any, parent: Any = None, project: str | None = None, stack: str | None = None
) -> pulumi.Output[str]:
    """`pulumi.runtime.resource.create_urn`: for plain strings, the same URN, known, not
    secret and without dependencies, as an Output made at once; else the SDK's own."""
    if not (isinstance(name, str) and isinstance(type_, str) and isinstance(parent, str | None)):
        return _sdk_create_urn(name, type_, parent, project, stack)
    if parent is not None:
        prefix = parent[0 : parent.rfind("::")] + "$"
    else:
        stack = sdk_settings.get_stack() if stack is None else stack
        project = sdk_settings.get_project() if project is None else project
        prefix = "urn:pulumi:" + stack + "::" + project + "::"
    return pulumi.Output.from_input(prefix + type_ + "::" + name)


def transfer_properties(
    res: pulumi.Resource, props: Mapping[str, Any], custom: bool
) -> dict[str, Callable[..., None]]:
    """`pulumi.runtime.rpc.transfer_properties`: an Output for each of `res`'s properties
    (but its URN, and a custom resource's id) and the resolver that settles it, with one
    future of the Output's data in place of four futures and a task.

    The SDK tracks each Output until it settles (`Output._track`), so that the program's end
    waits for it; these settle when the resource's registration ends, which the program's
    end waits for first. So only a failed one is tracked, as the SDK keeps a failed Output
    for the program's end to raise."""
    resolvers: dict[str, Callable[..., None]] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK's own outputs, resolved elsewhere
        output: pulumi.Output[Any] = object.__new__(pulumi.Output)
        output._data = asyncio.Future()
        resolvers[name] = functools.partial(_resolve, res, output)
        res.__dict__[name] = output
    return resolvers


def _resolve(
    res: pulumi.Resource,
    output: pulumi.Output[Any],
    value: Any,
    is_known: bool,
    is_secret: bool,
    deps: set[pulumi.Resource] | None,
    failed: Exception | None,
) -> None:
    """The SDK's `do_resolve`: the property's dependencies are its own and the resource."""
    data = output._data
    if failed is not None:
        data.set_exception(failed)
        output._track()  # kept, failed, for the program's end to raise
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(
        _OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret)
    )


_unwrapped: dict[Any, Any] = {}


def unwrap_type(typ: Any) -> Any:
    """`pulumi._types.unwrap_type` (the T of `Optional[Input[T]]`...), remembered for each
    annotation: the SDK asks again for every input property it serializes, and the answer
    depends only on the annotation."""
    try:
        return _unwrapped[typ]
    except KeyError:
        unwrapped = _unwrapped[typ] = _sdk_unwrap_type(typ)
        return unwrapped
    except TypeError:  # an annotation that cannot be a key
        return _sdk_unwrap_type(typ)


def digest(function: Callable[..., Any]) -> str | None:
    """The digest of `function`'s source and of the SDK code its replacement builds on."""
    _, relied = _PROVEN.get(function, ("", ()))
    try:
        sources = [inspect.getsource(code) for code in (function, *relied)]
    except (OSError, TypeError):
        return None
    return hashlib.sha256("\n".join(sources).encode()).hexdigest()[:16]


@functools.cache
def proven(function: Callable[..., Any]) -> bool:
    """Whether the SDK's `function`, and the SDK code its replacement here builds on, are
    the code the replacement was proven against."""
    expected, _ = _PROVEN.get(function, ("", ()))
    return digest(function) == expected


def settled(awaitable: Awaitable[T]) -> T:
    """The mock monitor's `_sync_await`, run in the caller's thread: a coroutine is driven to
    its end here; a step that waits for a future waits with the SDK's `_sync_await` (which
    pumps the running loop) and the coroutine goes on, as its task would."""
    if not asyncio.iscoroutine(awaitable):
        return _sdk_sync_await(awaitable)
    try:
        while True:
            waited = awaitable.send(None)
            if waited is not None:  # a future it waits for (a bare yield is a pass)
                waited._asyncio_future_blocking = False
                _sdk_sync_await(waited)
    except StopIteration as done:
        result: T = done.value
        return result


_SDK_CALL = sdk_context.wrap_with_context(lambda: None).__qualname__  # how the SDK wraps one


def _is_sdk_call(function: Callable[..., Any]) -> bool:
    return (
        getattr(function, "__module__", None) == sdk_context.__name__
        and getattr(function, "__qualname__", None) == _SDK_CALL
    )


def inline_rpcs(loop: asyncio.AbstractEventLoop) -> Callable[..., Any]:
    """A `run_in_executor` for `loop` that runs the SDK's monitor calls (the callables it
    wraps with `wrap_with_context`) at once in the loop's thread, anything else as before."""
    pooled = loop.run_in_executor

    def run_in_executor(executor: Any, function: Callable[..., T], *args: Any) -> Any:
        if executor is not None or not _is_sdk_call(function):
            return pooled(executor, function, *args)
        future = loop.create_future()
        try:
            future.set_result(function(*args))
        except BaseException as error:  # the call's error goes to its awaiter, as from a pool
            future.set_exception(error)
        return future

    return run_in_executor


# The SDK functions replaced whole where `proven`: module, name, the SDK's, the replacement.
_WHOLE: tuple[tuple[ModuleType, str, Callable[..., Any], Callable[..., Any]], ...] = (
    (sdk_resource, "create_urn", _sdk_create_urn, create_urn),
    (sdk_rpc, "transfer_properties", _sdk_transfer_properties, transfer_properties),
    (sdk_types, "unwrap_type", _sdk_unwrap_type, unwrap_type),
)


@contextmanager
def installed(loop: asyncio.AbstractEventLoop | None = None) -> Iterator[None]:
    """`stack_trace`, `settled`, and where `proven`, `create_urn`, `transfer_properties` and
    `unwrap_type` in the SDK's place while the block runs, and with a `loop`, its monitor
    calls in line (`inline_rpcs`)."""
    sdk_resource._get_stack_trace = stack_trace
    for module, name, sdk, replacement in _WHOLE:
        if proven(sdk):
            setattr(module, name, replacement)
    sdk_mocks._sync_await = settled
    if loop is not None:
        loop.run_in_executor = inline_rpcs(loop)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = _sdk_stack_trace
        for module, name, sdk, _ in _WHOLE:
            setattr(module, name, sdk)
        sdk_mocks._sync_await = _sdk_sync_await
        if loop is not None:
            del loop.run_in_executor
