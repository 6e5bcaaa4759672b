"""Read the JSONL corpus (`id`, `lang`, `subject`, `body`, `labels`, optional `expect`,
`reminder` and `on_behalf_of`).

A bad line names its file and line number: the corpus is written by hand, and a typo should
cost seconds, not a silent drop of an example.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nlp_models.labels import LABELS, REQUEST_LABELS


class CorpusError(ValueError):
    """A corpus file cannot be read, or a line is not a valid example."""


@dataclass(frozen=True)
class Example:
    id: str
    lang: str
    subject: str
    body: str
    labels: tuple[str, ...]
    expect: dict[str, str] = field(default_factory=dict)
    """Rectification only: {"field": ..., "new_value": ...} as the writer meant it."""
    reminder: Reminder | None = None
    """A reminder of an earlier request: its date as written (None: none named) and right."""
    on_behalf_of: bool = False
    """The sender writes for another person (a representative of the data subject)."""


@dataclass(frozen=True)
class Reminder:
    date: str | None
    rights: tuple[str, ...]


def _reminder(obj: object, where: str) -> Reminder | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: 'reminder' must be an object")
    when = obj.get("date")
    if when is not None and not isinstance(when, str):
        raise CorpusError(f"{where}: 'reminder.date' must be a string or null")
    right = obj.get("right")
    rights = [right] if isinstance(right, str) else right if isinstance(right, list) else None
    if rights is None or not all(x in REQUEST_LABELS for x in rights):
        raise CorpusError(f"{where}: 'reminder.right' must name a request label")
    return Reminder(date=when or None, rights=tuple(rights))


def jsonl_files(path: Path) -> list[Path]:
    """`path` itself, or every *.jsonl under a folder, in a stable order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    if path.is_file():
        return [path]
    raise CorpusError(f"{path}: no such file or folder")


def _example(obj: object, where: str, *, require_labels: bool) -> Example:
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: not a JSON object")
    labels = obj.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise CorpusError(f"{where}: 'labels' must be a list of strings")
    unknown = [x for x in labels if x not in LABELS]
    if unknown:
        raise CorpusError(f"{where}: unknown label(s) {unknown}")
    if require_labels and not labels:
        raise CorpusError(f"{where}: no labels")
    expect = obj.get("expect") or {}
    if not isinstance(expect, dict):
        raise CorpusError(f"{where}: 'expect' must be an object")
    return Example(
        id=str(obj.get("id", where)),
        lang=str(obj.get("lang", "")),
        subject=str(obj.get("subject") or ""),
        body=str(obj.get("body") or ""),
        labels=tuple(labels),
        expect={str(k): str(v) for k, v in expect.items()},
        reminder=_reminder(obj.get("reminder"), where),
        on_behalf_of=bool(obj.get("on_behalf_of", False)),
    )


def read_examples(path: Path, *, require_labels: bool = True) -> list[Example]:
    """All examples in a .jsonl file or a folder of them."""
    examples: list[Example] = []
    for file in jsonl_files(path):
        try:
            lines = file.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(f"{file}: cannot read ({exc})") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not JSON ({exc.msg})") from exc
            examples.append(_example(obj, where, require_labels=require_labels))
    return examples


def data_hash(files: Iterable[Path]) -> str:
    """SHA-256 over the files' names and bytes: which data a model was trained on."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda p: p.name):
        digest.update(file.name.encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
