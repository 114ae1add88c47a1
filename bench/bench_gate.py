"""The policy gate on synthetic stacks of ~100, 1,000 and 10,000 resources, beside cfn-lint
with cfn-lint-serverless linting an equivalent CloudFormation template in the same run."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from preview import engine, gate

SIZES = (100, 1_000, 10_000)
CFN_SIZES = (100, 1_000)  # cfn-lint takes minutes beyond this; its ratio target is at 1,000
UNIT_STACK = "scalable-webhook"
CFN_TYPES = {
    "aws:lambda/function:Function": "AWS::Lambda::Function",
    "aws:sqs/queue:Queue": "AWS::SQS::Queue",
    "aws:dynamodb/table:Table": "AWS::DynamoDB::Table",
    "aws:cloudwatch/logGroup:LogGroup": "AWS::Logs::LogGroup",
    "aws:iam/role:Role": "AWS::IAM::Role",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "AWS::Lambda::EventSourceMapping",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "AWS::CloudWatch::Alarm",
    "aws:apigateway/restApi:RestApi": "AWS::ApiGateway::RestApi",
    "aws:sns/topic:Topic": "AWS::SNS::Topic",
}


def synthetic(size: int) -> engine.Plan:
    """Copies of the scalable-webhook stack, renamed, until there are `size` resources."""
    unit = engine.run_main(UNIT_STACK)
    text = json.dumps([r.__dict__ for r in unit.registrations], default=str)
    registrations: list[engine.Registration] = []
    copy = 0
    while len(registrations) < size:
        renamed = json.loads(text.replace("scalable-webhook", f"hook{copy}"))
        registrations += [engine.Registration(**r) for r in renamed]
        copy += 1
    return engine.Plan(unit.project, "bench", registrations[:size], {}, unit.stack_urn)


def _cfn_properties(registration: engine.Registration) -> dict[str, Any]:
    i = registration.inputs
    kind = registration.type
    if kind == "aws:lambda/function:Function":
        return {
            "Role": i["role"],
            "Runtime": i["runtime"],
            "Handler": i["handler"],
            "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
            "MemorySize": int(i["memorySize"]),
            "Timeout": int(i["timeout"]),
            "Architectures": i["architectures"],
            "TracingConfig": {"Mode": i["tracingConfig"]["mode"]},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": i["loggingConfig"]["logGroup"]},
        }
    if kind == "aws:sqs/queue:Queue":
        return {"QueueName": i["name"], "SqsManagedSseEnabled": True}
    if kind == "aws:dynamodb/table:Table":
        return {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        }
    if kind == "aws:cloudwatch/logGroup:LogGroup":
        return {"LogGroupName": i["name"], "RetentionInDays": int(i["retentionInDays"])}
    if kind == "aws:iam/role:Role":
        return {"AssumeRolePolicyDocument": json.loads(i["assumeRolePolicy"])}
    if kind == "aws:lambda/eventSourceMapping:EventSourceMapping":
        return {"EventSourceArn": i["eventSourceArn"], "FunctionName": i["functionName"]}
    if kind == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return {
            "ComparisonOperator": i["comparisonOperator"],
            "EvaluationPeriods": int(i["evaluationPeriods"]),
            "MetricName": i["metricName"],
            "Namespace": i["namespace"],
            "Period": int(i["period"]),
            "Statistic": i["statistic"],
            "Threshold": i["threshold"],
        }
    if kind == "aws:apigateway/restApi:RestApi":
        return {"Name": i["name"]}
    return {}


def template(plan: engine.Plan) -> dict[str, Any]:
    """The same resources as a CloudFormation template (others as placeholder handles)."""
    resources = {}
    for index, registration in enumerate(r for r in plan.registrations if r.custom):
        cfn = CFN_TYPES.get(registration.type, "AWS::CloudFormation::WaitConditionHandle")
        body: dict[str, Any] = {"Type": cfn}
        properties = _cfn_properties(registration) if cfn in CFN_TYPES.values() else {}
        if properties:
            body["Properties"] = properties
        resources[f"R{index}"] = body
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def cfn_lint_seconds(plan: engine.Plan) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "template.yaml"
        path.write_text(yaml.safe_dump(template(plan), sort_keys=False))
        cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
        command = [
            cfn_lint, str(path), "-a", "cfn_lint_serverless.rules", "--ignore-checks", "E3001",
        ]  # fmt: skip
        start = time.perf_counter()
        linted = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if linted.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):  # cfn-lint's finding codes
            raise RuntimeError(f"cfn-lint failed: {linted.stderr[-500:]}")
        return seconds


def run() -> list[str]:
    lines = []
    start = time.perf_counter()
    with gate.policy_pack() as stub:
        startup = time.perf_counter() - start
        lines.append(f"  pack start-up (once per preview)                 {startup * 1000:8.0f} ms")
        previous: tuple[int, float] | None = None
        for size in SIZES:
            plan = synthetic(size)
            began = time.perf_counter()
            report = gate.run(plan, profile=gate.profile_for("prod"), stub=stub)
            seconds = time.perf_counter() - began
            growth = ""
            if previous:
                growth = f"   time x{seconds / previous[1]:.1f} for size x{size / previous[0]:.0f}"
            lines.append(
                f"  gate {size:>6} resources {seconds:8.2f} s {size / seconds:9.0f} resources/s"
                f"   {len(report.findings)} findings{growth}"
            )
            previous = (size, seconds)
            if size in CFN_SIZES:
                anchor = cfn_lint_seconds(plan)
                total = seconds + startup
                lines.append(
                    f"  cfn-lint + serverless rules {size:>6} {anchor:8.2f} s   gate (with "
                    f"start-up) is {anchor / total:5.1f}x faster ({anchor / seconds:5.1f}x without)"
                )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
