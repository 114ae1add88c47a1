"""The gate benchmark's inputs: a synthetic stack as a saved plan and as a CloudFormation template.

`python -m bench.gate_inputs --size N --out DIR` writes `DIR/plan-N.json` (the offline preview's
`--json` format, which `python -m preview --plan FILE` gates) and `DIR/template-N.yaml` (the
same AWS resources for cfn-lint with cfn-lint-serverless).

A copy is one instance each of scalable-webhook, table-archive and saga (about 100 resources:
REST APIs with an SQS and a Lambda integration, a throttled SQS consumer, a stream reader
archiving to S3, a Step Functions saga, their tables, queues, roles, logs and alarms), all
sharing the stack's alarm topic. The stack holds whole copies, as many as bring it nearest
`N` resources, built by the real program under the simulated cloud: every copy has its own
names, ARNs and physical ids.

The template holds the same AWS resources with their properties, converted from the engine's
inputs; a reference is a `Ref` or `Fn::GetAtt` (an `Fn::Sub` where the value is part of a
string) wherever the engine input came from another resource's output. Pulumi resources that
CloudFormation models as properties of another resource are folded into it: API Gateway
integrations, method and integration responses into their `AWS::ApiGateway::Method`, method
settings into the `AWS::ApiGateway::Stage`, S3 bucket configuration resources into the
`AWS::S3::Bucket`, `RedriveAllowPolicy` into the `AWS::SQS::Queue`, role policy attachments
into the role's `ManagedPolicyArns`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preview import engine

STACK = "bench"
REGION = "eu-west-1"
COPY = (("hook", "scalable-webhook"), ("archive", "table-archive"), ("saga", "saga"))


def stack_text(copies: int) -> str:
    """A stack file with `copies` instances of each pattern of a copy."""
    lines = [
        f"# {copies} synthetic copies of {', '.join(slug for _, slug in COPY)}",
        "config:",
        f"  aws:region: {REGION}",
        "  serverless-patterns:patterns:",
    ]
    for index in range(copies):
        lines += [f"    c{index}-{suffix}: {{pattern: {slug}}}" for suffix, slug in COPY]
    return "\n".join(lines) + "\n"


def build(copies: int) -> engine.Plan:
    """The plan of a stack of `copies` copies, run through the real program."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"Pulumi.{STACK}.yaml"
        path.write_text(stack_text(copies))
        return engine.run_main(STACK, path=path)


def copies_for(size: int) -> int:
    """Whole copies whose stack comes nearest `size` resources (the stack's shared resources,
    such as the alarm topic, counted once)."""
    one, two = len(build(1).registrations), len(build(2).registrations)
    per_copy, shared = two - one, 2 * one - two
    return max(1, round((size - shared) / per_copy))


# The CloudFormation side -------------------------------------------------------------------


@dataclass(frozen=True)
class CfnType:
    """A Pulumi type's CloudFormation resource type, and which engine output each of its
    `Ref`/`Fn::GetAtt` values carries (`Ref` for the `Ref`)."""

    name: str
    attributes: dict[str, str]


