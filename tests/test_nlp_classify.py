"""Behaviour of `nlp_models.classify` with the committed model (loaded once per process)."""

from __future__ import annotations

import base64
import json
import random
from datetime import date
from pathlib import Path

import pytest

from nlp_models import Classification, Classifier, classify, load_classifier
from nlp_models.decision import decide
from nlp_models.labels import LABELS, OTHER
from nlp_models.train import META_FILE


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return load_classifier()


def _other_or_review(result: Classification) -> bool:
    return result.labels == [OTHER] or result.needs_review


def test_model_loads_once_per_process(classifier: Classifier) -> None:
    assert load_classifier() is classifier


def test_finnish_erasure_without_diacritics_is_erasure(classifier: Classifier) -> None:
    result = classifier.classify("", "poistakaa kaikki tietoni teidan rekisterista heti")
    assert result.labels == ["erasure"]
    assert result.language == "fi"


def test_finnish_erasure_with_and_without_diacritics_score_alike(classifier: Classifier) -> None:
    with_marks = classifier.classify("", "Poistakaa tietoni rekisteristänne.")
    without = classifier.classify("", "Poistakaa tietoni rekisteristanne.")
    assert with_marks.labels == without.labels == ["erasure"]


def test_quoted_old_request_does_not_make_thanks_a_request(classifier: Classifier) -> None:
    body = (
        "Kiitos, sain tiedot eilen. Kaikki kunnossa.\n\nLeena\n\n"
        "> Hei,\n> pyydän kopion kaikista minusta tallennetuista henkilötiedoista.\n"
        "> Poistakaa myös vanha osoitteeni.\n"
    )
    result = classifier.classify("Re: Tietopyyntö", body)
    assert OTHER in result.labels
    assert "access" not in result.labels and "erasure" not in result.labels


def test_outlook_header_block_starts_the_old_mail(classifier: Classifier) -> None:
    body = (
        "Thanks, that answers it.\n\n"
        "From: Customer Service <info@example.fi>\nSent: Monday 3 March 2025 9:14\n"
        "Subject: Your data request\n\nWe have erased your personal data as you asked. "
        "Please delete this mail too.\n"
    )
    assert classifier.classify("RE: Your data request", body).labels == [OTHER]


def test_english_access_request_is_access(classifier: Classifier) -> None:
    result = classifier.classify(
        "My data", "Hello, please send me a copy of all the personal data you hold about me.")
    assert result.labels == ["access"]
    assert result.language == "en"


def test_swedish_newsletter_refusal_is_marketing_optout(classifier: Classifier) -> None:
    result = classifier.classify(
        "", "Hej, jag vill inte längre få ert nyhetsbrev eller annan reklam. Mvh Sven")
    assert result.labels == ["marketing_optout"]
    assert result.language == "sv"


def test_two_requests_in_one_mail_get_both_labels(classifier: Classifier) -> None:
    result = classifier.classify(
        "", "Please send me a copy of my personal data, and after that erase everything "
            "you have about me.")
    assert {"access", "erasure"} <= set(result.labels)


def test_delete_my_order_is_not_erasure(classifier: Classifier) -> None:
    result = classifier.classify(
        "Tilaus", "Hei, voitteko perua tilaukseni 5012345, tilasin vahingossa väärän värin.")
    assert "erasure" not in result.labels


def test_article_17_named_outright_is_erasure(classifier: Classifier) -> None:
    result = classifier.classify("GDPR art. 17", "I invoke the right to be forgotten.")
    assert "erasure" in result.labels


