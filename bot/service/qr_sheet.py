"""The printable QR sheet: A4 pages of four A6 cards, one per site, to post in the workshop.

Drawn with Pillow at 300 dpi and saved as a 1-bit PDF (CCITT G4: lossless, small, crisp QR
modules on any printer). Text needs a font with Chinese glyphs from the host:
``find_cjk_font`` looks in the usual places and says how to get one when none is there.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from bot.service.qr import SiteCard
from knowledge.errors import InvalidInputError, MissingResourceError

DPI = 300
A4_MM = (210.0, 297.0)
CARDS_PER_PAGE = 4  # 2 x 2 A6 cards, cut along the dashed lines
MARGIN_MM = 8.0
PROGRAMME = "劳模工匠助企行 · 技术答疑"
INSTRUCTION = "扫码提问 劳模工匠在线答疑"
CODE_LABEL = "现场编号："
FONT_HINT = (
    "install one, e.g. `apt-get install fonts-wqy-microhei` (Debian/Ubuntu), "
    "or pass the path of a .ttf/.ttc/.otf font with Chinese glyphs (--font)"
)
FONT_CANDIDATES = (  # most likely first; any one with Chinese glyphs will do
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int = 0  # the face inside a .ttc collection

    def at(self, size_px: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.path), size_px, index=self.index)


def has_chinese_glyphs(font: CjkFont) -> bool:
    """A font without Chinese draws every character as the same box (or nothing)."""
    try:
        face = font.at(48)
    except OSError:
        return False
    masks = [bytes(face.getmask(ch)) for ch in "中国车间"]
    return all(any(m) for m in masks) and len(set(masks)) == len(masks)


def _faces(path: Path) -> list[CjkFont]:
    """The faces of a font file; Simplified Chinese ones first in a CJK collection."""
    faces = []
    for index in range(12 if path.suffix.lower() in (".ttc", ".otc") else 1):
        try:
            family = ImageFont.truetype(str(path), 12, index=index).getname()[0] or ""
        except OSError:
            break
        faces.append((0 if " SC" in family else 2 if "Mono" in family else 1, index))
    return [CjkFont(path, index) for _, index in sorted(faces)]


def _fontconfig_candidates() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    listed = subprocess.run(
        ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    return sorted({Path(line.split(":")[0].strip()) for line in listed.splitlines() if line.strip()})


def find_cjk_font(explicit: Path | None = None) -> CjkFont:
    """The font for the sheet: ``explicit`` when given, else the first known or fontconfig-listed
    font that really draws Chinese. Raises MissingResourceError saying how to get one."""
    if explicit is not None:
        if not explicit.is_file():
            raise MissingResourceError(f"font: {explicit} is not a file")
        font = next((f for f in _faces(explicit) if has_chinese_glyphs(f)), None)
        if font is None:
            raise MissingResourceError(f"font: {explicit} has no Chinese glyphs; {FONT_HINT}")
        return font
    for path in [Path(p) for p in FONT_CANDIDATES] + _fontconfig_candidates():
        if path.is_file():
            font = next((f for f in _faces(path) if has_chinese_glyphs(f)), None)
            if font is not None:
                return font
    raise MissingResourceError(f"no font with Chinese glyphs found for the QR sheet; {FONT_HINT}")


def mm(value: float, dpi: int = DPI) -> int:
    return round(value * dpi / 25.4)


@dataclass
class SheetPage:
    """One drawn A4 page and where each card's parts are (pixel boxes, for checks)."""

    image: Image.Image
    boxes: list[dict[str, tuple[int, int, int, int]]] = field(default_factory=list)


