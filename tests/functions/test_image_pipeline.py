"""image-pipeline behaviour: the validate and resize handlers on real images (made here with
Pillow) in moto's S3, the upload rule's pattern on real-shaped S3 events, and the state
machine under the ASL checks and in moto's Step Functions interpreter.

moto's docker-free Lambda returns queued results and never fails, so the executions are
fed the results the real handlers return for the same objects; the failure path is driven
by a `valid: false` result through the Choice state.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from moto.events.models import EventPattern
from PIL import Image, ImageFile
from statelint.linter import Linter

from components.core import asl
from components.image_pipeline import (
    NOT_PROCESSED,
    REJECTED,
    SUPPORTED_SUFFIXES,
    TYPED_ERRORS,
    ImagePipelineArgs,
    pipeline_definition,
    upload_pattern,
)
from serverless_wa.asl import check
from tests import workflows

PATTERN = "image-pipeline"
REGION = "eu-west-1"
INPUT = "photo-uploads"
OUTPUT = "photo-renditions"
KEY = "incoming/holiday/beach.jpg"
RED, BLUE = (255, 0, 0), (0, 0, 255)
ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF: the stored image is shown turned a quarter clockwise
FUNCTIONS = {
    "validate": f"arn:aws:lambda:{REGION}:123456789012:function:validate",
    "resize": f"arn:aws:lambda:{REGION}:123456789012:function:resize",
}


# Images ------------------------------------------------------------------------------------


def jpeg(width: int, height: int, *, orientation: int | None = None) -> bytes:
    """Left half red, right half blue (as stored), with an optional EXIF orientation."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    buffer = io.BytesIO()
    options: dict[str, Any] = {"quality": 95}
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png(width: int, height: int, mode: str = "RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 0).save(buffer, "PNG")
    return buffer.getvalue()


def gif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (width, height), 0).save(buffer, "GIF")
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in {
        "INPUT_PREFIX": "incoming/",
        "ALLOWED_SUFFIXES": ".jpg,.jpeg,.png",
        "MAX_BYTES": "20000000",
        "MAX_PIXELS": "40000000",
        "OUTPUT_BUCKET": OUTPUT,
        "OUTPUT_PREFIX": "processed/",
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def s3(env):
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT, OUTPUT):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield client


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where the handlers' temporary directories are made, to check they are removed."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def validate(s3, scratch, load_function):
    return load_function(PATTERN, "validate")


@pytest.fixture
def resize(s3, scratch, load_function):
    return load_function(PATTERN, "resize")


def upload(s3, key: str, data: bytes) -> None:
    s3.put_object(Bucket=INPUT, Key=key, Body=data)


def rendition(s3, key: str) -> tuple[Image.Image, dict[str, Any]]:
    response = s3.get_object(Bucket=OUTPUT, Key=key)
    return opened(response["Body"].read()), response


# validate ----------------------------------------------------------------------------------


def test_validate_accepts_a_real_jpeg_through_the_handler(
    validate, s3, scratch, load_event, lambda_context
):
    upload(s3, KEY, jpeg(640, 480))
    result = validate.handler(load_event(PATTERN, "validate-payload"), lambda_context)
    assert result == {
        "valid": True,
        "key": KEY,
        "format": "JPEG",
        "width": 640,
        "height": 480,
        "size": len(jpeg(640, 480)),
        "reason": None,
    }
    assert list(scratch.iterdir()) == []


def test_validate_reports_the_displayed_size_of_an_exif_rotated_photo(validate, s3):
    upload(s3, KEY, jpeg(400, 200, orientation=ROTATE_90_CW))
    result = validate.validate({"bucket": INPUT, "key": KEY})
    assert (result["valid"], result["width"], result["height"]) == (True, 200, 400)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.7 not an image at all", "InvalidImageError: not an image Pillow can identify"),
        (jpeg(640, 480)[:1500], "InvalidImageError: corrupt image data"),
        (gif(20, 20), "InvalidImageError: format GIF is not one of JPEG, PNG"),
        (b"", "InvalidImageError"),
    ],
    ids=["not-an-image", "truncated-jpeg", "format-not-allowed", "empty"],
)
def test_validate_rejects_what_is_not_an_allowed_intact_image(validate, s3, scratch, data, reason):
    upload(s3, KEY, data)
    result = validate.validate({"bucket": INPUT, "key": KEY})
    assert result["valid"] is False
    assert result["reason"].startswith(reason)
    assert (result["format"], result["width"], result["height"]) == (None, None, None)
    assert list(scratch.iterdir()) == []


