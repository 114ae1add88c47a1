"""The generic saga builder: ordered steps with compensations -> an ASL definition.

For steps S1..Sn the forward chain runs every action of S1, then S2, ... and ends in
Succeed. A failure anywhere in step Si (after its retries) is caught with the error at
`$.errors.<Si>` and jumps to the compensation of the latest step Sj <= i that has one; each
compensation then hands over to the one of the step before it, so exactly the steps already
started are undone, newest first, and the chain ends in Fail `<failure>`. The failing step's
own compensation runs too: a step that failed may still have taken effect (a timeout after
the write), and compensations are written to be no-ops when there is nothing to undo (an
action's `done_on` errors, such as a failed "is it mine?" condition, count as done).

Compensations retry their transient errors `compensation_retry_attempts` times with backoff
2; one that still fails records the error at `$.stuck.<action>` and goes to `AnnounceStuck`
(an EventBridge event for operators) and Fail `CompensationFailed`.

`fault_injection=True` (demos and tests only) adds, after each step, a Choice that fails the
step on purpose when the input's `run_type` is `fail<StepName>`, after its actions ran, so
every compensation path can be exercised without a real fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..core import asl

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
STUCK_DETAIL_TYPE = "SagaCompensationFailed"
ANNOUNCE_STUCK = "AnnounceStuck"
COMPENSATION_FAILED = "CompensationFailed"


@dataclass(frozen=True, kw_only=True)
class Action:
    """One Task of a step or of its compensation.

    retry_on: errors worth retrying (throttling, 5xx); anything else fails the action.
    done_on: compensations only: errors meaning there is nothing left to undo.
    result_path: where the result goes (None discards it and keeps the input).
    """

    name: str
    resource: str
    parameters: Mapping[str, Any]
    retry_on: Sequence[str]
    timeout_s: int = 10
    result_path: str | None = None
    result_selector: Mapping[str, Any] | None = None
    done_on: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class Step:
    """A forward step (one or more actions) and the actions that undo it, if any."""

    name: str
    action: Sequence[Action]
    compensation: Sequence[Action] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class Announcement:
    """Where `AnnounceStuck` puts its event: the bus (None: the default bus) and source."""

    source: str
    event_bus: pulumi.Input[str] | None = None


def validate(steps: Sequence[Step], reserved: Sequence[str] = ()) -> None:
    """ValueError naming `steps` unless every step acts, retries, and every state name is
    usable and unique (`reserved`: the names the builder adds itself)."""
    if not steps:
        raise ValueError("steps must hold at least one step")
    states = list(reserved)
    for step in steps:
        if not step.action:
            raise ValueError(f"steps: step {step.name!r} has no action")
        for action in (*step.action, *step.compensation):
            if not action.retry_on:
                raise ValueError(f"steps: action {action.name!r} needs retry_on errors")
            states.append(action.name)
    for name in [*(s.name for s in steps), *states]:
        if not _NAME.match(name):
            raise ValueError(
                f"steps: {name!r} must start with a letter and hold only letters, digits or _"
            )
    duplicates = sorted(
        {n for n in states if states.count(n) > 1}
        | {s.name for s in steps if [t.name for t in steps].count(s.name) > 1}
    )
    if duplicates:
        raise ValueError(f"steps: names must be unique ({', '.join(duplicates)})")


def build_definition(
    steps: Sequence[Step],
    *,
    comment: str,
    timeout_s: int,
    compensation_retry_attempts: int,
    announcement: Announcement,
    failure: str = "SagaFailed",
    success: str = "Completed",
    fault_injection: bool = False,
) -> dict[str, Any]:
    reserved = [ANNOUNCE_STUCK, COMPENSATION_FAILED, failure, success]
    if fault_injection:
        reserved += [n for s in steps for n in (f"Check{s.name}", f"Inject{s.name}Failure")]
    validate(steps, reserved)
    states: dict[str, asl.State] = {}
    # entry[i]: where a failure in step i starts compensating (None: nothing to undo).
    entry: list[str | None] = []
    latest: str | None = None
    for step in steps:
        if step.compensation:
            latest = step.compensation[0].name
        entry.append(latest)

    for index, step in enumerate(steps):
        undo = entry[index] or failure
        after = steps[index + 1].action[0].name if index + 1 < len(steps) else success
        if fault_injection:
            check = f"Check{step.name}"
            inject = f"Inject{step.name}Failure"
            states.update(_fault(step, check, inject, after, undo))
            after = check
        for position, action in enumerate(step.action):
            following = step.action[position + 1].name if position + 1 < len(step.action) else after
            states[action.name] = asl.task(
                action.resource,
                parameters=action.parameters,
                result_path=action.result_path,
                result_selector=action.result_selector,
                timeout_s=action.timeout_s,
                retry=[asl.retry(action.retry_on)],
                catch=[asl.catch(undo, result_path=f"$.errors.{step.name}")],
                next_state=following,
            )

    previous: str = failure
    for step in steps:
        # Compensations run newest first: step k's chain ends where step k-1's starts.
        for position, action in enumerate(step.compensation):
            following = (
                step.compensation[position + 1].name
                if position + 1 < len(step.compensation)
                else previous
            )
            catches = [asl.catch(following, errors=action.done_on, result_path=None)]
            states[action.name] = asl.task(
                action.resource,
                parameters=action.parameters,
                result_path=action.result_path,
                result_selector=action.result_selector,
                timeout_s=action.timeout_s,
                retry=[
                    asl.retry(action.retry_on, attempts=compensation_retry_attempts, backoff=2.0)
                ],
                catch=[
                    *(catches if action.done_on else []),
                    asl.catch(ANNOUNCE_STUCK, result_path=f"$.stuck.{action.name}"),
                ],
                next_state=following,
            )
        if step.compensation:
            previous = step.compensation[0].name

    entries: dict[str, Any] = {
        "Source": announcement.source,
        "DetailType": STUCK_DETAIL_TYPE,
        "Detail": {
            "execution.$": "$$.Execution.Id",
            "input.$": "$$.Execution.Input",
            "stuck.$": "$.stuck",
        },
    }
    if announcement.event_bus is not None:
        entries["EventBusName"] = announcement.event_bus
    states[ANNOUNCE_STUCK] = asl.task(
        asl.integration("events", "putEvents"),
        parameters={"Entries": [entries]},
        result_path=None,
        timeout_s=10,
        retry=[asl.retry(asl.EVENTS_TRANSIENT_ERRORS)],
        catch=[asl.catch(COMPENSATION_FAILED, result_path="$.announceError")],
        next_state=COMPENSATION_FAILED,
    )
    states[COMPENSATION_FAILED] = asl.fail(
        COMPENSATION_FAILED, "a compensation kept failing; operators were notified"
    )
    states[failure] = asl.fail(failure, "a step failed and every step already done was undone")
    states[success] = asl.succeed()
    return asl.machine(steps[0].action[0].name, states, comment=comment, timeout_s=timeout_s)


def _fault(step: Step, check: str, inject: str, after: str, undo: str) -> dict[str, asl.State]:
    run_type = f"fail{step.name}"
    return {
        check: asl.choice(
            [
                {
                    "And": [
                        {"Variable": "$.run_type", "IsPresent": True},
                        {"Variable": "$.run_type", "StringEquals": run_type},
                    ],
                    "Next": inject,
                }
            ],
            default=after,
        ),
        inject: asl.pass_state(
            next_state=undo,
            Result={"Error": "InjectedFault", "Cause": f"run_type={run_type}"},
            ResultPath=f"$.errors.{step.name}",
        ),
    }
