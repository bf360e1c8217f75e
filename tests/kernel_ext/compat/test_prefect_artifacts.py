"""Artifacts as Prefect 3 creates them (tests/test_artifacts.py, in our words): each
function returns the artifact's id, keys are lowercase letters, digits and dashes, a
progress out of range is clamped rather than refused, and creating one outside a run
still works, with a FutureWarning."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


def test_each_function_returns_the_artifacts_id_inside_a_flow_and_a_task(pf: Any) -> None:
    artifacts = pf.artifacts

    @pf.task
    def in_a_task() -> list[Any]:
        return [
            artifacts.create_markdown_artifact("# in a task", key="task-markdown"),
            artifacts.create_table_artifact({"a": [1, 3], "b": [2, float("nan")]}),
        ]

    @pf.flow
    def in_a_flow() -> list[Any]:
        progress = artifacts.create_progress_artifact(10.0, key="the-progress")
        return [
            *in_a_task(),
            artifacts.create_link_artifact("https://www.prefect.io/", "Prefect", key="link"),
            artifacts.create_table_artifact([[1, 2], [3, 4]], description="list of lists"),
            artifacts.create_image_artifact("https://example.com/a.png", key="image"),
            progress,
            artifacts.update_progress_artifact(progress, 50.0),
        ]

    ids = in_a_flow()
    assert all(isinstance(i, uuid.UUID) for i in ids)
    assert ids[-1] == ids[-2]  # update_progress_artifact returns the id it updated
    assert len(set(ids[:-1])) == len(ids) - 1


@pytest.mark.parametrize("key", ["Upper", "under_score", "with space", "dot.ted"])
def test_a_key_outside_lowercase_letters_digits_and_dashes_is_a_value_error(
    pf: Any, key: str
) -> None:
    @pf.flow
    def keyed() -> Any:
        return pf.artifacts.create_markdown_artifact("x", key=key)

    with pytest.raises(ValueError, match="must only contain lowercase letters, numbers, and"):
        keyed()


def test_a_progress_out_of_range_is_clamped_not_refused(pf: Any) -> None:
    @pf.flow
    def overshoot() -> Any:
        artifact_id = pf.artifacts.create_progress_artifact(-5.0)
        return pf.artifacts.update_progress_artifact(artifact_id, 250.0)

    assert isinstance(overshoot(), uuid.UUID)


def test_an_artifact_outside_any_run_is_created_with_a_future_warning(pf: Any) -> None:
    with pytest.warns(FutureWarning, match="outside of a flow or task run is deprecated"):
        artifact_id = pf.artifacts.create_markdown_artifact("# no run")
    assert isinstance(artifact_id, uuid.UUID)


def test_in_an_async_flow_the_sync_names_are_awaited(pf: Any) -> None:
    import asyncio

    @pf.flow
    async def async_report() -> list[Any]:
        return [
            await pf.artifacts.create_markdown_artifact("# awaited", key="awaited"),
            await pf.artifacts.acreate_table_artifact([{"a": 1}]),
            await pf.artifacts.create_progress_artifact(5.0, _sync=False),
            pf.artifacts.create_link_artifact("https://example.com", _sync=True),
        ]

    assert all(isinstance(i, uuid.UUID) for i in asyncio.run(async_report()))
