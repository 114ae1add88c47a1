"""A renderer for the small subset of API Gateway's VTL that the library's request
templates use, written from API Gateway's mapping-template reference:

- `$input.json('<path>')`: the value at a JSONPath (`$` or `$.a.b`), serialised as JSON;
- `$input.path('<path>')`: the value itself (a string pasted as is);
- `$context.<name>`: a context variable the caller supplies;
- `$util.escapeJavaScript($input.path('<path>'))`: Java's StringEscapeUtils.escapeJavaScript,
  which API Gateway documents as escaping `'` to `\\'` (not a JSON escape).

Any other `$name` or `#directive` raises NotImplementedError, so a template that outgrows
the subset fails its test instead of passing unrendered. Substituted values are never
parsed again (VTL does not re-evaluate them either).
"""

from __future__ import annotations

import json
import re
from typing import Any

_REFERENCE = re.compile(
    r"\$util\.escapeJavaScript\(\$input\.path\('(?P<escaped>[^']*)'\)\)"
    r"|\$input\.(?P<function>json|path)\('(?P<path>[^']*)'\)"
    r"|\$context\.(?P<context>[A-Za-z]+)"
)


def _json_path(document: Any, path: str) -> Any:
    """`$` or `$.a.b`: the only JSONPath forms the template uses."""
    if not re.fullmatch(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)*", path):
        raise NotImplementedError(f"JSONPath {path!r}")
    for step in path.split(".")[1:]:
        document = document.get(step) if isinstance(document, dict) else None
    return document


def escape_javascript(text: str) -> str:
    """`$util.escapeJavaScript` (see the module docstring)."""
    simple = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\n": "\\n"}
    simple |= {"\t": "\\t", "\f": "\\f", "\r": "\\r"}
    out = []
    for char in text:
        if char in simple:
            out.append(simple[char])
        elif ord(char) < 32 or ord(char) > 0x7F:
            out.append("".join(f"\\u{unit:04X}" for unit in _utf16(char)))
        else:
            out.append(char)
    return "".join(out)


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def render_vtl(template: str, body: str, context: dict[str, str]) -> str:
    """Renders `template` for a request `body` as API Gateway would, for the subset above.
    Substituted values are never parsed again (VTL does not re-evaluate them either)."""
    unknown = re.search(r"[$#][A-Za-z{]", _REFERENCE.sub("", template))
    if unknown:
        raise NotImplementedError(f"VTL construct {unknown.group()!r} in {template!r}")
    document = json.loads(body)

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"] is not None:
            return escape_javascript(str(_json_path(document, match["escaped"])))
        if match["context"] is not None:
            return context[match["context"]]
        value = _json_path(document, match["path"])
        if match["function"] == "json":
            return json.dumps(value, ensure_ascii=False)
        return value if isinstance(value, str) else json.dumps(value)

    return _REFERENCE.sub(substitute, template)
