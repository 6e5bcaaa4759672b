"""What the model reads: the sender's words, not their signature, addresses or numbers."""

from __future__ import annotations

from nlp_models import classify
from nlp_models.features import drop_contact_block, model_tokens
from nlp_models.sentences import sentences


def test_signature_names_and_numbers_do_not_reach_the_model() -> None:
    text = ("Hei,\n\npyydän nähtäväkseni kaikki minusta tallennetut henkilötiedot.\n\n"
            "Kaisa Heikkinen\nHankintapäällikkö | Pohjolan Kiinteistöhuolto Oy\n"
            "+358 40 771 3052\nkaisa.heikkinen@pohjolankh.fi\nwww.pohjolankh.fi")
    tokens = model_tokens("", text)
    assert not {"kaisa", "heikkinen", "pohjolankh", "kiinteistohuolto"} & set(tokens)
    assert "henkilotiedot" in tokens


def test_a_last_line_that_asks_is_not_taken_for_a_signature() -> None:
    for text in ("Hello,\n\nI am writing about my data.\n\nDelete it",
                 "Hello,\n\nyour mails again.\n\nUnsubscribe",
                 "Hei\nuusi meiliosoite on pirjo.sirvio@outlook.com, vaihtakaa se."):
        assert drop_contact_block(text) == text


def test_addresses_and_phone_numbers_become_placeholders_but_register_numbers_stay() -> None:
    tokens = model_tokens("", "email a.b@firma.fi, www.firma.fi, puh 040 123 4567, "
                              "asiakasnumero 131009, tilaus 5012345")
    assert tokens.count("#email") == tokens.count("#url") == tokens.count("#phone") == 1
    assert "#6" in tokens and "#7" in tokens
    assert "firma" not in tokens


def test_sentences_scored_alone_include_the_subject_unless_inherited() -> None:
    body = "please delete all my data. And stop the newsletter - also no more calls!"
    assert sentences("Erase my data", body)[0] == "Erase my data"
    assert "Erase my data" not in sentences("Re: Erase my data", body)
    assert sentences("", "Poistakaa tietoni heti.") == []  # one sentence: the mail itself


def test_a_sentence_that_asks_two_things_is_also_scored_clause_by_clause() -> None:
    parts = sentences("", "Hi, please stop the newsletter, and can I get my purchase history "
                          "as a CSV file? Thanks, Connor")
    assert "Hi, please stop the newsletter" in parts
    assert "and can I get my purchase history as a CSV file?" in parts
    finnish = sentences("", "Hei, lähettäkää tietoni, ja poistakaa ne sen jälkeen.\nt. Aino")
    assert "ja poistakaa ne sen jälkeen." in finnish
    # A list of things in one clause is not split: "name and address" has no comma before it.
    assert sentences("", "Correct my name and address please. Thanks!") == []


def test_a_two_word_request_counts_as_a_sentence() -> None:
    assert "Ingen reklam." in sentences("", "Ingen reklam. Radera mina uppgifter.")


def test_a_request_in_a_postscript_is_claimed_too() -> None:
    result = classify("", "Hi, I'd like to see what data you hold on me.\n\nThanks, Lucia\n\n"
                          "PS no more newsletters please")
    assert sorted(result.labels) == ["access", "marketing_optout"]  # both claimed, either first


def test_a_request_buried_in_an_order_complaint_is_not_silently_ordinary() -> None:
    result = classify("Tilaus 5031234 myöhässä", (
        "Hei, tilaamani maalit eivät ole vieläkään tulleet, vaikka toimitusajan piti olla 3 "
        "päivää. Missä paketti on? Lisäksi: poistakaa kaikki tietoni asiakasrekisteristänne kun "
        "tilaus on hoidettu.\n\nt. Maija"))
    assert "erasure" in result.labels or (result.needs_review and "erasure" in result.possible)