CFN_TYPES: dict[str, CfnType] = {
    "aws:apigateway/apiKey:ApiKey": CfnType("AWS::ApiGateway::ApiKey", {"id": "Ref"}),
    "aws:apigateway/deployment:Deployment": CfnType("AWS::ApiGateway::Deployment", {"id": "Ref"}),
    "aws:apigateway/method:Method": CfnType("AWS::ApiGateway::Method", {}),
    "aws:apigateway/requestValidator:RequestValidator": CfnType(
        "AWS::ApiGateway::RequestValidator", {"id": "Ref"}
    ),
    "aws:apigateway/resource:Resource": CfnType("AWS::ApiGateway::Resource", {"id": "Ref"}),
    "aws:apigateway/restApi:RestApi": CfnType(
        "AWS::ApiGateway::RestApi", {"id": "Ref", "rootResourceId": "RootResourceId"}
    ),
    "aws:apigateway/stage:Stage": CfnType("AWS::ApiGateway::Stage", {"stageName": "Ref"}),
    "aws:apigateway/usagePlan:UsagePlan": CfnType("AWS::ApiGateway::UsagePlan", {"id": "Ref"}),
    "aws:apigateway/usagePlanKey:UsagePlanKey": CfnType("AWS::ApiGateway::UsagePlanKey", {}),
    "aws:cloudwatch/eventRule:EventRule": CfnType(
        "AWS::Events::Rule", {"name": "Ref", "arn": "Arn"}
    ),
    "aws:cloudwatch/logGroup:LogGroup": CfnType(
        "AWS::Logs::LogGroup", {"name": "Ref", "arn": "Arn"}
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": CfnType(
        "AWS::CloudWatch::Alarm", {"name": "Ref", "arn": "Arn"}
    ),
    "aws:dynamodb/table:Table": CfnType(
        "AWS::DynamoDB::Table", {"name": "Ref", "arn": "Arn", "streamArn": "StreamArn"}
    ),
    "aws:iam/role:Role": CfnType(
        "AWS::IAM::Role", {"name": "Ref", "arn": "Arn", "uniqueId": "RoleId"}
    ),
    "aws:iam/rolePolicy:RolePolicy": CfnType("AWS::IAM::RolePolicy", {}),
    "aws:kms/key:Key": CfnType("AWS::KMS::Key", {"id": "Ref", "arn": "Arn"}),
    "aws:lambda/eventSourceMapping:EventSourceMapping": CfnType(
        "AWS::Lambda::EventSourceMapping", {"id": "Ref"}
    ),
    "aws:lambda/function:Function": CfnType("AWS::Lambda::Function", {"name": "Ref", "arn": "Arn"}),
    "aws:lambda/permission:Permission": CfnType("AWS::Lambda::Permission", {}),
    "aws:s3/bucket:Bucket": CfnType(
        "AWS::S3::Bucket",
        {
            "bucket": "Ref",
            "arn": "Arn",
            "bucketDomainName": "DomainName",
            "bucketRegionalDomainName": "RegionalDomainName",
        },
    ),
    "aws:s3/bucketPolicy:BucketPolicy": CfnType("AWS::S3::BucketPolicy", {}),
    "aws:sfn/stateMachine:StateMachine": CfnType(
        "AWS::StepFunctions::StateMachine", {"arn": "Ref", "name": "Name"}
    ),
    "aws:sns/topic:Topic": CfnType("AWS::SNS::Topic", {"arn": "Ref", "name": "TopicName"}),
    "aws:sns/topicPolicy:TopicPolicy": CfnType("AWS::SNS::TopicPolicy", {}),
    "aws:sqs/queue:Queue": CfnType(
        "AWS::SQS::Queue", {"url": "Ref", "arn": "Arn", "name": "QueueName"}
    ),
    "aws:sqs/queuePolicy:QueuePolicy": CfnType("AWS::SQS::QueuePolicy", {}),
}

# Pulumi types CloudFormation models as properties of another resource: the owner's type, and
# the inputs that identify the owner (matched against the owner's own inputs or outputs).
FOLDED: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "aws:apigateway/integration:Integration": (
        "aws:apigateway/method:Method",
        (("restApi", "restApi"), ("resourceId", "resourceId"), ("httpMethod", "httpMethod")),
    ),
    "aws:apigateway/methodResponse:MethodResponse": (
        "aws:apigateway/method:Method",
        (("restApi", "restApi"), ("resourceId", "resourceId"), ("httpMethod", "httpMethod")),
    ),
    "aws:apigateway/integrationResponse:IntegrationResponse": (
        "aws:apigateway/method:Method",
        (("restApi", "restApi"), ("resourceId", "resourceId"), ("httpMethod", "httpMethod")),
    ),
    "aws:apigateway/methodSettings:MethodSettings": (
        "aws:apigateway/stage:Stage",
        (("restApi", "restApi"), ("stageName", "stageName")),
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws:s3/bucket:Bucket",
        (("bucket", "bucket"),),
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "aws:s3/bucket:Bucket",
        (("bucket", "bucket"),),
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws:s3/bucket:Bucket",
        (("bucket", "bucket"),),
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("aws:s3/bucket:Bucket", (("bucket", "bucket"),)),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": (
        "aws:sqs/queue:Queue",
        (("queueUrl", "url"),),
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "aws:iam/role:Role",
        (("role", "name"),),
    ),
}

# Inputs that hold a JSON document as a string; CloudFormation takes the document itself.
JSON_INPUTS = {
    "assumeRolePolicy",
    "policy",
    "eventPattern",
    "redrivePolicy",
    "redriveAllowPolicy",
}
# Inputs with no CloudFormation property: the deployment hash that Pulumi uses to replace a
# deployment, the zip's hash (CloudFormation reads the code itself).
NO_PROPERTY = {"sourceCodeHash", "triggers"}
# Inputs kept as literal values, not references: a dead-letter queue's RedriveAllowPolicy
# names the source queue, whose RedrivePolicy names the dead-letter queue, a cycle that
# CloudFormation refuses (Pulumi's separate RedriveAllowPolicy resource avoids it).
LITERAL = {("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "redriveAllowPolicy")}
# Types whose name CloudFormation requires: the physical name Pulumi generated.
NAME_REQUIRED = {"aws:iam/rolePolicy:RolePolicy"}
_BOUNDARY_BEFORE = r"(?<![A-Za-z0-9_-])"
_BOUNDARY_AFTER = r"(?![A-Za-z0-9_-])"


def logical_id(name: str, taken: set[str], kind: str) -> str:
    """A CloudFormation logical id (alphanumeric) from a Pulumi name, unique in `taken`."""
    base = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))
    candidate = base or "Resource"
    if candidate in taken:
        candidate = base + kind.rsplit(":", 1)[-1]
    index = 2
    while candidate in taken:
        candidate, index = f"{base}{index}", index + 1
    taken.add(candidate)
    return candidate


