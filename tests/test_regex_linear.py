"""Every regex that reads mail text runs in time linear in its input (issue 14).

A regex holds the interpreter lock: one quadratic pattern on a long run of address-like
characters froze the whole service for minutes. The patterns are found, not listed: every
compiled pattern at module level in ``handlers``, ``mailformat`` and ``nlp_models`` and every
``re.<function>("literal", ...)`` call in their source. Hypothesis draws long runs of every
character class (and mixtures); each pattern scans a run of 1,000 and of 30,000 characters,
and the work per character may grow at most 10x. Linear patterns stay within ~3x (the longer
run no longer fits the CPU caches); a quadratic one grows 30x. Nothing is timed absolutely:
the absolute worst cases are in ``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import ast
import gc
import importlib
import pkgutil
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handlers
import mailformat
import nlp_models
from nlp_models.anyof import AnyOf

ROOT = Path(__file__).resolve().parent.parent
SHORT, GROWTH, MAX_RATIO = 1_000, 30, 10.0
#: Pieces a hostile run is made of: each character class the address, quote, header and
#: signature patterns care about, and non-ASCII letters.
PIECES = ["a", "Z", "ä", "用", "7", ".", "@", "-", "_", "%", "+", " ", "\t", "\n", ">", "=",
          "<", "(", ":", "#", "/", "'", "A. ", "a@", "a.", "-- ", "\n \n", "DSR-", "www.",
          "-----BEGIN PGP MESSAGE-----", "customer number", "kirjoitti", "Aa "]


def _module_patterns() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for package in (handlers, mailformat, nlp_models):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for key, value in vars(module).items():
                values = value.values() if isinstance(value, dict) else (
                    value if isinstance(value, tuple | list) else (value,))
                for i, item in enumerate(values):
                    item = item[0] if isinstance(item, tuple) and item else item
                    if isinstance(item, re.Pattern) and isinstance(item.pattern, str):
                        found[f"{info.name}.{key}[{i}]"] = item
                    if isinstance(item, AnyOf):  # the patterns it searches in its stead
                        for j, part in enumerate(item.patterns):
                            found[f"{info.name}.{key}[{i}].{j}"] = part
    return found


def _inline_patterns() -> dict[str, re.Pattern[str]]:
    """``re.sub(r"...", ...)`` and friends with a literal pattern, anywhere in the source."""
    found: dict[str, re.Pattern[str]] = {}
    for folder in ("handlers", "mailformat", "nlp_models"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found[where] = re.compile(node.args[0].value)
    return found


PATTERNS = {**_module_patterns(), **_inline_patterns()}


def _work(pattern: re.Pattern[str], text: str, repeats: int = 3) -> float:
    best = float("inf")
    gc.disable()  # a collection in the middle would be charged to the regex
    try:
        for _ in range(repeats):  # the least disturbed run
            t0 = time.perf_counter()
            for _match in pattern.finditer(text):
                pass
            pattern.match(text)
            best = min(best, time.perf_counter() - t0)
    finally:
        gc.enable()
    return best


def _growth(pattern: re.Pattern[str], short: str, long: str, repeats: int = 3) -> float:
    """How much the work per character grows from ``short`` to ``long``."""
    base = max(_work(pattern, short, repeats), 5e-6)  # below ~5 µs the clock counts, not re
    return _work(pattern, long, repeats) / base * len(short) / len(long)


def test_patterns_are_found() -> None:
    """The collection itself works: the address patterns the attack used are among them."""
    names = " ".join(PATTERNS)
    assert len(PATTERNS) > 60
    assert "mailformat.addresses.ADDRESS_IN_TEXT" in names
    assert "handlers.identity.candidates._CUSTOMER_NUMBER" in names


runs = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=runs)
def test_address_regexes_are_linear(unit: str) -> None:
    """A run 30 times longer costs about 30 times the work, for every pattern over mail."""
    short = unit * (SHORT // len(unit) + 1)
    long = short * GROWTH
    slow = {}
    for name, pattern in PATTERNS.items():
        ratio = _growth(pattern, short, long)
        if ratio > MAX_RATIO:  # measured again: a busy machine can spoil one measurement
            ratio = min(ratio, _growth(pattern, short, long), _growth(pattern, short, long))
        if ratio > MAX_RATIO:
            slow[name] = round(ratio)
    assert not slow, f"superlinear on runs of {unit[:40]!r}: {slow}"


@pytest.mark.parametrize("name", ["mailformat.addresses.ADDRESS_IN_TEXT[0]"])
def test_the_linear_check_catches_the_old_address_pattern(name: str) -> None:
    """The check above can fail: the pattern the attack used is quadratic by its measure."""
    old = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
    short = "a" * SHORT
    assert _growth(old, short, short * GROWTH, repeats=1) > MAX_RATIO
    assert name in PATTERNS
