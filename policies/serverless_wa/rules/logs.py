"""CloudWatch Logs rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import ABSENT, UNKNOWN
from serverless_wa.registry import Case, Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import LOG_GROUP, arn, case, number, unset


def _group(**props: Any) -> Case:
    return case(LOG_GROUP, {"name": "/aws/lambda/worker", **props})


# LOGS-001 -----------------------------------------------------------------------------------


def _retention(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    value = node.get("retentionInDays")
    if value is UNKNOWN:
        return
    days = number(value)
    if value is ABSENT or days == 0:
        yield Finding("retention is 0 (never expires)")
        return
    if days is None:
        return
    shown = int(days) if float(days).is_integer() else days
    minimum, maximum = number(config.get("min_days")) or 0, number(config.get("max_days")) or 0
    if minimum and days < minimum:
        yield Finding(f"retention of {shown} days is below the configured minimum")
    if maximum and days > maximum:
        yield Finding(f"retention of {shown} days is above the configured maximum")


register(
    Rule(
        id="LOGS-001",
        name="log-group-retention",
        title="Log groups expire their events",
        description=(
            "retentionInDays absent or 0 (never expire) is a finding. Optional min_days and "
            "max_days bound the value (0 means no bound; min_days 365 matches CKV_AWS_338)."
        ),
        severity="MEDIUM",
        pillar="COST",
        scope="resource",
        types=(LOG_GROUP,),
        reads={LOG_GROUP: ("retentionInDays",)},
        anchors=anchors(
            cdk_nag="Serverless-CloudWatchLogGroupRetentionPeriod",
            checkov="CKV_AWS_66 (CKV_AWS_338 with min_days 365)",
        ),
        knob="log_retention_days",
        raw="retention_in_days",
        remediation=(
            "Raw: aws.cloudwatch.LogGroup(..., retention_in_days=30). "
            "Component: stack config `logRetentionDays` (Settings.log_retention_days)."
        ),
        check=_retention,
        config={
            "min_days": {"type": "integer", "default": 0, "description": "0: no minimum"},
            "max_days": {"type": "integer", "default": 0, "description": "0: no maximum"},
        },
        examples=Examples(
            compliant=(
                _group(retentionInDays=30),
                case(LOG_GROUP, {"retentionInDays": 400}, config={"min_days": 365}),
            ),
            non_compliant=(
                _group(),
                _group(retentionInDays=0),
                case(LOG_GROUP, {"retentionInDays": 30}, config={"min_days": 365}),
                case(LOG_GROUP, {"retentionInDays": 3653}, config={"max_days": 365}),
            ),
        ),
    )
)


# LOGS-002 -----------------------------------------------------------------------------------


def _kms(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if unset(node.get("kmsKeyId")):
        yield Finding("log data is encrypted with the service key, not a customer-managed key")


register(
    Rule(
        id="LOGS-002",
        name="log-group-kms",
        title="Log groups are encrypted with a customer-managed key",
        description=(
            "kmsKeyId absent is a finding. Log data is always encrypted with service keys; "
            "this asks for a customer-managed key, so it is advisory in every profile."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(LOG_GROUP,),
        reads={LOG_GROUP: ("kmsKeyId",)},
        anchors=anchors(cdk_nag="CloudWatchLogGroupEncrypted", checkov="CKV_AWS_158"),
        knob="",
        raw="kms_key_id",
        remediation=(
            "Raw: aws.cloudwatch.LogGroup(..., kms_key_id=key.arn); the key policy must let "
            "logs.<region>.amazonaws.com use it."
        ),
        check=_kms,
        examples=Examples(
            compliant=(_group(kmsKeyId=arn("kms", "key/1234")),),
            non_compliant=(_group(),),
        ),
    )
)
