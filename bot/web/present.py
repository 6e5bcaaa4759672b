"""How the desk shows things: masking by role, due-date colours, local times, safe filenames.

Why masking by role: approvers decide, so they see the requester and the register data they
decide about; viewers (e.g. a manager watching deadlines) see the queue, the evidence summary
and the audit trail with names and addresses masked, and never the mail or its attachments.
The same maskers as the staff chat are used, so "m***@e***.fi" means the same everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.chat.render import mask_address, mask_number, mask_text
from handlers import deadlines
from storage.models import StaffRole

#: Working days left at or under which a case is "due soon".
DUE_SOON_WORKING_DAYS = 5
#: Attachment types a browser may show inline from our origin (no SVG: it can carry script).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp",
                          "application/pdf"})
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_ADDRESS = re.compile(r"[^\s<>@()\[\]]{1,64}@[^\s<>@()\[\]]{1,255}")


def sees_personal_data(role: str) -> bool:
    return role == StaffRole.APPROVER.value


def requester(value: str, role: str) -> str:
    return mask_address(value, "full" if sees_personal_data(role) else "masked")


def person(value: str, role: str) -> str:
    return value if sees_personal_data(role) else mask_text(value)


def number(value: str, role: str) -> str:
    return value if sees_personal_data(role) else mask_number(value)


def diagnostic(text: str | None, role: str) -> str:
    """A bounce's diagnostic quotes the recipient: masked for a viewer like every address."""
    if not text or sees_personal_data(role):
        return text or ""
    return _ADDRESS.sub(lambda m: mask_address(m.group(0), "masked"), text)


def aware(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(moment: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return aware(moment).astimezone(ZoneInfo(tz)).strftime(fmt) if moment else ""


def local_day(moment: datetime, tz: str) -> date:
    return deadlines.local_date(aware(moment), tz)


class DueClock:
    """Working days left and the on time / due soon / overdue class, memoised per due date
    (a 10,000-case queue has a few dozen distinct due dates)."""

    def __init__(self, today: date) -> None:
        self.today = today
        self._left: dict[date, int] = {}

    def days_left(self, due: date) -> int:
        if due not in self._left:
            self._left[due] = deadlines.working_days_between(self.today, due)
        return self._left[due]

    def state(self, due: date) -> str:
        if due < self.today:
            return "overdue"
        return "due-soon" if self.days_left(due) <= DUE_SOON_WORKING_DAYS else "on-time"


STATE_LABELS = {"overdue": "overdue", "due-soon": "due soon", "on-time": "on time"}


def safe_filename(name: str, fallback: str) -> str:
    """An ASCII name safe in a Content-Disposition header and on any file system."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE_NAME.sub("_", ascii_name).strip("._")[:100]
    return cleaned or fallback
