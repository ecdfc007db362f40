"""The cross-encoder verifier path on a synthetic labelled set built from the demo knowledge:
trained for a bounded number of steps (once per run: ``trained_verifier`` in tests/conftest.py),
exported to int8, loaded and judged on questions it never saw; and the folder handling (clear
errors, atomic install) on a tiny stand-in model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge.errors import IndexUnavailableError
from retrieval.corpus import CaseDoc
from retrieval.verifier import (
    MANIFEST_FILE,
    MODEL_FILE,
    NEVER,
    TOKENIZER_FILE,
    VerifierManifest,
    case_text,
    installed_version,
    load_verifier,
    save_verifier,
)
from retrieval.verifier_data import LabelledPair, grouped_split, read_cases
from retrieval.verifier_evaluation import auc, fewest_answering_pairs, judge
from tests.conftest import DEMO_DIR, MODEL_CACHE, REPO
from tests.utils.verifier import synthetic_pairs


@pytest.fixture(scope="module")
def demo_cases() -> list[CaseDoc]:
    return read_cases(DEMO_DIR)


# ---- the trained verifier --------------------------------------------------------------------


@pytest.mark.slow
def test_a_pair_scores_the_same_whichever_cases_are_read_with_it(trained_verifier, demo_cases):
    """The thresholds are fitted on pairs; the service reads a question's top cases together.
    The int8 model must give a pair the same score either way."""
    verifier = load_verifier(trained_verifier.folder)
    texts = [case_text(c) for c in demo_cases[:4]]
    question = "挖机大臂抬起来停一会自己往下沉"
    together = verifier.probability(question, texts)
    alone = np.concatenate([verifier.probability(question, [t]) for t in texts])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(verifier.probability(question, texts[::-1])[::-1], alone)


@pytest.mark.slow
def test_trained_verifier_ranks_answering_cases_above_others_on_new_questions(trained_verifier, demo_cases):
    verifier = load_verifier(trained_verifier.folder)
    by_id = {c.id: c for c in demo_cases}
    fresh = synthetic_pairs(demo_cases, seed=99, per_case=1)  # other edits: questions never trained on
    scores = np.concatenate(
        [
            verifier.probability(question, [case_text(by_id[a.case_id]), case_text(by_id[b.case_id])])
            for question, a, b in (
                (fresh[i].question, fresh[i], fresh[i + 1]) for i in range(0, len(fresh), 2)
            )
        ]
    )
    answers = np.array([p.answers for p in fresh])
    assert auc(answers, scores) > 0.85  # an untrained head is at about 0.5
    assert ((0 <= scores) & (scores <= 1)).all()

    manifest = trained_verifier.manifest
    assert manifest.evaluation["auc"] > 0.85
    assert 0 <= manifest.confirm_threshold <= manifest.suggest_threshold
    # 41 answering held-out pairs cannot show a 0.95 lower bound: it must never suggest
    assert manifest.labels["held_out"]["expert"]["yes"] == 41 < fewest_answering_pairs(0.95)
    assert manifest.suggest_threshold == NEVER > 1
    assert manifest.labels["train"]["knowledge"] == {"yes": 82, "no": 164}


@pytest.mark.slow
def test_int8_export_scores_like_the_torch_model(trained_verifier):
    from retrieval.verifier_training import int8_logits

    int8 = int8_logits(load_verifier(trained_verifier.folder), trained_verifier.held_out)
    assert len(int8) == len(trained_verifier.torch_logits) > 50
    assert np.corrcoef(trained_verifier.torch_logits, int8)[0, 1] > 0.98
    assert trained_verifier.manifest.evaluation["int8_torch_logit_correlation"] > 0.98


# ---- folders: loading, errors, installing (a tiny stand-in model) -----------------------------


def tiny_verifier(folder: Path, suggest: float = 0.9, confirm: float = 0.6) -> Path:
    """A verifier folder whose "model" says longer texts answer better: logit = (tokens - 40) / 4,
    one token per character (prefixes included). Enough to check loading, errors and installing
    in milliseconds."""
    import onnx
    from onnx import TensorProto, helper
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    folder.mkdir(parents=True)
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
            helper.make_node("ReduceSum", ["mask", "axes"], ["tokens"], keepdims=0),
            helper.make_node("Sub", ["tokens", "offset"], ["shifted"]),
            helper.make_node("Div", ["shifted", "scale"], ["logits"]),
        ],
        "tiny",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch"])],
        [
            helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
            helper.make_tensor("offset", TensorProto.FLOAT, [], [40.0]),
            helper.make_tensor("scale", TensorProto.FLOAT, [], [4.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / MODEL_FILE))
    tokenizer = Tokenizer(models.WordLevel({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), "isolated")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(folder / TOKENIZER_FILE))
    VerifierManifest("tiny", "2026-01-01T00:00:00+00:00", 64, suggest, confirm).write(folder / MANIFEST_FILE)
    return folder


def test_a_verifier_folder_scores_one_question_against_several_cases(tmp_path: Path):
    verifier = load_verifier(tiny_verifier(tmp_path / "v"))
    p = verifier.probability("主轴不转", ["短", "主轴不转，变频器显示正常，主轴电机也没有报警，怎么查原因"])
    assert p.shape == (2,) and p[0] < 0.5 < p[1]
    assert verifier.probability("主轴不转", []).shape == (0,)
    assert (verifier.suggest_threshold, verifier.confirm_threshold) == (0.9, 0.6)
    long = verifier.logits("问" * 500, ["答" * 500])  # cut at max_length, as trained
    assert long[0] == pytest.approx((64 - 40) / 4)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / MODEL_FILE).unlink(), "incomplete: model_int8.onnx missing"),
        (
            lambda f: (f / MANIFEST_FILE).write_text("{not json", encoding="utf-8"),
            "verifier.json is unreadable",
        ),
        (
            lambda f: (f / MANIFEST_FILE).write_text(json.dumps({"model_id": "x"}), encoding="utf-8"),
            "verifier.json is unreadable",
        ),
        (lambda f: VerifierManifest("x", "t", 64, 0.5, 0.9).write(f / MANIFEST_FILE), "confirm <= suggest"),
        (lambda f: (f / MODEL_FILE).write_bytes(b"not a model"), "cannot be opened"),
        (
            lambda f: (f / TOKENIZER_FILE).write_text("garbage", encoding="utf-8"),
            "tokenizer.json: expected value",
        ),
    ],
)
def test_a_broken_folder_says_what_is_wrong(tmp_path: Path, damage, message: str):
    folder = tiny_verifier(tmp_path / "v")
    damage(folder)
    with pytest.raises(IndexUnavailableError, match=message):
        load_verifier(folder)


def test_an_empty_verifier_dir_is_unavailable(tmp_path: Path):
    with pytest.raises(IndexUnavailableError, match="incomplete"):
        load_verifier(tmp_path)


def test_install_swaps_current_and_keeps_the_old_version_until_pruned(tmp_path: Path):
    target = tmp_path / "verifier"
    first = save_verifier(tiny_verifier(tmp_path / "a", suggest=0.91), target)
    assert installed_version(target) == first.name
    serving = load_verifier(target)
    assert serving.suggest_threshold == 0.91

    second = save_verifier(tiny_verifier(tmp_path / "b", suggest=0.92), target)
    assert installed_version(target) == second.name != first.name
    assert load_verifier(target).suggest_threshold == 0.92
    assert load_verifier(first).suggest_threshold == 0.91  # the old version is still there
    assert serving.probability("主轴不转", ["变频器显示正常"]).shape == (1,)  # and still serves

    broken = tiny_verifier(tmp_path / "broken")
    (broken / MODEL_FILE).write_bytes(b"")
    with pytest.raises(IndexUnavailableError):
        save_verifier(broken, target)
    assert installed_version(target) == second.name  # a broken model is never installed

    for name in ("c", "d"):
        save_verifier(tiny_verifier(tmp_path / name), target)
    versions = sorted(p.name for p in (target / "versions").iterdir())
    assert first.name not in versions and second.name in versions and len(versions) == 3
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temp leftovers


# ---- splitting and judging --------------------------------------------------------------------


def test_split_keeps_each_question_on_one_side_and_thresholds_hold_the_lower_bound():
    pairs = [LabelledPair(f"q{i}", f"K{j:03d}", i % 3 == j, "worker") for i in range(40) for j in range(3)]
    train, test = grouped_split(pairs, held_out=0.25)
    assert {p.question for p in train}.isdisjoint({p.question for p in test})
    assert len({p.question for p in test}) == 10

    rng = np.random.default_rng(0)
    answers = np.repeat([True, False], 200)
    probabilities = np.where(answers, rng.uniform(0.5, 1, 400), rng.uniform(0, 0.6, 400))
    thresholds, figures = judge([f"q{i // 2}" for i in range(400)], probabilities, answers)
    assert figures["auc"] > 0.9 and figures["questions"] == 200
    shown = probabilities >= thresholds.suggest
    assert answers[shown].mean() >= 0.95 and thresholds.confirm <= thresholds.suggest
    assert fewest_answering_pairs(0.95) == 59


async def test_stored_labels_keep_declined_cases_and_the_experts_word(sessions):
    from datetime import UTC, datetime

    from bot.service.labels import record_label
    from knowledge.models import Question
    from knowledge.states import LabelSource
    from retrieval.verifier_data import stored_pairs

    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with sessions() as session:
        session.add_all(
            [
                Question(id="q1", text="车床报SV0401 ", decision="confirm"),
                Question(id="q2", text="主轴不转", decision="route"),
            ]
        )
        await session.flush()
        await record_label(session, "q1", "K001", True, LabelSource.WORKER, now)
        await record_label(session, "q1", "K001", False, LabelSource.EXPERT, now)  # the expert's word counts
        await record_label(session, "q1", "K002", False, LabelSource.WORKER, now)
        await record_label(session, "q2", "K003", True, LabelSource.WORKER, now)
        await session.commit()
        pairs = await stored_pairs(session)
    assert sorted(pairs, key=lambda p: (p.question, p.case_id)) == [
        LabelledPair("主轴不转", "K003", True, LabelSource.WORKER),
        LabelledPair("车床报SV0401", "K001", False, LabelSource.EXPERT),
        LabelledPair("车床报SV0401", "K002", False, LabelSource.WORKER),
    ]


# ---- the script ---------------------------------------------------------------------------------


def run_script(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAFTDESK_")}
    env |= {"CRAFTDESK_DATA_DIR": str(data_dir), "CRAFTDESK_MODEL_CACHE": str(MODEL_CACHE)}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_verifier.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


def test_bad_label_file_exits_2_naming_the_line(tmp_path: Path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            [
                json.dumps({"question": "车床报SV0401", "case_id": "K001", "answers": True}),
                "",
                json.dumps({"question": "车床报SV0401", "case_id": "K002", "answers": "no"}),
                json.dumps({"question": "主轴不转", "case_id": "K999", "answers": True}),
                "{broken",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    done = run_script(
        "--knowledge",
        str(DEMO_DIR),
        "--labels",
        str(labels),
        "--no-stored-labels",
        "--out",
        str(tmp_path / "out"),
        data_dir=tmp_path / "var",
    )
    assert done.returncode == 2, done.stderr
    assert f"{labels}:3: field 'answers': required, true or false" in done.stderr
    assert f"{labels}:4: field 'case_id': no case 'K999' in the knowledge base" in done.stderr
    assert f"{labels}:5: not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()

    helped = run_script("--help", data_dir=tmp_path / "var")
    assert helped.returncode == 0 and "example:" in helped.stdout
