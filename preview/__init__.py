"""Offline preview: run the Pulumi program under a mock engine, no CLI and no cloud account.

The preview runs in a checkout as the top-level package `preview`, beside the library
`components`, and installed as `serverless_patterns.preview`, beside
`serverless_patterns.components`: its own modules import each other relatively, and the
library by the name that sits beside it (`library`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_PARENT = __name__.rpartition(".")[0]  # "" in a checkout, "serverless_patterns" installed


def library(module: str) -> ModuleType:
    """The library's `module` (`"components.config"`) under the name beside this package."""
    return importlib.import_module(f"{_PARENT}.{module}" if _PARENT else module)
