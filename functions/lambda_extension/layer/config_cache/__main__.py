"""Entry point (`python3 -m config_cache <name>`, from /opt/extensions/<name>).

Registers for INVOKE and SHUTDOWN, starts the cache server, then loops on event/next: the
server thread answers the function's reads during each invocation, and the loop ends on
SHUTDOWN. Configuration, from the function's environment (the component sets it):
CONFIG_CACHE_PORT, CONFIG_CACHE_TTL_S, CONFIG_CACHE_ALLOWED_SECRETS (comma-separated ARNs),
CONFIG_CACHE_ALLOWED_PARAMETERS (comma-separated names).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from config_cache.cache import AllowList, ConfigCache, Fetch, Kind
from config_cache.extensions_api import ExtensionsApi
from config_cache.fetch import fetchers
from config_cache.server import start

DEFAULT_NAME = "config-cache"
DEFAULT_PORT = 2772
DEFAULT_TTL_S = 300

logger = logging.getLogger("config-cache")


@dataclass(frozen=True)
class Settings:
    port: int
    ttl_s: float
    allow: AllowList
    token: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            port=int(env.get("CONFIG_CACHE_PORT", DEFAULT_PORT)),
            ttl_s=float(env.get("CONFIG_CACHE_TTL_S", DEFAULT_TTL_S)),
            allow=AllowList.from_text(
                env.get("CONFIG_CACHE_ALLOWED_SECRETS", ""),
                env.get("CONFIG_CACHE_ALLOWED_PARAMETERS", ""),
            ),
            token=env.get("AWS_SESSION_TOKEN", ""),
        )


def run(
    name: str,
    env: Mapping[str, str],
    make_fetchers: Callable[[], dict[Kind, Fetch]],
) -> int:
    """The extension's whole life; returns the exit status. Tests call it in a thread."""
    api = ExtensionsApi(env["AWS_LAMBDA_RUNTIME_API"])
    identifier = api.register(name)
    try:
        settings = Settings.from_environment(env)
        cache = ConfigCache(settings.allow, make_fetchers(), ttl_s=settings.ttl_s)
        server = start(cache, settings.token, settings.port)
    except (OSError, ValueError) as error:
        logger.error("cannot start: %s", error)
        api.init_error(identifier, "Extension.ConfigCacheStartFailed", str(error))
        return 1
    logger.info("serving on 127.0.0.1:%d", settings.port)
    try:
        while True:
            event = api.next_event(identifier)
            if event["eventType"] == "SHUTDOWN":
                logger.info("shutdown: %s", event.get("shutdownReason", "unknown"))
                return 0
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="[config-cache] %(levelname)s %(message)s")
    name = argv[1] if len(argv) > 1 else DEFAULT_NAME
    return run(name, os.environ, fetchers)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
