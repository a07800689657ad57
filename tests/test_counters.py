"""core.counters: counters_take gives each key its block of consecutive numbers in one
statement, continuing what counter_take gave, and a rollback gives them back."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.counters import counter_take, counters_take
from workflows.models import TicketCounter

pytestmark = pytest.mark.django_db


def key(county: str, prefix: str = "TZ") -> dict:
    return {"prefix": prefix, "year": 2026, "county": county}


def test_each_key_gets_its_block_in_the_order_asked():
    counter_take(TicketCounter, key=key("370828000000"), count=4)  # 1–4 taken before
    firsts = counters_take(
        TicketCounter,
        keys=[key("370829000000"), key("370828000000"), key("370828000000", prefix="TX")],
        counts=[3, 2, 5],
    )
    assert firsts == [1, 5, 1]
    assert counter_take(TicketCounter, key=key("370828000000")) == 7
    assert counters_take(TicketCounter, keys=[key("370829000000")], counts=[1]) == [4]


def test_a_rollback_gives_the_numbers_back():
    counters_take(TicketCounter, keys=[key("370828000000")], counts=[2])
    with pytest.raises(RuntimeError), transaction.atomic():
        assert counters_take(TicketCounter, keys=[key("370828000000")], counts=[10]) == [3]
        raise RuntimeError
    assert counters_take(TicketCounter, keys=[key("370828000000")], counts=[1]) == [3]


def test_nothing_to_take_and_bad_calls():
    assert counters_take(TicketCounter, keys=[], counts=[]) == []
    with pytest.raises(ValueError):
        counters_take(TicketCounter, keys=[key("370828000000")], counts=[1, 2])
    with pytest.raises(ValueError):
        counters_take(
            TicketCounter, keys=[key("370828000000"), {"prefix": "TZ", "year": 2026}], counts=[1, 1]
        )
    assert not TicketCounter.objects.exists()
