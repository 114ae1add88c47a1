"""Secrets Manager rotation for the signing key: a fresh 32 random bytes each rotation.

The four steps of the rotation protocol, each idempotent (Secrets Manager retries them):
`createSecret` stores a new random key as AWSPENDING (unless that version exists),
`setSecret` has nothing to set (the key is only ever read from the secret), `testSecret`
checks the pending key decodes to a usable key, `finishSecret` moves AWSCURRENT to it; the
old key becomes AWSPREVIOUS, which still verifies tokens issued before the rotation.

The first rotation (`rotate_immediately`, right after deployment) creates the first key,
so no key ever passes through Pulumi's state. Nothing here logs or returns a key.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import boto3
import signing
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from lambda_tracing import tracer

KEY_BYTES = 32
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

logger = Logger()

secrets = boto3.client("secretsmanager")
SIGNING_SECRET_ARN = os.environ["SIGNING_SECRET_ARN"]


class RotationError(RuntimeError):
    """A rotation request this function must refuse (Secrets Manager records the failure)."""


def _stages(secret_id: str, token: str) -> list[str]:
    versions = secrets.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
    if token not in versions:
        raise RotationError("the rotation names a version the secret does not have")
    stages: list[str] = versions[token]
    return stages


def create(secret_id: str, token: str) -> None:
    try:
        secrets.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
        return  # a retried step: the pending key exists
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    key = base64.b64encode(os.urandom(KEY_BYTES)).decode()
    secrets.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=key,
        VersionStages=["AWSPENDING"],
    )


def test(secret_id: str, token: str) -> None:
    pending = secrets.get_secret_value(
        SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING"
    )
    signing.key_from_secret(token, pending.get("SecretString") or "")


def finish(secret_id: str, token: str) -> None:
    versions = secrets.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return  # a retried step: already current
    move: dict[str, Any] = {"MoveToVersionId": token}
    if current is not None:
        move["RemoveFromVersionId"] = current
    secrets.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSCURRENT", **move)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    secret_id, token, step = (
        event.get("SecretId"),
        event.get("ClientRequestToken"),
        event.get("Step"),
    )
    if secret_id != SIGNING_SECRET_ARN:
        raise RotationError("this function rotates only the waiting room's signing secret")
    if step not in STEPS or not isinstance(token, str):
        raise RotationError(f"unknown rotation step {str(step)[:40]!r}")
    stages = _stages(secret_id, token)
    if "AWSCURRENT" in stages and step != "finishSecret":
        logger.info("Version already current", extra={"step": step})
        return
    if "AWSPENDING" not in stages and "AWSCURRENT" not in stages:
        raise RotationError("the version is not pending rotation")
    logger.info("Rotation step", extra={"step": step})
    if step == "createSecret":
        create(secret_id, token)
    elif step == "testSecret":
        test(secret_id, token)
    elif step == "finishSecret":
        finish(secret_id, token)
