"""Letters to requesters and to the parties told of a correction, in Finnish, English, Swedish."""

from handlers.letters.renderer import (
    DEFAULT_LANGUAGE,
    FINAL_KINDS,
    LANGUAGES,
    LETTER_KINDS,
    Letter,
    LetterError,
    load_catalogue,
    normalise_language,
    render_letter,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "FINAL_KINDS",
    "LANGUAGES",
    "LETTER_KINDS",
    "Letter",
    "LetterError",
    "load_catalogue",
    "normalise_language",
    "render_letter",
]
