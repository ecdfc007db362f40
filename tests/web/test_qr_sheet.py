"""The printable QR sheet and scripts/make_qr.py: Chinese must really render in the PDF."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.service.qr import SiteCard, site_url, telegram_link
from bot.service.qr_sheet import DPI, draw_pages, find_cjk_font, render_sheet, wrap_text
from knowledge.errors import MissingResourceError
from knowledge.interchange import import_dir
from tests.conftest import REPO
from tests.factories import knowledge_folder, site

NAME = "锻压测试车间"  # six different full-width characters, no spaces
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def pdf_page_png(pdf: bytes, folder: Path, dpi: int = DPI) -> Image.Image:
    """Page 1 as the printer would see it, rendered by poppler (not by Pillow)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("needs pdftoppm (Debian: apt-get install poppler-utils)")
    (folder / "sheet.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            "-png",
            str(folder / "sheet.pdf"),
            str(folder / "page"),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(next(folder.glob("page*.png"))).convert("L")


def glyph_cells(image: Image.Image, count: int) -> list[bytes]:
    """The inked area split into ``count`` equal cells, each cut to its own ink and scaled to
    32x32 bits, so that identical shapes (the boxes of missing glyphs) compare equal."""
    ink = image.point(lambda v: 255 if v < 128 else 0)
    box = ink.getbbox()
    assert box is not None, "nothing drawn where the site name should be"
    left, top, right, bottom = box
    width = (right - left) / count
    cells = []
    for i in range(count):
        cell = ink.crop((round(left + i * width), top, round(left + (i + 1) * width), bottom))
        assert cell.getbbox() is not None, f"character {i + 1} is blank"
        cells.append(
            cell.crop(cell.getbbox()).resize((32, 32)).point(lambda v: 255 if v >= 128 else 0).tobytes()
        )
    return cells


def test_the_sheet_shows_distinct_chinese_glyphs_in_the_pdf(tmp_path: Path):
    font = find_cjk_font()
    card = SiteCard(
        "forge-1",
        NAME,
        "测试集团",
        site_url("http://192.0.2.7:8000", "forge-1"),
        telegram_link("craftdesk_bot", "forge-1"),
    )
    boxes = draw_pages([card], font)[0].boxes[0]
    page = pdf_page_png(render_sheet([card], font), tmp_path)
    assert page.size == (round(210 * DPI / 25.4), round(297 * DPI / 25.4))
    cells = glyph_cells(page.crop(boxes["name"]), len(NAME))
    # missing glyphs come out as identical boxes (tofu) or nothing at all
    for i in range(len(cells)):
        for j in range(i + 1, len(cells)):
            differing = sum(a != b for a, b in zip(cells[i], cells[j], strict=True))
            assert differing > 0.15 * len(cells[i]), f"glyphs {NAME[i]} and {NAME[j]} look the same"
    assert all(0.05 < c.count(255) / len(c) < 0.9 for c in cells)  # ink, but not solid blocks
    for part in ("instruction", "qr", "code", "small0", "small1"):
        assert page.crop(boxes[part]).getextrema()[0] < 64, f"{part} is not printed"


def test_font_lookup_explains_what_is_missing(tmp_path: Path):
    with pytest.raises(MissingResourceError, match="is not a file"):
        find_cjk_font(tmp_path / "nope.ttf")
    if DEJAVU.is_file():
        with pytest.raises(MissingResourceError, match="no Chinese glyphs.*fonts-wqy-microhei"):
            find_cjk_font(DEJAVU)
    assert find_cjk_font(find_cjk_font().path).path == find_cjk_font().path


def run_make_qr(
    *args: str, data_dir: Path, public_url: str = "https://help.example.org", **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {"CRAFTDESK_DATA_DIR": str(data_dir), "CRAFTDESK_PUBLIC_URL": public_url} | env_vars
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_qr.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


async def test_make_qr_script(tmp_path: Path, settings, sessions):
    folder = knowledge_folder(tmp_path / "kb", sites=[site("xcmg-3"), site("forge-1", name=NAME)])
    async with sessions() as session:
        await import_dir(session, folder)
    out = tmp_path / "qr"
    done = run_make_qr(
        "--out", str(out), "--site", "forge-1", "--bot", "craftdesk_bot", data_dir=settings.data_dir
    )
    assert done.returncode == 0, done.stderr
    assert "1 sites" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "forge-1-telegram.png",
        "forge-1-telegram.svg",
        "forge-1.png",
        "forge-1.svg",
        "qr-sheet.pdf",
    ]
    assert (out / "qr-sheet.pdf").read_bytes().startswith(b"%PDF")

    every = run_make_qr("--out", str(tmp_path / "all"), data_dir=settings.data_dir)
    assert every.returncode == 0 and "2 sites" in every.stdout
    assert not list((tmp_path / "all").glob("*-telegram.*"))

    unknown = run_make_qr("--out", str(out), "--site", "nope", data_dir=settings.data_dir)
    assert unknown.returncode == 1 and unknown.stderr.strip().endswith("error: no site 'nope'")
    no_font = run_make_qr("--out", str(out), "--font", str(tmp_path / "x.ttf"), data_dir=settings.data_dir)
    assert no_font.returncode == 1 and "Traceback" not in no_font.stderr and "x.ttf" in no_font.stderr
    helped = run_make_qr("--help", data_dir=settings.data_dir)
    assert helped.returncode == 0 and "example:" in helped.stdout


async def test_make_qr_refuses_an_address_phones_cannot_open(tmp_path: Path, settings, sessions):
    folder = knowledge_folder(tmp_path / "kb", sites=[site("xcmg-3")])
    async with sessions() as session:
        await import_dir(session, folder)
    out = tmp_path / "qr"
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://192.168.1.20"):
        refused = run_make_qr("--out", str(out), public_url=url, data_dir=settings.data_dir)
        assert refused.returncode == 1, refused.stdout
        message = refused.stderr.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in message
        assert message.startswith("error: ") and url in message and "--intranet" in message
        assert not out.exists()  # refused before anything was written
    confirmed = run_make_qr(
        "--out", str(out), "--intranet", public_url="http://192.168.1.20", data_dir=settings.data_dir
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert (out / "qr-sheet.pdf").read_bytes().startswith(b"%PDF")
    declared = run_make_qr(
        "--out",
        str(tmp_path / "declared"),
        public_url="http://10.0.0.8:8000",
        data_dir=settings.data_dir,
        CRAFTDESK_PUBLIC_URL_INTRANET="true",
    )
    assert declared.returncode == 0, declared.stderr


@pytest.mark.parametrize(
    "text, width, lines",
    [
        # Chinese breaks between any two characters, but only where the line is full
        ("锻压测试车间锻压", 6, ["锻压测试车间", "锻压"]),
        ("徐工重型 三号车间", 6, ["徐工重型 三", "号车间"]),
        ("徐工重型 三号车间", 4, ["徐工重型", "三号车间"]),  # no space left at a line's end or start
        # an ASCII word or number run is never split ...
        ("徐工XK3000数控车间", 7, ["徐工", "XK3000数", "控车间"]),
        ("三号线A3-12工位", 6, ["三号线", "A3-12工", "位"]),
        ("2号 ZL50GN 装载机装配线", 8, ["2号", "ZL50GN 装", "载机装配线"]),
        # ... unless it is wider than a whole line (a URL): then where it must
        ("https://help.example.org/c/xcmg-3", 12, ["https://help", ".example.org", "/c/xcmg-3"]),
        # no line starts with closing punctuation or ends with opening punctuation
        ("一二三四，五六", 4, ["一二三", "四，五六"]),
        ("一二（三四）五", 3, ["一二", "（三", "四）五"]),
        ("", 5, []),
        ("   ", 5, []),
    ],
)
def test_card_text_wraps_without_splitting_words(text: str, width: int, lines: list[str]):
    wrapped = wrap_text(text, width, len)  # every character one unit wide
    assert wrapped == lines
    assert "".join(wrapped).replace(" ", "") == text.replace(" ", "")  # nothing lost


def test_a_site_name_with_a_model_number_keeps_it_on_one_line():
    """On the drawn card: the name wraps onto two lines, with XK3000 whole on one of them."""
    font = find_cjk_font()
    name = "徐州重型机械有限公司XK3000数控加工车间"
    card = SiteCard("xk-1", name, None, site_url("https://help.example.org", "xk-1"))
    page = draw_pages([card], font)[0]
    left, top, right, bottom = page.boxes[0]["name"]
    assert bottom - top > 1.5 * (right - left) / len(name)  # more than one line was needed
    from PIL import ImageDraw

    from bot.service.qr_sheet import MARGIN_MM, mm

    draw = ImageDraw.Draw(page.image)
    inner = page.image.width // 2 - 2 * mm(MARGIN_MM)
    for size in (8.5, 7.5, 6.5, 5.5, 4.5):  # as the card picks the size
        face = font.at(mm(size))
        wrapped = wrap_text(name, inner, lambda line, face=face: draw.textlength(line, font=face))
        if len(wrapped) <= 2:
            break
    assert len(wrapped) == 2 and any("XK3000" in line for line in wrapped)
    assert "".join(wrapped) == name
