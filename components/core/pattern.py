"""The base every pattern component shares: type token, args with settings, a Scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pulumi

from components.core.scope import Scope
from components.core.settings import Settings

PACKAGE = "serverless-patterns"


@dataclass(frozen=True, kw_only=True)
class PatternArgs:
    """Fields common to every pattern's args; `settings` comes from the stack config."""

    settings: Settings = field(default_factory=Settings)


class Pattern(pulumi.ComponentResource):
    """A pattern component: `serverless-patterns:patterns:<ClassName>`."""

    slug: ClassVar[str]

    def __init__(
        self, name: str, args: PatternArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:patterns:{type(self).__name__}", name, None, opts)
        self.scope = Scope(self, name, args.settings)
        self.exports: dict[str, pulumi.Input[object]] = {}

    def register_outputs(self, outputs: dict[str, pulumi.Input[object]]) -> None:
        """Registers the outputs and keeps them, for the program to export under the slug."""
        self.exports = dict(outputs)
        super().register_outputs(outputs)
