"""What an OpenAPI `body` (REST `RestApi.body`, HTTP `apigatewayv2.Api.body`) declares: its
operations, whether each requires a security scheme, and which request validator it uses.

API Gateway reads Swagger 2.0 and OpenAPI 3 alike: `paths` -> path -> method (or
`x-amazon-apigateway-any-method`) -> operation; an operation's `security` replaces the
document's; `security: []`, or a requirement `{}` among them, lets anonymous callers in. The
request validator is the operation's `x-amazon-apigateway-request-validator`, else the
document's, defined under `x-amazon-apigateway-request-validators`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from serverless_wa.props import UNKNOWN

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANY_METHOD = "x-amazon-apigateway-any-method"
VALIDATOR = "x-amazon-apigateway-request-validator"
VALIDATORS = "x-amazon-apigateway-request-validators"


def document(body: Any) -> Mapping[str, Any] | None:
    """The body as a mapping (JSON or YAML text, or a mapping); None when it is absent,
    unknown or not an OpenAPI document."""
    if body is UNKNOWN or body is None:
        return None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            try:
                body = yaml.safe_load(body)
            except yaml.YAMLError:
                return None
    if not isinstance(body, Mapping) or not isinstance(body.get("paths"), Mapping):
        return None
    return body


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(METHOD, path, operation) for every operation, `ANY` for the any-method key."""
    for path, item in doc["paths"].items():
        if not isinstance(item, Mapping):
            continue
        for key, operation in item.items():
            if not isinstance(operation, Mapping) or not isinstance(key, str):
                continue
            if key.lower() in METHODS:
                yield key.upper(), str(path), operation
            elif key == ANY_METHOD:
                yield "ANY", str(path), operation


def requires_security(doc: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    """Every alternative of the effective `security` names a scheme (an authorizer or an
    API key); no alternative is empty."""
    security = operation.get("security", doc.get("security"))
    if not isinstance(security, list) or not security:
        return False
    return all(isinstance(r, Mapping) and r for r in security)


def validates(doc: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    """The effective request validator exists and validates the body or the parameters."""
    name = operation.get(VALIDATOR, doc.get(VALIDATOR))
    validators = doc.get(VALIDATORS)
    if not isinstance(name, str) or not isinstance(validators, Mapping):
        return False
    chosen = validators.get(name)
    return isinstance(chosen, Mapping) and bool(
        chosen.get("validateRequestBody") or chosen.get("validateRequestParameters")
    )
