"""The store's secret and variable methods (filled in by the secrets work)."""

from __future__ import annotations

from kernel_ext.store._transactions import Transactions

__all__ = ["VaultApi"]


class VaultApi(Transactions):
    """Secrets (encrypted values) and variables (JSON values), each call one transaction."""
