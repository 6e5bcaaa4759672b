"""Classifying faster changes no answer: remembered clauses and cheap first looks give what the
word-by-word reading and the full patterns gave (issue 18; the whole corpus is compared by
`benchmarks/classify_equivalence.py`)."""

from __future__ import annotations

import re

from nlp_models.entities import extract_entities
from nlp_models.features import (
    _CLAUSE,
    MAX_TOKENS,
    STEM_LENGTH,
    WORD,
    _negation_scope,
    _word_tokens,
    concepts_of,
    model_tokens,
)


def _word_by_word(folded: str, marker: str = "") -> list[str]:
    """The tokens as they were built before clauses were remembered (main at 708a26f)."""
    out: list[str] = [f"@art{m.group(1) or m.group(2)}" for m in re.finditer(
        r"\b(?:art(?:ikla|iklan|icle|ikel|iklarna|\.)?\s*(\d{1,2})|(\d{1,2})\s*(?:\.\s*)?"
        r"art(?:ikla|iklan|\.)?)\b", folded)]
    for clause in _CLAUSE.split(folded):
        words = WORD.findall(clause)
        concepts = [concepts_of(word) for word in words]
        negated = _negation_scope(concepts)
        seen: list[str] = []
        for i, word in enumerate(words):
            if len(out) >= MAX_TOKENS:
                return out
            if word[0] == "#" or word.isdigit():
                out.append(word if word[0] == "#" else f"#{min(len(word), 9)}")
                continue
            out.append(marker + word)
            if len(word) > STEM_LENGTH:
                out.append(word[:STEM_LENGTH] + "~")
            for concept in concepts[i]:
                if concept == "negation":
                    continue
                name = f"not_{concept}" if negated[i] else concept
                out.append("@" + concept)
                if negated[i]:
                    out.append("@" + name)
                if name not in seen:
                    seen.append(name)
        seen.sort()
        out.extend(f"@{a}+{b}" for i, a in enumerate(seen) for b in seen[i + 1:])
    return out


TEXTS = [
    "please delete my data. do not delete my order history; keep only the invoices",
    "  poistakaa tietoni rekisteristänne (asiakasnumero 131009) - ei markkinointia  ",
    "art. 15 ja 17: haluan kopion. #email #phone 040 123. radera inte mitt konto!",
    "stop sending newsletters\nstop sending newsletters\n\n stop sending newsletters ",
]


def test_a_clause_met_again_gives_the_same_tokens_as_word_by_word() -> None:
    for marker in ("", "s:"):
        for text in TEXTS + TEXTS:  # the second time every clause is remembered
            assert _word_tokens(text, marker) == _word_by_word(text, marker)


def test_the_token_cut_falls_where_word_by_word_put_it() -> None:
    # Clauses of several words each, so the cut falls inside a remembered clause.
    for n in range(60, 70):
        text = " ".join(["please delete my personal data and stop the newsletter."] * n)
        assert len(_word_by_word(text)) >= MAX_TOKENS
        assert _word_tokens(text) == _word_by_word(text)


def test_upper_case_links_and_international_numbers_still_become_placeholders() -> None:
    tokens = model_tokens("", "Katso WWW.FIRMA.FI ja soita +46 73 123 45 67")
    assert tokens.count("#url") == 1 and tokens.count("#phone") == 1
    assert "firma" not in tokens
    assert model_tokens("", "tai HTTPS://X.FI/A").count("#url") == 1


def test_upper_case_links_ip_addresses_addresses_and_numbers_are_still_found() -> None:
    text = ("Katso WWW.Firma.fi, IP 10.0.0.1. Osoite Rantakatu 7, 00100 Helsinki. "
            "Tilaus 5012345, lasku 91234567, asiakasnumero 131009.")
    labels = {e.label for e in extract_entities(text)}
    assert {"www", "ip_address", "postal_address", "order_number", "invoice_number",
            "customer_number"} <= labels
