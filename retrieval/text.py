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
_CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；:：\n]+|\s{2,}")


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


# Term pairs that name opposite or sibling faults: a question with one side against a case with
# only the other is a look-alike, not a paraphrase (高压 vs 低压 alarm, 经纱 vs 纬纱 breakage).
CONTRASTS = (
    ("高压", "低压"), ("高温", "低温"), ("过压", "欠压"), ("过压", "过流"), ("电压", "电流"),
    ("经纱", "纬纱"), ("经线", "纬线"), ("上升", "下降"), ("升高", "降低"), ("偏高", "偏低"),
    ("过高", "过低"), ("太高", "太低"), ("增大", "减小"), ("加速", "减速"), ("正转", "反转"),
    ("进口", "出口"), ("进气", "排气"), ("吸气", "排气"), ("合闸", "分闸"), ("高速", "低速"),
    ("满载", "空载"), ("左边", "右边"), ("往上", "往下"), ("冷态", "热态"), ("开不", "关不"),
)


def contrast_conflict(q: str, c: str) -> bool:
    """The question ``q`` names one side of a contrast pair that the case ``c`` only has the
    other side of (both already ``normalize``d)."""
    for a, b in CONTRASTS:
        for mine, other in ((a, b), (b, a)):
            if mine in q and other not in q and other in c and mine not in c:
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