def test_validate_rejects_an_oversized_object_from_its_head_without_downloading(
    validate, s3, env, monkeypatch
):
    upload(s3, KEY, jpeg(64, 64))
    limits = validate.LIMITS.__class__(
        max_bytes=100, max_pixels=validate.LIMITS.max_pixels, formats=validate.LIMITS.formats
    )
    monkeypatch.setattr(validate, "LIMITS", limits)

    def no_download(*_args, **_kwargs):
        raise AssertionError("an oversized object was downloaded")

    monkeypatch.setattr(validate.storage, "download", no_download)
    result = validate.validate({"bucket": INPUT, "key": KEY})
    assert result["valid"] is False
    assert result["reason"].startswith("ImageTooLargeError")
    assert result["size"] == len(jpeg(64, 64))


def test_a_decompression_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(
    validate, s3, monkeypatch
):
    """100 megapixels of one bit each in a few KB of PNG: decoded, it would take hundreds of
    MB. Refused at the header, by Pillow's guard (set to max_pixels) or our own check."""
    bomb = png(10_000, 10_000, mode="1")
    assert len(bomb) < 100_000  # a tiny file...
    upload(s3, "incoming/bomb.png", bomb)

    def no_decoding(self):
        raise AssertionError("pixels were decoded before the pixel count was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    result = validate.validate({"bucket": INPUT, "key": "incoming/bomb.png"})
    assert result["valid"] is False
    assert result["reason"].startswith("ImageTooLargeError")
    assert "100000000 pixels" in result["reason"]
    assert validate.LIMITS.max_pixels == Image.MAX_IMAGE_PIXELS  # Pillow's guard, same limit


@pytest.mark.parametrize("side", [6_500, 9_000], ids=["over-the-limit", "over-twice-the-limit"])
def test_images_over_the_pixel_limit_are_too_large(load_function, env, tmp_path, side):
    imaging = load_function(PATTERN, "imaging")
    path = tmp_path / "big.png"
    path.write_bytes(png(side, side, mode="1"))
    limits = imaging.Limits(max_bytes=10**8, max_pixels=40_000_000, formats=frozenset({"PNG"}))
    with pytest.raises(imaging.ImageTooLargeError, match=f"{side * side} pixels"):
        imaging.inspect(path, limits)
    small = imaging.Limits(max_bytes=10**8, max_pixels=side * side, formats=frozenset({"PNG"}))
    assert imaging.inspect(path, small) == imaging.ImageInfo("PNG", side, side)


def test_validate_rejects_keys_outside_the_prefix_and_deleted_objects(validate, s3):
    outside = validate.validate({"bucket": INPUT, "key": "processed/800x600/beach.jpg"})
    assert outside["valid"] is False and "not under the input prefix" in outside["reason"]
    gone = validate.validate({"bucket": INPUT, "key": "incoming/deleted.jpg"})
    assert gone["valid"] is False and gone["reason"].startswith("ObjectGoneError")


def test_validate_finds_a_key_that_arrives_url_encoded(validate, s3):
    upload(s3, "incoming/summer holiday.jpg", jpeg(100, 50))
    result = validate.validate({"bucket": INPUT, "key": "incoming/summer+holiday.jpg"})
    assert result["valid"] is True
    assert result["key"] == "incoming/summer holiday.jpg"  # what Resize is given


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"bucket": INPUT},
        {"bucket": INPUT, "key": 7},
        {"bucket": "", "key": KEY},
        ["not", "an", "object"],
        "incoming/beach.jpg",
    ],
    ids=["empty", "no-key", "key-not-text", "empty-bucket", "list", "string"],
)
def test_malformed_payloads_raise_the_typed_request_error(validate, payload, lambda_context):
    with pytest.raises(validate.jobs.InvalidRequestError):
        validate.handler(payload, lambda_context)


# resize ------------------------------------------------------------------------------------


def test_a_png_is_fitted_inside_the_box_with_its_aspect_ratio_kept(
    resize, s3, scratch, load_event, lambda_context
):
    upload(s3, "incoming/holiday/beach.png", png(1600, 900))
    event = {**load_event(PATTERN, "resize-payload"), "key": "incoming/holiday/beach.png"}
    result = resize.handler(event, lambda_context)
    assert result == {
        "bucket": OUTPUT,
        "key": "processed/800x600/holiday/beach.png",
        "width": 800,
        "height": 450,
        "format": "PNG",
        "contentType": "image/png",
    }
    image, response = rendition(s3, result["key"])
    assert (image.format, image.size, image.mode) == ("PNG", (800, 450), "RGBA")
    assert response["ContentType"] == "image/png"
    assert abs(image.width / image.height - 1600 / 900) < 0.01
    assert list(scratch.iterdir()) == []


