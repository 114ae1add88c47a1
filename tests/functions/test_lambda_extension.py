"""lambda-extension: the config-cache extension, its layer and the client, run for real.

Sockets go to 127.0.0.1 only: a fake Extensions API (`FakeExtensionsApi`, the register and
event/next calls Lambda serves, answering with the JSON fixtures under
tests/events/lambda-extension/), the extension's own cache server, and, for the launcher
started as a process from the built layer zip, moto's server. Everything else is moto in
process. The TTL is checked with a clock the test moves, never with sleeps.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from components.core import packaging
from tests.functions.conftest import EVENTS_DIR, FUNCTIONS_DIR, REGION, FakeLambdaContext

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]

PATTERN = "lambda-extension"
FUNCTION = "lambda-extension/function"
LAYER_DIR = FUNCTIONS_DIR / "lambda_extension" / "layer"
LAUNCHER = "extensions/config-cache"
TOKEN = "testing"  # conftest's AWS_SESSION_TOKEN
SECRET_NAME = "orders/db"
SECRET_VALUE = '{"user": "orders", "password": "s3cr3t-Pa55"}'
PARAMETER = "/orders/feature-flags"
PARAMETER_VALUE = '{"newCheckout": true}'
WAIT_S = 20  # an upper bound for a thread or process to reach a point, never a sleep


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / PATTERN / f"{name}.json").read_text())
    return loaded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class FakeExtensionsApi:
    """Lambda's Extensions API, as far as an extension sees it: register, then event/next
    answered from `events` (the test puts INVOKE and SHUTDOWN there); records every call."""

    identifier: str = "f9b0a8c1-6e3e-4bde-9d8d-7b0d9f1c2a11"
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    waiting: threading.Event = field(default_factory=threading.Event)  # an event/next came

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.calls.append((self.command, self.path, dict(self.headers.items()), body))
                return body

            def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._record()
                if self.path == "/2020-01-01/extension/register":
                    if not self.headers.get("Lambda-Extension-Name"):
                        self._answer(400, {"errorMessage": "no name"}, {})
                        return
                    self._answer(
                        200,
                        {"functionName": "dev-lambda-extension-demo"},
                        {"Lambda-Extension-Identifier": api.identifier},
                    )
                else:  # init/error, exit/error
                    self._answer(202, {"status": "OK"}, {})

            def do_GET(self) -> None:
                self._record()
                if self.headers.get("Lambda-Extension-Identifier") != api.identifier:
                    self._answer(403, {"errorMessage": "unknown extension"}, {})
                    return
                api.waiting.set()
                self._answer(200, api.events.get(timeout=WAIT_S), {})

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _, _ in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api() -> Iterator[FakeExtensionsApi]:
    api = FakeExtensionsApi()
    yield api
    api.close()


@pytest.fixture
def extension() -> Iterator[dict[str, ModuleType]]:
    """The layer's `config_cache` modules, imported as /opt on PYTHONPATH makes them."""
    sys.path.insert(0, str(LAYER_DIR))
    import config_cache.__main__ as main
    import config_cache.cache as cache
    import config_cache.fetch as fetch
    import config_cache.server as server

    yield {"main": main, "cache": cache, "fetch": fetch, "server": server}
    sys.path.remove(str(LAYER_DIR))
    for name in [n for n in sys.modules if n == "config_cache" or n.startswith("config_cache.")]:
        del sys.modules[name]


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """A secret and a SecureString parameter in moto; yields the secret's ARN."""
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET_NAME, SecretString=SECRET_VALUE
        )["ARN"]
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=PARAMETER, Value=PARAMETER_VALUE, Type="SecureString"
        )
        yield {"secret_arn": arn}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {} if token is None else {"X-Config-Cache-Token": token}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=WAIT_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class CountingFetchers:
    """The real boto3 fetchers, counting the calls each kind makes to the service."""

    inner: dict[str, Callable[[str], str]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Callable[[str], str]]:
        def counted(kind: str) -> Callable[[str], str]:
            def fetch(name: str) -> str:
                self.calls.append((kind, name))
                return self.inner[kind](name)

            return fetch

        return {kind: counted(kind) for kind in self.inner}


@pytest.fixture
def cache_server(extension, aws) -> Iterator[tuple[int, Clock, CountingFetchers]]:
    """The extension's cache server in a thread, with moto behind it and a frozen clock."""
    cache_module, server_module = extension["cache"], extension["server"]
    fetchers = CountingFetchers(extension["fetch"].fetchers())
    clock = Clock()
    cache = cache_module.ConfigCache(
        cache_module.AllowList.of([aws["secret_arn"]], [PARAMETER, "/orders/missing"]),
        fetchers.as_dict(),
        ttl_s=300,
        clock=clock,
    )
    server = server_module.start(cache, TOKEN, free_port())
    yield server.server_address[1], clock, fetchers
    server.shutdown()
    server.server_close()


