"""The state machine block: definition, role derived from it, logs, tracing, alarms.

`StateMachine(scope, suffix, definition, ...)` makes, as children of the scope's component:

- a log group `/aws/vendedlogs/states/<name>` with the stack's retention, and logging to it
  (`<arn>:*`) at `ERROR` without execution data in prod, `ALL` with data in dev;
- X-Ray tracing (the role gets the AWS managed X-Ray write policy);
- a role trusted by `states.amazonaws.com` for this account, whose inline policy is derived
  from the definition's service integrations: every Task (also inside Parallel branches and
  Map item processors) is mapped to the IAM actions it calls, on the ARN of the table, queue,
  topic, bus, function or state machine its parameters name; Distributed Maps get
  `states:StartExecution` on the machine itself and `DescribeExecution`/`StopExecution` on its
  child executions, and their S3 ItemReader/ResultWriter the bucket and prefix rights;
- alarms on `ExecutionsFailed`, `ExecutionsTimedOut` and `ExecutionsThrottled`.

The definition is ASL as Python data (see `components.core.asl`); values may be Outputs. A
target chosen at run time (`"TableName.$": "$.table"`) cannot be scoped to an ARN: list the
state's path in `runtime_targets` and grant it through `statements`. An integration the
block does not know is a `ValueError` naming the state, so no permission is ever missing
silently. Extra statements (KMS keys, a move task's queue rights) go in `statements`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from . import aws_context, iam
from .alarms import metric_alarm
from .scope import Scope

WorkflowType = Literal["STANDARD", "EXPRESS"]
LogLevel = Literal["ALL", "ERROR", "FATAL"]

# CloudWatch Logs' vended-log delivery API has no resource-level permissions (AWS documents
# these actions on "*"), and Step Functions checks them on the role when logging is set up.
# They are control-plane actions, granted in a policy of their own so it stays visible.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
)
_LOG_DELIVERY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": list(LOG_DELIVERY_ACTIONS), "Resource": "*"},
        ],
    },
    sort_keys=True,
)

_OPTIMIZED = "arn:aws:states:::"
_SDK = "arn:aws:states:::aws-sdk:"
# aws-sdk service names whose IAM prefix differs.
_IAM_PREFIX = {"sfn": "states", "eventbridge": "events", "cloudwatchlogs": "logs"}


class StateMachine:
    """One state machine with its log group, role and alarms, children of the scope's component.

    definition: the ASL document as Python data (Outputs allowed anywhere in its values).
    workflow_type: STANDARD, or EXPRESS (no callbacks, `.sync` or Distributed Map).
    statements: grants the definition cannot show (KMS keys, run-time targets).
    runtime_targets: paths (`Notify`, `Fanout/Branch[0]/Notify`) of Task states whose target
      comes from the execution input; their grants must be in `statements`.
    log_level: None follows the environment (ERROR in prod, ALL in dev); execution data is
      logged only at ALL.
    """

    def __init__(
        self,
        scope: Scope,
        suffix: str,
        definition: Mapping[str, Any],
        *,
        workflow_type: WorkflowType = "STANDARD",
        statements: Sequence[iam.Statement] = (),
        runtime_targets: Collection[str] = (),
        log_level: LogLevel | None = None,
    ) -> None:
        if workflow_type not in ("STANDARD", "EXPRESS"):
            raise ValueError(f"workflow_type must be one of STANDARD, EXPRESS ({workflow_type!r})")
        if log_level is not None and log_level not in ("ALL", "ERROR", "FATAL"):
            raise ValueError(f"log_level must be one of ALL, ERROR, FATAL (got {log_level!r})")
        level = log_level or ("ERROR" if scope.settings.production else "ALL")
        self.name = scope.physical(suffix, max_length=80)
        context = _Context(scope.component, self.name)
        derived = derive_statements(definition, context, runtime_targets=runtime_targets)

        self.log_group = aws.cloudwatch.LogGroup(
            scope.child(f"{suffix}-logs"),
            name=f"/aws/vendedlogs/states/{self.name}",
            retention_in_days=scope.settings.log_retention_days,
            tags=scope.tags,
            opts=scope.opts(),
        )
        self.role, self.policy = iam.service_role(
            scope,
            suffix,
            "states.amazonaws.com",
            [*derived, *statements],
            source_account=context.account,
        )
        self.log_delivery_policy = aws.iam.RolePolicy(
            scope.child(f"{suffix}-log-delivery"),
            role=self.role.id,
            policy=_LOG_DELIVERY_POLICY,
            opts=scope.opts(),
        )
        self.xray_attachment = aws.iam.RolePolicyAttachment(
            scope.child(f"{suffix}-xray"),
            role=self.role.name,
            policy_arn=iam.XRAY_WRITE_POLICY,
            opts=scope.opts(),
        )
        ready: list[pulumi.Resource] = [self.log_delivery_policy, self.xray_attachment]
        if self.policy is not None:
            ready.append(self.policy)
        self.state_machine = aws.sfn.StateMachine(
            scope.child(suffix),
            name=self.name,
            type=workflow_type,
            role_arn=self.role.arn,
            definition=pulumi.Output.from_input(dict(definition)).apply(json.dumps),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level=level,
                include_execution_data=level == "ALL",
                log_destination=self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            tags=scope.tags,
            opts=scope.opts(depends_on=ready),
        )
        self.arn: pulumi.Output[str] = self.state_machine.arn

        dimensions = {"StateMachineArn": self.arn}
        self.failed_alarm, self.timed_out_alarm, self.throttled_alarm = (
            metric_alarm(
                scope,
                f"{suffix}-{metric.lower().removeprefix('executions')}",
                namespace="AWS/States",
                metric=metric,
                dimensions=dimensions,
                statistic="Sum",
                threshold=0,
                description=f"{self.name}: {text}",
            )
            for metric, text in (
                ("ExecutionsFailed", "executions failed"),
                ("ExecutionsTimedOut", "executions timed out"),
                ("ExecutionsThrottled", "executions were throttled"),
            )
        )


# Deriving the role ----------------------------------------------------------------------


class _Context:
    """ARN parts of the stack, for turning names and URLs into ARNs."""

    def __init__(self, parent: pulumi.Resource, machine_name: str) -> None:
        self.region = aws_context.region(parent)
        self.account = aws_context.account_id(parent)
        self.partition = aws_context.partition(parent)
        self.machine_name = machine_name

    def arn(self, build: Callable[[str, str, str, str], str], value: Any) -> pulumi.Output[str]:
        """`build(partition, region, account, value)` once all four are known."""
        return pulumi.Output.all(self.partition, self.region, self.account, value).apply(
            lambda v: build(v[0], v[1], v[2], v[3])
        )


Arn = Callable[[_Context, Any], list[pulumi.Output[str]]]


def _as_arn(service: str, kind: str, separator: str = "/") -> Arn:
    """A name or ARN parameter; a name becomes `arn:<p>:<service>:<r>:<a>:<kind>/<name>`."""

    def build(p: str, r: str, a: str, value: str) -> str:
        if value.startswith("arn:"):
            return value
        return f"arn:{p}:{service}:{r}:{a}:{kind}{separator}{value}"

    return lambda ctx, value: [ctx.arn(build, value)]


def _queue_from_url(ctx: _Context, value: Any) -> list[pulumi.Output[str]]:
    def build(p: str, _r: str, _a: str, url: str) -> str:
        if url.startswith("arn:"):
            return url
        host, account, name = url.removeprefix("https://").rstrip("/").split("/")[-3:]
        labels = host.split(".")
        region = labels[1] if labels[0] == "sqs" else labels[0]
        return f"arn:{p}:sqs:{region}:{account}:{name}"

    return [ctx.arn(build, value)]


def _function(ctx: _Context, value: Any) -> list[pulumi.Output[str]]:
    (arn,) = _as_arn("lambda", "function", ":")(ctx, value)
    # Versions and aliases are `<arn>:<qualifier>`.
    return [arn, arn.apply(lambda a: f"{a}:*")]


def _verbatim(_ctx: _Context, value: Any) -> list[pulumi.Output[str]]:
    return [pulumi.Output.from_input(value)]


_TABLE = _as_arn("dynamodb", "table")
_BUS = _as_arn("events", "event-bus")
# Parameter name -> how its value becomes the resource ARN, in the order they are tried.
_TARGET_PARAMETERS: tuple[tuple[str, Arn], ...] = (
    ("QueueUrl", _queue_from_url),
    ("TableName", _TABLE),
    ("FunctionName", _function),
    ("TopicArn", _verbatim),
    ("StateMachineArn", _verbatim),
    ("SourceArn", _verbatim),
    ("EventBusName", _BUS),
)
# Optimized integrations: (service, action) -> IAM actions; the target comes from the
# parameters as for SDK calls.
_OPTIMIZED_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("lambda", "invoke"): ("lambda:InvokeFunction",),
    ("dynamodb", "getItem"): ("dynamodb:GetItem",),
    ("dynamodb", "putItem"): ("dynamodb:PutItem",),
    ("dynamodb", "updateItem"): ("dynamodb:UpdateItem",),
    ("dynamodb", "deleteItem"): ("dynamodb:DeleteItem",),
    ("sqs", "sendMessage"): ("sqs:SendMessage",),
    ("sns", "publish"): ("sns:Publish",),
    ("events", "putEvents"): ("events:PutEvents",),
    ("states", "startExecution"): ("states:StartExecution",),
}


def state_paths(definition: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping]]:
    """Every state as (`path`, state), into Parallel branches and Map item processors."""
    for name, state in (definition.get("States") or {}).items():
        path = f"{prefix}{name}"
        yield path, state
        for index, branch in enumerate(state.get("Branches") or ()):
            yield from state_paths(branch, f"{path}/Branch[{index}]/")
        # Paths as the ASL checker names them (components may not import the policy pack).
        for label in ("ItemProcessor", "Iterator"):
            if state.get(label):
                yield from state_paths(state[label], f"{path}/{label}/")


def derive_statements(
    definition: Mapping[str, Any], ctx: _Context, *, runtime_targets: Collection[str] = ()
) -> list[iam.Statement]:
    """The least-privilege statements the definition's integrations need (see module doc)."""
    grants = _Grants()
    paths = set()
    for path, state in state_paths(definition):
        paths.add(path)
        if state.get("Type") == "Map":
            _map_grants(path, state, ctx, grants)
        if state.get("Type") != "Task" or path in runtime_targets:
            continue
        resource = state.get("Resource")
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        if not isinstance(resource, str):
            raise ValueError(f"state {path!r}: Resource must be a plain string")
        actions, service = _task_actions(path, resource)
        if actions is None:
            continue
        if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
            grants.add(actions, _function(ctx, resource), key=("lambda", resource))
            continue
        if resource.startswith(_OPTIMIZED) and service == "events":
            for entry in parameters.get("Entries") or [{}]:
                _reject_dynamic(path, entry, "EventBusName")
                _reject_dynamic(path, entry, "Source")
                if not isinstance(entry.get("Source"), str):
                    raise ValueError(
                        f"state {path!r}: each PutEvents entry needs a static Source, which "
                        "pins the machine's grant to it (events:source)"
                    )
                bus = entry.get("EventBusName", "default")
                grants.add(
                    actions,
                    _BUS(ctx, bus),
                    key=("bus", _identity(bus)),
                    sources=(entry["Source"],),
                )
            continue
        targets = _targets(path, parameters, ctx)
        if targets is None:
            raise ValueError(
                f"state {path!r}: no parameter names the target of {resource}; list the path "
                "in runtime_targets and grant it through statements"
            )
        key, arns = targets
        grants.add(actions, arns, key=key)
        if resource.endswith(".sync") or resource.endswith(".sync:2"):
            _sync_grants(path, service, parameters, ctx, grants)
    unknown = sorted(set(runtime_targets) - paths)
    if unknown:
        raise ValueError(f"runtime_targets names no state of the definition: {unknown}")
    return grants.statements()


