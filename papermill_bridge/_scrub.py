"""Masking secrets in what a deployment run leaves behind: its output notebook above all.

The notebook's kernel masks the secrets it loads in the run's logs and states (see
``kernel_ext._redaction``), but not in the cells' outputs: what a cell prints, a
traceback quoting a connection string, a DataFrame of credentials. Those are in the
output notebook papermill writes, which the console shows and anyone with the data
directory can read. So the executor of the run masks every secret of the store
(decrypted with its key, which the kernel shares) in the whole notebook once it is
written: outputs, sources, metadata.

For the run, the executor also knows every secret as masked (``remember_store_secrets``):
the log line and the Failed state it writes quote the notebook's error.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from kernel_ext import _redaction, _secret_box
from kernel_ext._errors import ConfigurationError

__all__ = ["remember_store_secrets", "scrub_notebook", "scrubbed_output"]

_log = logging.getLogger("taskbook.deployments")


@contextlib.contextmanager
def scrubbed_output(output: Path) -> Iterator[None]:
    """Mask every secret of the store in this process while the block runs, and in the
    notebook at ``output`` once it ends, however it ends (including secrets the
    notebook saved meanwhile)."""
    remember_store_secrets()
    try:
        yield
    finally:
        remember_store_secrets()
        scrub_notebook(output)


def remember_store_secrets() -> int:
    """Decrypt every secret of the store and mask it from now on; returns how many.

    A secret this process's key cannot decrypt is skipped with a warning: the kernel,
    which has the same key, could not have loaded it either.
    """
    from kernel_ext.store import get_store

    known = 0
    for secret in get_store().read_secrets():
        try:
            value = _secret_box.decrypt(secret["name"], secret["ciphertext"])
        except ConfigurationError as error:
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
    masked = _redaction.redact(text)
    if masked == text:
        return False
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(masked, encoding="utf-8")
    os.replace(partial, path)
    return True
