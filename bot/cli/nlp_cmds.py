"""``dsrbot classify`` and ``dsrbot nlp train|evaluate``: the classifier from the command line.

spaCy is imported inside the commands, not at module import, so other ``dsrbot`` commands do
not pay for loading it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.context import fail

if TYPE_CHECKING:
    from nlp_models.classifier import Classification

nlp_app = typer.Typer(no_args_is_help=True, help="Train and evaluate the classifier.")

_NLP_DIR = Path(__file__).resolve().parents[2] / "nlp_models"
DEFAULT_TRAIN = _NLP_DIR / "corpus" / "train"
DEFAULT_DEV = _NLP_DIR / "corpus" / "dev"
DEFAULT_HOLDOUT = _NLP_DIR / "corpus" / "holdout"
DEFAULT_MODEL = _NLP_DIR / "model"

ModelOption = Annotated[Path, typer.Option("--model", help="Model folder")]
_AVERAGE_SEEDS_HELP = (
    "Average the weights of models trained with this many seeds (seed, seed+1, ...): one model, "
    "steadier on new mail; training takes that many times longer "
    "[default: TrainConfig.average_seeds, what the shipped model used]")
_ROUND = re.compile(r"-(r\d+)\.jsonl$")


def holdout_rounds(folder: Path) -> dict[str, list[Path]]:
    """The holdout folder as splits: the first writer's files are `holdout`, and each later
    round's file (`holdout-r1.jsonl`, a writer who wrote nothing else) is its own split
    (`holdout-r1`), so a new writer's figure is never averaged into an older one."""
    splits: dict[str, list[Path]] = {}
    for file in sorted(folder.glob("*.jsonl")):
        match = _ROUND.search(file.name)
        splits.setdefault(f"holdout-{match.group(1)}" if match else "holdout", []).append(file)
    return splits



def _entity_json(result: Classification) -> list[dict[str, Any]]:
    out = []
    for e in result.entities:
        item: dict[str, Any] = {"label": e.label, "text": e.text, "start": e.start, "end": e.end}
        if e.value is not None:
            item["value"] = e.value
        if e.field is not None:
            item["field"] = e.field
        out.append(item)
    return out


def _reminder_json(result: Classification) -> dict[str, Any] | None:
    early = result.earlier_request
    if early is None:
        return None
    return {"date": early.date, "date_text": early.date_text, "right": early.right,
            "rights": list(early.rights), "right_text": early.right_text}


def _behalf_json(result: Classification) -> dict[str, Any] | None:
    behalf = result.on_behalf_of
    return None if behalf is None else {"text": behalf.text, "person": behalf.person}


def _short_json(ident: object, result: Classification) -> dict[str, Any]:
    return {"id": ident, "labels": result.labels, "scores": result.scores,
            "lang": result.language, "needs_review": result.needs_review}


def _classify_eml(path: Path, model: Path) -> dict[str, Any]:
    from handlers.parse import MalformedMessage, parse_message
    from nlp_models.classifier import load_classifier

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        message = parse_message(raw)
    except MalformedMessage as exc:
        raise fail(f"{path}: not a mail message ({exc.reason})") from exc
    result = load_classifier(model).classify(
        message.subject, message.text, from_display=message.from_display)
    return {**_short_json(message.message_id or path.name, result),
            "entities": _entity_json(result), "earlier_request": _reminder_json(result),
            "on_behalf_of": _behalf_json(result), "model_version": result.model_version,
            "reasons": result.reasons}


def _classify_jsonl(path: Path, model: Path) -> int:
    """One output line per input line; a bad line gets an `error` line. Returns the error count."""
    from nlp_models.classifier import load_classifier

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot read ({exc})") from exc
    classifier = load_classifier(model)
    errors = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            errors += 1
            typer.echo(f"dsrbot: {path}:{number}: {exc}", err=True)
            typer.echo(json.dumps({"id": None, "line": number, "error": "not a JSON object"}))
            continue
        result = classifier.classify(str(obj.get("subject") or ""), str(obj.get("body") or ""))
        typer.echo(json.dumps(_short_json(obj.get("id"), result), ensure_ascii=False))
    return errors


