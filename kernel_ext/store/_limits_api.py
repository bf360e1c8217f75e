"""The store's limit methods: what ``concurrency``, ``rate_limit``, tagged task runs and
``taskbook limits`` call. Each is one committed transaction, seen at once everywhere."""

from __future__ import annotations

import time
from collections.abc import Sequence

from kernel_ext.store._transactions import Transactions

__all__ = ["LimitsApi"]

from kernel_ext.store.records import LimitDetail, LimitRecord


class LimitsApi(Transactions):
    """Named concurrency and rate limits and their leased slots (see ``_limit_leases``).

    Times given are epoch seconds (default: now); times returned are ISO-8601 UTC. An
    unknown limit raises ``ConfigurationError`` saying how to create one.
    """

    def set_limit(
        self,
        name: str,
        slots: int | None,
        per_second: float | None = None,
        burst: int | None = None,
    ) -> LimitRecord:
        """Create or change limit ``name``: ``slots`` at once, ``per_second`` starts."""
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.set_limit, name, slots, per_second, burst, time.time())

    def delete_limit(self, name: str) -> bool:
        """Remove limit ``name`` and its leases; False if there was none."""
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.delete_limit, name)

    def reset_limit(self, name: str) -> LimitRecord:
        """Give back every slot of ``name`` and clear its rate's backlog."""
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.reset_limit, name, time.time())

    def list_limits(self) -> list[LimitRecord]:
        """Every limit with its slots ``used`` now and how many ``holders``."""
        from kernel_ext.store import _limit_leases

        return self._read(_limit_leases.list_limits, time.time())

    def read_limit(self, name: str) -> LimitDetail:
        """A limit with its unexpired ``leases``."""
        from kernel_ext.store import _limit_leases

        return self._read(_limit_leases.read_limit, name, time.time())

    def limit_names(self) -> list[str]:
        """The names of the limits that have slots."""
        from kernel_ext.store import _limit_leases

        return self._read(_limit_leases.limit_names)

    def take_slots(
        self,
        names: Sequence[str],
        occupy: int,
        holder: str,
        lease_seconds: float,
        now: float | None = None,
    ) -> tuple[list[str], list[str], str | None]:
        """Take ``occupy`` slots of each limit at once (all or none); see ``_limit_leases``."""
        from kernel_ext.store import _limit_leases

        moment = time.time() if now is None else now
        return self._write(_limit_leases.take_slots, names, occupy, holder, moment, lease_seconds)

    def release_leases(self, lease_ids: Sequence[str]) -> int:
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.release_leases, lease_ids)

    def renew_leases(self, lease_ids: Sequence[str], lease_seconds: float) -> int:
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.renew_leases, lease_ids, time.time(), lease_seconds)

    def take_rate(
        self,
        name: str,
        occupy: int = 1,
        per_second: float | None = None,
        burst: int | None = None,
    ) -> float | None:
        """0.0 if a start under rate ``name`` is allowed now (and counted), else the
        seconds to wait; None when ``name`` has no rate."""
        from kernel_ext.store import _limit_leases

        return self._write(_limit_leases.take_rate, name, occupy, per_second, burst, time.time())
