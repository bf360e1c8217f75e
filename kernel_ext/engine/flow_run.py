"""The flow run engine: one flow run from Pending to a final state.

``FlowRunEngine`` holds the state machine (parameters, subflow link, attempts, retries,
the returned value); ``lifecycle`` is the ladder that the sync, async and stream drivers
perform. A flow run owns a fresh task runner for its duration and waits for every task
run it submitted before it ends. A top-level flow run waits for the store flush, so its
whole history is durable on return.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextvars import Token
from typing import TYPE_CHECKING, Any

from kernel_ext import _liveness as liveness
from kernel_ext import _states as states
from kernel_ext._context import FlowRunContext, current_flow_run, flow_run_context, task_run_context
from kernel_ext._display import show_run_graph
from kernel_ext._durability import flush_store
from kernel_ext._errors import Abort, ParameterTypeError, Terminated
from kernel_ext._liveness import SigtermGuard
from kernel_ext._logging import PrintCapture, engine_logger
from kernel_ext._names import generate_run_name
from kernel_ext._parameters import jsonable
from kernel_ext._run_records import FlowRun, FlowRunId, TaskRun, TaskRunId, new_id
from kernel_ext._task_inputs import resolve_inputs
from kernel_ext.engine._outcome import resolve_futures_to_states, return_value_to_state
from kernel_ext.engine._steps import (
    Call,
    Lifecycle,
    Sleep,
    Stream,
    drive_async,
    drive_sync,
    stream,
    stream_async,
)
from kernel_ext.engine._transitions import failed_state, interrupted_state, set_state
from kernel_ext.store import get_store

if TYPE_CHECKING:
    from kernel_ext._flows import Flow

__all__ = [
    "FlowRunEngine",
    "run_flow_async",
    "run_flow_stream",
    "run_flow_stream_async",
    "run_flow_sync",
]


class FlowRunEngine:
    """Moves one flow run through its states; ``lifecycle`` supplies the order."""

    def __init__(
        self,
        flow: Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Any = None,
    ) -> None:
        self.flow = flow
        # A call that does not bind raises here, before a run exists (as in Prefect);
        # values that do not fit their annotations fail the run (``prepare``).
        self.parameters = flow.binder.bind(args, kwargs)
        self.wait_for = wait_for
        self.parent = current_flow_run()
        if self.parent is None:
            get_store()
        self.parent_task_run = self._link_to_parent()
        self.run = FlowRun(
            FlowRunId(new_id()),
            generate_run_name(),
            flow.name,
            {k: jsonable(v) for k, v in self.parameters.items()},
            self.parent_task_run.id if self.parent_task_run else None,
            flow.run_tags(),
        )
        set_state(self.run, states.Pending())
        self.state: states.State = self.run.state  # type: ignore[assignment]
        self.runner = flow.task_runner.duplicate()
        self._tokens: tuple[Token[Any], Token[Any]] | None = None
        self._context: FlowRunContext | None = None
        self._sigterm: SigtermGuard | None = None
        self._capture: PrintCapture | None = None
        self._terminated = False

    def _link_to_parent(self) -> TaskRun | None:
        """A subflow appears in its parent as a task run, so the parent's graph shows it."""
        if self.parent is None:
            return None
        parent_run = self.parent.flow_run
        run = TaskRun(
            TaskRunId(new_id()),
            self.parent.next_task_run_name(self.flow.name),
            f"flow:{self.flow.name}",
            parent_run.id,
            tags=self.flow.run_tags(),
        )
        set_state(run, states.Pending())
        return run

    # --- lifecycle ------------------------------------------------------------------------

    def enter(self) -> None:
        self.runner.__enter__()
        liveness.register(self.run.id)
        if self.parent is None:
            self._sigterm = SigtermGuard().__enter__()
        log_prints = self.flow.log_prints
        if log_prints is None:  # as in Prefect, a subflow follows its parent
            log_prints = self.parent.log_prints if self.parent is not None else False
        context = FlowRunContext(self.flow, self.run, self.runner, log_prints)
        context.parameters = self.parameters
        self._capture = PrintCapture(log_prints).__enter__()
        if self.parent is None:
            show_run_graph(self.run)
        self._tokens = (flow_run_context.set(context), task_run_context.set(None))
        engine_logger().info(
            "Beginning flow run %r for flow %r",
            self.run.name,
            self.flow.name,
            extra={"flow_run_id": self.run.id, "run_label": f"Flow run {self.run.name!r}"},
        )

    def prepare(self) -> bool:
        """Wait for ``wait_for``, validate the parameters, name the run; False when the
        run ends before its body (an upstream did not complete, a value does not fit)."""
        if self.wait_for:
            resolved = resolve_inputs((), {}, self.wait_for, self.parent)
            if resolved.failed is not None:
                label, upstream = resolved.failed
                self.state = states.Failed(
                    f"Upstream task run {label!r} ended {upstream.name}; this run did not start.",
                    data=resolved.error,
                )
                return False
        try:
            self.parameters = self.flow.binder.validate(self.parameters)
        except ParameterTypeError as error:
            message = "Validation of flow parameters failed with error:"
            engine_logger().error("%s %s", message, error, extra=self._log_extra())
            failed = failed_state(error)
            self.state = states.Failed(f"{message} {failed.message}", error, failed.details)
            return False
        self.run.parameters = {k: jsonable(v) for k, v in self.parameters.items()}
        context = flow_run_context.get()
        if context is not None:
            context.parameters = self.parameters
        if self.flow.flow_run_name is not None:  # a bad template raises, as in Prefect
            self.run.name = self.flow.resolve_run_name(self.parameters)
        return True

    def begin_attempt(self) -> Call:
        run = self.run
        run.run_count += 1
        if run.start_time is None:
            run.start_time = time.time()
            if self.parent_task_run is not None:
                self.parent_task_run.start_time = run.start_time
                self.parent_task_run.run_count = 1
                set_state(self.parent_task_run, states.Running())
        self.state = states.Running() if run.run_count == 1 else states.Retrying()
        set_state(run, self.state)
        args, kwargs = self.flow.binder.call_args(self.parameters)
        flow = self.flow
        if flow.streams:
            stream = Stream(flow.fn, args, kwargs, flow.timeout_seconds)
            stream.around = (self._leave_context, self._enter_context)
            return stream
        return Call(flow.fn, args, kwargs, flow.timeout_seconds)

    def _leave_context(self) -> None:
        """While a streamed run's item is with the caller, the caller's code runs outside
        the run (its logs, prints and task calls are not the run's)."""
        if self._tokens is not None:
            self._context = flow_run_context.get()
            flow_run_context.reset(self._tokens[0])
            task_run_context.reset(self._tokens[1])
            self._tokens = None

    def _enter_context(self) -> None:
        if self._tokens is None and self._context is not None:
            self._tokens = (flow_run_context.set(self._context), task_run_context.set(None))

    def succeed(self, value: Any) -> float | None:
        """Take what the body returned: its futures become their final states (waited for
        before the runner closes: a Dask runner's results live on its cluster), then every
        other submitted task run is waited for. A returned Failed state fails the attempt
        and is retried; the delay before the next attempt, or None."""
        try:
            value = resolve_futures_to_states(value)
        except Exception as error:
            self.runner.__exit__(None, None, None)
            self.state = failed_state(error)
            return None
        self.runner.__exit__(None, None, None)
        state = return_value_to_state(value)
        if state.is_failed():
            delay = self._retry_delay(state)
            if delay is not None:
                return delay
        if state.is_completed() and self.flow.persist_result:
            self._persist(state)
        self.state = state
        return None

    def _persist(self, state: states.State) -> None:
        """``persist_result=True``: the flow's result is kept in its result storage
        (a result that cannot be kept fails the run, as a task's does)."""
        from kernel_ext._errors import ResultError

        storage = self.flow.storage()
        label = f"flow run {self.run.name!r}"
        try:
            location = storage.write(
                self.run.id, state.data, None, label, self.flow.result_serializer
            )
        except ResultError as error:
            failed = failed_state(error)
            state.type, state.name, state.message, state.data = (
                failed.type,
                failed.name,
                failed.message,
                failed.data,
            )
            return
        state.details = {**(state.details or {}), "result": location}

    def fail(self, error: BaseException) -> float | None:
        """Record a failed attempt; the delay before the next attempt, or None if final."""
        self.runner.__exit__(None, None, None)
        failed = failed_state(error)
        delay = self._retry_delay(failed)
        if delay is None:
            self.state = failed
        return delay

    def _retry_delay(self, failed: states.State) -> float | None:
        policy = self.flow.retry_policy
        if not policy.should_retry(
            self.run.run_count,
            lambda: policy.condition(self.flow, self.run, failed),  # type: ignore[misc]
        ):
            return None
        delay = policy.delay_before(self.run.run_count)
        message = f"Retry {self.run.run_count} of {policy.retries} in {delay:g} s"
        set_state(self.run, states.AwaitingRetry(f"{message} after {failed.message}"))
        self.runner = self.flow.task_runner.duplicate()
        self.runner.__enter__()
        flow_ctx = flow_run_context.get()
        if flow_ctx is not None:
            flow_ctx.task_runner = self.runner
        return delay

    def interrupt(self, signal: BaseException) -> None:
        # Decide the state first: a second Ctrl-C while waiting must not lose it.
        self.state = states.Crashed(f"Stopped by {type(signal).__name__}.", data=signal)
        abandon = getattr(self.runner, "abandon", None)
        if abandon is not None:  # do not wait for running task runs: stop queued ones
            abandon()
        else:
            self.runner.__exit__(None, None, None)
        self.state = interrupted_state(signal)
        self._terminated = isinstance(signal, Terminated)

    def record_end(self) -> None:
        if self.state.is_cancelling():  # returned Cancelling: the hooks see it, and the
            # run ends Cancelled (nothing else would ever end it)
            state: states.State = states.Cancelled(self.state.message, self.state.data)
        elif not self.state.is_final() and not self.state.is_paused():
            self.state = state = states.Crashed("The flow run ended without a final state.")
        else:
            state = self.state
        run = self.run
        run.end_time = state.timestamp
        set_state(run, state)
        if self.parent_task_run is not None:
            self.parent_task_run.end_time = state.timestamp
            mirrored = states.State(state.type, state.name, state.message, state.data)
            set_state(self.parent_task_run, mirrored)

    def finish(self) -> None:
        if self.state.is_cancelling() and self.run.state is not None:
            self.state = self.run.state  # the hooks saw Cancelling; the run ended Cancelled
        try:
            if self._tokens is not None:
                flow_run_context.reset(self._tokens[0])
                task_run_context.reset(self._tokens[1])
            if self._capture is not None:
                self._capture.__exit__()
            state = self.state
            log = (
                engine_logger().error
                if state.is_failed() or state.is_crashed()
                else (engine_logger().info)
            )
            log("Finished in state %r", state, extra=self._log_extra())
        finally:
            liveness.unregister(self.run.id)
            if self._sigterm is not None:
                self._sigterm.__exit__()
        if self.parent is None:
            flush_store()
            if self._terminated:
                _exit_terminated(self.run.id)

    def _log_extra(self) -> dict[str, Any]:
        return {"flow_run_id": self.run.id, "run_label": f"Flow run {self.run.name!r}"}

    def outcome(self, return_state: bool) -> Any:
        return self.state if return_state else self.state.value()


