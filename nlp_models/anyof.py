"""Yes/no searches for long alternations of phrases, grouped the way Python's `re` is fast.

`re` moves a prefix that every alternative shares out of the alternation (`\\bfoo|\\bbar` is
searched as `\\b(?:foo|bar)`), so the alternatives are tried only where a word starts. One
alternative without that `\\b` (the reminders' "no???" on a line of its own) undoes it: every
alternative is then tried at every character, and the search cost about eight times as much
(the largest single cost of classifying a mail). Whether some alternative matches somewhere
does not depend on how the alternatives are grouped, so :class:`AnyOf` searches the word-led
ones as one pattern and each other one alone, and answers only yes or no.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_LETTER_LED = re.compile(r"\\b[a-z0-9 '](?![?*+{])")
"""An alternative that starts a word with a letter taken as itself (not quantified)."""
_LETTER = re.compile(r"[a-z0-9 '](?![?*+{])")
_IN_WORD = re.compile(r"\\b\\w\+(?![?*+{])")
"""An alternative that starts a word with "\\w+" (not "\\w+?", not quantified again)."""


def _outside_classes(text: str) -> Iterator[tuple[int, str]]:
    """Each character of `text` that is neither escaped nor in a character class, with its
    index: where groups open and close and alternatives part."""
    i, in_class = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 1
            if text.startswith("^", i):
                i += 1
            if text.startswith("]", i):  # "[]...]" and "[^]...]": a literal "]"
                i += 1
            continue
        else:
            yield i, char
        i += 1


def top_level_branches(pattern: str) -> list[str]:
    """The alternatives of `pattern` at nesting depth 0 (escapes, groups and character
    classes respected), in order: `"|".join` of them is `pattern` again."""
    out: list[str] = []
    depth, start = 0, 0
    for i, char in _outside_classes(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    out.append(pattern[start:])
    return out


def _expanded(branches: list[str]) -> list[str]:
    """Word-led alternatives that start with a group of letter-led ones ("\\b(?:second|third)
    time") as one alternative each ("\\bsecond time", "\\bthird time"), so that they too are
    grouped by their first letter: the same matches, for a yes/no search."""
    out: list[str] = []
    for branch in branches:
        inner = _leading_group(branch[2:]) if branch.startswith(r"\b(?:") else None
        if inner is None:
            out.append(branch)
            continue
        group, rest = inner
        if rest[:1] in ("?", "*", "+", "{"):
            out.append(branch)  # a quantified group
            continue
        out.extend(rf"\b{option}{rest}" for option in top_level_branches(group))
    return out


def _leading_group(text: str) -> tuple[str, str] | None:
    """("a|b", "rest") for "(?:a|b)rest"; None when the group does not close."""
    depth = 0
    for i, char in _outside_classes(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[3:i], text[i + 1 :]
    return None


class AnyOf:
    """`bool(re.compile(pattern, flags).search(text))`, searched as a few patterns (see the
    module docstring). Not for verbose patterns, inline global flags (a branch would lose
    them) or capturing groups: those raise `ValueError`."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        whole = re.compile(pattern, flags)
        if flags & re.VERBOSE or whole.flags != re.compile("", flags).flags or whole.groups:
            # (Groups are renumbered when the alternatives are regrouped.)
            raise ValueError("AnyOf: no verbose patterns, inline global flags or groups")
        self.pattern = pattern
        by_letter: dict[str, list[str]] = {}
        word_led: list[str] = []
        in_word: list[str] = []
        other: list[str] = []
        for branch in _expanded(top_level_branches(pattern)):
            if _LETTER_LED.match(branch):
                by_letter.setdefault(branch[2], []).append(branch[3:])
            elif _IN_WORD.match(branch):
                # "\bw+ viikkoa" matches somewhere exactly where " viikkoa" follows a word
                # character (back to that word's start is the "\w+"); tried at each word start,
                # "\w+" read the whole word and gave it back a letter at a time.
                in_word.append(branch[5:])
            elif branch.startswith(r"\b"):
                word_led.append(branch[2:])
            else:
                other.append(branch)
        # At a word start, `re` tries each alternative in turn; grouped by their first letter,
        # the others are passed over in one test of that letter.
        word_led[:0] = [f"{letter}(?:{'|'.join(rests)})" for letter, rests in by_letter.items()]
        sources = [rf"\b(?:{'|'.join(word_led)})"] if word_led else []
        sources += [rf"(?<=\w)(?:{'|'.join(in_word)})"] if in_word else []
        self.patterns = tuple(re.compile(source, flags) for source in [*sources, *other])

    def search(self, text: str) -> bool:
        """Whether some alternative matches somewhere in `text`."""
        return any(p.search(text) for p in self.patterns)