def _number(value: Any) -> Any:
    """The engine's numbers arrive as floats; CloudFormation integers are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _tags(value: Any) -> list[dict[str, Any]] | None:
    if not value:
        return None
    return [{"Key": k, "Value": v} for k, v in sorted(value.items())]


class _Inputs:
    """One resource's resolved inputs; remembers which were read, so that none is lost."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.values.get(key, default)

    def properties(self, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """{cfn: inputs[key]} (numbers made integers) for each (cfn, key) input present."""
        properties = {}
        for cfn, key in pairs:
            value = self.get(key)
            if value is not None:
                properties[cfn] = _number(value)
        return properties

    def consumed(self, *keys: str) -> None:
        """Inputs the template carries another way (a folded resource's reference to its
        owner, a value read only under a condition): read, so that none counts as lost."""
        self.read.update(keys)

    @property
    def unread(self) -> set[str]:
        return {k for k in self.values if k not in self.read and k not in NO_PROPERTY}


def _sub_key(logical: str, attribute: str) -> str:
    return logical if attribute == "Ref" else f"{logical}.{attribute}"


def _expression(logical: str, attribute: str) -> dict[str, Any]:
    return {"Ref": logical} if attribute == "Ref" else {"Fn::GetAtt": [logical, attribute]}


class Converter:
    """Converts a plan's AWS resources to a CloudFormation template."""

    def __init__(self, plan: engine.Plan) -> None:
        self.plan = plan
        self.by_urn = {r.urn: r for r in plan.registrations}
        self.logical: dict[str, str] = {}  # urn -> logical id (the owner's for a folded one)
        self.owned: dict[str, list[engine.Registration]] = {}  # owner urn -> folded resources
        self.unmapped: Counter[tuple[str, str]] = Counter()  # (type, input) with no property
        self.unsupported: Counter[str] = Counter()  # Pulumi types with no conversion
        taken: set[str] = set()
        for r in plan.registrations:
            if r.custom and r.type in CFN_TYPES:
                self.logical[r.urn] = logical_id(r.name, taken, r.type)
            elif r.custom and r.type not in FOLDED:
                self.unsupported[r.type] += 1
        index: dict[tuple[str, tuple[str, ...]], str] = {}
        keys_by_owner = {owner: [k for _, k in keys] for owner, keys in FOLDED.values()}
        for r in plan.registrations:
            if r.urn in self.logical and r.type in keys_by_owner:
                values = {**r.outputs, **r.inputs, "id": r.id}
                key = tuple(str(values.get(k)) for k in keys_by_owner[r.type])
                index[(r.type, key)] = r.urn
        for r in plan.registrations:
            if r.type in FOLDED:
                owner_type, pairs = FOLDED[r.type]
                owner = index.get((owner_type, tuple(str(r.inputs.get(k)) for k, _ in pairs)))
                if owner is None:
                    self.unsupported[r.type] += 1
                    continue
                self.logical[r.urn] = self.logical[owner]
                self.owned.setdefault(owner, []).append(r)

    # references --------------------------------------------------------------------------

    def _candidates(self, urns: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Output value -> (logical id, attribute) of each CloudFormation resource in `urns`."""
        found: dict[str, tuple[str, str]] = {}
        for urn in urns:
            r = self.by_urn.get(urn)
            if r is None or r.type not in CFN_TYPES or urn not in self.logical:
                continue
            values = {**r.outputs, "id": r.id}
            for key, attribute in CFN_TYPES[r.type].attributes.items():
                value = values.get(key)
                if isinstance(value, str) and len(value) > 3:
                    found.setdefault(value, (self.logical[urn], attribute))
        return found

    def _resolve(self, value: Any, candidates: dict[str, tuple[str, str]]) -> Any:
        if isinstance(value, dict):
            return {k: self._resolve(v, candidates) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, candidates) for v in value]
        if not isinstance(value, str) or not candidates:
            return value
        if value in candidates:
            return _expression(*candidates[value])
        ordered = sorted(candidates, key=len, reverse=True)
        pattern = re.compile(
            _BOUNDARY_BEFORE + "(" + "|".join(map(re.escape, ordered)) + ")" + _BOUNDARY_AFTER
        )
        if not pattern.search(value):
            return value
        pieces, last = [], 0
        for match in pattern.finditer(value):
            pieces.append(value[last : match.start()].replace("${", "${!"))
            pieces.append("${" + _sub_key(*candidates[match[1]]) + "}")
            last = match.end()
        pieces.append(value[last:].replace("${", "${!"))
        return {"Fn::Sub": "".join(pieces)}

    def inputs(self, r: engine.Registration) -> _Inputs:
        """`r`'s inputs, JSON documents parsed, references made intrinsic functions."""
        values: dict[str, Any] = {}
        for key, value in engine.plain(r.inputs).items():
            if key in JSON_INPUTS and isinstance(value, str):
                value = json.loads(value)
            if key in r.property_dependencies and (r.type, key) not in LITERAL:
                value = self._resolve(value, self._candidates(r.property_dependencies[key]))
            values[key] = value
        if r.type in NAME_REQUIRED and "name" not in values:
            values["name"] = r.outputs.get("name")
        return _Inputs(values)

    # the template ------------------------------------------------------------------------

    def template(self) -> dict[str, Any]:
        resources: dict[str, Any] = {}
        for r in self.plan.registrations:
            if r.type not in CFN_TYPES or r.urn not in self.logical:
                continue
            inputs = self.inputs(r)
            properties = BUILDERS[r.type](inputs)
            for part in self.owned.get(r.urn, []):
                part_inputs = self.inputs(part)
                FOLDERS[part.type](properties, part_inputs)
                self._note_unread(part.type, part_inputs)
            self._note_unread(r.type, inputs)
            body: dict[str, Any] = {"Type": CFN_TYPES[r.type].name}
            depends = self._depends_on(r)
            if depends:
                body["DependsOn"] = depends
            body["Properties"] = properties
            resources[self.logical[r.urn]] = body
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"{self.plan.project} stack {self.plan.stack}, from the offline preview",
            "Resources": resources,
        }

    def _depends_on(self, r: engine.Registration) -> list[str]:
        """Explicit dependencies (Pulumi's `depends_on`) no reference already expresses."""
        referenced = {u for urns in r.property_dependencies.values() for u in urns}
        for part in self.owned.get(r.urn, []):
            referenced |= {u for urns in part.property_dependencies.values() for u in urns}
        known = {self.logical[u] for u in referenced if u in self.logical}
        known.add(self.logical[r.urn])
        found = {self.logical[u] for u in r.dependencies if u in self.logical}
        return sorted(found - known)

    def _note_unread(self, kind: str, inputs: _Inputs) -> None:
        for key in inputs.unread:
            self.unmapped[(kind, key)] += 1


def template(plan: engine.Plan) -> dict[str, Any]:
    return Converter(plan).template()


# Per-type properties -----------------------------------------------------------------------

Builder = Callable[[_Inputs], dict[str, Any]]


def _with_tags(properties: dict[str, Any], inputs: _Inputs) -> dict[str, Any]:
    tags = _tags(inputs.get("tags"))
    if tags:
        properties["Tags"] = tags
    return properties


def _api_key(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties([("Name", "name"), ("Description", "description"), ("Enabled", "enabled")]), i
    )


def _deployment(i: _Inputs) -> dict[str, Any]:
    return i.properties([("RestApiId", "restApi"), ("Description", "description")])


def _method(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [
            ("RestApiId", "restApi"),
            ("ResourceId", "resourceId"),
            ("HttpMethod", "httpMethod"),
            ("AuthorizationType", "authorization"),
            ("AuthorizerId", "authorizerId"),
            ("ApiKeyRequired", "apiKeyRequired"),
            ("RequestValidatorId", "requestValidatorId"),
            ("RequestParameters", "requestParameters"),
            ("RequestModels", "requestModels"),
            ("OperationName", "operationName"),
        ]
    )


def _fold_integration(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("restApi", "resourceId", "httpMethod")
    p.setdefault("Integration", {}).update(
        i.properties(
            [
                ("Type", "type"),
                ("Uri", "uri"),
                ("Credentials", "credentials"),
                ("IntegrationHttpMethod", "integrationHttpMethod"),
                ("PassthroughBehavior", "passthroughBehavior"),
                ("RequestTemplates", "requestTemplates"),
                ("RequestParameters", "requestParameters"),
                ("TimeoutInMillis", "timeoutMilliseconds"),
                ("ContentHandling", "contentHandling"),
            ]
        )
    )


def _fold_method_response(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("restApi", "resourceId", "httpMethod")
    response = i.properties(
        [
            ("StatusCode", "statusCode"),
            ("ResponseModels", "responseModels"),
            ("ResponseParameters", "responseParameters"),
        ]
    )
    p.setdefault("MethodResponses", []).append(response)


def _fold_integration_response(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("restApi", "resourceId", "httpMethod")
    response = i.properties(
        [
            ("StatusCode", "statusCode"),
            ("SelectionPattern", "selectionPattern"),
            ("ResponseTemplates", "responseTemplates"),
            ("ResponseParameters", "responseParameters"),
        ]
    )
    p.setdefault("Integration", {}).setdefault("IntegrationResponses", []).append(response)


def _request_validator(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [
            ("RestApiId", "restApi"),
            ("Name", "name"),
            ("ValidateRequestBody", "validateRequestBody"),
            ("ValidateRequestParameters", "validateRequestParameters"),
        ]
    )


def _resource(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [("RestApiId", "restApi"), ("ParentId", "parentId"), ("PathPart", "pathPart")]
    )


def _rest_api(i: _Inputs) -> dict[str, Any]:
    p = i.properties([("Name", "name"), ("Description", "description"), ("Policy", "policy")])
    endpoint = i.get("endpointConfiguration")
    if endpoint:
        types = endpoint.get("types")
        p["EndpointConfiguration"] = {"Types": types if isinstance(types, list) else [types]}
    return _with_tags(p, i)


def _stage(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("RestApiId", "restApi"),
            ("StageName", "stageName"),
            ("DeploymentId", "deployment"),
            ("TracingEnabled", "xrayTracingEnabled"),
            ("Description", "description"),
            ("Variables", "variables"),
        ]
    )
    logs = i.get("accessLogSettings")
    if logs:
        p["AccessLogSetting"] = {"DestinationArn": logs["destinationArn"], "Format": logs["format"]}
    return _with_tags(p, i)


_METHOD_SETTINGS = {
    "dataTraceEnabled": "DataTraceEnabled",
    "loggingLevel": "LoggingLevel",
    "metricsEnabled": "MetricsEnabled",
    "throttlingBurstLimit": "ThrottlingBurstLimit",
    "throttlingRateLimit": "ThrottlingRateLimit",
    "cachingEnabled": "CachingEnabled",
}


def _fold_method_settings(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("restApi", "stageName")
    path = str(i.get("methodPath", "*/*"))
    resource, _, method = path.rpartition("/")
    setting: dict[str, Any] = {"ResourcePath": "/*" if resource == "*" else resource}
    setting["HttpMethod"] = method
    for key, value in (i.get("settings") or {}).items():
        setting[_METHOD_SETTINGS[key]] = _number(value)
    p.setdefault("MethodSettings", []).append(setting)


def _usage_plan(i: _Inputs) -> dict[str, Any]:
    p = i.properties([("UsagePlanName", "name"), ("Description", "description")])
    stages = i.get("apiStages") or []
    if stages:
        p["ApiStages"] = [{"ApiId": s["apiId"], "Stage": s["stage"]} for s in stages]
    quota = i.get("quotaSettings")
    if quota:
        p["Quota"] = {"Limit": _number(quota["limit"]), "Period": quota["period"]}
    throttle = i.get("throttleSettings")
    if throttle:
        p["Throttle"] = {
            "BurstLimit": _number(throttle["burstLimit"]),
            "RateLimit": _number(throttle["rateLimit"]),
        }
    return _with_tags(p, i)


def _usage_plan_key(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [("KeyId", "keyId"), ("KeyType", "keyType"), ("UsagePlanId", "usagePlanId")]
    )


def _event_rule(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("Name", "name"),
                ("Description", "description"),
                ("EventPattern", "eventPattern"),
                ("ScheduleExpression", "scheduleExpression"),
                ("EventBusName", "eventBusName"),
                ("State", "state"),
            ]
        ),
        i,
    )


def _log_group(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("LogGroupName", "name"),
                ("RetentionInDays", "retentionInDays"),
                ("KmsKeyId", "kmsKeyId"),
            ]
        ),
        i,
    )


