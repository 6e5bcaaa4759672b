"""Migration 0011 carries the workflow flags out of ``case.details`` into their columns (and
back on downgrade), on SQLite and PostgreSQL, so no decision or owed letter is forgotten."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa

from storage import migrate
from storage.db import make_engine

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
OLD_DETAILS = {
    "DSR-2026-0001": {"approved_by": "staff:anna", "execution_failed": True,
                      "classification": {"needs_review": False}},
    "DSR-2026-0002": {"refused_by": "staff:ben", "refusal_reason": "not our customer",
                      "refusal_letter_sent": True},
    "DSR-2026-0003": {"extended_by": "staff:anna", "extension_notice": "pending"},
    "DSR-2026-0004": {},
}


def _insert_old_cases(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for case_id, details in OLD_DETAILS.items():
                conn.execute(sa.text(
                    'INSERT INTO "case" (id, types, status, requester, language, channel, '
                    "received_at, due_date, extended, verification_level, signature_state, "
                    "reasons, details, thread_message_ids, created_at, updated_at) VALUES "
                    "(:id, '[]', 'refused', 'a@example.fi', 'fi', 'email', :now, :due, "
                    "false, 'none', 'none', '[]', :details, '[]', :now, :now)"),
                    {"id": case_id, "now": NOW, "due": date(2027, 1, 1),
                     "details": json.dumps(details)})
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, dict[str, object]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cases = sa.Table("case", sa.MetaData(), autoload_with=conn)
            return {r.id: dict(r._mapping) for r in conn.execute(sa.select(cases))}
    finally:
        engine.dispose()


def test_workflow_flags_move_from_details_to_columns_and_back(db_url: str) -> None:
    migrate.upgrade(db_url, "0010_staff_logins")
    _insert_old_cases(db_url)
    migrate.upgrade(db_url)
    rows = _rows(db_url)
    approved, refused, extended, plain = (rows[f"DSR-2026-000{i}"] for i in range(1, 5))
    assert (approved["approved_by"], approved["execution_failed"]) == ("staff:anna", True)
    assert approved["details"] == {"classification": {"needs_review": False}}
    assert (refused["refused_by"], refused["refusal_reason"], refused["refusal_letter_sent"]
            ) == ("staff:ben", "not our customer", True)
    assert (extended["extended_by"], extended["extension_notice_pending"]) == ("staff:anna", True)
    assert (plain["approved_by"], plain["refusal_letter_sent"], plain["execution_failed"],
            plain["extension_notice_pending"]) == (None, False, False, False)

    migrate.downgrade(db_url, "0010_staff_logins")
    back = {cid: r["details"] for cid, r in _rows(db_url).items()}
    assert back == OLD_DETAILS
