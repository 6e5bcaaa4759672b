"""Render a letter of a known kind in Finnish, English or Swedish, as text and HTML.

Why it is built this way:

* Every word comes from a per-language catalogue (``catalogue/{fi,en,sv}.toml``) that ships
  with the code, and every letter's structure from one template per kind
  (``templates/{kind}.j2``) that also ships with the code. Translators edit one file per
  language; a test checks that the three catalogues have the same keys and placeholders.
* The same template renders twice: once as plain text and once as HTML with autoescaping,
  by importing a different macro file (``_text.j2`` or ``_html.j2``). Values from requests
  and from the register reach the output only as variables, so a name like
  ``<script>`` or ``{{ 7*7 }}`` is printed, never executed. Templates are never built from
  user-supplied text, and both environments are sandboxed with ``StrictUndefined``: a missing
  value is an error, never a silent blank.
* Dates and amounts are formatted per language with Babel.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from handlers.letters.filters import FILTERS
from handlers.policy import DEFAULT_TIMEZONE
from mailformat import DsrbotError

LANGUAGES: tuple[str, ...] = ("fi", "en", "sv")
DEFAULT_LANGUAGE = "fi"
LOCALES: Mapping[str, str] = {"fi": "fi_FI", "en": "en_GB", "sv": "sv_FI"}
#: Money patterns where the locale's own differs from ours (None: the locale's; ``¤¤`` is the
#: ISO code, the no-break space keeps amount and currency on one line).
MONEY_FORMATS: Mapping[str, str] = {"en": "¤¤\u00a0#,##0.00"}

#: Every kind of letter the product sends. Each has ``templates/{kind}.j2`` and a
#: ``[{kind}]`` section with at least ``subject`` in every catalogue.
LETTER_KINDS: tuple[str, ...] = (
    "receipt",
    "identity_challenge",
    "identity_reminder",
    "identity_cancelled",
    "identity_still_needed",
    "extension",
    "access_report",
    "portability",
    "rectification_done",
    "rectification_notice",
    "recipient_notice",
    "erasure_done",
    "erasure_partial",
    "refusal",
    "objection_outcome",
    "restriction_outcome",
    "marketing_optout",
    "publication_ban",
    "neutral",
    "information_request",
    "authority_refused",
)

#: Letters that close (or refuse) a request: they must name the supervisory authority.
FINAL_KINDS: frozenset[str] = frozenset({
    "extension", "access_report", "portability", "rectification_done", "erasure_done",
    "erasure_partial", "refusal", "objection_outcome", "restriction_outcome",
    "marketing_optout", "publication_ban",
})

#: Kinds whose template prints ``case_id`` as plain text and nothing else depends on it: one
#: rendering per language and other values serves every case (see ``LetterRenderer.render``).
CASE_ID_ONLY_KINDS: frozenset[str] = frozenset({"receipt"})
#: Renderings kept per process for those kinds (a day's dates x languages x request types).
MAX_MEMO = 512
#: Stands for the case id in a kept rendering: a private-use character, which neither HTML
#: escaping nor the tidying changes, repeated to the id's length so nothing shifts.
_CASE_MARK = "\ue000"

_HERE = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class LetterError(DsrbotError):
    """A letter could not be rendered: unknown kind, or a value its template needs is missing."""


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str | None


def normalise_language(language: str | None) -> str:
    """``fi``/``en``/``sv`` from a code like ``sv-FI`` or ``EN``; anything else is Finnish."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = str(value)
    return out


def placeholders(message: str) -> set[str]:
    return set(_PLACEHOLDER.findall(message))


class _Formatter(string.Formatter):
    """``{name}`` only: no attribute access, no indexing, no format specs in catalogue text."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field_name):
            raise LetterError(f"catalogue placeholder {{{field_name}}} is not a plain name")
        return super().get_field(field_name, args, kwargs)


@dataclass(frozen=True)
class Catalogue:
    language: str
    messages: Mapping[str, str]

    def get(self, key: str, **params: Any) -> str:
        try:
            message = self.messages[key]
        except KeyError:
            raise LetterError(f"no text for {key!r} in the {self.language} catalogue") from None
        try:
            return _Formatter().vformat(message, (), {k: str(v) for k, v in params.items()})
        except KeyError as exc:
            raise LetterError(f"text {key!r} needs the value {exc.args[0]!r}") from None

    def has(self, key: str) -> bool:
        return key in self.messages


@functools.cache
def load_catalogue(language: str) -> Catalogue:
    """Read one language's catalogue once per process (files ship with the code)."""
    language = normalise_language(language)
    with (_HERE / "catalogue" / f"{language}.toml").open("rb") as fh:
        return Catalogue(language, _flatten(tomllib.load(fh)))


