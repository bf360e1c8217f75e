"""The flow run engine: one flow run from Pending to a final state.

``FlowRunEngine`` holds the state machine (parameters, subflow link, attempts, retries,
the returned value); ``run_sync`` and ``run_async`` drive it. A flow run owns a fresh task
runner for its duration and waits for every task run it submitted before it ends. A
top-level flow run waits for the store flush, so its whole history is durable on return.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import Token
from typing import TYPE_CHECKING, Any

from kernel_ext import _liveness as liveness
from kernel_ext import _states as states
from kernel_ext._context import FlowRunContext, current_flow_run, flow_run_context, task_run_context
from kernel_ext._display import show_run_graph
from kernel_ext._durability import ensure_store, flush_store
from kernel_ext._errors import Abort, Suspend, Terminated
from kernel_ext._events import StateEvent, bus
from kernel_ext._inputs import _Resolver
from kernel_ext._liveness import SigtermGuard
from kernel_ext._logging import engine_logger, install_print_capture
from kernel_ext._names import generate_run_name
from kernel_ext._parameters import jsonable
from kernel_ext._runs import FlowRun, FlowRunId, TaskRun, TaskRunId, new_id
from kernel_ext._task_engine import _failed_state
from kernel_ext._timeouts import call_with_timeout

if TYPE_CHECKING:
    from kernel_ext._flows import Flow

__all__ = ["FlowRunEngine", "run_async", "run_sync"]


def _set_state(run: FlowRun | TaskRun, state: states.State) -> None:
    run.state = state
    bus.emit(StateEvent(run, state))


class FlowRunEngine:
    """Moves one flow run through its states; the drivers below supply the calls."""

    def __init__(self, flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.flow = flow
        self.parameters = flow.binder.bind(args, kwargs)
        self.parent = current_flow_run()
        if self.parent is None:
            ensure_store()
        self.parent_task_run = self._link_to_parent()
        self.run = FlowRun(
            FlowRunId(new_id()),
            flow.flow_run_name or generate_run_name(),
            flow.name,
            {k: jsonable(v) for k, v in self.parameters.items()},
            self.parent_task_run.id if self.parent_task_run else None,
            flow.tags,
        )
        _set_state(self.run, states.Pending())
        self.state: states.State = self.run.state  # type: ignore[assignment]
        self.runner = flow.task_runner.duplicate()
        self._tokens: tuple[Token[Any], Token[Any]] | None = None
        self._sigterm: SigtermGuard | None = None
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
            tags=self.flow.tags,
        )
        _set_state(run, states.Pending())
        return run

    # --- lifecycle ------------------------------------------------------------------------

    def enter(self) -> None:
        self.runner.__enter__()
        liveness.register(self.run.id)
        if self.parent is None:
            self._sigterm = SigtermGuard().__enter__()
        context = FlowRunContext(self.flow, self.run, self.runner, self.flow.log_prints or False)
        if context.log_prints:
            install_print_capture()
        if self.parent is None:
            show_run_graph(self.run)
        self._tokens = (flow_run_context.set(context), task_run_context.set(None))
        engine_logger().info(
            "Beginning flow run %r for flow %r", self.run.name, self.flow.name,
            extra={"flow_run_id": self.run.id, "run_label": f"Flow run {self.run.name!r}"},
        )  # fmt: skip

    def begin_attempt(self) -> None:
        run = self.run
        run.run_count += 1
        if run.start_time is None:
            run.start_time = time.time()
            if self.parent_task_run is not None:
                self.parent_task_run.start_time = run.start_time
                self.parent_task_run.run_count = 1
                _set_state(self.parent_task_run, states.Running())
        _set_state(run, states.Running() if run.run_count == 1 else states.Retrying())

    def succeed(self, value: Any) -> None:
        # Resolve returned futures before the runner closes: a Dask runner's results live
        # on its cluster. Then wait for every other submitted task run. (A Ctrl-C while
        # resolving goes to interrupt(), which abandons the runner instead of waiting.)
        resolver = _Resolver()
        try:
            value = resolver.visit(value)
        except Exception as error:  # e.g. a set of unhashable results; the run fails
            self.runner.__exit__(None, None, None)
            self.state = _failed_state(error)
            return
        self.runner.__exit__(None, None, None)
        if resolver.failed is not None:
            label, state = resolver.failed
            self.state = states.Failed(
                f"The returned task run {label!r} ended {state.name}.", data=resolver.error
            )
        else:
            self.state = states.Completed(data=value)

    def fail(self, error: BaseException) -> float | None:
        """Record a failed attempt; the delay before the next attempt, or None if final."""
        self.runner.__exit__(None, None, None)
        failed = _failed_state(error)
        policy = self.flow.retry_policy
        if policy.should_retry(
            self.run.run_count, lambda: policy.condition(self.flow, self.run, failed)  # type: ignore[misc]
        ):
            delay = policy.delay_before(self.run.run_count)
            message = f"Retry {self.run.run_count} of {policy.retries} in {delay:g} s"
            _set_state(self.run, states.AwaitingRetry(f"{message} after {failed.message}"))
            self.runner = self.flow.task_runner.duplicate()
            self.runner.__enter__()
            flow_ctx = flow_run_context.get()
            if flow_ctx is not None:
                flow_ctx.task_runner = self.runner
            return delay
        self.state = failed
        return None

    def interrupt(self, signal: BaseException) -> None:
        # Decide the state first: a second Ctrl-C while waiting must not lose it.
        self.state = states.Crashed(f"Stopped by {type(signal).__name__}.", data=signal)
        abandon = getattr(self.runner, "abandon", None)
        if abandon is not None:  # do not wait for running task runs: stop queued ones
            abandon()
        else:
            self.runner.__exit__(None, None, None)
        message = f"{type(signal).__name__}: {signal}".rstrip(": ")
        if isinstance(signal, Suspend):
            self.state = states.Suspended(str(signal))
        elif isinstance(signal, Abort):
            self.state = states.Cancelled(str(signal) or "Aborted.")
        elif isinstance(signal, Terminated):
            self.state = states.Cancelled("Terminated by SIGTERM.")
            self._terminated = True
        elif isinstance(signal, (KeyboardInterrupt, asyncio.CancelledError)):
            self.state = states.Cancelled(f"Interrupted ({message}).")
        else:
            self.state = states.Crashed(f"Stopped by {message}.", data=signal)

    def finish(self) -> None:
        try:
            self._record_end()
        finally:
            liveness.unregister(self.run.id)
            if self._sigterm is not None:
                self._sigterm.__exit__()
        if self.parent is None:
            flush_store()
            if self._terminated:
                _exit_terminated(self.run.id)

    def _record_end(self) -> None:
        if not self.state.is_final():  # an error inside the engine itself
            self.state = states.Crashed("The flow run ended without a final state.")
        run, state = self.run, self.state
        run.end_time = state.timestamp
        _set_state(run, state)
        if self.parent_task_run is not None:
            self.parent_task_run.end_time = state.timestamp
            mirrored = states.State(state.type, state.name, state.message, state.data)
            _set_state(self.parent_task_run, mirrored)
        self.flow.run_hooks(run, state)
        if self._tokens is not None:
            flow_run_context.reset(self._tokens[0])
            task_run_context.reset(self._tokens[1])
        log = engine_logger().error if state.is_failed() or state.is_crashed() else (
            engine_logger().info
        )
        log(
            "Finished in state %r", state,
            extra={"flow_run_id": run.id, "run_label": f"Flow run {run.name!r}"},
        )  # fmt: skip

    def outcome(self, return_state: bool) -> Any:
        return self.state if return_state else self.state.result()


def _exit_terminated(run_id: str) -> None:
    """SIGTERM ended a top-level flow run: its task runs still running end Cancelled too.
    When threads of abandoned task runs are still running, the interpreter would wait
    for them at exit: then the process exits now, as SIGTERM would have ended it.
    Otherwise ``Terminated`` goes on up, and the program's own cleanup runs."""
    import os
    import sys
    import threading

    try:
        ensure_store().cancel_unfinished_task_runs(run_id, "Terminated by SIGTERM.")
    except Exception:  # exiting matters more than this last write
        pass
    main = threading.main_thread()
    if any(t.is_alive() and not t.daemon and t is not main for t in threading.enumerate()):
        import logging

        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        os._exit(143)


