"""Shapes of strangers' mail the classifier must read as people write them (issue 18):
forwards under a colleague's note, filled-in forms, templates that recite every right,
questions about how to ask, a request at the end of an order complaint."""

from __future__ import annotations

from nlp_models.classifier import classify
from nlp_models.decision import Thresholds, decide
from nlp_models.features import model_tokens
from nlp_models.labels import LABELS, OTHER
from nlp_models.preprocess import clean_body, is_forward_subject, tick_boxes
from nlp_models.rules import rule_labels

LONG_NOTE = (
    "Hi, sorry for the long note, this customer rang me twice about it and I promised that "
    "someone would sort it out today. They order from us every couple of weeks, so let's keep "
    "them happy. Thanks a million!\n\nSophie (sales)\n\n"
    "-----Original Message-----\nFrom: Ian McLeod\nSubject: contacts\n\n"
    "Hi Sophie, please delete my personal data from your customer register.\nIan"
)


def test_a_forward_by_its_subject_is_judged_with_the_forwarded_mail_under_a_long_note() -> None:
    assert is_forward_subject("FW: contacts") and is_forward_subject("VS: VL: Tietopyyntö")
    assert not is_forward_subject("RE: contacts")
    own = clean_body(LONG_NOTE, forwarded=True).own
    assert "please delete my personal data" in own and "Sophie" in own


def test_a_reply_with_a_long_note_still_keeps_the_old_mail_out() -> None:
    assert "delete" not in clean_body(LONG_NOTE).own


def test_a_short_fyi_note_above_quoted_mail_brings_the_quoted_request_in() -> None:
    body = ("FYI, can you handle this?\n\n> From: Robert Kim\n> Please don't name us in your "
            "customer magazine or reference lists.")
    assert "reference lists" in clean_body(body).own
    assert "reference lists" not in clean_body("Thanks!\n\n> Please don't name us.").own
    colleague = "Tämä kuuluu sinulle.\n\n> Lähettäjä: Riikka\n> Haluan kopion tiedoistani."
    assert "kopion tiedoistani" in clean_body(colleague).own


def test_unticked_form_options_are_not_asked_for() -> None:
    form = ("Pyydän (rastita):\n[x] pääsy omiin tietoihin (15 art.)\n"
            "[ ] tietojen poistaminen (17 art.)")
    assert "poistaminen" not in tick_boxes(form) and "pääsy omiin tietoihin" in tick_boxes(form)
    inline = "Pyyntö koskee: [ ] tarkastus  [ ] poisto  [x] tietojen siirto  [ ] vastustus"
    assert tick_boxes(inline).split() == ["Pyyntö", "koskee:", "tietojen", "siirto"]
    assert rule_labels("", tick_boxes(form)) == {"access"}


def test_rights_recited_by_their_legal_names_in_a_template_are_not_claimed() -> None:
    letter = ("Under the GDPR data subjects enjoy a range of rights, including the right of "
              "access, the right to rectification, the right to erasure and the right to "
              "restriction of processing. Our client hereby requests that you erase all "
              "personal data relating to her under Article 17.")
    assert rule_labels("", letter) == {"erasure"}
    swedish = ("Enligt dataskyddsförordningen har den registrerade bland annat rätt till "
               "tillgång och rätt till radering. Vi begär rättelse av adressen.")
    assert rule_labels("", swedish) == {"rectification"}


def test_a_right_the_sender_says_is_not_asked_for_is_not_claimed() -> None:
    text = ("I request that processing of my data be restricted. For the avoidance of doubt, "
            "I am not at this stage requesting erasure under Article 17 or rectification "
            "under Article 16.")
    assert rule_labels("", text) == set()
    finnish = ("Pyydän korjaamaan nimeni. Asetus antaa myös oikeuden käsittelyn "
               "rajoittamiseen, johon en tässä vaiheessa vetoa.")
    assert rule_labels("", finnish) == set()


def test_a_right_named_alone_is_still_claimed_even_in_a_sentence_about_rights() -> None:
    assert rule_labels("", "Minulla on oikeus tulla unohdetuksi. Poistakaa tietoni.") == {
        "erasure"}


def test_a_how_to_question_pairs_its_concepts_apart_from_the_request_itself() -> None:
    asked = model_tokens("", "Please unsubscribe me.")
    question = model_tokens("", "How do I unsubscribe from the newsletter?")
    assert "@howto+marketing" in question and "@howto+marketing" not in asked
    assert "@howto" in model_tokens("", "Miten voin pyytää kopion tiedoistani?")


def test_a_companys_invoicing_details_are_billing_not_personal_fields() -> None:
    tokens = model_tokens("", "Päivittäkää uusi verkkolaskuosoitteemme 003712345678, "
                              "välittäjä Maventa")
    assert "@billing" in tokens and "@billing+correct" in tokens


def test_a_plainly_asking_sentence_claims_the_request_of_a_mail_that_claims_none() -> None:
    scores = {label: 0.01 for label in LABELS} | {OTHER: 0.97}
    best = {"erasure": 0.99}
    never = decide(scores, False, Thresholds(sentence_review=0.95), best)
    assert never.labels == [OTHER] and never.needs_review
    claimed = decide(scores, False, Thresholds(sentence_claim=0.95), best)
    assert claimed.labels == ["erasure"] and claimed.needs_review


def test_two_asks_joined_in_one_sentence_are_both_claimed() -> None:
    """"Stop X, and do Y" is one sentence; scored alone it is as diluted as the mail, so each
    clause is scored too (nlp_models/sentences.py)."""
    catalogue = classify("", "Hello, please take me off your catalogue mailing list, and could "
                             "you also tell me what personal data you keep about me?\n\n"
                             "Regards, Tove")
    assert sorted(catalogue.labels) == ["access", "marketing_optout"]
    texts = classify("", "Hi, please stop the text message offers, and delete my account while "
                         "you are at it.\nThanks, Rob")
    assert sorted(texts.labels) == ["erasure", "marketing_optout"]
