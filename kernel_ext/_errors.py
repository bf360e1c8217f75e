"""Every error Taskbook raises, in one hierarchy.

Catch ``TaskbookError`` to catch them all. Messages say what to do next.

    TaskbookError
    ├── ConfigurationError        an option given to @task/@flow/a setting is invalid
    │   ├── CellOptionError       the ``%%task`` line cannot be understood
    │   │                         (kernel_ext.cells)
    │   ├── DeploymentNotFound    no deployment has that name or id (also a
    │   │                         ``LookupError``)
    │   ├── VersionNotFound       the deployment has no version of that number (also a
    │   │                         ``LookupError``)
    │   ├── ArtifactNotFound      no artifact has that id (also a ``LookupError``)
    │   ├── LimitNotFound         no concurrency or rate limit has that name (also a
    │   │                         ``LookupError``)
    │   ├── SecretNotFound        no secret has that name, with the profile's prefix or
    │   │                         without (also a ``LookupError``)
    │   ├── SecretAlreadyExists   a secret is saved under a name in use, without
    │   │                         ``overwrite=True``
    │   ├── AutomationNotFound    no automation has that name or id (also a ``LookupError``)
    │   ├── AutomationExists      an automation is created under a name in use
    │   ├── AutomationFileError   an automation file cannot be read or holds an invalid
    │   │                         automation, one line per problem (kernel_ext.automations)
    │   ├── VariableAlreadyExists a variable is set under a name in use, without
    │   │                         ``overwrite=True``
    │   ├── OptionTypeError       an option has the wrong type (also a ``TypeError``)
    │   ├── InvalidNameError      a flow/task/run/secret/variable name or a profile has
    │   │                         characters that are not allowed
    │   ├── ReservedArgumentError a task's function takes an argument Taskbook reserves
    │   ├── MappingLengthMismatch .map() got iterables of different lengths
    │   └── MappingMissingIterable .map() got no iterable argument
    ├── MissingDependency         a module Taskbook needs is not installed (also an
    │                             ``ImportError``); says which ``pip install`` brings it
    ├── ParameterValidationError  flow arguments do not fit the flow's signature
    │   ├── SignatureMismatchError the call does not bind to the signature (also a
    │   │   │                     ``TypeError``); raised before any run exists
    │   │   └── ParameterBindError Prefect's name for it
    │   └── ParameterTypeError    a value does not fit its annotation; the flow run
    │                             ends Failed with it
    ├── CacheKeyError             an input cannot be hashed into a cache key
    ├── ResultError               a result cannot be serialised, stored or read back
    ├── TaskRunTimeout            a run exceeded ``timeout_seconds`` (state TimedOut);
    │                             also a ``TimeoutError``
    ├── UnfinishedRun             a result was asked of a run that is not final
    ├── CancelledRun              a result was asked of a Cancelled run
    ├── FailedRun                 a result was asked of a Failed run that holds no exception
    ├── CrashedRun                the same, of a Crashed run
    ├── PausedRun                 a result was asked of a Paused run
    ├── MissingResult             a state holds no result (it was not kept)
    ├── UpstreamTaskError         an upstream task run did not complete, so this one did
    │                             not start
    ├── MissingContextError       a run context was asked for outside any run
    ├── StoreError                the state store cannot be used
    │   ├── StoreUnavailableError the store URL cannot be reached or opened
    │   └── StoreSchemaError      the store was written by a newer Taskbook
    ├── RunNotFound               no run with that id in the store (also a ``LookupError``)
    ├── RunStateConflict          an action does not apply to the run in its state
    │                             (cancel a finished run)
    ├── PauseError                pause_flow_run was called where it cannot pause
    ├── PauseTimeout              no answer came before the pause's timeout (also a
    │                             ``TimeoutError``); the paused run fails with it
    ├── ConcurrencySlotTimeout    no slot of a concurrency limit (or no start of a rate
    │                             limit) came free in time (also a ``TimeoutError``)
    ├── InputError                an answer to a paused run cannot be taken
    │   ├── InputNotFound         no pending input request with that id / for that run
    │   ├── InputAlreadyAnswered  someone answered (or it expired) first
    │   └── InputValidationError  the answer does not fit the form's fields
    ├── EventTooLarge             an event is over the size limit (``emit_event``)
    ├── ActionFailed              an automation's action cannot be done
    │   │                         (papermill_bridge.automations)
    │   ├── NotificationFailed    a notification was not delivered
    │   └── ActionsFailed         some actions of a firing failed; ``results`` says which
    ├── OutcomeFormatError        an executor's report of a deployment run cannot be read
    │                             (papermill_bridge; the run is recorded Crashed)
    ├── BadRequest                a REST call's argument or body field is missing or of
    │                             the wrong kind: HTTP 400 (papermill_bridge.server)
    └── NotFound                  what a REST URL names is absent: HTTP 404
                                  (papermill_bridge.server)

The classes marked with a package are defined there, next to what raises them; the others
are here. Errors carry their context as attributes: ``RunNotFound.run_id``,
``DeploymentNotFound.name``, ``VersionNotFound.name``/``.version``, ``LimitNotFound.name``,
``ArtifactNotFound.artifact_id``, ``RunStateConflict.run_id``/``.state``,
``ConcurrencySlotTimeout.limit``, ``MissingDependency.module``/``.install``,
``SecretNotFound.name``, ``SecretAlreadyExists.name``, ``VariableAlreadyExists.name``.

Control-flow signals are not errors: they subclass ``BaseException`` so that a
user's ``except Exception:`` cannot swallow them.

    TaskbookSignal (BaseException)
    ├── Abort                     the engine stops a run on purpose (e.g. cancel)
    ├── Suspend                   a headless run pauses: its kernel stops, and the run is
    │                             executed again once the answer arrives
    └── Terminated                the process got SIGTERM during a flow run (also a
                                  ``SystemExit``, status 143): the run ends Cancelled
"""

