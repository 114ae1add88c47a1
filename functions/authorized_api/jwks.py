"""The issuer's signing keys (a JWKS, as Cognito publishes at
`https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/jwks.json`), cached.

Fetched once per execution environment and kept `ttl_s`; a token naming a key id the
cache lacks (the issuer rotated its keys) refetches at most once per `min_refresh_s`, so a
flood of made-up key ids cannot turn into a flood of fetches. When a refetch fails, the
keys already held stay in use (stale beats down); only with no keys at all is the failure
the caller's `JwksUnavailable`, an outage rather than a bad token.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

from jwt import PyJWK
from jwt.exceptions import PyJWKError

MAX_BYTES = 64 * 1024  # Cognito's document is about 1 KB; refuse anything absurd

_KEY_TYPES = {"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "ES256": "EC"}

Fetch = Callable[[str, float], bytes]


class UnknownKey(Exception):
    """No key with the token's `kid`, even after a refetch: the token is not the issuer's."""


class JwksUnavailable(Exception):
    """The key set could not be fetched and none is cached: an outage, not a bad token."""


def fetch_url(url: str, timeout_s: float) -> bytes:
    """GET the JWKS document (bounded in time and size)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body: bytes = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"JWKS document is over {MAX_BYTES} bytes")
    return body


def parse(document: bytes, algorithms: tuple[str, ...]) -> dict[str, PyJWK]:
    """Signing keys by `kid`. A member for encryption, without a kid, of another algorithm
    or key type (an `oct` key would let HS256 tokens in) is left out; raises ValueError
    when no key is left."""
    try:
        data = json.loads(document)
    except ValueError:
        raise ValueError("JWKS document is not JSON") from None
    members = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(members, list):
        raise ValueError('JWKS document has no "keys" list')
    usable: dict[str, PyJWK] = {}
    for member in members:
        if not isinstance(member, dict) or member.get("use", "sig") != "sig":
            continue
        kid, alg = member.get("kid"), member.get("alg", algorithms[0])
        if not isinstance(kid, str) or not kid or alg not in algorithms:
            continue
        if member.get("kty") != _KEY_TYPES.get(alg):
            continue
        try:
            usable[kid] = PyJWK(member, algorithm=alg)
        except PyJWKError:
            continue
    if not usable:
        raise ValueError("JWKS document has no signing key for " + ", ".join(algorithms))
    return usable


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float],
        algorithms: tuple[str, ...] = ("RS256",),
        ttl_s: float = 3600,
        min_refresh_s: float = 60,
        timeout_s: float = 2,
        fetch: Fetch = fetch_url,
    ) -> None:
        self.url = url
        self.clock = clock
        self.algorithms = algorithms
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self.fetch = fetch
        self.keys: dict[str, PyJWK] = {}
        self.fetched_at: float | None = None  # last successful fetch
        self.failed_at: float | None = None  # last failed fetch
        self.chased_at: float | None = None  # last refetch for an unknown kid
        self.fetches = 0

    def key(self, kid: str) -> PyJWK:
        """The signing key `kid`; raises UnknownKey or JwksUnavailable."""
        now = self.clock()
        due = self.fetched_at is None or now - self.fetched_at >= self.ttl_s
        if due and not self._backing_off(now):
            self._refresh(now)
        if kid not in self.keys and self._may_chase(now):
            self.chased_at = now
            self._refresh(now)
        if kid in self.keys:
            return self.keys[kid]
        raise UnknownKey(kid)

    def _backing_off(self, now: float) -> bool:
        """A fetch failed a moment ago and keys are held: serve them, do not hammer."""
        recent = self.failed_at is not None and now - self.failed_at < self.min_refresh_s
        return recent and bool(self.keys)

    def _may_chase(self, now: float) -> bool:
        quiet = self.chased_at is None or now - self.chased_at >= self.min_refresh_s
        return quiet and not self._backing_off(now)

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            self.keys = parse(self.fetch(self.url, self.timeout_s), self.algorithms)
        except Exception as error:
            self.failed_at = now
            if not self.keys:
                raise JwksUnavailable(f"{type(error).__name__}: {error}") from error
            return  # keep serving the keys we have
        self.fetched_at = now
        self.failed_at = None
