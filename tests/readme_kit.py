"""README.md's "Your first request, end to end", read as the test's script.

The section's ``sh`` blocks are the commands (run by bash in the example's folder, ``dsrbot``
being this checkout's CLI); each plain fenced block after them is what those commands print.
A printed line is compared after :func:`mask` hides what differs from run to run (ids, codes,
dates, the pid); ``...`` in a printed block skips lines. So the README cannot drift from what
the product does, and the test cannot drift from the README.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Your first request, end to end"
#: The folder and SMTP port the README's example uses; the test's own are put in their place.
README_FOLDER = "/tmp/dsrbot-try"
README_PORT = "8025"

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December")
_MASKS = (
    (re.compile(r"DSR-\d{4}-\d{4,6}"), "DSR-ID"),
    (re.compile(r"<dsrbot\.[^>\s]+>"), "<MESSAGE-ID>"),
    (re.compile(r"(Confirmation code:) \S+"), r"\1 CODE"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "DATE"),
    (re.compile(rf"\b\d{{1,2}} (?:{_MONTHS}) \d{{4}}"), "LONG-DATE"),
    (re.compile(r"pid \d+ on [^,]+, heartbeat \d+ s"), "pid N on HOST, heartbeat N s"),
    (re.compile(r"\b\d+ entries"), "N entries"),
)


@dataclass
class Step:
    """Commands from one ``sh`` block and what the README says they print (may be empty).

    ``comments`` holds each command's trailing comment: in the setup block it is the line the
    command prints (``dsrbot init  # database ready: revision ...``)."""

    commands: list[str]
    comments: list[str]
    printed: list[str] = field(default_factory=list)


@dataclass
class Flow:
    files: dict[str, str]
    steps: list[Step]


def section(text: str) -> str:
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end != -1 else len(text)]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block, in order."""
    return [(m.group(1), m.group(2))
            for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)]


def _commands(body: str, files: dict[str, str]) -> Step:
    """Shell commands of one block: heredocs become files, multi-line quotes stay one command,
    the folder setup goes, trailing comments are kept apart."""
    commands: list[str] = []
    comments: list[str] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.fullmatch(r"cat > (\S+) <<'(\w+)'", line)
        if heredoc:
            end = lines.index(heredoc.group(2), i + 1)
            files[heredoc.group(1)] = "\n".join(lines[i + 1:end]) + "\n"
            i = end + 1
            continue
        command = line
        while not _complete(command):
            i += 1
            command += "\n" + lines[i]
        i += 1
        comment = command[len(_strip_comment(command)):].strip().lstrip("#").strip()
        command = _strip_comment(command).strip()
        if command and not command.startswith(("mkdir ", "cd ")):
            commands.append(command)
            comments.append(comment)
    return Step(commands, comments)


def _complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(_strip_comment(command))
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def _strip_comment(command: str) -> str:
    return re.sub(r"\s+#[^'\"\n]*$", "", command) if not command.startswith("#") else ""


def read_flow(path: Path = README) -> Flow:
    files: dict[str, str] = {}
    steps: list[Step] = []
    for language, body in fenced_blocks(section(path.read_text(encoding="utf-8"))):
        if language == "sh":
            steps.append(_commands(body, files))
        elif language == "" and steps:
            steps[-1].printed.extend(body.splitlines())
    return Flow(files, steps)


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def missing_lines(printed: list[str], output: str) -> list[str]:
    """The README's printed lines not found in ``output``: each run between ``...`` lines must
    appear as consecutive lines, the runs in order. Empty when the output matches."""
    actual = [mask(line.rstrip()) for line in output.splitlines()]
    position = 0
    missing: list[str] = []
    for run in _runs(printed):
        wanted = [mask(line.rstrip()) for line in run]
        found = next((i for i in range(position, len(actual) - len(wanted) + 1)
                      if actual[i:i + len(wanted)] == wanted), None)
        if found is None:
            missing.extend(run)
        else:
            position = found + len(wanted)
    return missing


def _runs(printed: list[str]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for line in printed:
        if line.strip() == "...":
            runs.append([])
        else:
            runs[-1].append(line)
    return [r for r in runs if r]