class LetterRenderer:
    """Two sandboxed environments over the shipped templates: text (plain) and HTML (escaped)."""

    def __init__(self, template_dir: Path = _HERE / "templates") -> None:
        common: dict[str, Any] = {
            "loader": FileSystemLoader(str(template_dir)),
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
        }
        #: (kind, language, html, zone, the other values, id length) -> the rendering
        self._memo: dict[tuple[Any, ...], Letter] = {}
        self._text = SandboxedEnvironment(autoescape=False, **common)
        self._html = SandboxedEnvironment(autoescape=True, **common)
        for env in (self._text, self._html):
            env.filters.update(FILTERS)

    def render(self, kind: str, language: str, context: Mapping[str, Any], *,
               html: bool = True, tz: ZoneInfo | None = None) -> Letter:
        """The letter; for :data:`CASE_ID_ONLY_KINDS` rendered once per language and values
        other than ``case_id`` and kept (a batch of mail sends hundreds of receipts, each two
        Jinja renderings), the case id put in by replacing its mark."""
        case_id = context.get("case_id")
        key = _memo_key(kind, language, context, html, tz) if kind in CASE_ID_ONLY_KINDS else None
        if key is None or not isinstance(case_id, str) or _CASE_MARK in case_id:
            return self._render(kind, language, context, html=html, tz=tz)
        mark = _CASE_MARK * len(case_id)
        kept = self._memo.get(key)
        if kept is None:
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            kept = self._render(kind, language, {**context, "case_id": mark}, html=html, tz=tz)
            self._memo[key] = kept
        return Letter(subject=kept.subject.replace(mark, case_id),
                      text=kept.text.replace(mark, case_id),
                      html=kept.html.replace(mark, case_id) if kept.html is not None else None)

    def _render(self, kind: str, language: str, context: Mapping[str, Any], *,
                html: bool = True, tz: ZoneInfo | None = None) -> Letter:
        if kind not in LETTER_KINDS:
            raise LetterError(f"unknown letter kind {kind!r}")
        lang = normalise_language(language)
        cat = load_catalogue(lang)
        helpers = _helpers(cat, lang, tz or ZoneInfo(DEFAULT_TIMEZONE))
        values = {**context, **helpers, "language": lang, "kind": kind}
        try:
            subject = cat.get(f"{kind}.subject", **_subject_params(context))
            text = self._text.get_template(f"{kind}.j2").render(values, fmt="_text.j2")
            markup = (self._html.get_template(f"{kind}.j2").render(values, fmt="_html.j2")
                      if html else None)
        except (TemplateError, LetterError) as exc:
            raise LetterError(f"letter {kind!r} ({lang}) could not be rendered: {exc}") from exc
        return Letter(subject=subject, text=_tidy_text(text),
                      html=_tidy_html(markup, lang) if markup is not None else None)


def _frozen(value: Any) -> Any:
    """A hashable copy of a context value (dicts and lists as tuples), or raise TypeError."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, *(_frozen(v) for v in value))
    hash(value)
    return (type(value).__name__, value)


def _memo_key(kind: str, language: str, context: Mapping[str, Any], html: bool,
              tz: ZoneInfo | None) -> tuple[Any, ...] | None:
    """Everything the rendering depends on but the case id (None: a value is not hashable).
    Values are keyed by type too: a date and a datetime print differently."""
    try:
        rest = _frozen({k: v for k, v in context.items() if k != "case_id"})
    except TypeError:
        return None
    case_id = context.get("case_id")
    return (kind, normalise_language(language), html, tz.key if tz else None, rest,
            len(case_id) if isinstance(case_id, str) else None)


def _subject_params(context: Mapping[str, Any]) -> dict[str, Any]:
    return {"case_id": context.get("case_id", "")}


def _defined(value: Any) -> Any:
    """StrictUndefined only fails when printed; a helper given one must fail as loudly."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


@functools.lru_cache(maxsize=4096)
def long_date(value: date, locale: str) -> str:
    """Babel's long date, cached for the process: every letter repeats the same few dates.
    (Module level, so the cache outlives one render; a cache on a helper made per render
    would never be hit.)"""
    return format_date(value, format="long", locale=locale)


@functools.lru_cache(maxsize=4096)
def euros(cents: int, locale: str) -> str:
    """``199,90 €`` in Finnish and Swedish, ``EUR 199.90`` in English (the code, not ``€``)."""
    return format_currency(cents / 100, "EUR", locale=locale,
                           format=MONEY_FORMATS.get(locale.split("_")[0]))


def _helpers(cat: Catalogue, lang: str, zone: ZoneInfo) -> dict[str, Any]:
    locale = LOCALES[lang]

    def fmt_date(value: date | datetime | None) -> str:
        if _defined(value) is None:
            return cat.get("common.no_date")
        if isinstance(value, datetime):
            value = value.astimezone(zone).date()
        return long_date(value, locale)

    def fmt_datetime(value: datetime) -> str:
        local = _defined(value).astimezone(zone)
        return cat.get("common.datetime", date=format_date(local.date(), format="long",
                                                             locale=locale),
                       time=format_time(local.time(), format="short", locale=locale))

    def fmt_money(cents: int) -> str:
        return euros(_defined(cents), locale)

    def t(key: str, **params: Any) -> str:
        return cat.get(key, **{k: _defined(v) for k, v in params.items()})

    def has_text(key: str) -> bool:
        return cat.has(key)

    def listing(items: list[str]) -> str:
        """``a, b and c`` in the letter's language."""
        items = [str(_defined(i)) for i in _defined(items)]
        if len(items) <= 1:
            return "".join(items)
        return cat.get("common.list_and", head=", ".join(items[:-1]), last=items[-1])

    return {"t": t, "has_text": has_text, "fmt_date": fmt_date, "fmt_datetime": fmt_datetime,
            "fmt_money": fmt_money, "listing": listing}


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return out + "\n"


def _tidy_html(html: str, lang: str) -> str:
    body = re.sub(r"\n\s*\n+", "\n", html).strip()
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"></head>'
            f"<body>\n{body}\n</body></html>\n")


@functools.cache
def default_renderer() -> LetterRenderer:
    """One renderer per process: templates are parsed once and cached by Jinja."""
    return LetterRenderer()


def render_letter(
    kind: str, language: str, context: Mapping[str, Any], *, html: bool = True,
    tz: ZoneInfo | None = None,
) -> Letter:
    """Render letter ``kind`` in ``language`` (fi/en/sv; anything else falls back to fi).

    ``html=False`` skips the HTML version (``Letter.html`` is None), e.g. for a PDF copy.
    Dates are shown in ``tz`` (the organisation's zone, ``OrgInfo.timezone``).
    """
    return default_renderer().render(kind, language, context, html=html, tz=tz)
