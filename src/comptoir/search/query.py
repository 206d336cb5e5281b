"""From the words typed to full-text queries, and from matched rows to a ranked list.

A query runs in up to three stages, each a conjunction of one group per word:

1. **exact**: every word as typed;
2. **prefix**: the last word also as the start of longer words (search as you type);
3. **fuzzy**: words also as their typo corrections (and the last as corrected starts); in a
   query of several words, only the words the index does not know.

Stages stop as soon as enough rows are found, since a row found by a later stage can never rank
above one found earlier. Rows are then ranked in Python: the worst match kind over the words
(exact > prefix > fuzzy), then rapidfuzz similarity of the matched words to the typed ones
(preferring words in the title and short titles), then object type and recency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz

from .backends import Group
from .text import Word, normalize
from .vocabulary import Vocabulary, max_edits

EXACT, PREFIX, FUZZY = 3, 2, 1
KIND_NAMES = {EXACT: "exact", PREFIX: "prefix", FUZZY: "fuzzy"}
MAX_EXPANSION = 64  # a word start known to open more words than this stays an engine prefix
MAX_GROUP_TERMS = 200


@dataclass
class WordPlan:
    word: Word
    corrections: dict[str, int] = field(default_factory=dict)  # word -> edits
    prefix_corrections: dict[str, int] = field(default_factory=dict)  # start -> edits

    @property
    def text(self) -> str:
        return self.word.text

    def classify(self, tokens: set[str], ordered: list[str]) -> tuple[int, str | None, int]:
        """(match kind, the record's word that matched, edits) for this query word."""
        w = self.text
        if w in tokens:
            return EXACT, w, 0
        if self.word.prefix:
            longer = [t for t in ordered if t.startswith(w)]
            if longer:
                return PREFIX, min(longer, key=len), 0
        near = [(d, t) for t, d in self.corrections.items() if t in tokens]
        if self.word.prefix:
            near += [(d, t) for t in ordered for p, d in self.prefix_corrections.items()
                     if t.startswith(p)]
        if near:
            edits, term = min(near)
            return FUZZY, term, edits
        return FUZZY, None, max_edits(w)


@dataclass
class Plan:
    words: list[WordPlan]
    stages: list[tuple[int, list[Group]]]


def _prefix_group(vocab: Vocabulary, start: str, exact_vocabulary: bool) -> Group | None:
    """Words starting with ``start``: the known words themselves when few (an OR of exact
    words is cheap for the engine), else the engine's prefix search; ``None`` when the
    vocabulary knows that nothing starts so."""
    if not start.isalpha():
        return _rated(vocab, Group(prefixes=(start,)))
    words = vocab.starting_with(start, MAX_EXPANSION)
    if words is None:
        return Group(prefixes=(start,), rows=COMMONPLACE)
    if not exact_vocabulary:  # the engine's prefix search, with the known words' counts
        return replace(Group(prefixes=(start,)), rows=_rated(vocab, Group(tuple(words))).rows)
    return _rated(vocab, Group(terms=tuple(words))) if words else None


COMMONPLACE = 10**9  # an estimate for "a large share of the index"


def _rated(vocab: Vocabulary, group: Group) -> Group:
    """``group`` with an estimate of the rows it matches, from the counts of the last
    rebuild. Numbers are not counted: short ones ("2025", "04…") are taken as common."""
    rows = sum(vocab.rows.get(t, 0) for t in group.terms)
    if any(w.isdigit() and len(w) < 5 for w in group.terms + group.prefixes):
        rows = COMMONPLACE
    return replace(group, rows=rows)


def _merge(vocab: Vocabulary, groups: list[Group | None]) -> Group:
    terms: dict[str, None] = {}
    prefixes: dict[str, None] = {}
    rows = 0
    for group in groups:
        if group is not None:
            terms.update(dict.fromkeys(group.terms))
            prefixes.update(dict.fromkeys(group.prefixes))
            rows = max(rows, group.rows)
    kept = list(terms)[:MAX_GROUP_TERMS]
    merged = _rated(vocab, Group(terms=tuple(kept), prefixes=tuple(prefixes)))
    return replace(merged, rows=max(rows, merged.rows))


def plan(words: list[Word], vocab: Vocabulary, *, exact_vocabulary: bool) -> Plan:
    """The stages for ``words``. With an exact vocabulary (SQLite: it is read in commit
    order) a stage that cannot match is skipped and short prefixes become OR-ed words."""
    plans = [WordPlan(w) for w in words]

    def known(w: str) -> bool:
        return not exact_vocabulary or not w.isalpha() or w in vocab

    exact_groups = [_rated(vocab, Group(terms=(p.text,))) for p in plans]
    stages: list[tuple[int, list[Group]]] = []
    if all(known(p.text) for p in plans):
        stages.append((EXACT, exact_groups))
    last = plans[-1]
    prefix_stage: list[Group] | None = None
    if last.word.prefix:
        start = _prefix_group(vocab, last.text, exact_vocabulary)
        if start is not None and all(known(p.text) for p in plans[:-1]):
            prefix_stage = [*exact_groups[:-1], start]
            stages.append((PREFIX, prefix_stage))
    fuzzy_groups: list[Group] = []
    corrected = False
    single = len(plans) == 1
    for p in plans:
        alternatives: list[Group | None] = []
        if known(p.text):
            alternatives.append(Group(terms=(p.text,)))
        # In a query of several words only the words the index does not know are corrected:
        # correcting every word of "Giraud et Fils Normandie" would cost more than it finds.
        if p.text.isalpha() and (single or p.text not in vocab):
            p.corrections = vocab.corrections(p.text)
            if p.corrections:
                alternatives.append(Group(terms=tuple(p.corrections)))
        if p.word.prefix:
            start = _prefix_group(vocab, p.text, exact_vocabulary)
            alternatives.append(start)
            if p.text.isalpha() and (single or vocab.starting_with(p.text, 1) == []):
                p.prefix_corrections = vocab.prefix_corrections(p.text)
                alternatives += [_prefix_group(vocab, s, exact_vocabulary)
                                 for s in p.prefix_corrections]
        corrected = corrected or bool(p.corrections or p.prefix_corrections)
        group = _merge(vocab, alternatives)
        if not group:
            return Plan(plans, stages)
        fuzzy_groups.append(group)
    if corrected:
        stages.append((FUZZY, fuzzy_groups))
    # a stage asking what the previous one asked (a prefix only the typed word starts) is
    # skipped
    unique = [s for i, s in enumerate(stages) if i == 0 or s[1] != stages[i - 1][1]]
    return Plan(plans, unique)


@dataclass
class Ranked:
    entry_id: int
    title: str
    subtitle: str
    kind: int
    score: float
    matched: tuple[str, ...]


def rank(plan_: Plan, entry_id: int, title: str, subtitle: str, text: str) -> Ranked:
    """Score one matched row (see the module docstring); ``score`` sorts best first."""
    ordered = text.split()
    tokens = set(ordered)
    title_words = set(normalize(title).split())
    kinds: list[int] = []
    matched: list[str] = []
    word_scores: list[float] = []
    for p in plan_.words:
        kind, term, _edits = p.classify(tokens, ordered)
        kinds.append(kind)
        if term is None:
            word_scores.append(0.0)
            continue
        matched.append(term)
        similarity = fuzz.ratio(p.text, term)
        word_scores.append(similarity if term in title_words else similarity * 0.8)
    kind = min(kinds)
    closeness = fuzz.token_sort_ratio(" ".join(matched), " ".join(sorted(title_words)))
    score = kind * 100 + 0.7 * (sum(word_scores) / len(word_scores)) + 0.3 * closeness
    return Ranked(entry_id, title, subtitle, kind, round(score, 2),
                  tuple(dict.fromkeys(matched)))
