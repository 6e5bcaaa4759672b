"""The case engine: opening, threading follow-ups, checked and audited decisions, staff rights."""

from __future__ import annotations

import getpass
import json
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from handlers import cases as engine
from handlers.case_status import TransitionError
from handlers.cases import CaseError
from handlers.deadlines import due_date
from storage import cases as store
from storage.db import Database
from storage.models import AuditEntry, Case, CaseStatus, InboundMessage, Staff
from tests import factories
from tests.helpers import run_cli

RECEIVED = datetime(2026, 3, 2, 9, tzinfo=UTC)  # due Thu 2 Apr 2026
ANNA = "staff:anna"


def _customer(s: Session, number: str = "10001", email: str = "maija@example.fi") -> int:
    customer_id = factories.add_customer(s, number, email=email).id
    assert customer_id is not None
    return customer_id


def _open(
    s: Session,
    *,
    types: Sequence[str] = ("access",),
    requester: str = "maija@example.fi",
    received_at: datetime = RECEIVED,
    thread_ids: Sequence[str] = ("<req-1@mail.example.fi>",),
) -> Case:
    return engine.open_case(
        s, types=list(types), requester=requester, language="fi", received_at=received_at,
        channel="email", customer_id=None, reasons=["classified: access"],
        inbound_message_id=None, thread_ids=thread_ids, actor="dsrbot")


def _verified(
    db: Database, *, types: Sequence[str] = ("access",), signature: str = "valid",
    requester: str = "maija@example.fi", number: str = "10001", received_at: datetime = RECEIVED,
) -> str:
    """A case whose requester is verified and signed, waiting for staff."""
    with db.session() as s:
        case = _open(s, types=types, requester=requester, thread_ids=(), received_at=received_at)
        engine.record_identity(s, case, verification_level="verified", signature_state=signature,
                               customer_id=_customer(s, number, requester),
                               reasons=["dkim pass", "challenge confirmed"], now=RECEIVED)
        engine.advance(s, case, auto_approve=(), reasons=["identity verified"])
        return case.id


def _get(s: Session, case_id: str) -> Case:
    case = store.get_case(s, case_id)
    assert case is not None
    return case


def _audit(db: Database, case_id: str) -> list[AuditEntry]:
    with db.read_session() as s:
        return store.case_audit_trail(s, case_id)


# --- opening -------------------------------------------------------------------------------------

def test_open_case_computes_the_due_date_from_the_helsinki_receipt_date(db: Database) -> None:
    with db.session() as s:
        case = _open(s, received_at=datetime(2030, 1, 31, 23, 30, tzinfo=UTC))
        assert case.due_date == date(2030, 3, 1)  # received 1 Feb in Helsinki
        assert case.status == CaseStatus.RECEIVED
        assert case.thread_message_ids == ["<req-1@mail.example.fi>"]


def test_case_id_year_is_the_helsinki_year_of_receipt(db: Database) -> None:
    with db.session() as s:
        case = _open(s, received_at=datetime(2026, 12, 31, 22, 30, tzinfo=UTC))
        assert case.id == "DSR-2027-0001"


def test_open_case_links_its_inbound_message(db: Database) -> None:
    with db.session() as s:
        inbound = InboundMessage(message_id="<req-1@mail.example.fi>", sha256="0" * 64,
                                 channel="smtp", raw=b"x", received_at=RECEIVED)
        s.add(inbound)
        s.flush()
        assert inbound.id is not None
        case = engine.open_case(
            s, types=["erasure"], requester="maija@example.fi", language="fi",
            received_at=RECEIVED, channel="email", customer_id=None, reasons=[],
            inbound_message_id=inbound.id, thread_ids=[inbound.message_id], actor="dsrbot")
        assert s.get(InboundMessage, inbound.id).case_id == case.id  # type: ignore[union-attr]


def test_open_case_refuses_an_unknown_inbound_message_and_keeps_nothing(db: Database) -> None:
    with pytest.raises(CaseError, match="inbound message 999"), db.session() as s:
        engine.open_case(s, types=["access"], requester="a@example.fi", language="fi",
                         received_at=RECEIVED, inbound_message_id=999)
    with db.read_session() as s:
        assert s.exec(select(Case)).all() == []


