"""Data access: write one archive object; a failed write is reported, not raised."""

from __future__ import annotations

from typing import Any

from archive import ArchiveObject
from botocore.exceptions import BotoCoreError, ClientError


def put(s3: Any, bucket: str, obj: ArchiveObject) -> Exception | None:
    """None when the object is stored; the error when S3 refused or could not be reached."""
    try:
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body, ContentType="application/gzip")
    except (ClientError, BotoCoreError) as error:
        return error
    return None
