from __future__ import annotations

import numpy as np

from retrieval.lexical import BM25Index
from retrieval.text import clauses, codes, lexical_tokens, normalize


def test_normalize_folds_full_width_and_case():
    assert normalize("ＳＶ０４０１ 报警  了") == "sv0401 报警 了"


def test_codes_keep_digits_and_drop_joiners():
    assert codes("车床报SV0401，PLC是S7-1200，电压380V，3号机") == {"sv0401", "s71200", "380v"}
    assert codes("变频器报E05") == codes("变频器报Ｅ０５") == {"e05"}
    assert codes("没有代码的问题") == set()


def test_lexical_tokens_are_characters_bigrams_and_latin_words():
    tokens = lexical_tokens("挖机SV0401")
    assert tokens == ["挖", "机", "挖机", "sv0401"]
    assert "s71200" in lexical_tokens("S7-1200") and "s7-1200" in lexical_tokens("S7-1200")


def test_clauses_split_on_chinese_punctuation():
    assert clauses("开机报警了，显示SV0401。咋整？") == ["开机报警了", "显示sv0401", "咋整"]


def test_bm25_matches_codes_exactly_and_reports_coverage():
    docs = ["数控车床报SV0401就绪信号关闭", "数控车床报SV0411位置偏差过大", "挖掘机动臂下沉"]
    index = BM25Index(docs)
    match = index.match("车床SV0411报警")
    assert int(np.argmax(match.scores)) == 1
    assert match.coverage[1] > match.coverage[0] > match.coverage[2]
    assert 0 <= match.coverage.min() and match.coverage.max() <= 1.0 + 1e-6


def test_bm25_unknown_words_score_nothing():
    index = BM25Index(["挖掘机动臂下沉"])
    match = index.match("食堂几点开饭")
    assert match.scores.tolist() == [0.0] and match.query_idf == {}


def test_code_relation_matches_partial_forms_and_flags_same_family_conflicts():
    from retrieval.text import code_relation

    assert code_relation({"401"}, {"sv0401", "0itf"}) == (True, False)
    assert code_relation({"215"}, {"xe215"}) == (True, False)
    assert code_relation({"1200"}, {"s71200"}) == (True, False)
    assert code_relation({"e05"}, {"err05", "md500"}) == (True, False)
    assert code_relation({"err02"}, {"err05", "md500"}) == (False, True)
    assert code_relation({"srvo068"}, {"srvo065"}) == (False, True)
    assert code_relation({"sv0417"}, {"sv0401"}) == (False, True)
    assert code_relation({"220v"}, {"380v"}) == (False, True)
    assert code_relation({"sv0401"}, set()) == (False, False)


def test_contrast_conflict_sees_opposite_terms():
    from retrieval.text import contrast_conflict

    assert contrast_conflict("冷库机组低压报警停机", "冷库压缩机高压报警停机")
    assert contrast_conflict("经纱老断", "织机纬纱断头多")
    assert not contrast_conflict("冷库高压报警", "冷库压缩机高压报警停机")
    assert not contrast_conflict("织机断头多", "织机纬纱断头多")


def test_stored_labels_become_queries_with_the_experts_word_first():
    from retrieval.evaluation import queries_from_labels

    rows = [
        (1, "大臂自己往下掉", "s1", "K004", True, "worker"),
        (2, "大臂自己往下掉", "s1", "K004", False, "expert"),  # the expert says no: that counts
        (3, "车床报401", None, "K001", True, "published"),
        (4, "车床报417", None, "K001", False, "worker"),
    ]
    queries = {q.id: q for q in queries_from_labels(rows)}
    assert set(queries) == {"L2", "L3", "L4"}
    assert (queries["L2"].kind, queries["L2"].case_id) == ("near_miss", None)
    assert (queries["L3"].kind, queries["L3"].case_id) == ("paraphrase", "K001")
    assert queries["L4"].kind == "near_miss"


def test_contrast_words_come_from_the_case_and_general_antonyms():
    from retrieval.text import contrast_conflict, flips

    assert "低压" in flips("高压") and "下降" in flips("上升") and flips("电压") == {"电流"}
    assert flips("主轴") == set()  # no side to turn
    assert contrast_conflict("进口阀门漏", "出口阀门漏油")
    assert not contrast_conflict("出口阀门漏", "出口阀门漏油")
