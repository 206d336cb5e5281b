"""Words as the index sees them: one normalisation for indexed text and for queries.

Text is folded to lower case without accents (``Élodie`` → ``elodie``, ``Œuvre`` → ``oeuvre``)
and cut at anything that is not a letter or a digit, so ``dubois-martin@exemple.fr`` is the words
``dubois martin exemple fr``. Both backends index this already-normalised text, so SQLite and
PostgreSQL see exactly the same words, and so does the ranking done in Python.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o",
                            "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i"})
_SEPARATORS = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")
MAX_QUERY_WORDS = 8

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_LIGATURE_CHARS = re.compile("[œŒæÆßøØłŁđĐı]")
# ASCII letters lowered, digits kept, anything else a space: one C call on the bytes.
_ASCII_FOLD = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32
    for c in range(256))


def _fold(value: str) -> str:
    # The hot path of a rebuild: a few C calls per record; the Unicode work only when needed.
    if not value.isascii():
        if _LIGATURE_CHARS.search(value):
            value = value.translate(_LIGATURES)
        value = _COMBINING.sub("", unicodedata.normalize("NFKD", value))
        if not value.isascii():  # typographic signs, other scripts
            return _SEPARATORS.sub(" ", value.lower())
    return value.encode().translate(_ASCII_FOLD).decode()


@lru_cache(maxsize=20_000)
def normalize(value: str) -> str:
    """Lower case, accents removed, words separated by one space."""
    return " ".join(_fold(value).split()) if value else ""


def phone_words(phone: str) -> str:
    """A phone's digits, plus its national form for French numbers (+33 4… → 04…), which is
    how people type them."""
    if not phone:
        return ""
    digits = "".join(_DIGITS.findall(phone))
    if digits.startswith("33") and len(digits) == 11:
        return f"{digits} 0{digits[2:]}"
    return digits


_RUNS = re.compile(r"[a-z]+|\d+")


def identifier_words(value: str) -> str:
    """An identifier as people may type it: its own words, its letters and digits run
    together, and that form's letter and digit runs. ``CHE-123.456.789`` gives ``che 123 456
    789 che123456789 123456789``: found by ``CHE123456789``, ``123.456.789`` (read as one
    number by :func:`parse_query`) or ``CHE-123.456.789``."""
    if not value:
        return ""
    joined = "".join(_fold(value).split())
    return " ".join([value, joined, *_RUNS.findall(joined)])


def document_text(*parts: str) -> str:
    """The indexed words of a record: its parts normalised, each word once, and numbers
    padded with zeros also without them (``CAS-000123`` is found by ``123``). Built once per
    record of a rebuild: kept to a few string operations done in C."""
    words = dict.fromkeys(_fold(" ".join(filter(None, parts))).split())
    extra = [w.lstrip("0") for w in words if w.startswith("00") and w.isdigit()]
    if extra:
        words.update(dict.fromkeys(w for w in extra if w))
    return " ".join(words)


@dataclass(frozen=True)
class Word:
    text: str
    prefix: bool  # the word being typed: also matches longer words


def parse_query(q: str) -> list[Word]:
    """The words of a query. The last one is a prefix unless the query ends with a space
    (search as you type). A digit group following a group of at most three digits is joined to
    it: ``04 72 12 34`` is one phone number, ``732 829 320`` one SIREN, while ``2025 000123``
    stays two words."""
    merged: list[str] = []
    previous = ""
    for word in normalize(q).split():
        if word.isdigit() and previous.isdigit() and len(previous) <= 3 and merged:
            merged[-1] += word
        else:
            merged.append(word)
        previous = word
    words: list[str] = []
    for word in merged:
        if word not in words:
            words.append(word)
    words = words[:MAX_QUERY_WORDS]
    typing = bool(q) and not q[-1].isspace()
    out = [Word(w, prefix=typing and i == len(words) - 1) for i, w in enumerate(words)]
    # A single letter being typed after other words says nothing yet; it would only slow the
    # query down (every word starting with it).
    if len(out) > 1 and out[-1].prefix and len(out[-1].text) < 2:
        out.pop()
    return out