def draw_pages(cards: Sequence[SiteCard], font: CjkFont, dpi: int = DPI) -> list[SheetPage]:
    if not cards:
        raise InvalidInputError("site: no sites to print; import sites first")
    width, height = mm(A4_MM[0], dpi), mm(A4_MM[1], dpi)
    card_w, card_h = width // 2, height // 2
    pages = []
    for start in range(0, len(cards), CARDS_PER_PAGE):
        page = SheetPage(Image.new("L", (width, height), 255))
        draw = ImageDraw.Draw(page.image)
        _cut_lines(draw, width, height, dpi)
        for slot, card in enumerate(cards[start : start + CARDS_PER_PAGE]):
            left, top = (slot % 2) * card_w, (slot // 2) * card_h
            page.boxes.append(_draw_card(draw, card, font, (left, top, card_w, card_h), dpi))
        pages.append(page)
    return pages


def sheet_pdf(pages: Sequence[SheetPage], dpi: int = DPI, title: str = "craftdesk QR") -> bytes:
    images = [p.image.point(lambda v: 255 if v >= 160 else 0, mode="1") for p in pages]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="PDF",
        resolution=float(dpi),
        save_all=True,
        append_images=images[1:],
        title=title,
    )
    return buffer.getvalue()


def render_sheet(cards: Sequence[SiteCard], font: CjkFont, dpi: int = DPI) -> bytes:
    """The whole printable PDF for these cards."""
    return sheet_pdf(draw_pages(cards, font, dpi), dpi)


