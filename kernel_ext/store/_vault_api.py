"""The store's secret and variable methods: what ``Secret``, ``Variable``, ``taskbook
secrets``/``variables`` and the REST API call. Each is one committed transaction, seen at
once everywhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import SecretRecord, StoredSecret, VariableRecord

__all__ = ["VaultApi"]


class VaultApi(Transactions):
    """Secrets (encrypted values) and variables (JSON values), each call one transaction.

    The store holds a secret's ciphertext only: callers encrypt before ``save_secret``
    and decrypt what ``read_secret`` returns (``kernel_ext._secret_box``). Reads take a
    sequence of names and return the first that exists (a profile's name, then the
    shared one). Names are checked by the callers (``kernel_ext.secrets``/``.variables``).
    """

    def save_secret(self, name: str, ciphertext: str, overwrite: bool = False) -> SecretRecord:
        """Store secret ``name``; ``SecretAlreadyExists`` if it exists and not ``overwrite``."""
        from kernel_ext.store import _vault

        return self._write(_vault.save_secret, name, ciphertext, overwrite, time.time())

    def read_secret(self, names: str | Sequence[str]) -> StoredSecret | None:
        """The first of ``names`` that is a secret, with its ciphertext; None if none is."""
        from kernel_ext.store import _vault

        return self._read(_vault.read_secret, _names(names))

    def read_secrets(self) -> list[StoredSecret]:
        """Every secret with its ciphertext, by name."""
        from kernel_ext.store import _vault

        return self._read(_vault.read_secrets)

    def list_secrets(self) -> list[SecretRecord]:
        """Every secret's name and times, by name: never a value or a ciphertext."""
        from kernel_ext.store import _vault

        return self._read(_vault.list_secrets)

    def delete_secret(self, name: str) -> bool:
        """Remove secret ``name``; False if there was none."""
        from kernel_ext.store import _vault

        return self._write(_vault.delete_secret, name)

    def set_variable(
        self, name: str, value: Any, tags: Sequence[str] = (), overwrite: bool = False
    ) -> VariableRecord:
        """Set variable ``name`` to ``value`` (JSON); ``VariableAlreadyExists`` if it exists
        and not ``overwrite``."""
        from kernel_ext.store import _vault

        return self._write(_vault.set_variable, name, value, list(tags), overwrite, time.time())

    def read_variable(self, names: str | Sequence[str]) -> VariableRecord | None:
        """The first of ``names`` that is a variable; None if none is."""
        from kernel_ext.store import _vault

        return self._read(_vault.read_variable, _names(names))

    def list_variables(self) -> list[VariableRecord]:
        """Every variable with its value and tags, by name."""
        from kernel_ext.store import _vault

        return self._read(_vault.list_variables)

    def unset_variable(self, name: str) -> bool:
        """Remove variable ``name``; False if there was none."""
        from kernel_ext.store import _vault

        return self._write(_vault.unset_variable, name)


def _names(names: str | Sequence[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
