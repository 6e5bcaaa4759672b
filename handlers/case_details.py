"""What intake writes into ``case.details`` for staff to read: the classifier's verdict and
what the rights handlers take from the mail (rectification: field, new value, grounds)."""

from __future__ import annotations

from typing import Any

from nlp_models import Classification


def classification(c: Classification) -> dict[str, Any]:
    return {"labels": list(c.labels), "scores": {k: round(v, 3) for k, v in c.scores.items()},
            "needs_review": c.needs_review, "model_version": c.model_version}


def extracted(c: Classification) -> dict[str, Any]:
    """What the rights handlers read from the mail (rectification: field, new value, grounds)."""
    entities = [{"label": e.label, "text": e.text, "field": getattr(e, "field", None),
                 "value": getattr(e, "value", None)} for e in c.entities]
    grounds = next((e.text for e in c.entities if e.label == "grounds"), "")
    return {"entities": entities, "grounds": grounds}
