"""How the store runs a query: in its own transaction, committed before returning.

The store's methods import their query module (``_reads``, ``_deployments``, ...) in
their body, so it loads with the first call: opening a store, as the CLI and a first flow
do, costs none of them (a test lists what a flow loads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from kernel_ext.store._engine import unavailable, write_engine

__all__ = ["Transactions"]

P = ParamSpec("P")
T = TypeVar("T")


class Transactions:
    """Runs the functions of the query modules (``_reads``, ``_input_requests``, ...), each in one
    transaction on ``_engine``, and says what to check when the database went away."""

    _engine: Engine

    def _read(
        self, query: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return self._call(self._engine, query, *args, **kwargs)

    def _write(
        self, command: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``command`` in its own write transaction, committed before returning."""
        return self._call(write_engine(self._engine), command, *args, **kwargs)

    def _call(
        self,
        engine: Engine,
        query: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        try:
            connection = engine.connect()
        except DBAPIError as error:
            raise unavailable(self._engine, error) from error
        with connection:
            try:
                with connection.begin():
                    return query(connection, *args, **kwargs)
            except DBAPIError as error:
                if error.connection_invalidated:  # the server went away mid-query
                    raise unavailable(self._engine, error) from error
                raise
