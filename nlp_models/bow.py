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

import json
import struct
from collections import Counter
from itertools import chain
from pathlib import Path
from typing import Any, cast

import numpy
from murmurhash.mrmr import hash_bytes

_UINT64 = struct.Struct("<Q")
PIPE = "textcat_multilabel"


class BagOfWords:
    """Scores of token-hash lists, as the trained `textcat_multilabel` pipe gives them for
    `Doc`s of the same tokens."""

    def __init__(self, labels: list[str], weights: numpy.ndarray, bias: numpy.ndarray) -> None:
        """`weights` as thinc keeps them (label by label, `length` buckets each), `bias` one
        per label."""
        self.labels = labels
        n_out = len(labels)
        self._length = weights.size // n_out
        # One row of n_out weights per hash bucket, then the bias and a row of zeros, so a
        # doc's terms are rows picked by index.
        # Row-major (C order): picking rows by index then copies whole rows, not one strided
        # float per label (the concatenation of a transpose came out column-major, and picking
        # from it was most of the cost of scoring).
        self._rows = numpy.ascontiguousarray(numpy.concatenate([
            weights.reshape(n_out, self._length).T,
            bias.reshape(1, n_out),
            numpy.zeros((1, n_out), dtype="f"),
        ]), dtype="f")
        self._buckets: dict[int, tuple[int, int]] = {}
        """Token hash -> its two weight rows (a few per word of the vocabulary)."""

    @classmethod
    def load(cls, pipeline_dir: Path) -> BagOfWords:
        """The pipe as `nlp.to_disk` wrote it: its labels (`cfg`) and thinc's serialised model
        (`model`, msgpack), read without spaCy or thinc."""
        cfg = json.loads((pipeline_dir / PIPE / "cfg").read_text(encoding="utf-8"))
        model = unpack((pipeline_dir / PIPE / "model").read_bytes())
        names = [node["name"] for node in model["nodes"]]
        sparse, ngrams = names.index("sparse_linear"), names.index("extract_ngrams")
        if (names[0] != "with_cpu(extract_ngrams>>resizable(sparse_linear))>>with_cpu(logistic)"
                or unpack(model["attrs"][ngrams]["ngram_size"]) != 1
                or unpack(model["attrs"][sparse]["v1_indexing"])):
            raise ValueError(f"{pipeline_dir}: not a unigram TextCatBOW.v3 multi-label model")
        params = model["params"][sparse]
        labels = list(cfg["labels"])
        if model["nodes"][sparse]["dims"]["nO"] != len(labels):
            raise ValueError(f"{pipeline_dir}: {len(labels)} labels for a model of another size")
        return cls(labels, _array(params["W"]), _array(params["b"]))

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
        if len(docs) == 1:
            return [self._one(docs[0])]
        # Per doc: the bias, then hash by hash (ascending) its first row and its second row
        # times its count, added in that order as thinc adds them (float32 sums depend on it).
        # All docs at once: term t of doc n at [t, n], shorter docs padded with the zero row
        # (adding 0.0 changes no sum), summed down the first axis one term after another.
        buckets, bias, zero = self._buckets, self._length, self._length + 1
        picked: list[list[int]] = []
        times: list[list[int]] = []
        for doc in docs:
            counted = Counter(doc)
            keys = sorted(counted)
            pairs = [found if (found := buckets.get(key)) else self._bucket(key) for key in keys]
            counts = [counted[key] for key in keys]
            picked.append([bias, *chain.from_iterable(pairs)])
            times.append([1, *chain.from_iterable(zip(counts, counts, strict=True))])
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


    def _one(self, doc: list[int]) -> list[float]:
        """`scores` of one doc (most calls: a whole mail): the same sums in the same order,
        without padding, transposes or temporary arrays (numpy's per-call cost was most of
        the time for a doc of a few dozen tokens)."""
        counted = Counter(doc)
        keys = sorted(counted)
        found = list(map(self._buckets.get, keys))
        if None in found:
            bucket = self._bucket
            found = [pair or bucket(key) for key, pair in zip(keys, found, strict=True)]
        at = [self._length, *chain.from_iterable(cast(list[tuple[int, int]], found))]
        terms = self._rows[at]
        if len(keys) != len(doc):
            # Some token repeats: its rows times its count (x 1.0 elsewhere changes nothing, so
            # a doc of distinct tokens skips the product).
            counts = [counted[key] for key in keys]
            times = [1.0, *chain.from_iterable(zip(counts, counts, strict=True))]
            terms *= numpy.array(times, dtype="f")[:, None]
        # Summed down the first axis a row at a time, as `accumulate` does (not pairwise).
        sums = numpy.add.accumulate(terms, axis=0)[-1]
        numpy.clip(sums, -20.0, 20.0, out=sums)
        result: list[float] = (1.0 / (1.0 + numpy.exp(-sums))).tolist()
        return result


