"""Output folders that appear whole or not at all, with a completion marker.

Why: a killed conversion must never leave a half-written model that a later run
takes for finished, and two processes building the same folder must not mix files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MARKER_FILE = "craftdesk_conversion.json"
CONVERSION_FORMAT = 1


def read_marker(folder: Path) -> dict[str, Any] | None:
    """Return the completion marker of a converted folder, or None if absent/broken."""
    try:
        marker = json.loads((Path(folder) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if marker.get("format") == CONVERSION_FORMAT else None


def is_complete(folder: Path, kind: str, required: tuple[str, ...] = ()) -> bool:
    """True if `folder` is a finished conversion of `kind` holding the `required` files."""
    marker = read_marker(folder)
    return (
        marker is not None
        and marker.get("kind") == kind
        and all((Path(folder) / name).exists() for name in required)
    )


def write_marker(folder: Path, kind: str, **extra: Any) -> None:
    marker = {
        "format": CONVERSION_FORMAT,
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-{os.uname().nodename}-"


def _remove_stale_temp_dirs(target: Path) -> None:
    """Delete temp folders left by killed conversions of `target` on this host."""
    prefix = _temp_prefix(target)
    for candidate in target.parent.glob(prefix + "*"):
        pid_text = candidate.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        logger.info("Removing stale temp folder %s (its process %s is gone)", candidate, pid_text)
        shutil.rmtree(candidate, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_output_dir(target: Path, kind: str) -> Iterator[Path]:
    """Yield a private temp folder beside `target`, renamed onto `target` on success.

    If another process published `target` first, our copy is discarded and
    theirs is used.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(target)
    tmp = target.parent / f"{_temp_prefix(target)}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.rename(tmp, target)
            logger.info("Published %s", target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not is_complete(target, kind):
                raise
            logger.info("%s was completed by another process meanwhile; using that copy", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_target(target: Path, kind: str, required: tuple[str, ...]) -> bool:
    """True if `target` is already done; raise if it exists but is something else."""
    if target.parent.is_dir():
        _remove_stale_temp_dirs(target)
    if is_complete(target, kind, required):
        logger.info("%s already holds a complete %s conversion; reusing it", target, kind)
        return True
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists but is not a complete {kind} conversion; remove it and retry")
    return False
