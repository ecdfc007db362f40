"""The admin API token: the setting, or one generated at the first start and kept in
``<data dir>/admin-token``, so no deployment ever runs with a token known from the docs."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from bot.settings import MIN_ADMIN_TOKEN_LENGTH, PLACEHOLDER_ADMIN_TOKEN, Settings
from knowledge.errors import InvalidInputError

log = logging.getLogger(__name__)


def admin_token_path(settings: Settings) -> Path:
    return settings.data_dir / "admin-token"


def resolve_admin_token(settings: Settings) -> SecretStr:
    """The setting when given; else the token file's content, the file written first if
    missing (the one time its path is logged; the token itself never is)."""
    if settings.admin_token is not None:
        return settings.admin_token
    path = admin_token_path(settings)
    if not path.exists() and _create(path, secrets.token_urlsafe(32)):
        log.warning("no CRAFTDESK_ADMIN_TOKEN set: a generated admin token is in %s", path.resolve())
    token = path.read_text(encoding="utf-8").strip()
    if token == PLACEHOLDER_ADMIN_TOKEN or len(token) < MIN_ADMIN_TOKEN_LENGTH:
        raise InvalidInputError(
            f"{path}: the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters and "
            f"not the placeholder; delete the file to have a new one generated"
        )
    return SecretStr(token)


def _create(path: Path, token: str) -> bool:
    """Write ``token`` readable by the owner only, atomically: a temporary file is linked into
    place, so no one reads half a token, and of two processes starting at once the second
    finds the first one's file (False) instead of replacing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    try:
        with os.fdopen(
            os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8"
        ) as file:
            file.write(token + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True
