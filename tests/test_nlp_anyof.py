"""`AnyOf`: a long alternation searched in parts answers as the whole pattern does."""

from __future__ import annotations

import re

import pytest

from nlp_models import reminders
from nlp_models.anyof import AnyOf, top_level_branches
from nlp_models.preprocess import fold_aligned

TEXTS = [
    "no???",
    "Hei\n\nno???\n\n> Pyysin 3.10. tietojeni poistoa",
    "hallå??",
    "Any news?",
    "Did you get my mail? I sent it on 3 October.",
    "Tuliko viestini perille? Lähetin sen.",
    "Muistutus: pyyntöni 3.10. on vastaamatta",
    "Maksumuistutus: lasku 123",
    "kiitos",
    "Har ni fått mitt mejl? Jag skickade det i oktober.",
    "",
    "???",
    "well ?? \n",
    "It has been five weeks since I wrote",
    "onko tämä hoidossa?",
    "Påminnelse om faktura",
]


@pytest.mark.parametrize("name", ["_REMINDER", "_ARRIVED", "_EARLIER"])
def test_anyof_answers_as_the_whole_pattern(name: str) -> None:
    any_of = getattr(reminders, name)
    whole = re.compile(any_of.pattern)
    for text in TEXTS:
        folded = fold_aligned(text)
        assert any_of.search(folded) == bool(whole.search(folded)), text
    assert len(any_of.patterns) <= 3


def test_top_level_branches_respect_groups_classes_and_escapes() -> None:
    pattern = r"\ba(?:b|c)|[|]|\||[]|]x|[^]|]y|\bd|\bd?e|\b[fg]h|\bah"
    assert top_level_branches(pattern)[:6] == [
        r"\ba(?:b|c)",
        "[|]",
        r"\|",
        "[]|]x",
        "[^]|]y",
        r"\bd",
    ]
    assert "|".join(top_level_branches(pattern)) == pattern
    any_of = AnyOf(pattern)
    for text in [
        "ab",
        "|",
        "]x",
        "y",
        "zy",
        "d",
        "xd",
        "q",
        "e",
        "de",
        "xe",
        "fh",
        "gh",
        "ah",
        "xah",
    ]:
        assert any_of.search(text) == bool(re.search(pattern, text)), text


def test_anyof_refuses_patterns_whose_branches_would_lose_their_flags() -> None:
    with pytest.raises(ValueError):
        AnyOf(r"(?i)\bfoo|\bbar")
    with pytest.raises(ValueError):
        AnyOf(r"\bfoo # a comment | not a branch", re.VERBOSE)
    with pytest.raises(ValueError):
        AnyOf(r"\b(a)\1|\bb")


def test_an_alternative_without_the_shared_word_start_is_searched_alone() -> None:
    """One such alternative in the whole pattern made `re` try every alternative at every
    character (the "no???" line of `_ARRIVED`: ~8x the time)."""
    any_of = AnyOf(r"\bfoo|\bbar|(?:^|\n)\W*\?{2,}|\bbaz")
    assert [p.pattern for p in any_of.patterns] == [
        r"\b(?:f(?:oo)|b(?:ar|az))",
        r"(?:^|\n)\W*\?{2,}",
    ]


def test_a_leading_group_of_words_is_tried_word_by_word() -> None:
    """ "\\b(?:second|third) time" as "\\bsecond time|\\bthird time", grouped by first letter; a
    quantified group stays as written."""
    pattern = r"\b(?:second|third) time|\bfoo|\b(?:a|\d+) b|\b(?:x|y)?z|\b(?:p(?:q|r)|s)\b"
    any_of = AnyOf(pattern)
    assert [p.pattern for p in any_of.patterns] == [
        r"\b(?:s(?:econd time|\b)|t(?:hird time)|f(?:oo)|a(?: b)|p(?:(?:q|r)\b)|\d+ b|(?:x|y)?z)"
    ]
    for text in [
        "second time",
        "the third time",
        "xsecond time",
        "foo",
        "a b",
        "12 b",
        "z",
        "xz",
        "yz",
        "pq",
        "pr",
        "ps",
        "s",
        "xs",
        "sa",
        "secondtime",
        "b",
    ]:
        assert any_of.search(text) == bool(re.search(pattern, text)), text


def test_letters_then_a_word_end_are_looked_for_after_any_word_character() -> None:
    """ "\\b\\w+kuusta" is "kuusta" after a word character (the "\\w+" back to the word's start
    is always there): no word read to its end and given back a letter at a time."""
    pattern = r"\b\w+kuusta\b|\b(?:pari|\w+) viikkoa sitten|\bfoo"
    any_of = AnyOf(pattern)
    assert [p.pattern for p in any_of.patterns] == [
        r"\b(?:p(?:ari viikkoa sitten)|f(?:oo))",
        r"(?<=\w)(?:kuusta\b| viikkoa sitten)",
    ]
    for text in [
        "lokakuusta",
        "kuusta",
        " kuusta",
        "lokakuustaan",
        "kolme viikkoa sitten",
        " viikkoa sitten",
        "pari viikkoa sitten",
        "3 viikkoa sitten",
        "ä viikkoa sitten",
        "-kuusta",
        "_kuusta",
        "foo",
    ]:
        assert any_of.search(text) == bool(re.search(pattern, text)), text
