"""``DaskTaskRunner``: a flow's ``.submit()`` and ``.map()`` on a Dask cluster.

    from kernel_ext import flow
    from kernel_ext.dask import DaskTaskRunner

    @flow(task_runner=DaskTaskRunner())                          # a local cluster
    @flow(task_runner=DaskTaskRunner(address="tcp://host:8786"))  # an existing one

Names and options follow prefect-dask. Without an address, each flow run starts a
``distributed.LocalCluster`` (``cluster_kwargs`` go to it) and closes it when the run
ends. Each task run executes on a worker with the same engine as on the thread runner
(see ``_remote``); the driver only creates the run records and hands Dask their
arguments:

- futures of earlier task runs are passed as Dask futures, so a result goes from the
  worker that holds it to the worker that needs it, not through the driver;
- a large argument (over ``scatter_threshold`` bytes, 1 MiB by default) is scattered
  once and shared by reference by every task run it is passed to;
- ``.map()`` is one ``client.map`` call, whatever its length.

Before the flow run ends, every worker flushes its store writer, so the whole history
is durable when the flow returns, as with the thread runner.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from kernel_ext._context import FlowRunContext
from kernel_ext._errors import ConfigurationError
from kernel_ext._events import RunsSubmitted, bus
from kernel_ext._futures import TaskRunFuture, TaskRunFutureList
from kernel_ext._run_records import TaskRun, TaskRunId
from kernel_ext._task_inputs import linked_upstream
from kernel_ext.dask._future import DaskTaskRunFuture, dask_wait
from kernel_ext.dask._remote import RemoteContext, RemoteOutcome, flush_worker_store, run_remote

if TYPE_CHECKING:
    from kernel_ext._tasks import Task

__all__ = ["DaskTaskRunner", "require_distributed"]

Call = tuple[TaskRun, tuple[Any, ...], dict[str, Any]]
_SMALL = (int, float, bool, type(None), complex)
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def require_distributed() -> Any:
    """The ``distributed`` module, or a ConfigurationError saying how to install it."""
    try:
        return importlib.import_module("distributed")
    except ImportError as error:
        raise ConfigurationError(
            "DaskTaskRunner needs Dask's distributed scheduler: install it with "
            "`pip install 'taskbook[dask]'` (or `pip install distributed`)."
        ) from error


class DaskTaskRunner:
    """Runs submitted task runs on a Dask cluster: a new local one per flow run, or the
    one at ``address``.

    ``cluster_class`` (a class or its dotted path) and ``cluster_kwargs`` build the
    cluster when there is no address; ``adapt_kwargs`` make it adaptive;
    ``client_kwargs`` go to ``distributed.Client``.
    """

    def __init__(
        self,
        address: str | None = None,
        cluster_class: str | Callable[..., Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        adapt_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        scatter_threshold: int = 1 << 20,
    ) -> None:
        require_distributed()
        if address is not None and cluster_class is not None:
            raise ConfigurationError(
                "DaskTaskRunner takes an address (an existing cluster) or a cluster_class "
                "(a new one), not both."
            )
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs) if adapt_kwargs else None
        self.client_kwargs = dict(client_kwargs or {})
        self.scatter_threshold = scatter_threshold
        self._client: Any = None
        self._cluster: Any = None
        self._futures: list[Any] = []
        self._shared: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, Dask future)
        self._contexts: dict[str, Any] = {}  # flow run id -> scattered RemoteContext

    def __repr__(self) -> str:
        cluster = self.cluster_class
        if cluster is not None and not isinstance(cluster, str):
            cluster = getattr(cluster, "__name__", repr(cluster))
        return f"DaskTaskRunner({self.address or cluster or 'LocalCluster'})"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the running flow run (None outside one)."""
        return self._client

    def duplicate(self) -> DaskTaskRunner:
        return type(self)(
            self.address,
            self.cluster_class,
            self.cluster_kwargs,
            self.adapt_kwargs,
            self.client_kwargs,
            self.scatter_threshold,
        )

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> DaskTaskRunner:
        distributed = require_distributed()
        if self.address is not None:
            _check_store_reachable(self.address)
            self._client = distributed.Client(self.address, **self.client_kwargs)
            return self
        cluster_class = (
            _load_class(self.cluster_class) if self.cluster_class else distributed.LocalCluster
        )
        kwargs = self.cluster_kwargs
        if isinstance(cluster_class, type) and issubclass(cluster_class, distributed.LocalCluster):
            kwargs = _without_dashboard(kwargs)
        else:  # a cluster of other machines (Kubernetes, SLURM, ...)
            _check_store_reachable(None)
        self._cluster = cluster_class(**kwargs)
        if self.adapt_kwargs:
            self._cluster.adapt(**self.adapt_kwargs)
        self._client = distributed.Client(self._cluster, **self.client_kwargs)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is None:
            return
        try:
            if self._futures:
                dask_wait(self._futures)
                # The workers' writers batch; make what they wrote durable before the
                # flow run ends, as the thread runner's single writer does.
                _flush_workers(self._client)
        finally:
            self._close()

    def abandon(self) -> None:
        """Stop at once (Ctrl-C): cancel what has not run, keep nothing."""
        if self._client is not None and self._futures:
            self._client.cancel(self._futures)
        self._close()

    def _close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        self._futures, self._shared, self._contexts = [], {}, {}
        try:
            if client is not None:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()

    def submit(self, call: Callable[[], None]) -> None:
        raise ConfigurationError(
            "DaskTaskRunner runs task runs, not plain calls; submit tasks with "
            "task.submit(...) or task.map(...) inside the flow."
        )

    # --- task runs ------------------------------------------------------------------------

    def submit_task_runs(
        self,
        task: Task[Any, Any],
        calls: Sequence[Call],
        wait_for: Any,
        flow_ctx: FlowRunContext,
    ) -> list[DaskTaskRunFuture[Any]]:
        """Hand ``calls`` (run records, state Pending, and their arguments) to Dask."""
        client = self._require_client()
        runs, arg_lists, kwarg_lists = [], [], []
        for run, args, kwargs in calls:
            upstream: list[TaskRunId] = list(run.upstream)
            arg_lists.append(tuple(self._prepare(v, upstream) for v in args))
            kwarg_lists.append({k: self._prepare(v, upstream) for k, v in kwargs.items()})
            for linked in linked_upstream((*args, *kwargs.values()), flow_ctx):
                if linked not in upstream:
                    upstream.append(linked)
            run.upstream = upstream
            runs.append(run)
        shared: dict[str, Any] = {
            "task": self._share(task),
            "context": self._context(flow_ctx),
        }
        if wait_for:
            items = list(wait_for) if isinstance(wait_for, (list, tuple)) else [wait_for]
            shared["wait_for"] = [self._prepare(v, []) for v in items]
        keys = [f"{task.name}-{run.id}" for run in runs]
        dask_futures = client.map(
            run_remote, runs, arg_lists, kwarg_lists, key=keys, pure=False, **shared
        )
        self._futures.extend(dask_futures)
        bus.emit(RunsSubmitted(tuple(runs)))
        return [DaskTaskRunFuture(r, f, flow_ctx) for r, f in zip(runs, dask_futures, strict=True)]

    def _require_client(self) -> Any:
        if self._client is None:
            raise ConfigurationError(
                "This DaskTaskRunner is not running; task runs are submitted to it only "
                "inside the flow run that owns it."
            )
        return self._client

    def _prepare(self, value: Any, upstream: list[TaskRunId]) -> Any:
        """The argument as Dask should receive it: futures of this cluster stay futures."""
        kind = type(value)
        if kind in _SMALL or (kind is str and len(value) < self.scatter_threshold):
            return value
        if isinstance(value, TaskRunFuture):
            if value.task_run.id not in upstream:
                upstream.append(value.task_run.id)
            if isinstance(value, DaskTaskRunFuture) and value.dask_future.client is self._client:
                return value.dask_future
            value.wait()  # a run of another runner: its outcome travels as data
            return RemoteOutcome(value.task_run.id, value.task_run.name, value.state)
        if kind in (list, tuple, set, frozenset) or isinstance(value, TaskRunFutureList):
            items = (self._prepare(v, upstream) for v in value)
            return list(items) if isinstance(value, TaskRunFutureList) else kind(items)
        if kind is dict:
            return {k: self._prepare(v, upstream) for k, v in value.items()}
        return self._scatter_if_large(value)

    def _scatter_if_large(self, value: Any) -> Any:
        entry = self._shared.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        from dask.sizeof import sizeof

        if sizeof(value) < self.scatter_threshold:
            return value
        return self._share(value)

    def _share(self, value: Any) -> Any:
        """Send ``value`` to the cluster once; later uses pass a reference to it."""
        entry = self._shared.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        future = self._require_client().scatter(value, hash=False)
        self._shared[id(value)] = (value, future)  # the reference keeps the id unique
        return future

    def _context(self, flow_ctx: FlowRunContext) -> Any:
        run = flow_ctx.flow_run
        future = self._contexts.get(run.id)
        if future is None:
            context = RemoteContext.capture(run, flow_ctx.log_prints)
            future = self._contexts[run.id] = self._require_client().scatter(context, hash=False)
        return future


