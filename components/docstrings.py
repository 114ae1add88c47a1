"""Argument descriptions from an args dataclass's docstring, for the catalog and its tests.

Each argument is documented in the class docstring as `name: meaning`, continued on lines
indented two more spaces; `a / b: meaning` documents several arguments at once. The meaning
says what the argument does and what its default (above all None) means.
"""

from __future__ import annotations

import inspect
import re

_ENTRY = re.compile(r"^(?P<names>[a-z_][a-z0-9_]*(?: / [a-z_][a-z0-9_]*)*): (?P<text>\S.*)$")


def argument_docs(cls: type) -> dict[str, str]:
    """Argument name -> its description (continuation lines joined), in docstring order."""
    docs: dict[str, str] = {}
    current: list[str] = []
    for line in inspect.cleandoc(cls.__doc__ or "").splitlines():
        entry = _ENTRY.match(line)
        if entry is not None:
            current = entry["names"].split(" / ")
            for name in current:
                docs[name] = entry["text"]
        elif current and line.startswith("  ") and line.strip():
            for name in current:
                docs[name] = f"{docs[name]} {line.strip()}"
        else:
            current = []
    return docs
