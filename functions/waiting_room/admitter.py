"""Scheduled (`admit_schedule`, reserved concurrency 1): admit the next visitors of every
zone within its budget, and tell them over the WebSocket API when it is their turn.

The push carries no token, only "your turn": the visitor fetches the token from `status`
with their cookie, so a WebSocket connection never needs to be trusted with one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import admission
import emf
import runtime
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from lambda_tracing import tracer
from room import Visitor

logger = Logger()
metrics = Metrics()

tables = runtime.tables()
# transport="polling" sets no CALLBACK_URL: visitors learn their turn from `status` alone.
pusher = None
if os.environ.get("CALLBACK_URL"):
    import push
    import ws_sender

    pusher = push.Push(ws_sender.sender_from_environment())


def notify(zone_id: str, moved: Sequence[Visitor]) -> None:
    """Push "your turn" to the admitted visitors' live connections. Never raises: the
    admission is committed, and `status` polling tells the visitor anyway."""
    if pusher is None:
        return
    try:
        result = pusher(zone_id, moved)
    except Exception:
        logger.exception("Push failed; the visitors will see it on their next status call")
        metrics.add_metric(name="PushFailed", unit=MetricUnit.Count, value=len(moved))
        return
    metrics.add_metric(name="PushSent", unit=MetricUnit.Count, value=result.sent)
    metrics.add_metric(name="PushGone", unit=MetricUnit.Count, value=result.gone)


admitter = admission.Admitter(
    tables,
    token_ttl_s=runtime.token_ttl_s(),
    notify=notify,
    slices_per_minute=int(os.environ.get("SLICES_PER_MINUTE", "1")),
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = admitter.run(lambda: context.get_remaining_time_in_millis() / 1000)
    for zone_id in result.unusable:
        logger.error("Zone configuration unusable; the zone is skipped", extra={"zoneId": zone_id})
    for zone in result.zones:
        with emf.zone_metrics(zone.zone_id) as zone_metrics:
            zone_metrics.add_metric(name="Admitted", unit=MetricUnit.Count, value=zone.admitted)
            if zone.waiting_head_age_s is not None:
                zone_metrics.add_metric(
                    name="OldestWaitingAge", unit=MetricUnit.Seconds, value=zone.waiting_head_age_s
                )
    oldest = max((z.waiting_head_age_s or 0 for z in result.zones), default=0)
    metrics.add_dimension(name="room", value=emf.ROOM)
    metrics.add_metric(name="OldestWaitingAge", unit=MetricUnit.Seconds, value=oldest)
    summary = {
        "scheduledTime": event.get("scheduledTime"),
        "admitted": result.admitted,
        "zones": {z.zone_id: {"admitted": z.admitted, "budget": z.budget} for z in result.zones},
    }
    logger.info("Admission run finished", extra=summary)
    for failed in result.failed:
        logger.error(
            "Admission failed for a zone",
            extra={"zoneId": failed.zone_id, "error": repr(failed.error)[:300]},
        )
    if result.failed:
        # The run fails (errors alarm, on-failure queue) after every other zone had its turn.
        raise RuntimeError(f"admission failed for {len(result.failed)} zone(s)") from (
            result.failed[0].error
        )
    return {"admitted": result.admitted}
