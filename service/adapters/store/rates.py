"""RateLedger on SQL: the budgets' rules (rate_rules.py) run by the ledger's writer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.store import rate_rules
from service.adapters.store.ledger import LedgerWriter
from service.adapters.store.schema import rate_spends, utc
from service.app.ports import RateKey, SpendRefused


def epoch_s(moment: datetime) -> float:
    """Seconds since the epoch: how rate_spends stores a time."""
    return utc(moment).timestamp()


class SqlRateLedger:
    """Spends of Plaid rate budgets, shared by every replica on the database."""

    _writer: LedgerWriter
    _engine: AsyncEngine

    async def take_spends(
        self, keys: tuple[RateKey, ...], now: datetime
    ) -> SpendRefused | None:
        """One spend on every key if all have room, atomically across replicas."""
        d, at, lock = self._writer.dialect, epoch_s(now), self._writer.locks
        return await self._writer.run_atomic(lambda: rate_rules.take(d, keys, at, lock))

    async def block_spends(self, key: RateKey, until: datetime, now: datetime) -> None:
        """No room on `key` before `until` (Plaid answered 429)."""
        d, end = self._writer.dialect, epoch_s(until)
        await self._writer.run_atomic(lambda: rate_rules.block(d, key, end))

    async def sweep_spends(self, before: datetime) -> int:
        """Delete spends older than `before` (outside every window)."""
        statement = rate_spends.delete().where(rate_spends.c.spent_at < epoch_s(before))
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)