def _alarm(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("AlarmName", "name"),
            ("AlarmDescription", "alarmDescription"),
            ("ComparisonOperator", "comparisonOperator"),
            ("EvaluationPeriods", "evaluationPeriods"),
            ("DatapointsToAlarm", "datapointsToAlarm"),
            ("MetricName", "metricName"),
            ("Namespace", "namespace"),
            ("Period", "period"),
            ("Statistic", "statistic"),
            ("ExtendedStatistic", "extendedStatistic"),
            ("Threshold", "threshold"),
            ("TreatMissingData", "treatMissingData"),
            ("AlarmActions", "alarmActions"),
            ("OKActions", "okActions"),
            ("InsufficientDataActions", "insufficientDataActions"),
            ("Unit", "unit"),
        ]
    )
    if "Threshold" in p:
        p["Threshold"] = float(p["Threshold"])
    dimensions = i.get("dimensions")
    if dimensions:
        p["Dimensions"] = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]
    return _with_tags(p, i)


def _table(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("TableName", "name"),
            ("BillingMode", "billingMode"),
            ("DeletionProtectionEnabled", "deletionProtectionEnabled"),
        ]
    )
    p["AttributeDefinitions"] = [
        {"AttributeName": a["name"], "AttributeType": a["type"]} for a in i.get("attributes") or []
    ]
    keys = [{"AttributeName": i.get("hashKey"), "KeyType": "HASH"}]
    if i.get("rangeKey"):
        keys.append({"AttributeName": i.get("rangeKey"), "KeyType": "RANGE"})
    p["KeySchema"] = keys
    if (i.get("pointInTimeRecovery") or {}).get("enabled"):
        p["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    encryption = i.get("serverSideEncryption") or {}
    if encryption.get("enabled"):
        p["SSESpecification"] = {"SSEEnabled": True}
        if encryption.get("kmsKeyArn"):
            p["SSESpecification"].update(SSEType="KMS", KMSMasterKeyId=encryption["kmsKeyArn"])
    if i.get("streamEnabled"):
        p["StreamSpecification"] = {"StreamViewType": i.get("streamViewType")}
    i.consumed("streamViewType")
    ttl = i.get("ttl")
    if ttl and ttl.get("enabled"):
        p["TimeToLiveSpecification"] = {"AttributeName": ttl["attributeName"], "Enabled": True}
    indexes = i.get("globalSecondaryIndexes") or []
    if indexes:
        p["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["name"],
                "KeySchema": [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
                + (
                    [{"AttributeName": index["rangeKey"], "KeyType": "RANGE"}]
                    if index.get("rangeKey")
                    else []
                ),
                "Projection": {"ProjectionType": index.get("projectionType", "ALL")},
            }
            for index in indexes
        ]
    return _with_tags(p, i)


def _role(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("AssumeRolePolicyDocument", "assumeRolePolicy"),
                ("RoleName", "name"),
                ("Description", "description"),
                ("MaxSessionDuration", "maxSessionDuration"),
                ("PermissionsBoundary", "permissionsBoundary"),
            ]
        ),
        i,
    )


