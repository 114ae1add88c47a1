"""The ASL checker on small definitions: one good case, and each check failing on its own."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from statelint.linter import Linter

from serverless_wa.asl import CHECKS, check, walk

LAMBDA = "arn:aws:states:::lambda:invoke"
PUT = "arn:aws:states:::dynamodb:putItem"
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
LAMBDA_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
}
CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]


def task(resource: str = PUT, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": resource,
        "Parameters": {"TableName": "t", "Item": {}} if resource == PUT else {"Payload.$": "$"},
        "TimeoutSeconds": 30,
        "Retry": [LAMBDA_RETRY] if resource == LAMBDA else [{"ErrorEquals": ["States.TaskFailed"]}],
        "Catch": CATCH,
    }
    state.update(fields)
    return state


def good() -> dict[str, Any]:
    """A machine with a Parallel and a Distributed Map, each with nested Tasks, all compliant."""
    return {
        "StartAt": "Record",
        "TimeoutSeconds": 3600,
        "States": {
            "Record": task(Next="Wait"),
            "Wait": task(
                CALLBACK,
                Parameters={"QueueUrl": "https://q", "MessageBody": {"t.$": "$$.Task.Token"}},
                TimeoutSeconds=600,
                HeartbeatSeconds=120,
                Next="Fanout",
            ),
            "Fanout": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Resize", "States": {"Resize": task(LAMBDA, End=True, Catch=[])}},
                    {"StartAt": "Tag", "States": {"Tag": task(End=True, Catch=[])}},
                ],
                "Catch": CATCH,
                "ResultPath": None,
                "Next": "Files",
            },
            "Files": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": "b", "Prefix": "p/"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Load",
                    "States": {
                        "Load": task(LAMBDA, Next="Check", Catch=[{**CATCH[0], "Next": "BadFile"}]),
                        "Check": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}
                            ],
                            "Default": "BadFile",
                        },
                        "Done": {"Type": "Succeed"},
                        "BadFile": {"Type": "Fail", "Error": "Bad", "Cause": "bad file"},
                    },
                },
                "MaxConcurrency": 10,
                "ToleratedFailurePercentage": 0,
                "Catch": CATCH,
                "ResultPath": None,
                "Next": "Succeeded",
            },
            "Succeeded": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Failed", "Cause": "see history"},
        },
    }


def findings(document: dict[str, Any], **kwargs: Any) -> list[tuple[str, str]]:
    return [(f.check, f.path) for f in check(document, **kwargs)]


def test_the_good_definition_passes_the_checker_and_statelint():
    assert check(good()) == []
    assert check(json.dumps(good())) == []
    assert Linter.validate(good()) == []


def test_walk_names_nested_states_by_path():
    paths = [ref.path for ref in walk(good())]
    assert "Fanout/Branch[0]/Resize" in paths
    assert "Fanout/Branch[1]/Tag" in paths
    assert "Files/ItemProcessor/Load" in paths
    assert paths.index("Fanout") < paths.index("Fanout/Branch[0]/Resize")


def mutate(path: str, change) -> dict[str, Any]:
    """A copy of `good()` with `change(state)` applied to the state at `path`."""
    document = copy.deepcopy(good())
    body = document
    parts = path.split("/")
    for part in parts[:-1]:
        if part.startswith("Branch["):
            body = body["Branches"][int(part[7:-1])]
        elif part == "ItemProcessor":
            body = body["ItemProcessor"]
        else:
            body = body["States"][part]
    change(body["States"][parts[-1]])
    return document


def drop(*keys: str):
    def change(state: dict[str, Any]) -> None:
        for key in keys:
            state.pop(key)

    return change


def setting(**fields: Any):
    return lambda state: state.update(fields)


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        ("Record", drop("Retry"), ("task-retry", "Record")),
        ("Fanout/Branch[1]/Tag", drop("Retry"), ("task-retry", "Fanout/Branch[1]/Tag")),
        (
            "Files/ItemProcessor/Load",
            setting(Retry=[{**LAMBDA_RETRY, "ErrorEquals": ["Lambda.ServiceException"]}]),
            ("task-retry", "Files/ItemProcessor/Load"),
        ),
        (
            "Fanout/Branch[0]/Resize",
            setting(Retry=[{**LAMBDA_RETRY, "BackoffRate": 1}]),
            ("task-retry", "Fanout/Branch[0]/Resize"),
        ),
        ("Record", drop("Catch"), ("task-catch", "Record")),
        (
            "Record",
            setting(
                Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.e", "Next": "Wait"}]
            ),
            ("task-catch", "Record"),
        ),
        (
            "Record",
            setting(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]),
            ("task-catch", "Record"),
        ),
        ("Wait", drop("TimeoutSeconds"), ("task-timeout", "Wait")),
        ("Wait", drop("HeartbeatSeconds"), ("callback-heartbeat", "Wait")),
        ("Wait", setting(HeartbeatSeconds=600), ("callback-heartbeat", "Wait")),
        (
            "Record",
            setting(Catch=[{**CATCH[0], "Next": "Nowhere"}]),
            ("next-exists", "Record"),
        ),
        (
            "Files/ItemProcessor/Check",
            setting(Default="Succeeded"),  # a state of the parent, not of this processor
            ("next-exists", "Files/ItemProcessor/Check"),
        ),
        ("Files", drop("MaxConcurrency"), ("map-max-concurrency", "Files")),
        ("Files", setting(MaxConcurrency=0), ("map-max-concurrency", "Files")),
        ("Succeeded", setting(Type="Pass"), ("transition", "Succeeded")),
    ],
)
def test_each_check_fails_on_its_own(path, change, expected):
    assert findings(mutate(path, change)) == [expected]


def test_unreachable_states_are_found_at_every_level():
    document = good()
    document["States"]["Orphan"] = {"Type": "Succeed"}
    document["States"]["Fanout"]["Branches"][0]["States"]["Stray"] = {"Type": "Succeed"}
    assert findings(document) == [
        ("reachable", "Orphan"),
        ("reachable", "Fanout/Branch[0]/Stray"),
    ]


def test_state_names_are_unique_across_the_machine():
    document = good()
    document["States"]["Fanout"]["Branches"][1]["States"]["Tag"]["Catch"] = []
    processor = document["States"]["Files"]["ItemProcessor"]["States"]
    processor["Record"] = processor.pop("Done")
    processor["Check"]["Choices"][0]["Next"] = "Record"
    assert findings(document) == [("unique-names", "Files/ItemProcessor/Record")]


def test_start_at_must_exist():
    document = good()
    document["StartAt"] = "Missing"
    result = findings(document)
    assert ("start-at", "") in result
    assert ("reachable", "Record") in result


def test_iterator_is_deprecated():
    document = good()
    files = document["States"]["Files"]
    files["Iterator"] = files.pop("ItemProcessor")
    files["Iterator"].pop("ProcessorConfig")
    files.pop("ItemReader")
    result = findings(document)
    assert result == [("map-item-processor", "Files")]
    assert "Files/Iterator/Load" in [ref.path for ref in walk(document)]


def test_express_rejects_callbacks_sync_and_distributed_map():
    document = good()
    document["States"]["Record"]["Resource"] = "arn:aws:states:::states:startExecution.sync:2"
    assert findings(document, workflow_type="EXPRESS") == [
        ("express-integration", "Record"),
        ("express-integration", "Wait"),
        ("express-integration", "Files"),
    ]
    assert findings(document) == []


def test_express_children_of_a_distributed_map_cannot_wait():
    def callback_child(state: dict[str, Any]) -> None:
        state.update(Resource=CALLBACK, HeartbeatSeconds=10)

    document = mutate("Files/ItemProcessor/Load", callback_child)
    document["States"]["Files"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    assert findings(document) == [("express-integration", "Files/ItemProcessor/Load")]


def test_enclosing_catch_must_catch_everything():
    document = good()
    document["States"]["Fanout"]["Catch"] = [
        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.e", "Next": "Failed"}
    ]
    assert findings(document) == [
        ("task-catch", "Fanout/Branch[0]/Resize"),
        ("task-catch", "Fanout/Branch[1]/Tag"),
    ]


def test_findings_read_as_one_line_each():
    (finding,) = check(mutate("Wait", drop("HeartbeatSeconds")))
    assert str(finding) == "[callback-heartbeat] Wait: callback Task has no HeartbeatSeconds"
    assert finding.check in CHECKS


@pytest.mark.parametrize("bad", ["[1, 2]", "not json"])
def test_a_definition_that_is_not_an_object_is_a_value_error(bad):
    with pytest.raises(ValueError):
        check(bad)