def classify(
    path: Annotated[Path, typer.Argument(help="A .eml file, or with --jsonl a JSONL file")],
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="PATH holds one {id, subject, body} per line")
    ] = False,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Classify one mail (prints one JSON object) or a JSONL file (one JSON line per input)."""
    if jsonl:
        errors = _classify_jsonl(path, model)
        if errors:
            raise typer.Exit(1)
        return
    typer.echo(json.dumps(_classify_eml(path, model), ensure_ascii=False, indent=2))


@nlp_app.command("train")
def train(
    data: Annotated[Path, typer.Option("--data", help="Training .jsonl file or folder")] = (
        DEFAULT_TRAIN),
    out: Annotated[Path, typer.Option("--out", help="Model folder to write")] = DEFAULT_MODEL,
    dev: Annotated[
        Path | None, typer.Option("--dev", help="Held-out data scored into the metadata")
    ] = None,
    holdout: Annotated[
        Path | None, typer.Option("--holdout", help="Second held-out split, never tuned on")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed + data = same model)")] = 0,
    folds: Annotated[int, typer.Option(
        help="Choose the thresholds on out-of-fold scores of this many folds of corpus files "
             "(0: keep the defaults; faster)")] = 5,
    jobs: Annotated[int, typer.Option(
        help="Train the fold models in this many processes (the same model and thresholds; "
             "faster on a machine with free cores)")] = 1,
    average_seeds: Annotated[int | None, typer.Option(
        help=_AVERAGE_SEEDS_HELP)] = None,
) -> None:
    """Train the intent model and language profiles, choose the decision thresholds out of fold,
    score the held-out splits; write all of it and the metadata to --out."""
    from nlp_models.training_run import train_and_score

    held_out: dict[str, Path | list[Path]] = {}
    if dev is not None or DEFAULT_DEV.exists():
        held_out["dev"] = dev if dev is not None else DEFAULT_DEV
    if holdout is not None:
        held_out["holdout"] = holdout
    elif DEFAULT_HOLDOUT.exists():
        held_out.update(holdout_rounds(DEFAULT_HOLDOUT))
    meta = train_and_score(
        data, out, held_out, seed=seed, folds=folds, jobs=jobs, average_seeds=average_seeds,
        progress=lambda epoch, loss: typer.echo(f"epoch {epoch:2d}  loss {loss:.3f}", err=True),
        say=lambda line: typer.echo(line, err=True),
    )
    typer.echo(f"model {meta['version']} written to {out}")
    if "crossval" in meta:
        chosen = meta["crossval"]["chosen"]
        typer.echo(f"thresholds {meta['thresholds']} (out of fold: macro-F1 "
                   f"{chosen['macro_f1']:.4f}, missed requests "
                   f"{chosen['missed_request_rate']:.2%}, review rate {chosen['review_rate']:.2%})")
    for split, scores in meta.get("scores", {}).items():
        typer.echo(f"{split}: macro-F1 {scores['macro_f1']:.4f}, missed requests "
                   f"{scores['missed_request_rate']:.2%}, review rate {scores['review_rate']:.2%}, "
                   f"language accuracy {scores['language_accuracy']}")


@nlp_app.command("evaluate")
def evaluate(
    data: Annotated[list[Path], typer.Argument(help="Labelled .jsonl files or folders")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    model: ModelOption = DEFAULT_MODEL,
) -> None:
    """Per-label precision/recall/F1, macro-F1, missed requests, review rate, language accuracy,
    confusion pairs; with the rules and, for comparison, without them."""
    from nlp_models.classifier import Classifier
    from nlp_models.corpus import read_examples
    from nlp_models.evaluate import classify_all, format_report
    from nlp_models.evaluate import evaluate as score

    examples = [e for path in data for e in read_examples(path)]
    where = " ".join(str(path) for path in data)
    if not examples:
        raise fail(f"{where}: no examples")
    with_rules = score(classify_all(Classifier(model, use_rules=True), examples))
    without = score(classify_all(Classifier(model, use_rules=False), examples))
    summary = {k: without[k] for k in ("macro_f1", "missed_request_rate", "review_rate",
                                       "exact_match")}
    if as_json:
        typer.echo(json.dumps({**with_rules, "without_rules": summary}, ensure_ascii=False,
                              indent=2))
        return
    typer.echo(format_report(with_rules, f"{where}: {len(examples)} examples (model + rules)"))
    typer.echo(f"without rules: macro-F1 {summary['macro_f1']:.4f}, missed requests "
               f"{summary['missed_request_rate']:.2%}, review rate {summary['review_rate']:.2%}")
    sys.stdout.flush()


@nlp_app.command("crossval")
def crossval(
    data: Annotated[Path, typer.Option("--data", help="Training .jsonl folder")] = DEFAULT_TRAIN,
    folds: Annotated[int, typer.Option(help="Folds (each a group of whole corpus files)")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed of the fold models")] = 0,
    jobs: Annotated[int, typer.Option(help="Train the fold models in this many processes")] = 1,
    average_seeds: Annotated[int | None, typer.Option(
        help=_AVERAGE_SEEDS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Out-of-fold figures of the training corpus (each file scored by a model that never saw
    it), at the default thresholds and at the ones `nlp train` would choose."""
    from nlp_models.crossval import choose_thresholds, out_of_fold, summary
    from nlp_models.training_run import training_config

    oof = out_of_fold(data, training_config(seed, average_seeds), folds,
                      progress=lambda line: typer.echo(line, err=True), jobs=jobs)
    report = summary(oof, choose_thresholds(oof)[0])
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{report['examples']} training mails, {folds} folds of whole files")
    for name in ("default", "chosen"):
        r = report[name]
        typer.echo(f"{name:8} macro-F1 {r['macro_f1']:.4f}  exact {r['exact_match']:.4f}  "
                   f"missed {r['missed_request_rate']:.2%}  review {r['review_rate']:.2%}")
    typer.echo(f"chosen thresholds: {report['thresholds']}")


def register(app: typer.Typer) -> None:
    app.command()(classify)
    app.add_typer(nlp_app, name="nlp")
