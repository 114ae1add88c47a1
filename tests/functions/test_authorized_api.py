"""authorized-api: the JWT authorizer and the example routes.

Tokens are signed in the tests with RSA keys the tests generate; the issuer's JWKS, in
Cognito's format, is served by an HTTP server on 127.0.0.1 (the only address sockets may
reach), so the authorizer fetches and caches it exactly as it would from Cognito. Group
policies live in moto DynamoDB, written by the component's own item renderer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from components.authorized_api import GroupGrant, policy_item

PATTERN = "authorized-api"
REGION = "eu-west-1"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xk9Qm2LpA"
CLIENT_ID = "3j1f0n8k7q6p5r4s2t9v0w1x2y"
POLICY_TABLE = "authz-test-group-policies"
API = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5"
STAGE_ARN = f"{API}/v1"
ROUTES = {
    "cognito:groups=admins": [["GET", "me"], ["GET", "reports"]],
    "cognito:groups=users": [["GET", "me"]],
    "scope:reports.read": [["GET", "reports"]],
}

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

LoadFunction = Callable[[str, str], ModuleType]
LoadEvent = Callable[[str, str], dict[str, Any]]


# --- keys, JWKS and tokens -----------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(number: int) -> str:
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


class Key:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, str]:
        """The key as Cognito publishes it."""
        numbers = self.private.public_key().public_numbers()
        return {
            "alg": "RS256",
            "e": _uint(numbers.e),
            "kid": self.kid,
            "kty": "RSA",
            "n": _uint(numbers.n),
            "use": "sig",
        }


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    """Cognito publishes two keys (ID and access tokens); `other` is nobody's."""
    return {name: Key(f"{name}-{uuid.uuid4().hex[:8]}") for name in ("access", "id", "other")}


