"""Photos through the HTTP API: served cleaned and with ``nosniff``; undecodable ones get 422."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from tests.utils.auth import ADMIN

NEW_PROBLEM = "注塑机开模的时候模具有异响，咔咔的响，是顶针板卡了吗"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'craftdesk.db'}"


def gps_jpeg() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 14.0, 5.0),
    }
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 140, 60)).save(out, "JPEG", exif=exif)
    return out.getvalue() + b"<html><script>alert(document.cookie)</script></html>"


async def test_a_served_photo_is_clean_and_not_sniffable(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM})).json()
    tid, worker = opened["ticket_id"], {"X-Ticket-Token": opened["token"]}
    token = (
        await client.post(f"/api/admin/experts/{opened['expert']['expert_id']}/token", headers=ADMIN)
    ).json()["token"]
    expert = {"Authorization": f"Bearer {token}"}

    sent = await client.post(
        f"/api/tickets/{tid}/photos", headers=worker, files={"photo": ("site.jpg", gps_jpeg(), "image/jpeg")}
    )
    assert sent.status_code == 201
    name = sent.json()["photo_url"].rsplit("/", 1)[1]
    for url, headers in (
        (f"/api/tickets/{tid}/photos/{name}", worker),
        (f"/api/expert/tickets/{tid}/photos/{name}", expert),
    ):
        got = await client.get(url, headers=headers)
        assert got.status_code == 200, url
        # a set: the edge middleware may add the same header a second time
        assert set(got.headers.get_list("x-content-type-options", split_commas=True)) == {"nosniff"}
        assert got.headers["content-type"] == "image/jpeg"
        assert b"<script>" not in got.content
        with Image.open(io.BytesIO(got.content)) as image:
            assert image.size == (32, 24) and not image.getexif()


async def test_an_undecodable_photo_gets_a_422_that_says_why(client):
    opened = (await client.post("/api/tickets", json={"text": NEW_PROBLEM})).json()
    damaged = await client.post(
        f"/api/tickets/{opened['ticket_id']}/photos",
        headers={"X-Ticket-Token": opened["token"]},
        files={"photo": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")},
    )
    assert damaged.status_code == 422
    assert damaged.json()["detail"].startswith("photo: the file does not decode as a PNG image")
