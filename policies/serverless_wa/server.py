"""A faster analyzer servicer: the SDK's, deserializing each request once.

pulumi-policy's `_PolicyAnalyzerServicer` deserializes a resource's properties again for
every policy, and every stack resource again for every stack policy: O(rules x resources)
protobuf conversions, most of the gate's time. `FastAnalyzerServicer` keeps the SDK's
protocol, configuration, enforcement and diagnostics (it reuses the SDK's own helpers) but
deserializes once per request, skips resource policies whose rule does not cover the
resource's type (their validate would return at once), and hands every stack policy the
same resource objects, so stack rules share one relationship graph.

`install()` swaps it in before `PolicyPack` is constructed; if the SDK's internals differ
from the pinned version it was written against, it leaves the SDK's servicer in place.
tests/policies/test_server.py checks both give identical responses.
"""

from __future__ import annotations

import asyncio
import gc
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from inspect import isawaitable
from typing import Any

from pulumi.runtime import proto
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

_SDK_ANALYZER = sdk._PolicyAnalyzerServicer
_PRIVATE = "_PolicyAnalyzerServicer__"


def struct_to_dict(message: Any) -> dict[str, Any]:
    """`json_format.MessageToDict` of a `Struct`, the same values in the same order, without
    its per-field descriptor lookups (most of the cost of reading a request)."""
    fields = message.fields
    return {key: _value(fields[key]) for key in fields}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number) or math.isnan(number):  # as MessageToDict refuses them
            raise ValueError(f"Fail to serialize {number} for Value.number_value")
        return number
    return None


_PAUSE = threading.Lock()
_pauses = {"in_flight": 0, "resume": False}


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while requests are analyzed, back as it was when
    the last one in flight ends. A request builds many objects that live until it ends and
    few cycles, so the collector's passes, each over the whole growing heap, find little
    and cost time that grows faster than the stack (AnalyzeStack of 10,000 resources spent
    about a third of its time in them). Reference counting frees the rest as before."""
    with _PAUSE:
        if _pauses["in_flight"] == 0:
            _pauses["resume"] = gc.isenabled()
            gc.disable()
        _pauses["in_flight"] += 1
    try:
        yield
    finally:
        with _PAUSE:
            _pauses["in_flight"] -= 1
            if _pauses["in_flight"] == 0 and _pauses["resume"]:
                gc.enable()


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


class FastAnalyzerServicer(_SDK_ANALYZER):
    def _private(self, name: str) -> Any:
        return getattr(self, _PRIVATE + name)

    def _cannot_run(self, response: Any, policy: Any, error: UnknownValueError) -> None:
        name, version = self._private("policy_pack_name"), self._private("policy_pack_version")
        response.diagnostics.append(
            proto.AnalyzeDiagnostic(
                policyName=policy.name,
                policyPackName=name,
                policyPackVersion=version,
                message=(
                    f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' "
                    f"during preview: {error.message}"
                ),
                urn="",
                description=policy.description,
                enforcementLevel=self._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),
            )
        )

    def _levels(self, kind: type) -> list[tuple[Any, Any]]:
        chosen = []
        for policy in self._private("policies"):
            level = self._get_enforcement_level(policy)
            if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, kind):
                continue
            if level == sdk.EnforcementLevel.REMEDIATE:
                level = sdk.EnforcementLevel.MANDATORY
            chosen.append((policy, level))
        return chosen

    def Configure(self, request: Any, context: Any) -> Any:
        self._by_type: dict[str, list[tuple[Any, Any]]] | None = None
        return super().Configure(request, context)

    def _resource_policies(self, resource_type: str) -> list[tuple[Any, Any]]:
        """Enabled resource policies that cover `resource_type` (a policy without declared
        types covers all), indexed once per Configure."""
        index: dict[str, list[tuple[Any, Any]]] | None = getattr(self, "_by_type", None)
        if index is None:
            index = {}
            for policy, level in self._levels(sdk.ResourceValidationPolicy):
                for kind in getattr(policy, "resource_types", None) or ("*",):
                    index.setdefault(kind, []).append((policy, level))
            self._by_type = index
        return [*index.get(resource_type, []), *index.get("*", [])]

    def Analyze(self, request: Any, context: Any) -> Any:
        with collector_paused():
            return self._analyze(request, context)

    def _analyze(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        policies = self._resource_policies(request.type)
        if not policies:
            return response
        deserialized = deserialize_properties(struct_to_dict(request.properties))
        props = unknown_checking_proxy(deserialized)
        opts = self._get_resource_options(request)
        provider = self._get_provider_resource(request)
        stack_tags = self._private("stack_tags")
        for policy, level in policies:
            if not policy.has_validation():
                response.not_applicable.append(
                    proto.PolicyNotApplicable(
                        policy_name=policy.name, reason="Policy does not implement validate"
                    )
                )
                continue
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            config = self._get_policy_config(policy.name)
            args = sdk.ResourceValidationArgs(
                request.type, props, request.urn, request.name, opts, provider, config, stack_tags
            )
            try:
                _run(policy.validate(args, report))
            except UnknownValueError as error:
                self._cannot_run(response, policy, error)
            except sdk._NotApplicableError as error:
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or "")
                )
        return response

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        with collector_paused():
            return self._analyze_stack(request, context)

    def _analyze_stack(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        policies = self._levels(sdk.StackValidationPolicy)
        if not policies:
            return response
        resources = self._stack_resources(request)
        stack_tags = self._private("stack_tags")
        for policy, level in policies:
            report = self._create_report_violation(
                response, policy.name, policy.description, level, policy.severity
            )
            args = sdk.StackValidationArgs(
                resources, self._get_policy_config(policy.name), stack_tags
            )
            try:
                _run(policy.validate(args, report))
            except UnknownValueError as error:
                self._cannot_run(response, policy, error)
            except sdk._NotApplicableError as error:
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or "")
                )
        return response

    def _stack_resources(self, request: Any) -> list[Any]:
        """The SDK's PolicyResources, parents and dependencies linked, built once."""
        built = []
        for r in request.resources:
            props = unknown_checking_proxy(deserialize_properties(struct_to_dict(r.properties)))
            resource = sdk.PolicyResource(
                r.type,
                props,
                r.urn,
                r.name,
                self._get_resource_options(r),
                self._get_provider_resource(r),
                None,
                [],
                {},
            )
            built.append((resource, r))
        by_urn = {resource.urn: resource for resource, _ in built}
        for resource, r in built:
            if r.parent in by_urn:
                resource.parent = by_urn[r.parent]
            resource.dependencies.extend(by_urn[d] for d in r.dependencies if d in by_urn)
            for key, deps in r.propertyDependencies.items():
                resource.property_dependencies[key] = [by_urn[u] for u in deps.urns if u in by_urn]
        return [resource for resource, _ in built]


def compatible() -> bool:
    """Whether the installed SDK has the internals FastAnalyzerServicer relies on."""
    needed = ("_get_enforcement_level", "_create_report_violation", "_get_resource_options",
              "_get_provider_resource", "_get_policy_config", "_configure_runtime_settings",
              "_map_enforcement_level")  # fmt: skip
    return all(hasattr(_SDK_ANALYZER, n) for n in needed) and hasattr(sdk, "_NotApplicableError")


def install() -> bool:
    """Make `PolicyPack` serve with FastAnalyzerServicer; False when left as the SDK's."""
    if not compatible():
        return False
    sdk._PolicyAnalyzerServicer = FastAnalyzerServicer  # type: ignore[misc]
    return True
