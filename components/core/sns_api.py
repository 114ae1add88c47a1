"""A REST method that publishes to SNS directly (an `AWS` integration, no function between).

API Gateway calls `sns:Publish` with a role of its own that may publish to one topic only;
the request template builds the form body (`publish_form`). SNS's answer is mapped: 200 with
the message id, 4xx (a request SNS refused) to 400 with the caller's message, anything else
to 502, so no failure is reported as a success by the default response.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

import pulumi
import pulumi_aws as aws

from . import aws_context, iam
from .scope import Scope

PUBLISHED_TEMPLATE = json.dumps(
    {"messageId": "$input.path('$.PublishResponse.PublishResult.MessageId')"}
)


def publish_form(
    topic_arn: str, message: str, string_attributes: Mapping[str, str] | None = None
) -> str:
    """The VTL form body of one Publish call, on one line (a line break would land in the
    form). `message` and each attribute value are VTL expressions that are already
    URL-encoded (e.g. `$util.urlEncode($input.body)`)."""
    parts = [f"Action=Publish&TopicArn={quote(topic_arn, safe='')}&Message={message}"]
    for index, (name, value) in enumerate((string_attributes or {}).items(), start=1):
        entry = f"MessageAttributes.entry.{index}"
        parts.append(
            f"{entry}.Name={quote(name, safe='')}&{entry}.Value.DataType=String"
            f"&{entry}.Value.StringValue={value}"
        )
    return "&".join(parts)


class SnsPublishIntegration:
    """`method` on `resource` publishes to `topic_arn` through `request_template`."""

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        *,
        api: aws.apigateway.RestApi,
        resource: aws.apigateway.Resource,
        method: aws.apigateway.Method,
        topic_arn: pulumi.Input[str],
        request_template: pulumi.Input[str],
        refused_message: str,
    ) -> None:
        """refused_message: the 400 body's `message` when SNS refuses the request."""
        self.role, self.policy = iam.service_role(
            scope,
            f"{suffix}-api",
            "apigateway.amazonaws.com",
            [iam.Statement(["sns:Publish"], [topic_arn])],
        )
        uri = pulumi.Output.all(
            aws_context.partition(scope.component), aws_context.region(scope.component)
        ).apply(lambda v: f"arn:{v[0]}:apigateway:{v[1]}:sns:path//")
        self.integration = aws.apigateway.Integration(
            scope.child(f"{suffix}-integration"),
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS",
            integration_http_method="POST",
            uri=uri,
            credentials=self.role.arn,
            passthrough_behavior="NEVER",
            request_parameters={
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            request_templates={"application/json": request_template},
            opts=scope.opts(depends_on=[p for p in [self.policy] if p is not None]),
        )
        self.routes: list[pulumi.Resource] = [self.integration]
        answers = (
            ("200", None, PUBLISHED_TEMPLATE),
            ("400", r"4\d{2}", json.dumps({"message": refused_message})),
            ("502", r"5\d{2}", json.dumps({"message": "SNS could not take the message"})),
        )
        for status, pattern, template in answers:
            response = aws.apigateway.MethodResponse(
                scope.child(f"{suffix}-{status}"),
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=status,
                opts=scope.opts(),
            )
            mapped = aws.apigateway.IntegrationResponse(
                scope.child(f"{suffix}-sns-{status}"),
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=response.status_code,
                selection_pattern=pattern,
                response_templates={"application/json": template},
                opts=scope.opts(depends_on=[self.integration]),
            )
            self.routes += [response, mapped]
