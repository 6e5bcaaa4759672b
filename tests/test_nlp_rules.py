"""Rules for rights named outright, and how they combine with the model."""

from __future__ import annotations

from nlp_models.classifier import DEFAULT_MODEL_DIR, RULE_FLOOR, Classifier
from nlp_models.labels import LABELS
from nlp_models.rules import RULE_SCORE, apply_rules, rule_labels


def test_legal_names_of_rights_in_three_languages() -> None:
    assert rule_labels("", "Tarkastuspyyntö") == {"access"}
    assert rule_labels("", "the right to be forgotten") == {"erasure"}
    assert rule_labels("", "Jag begär registerutdrag") == {"access"}
    assert rule_labels("", "ei postitustarroihin") == {"publication_ban"}


def test_rules_match_finnish_written_without_diacritics() -> None:
    assert rule_labels("", "tarkastuspyynto") == {"access"}


def test_article_21_paragraph_2_is_the_marketing_ban_not_objection() -> None:
    assert rule_labels("", "I object under Article 21(2) GDPR") == {"marketing_optout"}
    assert rule_labels("", "21 artiklan 2 kohdan nojalla") == {"marketing_optout"}
    assert rule_labels("", "21 artiklan 1 kohdan nojalla") == {"objection"}


def test_gdpr_article_numbers_name_their_right() -> None:
    assert rule_labels("", "pursuant to Article 15(1)") == {"access"}
    assert rule_labels("", "GDPR 17 art. mukaisesti") == {"erasure"}
    assert rule_labels("", "artikel 20") == {"portability"}


def test_dates_are_not_articles() -> None:
    assert rule_labels("", "toimitus 15.3.2025, artikkeli loppui") == set()


def test_a_reply_subject_is_inherited_and_names_nothing() -> None:
    assert rule_labels("SV: Ditt registerutdrag", "Tack, det stämmer.") == set()
    assert rule_labels("Registerutdrag", "") == {"access"}


def test_rules_raise_a_score_and_never_lower_one() -> None:
    raised = apply_rules({"access": 0.2, "erasure": 0.95}, {"access", "erasure"})
    assert raised == {"access": RULE_SCORE, "erasure": 0.95}


def test_template_listing_many_articles_labels_only_the_ask() -> None:
    template = ("Under Articles 15, 17 and 20 of the GDPR you must answer within one month. "
                "I request that you erase my data under Article 17.")
    assert rule_labels("", template) == {"erasure"}
    finnish = ("Tietosuoja-asetuksen 15, 16, 17 ja 20 artiklan mukaan rekisterinpitäjä on "
               "velvollinen vastaamaan. Pyydän 17 artiklan nojalla poistamaan tietoni.")
    assert rule_labels("", finnish) == {"erasure"}


def test_an_article_range_in_boilerplate_labels_nothing_it_lists() -> None:
    text = ("Jag begär enligt artikel 15 en kopia. "
            "Enligt artiklarna 15-22 har jag flera rättigheter.")
    assert rule_labels("", text) == {"access"}


def test_article_described_as_a_right_in_general_does_not_count() -> None:
    text = "Article 15 gives everyone the right to a copy. Please delete my data (Article 17)."
    assert rule_labels("", text) == {"erasure"}


def test_an_article_in_a_sentence_that_asks_nothing_does_not_count() -> None:
    text = ("Your privacy notice mentions Article 15 on its second page. I request erasure "
            "under Article 17.")
    assert rule_labels("", text) == {"erasure"}


def test_the_only_article_a_mail_names_counts_without_an_ask() -> None:
    assert rule_labels("Tietosuoja-asetuksen 15 artikla", "Terveisin Liisa") == {"access"}
    assert rule_labels("", "Artikel 20 GDPR, se bifogad blankett.") == {"portability"}


def test_article_numbers_in_finnish_and_swedish_forms_name_their_right() -> None:
    assert rule_labels("", "Pyydän tietosuoja-asetuksen 17 artiklan mukaisesti poistoa.") == {
        "erasure"}
    assert rule_labels("", "Vaadin 18 artiklan nojalla. Lisäksi 15 artiklan mukaiset tiedot, "
                           "pyydän.") == {"restriction", "access"}
    assert rule_labels("", "Jag begär med stöd av artikel 16 rättelse.") == {"rectification"}


def _classifier_scoring(scores: dict[str, float]) -> Classifier:
    """The committed model's rules and thresholds over fixed model scores (so the test does not
    depend on one training run)."""
    classifier = Classifier(DEFAULT_MODEL_DIR)
    fixed = {label: scores.get(label, 0.0) for label in LABELS}
    classifier.model_scores = lambda subject, own: dict(fixed)  # type: ignore[method-assign]
    return classifier


def test_rule_floor_a_right_named_in_passing_is_not_claimed_when_the_model_sees_no_ask() -> None:
    """Strangers name rights they do not ask for; out of fold, lifting every named right cost
    macro-F1. A legal name lifts its right only where the model leans to it (RULE_FLOOR)."""
    mail = ("Unsubscribe", "Please stop sending me your newsletter. Your privacy page mentions "
                           "the right to erasure as well.")
    assert rule_labels(*mail) == {"erasure"}
    unseen = _classifier_scoring({"marketing_optout": 0.95, "erasure": RULE_FLOOR / 2})
    assert unseen.classify(*mail).labels == ["marketing_optout"]
    leaning = _classifier_scoring({"marketing_optout": 0.95, "erasure": RULE_FLOOR + 0.05})
    assert leaning.classify(*mail).labels == ["marketing_optout", "erasure"]
