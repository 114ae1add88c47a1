"""What a provider's Python SDK declares for a type token: a resource's output properties and a
data source's result type, found through the SDK's own registry (the resource modules every
generated SDK registers) and read from its generated classes' property getters.

Any installed SDK works the same way (pulumi_aws, pulumi_random, ...); a token the SDK does not
know gives None. Each token is looked up once.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import rpc

# Kinds of declared values.
STR, INT, FLOAT, BOOL, LIST, MAP, OBJECT, OTHER = (
    "str",
    "int",
    "float",
    "bool",
    "list",
    "map",
    "object",
    "other",
)
_SCALARS = {str: STR, int: INT, float: FLOAT, bool: BOOL}


@dataclass(frozen=True)
class Kind:
    """A declared type, reduced to what a plausible value needs."""

    kind: str
    optional: bool = False
    item: Kind | None = None  # a list's or a map's values
    fields: tuple[Property, ...] = ()  # an object's properties (output types)


@dataclass(frozen=True)
class Property:
    name: str  # the engine's (camelCase) name
    python_name: str
    kind: Kind
    doc: str = ""


@dataclass(frozen=True)
class ResourceShape:
    """outputs: properties only the provider sets (not among the constructor's inputs);
    strings: properties the SDK types as strings (an echoed dict or list is JSON)."""

    properties: tuple[Property, ...]  # every property the class declares
    outputs: tuple[Property, ...]
    strings: frozenset[str]


@functools.cache
def resource_shape(token: str) -> ResourceShape | None:
    cls = resource_class(token)
    if cls is None:
        return None
    properties = declared(cls)
    init = getattr(cls, "_internal_init", None)
    code = getattr(init, "__code__", None)
    inputs = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]) if code else set()
    return ResourceShape(
        properties=properties,
        outputs=tuple(p for p in properties if p.python_name not in inputs),
        strings=frozenset(p.name for p in properties if p.kind.kind == STR),
    )


def resource_class(token: str) -> type | None:
    """The SDK class registered for a resource type token, if its SDK is installed."""
    package, _, rest = token.partition(":")
    module_name, _, _ = rest.rpartition(":")
    try:
        module = rpc.get_resource_module(package, module_name, "")
    except Exception:  # a registry that does not know the package
        return None
    info = getattr(module, "mod_info", None)
    if not isinstance(info, Mapping) or token not in info.get("classes", {}):
        return None
    try:
        found = getattr(importlib.import_module(info["fqn"]), info["classes"][token])
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None


@functools.cache
def invoke_result(token: str) -> tuple[str, tuple[Property, ...]] | None:
    """(class name, properties) of the result type of a data source (invoke) token, e.g.
    `aws:ec2/getAmi:getAmi` -> `GetAmiResult` of `pulumi_aws.ec2.get_ami`."""
    package, _, rest = token.partition(":")
    module_name, _, function = rest.rpartition(":")
    root = _package_root(package)
    if root is None or not function:
        return None
    folder = module_name.split("/")[0]
    file = _snake(function)
    candidates = [f"{root}.{file}"] if folder == "index" else []
    candidates += [f"{root}.{folder}.{file}", f"{root}.{folder}_.{file}"]
    for candidate in candidates:
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        name = function[0].upper() + function[1:] + "Result"
        cls = getattr(module, name, None)
        if isinstance(cls, type):
            return name, declared(cls)
    return None


def _package_root(package: str) -> str | None:
    try:
        registered = rpc.get_resource_package(package, "")
    except Exception:  # no such package registered
        registered = None
    info = getattr(registered, "pkg_info", None)
    if isinstance(info, Mapping) and info.get("fqn"):
        return str(info["fqn"])
    fallback = f"pulumi_{package.replace('-', '_')}"
    return fallback if fallback in sys.modules else None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@functools.cache
def declared(cls: type, depth: int = 0) -> tuple[Property, ...]:
    """The properties a generated class declares (its `pulumi.getter`s), sorted by name."""
    module = sys.modules.get(cls.__module__)
    namespace = vars(module) if module else {}
    found = []
    for python_name, value in vars(cls).items():
        if not isinstance(value, property) or value.fget is None:
            continue
        name = getattr(value.fget, "_pulumi_name", None)
        if not name or name in ("id", "urn"):
            continue
        annotation = value.fget.__annotations__.get("return", Any)
        kind = _kind(annotation, namespace, depth)
        found.append(Property(name, python_name, kind, value.fget.__doc__ or ""))
    return tuple(sorted(found, key=lambda p: p.name))


def _kind(annotation: Any, namespace: Mapping[str, Any], depth: int) -> Kind:
    optional = False
    while True:
        if isinstance(annotation, str | typing.ForwardRef):
            annotation = _resolve(annotation, namespace)
        origin = typing.get_origin(annotation)
        if origin is pulumi.Output:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(options) < len(typing.get_args(annotation))
            if len(options) != 1:
                return Kind(OTHER, optional)
            annotation = options[0]
        else:
            break
    if annotation in _SCALARS:
        return Kind(_SCALARS[annotation], optional)
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, Sequence, typing.Sequence) and args:
        return Kind(LIST, optional, _kind(args[0], namespace, depth))
    if origin in (dict, Mapping, typing.Mapping) and len(args) == 2:
        return Kind(MAP, optional, _kind(args[1], namespace, depth))
    if isinstance(annotation, type) and getattr(annotation, "_pulumi_output_type", False):
        fields = declared(annotation, depth + 1) if depth < 3 else ()
        return Kind(OBJECT, optional, fields=fields)
    return Kind(OTHER, optional)


def _resolve(reference: str | typing.ForwardRef, namespace: Mapping[str, Any]) -> Any:
    text = reference.__forward_arg__ if isinstance(reference, typing.ForwardRef) else reference
    head, *rest = text.split(".")
    value = namespace.get(head)
    for part in rest:
        value = getattr(value, part, None)
    return value if value is not None else Any
