"""The intents a message can carry: the rights of the privacy notice, plus `other`."""

from __future__ import annotations

REQUEST_LABELS: tuple[str, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "marketing_optout",
    "publication_ban",
    "portability",
)
OTHER = "other"
LABELS: tuple[str, ...] = (*REQUEST_LABELS, OTHER)
