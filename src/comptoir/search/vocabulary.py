"""The index's alphabetic words, cached in each process, and typo corrections against them.

A query word with a typo matches nothing in the full-text index; it is first corrected into
the indexed words within one or two edits (``dubios`` → ``dubois``), with rapidfuzz over the
words of about the same length, and the query ORs the corrections. The word being typed is also
corrected as a prefix (``lefebr`` → ``lefebv…``). The words live in ``SearchTerm``; each process
reads only the rows added since its last look, so the cache costs one indexed query per search.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable

from django.db import connection
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .models import SearchTerm

MAX_CORRECTIONS = 16
MIN_FUZZY_LENGTH = 4  # shorter words have too many neighbours to correct safely
RELOAD_AFTER = 600.0  # seconds: then the cache is read again in full (fresh word counts)


def max_edits(word: str) -> int:
    """Typos tolerated in a word: none up to 3 letters, one up to 7, two from 8."""
    n = len(word)
    return 0 if n < MIN_FUZZY_LENGTH else 1 if n < 8 else 2


class Vocabulary:
    """Known words: a set, a sorted list (prefixes), buckets by length (typos)."""

    def __init__(self) -> None:
        self.terms: set[str] = set()
        self.rows: dict[str, int] = {}  # index rows per word, at the last rebuild
        self.ordered: list[str] = []
        self.by_length: dict[int, list[str]] = {}
        self._prefixes: dict[int, tuple[set[str], list[str]]] = {}
        self.last_id = 0
        self.last_term = ""
        self.loaded_at = 0.0
        self.alias: str | None = None
        self.lock = threading.Lock()

    def clear(self) -> None:
        self.terms.clear()
        self.rows.clear()
        self.ordered.clear()
        self.by_length.clear()
        self._prefixes.clear()
        self.last_id, self.last_term = 0, ""

    def add(self, words: Iterable[str], rows: Iterable[int] = ()) -> None:
        words = list(words)
        self.rows.update((w, n) for w, n in zip(words, rows, strict=False) if n)
        fresh = [w for w in words if w not in self.terms]
        if not fresh:
            return
        self.terms.update(fresh)
        if len(fresh) > 1000:
            self.ordered = sorted(self.terms)
        else:
            for word in fresh:
                bisect.insort(self.ordered, word)
        for word in fresh:
            self.by_length.setdefault(len(word), []).append(word)
            for length, (seen, listed) in self._prefixes.items():
                start = word[:length]
                if len(word) >= length and start not in seen:
                    seen.add(start)
                    listed.append(start)

    # --- reading ---------------------------------------------------------------------------

    def __contains__(self, word: object) -> bool:
        return word in self.terms

    def starting_with(self, prefix: str, limit: int) -> list[str] | None:
        """Words starting with ``prefix`` (``prefix`` included); ``None`` when more than
        ``limit``: the engine's own prefix search is then cheaper than a long OR."""
        i = bisect.bisect_left(self.ordered, prefix)
        found: list[str] = []
        while i < len(self.ordered) and self.ordered[i].startswith(prefix):
            if len(found) == limit:
                return None
            found.append(self.ordered[i])
            i += 1
        return found

    def corrections(self, word: str) -> dict[str, int]:
        """Known words within the tolerated edits of ``word`` (itself excluded): word → edits,
        a different first letter counting as one more."""
        edits = max_edits(word)
        if not edits:
            return {}
        found: list[tuple[int, int, str]] = []
        for length in range(len(word) - edits, len(word) + edits + 1):
            bucket = self.by_length.get(length)
            if bucket:
                for term, distance, _i in process.extract(
                        word, bucket, scorer=OSA.distance, score_cutoff=edits, limit=None):
                    # people rarely mistype the first letter: changing it costs one more edit
                    cost = int(distance) + (term[0] != word[0])
                    if term != word and cost <= edits:
                        found.append((cost, abs(len(term) - len(word)), term))
        found.sort()
        return {term: distance for distance, _d, term in found[:MAX_CORRECTIONS]}

    def prefix_corrections(self, word: str) -> dict[str, int]:
        """Starts of known words within the tolerated edits of ``word`` being typed (itself
        excluded): ``lefebr`` → ``lefebv`` (of lefebvre). Lengths one shorter and one longer
        allow a missing or an extra letter."""
        edits = max_edits(word)
        if not edits:
            return {}
        found: list[tuple[int, str]] = []
        for length in (len(word) - 1, len(word), len(word) + 1):
            if length < MIN_FUZZY_LENGTH - 1:
                continue
            for start, distance, _i in process.extract(
                    word, self._prefix_list(length), scorer=OSA.distance, score_cutoff=edits,
                    limit=None):
                cost = int(distance) + (start[0] != word[0])
                if start != word and not word.startswith(start) and cost <= edits:
                    found.append((cost, start))
        found.sort()
        return {start: distance for distance, start in found[:MAX_CORRECTIONS]}

    def _prefix_list(self, length: int) -> list[str]:
        cached = self._prefixes.get(length)
        if cached is None:
            seen = {t[:length] for t in self.terms if len(t) >= length}
            cached = (seen, list(seen))
            self._prefixes[length] = cached
        return cached[1]


_vocabulary = Vocabulary()


def vocabulary() -> Vocabulary:
    """The process's vocabulary, brought up to date with the words added since its last use.

    The row at the last id read must still hold the word read there: if not (a transaction that
    added words was rolled back, the table was emptied), the cache is read again in full, as
    it is every ``RELOAD_AFTER`` seconds for the counts a rebuild elsewhere stored.
    """
    vocab = _vocabulary
    with vocab.lock:
        alias = connection.settings_dict.get("NAME")
        now = time.monotonic()
        # another database (tests, scripts), or the word counts of a later rebuild: start over
        if vocab.alias != alias or now - vocab.loaded_at > RELOAD_AFTER:
            vocab.clear()
            vocab.alias, vocab.loaded_at = alias, now
        rows = list(SearchTerm.objects.filter(id__gte=vocab.last_id).order_by("id")
                    .values_list("id", "term", "rows"))
        if vocab.last_id and (not rows or rows[0][:2] != (vocab.last_id, vocab.last_term)):
            vocab.clear()
            rows = list(SearchTerm.objects.order_by("id").values_list("id", "term", "rows"))
        elif vocab.last_id:
            rows = rows[1:]
        if rows:
            vocab.add((term for _id, term, _n in rows), (n for _id, _t, n in rows))
            vocab.last_id, vocab.last_term = rows[-1][:2]
    return vocab


def forget() -> None:
    """Drop the process cache (after a rebuild changed the words' counts)."""
    with _vocabulary.lock:
        _vocabulary.clear()
