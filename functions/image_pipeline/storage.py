"""S3 access for the steps: size from HeadObject, bounded downloads, rendition uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import imaging
from botocore.exceptions import ClientError
from jobs import ObjectRef

GONE = frozenset({"NoSuchKey", "404", "NotFound"})
DENIED = frozenset({"403", "AccessDenied", "Forbidden"})
CHUNK = 1024 * 1024


class ObjectGoneError(Exception):
    """The object was deleted (or never existed) before the step read it."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def head(s3: Any, ref: ObjectRef) -> tuple[ObjectRef, int]:
    """The object's reference and size. A key that arrives URL-encoded (`a+b.jpg` for
    `a b.jpg`, as S3 notifications spell keys) is found under its decoded form too.

    Without s3:ListBucket, S3 answers a missing key with 403, not 404: a 403 only moves on
    to the next spelling, and is raised when no spelling is found (missing or denied).
    """
    candidates = [ref.key]
    decoded = unquote_plus(ref.key)
    if decoded != ref.key:
        candidates.append(decoded)
    denied: ClientError | None = None
    for key in candidates:
        try:
            response = s3.head_object(Bucket=ref.bucket, Key=key)
        except ClientError as error:
            code = _code(error)
            if code in DENIED:
                denied = error
            elif code not in GONE:
                raise
            continue
        return ObjectRef(ref.bucket, key), int(response["ContentLength"])
    if denied is not None:
        raise denied
    raise ObjectGoneError(f"s3://{ref.bucket}/{ref.key} does not exist")


def download(s3: Any, ref: ObjectRef, target: Path, limits: imaging.Limits) -> int:
    """Stream the object into `target`, refusing it past `limits.max_bytes` (whatever its
    HeadObject said: the object may have been replaced since)."""
    try:
        response = s3.get_object(Bucket=ref.bucket, Key=ref.key)
    except ClientError as error:
        if _code(error) in GONE:
            raise ObjectGoneError(f"s3://{ref.bucket}/{ref.key} does not exist") from None
        raise
    imaging.check_size(int(response["ContentLength"]), limits)
    written = 0
    with response["Body"] as body, target.open("wb") as file:
        for chunk in iter(lambda: body.read(CHUNK), b""):
            written += len(chunk)
            imaging.check_size(written, limits)
            file.write(chunk)
    return written


def upload(
    s3: Any, path: Path, bucket: str, key: str, content_type: str, source: ObjectRef
) -> None:
    # User metadata travels as HTTP headers: ASCII only, so the source key is quoted.
    origin = quote(f"s3://{source.bucket}/{source.key}", safe="/:")[:1024]
    with path.open("rb") as file:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=file,
            ContentType=content_type,
            Metadata={"source": origin},
        )
