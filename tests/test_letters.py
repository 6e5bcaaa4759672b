"""Letters: every kind in Finnish, English and Swedish, nothing untranslated, nothing executed."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from handlers.letters import (
    FINAL_KINDS,
    LANGUAGES,
    LETTER_KINDS,
    LetterError,
    load_catalogue,
    normalise_language,
    render_letter,
)
from handlers.letters.renderer import long_date, placeholders

CATALOGUES = Path(__file__).parent.parent / "handlers" / "letters" / "catalogue"
ORG = {"name": "Rusttet Oy", "register_name": "Asiakasrekisteri",
       "contact_email": "info@rusttet.fi"}
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
AUTHORITY = ("Tietosuojavaltuutetun toimisto", "PL 800", "00521 Helsinki", "029 56 66700",
             "tietosuoja@om.fi", "www.tietosuoja.fi")
ENGLISH_WORDS = frozenset(
    "the and your you of is are we our with has have been this that from which not request "
    "data please will was were erased received thank".split())

REPORT = {
    "customer_number": "100001",
    "fields": [{"field": "first_name", "value": "Maija",
                "source": {"name": "", "kind": "customer"}},
               {"field": "postal_address", "value": "Hämeenkatu 1, 33100 Tampere",
                "source": {"name": "Osoitepalvelu Oy", "kind": "authority_update_service"}},
               {"field": "www", "value": "", "source": None}],
    "relationship_start": date(2020, 1, 1), "relationship_end": date(2024, 5, 31),
    "orders": [{"number": "T1", "date": date(2021, 1, 1), "description": "Porakone",
                "amount_cents": 12990}],
    "invoices": [{"number": "L1", "order_number": "T1", "issued": date(2021, 1, 2),
                  "due": date(2021, 1, 16), "amount_cents": 12990, "status": "in_collection"}],
    "disclosures": [{"party": {"name": "Perintä Oy", "kind": "debt_collection"},
                     "fields": ["first_name"], "purpose": "collection", "date": date(2021, 3, 1)},
                    {"party": {"name": "", "kind": "authority"}, "fields": [],
                     "purpose": "law", "date": NOW}],
    "flags": [{"name": "marketing_ban", "value": True},
              {"name": "publication_ban", "value": False}],
    "changes": [{"field": "phone", "changed_at": NOW}],
    "holds": [{"code": "open_invoice", "params": {"count": 1, "fields": ["first_name"]}}],
    "retention_until": date(2034, 5, 31), "retention_years": 10,
}
SAMPLES: dict[str, dict[str, Any]] = {
    "receipt": {"received_at": NOW, "due_date": date(2026, 4, 2),
                "types": ["access", "erasure", "marketing_optout"]},
    "identity_challenge": {"code": "482913", "expires_at": NOW, "ttl_hours": 72,
                           "requests": [{"case_id": "DSR-2026-0001", "types": ["erasure"],
                                         "received_at": NOW, "subject": "Poistakaa tietoni",
                                         "code": "482913"}]},
    "identity_reminder": {"sent_at": NOW, "expires_at": NOW},
    "identity_cancelled": {},
    "identity_still_needed": {},
    "extension": {"original_due_date": date(2026, 4, 2), "due_date": date(2026, 6, 2),
                  "reason_codes": ["complexity", "number_of_requests"], "note": None},
    "access_report": {"generated_at": NOW, "has_pdf": True, "report": REPORT},
    "portability": {"files": ["omat-tiedot-1.json"], "provided_fields": ["first_name", "email"]},
    "rectification_done": {"changes": [{"field": "phone", "value": "+358401234567"},
                                       {"field": "www", "value": ""}],
                           "notified": [{"name": "Perintä Oy", "kind": "debt_collection"}],
                           "not_notified": [{"name": "", "kind": "subcontractor"}],
                           "email_changed": True},
    "rectification_notice": {"customer_number": "100001", "relation": "recipient",
                             "changes": [{"field": "phone", "value": "+358401234567"}],
                             "changed_at": NOW},
    "recipient_notice": {"customer_number": "100001", "change": "erasure",
                         "fields": ["first_name", "phone"], "changed_at": NOW},
    "erasure_done": {"erased_at": NOW, "erased_fields": ["first_name", "email"]},
    "erasure_partial": {"erased_at": NOW, "erased_fields": ["email", "phone"],
                        "kept_fields": ["first_name", "postal_address"],
                        "holds": [{"code": "open_invoice",
                                   "params": {"count": 2, "fields": ["first_name"]}},
                                  {"code": "debt_collection",
                                   "params": {"count": 1, "fields": ["email"]}},
                                  {"code": "bookkeeping",
                                   "params": {"until": "2032-12-31", "fields": ["first_name"]}},
                                  {"code": "legal_hold",
                                   "params": {"until": "2027-01-01", "fields": ["phone"]}},
                                  {"code": "legal_hold", "params": {"fields": ["phone"]}}]},
    "refusal": {"right": "rectification", "decided_at": NOW, "note": None, "reasons": [
        {"code": code, "params": {"field": "phone"}} for code in (
            "identity_not_verified", "signature_missing", "org_contact", "already_erased",
            "unknown_field", "no_changes", "value_unchanged", "invalid_email", "invalid_phone",
            "invalid_postal_address", "invalid_ip_address", "invalid_www", "value_too_long",
            "name_required", "staff_decision", "no_registered_address")]},
    "objection_outcome": {"upheld": True, "decided_at": NOW, "note": None},
    "restriction_outcome": {"restricted_at": NOW},
    "marketing_optout": {"set_at": NOW},
    "publication_ban": {"set_at": NOW},
    "neutral": {},
    "authority_refused": {},
    "information_request": {"question": "Which of your orders do you mean?"},
}


def _context(kind: str) -> dict[str, Any]:
    return {"org": ORG, "case_id": "DSR-2026-0001", **SAMPLES[kind]}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _without_values(text: str, context: dict[str, Any]) -> str:
    for value in sorted(_strings(context), key=len, reverse=True):
        if len(value) > 2:
            text = text.replace(value, " ")
    return text


def test_every_letter_kind_has_a_sample_here() -> None:
    assert set(SAMPLES) == set(LETTER_KINDS)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_every_letter_kind_renders_in_all_three_languages(kind: str, language: str) -> None:
    letter = render_letter(kind, language, _context(kind))
    assert letter.subject and letter.text.strip() and letter.html
    assert f'<html lang="{language}">' in letter.html
    messages = load_catalogue(language).messages
    for output in (letter.subject, letter.text, letter.html):
        assert "{" not in output and "}" not in output  # no unfilled placeholder
        assert not any(key in output for key in messages if "." in key and len(key) > 8)
    if language != "en":
        own_words = _without_values(letter.subject + "\n" + letter.text, _context(kind))
        own_words = own_words.replace("Asiakasrekisteri", "")
        english = {w for w in re.findall(r"[A-Za-z]+", own_words) if w.lower() in ENGLISH_WORDS}
        assert not english, f"English words in {kind}/{language}: {english}"
    english_text = render_letter(kind, "en", _context(kind)).text
    if language != "en":
        assert letter.text != english_text


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    fi, en, sv = (load_catalogue(lang).messages for lang in ("fi", "en", "sv"))
    assert set(fi) == set(en) == set(sv)
    for key in fi:
        assert placeholders(fi[key]) == placeholders(en[key]) == placeholders(sv[key]), key
    for lang in LANGUAGES:  # and the files are valid TOML with no duplicate surprises
        with (CATALOGUES / f"{lang}.toml").open("rb") as fh:
            assert tomllib.load(fh)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(FINAL_KINDS))
def test_every_refusal_and_final_answer_names_the_supervisory_authority(
    kind: str, language: str
) -> None:
    letter = render_letter(kind, language, _context(kind))
    for part in AUTHORITY:
        assert part in letter.text, (kind, language, part)
        assert part in (letter.html or ""), (kind, language, part)


def test_recipient_notice_covers_erasure_and_restriction() -> None:
    for change, word in (("erasure", "poistaneet"), ("restriction", "rajoittaneet")):
        context = {**_context("recipient_notice"), "change": change}
        for language in LANGUAGES:
            assert render_letter("recipient_notice", language, context).text
        assert word in render_letter("recipient_notice", "fi", context).text


def test_refusal_certificate_names_the_reasons_and_the_ombudsman() -> None:
    fi = render_letter("refusal", "fi", _context("refusal")).text
    assert "Todistus pyynnön epäämisestä: tietojen korjaaminen" in fi
    assert "Toimit yrityksen tai organisaation yhteyshenkilönä" in fi
    assert "tietosuojavaltuutetun ratkaistavaksi" in fi
    en = render_letter("refusal", "en", _context("refusal")).text
    assert "Certificate of refusal" in en and "Data Protection Ombudsman" in en


@pytest.mark.parametrize("kind", ["neutral", "authority_refused"])
def test_neutral_reply_reveals_nothing(kind: str) -> None:
    secret = {"first_name": "Maija", "email": "maija@example.fi", "customer_number": "100001"}
    for language in LANGUAGES:
        letter = render_letter(kind, language, {"org": ORG, "case_id": "DSR-2026-0001",
                                                **secret})
        for value in (*secret.values(), "DSR-2026-0001"):
            assert value not in letter.text and value not in (letter.html or "")
            assert value not in letter.subject


def test_user_text_is_printed_never_executed() -> None:
    hostile = "{{ 7*7 }} {% for x in range(3) %}loop{% endfor %} <script>alert(1)</script>"
    context = {**_context("objection_outcome"), "note": hostile}
    letter = render_letter("objection_outcome", "fi", context)
    assert "{{ 7*7 }}" in letter.text and "49" not in letter.text
    assert "looploop" not in letter.text
    assert letter.html is not None
    assert "<script>" not in letter.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in letter.html


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(LetterError, match="receipt"):
        render_letter("receipt", "fi", {"org": ORG, "case_id": "DSR-2026-0001"})
    with pytest.raises(LetterError, match="unknown letter kind"):
        render_letter("love_letter", "fi", {})


def test_unknown_language_falls_back_to_finnish() -> None:
    assert normalise_language("de") == "fi" and normalise_language("sv-FI") == "sv"
    assert normalise_language(None) == "fi" and normalise_language("EN") == "en"
    letter = render_letter("marketing_optout", "de", _context("marketing_optout"))
    assert letter.subject == "Suoramarkkinointikielto on kirjattu"


def test_dates_and_amounts_follow_the_language() -> None:
    receipt = {lang: render_letter("receipt", lang, _context("receipt")).text
               for lang in LANGUAGES}
    assert "2. huhtikuuta 2026" in receipt["fi"]
    assert "2 April 2026" in receipt["en"]
    assert "2 april 2026" in receipt["sv"]
    report = {lang: render_letter("access_report", lang, _context("access_report")).text
              for lang in LANGUAGES}
    assert "129,90\xa0€" in report["fi"] and "EUR\xa0129.90" in report["en"]
    challenge = render_letter("identity_challenge", "fi", _context("identity_challenge")).text
    assert "klo 12.30 (Suomen aikaa)" in challenge  # 10:30 UTC is 12:30 in Helsinki


def test_templates_render_in_a_sandbox() -> None:
    from jinja2.sandbox import SandboxedEnvironment

    from handlers.letters.renderer import default_renderer

    renderer = default_renderer()
    assert isinstance(renderer._text, SandboxedEnvironment)
    assert isinstance(renderer._html, SandboxedEnvironment) and renderer._html.autoescape


def test_a_date_is_formatted_once_per_process_not_once_per_letter() -> None:
    """The formatting cache outlives one render (it used to be made per render and never hit)."""
    long_date.cache_clear()
    first = render_letter("refusal", "fi", _context("refusal")).text
    misses = long_date.cache_info().misses
    second = render_letter("refusal", "fi", _context("refusal")).text
    assert first == second
    assert long_date.cache_info().misses == misses and long_date.cache_info().hits > 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_receipt_reads_as_if_written_for_its_case_alone(language: str) -> None:
    """Receipts are rendered once per language and day and kept, the case id put in: each
    must equal a receipt rendered afresh for that case, whatever its id's length, and a
    request received late in the evening UTC is dated by the organisation's day, as before."""
    from zoneinfo import ZoneInfo

    from handlers.letters.renderer import LOCALES, LetterRenderer

    zone = ZoneInfo("Europe/Helsinki")
    kept = LetterRenderer()
    evening = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 2 March in Helsinki
    for n, case_id in enumerate(("DSR-2026-0001", "DSR-2026-0002", "DSR-2026-123456",
                                 "DSR-2026-0001")):
        base = {"org": ORG, "case_id": case_id, "due_date": date(2026, 4, 2 + n // 2),
                "types": [["erasure", "marketing_optout"], ["access"]][n % 2]}
        fresh = LetterRenderer().render("receipt", language, {**base, "received_at": evening},
                                        tz=zone)
        letter = kept.render("receipt", language,
                             {**base, "received_at": evening.astimezone(zone).date()}, tz=zone)
        assert letter == fresh
        assert case_id in letter.text
        assert letter.html is not None and case_id in letter.html
        assert long_date(date(2026, 3, 2), LOCALES[language]) in letter.text
