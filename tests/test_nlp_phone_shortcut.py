"""Phone numbers: the matcher's shortcut past short candidates finds what the full search does."""

from __future__ import annotations

import itertools

import phonenumbers
import pytest
from phonenumbers import phonenumbermatcher

from nlp_models import entities
from nlp_models.entities import PHONE_MIN_CHARS, extract_entities, phones

# Every character a candidate of the matcher can hold (its pattern: leading brackets and plus
# signs, punctuation, extension words and marks), and digits of three scripts.
_CANDIDATE_CHARS = sorted(
    set("([（［+＋-x‐‑‒–—―−ー－-／  \u00ad\u200b\u2060　()（）［］.[]/~⁓∼～;=,\t#＃ｘ:．")
    | set("extensionóｅｘｔｎдобanexoｉｎｔ")
    | set("0123456789")
    | set("０１２３４５６７８９")
    | set("٠١٢٣٤٥٦٧٨٩")
)


def _full_search(text: str) -> list[tuple[int, int, str]]:
    """What `phones` found before the shortcut: every candidate parsed."""
    return [
        (m.start, m.end, phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164))
        for m in phonenumbers.PhoneNumberMatcher(text, "FI")
    ]


def _found(text: str) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.value or "") for e in phones(text, [])]


def test_no_phone_number_is_written_in_fewer_than_phone_min_chars() -> None:
    for size in range(1, PHONE_MIN_CHARS):
        for chars in itertools.product(_CANDIDATE_CHARS, repeat=size):
            text = "".join(chars)
            assert not list(phonenumbers.PhoneNumberMatcher(text, "FI")), text
            try:
                number = phonenumbers.parse(text, "FI")
            except phonenumbers.NumberParseException:
                continue
            assert not phonenumbers.is_valid_number(number), text


def test_the_tries_bound_holds_for_this_phonenumbers() -> None:
    """`_TRIES_PER_CHAR` counts six inner patterns and the default of 65,535 tries."""
    assert len(phonenumbermatcher._INNER_MATCHES) <= 6
    assert entities._MATCHER_TRIES == 65_535


ODD_FORMATS = [
    "+358 40 123 4567",
    "040-1234567",
    "(09) 123 456",
    "+46 70-123 45 67",
    "040 771 3052",
    "+358 (0)9 2316 4470",
    "0046 70 123 45 67",
    "09-123 4567",
    "+358401234567",
    "050 123 45 67 / 68",
]


@pytest.mark.parametrize("number", ODD_FORMATS)
def test_phone_numbers_found_as_by_the_full_search(number: str) -> None:
    for text in (
        number,
        f"{number} soittakaa",
        f"Soita {number}",
        f"puh. {number}.",
        f"Art. 15, 3.10.2026 klo 10.14, 2 kpl: {number} (tai 1 2 3)",
        f"{number}\n15 päivää, 2 kertaa\n{number}",
    ):
        expected = _full_search(text)
        assert expected, text
        assert _found(text) == expected, text


def test_numbers_in_a_long_body_are_found_as_by_the_full_search() -> None:
    body = "Hei, poistakaa tietoni. 3 kertaa 15 päivää. " * 1200
    text = f"+358 40 123 4567 {body} 040-1234567 {body} (09) 123 456"
    assert len(text) * entities._TRIES_PER_CHAR >= entities._MATCHER_TRIES
    assert _found(text) == _full_search(text)
    assert len(_found(text)) == 3


def test_a_text_that_uses_up_the_tries_gives_up_as_before() -> None:
    """65,535 failed one-digit candidates, then a number: the matcher has given up by then, and
    skipping the short candidates must not let it go on to find the number."""
    text = "1 a " * 65_600 + "puh. 040-1234567"
    assert _full_search(text) == []
    assert _found(text) == []


def test_a_number_in_digits_of_another_script_is_still_looked_for() -> None:
    """Numbers are only looked for in text with a digit: any script's digit, as the matcher's."""
    for text in ("puh. ٠٤٠ ١٢٣ ٤٥٦٧", "puh. ０４０ １２３ ４５６７", "Soita +358 40 123 4567"):
        found = [(e.start, e.end, e.value) for e in extract_entities(text) if e.label == "phone"]
        assert found == _full_search(text), text
        assert found, text
