"""AppSync rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import case
from serverless_wa.rules.apigw import present, shown

GRAPHQL_API = "aws:appsync/graphQLApi:GraphQLApi"
LOGS_ROLE = "arn:aws:iam::123456789012:role/appsync-logs"


def _xray(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    enabled = node.get("xrayEnabled")
    if enabled is UNKNOWN or enabled is True:
        return
    yield Finding(f"X-Ray tracing is {'unset (false)' if enabled is ABSENT else shown(enabled)}")


register(
    Rule(
        id="APPSYNC-001",
        name="appsync-xray",
        title="AppSync GraphQL APIs trace with X-Ray",
        description="xrayEnabled must be true; absent or false fails.",
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(GRAPHQL_API,),
        reads={GRAPHQL_API: ("xrayEnabled",)},
        anchors=anchors(serverless_rules="WS3000", cdk_nag="Serverless-AppSyncTracing"),
        knob="",
        raw="xray_enabled=True",
        check=_xray,
        examples=Examples(
            compliant=(case(GRAPHQL_API, {"xrayEnabled": True}),),
            non_compliant=(
                case(GRAPHQL_API, {"xrayEnabled": False}),
                case(GRAPHQL_API, {}),
            ),
        ),
    )
)


def _logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    level = node.get("logConfig.fieldLogLevel")
    role = node.get("logConfig.cloudwatchLogsRoleArn")
    if level is ABSENT and role is ABSENT:
        yield Finding("logging is off (no logConfig)")
        return
    if level is not UNKNOWN and (level is ABSENT or level == "NONE"):
        yield Finding(f"field log level is {'unset' if level is ABSENT else shown(level)}")
    if not present(role):
        yield Finding("logConfig has no cloudwatchLogsRoleArn, so AppSync cannot write logs")


register(
    Rule(
        id="APPSYNC-002",
        name="appsync-logging",
        title="AppSync GraphQL APIs log to CloudWatch",
        description=(
            "logConfig is present with fieldLogLevel other than NONE and cloudwatchLogsRoleArn "
            "set. AppSync writes to /aws/appsync/apis/<apiId> (STACK-014 wants it managed)."
        ),
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(GRAPHQL_API,),
        reads={GRAPHQL_API: ("logConfig.fieldLogLevel", "logConfig.cloudwatchLogsRoleArn")},
        anchors=anchors(cdk_nag="AwsSolutions-ASC3", checkov="CKV_AWS_193, CKV_AWS_194"),
        knob="",
        raw="log_config(field_log_level='ERROR', cloudwatch_logs_role_arn=...)",
        check=_logging,
        examples=Examples(
            compliant=(
                case(
                    GRAPHQL_API,
                    {"logConfig": {"fieldLogLevel": "ERROR", "cloudwatchLogsRoleArn": LOGS_ROLE}},
                ),
            ),
            non_compliant=(
                case(GRAPHQL_API, {}),
                case(
                    GRAPHQL_API,
                    {"logConfig": {"fieldLogLevel": "NONE", "cloudwatchLogsRoleArn": LOGS_ROLE}},
                ),
                case(GRAPHQL_API, {"logConfig": {"fieldLogLevel": "ALL"}}),
            ),
        ),
    )
)