def test_open_case_refuses_a_receipt_time_without_a_zone(db: Database) -> None:
    with pytest.raises(CaseError, match="timezone-aware"), db.session() as s:
        _open(s, received_at=datetime(2026, 3, 2, 9))


# --- follow-ups ----------------------------------------------------------------------------------

def _find(
    s: Session, *, in_reply_to: str = "", references: Sequence[str] = (), subject: str = "",
    sender: str = "maija@example.fi", sender_verified: bool = True,
) -> Case | None:
    return engine.find_case_for_followup(
        s, in_reply_to=in_reply_to, references=list(references), subject=subject,
        sender=sender, sender_verified=sender_verified)


def test_reply_to_our_letter_joins_its_case_by_in_reply_to(db: Database) -> None:
    with db.session() as s:
        case = _open(s)
        _open(s, requester="other@example.fi", thread_ids=["<req-2@example.fi>"])
        assert engine.add_thread_id(s, case, "<letter-1@rusttet.fi>")
    with db.read_session() as s:
        found = _find(s, in_reply_to="<letter-1@rusttet.fi>", sender="x@elsewhere.example")
        assert found is not None and found.id == case.id


def test_reply_joins_by_references_when_in_reply_to_is_missing(db: Database) -> None:
    with db.session() as s:
        case = _open(s)
    with db.read_session() as s:
        found = _find(s, references=["<unknown@x>", "<req-1@mail.example.fi>"])
        assert found is not None and found.id == case.id


def test_the_newest_reference_decides_between_two_cases(db: Database) -> None:
    with db.session() as s:
        first = _open(s, thread_ids=["<a@x>"])
        second = _open(s, thread_ids=["<b@x>"])
    with db.read_session() as s:
        found = _find(s, references=["<a@x>", "<b@x>"])
        assert found is not None and found.id == second.id
        found = _find(s, in_reply_to="<a@x>", references=["<b@x>"])
        assert found is not None and found.id == first.id


def test_a_reused_message_id_cannot_pull_replies_into_a_later_case(db: Database) -> None:
    with db.session() as s:
        victim = _open(s, thread_ids=["<victim-req@mail.example.fi>"])
        _open(s, requester="evil@attacker.example", thread_ids=["<victim-req@mail.example.fi>"])
    with db.read_session() as s:
        found = _find(s, in_reply_to="<victim-req@mail.example.fi>")
        assert found is not None and found.id == victim.id


def test_message_ids_are_matched_with_or_without_angle_brackets(db: Database) -> None:
    with db.session() as s:
        case = _open(s, thread_ids=["req-9@mail.example.fi"])
        assert case.thread_message_ids == ["<req-9@mail.example.fi>"]
        assert not engine.add_thread_id(s, case, " <req-9@mail.example.fi> ")
        assert not engine.add_thread_id(s, case, "   ")
    with db.read_session() as s:
        found = _find(s, in_reply_to="req-9@mail.example.fi")
        assert found is not None and found.id == case.id
        found = _find(s, in_reply_to="Your message of Monday <req-9@mail.example.fi>")
        assert found is not None and found.id == case.id


def test_case_id_in_subject_joins_only_for_the_verified_requester(db: Database) -> None:
    with db.session() as s:
        case = _open(s, thread_ids=())
    with db.read_session() as s:
        # The requester, proven by this mail: joins, bracketed, bare or in lower case.
        for subject in (f"Re: [{case.id}] tietopyyntö", f"about {case.id}", case.id.lower()):
            found = _find(s, subject=subject, sender="Maija@Example.FI")
            assert found is not None and found.id == case.id
        # A stranger who guesses the id, even with a perfectly authenticated own address.
        assert _find(s, subject=f"[{case.id}] send it to me",
                     sender="evil@attacker.example") is None
        # The requester's address, forged (this mail does not prove it).
        assert _find(s, subject=f"[{case.id}]", sender="maija@example.fi",
                     sender_verified=False) is None
        # An id that does not exist, or one glued to other text.
        assert _find(s, subject="[DSR-2026-9999]") is None
        assert _find(s, subject=f"X{case.id}") is None