def test_a_jpeg_with_exif_orientation_6_comes_out_upright(resize, s3, scratch):
    # Stored 1200 x 600, left half red; shown turned a quarter clockwise: 600 x 1200 with
    # the red half on top.
    upload(s3, KEY, jpeg(1200, 600, orientation=ROTATE_90_CW))
    result = resize.resize({"bucket": INPUT, "key": KEY, "width": 800, "height": 600})
    assert result["key"] == "processed/800x600/holiday/beach.jpg"
    assert (result["width"], result["height"]) == (300, 600)
    image, response = rendition(s3, result["key"])
    assert (image.format, image.size) == ("JPEG", (300, 600))
    assert response["ContentType"] == "image/jpeg"
    assert ORIENTATION not in image.getexif()  # viewers must not turn it again
    top, bottom = image.getpixel((150, 100)), image.getpixel((150, 500))
    assert top[0] > 200 and top[2] < 60, top  # red
    assert bottom[2] > 200 and bottom[0] < 60, bottom  # blue
    assert list(scratch.iterdir()) == []


def test_the_output_key_is_deterministic_so_a_rerun_overwrites(resize, s3):
    upload(s3, KEY, jpeg(1024, 768))
    request = {"bucket": INPUT, "key": KEY, "width": 320, "height": 240}
    first, second = resize.resize(request), resize.resize(request)
    assert first == second
    listed = s3.list_objects_v2(Bucket=OUTPUT)["Contents"]
    assert [o["Key"] for o in listed] == ["processed/320x240/holiday/beach.jpg"]
    image, _ = rendition(s3, first["key"])
    assert image.size == (320, 240)


def test_a_small_image_is_never_enlarged(resize, s3):
    upload(s3, "incoming/icon.png", png(200, 100))
    result = resize.resize(
        {"bucket": INPUT, "key": "incoming/icon.png", "width": 800, "height": 600}
    )
    assert (result["width"], result["height"]) == (200, 100)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (jpeg(640, 480)[:1500], "InvalidImageError"),
        (b"GIF89a but not really", "InvalidImageError"),
        (png(10_000, 10_000, mode="1"), "ImageTooLargeError"),
    ],
    ids=["truncated", "garbage", "bomb"],
)
def test_resize_raises_typed_errors_and_leaves_no_temporary_files(
    resize, s3, scratch, data, error, lambda_context
):
    upload(s3, KEY, data)
    with pytest.raises(Exception) as raised:
        resize.handler({"bucket": INPUT, "key": KEY, "width": 80, "height": 60}, lambda_context)
    assert type(raised.value).__name__ == error
    assert error in TYPED_ERRORS  # the names the state machine does not retry
    assert list(scratch.iterdir()) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=OUTPUT)


def test_a_deleted_source_is_a_typed_error(resize, s3):
    with pytest.raises(resize.storage.ObjectGoneError):
        resize.resize({"bucket": INPUT, "key": KEY, "width": 80, "height": 60})


@pytest.mark.parametrize(
    "payload",
    [
        {"bucket": INPUT, "key": KEY},
        {"bucket": INPUT, "key": KEY, "width": 0, "height": 60},
        {"bucket": INPUT, "key": KEY, "width": "800", "height": 600},
        {"bucket": INPUT, "key": KEY, "width": True, "height": 600},
        {"bucket": INPUT, "key": KEY, "width": 800, "height": 20_000},
    ],
    ids=["no-size", "zero", "text", "bool", "too-big"],
)
def test_resize_refuses_a_malformed_target(resize, payload):
    with pytest.raises(resize.jobs.InvalidRequestError):
        resize.resize(payload)


def test_resize_refuses_to_write_where_uploads_start_the_pipeline(env, s3, load_function):
    env.setenv("OUTPUT_BUCKET", INPUT)
    env.setenv("OUTPUT_PREFIX", "incoming/resized/")
    module = load_function(PATTERN, "resize")
    upload(s3, KEY, jpeg(64, 64))
    with pytest.raises(module.jobs.InvalidRequestError, match="it would loop"):
        module.resize({"bucket": INPUT, "key": KEY, "width": 32, "height": 32})


