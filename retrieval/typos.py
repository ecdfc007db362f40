"""Homophone typos, corrected against the knowledge base's own words.

Workers type with pinyin input on a phone and pick the wrong character of the right sound:
侍服 for 伺服, 液亚 for 液压, 跳匝 for 跳闸. Two characters are taken for a word of the knowledge
base when they are no word themselves (neither in the knowledge base nor in jieba's dictionary
of general Chinese), do not form a word with a neighbour, and sound exactly like one word of
the knowledge base that differs in one character, a character the knowledge base hardly writes.
That word must be a word of the dictionary or of a case's title or tags, so strings that only
straddle two words (的液, 力是) are never meant. Sounds come from pypinyin: the typed text read
in context, a knowledge-base word read every way it can be (伺服: ci fu, si fu), with the fuzzy
pairs pinyin keyboards offer for regional accents (z/zh, c/ch, s/sh, n/l, en/eng, in/ing).
No word list is written here: the words are the knowledge base's.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path

from retrieval.text import normalize

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FUZZY_FINALS = (("eng", "en"), ("ing", "in"))
MIN_DOCUMENTS = 2  # a word seen in one text only may itself be a typo
RARE_CHARACTER = 3  # a typed character in more knowledge-base words than this was meant


def _fold(syllable: str) -> str:
    for long, short in _FUZZY_INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FUZZY_FINALS:
        if syllable.endswith(long):
            return syllable[: -len(long)] + short
    return syllable


@lru_cache(maxsize=65536)
def sound(word: str) -> tuple[str, ...]:
    """The toneless pinyin of ``word`` as a keyboard reads it (in context), fuzzy-folded."""
    from pypinyin import lazy_pinyin

    return tuple(_fold(s) for s in lazy_pinyin(word))


def sounds(word: str) -> set[tuple[str, ...]]:
    """Every way ``word`` can be read (伺服: ci fu and si fu), fuzzy-folded."""
    from pypinyin import Style, pinyin

    readings = pinyin(word, heteronym=True, style=Style.NORMAL)
    return {tuple(_fold(s) for s in combo) for combo in product(*readings)} | {sound(word)}


@lru_cache(maxsize=1)
def dictionary() -> frozenset[str]:
    """Two-character words of general Chinese (jieba's dictionary, about 110 000)."""
    spec = importlib.util.find_spec("jieba")  # found, not imported: only its file is read
    if spec is None or spec.origin is None:
        raise RuntimeError("jieba is not installed (pip install -e .)")
    path = Path(spec.origin).with_name("dict.txt")
    with path.open(encoding="utf-8") as lines:
        return frozenset(w for w in (line.split(" ", 1)[0] for line in lines) if len(w) == 2)


@dataclass(frozen=True)
class Correction:
    typed: str
    meant: str


class TypoCorrector:
    """Built once per index from its cases: ``texts`` all they say, ``terms`` their titles and
    tags."""

    def __init__(self, texts: Iterable[str], terms: Iterable[str]):
        documents: Counter[str] = Counter()
        for text in texts:
            documents.update(_words(normalize(text)))
        self.known = set(documents)
        self.characters: Counter[str] = Counter()
        for word in documents:  # how many words of the knowledge base a character is part of
            self.characters.update(set(word))
        frequent = {w for w, n in documents.items() if n >= MIN_DOCUMENTS}
        self.words = dictionary() | frequent
        term_words = set().union(*(_words(normalize(t)) for t in terms))
        self.by_sound: dict[tuple[str, ...], set[str]] = {}
        for word in frequent & (dictionary() | term_words):
            for key in sounds(word):
                self.by_sound.setdefault(key, set()).add(word)

    def meant(self, word: str) -> str | None:
        """The one knowledge-base word the non-word ``word`` is a typo of, or None."""
        if word in self.known or word in self.words:
            return None
        candidates = {c for c in self.by_sound.get(sound(word), ()) if (c[0] == word[0]) != (c[1] == word[1])}
        if len(candidates) != 1:
            return None
        meant = candidates.pop()
        typed = word[0] if word[0] != meant[0] else word[1]
        # a character the knowledge base writes in words of its own was meant (经 of 经停)
        return meant if self.characters[typed] <= RARE_CHARACTER else None

    def correct(self, text: str) -> tuple[str, list[Correction]]:
        """``text`` with its homophone typos replaced, and what was replaced."""
        chars = list(text)
        corrections = []
        for run in _CJK_RUN.finditer(text):
            i = run.start()
            while i < run.end() - 1:
                word = "".join(chars[i : i + 2])
                meant = self.meant(word)
                before = "".join(chars[i - 1 : i + 1]) if i > run.start() else ""
                after = "".join(chars[i + 1 : i + 3]) if i + 2 < run.end() else ""
                if meant is None or before in self.words or after in self.words:
                    i += 1
                    continue
                chars[i : i + 2] = list(meant)
                corrections.append(Correction(word, meant))
                i += 2
        return "".join(chars), corrections


def _words(text: str) -> set[str]:
    return {run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)}
