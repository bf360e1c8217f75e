"""Masking secrets in what a deployment run leaves behind: its output notebook above all.

The notebook's kernel masks the secrets it loads in the run's logs and states (see
``kernel_ext._redaction``), but not in the cells' outputs: what a cell prints, a
traceback quoting a connection string, a DataFrame of credentials. Those are in the
output notebook papermill writes, which the console shows and anyone with the data
directory can read. So the executor of the run masks every secret of the store
(decrypted with its key, which the kernel shares) in the notebook each time papermill
saves it: after each cell, on autosave, at the end.

It does so in papermill's own write: ``scrubbed_output`` registers a papermill I/O
handler for the run's output path (papermill picks a handler by the path's prefix), and
every save papermill makes goes through ``papermill.iorw.write_ipynb`` to it. The
handler masks the notebook in memory and replaces the file whole, so no copy with a
secret in it is ever written, not even for a moment, while the run executes or when it
is cancelled or killed halfway.

The notebook is masked as values, never as text: its strings are (sources, outputs,
tracebacks, papermill's parameters), not the fields that make it a notebook (cell and
output types, ids, tags, the kernel's name) nor base64 images. A secret such as
"20240101" or "code" cannot then leave a notebook that does not parse.

For the run, the executor also knows every secret as masked (``remember_store_secrets``):
the log line and the Failed state it writes quote the notebook's error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kernel_ext import _redaction, _secret_box
from kernel_ext._errors import ConfigurationError

__all__ = ["remember_store_secrets", "scrub_notebook", "scrub_notebook_text", "scrubbed_output"]

_log = logging.getLogger("taskbook.deployments")

# What readers of a notebook rely on, kept as it is: in a notebook, a cell or an output,
# nbformat's kinds, ids and counts, a stream's name and a cell's attachments (base64); in
# the notebook's metadata, the kernel and the run's ids (not papermill's: it records the
# parameters); in a cell's, its tags and papermill's and Jupyter's markers.
_STRUCTURE = frozenset(
    {"cell_type", "output_type", "id", "execution_count", "name", "nbformat", "nbformat_minor"}
    | {"attachments"}
)
_NOTEBOOK_METADATA = frozenset({"kernelspec", "language_info", "taskbook"})
_CELL_METADATA = frozenset({"tags", "papermill", "execution", "jupyter"})
_TEXT_MIMES = ("image/svg+xml", "application/javascript")

_unreadable: set[str] = set()  # secrets warned about once already


@contextlib.contextmanager
def scrubbed_output(output: Path) -> Iterator[None]:
    """Mask every secret of the store in this process while the block runs, and in
    every save papermill makes of the notebook at ``output``; once the block ends,
    however it ends, mask the notebook again with the secrets the notebook saved last."""
    from papermill.iorw import papermill_io

    remember_store_secrets()
    # This process executes one run; the handler matches this run's path only.
    papermill_io.register(str(output), _MaskingHandler())
    try:
        yield
    finally:
        remember_store_secrets()
        scrub_notebook(output)


def remember_store_secrets() -> int:
    """Decrypt every secret of the store and mask it from now on; returns how many.

    A secret this process's key cannot decrypt is skipped with a warning (once): the
    kernel, which has the same key, could not have loaded it either.
    """
    from kernel_ext.store import get_store

    known = 0
    for secret in get_store().read_secrets():
        try:
            value = _secret_box.decrypt(secret["name"], secret["ciphertext"])
        except ConfigurationError as error:
            if secret["name"] not in _unreadable:
                _unreadable.add(secret["name"])
                _log.warning("Not masked in the output notebook: %s", error)
            continue
        _redaction.remember(value)
        known += 1
    return known


def scrub_notebook(path: Path) -> bool:
    """Rewrite the notebook at ``path`` with the known secrets masked, whole or not at
    all; False if it held none (or there is no notebook)."""
    if not _redaction.active():
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    masked = scrub_notebook_text(text)
    if masked is text:
        return False
    _publish(path, masked)
    return True


def scrub_notebook_text(text: str) -> str:
    """The notebook ``text`` (nbformat's JSON) with the known secrets masked in its
    strings; ``text`` itself if it held none."""
    if not _redaction.in_json(text):
        return text
    try:
        notebook = json.loads(text)
    except ValueError:  # not JSON (not papermill's): its text is all there is to mask
        masked = _redaction.redact(text)
        return text if masked == text else masked
    scrubbed = _scrubbed(notebook)
    if scrubbed is notebook:
        return text
    # As nbformat writes a notebook, so the file changes only where a value was masked.
    return json.dumps(scrubbed, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


class _MaskingHandler:
    """Papermill's I/O handler for one run's output notebook: writes each save masked."""

    def write(self, buf: str, path: str) -> None:
        _learn_new_secrets()
        _publish(Path(path), scrub_notebook_text(buf))

    def read(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    def listdir(self, path: str) -> list[str]:
        return [str(Path(path) / name) for name in os.listdir(path)]

    def pretty_path(self, path: str) -> str:
        return path


def _learn_new_secrets() -> None:
    """Before each save: a secret the notebook saved meanwhile is masked too."""
    try:
        remember_store_secrets()
    except Exception as error:  # a store blip: mask with the secrets known already
        _log.warning("The store's secrets could not be read again: %s", error)


def _publish(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole: the console never reads half a notebook."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _scrubbed(notebook: Any) -> Any:
    """``notebook`` with secrets masked in its values, not in its structure; ``notebook``
    itself if nothing was masked."""
    return _node(notebook, {"cells": _each(_cell), "metadata": _metadata(_NOTEBOOK_METADATA)})


def _cell(cell: Any) -> Any:
    return _node(cell, {"outputs": _each(_output), "metadata": _metadata(_CELL_METADATA)})


def _output(output: Any) -> Any:
    return _node(output, {"data": _mime_bundle})


def _node(node: Any, parts: dict[str, Callable[[Any], Any]]) -> Any:
    """A notebook, cell or output with its structure kept, ``parts`` masked by their
    own rule, the rest as values."""
    if not isinstance(node, dict):
        return _redaction.redact_value(node)
    masked: dict[str, Any] = {}
    for key, value in node.items():
        if key in _STRUCTURE:
            masked[key] = value
        elif key in parts:
            masked[key] = parts[key](value)
        else:
            masked[key] = _redaction.redact_value(value)
    return node if all(masked[k] is v for k, v in node.items()) else masked


def _each(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The rule for a list of cells or outputs: ``rule`` for each."""

    def each(items: Any) -> Any:
        if not isinstance(items, list):
            return _redaction.redact_value(items)
        masked = [rule(item) for item in items]
        return items if all(a is b for a, b in zip(masked, items, strict=True)) else masked

    return each


def _metadata(kept: frozenset[str]) -> Callable[[Any], Any]:
    """The rule for metadata: the ``kept`` keys as they are, the rest as values."""

    def metadata_rule(metadata: Any) -> Any:
        if not isinstance(metadata, dict):
            return _redaction.redact_value(metadata)
        rest = {k: v for k, v in metadata.items() if k not in kept}
        masked = _redaction.redact_value(rest)
        return metadata if masked is rest else {**metadata, **masked}

    return metadata_rule


def _mime_bundle(data: Any) -> Any:
    """An output's data: text in any form is masked, base64 (a PNG, a PDF) is not."""
    if not isinstance(data, dict):
        return _redaction.redact_value(data)
    text = {k: v for k, v in data.items() if _is_text(k)}
    masked = _redaction.redact_value(text)
    return data if masked is text else {**data, **masked}


def _is_text(mime: str) -> bool:
    return mime.startswith("text/") or mime.endswith("json") or mime in _TEXT_MIMES
