"""Photos attached to a ticket thread: JPEG, PNG or WebP up to 10 MB, judged by content."""

from __future__ import annotations

import uuid
from pathlib import Path

from knowledge.errors import InvalidInputError, NotFoundError

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def photo_kind(data: bytes) -> str | None:
    """The image type from the file's first bytes, whatever its name says."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def save_photo(uploads: Path, ticket_id: str, data: bytes) -> str:
    """Validate and store; returns the file name kept in the message."""
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidInputError(f"photo: {len(data)} bytes, at most {MAX_PHOTO_BYTES} (10 MB) are allowed")
    if not data:
        raise InvalidInputError("photo: the file is empty")
    kind = photo_kind(data)
    if kind is None:
        raise InvalidInputError("photo: only JPEG, PNG or WebP images are accepted")
    folder = uploads / ticket_id
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{kind}"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(folder / name)
    return name


def photo_path(uploads: Path, ticket_id: str, name: str) -> Path:
    path = uploads / ticket_id / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise NotFoundError("no such photo")
    return path
