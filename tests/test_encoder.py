"""The encoder second stage: a tiny fine-tune (8 examples, one step, 32 tokens), export to int8 ONNX,
sha256 checks, loading, predicting, resuming, and the two-stage classifier built from it.

Nothing here depends on the shipped encoder being retrained: the tiny model is trained in the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor.classify.encoder import EncoderError, EncoderScorer, encoder_text, file_sha256
from monitor.classify.model import PACKAGED_MODEL, ModelError, SignalClassifier, load_model
from monitor.classify.two_stage import (
    Combination,
    TwoStageClassifier,
    choose_combination,
    choose_gate,
    figures_with_intervals,
    holdout_split,
    wilson_interval,
)
from monitor.store.schema import LABELS

torch = pytest.importorskip("torch", reason="the train extra is not installed")
from monitor.classify.encoder_train import (  # noqa: E402
    EncoderTrainingConfig,
    EncoderTrainingError,
    base_tokenizer_path,
    export_onnx,
    fine_tune,
    predict_torch,
)

TINY = EncoderTrainingConfig(epochs=1, batch_size=4, max_tokens=32, max_steps=1, checkpoint_every=1, threads=1)
TEXTS = ["Inmates escape from a prison in Kano after a wall collapses",
         "Gunmen stormed the central jail overnight and freed hundreds",
         "Riot at the detention centre: detainees set fire to mattresses",
         "Cup final ends in a draw after extra time",
         "Central bank holds interest rates steady",
         "Prisoners escaped during a transfer to court",
         "New bakery opens on the high street",
         "Heavy rain expected across the north this weekend"]
Y = np.zeros((8, len(LABELS)), dtype=int)
Y[[0, 1, 5], LABELS.index("prison_break")] = 1
Y[1, LABELS.index("attack_on_facility")] = 1
Y[2, LABELS.index("riot_unrest")] = 1


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A fine-tuned (one step) network and its int8 ONNX export."""
    folder = tmp_path_factory.mktemp("tiny-encoder")
    network = fine_tune(TEXTS, Y, TINY, checkpoint_dir=folder / "checkpoint", show_progress=False)
    files = export_onnx(network, folder / "encoder.onnx", base_tokenizer_path())
    return network, folder, files


def test_export_is_int8_onnx_with_its_tokenizer_and_their_sha256(tiny):
    _, folder, files = tiny
    onnx_file, tokenizer = folder / files["onnx"], folder / files["tokenizer"]
    assert files["quantized"] and files["onnx_sha256"] == file_sha256(onnx_file)
    assert files["tokenizer_sha256"] == file_sha256(tokenizer)
    import onnx

    graph = onnx.load(str(onnx_file)).graph
    assert {i.name for i in graph.input} == {"input_ids", "attention_mask"}
    # Dynamic quantisation stores the weight matrices as int8 initialisers.
    assert any(init.data_type == onnx.TensorProto.INT8 for init in graph.initializer)
    assert onnx_file.stat().st_size < 30_000_000


def test_onnx_scores_match_the_torch_network_and_are_batched_in_input_order(tiny):
    network, folder, files = tiny
    scorer = EncoderScorer(folder / files["onnx"], folder / files["tokenizer"], LABELS, files["onnx_sha256"],
                           files["tokenizer_sha256"], max_tokens=32)
    documents = [{"title": text, "text": ""} for text in TEXTS] * 5  # 40: several length-sorted batches
    scores = scorer.scores(documents, batch_size=8)
    assert scores.shape == (40, len(LABELS)) and ((scores > 0) & (scores < 1)).all()
    reference = predict_torch(network, [encoder_text(d) for d in documents], max_tokens=32)
    assert np.abs(scores - reference).max() < 0.05  # int8 weights move probabilities a little, not more
    # Each row is its own document's whatever the batch (int8 activations are scaled per batch: a little noise).
    assert np.abs(scores[:8] - scores[8:16]).max() < 0.01
    assert scorer.scores([]).shape == (0, len(LABELS))


def test_a_file_that_does_not_match_its_sha256_is_refused(tiny, tmp_path):
    _, folder, files = tiny
    copy = tmp_path / "encoder.onnx"
    shutil.copyfile(folder / files["onnx"], copy)
    with pytest.raises(EncoderError, match="sha256"):
        EncoderScorer(copy, folder / files["tokenizer"], LABELS, "0" * 64, files["tokenizer_sha256"])
    with pytest.raises(EncoderError, match="sha256"):
        EncoderScorer(copy, folder / files["tokenizer"], LABELS, files["onnx_sha256"], "f" * 64)
    copy.write_bytes(b"not an onnx graph")
    with pytest.raises(EncoderError, match="not a usable ONNX model"):
        EncoderScorer(copy, folder / files["tokenizer"], LABELS)
    with pytest.raises(EncoderError, match="no encoder model"):
        EncoderScorer(tmp_path / "missing.onnx", folder / files["tokenizer"], LABELS)
    with pytest.raises(EncoderError, match="scores 6 labels"):
        EncoderScorer(folder / files["onnx"], folder / files["tokenizer"], LABELS[:2])


