"""Prefix filters mean the same whichever plan the selectivity probe picks."""

from __future__ import annotations

from typing import Any

import pytest

from comptoir.api import listing
from comptoir.testing import factories


@pytest.mark.parametrize("probe", [1, 10_000], ids=["range-plan", "like-plan"])
def test_prefix_filter_same_results_on_both_plans(api: Any, personas: Any, monkeypatch: Any,
                                                  probe: int) -> None:
    monkeypatch.setattr(listing, "PREFIX_PROBE", probe)
    admin = personas.admin
    made = {}
    for postcode, city in (("75001", "Paris"), ("75015", "paris"), ("7500", "Pa"),
                           ("20000", "Ajaccio"), ("2A004", "Ajaccio"), ("2a100", "Ajaccio")):
        made[postcode] = factories.account(by=admin, legal_name=f"Société {postcode}",
                                           billing_postcode=postcode, billing_city=city).pk

    def ids(query: str) -> set[int]:
        body = api(admin).get(f"/api/v1/accounts?{query}&limit=100").expect(200)
        return {row["id"] for row in body["items"]}

    assert ids("billing_postcode__startswith=750") == {made["75001"], made["75015"],
                                                      made["7500"]}
    assert ids("billing_postcode__startswith=7500") == {made["75001"], made["7500"]}
    assert ids("billing_postcode__startswith=99") == set()
    assert ids("billing_postcode__startswith=2") == {made["20000"], made["2A004"],
                                                     made["2a100"]}
    # Letters keep the database's own prefix semantics on both plans.
    assert ids("billing_postcode__startswith=2A") == ids("billing_postcode__startswith=2A")
    assert made["2A004"] in ids("billing_postcode__startswith=2A")
