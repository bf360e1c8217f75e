"""``taskbook store``: where the state lives."""

from __future__ import annotations

import click

from papermill_bridge.cli._app import cli, echo_json, json_option

__all__ = ["store"]


@cli.group()
def store() -> None:
    """The state store (SQLite file or PostgreSQL database)."""


@store.command("info")
@json_option
def info(as_json: bool) -> None:
    """Show the store URL, results folder and data directory in use."""
    from kernel_ext import _settings
    from kernel_ext.store import get_store

    active = get_store()
    facts = {
        "store_url": active.display_url if hasattr(active, "display_url") else active.url,
        "results_url": _settings.results_url(),
        "home": str(_settings.home()),
    }
    if as_json:
        echo_json(facts)
        return
    for key, value in facts.items():
        click.echo(f"{key + ':':<13}{value}")
