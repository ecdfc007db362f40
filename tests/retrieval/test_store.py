"""An index version packed into one blob and unpacked elsewhere: the same index, the layout of a
local build, and a damaged or hostile blob refused without writing outside the index folder."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from knowledge.errors import IndexUnavailableError
from retrieval.index import current_version, load_index
from retrieval.store import pack, unpack


def test_a_packed_version_unpacks_into_the_same_index(demo_index_dir: Path, encoder, tmp_path: Path):
    packed = pack((demo_index_dir / "current").resolve())
    assert packed.version == current_version(demo_index_dir) == packed.manifest["version"]
    elsewhere = tmp_path / "index"
    folder = unpack(packed.blob, packed.sha256, elsewhere, packed.version)
    assert folder == elsewhere / "versions" / packed.version and current_version(elsewhere) == packed.version
    original, copy = load_index(demo_index_dir, encoder.model_id), load_index(elsewhere, encoder.model_id)
    assert copy.manifest == original.manifest and copy.cases == original.cases
    assert np.array_equal(copy.case_vectors, original.case_vectors)
    unpack(packed.blob, packed.sha256, elsewhere, packed.version)  # already there: only `current` is set
    assert current_version(elsewhere) == packed.version


def hostile_blob() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("../escaped.json", "manifest.json"):
            data = b'{"version": "v1"}'
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def test_a_damaged_or_incomplete_blob_is_refused(demo_index_dir: Path, tmp_path: Path):
    packed = pack((demo_index_dir / "current").resolve())
    index_dir = tmp_path / "sub" / "index"
    with pytest.raises(IndexUnavailableError, match="sha256"):
        unpack(packed.blob[:-10], packed.sha256, index_dir, packed.version)
    with pytest.raises(IndexUnavailableError, match="holds version"):
        unpack(packed.blob, packed.sha256, index_dir, "20990101T000000000000-00000000")
    blob = hostile_blob()
    with pytest.raises(IndexUnavailableError, match="unreadable"):  # no docs.json, no faiss files
        unpack(blob, hashlib.sha256(blob).hexdigest(), index_dir, "v1")
    with pytest.raises(IndexUnavailableError, match="not an index version"):
        unpack(blob, hashlib.sha256(blob).hexdigest(), index_dir, "../v1")
    assert not (tmp_path / "sub" / "escaped.json").exists() and not (index_dir / "escaped.json").exists()
    assert current_version(index_dir) is None and list((index_dir / "versions").iterdir()) == []