def _task_actions(path: str, resource: str) -> tuple[tuple[str, ...] | None, str]:
    if resource.startswith(_SDK):
        service, _, action = resource.removeprefix(_SDK).partition(":")
        action = action.split(".")[0]
        prefix = _IAM_PREFIX.get(service, service)
        return (f"{prefix}:{action[:1].upper()}{action[1:]}",), service
    if resource.startswith(_OPTIMIZED):
        service, _, action = resource.removeprefix(_OPTIMIZED).partition(":")
        action = action.split(".")[0]
        actions = _OPTIMIZED_ACTIONS.get((service, action))
        if actions is None:
            raise ValueError(
                f"state {path!r}: no IAM mapping for {resource}; list the path in "
                "runtime_targets and grant it through statements"
            )
        return actions, service
    if ":lambda:" in resource and ":function:" in resource:
        return ("lambda:InvokeFunction",), "lambda"
    if ":states:" in resource and ":activity:" in resource:
        return None, "activity"  # workers poll the activity with their own rights
    raise ValueError(f"state {path!r}: unknown Task resource {resource!r}")


def _targets(
    path: str, parameters: Mapping[str, Any], ctx: _Context
) -> tuple[tuple[str, str], list[pulumi.Output[str]]] | None:
    for name, to_arns in _TARGET_PARAMETERS:
        _reject_dynamic(path, parameters, name)
        if name in parameters:
            value = parameters[name]
            return (name, _identity(value)), to_arns(ctx, value)
    return None