class Issuer:
    """A JWKS endpoint on loopback that counts its fetches and can fail or rotate."""

    def __init__(self, keys: list[Key]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.failing = False
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                if issuer.failing or self.path != "/.well-known/jwks.json":
                    self.send_error(503 if issuer.failing else 404)
                    return
                body = json.dumps({"keys": [k.jwk() for k in issuer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer(keys: dict[str, Key]) -> Iterator[Issuer]:
    server = Issuer([keys["id"], keys["access"]])
    yield server
    server.close()


def claims(load_event: LoadEvent, kind: str = "access", **changes: Any) -> dict[str, Any]:
    """Cognito-shaped claims, valid now; `None` removes a claim."""
    now = int(time.time())
    found = load_event(PATTERN, f"cognito-{kind}-token-claims")
    found.update(auth_time=now - 60, iat=now - 60, exp=now + 3600)
    for name, value in changes.items():
        name = name.replace("__", ":")
        if value is None:
            found.pop(name, None)
        else:
            found[name] = value
    return found


def sign(payload: dict[str, Any], key: Key, *, kid: str | None = None) -> str:
    return jwt.encode(payload, key.pem, algorithm="RS256", headers={"kid": kid or key.kid})


def hs256_with_public_key(payload: dict[str, Any], key: Key) -> str:
    """The algorithm-confusion attack: HS256 keyed with the issuer's public key."""
    header = b64url(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    mac = hmac.new(key.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(mac)}"


def unsigned(payload: dict[str, Any], key: Key) -> str:
    header = b64url(json.dumps({"alg": "none", "kid": key.kid, "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}."


# --- the authorizer under test -------------------------------------------------------------


@pytest.fixture
def environment(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "ISSUER": ISSUER,
        "AUDIENCE": CLIENT_ID,
        "JWKS_URL": issuer.url,
        "JWT_KIND": "access",
        "JWKS_TIMEOUT_S": "2",
        "CLAIM_ROUTES": json.dumps(ROUTES),
        "MODE": "jwt",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def authorizer(environment: None, load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "authorizer")


@pytest.fixture
def policy_table(environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name=REGION).create_table(
            TableName=POLICY_TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "group", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "group", "AttributeType": "S"}],
        )
        grants = {
            "admins": GroupGrant(allow=["GET /me", "GET /reports"]),
            "users": GroupGrant(allow=["GET /me"]),
            "auditors": GroupGrant(allow=["GET /reports"]),
            "suspended": GroupGrant(deny=["GET /reports"]),
        }
        client = boto3.client("dynamodb", region_name=REGION)
        for group, grant in grants.items():
            client.put_item(
                TableName=POLICY_TABLE, Item=json.loads(policy_item(group, grant, STAGE_ARN))
            )
        monkeypatch.setenv("MODE", "cognito_groups")
        monkeypatch.setenv("POLICY_TABLE", POLICY_TABLE)
        monkeypatch.setenv("POLICY_CACHE_S", "60")
        yield table


@pytest.fixture
def group_authorizer(policy_table: Any, load_function: LoadFunction) -> ModuleType:
    return load_function(PATTERN, "authorizer")


def token_event(load_event: LoadEvent, token: str | None) -> dict[str, Any]:
    event = load_event(PATTERN, "token-authorizer")
    if token is None:
        del event["authorizationToken"]
    else:
        event["authorizationToken"] = f"Bearer {token}"
    return event


def request_event(load_event: LoadEvent, header: str | None) -> dict[str, Any]:
    event = load_event(PATTERN, "request-authorizer")
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("authorization")
    if header is not None:
        event["headers"]["authorization"] = header
        event["multiValueHeaders"]["authorization"] = [header]
    return event


def allowed(response: dict[str, Any]) -> set[str]:
    return {
        resource
        for statement in response["policyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in statement["Resource"]
    }


def denied(response: dict[str, Any]) -> set[str]:
    return {
        resource
        for statement in response["policyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        for resource in statement["Resource"]
    }


def records_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the log records carry: messages and every extra key's value."""
    return "\n".join(repr(vars(record)) for record in caplog.records)


# --- valid tokens --------------------------------------------------------------------------


def test_a_valid_access_token_is_allowed_every_route_it_maps_to(
    authorizer: ModuleType, keys: dict[str, Key], load_event: LoadEvent, lambda_context: Any
) -> None:
    payload = claims(load_event)
    response = authorizer.handler(
        token_event(load_event, sign(payload, keys["access"])), lambda_context
    )

    # The result is cached per token for every route: it lists them all, not just GET /me.
    assert allowed(response) == {f"{STAGE_ARN}/GET/me", f"{STAGE_ARN}/GET/reports"}
    assert denied(response) == set()
    assert response["principalId"] == payload["sub"]
    assert response["context"] == {
        "sub": payload["sub"],
        "username": payload["username"],
        "groups": "admins",
        "scope": "aws.cognito.signin.user.admin",
        "tokenUse": "access",
        "clientId": CLIENT_ID,
    }
    assert all(isinstance(v, str | int | float | bool) for v in response["context"].values())


def test_scopes_and_claims_both_map_routes(
    authorizer: ModuleType, keys: dict[str, Key], load_event: LoadEvent, lambda_context: Any
) -> None:
    payload = claims(load_event, cognito__groups=["users"], scope="openid reports.read")
    response = authorizer.handler(
        token_event(load_event, sign(payload, keys["access"])), lambda_context
    )
    assert allowed(response) == {f"{STAGE_ARN}/GET/me", f"{STAGE_ARN}/GET/reports"}


def test_a_request_authorizer_reads_the_header_case_insensitively(
    authorizer: ModuleType, keys: dict[str, Key], load_event: LoadEvent, lambda_context: Any
) -> None:
    token = sign(claims(load_event, cognito__groups=["users"]), keys["access"])
    response = authorizer.handler(request_event(load_event, f"bearer {token}"), lambda_context)
    assert allowed(response) == {f"{STAGE_ARN}/GET/me"}


def test_an_authenticated_caller_with_no_route_gets_an_explicit_deny(
    authorizer: ModuleType,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = claims(load_event, cognito__groups=["guests"])
    response = authorizer.handler(
        token_event(load_event, sign(payload, keys["access"])), lambda_context
    )
    assert allowed(response) == set()
    assert denied(response) == {f"{STAGE_ARN}/*/*"}  # 403 on every route
    assert [r.message for r in caplog.records] == ["Denied: no route for this caller"]


def test_an_id_token_is_accepted_when_configured_and_checked_against_aud(
    environment: None,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
    load_function: LoadFunction,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_KIND", "id")
    authorizer = load_function(PATTERN, "authorizer")
    good = sign(claims(load_event, "id"), keys["id"])
    assert allowed(authorizer.handler(token_event(load_event, good), lambda_context))
    wrong_aud = sign(claims(load_event, "id", aud="another-client"), keys["id"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(token_event(load_event, wrong_aud), lambda_context)


# --- bad tokens ----------------------------------------------------------------------------

BAD_TOKENS: dict[str, tuple[Callable[[LoadEvent, dict[str, Key]], str | None], str]] = {
    "expired": (
        lambda e, k: sign(claims(e, exp=int(time.time()) - 120), k["access"]),
        "expired",
    ),
    "not-yet-valid": (
        lambda e, k: sign(claims(e, nbf=int(time.time()) + 600), k["access"]),
        "not-yet-valid",
    ),
    "issued-in-the-future": (
        lambda e, k: sign(claims(e, iat=int(time.time()) + 600), k["access"]),
        "not-yet-valid",
    ),
    "wrong-issuer": (
        lambda e, k: sign(
            claims(e, iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Evil"), k["access"]
        ),
        "issuer",
    ),
    "wrong-client": (
        lambda e, k: sign(claims(e, client_id="another-app-client"), k["access"]),
        "audience",
    ),
    "id-token-where-access-expected": (
        lambda e, k: sign(claims(e, "id"), k["id"]),
        "token-use",
    ),
    "wrong-signature": (
        lambda e, k: sign(claims(e), k["other"], kid=k["access"].kid),
        "signature",
    ),
    "alg-none": (lambda e, k: unsigned(claims(e), k["access"]), "algorithm"),
    "hs256-with-the-public-key": (
        lambda e, k: hs256_with_public_key(claims(e), k["access"]),
        "algorithm",
    ),
    "unknown-kid": (lambda e, k: sign(claims(e), k["other"]), "unknown-key"),
    "no-exp": (lambda e, k: sign(claims(e, exp=None), k["access"]), "claims"),
    "tampered-payload": (
        lambda e, k: _tamper(sign(claims(e, cognito__groups=["users"]), k["access"])),
        "signature",
    ),
    "malformed": (lambda e, k: "not.a.jwt", "malformed"),
    "two-parts": (lambda e, k: "eyJhbGciOiJSUzI1NiJ9.e30", "malformed"),
    "missing": (lambda e, k: None, "missing"),
}
MALFORMED = {"malformed", "two-parts", "missing"}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims_["cognito:groups"] = ["admins"]
    return ".".join([header, b64url(json.dumps(claims_).encode()), signature])


@pytest.mark.parametrize("shape", ["TOKEN", "REQUEST"])
@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_bad_token_is_unauthorized_logged_once_and_never_whole(
    authorizer: ModuleType,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    case: str,
    shape: str,
) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(load_event, keys)
    if shape == "TOKEN":
        event = token_event(load_event, token)
    else:
        event = request_event(load_event, None if token is None else f"Bearer {token}")

    with pytest.raises(Exception, match=r"^Unauthorized$") as raised:
        authorizer.handler(event, lambda_context)

    assert type(raised.value) is Exception  # exactly what API Gateway turns into a 401
    (record,) = caplog.records
    assert record.reason == reason
    assert record.levelname == ("ERROR" if case in MALFORMED else "INFO")
    if token:
        for secret in (token, *[part for part in token.split(".") if len(part) > 16]):
            assert secret not in records_text(caplog) and secret not in capsys.readouterr().out


def test_a_credential_that_is_not_a_bearer_token_is_malformed(
    authorizer: ModuleType, load_event: LoadEvent, lambda_context: Any, caplog: Any
) -> None:
    event = request_event(load_event, "Basic YWRtaW46aHVudGVyMg==")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(event, lambda_context)
    (record,) = caplog.records
    assert (record.levelname, record.reason) == ("ERROR", "not-bearer")
    assert "YWRtaW46aHVudGVyMg" not in records_text(caplog)


@pytest.mark.parametrize(
    "event",
    [{}, {"type": "TOKEN", "authorizationToken": "Bearer x.y.z"}, {"type": "WHAT"}, []],
    ids=["empty", "no-method-arn", "unknown-type", "not-an-object"],
)
def test_a_malformed_event_is_unauthorized_not_a_500(
    authorizer: ModuleType, lambda_context: Any, event: Any, caplog: Any
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(event, lambda_context)
    assert [r.levelname for r in caplog.records] == ["ERROR"]


# --- the key cache -------------------------------------------------------------------------


def test_keys_are_fetched_once_and_unknown_kids_refetch_at_most_once_a_minute(
    authorizer: ModuleType,
    issuer: Issuer,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [time.time()]
    monkeypatch.setattr(authorizer, "clock", lambda: now[0])

    def call(token: str) -> Any:
        try:
            return authorizer.handler(token_event(load_event, token), lambda_context)
        except Exception as error:
            return str(error)

    good = sign(claims(load_event), keys["access"])
    assert allowed(call(good)) and allowed(call(good))
    assert issuer.fetches == 1

    stranger = sign(claims(load_event), keys["other"])
    assert call(stranger) == "Unauthorized" and issuer.fetches == 2  # one refetch
    assert call(stranger) == "Unauthorized" and issuer.fetches == 2  # not again yet

    issuer.keys.append(keys["other"])  # the issuer rotates a new key in
    now[0] += 61
    assert allowed(call(stranger)) and issuer.fetches == 3
    now[0] += 3600
    assert allowed(call(good)) and issuer.fetches == 4  # the TTL ran out


def test_cached_keys_outlive_a_failing_issuer(
    authorizer: ModuleType,
    issuer: Issuer,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [time.time()]
    monkeypatch.setattr(authorizer, "clock", lambda: now[0])
    good = sign(claims(load_event), keys["access"])
    assert allowed(authorizer.handler(token_event(load_event, good), lambda_context))
    issuer.failing = True
    now[0] += 3601
    assert allowed(authorizer.handler(token_event(load_event, good), lambda_context))
    assert issuer.fetches == 2


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_no_keys_at_all_is_an_outage_not_an_unauthorized_caller(
    authorizer: ModuleType,
    issuer: Issuer,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
) -> None:
    issuer.failing = True
    good = sign(claims(load_event), keys["access"])
    with pytest.raises(Exception) as raised:
        authorizer.handler(token_event(load_event, good), lambda_context)
    assert str(raised.value) != "Unauthorized"  # API Gateway answers 500; the alarm fires
    assert type(raised.value).__name__ == "JwksUnavailable"


def test_a_malformed_token_never_reaches_the_issuer(
    authorizer: ModuleType, issuer: Issuer, load_event: LoadEvent, lambda_context: Any
) -> None:
    for token in ("x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer.handler(token_event(load_event, token), lambda_context)
    assert issuer.fetches == 0


# --- cognito_groups mode -------------------------------------------------------------------


def test_group_policies_come_from_the_table(
    group_authorizer: ModuleType, keys: dict[str, Key], load_event: LoadEvent, lambda_context: Any
) -> None:
    def routes(groups: list[str]) -> tuple[set[str], set[str]]:
        token = sign(claims(load_event, cognito__groups=groups), keys["access"])
        response = group_authorizer.handler(token_event(load_event, token), lambda_context)
        return allowed(response), denied(response)

    me, reports = f"{STAGE_ARN}/GET/me", f"{STAGE_ARN}/GET/reports"
    assert routes(["admins"]) == ({me, reports}, set())
    assert routes(["users"]) == ({me}, set())
    assert routes(["users", "auditors"]) == ({me, reports}, set())  # two groups merge
    assert routes(["admins", "suspended"]) == ({me, reports}, {reports})  # a deny wins
    assert routes(["nobody"]) == (set(), {f"{STAGE_ARN}/*/*"})
    assert routes([]) == (set(), {f"{STAGE_ARN}/*/*"})


def test_group_lookups_are_cached(
    group_authorizer: ModuleType, keys: dict[str, Key], load_event: LoadEvent, lambda_context: Any
) -> None:
    reads: list[str] = []
    client = group_authorizer.group_policies.client
    client.meta.events.register(
        "provide-client-params.dynamodb.GetItem",
        lambda params, **_: reads.append(params["Key"]["group"]["S"]),
    )
    token = sign(claims(load_event, cognito__groups=["users", "nobody"]), keys["access"])
    for _ in range(3):
        group_authorizer.handler(token_event(load_event, token), lambda_context)
    assert sorted(reads) == ["nobody", "users"]  # a miss is cached too


def test_statements_for_another_api_are_never_granted(
    group_authorizer: ModuleType,
    policy_table: Any,
    keys: dict[str, Key],
    load_event: LoadEvent,
    lambda_context: Any,
) -> None:
    foreign = "arn:aws:execute-api:eu-west-1:123456789012:zzzzzzzzzz/v1/GET/admin"
    policy_table.put_item(
        Item={"group": "mixed", "statements": [{"effect": "Allow", "resource": foreign}]}
    )
    token = sign(claims(load_event, cognito__groups=["mixed"]), keys["access"])
    response = group_authorizer.handler(token_event(load_event, token), lambda_context)
    assert allowed(response) == set()


# --- example routes ------------------------------------------------------------------------


def test_routes_read_the_caller_from_the_authorizer_context(
    load_function: LoadFunction, load_event: LoadEvent, lambda_context: Any
) -> None:
    routes = load_function(PATTERN, "routes")
    me = routes.handler(load_event(PATTERN, "api-get-me"), lambda_context)
    assert me["statusCode"] == 200
    assert json.loads(me["body"]) == {
        "sub": "b4c8a3f2-6e1d-4f7a-9c2b-5d8e1f3a7c90",
        "username": "b4c8a3f2-6e1d-4f7a-9c2b-5d8e1f3a7c90",
        "groups": ["admins", "users"],
    }
    unknown = load_event(PATTERN, "api-get-me")
    unknown["path"] = unknown["resource"] = "/nothing-here"
    assert routes.handler(unknown, lambda_context)["statusCode"] == 404