def test_unrelated_thread_ids_do_not_join(db: Database) -> None:
    with db.session() as s:
        _open(s)
    with db.read_session() as s:
        assert _find(s, in_reply_to="<newsletter-77@rusttet.fi>", references=["<x@y>"]) is None


def test_a_followup_is_linked_threaded_and_audited_without_its_message_id(db: Database) -> None:
    with db.session() as s:
        case = _open(s)
        engine.attach_followup(s, case, message_id="<follow-1@maija.example.fi>",
                               reasons=["joined by In-Reply-To"])
    with db.read_session() as s:
        found = _find(s, in_reply_to="<follow-1@maija.example.fi>")
        assert found is not None and found.id == case.id
    dumped = json.dumps([e.details for e in _audit(db, case.id)])
    assert "@" not in dumped
    assert [e.action for e in _audit(db, case.id)][-1] == "case.followup"


# --- routing: who needs staff --------------------------------------------------------------------

def test_auto_approve_types_proceed_without_staff_once_verified() -> None:
    defaults = engine.DEFAULT_AUTO_APPROVE
    assert not engine.needs_staff(["marketing_optout"], defaults)
    assert not engine.needs_staff(["marketing_optout", "publication_ban"], defaults)


def test_every_other_type_waits_for_staff() -> None:
    for kind in ("access", "rectification", "erasure", "restriction", "objection",
                 "portability"):
        assert engine.needs_staff([kind], engine.DEFAULT_AUTO_APPROVE)
    assert engine.needs_staff(["marketing_optout", "erasure"], engine.DEFAULT_AUTO_APPROVE)
    assert engine.needs_staff([], engine.DEFAULT_AUTO_APPROVE)


def test_verified_marketing_optout_is_approved_by_the_bot(db: Database) -> None:
    with db.session() as s:
        case = _open(s, types=["marketing_optout"])
        engine.record_identity(s, case, verification_level="verified", signature_state="none",
                               customer_id=_customer(s), reasons=["dkim pass"], now=RECEIVED)
        decision = engine.advance(s, case)
        assert decision.changed and case.status == CaseStatus.APPROVED
        assert case.approved_by == "dsrbot"


def test_unverified_auto_approve_request_waits_for_identity(db: Database) -> None:
    with db.session() as s:
        case = _open(s, types=["marketing_optout"])
        engine.record_identity(s, case, verification_level="claimed", signature_state="none",
                               customer_id=_customer(s), reasons=["address not authenticated"],
                               now=RECEIVED)
        engine.advance(s, case)
        assert case.status == CaseStatus.AWAITING_IDENTITY


def test_verified_access_request_waits_for_staff(db: Database) -> None:
    cid = _verified(db)
    with db.read_session() as s:
        assert _get(s, cid).status == CaseStatus.AWAITING_APPROVAL


def test_bot_never_approves_access_with_a_scan_when_signatures_are_required(
    db: Database
) -> None:
    signed = engine.SIGNED_TYPES  # rights.require_signature = ["access", "rectification"]
    with db.session() as s:
        case = _open(s, types=["access"])
        engine.record_identity(s, case, verification_level="verified",
                               signature_state="staff_to_check", customer_id=_customer(s),
                               now=RECEIVED)
        engine.advance(s, case, auto_approve=["access"], require_signature=signed)
        assert case.status == CaseStatus.AWAITING_APPROVAL
        with pytest.raises(CaseError, match="must be signed"):
            engine.approve(s, case, actor="dsrbot", require_signature=signed)


def test_verified_unsigned_access_request_is_approved_by_default(db: Database) -> None:
    # TSV 6097/161/21: a verified identity is enough; no signature is demanded.
    with db.session() as s:
        case = _open(s, types=["access"])
        engine.record_identity(s, case, verification_level="verified", signature_state="none",
                               customer_id=_customer(s), now=RECEIVED)
        engine.advance(s, case, auto_approve=["access"])
        assert case.status == CaseStatus.APPROVED


# --- decisions -----------------------------------------------------------------------------------

