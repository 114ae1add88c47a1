"""Stack config -> validated settings and pattern args, before any resource exists.

Config keys (namespace `serverless-patterns`):

- `patterns` (required): at least one pattern. Each key is a pattern's slug mapped to its
  args (`saga: {}`), or an instance name mapped to `pattern: <slug>` plus its args
  (`orders-hook: {pattern: scalable-webhook, consumer_concurrency: 3}`), so a stack can hold
  several instances of one pattern. The key names the component and prefixes its physical
  names: lowercase letters, digits and hyphens, starting with a letter, at most 32 characters
- `environment` (`dev`): `dev` or `prod` (deletion protection and the like in prod)
- `tags` (`{}`): tags on every taggable resource
- `logRetentionDays` (`30`): retention of every log group
- `powertoolsLayerArn` (AWS-managed Powertools v3): layer ARN, `{region}` filled in
- `runtime` (`python3.13`) and `architecture` (`arm64` or `x86_64`): function defaults
- `alarmTopicArn` (a new encrypted SNS topic): where every alarm notifies
- `apiGatewayAccount` (`false`): set API Gateway's per-Region CloudWatch role

Pattern args use the args dataclass's field names (`consumer_concurrency`); a renamed
argument's former name (`renamed_arguments`, e.g. `event_bus` for `event_bus_name`) still
works, and the program says which name to use. Values are checked against the field's type
(int, float, str, bool, a Literal's choices, a nested spec, lists and maps), then by the
dataclass itself. Resource slots (an existing table, say) can only be passed in code. Keys
of other namespaces pass through, except a near-miss of ours (a typo) and an `aws:region`
the AWS provider does not know. Every problem is collected into one `ConfigError`, each
naming the key as the stack file spells it.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi.output
import pulumi_aws as aws

from .catalog import CATALOG
from .core.pattern import PatternArgs
from .core.settings import SNS_TOPIC, Settings, tag_problems

NAMESPACE = "serverless-patterns"
PATTERNS_KEY = f"{NAMESPACE}:patterns"
REGION_KEY = "aws:region"
SKIP_REGION_VALIDATION_KEY = "aws:skipRegionValidation"
# The AWS provider's own list: it refuses any other Region unless skipRegionValidation.
REGIONS = frozenset(region.value for region in aws.Region)
NEAR_MISS = 0.75  # difflib ratio above which another namespace is taken for a typo of ours

Key = tuple[str | int, ...]


def key_text(key: Key) -> str:
    """`serverless-patterns:patterns.saga.steps[0]`: the key path as one string."""
    head, *rest = key
    return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config.

    key: the key the message is about; at: the key whose place in the stack file shows
    it best (default: key), e.g. an unknown argument's own line.
    """

    key: Key
    message: str
    at: Key | None = None

    @property
    def location(self) -> Key:
        return self.at or self.key

    def __str__(self) -> str:
        return f"{key_text(self.key)}: {self.message}"


class ConfigError(pulumi.RunError):
    """A stack config problem; Pulumi prints a RunError without a traceback."""

    def __init__(self, problems: Sequence[Problem], render: Callable[[Problem], str] = str) -> None:
        self.problems = list(problems)
        super().__init__(
            "invalid stack config:\n  " + "\n  ".join(render(p) for p in self.problems)
        )


@dataclass(frozen=True)
class PatternChoice:
    slug: str
    args: PatternArgs
    name: str = ""  # the instance name the stack gave it; the slug when it gave none

    @property
    def instance(self) -> str:
        return self.name or self.slug


