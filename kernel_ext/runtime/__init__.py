"""Attributes of the run the calling code belongs to, as Prefect's ``prefect.runtime``.

    from kernel_ext import runtime

    @flow
    def report():
        print(runtime.flow_run.name, runtime.flow_run.parameters, runtime.deployment.name)

``runtime.flow_run``, ``runtime.task_run`` and ``runtime.deployment`` read their values
when an attribute is asked for, so the same code works inside a flow, a task, a subflow,
a worker's deployment run, and outside any run (where values are empty: None, ``{}``,
``[]``). Each attribute ``x`` can be overridden for a test with an environment variable,
``TASKBOOK__RUNTIME__FLOW_RUN__X`` (``TASK_RUN``, ``DEPLOYMENT``), the counterpart of
Prefect's ``PREFECT__RUNTIME__...``: the string is cast to the type of the real value.
"""

from __future__ import annotations

from kernel_ext.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]
