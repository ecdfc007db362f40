"""Photo uploads read only after the caller is known.

FastAPI reads a ``File()`` parameter's body before any dependency runs, so a stranger's 10 MB
upload would be received in full before its 404. The photo routes check the caller first and
then read the multipart form here (its size is capped at the edge, ``bot/web/edge.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from bot.service.photos import MAX_PHOTO_BYTES
from knowledge.errors import InvalidInputError

MAX_CAPTION_BYTES = 16 * 1024

# the request body as OpenAPI shows it, since the route reads the form itself
PHOTO_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo"],
                    "properties": {
                        "photo": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP, at most 10 MB",
                        },
                        "text": {"type": "string", "description": "an optional caption"},
                    },
                }
            }
        },
    }
}


async def read_photo_form(request: Request) -> tuple[bytes, str]:
    """The uploaded photo's bytes and the caption."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInputError("photo: send multipart/form-data with a 'photo' file")
    async with request.form(max_files=1, max_fields=2, max_part_size=MAX_CAPTION_BYTES) as form:
        photo, text = form.get("photo"), form.get("text", "")
        if not isinstance(photo, UploadFile):
            raise InvalidInputError("photo: the form has no 'photo' file")
        if not isinstance(text, str):
            raise InvalidInputError("text: must be text, not a file")
        return await photo.read(MAX_PHOTO_BYTES + 1), text
