"""mbox as written in the wild: mboxrd and mboxo quoting, Content-Length, real separators only,
and a message that a body line may have split is held for staff, never made a request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.mail.ingest import iter_mbox
from bot.mail.mbox_reader import is_separator, separator_date
from storage.db import Database
from storage.models import InboundMessage, InboundState
from tests.helpers import run_cli

SEP = b"From staff@rusttet.fi Tue Nov 24 10:00:00 2026\n"


def _headers(n: int, extra: bytes = b"") -> bytes:
    return (b"From: Liisa Myyja <liisa@partner.example>\nTo: info@rusttet.fi\n"
            b"Subject: Viesti %d\nMessage-ID: <wild-%d@partner.example>\n"
            b"Date: Tue, 24 Nov 2026 10:00:00 +0200\n" % (n, n) + extra + b"\n")


FORGED = (b"From: Maija Meikalainen <maija@example.fi>\nTo: info@rusttet.fi\n"
          b"Subject: Poistakaa tietoni\n\nPoistakaa kaikki tietoni rekisteristanne.\n")


#: An ordinary mail after the split one. It says plainly what it is: the mbox reader is under
#: test here, not the classifier (a bare "Tilaus 1234567 saapui perille." reads as a
#: subscription matter to the model and goes to staff).
ORDER_NOTE = b"Tilaus 1234567 saapui perille eilen. Kiitos nopeasta toimituksesta!\n"


def _box(tmp_path: Path, *messages: bytes) -> Path:
    path = tmp_path / "wild.mbox"
    path.write_bytes(b"".join(SEP + m + b"\n" for m in messages))
    return path


def _cfg(tmp_path: Path) -> str:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///d.db"\n', encoding="utf-8")
    assert run_cli("--config", str(cfg), "init").exit_code == 0
    return str(cfg)


def _rows(tmp_path: Path) -> list[InboundMessage]:
    db = Database(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        with db.read_session() as s:
            return list(s.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all())
    finally:
        db.dispose()


def test_misquoted_from_line_does_not_split_mbox(tmp_path: Path) -> None:
    """A writer forgot to quote a body line; the forged header block after it stays body."""
    first = _headers(1) + b"Hei,\n\nalla asiakkaan viesti:\n\nFrom maija@example.fi\n" + FORGED
    box = _box(tmp_path, first, _headers(2) + ORDER_NOTE)
    items = list(iter_mbox(box))
    assert len(items) == 2
    assert b"From maija@example.fi\nFrom: Maija" in items[0].raw
    assert not items[0].hold and items[0].kept_from_lines == 1
    cfg = _cfg(tmp_path)
    result = run_cli("--config", cfg, "ingest", str(box))
    assert result.exit_code == 0, result.stderr
    assert "2 message(s): 2 stored" in result.stdout
    assert "1 unquoted 'From ' line(s) kept inside their message" in result.stdout
    # The forged header block never becomes Maija's own request (a case may come from the
    # partner who forwarded her words: that is the classifier's call, not the mbox reader's).
    cases = json.loads(run_cli("--config", cfg, "cases", "--all", "--json").stdout)
    assert [c["requester"] for c in cases if c["requester"] != "liisa@partner.example"] == []
    assert all(r.envelope_from == "" and b"Viesti" in r.raw for r in _rows(tmp_path))


def test_dated_from_line_that_splits_a_mime_message_holds_both_parts(tmp_path: Path) -> None:
    """Even a From line with a valid date is suspect inside an unclosed multipart body."""
    mime = (b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n')
    first = (_headers(1, mime) + b"--b1\nContent-Type: text/plain\n\nHei,\n\n"
             b"From maija@example.fi Mon Nov 23 09:00:00 2026\n" + FORGED + b"\n--b1--\n")
    box = _box(tmp_path, first, _headers(2) + ORDER_NOTE)
    items = list(iter_mbox(box))
    assert [i.hold for i in items] == [True, True, False]
    assert "MIME multipart" in items[1].notes[-1]
    cfg = _cfg(tmp_path)
    result = run_cli("--config", cfg, "ingest", str(box))
    assert result.exit_code == 0, result.stderr
    assert "2 part(s) of a possibly split message held for staff" in result.stdout
    rows = _rows(tmp_path)
    assert [r.state for r in rows] == [InboundState.HELD, InboundState.HELD,
                                       InboundState.PROCESSED]
    assert "second half of the message before it" in rows[1].reasons[0]
    assert "next message in the file may be its second half" in rows[0].reasons[0]
    assert json.loads(run_cli("--config", cfg, "cases", "--all", "--json").stdout) == []


def test_split_part_without_message_id_or_date_is_held(tmp_path: Path) -> None:
    first = _headers(1) + b"Hei,\n\nFrom maija@example.fi Mon Nov 23 09:00:00 2026\n" + FORGED
    items = list(iter_mbox(_box(tmp_path, first)))
    assert len(items) == 2 and all(i.hold for i in items)
    assert "neither Message-ID nor Date" in items[1].notes[-1]


def test_real_separators_between_ordinary_messages_split_without_a_hold(tmp_path: Path) -> None:
    items = list(iter_mbox(_box(tmp_path, *(_headers(n) + b"Teksti.\n" for n in range(3)))))
    assert len(items) == 3 and not any(i.hold or i.notes for i in items)
    assert items[0].raw == _headers(0) + b"Teksti.\n"


def test_content_length_keeps_a_dated_from_line_inside_the_body(tmp_path: Path) -> None:
    body = b"Hei,\n\nFrom maija@example.fi Mon Nov 23 09:00:00 2026\nlainattua tekstia\n"
    first = _headers(1, b"Content-Length: %d\n" % len(body)) + body
    items = list(iter_mbox(_box(tmp_path, first, _headers(2) + b"Toinen.\n")))
    assert len(items) == 2 and not any(i.hold for i in items)
    assert items[0].raw.endswith(body)


def test_wrong_content_length_is_ignored_and_the_split_is_held(tmp_path: Path) -> None:
    body = b"Hei,\n\nFrom maija@example.fi Mon Nov 23 09:00:00 2026\n" + FORGED
    first = _headers(1, b"Content-Length: %d\n" % (len(body) + 7)) + body
    items = list(iter_mbox(_box(tmp_path, first, _headers(2) + b"Toinen.\n")))
    assert len(items) == 3 and items[0].hold and items[1].hold and not items[2].hold
    assert "Content-Length" in items[1].notes[-1]


BODY_QUOTED = b">From a@b.fi\n>>From c@d.fi\n>>>From e@f.fi\n"


def test_mboxrd_takes_one_quote_off_every_quoted_from_line(tmp_path: Path) -> None:
    (item,) = iter_mbox(_box(tmp_path, _headers(1) + BODY_QUOTED), "mboxrd")
    assert item.raw.endswith(b"\nFrom a@b.fi\n>From c@d.fi\n>>From e@f.fi\n")


def test_mboxo_unquotes_only_a_single_quote(tmp_path: Path) -> None:
    (item,) = iter_mbox(_box(tmp_path, _headers(1) + BODY_QUOTED), "mboxo")
    assert item.raw.endswith(b"\nFrom a@b.fi\n>>From c@d.fi\n>>>From e@f.fi\n")


def test_ingest_takes_the_mbox_format_option(tmp_path: Path) -> None:
    box = _box(tmp_path, _headers(1) + BODY_QUOTED)
    cfg = _cfg(tmp_path)
    assert run_cli("--config", cfg, "ingest", "--store-only", "--mbox-format", "mboxo",
                   str(box)).exit_code == 0
    assert _rows(tmp_path)[0].raw.endswith(b">>From c@d.fi\n>>>From e@f.fi\n")
    bad = run_cli("--config", cfg, "ingest", "--mbox-format", "mboxq", str(box))
    assert bad.exit_code == 2


@pytest.mark.parametrize("line", [
    b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n",
    b"From - Tue Nov 24 10:00:00 2026\r\n",
    b"From a@b.fi Tue Nov 24 10:00 2026\n",
    b"From a@b.fi Tue Nov 24 10:00:00 EET 2026\n",
    b"From a@b.fi Tue Nov 24 10:00:00 2026 +0200\n",
    b"From a@b.fi Tue Nov 24 10:00:00 2026 remote from gateway\n",
])
def test_separators_as_written_in_the_wild_are_recognised(line: bytes) -> None:
    assert is_separator(line)


@pytest.mark.parametrize("line", [
    b"From maija@example.fi\n", b"From here on we agree.\n",
    b"From a@b.fi Tuesday, 24 November\n", b"From a@b.fi Tue Nov 34 10:00:00 2026\n",
    b"From a@b.fi " + b"x" * 400 + b" Tue Nov 24 10:00:00 2026\n",
])
def test_lines_without_a_valid_date_are_not_separators(line: bytes) -> None:
    assert not is_separator(line)


def test_separator_offset_gives_the_delivery_time_in_utc() -> None:
    moment = separator_date(b"From a@b.fi Tue Nov 24 10:00:00 2026 +0200\n")
    assert moment is not None and moment.isoformat() == "2026-11-24T08:00:00+00:00"
