"""Image checks and renditions with Pillow (no AWS calls).

Every decode is bounded: the pixel count is read from the header and checked against
`max_pixels` before a single pixel is decoded, and Pillow's own decompression-bomb guard
is set to the same limit (its warning made an error), so a small file that claims huge
dimensions is refused instead of exhausting the function's memory. What cannot be read as
an allowed image raises `InvalidImageError`; one that is too big, `ImageTooLargeError`.
Both are the state machine's cue to stop, never to retry.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

# Suffix -> the Pillow format it names, and each format's content type.
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
JPEG_QUALITY = 85
EXIF_ORIENTATION = 0x0112
ROTATED = frozenset({5, 6, 7, 8})  # orientations that swap width and height
# What Pillow raises on data it cannot decode (truncated, corrupt, unsupported).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError)


class InvalidImageError(Exception):
    """The object is not an image of an allowed format, or it is corrupt."""


class ImageTooLargeError(Exception):
    """The object is larger (bytes or pixels) than the pipeline accepts."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    formats: frozenset[str]


@dataclass(frozen=True)
class ImageInfo:
    """An image as it will be displayed: width and height after its EXIF orientation."""

    format: str
    width: int
    height: int


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    format: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def formats_for(suffixes: Collection[str]) -> frozenset[str]:
    """The Pillow formats the allowed suffixes name (`.jpg` -> JPEG); unknown ones raise."""
    unknown = sorted(s for s in suffixes if s.lower() not in FORMATS)
    if unknown:
        raise ValueError(f"no image format for suffixes {unknown}")
    return frozenset(FORMATS[s.lower()] for s in suffixes)


def check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise ImageTooLargeError(f"{size} bytes is more than the {limits.max_bytes} allowed")


@contextmanager
def opened(path: Path, limits: Limits) -> Iterator[Image.Image]:
    """The image at `path`, header checked (format, pixel count) and then fully decoded."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's own guard, on the same limit
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)  # reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageTooLargeError(str(error)) from None
        except UnidentifiedImageError:
            raise InvalidImageError("not an image Pillow can identify") from None
        except DECODE_ERRORS as error:
            raise InvalidImageError(f"unreadable image header: {error}") from None
        with image:
            if image.format not in limits.formats:
                allowed = ", ".join(sorted(limits.formats))
                raise InvalidImageError(f"format {image.format} is not one of {allowed}")
            width, height = image.size
            if width < 1 or height < 1:
                raise InvalidImageError(f"empty image ({width}x{height})")
            if width * height > limits.max_pixels:
                raise ImageTooLargeError(
                    f"{width}x{height} is {width * height} pixels, more than the "
                    f"{limits.max_pixels} allowed"
                )
            try:
                image.load()  # decodes every pixel: truncated or corrupt data fails here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
                raise ImageTooLargeError(str(error)) from None
            except DECODE_ERRORS as error:
                raise InvalidImageError(f"corrupt image data: {error}") from None
            yield image


def inspect(path: Path, limits: Limits) -> ImageInfo:
    """Format and displayed size of the image at `path` (raises the typed errors)."""
    with opened(path, limits) as image:
        width, height = image.size
        if image.getexif().get(EXIF_ORIENTATION) in ROTATED:
            width, height = height, width
        return ImageInfo(format=str(image.format), width=width, height=height)


def render(source: Path, target: Path, size: tuple[int, int], limits: Limits) -> Rendition:
    """Write `source` to `target` fitted inside `size`, aspect ratio kept, never enlarged,
    EXIF orientation applied (and the tag dropped, so viewers do not rotate it again)."""
    with opened(source, limits) as image:
        image_format = str(image.format)
        icc_profile = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail(size, Image.Resampling.LANCZOS)
        options: dict[str, object] = {"optimize": True}
        if icc_profile:
            options["icc_profile"] = icc_profile
        if image_format == "JPEG":
            if upright.mode not in ("RGB", "L", "CMYK"):
                upright = upright.convert("RGB")
            options["quality"] = JPEG_QUALITY
        upright.save(target, format=image_format, **options)
        return Rendition(width=upright.width, height=upright.height, format=image_format)