@dataclass(frozen=True)
class ProgramConfig:
    settings: Settings
    patterns: list[PatternChoice]
    alarm_topic_arn: str | None = None
    api_gateway_account: bool = False
    notes: list[str] = field(default_factory=list)  # former argument names the stack uses


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
    def __init__(self, problems: list[Problem], *, slot: bool = False) -> None:
        super().__init__(problems)
        self.problems = problems
        self.slot = slot  # the type is a resource slot, never configurable


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _did_you_mean(name: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    if origin in (list, tuple, Sequence):
        return "a list"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _invalid(key: Key, message: str) -> _Invalid:
    return _Invalid([Problem(key, message)])


# The engine decrypts a secret before the program reads it; a stack file read offline
# cannot be. No setting of the library is a secret in the first place.
_ENCRYPTED = (
    "is encrypted (`secure:`), which the offline preview cannot decrypt; no setting of this "
    "library is a secret (a secret goes in Secrets Manager and is passed by ARN), so set it "
    "in plain text"
)


def _encrypted(value: Any) -> bool:
    return isinstance(value, Mapping) and list(value) == ["secure"]


def _convert(value: Any, tp: Any, key: Key) -> Any:
    if _encrypted(value):
        raise _invalid(key, _ENCRYPTED)
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _invalid(key, f"must be {_describe(tp)} (got {value!r})")
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(value, option, key)
            except _Invalid as error:
                errors.append(error)
        configurable = [e for e in errors if not e.slot] or errors
        if len(configurable) == 1:
            raise configurable[0]
        raise _invalid(key, f"must be {_describe(tp)} (got {value!r})")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise _invalid(key, f"must be {_describe(tp)} (got {value!r})")
        return _build(tp, value, key)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _invalid(key, f"must be a map (got {value!r})")
        _, value_type = typing.get_args(tp) or (str, Any)
        return _collect({str(k): (v, value_type, (*key, str(k))) for k, v in value.items()})
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list):
            raise _invalid(key, f"must be a list (got {value!r})")
        item = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        items = _collect({i: (v, item, (*key, i)) for i, v in enumerate(value)})
        return tuple(items.values()) if origin is tuple else list(items.values())
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
        raise _Invalid(
            [Problem(key, "is a resource slot; pass an existing resource in code")], slot=True
        )
    raise _invalid(key, f"must be {_describe(tp)} (got {value!r})")


def _collect(items: Mapping[Any, tuple[Any, Any, Key]]) -> dict[Any, Any]:
    """Convert every item, raising the problems of all that fail together."""
    converted, failed = _convert_each(items)
    if failed:
        raise _Invalid([p for problems in failed.values() for p in problems])
    return converted


def _convert_each(
    items: Mapping[Any, tuple[Any, Any, Key]],
) -> tuple[dict[Any, Any], dict[Any, list[Problem]]]:
    """Convert every item: the converted values, and the problems of each that fails."""
    converted, failed = {}, {}
    for name, (value, tp, key) in items.items():
        try:
            converted[name] = _convert(value, tp, key)
        except _Invalid as error:
            failed[name] = error.problems
    return converted, failed


# `pulumi.Input[str]` in a field's type refers to "Output[T]" by name, which only pulumi's
# own module can resolve.
_PULUMI_NAMES = {"Output": pulumi.Output, "T": pulumi.output.T}


@functools.cache  # evaluating the annotations is most of a parse; a class's never change
def _configurable(cls: type) -> Mapping[str, Any]:
    hints = typing.get_type_hints(cls, localns=_PULUMI_NAMES)
    return types.MappingProxyType(
        {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name != "settings"}
    )


def _optional(cls: type) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }


_LEADING_NAME = re.compile(r"^([a-z_][a-z0-9_]*)(?=[ :])")


def _construct(
    cls: type,
    kwargs: dict[str, Any],
    place: Callable[[str | None, str], Problem],
    left_out: Iterable[str] = (),
    **extra: Any,
) -> tuple[Any, list[Problem]]:
    """`cls(**kwargs)`, and every problem its checks find.

    A check raises at its first problem; its message starts with the argument's name. When
    that argument has a default, it is left out and the checks run again, so independent
    problems are reported together. A later message that mentions an argument left out is
    dropped: it may only be about the default that stood in for it. `left_out` names
    arguments left out before (a value of the wrong type).
    """
    fields, optional = {f.name for f in dataclasses.fields(cls)}, _optional(cls)
    kwargs = dict(kwargs)
    problems: list[Problem] = []
    left_out = list(left_out)
    while True:
        try:
            return cls(**kwargs, **extra), problems
        except ValueError as error:
            message = str(error)
            match = _LEADING_NAME.match(message)
            name = match[1] if match and match[1] in fields else None
            if not any(re.search(rf"\b{n}\b", message) for n in left_out):
                problems.append(place(name, message))
            if name is None or name not in kwargs or name not in optional:
                return None, problems
            del kwargs[name]
            left_out.append(name)


