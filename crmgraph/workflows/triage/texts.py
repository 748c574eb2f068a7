"""What the model reads of a ticket: its subject and text, normalised so that spelling of the same thing
in full-width or half-width, upper or lower case, with other numbers, reads the same."""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 4000  # the head of a long ticket says what it is about; the rest is quoted mail and signatures
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalise(subject: str, text: str) -> str:
    """One string of subject and text: NFKC (full-width ``，`` is ``,``), lower case, every number a ``0``
    (an order number is not a class's feature), links and addresses replaced by a word, spaces collapsed."""
    joined = unicodedata.normalize("NFKC", f"{subject} | {text[:MAX_CHARS]}").lower()
    joined = _URL.sub(" url ", joined)
    joined = _EMAIL.sub(" email ", joined)
    joined = _DIGITS.sub("0", joined)
    return _SPACE.sub(" ", joined).strip()


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def language(subject: str, text: str) -> str:
    """``zh`` when a fifth or more of the letters are Chinese characters, else ``en``."""
    letters = [ch for ch in f"{subject}{text[:MAX_CHARS]}" if ch.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(map(is_cjk, letters)) >= 0.2 * len(letters) else "en"
