"""The trained bag-of-words text classifier, scored from token hashes without spaCy `Doc`s.

spaCy's `textcat_multilabel` with `spacy.TextCatBOW.v3` (unigrams) is `extract_ngrams` (each
distinct ORTH hash of a doc and its count) >> `sparse_linear` (per hash two weight rows, chosen
by MurmurHash3 of the hash with seeds 0 and 1, times the count, added to the bias in the order
of the hashes) >> `logistic`. Building a `Doc` for every mail and sentence and passing it
through thinc's layers cost more than the arithmetic itself, so :class:`BagOfWords` does the
same arithmetic here, in the same order and in float32, from the trained weights: the scores
are the same to the bit (`tests/test_nlp_bow.py` compares them with spaCy's own).
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

import numpy
from murmurhash.mrmr import hash_bytes

_UINT64 = struct.Struct("<Q")


class BagOfWords:
    """Scores of token-hash lists, as the loaded `textcat_multilabel` pipe gives them for
    `Doc`s of the same tokens."""

    def __init__(self, textcat: Any) -> None:
        model = textcat.model
        sparse = model.get_ref("output_layer")
        ngrams = model.layers[0].layers[0].layers[0]
        if (sparse.name != "sparse_linear" or sparse.attrs.get("v1_indexing")
                or ngrams.attrs.get("ngram_size") != 1 or model.layers[1].name != "with_cpu(logistic)"):
            raise ValueError(f"not a unigram TextCatBOW.v3 multi-label model: {model.name}")
        self.labels: list[str] = list(textcat.labels)
        self._length = int(sparse.get_dim("length"))
        n_out = int(sparse.get_dim("nO"))
        # One row of n_out weights per hash bucket (thinc keeps them label by label), then the
        # bias and a row of zeros, so a doc's terms are rows picked by index.
        self._rows = numpy.concatenate([
            sparse.get_param("W").reshape(n_out, self._length).T,
            sparse.get_param("b").reshape(1, n_out),
            numpy.zeros((1, n_out), dtype="f"),
        ]).astype("f")
        self._buckets: dict[int, tuple[int, int]] = {}
        """Token hash -> its two weight rows (a few per word of the vocabulary)."""

    def _bucket(self, key: int) -> tuple[int, int]:
        found = self._buckets.get(key)
        if found is None:
            packed = _UINT64.pack(key)
            found = ((hash_bytes(packed, 0) & 0xFFFFFFFF) % self._length,
                     (hash_bytes(packed, 1) & 0xFFFFFFFF) % self._length)
            self._buckets[key] = found
        return found

    def scores(self, docs: list[list[int]]) -> list[list[float]]:
        """Per doc (a list of token hashes), the probability of each label in `labels`."""
        if not any(docs):
            return [[0.0] * len(self.labels) for _ in docs]
        # Per doc: the bias, then hash by hash (ascending) its first row and its second row
        # times its count, added in that order as thinc adds them (float32 sums depend on it).
        # All docs at once: term t of doc n at [t, n], shorter docs padded with the zero row
        # (adding 0.0 changes no sum), summed down the first axis one term after another.
        buckets, bias, zero = self._buckets, self._length, self._length + 1
        picked: list[list[int]] = []
        times: list[list[int]] = []
        for doc in docs:
            counted = Counter(doc)
            rows, values = [bias], [1]
            for key in sorted(counted):
                rows.extend(buckets.get(key) or self._bucket(key))
                count = counted[key]
                values += (count, count)
            picked.append(rows)
            times.append(values)
        longest = max(map(len, picked))
        for rows, values in zip(picked, times, strict=True):
            rows.extend([zero] * (longest - len(rows)))
            values.extend([0] * (longest - len(values)))
        at = numpy.asarray(picked).T
        terms = self._rows[at] * numpy.asarray(times, dtype="f").T[:, :, None]
        sums = numpy.add.accumulate(terms, axis=0)[-1]
        clipped = numpy.clip(sums, -20.0, 20.0)
        probabilities = 1.0 / (1.0 + numpy.exp(-clipped))
        result: list[list[float]] = probabilities.tolist()
        return result
