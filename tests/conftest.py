"""Shared fixtures: build Pulumi programs under the simulated cloud, one fresh monitor each.

`build(program)` is `pulumi.runtime.set_mocks` with a fresh recording MockMonitor plus the
SDK's own program runner (what `@pulumi.runtime.test` does), returning every registration
with its type, inputs (camelCase, numbers as floats), parent and property dependencies.
Invokes (`getRegion`, `getCallerIdentity`, `getPartition`, `getPolicyDocument`) are
answered by the same `SimulatedCloud` the offline preview uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from preview import engine

Builder = Callable[..., engine.Plan]


@pytest.fixture
def build() -> Builder:
    def run(
        program: Callable[[], Any],
        *,
        config: Mapping[str, str] | None = None,
        stack: str = "test",
    ) -> engine.Plan:
        return engine.run(
            program,
            stack=stack,
            config={"aws:region": "eu-west-1", **(config or {})},
            project="serverless-patterns",
        )

    return run