def lifecycle(engine: FlowRunEngine) -> Lifecycle:
    """The steps of one flow run, from its parameters to its hooks."""
    signal: BaseException | None = None
    try:
        engine.enter()
        if engine.prepare():
            yield from _attempts(engine)
    except Abort as stop:  # a stop on purpose (e.g. a rejected approval): Cancelled
        engine.interrupt(stop)
    except BaseException as stop:
        engine.interrupt(stop)
        signal = stop
    try:
        engine.record_end()
        if engine.flow.hooks.active:
            yield from engine.flow.hooks.steps(engine.flow, engine.run, engine.state)
    finally:
        engine.finish()
    if signal is not None:
        raise signal


def _attempts(engine: FlowRunEngine) -> Lifecycle:
    while True:
        call = engine.begin_attempt()
        if engine.flow.hooks.active:
            yield from engine.flow.hooks.steps(engine.flow, engine.run, engine.state)
        try:
            value = yield call
        except Exception as error:
            delay = engine.fail(error)
        else:
            delay = engine.succeed(value)
        if delay is None:
            return
        yield Sleep(delay)


def _exit_terminated(run_id: FlowRunId) -> None:
    """SIGTERM ended a top-level flow run: its task runs still running end Cancelled too.
    When threads of abandoned task runs are still running, the interpreter would wait
    for them at exit: then the process exits now, as SIGTERM would have ended it.
    Otherwise ``Terminated`` goes on up, and the program's own cleanup runs."""
    import os
    import sys
    import threading

    try:
        get_store().cancel_unfinished_task_runs(run_id, "Terminated by SIGTERM.")
    except Exception:  # exiting matters more than this last write
        pass
    main = threading.main_thread()
    if any(t.is_alive() and not t.daemon and t is not main for t in threading.enumerate()):
        import logging

        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        os._exit(143)


def run_flow_sync(engine: FlowRunEngine, return_state: bool = False) -> Any:
    """Drive a plain (``def``) flow run to its end in the calling thread."""
    drive_sync(lifecycle(engine))
    return engine.outcome(return_state)


async def run_flow_async(engine: FlowRunEngine, return_state: bool = False) -> Any:
    """Drive an ``async def`` flow run to its end on the running event loop."""
    await drive_async(lifecycle(engine))
    return engine.outcome(return_state)


def run_flow_stream(engine: FlowRunEngine) -> Iterator[Any]:
    """A generator flow run: its items as they come."""
    return stream(lifecycle(engine), lambda: engine.outcome(False))


def run_flow_stream_async(engine: FlowRunEngine) -> AsyncIterator[Any]:
    return stream_async(lifecycle(engine), lambda: engine.outcome(False))
