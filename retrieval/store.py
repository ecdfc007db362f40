"""An index version as one blob, for a store every instance can fetch from (the database, when
the instances share no disk): the files of ``versions/<version>/`` in a gzip-compressed tar,
and back into the same layout a local build writes.

Bytes in, bytes out: where the blob is kept is the caller's business. Unpacking reads only the
four files a version has, by name, and writes them into a fresh folder under the index dir, so a
damaged or hostile archive cannot write anywhere else; its sha256 is checked first.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.errors import IndexUnavailableError
from retrieval.index import point_current

FILES = ("manifest.json", "docs.json", "cases.faiss", "experts.faiss")
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,79}")  # what ``new_version`` makes; a folder name


@dataclass(frozen=True)
class Packed:
    version: str
    manifest: dict[str, Any]
    blob: bytes
    sha256: str


def pack(folder: Path) -> Packed:
    """The finished version folder ``folder`` (as ``save_index`` wrote it) as one blob."""
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for name in FILES:
            tar.add(folder / name, arcname=name, recursive=False)
    blob = buffer.getvalue()
    return Packed(str(manifest["version"]), manifest, blob, hashlib.sha256(blob).hexdigest())


def unpack(blob: bytes, sha256: str, index_dir: Path, version: str) -> Path:
    """Write ``version``'s folder under ``index_dir/versions`` (unless it is there already) and
    point ``current`` at it. Raises ``IndexUnavailableError`` for a damaged blob."""
    if not VERSION.fullmatch(version):
        raise IndexUnavailableError(f"not an index version name: {version!r}")
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise IndexUnavailableError(f"index version {version} is damaged: its sha256 does not match")
    versions = index_dir / "versions"
    final = versions / version
    if not (final / "manifest.json").is_file():
        tmp = versions / f".{version}.fetched.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _extract(blob, tmp)
            written = json.loads((tmp / "manifest.json").read_text(encoding="utf-8")).get("version")
        except (tarfile.TarError, KeyError, OSError, EOFError, ValueError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexUnavailableError(f"index version {version} is unreadable: {exc}") from exc
        if written != version:
            shutil.rmtree(tmp, ignore_errors=True)
            raise IndexUnavailableError(f"index version {version} holds version {written}")
        shutil.rmtree(final, ignore_errors=True)  # a folder left without its manifest
        os.replace(tmp, final)
    point_current(index_dir, version)
    return final


def _extract(blob: bytes, folder: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for name in FILES:
            member = tar.getmember(name)
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                raise KeyError(f"{name} is not a file")
            with source, open(folder / name, "wb") as target:
                shutil.copyfileobj(source, target)