# The layer --------------------------------------------------------------------------------


def test_layer_zip_holds_an_executable_launcher_and_the_extension_code(tmp_path):
    package = packaging.build(
        "lambda_extension/layer", layer=True, executables=[LAUNCHER], build_dir=tmp_path
    )
    with zipfile.ZipFile(package.path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        launcher = archive.read(LAUNCHER)
    assert (infos[LAUNCHER].external_attr >> 16) & 0o777 == 0o755
    assert launcher.startswith(b"#!/bin/sh\n")
    assert b"python3 -m config_cache" in launcher
    code = sorted(name for name in infos if name.startswith("config_cache/"))
    assert code == [
        "config_cache/__init__.py",
        "config_cache/__main__.py",
        "config_cache/cache.py",
        "config_cache/extensions_api.py",
        "config_cache/fetch.py",
        "config_cache/server.py",
    ]
    assert set(infos) == {LAUNCHER, *code}  # nothing else: no demo handler, no tests
    assert all((i.external_attr >> 16) & 0o777 == 0o644 for n, i in infos.items() if n in code)


def test_launcher_from_the_zip_registers_serves_and_exits_on_shutdown(tmp_path, fake_api):
    """The layer as Lambda unpacks it into /opt: its launcher is started as a process (the
    shebang and mode are what make it run), against the fake API and moto's server."""
    package = packaging.build(
        "lambda_extension/layer", layer=True, executables=[LAUNCHER], build_dir=tmp_path / "build"
    )
    opt = tmp_path / "opt"
    with zipfile.ZipFile(package.path) as archive:
        for info in archive.infolist():
            target = Path(archive.extract(info, opt))
            target.chmod((info.external_attr >> 16) & 0o777)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    try:
        endpoint = f"http://127.0.0.1:{moto_port}"
        arn = boto3.client(
            "secretsmanager", region_name=REGION, endpoint_url=endpoint
        ).create_secret(Name=SECRET_NAME, SecretString=SECRET_VALUE)["ARN"]
        cache_port = free_port()
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(opt),  # Lambda's /opt, where the zip's code lands
            "AWS_LAMBDA_RUNTIME_API": fake_api.address,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": TOKEN,
            "CONFIG_CACHE_PORT": str(cache_port),
            "CONFIG_CACHE_ALLOWED_SECRETS": arn,
        }
        process = subprocess.Popen(
            [str(opt / LAUNCHER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            assert fake_api.waiting.wait(WAIT_S), process.communicate(timeout=WAIT_S)[0]
            assert get(cache_port, f"/secret?name={SECRET_NAME}") == (200, SECRET_VALUE)
            fake_api.events.put(event("shutdown"))
            output, _ = process.communicate(timeout=WAIT_S)
        finally:
            process.kill()
        assert process.returncode == 0, output
    finally:
        moto.stop()
    _, path, headers, body = fake_api.calls[0]
    assert path == "/2020-01-01/extension/register"
    assert headers["Lambda-Extension-Name"] == "config-cache"  # the launcher's file name
    assert body == {"events": ["INVOKE", "SHUTDOWN"]}


# The register / event/next loop ------------------------------------------------------------


def test_loop_registers_by_name_serves_during_invokes_and_stops_on_shutdown(
    extension, aws, fake_api
):
    port = free_port()
    env = {
        "AWS_LAMBDA_RUNTIME_API": fake_api.address,
        "AWS_SESSION_TOKEN": TOKEN,
        "CONFIG_CACHE_PORT": str(port),
        "CONFIG_CACHE_ALLOWED_PARAMETERS": PARAMETER,
    }
    result: list[int] = []
    fake_api.events.put(event("invoke"))
    loop = threading.Thread(
        target=lambda: result.append(
            extension["main"].run("config-cache", env, extension["fetch"].fetchers)
        ),
        daemon=True,
    )
    loop.start()
    assert fake_api.waiting.wait(WAIT_S)
    assert get(port, f"/parameter?name={PARAMETER}") == (200, PARAMETER_VALUE)
    fake_api.events.put(event("shutdown"))
    loop.join(WAIT_S)
    assert not loop.is_alive() and result == [0]
    assert fake_api.paths() == [
        "POST /2020-01-01/extension/register",
        "GET /2020-01-01/extension/event/next",  # answered INVOKE
        "GET /2020-01-01/extension/event/next",  # answered SHUTDOWN: the loop ends
    ]
    register_headers = fake_api.calls[0][2]
    assert register_headers["Lambda-Extension-Name"] == "config-cache"
    for _, _, headers, _ in fake_api.calls[1:]:
        assert headers["Lambda-Extension-Identifier"] == fake_api.identifier
    with pytest.raises(OSError):  # the server is closed with the loop
        socket.create_connection(("127.0.0.1", port), timeout=WAIT_S).close()


def test_a_port_in_use_is_reported_as_an_init_error(extension, aws, fake_api):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {
            "AWS_LAMBDA_RUNTIME_API": fake_api.address,
            "AWS_SESSION_TOKEN": TOKEN,
            "CONFIG_CACHE_PORT": str(taken.getsockname()[1]),
        }
        status = extension["main"].run("config-cache", env, extension["fetch"].fetchers)
    assert status == 1
    assert fake_api.paths() == [
        "POST /2020-01-01/extension/register",
        "POST /2020-01-01/extension/init/error",
    ]
    headers = fake_api.calls[1][2]
    assert headers["Lambda-Extension-Function-Error-Type"] == "Extension.ConfigCacheStartFailed"


def test_registration_without_an_identifier_is_an_error(extension):
    api_module = sys.modules["config_cache.extensions_api"]

    class NoIdentifier(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), NoIdentifier)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = api_module.ExtensionsApi(f"127.0.0.1:{server.server_address[1]}")
        with pytest.raises(api_module.ExtensionsApiError, match="Lambda-Extension-Identifier"):
            api.register("config-cache")
    finally:
        server.shutdown()
        server.server_close()


# The cache server ---------------------------------------------------------------------------


def test_first_read_fetches_a_second_within_the_ttl_does_not_and_after_it_refetches(
    cache_server, aws
):
    port, clock, fetchers = cache_server
    assert get(port, f"/secret?name={SECRET_NAME}") == (200, SECRET_VALUE)
    clock.now += 299
    assert get(port, f"/secret?name={SECRET_NAME}") == (200, SECRET_VALUE)
    assert fetchers.calls == [("secret", aws["secret_arn"])]
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=SECRET_NAME, SecretString="rotated"
    )
    clock.now += 1  # 300 s after the fetch: expired
    assert get(port, f"/secret?name={SECRET_NAME}") == (200, "rotated")
    assert fetchers.calls == [("secret", aws["secret_arn"])] * 2


def test_a_secret_is_found_by_arn_name_or_short_name_and_cached_once(cache_server, aws):
    port, _, fetchers = cache_server
    arn = aws["secret_arn"]
    full_name = arn.split(":secret:")[1]
    for name in (arn, full_name, SECRET_NAME):
        assert get(port, f"/secret?name={urllib.request.quote(name)}") == (200, SECRET_VALUE)
    assert fetchers.calls == [("secret", arn)]


def test_a_parameter_is_decrypted_and_cached(cache_server):
    port, _, fetchers = cache_server
    for _ in range(3):
        assert get(port, f"/parameter?name={PARAMETER}") == (200, PARAMETER_VALUE)
    assert fetchers.calls == [("parameter", PARAMETER)]


@pytest.mark.parametrize("token", [None, "", "someone-elses-token"])
def test_a_missing_or_wrong_token_is_403_and_reads_nothing(cache_server, token):
    port, _, fetchers = cache_server
    status, body = get(port, f"/secret?name={SECRET_NAME}", token=token)
    assert status == 403
    assert "X-Config-Cache-Token" in json.loads(body)["message"]
    assert SECRET_VALUE not in body
    assert fetchers.calls == []


def test_names_outside_the_allow_list_are_403_and_read_nothing(cache_server):
    port, _, fetchers = cache_server
    for path in ("/secret?name=payments/db", "/parameter?name=/payments/key"):
        status, body = get(port, path)
        assert status == 403
        assert "not in the allow-list" in json.loads(body)["message"]
    assert fetchers.calls == []


def test_an_allowed_name_the_service_lacks_is_404_and_not_cached(cache_server):
    port, _, fetchers = cache_server
    for _ in range(2):
        status, body = get(port, "/parameter?name=/orders/missing")
        assert status == 404 and "does not exist" in json.loads(body)["message"]
    assert fetchers.calls == [("parameter", "/orders/missing")] * 2


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/secret", 400),
        ("/secret?name=", 400),
        ("/secret?name=a&name=b", 400),
        ("/", 404),
        ("/secrets?name=orders/db", 404),
        ("/2020-01-01/extension/register", 404),
    ],
)
def test_malformed_requests_get_a_clear_status(cache_server, path, status):
    port, _, fetchers = cache_server
    code, body = get(port, path)
    assert code == status and json.loads(body)["message"]
    assert fetchers.calls == []


