"""Bearer-token checks: parse, pick the issuer's key, verify signature and claims.

Everything wrong with a token is an `Unauthorized` with a short reason (for logs and
metrics, never the token itself); `Malformed` marks input that is not a JWT at all. The
order matters: nothing reaches the key cache (and so the network) before the token has
parsed and named an allowed algorithm and a key id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwks import JwksCache, UnknownKey

TokenUse = Literal["access", "id"]
REQUIRED_CLAIMS = ("exp", "iat", "iss", "sub")
MAX_TOKEN_CHARS = 8192  # Cognito tokens are 1-2 KB; API Gateway caps headers at 10 KB


class Unauthorized(Exception):
    """The caller is not authenticated (API Gateway answers 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Malformed(Unauthorized):
    """The credential is not a bearer JWT at all."""


@dataclass(frozen=True)
class Verifier:
    """issuer: the exact `iss`; audience: allowed app client ids (`client_id` of Cognito
    access tokens) or audiences (`aud` of ID tokens and other OIDC issuers); token_use:
    Cognito's `token_use` claim, or None for an issuer that has none."""

    issuer: str
    audience: tuple[str, ...]
    token_use: TokenUse | None = "access"
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_s: int = 30


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
    token_use: str
    client_id: str
    claims: Mapping[str, Any]

    def context(self) -> dict[str, str]:
        """The authorizer context: flat strings only (API Gateway drops nested values)."""
        return {
            "sub": self.sub,
            "username": self.username,
            "groups": ",".join(self.groups),
            "scope": " ".join(self.scopes),
            "tokenUse": self.token_use,
            "clientId": self.client_id,
        }


def fingerprint(token: str) -> str:
    """A short digest that correlates log lines without disclosing the token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:12]


def bearer(header: Any) -> str:
    """The token of an `Authorization: Bearer <token>` value."""
    if not isinstance(header, str) or not header.strip():
        raise Malformed("missing")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Malformed("not-bearer")
    if len(token) > MAX_TOKEN_CHARS:
        raise Malformed("too-long")
    return token


_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.InvalidAlgorithmError, "algorithm"),
    (jwt.MissingRequiredClaimError, "claims"),
    (jwt.InvalidIssuedAtError, "claims"),
    (jwt.DecodeError, "malformed"),
)


def _header(token: str, verifier: Verifier) -> str:
    """The key id, once the header has parsed and named an allowed algorithm."""
    if token.count(".") != 2:
        raise Malformed("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Malformed("malformed") from None
    if header.get("alg") not in verifier.algorithms:
        raise Unauthorized("algorithm")  # `none`, HS256 with a public key, ...
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Malformed("no-kid")
    return kid


def verify(token: str, verifier: Verifier, keys: JwksCache) -> Caller:
    kid = _header(token, verifier)
    try:
        key = keys.key(kid)
    except UnknownKey:
        raise Unauthorized("unknown-key") from None
    check_aud = verifier.token_use != "access"  # Cognito access tokens carry client_id
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=list(verifier.algorithms),
            issuer=verifier.issuer,
            audience=list(verifier.audience) if check_aud else None,
            leeway=verifier.leeway_s,
            options={"require": list(REQUIRED_CLAIMS), "verify_aud": check_aud},
        )
    except jwt.PyJWTError as error:
        for kind, reason in _ERRORS:
            if isinstance(error, kind):
                raise Unauthorized(reason) from None
        raise Unauthorized("invalid") from None
    return _caller(claims, verifier)


def _caller(claims: Mapping[str, Any], verifier: Verifier) -> Caller:
    token_use = claims.get("token_use")
    if verifier.token_use is not None and token_use != verifier.token_use:
        raise Unauthorized("token-use")
    client_id = claims.get("client_id") or ""
    if verifier.token_use == "access" and client_id not in verifier.audience:
        raise Unauthorized("audience")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("claims")
    groups = claims.get("cognito:groups") or []
    scope = claims.get("scope") or ""
    return Caller(
        sub=sub,
        username=str(claims.get("username") or claims.get("cognito:username") or sub),
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        token_use=str(token_use or ""),
        client_id=str(client_id),
        claims=dict(claims),
    )
