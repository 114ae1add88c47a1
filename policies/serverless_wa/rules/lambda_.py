"""Lambda rules."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from serverless_wa import exemptions
from serverless_wa.graph import Graph, Node
from serverless_wa.props import ABSENT, UNKNOWN, as_list, known
from serverless_wa.registry import Case, Examples, Finding, Resource, Rule, anchors, register
from serverless_wa.rules._async import RESOURCE_POLICY
from serverless_wa.rules._common import (
    ALIAS,
    FUNCTION,
    LOG_GROUP,
    PERMISSION,
    arn,
    case,
    number,
    shared_config,
    stack_case,
    unset,
)
from serverless_wa.rules._iam import (
    action_matches,
    condition_keys,
    public_principal,
    service_principals,
    statements,
)
from serverless_wa.rules.lambda_runtimes import Lifecycle, lifecycle


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
        knob="",
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


# Shared helpers ------------------------------------------------------------------------------

FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
RECURSION_CONFIG = "aws:lambda/functionRecursionConfig:FunctionRecursionConfig"


def _text(value: Any) -> str:
    """Numbers as the engine's JSON floats come in: 10.0 reads 10."""
    known_number = number(value)
    if known_number is not None and float(known_number).is_integer():
        return str(int(known_number))
    return str(value)


def _fix(knob: str, raw: str) -> str:
    return f"{knob} (raw: {raw})"


def _function_props(**props: Any) -> Case:
    return case(FUNCTION, props)


# LAMBDA-002 / LAMBDA-003 ----------------------------------------------------------------------


