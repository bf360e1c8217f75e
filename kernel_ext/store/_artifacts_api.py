"""The store's artifact methods: what ``kernel_ext.artifacts``, ``taskbook artifacts`` and
the console call. Each is one committed transaction, seen at once everywhere."""

from __future__ import annotations

import time
from typing import Any

from kernel_ext._run_records import FlowRunId, TaskRunId
from kernel_ext.store._transactions import Transactions
from kernel_ext.store.records import ArtifactRecord

__all__ = ["ArtifactsApi"]


class ArtifactsApi(Transactions):
    """Artifacts of runs (markdown, tables, links, progress, images); see ``_artifact_rows``."""

    def create_artifact(
        self,
        artifact_id: str,
        kind: str,
        data: Any,
        *,
        key: str | None = None,
        description: str | None = None,
        flow_run_id: FlowRunId | None = None,
        task_run_id: TaskRunId | None = None,
    ) -> ArtifactRecord:
        from kernel_ext.store import _artifact_rows

        return self._write(
            _artifact_rows.create_artifact,
            artifact_id,
            kind,
            data,
            key=key,
            description=description,
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            now=time.time(),
        )

    def update_artifact(
        self,
        artifact_id: str,
        data: Any,
        description: str | None = None,
        *,
        kind: str | None = None,
    ) -> ArtifactRecord:
        """Replace an artifact's data; with ``kind``, only an artifact of that type."""
        from kernel_ext.store import _artifact_rows

        return self._write(
            _artifact_rows.update_artifact, artifact_id, data, description, time.time(), kind=kind
        )

    def read_artifact(self, artifact_id: str) -> ArtifactRecord:
        from kernel_ext.store import _artifact_rows

        return self._read(_artifact_rows.read_artifact, artifact_id)

    def list_run_artifacts(self, run_id: FlowRunId, limit: int = 500) -> list[ArtifactRecord]:
        """A flow run's artifacts with its subflows', oldest first."""
        from kernel_ext.store import _artifact_rows

        return self._read(_artifact_rows.list_run_artifacts, run_id, limit)

    def list_artifacts(
        self,
        *,
        flow_run_ids: list[str] | None = None,
        task_run_id: TaskRunId | None = None,
        key: str | None = None,
        kind: str | None = None,
        latest: bool = False,
        limit: int = 200,
    ) -> list[ArtifactRecord]:
        """Newest first; ``key`` gives that key's history, ``latest`` each key's newest."""
        from kernel_ext.store import _artifact_rows

        return self._read(
            _artifact_rows.list_artifacts,
            flow_run_ids=flow_run_ids,
            task_run_id=task_run_id,
            key=key,
            kind=kind,
            latest=latest,
            limit=limit,
        )
