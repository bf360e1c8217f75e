"""Artifacts: what a run publishes for people, with Prefect 3's functions and semantics.

    from kernel_ext.artifacts import create_markdown_artifact, create_table_artifact

    @flow
    def report():
        create_markdown_artifact("## Revenue\\nUp 4%", key="revenue-report")
        create_table_artifact([{"region": "eu", "revenue": 12.5}], key="revenue-table")

Each function returns the artifact's id (a ``UUID``) and links the artifact to the task
run and flow run it is created in (neither, outside a run: Prefect warns that this is
deprecated, and so do we). A ``key`` (lowercase letters, digits and dashes) gives the
artifact a history across runs: ``taskbook artifacts show KEY`` lists it, newest first.
A link artifact is stored as markdown (``[text](link)``), as in Prefect; a table keeps its
shape (a list of rows, a dict of columns, or a list of lists) with NaN stored as None.
A progress artifact (0-100; values outside are clamped, with a warning) is the one kind
that changes: ``update_progress_artifact``. In a notebook, an artifact is also displayed
under the cell that creates it, and a progress bar moves as it is updated.

As in Prefect, the sync functions return a coroutine inside an ``async def`` flow or task
(await it; ``_sync=True`` forces the value), and the ``a``-prefixed ones always do; a
notebook cell outside runs gets the value (see ``kernel_ext._dispatch``).

The artifacts are written to the store at once (not batched): the console shows a run's
artifacts while it runs.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from kernel_ext._async_bridge import off_loop
from kernel_ext._context import current_flow_run, task_run_context
from kernel_ext._dispatch import runs_async
from kernel_ext._errors import ConfigurationError, OptionTypeError

if TYPE_CHECKING:
    from kernel_ext.store.records import ArtifactRecord

__all__ = [
    "acreate_image_artifact",
    "acreate_link_artifact",
    "acreate_markdown_artifact",
    "acreate_progress_artifact",
    "acreate_table_artifact",
    "aupdate_progress_artifact",
    "create_image_artifact",
    "create_link_artifact",
    "create_markdown_artifact",
    "create_progress_artifact",
    "create_table_artifact",
    "update_progress_artifact",
]

_KEY = re.compile(r"^[a-z0-9-]*$")  # Prefect's ArtifactKey
Table = dict[str, list[Any]] | list[dict[str, Any]] | list[list[Any]]

logger = logging.getLogger("taskbook.artifacts")


def create_markdown_artifact(
    markdown: str,
    key: str | None = None,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Create a markdown artifact; returns its id."""
    return _create("markdown", lambda: _text("markdown", markdown), key, description, _sync)


