"""``dsrbot doctor``: check everything the configuration enables, one line per check with a fix.

An operator runs it after editing the configuration, and a container runs it as its health
check. Checks talk to the real services (database, IMAP, SMTP relay, Telegram) but change
nothing, except creating the IMAP processed folder when the operator agrees (``--fix`` or a
"yes" at the prompt).
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    component: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.component}: {self.detail}"
        return f"{text} -> fix: {self.fix}" if self.fix and self.status != OK else text


def ok(component: str, detail: str) -> Check:
    return Check(component, OK, detail)


def warn(component: str, detail: str, fix: str = "") -> Check:
    return Check(component, WARN, detail, fix)


def fail(component: str, detail: str, fix: str) -> Check:
    return Check(component, FAIL, detail, fix)


def check_policy(warnings: list[str]) -> list[Check]:
    """Policy warnings as checks: a warning never fails the doctor, it is printed for review."""
    if not warnings:
        return [ok("policy", "no warnings")]
    return [warn("policy", text, "review the setting named above") for text in warnings]
