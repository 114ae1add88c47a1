"""Lambda rules (POLICY-RULES.md 3.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from serverless_wa.graph import Node
from serverless_wa.props import UNKNOWN, known
from serverless_wa.registry import Examples, Finding, Rule, anchors, register
from serverless_wa.rules._common import FUNCTION, case


def _tracing_active(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    mode = node.get("tracingConfig.mode")
    if mode is UNKNOWN or mode == "Active":
        return
    shown = mode if known(mode) else "absent (PassThrough)"
    yield Finding(f"tracing mode is {shown}, not Active")


register(
    Rule(
        id="LAMBDA-001",
        name="lambda-tracing-active",
        title="Lambda functions trace with X-Ray in Active mode",
        description="tracingConfig.mode must be Active; an absent block or PassThrough fails.",
        severity="HIGH",
        pillar="OPS",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("tracingConfig.mode",)},
        anchors=anchors(
            serverless_rules="WS1000",
            cdk_nag="Serverless-LambdaTracing",
            checkov="CKV_AWS_50",
            crp="aws-lambda-function-enable-tracing-config",
        ),
        knob="tracing='Active'",
        raw="tracing_config.mode='Active'",
        check=_tracing_active,
        examples=Examples(
            compliant=(case(FUNCTION, {"tracingConfig": {"mode": "Active"}}),),
            non_compliant=(
                case(FUNCTION, {"tracingConfig": {"mode": "PassThrough"}}),
                case(FUNCTION, {}),
            ),
        ),
    )
)