def _reject_dynamic(path: str, parameters: Mapping[str, Any], name: str) -> None:
    if f"{name}.$" in parameters:
        raise ValueError(
            f"state {path!r}: {name} comes from the execution input, so it cannot be scoped to "
            "an ARN; list the path in runtime_targets and grant it through statements"
        )


def _map_grants(path: str, state: Mapping[str, Any], ctx: _Context, grants: _Grants) -> None:
    processor = state.get("ItemProcessor") or {}
    if (processor.get("ProcessorConfig") or {}).get("Mode") != "DISTRIBUTED":
        return
    machine = ctx.arn(
        lambda p, r, a, name: f"arn:{p}:states:{r}:{a}:stateMachine:{name}", ctx.machine_name
    )
    children = ctx.arn(
        lambda p, r, a, name: f"arn:{p}:states:{r}:{a}:execution:{name}/*", ctx.machine_name
    )
    grants.add(("states:StartExecution",), [machine], key=("self", "machine"))
    grants.add(
        ("states:DescribeExecution", "states:StopExecution"), [children], key=("self", "children")
    )
    reader = state.get("ItemReader")
    if reader:
        parameters = reader.get("Parameters") or {}
        _reject_dynamic(f"{path}/ItemReader", parameters, "Bucket")
        bucket = parameters.get("Bucket")
        if bucket is None:
            raise ValueError(f"state {path!r}: ItemReader needs a Bucket parameter")
        if reader.get("Resource", "").endswith("s3:listObjectsV2"):
            arn = ctx.arn(lambda p, _r, _a, b: f"arn:{p}:s3:::{b}", bucket)
            grants.add(("s3:ListBucket",), [arn], key=("bucket", _identity(bucket)))
        else:
            key = parameters.get("Key", "*")
            arn = ctx.arn(lambda p, _r, _a, v: f"arn:{p}:s3:::{v[0]}/{v[1]}", [bucket, key])
            grants.add(("s3:GetObject",), [arn], key=("object", _identity(bucket)))
    writer = state.get("ResultWriter")
    if writer:
        parameters = writer.get("Parameters") or {}
        _reject_dynamic(f"{path}/ResultWriter", parameters, "Bucket")
        bucket, prefix = parameters.get("Bucket"), parameters.get("Prefix", "")
        if bucket is None:
            raise ValueError(f"state {path!r}: ResultWriter needs a Bucket parameter")
        arn = ctx.arn(
            lambda p, _r, _a, v: f"arn:{p}:s3:::{v[0]}/{_key_prefix(v[1])}*", [bucket, prefix]
        )
        grants.add(
            (
                "s3:AbortMultipartUpload",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ),
            [arn],
            key=("results", _identity(bucket)),
        )


