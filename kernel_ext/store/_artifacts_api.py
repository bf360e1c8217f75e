"""The store's artifact methods."""

from __future__ import annotations

from kernel_ext.store._transactions import Transactions

__all__ = ["ArtifactsApi"]


class ArtifactsApi(Transactions):
    """Artifacts of runs (markdown, tables, links, progress, images), each call one
    transaction, seen at once everywhere."""
