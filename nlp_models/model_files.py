"""Where a trained model keeps its parts (shared by training and the classifier, so that
classifying does not import the training code and spaCy with it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PIPE = "textcat_multilabel"
META_FILE = "dsrbot-model.json"
LANGID_FILE = "langid.json"
PIPELINE_DIR = "pipeline"


def read_meta(model_dir: Path) -> dict[str, Any]:
    data = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