def test_double_approve_acts_once(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        first = engine.approve(s, _get(s, cid), actor=ANNA, reasons=["ok"])
    with db.session() as s:
        second = engine.approve(s, _get(s, cid), actor="staff:pekka")
    assert first.changed and first.message == f"{cid} approved by anna"
    assert not second.changed and second.message == f"{cid} already approved by anna"
    approvals = [e for e in _audit(db, cid) if e.details.get("to") == "approved"]
    assert len(approvals) == 1 and approvals[0].actor == ANNA


def test_concurrent_approvals_act_once(db: Database) -> None:
    cid = _verified(db)
    results: list[engine.Decision] = []
    start = threading.Barrier(2)

    def tap(actor: str) -> None:
        start.wait()
        with db.session() as s:
            results.append(engine.approve(s, _get(s, cid), actor=actor))

    threads = [threading.Thread(target=tap, args=(a,)) for a in (ANNA, "staff:pekka")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.changed for r in results) == [False, True]
    assert len([e for e in _audit(db, cid) if e.details.get("to") == "approved"]) == 1


def test_unverified_case_cannot_be_approved_even_by_staff(db: Database) -> None:
    with db.session() as s:
        case = _open(s, types=["erasure"])
    with pytest.raises(CaseError, match="identity not verified"), db.session() as s:
        engine.approve(s, _get(s, case.id), actor=ANNA)
    with db.read_session() as s:
        assert _get(s, case.id).status == CaseStatus.RECEIVED


def test_unsigned_access_request_cannot_be_approved_when_signatures_are_required(
    db: Database
) -> None:
    cid = _verified(db, signature="none")
    with pytest.raises(CaseError, match="must be signed"), db.session() as s:
        engine.approve(s, _get(s, cid), actor=ANNA, require_signature=engine.SIGNED_TYPES)


def test_staff_approval_of_a_scanned_signature_records_the_check(db: Database) -> None:
    cid = _verified(db, signature="staff_to_check")
    with db.session() as s:
        assert engine.approve(s, _get(s, cid), actor=ANNA,
                              require_signature=engine.SIGNED_TYPES).changed
    assert _audit(db, cid)[-1].details["reasons"] == ["signature checked by staff"]


def test_refusal_needs_a_reason(db: Database) -> None:
    cid = _verified(db)
    with pytest.raises(CaseError, match="needs a reason"), db.session() as s:
        engine.refuse(s, _get(s, cid), reason="  ", actor=ANNA)


def test_double_refuse_acts_once_and_a_refused_case_cannot_be_approved(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        assert engine.refuse(s, _get(s, cid), reason="open invoices", actor=ANNA).changed
    with db.session() as s:
        again = engine.refuse(s, _get(s, cid), reason="other", actor="staff:pekka")
        assert not again.changed and again.message == f"{cid} already refused by anna"
    with pytest.raises(CaseError, match="closed"), db.session() as s:
        engine.approve(s, _get(s, cid), actor=ANNA)
    entry = _audit(db, cid)[-1]
    assert (entry.actor, entry.details["to"], entry.details["reasons"]) == (
        ANNA, "refused", ["open invoices"])


def test_requester_may_withdraw_until_the_answer_is_done(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.approve(s, _get(s, cid), actor=ANNA)
        assert engine.withdraw(s, _get(s, cid), actor="dsrbot", reasons=["requester"]).changed
        assert not engine.withdraw(s, _get(s, cid), actor="dsrbot").changed
    done = _verified(db, requester="b@example.fi", number="10002")
    with db.session() as s:
        engine.approve(s, _get(s, done), actor=ANNA)
        engine.mark_done(s, _get(s, done), actor="dsrbot", reasons=["answer sent"])
    with pytest.raises(CaseError, match="closed"), db.session() as s:
        engine.withdraw(s, _get(s, done), actor="dsrbot")


def test_only_an_approved_case_can_be_done_and_only_once(db: Database) -> None:
    cid = _verified(db)
    with pytest.raises(CaseError, match="only an approved case"), db.session() as s:
        engine.mark_done(s, _get(s, cid), actor="dsrbot")
    with db.session() as s:
        engine.approve(s, _get(s, cid), actor=ANNA)
        assert engine.mark_done(s, _get(s, cid), actor="dsrbot").changed
        assert not engine.mark_done(s, _get(s, cid), actor="dsrbot").changed
        closed = _get(s, cid)
        assert closed.closed_at is not None
        again = engine.approve(s, closed, actor="staff:pekka")
        assert not again.changed and "already approved by anna" in again.message


def test_storage_transition_still_refuses_reopening(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.withdraw(s, _get(s, cid), actor="dsrbot")
    with pytest.raises(TransitionError), db.session() as s:
        store.transition(s, _get(s, cid), CaseStatus.APPROVED, actor=ANNA, reasons=[])


def test_assign_is_audited_and_a_repeat_changes_nothing(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        assert engine.assign(s, _get(s, cid), staff="anna", actor=ANNA, now=RECEIVED).changed
        assert not engine.assign(s, _get(s, cid), staff="anna", actor=ANNA, now=RECEIVED).changed
    entries = [e for e in _audit(db, cid) if e.action == "case.assigned"]
    assert len(entries) == 1 and entries[0].details == {"from": None, "to": "anna"}


def test_every_change_is_audited_with_its_actor(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.extend(s, _get(s, cid), reason="numerous requests", actor=ANNA,
                      now=datetime(2026, 3, 20, tzinfo=UTC))
        engine.approve(s, _get(s, cid), actor=ANNA)
        engine.mark_done(s, _get(s, cid), actor="dsrbot", reasons=["answer sent"])
    trail = [(e.actor, e.action) for e in _audit(db, cid)]
    assert trail == [
        ("dsrbot", "case.created"), ("dsrbot", "case.identity"), ("dsrbot", "case.status"),
        (ANNA, "case.extended"), (ANNA, "case.status"), ("dsrbot", "case.status")]
    with db.read_session() as s:
        from storage import audit
        assert audit.verify(s).ok


# --- extension -----------------------------------------------------------------------------------

def test_extension_sets_the_new_due_date_and_returns_the_notice(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.add_thread_id(s, _get(s, cid), "<req-1@mail.example.fi>")
        notice = engine.extend(s, _get(s, cid), reason="complex request", actor=ANNA,
                               now=datetime(2026, 4, 2, 12, tzinfo=UTC))
    assert notice.changed
    assert (notice.due_date, notice.extended_due_date) == (date(2026, 4, 2), date(2026, 6, 2))
    assert notice.reason == "complex request" and notice.language == "fi"
    assert notice.requester == "maija@example.fi"
    assert notice.thread_message_ids == ("<req-1@mail.example.fi>",)
    with db.read_session() as s:
        case = _get(s, cid)
        assert case.extended and case.extended_due_date == date(2026, 6, 2)
        assert engine.effective_due(case) == date(2026, 6, 2)


def test_extension_refused_after_first_month(db: Database) -> None:
    cid = _verified(db)
    late = datetime(2026, 4, 2, 21, 30, tzinfo=UTC)  # 3 April in Helsinki
    with pytest.raises(CaseError, match=r"first month ended on 2026-04-02"), db.session() as s:
        engine.extend(s, _get(s, cid), reason="complex", actor=ANNA, now=late)
    with db.read_session() as s:
        assert not _get(s, cid).extended
    assert [e.action for e in _audit(db, cid)].count("case.extended") == 0


def test_double_extension_acts_once(db: Database) -> None:
    cid = _verified(db)
    now = datetime(2026, 3, 10, tzinfo=UTC)
    with db.session() as s:
        assert engine.extend(s, _get(s, cid), reason="complex", actor=ANNA, now=now).changed
    with db.session() as s:
        again = engine.extend(s, _get(s, cid), reason="again", actor="staff:pekka", now=now)
    assert not again.changed and again.message == f"{cid} already extended by anna until 2026-06-02"
    assert [e.action for e in _audit(db, cid)].count("case.extended") == 1


def test_extension_needs_a_reason_and_an_open_case(db: Database) -> None:
    cid = _verified(db)
    with pytest.raises(CaseError, match="needs a reason"), db.session() as s:
        engine.extend(s, _get(s, cid), reason="", actor=ANNA, now=RECEIVED)
    with db.session() as s:
        engine.refuse(s, _get(s, cid), reason="not a customer", actor=ANNA)
    with pytest.raises(CaseError, match="closed"), db.session() as s:
        engine.extend(s, _get(s, cid), reason="complex", actor=ANNA, now=RECEIVED)


def test_extension_notice_is_pending_until_it_is_sent(db: Database) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.extend(s, _get(s, cid), reason="complex", actor=ANNA, now=RECEIVED)
    with db.session() as s:
        pending = engine.extension_notices_pending(s)
        assert [n.case_id for n in pending] == [cid]
        assert engine.mark_extension_notified(s, _get(s, cid), now=RECEIVED)
        assert not engine.mark_extension_notified(s, _get(s, cid), now=RECEIVED)
    with db.read_session() as s:
        assert engine.extension_notices_pending(s) == []


# --- queries -------------------------------------------------------------------------------------

def test_due_within_and_overdue_use_the_applicable_due_date(db: Database) -> None:
    soon = _verified(db)  # due 2 Apr 2026
    extended = _verified(db, requester="b@example.fi", number="10002")
    closed = _verified(db, requester="c@example.fi", number="10003")
    with db.session() as s:
        engine.extend(s, _get(s, extended), reason="complex", actor=ANNA, now=RECEIVED)
        engine.refuse(s, _get(s, closed), reason="duplicate", actor=ANNA)
    with db.read_session() as s:
        assert [c.id for c in engine.due_within(s, 3, date(2026, 3, 30))] == [soon]
        assert [c.id for c in engine.due_within(s, 1, date(2026, 3, 30))] == []
        assert [c.id for c in engine.overdue(s, date(2026, 4, 3))] == [soon]
        assert [c.id for c in engine.overdue(s, date(2026, 6, 3))] == [soon, extended]
        assert [c.id for c in engine.open_cases(s)] == [soon, extended]


# --- who may decide ------------------------------------------------------------------------------

def _config(tmp_path: Path, db: Database) -> str:
    cfg = tmp_path / "dsrbot.toml"
    cfg.write_text(
        f'[database]\nurl = "{db.url}"\n'
        '[[chat.staff]]\nname = "anna"\nrole = "approver"\n'
        '[[chat.staff]]\nname = "ville"\nrole = "viewer"\n', encoding="utf-8")
    return str(cfg)


def test_viewer_cannot_approve(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "approve", cid, "--as", "ville")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "dsrbot: ville is a viewer; only an approver may approve; nothing was changed")
    with db.read_session() as s:
        assert _get(s, cid).status == CaseStatus.AWAITING_APPROVAL
    denied = _audit(db, cid)[-1]
    assert (denied.actor, denied.action, denied.details) == (
        "staff:ville", "case.denied",
        {"attempted": "approve", "reason": "not_approver", "os_user": getpass.getuser()})


def test_unknown_name_cannot_decide_and_the_attempt_is_audited(
        db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db)
    for command in (["approve"], ["refuse", "--reason", "x"], ["extend", "--reason", "x"],
                    ["assign"]):
        result = run_cli("--config", cfg, *command, cid, "--as", "mallory")
        assert result.exit_code == 1
        assert "mallory is not a staff member" in result.stderr
    denied = [e for e in _audit(db, cid) if e.action == "case.denied"]
    assert [e.details["attempted"] for e in denied] == ["approve", "refuse", "extend", "assign"]
    with db.read_session() as s:
        case = _get(s, cid)
        assert (case.status, case.extended, case.assignee) == (
            CaseStatus.AWAITING_APPROVAL, False, None)


def test_an_absurd_name_is_refused_without_a_crash(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    result = run_cli("--config", _config(tmp_path, db), "approve", cid, "--as", "x" * 500)
    assert result.exit_code == 1 and "is not a staff member" in result.stderr
    assert _audit(db, cid)[-1].actor == "staff:" + "x" * 100


def test_cli_without_a_schema_says_to_run_init(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "empty.db"}"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "case", "DSR-2026-0001")
    assert result.exit_code == 1
    assert result.stderr == (
        "dsrbot: the database has no dsrbot schema yet: run `dsrbot init` first\n")


def test_staff_table_decides_over_the_config(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    with db.session() as s:
        s.add(Staff(name="ville", role="approver"))
        s.add(Staff(name="anna", role="approver", active=False))
    cfg = _config(tmp_path, db)
    result = run_cli("--config", cfg, "approve", cid, "--as", "anna")
    assert result.exit_code == 1 and "not an active staff member" in result.stderr
    result = run_cli("--config", cfg, "approve", cid, "--as", "ville")
    assert result.exit_code == 0 and result.stdout.strip() == f"{cid} approved by ville"


def test_cli_double_approve_reports_who_approved(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db)
    assert run_cli("--config", cfg, "approve", cid, "--as", "anna").exit_code == 0
    again = run_cli("--config", cfg, "approve", cid.lower(), "--as", "anna")
    assert again.exit_code == 0 and again.stdout.strip() == f"{cid} already approved by anna"


def test_cli_refuse_extend_and_assign(db: Database, tmp_path: Path) -> None:
    received = datetime.now(UTC)
    cid = _verified(db, received_at=received)
    cfg = _config(tmp_path, db)
    assigned = run_cli("--config", cfg, "assign", cid, "--as", "anna")
    assert assigned.stdout.strip() == f"{cid} assigned to anna"
    extended = run_cli("--config", cfg, "extend", cid, "--reason", "complex", "--as", "anna")
    new_due = due_date(received, extended=True).isoformat()
    assert (extended.exit_code, extended.stdout.strip()) == (0, f"{cid} extended until {new_due}")
    refused = run_cli("--config", cfg, "refuse", cid, "--reason", "open invoices", "--as", "anna")
    assert refused.exit_code == 0 and refused.stdout.strip() == f"{cid} refused by anna"


def test_cli_extend_after_the_first_month_exits_1(db: Database, tmp_path: Path) -> None:
    cid = _verified(db, received_at=datetime(2020, 1, 2, tzinfo=UTC))
    result = run_cli("--config", _config(tmp_path, db), "extend", cid, "--reason", "x",
                     "--as", "anna")
    assert result.exit_code == 1
    assert result.stderr == (f"dsrbot: {cid}: the first month ended on 2020-02-03; an extension "
                             "can only be made within it (GDPR Art. 12(3))\n")


def test_cli_errors_are_one_line_with_exit_1(db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    cfg = _config(tmp_path, db)
    unknown = run_cli("--config", cfg, "approve", "DSR-2026-9999", "--as", "anna")
    assert (unknown.exit_code, unknown.stderr) == (1, "dsrbot: unknown case DSR-2026-9999\n")
    assert run_cli("--config", cfg, "refuse", cid, "--reason", "dup", "--as", "anna").exit_code == 0
    wrong = run_cli("--config", cfg, "approve", cid, "--as", "anna")
    assert wrong.exit_code == 1
    assert wrong.stderr == f"dsrbot: {cid} is refused; cannot approve a closed case\n"
    shown = run_cli("--config", cfg, "case", "DSR-2099-0001")
    assert (shown.exit_code, shown.stderr) == (1, "dsrbot: unknown case DSR-2099-0001\n")


def test_cli_case_shows_status_due_date_reasons_and_audit_trail(
        db: Database, tmp_path: Path) -> None:
    cid = _verified(db)
    with db.session() as s:
        engine.extend(s, _get(s, cid), reason="numerous requests", actor=ANNA, now=RECEIVED)
    cfg = _config(tmp_path, db)
    text = run_cli("--config", cfg, "case", cid).stdout
    assert text.startswith(f"{cid}  awaiting_approval")
    for expected in ("types:      access", "maija@example.fi (customer 10001)",
                     "due:        2026-04-02, extended to 2026-06-02: numerous requests",
                     "identity:   verified    signature: valid", "- dkim pass",
                     "staff:anna  case.extended"):
        assert expected in text
    record = json.loads(run_cli("--config", cfg, "case", cid, "--json").stdout)
    assert record["extended_due_date"] == "2026-06-02"
    # The trail ends with the extension, then the look the first `dsrbot case` left (audited).
    assert [(e["actor"].split(":")[0], e["action"]) for e in record["audit"]][-2:] == [
        ("staff", "case.extended"), ("operator", "case.viewed")]