def test_the_component_s_suffixes_are_the_ones_the_functions_know(load_function, env):
    imaging = load_function(PATTERN, "imaging")
    assert tuple(sorted(imaging.FORMATS)) == SUPPORTED_SUFFIXES


# The upload rule ---------------------------------------------------------------------------


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def with_key(event: dict[str, Any], key: str, bucket: str = INPUT) -> dict[str, Any]:
    detail = {**event["detail"], "bucket": {"name": bucket}}
    detail["object"] = {**detail["object"], "key": key}
    return {**event, "detail": detail}


def test_the_rule_matches_uploads_under_the_prefix_with_an_allowed_suffix_only(load_event):
    event = load_event(PATTERN, "object-created")
    pattern = upload_pattern(INPUT, "incoming/", [".jpg", ".jpeg", ".png"])
    assert matches(pattern, event)
    assert matches(pattern, with_key(event, "incoming/IMG_0001.JPG"))
    assert matches(pattern, with_key(event, "incoming/a/b/c.png"))
    assert not matches(pattern, with_key(event, "processed/800x600/holiday/beach.jpg"))
    assert not matches(pattern, with_key(event, "incoming/notes.txt"))
    assert not matches(pattern, with_key(event, "incoming/anim.gif"))
    assert not matches(pattern, with_key(event, "incoming/beach.jpg", bucket="someone-else"))
    assert not matches(pattern, {**event, "detail-type": "Object Deleted"})


# The state machine -------------------------------------------------------------------------


def definition(**kwargs: Any) -> dict[str, Any]:
    return pipeline_definition(
        ImagePipelineArgs(**kwargs),
        validate_arn=FUNCTIONS["validate"],
        resize_arn=FUNCTIONS["resize"],
        success_topic_arn=f"arn:aws:sns:{REGION}:123456789012:success",
        error_topic_arn=f"arn:aws:sns:{REGION}:123456789012:error",
    )


def test_definition_passes_the_asl_checks_and_statelint():
    for kwargs in ({}, {"resize_targets": [(1600, 1200), (320, 240)], "max_concurrency": 2}):
        assert check(definition(**kwargs), workflow_type="STANDARD") == []
        assert Linter.validate(definition(**kwargs)) == []
    express = definition(workflow_type="EXPRESS", execution_timeout_s=300)
    assert check(express, workflow_type="EXPRESS") == []


def test_lambda_tasks_retry_only_lambda_s_transient_errors_and_every_task_is_caught():
    states = definition()["States"]
    item = states["Resize"]["ItemProcessor"]["States"]["ResizeOne"]
    lambda_retry = [
        {
            "ErrorEquals": list(asl.LAMBDA_TRANSIENT_ERRORS),
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]
    for task in (states["Validate"], item):
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Retry"] == lambda_retry
    retried = {e for s in (states["Validate"], item) for r in s["Retry"] for e in r["ErrorEquals"]}
    # A corrupt image fails the same way every time: never retried.
    assert retried.isdisjoint({*TYPED_ERRORS, "States.ALL", "States.TaskFailed"})
    to_failure = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]
    for name in ("Validate", "Resize", "NotifySuccess"):
        assert states[name]["Catch"] == to_failure, name
    assert "Catch" not in item  # the Map catches for it
    assert states["NotifyFailure"]["Catch"][0]["Next"] == "Failed"
    assert states["NotifyFailure"]["Parameters"]["MessageAttributes"]["error"] == {
        "DataType": "String",
        "StringValue.$": "$.error.Error",
    }


