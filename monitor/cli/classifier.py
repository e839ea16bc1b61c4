"""The classifier: `train`, `evaluate`, `classify` and the `models` group (versions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from monitor.classify.checks import DEFAULT_CHECKS_DIR
from monitor.cli import AppContext, actor, cli, emit, library_errors, pass_app

_MODEL_OPTION = dict(type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Model file (default: the model_path setting, else the active model version).")


def _load_classifier(app: AppContext, model: Path | None):
    from monitor.classify.model import load_model
    from monitor.classify.registry import load_active_classifier

    with library_errors(app):
        if model:
            return load_model(model)  # two stages when the card beside it names an encoder
        return load_active_classifier(app.engine_if_initialised(), app.settings)


@cli.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of *.jsonl training files (default: the bundled monitor/corpus).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="First-stage model file to write (default: models/classifier.skops); the encoder's ONNX graph "
                   "and tokenizer are written beside it.")
@click.option("--card", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model card to write (default: model_card.json beside the model).")
@click.option("--evaluate", "datasets", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluate on this labelled JSONL file (repeatable); the card marks its figures as on data used "
                   "for choosing (e.g. the spent dev set).")
@click.option("--confirm", "confirm_sets", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluate on this labelled JSONL file that nothing was chosen with (repeatable); the card shows "
                   "its figures as on untouched data.")
@click.option("--encoder/--no-encoder", default=True, show_default=True,
              help="Also fine-tune the MiniLM second stage (needs the train extra; 30-60 minutes on 2 cores). "
                   "--no-encoder trains the TF-IDF model alone, in minutes.")
@click.option("--resume", is_flag=True, help="Carry on from the last checkpoint of an interrupted fine-tune.")
@click.option("--refit-encoder/--keep-split-encoder", default=True, show_default=True,
              help="After choosing on the held-out part, fine-tune the encoder again on the whole corpus (twice the "
                   "time), or ship the one trained without the held-out part (its held-out figures are then its own).")
@click.option("--encoder-steps", type=click.IntRange(min=1), default=None,
              help="Stop each fine-tune after this many steps (the learning rate schedule ends there).")
@click.option("--encoder-epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs of each fine-tune.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where checkpoints and the held-out scores go (default: data/encoder-training).")
def train(corpus: Path | None, output: Path | None, card: Path | None, datasets: tuple[Path, ...],
          confirm_sets: tuple[Path, ...], encoder: bool, resume: bool, refit_encoder: bool,
          encoder_steps: int | None, encoder_epochs: int, work_dir: Path | None) -> None:
    """Train the classifier on the corpus: the TF-IDF first stage and the fine-tuned encoder second stage.

    A stratified fifth of the corpus is held out to choose how the stages combine (gate, weight, per-label
    thresholds). Writes the model files (skops and int8 ONNX, never pickle) and the model card with their
    sha256 and every figure, marked by whether it was measured on data used for choosing.
    """
    from monitor.classify.training_run import TrainingRunError, run_training

    try:
        written = run_training(corpus=corpus, output=output, card=card, chosen_sets=datasets,
                               untouched_sets=confirm_sets, encoder=encoder, resume=resume,
                               refit_encoder=refit_encoder, encoder_steps=encoder_steps,
                               encoder_epochs=encoder_epochs, work_dir=work_dir,
                               progress=lambda message: click.echo(f"  {message}", err=True))
    except TrainingRunError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(written.summary())


def _evaluate_checks(app: AppContext, model: Path | None, checks_dir: Path, as_json: bool) -> None:
    from monitor.classify.checks import CheckFileError, check_behaviour, format_report

    try:
        report = check_behaviour(lambda: _load_classifier(app, model), checks_dir)
    except CheckFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False) if as_json else format_report(report))
    if report.below_floor:
        sys.exit(1)


@cli.command()
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSONL with title, text and label (a label or none) per line.")
@click.option("--checks", "checks_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              is_flag=False, flag_value=str(DEFAULT_CHECKS_DIR), metavar="[DIR]",
              help="Run the behavioural test cases in DIR (default: tests/behaviour) instead of a dataset: pass "
                   "rate per capability against the floors in DIR/floors.json; exits 1 when one is below.")
@click.option("--model", **_MODEL_OPTION)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@pass_app
def evaluate(app: AppContext, dataset: Path | None, checks_dir: Path | None, model: Path | None,
             as_json: bool) -> None:
    """Per-label precision/recall/F1, the incident figures and the misclassified ids on a labelled set;
    or, with --checks, the behavioural test suite's pass rates per capability."""
    from monitor.classify.evaluate import DatasetError, format_evaluation
    from monitor.classify.evaluate import evaluate as run_evaluation

    if (dataset is None) == (checks_dir is None):
        raise click.UsageError("give either --dataset FILE or --checks [DIR]")
    if checks_dir is not None:
        _evaluate_checks(app, model, checks_dir, as_json)
        return
    classifier = _load_classifier(app, model)
    try:
        outcome = run_evaluation(classifier, dataset)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**outcome.as_dict(), "misclassified": outcome.misclassified}, ensure_ascii=False))
    else:
        click.echo(f"model {classifier.version}")
        click.echo(format_evaluation(outcome))


