"""`image-pipeline`: S3 -> EventBridge -> Step Functions -> validate, resize, notify.

An upload under `input_prefix` with one of the allowed suffixes makes S3 send an
`Object Created` event to the default bus; a rule matching this bucket, that prefix and
those suffixes starts the workflow (retried, then dead-lettered). `Validate` checks the
object (bytes from HeadObject, format and pixel count from the header before decoding,
then a full decode); a rejected object goes to the error topic. `Resize` is a Map over
`resize_targets` that writes one rendition per size to `<output_prefix><w>x<h>/<key>` in
the output bucket (a separate bucket by default), and the outcome is published to the
success topic straight from the state language. The state carries S3 references, never
image bytes. Every task is caught into `NotifyFailure`, and Lambda tasks retry only
Lambda's own transient errors: a corrupt or oversized image (`InvalidImageError`,
`ImageTooLargeError`) is reported once, never retried.

The renditions can never start the workflow again: they land in another bucket, or, when
`output_bucket="input"`, under a prefix the component requires to be disjoint from the
watched one, where the resize function's role is the only writer.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import asl, iam, packaging
from .core.bucket import BUCKET_DEFAULTS, PrivateBucket
from .core.event_route import EventRoute
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import KMS_KEY
from .core.state_machine import StateMachine, WorkflowType
from .core.topic import TracedTopic

__all__ = ["ImagePipeline", "ImagePipelineArgs", "pipeline_definition", "upload_pattern"]

# The suffixes the functions can map to an image format (functions/image_pipeline/imaging.py).
SUPPORTED_SUFFIXES = (".gif", ".jpeg", ".jpg", ".png", ".webp")
TOPIC_DEFAULTS = ("Active tracing", "encryption", "a TLS-only topic policy")
MAX_TARGETS = 10
MAX_SIDE = 10_000  # pixels, per side of a resize target
MAX_MAP_CONCURRENCY = 40  # an inline Map runs at most 40 iterations at once
MAX_BYTES = 200_000_000  # the source and its rendition must fit in the function's /tmp
MAX_PIXELS = 250_000_000
EXPRESS_MAX_S = 300  # Express workflows run for at most five minutes
LAMBDA_RETRY = asl.retry(asl.LAMBDA_TRANSIENT_ERRORS, attempts=6, interval_s=2, backoff=2.0)
SNS_RETRY = asl.retry(asl.SNS_TRANSIENT_ERRORS, attempts=3, interval_s=1, backoff=2.0)
TASK_TIMEOUT_MARGIN_S = 5  # a task waits a little longer than its function may run
PUBLISH_TIMEOUT_S = 30
REJECTED = "ImageRejected"
NOT_PROCESSED = "ImageNotProcessed"
# The typed errors of the functions: caught by NotifyFailure, never retried.
TYPED_ERRORS = ("InvalidImageError", "ImageTooLargeError", "InvalidRequestError", "ObjectGoneError")
_PREFIX = re.compile(r"^(?!/)[\x20-\x7e]{0,1024}$")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_WILDCARD_CHARACTERS = ("*", "\\")  # special in EventBridge wildcard patterns


def _check_prefix(value: str, argument: str) -> None:
    if not _PREFIX.match(value) or any(c in value for c in _WILDCARD_CHARACTERS):
        raise ValueError(
            f"{argument} must be at most 1024 printable ASCII characters, not starting with "
            f"'/' and without '*' or '\\' (got {value!r})"
        )


def prefixes_overlap(first: str, second: str) -> bool:
    """Whether a key could be under both prefixes ('' is the whole bucket)."""
    return first.startswith(second) or second.startswith(first)


@dataclass(frozen=True, kw_only=True)
class ImagePipelineArgs(PatternArgs):
    """Arguments of `ImagePipeline`.

    input_bucket: an existing bucket whose uploads are processed; None makes a new private
      one (encrypted, versioned, TLS only).
    enable_bucket_notifications: turn on the input bucket's EventBridge notifications with
      an `aws.s3.BucketNotification`, which replaces the bucket's whole notification
      configuration. Set False only with an existing input_bucket that already sends its
      events to EventBridge (or whose notifications are managed elsewhere).
    input_prefix: the key prefix whose uploads start the workflow ("" watches the whole
      bucket, which needs a separate output bucket). The functions may read only under it.
    suffixes: the key suffixes that start the workflow, each matched as written and in
      upper case (`.jpg` and `.JPG`); one of .gif, .jpeg, .jpg, .png, .webp. They also set
      the image formats validate accepts (`.jpg` -> JPEG).
    output_bucket: None makes a separate private bucket for the renditions (the default);
      `"input"` writes them into the input bucket, under an output_prefix disjoint from
      input_prefix; or an existing bucket (the input bucket itself counts as `"input"`).
    output_prefix: the key prefix of the renditions, `<output_prefix><w>x<h>/<key>` with
      the input prefix taken off the key. The resize function may write only under it.
    resize_targets: (width, height) boxes, 1-10 of them, each side 1-10000 pixels; every
      image is fitted inside each box with its aspect ratio kept, and never enlarged.
    max_concurrency: renditions of one image made at once (the Map's MaxConcurrency, 1-40).
    workflow_type: STANDARD (exactly-once steps, a year of run time, full history) or
      EXPRESS (cheaper for very high volumes, but at-least-once, at most five minutes, and
      its history only in the logs); the deterministic output keys make re-runs harmless.
    success_topic: an existing topic for the outcome of each processed image; None makes
      one (SSE with SNS's AWS managed key, Active tracing, TLS-only policy).
    error_topic: an existing topic for rejected images and failed executions; None makes
      one like success_topic.
    max_bytes: the largest object accepted, in bytes (1-200000000); larger is rejected from
      HeadObject, before any download.
    max_pixels: the most pixels (width x height) an image may have (1-250000000), checked
      from the header before decoding and set as Pillow's decompression-bomb limit; the
      decoded image needs about 4 bytes a pixel, so raise memory_size with it.
    memory_size: memory of the validate and resize functions, in MB.
    timeout_s: timeout of the validate and resize functions, in seconds (1-900).
    execution_timeout_s: the workflow's timeout, in seconds; at most 300 for EXPRESS.
    kms_key_arn: a customer managed key for new buckets (the functions may use it for S3
      only); None: SSE-S3.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "input_bucket",
            BUCKET_DEFAULTS,
            "They are the bucket owner's to set; enable_bucket_notifications replaces its "
            "notification configuration.",
        ),
        Safeguard("output_bucket", BUCKET_DEFAULTS, "They are the bucket owner's to set."),
        Safeguard(
            "output_bucket",
            ("a separate output bucket",),
            "Renditions go to the input bucket under output_prefix, which must stay disjoint "
            "from input_prefix.",
            off="input",
        ),
        Safeguard("success_topic", TOPIC_DEFAULTS, "They are the topic owner's to set."),
        Safeguard("error_topic", TOPIC_DEFAULTS, "They are the topic owner's to set."),
    )

    input_bucket: aws.s3.Bucket | None = None
    enable_bucket_notifications: bool = True
    input_prefix: str = "incoming/"
    suffixes: list[str] = field(default_factory=lambda: [".jpg", ".jpeg", ".png"])
    output_bucket: aws.s3.Bucket | Literal["input"] | None = None
    output_prefix: str = "processed/"
    resize_targets: list[tuple[int, int]] = field(default_factory=lambda: [(800, 600)])
    max_concurrency: int = 4
    workflow_type: WorkflowType = "STANDARD"
    success_topic: aws.sns.Topic | None = None
    error_topic: aws.sns.Topic | None = None
    max_bytes: int = 20_000_000
    max_pixels: int = 40_000_000
    memory_size: int = 1024
    timeout_s: int = 30
    execution_timeout_s: int = 900
    kms_key_arn: str | None = None

    def __post_init__(self) -> None:
        _check_prefix(self.input_prefix, "input_prefix")
        _check_prefix(self.output_prefix, "output_prefix")
        if not self.suffixes or len(set(self.suffixes)) != len(self.suffixes):
            raise ValueError(f"suffixes must list distinct suffixes (got {self.suffixes!r})")
        for suffix in self.suffixes:
            if not isinstance(suffix, str) or suffix.lower() not in SUPPORTED_SUFFIXES:
                raise ValueError(
                    f"suffixes must each be one of {', '.join(SUPPORTED_SUFFIXES)} (got {suffix!r})"
                )
        if self.same_bucket and prefixes_overlap(self.input_prefix, self.output_prefix):
            raise ValueError(
                f"output_prefix {self.output_prefix!r} overlaps input_prefix "
                f"{self.input_prefix!r} in the one bucket they share: every rendition would "
                "start the workflow again; use disjoint prefixes or a separate output bucket"
            )
        if isinstance(self.output_bucket, str) and self.output_bucket != "input":
            raise ValueError(
                f"output_bucket must be 'input', an existing bucket or None "
                f"(got {self.output_bucket!r})"
            )
        if not self.enable_bucket_notifications and self.input_bucket is None:
            raise ValueError(
                "enable_bucket_notifications=False needs an existing input_bucket: a new "
                "bucket would never send its uploads to EventBridge"
            )
        if not 1 <= len(self.resize_targets) <= MAX_TARGETS:
            raise ValueError(
                f"resize_targets must list 1-{MAX_TARGETS} (width, height) boxes "
                f"(got {len(self.resize_targets)})"
            )
        for target in self.resize_targets:
            if (
                len(target) != 2
                or not all(isinstance(side, int) and not isinstance(side, bool) for side in target)
                or not all(1 <= side <= MAX_SIDE for side in target)
            ):
                raise ValueError(
                    f"resize_targets must be (width, height) pairs of integers 1-{MAX_SIDE} "
                    f"(got {target!r})"
                )
        if len({tuple(t) for t in self.resize_targets}) != len(self.resize_targets):
            raise ValueError(f"resize_targets must be distinct (got {self.resize_targets!r})")
        if not 1 <= self.max_concurrency <= MAX_MAP_CONCURRENCY:
            raise ValueError(
                f"max_concurrency must be between 1 and {MAX_MAP_CONCURRENCY} "
                f"(got {self.max_concurrency})"
            )
        if self.workflow_type not in ("STANDARD", "EXPRESS"):
            raise ValueError(
                f"workflow_type must be one of STANDARD, EXPRESS (got {self.workflow_type!r})"
            )
        if not 1 <= self.max_bytes <= MAX_BYTES:
            raise ValueError(f"max_bytes must be between 1 and {MAX_BYTES} (got {self.max_bytes})")
        if not 1 <= self.max_pixels <= MAX_PIXELS:
            raise ValueError(
                f"max_pixels must be between 1 and {MAX_PIXELS} (got {self.max_pixels})"
            )
        self.function_spec("validate", "Validates each upload")
        longest = 2 * (self.timeout_s + TASK_TIMEOUT_MARGIN_S) + 2 * PUBLISH_TIMEOUT_S
        limit = EXPRESS_MAX_S if self.workflow_type == "EXPRESS" else 31_536_000
        if not longest < self.execution_timeout_s <= limit:
            raise ValueError(
                f"execution_timeout_s must exceed the steps' timeouts ({longest} s) and be at "
                f"most {limit} for a {self.workflow_type} workflow "
                f"(got {self.execution_timeout_s})"
            )
        if self.kms_key_arn is not None:
            KMS_KEY.check(self.kms_key_arn, "kms_key_arn")

    @property
    def same_bucket(self) -> bool:
        return self.output_bucket == "input" or (
            self.output_bucket is not None and self.output_bucket is self.input_bucket
        )

    def function_spec(self, handler: str, description: str) -> FunctionSpec:
        return FunctionSpec(
            handler=f"{handler}.handler",
            memory_size=self.memory_size,
            timeout_s=self.timeout_s,
            description=description,
        )


