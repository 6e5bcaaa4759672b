"""Rules for rights named outright, and how they combine with the model."""

from __future__ import annotations

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
