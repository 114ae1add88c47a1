"""Faster equivalents of the Pulumi SDK's per-resource work, for the offline run only.

Every resource registration captures the program's call stack for the engine's source
positions: the SDK's `_get_stack_trace` takes `traceback.extract_stack()`, which reads each
frame's source line through linecache, and turns every file name into a URI through
pathlib, about 0.4 ms a resource (a third of a second on the dev stack). `stack_trace`
builds the same `StackTrace` message, frame for frame, from the frame objects, with each
file's URI computed once. `installed()` puts it in place for the duration of a run and
restores the SDK's own afterwards; tests/e2e/test_engine_speed.py proves the requests are
byte-for-byte the same.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

_sdk_stack_trace = sdk_resource._get_stack_trace
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


@contextmanager
def installed() -> Iterator[None]:
    """`stack_trace` in the SDK's place while the block runs."""
    sdk_resource._get_stack_trace = stack_trace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = _sdk_stack_trace
