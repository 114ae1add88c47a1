"""Signed tokens: the visitor cookie, push tickets, priority passes and access tokens.

Every token is `<kind>.<field>....<expiry>.<kid>.<signature>`: HMAC-SHA256, under one key of
the signing secret, over everything before the signature. The kind is signed too, so a
token of one kind is never accepted as another (a push ticket is no access token).

  kind  fields              what it proves
  vc1   visitor             the visitor id in the HttpOnly cookie is one we issued
  pt1   visitor             the WebSocket `$connect` belongs to that visitor (2 hours)
  pp1   zone, class, pass   a priority (`p`) or exempt (`x`) pass for one zone
  at1   zone, visitor       the visitor was admitted to the zone, until the expiry

Keys come from the Secrets Manager secret (`KeyRing`): the AWSCURRENT version signs;
AWSCURRENT and AWSPREVIOUS verify, so a rotation never invalidates a token in flight. A
token naming a key the ring does not hold makes the ring reload, at most once per
`RELOAD_FLOOR_S`, so forged key ids cannot turn into a flood of Secrets Manager calls.

Key material never leaves this module: it is not logged, not returned and not part of any
exception message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

VISITOR_COOKIE, PUSH_TICKET, PRIORITY_PASS, ACCESS_TOKEN = "vc1", "pt1", "pp1", "at1"
FIELDS = {
    VISITOR_COOKIE: ("visitor",),
    PUSH_TICKET: ("visitor",),
    PRIORITY_PASS: ("zone", "class", "pass"),
    ACCESS_TOKEN: ("zone", "visitor"),
}
PASS_PRIORITY, PASS_EXEMPT = "p", "x"
MIN_KEY_BYTES = 32
MAX_TOKEN_LENGTH = 512
KEYS_MAX_AGE_S = 300
RELOAD_FLOOR_S = 30
_FIELD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KID = re.compile(r"^[a-f0-9]{12}$")

Clock = Callable[[], float]


class InvalidToken(ValueError):
    """A token that must be refused; the message is a short reason, safe to log."""


class KeyMaterialError(RuntimeError):
    """The signing secret holds no usable key (the message never contains the value)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Claims:
    kind: str
    fields: dict[str, str]
    expires_at: int
    kid: str

    def __getitem__(self, name: str) -> str:
        return self.fields[name]


def kid_of(version_id: str) -> str:
    """A short, stable key id for a secret version (its id is a UUID chosen at rotation)."""
    return hashlib.sha256(version_id.encode()).hexdigest()[:12]


def key_from_secret(version_id: str, value: str) -> SigningKey:
    """The secret's value is base64 (standard or URL-safe) of at least 32 random bytes."""
    text = value.strip()
    try:
        secret = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        try:
            secret = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise KeyMaterialError("the signing secret is not base64") from None
    if len(secret) < MIN_KEY_BYTES:
        raise KeyMaterialError(f"the signing secret holds fewer than {MIN_KEY_BYTES} bytes")
    return SigningKey(kid=kid_of(version_id), secret=secret)


def secrets_manager_loader(client: Any, secret_id: str) -> Callable[[], list[SigningKey]]:
    """Loads AWSCURRENT (required) and AWSPREVIOUS. The previous version is absent before
    the first rotation and right after it is the deployment's placeholder, which is no key:
    both are skipped, while an unusable current version fails closed."""

    def load() -> list[SigningKey]:
        current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        keys = [key_from_secret(current["VersionId"], current.get("SecretString") or "")]
        try:
            previous = client.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")
            keys.append(key_from_secret(previous["VersionId"], previous.get("SecretString") or ""))
        except KeyMaterialError:
            pass
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        return keys

    return load


