"""Stack config -> validated settings and pattern args, before any resource exists.

Config keys (namespace `serverless-patterns`):

- `patterns` (`{}`): map of pattern slug -> that pattern's args
- `environment` (`dev`): `dev` or `prod` (deletion protection and the like in prod)
- `tags` (`{}`): tags on every taggable resource
- `logRetentionDays` (`30`): retention of every log group
- `powertoolsLayerArn` (AWS-managed Powertools v3): layer ARN, `{region}` filled in
- `runtime` (`python3.13`) and `architecture` (`arm64` or `x86_64`): function defaults
- `alarmTopicArn` (a new encrypted SNS topic): where every alarm notifies
- `apiGatewayAccount` (`false`): set API Gateway's per-Region CloudWatch role

Pattern args use the args dataclass's field names (`consumer_concurrency`). Values are
checked against the field's type (int, float, str, bool, a Literal's choices, a nested
spec, lists and maps), then by the dataclass itself. Resource slots (an existing table,
say) can only be passed in code. Every problem is collected into one `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components.catalog import CATALOG
from components.core.pattern import PatternArgs
from components.core.settings import Settings

NAMESPACE = "serverless-patterns"


class ConfigError(pulumi.RunError):
    """A stack config problem; Pulumi prints a RunError without a traceback."""


@dataclass(frozen=True)
class PatternChoice:
    slug: str
    args: PatternArgs


@dataclass(frozen=True)
class ProgramConfig:
    settings: Settings
    patterns: list[PatternChoice]
    alarm_topic_arn: str | None = None
    api_gateway_account: bool = False


@dataclass(frozen=True, kw_only=True)
class _TopLevel:
    """The shape of the namespace's top-level keys (camelCase in the stack file)."""

    patterns: dict[str, Any] = field(default_factory=dict)
    environment: Literal["dev", "prod"] = "dev"
    tags: dict[str, str] = field(default_factory=dict)
    log_retention_days: int = Settings.log_retention_days
    powertools_layer_arn: str = Settings.powertools_layer_arn
    runtime: str = Settings.runtime
    architecture: Literal["arm64", "x86_64"] = "arm64"
    alarm_topic_arn: str | None = None
    api_gateway_account: bool = False


class _Invalid(Exception):
    pass


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(v) for v in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a map with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    if origin in (dict, Mapping):
        return "a map"
    if origin in (list, tuple):
        return "a list"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _Invalid(f"{path}: must be {_describe(tp)} (got {value!r})")
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(value, option, path)
            except _Invalid as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise _Invalid(f"{path}: must be {_describe(tp)} (got {value!r})")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise _Invalid(f"{path}: must be {_describe(tp)} (got {value!r})")
        return _build(tp, value, path)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Invalid(f"{path}: must be a map (got {value!r})")
        _, value_type = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(v, value_type, f"{path}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _Invalid(f"{path}: must be a list (got {value!r})")
        item = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        items = [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise _Invalid(f"{path}: is a resource slot; pass an existing resource in code")
    raise _Invalid(f"{path}: must be {_describe(tp)} (got {value!r})")


def _configurable(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name != "settings"}


def _build(cls: type, values: Mapping[str, Any], path: str, **extra: Any) -> Any:
    fields = _configurable(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise _Invalid(
            f"{path}: unknown argument {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    missing = sorted(
        f.name
        for f in dataclasses.fields(cls)
        if f.name in fields
        and f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise _Invalid(f"{path}: missing argument {', '.join(map(repr, missing))}")
    kwargs = {name: _convert(v, fields[name], f"{path}.{name}") for name, v in values.items()}
    try:
        return cls(**kwargs, **extra)
    except ValueError as error:
        raise _Invalid(f"{path}: {error}") from None


def _decode(raw: Any) -> Any:
    """Pulumi hands structured and scalar values over as strings; decode what is JSON."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse(raw: Mapping[str, Any]) -> ProgramConfig:
    """`raw`: every config key of the stack (`namespace:key` -> value)."""
    errors: list[str] = []
    prefix = f"{NAMESPACE}:"
    top_values: dict[str, Any] = {}
    top_fields = _configurable(_TopLevel)
    for key, value in raw.items():
        if not key.startswith(prefix):
            continue
        name = key.removeprefix(prefix)
        if _snake(name) not in top_fields or name != _camel(_snake(name)):
            allowed = ", ".join(sorted(prefix + _camel(f) for f in top_fields))
            errors.append(f"{key}: unknown config key; allowed: {allowed}")
            continue
        field_name = _snake(name)
        decoded = _decode(value)
        # A string setting that happens to look like JSON ("123") stays a string.
        if top_fields[field_name] is str and not isinstance(decoded, str):
            decoded = value
        try:
            top_values[field_name] = _convert(decoded, top_fields[field_name], key)
        except _Invalid as error:
            errors.append(str(error))
    top = _TopLevel(**top_values)

    settings = Settings()
    try:
        settings = Settings(
            environment=top.environment,
            tags=top.tags,
            log_retention_days=top.log_retention_days,
            powertools_layer_arn=top.powertools_layer_arn,
            runtime=top.runtime,
            architecture=top.architecture,
        )
    except ValueError as error:
        errors.append(f"{NAMESPACE}: {error}")

    choices: list[PatternChoice] = []
    for slug, args in top.patterns.items():
        path = f"{prefix}patterns.{slug}"
        entry = CATALOG.get(slug)
        if entry is None:
            errors.append(
                f"{prefix}patterns: unknown pattern {slug!r}; allowed: {', '.join(sorted(CATALOG))}"
            )
            continue
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            errors.append(f"{path}: must be a map of arguments (got {args!r})")
            continue
        try:
            choices.append(PatternChoice(slug, _build(entry.args, args, path, settings=settings)))
        except _Invalid as error:
            errors.append(str(error))
    if errors:
        raise ConfigError("invalid stack config:\n  " + "\n  ".join(errors))
    return ProgramConfig(settings, choices, top.alarm_topic_arn, top.api_gateway_account)


def read_pulumi_config() -> dict[str, Any]:
    """Every config key the engine passed to this program."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