def _key_prefix(prefix: str) -> str:
    prefix = str(prefix).strip("/")
    return f"{prefix}/" if prefix else ""


def _sync_grants(
    path: str, service: str, parameters: Mapping[str, Any], ctx: _Context, grants: _Grants
) -> None:
    """`.sync` waits through a managed EventBridge rule and polls the job it started."""
    if service != "states":
        raise ValueError(
            f"state {path!r}: .sync for {service} has no IAM mapping; list the path in "
            "runtime_targets and grant it through statements"
        )
    target = parameters["StateMachineArn"]
    executions = pulumi.Output.from_input(target).apply(
        lambda arn: arn.replace(":stateMachine:", ":execution:") + ":*"
    )
    grants.add(
        ("states:DescribeExecution", "states:StopExecution"),
        [executions],
        key=("executions", _identity(target)),
    )
    rule = ctx.arn(
        lambda p, r, a, _: (
            f"arn:{p}:events:{r}:{a}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
        ),
        "",
    )
    grants.add(
        ("events:PutTargets", "events:PutRule", "events:DescribeRule"),
        [rule],
        key=("rule", "sfn-sync"),
    )


def _identity(value: Any) -> str:
    """A key that is equal for the same parameter value (the same Output object or string)."""
    return value if isinstance(value, str) else f"output:{id(value)}"


class _Grants:
    """Actions per target, so each table or queue ends up in one statement."""

    def __init__(self) -> None:
        self._by_target: dict[
            tuple[str, str], tuple[set[str], list[pulumi.Output[str]], set[str]]
        ] = {}

    def add(
        self,
        actions: Sequence[str],
        resources: list[pulumi.Output[str]],
        *,
        key: tuple[str, str],
        sources: Sequence[str] = (),
    ) -> None:
        """`sources`: the event sources PutEvents may use on this bus (events:source)."""
        existing = self._by_target.setdefault(key, (set(), resources, set()))
        existing[0].update(actions)
        existing[2].update(sources)

    def statements(self) -> list[iam.Statement]:
        return [
            iam.events_put(resources[0], sorted(sources))
            if sources
            else iam.Statement(sorted(actions), resources)
            for actions, resources, sources in self._by_target.values()
        ]