def _without_dashboard(kwargs: dict[str, Any]) -> dict[str, Any]:
    """LocalCluster options with no dashboard unless asked: two flows at once would race
    for its port. ``dashboard_address=None`` alone is not enough: the scheduler still
    serves its HTTP routes on port 8787 (and warns when that is taken), so they go to a
    free port on the loopback."""
    kwargs = {"dashboard_address": None, **kwargs}
    if kwargs["dashboard_address"] is None:
        http = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
        kwargs["scheduler_kwargs"] = {**http, **(kwargs.get("scheduler_kwargs") or {})}
    return kwargs


def _is_this_machine(host: str) -> bool:
    if host in _LOOPBACK:
        return True
    import socket

    import psutil  # type: ignore[import-untyped,unused-ignore]  # a dependency of distributed

    try:
        address = socket.gethostbyname(host)
    except OSError:
        return False
    local = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    return address in local or address.startswith("127.")


def _load_class(spec: str | Callable[..., Any]) -> Callable[..., Any]:
    if not isinstance(spec, str):
        return spec
    module, _, name = spec.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigurationError(
            f"cluster_class {spec!r} cannot be imported; give a class or its dotted path, "
            "e.g. 'distributed.LocalCluster'."
        ) from error


def _flush_workers(client: Any) -> None:
    """Every worker commits what its store writer still holds; a worker that cannot (its
    store is unreachable, or it died) is reported, not hidden."""
    from kernel_ext._logging import engine_logger

    answers = client.run(flush_worker_store, on_error="return")
    for worker, answer in answers.items():
        if isinstance(answer, BaseException):
            engine_logger().error(
                "Dask worker %s could not save its task runs' states: %s: %s",
                worker,
                type(answer).__name__,
                answer,
            )


def _check_store_reachable(address: str | None) -> None:
    """Workers on other machines cannot write to this machine's SQLite file."""
    from kernel_ext import _settings

    if not _settings.store_url().startswith("sqlite"):
        return
    if address is not None:
        host = urlparse(address if "://" in address else f"tcp://{address}").hostname or ""
        if _is_this_machine(host):
            return
    where = f"at {address}" if address is not None else "that this cluster class starts"
    raise ConfigurationError(
        f"The Dask cluster {where} may run on other machines, but the store is a "
        "SQLite file on this one, which its workers cannot reach. Set TASKBOOK_STORE_URL "
        "to a PostgreSQL URL that every worker can reach (and TASKBOOK_RESULTS_URL to "
        "shared storage such as s3://...), or use a cluster on 127.0.0.1."
    )
