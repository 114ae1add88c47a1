"""One policy pack process for the whole session, started the way the engine starts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from preview import gate


@pytest.fixture(scope="session")
def pack() -> Iterator[Any]:
    with gate.policy_pack() as stub:
        yield stub
