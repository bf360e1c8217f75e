"""``prefect.transactions``: Taskbook's ``kernel_ext.transactions``, loaded on first use."""

from __future__ import annotations

from kernel_ext.compat._lazy import lazy_attributes

_NAMES = (
    "CommitMode",
    "IsolationLevel",
    "Transaction",
    "TransactionState",
    "atransaction",
    "get_transaction",
    "transaction",
)
__all__ = list(_NAMES)  # resolved by __getattr__, so kernel_ext.transactions loads on use

__getattr__ = lazy_attributes(
    __name__,
    {name: f"kernel_ext.transactions:{name}" for name in _NAMES},
    {"AsyncTransaction": "use `async with atransaction(...)`"},
)
