"""Homophone typos corrected against the knowledge base's words, and only those."""

from __future__ import annotations

import pytest

from retrieval.typos import TypoCorrector, sound, sounds

TEXTS = [
    "挖掘机液压系统油温高报警，液压油散热器脏堵",
    "液压泵内泄，动臂下沉，油缸保压不住",
    "数控车床伺服放大器报警SV0401，伺服就绪信号关闭",
    "伺服电机过热报警，检查负载和冷却风扇",
    "皮带跑偏，调整托辊，清理滚筒粘料",
    "输送带跑偏到一侧，空载也跑偏",
]
TERMS = ["液压系统油温高", "伺服放大器报警", "皮带跑偏"]


@pytest.fixture(scope="module")
def corrector() -> TypoCorrector:
    return TypoCorrector(TEXTS, TERMS)


def test_sound_reads_in_context_and_folds_accents():
    assert ("si", "fu") in sounds("伺服")  # how 伺服 is typed, whatever the default reading
    assert sound("报警") == sound("报井")  # jing / jin fold together
    assert sound("私服") in sounds("伺服")


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("挖机液亚油温高", "挖机液压油温高"),
        ("侍服一直没准备好", "伺服一直没准备好"),
        ("皮带老是跑篇", "皮带老是跑偏"),
    ],
)
def test_a_non_word_that_sounds_like_a_knowledge_word_is_read_as_it(corrector, typed, meant):
    text, corrections = corrector.correct(typed)
    assert text == meant
    assert len(corrections) == 1 and corrections[0].meant in meant


@pytest.mark.parametrize(
    "text",
    [
        "私服",  # a word of general Chinese (a private server), even if it sounds like 伺服
        "电击了一下",  # a real word: a worker may well mean an electric shock
        "液压油温高报警",  # already right
        "设备今天停了",  # nothing of the knowledge base sounds like it
    ],
)
def test_words_and_unrelated_text_are_left_alone(corrector, text):
    assert corrector.correct(text) == (text, [])


def test_a_character_the_knowledge_base_writes_often_is_taken_as_meant():
    """报警 appears in many words here, so 报 is no typo; 警 written as 井 in a mine is no typo
    either when the knowledge base itself writes 井 in words of its own."""
    mine = TypoCorrector(TEXTS + ["井下井筒井口井架", "井底车场井巷"] * 2, TERMS)
    assert mine.meant("报井") is None
    assert TypoCorrector(TEXTS, TERMS).meant("报井") == "报警"
