"""Read the JSONL corpus (`id`, `lang`, `subject`, `body`, `labels`, optional `expect`).

A bad line names its file and line number: the corpus is written by hand, and a typo should
cost seconds, not a silent drop of an example.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nlp_models.labels import LABELS


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