def _fold_policy_attachment(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("role")
    p.setdefault("ManagedPolicyArns", []).append(i.get("policyArn"))


def _role_policy(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [("RoleName", "role"), ("PolicyName", "name"), ("PolicyDocument", "policy")]
    )


def _kms_key(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("Description", "description"),
                ("EnableKeyRotation", "enableKeyRotation"),
                ("KeyPolicy", "policy"),
                ("PendingWindowInDays", "deletionWindowInDays"),
            ]
        ),
        i,
    )


def _event_source_mapping(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("EventSourceArn", "eventSourceArn"),
            ("FunctionName", "functionName"),
            ("BatchSize", "batchSize"),
            ("BisectBatchOnFunctionError", "bisectBatchOnFunctionError"),
            ("FunctionResponseTypes", "functionResponseTypes"),
            ("StartingPosition", "startingPosition"),
            ("MaximumRetryAttempts", "maximumRetryAttempts"),
            ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds"),
            ("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds"),
            ("ParallelizationFactor", "parallelizationFactor"),
            ("Enabled", "enabled"),
        ]
    )
    destination = (i.get("destinationConfig") or {}).get("onFailure")
    if destination:
        p["DestinationConfig"] = {"OnFailure": {"Destination": destination["destinationArn"]}}
    scaling = i.get("scalingConfig")
    if scaling:
        p["ScalingConfig"] = {"MaximumConcurrency": _number(scaling["maximumConcurrency"])}
    criteria = i.get("filterCriteria")
    if criteria:
        p["FilterCriteria"] = {
            "Filters": [{"Pattern": f["pattern"]} for f in criteria.get("filters", [])]
        }
    return _with_tags(p, i)


