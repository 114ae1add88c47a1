"""Running state machines in moto's Step Functions interpreter.

Use inside `mock_aws(config=INTERPRETER)`. Executions always get a name (moto calls every
unnamed one `None`), and their end is awaited by polling `describe_execution`, never by
sleeping for a fixed time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
ROLE_ARN = "arn:aws:iam::123456789012:role/state-machine"
DEADLINE_S = 30.0


def create_machine(definition: dict[str, Any], name: str = "machine") -> str:
    client = boto3.client("stepfunctions")
    response = client.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
    )
    arn: str = response["stateMachineArn"]
    return arn


def start(machine_arn: str, name: str, payload: dict[str, Any]) -> str:
    response = boto3.client("stepfunctions").start_execution(
        stateMachineArn=machine_arn, name=name, input=json.dumps(payload)
    )
    arn: str = response["executionArn"]
    return arn


def wait(execution_arn: str, *, until: tuple[str, ...] = ()) -> dict[str, Any]:
    """The execution once it has left RUNNING (or reached a state in `until`)."""
    client = boto3.client("stepfunctions")
    deadline = time.monotonic() + DEADLINE_S
    while True:
        described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if until and set(until) & set(entered(execution_arn)):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {DEADLINE_S} s")
        time.sleep(0.01)


def run(machine_arn: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return wait(start(machine_arn, name, payload))


def entered(execution_arn: str) -> list[str]:
    """Names of the states the execution entered, in order."""
    client = boto3.client("stepfunctions")
    names = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        for event in page["events"]:
            details = event.get("stateEnteredEventDetails")
            if details:
                names.append(details["name"])
        if not page.get("nextToken"):
            return names
        kwargs["nextToken"] = page["nextToken"]
