"""Rate-budget spends on both databases: exact sliding windows, atomic across stores
(each store a replica of its own, on one database)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from service.adapters.store.sql import open_store
from service.app.ports import RateKey
from tests.clock import START

ITEM = RateKey("/accounts/balance/get item a", 5, 60.0)
CLIENT = RateKey("/accounts/balance/get client c", 8, 60.0)


class TestWindow:
    async def test_n_spends_then_a_refusal_until_the_oldest_leaves(self, store):
        for second in range(5):
            at = START + timedelta(seconds=second)
            assert await store.take_spends((ITEM,), at) is None
        refused = await store.take_spends((ITEM,), START + timedelta(seconds=10))
        assert refused is not None
        assert refused.key == ITEM.name
        assert refused.retry_after_s == 50.0  # the first spend leaves at 60 s
        assert await store.take_spends((ITEM,), START + timedelta(seconds=60)) is None
        again = await store.take_spends((ITEM,), START + timedelta(seconds=60.5))
        assert again is not None
        assert again.retry_after_s == 0.5  # the second, spent at 1 s, leaves at 61 s

    async def test_a_refused_key_spends_nothing_on_the_others(self, store):
        for _ in range(5):
            assert await store.take_spends((ITEM, CLIENT), START) is None
        assert await store.take_spends((ITEM, CLIENT), START) is not None
        other = RateKey("/accounts/balance/get item b", 5, 60.0)
        for _ in range(3):
            assert await store.take_spends((other, CLIENT), START) is None
        refused = await store.take_spends((other, CLIENT), START)
        assert refused is not None
        assert refused.key == CLIENT.name  # 5 + 3 = 8: the refusal above spent none

    async def test_a_block_fills_the_window_until_its_end(self, store):
        await store.block_spends(ITEM, START + timedelta(seconds=30), START)
        refused = await store.take_spends((ITEM,), START + timedelta(seconds=1))
        assert refused is not None
        assert refused.retry_after_s == 29.0
        assert await store.take_spends((ITEM,), START + timedelta(seconds=30)) is None

    async def test_sweep_forgets_only_spends_before_the_horizon(self, store):
        assert await store.take_spends((ITEM,), START) is None
        assert await store.take_spends((ITEM,), START + timedelta(seconds=90)) is None
        assert await store.sweep_spends(START + timedelta(seconds=60)) == 1
        assert await store.sweep_spends(START + timedelta(seconds=60)) == 0


class TestReplicas:
    async def test_concurrent_takers_on_three_stores_never_exceed_the_limit(
        self, store_url
    ):
        """Three stores (three pools or writer threads, as three replicas) race 60
        takers each for 5 + 8 calls on one database: exactly the limits are spent."""
        stores = [await open_store(store_url) for _ in range(3)]
        items = [RateKey(f"/accounts/balance/get item {i}", 5, 60.0) for i in "abc"]
        try:
            outcomes = await asyncio.gather(
                *(
                    stores[n % 3].take_spends((items[n % 3], CLIENT), START)
                    for n in range(180)
                )
            )
        finally:
            for opened in stores:
                await opened.close()
        taken = [n for n, refused in enumerate(outcomes) if refused is None]
        assert len(taken) == CLIENT.limit
        per_item = [sum(1 for n in taken if n % 3 == i) for i in range(3)]
        assert all(count <= 5 for count in per_item)