def key_patterns(prefix: str, suffixes: Sequence[str]) -> list[dict[str, str]]:
    """EventBridge wildcard filters for `<prefix>*<suffix>`, each suffix as written and in
    upper case (a prefix and a suffix on one field need a wildcard, not two filters)."""
    spellings = sorted({spelling for s in suffixes for spelling in (s, s.upper())})
    return [{"wildcard": f"{prefix}*{suffix}"} for suffix in spellings]


def upload_pattern(bucket_name: str, prefix: str, suffixes: Sequence[str]) -> dict[str, Any]:
    """The rule's pattern: objects created in this bucket, under the prefix, with a suffix."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": key_patterns(prefix, suffixes)},
        },
    }


def _invoke(function_arn: pulumi.Input[str], payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"FunctionName": function_arn, "Payload": dict(payload)}


def _attribute(path: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue.$": path}


def pipeline_definition(
    args: ImagePipelineArgs,
    *,
    validate_arn: pulumi.Input[str],
    resize_arn: pulumi.Input[str],
    success_topic_arn: pulumi.Input[str],
    error_topic_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """Locate -> Validate -> IsImage -> Resize (Map) -> Summarise -> NotifySuccess -> Done;
    a rejected image (Rejected) and every caught error go to NotifyFailure -> Failed. Plain
    strings give a definition moto can run; Outputs are resolved by the state machine block."""
    task_timeout = args.timeout_s + TASK_TIMEOUT_MARGIN_S
    to_failure = [asl.catch("NotifyFailure")]
    validation_fields = ("valid", "key", "format", "width", "height", "size", "reason")
    rendition_fields = ("bucket", "key", "width", "height", "contentType")
    resize_one = asl.task(
        asl.integration("lambda", "invoke"),
        parameters={"FunctionName": resize_arn, "Payload.$": "$"},
        result_selector={f"{name}.$": f"$.Payload.{name}" for name in rendition_fields},
        timeout_s=task_timeout,
        retry=[LAMBDA_RETRY],
        catch=[],  # the Map catches for it
    )
    states: dict[str, asl.State] = {
        # The S3 event -> references only: the state never carries image bytes.
        "Locate": asl.pass_state(
            parameters={
                "source": {"bucket.$": "$.detail.bucket.name", "key.$": "$.detail.object.key"},
                "targets": [{"width": w, "height": h} for w, h in args.resize_targets],
            },
            next_state="Validate",
        ),
        "Validate": asl.task(
            asl.integration("lambda", "invoke"),
            parameters=_invoke(
                validate_arn, {"bucket.$": "$.source.bucket", "key.$": "$.source.key"}
            ),
            result_selector={f"{name}.$": f"$.Payload.{name}" for name in validation_fields},
            result_path="$.validation",
            timeout_s=task_timeout,
            retry=[LAMBDA_RETRY],
            catch=to_failure,
            next_state="IsImage",
        ),
        "IsImage": asl.choice(
            [{"Variable": "$.validation.valid", "BooleanEquals": True, "Next": "Resize"}],
            default="Rejected",
        ),
        "Rejected": asl.pass_state(
            parameters={"Error": REJECTED, "Cause.$": "$.validation.reason"},
            ResultPath="$.error",
            next_state="NotifyFailure",
        ),
        "Resize": {
            "Type": "Map",
            "ItemsPath": "$.targets",
            "ItemSelector": {
                "bucket.$": "$.source.bucket",
                "key.$": "$.validation.key",
                "width.$": "$$.Map.Item.Value.width",
                "height.$": "$$.Map.Item.Value.height",
            },
            "MaxConcurrency": args.max_concurrency,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                **asl.machine("ResizeOne", {"ResizeOne": resize_one}, comment="One rendition"),
            },
            "ResultPath": "$.renditions",
            "Catch": to_failure,
            "Next": "Summarise",
        },
        "Summarise": asl.pass_state(
            parameters={
                "source": {"bucket.$": "$.source.bucket", "key.$": "$.validation.key"},
                "image": {
                    "format.$": "$.validation.format",
                    "width.$": "$.validation.width",
                    "height.$": "$.validation.height",
                },
                "renditions.$": "$.renditions",
            },
            ResultPath="$.report",
            next_state="NotifySuccess",
        ),
        "NotifySuccess": asl.task(
            asl.integration("sns", "publish"),
            parameters={
                "TopicArn": success_topic_arn,
                "Message.$": "States.JsonToString($.report)",
                "MessageAttributes": {
                    "bucket": _attribute("$.source.bucket"),
                    "key": _attribute("$.validation.key"),
                },
            },
            result_path=None,
            timeout_s=PUBLISH_TIMEOUT_S,
            retry=[SNS_RETRY],
            catch=to_failure,
            next_state="Done",
        ),
        "Done": asl.succeed(),
        "NotifyFailure": asl.task(
            asl.integration("sns", "publish"),
            parameters={
                "TopicArn": error_topic_arn,
                "Message.$": (
                    "States.Format('s3://{}/{} was not processed. {}: {}', "
                    "$.source.bucket, $.source.key, $.error.Error, $.error.Cause)"
                ),
                "MessageAttributes": {
                    "bucket": _attribute("$.source.bucket"),
                    "key": _attribute("$.source.key"),
                    "error": _attribute("$.error.Error"),
                },
            },
            result_path=None,
            timeout_s=PUBLISH_TIMEOUT_S,
            retry=[SNS_RETRY],
            catch=[asl.catch("Failed", result_path="$.notifyError")],
            next_state="Failed",
        ),
        "Failed": asl.fail(
            NOT_PROCESSED, "The image was rejected or a step failed; see the error topic"
        ),
    }
    return asl.machine(
        "Locate",
        states,
        comment="S3 upload -> validate -> resize to each target -> notify",
        timeout_s=args.execution_timeout_s,
    )


class ImagePipeline(Pattern):
    """Input bucket -> EventBridge rule -> state machine (validate, resize Map, notify)."""

    slug: ClassVar[str] = "image-pipeline"
    type_token: ClassVar[str] = "serverless-patterns:patterns:ImagePipeline"

    def __init__(
        self,
        name: str,
        args: ImagePipelineArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or ImagePipelineArgs()
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "image_pipeline", architecture=settings.architecture, runtime=settings.runtime
        )

        # Buckets: renditions go to a bucket (or a prefix) that uploads never start from.
        self.input: PrivateBucket | None = None
        if args.input_bucket is not None:
            self.input_bucket = args.input_bucket
        else:
            self.input = self._bucket("input", args)
            self.input_bucket = self.input.bucket
        self.output: PrivateBucket | None = None
        if args.same_bucket:
            self.output_bucket = self.input_bucket
        elif isinstance(args.output_bucket, aws.s3.Bucket):
            self.output_bucket = args.output_bucket
            pulumi.Output.all(self.input_bucket.bucket, self.output_bucket.bucket).apply(
                lambda names: _refuse_overlap(names[0], names[1], args)
            )
        else:
            self.output = self._bucket("output", args)
            self.output_bucket = self.output.bucket
        self.notification: aws.s3.BucketNotification | None = None
        if args.enable_bucket_notifications:
            self.notification = aws.s3.BucketNotification(
                scope.child("input-notification"),
                bucket=self.input_bucket.id,
                eventbridge=True,
                opts=scope.opts(),
            )

        # Topics: the machine publishes to them with its own role.
        self.success_topic = args.success_topic or TracedTopic(scope, "success").topic
        self.error_topic = args.error_topic or TracedTopic(scope, "error").topic

        self.validate, self.resize = self._functions(args, package)
        self.definition = pipeline_definition(
            args,
            validate_arn=self.validate.arn,
            resize_arn=self.resize.arn,
            success_topic_arn=self.success_topic.arn,
            error_topic_arn=self.error_topic.arn,
        )
        self.state_machine = StateMachine(
            scope, "workflow", self.definition, workflow_type=args.workflow_type
        )

        # Uploads -> the default bus -> this rule -> a new execution (retried, then a DLQ).
        pattern = self.input_bucket.bucket.apply(
            lambda bucket: json.dumps(
                upload_pattern(bucket, args.input_prefix, args.suffixes), sort_keys=True
            )
        )
        self.route = EventRoute(
            scope,
            "uploads",
            bus_name="default",
            pattern=pattern,
            description=f"{name}: uploads under {args.input_prefix or '/'} start the workflow",
        )
        self.start_role, start_policy = iam.service_role(
            scope,
            "uploads-start",
            "events.amazonaws.com",
            [iam.Statement(["states:StartExecution"], [self.state_machine.arn])],
            source_arn=self.route.rule.arn,
        )
        self.target = self.route.target(
            self.state_machine.arn,
            role_arn=self.start_role.arn,
            depends_on=[r for r in (start_policy,) if r is not None],
        )

        self.input_bucket_name = self.input_bucket.bucket
        self.output_bucket_name = self.output_bucket.bucket
        self.state_machine_arn = self.state_machine.arn
        self.success_topic_arn = self.success_topic.arn
        self.error_topic_arn = self.error_topic.arn
        self.register_outputs(
            {
                "input_bucket": self.input_bucket_name,
                "output_bucket": self.output_bucket_name,
                "state_machine_arn": self.state_machine_arn,
                "success_topic_arn": self.success_topic_arn,
                "error_topic_arn": self.error_topic_arn,
            }
        )

    def _bucket(self, suffix: str, args: ImagePipelineArgs) -> PrivateBucket:
        return PrivateBucket(self.scope, suffix, kms_key_arn=args.kms_key_arn)

    def _functions(
        self, args: ImagePipelineArgs, package: packaging.Package
    ) -> tuple[LambdaFunction, LambdaFunction]:
        scope = self.scope
        read = iam.Statement(
            ["s3:GetObject"],
            [self.input_bucket.arn.apply(lambda arn: f"{arn}/{args.input_prefix}*")],
        )
        write = iam.Statement(
            ["s3:PutObject"],
            [self.output_bucket.arn.apply(lambda arn: f"{arn}/{args.output_prefix}*")],
        )
        keys: dict[str, list[iam.Statement]] = {"validate": [], "resize": []}
        if args.kms_key_arn is not None:
            keys["validate"] = [iam.Statement(["kms:Decrypt"], [args.kms_key_arn])]
            keys["resize"] = [
                iam.Statement(["kms:Decrypt", "kms:GenerateDataKey"], [args.kms_key_arn])
            ]
        environment: dict[str, pulumi.Input[str]] = {
            "INPUT_PREFIX": args.input_prefix,
            "ALLOWED_SUFFIXES": ",".join(args.suffixes),
            "MAX_BYTES": str(args.max_bytes),
            "MAX_PIXELS": str(args.max_pixels),
        }
        validate = LambdaFunction(
            scope,
            "validate",
            dataclasses.replace(
                args.function_spec("validate", "Checks each upload is an image it may resize"),
                environment=environment,
            ),
            package=package,
            statements=[read, *keys["validate"]],
            service=self.slug,
        )
        resize = LambdaFunction(
            scope,
            "resize",
            dataclasses.replace(
                args.function_spec("resize", "Writes one rendition of an image"),
                environment={
                    **environment,
                    "OUTPUT_BUCKET": self.output_bucket.bucket,
                    "OUTPUT_PREFIX": args.output_prefix,
                },
            ),
            package=package,
            statements=[read, write, *keys["resize"]],
            service=self.slug,
        )
        return validate, resize


def _refuse_overlap(input_name: str, output_name: str, args: ImagePipelineArgs) -> None:
    """Two bucket resources may still name one bucket: then the prefixes must be disjoint."""
    if input_name == output_name and prefixes_overlap(args.input_prefix, args.output_prefix):
        raise ValueError(
            f"output_bucket is the input bucket {input_name} and output_prefix "
            f"{args.output_prefix!r} overlaps input_prefix {args.input_prefix!r}: every "
            "rendition would start the workflow again"
        )
