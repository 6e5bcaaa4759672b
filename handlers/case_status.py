"""Moved beside the status enum: ``storage.case_status``. Names kept for older imports."""

from storage.case_status import ALLOWED, CLOSED, TransitionError, check_transition

__all__ = ["ALLOWED", "CLOSED", "TransitionError", "check_transition"]
