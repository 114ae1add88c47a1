"""`dynamo-streamer`: API Gateway -> DynamoDB by direct integration -> stream -> Lambda.

No function sits in the request path: `POST /items` is validated against a JSON schema by
API Gateway (a bad body is a 400 before anything runs) and written by an `AWS` integration
calling DynamoDB's `PutItem` with a role that may do nothing else. The table's stream
(NEW_IMAGE) feeds the `subscriber` through a mapping that passes only INSERT records and
fails records one at a time (bisect, bounded retries, maximum age, on-failure queue,
batch item failures).

The request template never pastes the caller's text into JSON: `$input.json('$.<key>')`
is API Gateway's own JSON serialisation of the validated string, quotes and escapes
included, so quotes, backslashes, control characters and any Unicode stay one string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pulumi
import pulumi_aws as aws

from .core import aws_context, defaults, iam, packaging, streams
from .core.api import RestStage, StageSpec, regional_rest_api
from .core.function import FunctionSpec, LambdaFunction
from .core.pattern import Pattern, PatternArgs, Safeguard
from .core.settings import REGIONAL_WEB_ACL
from .core.streams import FailureQueue, StreamConsumer, StreamConsumerSpec
from .core.table import TABLE_DEFAULTS, TableSpec, create_table

__all__ = ["DynamoStreamer", "DynamoStreamerArgs"]

# A name that is safe as a DynamoDB attribute, a JSONPath step and inside the template.
_KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
REQUEST_ID_ATTRIBUTE = "requestId"
# DynamoDB's partition key limit is 2048 bytes; JSON schema counts characters, and one
# character is at most 4 bytes of UTF-8, so 512 characters always fit.
MAX_KEY_CHARACTERS = 512
STORED_TEMPLATE = '{"stored": true, "requestId": "$context.requestId"}'
NOT_STORED_TEMPLATE = (
    '{"stored": false, "message": "item not stored; retry later", '
    '"requestId": "$context.requestId"}'
)
# DynamoDB answers 400 for throttling as well as for errors of ours; the body has been
# validated before it reaches the integration, so neither is the caller's fault.
BACKEND_ERROR_PATTERN = r"[45]\d{2}"


@dataclass(frozen=True, kw_only=True)
class DynamoStreamerArgs(PatternArgs):
    """Arguments of `DynamoStreamer`.

    key_name: the body's one property and the table's partition key (S): `POST /items` takes
      `{"<key_name>": "<text>"}` (letters, digits, '_'; not `requestId`).
    max_message_length: the longest text accepted, in characters (1-512: the key must fit
      DynamoDB's 2048-byte key limit however many bytes each character takes).
    starting_position: where the subscriber starts reading the stream (LATEST or
      TRIM_HORIZON).
    authorization: `AWS_IAM` (SigV4-signed callers with `execute-api:Invoke`) or `NONE`
      (public: the policy pack then reports the method until the stack exempts it).
    stage_name: the REST stage's name (the URL's first path segment).
    throttle_rate: the stage's steady-state request rate limit (requests per second).
    throttle_burst: the stage's burst limit (requests).
    batch_size: stream records per subscriber invocation.
    batching_window_s: seconds the mapping waits to fill a batch.
    max_retries: retries of a failing batch (halved by bisection) before its records go to
      the failure queue.
    max_record_age_s: records older than this go to the failure queue unprocessed.
    subscriber_memory_size: the subscriber's memory in MB.
    subscriber_timeout_s: the subscriber's timeout in seconds.
    waf_acl_arn: a regional WAFv2 web ACL for the stage; None associates none.
    table: an existing table with partition key `key_name` (S) and a NEW_IMAGE (or
      NEW_AND_OLD_IMAGES) stream; None makes a new one (on-demand, point-in-time recovery,
      encrypted). The subscriber is one of its two stream readers.
    """

    safeguards: ClassVar[tuple[Safeguard, ...]] = (
        Safeguard(
            "table",
            TABLE_DEFAULTS,
            "They are the table owner's to set; it also needs a NEW_IMAGE stream.",
        ),
        Safeguard(
            "authorization",
            ("IAM authorization on POST /items",),
            "Anyone can write: exempt APIGW-008 for the method in the stack's policy config, "
            "and keep the throttle low.",
            off="NONE",
        ),
    )

    key_name: str = "message"
    max_message_length: int = MAX_KEY_CHARACTERS
    starting_position: Literal["LATEST", "TRIM_HORIZON"] = "LATEST"
    authorization: Literal["AWS_IAM", "NONE"] = "AWS_IAM"
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    batch_size: int = 100
    batching_window_s: int = 1
    max_retries: int = 3
    max_record_age_s: int = 3600
    subscriber_memory_size: int = 256
    subscriber_timeout_s: int = 30
    waf_acl_arn: str | None = None
    table: aws.dynamodb.Table | None = None

    def __post_init__(self) -> None:
        if not _KEY_NAME.match(self.key_name) or self.key_name == REQUEST_ID_ATTRIBUTE:
            raise ValueError(
                "key_name must be 1-64 letters, digits or '_', not starting with a digit, and "
                f"not {REQUEST_ID_ATTRIBUTE!r} (got {self.key_name!r})"
            )
        if not 1 <= self.max_message_length <= MAX_KEY_CHARACTERS:
            raise ValueError(
                f"max_message_length must be between 1 and {MAX_KEY_CHARACTERS} "
                f"(got {self.max_message_length})"
            )
        if self.authorization not in ("AWS_IAM", "NONE"):
            raise ValueError(
                f"authorization must be one of AWS_IAM, NONE (got {self.authorization!r})"
            )
        if self.waf_acl_arn is not None:
            REGIONAL_WEB_ACL.check(self.waf_acl_arn, "waf_acl_arn")
        # The consumer, function and stage specs check the remaining ranges.
        self.consumer_spec()
        self.subscriber_spec()
        self.stage_spec()

    def consumer_spec(self) -> StreamConsumerSpec:
        return StreamConsumerSpec(
            starting_position=self.starting_position,
            batch_size=self.batch_size,
            batching_window_s=self.batching_window_s,
            max_retries=self.max_retries,
            max_record_age_s=self.max_record_age_s,
            event_names=("INSERT",),
        )

    def subscriber_spec(self) -> FunctionSpec:
        return FunctionSpec(
            handler="subscriber.handler",
            memory_size=self.subscriber_memory_size,
            timeout_s=self.subscriber_timeout_s,
            environment={"KEY_NAME": self.key_name},
            description="Handles each item the API stored, from the table's stream",
        )

    def stage_spec(self) -> StageSpec:
        return StageSpec(
            stage_name=self.stage_name,
            throttle_rate=self.throttle_rate,
            throttle_burst=self.throttle_burst,
        )


def item_schema(key_name: str, max_length: int) -> dict[str, Any]:
    """The request model: exactly one non-empty string property."""
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "Item",
        "type": "object",
        "required": [key_name],
        "properties": {key_name: {"type": "string", "minLength": 1, "maxLength": max_length}},
        "additionalProperties": False,
    }


def put_item_template(table_name: str, key_name: str) -> str:
    """The integration's request template: a PutItem request for the validated body.

    `$input.json('$.<key>')` renders the value as JSON (a quoted, escaped string, since the
    model admits only strings): never `"$input.path(...)"`, which pastes raw text between
    quotes, nor `$util.escapeJavaScript`, which turns `'` into `\\'` (not valid JSON).
    """
    if not _KEY_NAME.match(key_name):
        raise ValueError(f"key_name {key_name!r} is not safe in a template")
    return (
        f'{{"TableName": {json.dumps(table_name)}, "Item": {{'
        f'"{key_name}": {{"S": $input.json(\'$.{key_name}\')}}, '
        f'"{REQUEST_ID_ATTRIBUTE}": {{"S": "$context.requestId"}}}}}}'
    )


def items_table_spec(key_name: str) -> TableSpec:
    return TableSpec(hash_key=(key_name, "S"), stream_view_type="NEW_IMAGE")


class DynamoStreamer(Pattern):
    """REST `POST /items` -> PutItem (direct) -> table stream (INSERT) -> `subscriber`."""

    slug: ClassVar[str] = "dynamo-streamer"
    type_token: ClassVar[str] = "serverless-patterns:patterns:DynamoStreamer"

    def __init__(
        self,
        name: str,
        args: DynamoStreamerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = args or DynamoStreamerArgs()
        if args.table is not None:
            streams.ensure_reader_capacity(args.table, f"{name}/subscriber")
        super().__init__(name, args, opts)
        scope = self.scope
        settings = args.settings
        package = packaging.build(
            "dynamo_streamer",
            shared=("ddb_json.py", "echo.py"),
            architecture=settings.architecture,
            runtime=settings.runtime,
        )

        self.table = args.table or create_table(scope, "items", items_table_spec(args.key_name))

        self.failure_queue = FailureQueue(scope, "subscriber-dlq")
        self.consumer = StreamConsumer(
            scope, "subscriber", self.table, args.consumer_spec(), failure_queue=self.failure_queue
        )
        self.subscriber = LambdaFunction(
            scope,
            "subscriber",
            args.subscriber_spec(),
            package=package,
            statements=self.consumer.statements,
            service=self.slug,
        )
        self.mapping = self.consumer.attach(self.subscriber)

        self._api(args)

        self.url = self.stage.invoke_url.apply(lambda base: f"{base.rstrip('/')}/items")
        self.table_name = self.table.name
        self.dlq_url = self.failure_queue.url
        self.register_outputs(
            {"url": self.url, "table_name": self.table_name, "dlq_url": self.dlq_url}
        )

    def _api(self, args: DynamoStreamerArgs) -> None:
        scope = self.scope
        self.api = regional_rest_api(scope, "POST /items writes straight to DynamoDB")
        self.items_resource = aws.apigateway.Resource(
            scope.child("items-resource"),
            rest_api=self.api.id,
            parent_id=self.api.root_resource_id,
            path_part="items",
            opts=scope.opts(),
        )
        self.model = aws.apigateway.Model(
            scope.child("item-model"),
            rest_api=self.api.id,
            name="Item",
            description=f'{{"{args.key_name}": "<text>"}}',
            content_type="application/json",
            schema=json.dumps(item_schema(args.key_name, args.max_message_length)),
            opts=scope.opts(),
        )
        self.validator = aws.apigateway.RequestValidator(
            scope.child("validator"),
            rest_api=self.api.id,
            name=scope.physical("validator"),
            validate_request_body=True,
            validate_request_parameters=False,
            opts=scope.opts(),
        )
        self.method = aws.apigateway.Method(
            scope.child("post-items"),
            rest_api=self.api.id,
            resource_id=self.items_resource.id,
            http_method="POST",
            authorization=args.authorization,
            request_validator_id=self.validator.id,
            request_models={"application/json": self.model.name},
            opts=scope.opts(),
        )
        self.api_role, api_policy = iam.service_role(
            scope,
            "api",
            "apigateway.amazonaws.com",
            [iam.dynamodb_put(self.table.arn)],
        )
        uri = pulumi.Output.all(aws_context.partition(self), aws_context.region(self)).apply(
            lambda v: f"arn:{v[0]}:apigateway:{v[1]}:dynamodb:action/PutItem"
        )
        self.integration = aws.apigateway.Integration(
            scope.child("put-item"),
            rest_api=self.api.id,
            resource_id=self.items_resource.id,
            http_method=self.method.http_method,
            type="AWS",
            integration_http_method="POST",
            uri=uri,
            credentials=self.api_role.arn,
            # Only the JSON template runs; any other content type is a 415, never passed on.
            passthrough_behavior="NEVER",
            request_templates={
                "application/json": self.table.name.apply(
                    lambda table: put_item_template(table, args.key_name)
                )
            },
            opts=scope.opts(depends_on=[p for p in [api_policy] if p is not None]),
        )
        responses: list[pulumi.Resource] = []
        for status, pattern, template in (
            ("200", None, STORED_TEMPLATE),
            ("503", BACKEND_ERROR_PATTERN, NOT_STORED_TEMPLATE),
        ):
            method_response = aws.apigateway.MethodResponse(
                scope.child(f"post-{status}"),
                rest_api=self.api.id,
                resource_id=self.items_resource.id,
                http_method=self.method.http_method,
                status_code=status,
                opts=scope.opts(),
            )
            integration_response = aws.apigateway.IntegrationResponse(
                scope.child(f"put-item-{status}"),
                rest_api=self.api.id,
                resource_id=self.items_resource.id,
                http_method=self.method.http_method,
                status_code=method_response.status_code,
                selection_pattern=pattern,
                response_templates={"application/json": template},
                opts=scope.opts(depends_on=[self.integration]),
            )
            responses += [method_response, integration_response]
        self.stage = RestStage(
            scope,
            self.api,
            args.stage_spec(),
            routes=[self.method, self.model, self.validator, self.integration, *responses],
            fingerprint=json.dumps(
                {
                    "schema": item_schema(args.key_name, args.max_message_length),
                    "template": put_item_template("-", args.key_name),
                    "authorization": args.authorization,
                    "responses": [BACKEND_ERROR_PATTERN, STORED_TEMPLATE, NOT_STORED_TEMPLATE],
                },
                sort_keys=True,
            ),
            waf_acl_arn=args.waf_acl_arn,
        )