class KeyRing:
    """The signing keys, current first, reloaded every `max_age_s` and on an unknown kid."""

    def __init__(
        self,
        load: Callable[[], list[SigningKey]],
        *,
        clock: Clock = time.time,
        max_age_s: int = KEYS_MAX_AGE_S,
        reload_floor_s: int = RELOAD_FLOOR_S,
    ) -> None:
        self._load = load
        self._clock = clock
        self._max_age_s = max_age_s
        self._reload_floor_s = reload_floor_s
        self._keys: list[SigningKey] = []
        self._loaded_at: float | None = None

    def _reload(self) -> None:
        keys = self._load()
        if not keys:
            raise KeyMaterialError("the signing secret has no current version")
        self._keys, self._loaded_at = keys, self._clock()

    def _fresh(self) -> list[SigningKey]:
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._max_age_s:
            self._reload()
        return self._keys

    def current(self) -> SigningKey:
        return self._fresh()[0]

    def find(self, kid: str) -> SigningKey | None:
        for key in self._fresh():
            if key.kid == kid:
                return key
        assert self._loaded_at is not None
        if self._clock() - self._loaded_at < self._reload_floor_s:
            return None
        self._reload()  # a rotation this container has not seen yet
        return next((key for key in self._keys if key.kid == kid), None)


def static_ring(*secrets: bytes, clock: Clock = time.time) -> KeyRing:
    """A ring over fixed keys (tests and the benchmark), current first."""
    keys = [SigningKey(kid=kid_of(f"static-{i}"), secret=s) for i, s in enumerate(secrets)]
    return KeyRing(lambda: keys, clock=clock)


def _mac(key: SigningKey, message: str) -> str:
    digest = hmac.new(key.secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Signer:
    def __init__(self, ring: KeyRing, *, clock: Clock = time.time) -> None:
        self.ring = ring
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    def sign(self, kind: str, values: tuple[str, ...], expires_at: int) -> str:
        names = FIELDS[kind]
        if len(values) != len(names) or not all(_FIELD.match(v) for v in values):
            raise ValueError(f"{kind} takes {', '.join(names)}, each 1-64 of [A-Za-z0-9_-]")
        key = self.ring.current()
        message = ".".join([kind, *values, str(int(expires_at)), key.kid])
        return f"{message}.{_mac(key, message)}"

    def verify(self, kind: str, token: Any) -> Claims:
        """The token's claims, or InvalidToken with the reason (never the token)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed")
        parts = token.split(".")
        names = FIELDS[kind]
        if parts[0] != kind:
            raise InvalidToken("wrong kind" if parts[0] in FIELDS else "malformed")
        if len(parts) != len(names) + 4:
            raise InvalidToken("malformed")
        values, (expiry, kid, signature) = parts[1 : 1 + len(names)], parts[1 + len(names) :]
        if not all(_FIELD.match(v) for v in values) or not expiry.isdigit() or not _KID.match(kid):
            raise InvalidToken("malformed")
        key = self.ring.find(kid)
        if key is None:
            raise InvalidToken("unknown key")
        message = token.rsplit(".", 1)[0]
        if not hmac.compare_digest(_mac(key, message).encode(), signature.encode()):
            raise InvalidToken("bad signature")
        # Checked after the signature, so the reason given for a forged token is never
        # "expired" (which would confirm that its other fields were ours).
        if int(expiry) <= self.now():
            raise InvalidToken("expired")
        return Claims(kind, dict(zip(names, values, strict=True)), int(expiry), kid)

    # One method per kind, so callers never spell a kind or a field order.

    def visitor_cookie(self, visitor_id: str, ttl_s: int) -> str:
        return self.sign(VISITOR_COOKIE, (visitor_id,), self.now() + ttl_s)

    def push_ticket(self, visitor_id: str, ttl_s: int) -> str:
        return self.sign(PUSH_TICKET, (visitor_id,), self.now() + ttl_s)

    def priority_pass(self, zone_id: str, pass_class: str, pass_id: str, expires_at: int) -> str:
        return self.sign(PRIORITY_PASS, (zone_id, pass_class, pass_id), expires_at)

    def access_token(self, zone_id: str, visitor_id: str, expires_at: int) -> str:
        return self.sign(ACCESS_TOKEN, (zone_id, visitor_id), expires_at)
