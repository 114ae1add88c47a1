"""The steps' configuration, from the environment the component sets."""

from __future__ import annotations

import os

import imaging

LIMITS = imaging.Limits(
    max_bytes=int(os.environ.get("MAX_BYTES", "20000000")),
    max_pixels=int(os.environ.get("MAX_PIXELS", "40000000")),
    formats=imaging.formats_for(os.environ.get("ALLOWED_SUFFIXES", ".jpg,.jpeg,.png").split(",")),
)
INPUT_PREFIX = os.environ.get("INPUT_PREFIX", "")
