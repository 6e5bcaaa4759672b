"""The one place the CLI turns an error into a message: ``DsrbotError`` -> one line, exit code.

Every command raises the domain's own errors (a case rule, a bad CSV row, a setting, a mail
that is not one) and none catches them just to print them: the group below does, for every
command at once, so the wording ("dsrbot: ...") and the exit codes cannot drift between
commands. ``CorpusError`` joins it because ``nlp_models`` stands apart from our packages and
cannot derive from the root (it is looked up, not imported: most commands never load the
model package). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Any

from typer.core import TyperGroup

from bot.cli.context import fail
from mailformat import DsrbotError


def _is_corpus_error(exc: Exception) -> bool:
    corpus = sys.modules.get("nlp_models.corpus")
    return corpus is not None and isinstance(exc, corpus.CorpusError)


class OneLineErrors(TyperGroup):
    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except DsrbotError as exc:
            raise fail(exc.one_line(), exc.exit_code) from None
        except Exception as exc:
            if _is_corpus_error(exc):
                raise fail(" ".join(str(exc).split())) from None
            raise
