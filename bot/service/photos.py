"""Photos attached to a ticket thread: JPEG, PNG or WebP up to 10 MB, judged by content.

Every photo is decoded and saved again before it is stored: that drops the worker's EXIF
(GPS position, phone model), ICC and XMP data and text chunks, and anything appended to the
image (a script or a zip in a polyglot file); a file that does not decode is refused.
"""

from __future__ import annotations

import io
import struct
import uuid
from pathlib import Path

from PIL import Image, ImageOps

from knowledge.errors import InvalidInputError, NotFoundError

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000  # well above any phone camera; a decoded RGB image of ~120 MB
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
# what Pillow's decoders raise on damaged or hostile input (its own open() catches the same)
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


def photo_kind(data: bytes) -> str | None:
    """The image type from the file's first bytes, whatever its name says."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _decode(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    """The first frame, upright; the pixel count is checked from the header, before decoding."""
    too_big = f"photo: more than {max_pixels / 1e6:g} megapixels; send a smaller picture"
    try:
        with Image.open(io.BytesIO(data), formats=[_FORMATS[kind]]) as image:
            if image.width * image.height > max_pixels:
                raise InvalidInputError(f"{too_big} (this one is {image.width}x{image.height})")
            image.load()
            return ImageOps.exif_transpose(image)
    # Pillow's own limit (raised, or warned when warnings are errors) sits above ours, but
    # fires inside open(), before the check above
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(too_big) from exc
    except _DECODE_ERRORS as exc:
        raise InvalidInputError(
            f"photo: the file does not decode as a {_FORMATS[kind]} image (damaged or cut short)"
        ) from exc


def reencode(data: bytes, kind: str, max_pixels: int = MAX_PHOTO_PIXELS) -> bytes:
    """The picture saved again in its own format, with no metadata and nothing appended."""
    image = _decode(data, kind, max_pixels)
    # only transparency is picture, the rest of info (exif, icc_profile, xmp, text) is not
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    out = io.BytesIO()
    if kind == "jpg":
        image = image if image.mode in ("L", "RGB") else image.convert("RGB")
        image.save(out, "JPEG", quality=85)
    elif kind == "webp":
        image.save(out, "WEBP", quality=85)
    else:
        image.save(out, "PNG")
    return out.getvalue()


def clean_photo(data: bytes, max_pixels: int = MAX_PHOTO_PIXELS) -> tuple[bytes, str]:
    """Validate and strip (see the module docstring): the bytes to store and their kind."""
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidInputError(f"photo: {len(data)} bytes, at most {MAX_PHOTO_BYTES} (10 MB) are allowed")
    if not data:
        raise InvalidInputError("photo: the file is empty")
    kind = photo_kind(data)
    if kind is None:
        raise InvalidInputError("photo: only JPEG, PNG or WebP images are accepted")
    return reencode(data, kind, max_pixels), kind


def new_photo_name(kind: str) -> str:
    return f"{uuid.uuid4().hex}.{kind}"


def valid_photo_name(name: str) -> bool:
    """A name ``new_photo_name`` made: nothing that climbs out of a folder."""
    stem, _, kind = name.partition(".")
    return kind in MEDIA_TYPES and len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)


def save_photo(uploads: Path, ticket_id: str, data: bytes, max_pixels: int = MAX_PHOTO_PIXELS) -> str:
    """Validate, strip and store as a file; returns the file name kept in the message."""
    clean, kind = clean_photo(data, max_pixels)
    folder = uploads / ticket_id
    folder.mkdir(parents=True, exist_ok=True)
    name = new_photo_name(kind)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(clean)
    tmp.replace(folder / name)
    return name


def photo_path(uploads: Path, ticket_id: str, name: str) -> Path:
    path = uploads / ticket_id / name
    if not valid_photo_name(name) or not path.is_file():
        raise NotFoundError("no such photo")
    return path