def test_the_resize_map_fans_out_over_the_targets_with_bounded_concurrency():
    states = definition(resize_targets=[(800, 600), (200, 200)], max_concurrency=3)["States"]
    assert states["Locate"]["Parameters"]["targets"] == [
        {"width": 800, "height": 600},
        {"width": 200, "height": 200},
    ]
    resize = states["Resize"]
    assert (resize["Type"], resize["ItemsPath"], resize["MaxConcurrency"]) == (
        "Map",
        "$.targets",
        3,
    )
    assert resize["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert "Iterator" not in resize
    assert resize["ItemSelector"] == {
        "bucket.$": "$.source.bucket",
        "key.$": "$.validation.key",
        "width.$": "$$.Map.Item.Value.width",
        "height.$": "$$.Map.Item.Value.height",
    }
    assert resize["ResultPath"] == "$.renditions"
    assert states["Validate"]["ResultPath"] == "$.validation"  # bucket and key survive


class Topics:
    """The two topics, each captured by an SQS subscription."""

    def __init__(self) -> None:
        self.sns, self.sqs = boto3.client("sns"), boto3.client("sqs")
        self.arns: dict[str, str] = {}
        self.queues: dict[str, str] = {}
        for name in ("success", "error"):
            arn = self.sns.create_topic(Name=name)["TopicArn"]
            url = self.sqs.create_queue(QueueName=f"{name}-capture")["QueueUrl"]
            queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            self.sns.subscribe(
                TopicArn=arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )
            self.arns[name], self.queues[name] = arn, url

    def messages(self, name: str) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queues[name], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return response.get("Messages", [])


def queue_lambda_results(*results: dict[str, Any]) -> None:
    """moto's docker-free Lambda returns these, in order, to the next invocations."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
    )
    assert response.status_code == 201


@pytest.fixture
def interpreter(env, scratch, load_function):
    with mock_aws(config=workflows.INTERPRETER):
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield s3, Topics()


def machine(topics: Topics, **kwargs: Any) -> str:
    return workflows.create_machine(
        pipeline_definition(
            ImagePipelineArgs(**kwargs),
            validate_arn=FUNCTIONS["validate"],
            resize_arn=FUNCTIONS["resize"],
            success_topic_arn=topics.arns["success"],
            error_topic_arn=topics.arns["error"],
        )
    )


def test_an_upload_is_validated_resized_and_announced_on_the_success_topic(
    interpreter, load_function, load_event
):
    s3, topics = interpreter
    upload(s3, KEY, jpeg(1600, 1200))
    validate = load_function(PATTERN, "validate")
    resize = load_function(PATTERN, "resize")
    targets = [(800, 600), (200, 200)]
    # What the real handlers return for this upload, queued for moto's stub Lambda.
    verdict = validate.validate({"bucket": INPUT, "key": KEY})
    renditions = [
        resize.resize({"bucket": INPUT, "key": verdict["key"], "width": w, "height": h})
        for w, h in targets
    ]
    queue_lambda_results(verdict, *renditions)
    execution = workflows.start(
        machine(topics, resize_targets=targets), "beach", load_event(PATTERN, "object-created")
    )
    described = workflows.wait(execution)
    assert described["status"] == "SUCCEEDED", described
    assert workflows.entered(execution) == [
        "Locate", "Validate", "IsImage", "Resize", "ResizeOne", "ResizeOne", "Summarise",
        "NotifySuccess", "Done",
    ]  # fmt: skip
    (message,) = topics.messages("success")
    report = json.loads(message["Body"])
    assert report["source"] == {"bucket": INPUT, "key": KEY}
    assert report["image"] == {"format": "JPEG", "width": 1600, "height": 1200}
    # Iterations run concurrently, so moto hands out the queued results in any order.
    assert sorted((r["key"], r["width"], r["height"]) for r in report["renditions"]) == [
        ("processed/200x200/holiday/beach.jpg", 200, 150),
        ("processed/800x600/holiday/beach.jpg", 800, 600),
    ]
    assert message["MessageAttributes"]["key"]["StringValue"] == KEY
    assert topics.messages("error") == []
    # The state carried references only: nothing near an image's size.
    output = json.loads(described["output"])
    assert len(described["output"]) < 4096 and "renditions" in output


def test_a_rejected_upload_ends_at_the_error_topic(interpreter, load_function, load_event):
    s3, topics = interpreter
    upload(s3, KEY, b"this is a text file named like a photo")
    verdict = load_function(PATTERN, "validate").validate({"bucket": INPUT, "key": KEY})
    assert verdict["valid"] is False
    queue_lambda_results(verdict)
    execution = workflows.start(machine(topics), "text", load_event(PATTERN, "object-created"))
    described = workflows.wait(execution)
    assert described["status"] == "FAILED"
    assert described["error"] == NOT_PROCESSED
    assert workflows.entered(execution) == [
        "Locate", "Validate", "IsImage", "Rejected", "NotifyFailure", "Failed",
    ]  # fmt: skip
    (message,) = topics.messages("error")
    assert message["Body"] == (
        f"s3://{INPUT}/{KEY} was not processed. {REJECTED}: {verdict['reason']}"
    )
    assert message["MessageAttributes"]["error"]["StringValue"] == REJECTED
    assert topics.messages("success") == []
