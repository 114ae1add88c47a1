"""What every hop adds to its trace: the `flow` and `path` annotations X-Ray groups filter
on, the event as metadata, and the trace header for hops that carry one explicitly.

Annotations land on the current subsegment (`## handler` under `capture_lambda_handler`):
Lambda owns the function's segment, and a trace matches `annotation.flow = "sqs"` when any
of its (sub)segments carries the annotation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import hops
from aws_lambda_powertools import Tracer
from aws_xray_sdk.core import xray_recorder

LAMBDA_TRACE_HEADER = "_X_AMZN_TRACE_ID"  # the header Lambda sets for each invocation


def annotate(tracer: Tracer, *, flow: str, path: str | None = None) -> None:
    tracer.put_annotation(key="flow", value=flow)
    if path is not None:
        tracer.put_annotation(key="path", value=path)


def attach_event(tracer: Tracer, event: Any) -> None:
    tracer.put_metadata(key="event", value=event)


def sns_paths(tracer: Tracer, event: Any, *, flow: str) -> Iterator[str]:
    """The request path of each record of an SNS invocation, each annotated as it is read
    (a malformed record raises `hops.InvalidMessage`)."""
    annotate(tracer, flow=flow)
    attach_event(tracer, event)
    for record in hops.sns_records(event):
        path = hops.sns_path(record)
        annotate(tracer, flow=flow, path=path)
        yield path


def outgoing_trace_header(tracer: Tracer) -> str | None:
    """The trace header for the next hop: the current (sub)segment as its parent while the
    tracer records, else the invocation's own header (None outside Lambda)."""
    if not tracer.disabled:
        entity = xray_recorder.get_trace_entity()
        if entity is not None and getattr(entity, "sampled", False):
            return hops.trace_header(entity.trace_id, entity.id, sampled=True)
    return os.environ.get(LAMBDA_TRACE_HEADER) or None