def _renamed(cls: type) -> Mapping[str, str]:
    """Former argument name -> current name (`PatternArgs.renamed_arguments`)."""
    renamed: Mapping[str, str] = getattr(cls, "renamed_arguments", {})
    return renamed


def _build(cls: type, values: Mapping[str, Any], key: Key, **extra: Any) -> Any:
    fields = _configurable(cls)
    allowed = ", ".join(sorted(fields))
    values = dict(values)
    problems = []
    former_names: dict[str, str] = {}  # current name -> the former one the stack file uses
    for former, current in _renamed(cls).items():
        if former in values and current in values:
            problems.append(
                Problem(
                    key,
                    f"{former!r} is the former name of {current!r}; set {current!r} only",
                    at=(*key, former),
                )
            )
            del values[former]
        elif former in values:
            values[current] = values.pop(former)
            former_names[current] = former
    problems += [
        Problem(
            key,
            f"unknown argument {name!r}{_did_you_mean(str(name), sorted(fields))}; "
            f"allowed: {allowed}",
            at=(*key, str(name)),
        )
        for name in values
        if name not in fields
    ]
    missing = sorted(name for name in fields if name not in values and name not in _optional(cls))
    if missing:
        problems.append(Problem(key, f"missing argument {', '.join(map(repr, missing))}"))
    kwargs, failed = _convert_each(
        {n: (v, fields[n], (*key, n)) for n, v in values.items() if n in fields}
    )
    problems += [p for found in failed.values() for p in found]
    # An unknown argument does not stop the checks of the rest, nor does a wrong type where
    # the argument has a default to stand in for it.
    if missing or set(failed) - _optional(cls):
        raise _Invalid(problems)

    def place(name: str | None, message: str) -> Problem:
        former = former_names.get(name or "")
        if name and former and message.startswith(name):  # say it as the stack file does
            name, message = former, former + message[len(name) :]
        return Problem(key, message, at=(*key, name) if name else None)

    instance, found = _construct(cls, kwargs, place, failed, **extra)
    if problems or found:
        raise _Invalid(problems + found)
    return instance


def _top_level_problem(name: str | None, message: str) -> Problem:
    """A settings check's message, under the key the stack file uses (`logRetentionDays`)."""
    if name is None:
        return Problem((NAMESPACE,), message)
    return Problem((f"{NAMESPACE}:{_camel(name)}",), message[len(name) :].lstrip(" :"))


