"""Reducing a mail body to the sender's own words, and language identification."""

from __future__ import annotations

from nlp_models import load_classifier
from nlp_models.preprocess import clean_body, fold, html_to_text


def test_fold_makes_text_with_and_without_diacritics_equal() -> None:
    assert fold("Rekisteristä ÅÄÖ") == fold("rekisterista aao")


def test_quoted_lines_are_not_own_words() -> None:
    clean = clean_body("Kiitos!\n\n> Poistakaa tietoni.\n> Terveisin Maija")
    assert "Poistakaa" not in clean.own


def test_reply_header_cuts_the_old_mail_and_marks_where() -> None:
    body = "Thanks.\n\nOn Mon, 3 Mar 2025, Service <info@example.fi> wrote:\n> old text"
    clean = clean_body(body)
    assert clean.own == "Thanks."
    assert clean.full[clean.new_end:].startswith("On Mon")


def test_bare_forward_uses_the_forwarded_text_without_its_headers() -> None:
    body = ("---------- Forwarded message ---------\nFrom: Anna <anna@example.fi>\n"
            "Date: 1.4.2025\nSubject: data\n\nPlease delete my data.")
    assert clean_body(body).own == "Please delete my data."


def test_signature_after_a_closing_is_kept_apart() -> None:
    clean = clean_body("Poistakaa tietoni.\n\nYstävällisin terveisin\nMaija Virtanen\n040 123 4567")
    assert clean.own == "Poistakaa tietoni."
    assert "Maija Virtanen" in clean.signature


def test_disclaimer_paragraph_is_dropped() -> None:
    body = ("Please restrict processing of my data.\n\nThis e-mail and any attachments are "
            "confidential and intended solely for the addressee.")
    assert "confidential" not in clean_body(body).own


def test_html_blockquote_becomes_quoted_text() -> None:
    text = html_to_text("<p>Thanks</p><blockquote>delete me</blockquote>")
    assert "> delete me" in text
    assert "delete" not in clean_body("<p>Thanks</p><blockquote>delete me</blockquote>").own


def test_language_identification_of_short_messages() -> None:
    classifier = load_classifier()
    assert classifier.classify("", "ta bort allt om mig").language == "sv"
    assert classifier.classify("", "poistakaa mut").language == "fi"
    assert classifier.classify("", "remove me from your list").language == "en"
    assert classifier.classify("", "").language == "fi"


def test_short_note_above_a_forward_brings_the_forwarded_request_in() -> None:
    body = ("My lawyer told me to send this.\n\n---------- Forwarded message ---------\n"
            "From: Anna <anna@example.fi>\nDate: 1.4.2025\nSubject: data\n\n"
            "Please send me a copy of all my data.")
    assert "copy of all my data" in clean_body(body).own


def test_a_reply_with_its_own_words_keeps_the_old_mail_out() -> None:
    body = ("Thanks for the refund, all good now and the parcel is back with you already.\n\n"
            "-----Original Message-----\nFrom: info@example.fi\nSent: 1.4.2025\n\n"
            "We have deleted your account as you asked.")
    assert "deleted" not in clean_body(body).own