from __future__ import annotations

__all__ = [
    "Abort",
    "ArtifactNotFound",
    "AutomationExists",
    "AutomationNotFound",
    "CacheKeyError",
    "CancelledRun",
    "ConcurrencySlotTimeout",
    "ConfigurationError",
    "CrashedRun",
    "DeploymentNotFound",
    "EventTooLarge",
    "FailedRun",
    "InputAlreadyAnswered",
    "InputError",
    "InputNotFound",
    "InputValidationError",
    "InvalidNameError",
    "LimitNotFound",
    "MappingLengthMismatch",
    "MappingMissingIterable",
    "MissingContextError",
    "MissingDependency",
    "MissingResult",
    "OptionTypeError",
    "ParameterBindError",
    "ParameterTypeError",
    "ParameterValidationError",
    "PauseError",
    "PauseTimeout",
    "PausedRun",
    "PrefectException",
    "ReservedArgumentError",
    "ResultError",
    "RunNotFound",
    "RunStateConflict",
    "SecretAlreadyExists",
    "SecretNotFound",
    "SignatureMismatchError",
    "StoreError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "Suspend",
    "TaskRunTimeout",
    "TaskbookError",
    "TaskbookSignal",
    "Terminated",
    "TerminationSignal",
    "UnfinishedRun",
    "UpstreamTaskError",
    "VariableAlreadyExists",
    "VersionNotFound",
]


class TaskbookError(Exception):
    """Root of every error raised by Taskbook."""


class ConfigurationError(TaskbookError, ValueError):
    """Raised at decoration or configuration time when an option is invalid."""


class MissingDependency(TaskbookError, ImportError):
    """Raised when a module Taskbook needs is missing; ``install`` is the command."""

    def __init__(
        self, message: str, *, module: str | None = None, install: str | None = None
    ) -> None:
        super().__init__(message, name=module)
        self.module = module
        self.install = install


class ParameterValidationError(TaskbookError, ValueError):
    """Raised when a flow is called with arguments that do not fit its signature."""


class SignatureMismatchError(ParameterValidationError, TypeError):
    """Raised when a flow's call does not bind to its signature (before a run exists)."""


class ParameterBindError(SignatureMismatchError):
    """Prefect's name for a call that does not bind to the flow's signature."""


class ParameterTypeError(ParameterValidationError, TypeError):
    """Raised when a flow parameter does not fit its annotation; the run ends Failed."""


class OptionTypeError(ConfigurationError, TypeError):
    """Raised at decoration time when an option has the wrong type (hooks that are not a
    list of callables, a run name that is neither a template nor a callable)."""


class InvalidNameError(ConfigurationError):
    """Raised when a flow, task or run name has a character that is not allowed."""


class ReservedArgumentError(ConfigurationError, TypeError):
    """Raised when a task's function takes an argument Taskbook reserves for itself."""


class MappingLengthMismatch(ConfigurationError):
    """Raised when ``.map()`` gets iterables of different lengths."""


class MappingMissingIterable(ConfigurationError):
    """Raised when ``.map()`` gets no iterable argument."""


class CacheKeyError(TaskbookError):
    """Raised when an input of a cached task cannot be hashed into a cache key."""


class ResultError(TaskbookError):
    """Raised when a result cannot be serialised, persisted or read back."""


class TaskRunTimeout(TaskbookError, TimeoutError):
    """Raised inside the engine when a run exceeds its ``timeout_seconds``."""


class UnfinishedRun(TaskbookError):
    """Raised when the result of a run that has not reached a final state is asked for."""


class CancelledRun(TaskbookError):
    """Raised when the result of a Cancelled run is asked for."""


class FailedRun(TaskbookError):
    """Raised when the result of a Failed run that holds no exception is asked for."""


class CrashedRun(TaskbookError):
    """Raised when the result of a Crashed run that holds no exception is asked for."""


class PausedRun(TaskbookError):
    """Raised when the result of a Paused run is asked for."""


