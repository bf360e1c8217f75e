"""``taskbook secrets`` and ``taskbook variables``: the values flows load by name.

A secret's value goes in through a hidden prompt or stdin, never the command line (where
the shell's history and ``ps`` would keep it), and never comes out: ``ls`` shows names
and times only. Variables are plain JSON values, shown as they are.

``--profile`` acts on the profile's names (``--profile prod`` sets ``prod-NAME``), as a
deployment run with that profile reads them (see ``kernel_ext._profiles``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

from kernel_ext._errors import ConfigurationError
from papermill_bridge.cli._app import cli, echo_json, json_option
from papermill_bridge.cli._format import local_time, table

__all__ = ["secrets", "variables"]

_NO_VALUE = "The secret's value is empty; type it at the prompt, or pipe it in on stdin."


def profile_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--profile",
        default=None,
        metavar="PROFILE",
        help="Act on PROFILE's names (PROFILE-NAME); default: TASKBOOK_PROFILE.",
    )(fn)


@contextlib.contextmanager
def _profile(profile: str | None) -> Iterator[None]:
    from kernel_ext import _settings
    from kernel_ext._profiles import check_profile

    if profile is None:
        yield
        return
    with _settings.override(TASKBOOK_PROFILE=check_profile(profile)):
        yield


@cli.group()
def secrets() -> None:
    """Secrets: encrypted values that flows load with Secret.load(NAME).get()."""


@secrets.command("set")
@click.argument("name")
@click.option("--json-value", is_flag=True, help="The value is JSON (e.g. a dict of credentials).")
@click.option("--overwrite", is_flag=True, help="Replace the value if NAME exists.")
@profile_option
@json_option
def set_secret(
    name: str, json_value: bool, overwrite: bool, profile: str | None, as_json: bool
) -> None:
    """Save secret NAME, encrypted; its value is read from a hidden prompt, or from stdin.

    \b
    Examples:
      taskbook secrets set openai                      # asks for the value
      printf %s "$KEY" | taskbook secrets set openai   # from stdin
      taskbook secrets set warehouse --json-value < creds.json
      taskbook secrets set warehouse --profile prod    # prod-warehouse
    """
    from kernel_ext import _secret_box
    from kernel_ext.secrets import Secret, check_name

    check_name(name)  # before asking for a value
    value = _parse_secret(_read_value(), json_value)
    with _profile(profile), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        Secret(value=value).save(name, overwrite=overwrite, _sync=True)
        record = _secret_record(name)
    for warning in caught:  # e.g. the key is this machine's but the store is shared
        click.echo(f"Warning: {warning.message}", err=True)
    if as_json:
        echo_json(record)
        return
    click.echo(f"Saved secret {record['name']!r}, encrypted with {_secret_box.key_source()}.")


@secrets.command("ls")
@json_option
def list_secrets(as_json: bool) -> None:
    """List the secrets: names and times, never values."""
    from kernel_ext.store import get_store

    records = get_store().list_secrets()
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("No secrets yet. Save one with: taskbook secrets set NAME")
        return
    rows = [[r["name"], local_time(r["created"]), local_time(r["updated"])] for r in records]
    click.echo(table(["NAME", "CREATED", "UPDATED"], rows))


@secrets.command("rm")
@click.argument("name")
@profile_option
@json_option
def remove_secret(name: str, profile: str | None, as_json: bool) -> None:
    """Delete secret NAME."""
    from kernel_ext._profiles import stored_name
    from kernel_ext.secrets import Secret

    with _profile(profile):
        stored = stored_name(name)
        Secret.delete(name, _sync=True)
    if as_json:
        echo_json({"name": stored, "deleted": True})
        return
    click.echo(f"Deleted secret {stored!r}.")


@secrets.command("new-key")
def new_key() -> None:
    """Print a new random key for TASKBOOK_SECRET_KEY (stored nowhere).

    Give every process that loads secrets (each worker, each kernel) the same key.
    Secrets saved with another key must be saved again.
    """
    from kernel_ext import _secret_box

    click.echo(_secret_box.new_key())


@cli.group()
def variables() -> None:
    """Variables: JSON values that flows read with Variable.get(NAME)."""


@variables.command("set")
@click.argument("name")
@click.argument("value")
@click.option("--overwrite", is_flag=True, help="Replace the value (and tags) if NAME exists.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for several).")
@profile_option
@json_option
def set_variable(
    name: str,
    value: str,
    overwrite: bool,
    tags: tuple[str, ...],
    profile: str | None,
    as_json: bool,
) -> None:
    """Set variable NAME to VALUE: JSON if it parses as JSON, else the text itself.

    \b
    Examples:
      taskbook variables set batch_size 500            # the number 500
      taskbook variables set region eu-west-1          # the text "eu-west-1"
      taskbook variables set config '{"retries": 3}'   # a dict
      taskbook variables set code '"500"'              # the text "500"
    """
    from kernel_ext.variables import Variable

    with _profile(profile):
        stored = Variable.set(name, _parse_value(value), list(tags), overwrite, _sync=True)
    if as_json:
        echo_json(stored.model_dump())
        return
    click.echo(f"Set variable {stored.name!r} to {_shown(stored.value)}.")


@variables.command("get")
@click.argument("name")
@profile_option
@json_option
def get_variable(name: str, profile: str | None, as_json: bool) -> None:
    """Print the value of variable NAME (text as it is, anything else as JSON)."""
    with _profile(profile):
        record = _variable_record(name)
    if as_json:
        echo_json(record["value"])
        return
    value = record["value"]
    click.echo(value if isinstance(value, str) else json.dumps(value))


@variables.command("ls")
@json_option
def list_variables(as_json: bool) -> None:
    """List the variables with their values and tags."""
    from kernel_ext.store import get_store

    records = get_store().list_variables()
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("No variables yet. Set one with: taskbook variables set NAME VALUE")
        return
    rows = [
        [r["name"], _shown(r["value"], 50), ",".join(r["tags"]), local_time(r["updated"])]
        for r in records
    ]
    click.echo(table(["NAME", "VALUE", "TAGS", "UPDATED"], rows))


@variables.command("unset")
@click.argument("name")
@profile_option
@json_option
def unset_variable(name: str, profile: str | None, as_json: bool) -> None:
    """Delete variable NAME."""
    from kernel_ext._profiles import stored_name
    from kernel_ext.variables import Variable

    with _profile(profile):
        stored = stored_name(name)
        if not Variable.unset(name, _sync=True):
            raise ConfigurationError(
                f"There is no variable named {stored!r}; list them with `taskbook variables ls`."
            )
    if as_json:
        echo_json({"name": stored, "deleted": True})
        return
    click.echo(f"Deleted variable {stored!r}.")


def _read_value() -> str:
    """The secret's value: typed at a hidden prompt, or all of stdin when piped (less
    the newline ``echo`` adds)."""
    if sys.stdin.isatty():
        value: str = click.prompt("Value", hide_input=True, err=True)
    else:
        value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not value:
        raise ConfigurationError(_NO_VALUE)
    return value


def _parse_secret(text: str, as_json: bool) -> Any:
    if not as_json:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"--json-value was given but the value is not JSON ({error.msg} at line "
            f"{error.lineno}, column {error.colno}); leave --json-value out to store text."
        ) from None


def _parse_value(text: str) -> Any:
    """VALUE as JSON if it parses (``500``, ``true``, ``{"a": 1}``), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _secret_record(name: str) -> dict[str, Any]:
    from kernel_ext._profiles import stored_name
    from kernel_ext.store import get_store

    stored = stored_name(name)
    record = next(r for r in get_store().list_secrets() if r["name"] == stored)
    return dict(record)


def _variable_record(name: str) -> dict[str, Any]:
    from kernel_ext._profiles import lookup_names
    from kernel_ext.store import get_store

    names = lookup_names(name)
    record = get_store().read_variable(names)
    if record is None:
        looked = " or ".join(repr(n) for n in names)
        raise ConfigurationError(
            f"There is no variable named {looked}; set it with `taskbook variables set "
            f"{names[0]} VALUE`, or list them with `taskbook variables ls`."
        )
    return dict(record)


def _shown(value: Any, width: int | None = None) -> str:
    text = json.dumps(value)
    if width is not None and len(text) > width:
        return text[: width - 3] + "..."
    return text