def test_an_unreadable_service_is_502_and_the_next_request_tries_again(extension):
    cache_module, server_module = extension["cache"], extension["server"]
    attempts: list[str] = []

    def failing(name: str) -> str:
        attempts.append(name)
        raise cache_module.FetchFailed(f"reading {name!r} failed: ThrottlingException")

    cache = cache_module.ConfigCache(
        cache_module.AllowList.of([], ["/flags"]),
        {"secret": failing, "parameter": failing},
        ttl_s=60,
    )
    server = server_module.start(cache, TOKEN, free_port())
    try:
        port = server.server_address[1]
        assert get(port, "/parameter?name=/flags")[0] == 502
        assert get(port, "/parameter?name=/flags")[0] == 502
    finally:
        server.shutdown()
        server.server_close()
    assert attempts == ["/flags", "/flags"]


def test_binary_secrets_are_served_as_base64(extension, aws):
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="orders/cert", SecretBinary=b"\x00\x01binary"
    )
    fetch = extension["fetch"].fetchers()["secret"]
    assert base64.b64decode(fetch("orders/cert")) == b"\x00\x01binary"


def test_the_cache_refuses_a_ttl_that_is_not_positive(extension):
    cache_module = extension["cache"]
    with pytest.raises(ValueError, match="ttl_s must be positive"):
        cache_module.ConfigCache(cache_module.AllowList(), {}, ttl_s=0)


