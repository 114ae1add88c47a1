"""The installed pulumi_aws SDK as the source of truth for type tokens and property paths."""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from typing import Any

import pulumi

_REF = re.compile(r"outputs\.(\w+)")


_PACKAGES = {"lambda": "lambda_", "index": ""}


@functools.cache
def resource_class(token: str) -> type | None:
    """The pulumi_aws class whose registered type token is `token` (None when there is none)."""
    try:
        package, rest = token.split(":", 1)[1].split("/", 1)
        _, cls_name = rest.split(":")
    except ValueError:
        return None
    package = _PACKAGES.get(package, package)
    # The package's own (lazy) attribute: importing submodules directly breaks the lazy
    # loader for later `aws.<package>.<Class>` lookups.
    module = importlib.import_module(".".join(p for p in ("pulumi_aws", package) if p))
    cls = getattr(module, cls_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, pulumi.CustomResource)):
        return None
    return cls if pulumi.get_type_token(cls) == token else None


def _getters(cls: type) -> dict[str, Any]:
    """engine name -> the getter function, from the SDK's `@pulumi.getter(name=...)`."""
    names = {}
    for klass in cls.__mro__:
        for value in vars(klass).values():
            getter = value.fget if isinstance(value, property) else None
            name = getattr(getter, "_pulumi_name", None)
            if name:
                names.setdefault(name, getter)
    return names


def path_exists(token: str, path: str) -> bool:
    """Walk `a.b.c` by engine names from the resource class through its output types."""
    cls: type | None = resource_class(token)
    if cls is None:
        return False
    if path == "id":
        return True  # every resource has one, though no getter declares it
    try:
        outputs: Any = importlib.import_module(cls.__module__.rsplit(".", 1)[0] + ".outputs")
    except ImportError:
        outputs = None  # a module without nested output types
    for step in path.split("."):
        if step.isdigit():
            continue
        if cls is None:
            return True  # a map or a JSON string: free-form below this point
        getter = _getters(cls).get(step)
        if getter is None:
            return False
        annotation = str(inspect.signature(getter).return_annotation)
        match = _REF.search(annotation)
        cls = getattr(outputs, match.group(1), None) if match and outputs else None
    return True
