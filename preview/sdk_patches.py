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

tests/e2e/test_sdk_patches.py proves the requests and answers are byte-for-byte the same.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from pulumi.runtime import _context as sdk_context
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

T = TypeVar("T")

_sdk_stack_trace = sdk_resource._get_stack_trace
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


@contextmanager
def installed(loop: asyncio.AbstractEventLoop | None = None) -> Iterator[None]:
    """`stack_trace` and `settled` in the SDK's place while the block runs, and with a
    `loop`, its monitor calls in line (`inline_rpcs`)."""
    sdk_resource._get_stack_trace = stack_trace
    sdk_mocks._sync_await = settled
    if loop is not None:
        loop.run_in_executor = inline_rpcs(loop)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = _sdk_stack_trace
        sdk_mocks._sync_await = _sdk_sync_await
        if loop is not None:
            del loop.run_in_executor