_LOG_LEVELS = {
    "applicationLogLevel": "ApplicationLogLevel",
    "logFormat": "LogFormat",
    "logGroup": "LogGroup",
    "systemLogLevel": "SystemLogLevel",
}


def _function(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("FunctionName", "name"),
            ("Description", "description"),
            ("Role", "role"),
            ("Runtime", "runtime"),
            ("Handler", "handler"),
            ("MemorySize", "memorySize"),
            ("Timeout", "timeout"),
            ("Architectures", "architectures"),
            ("Layers", "layers"),
            ("ReservedConcurrentExecutions", "reservedConcurrentExecutions"),
            ("KmsKeyArn", "kmsKeyArn"),
        ]
    )
    code = i.get("code") or {}
    # The zip is built locally; a template deployed with `aws cloudformation package` would
    # point at its upload. The key names the zip.
    p["Code"] = {"S3Bucket": "deployment-artifacts", "S3Key": str(code.get("path", "code.zip"))}
    variables = (i.get("environment") or {}).get("variables")
    if variables:
        p["Environment"] = {"Variables": variables}
    tracing = i.get("tracingConfig")
    if tracing:
        p["TracingConfig"] = {"Mode": tracing["mode"]}
    logging = i.get("loggingConfig")
    if logging:
        p["LoggingConfig"] = {_LOG_LEVELS[k]: v for k, v in logging.items()}
    dead_letter = i.get("deadLetterConfig")
    if dead_letter:
        p["DeadLetterConfig"] = {"TargetArn": dead_letter["targetArn"]}
    return _with_tags(p, i)