def _not_provider_default(
    prop: str, default: int, what: str, unit: str
) -> Callable[..., Iterator[Finding]]:
    """Absent and the provider default are the same finding: the engine fills the default in."""

    def check(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
        value = node.get(prop)
        if value is ABSENT or number(value) == default:
            yield Finding(f"{what} is {default} {unit}, the provider default (not set explicitly)")

    return check


register(
    Rule(
        id="LAMBDA-002",
        name="lambda-memory-explicit",
        title="Lambda functions set their memory size explicitly",
        description=(
            "memorySize absent or 128 (the provider default, indistinguishable from an explicit "
            "128) is a finding; a deliberate 128 MB takes an exemption."
        ),
        severity="MEDIUM",
        pillar="PERF",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("memorySize",)},
        anchors=anchors(serverless_rules="ES1005", cdk_nag="Serverless-LambdaDefaultMemorySize"),
        knob="memory_size",
        raw="memory_size",
        remediation=(
            "Raw: aws.lambda_.Function(..., memory_size=256). "
            "Component: FunctionSpec(handler=..., memory_size=256)."
        ),
        check=_not_provider_default("memorySize", 128, "memory size", "MB"),
        examples=Examples(
            compliant=(_function_props(memorySize=512),),
            non_compliant=(_function_props(), _function_props(memorySize=128)),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-003",
        name="lambda-timeout-explicit",
        title="Lambda functions set their timeout explicitly",
        description=(
            "timeout absent or 3 (the provider default) is a finding; a deliberate 3 s takes an "
            "exemption. The value feeds the timeout-chain rules STACK-009 to STACK-011."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("timeout",)},
        anchors=anchors(serverless_rules="ES1006", cdk_nag="Serverless-LambdaDefaultTimeout"),
        knob="timeout_s",
        raw="timeout",
        remediation=(
            "Raw: aws.lambda_.Function(..., timeout=30). "
            "Component: FunctionSpec(handler=..., timeout_s=30)."
        ),
        check=_not_provider_default("timeout", 3, "timeout", "s"),
        examples=Examples(
            compliant=(_function_props(timeout=30),),
            non_compliant=(_function_props(), _function_props(timeout=3)),
        ),
    )
)


# LAMBDA-004 / LAMBDA-005 ----------------------------------------------------------------------

WARN_DAYS = 90


def _zip_runtime(node: Node, config: dict[str, Any]) -> tuple[str, Lifecycle] | None:
    """The runtime and its lifecycle, for Zip packages whose runtime the data knows."""
    package = node.get("packageType")
    if package is UNKNOWN or (package is not ABSENT and package != "Zip"):
        return None
    runtime = node.get("runtime")
    if not isinstance(runtime, str):
        return None
    data = lifecycle(runtime, config.get("runtime_overrides"))
    return (runtime, data) if data is not None else None


def _runtime_supported(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    found = _zip_runtime(node, config)
    if found is None:
        return
    runtime, data = found
    if exemptions.today(config) >= data.deprecated:
        yield Finding(
            f"runtime {runtime} was deprecated on {data.deprecated.isoformat()} ({data.blocks()})"
        )


def _runtime_deprecation_window(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    found = _zip_runtime(node, config)
    if found is None:
        return
    runtime, data = found
    warn_days = number(config.get("warn_days"))
    days = int(warn_days) if warn_days is not None else WARN_DAYS
    window = dt.timedelta(days=max(0, min(days, 3650)))
    today = exemptions.today(config)
    if data.deprecated - window <= today < data.deprecated:
        left = (data.deprecated - today).days
        yield Finding(
            f"runtime {runtime} is deprecated on {data.deprecated.isoformat()}, in {left} days "
            f"({data.blocks()})"
        )


RUNTIME_ANCHORS = anchors(
    serverless_rules="cfn-lint E2531; tflint aws_lambda_function_eol_runtime",
    cdk_nag="AwsSolutions-L1, Serverless-LambdaLatestVersion",
    checkov="CKV_AWS_363",
)
RUNTIME_REMEDIATION = (
    "Raw: aws.lambda_.Function(..., runtime=aws.lambda_.Runtime.PYTHON3D13). "
    "Component: stack config `runtime: python3.13` (Settings.runtime)."
)
register(
    Rule(
        id="LAMBDA-004",
        name="lambda-runtime-supported",
        title="Lambda functions use a runtime that AWS has not deprecated",
        description=(
            "Zip packages only: the runtime's lifecycle entry (versioned data, corrected or "
            "extended by runtime_overrides) must not be past its deprecation date. A runtime "
            "the data does not know is not applicable."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("runtime", "packageType")},
        anchors=RUNTIME_ANCHORS,
        knob="runtime",
        raw="runtime",
        remediation=RUNTIME_REMEDIATION,
        check=_runtime_supported,
        config=shared_config("runtime_overrides"),
        examples=Examples(
            compliant=(
                case(FUNCTION, {"runtime": "python3.13"}, config={"today": "2026-12-01"}),
                _function_props(runtime="python3.8", packageType="Image"),
                _function_props(packageType="Image"),
            ),
            non_compliant=(
                _function_props(runtime="python3.8"),
                _function_props(runtime="nodejs16.x", packageType="Zip"),
            ),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-005",
        name="lambda-runtime-deprecation-window",
        title="Lambda functions move off a runtime before AWS deprecates it",
        description=(
            "Same lookup as LAMBDA-004: a finding when the deprecation date is less than "
            "warn_days (default 90) away; the advisory sibling of LAMBDA-004."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("runtime", "packageType")},
        anchors=RUNTIME_ANCHORS,
        knob="runtime",
        raw="runtime",
        remediation=RUNTIME_REMEDIATION,
        check=_runtime_deprecation_window,
        config={
            **shared_config("runtime_overrides"),
            "warn_days": {"type": "integer", "default": WARN_DAYS},
        },
        examples=Examples(
            compliant=(
                case(FUNCTION, {"runtime": "python3.13"}, config={"today": "2026-12-01"}),
                case(FUNCTION, {"runtime": "python3.13"}, config={"today": "2029-03-01"}),
                _function_props(runtime="python3.8"),
            ),
            non_compliant=(
                case(
                    FUNCTION,
                    {"runtime": "python3.12"},
                    # A fixed date inside the widest window (ten years), so the example
                    # (and its generated page) stays the same from day to day
                    config={
                        "warn_days": 3650,
                        "runtime_overrides": {"python3.12": {"deprecated": "2036-06-30"}},
                    },
                ),
            ),
        ),
    )
)


# LAMBDA-006 ---------------------------------------------------------------------------------


def _no_zero_reserved(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if number(node.get("reservedConcurrentExecutions")) == 0:
        yield Finding("reserved concurrency is 0, so the function can never run")


register(
    Rule(
        id="LAMBDA-006",
        name="lambda-no-zero-reserved-concurrency",
        title="Lambda functions do not reserve zero concurrency",
        description=(
            "reservedConcurrentExecutions == 0 stops every invocation. Absent and -1 pass; a "
            "kill switch takes an exemption with an expiry."
        ),
        severity="HIGH",
        pillar="REL",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("reservedConcurrentExecutions",)},
        anchors=anchors(cdk_nag="LambdaConcurrency", checkov="CKV_AWS_115"),
        knob="reserved_concurrency",
        raw="reserved_concurrent_executions",
        remediation=(
            "Raw: aws.lambda_.Function(..., reserved_concurrent_executions=5) or leave it unset. "
            "Component: FunctionSpec(reserved_concurrency=5) (it rejects 0)."
        ),
        check=_no_zero_reserved,
        examples=Examples(
            compliant=(
                _function_props(),
                _function_props(reservedConcurrentExecutions=-1),
                _function_props(reservedConcurrentExecutions=5),
            ),
            non_compliant=(_function_props(reservedConcurrentExecutions=0),),
        ),
    )
)


# LAMBDA-007 ---------------------------------------------------------------------------------


def _structured_logging(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    log_format = node.get("loggingConfig.logFormat")
    if log_format is UNKNOWN:
        return
    if log_format != "JSON":
        shown = _text(log_format) if known(log_format) else "absent (Text)"
        yield Finding(f"log format is {shown}, not JSON")
        return
    if unset(node.get("loggingConfig.applicationLogLevel")):
        yield Finding(
            "JSON logs set no applicationLogLevel",
            fix="logging_config.application_log_level",
        )


register(
    Rule(
        id="LAMBDA-007",
        name="lambda-structured-logging",
        title="Lambda functions write JSON logs with an application log level",
        description=(
            "loggingConfig.logFormat == JSON and loggingConfig.applicationLogLevel set; an "
            "absent block means Text."
        ),
        severity="MEDIUM",
        pillar="OPS",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("loggingConfig.logFormat", "loggingConfig.applicationLogLevel")},
        anchors=anchors(),
        knob="",
        raw="logging_config.log_format='JSON', logging_config.application_log_level",
        remediation=(
            "Raw: aws.lambda_.Function(..., logging_config=aws.lambda_.FunctionLoggingConfigArgs("
            "log_format='JSON', application_log_level='INFO')). "
            "Component: LambdaFunction sets both by default (defaults.LOG_FORMAT, "
            "APPLICATION_LOG_LEVEL)."
        ),
        check=_structured_logging,
        examples=Examples(
            compliant=(
                _function_props(loggingConfig={"logFormat": "JSON", "applicationLogLevel": "INFO"}),
            ),
            non_compliant=(
                _function_props(),
                _function_props(loggingConfig={"logFormat": "Text"}),
                _function_props(loggingConfig={"logFormat": "JSON"}),
            ),
        ),
    )
)


# LAMBDA-008 ---------------------------------------------------------------------------------

# Key names public programs give secrets (regular expressions, matched case-insensitively
# anywhere in the key): the words, and the KEY/CODE compounds that are secrets while a plain
# KEY (a partition key, an S3 key) is not.
SECRET_KEY_PATTERNS = (
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    r"(^|_)(PASS|PWD)($|_)",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    r"API_?KEY",
    r"(ACCESS|PRIVATE|SIGNING|ENCRYPTION|HMAC|JWT|AUTH|SESSION|MASTER|CLIENT|LICEN[CS]E)_?KEY",
    r"(VERIFICATION|AUTH|RECOVERY)_?CODE",
    r"CONNECTION_?STRING",
)
REFERENCE_KEY_SUFFIXES = ("_ARN", "_NAME", "_PARAM", "_ID")
REFERENCE_PREFIXES = ("arn:", "/")
# Values that are secrets whatever the key is called.
SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a URL with a password", re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)),
    ("a Stripe live key", re.compile(r"\b[rs]k_live_[0-9A-Za-z]{8,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}")),
)


def _patterns(configured: Any) -> list[re.Pattern[str]]:
    texts = configured if isinstance(configured, list) else list(SECRET_KEY_PATTERNS)
    compiled = []
    for text in texts:
        try:
            compiled.append(re.compile(str(text), re.IGNORECASE))
        except re.error:
            compiled.append(re.compile(re.escape(str(text)), re.IGNORECASE))
    return compiled


def _secret_value(value: str) -> str | None:
    return next((kind for kind, pattern in SECRET_VALUES if pattern.search(value)), None)


def _plaintext_secrets(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    variables = node.get("environment.variables")
    if not isinstance(variables, Mapping):
        return
    patterns = _patterns(config.get("secret_key_patterns"))
    for key, value in sorted(variables.items(), key=lambda item: str(item[0])):
        key = str(key)
        if value is UNKNOWN or value is None:
            continue
        kind = _secret_value(value) if isinstance(value, str) else None
        if kind is not None:
            yield Finding(f"environment variable {key} holds {kind} as a plain value", detail=key)
            continue
        if not any(p.search(key) for p in patterns):
            continue
        if key.upper().endswith(REFERENCE_KEY_SUFFIXES):
            continue
        if isinstance(value, str) and value.startswith(REFERENCE_PREFIXES):
            continue
        yield Finding(
            f"environment variable {key} looks like a secret held as a plain value", detail=key
        )


register(
    Rule(
        id="LAMBDA-008",
        name="lambda-env-no-plaintext-secrets",
        title="Lambda environment variables hold no plaintext secrets",
        description=(
            "A finding for each environment.variables key matching secret_key_patterns "
            "(regular expressions, case-insensitive), unless its value is a reference (starts "
            "with arn: or /) or the key ends in _ARN, _NAME, _PARAM or _ID; and for any value "
            "shaped like a known secret whatever its key (an AWS access key id, a private key, "
            "a URL with a password, Stripe, Slack and GitHub tokens). Unknown values are "
            "skipped."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("environment.variables",)},
        anchors=anchors(checkov="CKV_AWS_45"),
        knob="environment",
        raw="environment.variables",
        remediation=(
            "Raw: pass the secret's ARN or parameter name (environment variables "
            "{'DB_PASSWORD_ARN': secret.arn}) and read it at runtime. "
            "Component: pass secrets as references; the handler resolves them with Powertools "
            "parameters."
        ),
        check=_plaintext_secrets,
        config={
            "secret_key_patterns": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(SECRET_KEY_PATTERNS),
            }
        },
        examples=Examples(
            compliant=(
                _function_props(
                    environment={
                        "variables": {
                            "TABLE_NAME": "orders",
                            "SIGNATURE_SECRET_ARN": arn("secretsmanager", "secret:hook"),
                            "API_TOKEN": "/app/api-token",
                            "PARTITION_KEY": "pk",
                            "S3_KEY_PREFIX": "incoming/",
                            "DATABASE_URL": "postgres://db.internal/app",
                        }
                    }
                ),
            ),
            non_compliant=(
                _function_props(environment={"variables": {"DB_PASSWORD": "hunter2"}}),
                _function_props(environment={"variables": {"stripe_api_key": "sk_live_1"}}),
                _function_props(environment={"variables": {"SLACK_VERIFICATION_CODE": "8f2a1c"}}),
                _function_props(
                    environment={
                        "variables": {"DATABASE_URL": "postgres://app:hunter2@db.internal/app"}
                    }
                ),
            ),
        ),
    )
)


# LAMBDA-009 ---------------------------------------------------------------------------------


def _grant_problems(
    principal: str, *, org: bool, source_arn: bool, source_account: bool
) -> list[str]:
    problems = []
    if principal == "*" and not org:
        problems.append("grants principal * without a principal organization")
    elif principal.endswith(".amazonaws.com"):
        if not source_arn:
            problems.append(f"grants {principal} without a source ARN")
        if principal == "s3.amazonaws.com" and not source_account:
            problems.append("grants s3.amazonaws.com without a source account")
    return problems


def _permission_scoped(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.type == RESOURCE_POLICY:
        yield from _resource_policy_scoped(node)
        return
    principal = node.get("principal")
    if not isinstance(principal, str):
        return
    for problem in _grant_problems(
        principal,
        org=not unset(node.get("principalOrgId")),
        source_arn=not unset(node.get("sourceArn")),
        source_account=not unset(node.get("sourceAccount")),
    ):
        yield Finding(problem, detail=principal)


def _resource_policy_scoped(node: Node) -> Iterator[Finding]:
    parsed = statements(node.props.json("policy"), node)
    for statement in parsed or []:
        if not statement.allow:
            continue
        keys = condition_keys(statement)
        principals = ["*"] if public_principal(statement.principal) else []
        principals += service_principals(statement.principal)
        for principal in principals:
            for problem in _grant_problems(
                principal,
                org="aws:principalorgid" in keys,
                source_arn="aws:sourcearn" in keys,
                source_account="aws:sourceaccount" in keys,
            ):
                yield Finding(f"statement {statement.label} {problem}", detail=principal)


def _policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


def _invoke_statement(principal: Any, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "invoke",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "lambda:InvokeFunction",
        "Resource": arn("lambda", "function:worker"),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _permission(**props: Any) -> Case:
    return case(PERMISSION, {"action": "lambda:InvokeFunction", "function": "worker", **props})


register(
    Rule(
        id="LAMBDA-009",
        name="lambda-permission-scoped",
        title="Lambda invoke grants are scoped to their source",
        description=(
            "Permission / ResourcePolicy: principal * needs a principal organization; a service "
            "principal needs a source ARN; s3.amazonaws.com also needs a source account. An "
            "unknown sourceArn counts as set."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(PERMISSION, RESOURCE_POLICY),
        reads={
            PERMISSION: ("principal", "principalOrgId", "sourceArn", "sourceAccount"),
            RESOURCE_POLICY: ("policy",),
        },
        anchors=anchors(
            cdk_nag="LambdaFunctionPublicAccessProhibited",
            checkov="CKV_AWS_301, CKV_AWS_364",
            crp="aws-lambda-permission-configure-source-arn",
        ),
        knob="",
        raw="source_arn / source_account / principal_org_id",
        remediation=(
            "Raw: aws.lambda_.Permission(..., principal='events.amazonaws.com', "
            "source_arn=rule.arn); for S3 also source_account=<account id>. "
            "Component: the trigger blocks pass the trigger's ARN."
        ),
        check=_permission_scoped,
        examples=Examples(
            compliant=(
                _permission(
                    principal="apigateway.amazonaws.com",
                    sourceArn=arn("execute-api", "abc123/*/*"),
                ),
                _permission(
                    principal="s3.amazonaws.com",
                    sourceArn="arn:aws:s3:::uploads",
                    sourceAccount="123456789012",
                ),
                _permission(principal="*", principalOrgId="o-abc123"),
                _permission(principal="123456789012"),
                case(
                    RESOURCE_POLICY,
                    {
                        "resourceArn": arn("lambda", "function:worker"),
                        "policy": _policy(
                            _invoke_statement(
                                {"Service": "events.amazonaws.com"},
                                ArnLike={"aws:SourceArn": arn("events", "rule/nightly")},
                            )
                        ),
                    },
                ),
            ),
            non_compliant=(
                _permission(principal="events.amazonaws.com"),
                _permission(principal="*"),
                _permission(principal="s3.amazonaws.com", sourceArn="arn:aws:s3:::uploads"),
                case(
                    RESOURCE_POLICY,
                    {
                        "resourceArn": arn("lambda", "function:worker"),
                        "policy": _policy(_invoke_statement("*")),
                    },
                ),
            ),
        ),
    )
)


# LAMBDA-010 / LAMBDA-011 ----------------------------------------------------------------------


def _function_url_auth(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("authorizationType") == "NONE":
        yield Finding("function URL authorization type is NONE (public)")


register(
    Rule(
        id="LAMBDA-010",
        name="lambda-function-url-auth",
        title="Lambda function URLs require authorization",
        description=(
            "authorizationType == NONE is a finding; a public webhook takes an exemption whose "
            "reason names the in-code verification."
        ),
        severity="HIGH",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION_URL,),
        reads={FUNCTION_URL: ("authorizationType",)},
        anchors=anchors(cdk_nag="LambdaFunctionUrlAuth", checkov="CKV_AWS_258"),
        knob="",
        raw="authorization_type='AWS_IAM'",
        remediation=(
            "Raw: aws.lambda_.FunctionUrl(..., authorization_type='AWS_IAM'). "
            "The components make no function URLs."
        ),
        check=_function_url_auth,
        examples=Examples(
            compliant=(case(FUNCTION_URL, {"authorizationType": "AWS_IAM"}),),
            non_compliant=(case(FUNCTION_URL, {"authorizationType": "NONE"}),),
        ),
    )
)


def _recursion_guard(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if node.get("recursiveLoop") == "Allow":
        yield Finding("recursive loop detection is switched off (Allow)")


register(
    Rule(
        id="LAMBDA-011",
        name="lambda-recursion-guard-on",
        title="Lambda recursive loop detection stays on",
        description=(
            "A FunctionRecursionConfig with recursiveLoop == Allow is a finding; no resource "
            "means the AWS default Terminate."
        ),
        severity="MEDIUM",
        pillar="REL",
        scope="resource",
        types=(RECURSION_CONFIG,),
        reads={RECURSION_CONFIG: ("recursiveLoop",)},
        anchors=anchors(),
        knob="",
        raw="recursive_loop='Terminate'",
        remediation=(
            "Raw: aws.lambda_.FunctionRecursionConfig(..., recursive_loop='Terminate'), or "
            "delete the resource (Terminate is the default)."
        ),
        check=_recursion_guard,
        examples=Examples(
            compliant=(
                case(RECURSION_CONFIG, {"functionName": "worker", "recursiveLoop": "Terminate"}),
            ),
            non_compliant=(
                case(RECURSION_CONFIG, {"functionName": "worker", "recursiveLoop": "Allow"}),
            ),
        ),
    )
)


# LAMBDA-012 ---------------------------------------------------------------------------------


def _function_log_groups(graph: Graph, function: Node) -> tuple[str, list[Node]] | None:
    """(the expected group, the stack's LogGroups that are it); None while unresolved."""
    linked = [n for n in function.deps.get("loggingConfig", []) if n.type == LOG_GROUP]
    linked += [n for prop, n in graph.referrers(function, (LOG_GROUP,)) if prop == "name"]
    if linked:
        name = linked[0].get("name")
        return (name if isinstance(name, str) else linked[0].name), linked
    expected = function.get("loggingConfig.logGroup")
    if expected is UNKNOWN:
        return None
    if not isinstance(expected, str) or not expected:
        name = function.get("name")
        if not isinstance(name, str) or not name:
            return None
        expected = f"/aws/lambda/{name}"
    groups = graph.of_type(LOG_GROUP)
    matches = [g for g in groups if g.get("name") == expected]
    if not matches and any(g.get("name") is UNKNOWN for g in groups):
        return None
    return expected, matches


def _log_group_retained(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for function in graph.of_type(FUNCTION):
        resolved = _function_log_groups(graph, function)
        if resolved is None:
            continue
        expected, groups = resolved
        if not groups:
            yield Finding(
                f'no LogGroup "{expected}" in the stack, so Lambda creates it with no expiry',
                urn=function.urn,
            )
            continue
        retentions = [g.get("retentionInDays") for g in groups]
        if UNKNOWN in retentions or any((number(r) or 0) > 0 for r in retentions):
            continue
        yield Finding(f'log group "{expected}" never expires (retention 0)', urn=function.urn)


def _log_group(name: str, retention: int | None = 14, **props: Any) -> Resource:
    values: dict[str, Any] = {"name": name, "arn": arn("logs", f"log-group:{name}"), **props}
    if retention is not None:
        values["retentionInDays"] = retention
    return Resource(LOG_GROUP, f"{name.rsplit('/', 1)[-1]}-logs", values)


def _worker(**props: Any) -> Resource:
    return Resource(
        FUNCTION, "worker", {"name": "worker", "arn": arn("lambda", "function:worker"), **props}
    )


register(
    Rule(
        id="LAMBDA-012",
        name="lambda-log-group-retained",
        title="Each function's log group is managed in the stack with a retention",
        description=(
            "The expected group (loggingConfig.logGroup when known, else /aws/lambda/<name>) "
            "must be a LogGroup in the stack (through dependencies, else by name) with "
            "retentionInDays > 0; otherwise Lambda creates it with no expiry."
        ),
        severity="MEDIUM",
        pillar="COST",
        scope="stack",
        types=(FUNCTION, LOG_GROUP),
        reads={
            FUNCTION: ("name", "loggingConfig.logGroup"),
            LOG_GROUP: ("name", "retentionInDays"),
        },
        anchors=anchors(
            serverless_rules="WS1004",
            cdk_nag="Serverless-CloudWatchLogGroupRetentionPeriod",
        ),
        knob="log_retention_days",
        raw="aws.cloudwatch.LogGroup(name='/aws/lambda/<name>', retention_in_days=...)",
        remediation=(
            "Raw: aws.cloudwatch.LogGroup(name=f'/aws/lambda/{name}', retention_in_days=30) "
            "and logging_config.log_group=group.name. "
            "Component: LambdaFunction creates the group; stack config `logRetentionDays`."
        ),
        check=_log_group_retained,
        examples=Examples(
            compliant=(
                stack_case(_log_group("/aws/lambda/worker"), _worker(), subject="worker"),
                # A custom group by reference (serverless-rules#190, cfn-lint#3103).
                stack_case(
                    _log_group("shared/app"),
                    _worker(loggingConfig={"logFormat": "JSON", "logGroup": "shared/app"}),
                    subject="worker",
                ),
                stack_case(
                    _log_group("shared/app"),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"name": "worker", "loggingConfig": {"logGroup": "shared/app"}},
                        depends={"loggingConfig": ("app-logs",)},
                    ),
                    subject="worker",
                ),
            ),
            non_compliant=(
                stack_case(_worker(), subject="worker"),
                stack_case(
                    _log_group("/aws/lambda/worker", retention=None), _worker(), subject="worker"
                ),
                stack_case(
                    _log_group("/aws/lambda/worker", retention=0),
                    Resource(
                        FUNCTION,
                        "worker",
                        {"name": "worker", "loggingConfig": {"logGroup": "/aws/lambda/worker"}},
                        depends={"loggingConfig": ("worker-logs",)},
                    ),
                    subject="worker",
                ),
            ),
        ),
    )
)


# LAMBDA-013 ---------------------------------------------------------------------------------

INVOKE_ACTIONS = ("lambda:InvokeFunction", "lambda:InvokeFunctionUrl", "lambda:InvokeAsync")


def _invokes(action: str) -> bool:
    return any(action_matches(action, a) for a in INVOKE_ACTIONS)


def _target_functions(graph: Graph, node: Node, prop: str) -> list[Node]:
    """The function `node.prop` names, directly or through an alias."""
    found = []
    for target in graph.refs(node, prop, (FUNCTION, ALIAS)):
        if target.type == ALIAS:
            found += graph.refs(target, "functionName", (FUNCTION,))
        else:
            found.append(target)
    return found


def _statement_principals(principal: Any) -> set[str]:
    if principal == "*":
        return {"*"}
    if not isinstance(principal, Mapping):
        return set()
    return {str(p) for values in principal.values() for p in as_list(values)}


def _invoke_principals(graph: Graph) -> dict[str, tuple[Node, set[str]]]:
    """function URN -> (function, the known principals granted invoke on it)."""
    grants: dict[str, tuple[Node, set[str]]] = {}

    def add(node: Node, prop: str, principals: set[str]) -> None:
        for function in _target_functions(graph, node, prop):
            grants.setdefault(function.urn, (function, set()))[1].update(principals)

    for permission in graph.of_type(PERMISSION):
        action, principal = permission.get("action"), permission.get("principal")
        if isinstance(action, str) and _invokes(action) and isinstance(principal, str):
            add(permission, "function", {principal})
    for policy in graph.of_type(RESOURCE_POLICY):
        principals: set[str] = set()
        for statement in statements(policy.props.json("policy"), policy) or []:
            if statement.allow and any(_invokes(a) for a in statement.actions):
                principals |= _statement_principals(statement.principal)
        add(policy, "resourceArn", principals)
    return grants


def _single_principal(graph: Graph, config: dict[str, Any]) -> Iterator[Finding]:
    for urn, (_, principals) in _invoke_principals(graph).items():
        if len(principals) > 1:
            yield Finding(
                f"{len(principals)} principals may invoke it ({', '.join(sorted(principals))})",
                urn=urn,
            )


def _grant(name: str, principal: str, function: str = "worker", **props: Any) -> Resource:
    return Resource(
        PERMISSION,
        name,
        {"action": "lambda:InvokeFunction", "principal": principal, **props},
        depends={"function": (function,)},
    )


register(
    Rule(
        id="LAMBDA-013",
        name="lambda-single-principal",
        title="Each Lambda function is invoked by a single principal",
        description=(
            "Invoke grants (Permissions and ResourcePolicy statements) grouped by function; "
            "more than one distinct principal is a finding."
        ),
        severity="MEDIUM",
        pillar="SEC",
        scope="stack",
        types=(PERMISSION, RESOURCE_POLICY, FUNCTION),
        reads={
            PERMISSION: ("function", "principal", "action"),
            RESOURCE_POLICY: ("resourceArn", "policy"),
            FUNCTION: ("arn", "name"),
        },
        anchors=anchors(serverless_rules="WS1002"),
        knob="",
        raw="principal",
        remediation=(
            "Raw: give each trigger its own aws.lambda_.Function, each with one Permission. "
            "Component: patterns wire one trigger per function; otherwise take an exemption."
        ),
        check=_single_principal,
        examples=Examples(
            compliant=(
                stack_case(
                    _worker(),
                    _grant("invoke-get", "apigateway.amazonaws.com"),
                    _grant("invoke-post", "apigateway.amazonaws.com"),
                    subject="worker",
                ),
            ),
            non_compliant=(
                stack_case(
                    _worker(),
                    _grant("invoke-api", "apigateway.amazonaws.com"),
                    _grant("invoke-rule", "events.amazonaws.com"),
                    subject="worker",
                ),
                # Fallback shape: grants name the function by ARN and by name.
                stack_case(
                    _worker(),
                    Resource(
                        PERMISSION,
                        "invoke-api",
                        {
                            "action": "lambda:InvokeFunction",
                            "principal": "apigateway.amazonaws.com",
                            "function": arn("lambda", "function:worker"),
                        },
                    ),
                    Resource(
                        RESOURCE_POLICY,
                        "policy",
                        {
                            "resourceArn": arn("lambda", "function:worker:live"),
                            "policy": _policy(_invoke_statement({"Service": "sns.amazonaws.com"})),
                        },
                    ),
                    subject="worker",
                ),
            ),
        ),
    )
)


# LAMBDA-017 / LAMBDA-018 ----------------------------------------------------------------------


def _arm64(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    architectures = node.get("architectures")
    if architectures is UNKNOWN or (isinstance(architectures, list) and UNKNOWN in architectures):
        return
    if architectures == ["arm64"]:
        return
    runtime = node.get("runtime")
    if runtime is UNKNOWN:
        return
    if isinstance(runtime, str):
        data = lifecycle(runtime, config.get("runtime_overrides"))
        if data is not None and not data.arm64:
            return
    if architectures is ABSENT:
        shown = "absent (x86_64)"
    elif isinstance(architectures, list):
        shown = ", ".join(_text(a) for a in architectures) or "empty (x86_64)"
    else:
        return  # not a list: nothing to judge
    yield Finding(f"architectures is {shown}, not arm64")


register(
    Rule(
        id="LAMBDA-017",
        name="lambda-arm64",
        title="Lambda functions run on arm64 (Graviton)",
        description=(
            "architectures absent (x86_64) or anything but [arm64] is a finding, unless the "
            "runtime lifecycle data marks the runtime as having no arm64 build."
        ),
        severity="LOW",
        pillar="COST",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("architectures", "runtime")},
        anchors=anchors(),
        knob="architecture='arm64'",
        raw="architectures=['arm64']",
        remediation=(
            "Raw: aws.lambda_.Function(..., architectures=['arm64']). "
            "Component: stack config `architecture: arm64` (the default)."
        ),
        check=_arm64,
        config=shared_config("runtime_overrides"),
        examples=Examples(
            compliant=(
                _function_props(runtime="python3.13", architectures=["arm64"]),
                _function_props(runtime="go1.x", architectures=["x86_64"]),
            ),
            non_compliant=(
                _function_props(runtime="python3.13"),
                _function_props(runtime="python3.13", architectures=["x86_64"]),
            ),
        ),
    )
)


def _description(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    description = node.get("description")
    if description is ABSENT or (isinstance(description, str) and not description.strip()):
        yield Finding("description is empty")


register(
    Rule(
        id="LAMBDA-018",
        name="lambda-description",
        title="Lambda functions carry a description",
        description="description absent or empty is a finding.",
        severity="LOW",
        pillar="OPS",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("description",)},
        anchors=anchors(crp="aws-lambda-function-missing-description"),
        knob="description",
        raw="description",
        remediation=(
            "Raw: aws.lambda_.Function(..., description='what it does'). "
            "Component: FunctionSpec(description=...); components fill it from their type."
        ),
        check=_description,
        examples=Examples(
            compliant=(_function_props(description="webhook consumer"),),
            non_compliant=(_function_props(), _function_props(description=" ")),
        ),
    )
)


# LAMBDA-019 to LAMBDA-023 (off by default) ------------------------------------------------------


def _reserved_everywhere(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    value = node.get("reservedConcurrentExecutions")
    concurrency = number(value)
    if value is ABSENT or (concurrency is not None and concurrency < 0):
        yield Finding("reserved concurrency is not set (-1)")
    elif concurrency == 0:
        yield Finding("reserved concurrency is 0, so the function can never run")


def _dlq_everywhere(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if unset(node.get("deadLetterConfig.targetArn")):
        yield Finding("no dead-letter queue (deadLetterConfig.targetArn)")


def _in_vpc(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if unset(node.get("vpcConfig.subnetIds")):
        yield Finding("the function is not attached to VPC subnets")


def _env_cmk(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    variables = node.get("environment.variables")
    if isinstance(variables, Mapping) and variables and unset(node.get("kmsKeyArn")):
        yield Finding("environment variables are encrypted with the AWS-managed key, not a CMK")


def _code_signing(node: Node, config: dict[str, Any]) -> Iterator[Finding]:
    if unset(node.get("codeSigningConfigArn")):
        yield Finding("no code signing configuration")


register(
    Rule(
        id="LAMBDA-019",
        name="lambda-reserved-concurrency-everywhere",
        title="Every Lambda function reserves concurrency",
        description=(
            "reservedConcurrentExecutions absent, -1 or 0 is a finding. Off: reserving for "
            "every function drains the account pool; STACK-001 is the targeted rule."
        ),
        severity="LOW",
        pillar="REL",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("reservedConcurrentExecutions",)},
        anchors=anchors(cdk_nag="LambdaConcurrency", checkov="CKV_AWS_115"),
        knob="reserved_concurrency",
        raw="reserved_concurrent_executions",
        remediation=(
            "Raw: aws.lambda_.Function(..., reserved_concurrent_executions=5). "
            "Component: FunctionSpec(reserved_concurrency=5)."
        ),
        check=_reserved_everywhere,
        enabled=False,
        examples=Examples(
            compliant=(_function_props(reservedConcurrentExecutions=5),),
            non_compliant=(
                _function_props(),
                _function_props(reservedConcurrentExecutions=-1),
                _function_props(reservedConcurrentExecutions=0),
            ),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-020",
        name="lambda-dlq-everywhere",
        title="Every Lambda function has a dead-letter queue",
        description=(
            "deadLetterConfig.targetArn absent is a finding. Off: only asynchronous "
            "invocations use it; STACK-004 is the targeted rule."
        ),
        severity="LOW",
        pillar="REL",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("deadLetterConfig.targetArn",)},
        anchors=anchors(cdk_nag="Serverless-LambdaDLQ", checkov="CKV_AWS_116"),
        knob="async_invoke",
        raw="dead_letter_config.target_arn",
        remediation=(
            "Raw: aws.lambda_.Function(..., dead_letter_config="
            "aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=dlq.arn)). "
            "Component: FunctionSpec(async_invoke=AsyncInvoke(on_failure_arn=...))."
        ),
        check=_dlq_everywhere,
        enabled=False,
        examples=Examples(
            compliant=(_function_props(deadLetterConfig={"targetArn": arn("sqs", "dlq")}),),
            non_compliant=(_function_props(),),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-021",
        name="lambda-in-vpc",
        title="Lambda functions run inside a VPC",
        description=(
            "vpcConfig.subnetIds absent or empty is a finding. Off: the Serverless Lens "
            "advises a VPC only when the function needs one."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("vpcConfig.subnetIds",)},
        anchors=anchors(cdk_nag="LambdaInsideVPC", checkov="CKV_AWS_117"),
        knob="",
        raw="vpc_config.subnet_ids",
        remediation=(
            "Raw: aws.lambda_.Function(..., vpc_config=aws.lambda_.FunctionVpcConfigArgs("
            "subnet_ids=[...], security_group_ids=[...]))."
        ),
        check=_in_vpc,
        enabled=False,
        examples=Examples(
            compliant=(
                _function_props(
                    vpcConfig={"subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0a1b"]}
                ),
            ),
            non_compliant=(_function_props(), _function_props(vpcConfig={"subnetIds": []})),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-022",
        name="lambda-env-cmk",
        title="Lambda environment variables are encrypted with a customer-managed key",
        description=(
            "environment.variables non-empty and kmsKeyArn absent is a finding. Variables are "
            "always encrypted with an AWS-managed key; this asks for a CMK."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("environment.variables", "kmsKeyArn")},
        anchors=anchors(checkov="CKV_AWS_173"),
        knob="",
        raw="kms_key_arn",
        remediation="Raw: aws.lambda_.Function(..., kms_key_arn=key.arn).",
        check=_env_cmk,
        enabled=False,
        examples=Examples(
            compliant=(
                _function_props(
                    environment={"variables": {"TABLE_NAME": "orders"}},
                    kmsKeyArn=arn("kms", "key/1234"),
                ),
                _function_props(),
            ),
            non_compliant=(_function_props(environment={"variables": {"TABLE_NAME": "orders"}}),),
        ),
    )
)

register(
    Rule(
        id="LAMBDA-023",
        name="lambda-code-signing",
        title="Lambda functions verify code signatures",
        description=(
            "codeSigningConfigArn absent is a finding; enable it per rule for regulated stacks."
        ),
        severity="LOW",
        pillar="SEC",
        scope="resource",
        types=(FUNCTION,),
        reads={FUNCTION: ("codeSigningConfigArn",)},
        anchors=anchors(checkov="CKV_AWS_272"),
        knob="",
        raw="code_signing_config_arn",
        remediation=(
            "Raw: aws.lambda_.Function(..., code_signing_config_arn=signing_config.arn) with an "
            "aws.lambda_.CodeSigningConfig."
        ),
        check=_code_signing,
        enabled=False,
        examples=Examples(
            compliant=(
                _function_props(codeSigningConfigArn=arn("lambda", "code-signing-config:csc-1")),
            ),
            non_compliant=(_function_props(),),
        ),
    )
)