def run_sync(engine: FlowRunEngine, return_state: bool = False) -> Any:
    """Drive a plain (``def``) flow run to its end in the calling thread."""
    flow = engine.flow
    try:
        engine.enter()
        while True:
            engine.begin_attempt()
            try:
                args, kwargs = flow.binder.call_args(engine.parameters)
                value = call_with_timeout(flow.fn, args, kwargs, flow.timeout_seconds)
            except Exception as error:
                delay = engine.fail(error)
                if delay is None:
                    break
                time.sleep(delay)
                continue
            engine.succeed(value)
            break
    except Abort as signal:  # a stop on purpose (e.g. a rejected approval): Cancelled
        engine.interrupt(signal)
    except BaseException as signal:
        engine.interrupt(signal)
        raise
    finally:
        engine.finish()
    return engine.outcome(return_state)


async def run_async(engine: FlowRunEngine, return_state: bool = False) -> Any:
    """Drive an ``async def`` flow run to its end on the running event loop."""
    flow = engine.flow
    try:
        engine.enter()
        while True:
            engine.begin_attempt()
            try:
                args, kwargs = flow.binder.call_args(engine.parameters)
                call = flow.fn(*args, **kwargs)
                if flow.timeout_seconds is not None:
                    from kernel_ext._task_engine import _async_timeout

                    value = await _async_timeout(call, flow.timeout_seconds)
                else:
                    value = await call
            except Exception as error:
                delay = engine.fail(error)
                if delay is None:
                    break
                await asyncio.sleep(delay)
                continue
            engine.succeed(value)
            break
    except Abort as signal:  # a stop on purpose (e.g. a rejected approval): Cancelled
        engine.interrupt(signal)
    except BaseException as signal:
        engine.interrupt(signal)
        raise
    finally:
        engine.finish()
    return engine.outcome(return_state)
