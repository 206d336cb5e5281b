"""The duplicate-matching core: comparable features, blocking keys, explainable scores.

No ORM here: the batch job, the one-record check and the benchmark all run these same
functions on plain row mappings, so a pair gets the same score whichever way it is found.

* **Features** are computed once per record (normalised names, SIREN, e-mails, E.164 phones,
  postcode, street…), from the identifiers module.
* **Blocking keys** (``kind:value`` strings) say which records are worth comparing: the same
  SIREN, e-mail, phone or web domain; the same name in the same postcode or city; a name word,
  or the first or last letters of the name, in the same postcode. Only records sharing a key are
  ever scored, which keeps the cost near-linear in the size of the base.
* **Scores** add points per field (positive when values agree, negative when they conflict:
  two different SIRENs are two legal entities) and are clipped to 0–100. Every point is
  accounted for by a :class:`Reason`, so a data manager sees why two records were paired.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from . import identifiers as ids

# --- Configuration --------------------------------------------------------------------------

ACCOUNT_POINTS: dict[str, float] = {
    "name": 40,  # full points for the same normalised name, none below 65 % similarity
    "name_mismatch": -15,  # names under 50 % similar
    "rare_name": 15,  # the same name, carried by no other record of the base
    "siren": 40, "siren_conflict": -50, "siret": 10,
    "vat": 35, "vat_conflict": -30,  # foreign VAT numbers (French ones carry the SIREN)
    "email": 25, "domain": 18, "domain_conflict": -6, "phone": 25,
    "postcode": 8, "city": 5, "place_conflict": -10,
    "street": 15, "street_conflict": -5,
}
CONTACT_POINTS: dict[str, float] = {
    "name": 35, "name_mismatch": -20,
    "email": 40, "phone": 30,
    "same_account": 25, "other_account": -5,
}
LEAD_POINTS: dict[str, float] = {
    "email": 45, "phone": 30, "domain": 10,
    "name": 30, "name_mismatch": -15,
    "company": 25, "company_mismatch": -5,
    "siren": 20, "siren_conflict": -30,
    "postcode": 5,
}


@dataclass(frozen=True)
class MatchConfig:
    """Thresholds and weights of one object type (overridable in settings, see dedupe)."""

    object_type: str
    points: Mapping[str, float]
    review: float = 60  # a pair at or above this goes to the review queue / is a candidate
    sure: float = 85  # at or above: almost certainly the same (the UI may block the create)
    block_cap: int = 12  # a block up to this size is compared in full…
    window: int = 4  # …a larger one by sorted neighbourhood: each record with its next few
    index_cap: int = 400  # keys shared by more records are not worth an index lookup
    small_cap: int = 4  # blocks of ``Spec.small_only`` kinds are used up to this size


DEFAULTS: dict[str, MatchConfig] = {
    "account": MatchConfig("account", ACCOUNT_POINTS),
    "contact": MatchConfig("contact", CONTACT_POINTS),
    "lead": MatchConfig("lead", LEAD_POINTS),
}


# --- Features -------------------------------------------------------------------------------

class Features:
    """The comparable form of one record. Empty strings/tuples when unknown.

    ``freq`` is how many records of the base carry the same name (0: not counted yet); a name
    only two records share is evidence in itself (term-frequency adjustment).
    """

    __slots__ = ("city", "domain", "emails", "freq", "id", "names", "parent",
                 "person", "phones", "postcode", "siren", "siret", "street", "street_no",
                 "tokens", "vat")

    def __init__(self, id: Any = None, names: tuple[str, ...] = (),
                 tokens: tuple[str, ...] = (), person: str = "",
                 siren: str = "", siret: str = "", vat: str = "",
                 emails: tuple[str, ...] = (), phones: tuple[str, ...] = (), domain: str = "",
                 postcode: str = "", city: str = "", street_no: str = "", street: str = "",
                 parent: Any = "", freq: int = 0) -> None:
        self.id = id
        self.names = names
        self.tokens = tokens
        self.person = person
        self.siren = siren
        self.siret = siret
        self.vat = vat
        self.emails = emails
        self.phones = phones
        self.domain = domain
        self.postcode = postcode
        self.city = city
        self.street_no = street_no
        self.street = street
        self.parent = parent
        self.freq = freq

    def __repr__(self) -> str:
        return f"<Features {self.id} {self.names or self.person}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # positional, compact pickles: the batch ships features between processes
        return (Features, (self.id, self.names, self.tokens, self.person,
                           self.siren, self.siret, self.vat, self.emails, self.phones,
                           self.domain, self.postcode, self.city, self.street_no, self.street,
                           self.parent, self.freq))


def _s(row: Mapping[str, Any], name: str) -> str:
    return _str(row.get(name))


def _names(*raw: str) -> tuple[str, ...]:
    out: list[str] = []
    for name in raw:
        key = ids.word_order_key(name) if name else ""
        if key and key not in out:
            out.append(key)
    return tuple(out)


def _emails(*raw: str) -> tuple[str, ...]:
    found = [e for e in (ids.normalize_email(r) for r in raw if r) if e]
    return tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)


def _phones(region: str, *raw: str) -> tuple[str, ...]:
    found = [p for p in (ids.normalize_phone(r, region) for r in raw if r) if p]
    return tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)


def _str(value: Any) -> str:
    return value if type(value) is str else ("" if value is None else str(value))


def account_features(row: Mapping[str, Any]) -> Features:
    # The batch runs this once per account: written flat, with few calls, on purpose.
    get = row.get
    country = (_str(get("billing_country")) or "FR").upper()
    legal, trade = _str(get("legal_name")), _str(get("trade_name"))
    key = ids.word_order_key(legal) if legal else ""
    alt = ids.word_order_key(trade) if trade else ""
    names = (key, alt) if key and alt and alt != key else (key,) if key else \
        (alt,) if alt else ()
    email = ids.normalize_email(_str(get("email")))
    phone = _str(get("phone"))
    phone = ids.normalize_phone(phone, country) if phone else ""
    vat = ids.compact_vat(_str(get("vat_number")))
    siret = _str(get("siret")).replace(" ", "")
    siren = ids.siren_from(_str(get("siren")), siret, vat, validate=False)
    postcode = _str(get("billing_postcode"))
    city = _str(get("billing_city"))
    street = _str(get("billing_street"))
    number, street = ids.street_key(street) if street else ("", "")
    return Features(
        id=get("id"), names=names, siren=siren, siret=siret,
        vat="" if siren or vat.startswith("FR") else vat,
        emails=(email,) if email else (), phones=(phone,) if phone else (),
        domain=ids.company_domain(email, _str(get("website"))),
        postcode=ids.postcode_key(postcode, country) if postcode else "",
        city=ids.city_key(city) if city else "", street_no=number, street=street,
    )


def contact_features(row: Mapping[str, Any]) -> Features:
    emails = _emails(_s(row, "email"), _s(row, "email_secondary"))
    return Features(
        id=row.get("id"), person=ids.person_name_key(_s(row, "first_name"),
                                                     _s(row, "last_name")),
        tokens=tuple(ids.person_name_key("", _s(row, "last_name")).split()),
        names=(ids.person_name_key(_s(row, "first_name"), ""),),
        emails=emails, phones=_phones("FR", _s(row, "phone"), _s(row, "mobile")),
        parent=row.get("account_id") or "",
    )


def lead_features(row: Mapping[str, Any]) -> Features:
    country = _s(row, "country").upper() or "FR"
    emails = _emails(_s(row, "email"))
    postcode = _s(row, "postcode")
    return Features(
        id=row.get("id"), person=ids.person_name_key(_s(row, "first_name"),
                                                     _s(row, "last_name")),
        tokens=tuple(ids.person_name_key("", _s(row, "last_name")).split()),
        names=_names(_s(row, "company_name")),
        siren=ids.siren_from(_s(row, "siren"), validate=False), emails=emails,
        phones=_phones(country, _s(row, "phone")),
        domain=ids.company_domain(emails[0] if emails else "", _s(row, "website")),
        postcode=ids.postcode_key(postcode, country) if postcode else "",
        city=ids.city_key(_s(row, "city")),
    )


# --- Blocking keys --------------------------------------------------------------------------

# Key prefixes, their code (high bits of the stored hash) and the name shown in explanations.
KEY_KINDS: dict[str, tuple[int, str]] = {
    "s": (1, "siren"), "v": (2, "vat"), "e": (3, "email"), "p": (4, "phone"),
    "d": (5, "domain"), "n": (6, "name"), "ad": (7, "address"),
    "a": (8, "account_last_name"), "b": (9, "account_first_name"),
    "dl": (10, "domain_last_name"), "ol": (11, "company_last_name"),
    "pl": (12, "place_last_name"),
}
_KIND_BY_CODE = dict(KEY_KINDS.values())
_CODE_SHIFT = {prefix: code << 56 for prefix, (code, _name) in KEY_KINDS.items()}
_MASK56 = (1 << 56) - 1


def account_keys(f: Features) -> list[str]:
    keys: list[str] = []
    if f.siren:
        keys.append(f"s:{f.siren}")
    elif f.vat:
        keys.append(f"v:{f.vat}")
    keys += [f"e:{e}" for e in f.emails]
    keys += [f"p:{p}" for p in f.phones]
    if f.domain:
        keys.append(f"d:{f.domain}")
    keys += [f"n:{name}" for name in f.names]
    if f.street and f.street_no and f.postcode:
        keys.append(f"ad:{f.postcode}|{f.street_no} {f.street}")
    return keys


def contact_keys(f: Features) -> list[str]:
    keys = [f"e:{e}" for e in f.emails] + [f"p:{p}" for p in f.phones]
    if f.parent:
        keys += [f"a:{f.parent}|{t}" for t in f.tokens if len(t) >= 2]
        if f.names and f.names[0]:
            keys.append(f"b:{f.parent}|{f.names[0]}")
    return keys


def lead_keys(f: Features) -> list[str]:
    keys = [f"e:{e}" for e in f.emails] + [f"p:{p}" for p in f.phones]
    if f.siren:
        keys.append(f"s:{f.siren}")
    for last in (t for t in f.tokens if len(t) >= 2):
        if f.domain:
            keys.append(f"dl:{f.domain}|{last}")
        if f.names:
            keys.append(f"ol:{f.names[0]}|{last}")
        if f.postcode or f.city:
            keys.append(f"pl:{f.postcode or f.city}|{last}")
    return keys


def key_hash(key: str) -> int:
    """A stable 64-bit signed integer for a key: its kind's code in the high byte, then 56
    bits of CRC-32 and Adler-32 (fast, and stable across processes unlike ``hash``).
    A rare collision only makes two blocks one: a few more pairs get scored."""
    prefix, _sep, _rest = key.partition(":")
    data = key.encode()
    return (KEY_KINDS[prefix][0] << 56) | (((zlib.crc32(data) << 24) ^ zlib.adler32(data))
                                            & _MASK56)


def hash_kind(value: int) -> str:
    """The kind of key (``siren``, ``email``…) a stored hash was made from."""
    return _KIND_BY_CODE.get(value >> 56, "other")


def key_kind(key: str) -> str:
    return KEY_KINDS.get(key.partition(":")[0], (0, "other"))[1]


# --- Scores ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reason:
    """One field's part in a score: ``verdict`` is equal, similar, different or conflict."""

    field: str
    verdict: str
    points: float
    similarity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "verdict": self.verdict,
                               "points": round(self.points, 1)}
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 1)
        return out