def _array(packed: dict[Any, Any]) -> numpy.ndarray:
    """A numpy array as srsly's msgpack writes it (`nd`, `type`, `shape`, `data`)."""
    dtype = packed[b"type"]
    dtype = dtype.decode() if isinstance(dtype, bytes) else dtype
    return numpy.frombuffer(packed[b"data"], dtype=dtype).reshape(packed[b"shape"]).copy()


def unpack(data: bytes) -> Any:
    """A msgpack document (the subset thinc writes: maps, arrays, strings, bytes, numbers,
    booleans, nil)."""
    value, end = _unpack(memoryview(data), 0)
    if end != len(data):
        raise ValueError("trailing bytes after a msgpack document")
    return value


def _unpack(buf: memoryview, at: int) -> tuple[Any, int]:
    lead = buf[at]
    at += 1
    if lead <= 0x7F:
        return lead, at
    if lead >= 0xE0:
        return lead - 0x100, at
    if 0x80 <= lead <= 0x8F:
        return _map(buf, at, lead & 0x0F)
    if 0x90 <= lead <= 0x9F:
        return _list(buf, at, lead & 0x0F)
    if 0xA0 <= lead <= 0xBF:
        size = lead & 0x1F
        return str(buf[at:at + size], "utf-8"), at + size
    if lead == 0xC0:
        return None, at
    if lead in (0xC2, 0xC3):
        return lead == 0xC3, at
    if lead in _SIZED:
        kind, width = _SIZED[lead]
        size = int.from_bytes(buf[at:at + width], "big")
        at += width
        if kind == "bin":
            return bytes(buf[at:at + size]), at + size
        if kind == "str":
            return str(buf[at:at + size], "utf-8"), at + size
        if kind == "map":
            return _map(buf, at, size)
        return _list(buf, at, size)
    if lead in _NUMBERS:
        fmt = _NUMBERS[lead]
        return fmt.unpack_from(buf, at)[0], at + fmt.size
    raise ValueError(f"msgpack type 0x{lead:02x} not supported")


def _map(buf: memoryview, at: int, size: int) -> tuple[dict[Any, Any], int]:
    out = {}
    for _ in range(size):
        key, at = _unpack(buf, at)
        out[key], at = _unpack(buf, at)
    return out, at


def _list(buf: memoryview, at: int, size: int) -> tuple[list[Any], int]:
    out = []
    for _ in range(size):
        item, at = _unpack(buf, at)
        out.append(item)
    return out, at


_SIZED = {
    0xC4: ("bin", 1), 0xC5: ("bin", 2), 0xC6: ("bin", 4),
    0xD9: ("str", 1), 0xDA: ("str", 2), 0xDB: ("str", 4),
    0xDC: ("list", 2), 0xDD: ("list", 4), 0xDE: ("map", 2), 0xDF: ("map", 4),
}
_NUMBERS = {
    0xCA: struct.Struct(">f"), 0xCB: struct.Struct(">d"),
    0xCC: struct.Struct(">B"), 0xCD: struct.Struct(">H"), 0xCE: struct.Struct(">I"),
    0xCF: struct.Struct(">Q"), 0xD0: struct.Struct(">b"), 0xD1: struct.Struct(">h"),
    0xD2: struct.Struct(">i"), 0xD3: struct.Struct(">q"),
}
