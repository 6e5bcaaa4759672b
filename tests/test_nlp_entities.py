"""Rule-based entities and rectification extraction."""

from __future__ import annotations

from nlp_models.entities import Entity, extract_entities, person_from_display
from nlp_models.rectification import rectification_entities


def _by_label(entities: list[Entity], label: str) -> list[Entity]:
    return [e for e in entities if e.label == label]


def test_phone_number_value_is_e164() -> None:
    found = extract_entities("Soittakaa numeroon 040 552 3187 tai +358 (0)9 2316 4470.")
    assert [e.value for e in _by_label(found, "phone")] == ["+358405523187", "+358923164470"]


def test_email_value_is_lower_case_and_offsets_point_at_it() -> None:
    text = "Uusi osoite: Maija.Meikalainen@Example.FI kiitos"
    (email,) = _by_label(extract_entities(text), "email")
    assert email.value == "maija.meikalainen@example.fi"
    assert text[email.start:email.end] == "Maija.Meikalainen@Example.FI"


def test_customer_number_needs_a_context_word() -> None:
    assert _by_label(extract_entities("asiakasnumero 104233"), "customer_number")
    assert _by_label(extract_entities("customer no. 118402"), "customer_number")
    assert _by_label(extract_entities("kundnr 119002"), "customer_number")
    assert not _by_label(extract_entities("We were 104233 visitors"), "customer_number")


def test_customer_number_after_an_inflected_context_word_and_a_verb() -> None:
    for text in ("Hänen asiakasnumeronsa on 104233.", "my customer number is 104233",
                 "Mitt kundnummer är 104233", "kundnumret: 104233"):
        found = _by_label(extract_entities(text), "customer_number")
        assert [e.value for e in found] == ["104233"], text
    assert not _by_label(extract_entities("In 2023 we had 104233 orders"), "customer_number")


def test_order_and_invoice_numbers_by_their_format() -> None:
    found = extract_entities("Tilaus 5012873 ja lasku 90845512 ovat kunnossa.")
    assert [e.value for e in _by_label(found, "order_number")] == ["5012873"]
    assert [e.value for e in _by_label(found, "invoice_number")] == ["90845512"]


def test_digits_inside_a_phone_number_are_not_an_order_number() -> None:
    found = extract_entities("puh. 040 5521190")
    assert not _by_label(found, "order_number")
    assert _by_label(found, "phone")


def test_finnish_postal_address_with_code_and_city() -> None:
    found = extract_entities("Uusi osoitteeni on Hämeenkatu 22 C 14, 33200 Tampere.")
    (address,) = _by_label(found, "postal_address")
    assert address.value == "Hämeenkatu 22 C 14, 33200 Tampere"


def test_person_from_signature_block() -> None:
    text = "Poistakaa tietoni.\n\nTerveisin\nOlli-Pekka Heinonen\nHeinonen Oy"
    found = extract_entities(text, signature="Terveisin\nOlli-Pekka Heinonen\nHeinonen Oy")
    (person,) = _by_label(found, "person")
    assert person.text == "Olli-Pekka Heinonen"
    assert text[person.start:person.end] == "Olli-Pekka Heinonen"


def test_person_from_display_name_wins_and_reorders_last_first() -> None:
    assert person_from_display('"Virtanen, Matti"') == "Matti Virtanen"
    assert person_from_display("Rusttet Asiakaspalvelu") == ""
    found = extract_entities("hi", from_display="Anna Berg")
    assert [e.text for e in _by_label(found, "person")] == ["Anna Berg"]


def _rectification(text: str) -> Entity:
    found = extract_entities(text)
    return next(e for e in rectification_entities(text, text, found) if e.label == "rectification")


def test_rectification_new_phone_beats_the_old_one() -> None:
    entity = _rectification(
        "Vanha numeroni 040 765 4321 ei ole enää käytössä, uusi numero on 050 123 4567.")
    assert entity.field == "phone" and entity.value == "050 123 4567"


def test_rectification_of_a_last_name_after_marriage() -> None:
    entity = _rectification(
        "Hei, menin naimisiin ja sukunimeni on nykyään Korhonen. Päivittäkää tiedot.")
    assert (entity.field, entity.value) == ("last_name", "Korhonen")


def test_rectification_of_an_email_address() -> None:
    entity = _rectification(
        "Please update my email: the old one is dead, new address: kim.ek@example.com")
    assert (entity.field, entity.value) == ("email", "kim.ek@example.com")


def test_rectification_keeps_the_grounds_as_written() -> None:
    text = "My address is wrong because I moved in May. New address: Kauppakatu 3, 40100 Jyväskylä"
    found = extract_entities(text)
    grounds = [e for e in rectification_entities(text, text, found) if e.label == "grounds"]
    assert grounds and "because I moved in May" in grounds[0].text