@cli.command()
@click.option("--input", "input_file", type=click.File("r", encoding="utf-8"), default="-",
              help="JSONL with id, title, text per line (default: standard input).")
@click.option("--output", "output_file", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the results (default: standard output).")
@click.option("--model", **_MODEL_OPTION)
@click.option("--batch-size", default=1000, show_default=True, help="Items classified together.")
@pass_app
def classify(app: AppContext, input_file, output_file, model: Path | None, batch_size: int) -> None:
    """Label JSONL news items and link them to known facilities (labels, scores, facilities, severity)."""
    from monitor.classify.service import SignalAnalyser, classify_jsonl

    app.require_store()
    analyser = SignalAnalyser.from_store(app.engine, _load_classifier(app, model))
    skipped = classify_jsonl(analyser, input_file, output_file, batch_size=batch_size,
                             on_problem=lambda message: click.echo(message, err=True))
    if skipped:
        click.echo(f"{skipped} line(s) skipped.", err=True)


@cli.group()
def models() -> None:
    """Classifier versions: the packaged model and versions retrained with analysts' feedback."""


@models.command("list")
@pass_app
def models_list(app: AppContext) -> None:
    """Every version, which one is active, and its dev-set incident figures."""
    from monitor.classify.registry import versions

    with app.reading() as session:
        rows = versions(session)

    def line(row) -> str:
        card = row.card or {}
        evaluation = (card.get("evaluation") or [{}])[0].get("incident", {}) if card.get("evaluation") else {}
        figures = f"dev incident F1 {evaluation['f1']:.3f}" if "f1" in evaluation else "no dev evaluation"
        since = (f"; active since {row.activated_at:%Y-%m-%d %H:%M} by {row.activated_by}"
                 if row.active and row.activated_at else "")
        return (f"{'*' if row.active else ' '} {row.version:<32} {row.origin:<10} {figures}; "
                f"trained by {row.trained_by or '-'}{since}")

    emit(rows, as_json=False, line=line, empty="No model versions recorded; run `monitor init`.")
    if app.settings.model_path:
        click.echo(f"Note: the model_path setting pins {app.settings.model_path}; the active version is not used.")


@models.command("retrain")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Corpus folder (default: the bundled monitor/corpus/).")
@click.option("--encoder/--no-encoder", default=None,
              help="Also fine-tune the encoder second stage (default: the retrain_encoder setting).")
@pass_app
def models_retrain(app: AppContext, corpus_dir: Path | None, encoder: bool | None) -> None:
    """Train a new version on the corpus plus analysts' confirmed/dismissed alerts; it is not activated."""
    from monitor.classify.registry import retrain_with_feedback

    app.require_store()
    with library_errors(app):
        row = retrain_with_feedback(app.engine, app.settings, actor(), progress=lambda m: click.echo(f"  {m}"),
                                    corpus_dir=corpus_dir, encoder=encoder, show_progress=True)
    click.echo(f"Trained {row.version}; compare it with `monitor models list`, then `monitor models activate "
               f"{row.version}`.")


@models.command("activate")
@click.argument("version")
@pass_app
def models_activate(app: AppContext, version: str) -> None:
    """Make VERSION the model the worker classifies with (any earlier version can be re-activated)."""
    from monitor.classify.registry import activate_version

    app.change(lambda session: activate_version(session, version, actor()),
               f"{version} is now active; the worker uses it from its next cycle.")