class MissingResult(TaskbookError):
    """Raised when a state holds no result: it was not kept."""


class UpstreamTaskError(TaskbookError):
    """The error of a run that did not start because an upstream run did not complete."""


class MissingContextError(TaskbookError, RuntimeError):
    """Raised when a run context is asked for outside any flow or task run."""


class StoreError(TaskbookError):
    """Raised when the state store cannot be used."""


class StoreUnavailableError(StoreError):
    """Raised when the store URL cannot be reached or the database cannot be opened."""


class StoreSchemaError(StoreError):
    """Raised when the store's schema is newer than this version of Taskbook knows."""


class RunNotFound(TaskbookError, LookupError):
    """Raised when no flow or task run has the given id; ``run_id`` is the id (or the
    prefix of one) that was asked for."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class DeploymentNotFound(ConfigurationError, LookupError):
    """Raised when no deployment has the given name or id (``name``)."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class VersionNotFound(ConfigurationError, LookupError):
    """Raised when a deployment (``name``) has no version numbered ``version``."""

    def __init__(
        self, message: str, *, name: str | None = None, version: int | None = None
    ) -> None:
        super().__init__(message)
        self.name = name
        self.version = version


class LimitNotFound(ConfigurationError, LookupError):
    """Raised when no concurrency or rate limit has the given name (``name``)."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class ArtifactNotFound(ConfigurationError, LookupError):
    """Raised when no artifact has the given id (``artifact_id``)."""

    def __init__(self, message: str, *, artifact_id: str | None = None) -> None:
        super().__init__(message)
        self.artifact_id = artifact_id


class EventTooLarge(TaskbookError):
    """Raised by ``emit_event`` for an event over the size limit (``size``, ``maximum``)."""

    def __init__(self, size: int, maximum: int = 0) -> None:
        super().__init__(
            f"Event is too large to emit ({size} > {maximum} bytes): put large data in a "
            "result or an artifact, and its key in the payload."
        )
        self.size = size
        self.maximum = maximum

    def __reduce__(self) -> tuple[type[EventTooLarge], tuple[int, int]]:
        return type(self), (self.size, self.maximum)


class AutomationNotFound(ConfigurationError, LookupError):
    """Raised when no automation has the given name or id (``automation``)."""

    def __init__(self, message: str, *, automation: str | None = None) -> None:
        super().__init__(message)
        self.automation = automation


class AutomationExists(ConfigurationError):
    """Raised when an automation is created with a name another one has (``name``)."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class SecretNotFound(ConfigurationError, LookupError):
    """Raised by ``Secret.load``/``Secret.delete`` when no secret has the name (``name``,
    as asked for); a ``ValueError`` too, as Prefect raises for a missing block."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class SecretAlreadyExists(ConfigurationError):
    """Raised by ``Secret.save`` when a secret is saved under ``name`` already, and
    ``overwrite=True`` was not passed (Prefect raises a ``ValueError``)."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class VariableAlreadyExists(ConfigurationError):
    """Raised by ``Variable.set`` when variable ``name`` exists and ``overwrite=True``
    was not passed (Prefect raises a ``ValueError``)."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class RunStateConflict(TaskbookError):
    """Raised when an action does not apply to a run in its current state."""

    def __init__(
        self, message: str, *, run_id: str | None = None, state: str | None = None
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.state = state


class PauseError(TaskbookError):
    """Raised when ``pause_flow_run`` is called outside a flow run or a task cell."""


class PauseTimeout(TaskbookError, TimeoutError):
    """Raised by ``pause_flow_run`` when no answer came in time; the run fails with it."""


class ConcurrencySlotTimeout(TaskbookError, TimeoutError):
    """Raised by ``concurrency``/``rate_limit`` (and so by a tagged task run) when no
    slot came free within ``timeout_seconds``; ``limit`` names the limit waited on."""

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class InputError(TaskbookError):
    """Raised when an answer to a paused run cannot be taken."""


class InputNotFound(InputError, LookupError):
    """Raised when no input request matches the given id or run."""


class InputAlreadyAnswered(InputError):
    """Raised when the input request was answered, rejected or expired before this answer."""


class InputValidationError(InputError, ValueError):
    """Raised when an answer does not fit the form; the message lists the problems."""


class TaskbookSignal(BaseException):
    """Root of the control-flow signals; not an error, so ``except Exception`` skips it."""


class Abort(TaskbookSignal):
    """Raised by the engine to stop a run on purpose."""


class Suspend(TaskbookSignal):
    """Raised by ``pause_flow_run`` in a headless deployment run: the run is Suspended."""


class Terminated(TaskbookSignal, SystemExit):
    """Raised in the main thread when the process gets SIGTERM while a flow runs; as a
    ``SystemExit`` it ends the process quietly (status 143) once the run is recorded
    Cancelled. (If task-run threads are still running, the process exits at once.)"""


# Prefect's names for the root and the termination signal, so ``except`` clauses port.
PrefectException = TaskbookError
TerminationSignal = Terminated
