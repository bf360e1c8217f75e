"""Dask for Taskbook: run a flow's task runs on a Dask cluster.

    pip install 'taskbook[dask]'

    from kernel_ext import flow, task
    from kernel_ext.dask import DaskTaskRunner

    @flow(task_runner=DaskTaskRunner())
    def fan_out(items):
        return score.map(items).result()

Importing this module does not import Dask; creating a ``DaskTaskRunner`` does, and says
how to install it if it is missing.
"""

from __future__ import annotations

from kernel_ext.dask._runner import DaskTaskRunner

__all__ = ["DaskTaskRunner"]
