"""REST API stage defaults: X-Ray, JSON access logs with retention, throttling, no data trace.

API Gateway writes access logs through its account-level CloudWatch role, set once per
Region: `ApiGatewayAccount` is that small separate component (`__main__` makes it when the
stack sets `apiGatewayAccount: true`), never something each pattern does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import aws_context, defaults, iam
from .function import LambdaFunction
from .scope import Scope

_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # API Gateway's limit for stage names


def check_stage_name(name: str, argument: str = "stage_name") -> None:
    """An API Gateway stage name (REST, HTTP and WebSocket alike), checked where the args are."""
    if not _STAGE_NAME.match(name):
        raise ValueError(f"{argument} must be 1-128 letters, digits, '-' or '_' (got {name!r})")


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    stage_name: str = "v1"
    throttle_rate: float = defaults.API_THROTTLE_RATE
    throttle_burst: int = defaults.API_THROTTLE_BURST
    execution_log_level: str = "ERROR"

    def __post_init__(self) -> None:
        if self.execution_log_level not in ("OFF", "ERROR", "INFO"):
            raise ValueError(
                "execution_log_level must be one of OFF, ERROR, INFO "
                f"(got {self.execution_log_level!r})"
            )
        if not self.stage_name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"stage_name must be alphanumeric, '-' or '_' ({self.stage_name!r})")
        if self.throttle_rate <= 0:
            raise ValueError(f"throttle_rate must be positive (got {self.throttle_rate})")
        if self.throttle_burst < 1:
            raise ValueError(f"throttle_burst must be at least 1 (got {self.throttle_burst})")


def regional_rest_api(scope: Scope, description: str) -> aws.apigateway.RestApi:
    """The pattern's REST API (`<component>-api`), regional."""
    return aws.apigateway.RestApi(
        scope.child("api"),
        name=scope.physical("api"),
        description=description,
        endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
        tags=scope.tags,
        opts=scope.opts(),
    )


def lambda_proxy(
    scope: Scope,
    api: aws.apigateway.RestApi,
    resource: aws.apigateway.Resource | pulumi.Output[str],
    method: aws.apigateway.Method,
    function: LambdaFunction | aws.lambda_.Function,
    suffix: str,
    route: str,
) -> list[pulumi.Resource]:
    """An AWS_PROXY integration of `method` (on `resource`, or the id of the API's root
    resource) to `function` (one of ours or an existing one), and the permission that lets
    this API invoke it on `route` only (e.g. `POST/trips`). Returns both, for the
    deployment to follow."""
    target = function.function if isinstance(function, LambdaFunction) else function
    permission = aws.lambda_.Permission(
        scope.child(f"{suffix}-invoke"),
        action="lambda:InvokeFunction",
        function=target.name,
        principal="apigateway.amazonaws.com",
        source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/{route}"),
        opts=scope.opts(),
    )
    integration = aws.apigateway.Integration(
        scope.child(f"{suffix}-integration"),
        rest_api=api.id,
        resource_id=resource.id if isinstance(resource, aws.apigateway.Resource) else resource,
        http_method=method.http_method,
        type="AWS_PROXY",
        integration_http_method="POST",
        uri=target.invoke_arn,
        opts=scope.opts(),
    )
    return [integration, permission]


class RestStage:
    """Deployment + stage + method settings + access log group for one REST API."""

    def __init__(
        self,
        scope: Scope,
        api: aws.apigateway.RestApi,
        spec: StageSpec,
        *,
        routes: Sequence[pulumi.Resource],
        fingerprint: str,
        variables: Mapping[str, str] | None = None,
        waf_acl_arn: pulumi.Input[str] | None = None,
    ) -> None:
        """`routes` are the methods and integrations the deployment must follow;
        `fingerprint` changes whenever they do, so a new deployment is cut. `variables` are
        the stage's variables (a REQUEST authorizer can name one as its identity source).
        `waf_acl_arn`: a regional WAFv2 web ACL the stage is associated with (`<name>-waf`)."""
        # API Gateway writes execution logs to a group it would create without expiry; owning
        # the group sets its retention.
        self.execution_log_group = aws.cloudwatch.LogGroup(
            scope.child("execution-logs"),
            name=api.id.apply(
                lambda api_id: f"API-Gateway-Execution-Logs_{api_id}/{spec.stage_name}"
            ),
            retention_in_days=scope.settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            scope.child("access-logs"),
            name=f"/aws/apigateway/{scope.physical('api')}/{spec.stage_name}",
            retention_in_days=scope.settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.deployment = aws.apigateway.Deployment(
            scope.child("deployment"),
            rest_api=api.id,
            triggers={"redeployment": hashlib.sha256(fingerprint.encode()).hexdigest()},
            opts=pulumi.ResourceOptions(parent=scope.component, depends_on=list(routes)),
        )
        self.stage = aws.apigateway.Stage(
            scope.child("stage"),
            rest_api=api.id,
            deployment=self.deployment.id,
            stage_name=spec.stage_name,
            variables=dict(variables) if variables else None,
            xray_tracing_enabled=True,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=self.log_group.arn,
                format=json.dumps(defaults.ACCESS_LOG_FORMAT, separators=(",", ":")),
            ),
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.method_settings = aws.apigateway.MethodSettings(
            scope.child("throttling"),
            rest_api=api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=spec.throttle_rate,
                throttling_burst_limit=spec.throttle_burst,
                metrics_enabled=True,
                logging_level=spec.execution_log_level,
                data_trace_enabled=False,
            ),
            opts=scope.opts(depends_on=[self.execution_log_group]),
        )
        self.invoke_url = self.stage.invoke_url
        self.waf_association: aws.wafv2.WebAclAssociation | None = None
        if waf_acl_arn is not None:
            self.waf_association = aws.wafv2.WebAclAssociation(
                scope.child("waf"),
                resource_arn=self.stage.arn,
                web_acl_arn=waf_acl_arn,
                opts=scope.opts(),
            )


def api_gateway_logs_write(log_groups_arn: pulumi.Input[str]) -> list[iam.Statement]:
    """What API Gateway needs to write execution and access logs in one account and Region:
    the write half of AmazonAPIGatewayPushToCloudWatchLogs. The managed policy also grants
    logs:GetLogEvents and logs:FilterLogEvents on "*", read access to every log group in the
    account, which writing never needs (IAM-011)."""
    groups = pulumi.Output.from_input(log_groups_arn)
    return [
        iam.Statement(["logs:CreateLogGroup", "logs:DescribeLogStreams"], [groups]),
        iam.Statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [groups.apply(lambda arn: f"{arn}:log-stream:*")],
        ),
        iam.Statement(["logs:DescribeLogGroups"], ["*"]),
    ]


class ApiGatewayAccount(pulumi.ComponentResource):
    """API Gateway's account-level CloudWatch role for this Region (one per account+Region),
    with a policy of its own that only writes logs."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("serverless-patterns:core:ApiGatewayAccount", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=iam.assume_role_policy("apigateway.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        log_groups = pulumi.Output.all(
            aws_context.partition(self), aws_context.region(self), aws_context.account_id(self)
        ).apply(lambda p: f"arn:{p[0]}:logs:{p[1]}:{p[2]}:log-group:*")
        self.policy = aws.iam.RolePolicy(
            f"{name}-logs-write",
            role=self.role.id,
            policy=iam.policy_document(api_gateway_logs_write(log_groups)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.register_outputs({"role_arn": self.role.arn})
