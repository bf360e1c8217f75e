"""How a deployment run's execution ended: the record its executor hands its worker.

The executor runs in a child process of the worker (see ``_worker``). When the notebook
is done it writes a ``RunOutcome`` as one JSON document to a file the worker named, and
exits; the worker reads it back and records the state. A child that ends without writing
one (killed, out of memory, a crash of Python itself) leaves no file, and the worker
records Crashed with what the child printed last.

    {"format": 1,
     "state": {"type": "FAILED", "name": "Failed", "message": "...", "details": {...},
               "timestamp": 1764651000.25},
     "output": "/.../outputs/nightly/RUN_ID.ipynb"}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel_ext._errors import TaskbookError
from kernel_ext._redaction import in_json, redact_value
from kernel_ext._states import State, StateType

__all__ = ["OUTCOME_FORMAT", "OutcomeFormatError", "RunOutcome"]

OUTCOME_FORMAT = 1


class OutcomeFormatError(TaskbookError, ValueError):
    """An outcome file that is not a ``RunOutcome`` this version can read."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The final state an execution reached (with its message and details: the failing
    cell, the exception, the traceback), and the output notebook it wrote, if any."""

    state: State
    output: str | None = None

    def to_json(self) -> str:
        """The outcome as JSON, with the secrets this process knows masked in the
        state's message and details, which quote the notebook's error (see
        ``papermill_bridge._scrub``). Masked as values, so the JSON stays valid."""
        state = self.state
        document = {
            "format": OUTCOME_FORMAT,
            "state": {
                "type": state.type.value,
                "name": state.name,
                "message": state.message,
                "details": state.details,
                "timestamp": state.timestamp,
            },
            "output": self.output,
        }
        text = json.dumps(document, default=str)
        if not in_json(text):
            return text
        document = json.loads(text)  # the details as JSON holds them (default=str)
        for key in ("message", "details"):
            document["state"][key] = redact_value(document["state"][key])
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> RunOutcome:
        """The outcome ``text`` holds; ``OutcomeFormatError`` saying what is wrong if it
        is not one."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise OutcomeFormatError(f"the outcome is not JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != OUTCOME_FORMAT:
            raise OutcomeFormatError(f"the outcome is not of format {OUTCOME_FORMAT}")
        state, output = data.get("state"), data.get("output")
        if not isinstance(state, dict) or not (output is None or isinstance(output, str)):
            raise OutcomeFormatError("the outcome has no state, or an output that is not a path")
        return cls(_state(state), output)

    def write(self, path: Path) -> None:
        """Write the outcome to ``path`` whole or not at all (a reader never sees half)."""
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.to_json(), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> RunOutcome | None:
        """The outcome written at ``path``; None if none was."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return cls.from_json(text)


def _state(data: dict[str, Any]) -> State:
    try:
        kind = StateType(data.get("type"))
    except ValueError:
        raise OutcomeFormatError(
            f"the outcome's state type {data.get('type')!r} is unknown"
        ) from None
    name, message, details = data.get("name"), data.get("message"), data.get("details")
    timestamp = data.get("timestamp")
    if not isinstance(name, str) or not (message is None or isinstance(message, str)):
        raise OutcomeFormatError("the outcome's state has no name, or a message not text")
    if not (details is None or isinstance(details, dict)):
        raise OutcomeFormatError("the outcome's state details are not an object")
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        raise OutcomeFormatError("the outcome's state has no time (epoch seconds)")
    return State(kind, name, message, details=details, timestamp=float(timestamp))