def _decode(raw: Any) -> Any:
    """Pulumi hands structured and scalar values over as strings; decode what is JSON."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _near_miss(namespace: str) -> bool:
    return bool(difflib.get_close_matches(namespace, [NAMESPACE], cutoff=NEAR_MISS))


def _other_namespace_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """A near-miss of our namespace is a typo; an unknown Region fails at the provider."""
    problems = []
    for key in raw:
        namespace, colon, name = key.partition(":")
        if colon and namespace != NAMESPACE and _near_miss(namespace):
            problems.append(
                Problem(
                    (key,), f"unknown namespace {namespace!r}; did you mean {NAMESPACE}:{name}?"
                )
            )
    region = raw.get(REGION_KEY)
    skip = _decode(raw.get(SKIP_REGION_VALIDATION_KEY)) is True
    if region is not None and _encrypted(_decode(region)):
        problems.append(Problem((REGION_KEY,), _ENCRYPTED))
    elif region is not None and region not in REGIONS and not skip:
        close = difflib.get_close_matches(str(region), sorted(REGIONS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(
            Problem(
                (REGION_KEY,),
                f"must be an AWS Region (got {region!r}{hint}), or set "
                f"{SKIP_REGION_VALIDATION_KEY}: true for one newer than the AWS provider",
            )
        )
    return problems


INSTANCE_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
INSTANCE_RULE = (
    "lowercase letters, digits and hyphens, starting with a letter and not ending with a "
    "hyphen, at most 32 characters"
)
PATTERN_FIELD = "pattern"


def _instance(
    key: Any, args: Mapping[str, Any], where: Key
) -> tuple[str, str, Mapping[str, Any]] | Problem:
    """(slug, instance name or "", args without `pattern`) for one `patterns` entry."""
    allowed = ", ".join(sorted(CATALOG))
    chosen = args.get(PATTERN_FIELD)
    if chosen is None:
        if key in CATALOG:
            return key, "", args
        return Problem(
            (PATTERNS_KEY,),
            f"unknown pattern {key!r}{_did_you_mean(str(key), sorted(CATALOG))}; a key is a "
            f"pattern's slug ({allowed}), or an instance name with `{PATTERN_FIELD}: <slug>` "
            "among its arguments",
            at=where,
        )
    if not isinstance(chosen, str) or chosen not in CATALOG:
        return Problem(
            (*where, PATTERN_FIELD),
            f"unknown pattern {chosen!r}"
            f"{_did_you_mean(str(chosen), sorted(CATALOG)) if isinstance(chosen, str) else ''}; "
            f"allowed: {allowed}",
        )
    if key in CATALOG and key != chosen:
        return Problem(
            where,
            f"{key!r} is the slug of another pattern; name this {chosen} instance otherwise",
        )
    if not isinstance(key, str) or not INSTANCE_NAME.match(key):
        return Problem(where, f"instance name {key!r} is not usable in names: {INSTANCE_RULE}")
    rest = {k: v for k, v in args.items() if k != PATTERN_FIELD}
    return chosen, ("" if key == chosen else key), rest


def parse(raw: Mapping[str, Any]) -> ProgramConfig:
    """`raw`: every config key of the stack (`namespace:key` -> value)."""
    problems = _other_namespace_problems(raw)
    prefix = f"{NAMESPACE}:"
    top_values: dict[str, Any] = {}
    top_fields = _configurable(_TopLevel)
    allowed = sorted(_camel(f) for f in top_fields)
    for key, value in raw.items():
        if not key.startswith(prefix):
            continue
        name = key.removeprefix(prefix)
        if _snake(name) not in top_fields or name != _camel(_snake(name)):
            problems.append(
                Problem(
                    (key,),
                    f"unknown config key{_did_you_mean(name, allowed)}; allowed under "
                    f"{prefix} {', '.join(allowed)}",
                )
            )
            continue
        field_name = _snake(name)
        decoded = _decode(value)
        # A string setting that happens to look like JSON ("123") stays a string.
        if top_fields[field_name] is str and not isinstance(decoded, str):
            decoded = value
        try:
            top_values[field_name] = _convert(decoded, top_fields[field_name], (key,))
        except _Invalid as error:
            problems.extend(error.problems)
    top = _TopLevel(**top_values)

    if top.alarm_topic_arn is not None:
        try:
            SNS_TOPIC.check(top.alarm_topic_arn, "alarm_topic_arn")
        except ValueError as error:
            problems.append(_top_level_problem("alarm_topic_arn", str(error)))
    bad_tags = tag_problems(top.tags)
    problems.extend(
        Problem((f"{prefix}tags",), message, at=(f"{prefix}tags", tag)) for tag, message in bad_tags
    )
    settings_values = {
        name: getattr(top, name)
        for name in (f.name for f in dataclasses.fields(Settings))
        if name in top_values and not (name == "tags" and bad_tags)
    }
    settings, found = _construct(Settings, settings_values, _top_level_problem)
    problems.extend(found)
    settings = settings or Settings()

    if not top.patterns and ("patterns" in top_values or PATTERNS_KEY not in raw):
        problems.append(
            Problem(
                (PATTERNS_KEY,),
                "no pattern chosen; map at least one of these to its arguments ({} for the "
                f"defaults): {', '.join(sorted(CATALOG))}",
            )
        )
    choices: list[PatternChoice] = []
    notes: list[str] = []
    for key, args in top.patterns.items():
        where: Key = (PATTERNS_KEY, key)
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            problems.append(Problem(where, f"must be a map of arguments (got {args!r})"))
            continue
        chosen = _instance(key, args, where)
        if isinstance(chosen, Problem):
            problems.append(chosen)
            continue
        slug, name, args = chosen
        entry = CATALOG[slug]
        notes += [
            f"{key_text((*where, former))}: renamed {current!r}; the former name still works"
            for former, current in _renamed(entry.args).items()
            if former in args and current not in args
        ]
        try:
            built = _build(entry.args, args, where, settings=settings)
            choices.append(PatternChoice(slug, built, name))
        except _Invalid as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return ProgramConfig(
        settings, choices, top.alarm_topic_arn, top.api_gateway_account, notes=notes
    )


def read_pulumi_config() -> dict[str, Any]:
    """Every config key the engine passed to this program."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