def test_training_resumes_from_its_checkpoint_and_refuses_other_data(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    fine_tune(TEXTS, Y, TINY, checkpoint_dir=checkpoint, show_progress=False)
    position = json.loads((checkpoint / "position.json").read_text())
    assert position["global_step"] == 1
    two_steps = EncoderTrainingConfig(**{**TINY.__dict__, "max_steps": 2})
    fine_tune(TEXTS, Y, two_steps, checkpoint_dir=checkpoint, resume=True, show_progress=False)
    assert json.loads((checkpoint / "position.json").read_text())["global_step"] == 2  # one more, not two
    from safetensors import safe_open

    with safe_open(str(checkpoint / "checkpoint.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert any(k.startswith("optimizer.") and k.endswith("exp_avg") for k in keys)  # Adam moments kept
    with pytest.raises(EncoderTrainingError, match="other data"):
        fine_tune(TEXTS[::-1], Y, two_steps, checkpoint_dir=checkpoint, resume=True, show_progress=False)


def _two_stage_files(tiny, folder: Path, gate: float) -> Path:
    """The packaged first stage plus the tiny encoder, with a card naming both, in `folder`."""
    _, encoder_folder, files = tiny
    folder.mkdir(exist_ok=True)
    model = folder / "classifier.skops"
    shutil.copyfile(PACKAGED_MODEL, model)
    for name in (files["onnx"], files["tokenizer"]):
        shutil.copyfile(encoder_folder / name, folder / name)
    card = {"version": "tiny-two-stage", "sha256": file_sha256(model), "file": model.name,
            "encoder": {**files, "max_tokens": 32},
            "combination": {"gate": gate, "weight": 0.5, "thresholds": {label: 0.3 for label in LABELS}}}
    (folder / "model_card.json").write_text(json.dumps(card))
    return model


@pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no first-stage model in models/")
def test_load_model_builds_two_stages_from_the_card_and_the_gate_holds_back_the_rest(tiny, tmp_path):
    model = _two_stage_files(tiny, tmp_path / "models", gate=0.5)
    classifier = load_model(model)
    assert isinstance(classifier, TwoStageClassifier)
    first = SignalClassifier.from_file(model)
    documents = [{"title": "Dozens of inmates escape from Kuje prison after gunmen attack", "text": ""},
                 {"title": "Share prices rise on the stock exchange", "text": ""}]
    first_scores = first.scores(documents)
    scores, passed = classifier.scores_and_gate(documents)
    assert passed.tolist() == [True, False]
    # Gated out: its first-stage scores, and no label; let through: the average with the encoder.
    assert np.allclose(scores[1], first_scores[1]) and not np.allclose(scores[0], first_scores[0])
    predictions = classifier.predict(documents)
    assert predictions[1].labels == []
    assert all(label in LABELS for label in predictions[0].labels)

    card_path = tmp_path / "models" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["encoder"]["onnx_sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="sha256"):
        load_model(model)
    del card["combination"]
    card["encoder"]["onnx_sha256"] = tiny[2]["onnx_sha256"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not describe its encoder"):
        load_model(model)


def test_holdout_split_is_stratified_and_disjoint():
    labels = [("prison_break",)] * 50 + [()] * 100 + [("riot_unrest",)] * 3
    languages = ["en"] * 40 + ["fr"] * 10 + ["en"] * 100 + ["en"] * 3
    train, held = holdout_split(labels, languages)
    assert not set(train) & set(held) and len(train) + len(held) == len(labels)
    assert sum(1 for i in held if labels[i] == ("prison_break",) and languages[i] == "fr") == 2
    assert sum(1 for i in held if not labels[i]) == 20
    assert not any(labels[i] == ("riot_unrest",) for i in held)  # too few to split: all in training


def test_the_gate_keeps_the_asked_recall_and_the_combination_beats_a_noisy_stage():
    generator = np.random.RandomState(3)
    y = (generator.rand(400, 2) < 0.3).astype(int)
    good = np.clip(y * 0.7 + generator.rand(400, 2) * 0.3, 0, 1)
    noisy = generator.rand(400, 2)
    gate = choose_gate(y, good, recall=0.99)
    labelled = y.sum(axis=1) > 0
    assert (good.max(axis=1)[labelled] >= gate).mean() >= 0.99
    combination, report = choose_combination(y, good, noisy, ["a", "b"])
    assert combination.weight >= 0.7  # the informative stage carries the weight
    assert set(combination.thresholds) == {"a", "b"} and report["gate"] == combination.gate
    assert isinstance(combination, Combination)


def test_intervals_are_wilson_for_proportions_and_bootstrap_for_f1():
    assert wilson_interval(8, 10) == (0.49, 0.943)
    assert wilson_interval(0, 0) is None
    truth = np.array([True] * 20 + [False] * 80)
    predicted = np.array([True] * 15 + [False] * 5 + [True] * 5 + [False] * 75)
    figures = figures_with_intervals(truth, predicted)
    assert (figures["tp"], figures["fp"], figures["fn"], figures["support"]) == (15, 5, 5, 20)
    assert figures["precision"] == 0.75 and figures["precision_95"][0] < 0.75 < figures["precision_95"][1]
    assert figures["f1_95"][0] < figures["f1"] < figures["f1_95"][1]
