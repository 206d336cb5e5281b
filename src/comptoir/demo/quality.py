"""Data-quality examples in the demo: a few accounts that duplicate others, and the requests a
data manager would find on a real base.

A real customer file holds duplicates (a rep re-created a company as a prospect, without its
SIREN, with a typo or another legal form) and prospects that have just ordered. The demo shows
them so the **Data quality** pages have something to decide on: about 2 % of the accounts are
turned into duplicates of others (their contacts, deals and documents stay theirs, as they
would), the duplicate detection runs over the base when it is small enough to take seconds,
and the prospects with an accepted quote or an order get their promotion requests.
"""

from __future__ import annotations

import random
from typing import Any

from django.db import transaction

from comptoir.crm.models import Account
from comptoir.quality import identifiers
from comptoir.quality.dedupe import dedupe_run
from comptoir.quality.promotion import promotion_triggers, promotions_for_documents
from comptoir.sales.models import SalesDocument

DUPLICATE_SHARE = 0.02
MAX_DUPLICATES = 2_000
DEDUPE_UP_TO = 50_000  # accounts; above, ``comptoir dedupe`` is the data manager's to run
_FORMS = ("SAS", "SARL", "SASU", "SA", "EURL")


def name_variant(rng: random.Random, name: str) -> str:
    """The same company as someone typed it again: another or no legal form, capitals, or one
    letter swapped."""
    words = name.split()
    base = " ".join(w for w in words if w not in _FORMS) or name
    kind = rng.randrange(4)
    if kind == 0:  # another legal form, or none
        return f"{base} {rng.choice([f for f in _FORMS if f not in words])}" \
            if rng.random() < 0.5 else base
    if kind == 1:
        return name.upper()
    if kind == 2:  # dotted, as in old files
        form = next((w for w in words if w in _FORMS), "")
        return f"{base} {'.'.join(form)}." if form else base
    letters = list(base)
    spots = [i for i in range(1, len(letters) - 1) if letters[i].isalpha()
             and letters[i + 1].isalpha()]
    if spots:
        i = rng.choice(spots)
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return "".join(letters)


@transaction.atomic
def add_duplicates(*, seed: int) -> int:
    """Turn about 2 % of the accounts into duplicates of others; returns how many."""
    rng = random.Random(seed)
    ids = list(Account.objects.order_by("id").values_list("id", flat=True))
    count = min(MAX_DUPLICATES, int(len(ids) * DUPLICATE_SHARE)) if len(ids) >= 20 else 0
    if not count:
        return 0
    picked = rng.sample(ids, 2 * count)
    pairs = list(zip(picked[::2], picked[1::2], strict=True))
    records = Account.objects.in_bulk([i for pair in pairs for i in pair])
    copied = ("billing_street", "billing_postcode", "billing_city", "billing_country", "phone",
              "email", "website", "territory_id")
    changed = []
    for original_id, duplicate_id in pairs:
        original, duplicate = records[original_id], records[duplicate_id]
        duplicate.legal_name = name_variant(rng, original.legal_name)[:200]
        duplicate.normalized_name = identifiers.normalize_name(duplicate.legal_name)
        duplicate.trade_name = ""
        for name in copied:
            setattr(duplicate, name, getattr(original, name))
        if rng.random() < 0.3:  # typed in a hurry: no e-mail
            duplicate.email = ""
        duplicate.siren = duplicate.siret = duplicate.vat_number = ""
        duplicate.status = Account.Status.PROSPECT
        changed.append(duplicate)
    fields = ["legal_name", "normalized_name", "trade_name", *copied, "siren", "siret",
              "vat_number", "status"]
    Account.objects.bulk_update(changed, fields, batch_size=500)
    return len(changed)


def add_quality_examples(*, accounts: int, seed: int) -> dict[str, Any]:
    """Duplicates, the review queue (small bases) and the promotion requests of the demo."""
    done: dict[str, Any] = {"duplicates": add_duplicates(seed=seed), "pairs": None}
    if accounts <= DEDUPE_UP_TO:
        done["pairs"] = {kind: dedupe_run(kind).pairs_found
                         for kind in ("account", "contact", "lead")}
    documents = SalesDocument.objects.filter(promotion_triggers()).exclude(
        account__status=Account.Status.CUSTOMER).values_list("id", flat=True)
    done["promotions"] = promotions_for_documents(documents.iterator(chunk_size=5000))
    return done
