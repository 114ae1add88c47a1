"""The localhost HTTP endpoint: `GET /secret?name=` and `GET /parameter?name=`.

Bound to 127.0.0.1 only. Every request must carry `X-Config-Cache-Token` equal to the
execution environment's `AWS_SESSION_TOKEN`: code that can be tricked into fetching a
localhost URL (SSRF) cannot add that header, so it cannot read the cache. Answers: 200 with
the value as text, 400 without a name, 403 for a missing or wrong token or a name outside
the allow-list, 404 for an unknown path or a value the service does not have, 502 when the
service could not be read. Bodies of errors are JSON messages and never contain a value.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, urlsplit

from config_cache.cache import KINDS, ConfigCache, FetchFailed, Kind, NotAllowed, NotFound

TOKEN_HEADER = "X-Config-Cache-Token"
HOST = "127.0.0.1"

logger = logging.getLogger("config-cache")


class CacheServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cache: ConfigCache, token: str, port: int) -> None:
        self.cache = cache
        self.token = token
        super().__init__((HOST, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: CacheServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        kind = url.path.strip("/")
        if kind not in KINDS:
            self._reply(HTTPStatus.NOT_FOUND, {"message": "use /secret?name= or /parameter?name="})
            return
        if not self._authorised():
            self._reply(HTTPStatus.FORBIDDEN, {"message": f"missing or wrong {TOKEN_HEADER}"})
            return
        names = parse_qs(url.query).get("name", [])
        if len(names) != 1 or not names[0]:
            self._reply(HTTPStatus.BAD_REQUEST, {"message": "exactly one name= is required"})
            return
        try:
            value = self.server.cache.get(cast(Kind, kind), names[0])
        except NotAllowed as error:
            self._reply(HTTPStatus.FORBIDDEN, {"message": str(error)})
        except NotFound as error:
            self._reply(HTTPStatus.NOT_FOUND, {"message": str(error)})
        except FetchFailed as error:
            logger.warning("fetch failed: %s", error)
            self._reply(HTTPStatus.BAD_GATEWAY, {"message": str(error)})
        else:
            self._send(HTTPStatus.OK, value.encode(), "text/plain; charset=utf-8")

    def _authorised(self) -> bool:
        given = self.headers.get(TOKEN_HEADER, "")
        expected = self.server.token
        return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    def _reply(self, status: HTTPStatus, body: dict[str, str]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # The default writes every request line to stderr; requests carry names only, but
        # the function's log stream should hold the function's lines, not one per read.
        return


def start(cache: ConfigCache, token: str, port: int) -> CacheServer:
    """Bind (raising OSError if the port is taken) and serve in a daemon thread."""
    server = CacheServer(cache, token, port)
    threading.Thread(target=server.serve_forever, name="config-cache", daemon=True).start()
    return server
