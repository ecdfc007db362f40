"""Text handling for Chinese shop-floor questions: normalization, lexical tokens, codes.

Workers type on phones: full-width letters and digits (ＳＶ０４０１), mixed case (sv0401),
stray spaces. Everything is NFKC-normalized and lower-cased before matching, so alarm codes and
model numbers compare exactly.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
# a run of latin letters/digits, joined by '-', '.', '/' (S7-1200, 0.8mpa, 6es7-214)
_ALNUM = re.compile(r"[a-z0-9]+(?:[-./][a-z0-9]+)*")
# a full stop ends a clause, a decimal point (0.5) does not
_CLAUSE_SPLIT = re.compile(r"(?:[，,。!！?？;；:：\n]|(?<!\d)\.|\.(?!\d))+|\s{2,}")


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def alnum_tokens(text: str) -> list[str]:
    return _ALNUM.findall(normalize(text))


def codes(text: str) -> set[str]:
    """Alarm codes, model numbers and quantities: latin/digit tokens that contain a digit
    (sv0401, e05, err09, s7-1200, xe215, 380v). Joiners are dropped so s7-1200 == s71200."""
    out = set()
    for token in alnum_tokens(text):
        if any(ch.isdigit() for ch in token) and len(token) >= 2:
            out.add(re.sub(r"[-./]", "", token))
    return out


def _split_code(code: str) -> tuple[str, str]:
    """(letters, digits without leading zeros): 'sv0401' -> ('sv', '401'), '380v' -> ('v', '380')."""
    letters = "".join(ch for ch in code if ch.isalpha())
    digits = "".join(ch for ch in code if ch.isdigit()).lstrip("0") or "0"
    return letters, digits


def _letters_compatible(a: str, b: str) -> bool:
    """Same family of code: 'e' and 'err' (E05 / Err05), 'sv' and 'sv'; a bare number fits any."""
    return not a or not b or a.startswith(b) or b.startswith(a)


def _digits_agree(a: str, b: str) -> bool:
    """Equal, or the shorter (3+ digits) inside the longer: '401' ~ '0401', '1200' ~ '71200'."""
    short, long_ = sorted((a, b), key=len)
    return short == long_ or (len(short) >= 3 and short in long_)


def code_relation(query_codes: set[str], case_codes: set[str]) -> tuple[bool, bool]:
    """(match, conflict) between the codes of a question and of a case.

    match: some question code names the same thing as a case code (SV0401 ~ 401, XE215 ~ 215).
    conflict: some question code has a same-family counterpart in the case with other digits
    (Err02 vs Err05, SRVO-068 vs SRVO-065, 220V vs 380V) and no agreeing code in the case.
    """
    match = conflict = False
    for q in query_codes:
        q_letters, q_digits = _split_code(q)
        agrees = rivals = False
        for c in case_codes:
            c_letters, c_digits = _split_code(c)
            if not _letters_compatible(q_letters, c_letters):
                continue
            if _digits_agree(q_digits, c_digits):
                agrees = True
            elif len(q_digits) == len(c_digits) or (q_letters and c_letters):
                rivals = True
        match |= agrees
        conflict |= rivals and not agrees
    return match, conflict


# Characters that name the two sides of one thing in general Chinese (high/low, in/out, open/
# shut, voltage/current, warp/weft...). No list of words: the words come from the knowledge base.
ANTONYM_CHARACTERS = (
    "高低",
    "上下",
    "左右",
    "前后",
    "内外",
    "进出",
    "正反",
    "开关",
    "冷热",
    "增减",
    "加减",
    "升降",
    "大小",
    "快慢",
    "长短",
    "粗细",
    "松紧",
    "强弱",
    "轻重",
    "过欠",
    "满空",
    "吸排",
    "经纬",
    "合分",
    "正负",
    "顺逆",
    "压流",
)
_FLIP: dict[str, str] = {}
for _a, _b in map(tuple, ANTONYM_CHARACTERS):  # each a pair of characters
    _FLIP.setdefault(_a, _b)
    _FLIP.setdefault(_b, _a)


def flips(word: str) -> set[str]:
    """``word`` with one or both of its characters turned to the other side (高压 -> 低压,
    上升 -> 下降, 电压 -> 电流); none when it holds no such character."""
    out = set()
    sides = [(ch, _FLIP.get(ch)) for ch in word]
    for i, (_, other) in enumerate(sides):
        if other:
            out.add(word[:i] + other + word[i + 1 :])
    if len(word) == 2 and all(other for _, other in sides):
        out.add("".join(other or "" for _, other in sides))
    out.discard(word)
    return out


def contrast_words(text: str) -> dict[str, set[str]]:
    """The two-character words of ``text`` (normalized) that have another side, with it."""
    return {w: f for w in _bigrams(text) if (f := flips(w))}


def _bigrams(text: str) -> set[str]:
    return {run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)}


def contrast_conflict(q: str, c: str, case_words: dict[str, set[str]] | None = None) -> bool:
    """The question ``q`` names the other side of a word the case ``c`` has (低压 against a
    高压 case) and never that word itself, while the case never names that other side (both
    already ``normalize``d). ``case_words``: ``contrast_words(c)``, precomputed."""
    words = contrast_words(c) if case_words is None else case_words
    query = _bigrams(q)
    for word, others in words.items():
        if word in query:
            continue
        if any(other in query and other not in c for other in others):
            return True
    return False


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: each Chinese character and each pair of neighbours, plus whole
    latin/digit tokens (and their joiner-free form, so 'S7 1200' style variants still meet)."""
    norm = normalize(text)
    tokens: list[str] = []
    for run in _CJK_RUN.findall(norm):
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    for token in _ALNUM.findall(norm):
        tokens.append(token)
        bare = re.sub(r"[-./]", "", token)
        if bare != token:
            tokens.append(bare)
    return tokens


def clauses(text: str) -> list[str]:
    return [part.strip() for part in _CLAUSE_SPLIT.split(normalize(text)) if part.strip()]
