"""The base every pattern component shares: a pinned type token (with aliases for the tokens
it had before), args with settings, a Scope, and a warning for each hardened default the
user's arguments switch off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Final

import pulumi

from .scope import Scope
from .settings import Settings

PACKAGE = "serverless-patterns"
EXISTING: Final = object()  # `Safeguard.off`: the argument holds an existing resource


@dataclass(frozen=True)
class Safeguard:
    """A hardened default that one argument can switch off.

    field: a field of the args (or spec) class that declares it in its `safeguards`.
    off: the value that switches it off, or EXISTING for an existing resource handed over
    instead of the one the pattern would build (the field's value, or values of a map or
    list field such as `routes`, each named by its key: `routes['GET /me']`).
    defaults: what no longer applies, in a few words each. advice: what the user should do
    instead, as a sentence.
    """

    field: str
    defaults: tuple[str, ...]
    advice: str
    off: object = EXISTING

    def applies(self, args: Any) -> bool:
        value = getattr(args, self.field)
        if self.off is EXISTING:
            return bool(self._existing(value))
        return bool(value == self.off)

    def _existing(self, value: object) -> list[str]:
        """The field, or the keys (indexes) of its map (list), holding existing resources."""
        if isinstance(value, pulumi.Resource):
            return [self.field]
        if isinstance(value, Mapping):
            items = list(value.items())
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        else:
            return []
        return [f"{self.field}[{key!r}]" for key, v in items if isinstance(v, pulumi.Resource)]

    def message(self, args: Any) -> str:
        if self.off is EXISTING:
            existing = self._existing(getattr(args, self.field))
            verb = "is an existing resource" if len(existing) == 1 else "are existing resources"
            given = f"{', '.join(existing)} {verb}"
        else:
            given = f"{self.field}={getattr(args, self.field)!r}"
        return (
            f"{given}, so these hardened defaults no longer apply: {', '.join(self.defaults)}. "
            f"{self.advice}"
        )


@dataclass(frozen=True, kw_only=True)
class PatternArgs:
    """Fields common to every pattern's args.

    settings: the stack-wide settings (environment, tags, retention, runtime, alarms); the
      program reads them from the stack config (default: `Settings()`).
    """

    # The defaults an argument can switch off; the component warns about each one that is.
    safeguards: ClassVar[tuple[Safeguard, ...]] = ()
    # Former argument name -> its current name: stack files written for an older version
    # keep working (components/config.py maps them and says so).
    renamed_arguments: ClassVar[Mapping[str, str]] = {}

    settings: Settings = field(default_factory=Settings)

    def bypassed(self) -> list[str]:
        """One message per safeguard these args switch off (see `bypassed`)."""
        return bypassed(self)


def bypassed(value: object, path: str = "") -> list[str]:
    """One message per safeguard `value` switches off: those a dataclass declares in its
    `safeguards`, in order, then those of the dataclasses it holds (nested specs, lists and
    maps of them, another pattern's args), each under its path (`steps[1].function ...`)."""
    if not is_dataclass(value) or isinstance(value, type):
        return []
    prefix = f"{path}." if path else ""
    declared: tuple[Safeguard, ...] = getattr(value, "safeguards", ())
    messages = [prefix + s.message(value) for s in declared if s.applies(value)]
    for item in fields(value):
        child = getattr(value, item.name)
        if isinstance(child, Mapping):
            for key, element in child.items():
                messages += bypassed(element, f"{prefix}{item.name}.{key}")
        elif isinstance(child, list | tuple):
            for index, element in enumerate(child):
                messages += bypassed(element, f"{prefix}{item.name}[{index}]")
        else:
            messages += bypassed(child, f"{prefix}{item.name}")
    return messages


class Pattern(pulumi.ComponentResource):
    """A pattern component, registered under its pinned `type_token`.

    The token is a literal, never derived from the class name: it is part of every child's
    URN, so a change would replace every deployed resource under the component. A token that
    must change keeps the old one in `former_type_tokens`; each becomes a Pulumi alias, so
    deployed components and their children move to the new token in place.
    """

    slug: ClassVar[str]
    type_token: ClassVar[str]
    former_type_tokens: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, name: str, args: PatternArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        token = getattr(type(self), "type_token", None)
        if not token:
            raise TypeError(
                f"{type(self).__name__} must pin its type token: "
                f"type_token = '{PACKAGE}:patterns:{type(self).__name__}'"
            )
        if self.former_type_tokens:
            aliases = [pulumi.Alias(type_=former) for former in self.former_type_tokens]
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases))
        super().__init__(token, name, None, opts)
        self.scope = Scope(self, name, args.settings)
        self.exports: dict[str, pulumi.Input[object]] = {}
        for message in args.bypassed():
            pulumi.log.warn(message, resource=self)

    def register_outputs(self, outputs: dict[str, pulumi.Input[object]]) -> None:
        """Registers the outputs and keeps them, for the program to export under the slug."""
        self.exports = dict(outputs)
        super().register_outputs(outputs)