def create_table_artifact(
    table: Table,
    key: str | None = None,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Create a table artifact from a list of row dicts, a dict of column lists, or a
    list of row lists; NaN becomes None (null), as in Prefect."""
    return _create("table", lambda: _table(table), key, description, _sync)


def create_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Create a link artifact (stored as the markdown ``[link_text](link)``)."""
    return _create("markdown", lambda: _link(link, link_text), key, description, _sync)


def create_progress_artifact(
    progress: float,
    key: str | None = None,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Create a progress artifact: a percentage, 0 to 100; update it with
    ``update_progress_artifact``."""
    return _create("progress", lambda: _progress(progress), key, description, _sync)


def update_progress_artifact(
    artifact_id: uuid.UUID | str,
    progress: float,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Set a progress artifact's percentage (and its description, when given)."""
    if runs_async(_sync):
        return cast(uuid.UUID, aupdate_progress_artifact(artifact_id, progress, description))
    identifier, record = _update(artifact_id, progress, description)
    _redraw(record)
    return identifier


def create_image_artifact(
    image_url: str,
    key: str | None = None,
    description: str | None = None,
    *,
    _sync: bool | None = None,
) -> uuid.UUID:
    """Create an image artifact: the URL of an image to show."""
    return _create("image", lambda: _text("image_url", image_url), key, description, _sync)


# Prefect's async variants: the store call runs off the event loop; the artifact is shown
# from the loop's thread, as the cell's output.


async def acreate_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await _acreate("markdown", lambda: _text("markdown", markdown), key, description)


async def acreate_table_artifact(
    table: Table, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await _acreate("table", lambda: _table(table), key, description)


async def acreate_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
) -> uuid.UUID:
    return await _acreate("markdown", lambda: _link(link, link_text), key, description)


async def acreate_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await _acreate("progress", lambda: _progress(progress), key, description)


async def aupdate_progress_artifact(
    artifact_id: uuid.UUID | str, progress: float, description: str | None = None
) -> uuid.UUID:
    identifier, record = await off_loop(lambda: _update(artifact_id, progress, description))
    _redraw(record)
    return identifier


async def acreate_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await _acreate("image", lambda: _text("image_url", image_url), key, description)


# --- helpers ------------------------------------------------------------------------------


def _create(
    kind: str,
    data: Callable[[], Any],
    key: str | None,
    description: str | None,
    sync: bool | None,
) -> uuid.UUID:
    """Prefect's dispatch: the id in sync code, a coroutine in an async flow or task."""
    if runs_async(sync):
        return cast(uuid.UUID, _acreate(kind, data, key, description))
    record = _store_new(kind, data(), key, description, _run_ids())
    _show(record)
    return uuid.UUID(record["id"])


async def _acreate(
    kind: str, data: Callable[[], Any], key: str | None, description: str | None
) -> uuid.UUID:
    checked, runs = data(), _run_ids()  # checked and linked here, before the thread
    record = await off_loop(lambda: _store_new(kind, checked, key, description, runs))
    _show(record)
    return uuid.UUID(record["id"])


def _store_new(
    kind: str, data: Any, key: str | None, description: str | None, runs: tuple[Any, Any]
) -> ArtifactRecord:
    from kernel_ext.store import get_store

    _check_key(key)
    if description is not None and not isinstance(description, str):
        raise OptionTypeError(
            f"An artifact's description is text, not {type(description).__name__}."
        )
    flow_run_id, task_run_id = runs
    return get_store().create_artifact(
        str(uuid.uuid4()),
        kind,
        data,
        key=key,
        description=description,
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
    )


def _update(
    artifact_id: uuid.UUID | str, progress: float, description: str | None
) -> tuple[uuid.UUID, ArtifactRecord]:
    from kernel_ext.store import get_store

    identifier = _artifact_id(artifact_id)
    record = get_store().update_artifact(
        str(identifier), _progress(progress), description or None, kind="progress"
    )
    return identifier, record


def _show(record: ArtifactRecord) -> None:
    from kernel_ext._display import show_artifact

    show_artifact(record)


def _redraw(record: ArtifactRecord) -> None:
    from kernel_ext._display import update_artifact_display

    update_artifact_display(record)


def _run_ids() -> tuple[Any, Any]:
    """The flow run and task run the calling code is in (Prefect's
    ``get_task_and_flow_run_ids``); outside any run, a FutureWarning as Prefect gives."""
    task_context = task_run_context.get()
    flow_context = current_flow_run()
    task_run = task_context.task_run if task_context is not None else None
    if task_run is None and flow_context is None:
        warnings.warn(
            "Artifact creation outside of a flow or task run is deprecated and will be "
            "removed in a later version.",
            FutureWarning,
            stacklevel=4,
        )
        return None, None
    flow_run_id = flow_context.flow_run.id if flow_context is not None else None
    if task_run is not None:
        flow_run_id = task_run.flow_run_id or flow_run_id
    return flow_run_id, task_run.id if task_run is not None else None


def _check_key(key: str | None) -> None:
    if key is None:
        return
    if not isinstance(key, str) or not _KEY.match(key) or len(key) > 255:
        raise ConfigurationError(
            f"Artifact key {key!r} is not valid: artifact key must only contain lowercase "
            "letters, numbers, and dashes (at most 255), e.g. 'daily-report'."
        )


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise OptionTypeError(f"An artifact's {field} is text, not {type(value).__name__}.")
    return value


def _link(link: Any, link_text: Any) -> str:
    target = _text("link", link)
    label = target if link_text is None else _text("link_text", link_text)
    return f"[{label or target}]({target})"


def _progress(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise OptionTypeError(
            f"A progress artifact's progress is a number from 0 to 100, not {value!r}."
        )
    if not 0.0 <= value <= 100.0:
        logger.warning("ProgressArtifact received an invalid value, Progress: %s%%", value)
        value = max(0.0, min(float(value), 100.0))
        logger.warning("Interpreting as %s%% progress", value)
    return float(value)


def _artifact_id(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ConfigurationError(
            f"{value!r} is not an artifact id; pass the UUID that create_progress_artifact "
            "returned."
        ) from None


def _table(table: Any) -> Any:
    """The table as JSON, checked to be one of Prefect's three shapes."""
    if isinstance(table, Mapping) and all(
        isinstance(k, str) and isinstance(v, list | tuple) for k, v in table.items()
    ):
        return {k: [_cell(c) for c in v] for k, v in table.items()}
    if isinstance(table, list | tuple):
        if all(isinstance(row, Mapping) for row in table):
            return [{str(k): _cell(v) for k, v in row.items()} for row in table]
        if all(isinstance(row, list | tuple) for row in table):
            return [[_cell(c) for c in row] for row in table]
    hint = " (for a DataFrame: df.to_dict('records'))" if hasattr(table, "to_dict") else ""
    raise OptionTypeError(
        "create_table_artifact takes a list of row dicts, a dict of column lists, or a list "
        f"of row lists, not {type(table).__name__}{hint}."
    )


def _cell(value: Any) -> Any:
    """A table cell as JSON: NaN is None, numpy scalars are their Python value, and what
    JSON cannot hold is its text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(value) if math.isinf(value) else value  # JSON has no infinity
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        try:
            return _cell(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _cell(v) for k, v in value.items()}
    return str(value)
