"""The quick path's one way out: "not me", before anything was written or printed."""

from __future__ import annotations


class Declined(Exception):
    """The quick path cannot answer this exactly as the full path would: let it run."""