def _cut_lines(draw: ImageDraw.ImageDraw, width: int, height: int, dpi: int) -> None:
    dash, gap, line = mm(3, dpi), mm(2, dpi), max(1, mm(0.2, dpi))
    for x in range(0, width, dash + gap):
        draw.line([(x, height // 2), (min(x + dash, width), height // 2)], fill=0, width=line)
    for y in range(0, height, dash + gap):
        draw.line([(width // 2, y), (width // 2, min(y + dash, height))], fill=0, width=line)


# Chinese line breaking: no line starts with closing punctuation, none ends with opening one
NO_LINE_START = set("，。、；：？！,.;:?!)）]】》」』〉”’%％·…—～")
NO_LINE_END = set("(（[【《「『〈“‘")
# runs of ASCII letters, digits and the marks inside model numbers and codes ("XK-3000",
# "No.3", "5#"), spaces, or one other character; a run is never split unless it is too wide
_TOKENS = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-_/#+&:]*|\s+|.", re.DOTALL)


def _tokens(text: str) -> list[str]:
    """The units a line break may not fall inside: ASCII word/number runs, with closing
    punctuation glued to what it follows and opening punctuation to what follows it."""
    tokens: list[str] = []
    glue_next = False
    for token in _TOKENS.findall(text):
        if tokens and (glue_next or (token[0] in NO_LINE_START and not tokens[-1].isspace())):
            tokens[-1] += token
        else:
            tokens.append(token)
        glue_next = token[-1] in NO_LINE_END
    return tokens


def wrap_text(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy line breaking for a card: Chinese breaks between any two characters (it has no
    spaces), but only where the line is full, never inside an ASCII word or number run nor
    before closing punctuation; a run wider than a whole line (a URL) is broken where it must."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        if not current.strip() or measure((current + token).rstrip()) <= width:
            current = current + token if current.strip() else token.lstrip()
        elif token.isspace():
            lines.append(current.rstrip())
            current = ""
        else:
            lines.append(current.rstrip())
            current = token
        while measure(current.rstrip()) > width and len(current.rstrip()) > 1:
            cut = _fitting(current, width, measure)
            lines.append(current[:cut].rstrip())
            current = current[cut:].lstrip()
    return lines + ([current.rstrip()] if current.strip() else [])


def _fitting(text: str, width: float, measure: Callable[[str], float]) -> int:
    """How many leading characters of ``text`` fit in ``width`` (at least one)."""
    cut = 1
    while cut < len(text) and measure(text[: cut + 1]) <= width:
        cut += 1
    return cut


def _wrap(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    return wrap_text(text, width, lambda line: draw.textlength(line, font=face))


def _text(
    draw: ImageDraw.ImageDraw,
    text: str,
    face: ImageFont.FreeTypeFont,
    center_x: int,
    y: int,
    bold: bool = False,
) -> tuple[int, int, int, int]:
    stroke = max(1, face.size // 40) if bold else 0
    draw.text((center_x, y), text, font=face, fill=0, anchor="ma", stroke_width=stroke, stroke_fill=0)
    left, top, right, bottom = draw.textbbox((center_x, y), text, font=face, anchor="ma", stroke_width=stroke)
    return int(left), int(top), int(right), int(bottom)  # whole pixels with a FreeType font


def _draw_card(
    draw: ImageDraw.ImageDraw, card: SiteCard, font: CjkFont, box: tuple[int, int, int, int], dpi: int
) -> dict[str, tuple[int, int, int, int]]:
    left, top, width, height = box
    inner = width - 2 * mm(MARGIN_MM, dpi)
    cx = left + width // 2
    boxes: dict[str, tuple[int, int, int, int]] = {}
    y = top + mm(MARGIN_MM, dpi)
    boxes["programme"] = _text(draw, PROGRAMME, font.at(mm(4, dpi)), cx, y)
    y = boxes["programme"][3] + mm(4, dpi)
    for size in (8.5, 7.5, 6.5, 5.5, 4.5):  # the name on at most two lines
        face = font.at(mm(size, dpi))
        lines = _wrap(draw, card.name, face, inner)
        if len(lines) <= 2:
            break
    name_boxes = []
    for line in lines[:2]:
        name_boxes.append(_text(draw, line, face, cx, y, bold=True))
        y += round(face.size * 1.25)
    boxes["name"] = (
        min(b[0] for b in name_boxes),
        name_boxes[0][1],
        max(b[2] for b in name_boxes),
        name_boxes[-1][3],
    )
    if card.org and card.org not in card.name:
        boxes["org"] = _text(draw, card.org, font.at(mm(4.5, dpi)), cx, y)
        y = boxes["org"][3]
    y += mm(4, dpi)
    boxes["instruction"] = _text(draw, INSTRUCTION, font.at(mm(6, dpi)), cx, y, bold=True)
    y = boxes["instruction"][3] + mm(1, dpi)

    small = font.at(mm(3, dpi))
    bottom_lines = [
        line
        for text in (card.url, f"Telegram: {card.telegram}" if card.telegram else "")
        if text
        for line in _wrap(draw, text, small, inner)
    ]
    bottom = top + height - mm(MARGIN_MM, dpi) - len(bottom_lines) * round(small.size * 1.3)
    code_face = font.at(mm(5, dpi))
    code_top = bottom - round(code_face.size * 1.6)
    side = min(inner, code_top - y, mm(80, dpi))
    boxes["qr"] = _draw_qr(draw, card.url, cx - side // 2, y, side)
    boxes["code"] = _text(draw, f"{CODE_LABEL}{card.code}", code_face, cx, code_top)
    for i, line in enumerate(bottom_lines):
        boxes[f"small{i}"] = _text(draw, line, small, cx, bottom + i * round(small.size * 1.3))
    return boxes


def _draw_qr(
    draw: ImageDraw.ImageDraw, data: str, left: int, top: int, side: int
) -> tuple[int, int, int, int]:
    """The code drawn module by module, each module a whole number of pixels (no blur); the
    box includes the white quiet zone scanners need."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)  # quiet zone
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    module = side // len(matrix)
    offset = (side - module * len(matrix)) // 2
    x0, y0 = left + offset, top + offset
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                draw.rectangle(
                    [
                        x0 + col * module,
                        y0 + row * module,
                        x0 + (col + 1) * module - 1,
                        y0 + (row + 1) * module - 1,
                    ],
                    fill=0,
                )
    return x0, y0, x0 + module * len(matrix), y0 + module * len(matrix)
