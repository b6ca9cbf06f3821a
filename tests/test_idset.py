"""The compact per-run bookkeeping (newsbot.idset) behaves like the set and list it replaces."""

from __future__ import annotations

import json
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from newsbot.idset import DeliveryLog, IdSet
from newsbot.state.model import Delivery, PublishEntry

# Ids as the site has them, and the odd ones the bitmap must leave to its ordinary set.
ids = st.one_of(
    st.integers(min_value=0, max_value=9_999_999).map(str),
    st.integers(min_value=2**31 - 3, max_value=2**40).map(str),
    st.sampled_from(["", "0", "00", "017", "x1", "１２３", "-5", "1.0"]),
)


@given(st.lists(st.tuples(st.booleans(), ids), max_size=60))
def test_an_id_set_is_a_set(ops):
    model: set[str] = set()
    ours = IdSet()
    for add, ident in ops:
        if add:
            model.add(ident)
            ours.add(ident)
        else:
            model.discard(ident)
            ours.discard(ident)
        assert (ident in ours) == (ident in model)
        assert len(ours) == len(model)
    assert sorted(ours) == sorted(model)
    assert all(i in ours for i in model)


def test_leading_zeros_are_another_id():
    s = IdSet(["17"])
    assert "017" not in s
    s.add("017")
    assert len(s) == 2 and sorted(s) == ["017", "17"]


def test_an_id_set_costs_pages_not_objects():
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        s = IdSet(str(n) for n in range(3_000_000, 3_050_000))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(s) == 50_000
    # Two 4 KiB pages cover 50,000 consecutive ids; a set of str would take over 4 MiB.
    assert grown < 64 * 1024, grown


deliveries = st.builds(
    Delivery,
    article_id=ids,
    content_hash=st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20)),
    revision=st.integers(min_value=0, max_value=2**33),
    published_at=st.one_of(st.none(), st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)),
    url_date=st.one_of(st.none(), st.integers(min_value=0, max_value=2**33)),
    column=st.one_of(st.none(), st.sampled_from(["3", "1161", "", "区块链"])),
)


@given(st.lists(deliveries, max_size=40))
def test_a_delivery_log_gives_back_what_was_written(written):
    log = DeliveryLog()
    for d in written:
        log.append(d)
    assert len(log) == len(written)
    assert bool(log) == bool(written)

    def key(d: Delivery) -> tuple:
        return (d.article_id, d.content_hash, d.revision, repr(d.published_at), repr(d.url_date),
                repr(d.column))  # fmt: skip

    assert sorted(map(key, log)) == sorted(map(key, written))


@given(st.lists(deliveries, max_size=20))
def test_a_publish_intent_reads_back_the_same(written):
    log = DeliveryLog()
    for d in written:
        log.append(d)
    entry = PublishEntry("/tmp/t", "/tmp/out.jsonl", 1, 2, 3, log)

    back = PublishEntry.from_json(json.loads(entry.json_text()))
    assert back.to_json() == PublishEntry("/tmp/t", "/tmp/out.jsonl", 1, 2, 3, list(log)).to_json()
    assert len(back.deliveries) == len(written)