Explain = list[Reason] | None


def _add(explain: Explain, name: str, verdict: str, points: float,
         similarity: float | None = None) -> float:
    if explain is not None and points:
        explain.append(Reason(name, verdict, points, similarity))
    return points


def _shared(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return False
    if len(a) == 1:
        return a[0] in b
    return any(x in b for x in a)


def text_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Best similarity (0–100) between two sets of word-order keys.

    ``ratio`` on sorted words absorbs typos and swapped words; a name that contains the other
    (``Dupont Conseil`` / ``Dupont Conseil Bretagne``) gets 90 % of the token-set score.
    """
    best = 0.0
    for x in a:
        for y in b:
            r = fuzz.ratio(x, y, score_cutoff=best)
            if r > best:
                best = r
    if best < 90 and a and b:
        subset = 0.9 * fuzz.token_set_ratio(a[0], b[0])
        if subset > best:
            best = subset
    return best


def _name_points(sim: float, full: float, mismatch: float) -> float:
    if sim >= 65:
        return full * min(1.0, (sim - 65) / 35)
    return mismatch if sim < 50 else 0.0


def _verdict(sim: float) -> str:
    return "equal" if sim >= 99.5 else "similar" if sim >= 65 else "different"


RARE = 2  # a name at most this many records carry


def score_account(a: Features, b: Features, pts: Mapping[str, float], explain: Explain = None,
                  floor: float | None = None) -> float:
    """Points for two accounts; with ``floor``, may stop early (returning less than
    ``floor``) once the pair cannot reach it: the batch's fast path."""
    s = 0.0
    if a.siren and b.siren:
        if a.siren == b.siren:
            s += _add(explain, "siren", "equal", pts["siren"])
            if a.siret and a.siret == b.siret:
                s += _add(explain, "siret", "equal", pts["siret"])
        else:
            s += _add(explain, "siren", "conflict", pts["siren_conflict"])
    elif a.vat and b.vat:
        s += _add(explain, "vat", "equal" if a.vat == b.vat else "conflict",
                  pts["vat"] if a.vat == b.vat else pts["vat_conflict"])
    if _shared(a.emails, b.emails):
        s += _add(explain, "email", "equal", pts["email"])
    elif a.domain and b.domain:
        s += _add(explain, "domain", "equal", pts["domain"]) if a.domain == b.domain else \
            _add(explain, "domain", "different", pts["domain_conflict"])
    if _shared(a.phones, b.phones):
        s += _add(explain, "phone", "equal", pts["phone"])
    if a.postcode and b.postcode:
        if a.postcode == b.postcode:
            s += _add(explain, "postcode", "equal", pts["postcode"])
        elif a.city and a.city == b.city:
            s += _add(explain, "city", "equal", pts["city"])
        else:
            s += _add(explain, "place", "conflict", pts["place_conflict"])
    elif a.city and b.city:
        s += _add(explain, "city", "equal" if a.city == b.city else "conflict",
                  pts["city"] if a.city == b.city else pts["place_conflict"])
    if floor is not None and s + pts["name"] + pts["rare_name"] + pts["street"] < floor:
        return s
    if not (a.names and b.names):  # a name not given yet is no evidence either way
        return max(0.0, min(100.0, s + _street_points(a, b, pts, explain)))
    sim = text_similarity(a.names, b.names)
    s += _add(explain, "name", _verdict(sim), _name_points(sim, pts["name"],
                                                           pts["name_mismatch"]), sim)
    same_place = (a.postcode == b.postcode) if a.postcode and b.postcode else \
        bool(a.city) and a.city == b.city
    if sim >= 99.5 and same_place and 0 < a.freq <= RARE and 0 < b.freq <= RARE:
        s += _add(explain, "name", "rare", pts["rare_name"])
    return max(0.0, min(100.0, s + _street_points(a, b, pts, explain)))


def _street_points(a: Features, b: Features, pts: Mapping[str, float], explain: Explain
                   ) -> float:
    if not (a.street and b.street):
        return 0.0
    if a.street == b.street or fuzz.ratio(a.street, b.street, score_cutoff=90):
        same_street = a.street == b.street
        if a.street_no == b.street_no:
            return _add(explain, "street", "equal" if same_street else "similar",
                        pts["street"] if same_street else pts["street"] * 0.6)
        if not a.street_no or not b.street_no:
            return _add(explain, "street", "similar", pts["street"] * 0.4)
        return _add(explain, "street", "conflict", pts["street_conflict"])
    return _add(explain, "street", "different", pts["street_conflict"])


def score_contact(a: Features, b: Features, pts: Mapping[str, float], explain: Explain = None,
                  floor: float | None = None) -> float:
    s = 0.0
    if _shared(a.emails, b.emails):
        s += _add(explain, "email", "equal", pts["email"])
    if _shared(a.phones, b.phones):
        s += _add(explain, "phone", "equal", pts["phone"])
    if a.parent and b.parent:
        same = a.parent == b.parent
        s += _add(explain, "account", "equal" if same else "different",
                  pts["same_account"] if same else pts["other_account"])
    if floor is not None and s + pts["name"] < floor:
        return s
    if a.person and b.person:  # a name not given yet is no evidence either way
        sim = text_similarity((a.person,), (b.person,))
        s += _add(explain, "name", _verdict(sim), _name_points(sim, pts["name"],
                                                               pts["name_mismatch"]), sim)
    return max(0.0, min(100.0, s))


def score_lead(a: Features, b: Features, pts: Mapping[str, float], explain: Explain = None,
               floor: float | None = None) -> float:
    s = 0.0
    if _shared(a.emails, b.emails):
        s += _add(explain, "email", "equal", pts["email"])
    elif a.domain and a.domain == b.domain:
        s += _add(explain, "domain", "equal", pts["domain"])
    if _shared(a.phones, b.phones):
        s += _add(explain, "phone", "equal", pts["phone"])
    if a.siren and b.siren:
        same = a.siren == b.siren
        s += _add(explain, "siren", "equal" if same else "conflict",
                  pts["siren"] if same else pts["siren_conflict"])
    if a.postcode and a.postcode == b.postcode:
        s += _add(explain, "postcode", "equal", pts["postcode"])
    if floor is not None and s + pts["name"] + pts["company"] < floor:
        return s
    if a.person and b.person:
        sim = text_similarity((a.person,), (b.person,))
        s += _add(explain, "name", _verdict(sim), _name_points(sim, pts["name"],
                                                               pts["name_mismatch"]), sim)
    if a.names and b.names:
        sim = text_similarity(a.names, b.names)
        s += _add(explain, "company", _verdict(sim), _name_points(sim, pts["company"],
                                                                  pts["company_mismatch"]), sim)
    return max(0.0, min(100.0, s))


@dataclass(frozen=True)
class Spec:
    """How one object type is matched.

    ``small_only``: key kinds whose blocks are used only up to ``MatchConfig.small_cap``
    records (a name shared by many records says nothing by itself; what else those records
    share has its own keys). Larger blocks of these kinds are neither compared nor indexed.
    """

    object_type: str
    features: Callable[[Mapping[str, Any]], Features]
    keys: Callable[[Features], list[str]]
    score: Callable[..., float]
    small_only: frozenset[str] = frozenset()
    # order of records inside a large block: the same place first, then the name
    sort_key: Callable[[Features], str] = field(
        default=lambda f: f"{f.postcode}|{f.city}|{f.names[0] if f.names else ''}")


SPECS: dict[str, Spec] = {
    "account": Spec("account", account_features, account_keys, score_account,
                    small_only=frozenset({"n"})),
    "contact": Spec("contact", contact_features, contact_keys, score_contact,
                    sort_key=lambda f: f"{f.parent}|{f.person}"),
    "lead": Spec("lead", lead_features, lead_keys, score_lead,
                 sort_key=lambda f: f"{f.postcode}|{f.person}"),
}


def explain_pair(spec: Spec, config: MatchConfig, a: Features, b: Features
                 ) -> tuple[float, list[Reason]]:
    reasons: list[Reason] = []
    score = spec.score(a, b, config.points, reasons)
    return round(score, 1), reasons


# --- Candidate pairs over a whole set ------------------------------------------------------

@dataclass
class PairStats:
    records: int = 0
    keys: int = 0
    blocks: int = 0
    large_blocks: int = 0
    skipped_blocks: int = 0
    compared: int = 0
    found: int = 0


def assign_frequencies(feats: Sequence[Features], names: Sequence[str]) -> None:
    """Set each record's ``freq``: how many records carry its (stored, normalised) name."""
    counts = Counter(names)
    for f, name in zip(feats, names, strict=True):
        f.freq = counts[name] if name else 0


def record_hashes(spec: Spec, f: Features) -> list[int]:
    """The hashed blocking keys of one record."""
    crc, adler, codes = zlib.crc32, zlib.adler32, _CODE_SHIFT
    out = []
    for key in spec.keys(f):
        data = key.encode()
        out.append(codes[key[:key.index(":")]] | (((crc(data) << 24) ^ adler(data)) & _MASK56))
    return out


Blocks = dict[int, Any]  # hash -> position, or list of positions when shared


def add_to_blocks(blocks: Blocks, position: int, hashes: Iterable[int]) -> int:
    """File one record under each of its key hashes; returns how many."""
    get = blocks.get
    n = 0
    for h in hashes:
        n += 1
        found = get(h)
        if found is None:
            blocks[h] = position
        elif type(found) is int:
            if found != position:
                blocks[h] = [found, position]
        elif found[-1] != position:
            found.append(position)
    return n


def find_pairs(spec: Spec, config: MatchConfig, feats: list[Features],
               stats: PairStats | None = None, *,
               key_sink: Callable[[int, int | list[int]], None] | None = None,
               blocks: Blocks | None = None) -> dict[tuple[int, int], float]:
    """Every pair of ``feats`` (by position) scoring at least ``config.review``.

    Records are grouped by blocking key (``blocks``, when the caller built them already);
    blocks up to ``block_cap`` are compared in full, larger ones by sorted neighbourhood
    (each record with the next ``window`` in ``spec.sort_key`` order: same place first).
    ``key_sink(hash, members)`` receives every block used, in ascending hash order (to write
    the lookup index append-only); ``members`` is one position, or a list of them.
    """
    stats = stats if stats is not None else PairStats()
    stats.records = len(feats)
    if blocks is None:
        blocks = {}
        for i, f in enumerate(feats):
            stats.keys += add_to_blocks(blocks, i, record_hashes(spec, f))
    pairs: dict[tuple[int, int], float] = {}
    score, pts, floor = spec.score, config.points, config.review
    cap, window, small_cap = config.block_cap, config.window, config.small_cap
    small_only = {KEY_KINDS[k][0] for k in spec.small_only}
    order = sorted(blocks) if key_sink is not None else blocks
    for h in order:
        members = blocks[h]
        if type(members) is int:
            if key_sink is not None:
                key_sink(h, members)
            continue
        n = len(members)
        if n > small_cap and (h >> 56) in small_only:
            stats.skipped_blocks += 1
            continue
        if key_sink is not None:
            key_sink(h, members)
        stats.blocks += 1
        if n <= cap:
            todo: Iterable[tuple[int, int]] = (
                (members[x], members[y]) for x in range(n) for y in range(x + 1, n))
        else:
            stats.large_blocks += 1
            members = sorted(members, key=lambda i: spec.sort_key(feats[i]))
            todo = ((members[x], members[y]) for x in range(n)
                    for y in range(x + 1, min(n, x + 1 + window)))
        for i, j in todo:
            pair = (i, j) if i < j else (j, i)
            if pair in pairs:
                continue
            stats.compared += 1
            value = score(feats[i], feats[j], pts, None, floor)
            if value >= floor:
                pairs[pair] = value
    stats.found = len(pairs)
    return pairs
