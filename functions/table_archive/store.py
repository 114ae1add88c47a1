"""Data access: write one archive object; a failed write is reported, not raised."""

from __future__ import annotations

from typing import Any

from archive import ArchiveObject
from botocore.exceptions import BotoCoreError, ClientError


def put(s3: Any, bucket: str, obj: ArchiveObject) -> bool:
    """True when the object is stored; False when S3 refused or could not be reached."""
    try:
        s3.put_object(Bucket=bucket, Key=obj.key, Body=obj.body, ContentType="application/gzip")
    except (ClientError, BotoCoreError):
        return False
    return True