def _permission(i: _Inputs) -> dict[str, Any]:
    return i.properties(
        [
            ("FunctionName", "function"),
            ("Action", "action"),
            ("Principal", "principal"),
            ("SourceArn", "sourceArn"),
            ("SourceAccount", "sourceAccount"),
        ]
    )


def _bucket(i: _Inputs) -> dict[str, Any]:
    return _with_tags(i.properties([("BucketName", "bucket")]), i)


def _fold_public_access(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("bucket")
    block = i.properties(
        [
            ("BlockPublicAcls", "blockPublicAcls"),
            ("BlockPublicPolicy", "blockPublicPolicy"),
            ("IgnorePublicAcls", "ignorePublicAcls"),
            ("RestrictPublicBuckets", "restrictPublicBuckets"),
        ]
    )
    p["PublicAccessBlockConfiguration"] = block


def _fold_encryption(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("bucket")
    rules = []
    for rule in i.get("rules") or []:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        entry: dict[str, Any] = {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": default.get("sseAlgorithm")}
        }
        if default.get("kmsMasterKeyId"):
            entry["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        if "bucketKeyEnabled" in rule:
            entry["BucketKeyEnabled"] = rule["bucketKeyEnabled"]
        rules.append(entry)
    p["BucketEncryption"] = {"ServerSideEncryptionConfiguration": rules}


def _fold_versioning(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("bucket")
    status = (i.get("versioningConfiguration") or {}).get("status")
    p["VersioningConfiguration"] = {"Status": status}


def _fold_lifecycle(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("bucket")
    rules = []
    for rule in i.get("rules") or []:
        entry: dict[str, Any] = {"Id": rule.get("id"), "Status": rule.get("status")}
        prefix = (rule.get("filter") or {}).get("prefix")
        if prefix is not None:
            entry["Prefix"] = prefix
        transitions = rule.get("transitions") or []
        if transitions:
            entry["Transitions"] = [
                {"StorageClass": t["storageClass"], "TransitionInDays": _number(t["days"])}
                for t in transitions
            ]
        expiration = rule.get("expiration") or {}
        if expiration.get("days"):
            entry["ExpirationInDays"] = _number(expiration["days"])
        noncurrent = rule.get("noncurrentVersionExpiration") or {}
        if noncurrent.get("noncurrentDays"):
            entry["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": _number(noncurrent["noncurrentDays"])
            }
        abort = rule.get("abortIncompleteMultipartUpload") or {}
        if abort.get("daysAfterInitiation"):
            entry["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": _number(abort["daysAfterInitiation"])
            }
        rules.append(entry)
    p["LifecycleConfiguration"] = {"Rules": rules}


def _bucket_policy(i: _Inputs) -> dict[str, Any]:
    return i.properties([("Bucket", "bucket"), ("PolicyDocument", "policy")])


def _state_machine(i: _Inputs) -> dict[str, Any]:
    p = i.properties(
        [
            ("StateMachineName", "name"),
            ("StateMachineType", "type"),
            ("RoleArn", "roleArn"),
            ("DefinitionString", "definition"),
        ]
    )
    logging = i.get("loggingConfiguration")
    if logging:
        config: dict[str, Any] = {"Level": logging.get("level", "OFF")}
        if "includeExecutionData" in logging:
            config["IncludeExecutionData"] = logging["includeExecutionData"]
        destination = logging.get("logDestination")
        if destination:
            # Pulumi takes the log group ARN with `:*`; CloudFormation the same ARN, inside.
            config["Destinations"] = [
                {"CloudWatchLogsLogGroup": {"LogGroupArn": _log_group_arn(destination)}}
            ]
        p["LoggingConfiguration"] = config
    tracing = i.get("tracingConfiguration")
    if tracing:
        p["TracingConfiguration"] = {"Enabled": bool(tracing.get("enabled"))}
    return _with_tags(p, i)


def _log_group_arn(value: Any) -> Any:
    """`<log group ARN>:*` as Pulumi takes it: CloudFormation's `Arn` attribute carries `:*`."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        match = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}:\*", text)
        if match:
            return {"Fn::GetAtt": [match[1], "Arn"]}
    return value


def _topic(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("TopicName", "name"),
                ("DisplayName", "displayName"),
                ("KmsMasterKeyId", "kmsMasterKeyId"),
                ("FifoTopic", "fifoTopic"),
                ("TracingConfig", "tracingConfig"),
            ]
        ),
        i,
    )


def _topic_policy(i: _Inputs) -> dict[str, Any]:
    return {"Topics": [i.get("arn")], "PolicyDocument": i.get("policy")}


def _queue(i: _Inputs) -> dict[str, Any]:
    return _with_tags(
        i.properties(
            [
                ("QueueName", "name"),
                ("MessageRetentionPeriod", "messageRetentionSeconds"),
                ("VisibilityTimeout", "visibilityTimeoutSeconds"),
                ("SqsManagedSseEnabled", "sqsManagedSseEnabled"),
                ("KmsMasterKeyId", "kmsMasterKeyId"),
                ("KmsDataKeyReusePeriodSeconds", "kmsDataKeyReusePeriodSeconds"),
                ("DelaySeconds", "delaySeconds"),
                ("ReceiveMessageWaitTimeSeconds", "receiveWaitTimeSeconds"),
                ("MaximumMessageSize", "maxMessageSize"),
                ("FifoQueue", "fifoQueue"),
                ("ContentBasedDeduplication", "contentBasedDeduplication"),
                ("RedrivePolicy", "redrivePolicy"),
            ]
        ),
        i,
    )


def _fold_redrive_allow(p: dict[str, Any], i: _Inputs) -> None:
    i.consumed("queueUrl")
    p["RedriveAllowPolicy"] = i.get("redriveAllowPolicy")


def _queue_policy(i: _Inputs) -> dict[str, Any]:
    return {"Queues": [i.get("queueUrl")], "PolicyDocument": i.get("policy")}


BUILDERS: dict[str, Builder] = {
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:apigateway/deployment:Deployment": _deployment,
    "aws:apigateway/method:Method": _method,
    "aws:apigateway/requestValidator:RequestValidator": _request_validator,
    "aws:apigateway/resource:Resource": _resource,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/usagePlan:UsagePlan": _usage_plan,
    "aws:apigateway/usagePlanKey:UsagePlanKey": _usage_plan_key,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:dynamodb/table:Table": _table,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:lambda/function:Function": _function,
    "aws:lambda/permission:Permission": _permission,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
}
FOLDERS: dict[str, Callable[[dict[str, Any], _Inputs], None]] = {
    "aws:apigateway/integration:Integration": _fold_integration,
    "aws:apigateway/methodResponse:MethodResponse": _fold_method_response,
    "aws:apigateway/integrationResponse:IntegrationResponse": _fold_integration_response,
    "aws:apigateway/methodSettings:MethodSettings": _fold_method_settings,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _fold_lifecycle,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _fold_public_access,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _fold_encryption
    ),
    "aws:s3/bucketVersioning:BucketVersioning": _fold_versioning,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": _fold_redrive_allow,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _fold_policy_attachment,
}


# Writing both files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    plan: Path
    template: Path
    copies: int
    resources: int  # every registration the gate analyzes (components included)
    aws_resources: int  # the custom resources among them
    cfn_resources: int  # resources in the template (folded ones counted in their owner)


def write(size: int, out: Path) -> Written:
    """Write `out/plan-<size>.json` and `out/template-<size>.yaml`."""
    copies = copies_for(size)
    plan = build(copies)
    converter = Converter(plan)
    document = converter.template()
    if converter.unsupported:
        raise ValueError(f"no CloudFormation conversion for {dict(converter.unsupported)}")
    out.mkdir(parents=True, exist_ok=True)
    plan_path, template_path = out / f"plan-{size}.json", out / f"template-{size}.yaml"
    plan_path.write_text(json.dumps(engine.plan_document(plan), indent=2, sort_keys=True) + "\n")
    template_path.write_text(yaml.safe_dump(document, sort_keys=False, width=120))
    return Written(
        plan_path,
        template_path,
        copies,
        len(plan.registrations),
        sum(r.custom for r in plan.registrations),
        len(document["Resources"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gate_inputs", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--size", type=int, required=True, help="resources, about (whole copies)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    options = parser.parse_args(argv)
    if options.size < 1:
        parser.error("--size must be at least 1")
    written = write(options.size, options.out)
    print(
        f"{written.copies} copies: {written.resources} resources "
        f"({written.aws_resources} AWS resources; {written.cfn_resources} in the template)"
    )
    print(f"wrote {written.plan}")
    print(f"wrote {written.template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