def test_other_is_never_combined_with_a_request(classifier: Classifier) -> None:
    corpus = Path(__file__).resolve().parents[1] / "nlp_models" / "corpus" / "train"
    lines = [json.loads(x) for f in sorted(corpus.glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    for obj in random.Random(3).sample(lines, 60):
        labels = classifier.classify(obj["subject"], obj["body"]).labels
        assert labels == [OTHER] or OTHER not in labels


def test_scores_cover_every_label_and_version_matches_metadata(classifier: Classifier) -> None:
    result = classifier.classify("", "Poistakaa tietoni.")
    assert set(result.scores) == set(LABELS)
    assert all(0.0 <= v <= 1.0 for v in result.scores.values())
    meta = json.loads((classifier.model_dir / META_FILE).read_text(encoding="utf-8"))
    assert result.model_version == meta["version"]


def test_module_level_classify_uses_the_committed_model() -> None:
    assert classify("", "Unsubscribe me from the newsletter please.").labels == [
        "marketing_optout"]


# --- bad input: a valid result, never an exception -----------------------------------------


def test_empty_subject_and_body_is_other_with_review(classifier: Classifier) -> None:
    result = classifier.classify("", "")
    assert result.labels == [OTHER] and result.needs_review


def test_empty_body_is_judged_by_its_subject(classifier: Classifier) -> None:
    result = classifier.classify("Poistakaa tietoni rekisteristä", "")
    assert result.labels == ["erasure"]


def test_binary_garbage_is_other_or_review(classifier: Classifier) -> None:
    garbage = bytes(random.Random(1).randrange(256) for _ in range(4000)).decode("latin-1")
    result = classifier.classify("\x00\x01", garbage)
    assert _other_or_review(result)


def test_two_megabytes_of_text_is_classified(classifier: Classifier) -> None:
    body = "Hei, poistakaa tietoni. " + "bla bla lorem ipsum " * 105_000
    assert len(body) > 2_000_000
    result = classifier.classify("", body)
    assert result.labels and set(result.scores) == set(LABELS)


def test_html_only_body_is_read_as_text(classifier: Classifier) -> None:
    body = ("<html><head><style>p{color:red}</style></head><body><p>Hei,</p>"
            "<p>haluan että <b>poistatte</b> kaikki tietoni rekisteristänne.</p>"
            "<p>Terveisin<br>Aino</p></body></html>")
    result = classifier.classify("", body)
    assert result.labels == ["erasure"]


def test_markup_without_text_is_other_or_review(classifier: Classifier) -> None:
    result = classifier.classify("", "<html><body><div><img src='x.png'></div></body></html>")
    assert _other_or_review(result)


def test_attachment_like_blob_is_other_or_review(classifier: Classifier) -> None:
    blob = base64.encodebytes(bytes(range(256)) * 40).decode("ascii")
    result = classifier.classify("scan.pdf", blob)
    assert _other_or_review(result)


def test_clear_signed_request_is_read_without_its_armour(classifier: Classifier) -> None:
    body = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
            "Hei,\n\npoistakaa kaikki tietoni rekisteristänne.\n\nPekka\n"
            "-----BEGIN PGP SIGNATURE-----\n\n"
            + "wr0EARYKAG8FgmsGzRkJEOqAMP1mVv1pRxQAAAAAAB4AIHNh\n" * 4
            + "=nAbN\n-----END PGP SIGNATURE-----\n")
    result = classifier.classify("", body)
    assert result.labels == ["erasure"] and not result.needs_review


def test_bytes_and_none_do_not_raise(classifier: Classifier) -> None:
    result = classifier.classify(None, b"Poistakaa tietoni \xff")  # type: ignore[arg-type]
    assert result.labels


def _scores(**given: float) -> dict[str, float]:
    return {label: given.get(label, 0.01) for label in LABELS}


def test_grey_zone_score_sends_the_mail_to_review() -> None:
    decision = decide(_scores(erasure=0.42, other=0.3), garbage=False)
    assert decision.labels == [OTHER] and decision.needs_review
    assert "erasure" in decision.possible


def test_request_and_other_both_likely_is_a_conflict_for_review() -> None:
    decision = decide(_scores(access=0.9, other=0.8), garbage=False)
    assert decision.labels == ["access"] and decision.needs_review


def test_nothing_likely_is_reviewed_not_guessed() -> None:
    decision = decide(_scores(other=0.2), garbage=False)
    assert decision.labels == [OTHER] and decision.needs_review


def test_weak_second_request_is_possible_not_claimed() -> None:
    decision = decide(_scores(access=0.99, erasure=0.7), garbage=False)
    assert decision.labels == ["access"] and decision.possible == ["erasure"]
    strong = decide(_scores(access=0.99, erasure=0.95), garbage=False)
    assert strong.labels == ["access", "erasure"] and not strong.needs_review


def test_confident_single_request_needs_no_review() -> None:
    decision = decide(_scores(marketing_optout=0.97), garbage=False)
    assert decision.labels == ["marketing_optout"] and not decision.needs_review


REMINDER_WITH_QUOTE = (
    "Hello, this is a reminder. I have not received any reply to my email below.\n\n"
    "-----Original Message-----\nFrom: mia.koski@example.com\nSent: 3 October 2026 10:14\n"
    "Subject: my data\n\nPlease delete all my personal data and close my account.\n"
)


def test_reminder_is_labelled_with_the_right_it_names(classifier: Classifier) -> None:
    quoted = classifier.classify("Reminder", REMINDER_WITH_QUOTE, received=date(2026, 12, 7))
    assert quoted.labels == ["erasure"]
    by_article = classifier.classify(
        "Muistutus", "Hei, lähetin 3.10. pyynnön tietosuoja-asetuksen 15 artiklan nojalla. "
        "Vastausta ei ole kuulunut.", received=date(2026, 12, 7))
    assert by_article.labels == ["access"]


def test_classification_carries_the_earlier_request_for_the_intake(
        classifier: Classifier) -> None:
    result = classifier.classify("Reminder", REMINDER_WITH_QUOTE, received=date(2026, 12, 7))
    assert result.earlier_request is not None
    assert (result.earlier_request.date, result.earlier_request.right) == (
        "2026-10-03", "erasure")
    plain = classifier.classify("", "Poistakaa tietoni rekisteristänne.")
    assert plain.earlier_request is None and plain.on_behalf_of is None


def test_classification_carries_on_behalf_of_for_the_intake(classifier: Classifier) -> None:
    result = classifier.classify(
        "Request", "On behalf of my client, Anna Berg, I request a copy of her personal data.")
    assert result.on_behalf_of is not None and result.on_behalf_of.person == "Anna Berg"
