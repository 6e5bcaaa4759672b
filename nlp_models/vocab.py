"""The trained pipeline's vocabulary as spaCy keeps it, without importing spaCy.

Importing spaCy took two thirds of the classifier's load time, and classifying needs only two
things from it: whether a token is a known string (else it becomes `#unk`) and the token's hash
(ORTH), which the bag-of-words model is keyed by. :class:`Vocabulary` gives both the way
spaCy's `Vocab` and `StringStore` do, to the hash:

* known: the strings of `vocab/strings.json`, spaCy's built-in symbols (`spacy_symbols.json`, a
  copy of `spacy.symbols.IDS`: "det", "list", "case" are symbols, not stored strings) and "";
* the hash of a symbol is its number, of any other string MurmurHash64A of its UTF-8 bytes with
  seed 1 (`spacy.strings.hash_string`);
* the first time a token is used its lexeme is made, and the strings spaCy derives from it (lower
  case, norm, first letter, last three letters, shape, language) become known from then on, as
  they did when the classifier built spaCy `Doc`s: a few tokens ("det" after "s:det"...) score
  differently before and after, and so they still do.

`tests/test_nlp_bow.py` checks each of these against spaCy itself.
"""

from __future__ import annotations

import json
from pathlib import Path

_SYMBOLS_FILE = Path(__file__).resolve().parent / "spacy_symbols.json"
_MASK = (1 << 64) - 1
_M = 0xC6A4A7935BD1E995


def hash_string(text: str) -> int:
    """spaCy's `hash_string`: MurmurHash64A (64-bit, seed 1) of the UTF-8 bytes."""
    data = text.encode("utf-8")
    length = len(data)
    h = (1 ^ (length * _M)) & _MASK
    end = length - length % 8
    for i in range(0, end, 8):
        k = int.from_bytes(data[i:i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    if length % 8:
        h ^= int.from_bytes(data[end:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


def word_shape(text: str) -> str:
    """spaCy's `word_shape` ("Xxxxx", "dd.dd"): the lexeme attribute SHAPE."""
    if len(text) >= 100:
        return "LONG"
    shape = []
    last = ""
    seq = 0
    for char in text:
        if char.isalpha():
            shape_char = "X" if char.isupper() else "x"
        elif char.isdigit():
            shape_char = "d"
        else:
            shape_char = char
        if shape_char == last:
            seq += 1
        else:
            seq = 0
            last = shape_char
        if seq < 4:
            shape.append(shape_char)
    return "".join(shape)


class Vocabulary:
    """Known strings and token hashes of one trained pipeline (see the module docstring)."""

    def __init__(self, strings: list[str], symbols: dict[str, int], lang: str) -> None:
        self._symbols = symbols
        self._lang = lang
        self.known: set[str] = {"", *strings, *symbols}
        """Strings spaCy's `StringStore` holds now (`token in known`)."""
        self.orths: dict[str, int] = {}
        """Tokens whose lexeme has been made -> their hash (read-only outside)."""

    @classmethod
    def load(cls, pipeline_dir: Path, lang: str) -> Vocabulary:
        strings = json.loads((pipeline_dir / "vocab" / "strings.json").read_text(encoding="utf-8"))
        symbols = json.loads(_SYMBOLS_FILE.read_text(encoding="utf-8"))
        return cls(strings, symbols, lang)

    def orth(self, token: str) -> int:
        """The hash of a known token (ORTH), making its lexeme the first time (see above).
        Norm is lower case here: spaCy's norm exceptions are punctuation and currency signs,
        never a token of ours."""
        found = self.orths.get(token)
        if found is None:
            symbol = self._symbols.get(token)
            found = self.orths[token] = hash_string(token) if symbol is None else symbol
            self.known.update((token, token.lower(), token[:1], token[-3:], word_shape(token),
                               self._lang))
        return found
