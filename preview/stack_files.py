"""Stack files read strictly, with the line of every config key, for the offline preview.

A file that cannot be a stack file (missing, a directory, not UTF-8, not YAML, not a map
with a `config:` map) stops with one line naming the file and, where known, the line.
Duplicate keys, which YAML resolves silently (the last wins) and the Pulumi CLI refuses,
are problems; so is everything `components.config.parse` finds, each shown as
`file:line: key: problem` at the line of the key it names. Scalars resolve as the CLI's
YAML 1.2 reader does: `yes`/`on` and dates stay strings.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import library

if TYPE_CHECKING:
    from components.config import ConfigError, Key, Problem, parse
else:  # the library beside this package (`components` or `serverless_patterns.components`)
    _config = library("components.config")
    ConfigError, Key, Problem, parse = (
        _config.ConfigError,
        _config.Key,
        _config.Problem,
        _config.parse,
    )

CONFIG = "config"
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no timestamps, as the CLI reads stack files."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class StackFileError(ConfigError):
    """A file that cannot be read as a stack file: one line, naming the file."""

    def __init__(self, where: str, message: str) -> None:
        self.problems = []
        Exception.__init__(self, f"{where}: {message}")  # one line, no config heading


@dataclass
class StackFile:
    """config: as the engine passes it (namespaced keys, values strings);
    lines: config key path -> line; problems: what the file itself gets wrong."""

    path: str
    config: dict[str, str] = field(default_factory=dict)
    lines: dict[Key, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, key: Key) -> int | None:
        """The line of `key`, else of the nearest key above it that the file has."""
        for end in range(len(key), 0, -1):
            line = self.lines.get(key[:end])
            if line is not None:
                return line
        return None

    def render(self, problem: Problem) -> str:
        line = self.line_of(problem.location)
        return f"{self.path}{f':{line}' if line else ''}: {problem}"

    def check(self) -> None:
        """ConfigError listing the file's problems and the config's, by line."""
        problems = list(self.problems)
        try:
            parse(self.config)
        except ConfigError as error:
            problems.extend(error.problems)
        if problems:
            problems.sort(key=lambda p: self.line_of(p.location) or 0)
            raise ConfigError(problems, render=self.render)


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load(path: Path, project: str) -> StackFile:
    """The stack file at `path`; keys without a namespace get the project's."""
    where = shown(path)
    document, node = _read(path, where)
    if document is None or node is None:
        raise StackFileError(where, f"is empty; a stack file needs a `{CONFIG}:` map")
    if not isinstance(document, dict):
        raise StackFileError(
            f"{where}:1", f"must be a map with a `{CONFIG}:` key (got {_kind(document)})"
        )
    stack = StackFile(where)
    index = _Index(stack)
    top = index.mapping(node, (), lambda key: key)
    if CONFIG not in top:
        close = difflib.get_close_matches(CONFIG, [str(k) for k in document], n=1)
        hint = f" (is {close[0]!r} a typo?)" if close else ""
        raise StackFileError(where, f"has no `{CONFIG}:` key{hint}; settings and patterns go there")
    config = document[CONFIG]
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise StackFileError(
            f"{where}:{stack.lines[(CONFIG,)]}",
            f"`{CONFIG}:` must be a map of `namespace:key: value` (got {_kind(config)})",
        )

    stack.problems.extend(
        Problem((key,), f"is a config key outside `{CONFIG}:`; indent it under `{CONFIG}:`")
        for key in top
        if ":" in key
    )

    def namespaced(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    for config_node in top[CONFIG]:  # a repeated `config:` is a problem; each is checked
        for key, value_nodes in index.mapping(config_node, (), namespaced).items():
            for value_node in value_nodes:
                index.value(value_node, (key,), frozenset())
    for key, value in config.items():
        name = namespaced(_key(key))
        try:
            stack.config[name] = engine_string(value)
        except ValueError:  # json.dumps of a value that contains itself
            raise StackFileError(
                f"{where}:{stack.lines[(name,)]}", f"{name}: refers to itself (a recursive alias)"
            ) from None
    return stack


def engine_string(value: Any) -> str:
    """How the CLI hands a config value to a program: strings raw, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _read(path: Path, where: str) -> tuple[Any, yaml.Node | None]:
    if path.is_dir():
        raise StackFileError(where, "is a directory, not a stack file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StackFileError(where, "no such file") from None
    except OSError as error:
        raise StackFileError(where, f"cannot be read ({error.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise StackFileError(
            f"{where}:{line}", f"is not UTF-8 text (byte 0x{data[error.start]:02x})"
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        context = f"{error.context}: " if error.context else ""
        raise StackFileError(at, f"invalid YAML: {context}{error.problem}") from None
    except yaml.YAMLError as error:
        raise StackFileError(where, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


class _Index:
    """Records the line of every key and list item, and every duplicate key."""

    def __init__(self, stack: StackFile) -> None:
        self.stack = stack
        self.loader = _Loader("")

    def mapping(
        self, node: yaml.Node, path: Key, name: Callable[[str], str]
    ) -> dict[str, list[yaml.Node]]:
        """Key -> value nodes of a mapping's own keys (more than one for a duplicate)."""
        values: dict[str, list[yaml.Node]] = {}
        first: dict[str, int] = {}
        if not isinstance(node, yaml.MappingNode):
            return values
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = name(_key(self.loader.construct_object(key_node, deep=True)))
            line = key_node.start_mark.line + 1
            if key in first:
                self.stack.problems.append(
                    Problem(
                        (*path, key),
                        f"duplicate key (first on line {first[key]}); the Pulumi CLI refuses it",
                    )
                )
            first.setdefault(key, line)
            self.stack.lines[(*path, key)] = line
            values.setdefault(key, []).append(value_node)
        return values

    def value(self, node: yaml.Node, path: Key, above: frozenset[int]) -> None:
        if id(node) in above:  # a recursive alias: reading its value reports it
            return
        above = above | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.stack.lines[(*path, index)] = item.start_mark.line + 1
                self.value(item, (*path, index), above)
        for key, value_nodes in self.mapping(node, path, lambda key: key).items():
            for value_node in value_nodes:
                self.value(value_node, (*path, key), above)


def _key(key: Any) -> str:
    """A key as the program sees it after the JSON round trip (`1` -> `"1"`)."""
    if isinstance(key, str):
        return key
    return str(json.loads(json.dumps({key: None}, default=str)).popitem()[0])


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 40 else "a string"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return type(value).__name__
