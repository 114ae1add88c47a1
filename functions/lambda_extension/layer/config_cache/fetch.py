"""Reads from Secrets Manager and SSM Parameter Store with the function's role, mapping the
services' errors onto the cache's."""

from __future__ import annotations

import base64
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from config_cache.cache import Fetch, FetchFailed, Kind, NotFound

# Short timeouts: the function waits on this read; a slow service should fail over to the
# function's own fallback, not stall the invocation.
_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
_MISSING = {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}


def fetchers(session: Any | None = None) -> dict[Kind, Fetch]:
    """One fetch function per kind, on clients made once, here."""
    session = session or boto3.session.Session()
    secrets = session.client("secretsmanager", config=_CONFIG)
    ssm = session.client("ssm", config=_CONFIG)

    def secret(arn: str) -> str:
        response = _call(secrets.get_secret_value, arn, SecretId=arn)
        if "SecretString" in response:
            return str(response["SecretString"])
        # A binary secret travels as base64 text, as the HTTP body is text.
        return base64.b64encode(response["SecretBinary"]).decode()

    def parameter(name: str) -> str:
        response = _call(ssm.get_parameter, name, Name=name, WithDecryption=True)
        return str(response["Parameter"]["Value"])

    return {"secret": secret, "parameter": parameter}


def _call(operation: Any, name: str, **kwargs: Any) -> Any:
    try:
        return operation(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _MISSING:
            raise NotFound(f"{name!r} does not exist") from None
        raise FetchFailed(f"reading {name!r} failed: {code or error}") from None
    except BotoCoreError as error:
        raise FetchFailed(f"reading {name!r} failed: {type(error).__name__}") from None
