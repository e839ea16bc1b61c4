"""`monitor train` as one library call: train one or both stages, evaluate, write the files and the card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence


class TrainingRunError(RuntimeError):
    pass


@dataclass
class WrittenModel:
    card: dict
    output: Path
    card_path: Path

    def summary(self) -> str:
        card = self.card
        lines = [f"Wrote {self.output} (version {card['version']}, sha256 {card['sha256'][:12]}...) and "
                 f"{self.card_path}."]
        encoder = card.get("encoder")
        if encoder:
            combination = card["combination"]
            lines.append(f"Encoder {encoder['onnx']} (sha256 {encoder['onnx_sha256'][:12]}...), gate "
                         f"{combination['gate']}, first-stage weight {combination['weight']}.")
            holdout = card["holdout"]
            lines.append(f"Held-out part ({holdout['items']} items, used for choosing):")
            for label, figures in holdout["two_stage"]["per_label"].items():
                lines.append(f"  {label:<22} precision {figures['precision']:.3f} recall {figures['recall']:.3f} "
                             f"f1 {figures['f1']:.3f} (support {figures['support']}) threshold "
                             f"{combination['thresholds'][label]:.2f}")
            incident = holdout["two_stage"]["incident"]
            lines.append(f"  {'incident (any)':<22} precision {incident['precision']:.3f} recall "
                         f"{incident['recall']:.3f} f1 {incident['f1']:.3f} f1 95% {incident['f1_95']}")
        else:
            for label, figures in card["cross_validation"]["per_label"].items():
                lines.append(f"  {label:<22} cv precision {figures['precision']:.3f} recall {figures['recall']:.3f} "
                             f"f1 {figures['f1']:.3f} threshold {figures['threshold']:.2f}")
        for evaluation in card.get("evaluation") or []:
            incident = evaluation["incident"]
            kind = "used for choosing" if evaluation["used_for_choosing"] else "untouched"
            lines.append(f"{evaluation['dataset']} ({evaluation['items']} items, {kind}): incident precision "
                         f"{incident['precision']:.3f} recall {incident['recall']:.3f} f1 {incident['f1']:.3f} "
                         f"(tp {incident['tp']}, fp {incident['fp']}, fn {incident['fn']})")
        return "\n".join(lines)


def run_training(corpus: Optional[Path] = None, output: Optional[Path] = None, card: Optional[Path] = None,
                 chosen_sets: Sequence[Path] = (), untouched_sets: Sequence[Path] = (), encoder: bool = True,
                 resume: bool = False, refit_encoder: bool = True, encoder_steps: Optional[int] = None,
                 encoder_epochs: int = 3, work_dir: Optional[Path] = None, encoder_config=None,
                 progress: Optional[Callable[[str], None]] = None, show_progress: bool = True) -> WrittenModel:
    from monitor.classify.card import evaluate_for_card
    from monitor.classify.model import PACKAGED_MODEL, load_model
    from monitor.classify.train import DEFAULT_WORK_DIR, train, train_two_stage, write_model, write_two_stage

    output = Path(output or PACKAGED_MODEL)
    card_path = Path(card or output.with_name("model_card.json"))
    if encoder:
        from monitor.classify.encoder_train import EncoderTrainingConfig, EncoderTrainingError

        config = encoder_config or EncoderTrainingConfig(epochs=encoder_epochs, max_steps=encoder_steps)
        try:
            result = train_two_stage(corpus, progress=progress, work_dir=Path(work_dir or DEFAULT_WORK_DIR),
                                     resume=resume, encoder_config=config, refit_encoder=refit_encoder,
                                     show_progress=show_progress)
        except EncoderTrainingError as exc:
            raise TrainingRunError(str(exc)) from None
        written = write_two_stage(result, output, card_path)
    else:
        written = write_model(train(corpus, progress=progress), output, card_path)
    if chosen_sets or untouched_sets:
        classifier = load_model(output, card=written)
        evaluations = [evaluate_for_card(classifier, path, used_for_choosing=True) for path in chosen_sets]
        evaluations += [evaluate_for_card(classifier, path, used_for_choosing=False) for path in untouched_sets]
        written = add_evaluations(card_path, evaluations)
    return WrittenModel(written, output, card_path)


def add_evaluations(card_path: Path, evaluations: Sequence[dict]) -> dict:
    """Put evaluations into a written card (replacing earlier ones of the same dataset name)."""
    import json

    card = json.loads(Path(card_path).read_text(encoding="utf-8"))
    names = {e["dataset"] for e in evaluations}
    card["evaluation"] = [e for e in card.get("evaluation") or [] if e.get("dataset") not in names] + list(evaluations)
    Path(card_path).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card
