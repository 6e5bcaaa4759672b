"""`is_garbage` counts visible characters with `str.split`, as the `\\s+` it replaced did."""

from __future__ import annotations

import re
import sys


def test_str_split_splits_exactly_where_regex_whitespace_matches() -> None:
    space = re.compile(r"\s")
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(space.match(char)) == (len(f"a{char}b".split()) == 2), hex(code)
