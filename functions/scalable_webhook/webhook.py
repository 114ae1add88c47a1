"""Webhook delivery rules shared by the publisher and the consumer.

No AWS calls here: everything takes and returns plain values, so the rules can be tested
without moto and both handlers agree on one message-attribute contract.

The contract for a queued delivery (what the API Gateway -> SQS integration and the
publisher both produce):
  message body        the raw request body, unchanged (signatures are computed over it)
  `source`            String, the `{source}` path parameter; always present
  `signature`         String, the provider's signature header value; only when sent
  `deliveryId`        String, the provider's delivery id header value; only when sent

A delivery is stored once per source: its key is the source and the provider's delivery id,
or the source and the SHA-256 of the body, so two providers never suppress each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SOURCE_ATTRIBUTE = "source"
SIGNATURE_ATTRIBUTE = "signature"
DELIVERY_ID_ATTRIBUTE = "deliveryId"

SIGNATURE_ALGORITHMS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

_SOURCE = re.compile(r"[A-Za-z0-9_.-]{1,64}")

# SQS's classic message limit (body plus attributes). A queue may allow up to 1 MiB, but a
# delivery this size still fits, with its metadata, in one DynamoDB item (400 KB) once queued.
MAX_MESSAGE_BYTES = 256 * 1024


class InvalidDeliveryError(ValueError):
    """A queued record that does not follow the message contract."""


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as read back from an SQS record."""

    message_id: str
    body: str
    source: str
    sent_timestamp: int
    signature: str | None = None
    delivery_id: str | None = None

    @property
    def id(self) -> str:
        return delivery_key(self.source, self.body, self.delivery_id)


def delivery_key(source: str, body: str, delivery_id: str | None) -> str:
    """`<source>#<delivery id>`, or `<source>#<SHA-256 of the body>` so identical redeliveries
    still collide. Delivery ids are unique per provider only, hence the source.

    The direct integration queues any path segment as the source: quoting it keeps `#` out
    of it, so no (source, id) pair can spell another's key.
    """
    unique = delivery_id or hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"{quote(source, safe='')}#{unique}"


def signature_algorithm(name: str) -> str:
    """Normalise and check a configured algorithm name, so a typo fails at cold start."""
    normalised = name.strip().lower()
    if normalised not in SIGNATURE_ALGORITHMS:
        supported = ", ".join(sorted(SIGNATURE_ALGORITHMS))
        raise ValueError(f"unsupported signature algorithm {name!r} (expected one of {supported})")
    return normalised


def parse_signature(value: str) -> tuple[str | None, str]:
    """Split `<algo>=<hex>` (GitHub style) into its parts; a bare value has no algorithm."""
    value = value.strip()
    prefix, separator, digest = value.partition("=")
    if separator and prefix.strip().lower() in SIGNATURE_ALGORITHMS:
        return prefix.strip().lower(), digest.strip().lower()
    return None, value.lower()


def compute_signature(secret: str | bytes, body: str, algorithm: str) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, body.encode("utf-8"), SIGNATURE_ALGORITHMS[algorithm]).hexdigest()


def verify_signature(
    secret: str | bytes, body: str, signature: str | None, algorithm: str = "sha256"
) -> bool:
    if not signature:
        return False
    prefix, digest = parse_signature(signature)
    # A header naming another algorithm is never valid, even if its digest would verify.
    if prefix is not None and prefix != algorithm:
        return False
    expected = compute_signature(secret, body, algorithm)
    # Bytes, because compare_digest rejects non-ASCII str and the header is untrusted input.
    return hmac.compare_digest(expected.encode("ascii"), digest.encode("utf-8"))


def _string_attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    attribute = attributes.get(name) or {}
    value = attribute.get("stringValue")
    return value if isinstance(value, str) and value else None


def delivery_from_sqs_record(record: Mapping[str, Any]) -> Delivery:
    """Read a record in Lambda's SQS event format; raises InvalidDeliveryError if malformed."""
    attributes = record.get("messageAttributes") or {}
    source = _string_attribute(attributes, SOURCE_ATTRIBUTE)
    if source is None:
        raise InvalidDeliveryError(f"record has no {SOURCE_ATTRIBUTE!r} message attribute")
    body = record.get("body")
    if not isinstance(body, str):
        raise InvalidDeliveryError("record has no body")
    try:
        sent_timestamp = int((record.get("attributes") or {})["SentTimestamp"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidDeliveryError("record has no valid SentTimestamp attribute") from error
    return Delivery(
        message_id=record["messageId"],
        body=body,
        source=source,
        sent_timestamp=sent_timestamp,
        signature=_string_attribute(attributes, SIGNATURE_ATTRIBUTE),
        delivery_id=_string_attribute(attributes, DELIVERY_ID_ATTRIBUTE),
    )


def build_item(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "source": delivery.source,
        "body": delivery.body,
        "messageId": delivery.message_id,
        "receivedAt": delivery.sent_timestamp,
    }


def is_valid_source(source: str | None) -> bool:
    return source is not None and _SOURCE.fullmatch(source) is not None


def header_value(
    headers: Mapping[str, Any] | None,
    name: str | None,
    multi_value_headers: Mapping[str, Any] | None = None,
) -> str | None:
    """Case-insensitive lookup: HTTP/2 clients and proxies lower-case header names.

    An event without `headers` is read from `multiValueHeaders`, taking a repeated header's
    last value as `headers` would hold it.
    """
    if not name:
        return None
    wanted = name.lower()
    if isinstance(headers, Mapping):
        values = {key.lower(): value for key, value in headers.items()}
        return _stripped(values.get(wanted))
    for key, repeated in (multi_value_headers or {}).items():
        if key.lower() == wanted and isinstance(repeated, list) and repeated:
            return _stripped(repeated[-1])
    return None


def _stripped(value: Any) -> str | None:
    stripped = value.strip() if isinstance(value, str) else ""
    return stripped or None


def decode_body(body: Any, is_base64_encoded: bool) -> str:
    """The request body as text; raises ValueError if it is not valid base64 or UTF-8."""
    if not body:
        return ""
    if not isinstance(body, str):
        raise ValueError("body is not text")
    if not is_base64_encoded:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("body is not valid UTF-8 text") from error


def body_error(body: str) -> str | None:
    """Why a request body cannot be accepted, or None if it can."""
    if not body.strip():
        return "Request body is required"
    try:
        json.loads(body)
    except ValueError:
        return "Request body must be valid JSON"
    return None


def message_size(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    """Bytes SQS counts against its limit: the body plus each attribute's name, type and value."""
    size = len(body.encode("utf-8"))
    for name, attribute in attributes.items():
        size += len(name.encode("utf-8")) + len(attribute["DataType"].encode("utf-8"))
        size += len(attribute["StringValue"].encode("utf-8"))
    return size


def message_attributes(
    source: str, signature: str | None = None, delivery_id: str | None = None
) -> dict[str, dict[str, str]]:
    """SendMessage attributes; empty values are left out because SQS rejects them."""
    values = {
        SOURCE_ATTRIBUTE: source,
        SIGNATURE_ATTRIBUTE: signature,
        DELIVERY_ID_ATTRIBUTE: delivery_id,
    }
    return {
        name: {"DataType": "String", "StringValue": value}
        for name, value in values.items()
        if value
    }