# The client and the demo handler -------------------------------------------------------------


def test_client_falls_back_to_powertools_when_the_port_is_closed(aws, load_function, monkeypatch):
    monkeypatch.setenv("CONFIG_CACHE_PORT", str(free_port()))  # nothing listens there
    demo = load_function(FUNCTION, "demo")
    read = demo.client.read("secret", SECRET_NAME)
    assert (read.value, read.source) == (SECRET_VALUE, "powertools")
    read = demo.client.read("parameter", PARAMETER)
    assert (read.value, read.source) == (PARAMETER_VALUE, "powertools")


def test_client_reads_through_the_extension_when_it_answers(
    cache_server, load_function, monkeypatch
):
    port, _, fetchers = cache_server
    monkeypatch.setenv("CONFIG_CACHE_PORT", str(port))
    demo = load_function(FUNCTION, "demo")
    assert demo.client.read("secret", SECRET_NAME) == demo.client.Read(SECRET_VALUE, "extension")
    assert demo.client.get_parameter(PARAMETER) == PARAMETER_VALUE
    assert [kind for kind, _ in fetchers.calls] == ["secret", "parameter"]


def test_client_falls_back_when_the_extension_refuses(
    cache_server, aws, load_function, monkeypatch
):
    port, _, _ = cache_server
    monkeypatch.setenv("CONFIG_CACHE_PORT", str(port))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a-token-the-extension-does-not-hold")
    demo = load_function(FUNCTION, "demo")
    assert demo.client.read("secret", SECRET_NAME).source == "powertools"


@pytest.mark.parametrize(
    ("fixture", "kind"), [("demo-secret", "secret"), ("demo-parameter", "parameter")]
)
def test_demo_reports_the_path_never_the_value(
    aws, load_function, monkeypatch, capsys, fixture, kind
):
    monkeypatch.setenv("CONFIG_CACHE_PORT", str(free_port()))
    demo = load_function(FUNCTION, "demo")
    answer = demo.handler(event(fixture), FakeLambdaContext())
    assert answer == {
        "kind": kind,
        "name": event(fixture)["name"],
        "source": "powertools",
        "found": True,
    }
    output = capsys.readouterr().out + json.dumps(answer)
    assert SECRET_VALUE not in output and PARAMETER_VALUE not in output
    assert "ReadsViaPowertools" in output


def test_demo_reads_the_configured_name_without_an_event(aws, load_function, monkeypatch):
    monkeypatch.setenv("CONFIG_CACHE_PORT", str(free_port()))
    monkeypatch.setenv("DEMO_SECRET_NAME", aws["secret_arn"])
    demo = load_function(FUNCTION, "demo")
    assert demo.handler({}, FakeLambdaContext())["name"] == aws["secret_arn"]


@pytest.mark.parametrize("index", range(5))
def test_demo_rejects_malformed_events(aws, load_function, index):
    demo = load_function(FUNCTION, "demo")
    malformed = json.loads((EVENTS_DIR / PATTERN / "malformed-demo.json").read_text())[index]
    with pytest.raises(demo.InvalidRequest):
        demo.handler(malformed, FakeLambdaContext())


def test_demo_without_an_event_or_configured_name_is_an_invalid_request(load_function, monkeypatch):
    monkeypatch.delenv("DEMO_SECRET_NAME", raising=False)
    monkeypatch.delenv("DEMO_PARAMETER_NAME", raising=False)
    demo = load_function(FUNCTION, "demo")
    with pytest.raises(demo.InvalidRequest, match="no name given"):
        demo.handler({}, FakeLambdaContext())
