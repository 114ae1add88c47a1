"""What every building block needs to know about the component that owns its resources."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .naming import physical_name
from .settings import Settings


@dataclass(frozen=True)
class Scope:
    """The owning component, its logical name and the stack settings.

    Child logical names are prefixed with the component's name: URNs are unique per
    (parent type chain, type, name), so two webhooks must not both own a child `consumer`.
    """

    component: pulumi.ComponentResource
    name: str
    settings: Settings

    def child(self, suffix: str) -> str:
        return f"{self.name}-{suffix}"

    def physical(self, suffix: str, max_length: int = 64) -> str:
        return physical_name(self.name, suffix, max_length=max_length)

    def opts(self, *, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.component, depends_on=depends_on)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.settings.tags)
